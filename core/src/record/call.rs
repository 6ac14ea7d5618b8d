//! Records: one call into a [`crate::Connection`] with its arguments, and
//! what came out of it.

use std::borrow::Cow;
use std::fmt;

use crate::auth::AuthDecision;
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest};
use crate::keys::PublicKey;

use super::args::{get_auth_decision, get_channel_request, put_auth_decision, put_channel_request};
use super::codec::{Put, Reader};
use super::FormatError;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// A time handed to the connection, as nanoseconds after the instant it was
/// created with (negative if the caller handed in an earlier one).
pub type TimeOffset = i64;

/// One public call into a [`crate::Connection`], with its arguments.
///
/// Queries that take `&self` (`poll_timeout`, `send_capacity`, ...) and
/// `poll_transmit` change nothing and are not recorded. Shorthands are
/// recorded as the call they make: `open_session` and `open_direct_tcpip`
/// as [`Call::OpenChannel`], `exec` as [`Call::ChannelRequest`], and
/// `send_extended_data` as [`Call::SendData`] with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call<'a> {
    /// `handle_input(now, data)`, the bytes verbatim.
    HandleInput {
        /// `now`.
        at: TimeOffset,
        /// The bytes received.
        data: Cow<'a, [u8]>,
    },
    /// `handle_eof(now)`.
    HandleEof {
        /// `now`.
        at: TimeOffset,
    },
    /// `handle_timeout(now)`.
    HandleTimeout {
        /// `now`.
        at: TimeOffset,
    },
    /// `poll_event()`; its outcome is the event's digest or "no event".
    PollEvent,
    /// `consume_transmit(n)`; its outcome is the digest of the bytes taken.
    ConsumeTransmit {
        /// `n`.
        n: u64,
    },
    /// `rekey()`.
    Rekey,
    /// `disconnect(description)`.
    Disconnect {
        /// The description.
        description: Cow<'a, str>,
    },
    /// `accept_host_key()`.
    AcceptHostKey,
    /// `reject_host_key()`.
    RejectHostKey,
    /// `auth_none(user)`.
    AuthNone {
        /// User name.
        user: Cow<'a, str>,
    },
    /// `auth_password(user, password)`: the password is in the transcript.
    AuthPassword {
        /// User name.
        user: Cow<'a, str>,
        /// The password, in clear.
        password: Cow<'a, str>,
    },
    /// `auth_change_password(old, new)`.
    AuthChangePassword {
        /// Old password, in clear.
        old: Cow<'a, str>,
        /// New password, in clear.
        new: Cow<'a, str>,
    },
    /// `auth_publickey(user, key)`.
    AuthPublickey {
        /// User name.
        user: Cow<'a, str>,
        /// The public key offered.
        key: Cow<'a, PublicKey>,
    },
    /// `auth_signature(blob)`.
    AuthSignature {
        /// The signature blob.
        blob: Cow<'a, [u8]>,
    },
    /// `auth_keyboard_interactive(user, submethods)`.
    AuthKeyboardInteractive {
        /// User name.
        user: Cow<'a, str>,
        /// Submethods.
        submethods: Cow<'a, str>,
    },
    /// `auth_info_response(responses)`: the answers are in the transcript.
    AuthInfoResponse {
        /// One answer per prompt, in clear.
        responses: Cow<'a, [String]>,
    },
    /// `auth_decision(decision)`.
    AuthDecision {
        /// The decision.
        decision: Cow<'a, AuthDecision>,
    },
    /// `open_channel(kind, extra)`.
    OpenChannel {
        /// Channel type.
        kind: Cow<'a, str>,
        /// Type-specific data.
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
        /// Whether a reply was asked for.
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
    /// The outcome holds how many bytes were accepted.
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
        n: u64,
    },
    /// `global_request(name, data, want_reply)`.
    GlobalRequest {
        /// Request name.
        name: Cow<'a, str>,
        /// Request data.
        data: Cow<'a, [u8]>,
        /// Whether a reply was asked for.
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

/// What a recorded call returned or produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The call returns nothing (`handle_eof`, `disconnect`).
    Done,
    /// `Ok(())`.
    Ok,
    /// `Ok` with a number: the id of the channel opened, or the bytes
    /// `send_data` accepted.
    Value(u64),
    /// `Err`, with the error's text.
    Err(String),
    /// `poll_event` returned an event; the SHA-256 of its canonical encoding.
    Event(Digest),
    /// `poll_event` returned `None`.
    NoEvent,
    /// `consume_transmit`: the SHA-256 of the bytes it took from the
    /// transmit buffer.
    Transmitted(Digest),
}

/// One call and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The call.
    pub call: Call<'a>,
    /// What it returned or produced.
    pub outcome: Outcome,
}

// Call tags (see the module documentation for the table).
const HANDLE_INPUT: u8 = 0x01;
const HANDLE_EOF: u8 = 0x02;
const HANDLE_TIMEOUT: u8 = 0x03;
const POLL_EVENT: u8 = 0x04;
const CONSUME_TRANSMIT: u8 = 0x05;
const REKEY: u8 = 0x10;
const DISCONNECT: u8 = 0x11;
const ACCEPT_HOST_KEY: u8 = 0x12;
const REJECT_HOST_KEY: u8 = 0x13;
const AUTH_NONE: u8 = 0x20;
const AUTH_PASSWORD: u8 = 0x21;
const AUTH_CHANGE_PASSWORD: u8 = 0x22;
const AUTH_PUBLICKEY: u8 = 0x23;
const AUTH_SIGNATURE: u8 = 0x24;
const AUTH_KEYBOARD_INTERACTIVE: u8 = 0x25;
const AUTH_INFO_RESPONSE: u8 = 0x26;
const AUTH_DECISION: u8 = 0x27;
const OPEN_CHANNEL: u8 = 0x30;
const ACCEPT_CHANNEL: u8 = 0x31;
const REJECT_CHANNEL: u8 = 0x32;
const CHANNEL_REQUEST: u8 = 0x33;
const CHANNEL_REPLY: u8 = 0x34;
const SEND_DATA: u8 = 0x35;
const SEND_EXTENDED_DATA: u8 = 0x36;
const SEND_EOF: u8 = 0x37;
const CLOSE_CHANNEL: u8 = 0x38;
const CONSUME: u8 = 0x39;
const GLOBAL_REQUEST: u8 = 0x3a;
const GLOBAL_REPLY: u8 = 0x3b;

// Outcome tags.
const OUT_DONE: u8 = 0;
const OUT_OK: u8 = 1;
const OUT_VALUE: u8 = 2;
const OUT_ERR: u8 = 3;
const OUT_EVENT: u8 = 4;
const OUT_NO_EVENT: u8 = 5;
const OUT_TRANSMITTED: u8 = 6;

impl Record<'_> {
    /// Appends the record's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.call.encode(out);
        self.outcome.encode(out);
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            call: self.call.into_owned(),
            outcome: self.outcome,
        }
    }
}

impl<'a> Record<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let call = Call::decode(r)?;
        let outcome = Outcome::decode(r)?;
        Ok(Record { call, outcome })
    }
}

impl Outcome {
    /// Appends the outcome's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Outcome::Done => out.byte(OUT_DONE),
            Outcome::Ok => out.byte(OUT_OK),
            Outcome::Value(v) => {
                out.byte(OUT_VALUE);
                out.uvar(*v);
            }
            Outcome::Err(e) => {
                out.byte(OUT_ERR);
                out.text(e);
            }
            Outcome::Event(d) => {
                out.byte(OUT_EVENT);
                out.raw(d);
            }
            Outcome::NoEvent => out.byte(OUT_NO_EVENT),
            Outcome::Transmitted(d) => {
                out.byte(OUT_TRANSMITTED);
                out.raw(d);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        Ok(match r.byte("outcome")? {
            OUT_DONE => Outcome::Done,
            OUT_OK => Outcome::Ok,
            OUT_VALUE => Outcome::Value(r.uvar("outcome value")?),
            OUT_ERR => Outcome::Err(r.text("outcome error")?.to_string()),
            OUT_EVENT => Outcome::Event(r.array("event digest")?),
            OUT_NO_EVENT => Outcome::NoEvent,
            OUT_TRANSMITTED => Outcome::Transmitted(r.array("transmit digest")?),
            _ => return Err(r.invalid("outcome")),
        })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Done => f.write_str("done"),
            Outcome::Ok => f.write_str("Ok"),
            Outcome::Value(v) => write!(f, "Ok({v})"),
            Outcome::Err(e) => write!(f, "Err({e})"),
            Outcome::Event(d) => write!(f, "an event with digest {}", short_hex(d)),
            Outcome::NoEvent => f.write_str("no event"),
            Outcome::Transmitted(d) => write!(f, "bytes with digest {}", short_hex(d)),
        }
    }
}

/// The first eight bytes of a digest in hex, enough to tell two apart.
pub(crate) fn short_hex(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn cow_str<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, str>, FormatError> {
    Ok(Cow::Borrowed(r.text(what)?))
}

fn cow_bytes<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, [u8]>, FormatError> {
    Ok(Cow::Borrowed(r.bytes(what)?))
}

fn channel(r: &mut Reader<'_>) -> Result<ChannelId, FormatError> {
    Ok(ChannelId(r.u32("channel id")?))
}

impl Call<'_> {
    /// Appends the call's encoding: its tag, then its arguments.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Call::HandleInput { at, data } => {
                out.byte(HANDLE_INPUT);
                out.ivar(*at);
                out.bytes(data);
            }
            Call::HandleEof { at } => {
                out.byte(HANDLE_EOF);
                out.ivar(*at);
            }
            Call::HandleTimeout { at } => {
                out.byte(HANDLE_TIMEOUT);
                out.ivar(*at);
            }
            Call::PollEvent => out.byte(POLL_EVENT),
            Call::ConsumeTransmit { n } => {
                out.byte(CONSUME_TRANSMIT);
                out.uvar(*n);
            }
            Call::Rekey => out.byte(REKEY),
            Call::Disconnect { description } => {
                out.byte(DISCONNECT);
                out.text(description);
            }
            Call::AcceptHostKey => out.byte(ACCEPT_HOST_KEY),
            Call::RejectHostKey => out.byte(REJECT_HOST_KEY),
            Call::AuthNone { user } => {
                out.byte(AUTH_NONE);
                out.text(user);
            }
            Call::AuthPassword { user, password } => {
                out.byte(AUTH_PASSWORD);
                out.text(user);
                out.text(password);
            }
            Call::AuthChangePassword { old, new } => {
                out.byte(AUTH_CHANGE_PASSWORD);
                out.text(old);
                out.text(new);
            }
            Call::AuthPublickey { user, key } => {
                out.byte(AUTH_PUBLICKEY);
                out.text(user);
                out.bytes(key.blob());
            }
            Call::AuthSignature { blob } => {
                out.byte(AUTH_SIGNATURE);
                out.bytes(blob);
            }
            Call::AuthKeyboardInteractive { user, submethods } => {
                out.byte(AUTH_KEYBOARD_INTERACTIVE);
                out.text(user);
                out.text(submethods);
            }
            Call::AuthInfoResponse { responses } => {
                out.byte(AUTH_INFO_RESPONSE);
                out.texts(responses);
            }
            Call::AuthDecision { decision } => {
                out.byte(AUTH_DECISION);
                put_auth_decision(out, decision);
            }
            Call::OpenChannel { kind, extra } => {
                out.byte(OPEN_CHANNEL);
                out.text(kind);
                out.bytes(extra);
            }
            Call::AcceptChannel { channel } => {
                out.byte(ACCEPT_CHANNEL);
                out.uvar(channel.0.into());
            }
            Call::RejectChannel {
                channel,
                reason,
                description,
            } => {
                out.byte(REJECT_CHANNEL);
                out.uvar(channel.0.into());
                out.uvar(reason.code().into());
                out.text(description);
            }
            Call::ChannelRequest {
                channel,
                request,
                want_reply,
            } => {
                out.byte(CHANNEL_REQUEST);
                out.uvar(channel.0.into());
                out.flag(*want_reply);
                put_channel_request(out, request);
            }
            Call::ChannelReply { channel, success } => {
                out.byte(CHANNEL_REPLY);
                out.uvar(channel.0.into());
                out.flag(*success);
            }
            Call::SendData { channel, ext, data } => {
                match ext {
                    None => {
                        out.byte(SEND_DATA);
                        out.uvar(channel.0.into());
                    }
                    Some(code) => {
                        out.byte(SEND_EXTENDED_DATA);
                        out.uvar(channel.0.into());
                        out.uvar((*code).into());
                    }
                }
                out.bytes(data);
            }
            Call::SendEof { channel } => {
                out.byte(SEND_EOF);
                out.uvar(channel.0.into());
            }
            Call::CloseChannel { channel } => {
                out.byte(CLOSE_CHANNEL);
                out.uvar(channel.0.into());
            }
            Call::Consume { channel, n } => {
                out.byte(CONSUME);
                out.uvar(channel.0.into());
                out.uvar(*n);
            }
            Call::GlobalRequest {
                name,
                data,
                want_reply,
            } => {
                out.byte(GLOBAL_REQUEST);
                out.text(name);
                out.bytes(data);
                out.flag(*want_reply);
            }
            Call::GlobalReply { success, data } => {
                out.byte(GLOBAL_REPLY);
                out.flag(*success);
                out.bytes(data);
            }
        }
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Call<'static> {
        fn s(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        fn b(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Call::HandleInput { at, data } => Call::HandleInput { at, data: b(data) },
            Call::HandleEof { at } => Call::HandleEof { at },
            Call::HandleTimeout { at } => Call::HandleTimeout { at },
            Call::PollEvent => Call::PollEvent,
            Call::ConsumeTransmit { n } => Call::ConsumeTransmit { n },
            Call::Rekey => Call::Rekey,
            Call::Disconnect { description } => Call::Disconnect {
                description: s(description),
            },
            Call::AcceptHostKey => Call::AcceptHostKey,
            Call::RejectHostKey => Call::RejectHostKey,
            Call::AuthNone { user } => Call::AuthNone { user: s(user) },
            Call::AuthPassword { user, password } => Call::AuthPassword {
                user: s(user),
                password: s(password),
            },
            Call::AuthChangePassword { old, new } => Call::AuthChangePassword {
                old: s(old),
                new: s(new),
            },
            Call::AuthPublickey { user, key } => Call::AuthPublickey {
                user: s(user),
                key: Cow::Owned(key.into_owned()),
            },
            Call::AuthSignature { blob } => Call::AuthSignature { blob: b(blob) },
            Call::AuthKeyboardInteractive { user, submethods } => Call::AuthKeyboardInteractive {
                user: s(user),
                submethods: s(submethods),
            },
            Call::AuthInfoResponse { responses } => Call::AuthInfoResponse {
                responses: Cow::Owned(responses.into_owned()),
            },
            Call::AuthDecision { decision } => Call::AuthDecision {
                decision: Cow::Owned(decision.into_owned()),
            },
            Call::OpenChannel { kind, extra } => Call::OpenChannel {
                kind: s(kind),
                extra: b(extra),
            },
            Call::AcceptChannel { channel } => Call::AcceptChannel { channel },
            Call::RejectChannel {
                channel,
                reason,
                description,
            } => Call::RejectChannel {
                channel,
                reason,
                description: s(description),
            },
            Call::ChannelRequest {
                channel,
                request,
                want_reply,
            } => Call::ChannelRequest {
                channel,
                request: Cow::Owned(request.into_owned()),
                want_reply,
            },
            Call::ChannelReply { channel, success } => Call::ChannelReply { channel, success },
            Call::SendData { channel, ext, data } => Call::SendData {
                channel,
                ext,
                data: b(data),
            },
            Call::SendEof { channel } => Call::SendEof { channel },
            Call::CloseChannel { channel } => Call::CloseChannel { channel },
            Call::Consume { channel, n } => Call::Consume { channel, n },
            Call::GlobalRequest {
                name,
                data,
                want_reply,
            } => Call::GlobalRequest {
                name: s(name),
                data: b(data),
                want_reply,
            },
            Call::GlobalReply { success, data } => Call::GlobalReply {
                success,
                data: b(data),
            },
        }
    }

    /// The time handed in, for the calls that take one.
    pub fn at(&self) -> Option<TimeOffset> {
        match self {
            Call::HandleInput { at, .. } | Call::HandleEof { at } | Call::HandleTimeout { at } => {
                Some(*at)
            }
            _ => None,
        }
    }
}

impl<'a> Call<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let tag_at = r.pos();
        let tag = r.byte("call")?;
        Ok(match tag {
            HANDLE_INPUT => Call::HandleInput {
                at: r.ivar("time")?,
                data: cow_bytes(r, "input")?,
            },
            HANDLE_EOF => Call::HandleEof {
                at: r.ivar("time")?,
            },
            HANDLE_TIMEOUT => Call::HandleTimeout {
                at: r.ivar("time")?,
            },
            POLL_EVENT => Call::PollEvent,
            CONSUME_TRANSMIT => Call::ConsumeTransmit {
                n: r.uvar("consumed count")?,
            },
            REKEY => Call::Rekey,
            DISCONNECT => Call::Disconnect {
                description: cow_str(r, "description")?,
            },
            ACCEPT_HOST_KEY => Call::AcceptHostKey,
            REJECT_HOST_KEY => Call::RejectHostKey,
            AUTH_NONE => Call::AuthNone {
                user: cow_str(r, "user")?,
            },
            AUTH_PASSWORD => Call::AuthPassword {
                user: cow_str(r, "user")?,
                password: cow_str(r, "password")?,
            },
            AUTH_CHANGE_PASSWORD => Call::AuthChangePassword {
                old: cow_str(r, "old password")?,
                new: cow_str(r, "new password")?,
            },
            AUTH_PUBLICKEY => {
                let user = cow_str(r, "user")?;
                let at = r.pos();
                let key = PublicKey::from_blob(r.bytes("public key")?)
                    .map_err(|error| FormatError::Key { offset: at, error })?;
                Call::AuthPublickey {
                    user,
                    key: Cow::Owned(key),
                }
            }
            AUTH_SIGNATURE => Call::AuthSignature {
                blob: cow_bytes(r, "signature")?,
            },
            AUTH_KEYBOARD_INTERACTIVE => Call::AuthKeyboardInteractive {
                user: cow_str(r, "user")?,
                submethods: cow_str(r, "submethods")?,
            },
            AUTH_INFO_RESPONSE => Call::AuthInfoResponse {
                responses: Cow::Owned(r.texts("responses")?),
            },
            AUTH_DECISION => Call::AuthDecision {
                decision: Cow::Owned(get_auth_decision(r)?),
            },
            OPEN_CHANNEL => Call::OpenChannel {
                kind: cow_str(r, "channel type")?,
                extra: cow_bytes(r, "channel open data")?,
            },
            ACCEPT_CHANNEL => Call::AcceptChannel {
                channel: channel(r)?,
            },
            REJECT_CHANNEL => Call::RejectChannel {
                channel: channel(r)?,
                reason: ChannelOpenFailure::from_code(r.u32("reason")?),
                description: cow_str(r, "description")?,
            },
            CHANNEL_REQUEST => Call::ChannelRequest {
                channel: channel(r)?,
                want_reply: r.flag("want reply")?,
                request: Cow::Owned(get_channel_request(r)?),
            },
            CHANNEL_REPLY => Call::ChannelReply {
                channel: channel(r)?,
                success: r.flag("success")?,
            },
            SEND_DATA => Call::SendData {
                channel: channel(r)?,
                ext: None,
                data: cow_bytes(r, "data")?,
            },
            SEND_EXTENDED_DATA => Call::SendData {
                channel: channel(r)?,
                ext: Some(r.u32("extended data code")?),
                data: cow_bytes(r, "data")?,
            },
            SEND_EOF => Call::SendEof {
                channel: channel(r)?,
            },
            CLOSE_CHANNEL => Call::CloseChannel {
                channel: channel(r)?,
            },
            CONSUME => Call::Consume {
                channel: channel(r)?,
                n: r.uvar("consumed count")?,
            },
            GLOBAL_REQUEST => Call::GlobalRequest {
                name: cow_str(r, "request name")?,
                data: cow_bytes(r, "request data")?,
                want_reply: r.flag("want reply")?,
            },
            GLOBAL_REPLY => Call::GlobalReply {
                success: r.flag("success")?,
                data: cow_bytes(r, "reply data")?,
            },
            _ => {
                return Err(FormatError::Invalid {
                    what: "call",
                    offset: tag_at,
                })
            }
        })
    }
}

/// Seconds with millisecond precision, signed.
fn fmt_at(f: &mut fmt::Formatter<'_>, at: TimeOffset) -> fmt::Result {
    let sign = if at < 0 { "-" } else { "+" };
    let abs = at.unsigned_abs();
    write!(
        f,
        "{sign}{}.{:06}s ",
        abs / 1_000_000_000,
        (abs % 1_000_000_000) / 1000
    )
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

impl fmt::Display for Call<'_> {
    /// One line, e.g. `+0.012000s handle_input(48 bytes b"SSH-2.0-...")`.
    /// Passwords and answers to prompts are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at() {
            fmt_at(f, at)?;
        }
        match self {
            Call::HandleInput { data, .. } => {
                f.write_str("handle_input(")?;
                fmt_bytes(f, data, 32)?;
                f.write_str(")")
            }
            Call::HandleEof { .. } => f.write_str("handle_eof()"),
            Call::HandleTimeout { .. } => f.write_str("handle_timeout()"),
            Call::PollEvent => f.write_str("poll_event()"),
            Call::ConsumeTransmit { n } => write!(f, "consume_transmit({n})"),
            Call::Rekey => f.write_str("rekey()"),
            Call::Disconnect { description } => {
                f.write_str("disconnect(")?;
                quoted(f, description, 80)?;
                f.write_str(")")
            }
            Call::AcceptHostKey => f.write_str("accept_host_key()"),
            Call::RejectHostKey => f.write_str("reject_host_key()"),
            Call::AuthNone { user } => write!(f, "auth_none({user:?})"),
            Call::AuthPassword { user, .. } => write!(f, "auth_password({user:?}, <password>)"),
            Call::AuthChangePassword { .. } => {
                f.write_str("auth_change_password(<password>, <password>)")
            }
            Call::AuthPublickey { user, key } => {
                write!(f, "auth_publickey({user:?}, {})", key.fingerprint())
            }
            Call::AuthSignature { blob } => write!(f, "auth_signature({} bytes)", blob.len()),
            Call::AuthKeyboardInteractive { user, submethods } => {
                write!(f, "auth_keyboard_interactive({user:?}, {submethods:?})")
            }
            Call::AuthInfoResponse { responses } => {
                write!(f, "auth_info_response(<{} answers>)", responses.len())
            }
            Call::AuthDecision { decision } => write!(f, "auth_decision({decision:?})"),
            Call::OpenChannel { kind, extra } => {
                write!(f, "open_channel({kind:?}, {} bytes)", extra.len())
            }
            Call::AcceptChannel { channel } => write!(f, "accept_channel({channel})"),
            Call::RejectChannel {
                channel,
                reason,
                description,
            } => write!(f, "reject_channel({channel}, {reason:?}, {description:?})"),
            Call::ChannelRequest {
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
            Call::ChannelReply { channel, success } => {
                write!(f, "channel_reply({channel}, {success})")
            }
            Call::SendData { channel, ext, data } => {
                match ext {
                    None => write!(f, "send_data({channel}, ")?,
                    Some(code) => write!(f, "send_extended_data({channel}, {code}, ")?,
                }
                fmt_bytes(f, data, 32)?;
                f.write_str(")")
            }
            Call::SendEof { channel } => write!(f, "send_eof({channel})"),
            Call::CloseChannel { channel } => write!(f, "close_channel({channel})"),
            Call::Consume { channel, n } => write!(f, "consume({channel}, {n})"),
            Call::GlobalRequest {
                name,
                data,
                want_reply,
            } => write!(
                f,
                "global_request({name:?}, {} bytes, want_reply: {want_reply})",
                data.len()
            ),
            Call::GlobalReply { success, data } => {
                write!(f, "global_reply({success}, {} bytes)", data.len())
            }
        }
    }
}
