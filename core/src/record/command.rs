//! The transcript encoding of a [`Command`]: a tag byte, then its
//! arguments (see the table in [`crate::record`]). The fuzz harness reads
//! commands out of its input with the same decoder.

use std::borrow::Cow;

use crate::command::Command;
use crate::event::{ChannelId, ChannelOpenFailure};
use crate::keys::PublicKey;

use super::args::{get_auth_decision, get_channel_request, put_auth_decision, put_channel_request};
use super::codec::{Put, Reader};
use super::FormatError;

// Command tags (see the module documentation of `record` for the table).
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

fn cow_str<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, str>, FormatError> {
    Ok(Cow::Borrowed(r.text(what)?))
}

fn cow_bytes<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, [u8]>, FormatError> {
    Ok(Cow::Borrowed(r.bytes(what)?))
}

fn channel(r: &mut Reader<'_>) -> Result<ChannelId, FormatError> {
    Ok(ChannelId(r.u32("channel id")?))
}

impl Command<'_> {
    /// Appends the command's transcript encoding: its tag, then its
    /// arguments.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Command::Rekey => out.byte(REKEY),
            Command::Disconnect { description } => {
                out.byte(DISCONNECT);
                out.text(description);
            }
            Command::AcceptHostKey => out.byte(ACCEPT_HOST_KEY),
            Command::RejectHostKey => out.byte(REJECT_HOST_KEY),
            Command::AuthNone { user } => {
                out.byte(AUTH_NONE);
                out.text(user);
            }
            Command::AuthPassword { user, password } => {
                out.byte(AUTH_PASSWORD);
                out.text(user);
                out.text(password);
            }
            Command::AuthChangePassword { old, new } => {
                out.byte(AUTH_CHANGE_PASSWORD);
                out.text(old);
                out.text(new);
            }
            Command::AuthPublickey { user, key } => {
                out.byte(AUTH_PUBLICKEY);
                out.text(user);
                out.bytes(key.blob());
            }
            Command::AuthSignature { blob } => {
                out.byte(AUTH_SIGNATURE);
                out.bytes(blob);
            }
            Command::AuthKeyboardInteractive { user, submethods } => {
                out.byte(AUTH_KEYBOARD_INTERACTIVE);
                out.text(user);
                out.text(submethods);
            }
            Command::AuthInfoResponse { responses } => {
                out.byte(AUTH_INFO_RESPONSE);
                out.texts(responses);
            }
            Command::AuthDecision { decision } => {
                out.byte(AUTH_DECISION);
                put_auth_decision(out, decision);
            }
            Command::OpenChannel { kind, extra } => {
                out.byte(OPEN_CHANNEL);
                out.text(kind);
                out.bytes(extra);
            }
            Command::AcceptChannel { channel } => {
                out.byte(ACCEPT_CHANNEL);
                out.uvar(channel.0.into());
            }
            Command::RejectChannel {
                channel,
                reason,
                description,
            } => {
                out.byte(REJECT_CHANNEL);
                out.uvar(channel.0.into());
                out.uvar(reason.code().into());
                out.text(description);
            }
            Command::ChannelRequest {
                channel,
                request,
                want_reply,
            } => {
                out.byte(CHANNEL_REQUEST);
                out.uvar(channel.0.into());
                out.flag(*want_reply);
                put_channel_request(out, request);
            }
            Command::ChannelReply { channel, success } => {
                out.byte(CHANNEL_REPLY);
                out.uvar(channel.0.into());
                out.flag(*success);
            }
            Command::SendData { channel, ext, data } => {
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
            Command::SendEof { channel } => {
                out.byte(SEND_EOF);
                out.uvar(channel.0.into());
            }
            Command::CloseChannel { channel } => {
                out.byte(CLOSE_CHANNEL);
                out.uvar(channel.0.into());
            }
            Command::Consume { channel, n } => {
                out.byte(CONSUME);
                out.uvar(channel.0.into());
                out.uvar(*n as u64);
            }
            Command::GlobalRequest {
                name,
                data,
                want_reply,
            } => {
                out.byte(GLOBAL_REQUEST);
                out.text(name);
                out.bytes(data);
                out.flag(*want_reply);
            }
            Command::GlobalReply { success, data } => {
                out.byte(GLOBAL_REPLY);
                out.flag(*success);
                out.bytes(data);
            }
        }
    }
}

impl<'a> Command<'a> {
    /// Decodes one command from the start of `bytes`, as
    /// [`Command::encode`] wrote it; returns it and how many bytes it took.
    /// Arguments borrow from `bytes` where they can.
    pub fn decode(bytes: &'a [u8]) -> Result<(Self, usize), FormatError> {
        let mut r = Reader::new(bytes);
        let tag_at = r.pos();
        let tag = r.byte("command")?;
        let command = Self::decode_tagged(tag, tag_at, &mut r)?;
        Ok((command, r.pos()))
    }

    /// The command whose tag, read at `tag_at`, was `tag`.
    pub(super) fn decode_tagged(
        tag: u8,
        tag_at: usize,
        r: &mut Reader<'a>,
    ) -> Result<Self, FormatError> {
        Ok(match tag {
            REKEY => Command::Rekey,
            DISCONNECT => Command::Disconnect {
                description: cow_str(r, "description")?,
            },
            ACCEPT_HOST_KEY => Command::AcceptHostKey,
            REJECT_HOST_KEY => Command::RejectHostKey,
            AUTH_NONE => Command::AuthNone {
                user: cow_str(r, "user")?,
            },
            AUTH_PASSWORD => Command::AuthPassword {
                user: cow_str(r, "user")?,
                password: cow_str(r, "password")?,
            },
            AUTH_CHANGE_PASSWORD => Command::AuthChangePassword {
                old: cow_str(r, "old password")?,
                new: cow_str(r, "new password")?,
            },
            AUTH_PUBLICKEY => {
                let user = cow_str(r, "user")?;
                let at = r.pos();
                let key = PublicKey::from_blob(r.bytes("public key")?)
                    .map_err(|error| FormatError::Key { offset: at, error })?;
                Command::AuthPublickey {
                    user,
                    key: Cow::Owned(key),
                }
            }
            AUTH_SIGNATURE => Command::AuthSignature {
                blob: cow_bytes(r, "signature")?,
            },
            AUTH_KEYBOARD_INTERACTIVE => Command::AuthKeyboardInteractive {
                user: cow_str(r, "user")?,
                submethods: cow_str(r, "submethods")?,
            },
            AUTH_INFO_RESPONSE => Command::AuthInfoResponse {
                responses: Cow::Owned(r.texts("responses")?),
            },
            AUTH_DECISION => Command::AuthDecision {
                decision: Cow::Owned(get_auth_decision(r)?),
            },
            OPEN_CHANNEL => Command::OpenChannel {
                kind: cow_str(r, "channel type")?,
                extra: cow_bytes(r, "channel open data")?,
            },
            ACCEPT_CHANNEL => Command::AcceptChannel {
                channel: channel(r)?,
            },
            REJECT_CHANNEL => Command::RejectChannel {
                channel: channel(r)?,
                reason: ChannelOpenFailure::from_code(r.u32("reason")?),
                description: cow_str(r, "description")?,
            },
            CHANNEL_REQUEST => Command::ChannelRequest {
                channel: channel(r)?,
                want_reply: r.flag("want reply")?,
                request: Cow::Owned(get_channel_request(r)?),
            },
            CHANNEL_REPLY => Command::ChannelReply {
                channel: channel(r)?,
                success: r.flag("success")?,
            },
            SEND_DATA => Command::SendData {
                channel: channel(r)?,
                ext: None,
                data: cow_bytes(r, "data")?,
            },
            SEND_EXTENDED_DATA => Command::SendData {
                channel: channel(r)?,
                ext: Some(r.u32("extended data code")?),
                data: cow_bytes(r, "data")?,
            },
            SEND_EOF => Command::SendEof {
                channel: channel(r)?,
            },
            CLOSE_CHANNEL => Command::CloseChannel {
                channel: channel(r)?,
            },
            CONSUME => Command::Consume {
                channel: channel(r)?,
                // More than the platform's `usize` consumes everything
                // anyway: saturate rather than refuse.
                n: usize::try_from(r.uvar("consumed count")?).unwrap_or(usize::MAX),
            },
            GLOBAL_REQUEST => Command::GlobalRequest {
                name: cow_str(r, "request name")?,
                data: cow_bytes(r, "request data")?,
                want_reply: r.flag("want reply")?,
            },
            GLOBAL_REPLY => Command::GlobalReply {
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
