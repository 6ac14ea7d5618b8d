//! Replies (draft-ietf-secsh-filexfer-02 section 7, OpenSSH PROTOCOL
//! section 4's extended replies).

use bytes::Bytes;

use super::{handle, kind, Expect, Handle};
use crate::attrs::FileAttributes;
use crate::error::{ProtocolError, StatusCode};
use crate::ext::{Limits, StatVfs, UsersGroups};
use crate::wire::{begin_packet, end_packet, put_bytes, put_u32, Reader};

/// One entry of an SSH_FXP_NAME reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    /// The file name (a directory entry's name, or a full path).
    pub filename: Vec<u8>,
    /// An `ls -l` style line, for display only (draft section 7).
    pub longname: Vec<u8>,
    /// Its attributes.
    pub attrs: FileAttributes,
}

/// A reply from server to client, without its id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// SSH_FXP_STATUS.
    Status {
        /// The code.
        code: StatusCode,
        /// Human-readable message.
        message: String,
        /// Its language tag.
        language: String,
    },
    /// SSH_FXP_HANDLE.
    Handle(Handle),
    /// SSH_FXP_DATA.
    Data(Bytes),
    /// SSH_FXP_NAME.
    Name(Vec<NameEntry>),
    /// SSH_FXP_ATTRS.
    Attrs(FileAttributes),
    /// The reply to `statvfs`/`fstatvfs`.
    StatVfs(StatVfs),
    /// The reply to `limits`.
    Limits(Limits),
    /// The reply to `users-groups-by-id`.
    UsersGroups(UsersGroups),
    /// Any other SSH_FXP_EXTENDED_REPLY, undecoded.
    Extended(Bytes),
}

impl Response {
    /// A status reply with the code's default message.
    pub fn status(code: StatusCode) -> Response {
        Response::Status {
            code,
            message: code.default_message().to_string(),
            language: String::new(),
        }
    }

    /// Appends the reply as a packet with `id`.
    pub fn encode(&self, id: u32, out: &mut Vec<u8>) {
        let ty = match self {
            Response::Status { .. } => kind::STATUS,
            Response::Handle(_) => kind::HANDLE,
            Response::Data(_) => kind::DATA,
            Response::Name(_) => kind::NAME,
            Response::Attrs(_) => kind::ATTRS,
            _ => kind::EXTENDED_REPLY,
        };
        let start = begin_packet(out, ty);
        put_u32(out, id);
        match self {
            Response::Status {
                code,
                message,
                language,
            } => {
                put_u32(out, code.to_u32());
                put_bytes(out, message.as_bytes());
                put_bytes(out, language.as_bytes());
            }
            Response::Handle(h) => put_bytes(out, h),
            Response::Data(d) => put_bytes(out, d),
            Response::Name(entries) => {
                put_u32(out, u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for e in entries {
                    put_bytes(out, &e.filename);
                    put_bytes(out, &e.longname);
                    e.attrs.encode(out);
                }
            }
            Response::Attrs(a) => a.encode(out),
            Response::StatVfs(s) => s.encode(out),
            Response::Limits(l) => l.encode(out),
            Response::UsersGroups(u) => u.encode(out),
            Response::Extended(data) => out.extend_from_slice(data),
        }
        end_packet(out, start);
    }

    /// Decodes the body of a reply packet of type `ty` (after the id); an
    /// EXTENDED_REPLY is decoded as `expect` says.
    pub(crate) fn decode(ty: u8, r: &mut Reader, expect: Expect) -> Result<Self, ProtocolError> {
        let resp = match ty {
            kind::STATUS => {
                let code = StatusCode::from_u32(r.u32("status code")?);
                // Version 3 servers before the draft's last revisions may
                // omit the message and language tag: both are optional.
                let message = if r.remaining() > 0 {
                    r.text("status message")?
                } else {
                    String::new()
                };
                let language = if r.remaining() > 0 {
                    r.text("language tag")?
                } else {
                    String::new()
                };
                Response::Status {
                    code,
                    message,
                    language,
                }
            }
            kind::HANDLE => Response::Handle(handle(r)?),
            kind::DATA => Response::Data(r.bytes("data")?),
            kind::NAME => {
                // filename, longname and a flags word: 12 bytes at least.
                let n = r.count(12, "name count")?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push(NameEntry {
                        filename: r.vec("filename")?,
                        longname: r.vec("longname")?,
                        attrs: FileAttributes::decode(r)?,
                    });
                }
                Response::Name(entries)
            }
            kind::ATTRS => Response::Attrs(FileAttributes::decode(r)?),
            kind::EXTENDED_REPLY => match expect {
                Expect::Statvfs => Response::StatVfs(
                    StatVfs::decode(r).map_err(|_| ProtocolError::BadExtensionReply("statvfs"))?,
                ),
                Expect::Limits => Response::Limits(
                    Limits::decode(r).map_err(|_| ProtocolError::BadExtensionReply("limits"))?,
                ),
                Expect::UsersGroups => Response::UsersGroups(
                    UsersGroups::decode(r)
                        .map_err(|_| ProtocolError::BadExtensionReply("users-groups-by-id"))?,
                ),
                _ => Response::Extended(r.rest()),
            },
            other => return Err(ProtocolError::UnexpectedPacket(other)),
        };
        r.finish("reply")?;
        Ok(resp)
    }

    /// Whether this reply type can answer a request expecting `expect`.
    pub(crate) fn answers(&self, expect: Expect) -> bool {
        matches!(
            (self, expect),
            (Response::Status { .. }, _)
                | (Response::Handle(_), Expect::Handle)
                | (Response::Data(_), Expect::Data)
                | (Response::Name(_), Expect::Name)
                | (Response::Attrs(_), Expect::Attrs)
                | (Response::StatVfs(_), Expect::Statvfs)
                | (Response::Limits(_), Expect::Limits)
                | (Response::UsersGroups(_), Expect::UsersGroups)
                | (Response::Extended(_), Expect::Extended)
        )
    }
}
