//! The payloads of OpenSSH's SFTP extensions (OpenSSH PROTOCOL section 4)
//! that are not plain status replies.

use crate::error::ProtocolError;
use crate::wire::{put_bytes, put_u32, put_u64, Reader};

/// `posix-rename@openssh.com`: rename that replaces the target (PROTOCOL 4.3).
pub const POSIX_RENAME: &str = "posix-rename@openssh.com";
/// `statvfs@openssh.com` (PROTOCOL 4.4).
pub const STATVFS: &str = "statvfs@openssh.com";
/// `fstatvfs@openssh.com` (PROTOCOL 4.4).
pub const FSTATVFS: &str = "fstatvfs@openssh.com";
/// `hardlink@openssh.com` (PROTOCOL 4.5).
pub const HARDLINK: &str = "hardlink@openssh.com";
/// `fsync@openssh.com` (PROTOCOL 4.6).
pub const FSYNC: &str = "fsync@openssh.com";
/// `lsetstat@openssh.com` (PROTOCOL 4.7).
pub const LSETSTAT: &str = "lsetstat@openssh.com";
/// `limits@openssh.com` (PROTOCOL 4.8).
pub const LIMITS: &str = "limits@openssh.com";
/// `expand-path@openssh.com` (PROTOCOL 4.9).
pub const EXPAND_PATH: &str = "expand-path@openssh.com";
/// `copy-data` (PROTOCOL 4.10).
pub const COPY_DATA: &str = "copy-data";
/// `home-directory` (PROTOCOL 4.11).
pub const HOME_DIRECTORY: &str = "home-directory";
/// `users-groups-by-id@openssh.com` (PROTOCOL 4.12).
pub const USERS_GROUPS_BY_ID: &str = "users-groups-by-id@openssh.com";

/// Every extension this crate speaks, with the version string OpenSSH's
/// sftp-server advertises for it in SSH_FXP_VERSION.
pub const ALL: &[(&str, &str)] = &[
    (POSIX_RENAME, "1"),
    (STATVFS, "2"),
    (FSTATVFS, "2"),
    (HARDLINK, "1"),
    (FSYNC, "1"),
    (LSETSTAT, "1"),
    (LIMITS, "1"),
    (EXPAND_PATH, "1"),
    (COPY_DATA, "1"),
    (HOME_DIRECTORY, "1"),
    (USERS_GROUPS_BY_ID, "1"),
];

/// A file system's statistics, the reply to `statvfs@openssh.com`: the
/// fields of POSIX `struct statvfs`, in its order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatVfs {
    /// File system block size.
    pub bsize: u64,
    /// Fundamental block size (the unit of the counts).
    pub frsize: u64,
    /// Size in `frsize` units.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Free inodes for unprivileged users.
    pub favail: u64,
    /// File system id.
    pub fsid: u64,
    /// Mount flags (`SSH_FXE_STATVFS_ST_RDONLY` 1, `ST_NOSUID` 2).
    pub flag: u64,
    /// Longest file name.
    pub namemax: u64,
}

impl StatVfs {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.flag,
            self.namemax,
        ] {
            put_u64(out, v);
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, ProtocolError> {
        let mut f = [0u64; 11];
        for v in &mut f {
            *v = r.u64("statvfs")?;
        }
        r.finish("statvfs reply")?;
        let [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax] = f;
        Ok(StatVfs {
            bsize,
            frsize,
            blocks,
            bfree,
            bavail,
            files,
            ffree,
            favail,
            fsid,
            flag,
            namemax,
        })
    }

    /// Total size in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.blocks.saturating_mul(self.frsize)
    }

    /// Bytes available to an unprivileged user.
    pub fn available_bytes(&self) -> u64 {
        self.bavail.saturating_mul(self.frsize)
    }
}

/// The server's limits, the reply to `limits@openssh.com`; 0 means "no
/// limit given".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Longest packet the server accepts.
    pub max_packet_length: u64,
    /// Most data one READ returns.
    pub max_read_length: u64,
    /// Most data one WRITE may carry.
    pub max_write_length: u64,
    /// Most handles open at once.
    pub max_open_handles: u64,
}

impl Limits {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.max_packet_length);
        put_u64(out, self.max_read_length);
        put_u64(out, self.max_write_length);
        put_u64(out, self.max_open_handles);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, ProtocolError> {
        let l = Limits {
            max_packet_length: r.u64("limits")?,
            max_read_length: r.u64("limits")?,
            max_write_length: r.u64("limits")?,
            max_open_handles: r.u64("limits")?,
        };
        r.finish("limits reply")?;
        Ok(l)
    }
}

/// Names for ids, the reply to `users-groups-by-id@openssh.com`: one
/// name per id asked, in order, empty where the id has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersGroups {
    /// User names, one per uid asked.
    pub users: Vec<Vec<u8>>,
    /// Group names, one per gid asked.
    pub groups: Vec<Vec<u8>>,
}

impl UsersGroups {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for names in [&self.users, &self.groups] {
            let mut inner = Vec::new();
            for n in names {
                put_bytes(&mut inner, n);
            }
            put_bytes(out, &inner);
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, ProtocolError> {
        let users = names(r.bytes("user names")?)?;
        let groups = names(r.bytes("group names")?)?;
        r.finish("users-groups-by-id reply")?;
        Ok(UsersGroups { users, groups })
    }
}

/// A string packed with strings.
fn names(packed: bytes::Bytes) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut r = Reader::new(packed);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        out.push(r.vec("name")?);
    }
    Ok(out)
}

/// A string packed with uint32 ids.
pub(crate) fn put_ids(out: &mut Vec<u8>, ids: &[u32]) {
    put_u32(out, u32::try_from(ids.len() * 4).unwrap_or(u32::MAX));
    for id in ids {
        put_u32(out, *id);
    }
}

pub(crate) fn ids(packed: bytes::Bytes) -> Result<Vec<u32>, ProtocolError> {
    if !packed.len().is_multiple_of(4) {
        return Err(ProtocolError::Truncated { what: "id list" });
    }
    let mut r = Reader::new(packed);
    let mut out = Vec::with_capacity(r.remaining() / 4);
    while r.remaining() > 0 {
        out.push(r.u32("id")?);
    }
    Ok(out)
}
