//! [`EndpointError`]: why a [`super::CommandEndpoint`] call failed, one
//! variant per phase.

use std::fmt;

use conch_core::ChannelOpenFailure;
use conch_driver::Error;

/// Why [`super::CommandEndpoint::connect`] failed: each phase's failure is its own
/// variant, so a program can tell "wrong host" from "wrong password" from
/// "no such command".
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EndpointError {
    /// The server refused the TCP connection (nothing listens on the port).
    ConnectionRefused {
        /// The address tried last.
        addr: String,
    },
    /// No connection could be made for another reason (name not resolved,
    /// unreachable, timed out), or it broke before the host key was
    /// checked. The underlying error says which.
    Connect(Error),
    /// The host key was not trusted: unknown and refused by the policy or
    /// the user, or revoked.
    HostKeyRejected {
        /// `SHA256:...` fingerprint of the key presented.
        fingerprint: String,
        /// Why.
        reason: String,
    },
    /// The host key differs from the one recorded for the host: possibly a
    /// man-in-the-middle. No answer overrides this.
    HostKeyChanged {
        /// The host as looked up.
        host: String,
        /// `SHA256:...` fingerprint of the key presented.
        fingerprint: String,
        /// Where the recorded key is (file and line).
        detail: String,
    },
    /// No credential was accepted, or the connection was lost while
    /// authenticating (then `lost` says how).
    AuthenticationFailed {
        /// The methods the server still allowed (e.g. `publickey,password`).
        methods: Vec<String>,
        /// Set when the connection ended during authentication.
        lost: Option<Box<Error>>,
    },
    /// The server refused to open the session channel (RFC 4254 section 5.1).
    ChannelOpenRefused {
        /// Reason code.
        reason: ChannelOpenFailure,
        /// The server's text.
        description: String,
    },
    /// The server refused the `exec` request.
    RequestRefused {
        /// The request, `exec`.
        request: String,
    },
    /// A prompt was answered with "give up" (e.g. a passphrase or
    /// keyboard-interactive prompt).
    Cancelled,
    /// The connection failed later on (protocol error, disconnect ...).
    Connection(Error),
    /// Connecting to a jump host (`ProxyJump`) failed: `error` says how.
    JumpHost {
        /// The user it was logged in as.
        user: String,
        /// The jump host's host name.
        host: String,
        /// Its port.
        port: u16,
        /// What failed there.
        error: Box<EndpointError>,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::ConnectionRefused { addr } => {
                write!(f, "connection to {addr} refused")
            }
            EndpointError::Connect(e) => write!(f, "{e}"),
            EndpointError::HostKeyRejected {
                fingerprint,
                reason,
            } => write!(f, "host key {fingerprint} rejected: {reason}"),
            EndpointError::HostKeyChanged {
                host,
                fingerprint,
                detail,
            } => write!(
                f,
                "host key for {host} has changed (now {fingerprint}): {detail}"
            ),
            EndpointError::AuthenticationFailed { methods, lost } => match lost {
                Some(e) => write!(f, "connection lost during authentication: {e}"),
                None => write!(f, "permission denied ({})", methods.join(",")),
            },
            EndpointError::ChannelOpenRefused {
                reason,
                description,
            } => write!(f, "channel open refused ({}): {description}", reason.code()),
            EndpointError::RequestRefused { request } => {
                write!(f, "request {request:?} refused")
            }
            EndpointError::Cancelled => write!(f, "cancelled"),
            EndpointError::Connection(e) => write!(f, "{e}"),
            EndpointError::JumpHost {
                user,
                host,
                port,
                error,
            } => write!(f, "jump host {user}@{host} port {port}: {error}"),
        }
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EndpointError::Connect(e) | EndpointError::Connection(e) => Some(e),
            EndpointError::AuthenticationFailed { lost: Some(e), .. } => Some(&**e),
            EndpointError::JumpHost { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

/// The phase a driver error happened in decides its variant.
#[derive(Clone, Copy)]
pub(super) enum Phase {
    Connect,
    Auth,
    Command,
}

impl EndpointError {
    /// The error of a call made on a session or channel the endpoint
    /// connected (opening another channel, a request on it), as the
    /// endpoint itself reports the same failures while running its command.
    pub fn from_session_error(e: Error) -> Self {
        Self::from_driver(e, Phase::Command)
    }

    pub(super) fn from_driver(e: Error, phase: Phase) -> Self {
        match e {
            e if e.is_connection_refused() => match e {
                Error::Connect { addr, .. } => EndpointError::ConnectionRefused { addr },
                other => EndpointError::Connect(other),
            },
            Error::HostKeyRejected {
                fingerprint,
                reason,
            } => EndpointError::HostKeyRejected {
                fingerprint,
                reason,
            },
            Error::HostKeyChanged {
                host,
                fingerprint,
                detail,
            } => EndpointError::HostKeyChanged {
                host,
                fingerprint,
                detail,
            },
            Error::AuthFailed { methods, .. } => EndpointError::AuthenticationFailed {
                methods,
                lost: None,
            },
            Error::ChannelOpenRefused {
                reason,
                description,
            } => EndpointError::ChannelOpenRefused {
                reason,
                description,
            },
            Error::RequestRefused { request } => EndpointError::RequestRefused { request },
            Error::Cancelled => EndpointError::Cancelled,
            other => match phase {
                Phase::Connect => EndpointError::Connect(other),
                Phase::Auth => EndpointError::AuthenticationFailed {
                    methods: Vec::new(),
                    lost: Some(Box::new(other)),
                },
                Phase::Command => EndpointError::Connection(other),
            },
        }
    }
}
