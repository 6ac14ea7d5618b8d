//! File attributes (draft-ietf-secsh-filexfer-02 section 5) and open flags
//! (section 6.3).

use crate::error::ProtocolError;
use crate::wire::{put_bytes, put_u32, put_u64, Reader};

const SIZE: u32 = 0x0000_0001;
const UIDGID: u32 = 0x0000_0002;
const PERMISSIONS: u32 = 0x0000_0004;
const ACMODTIME: u32 = 0x0000_0008;
const EXTENDED: u32 = 0x8000_0000;

/// The `S_IFMT` bits of a mode and the types in them (POSIX values, which
/// version 3 carries in the permissions field).
pub const S_IFMT: u32 = 0o170_000;
/// Directory.
pub const S_IFDIR: u32 = 0o040_000;
/// Regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120_000;

/// The attributes of a file; every field is optional, as on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAttributes {
    /// Size in bytes.
    pub size: Option<u64>,
    /// Owner and group ids (one flag covers both).
    pub uid_gid: Option<(u32, u32)>,
    /// POSIX mode: type bits and permissions.
    pub permissions: Option<u32>,
    /// Access and modification times, seconds since 1970 (one flag covers
    /// both; version 3 has only 32 bits for them).
    pub atime_mtime: Option<(u32, u32)>,
    /// Extended attributes: (type, data) pairs.
    pub extended: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The kind of file a mode names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, fifo, socket), or no type bits sent.
    Other,
}

impl FileAttributes {
    /// Attributes with only a size.
    pub fn with_size(size: u64) -> Self {
        FileAttributes {
            size: Some(size),
            ..Default::default()
        }
    }

    /// Attributes with only permission bits (for mkdir, chmod, open).
    pub fn with_permissions(mode: u32) -> Self {
        FileAttributes {
            permissions: Some(mode),
            ..Default::default()
        }
    }

    /// The kind of file, from the type bits of the permissions.
    pub fn file_type(&self) -> FileType {
        match self.permissions.map(|p| p & S_IFMT) {
            Some(S_IFDIR) => FileType::Dir,
            Some(S_IFREG) => FileType::File,
            Some(S_IFLNK) => FileType::Symlink,
            _ => FileType::Other,
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == FileType::Dir
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == FileType::File
    }

    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == FileType::Symlink
    }

    /// The modification time, if sent.
    pub fn mtime(&self) -> Option<u32> {
        self.atime_mtime.map(|(_, m)| m)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.size.is_some() {
            flags |= SIZE;
        }
        if self.uid_gid.is_some() {
            flags |= UIDGID;
        }
        if self.permissions.is_some() {
            flags |= PERMISSIONS;
        }
        if self.atime_mtime.is_some() {
            flags |= ACMODTIME;
        }
        if !self.extended.is_empty() {
            flags |= EXTENDED;
        }
        put_u32(out, flags);
        if let Some(size) = self.size {
            put_u64(out, size);
        }
        if let Some((uid, gid)) = self.uid_gid {
            put_u32(out, uid);
            put_u32(out, gid);
        }
        if let Some(p) = self.permissions {
            put_u32(out, p);
        }
        if let Some((a, m)) = self.atime_mtime {
            put_u32(out, a);
            put_u32(out, m);
        }
        if !self.extended.is_empty() {
            put_u32(out, u32::try_from(self.extended.len()).unwrap_or(u32::MAX));
            for (t, d) in &self.extended {
                put_bytes(out, t);
                put_bytes(out, d);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Self, ProtocolError> {
        let flags = r.u32("attribute flags")?;
        let mut a = FileAttributes::default();
        if flags & SIZE != 0 {
            a.size = Some(r.u64("size")?);
        }
        if flags & UIDGID != 0 {
            a.uid_gid = Some((r.u32("uid")?, r.u32("gid")?));
        }
        if flags & PERMISSIONS != 0 {
            a.permissions = Some(r.u32("permissions")?);
        }
        if flags & ACMODTIME != 0 {
            a.atime_mtime = Some((r.u32("atime")?, r.u32("mtime")?));
        }
        if flags & EXTENDED != 0 {
            // Each pair is two strings: at least 8 bytes.
            let n = r.count(8, "extended attribute count")?;
            a.extended.reserve(n);
            for _ in 0..n {
                a.extended
                    .push((r.vec("extended type")?, r.vec("extended data")?));
            }
        }
        Ok(a)
    }
}

/// The `pflags` of SSH_FXP_OPEN (draft-ietf-secsh-filexfer-02 section 6.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    /// `SSH_FXF_READ`.
    pub const READ: OpenFlags = OpenFlags(0x01);
    /// `SSH_FXF_WRITE`.
    pub const WRITE: OpenFlags = OpenFlags(0x02);
    /// `SSH_FXF_APPEND`.
    pub const APPEND: OpenFlags = OpenFlags(0x04);
    /// `SSH_FXF_CREAT`.
    pub const CREATE: OpenFlags = OpenFlags(0x08);
    /// `SSH_FXF_TRUNC` (with CREATE).
    pub const TRUNCATE: OpenFlags = OpenFlags(0x10);
    /// `SSH_FXF_EXCL` (with CREATE).
    pub const EXCLUSIVE: OpenFlags = OpenFlags(0x20);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the flags ask for any change to the file system.
    pub fn writes(self) -> bool {
        self.0 & (Self::WRITE.0 | Self::APPEND.0 | Self::CREATE.0 | Self::TRUNCATE.0) != 0
    }
}

impl std::ops::BitOr for OpenFlags {
    type Output = OpenFlags;

    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | rhs.0)
    }
}
