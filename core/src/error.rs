//! Errors, split the way an application reacts to them: the peer broke the
//! protocol ([`PeerMisbehaved`]), the peer speaks a protocol we do not share
//! ([`PeerIncompatible`]), or the application called us wrongly ([`ApiMisuse`]).
//!
//! Every fatal [`Error`] is reported once, by `Event::Disconnected`, and
//! is sticky: [`crate::Connection::error`] keeps it, later input is
//! ignored, and the DISCONNECT message carrying [`Error::disconnect_reason`]
//! is the last thing the connection transmits. Mutators return
//! [`ApiMisuse`] alone, which is never fatal.

use crate::wire::DecodeError;

/// The protocol timers that end a connection, each with its one setting in
/// the configuration and reported through [`crate::Connection::poll_timeout`]
/// and [`crate::Connection::handle_timeout`], so that every timeout happens
/// at a recorded instant and replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// [`crate::TransportConfig::handshake_timeout`] passed before the first
    /// key exchange completed or, on a client, before the server accepted
    /// the user authentication service (RFC 4253 section 10).
    Handshake,
    /// Server: [`crate::TransportConfig::handshake_timeout`] passed after the
    /// key exchange but before the client authenticated (OpenSSH
    /// `LoginGraceTime`).
    LoginGrace,
    /// Client: the server left an authentication request unanswered for
    /// [`crate::ClientConfig::auth_timeout`].
    Authentication,
    /// [`crate::TransportConfig::keepalive_max`] keepalives in a row went
    /// unanswered (OpenSSH `ServerAliveCountMax`).
    Keepalive,
}

impl TimeoutKind {
    /// A short name for messages: `handshake`, `login grace time`,
    /// `authentication`, `keepalive`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Handshake => "handshake",
            TimeoutKind::LoginGrace => "login grace time",
            TimeoutKind::Authentication => "authentication",
            TimeoutKind::Keepalive => "keepalive",
        }
    }
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SSH_MSG_DISCONNECT reason codes (RFC 4253 section 11.1, RFC 4250 section 4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// 1
    HostNotAllowedToConnect,
    /// 2
    ProtocolError,
    /// 3
    KeyExchangeFailed,
    /// 4
    Reserved,
    /// 5
    MacError,
    /// 6
    CompressionError,
    /// 7
    ServiceNotAvailable,
    /// 8
    ProtocolVersionNotSupported,
    /// 9
    HostKeyNotVerifiable,
    /// 10
    ConnectionLost,
    /// 11
    ByApplication,
    /// 12
    TooManyConnections,
    /// 13
    AuthCancelledByUser,
    /// 14
    NoMoreAuthMethodsAvailable,
    /// 15
    IllegalUserName,
    /// A code outside RFC 4250's registry, as received.
    Other(u32),
}

impl DisconnectReason {
    /// The numeric code sent on the wire.
    pub fn code(self) -> u32 {
        use DisconnectReason::*;
        match self {
            HostNotAllowedToConnect => 1,
            ProtocolError => 2,
            KeyExchangeFailed => 3,
            Reserved => 4,
            MacError => 5,
            CompressionError => 6,
            ServiceNotAvailable => 7,
            ProtocolVersionNotSupported => 8,
            HostKeyNotVerifiable => 9,
            ConnectionLost => 10,
            ByApplication => 11,
            TooManyConnections => 12,
            AuthCancelledByUser => 13,
            NoMoreAuthMethodsAvailable => 14,
            IllegalUserName => 15,
            Other(c) => c,
        }
    }

    /// Maps a received code.
    pub fn from_code(code: u32) -> Self {
        use DisconnectReason::*;
        match code {
            1 => HostNotAllowedToConnect,
            2 => ProtocolError,
            3 => KeyExchangeFailed,
            4 => Reserved,
            5 => MacError,
            6 => CompressionError,
            7 => ServiceNotAvailable,
            8 => ProtocolVersionNotSupported,
            9 => HostKeyNotVerifiable,
            10 => ConnectionLost,
            11 => ByApplication,
            12 => TooManyConnections,
            13 => AuthCancelledByUser,
            14 => NoMoreAuthMethodsAvailable,
            15 => IllegalUserName,
            c => Other(c),
        }
    }
}

/// The peer sent something the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A field did not decode.
    #[error("{0}")]
    Malformed(#[from] DecodeError),
    /// The identification line was not `SSH-2.0-...` or broke RFC 4253 section 4.2 limits.
    #[error("bad identification string: {0}")]
    BadIdentification(&'static str),
    /// More text lines before the version line than we accept.
    #[error("too many lines before the identification string")]
    TooManyBannerLines,
    /// A packet length over the limit or not aligned to the cipher block (RFC 4253 section 6).
    #[error("bad packet length {0}")]
    BadPacketLength(u32),
    /// Padding shorter than 4 bytes or longer than the packet (RFC 4253 section 6).
    #[error("bad padding length {0}")]
    BadPadding(u8),
    /// Message authentication failed (RFC 4253 section 6.4).
    #[error("message authentication code incorrect")]
    BadMac,
    /// A message that is not allowed in the current state.
    #[error("unexpected message {msg} {state}")]
    UnexpectedMessage {
        /// The message number.
        msg: u8,
        /// Where we were, for the log.
        state: &'static str,
    },
    /// A message sent during the initial key exchange under strict kex
    /// (OpenSSH PROTOCOL, "kex-strict-*"), or KEXINIT not first.
    #[error("strict key exchange violated by message {0}")]
    StrictKexViolation(u8),
    /// The server's signature over the exchange hash did not verify.
    #[error("host key signature did not verify")]
    BadHostKeySignature,
    /// The host key algorithm used is not the negotiated one.
    #[error("host key of wrong type {0:?}")]
    WrongHostKeyType(String),
    /// The server presented a different host key on re-exchange.
    #[error("host key changed during re-exchange")]
    HostKeyChangedOnRekey,
    /// The key exchange public value was invalid (e.g. an all-zero X25519 result).
    #[error("invalid key exchange value")]
    BadKexValue,
    /// Data for a channel arrived past the window we granted (RFC 4254 section 5.2).
    #[error("channel {0}: data past the window")]
    WindowExceeded(u32),
    /// A window adjust would take the window above 2^32-1 (RFC 4254 section 5.2).
    #[error("channel {0}: window adjust overflows")]
    WindowOverflow(u32),
    /// A message names a channel that does not exist.
    #[error("no such channel {0}")]
    UnknownChannel(u32),
    /// A packet larger than the maximum packet size we announced for the channel.
    #[error("channel {0}: packet over the maximum size")]
    ChannelPacketTooLarge(u32),
    /// The peer opened more channels than allowed.
    #[error("too many channels")]
    TooManyChannels,
    /// The peer sent a reply with nothing pending.
    #[error("reply with no request pending")]
    UnsolicitedReply,
    /// The peer tried more authentications than allowed.
    #[error("too many authentication attempts")]
    TooManyAuthAttempts,
    /// Client: SERVICE_ACCEPT for a service we did not ask for (RFC 4253
    /// section 10).
    #[error("SERVICE_ACCEPT for a service not requested")]
    UnrequestedServiceAccept,
    /// Client: USERAUTH_PK_OK for a key we did not offer (RFC 4252 section 7).
    #[error("PK_OK for a key that was not offered")]
    PkOkForKeyNotOffered,
    /// Client: a keyboard-interactive INFO_REQUEST with more prompts than
    /// we answer (RFC 4256 section 3.2).
    #[error("too many keyboard-interactive prompts")]
    TooManyPrompts,
    /// Server: the client changed the user name after a partial success
    /// (RFC 4252 section 5 lets a server refuse that; OpenSSH does).
    #[error("user name changed after partial success")]
    UserChangedAfterPartialSuccess,
    /// Server: more authentication requests queued behind the one awaiting
    /// the application's decision than we keep.
    #[error("too many authentication requests queued")]
    TooManyQueuedAuthRequests,
    /// More want-reply requests awaiting our answer than we keep.
    #[error("too many requests awaiting a reply")]
    TooManyPendingReplies,
    /// The peer keeps provoking answers (to its requests, refusals of its
    /// opens) without reading them: what we owe it grew past our limit.
    #[error("too many answers queued for a peer that does not take them")]
    UnreadAnswers,
    /// Something else the protocol forbids.
    #[error("{0}")]
    Other(&'static str),

    // Transport and key exchange (RFC 4253 sections 7-9). Kept as a block
    // of their own: other layers add theirs elsewhere.
    /// The server went on sending while the client's application had not
    /// yet decided on its host key: the client processes nothing until then,
    /// and a key exchange explains no more than a few packets.
    #[error("too much data while the host key awaits a decision")]
    InputDuringHostKeyDecision,
    /// A compressed payload did not inflate (RFC 4253 section 6.2): corrupt
    /// or truncated zlib data, the stream ended, or it inflated past the
    /// largest packet we accept. Disconnects with COMPRESSION_ERROR.
    #[error("compression error: {0}")]
    Compression(&'static str),
}

/// The peer is following the protocol but shares no way of talking with us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerIncompatible {
    /// The peer's protocol version is not 2.0 (or 1.99).
    #[error("unsupported protocol version {0:?}")]
    Version(String),
    /// No algorithm in common for one negotiation slot (RFC 4253 section 7.1).
    #[error("no matching {kind} algorithm: ours [{ours}], theirs [{theirs}]")]
    NoCommonAlgorithm {
        /// "kex", "host key", "cipher c->s", ...
        kind: &'static str,
        /// Our list, comma-separated.
        ours: String,
        /// Their list, comma-separated.
        theirs: String,
    },
    /// The peer requires a service we do not provide.
    #[error("service {0:?} not available")]
    ServiceNotAvailable(String),
    /// The server accepted none of our authentication methods.
    #[error("no more authentication methods: server allows [{0}]")]
    NoMoreAuthMethods(String),
}

/// The application called the API in a way that cannot work. These errors are
/// returned from the call and do not end the connection; each names what
/// was wrong, so callers (and tests) can match on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// The call is for the other role: the call's name, and its role.
    #[error("{0} is only for the {1} role")]
    WrongRole(&'static str, &'static str),
    /// The channel id is not (or no longer) open.
    #[error("no such channel {0}")]
    UnknownChannel(u32),
    /// The connection has already ended.
    #[error("connection closed")]
    Closed,
    /// An argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// No host key waits for `accept_host_key` or `reject_host_key`.
    #[error("no host key is waiting for a decision")]
    NoHostKeyPending,
    /// The first key exchange has not finished (no re-exchange before it).
    #[error("the first key exchange has not finished")]
    NotEstablished,
    /// Connection-protocol calls wait for user authentication to succeed
    /// (RFC 4252 section 5).
    #[error("not authenticated yet")]
    NotAuthenticated,
    /// Client: the user authentication service has not been accepted yet
    /// (wait for `Event::UserauthReady`).
    #[error("user authentication service not ready yet (wait for UserauthReady)")]
    UserauthNotReady,
    /// Client: an authentication request still waits for the server's
    /// answer (RFC 4252 section 5: one request at a time).
    #[error("an authentication request is still waiting for the server's answer")]
    AuthInProgress,
    /// Client: authentication has already succeeded.
    #[error("already authenticated")]
    AlreadyAuthenticated,
    /// Client: `auth_change_password` without `Event::AuthPasswordChange`.
    #[error("the server has not asked for a password change")]
    NoPasswordChangeRequested,
    /// Client: `auth_signature` without `Event::AuthSignatureNeeded`.
    #[error("no signature was asked for")]
    NoSignatureRequested,
    /// Client: `auth_info_response` without `Event::AuthInfoRequest`.
    #[error("no keyboard-interactive prompts to answer")]
    NoPromptsPending,
    /// Server: `auth_decision` without a pending `Event::AuthRequest`.
    #[error("no authentication request is waiting for a decision")]
    NoAuthRequestPending,
    /// We may not open more channels (`ChannelConfig::max_channels`, or
    /// no room left in `ChannelConfig::memory_budget` for its window).
    #[error("channel limit reached")]
    ChannelLimit,
    /// The peer has not confirmed the channel we opened yet.
    #[error("channel not confirmed yet")]
    ChannelNotConfirmed,
    /// The peer's channel open request has not been accepted yet.
    #[error("channel open request not accepted yet")]
    ChannelOpenNotAccepted,
    /// `close_channel` on a channel whose open request is unanswered.
    #[error("answer the open request with accept or reject")]
    ChannelOpenUnanswered,
    /// `accept_channel` / `reject_channel` with no open request pending.
    #[error("no open request pending on the channel")]
    NoChannelOpenPending,
    /// The channel is not open (still opening).
    #[error("channel not open")]
    ChannelNotOpen,
    /// We have sent CLOSE on the channel: nothing more goes out on it.
    #[error("channel is closing")]
    ChannelClosing,
    /// We have sent EOF on the channel: no more data (RFC 4254 section 5.3).
    #[error("EOF already sent on the channel")]
    EofAlreadySent,
    /// The peer announced a maximum packet size of 0: no data fits.
    #[error("the peer accepts no data on this channel (maximum packet size 0)")]
    PeerTakesNoData,
    /// `channel_reply` with no want-reply channel request unanswered.
    #[error("no channel request awaits a reply")]
    NoChannelRequestPending,
    /// `global_reply` with no want-reply global request unanswered.
    #[error("no global request awaits a reply")]
    NoGlobalRequestPending,
}

/// Everything that can go wrong with a [`crate::Connection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// The peer speaks something we do not.
    #[error("peer incompatible: {0}")]
    PeerIncompatible(#[from] PeerIncompatible),
    /// The application misused the API (not fatal).
    #[error("API misuse: {0}")]
    ApiMisuse(#[from] ApiMisuse),
    /// The peer sent SSH_MSG_DISCONNECT.
    #[error("disconnected by peer ({reason:?}): {description}")]
    PeerDisconnected {
        /// Reason code received.
        reason: DisconnectReason,
        /// Text received (control characters removed).
        description: String,
    },
    /// The application rejected the server's host key.
    #[error("host key rejected")]
    HostKeyRejected,
    /// Authentication failed and no method is left to try (client role).
    #[error("authentication failed")]
    AuthFailed,
    /// The application closed the connection.
    #[error("closed by application: {0}")]
    Closed(String),
    /// A protocol timer ran out; the kind names which.
    #[error("timed out: {0}")]
    Timeout(TimeoutKind),
    /// The byte stream ended (the adapter told us the socket closed).
    #[error("connection lost: {0}")]
    ConnectionLost(String),
}

impl Error {
    /// The reason code sent in our DISCONNECT for this error.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        use DisconnectReason as R;
        match self {
            Error::PeerMisbehaved(p) => match p {
                PeerMisbehaved::BadMac => R::MacError,
                PeerMisbehaved::Compression(_) => R::CompressionError,
                PeerMisbehaved::BadHostKeySignature
                | PeerMisbehaved::WrongHostKeyType(_)
                | PeerMisbehaved::HostKeyChangedOnRekey
                | PeerMisbehaved::BadKexValue => R::KeyExchangeFailed,
                PeerMisbehaved::TooManyAuthAttempts => R::NoMoreAuthMethodsAvailable,
                PeerMisbehaved::TooManyChannels => R::TooManyConnections,
                _ => R::ProtocolError,
            },
            Error::PeerIncompatible(p) => match p {
                PeerIncompatible::Version(_) => R::ProtocolVersionNotSupported,
                PeerIncompatible::NoCommonAlgorithm { .. } => R::KeyExchangeFailed,
                PeerIncompatible::ServiceNotAvailable(_) => R::ServiceNotAvailable,
                PeerIncompatible::NoMoreAuthMethods(_) => R::NoMoreAuthMethodsAvailable,
            },
            Error::ApiMisuse(_) | Error::Closed(_) => R::ByApplication,
            Error::PeerDisconnected { reason, .. } => *reason,
            Error::HostKeyRejected => R::HostKeyNotVerifiable,
            Error::AuthFailed => R::NoMoreAuthMethodsAvailable,
            Error::Timeout(_) | Error::ConnectionLost(_) => R::ConnectionLost,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::PeerMisbehaved(PeerMisbehaved::Malformed(e))
    }
}

/// Removes control characters from text a peer sent, so it can be shown to a
/// user without letting the peer drive their terminal (as OpenSSH's
/// `fmprintf`/`strnvis` do for banners and disconnect messages).
pub fn sanitize_text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}
