//! What a [`crate::Connection`] tells the application, drained with
//! [`crate::Connection::poll_event`].
//!
//! Events that ask for a decision say which method answers them; the
//! connection waits (sending nothing that depends on the answer) until the
//! application calls it.

use std::fmt;

use bytes::Bytes;

use crate::error::Error;
use crate::keys::PublicKey;

/// A channel, named by our local channel number (RFC 4254 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The algorithms a key exchange settled on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NegotiatedAlgorithms {
    /// Key exchange method.
    pub kex: String,
    /// Host key signature algorithm.
    pub host_key: String,
    /// Cipher client to server.
    pub cipher_c2s: String,
    /// Cipher server to client.
    pub cipher_s2c: String,
    /// MAC client to server (empty for AEAD ciphers).
    pub mac_c2s: String,
    /// MAC server to client (empty for AEAD ciphers).
    pub mac_s2c: String,
    /// Compression client to server: `none`, `zlib` or `zlib@openssh.com`
    /// (which starts only after USERAUTH_SUCCESS).
    pub compression_c2s: String,
    /// Compression server to client.
    pub compression_s2c: String,
    /// Whether strict key exchange (OpenSSH `kex-strict-*-v00`) is in force.
    pub strict_kex: bool,
}

/// One prompt of a keyboard-interactive request (RFC 4256 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Text to show.
    pub prompt: String,
    /// Whether the answer may be echoed as typed.
    pub echo: bool,
}

/// An authentication attempt a client made, as the server application sees it
/// (server role, RFC 4252 sections 5, 7, 8; RFC 4256).
///
/// `Debug` does not show passwords or prompt answers.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthAttempt {
    /// The `none` method.
    None,
    /// The `password` method. `new_password` is set when the client answers a
    /// change request.
    Password {
        /// The password.
        password: String,
        /// The new password, when changing.
        new_password: Option<String>,
    },
    /// The `publickey` method. When `signed` is false this is a query ("would
    /// you accept this key?"); when true the connection has already verified
    /// the signature over the session id, so accepting logs the user in.
    PublicKey {
        /// The offered key.
        key: PublicKey,
        /// Whether a valid signature came with it.
        signed: bool,
    },
    /// `keyboard-interactive`: the start of the method (`responses` is
    /// empty and `submethods` set) or the answers to the last info request.
    KeyboardInteractive {
        /// Submethods hint from the client.
        submethods: String,
        /// Answers, one per prompt of the previous request.
        responses: Vec<String>,
    },
}

impl fmt::Debug for AuthAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthAttempt::None => f.write_str("None"),
            AuthAttempt::Password { new_password, .. } => f
                .debug_struct("Password")
                .field("password", &format_args!("<password>"))
                .field(
                    "new_password",
                    &new_password.as_ref().map(|_| format_args!("<password>")),
                )
                .finish(),
            AuthAttempt::PublicKey { key, signed } => f
                .debug_struct("PublicKey")
                .field("key", key)
                .field("signed", signed)
                .finish(),
            AuthAttempt::KeyboardInteractive {
                submethods,
                responses,
            } => f
                .debug_struct("KeyboardInteractive")
                .field("submethods", submethods)
                .field("responses", &format_args!("<{} answers>", responses.len()))
                .finish(),
        }
    }
}

/// Reason codes of SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelOpenFailure {
    /// 1
    AdministrativelyProhibited,
    /// 2
    ConnectFailed,
    /// 3
    UnknownChannelType,
    /// 4
    ResourceShortage,
    /// Another code, as received.
    Other(u32),
}

impl ChannelOpenFailure {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            ChannelOpenFailure::AdministrativelyProhibited => 1,
            ChannelOpenFailure::ConnectFailed => 2,
            ChannelOpenFailure::UnknownChannelType => 3,
            ChannelOpenFailure::ResourceShortage => 4,
            ChannelOpenFailure::Other(c) => c,
        }
    }

    /// Maps a received code.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => ChannelOpenFailure::AdministrativelyProhibited,
            2 => ChannelOpenFailure::ConnectFailed,
            3 => ChannelOpenFailure::UnknownChannelType,
            4 => ChannelOpenFailure::ResourceShortage,
            c => ChannelOpenFailure::Other(c),
        }
    }
}

/// Terminal size in characters and pixels (RFC 4254 sections 6.2 and 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSize {
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Width in pixels (0 if unknown).
    pub width_px: u32,
    /// Height in pixels (0 if unknown).
    pub height_px: u32,
}

/// A channel request (RFC 4254 section 6), in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelRequest {
    /// `pty-req` (section 6.2). `modes` is the encoded terminal modes string.
    PtyReq {
        /// TERM value, e.g. `xterm-256color`.
        term: String,
        /// Size.
        size: WindowSize,
        /// Encoded terminal modes (section 8).
        modes: Vec<u8>,
    },
    /// `env` (section 6.4).
    Env {
        /// Variable name.
        name: String,
        /// Value.
        value: String,
    },
    /// `shell` (section 6.5).
    Shell,
    /// `exec` (section 6.5). The command is bytes: the server's shell decides
    /// its encoding.
    Exec {
        /// Command line.
        command: Vec<u8>,
    },
    /// `subsystem` (section 6.5).
    Subsystem {
        /// Subsystem name, e.g. `sftp`.
        name: String,
    },
    /// `window-change` (section 6.7).
    WindowChange {
        /// New size.
        size: WindowSize,
    },
    /// `xon-xoff` (section 6.8).
    XonXoff {
        /// Whether the client may do flow control.
        client_can_do: bool,
    },
    /// `signal` (section 6.9), the name without the `SIG` prefix.
    Signal {
        /// Signal name, e.g. `TERM`.
        name: String,
    },
    /// `exit-status` (section 6.10).
    ExitStatus {
        /// Exit code.
        code: u32,
    },
    /// `exit-signal` (section 6.10).
    ExitSignal {
        /// Signal name without `SIG`.
        signal: String,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// Error message.
        message: String,
    },
    /// `auth-agent-req@openssh.com` (OpenSSH PROTOCOL.agent): the client
    /// asks the server to forward agent connections back to it over
    /// `auth-agent@openssh.com` channels. No type-specific data.
    AuthAgentReq,
    /// Any other request, with its type-specific data undecoded
    /// (e.g. `keepalive@openssh.com`).
    Other {
        /// Request type.
        name: String,
        /// The bytes after `want reply`.
        data: Bytes,
    },
}

impl ChannelRequest {
    /// The request type string sent on the wire.
    pub fn name(&self) -> &str {
        match self {
            ChannelRequest::PtyReq { .. } => "pty-req",
            ChannelRequest::Env { .. } => "env",
            ChannelRequest::Shell => "shell",
            ChannelRequest::Exec { .. } => "exec",
            ChannelRequest::Subsystem { .. } => "subsystem",
            ChannelRequest::WindowChange { .. } => "window-change",
            ChannelRequest::XonXoff { .. } => "xon-xoff",
            ChannelRequest::Signal { .. } => "signal",
            ChannelRequest::ExitStatus { .. } => "exit-status",
            ChannelRequest::ExitSignal { .. } => "exit-signal",
            ChannelRequest::AuthAgentReq => crate::forward::AUTH_AGENT_REQ,
            ChannelRequest::Other { name, .. } => name,
        }
    }
}

/// Something the application should know or decide.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    // ----- transport -----
    /// Client: the server's host key. Answer with
    /// [`crate::ClientConnection::accept_host_key`] or
    /// [`crate::ClientConnection::reject_host_key`]; nothing after the key exchange
    /// (no NEWKEYS, no credential) is sent until then. Only raised for the
    /// first key exchange: on re-exchange the key must be identical.
    HostKey {
        /// The key the server proved it holds.
        key: PublicKey,
    },
    /// A key exchange finished and new keys are in use.
    KeyExchangeDone {
        /// What was negotiated.
        algorithms: NegotiatedAlgorithms,
        /// False for the first exchange, true for re-exchanges.
        rekey: bool,
    },
    /// SSH_MSG_DEBUG from the peer with `always_display` set (RFC 4253 section 11.3).
    Debug {
        /// The message, control characters removed.
        message: String,
    },

    // ----- user authentication, client role -----
    /// Client: the userauth service is ready; call an `auth_*` method.
    UserauthReady,
    /// SSH_MSG_USERAUTH_BANNER (RFC 4252 section 5.4), control characters removed.
    AuthBanner {
        /// Banner text.
        message: String,
    },
    /// Client: the last method failed (or succeeded partially). `methods`
    /// lists those that can continue (RFC 4252 section 5.1).
    AuthFailure {
        /// Methods that may productively continue.
        methods: Vec<String>,
        /// Whether the last method succeeded but more are required.
        partial_success: bool,
    },
    /// Client: the server accepts this key; sign `data` with `algorithm` and
    /// answer with [`crate::ClientConnection::auth_signature`].
    AuthSignatureNeeded {
        /// The key that was accepted.
        key: PublicKey,
        /// Signature algorithm to use (e.g. `ssh-ed25519`, `rsa-sha2-512`).
        algorithm: String,
        /// The exact bytes to sign (RFC 4252 section 7).
        data: Vec<u8>,
    },
    /// Client: the server wants a new password (RFC 4252 section 8); answer
    /// with [`crate::ClientConnection::auth_change_password`].
    AuthPasswordChange {
        /// Prompt from the server.
        prompt: String,
    },
    /// Client: keyboard-interactive prompts (RFC 4256 section 3.2); answer
    /// with [`crate::ClientConnection::auth_info_response`].
    AuthInfoRequest {
        /// Name (may be empty).
        name: String,
        /// Instruction (may be empty).
        instruction: String,
        /// Prompts, possibly none.
        prompts: Vec<Prompt>,
    },
    /// Client: authentication succeeded; channels may be opened.
    AuthSuccess,

    // ----- user authentication, server role -----
    /// Server: a client tries to authenticate. Answer with
    /// [`crate::ServerConnection::auth_decision`].
    AuthRequest {
        /// User name as sent (UTF-8).
        user: String,
        /// Service requested, normally `ssh-connection`.
        service: String,
        /// What the client tries.
        attempt: AuthAttempt,
    },
    /// Server: the client is authenticated as `user`.
    Authenticated {
        /// User name.
        user: String,
    },

    // ----- connection protocol -----
    /// Something happened on one channel. [`crate::Connection::channel`]
    /// (and [`crate::Connection::channel_mut`]) give the channel's state
    /// and its mutators while the core still knows it: from
    /// [`ChannelEvent::OpenRequest`] or the open call until
    /// [`ChannelEvent::Closed`] (or [`ChannelEvent::OpenFailed`]).
    Channel {
        /// Which channel.
        id: ChannelId,
        /// What happened.
        event: ChannelEvent,
    },
    /// SSH_MSG_GLOBAL_REQUEST from the peer that the connection does not
    /// answer itself. If `want_reply`, answer with
    /// [`crate::Connection::global_reply`].
    GlobalRequest {
        /// Request name.
        name: String,
        /// Request-specific data.
        data: Bytes,
        /// Whether a reply is expected.
        want_reply: bool,
    },
    /// The peer answered our global request (in order).
    GlobalReply {
        /// Whether it succeeded.
        success: bool,
        /// Response-specific data.
        data: Bytes,
    },

    // ----- end -----
    /// The connection is over: the peer disconnected, we hit a fatal error,
    /// or the application closed it. Always the last event.
    Disconnected {
        /// Why.
        error: Error,
    },
}

/// What happened on one channel: the `event` of [`Event::Channel`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelEvent {
    /// The peer asks to open a channel (server: `session`, `direct-tcpip`;
    /// client: forwarded channels); the id is the one the channel will
    /// have. Answer with [`crate::Connection::accept_channel`] or
    /// [`crate::Connection::reject_channel`]. A client is asked about a
    /// `forwarded-tcpip` / `forwarded-streamlocal@openssh.com` channel only
    /// if it matches a forward the server agreed to
    /// ([`crate::Connection::request_forward`]); the connection refuses the
    /// others itself. [`crate::ForwardChannel::decode`] decodes `data` of
    /// the forwarding types.
    OpenRequest {
        /// Channel type, e.g. `session`.
        kind: String,
        /// Type-specific data after the common fields.
        data: Bytes,
    },
    /// A channel we opened was confirmed.
    Opened,
    /// A channel we opened was refused; the id names nothing any more.
    OpenFailed {
        /// Reason code.
        reason: ChannelOpenFailure,
        /// Text from the peer, control characters removed.
        description: String,
    },
    /// The peer sent a channel request. If `want_reply`, answer with
    /// [`crate::Connection::channel_reply`]. `exit-status` and `exit-signal`
    /// arrive as [`ChannelEvent::ExitStatus`] / [`ChannelEvent::ExitSignal`]
    /// instead.
    Request {
        /// The request.
        request: ChannelRequest,
        /// Whether a reply is expected.
        want_reply: bool,
    },
    /// The peer answered one of our channel requests sent with want-reply,
    /// in the order they were sent. Requests pending when the channel closes
    /// are answered `success: false`.
    RequestReply {
        /// Whether the request succeeded.
        success: bool,
    },
    /// Channel data (stdout on a client session channel). Call
    /// [`crate::Connection::consume`] once processed to reopen the window.
    Data {
        /// The bytes.
        data: Bytes,
    },
    /// Extended data; `code` 1 is stderr (RFC 4254 section 5.2). Also
    /// counts against the window and must be consumed.
    ExtendedData {
        /// Data type code.
        code: u32,
        /// The bytes.
        data: Bytes,
    },
    /// The peer will send no more data on this channel.
    Eof,
    /// The remote command exited with a status.
    ExitStatus {
        /// Exit code.
        code: u32,
    },
    /// The remote command was killed by a signal.
    ExitSignal {
        /// Signal name without `SIG`, e.g. `KILL`.
        signal: String,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// Error message (may be empty).
        message: String,
    },
    /// The channel is closed in both directions; its id may be reused later.
    Closed,
    /// The channel can take more data after [`crate::Connection::send_data`]
    /// accepted less than offered.
    Writable,
}
