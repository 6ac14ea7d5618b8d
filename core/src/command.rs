//! [`Command`]: an application call into a [`crate::Connection`] as a
//! value.
//!
//! Every mutator of the connection (decisions on events, actions) is one
//! variant here, and every one goes through the same path,
//! [`Connection::apply`](crate::Connection::apply): the recording into a
//! transcript, the role and state checks, and the dispatch. The typed
//! methods (`send_data`, `accept_host_key`, ...) are one-line wrappers
//! building the command. A transcript records each command as it was
//! applied and replay applies it again; the fuzz harness builds commands
//! from its input the same way. So the API, its recording, its replay and
//! its fuzzing cannot drift apart: a new command does not compile until
//! each of them handles it (their matches are exhaustive).

use std::borrow::Cow;
use std::fmt;

use crate::auth::AuthDecision;
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest};
use crate::keys::PublicKey;
use crate::transport::Side;

/// One application call into a [`crate::Connection`], with its arguments
/// (borrowed where the caller's are, owned once decoded or copied with
/// [`Command::into_owned`]).
///
/// Shorthands build the general command: `open_session` and
/// `open_direct_tcpip` are [`Command::OpenChannel`], `exec` is
/// [`Command::ChannelRequest`], and `send_extended_data` is
/// [`Command::SendData`] with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `rekey()`: start a key re-exchange (RFC 4253 section 9).
    Rekey,
    /// `disconnect(description)`: end the connection.
    Disconnect {
        /// The description sent in the DISCONNECT.
        description: Cow<'a, str>,
    },
    /// Client: `accept_host_key()`.
    AcceptHostKey,
    /// Client: `reject_host_key()`.
    RejectHostKey,
    /// Client: `auth_none(user)`.
    AuthNone {
        /// User name.
        user: Cow<'a, str>,
    },
    /// Client: `auth_password(user, password)`.
    AuthPassword {
        /// User name.
        user: Cow<'a, str>,
        /// The password, in clear (and so in a transcript).
        password: Cow<'a, str>,
    },
    /// Client: `auth_change_password(old, new)`.
    AuthChangePassword {
        /// Old password, in clear.
        old: Cow<'a, str>,
        /// New password, in clear.
        new: Cow<'a, str>,
    },
    /// Client: `auth_publickey(user, key)`.
    AuthPublickey {
        /// User name.
        user: Cow<'a, str>,
        /// The public key offered.
        key: Cow<'a, PublicKey>,
    },
    /// Client: `auth_signature(blob)`.
    AuthSignature {
        /// The signature blob (`string` algorithm, `string` signature).
        blob: Cow<'a, [u8]>,
    },
    /// Client: `auth_keyboard_interactive(user, submethods)`.
    AuthKeyboardInteractive {
        /// User name.
        user: Cow<'a, str>,
        /// Submethods.
        submethods: Cow<'a, str>,
    },
    /// Client: `auth_info_response(responses)`.
    AuthInfoResponse {
        /// One answer per prompt, in clear.
        responses: Cow<'a, [String]>,
    },
    /// Server: `auth_decision(decision)`.
    AuthDecision {
        /// The decision on the pending request.
        decision: Cow<'a, AuthDecision>,
    },
    /// `open_channel(kind, extra)`.
    OpenChannel {
        /// Channel type.
        kind: Cow<'a, str>,
        /// Type-specific data, encoded by the caller.
        extra: Cow<'a, [u8]>,
    },
    /// `accept_channel(channel)`.
    AcceptChannel {
        /// The channel.
        channel: ChannelId,
    },
    /// `reject_channel(channel, reason, description)`.
    RejectChannel {
        /// The channel.
        channel: ChannelId,
        /// The reason.
        reason: ChannelOpenFailure,
        /// The description.
        description: Cow<'a, str>,
    },
    /// `channel_request(channel, request, want_reply)`.
    ChannelRequest {
        /// The channel.
        channel: ChannelId,
        /// The request.
        request: Cow<'a, ChannelRequest>,
        /// Whether a reply is asked for.
        want_reply: bool,
    },
    /// `channel_reply(channel, success)`.
    ChannelReply {
        /// The channel.
        channel: ChannelId,
        /// The answer.
        success: bool,
    },
    /// `send_data(channel, data)`, or `send_extended_data` with `ext` set.
    /// Applied, it answers [`Applied::Sent`].
    SendData {
        /// The channel.
        channel: ChannelId,
        /// The extended data type code, for `send_extended_data`.
        ext: Option<u32>,
        /// The bytes offered.
        data: Cow<'a, [u8]>,
    },
    /// `send_eof(channel)`.
    SendEof {
        /// The channel.
        channel: ChannelId,
    },
    /// `close_channel(channel)`.
    CloseChannel {
        /// The channel.
        channel: ChannelId,
    },
    /// `consume(channel, n)`.
    Consume {
        /// The channel.
        channel: ChannelId,
        /// Bytes processed.
        n: usize,
    },
    /// `global_request(name, data, want_reply)`.
    GlobalRequest {
        /// Request name.
        name: Cow<'a, str>,
        /// Request data.
        data: Cow<'a, [u8]>,
        /// Whether a reply is asked for.
        want_reply: bool,
    },
    /// `global_reply(success, data)`.
    GlobalReply {
        /// The answer.
        success: bool,
        /// Response data.
        data: Cow<'a, [u8]>,
    },
}

/// What an applied [`Command`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// Done; the command returns nothing more.
    Done,
    /// [`Command::OpenChannel`]: the id of the channel being opened.
    Opened(ChannelId),
    /// [`Command::SendData`]: how many of the bytes offered were taken.
    Sent(usize),
}

impl Applied {
    /// The channel [`Command::OpenChannel`] opened.
    pub fn channel(self) -> Option<ChannelId> {
        match self {
            Applied::Opened(id) => Some(id),
            _ => None,
        }
    }

    /// The bytes [`Command::SendData`] took.
    pub fn sent(self) -> Option<usize> {
        match self {
            Applied::Sent(n) => Some(n),
            _ => None,
        }
    }
}

impl Command<'_> {
    /// The name of the typed method this command stands for, as errors
    /// and transcripts show it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Rekey => "rekey",
            Command::Disconnect { .. } => "disconnect",
            Command::AcceptHostKey => "accept_host_key",
            Command::RejectHostKey => "reject_host_key",
            Command::AuthNone { .. } => "auth_none",
            Command::AuthPassword { .. } => "auth_password",
            Command::AuthChangePassword { .. } => "auth_change_password",
            Command::AuthPublickey { .. } => "auth_publickey",
            Command::AuthSignature { .. } => "auth_signature",
            Command::AuthKeyboardInteractive { .. } => "auth_keyboard_interactive",
            Command::AuthInfoResponse { .. } => "auth_info_response",
            Command::AuthDecision { .. } => "auth_decision",
            Command::OpenChannel { .. } => "open_channel",
            Command::AcceptChannel { .. } => "accept_channel",
            Command::RejectChannel { .. } => "reject_channel",
            Command::ChannelRequest { .. } => "channel_request",
            Command::ChannelReply { .. } => "channel_reply",
            Command::SendData { ext: None, .. } => "send_data",
            Command::SendData { ext: Some(_), .. } => "send_extended_data",
            Command::SendEof { .. } => "send_eof",
            Command::CloseChannel { .. } => "close_channel",
            Command::Consume { .. } => "consume",
            Command::GlobalRequest { .. } => "global_request",
            Command::GlobalReply { .. } => "global_reply",
        }
    }

    /// The role the command is for, if only one: the host key decisions
    /// and the authentication attempts are the client's, the decision on
    /// an authentication request the server's.
    pub fn role(&self) -> Option<Side> {
        match self {
            Command::AcceptHostKey
            | Command::RejectHostKey
            | Command::AuthNone { .. }
            | Command::AuthPassword { .. }
            | Command::AuthChangePassword { .. }
            | Command::AuthPublickey { .. }
            | Command::AuthSignature { .. }
            | Command::AuthKeyboardInteractive { .. }
            | Command::AuthInfoResponse { .. } => Some(Side::Client),
            Command::AuthDecision { .. } => Some(Side::Server),
            // Only a client asks for agent forwarding (OpenSSH PROTOCOL.agent).
            Command::ChannelRequest { request, .. }
                if **request == ChannelRequest::AuthAgentReq =>
            {
                Some(Side::Client)
            }
            Command::Rekey
            | Command::Disconnect { .. }
            | Command::OpenChannel { .. }
            | Command::AcceptChannel { .. }
            | Command::RejectChannel { .. }
            | Command::ChannelRequest { .. }
            | Command::ChannelReply { .. }
            | Command::SendData { .. }
            | Command::SendEof { .. }
            | Command::CloseChannel { .. }
            | Command::Consume { .. }
            | Command::GlobalRequest { .. }
            | Command::GlobalReply { .. } => None,
        }
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Command<'static> {
        fn s(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        fn b(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Command::Rekey => Command::Rekey,
            Command::Disconnect { description } => Command::Disconnect {
                description: s(description),
            },
            Command::AcceptHostKey => Command::AcceptHostKey,
            Command::RejectHostKey => Command::RejectHostKey,
            Command::AuthNone { user } => Command::AuthNone { user: s(user) },
            Command::AuthPassword { user, password } => Command::AuthPassword {
                user: s(user),
                password: s(password),
            },
            Command::AuthChangePassword { old, new } => Command::AuthChangePassword {
                old: s(old),
                new: s(new),
            },
            Command::AuthPublickey { user, key } => Command::AuthPublickey {
                user: s(user),
                key: Cow::Owned(key.into_owned()),
            },
            Command::AuthSignature { blob } => Command::AuthSignature { blob: b(blob) },
            Command::AuthKeyboardInteractive { user, submethods } => {
                Command::AuthKeyboardInteractive {
                    user: s(user),
                    submethods: s(submethods),
                }
            }
            Command::AuthInfoResponse { responses } => Command::AuthInfoResponse {
                responses: Cow::Owned(responses.into_owned()),
            },
            Command::AuthDecision { decision } => Command::AuthDecision {
                decision: Cow::Owned(decision.into_owned()),
            },
            Command::OpenChannel { kind, extra } => Command::OpenChannel {
                kind: s(kind),
                extra: b(extra),
            },
            Command::AcceptChannel { channel } => Command::AcceptChannel { channel },
            Command::RejectChannel {
                channel,
                reason,
                description,
            } => Command::RejectChannel {
                channel,
                reason,
                description: s(description),
            },
            Command::ChannelRequest {
                channel,
                request,
                want_reply,
            } => Command::ChannelRequest {
                channel,
                request: Cow::Owned(request.into_owned()),
                want_reply,
            },
            Command::ChannelReply { channel, success } => {
                Command::ChannelReply { channel, success }
            }
            Command::SendData { channel, ext, data } => Command::SendData {
                channel,
                ext,
                data: b(data),
            },
            Command::SendEof { channel } => Command::SendEof { channel },
            Command::CloseChannel { channel } => Command::CloseChannel { channel },
            Command::Consume { channel, n } => Command::Consume { channel, n },
            Command::GlobalRequest {
                name,
                data,
                want_reply,
            } => Command::GlobalRequest {
                name: s(name),
                data: b(data),
                want_reply,
            },
            Command::GlobalReply { success, data } => Command::GlobalReply {
                success,
                data: b(data),
            },
        }
    }
}

/// Text as Rust would quote it, cut at `max` characters.
fn quoted(f: &mut fmt::Formatter<'_>, s: &str, max: usize) -> fmt::Result {
    let cut: String = s.chars().take(max).collect();
    write!(f, "{cut:?}")?;
    if cut.len() < s.len() {
        f.write_str("...")?;
    }
    Ok(())
}

/// Bytes as an escaped byte string, cut at `max` bytes, with the length.
pub(crate) fn fmt_bytes(f: &mut fmt::Formatter<'_>, b: &[u8], max: usize) -> fmt::Result {
    let shown = &b[..b.len().min(max)];
    write!(f, "{} bytes b\"{}\"", b.len(), shown.escape_ascii())?;
    if shown.len() < b.len() {
        f.write_str("...")?;
    }
    Ok(())
}

impl fmt::Display for Command<'_> {
    /// The call as the typed method would be written, e.g.
    /// `send_data(3, 5 bytes b"hello")`. Passwords and answers to prompts
    /// are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Rekey => f.write_str("rekey()"),
            Command::Disconnect { description } => {
                f.write_str("disconnect(")?;
                quoted(f, description, 80)?;
                f.write_str(")")
            }
            Command::AcceptHostKey => f.write_str("accept_host_key()"),
            Command::RejectHostKey => f.write_str("reject_host_key()"),
            Command::AuthNone { user } => write!(f, "auth_none({user:?})"),
            Command::AuthPassword { user, .. } => {
                write!(f, "auth_password({user:?}, <password>)")
            }
            Command::AuthChangePassword { .. } => {
                f.write_str("auth_change_password(<password>, <password>)")
            }
            Command::AuthPublickey { user, key } => {
                write!(f, "auth_publickey({user:?}, {})", key.fingerprint())
            }
            Command::AuthSignature { blob } => write!(f, "auth_signature({} bytes)", blob.len()),
            Command::AuthKeyboardInteractive { user, submethods } => {
                write!(f, "auth_keyboard_interactive({user:?}, {submethods:?})")
            }
            Command::AuthInfoResponse { responses } => {
                write!(f, "auth_info_response(<{} answers>)", responses.len())
            }
            Command::AuthDecision { decision } => write!(f, "auth_decision({decision:?})"),
            Command::OpenChannel { kind, extra } => {
                write!(f, "open_channel({kind:?}, {} bytes)", extra.len())
            }
            Command::AcceptChannel { channel } => write!(f, "accept_channel({channel})"),
            Command::RejectChannel {
                channel,
                reason,
                description,
            } => write!(f, "reject_channel({channel}, {reason:?}, {description:?})"),
            Command::ChannelRequest {
                channel,
                request,
                want_reply,
            } => {
                write!(f, "channel_request({channel}, ")?;
                match &**request {
                    ChannelRequest::Exec { command } => {
                        f.write_str("Exec ")?;
                        fmt_bytes(f, command, 64)?;
                    }
                    other => write!(f, "{other:?}")?,
                }
                write!(f, ", want_reply: {want_reply})")
            }
            Command::ChannelReply { channel, success } => {
                write!(f, "channel_reply({channel}, {success})")
            }
            Command::SendData { channel, ext, data } => {
                match ext {
                    None => write!(f, "send_data({channel}, ")?,
                    Some(code) => write!(f, "send_extended_data({channel}, {code}, ")?,
                }
                fmt_bytes(f, data, 32)?;
                f.write_str(")")
            }
            Command::SendEof { channel } => write!(f, "send_eof({channel})"),
            Command::CloseChannel { channel } => write!(f, "close_channel({channel})"),
            Command::Consume { channel, n } => write!(f, "consume({channel}, {n})"),
            Command::GlobalRequest {
                name,
                data,
                want_reply,
            } => write!(
                f,
                "global_request({name:?}, {} bytes, want_reply: {want_reply})",
                data.len()
            ),
            Command::GlobalReply { success, data } => {
                write!(f, "global_reply({success}, {} bytes)", data.len())
            }
        }
    }
}
