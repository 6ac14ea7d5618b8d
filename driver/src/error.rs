//! The one error type of the driver and the adapters built on it.
//!
//! Each variant is a situation an application reacts to differently:
//! network trouble, a host key that must not be trusted, credentials that
//! did not work, a channel or request the server refused, the connection
//! ending, a deadline, or the caller giving up.

use std::io;
use std::sync::Arc;

use conch_core::{ChannelOpenFailure, KeyError};

/// Everything that can go wrong in a session.
///
/// `Clone` so that one failure can be handed to every waiting caller; I/O
/// errors are shared behind an [`Arc`] for that reason.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host name did not resolve to any address.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name as given.
        host: String,
        /// What the resolver said.
        source: Arc<io::Error>,
    },
    /// No TCP connection could be made. `source.kind()` is
    /// [`io::ErrorKind::ConnectionRefused`] when the server refused it; see
    /// [`Error::is_connection_refused`].
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address (or, when every address failed, the last one) tried.
        addr: String,
        /// The last error.
        source: Arc<io::Error>,
    },
    /// Reading or writing the socket failed after it was connected.
    #[error("I/O error: {0}")]
    Io(Arc<io::Error>),
    /// The host key verifier refused the server's key.
    #[error("host key {fingerprint} rejected: {reason}")]
    HostKeyRejected {
        /// `SHA256:...` fingerprint of the key.
        fingerprint: String,
        /// Why, as the verifier put it.
        reason: String,
    },
    /// The server's key differs from the one recorded for it: a hard failure
    /// that no user answer overrides (possible man-in-the-middle).
    #[error("host key for {host} has changed (now {fingerprint}): {detail}")]
    HostKeyChanged {
        /// The host as it was looked up.
        host: String,
        /// `SHA256:...` fingerprint of the key presented.
        fingerprint: String,
        /// Where the old key is recorded (e.g. file and line).
        detail: String,
    },
    /// Authentication did not succeed and nothing is left to try.
    #[error("authentication failed (server allows: {})", methods.join(","))]
    AuthFailed {
        /// Methods the server said may continue (RFC 4252 section 5.1).
        methods: Vec<String>,
        /// Whether some method succeeded partially before.
        partial_success: bool,
    },
    /// A signer could not produce a signature for public key authentication.
    #[error("signing for authentication failed: {0}")]
    Sign(#[from] KeyError),
    /// The server refused to open a channel (RFC 4254 section 5.1).
    #[error("channel open refused ({}): {description}", reason.code())]
    ChannelOpenRefused {
        /// Reason code.
        reason: ChannelOpenFailure,
        /// The server's text.
        description: String,
    },
    /// The server answered a channel or global request with failure.
    #[error("request {request:?} refused")]
    RequestRefused {
        /// The request type, e.g. `exec`, `pty-req`.
        request: String,
    },
    /// The channel closed without an exit status or exit signal.
    #[error("channel closed without an exit status")]
    NoExitStatus,
    /// The connection ended; the core's error says why (peer disconnect,
    /// protocol violation, keepalive timeout, lost socket ...).
    #[error("disconnected: {0}")]
    Disconnected(conch_core::Error),
    /// The call is not valid now (wrong role, wrong state, channel gone); the
    /// connection is unaffected.
    #[error("invalid use: {0}")]
    Misuse(conch_core::Error),
    /// A deadline passed: which one is named (`handshake`,
    /// `authentication`: the core's timers, see
    /// `conch_core::TimeoutKind`; or the driver's `TCP connect`, and
    /// `banner exchange` / `key exchange` when the connect timeout ran out
    /// before the server showed its host key).
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The operation was given up by the application (e.g. a user declined
    /// to answer a prompt).
    #[error("cancelled")]
    Cancelled,
    /// The session was closed by this application.
    #[error("session closed")]
    Closed,
}

impl Error {
    /// Whether this is a TCP connection refused by the server.
    pub fn is_connection_refused(&self) -> bool {
        matches!(self, Error::Connect { source, .. } if source.kind() == io::ErrorKind::ConnectionRefused)
    }

    /// Maps a core error: API misuse stays local, any other error means
    /// the connection is over. The core's timers that bound a call of ours
    /// (the handshake, an authentication answer) are [`Error::Timeout`]
    /// naming them; a keepalive or login grace timeout ends an established
    /// session and stays [`Error::Disconnected`].
    pub(crate) fn from_core(e: impl Into<conch_core::Error>) -> Self {
        let e = e.into();
        use conch_core::TimeoutKind;
        match e {
            conch_core::Error::Timeout(
                kind @ (TimeoutKind::Handshake | TimeoutKind::Authentication),
            ) => Error::Timeout(kind.as_str()),
            conch_core::Error::ApiMisuse(_) => Error::Misuse(e),
            conch_core::Error::Closed(_) => Error::Closed,
            other => Error::Disconnected(other),
        }
    }

    /// An `io::Error` for the byte-stream traits, keeping this error inside.
    pub fn into_io(self) -> io::Error {
        match self {
            Error::Io(e) => io::Error::new(e.kind(), Error::Io(e)),
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, self),
            Error::Disconnected(_) | Error::Closed => {
                io::Error::new(io::ErrorKind::ConnectionAborted, self)
            }
            Error::Misuse(_) => io::Error::new(io::ErrorKind::BrokenPipe, self),
            other => io::Error::other(other),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        e.into_io()
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
