//! [`RootFs`]: the server's file system over one local directory, seen by
//! the client as `/` (as sshd's `ChrootDirectory` with `internal-sftp`
//! shows it, without needing root). The client's `..` stops at the root.
//! Every path is then looked up from a directory fd of the root with the
//! kernel keeping the lookup beneath it (see [`super::beneath`]): a
//! symlink inside the root that points inside works, one that leads out
//! (an absolute target, too many `..`) is refused with PERMISSION_DENIED,
//! and a local user swapping a directory for a symlink while the server
//! works cannot lead it out either, since nothing is checked first and
//! opened by path later.

use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use conch_sftp::ext::{StatVfs, UsersGroups};
use conch_sftp::packet::NameEntry;
use conch_sftp::server::{FileSystem, FsResult};
use conch_sftp::{FileAttributes, OpenFlags, StatusCode, StatusError};
use rustix::fs::{AtFlags, Mode, OFlags};

use super::beneath::{Beneath, RelPath, LOOK};

/// Entries returned per READDIR.
const READDIR_BATCH: usize = 128;

/// A local directory served as the client's `/`.
#[derive(Debug, Clone)]
pub struct RootFs {
    root: PathBuf,
    /// The root's directory fd every lookup starts from (shared by clones).
    beneath: Arc<Beneath>,
    /// Where relative paths start (the client's `.`), as components.
    home: Vec<Vec<u8>>,
}

/// An open directory of a [`RootFs`].
#[derive(Debug)]
pub struct RootDir {
    entries: rustix::fs::Dir,
    /// The same directory, for the entries' `fstatat`.
    fd: OwnedFd,
}

fn bad(message: &str) -> StatusError {
    StatusError::with_message(StatusCode::BadMessage, message)
}

/// A file system error as the status to answer; a lookup the kernel
/// stopped at the root's edge (`EXDEV`) is a refusal.
fn status(e: io::Error) -> StatusError {
    if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) {
        return StatusError::with_message(
            StatusCode::PermissionDenied,
            "path leads outside the served directory",
        );
    }
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return StatusError::with_message(StatusCode::Failure, "too many levels of symbolic links");
    }
    StatusError::from(e)
}

fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

/// The last name of a path, which the call acting on a name needs (the
/// root itself has none).
fn named(name: Option<Vec<u8>>, code: StatusCode) -> FsResult<Vec<u8>> {
    name.ok_or_else(|| StatusError::with_message(code, "not allowed on the root"))
}

impl RootFs {
    /// Serves `root` (which must exist; it is canonicalized and opened
    /// once here).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "SFTP root is not a directory",
            ));
        }
        let beneath = Arc::new(Beneath::new(&root)?);
        Ok(RootFs {
            root,
            beneath,
            home: Vec::new(),
        })
    }

    /// Starts relative paths at `home` (a path inside the root, e.g.
    /// `/home/alice`), instead of `/`.
    pub fn with_home(mut self, home: &str) -> Self {
        self.home = RelPath::new(&[], home.as_bytes()).0;
        self
    }

    /// The local directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn rel(&self, path: &[u8]) -> FsResult<RelPath> {
        if path.contains(&0) {
            return Err(bad("NUL in path"));
        }
        Ok(RelPath::new(&self.home, path))
    }

    /// Opens `path` beneath the root, symlinks followed inside it.
    fn open_fd(&self, path: &[u8], flags: OFlags, mode: Mode) -> FsResult<OwnedFd> {
        self.beneath
            .open(&self.rel(path)?, flags, mode)
            .map_err(status)
    }

    /// The parent directory (opened beneath the root) and last name of
    /// `path`, which is not followed.
    fn parent(&self, path: &[u8]) -> FsResult<(OwnedFd, Option<Vec<u8>>)> {
        self.beneath.parent(&self.rel(path)?).map_err(status)
    }
}

fn secs(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

/// A `stat` result as SFTP attributes.
// The field types differ across systems (u16 modes on macOS, c_long times
// on some 64-bit Linux targets): the conversions are needed there.
#[allow(clippy::useless_conversion)]
fn attrs_of(st: &rustix::fs::Stat) -> FileAttributes {
    let time = |t| secs(i64::try_from(t).unwrap_or(i64::MAX));
    FileAttributes {
        size: Some(u64::try_from(st.st_size).unwrap_or(0)),
        uid_gid: Some((st.st_uid.into(), st.st_gid.into())),
        permissions: Some(st.st_mode.into()),
        atime_mtime: Some((time(st.st_atime), time(st.st_mtime))),
        extended: Vec::new(),
    }
}

fn fstat(fd: impl AsFd) -> FsResult<FileAttributes> {
    Ok(attrs_of(&rustix::fs::fstat(fd).map_err(io::Error::from)?))
}

/// Applies attributes to an open file (size, owner, mode, times).
fn apply_to_file(file: &fs::File, attrs: &FileAttributes) -> FsResult<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(size) = attrs.size {
        file.set_len(size)?;
    }
    if let Some((uid, gid)) = attrs.uid_gid {
        std::os::unix::fs::fchown(file, Some(uid), Some(gid))?;
    }
    if let Some(mode) = attrs.permissions {
        file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let Some((a, m)) = attrs.atime_mtime {
        let t = |s: u32| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(s));
        file.set_times(fs::FileTimes::new().set_accessed(t(a)).set_modified(t(m)))?;
    }
    Ok(())
}

/// The flags to open a file whose attributes are set: for writing only
/// when the size changes (a directory cannot be; a read-only fd sets
/// modes and times as the owner), never blocking on a FIFO.
fn setstat_flags(attrs: &FileAttributes) -> OFlags {
    let access = if attrs.size.is_some() {
        OFlags::WRONLY
    } else {
        OFlags::RDONLY
    };
    access | OFlags::NONBLOCK | OFlags::NOCTTY
}

/// Names from a passwd or group file (`name:x:id:...`) for `ids`.
fn names_from(file: &str, ids: &[u32]) -> Vec<Vec<u8>> {
    let text = fs::read_to_string(file).unwrap_or_default();
    ids.iter()
        .map(|id| {
            text.lines()
                .find_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let _ = f.next()?;
                    (f.next()?.parse::<u32>().ok()? == *id).then(|| name.as_bytes().to_vec())
                })
                .unwrap_or_default()
        })
        .collect()
}

impl FileSystem for RootFs {
    type File = fs::File;
    type Dir = RootDir;

    fn open(
        &mut self,
        path: &[u8],
        flags: OpenFlags,
        attrs: &FileAttributes,
    ) -> FsResult<fs::File> {
        let write = flags.contains(OpenFlags::WRITE) || flags.contains(OpenFlags::APPEND);
        let read = flags.contains(OpenFlags::READ) || !write;
        let mut o = match (read, write) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        if flags.contains(OpenFlags::APPEND) {
            o |= OFlags::APPEND;
        }
        if flags.contains(OpenFlags::CREATE) {
            o |= OFlags::CREATE;
            if flags.contains(OpenFlags::EXCLUSIVE) {
                o |= OFlags::EXCL;
            }
        }
        if flags.contains(OpenFlags::TRUNCATE) {
            o |= OFlags::TRUNC;
        }
        o |= OFlags::NOCTTY;
        let mode = Mode::from_raw_mode((attrs.permissions.unwrap_or(0o666) & 0o7777) as _);
        let file = fs::File::from(self.open_fd(path, o, mode)?);
        if file.metadata()?.is_dir() {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "is a directory",
            ));
        }
        Ok(file)
    }

    fn read(&mut self, file: &mut fs::File, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        let mut buf = vec![0; len as usize];
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf, offset)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn write(&mut self, file: &mut fs::File, offset: u64, data: &[u8]) -> FsResult<()> {
        std::os::unix::fs::FileExt::write_all_at(file, data, offset)?;
        Ok(())
    }

    fn fstat(&mut self, file: &mut fs::File) -> FsResult<FileAttributes> {
        fstat(&*file)
    }

    fn fsetstat(&mut self, file: &mut fs::File, attrs: &FileAttributes) -> FsResult<()> {
        apply_to_file(file, attrs)
    }

    fn fsync(&mut self, file: &mut fs::File) -> FsResult<()> {
        Ok(file.sync_all()?)
    }

    fn opendir(&mut self, path: &[u8]) -> FsResult<RootDir> {
        let fd = self.open_fd(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        let entries = rustix::fs::Dir::new(fd.try_clone()?).map_err(io::Error::from)?;
        Ok(RootDir { entries, fd })
    }

    fn readdir(&mut self, dir: &mut RootDir) -> FsResult<Vec<NameEntry>> {
        let mut out = Vec::new();
        while let Some(entry) = dir.entries.read() {
            let entry = entry.map_err(io::Error::from)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            // An entry removed meanwhile is left out.
            let Ok(st) = rustix::fs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            out.push(NameEntry {
                filename: name.to_vec(),
                longname: Vec::new(),
                attrs: attrs_of(&st),
            });
            if out.len() == READDIR_BATCH {
                break;
            }
        }
        Ok(out)
    }

    fn stat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        fstat(self.open_fd(path, LOOK, Mode::empty())?)
    }

    fn lstat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        let (dir, name) = self.parent(path)?;
        match name {
            Some(name) => Ok(attrs_of(
                &rustix::fs::statat(&dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io::Error::from)?,
            )),
            None => fstat(dir),
        }
    }

    fn setstat(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        let fd = self.open_fd(path, setstat_flags(attrs), Mode::empty())?;
        apply_to_file(&fs::File::from(fd), attrs)
    }

    fn lsetstat(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        let (dir, name) = self.parent(path)?;
        let fd = match name {
            // O_NOFOLLOW: a symlink (whose own mode and times cannot be
            // set portably) is refused, not followed.
            Some(name) => {
                let st = rustix::fs::statat(&dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io::Error::from)?;
                if rustix::fs::FileType::from_raw_mode(st.st_mode).is_symlink() {
                    return Err(StatusError::new(StatusCode::OpUnsupported));
                }
                rustix::fs::openat(
                    &dir,
                    name.as_slice(),
                    setstat_flags(attrs) | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| status(e.into()))?
            }
            None => dir,
        };
        apply_to_file(&fs::File::from(fd), attrs)
    }

    fn remove(&mut self, path: &[u8]) -> FsResult<()> {
        let (dir, name) = self.parent(path)?;
        let name = named(name, StatusCode::Failure)?;
        rustix::fs::unlinkat(&dir, name.as_slice(), AtFlags::empty()).map_err(|e| status(e.into()))
    }

    fn mkdir(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        let (dir, name) = self.parent(path)?;
        let name = named(name, StatusCode::Failure)?;
        let mode = Mode::from_raw_mode((attrs.permissions.unwrap_or(0o777) & 0o7777) as _);
        rustix::fs::mkdirat(&dir, name.as_slice(), mode).map_err(|e| status(e.into()))
    }

    fn rmdir(&mut self, path: &[u8]) -> FsResult<()> {
        let (dir, name) = self.parent(path)?;
        let name = named(name, StatusCode::PermissionDenied)?;
        rustix::fs::unlinkat(&dir, name.as_slice(), AtFlags::REMOVEDIR)
            .map_err(|e| status(e.into()))
    }

    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let components = self.beneath.realpath(&self.rel(path)?).map_err(status)?;
        let mut out = Vec::new();
        for c in &components {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        let from_name = named(from_name, StatusCode::Failure)?;
        let to_name = named(to_name, StatusCode::Failure)?;
        // Version 3's RENAME does not replace (draft section 6.5).
        if rustix::fs::statat(&to_dir, to_name.as_slice(), AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "target exists",
            ));
        }
        rustix::fs::renameat(&from_dir, from_name.as_slice(), &to_dir, to_name.as_slice())
            .map_err(|e| status(e.into()))
    }

    fn posix_rename(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        let from_name = named(from_name, StatusCode::Failure)?;
        let to_name = named(to_name, StatusCode::Failure)?;
        rustix::fs::renameat(&from_dir, from_name.as_slice(), &to_dir, to_name.as_slice())
            .map_err(|e| status(e.into()))
    }

    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let (dir, name) = self.parent(path)?;
        let name = named(name, StatusCode::Failure)?;
        let target = rustix::fs::readlinkat(&dir, name.as_slice(), Vec::new())
            .map_err(|e| status(e.into()))?;
        Ok(target.into_bytes())
    }

    fn symlink(&mut self, target: &[u8], link: &[u8]) -> FsResult<()> {
        if target.contains(&0) {
            return Err(bad("NUL in path"));
        }
        let (dir, name) = self.parent(link)?;
        let name = named(name, StatusCode::Failure)?;
        // The target is stored as given: one leading out of the root can
        // be made but is refused when followed.
        rustix::fs::symlinkat(os(target), &dir, name.as_slice()).map_err(|e| status(e.into()))
    }

    fn hardlink(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        let (from_dir, from_name) = self.parent(from)?;
        let (to_dir, to_name) = self.parent(to)?;
        let from_name = named(from_name, StatusCode::Failure)?;
        let to_name = named(to_name, StatusCode::Failure)?;
        // No AT_SYMLINK_FOLLOW: a symlink is linked as itself, so no
        // target outside the root is reached.
        rustix::fs::linkat(
            &from_dir,
            from_name.as_slice(),
            &to_dir,
            to_name.as_slice(),
            AtFlags::empty(),
        )
        .map_err(|e| status(e.into()))
    }

    fn statvfs(&mut self, path: &[u8]) -> FsResult<StatVfs> {
        let fd = self.open_fd(path, LOOK, Mode::empty())?;
        let s = rustix::fs::fstatvfs(fd).map_err(io::Error::from)?;
        Ok(StatVfs {
            bsize: s.f_bsize,
            frsize: s.f_frsize,
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
            favail: s.f_favail,
            fsid: s.f_fsid,
            flag: s.f_flag.bits(),
            namemax: s.f_namemax,
        })
    }

    fn home_directory(&mut self, user: &[u8]) -> FsResult<Vec<u8>> {
        if !user.is_empty() {
            // Only the session's own home lies inside the root.
            return Err(StatusError::new(StatusCode::NoSuchFile));
        }
        let mut out = Vec::new();
        for c in &self.home {
            out.push(b'/');
            out.extend_from_slice(c);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }

    fn users_groups(&mut self, uids: &[u32], gids: &[u32]) -> FsResult<UsersGroups> {
        Ok(UsersGroups {
            users: names_from("/etc/passwd", uids),
            groups: names_from("/etc/group", gids),
        })
    }
}
