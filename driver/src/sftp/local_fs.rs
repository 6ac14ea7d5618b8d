//! [`RootFs`]: the server's file system over one local directory, seen by
//! the client as `/` (as sshd's `ChrootDirectory` with `internal-sftp`
//! shows it, without needing root). Every path is resolved here, one
//! component at a time: `..` stops at the root, and each symlink met on
//! the way is read and its target resolved the same way (an absolute
//! target from the root), so neither can lead outside. Files are then
//! opened by the resolved path; a local user racing to swap a checked
//! directory for a symlink between the check and the use is not defended
//! against (a chroot or `openat2(RESOLVE_BENEATH)` would be).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use conch_sftp::ext::{StatVfs, UsersGroups};
use conch_sftp::packet::NameEntry;
use conch_sftp::server::{FileSystem, FsResult};
use conch_sftp::{FileAttributes, OpenFlags, StatusCode, StatusError};

/// Symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// Entries returned per READDIR.
const READDIR_BATCH: usize = 128;

/// A local directory served as the client's `/`.
#[derive(Debug, Clone)]
pub struct RootFs {
    root: PathBuf,
    /// Where relative paths start (the client's `.`), as components.
    home: Vec<Vec<u8>>,
}

/// An open directory of a [`RootFs`].
#[derive(Debug)]
pub struct RootDir {
    entries: fs::ReadDir,
}

fn bad(message: &str) -> StatusError {
    StatusError::with_message(StatusCode::BadMessage, message)
}

#[cfg(unix)]
fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

#[cfg(unix)]
fn bytes_of(s: &std::ffi::OsStr) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(s).to_vec()
}

#[cfg(not(unix))]
fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(std::str::from_utf8(bytes).unwrap_or("\u{fffd}"))
}

#[cfg(not(unix))]
fn bytes_of(s: &std::ffi::OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

impl RootFs {
    /// Serves `root` (which must exist; it is canonicalized once here).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "SFTP root is not a directory",
            ));
        }
        Ok(RootFs {
            root,
            home: Vec::new(),
        })
    }

    /// Starts relative paths at `home` (a path inside the root, e.g.
    /// `/home/alice`), instead of `/`.
    pub fn with_home(mut self, home: &str) -> Self {
        self.home = home
            .split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .map(|c| c.as_bytes().to_vec())
            .collect();
        self
    }

    /// The local directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn real(&self, components: &[Vec<u8>]) -> PathBuf {
        let mut p = self.root.clone();
        for c in components {
            p.push(os(c));
        }
        p
    }

    /// Resolves a client path to its components under the root. Symlinks
    /// are followed on the way, and at the end when `follow_last`.
    fn resolve(&self, path: &[u8], follow_last: bool) -> FsResult<Vec<Vec<u8>>> {
        if path.contains(&0) {
            return Err(bad("NUL in path"));
        }
        let mut done: Vec<Vec<u8>> = if path.starts_with(b"/") {
            Vec::new()
        } else {
            self.home.clone()
        };
        // Components still to walk, in reverse (the next is last).
        let mut todo: Vec<Vec<u8>> = path
            .split(|b| *b == b'/')
            .rev()
            .map(<[u8]>::to_vec)
            .collect();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match c.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    done.pop();
                    continue;
                }
                _ => {}
            }
            done.push(c);
            let is_last = todo.iter().all(|c| c.is_empty() || c == b".");
            if is_last && !follow_last {
                break;
            }
            let real = self.real(&done);
            let Ok(meta) = fs::symlink_metadata(&real) else {
                // Missing: nothing to follow (a file about to be created).
                continue;
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(StatusError::with_message(
                    StatusCode::Failure,
                    "too many levels of symbolic links",
                ));
            }
            let target = bytes_of(fs::read_link(&real)?.as_os_str());
            done.pop();
            if target.starts_with(b"/") {
                done.clear();
            }
            todo.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
        }
        Ok(done)
    }

    fn path(&self, path: &[u8], follow_last: bool) -> FsResult<PathBuf> {
        Ok(self.real(&self.resolve(path, follow_last)?))
    }
}

fn secs(t: io::Result<SystemTime>) -> u32 {
    t.ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// A file's metadata as SFTP attributes.
pub(crate) fn attrs_of(meta: &fs::Metadata) -> FileAttributes {
    #[cfg(unix)]
    let (uid_gid, permissions) = {
        use std::os::unix::fs::MetadataExt;
        (Some((meta.uid(), meta.gid())), Some(meta.mode()))
    };
    #[cfg(not(unix))]
    let (uid_gid, permissions) = {
        let ty = if meta.is_dir() {
            conch_sftp::attrs::S_IFDIR | 0o755
        } else {
            conch_sftp::attrs::S_IFREG | 0o644
        };
        (None, Some(ty))
    };
    FileAttributes {
        size: Some(meta.len()),
        uid_gid,
        permissions,
        atime_mtime: Some((secs(meta.accessed()), secs(meta.modified()))),
        extended: Vec::new(),
    }
}

/// Applies attributes to an open file (size, owner, mode, times).
fn apply_to_file(file: &fs::File, attrs: &FileAttributes) -> FsResult<()> {
    if let Some(size) = attrs.size {
        file.set_len(size)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = attrs.uid_gid {
            std::os::unix::fs::fchown(file, Some(uid), Some(gid))?;
        }
        if let Some(mode) = attrs.permissions {
            file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
        }
    }
    if let Some((a, m)) = attrs.atime_mtime {
        let t = |s: u32| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(s));
        file.set_times(fs::FileTimes::new().set_accessed(t(a)).set_modified(t(m)))?;
    }
    Ok(())
}

fn apply_to_path(path: &Path, attrs: &FileAttributes) -> FsResult<()> {
    // Opened for writing only when the size changes (a directory cannot
    // be; a read-only handle sets modes and times as the owner).
    let file = if attrs.size.is_some() {
        fs::OpenOptions::new().write(true).open(path)?
    } else {
        fs::File::open(path)?
    };
    apply_to_file(&file, attrs)
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
        let mut o = fs::OpenOptions::new();
        let write = flags.contains(OpenFlags::WRITE) || flags.contains(OpenFlags::APPEND);
        o.read(flags.contains(OpenFlags::READ) || !write)
            .write(write)
            .append(flags.contains(OpenFlags::APPEND));
        if flags.contains(OpenFlags::CREATE) {
            if flags.contains(OpenFlags::EXCLUSIVE) {
                o.create_new(true);
            } else {
                o.create(true);
            }
        }
        o.truncate(flags.contains(OpenFlags::TRUNCATE));
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(attrs.permissions.unwrap_or(0o666) & 0o7777);
        }
        #[cfg(not(unix))]
        let _ = attrs;
        let file = o.open(self.path(path, true)?)?;
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
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf, offset)?;
        #[cfg(not(unix))]
        let n = {
            use std::io::{Read, Seek};
            file.seek(io::SeekFrom::Start(offset))?;
            file.read(&mut buf)?
        };
        buf.truncate(n);
        Ok(buf)
    }

    fn write(&mut self, file: &mut fs::File, offset: u64, data: &[u8]) -> FsResult<()> {
        #[cfg(unix)]
        std::os::unix::fs::FileExt::write_all_at(file, data, offset)?;
        #[cfg(not(unix))]
        {
            use std::io::{Seek, Write};
            file.seek(io::SeekFrom::Start(offset))?;
            file.write_all(data)?;
        }
        Ok(())
    }

    fn fstat(&mut self, file: &mut fs::File) -> FsResult<FileAttributes> {
        Ok(attrs_of(&file.metadata()?))
    }

    fn fsetstat(&mut self, file: &mut fs::File, attrs: &FileAttributes) -> FsResult<()> {
        apply_to_file(file, attrs)
    }

    fn fsync(&mut self, file: &mut fs::File) -> FsResult<()> {
        Ok(file.sync_all()?)
    }

    fn opendir(&mut self, path: &[u8]) -> FsResult<RootDir> {
        Ok(RootDir {
            entries: fs::read_dir(self.path(path, true)?)?,
        })
    }

    fn readdir(&mut self, dir: &mut RootDir) -> FsResult<Vec<NameEntry>> {
        let mut out = Vec::new();
        for entry in dir.entries.by_ref() {
            let entry = entry?;
            // An entry removed meanwhile is left out.
            let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                continue;
            };
            out.push(NameEntry {
                filename: bytes_of(&entry.file_name()),
                longname: Vec::new(),
                attrs: attrs_of(&meta),
            });
            if out.len() == READDIR_BATCH {
                break;
            }
        }
        Ok(out)
    }

    fn stat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        Ok(attrs_of(&fs::metadata(self.path(path, true)?)?))
    }

    fn lstat(&mut self, path: &[u8]) -> FsResult<FileAttributes> {
        Ok(attrs_of(&fs::symlink_metadata(self.path(path, false)?)?))
    }

    fn setstat(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        apply_to_path(&self.path(path, true)?, attrs)
    }

    fn lsetstat(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        let p = self.path(path, false)?;
        if fs::symlink_metadata(&p)?.file_type().is_symlink() {
            // A symlink's own mode and times cannot be set portably.
            return Err(StatusError::new(StatusCode::OpUnsupported));
        }
        apply_to_path(&p, attrs)
    }

    fn remove(&mut self, path: &[u8]) -> FsResult<()> {
        Ok(fs::remove_file(self.path(path, false)?)?)
    }

    fn mkdir(&mut self, path: &[u8], attrs: &FileAttributes) -> FsResult<()> {
        let p = self.path(path, false)?;
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(attrs.permissions.unwrap_or(0o777) & 0o7777);
        }
        #[cfg(not(unix))]
        let _ = attrs;
        Ok(b.create(p)?)
    }

    fn rmdir(&mut self, path: &[u8]) -> FsResult<()> {
        let p = self.path(path, false)?;
        if p == self.root {
            return Err(StatusError::new(StatusCode::PermissionDenied));
        }
        Ok(fs::remove_dir(p)?)
    }

    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let components = self.resolve(path, true)?;
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
        let (from, to) = (self.path(from, false)?, self.path(to, false)?);
        // Version 3's RENAME does not replace (draft section 6.5).
        if fs::symlink_metadata(&to).is_ok() {
            return Err(StatusError::with_message(
                StatusCode::Failure,
                "target exists",
            ));
        }
        Ok(fs::rename(from, to)?)
    }

    fn posix_rename(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        Ok(fs::rename(self.path(from, false)?, self.path(to, false)?)?)
    }

    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        Ok(bytes_of(
            fs::read_link(self.path(path, false)?)?.as_os_str(),
        ))
    }

    fn symlink(&mut self, target: &[u8], link: &[u8]) -> FsResult<()> {
        let link = self.path(link, false)?;
        if target.contains(&0) {
            return Err(bad("NUL in path"));
        }
        #[cfg(unix)]
        {
            Ok(std::os::unix::fs::symlink(os(target), link)?)
        }
        #[cfg(not(unix))]
        {
            let _ = link;
            Err(StatusError::new(StatusCode::OpUnsupported))
        }
    }

    fn hardlink(&mut self, from: &[u8], to: &[u8]) -> FsResult<()> {
        Ok(fs::hard_link(
            self.path(from, false)?,
            self.path(to, false)?,
        )?)
    }

    #[cfg(unix)]
    fn statvfs(&mut self, path: &[u8]) -> FsResult<StatVfs> {
        let s = rustix::fs::statvfs(self.path(path, true)?).map_err(io::Error::from)?;
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
