//! The SFTP packets (draft-ietf-secsh-filexfer-02 sections 3-7, and OpenSSH
//! PROTOCOL section 4's extensions carried in SSH_FXP_EXTENDED): requests
//! and replies as values, their encoding, and the framing of the byte
//! stream into packets.

use bytes::Bytes;

use crate::attrs::{FileAttributes, OpenFlags};
use crate::error::ProtocolError;
use crate::ext;
use crate::wire::{begin_packet, end_packet, put_bytes, put_u32, put_u64, Reader};

mod framer;
mod response;

pub use framer::Framer;
pub(crate) use framer::{encode_init, encode_version};
pub use response::{NameEntry, Response};

/// Packet types (draft section 3).
pub(crate) mod kind {
    pub const INIT: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CLOSE: u8 = 4;
    pub const READ: u8 = 5;
    pub const WRITE: u8 = 6;
    pub const LSTAT: u8 = 7;
    pub const FSTAT: u8 = 8;
    pub const SETSTAT: u8 = 9;
    pub const FSETSTAT: u8 = 10;
    pub const OPENDIR: u8 = 11;
    pub const READDIR: u8 = 12;
    pub const REMOVE: u8 = 13;
    pub const MKDIR: u8 = 14;
    pub const RMDIR: u8 = 15;
    pub const REALPATH: u8 = 16;
    pub const STAT: u8 = 17;
    pub const RENAME: u8 = 18;
    pub const READLINK: u8 = 19;
    pub const SYMLINK: u8 = 20;
    pub const STATUS: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const DATA: u8 = 103;
    pub const NAME: u8 = 104;
    pub const ATTRS: u8 = 105;
    pub const EXTENDED: u8 = 200;
    pub const EXTENDED_REPLY: u8 = 201;
}

/// The protocol version this crate speaks.
pub const VERSION: u32 = 3;

/// The largest packet accepted by default: OpenSSH's `SFTP_MAX_MSG_LENGTH`
/// (256 KiB), which its client and server both enforce.
pub const MAX_PACKET_LEN: u32 = 256 * 1024;

/// A file or directory handle: opaque bytes chosen by the server, at most
/// 256 bytes (draft section 6.2).
pub type Handle = Vec<u8>;

/// The longest handle the draft allows (section 6.2).
pub const MAX_HANDLE_LEN: usize = 256;

/// A request from client to server, without its id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// SSH_FXP_OPEN.
    Open {
        /// Path.
        path: Vec<u8>,
        /// How to open.
        flags: OpenFlags,
        /// Attributes for a created file.
        attrs: FileAttributes,
    },
    /// SSH_FXP_CLOSE.
    Close {
        /// The handle.
        handle: Handle,
    },
    /// SSH_FXP_READ.
    Read {
        /// The handle.
        handle: Handle,
        /// Where.
        offset: u64,
        /// How much at most.
        len: u32,
    },
    /// SSH_FXP_WRITE.
    Write {
        /// The handle.
        handle: Handle,
        /// Where.
        offset: u64,
        /// What.
        data: Bytes,
    },
    /// SSH_FXP_LSTAT.
    Lstat {
        /// Path (a final symlink is not followed).
        path: Vec<u8>,
    },
    /// SSH_FXP_FSTAT.
    Fstat {
        /// The handle.
        handle: Handle,
    },
    /// SSH_FXP_SETSTAT.
    Setstat {
        /// Path.
        path: Vec<u8>,
        /// What to set.
        attrs: FileAttributes,
    },
    /// SSH_FXP_FSETSTAT.
    Fsetstat {
        /// The handle.
        handle: Handle,
        /// What to set.
        attrs: FileAttributes,
    },
    /// SSH_FXP_OPENDIR.
    Opendir {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_READDIR.
    Readdir {
        /// The handle.
        handle: Handle,
    },
    /// SSH_FXP_REMOVE.
    Remove {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_MKDIR.
    Mkdir {
        /// Path.
        path: Vec<u8>,
        /// Attributes for the new directory.
        attrs: FileAttributes,
    },
    /// SSH_FXP_RMDIR.
    Rmdir {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_REALPATH.
    Realpath {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_STAT.
    Stat {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_RENAME (fails if `to` exists).
    Rename {
        /// Old path.
        from: Vec<u8>,
        /// New path.
        to: Vec<u8>,
    },
    /// SSH_FXP_READLINK.
    Readlink {
        /// Path.
        path: Vec<u8>,
    },
    /// SSH_FXP_SYMLINK, in OpenSSH's argument order (PROTOCOL section 4.1:
    /// the target first, then the link's path; the draft has them swapped).
    Symlink {
        /// What the link points to.
        target: Vec<u8>,
        /// The link to create.
        link: Vec<u8>,
    },
    /// `posix-rename@openssh.com`.
    PosixRename {
        /// Old path.
        from: Vec<u8>,
        /// New path (replaced if it exists).
        to: Vec<u8>,
    },
    /// `statvfs@openssh.com`.
    Statvfs {
        /// Path.
        path: Vec<u8>,
    },
    /// `fstatvfs@openssh.com`.
    Fstatvfs {
        /// The handle.
        handle: Handle,
    },
    /// `hardlink@openssh.com`.
    Hardlink {
        /// Existing path.
        from: Vec<u8>,
        /// New link.
        to: Vec<u8>,
    },
    /// `fsync@openssh.com`.
    Fsync {
        /// The handle.
        handle: Handle,
    },
    /// `lsetstat@openssh.com`.
    Lsetstat {
        /// Path (a final symlink is not followed).
        path: Vec<u8>,
        /// What to set.
        attrs: FileAttributes,
    },
    /// `limits@openssh.com`.
    Limits,
    /// `expand-path@openssh.com`: realpath with `~` expanded.
    ExpandPath {
        /// Path.
        path: Vec<u8>,
    },
    /// `copy-data`: server-side copy between two open handles.
    CopyData {
        /// Source handle (open for reading).
        from: Handle,
        /// Source offset.
        from_offset: u64,
        /// Bytes to copy; 0 copies to the source's end.
        len: u64,
        /// Destination handle (open for writing).
        to: Handle,
        /// Destination offset.
        to_offset: u64,
    },
    /// `home-directory`: a user's home directory.
    HomeDirectory {
        /// User name (empty: the session's user).
        user: Vec<u8>,
    },
    /// `users-groups-by-id@openssh.com`.
    UsersGroupsById {
        /// User ids to name.
        uids: Vec<u32>,
        /// Group ids to name.
        gids: Vec<u32>,
    },
    /// Any other SSH_FXP_EXTENDED request.
    Extended {
        /// Extension name.
        name: String,
        /// Its data, undecoded.
        data: Bytes,
    },
}

/// The kind of reply a request expects, so an EXTENDED_REPLY can be
/// decoded and a reply of the wrong type refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// STATUS only.
    Status,
    /// HANDLE or STATUS.
    Handle,
    /// DATA or STATUS.
    Data,
    /// NAME or STATUS.
    Name,
    /// ATTRS or STATUS.
    Attrs,
    /// EXTENDED_REPLY (of the named extension) or STATUS.
    Statvfs,
    Limits,
    UsersGroups,
    Extended,
}

impl Request {
    pub(crate) fn expect(&self) -> Expect {
        match self {
            Request::Open { .. } | Request::Opendir { .. } => Expect::Handle,
            Request::Read { .. } => Expect::Data,
            Request::Readdir { .. }
            | Request::Realpath { .. }
            | Request::Readlink { .. }
            | Request::ExpandPath { .. }
            | Request::HomeDirectory { .. } => Expect::Name,
            Request::Lstat { .. } | Request::Fstat { .. } | Request::Stat { .. } => Expect::Attrs,
            Request::Statvfs { .. } | Request::Fstatvfs { .. } => Expect::Statvfs,
            Request::Limits => Expect::Limits,
            Request::UsersGroupsById { .. } => Expect::UsersGroups,
            Request::Extended { .. } => Expect::Extended,
            _ => Expect::Status,
        }
    }

    /// Whether the request changes the file system (refused by a read-only
    /// server). An OPEN changes it only with writing flags.
    pub fn writes(&self) -> bool {
        match self {
            Request::Open { flags, .. } => flags.writes(),
            Request::Write { .. }
            | Request::Setstat { .. }
            | Request::Fsetstat { .. }
            | Request::Remove { .. }
            | Request::Mkdir { .. }
            | Request::Rmdir { .. }
            | Request::Rename { .. }
            | Request::Symlink { .. }
            | Request::PosixRename { .. }
            | Request::Hardlink { .. }
            | Request::Lsetstat { .. }
            | Request::CopyData { .. } => true,
            _ => false,
        }
    }

    /// Appends the request as a packet with `id`.
    pub fn encode(&self, id: u32, out: &mut Vec<u8>) {
        let ty = match self {
            Request::Open { .. } => kind::OPEN,
            Request::Close { .. } => kind::CLOSE,
            Request::Read { .. } => kind::READ,
            Request::Write { .. } => kind::WRITE,
            Request::Lstat { .. } => kind::LSTAT,
            Request::Fstat { .. } => kind::FSTAT,
            Request::Setstat { .. } => kind::SETSTAT,
            Request::Fsetstat { .. } => kind::FSETSTAT,
            Request::Opendir { .. } => kind::OPENDIR,
            Request::Readdir { .. } => kind::READDIR,
            Request::Remove { .. } => kind::REMOVE,
            Request::Mkdir { .. } => kind::MKDIR,
            Request::Rmdir { .. } => kind::RMDIR,
            Request::Realpath { .. } => kind::REALPATH,
            Request::Stat { .. } => kind::STAT,
            Request::Rename { .. } => kind::RENAME,
            Request::Readlink { .. } => kind::READLINK,
            Request::Symlink { .. } => kind::SYMLINK,
            _ => kind::EXTENDED,
        };
        let start = begin_packet(out, ty);
        put_u32(out, id);
        match self {
            Request::Open { path, flags, attrs } => {
                put_bytes(out, path);
                put_u32(out, flags.0);
                attrs.encode(out);
            }
            Request::Close { handle } | Request::Fstat { handle } | Request::Readdir { handle } => {
                put_bytes(out, handle)
            }
            Request::Read {
                handle,
                offset,
                len,
            } => {
                put_bytes(out, handle);
                put_u64(out, *offset);
                put_u32(out, *len);
            }
            Request::Write {
                handle,
                offset,
                data,
            } => {
                put_bytes(out, handle);
                put_u64(out, *offset);
                put_bytes(out, data);
            }
            Request::Lstat { path }
            | Request::Opendir { path }
            | Request::Remove { path }
            | Request::Rmdir { path }
            | Request::Realpath { path }
            | Request::Stat { path }
            | Request::Readlink { path } => put_bytes(out, path),
            Request::Setstat { path, attrs } | Request::Mkdir { path, attrs } => {
                put_bytes(out, path);
                attrs.encode(out);
            }
            Request::Fsetstat { handle, attrs } => {
                put_bytes(out, handle);
                attrs.encode(out);
            }
            Request::Rename { from, to } => {
                put_bytes(out, from);
                put_bytes(out, to);
            }
            Request::Symlink { target, link } => {
                put_bytes(out, target);
                put_bytes(out, link);
            }
            Request::PosixRename { from, to } | Request::Hardlink { from, to } => {
                let name = if matches!(self, Request::PosixRename { .. }) {
                    ext::POSIX_RENAME
                } else {
                    ext::HARDLINK
                };
                put_bytes(out, name.as_bytes());
                put_bytes(out, from);
                put_bytes(out, to);
            }
            Request::Statvfs { path } => {
                put_bytes(out, ext::STATVFS.as_bytes());
                put_bytes(out, path);
            }
            Request::Fstatvfs { handle } => {
                put_bytes(out, ext::FSTATVFS.as_bytes());
                put_bytes(out, handle);
            }
            Request::Fsync { handle } => {
                put_bytes(out, ext::FSYNC.as_bytes());
                put_bytes(out, handle);
            }
            Request::Lsetstat { path, attrs } => {
                put_bytes(out, ext::LSETSTAT.as_bytes());
                put_bytes(out, path);
                attrs.encode(out);
            }
            Request::Limits => put_bytes(out, ext::LIMITS.as_bytes()),
            Request::ExpandPath { path } => {
                put_bytes(out, ext::EXPAND_PATH.as_bytes());
                put_bytes(out, path);
            }
            Request::CopyData {
                from,
                from_offset,
                len,
                to,
                to_offset,
            } => {
                put_bytes(out, ext::COPY_DATA.as_bytes());
                put_bytes(out, from);
                put_u64(out, *from_offset);
                put_u64(out, *len);
                put_bytes(out, to);
                put_u64(out, *to_offset);
            }
            Request::HomeDirectory { user } => {
                put_bytes(out, ext::HOME_DIRECTORY.as_bytes());
                put_bytes(out, user);
            }
            Request::UsersGroupsById { uids, gids } => {
                put_bytes(out, ext::USERS_GROUPS_BY_ID.as_bytes());
                ext::put_ids(out, uids);
                ext::put_ids(out, gids);
            }
            Request::Extended { name, data } => {
                put_bytes(out, name.as_bytes());
                out.extend_from_slice(data);
            }
        }
        end_packet(out, start);
    }

    /// Decodes the body of a request packet of type `ty` (after the id).
    fn decode(ty: u8, r: &mut Reader) -> Result<Request, ProtocolError> {
        let req = match ty {
            kind::OPEN => Request::Open {
                path: r.vec("path")?,
                flags: OpenFlags(r.u32("open flags")?),
                attrs: FileAttributes::decode(r)?,
            },
            kind::CLOSE => Request::Close { handle: handle(r)? },
            kind::READ => Request::Read {
                handle: handle(r)?,
                offset: r.u64("offset")?,
                len: r.u32("length")?,
            },
            kind::WRITE => Request::Write {
                handle: handle(r)?,
                offset: r.u64("offset")?,
                data: r.bytes("data")?,
            },
            kind::LSTAT => Request::Lstat {
                path: r.vec("path")?,
            },
            kind::FSTAT => Request::Fstat { handle: handle(r)? },
            kind::SETSTAT => Request::Setstat {
                path: r.vec("path")?,
                attrs: FileAttributes::decode(r)?,
            },
            kind::FSETSTAT => Request::Fsetstat {
                handle: handle(r)?,
                attrs: FileAttributes::decode(r)?,
            },
            kind::OPENDIR => Request::Opendir {
                path: r.vec("path")?,
            },
            kind::READDIR => Request::Readdir { handle: handle(r)? },
            kind::REMOVE => Request::Remove {
                path: r.vec("path")?,
            },
            kind::MKDIR => Request::Mkdir {
                path: r.vec("path")?,
                attrs: FileAttributes::decode(r)?,
            },
            kind::RMDIR => Request::Rmdir {
                path: r.vec("path")?,
            },
            kind::REALPATH => Request::Realpath {
                path: r.vec("path")?,
            },
            kind::STAT => Request::Stat {
                path: r.vec("path")?,
            },
            kind::RENAME => Request::Rename {
                from: r.vec("path")?,
                to: r.vec("path")?,
            },
            kind::READLINK => Request::Readlink {
                path: r.vec("path")?,
            },
            kind::SYMLINK => Request::Symlink {
                target: r.vec("path")?,
                link: r.vec("path")?,
            },
            kind::EXTENDED => return decode_extended(r),
            other => return Err(ProtocolError::UnexpectedPacket(other)),
        };
        r.finish("request")?;
        Ok(req)
    }
}

pub(crate) fn handle(r: &mut Reader) -> Result<Handle, ProtocolError> {
    let h = r.bytes("handle")?;
    if h.len() > MAX_HANDLE_LEN {
        return Err(ProtocolError::Truncated {
            what: "handle over 256 bytes",
        });
    }
    Ok(h.to_vec())
}

fn decode_extended(r: &mut Reader) -> Result<Request, ProtocolError> {
    let name = r.text("extension name")?;
    let req = match name.as_str() {
        ext::POSIX_RENAME => Request::PosixRename {
            from: r.vec("path")?,
            to: r.vec("path")?,
        },
        ext::HARDLINK => Request::Hardlink {
            from: r.vec("path")?,
            to: r.vec("path")?,
        },
        ext::STATVFS => Request::Statvfs {
            path: r.vec("path")?,
        },
        ext::FSTATVFS => Request::Fstatvfs { handle: handle(r)? },
        ext::FSYNC => Request::Fsync { handle: handle(r)? },
        ext::LSETSTAT => Request::Lsetstat {
            path: r.vec("path")?,
            attrs: FileAttributes::decode(r)?,
        },
        ext::LIMITS => Request::Limits,
        ext::EXPAND_PATH => Request::ExpandPath {
            path: r.vec("path")?,
        },
        ext::COPY_DATA => Request::CopyData {
            from: handle(r)?,
            from_offset: r.u64("offset")?,
            len: r.u64("length")?,
            to: handle(r)?,
            to_offset: r.u64("offset")?,
        },
        ext::HOME_DIRECTORY => Request::HomeDirectory {
            user: r.vec("user name")?,
        },
        ext::USERS_GROUPS_BY_ID => Request::UsersGroupsById {
            uids: ext::ids(r.bytes("uids")?)?,
            gids: ext::ids(r.bytes("gids")?)?,
        },
        _ => {
            return Ok(Request::Extended {
                name,
                data: r.rest(),
            })
        }
    };
    r.finish("extended request")?;
    Ok(req)
}

/// What a client sends: the version exchange or a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientPacket {
    /// SSH_FXP_INIT with the client's version (and, before version 3 ...
    /// nothing else in practice; extensions are ignored).
    Init {
        /// The client's version.
        version: u32,
    },
    /// A request.
    Request {
        /// Its id.
        id: u32,
        /// The request.
        request: Request,
    },
}

impl ClientPacket {
    /// Decodes one framed packet from a client (`ty` and `body` as
    /// [`Framer::next_packet`] gives them). A request whose id was read but
    /// whose fields were not is `Err((Some(id), error))`, so a server can
    /// answer it with SSH_FX_BAD_MESSAGE.
    pub fn decode(ty: u8, body: Bytes) -> Result<Self, (Option<u32>, ProtocolError)> {
        let mut r = Reader::new(body);
        if ty == kind::INIT {
            let version = r.u32("version").map_err(|e| (None, e))?;
            return Ok(ClientPacket::Init { version });
        }
        if !(kind::OPEN..=kind::SYMLINK).contains(&ty) && ty != kind::EXTENDED {
            return Err((None, ProtocolError::UnexpectedPacket(ty)));
        }
        let id = r.u32("request id").map_err(|e| (None, e))?;
        let request = Request::decode(ty, &mut r).map_err(|e| (Some(id), e))?;
        Ok(ClientPacket::Request { id, request })
    }
}
