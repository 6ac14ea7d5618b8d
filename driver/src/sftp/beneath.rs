//! Paths opened beneath one directory, with the kernel keeping every
//! lookup inside it, so a local user who swaps a directory for a symlink
//! while the server works cannot lead it outside (a check-then-open by
//! path would be a race).
//!
//! Everything starts from a directory fd of the root. On Linux,
//! `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` resolves a
//! whole path, symlinks included, and fails with `EXDEV` where it would
//! leave the root (an absolute symlink, a `..` above the root). Elsewhere,
//! and on kernels before 5.6 (`ENOSYS`), the path is walked one component
//! at a time with `openat(O_NOFOLLOW | O_DIRECTORY)` from the fd reached
//! so far, and each symlink met is read (`readlinkat`) and its target
//! walked the same way under the same rules: nothing is ever looked up by
//! a path that could cross a symlink the walk has not checked.
//!
//! Calls that act on a name itself (remove, rename, readlink, lstat, ...)
//! take the parent directory opened this way and use the `*at` call on
//! the last component, never following it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{openat, readlinkat, Mode, OFlags};

/// Symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// Times an `openat2` is retried when the kernel answers `EAGAIN` (a
/// rename elsewhere raced a `..` lookup; see openat2(2)).
#[cfg(any(target_os = "linux", target_os = "android"))]
const EAGAIN_RETRIES: usize = 16;

/// Flags for an fd only looked at (fstat, fstatvfs): `O_PATH` where it
/// exists, so a file without read permission can still be stat'ed;
/// otherwise a non-blocking read-only open (a FIFO must not block).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) const LOOK: OFlags = OFlags::PATH;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) const LOOK: OFlags = OFlags::RDONLY.union(OFlags::NONBLOCK);

/// The error for a path that leads outside the root.
pub(crate) fn outside() -> io::Error {
    io::Error::from(rustix::io::Errno::XDEV)
}

/// A path inside the root, as components: no `""`, `.` or `..` (the
/// client's `..` is taken lexically and stops at the root, as in a
/// chroot). Symlinks among the components are resolved by the lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RelPath(pub(crate) Vec<Vec<u8>>);

impl RelPath {
    /// `path` from `home` (a relative path) or from the root (absolute).
    pub(crate) fn new(home: &[Vec<u8>], path: &[u8]) -> Self {
        let mut out: Vec<Vec<u8>> = if path.starts_with(b"/") {
            Vec::new()
        } else {
            home.to_vec()
        };
        for c in path.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    out.pop();
                }
                _ => out.push(c.to_vec()),
            }
        }
        RelPath(out)
    }

    /// The components joined with `/`, `.` for the root itself.
    fn joined(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return b".".to_vec();
        }
        self.0.join(&b'/')
    }

    /// The parent's path and the last name (none for the root).
    fn split_last(&self) -> (RelPath, Option<&[u8]>) {
        match self.0.split_last() {
            Some((last, parent)) => (RelPath(parent.to_vec()), Some(last.as_slice())),
            None => (RelPath::default(), None),
        }
    }
}

/// The root directory every lookup starts from.
#[derive(Debug)]
pub(crate) struct Beneath {
    root: OwnedFd,
}

/// A resolved path's directory and last name (`None`: the directory
/// itself), as the component walk ends.
struct Walked {
    dir: OwnedFd,
    name: Option<Vec<u8>>,
    /// The directory's path from the root (for realpath).
    names: Vec<Vec<u8>>,
}

fn is_symlink_err(e: rustix::io::Errno) -> bool {
    // O_NOFOLLOW on a symlink: ELOOP on Linux, EMLINK on FreeBSD, EFTYPE
    // on NetBSD; with O_DIRECTORY some systems say ENOTDIR. The
    // readlinkat that follows tells for sure.
    e != rustix::io::Errno::NOENT && e != rustix::io::Errno::ACCESS
}

impl Beneath {
    /// Opens the root directory (the caller has checked it is one).
    pub(crate) fn new(root: &std::path::Path) -> io::Result<Self> {
        let root = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Beneath { root })
    }

    /// A second fd of the root directory.
    pub(crate) fn root_fd(&self) -> io::Result<OwnedFd> {
        self.root.try_clone()
    }

    /// Opens `path`, following symlinks beneath the root (and the last
    /// component too unless `flags` has `O_NOFOLLOW`/`O_EXCL`), with
    /// `O_CLOEXEC` added.
    pub(crate) fn open(&self, path: &RelPath, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC;
        // openat2 refuses a mode without O_CREAT (EINVAL), unlike openat.
        let mode = if flags.contains(OFlags::CREATE) {
            mode
        } else {
            Mode::empty()
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        match self.openat2(&path.joined(), flags, mode) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOSYS.raw_os_error()) => {}
            other => return other,
        }
        self.open_walking(path, flags, mode)
    }

    /// [`Beneath::open`] without `openat2`: the component walk, then the
    /// last name opened with `O_NOFOLLOW` from its directory.
    fn open_walking(&self, path: &RelPath, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let follow = !flags.contains(OFlags::NOFOLLOW) && !flags.contains(OFlags::EXCL);
        let walked = self.walk(path, follow)?;
        match walked.name {
            // The walk checked the last name is no symlink; O_NOFOLLOW
            // fails (rather than follows) if one was swapped in since.
            Some(name) => Ok(openat(
                &walked.dir,
                name.as_slice(),
                flags | OFlags::NOFOLLOW,
                mode,
            )?),
            None => Ok(openat(&walked.dir, ".", flags, mode)?),
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn openat2(&self, path: &[u8], flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        use rustix::fs::ResolveFlags;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(&self.root, path, flags, mode, resolve) {
                Err(rustix::io::Errno::AGAIN) if tries < EAGAIN_RETRIES => tries += 1,
                other => return Ok(other?),
            }
        }
    }

    /// The parent directory of `path` (opened beneath the root, its
    /// symlinks followed inside it) and the last name, not followed.
    /// `None` as the name: `path` is the root itself.
    pub(crate) fn parent(&self, path: &RelPath) -> io::Result<(OwnedFd, Option<Vec<u8>>)> {
        let (parent, last) = path.split_last();
        let Some(last) = last else {
            return Ok((self.root_fd()?, None));
        };
        let dir = self.open(&parent, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok((dir, Some(last.to_vec())))
    }

    /// The canonical path of `path` from the root: symlinks resolved
    /// (beneath the root), a missing last component kept as named.
    pub(crate) fn realpath(&self, path: &RelPath) -> io::Result<Vec<Vec<u8>>> {
        let walked = self.walk(path, true)?;
        let mut names = walked.names;
        names.extend(walked.name);
        Ok(names)
    }

    /// Walks `path` one component at a time from the root: every
    /// directory opened with `O_NOFOLLOW` relative to the one before, each
    /// symlink read and its target walked in its place (a `..` goes back
    /// to the directory held before, never above the root; an absolute
    /// target is refused, as `RESOLVE_BENEATH` does). The last name is
    /// followed when `follow_last`.
    fn walk(&self, path: &RelPath, follow_last: bool) -> io::Result<Walked> {
        // Directories entered (fd and name), the root below them.
        let mut stack: Vec<(OwnedFd, Vec<u8>)> = Vec::new();
        // Components still to walk, in reverse (the next is last).
        let mut todo: Vec<Vec<u8>> = path.0.iter().rev().cloned().collect();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match c.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if stack.pop().is_none() {
                        return Err(outside());
                    }
                    continue;
                }
                _ => {}
            }
            let cur: BorrowedFd<'_> = stack.last().map_or(self.root.as_fd(), |(fd, _)| fd.as_fd());
            let is_last = todo.iter().all(|c| c.is_empty() || c == b".");
            if is_last {
                if follow_last {
                    if let Ok(target) = readlinkat(cur, c.as_slice(), Vec::new()) {
                        links += 1;
                        splice(&mut todo, target.as_bytes(), links)?;
                        continue;
                    }
                }
                return self.finish(stack, Some(c));
            }
            match openat(
                cur,
                c.as_slice(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => stack.push((fd, c)),
                Err(e) if is_symlink_err(e) => {
                    let Ok(target) = readlinkat(cur, c.as_slice(), Vec::new()) else {
                        return Err(e.into());
                    };
                    links += 1;
                    splice(&mut todo, target.as_bytes(), links)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        // The path named a directory (or was the root).
        self.finish(stack, None)
    }

    /// The walk's result: the innermost directory entered (the root if
    /// none) with its path, and the last name.
    fn finish(&self, stack: Vec<(OwnedFd, Vec<u8>)>, name: Option<Vec<u8>>) -> io::Result<Walked> {
        let mut names = Vec::with_capacity(stack.len());
        let mut dir = None;
        for (fd, n) in stack {
            names.push(n);
            dir = Some(fd);
        }
        let dir = match dir {
            Some(fd) => fd,
            None => self.root_fd()?,
        };
        Ok(Walked { dir, name, names })
    }
}

/// Puts a symlink's target in place of the link among the components to
/// walk; refuses an absolute target and a loop.
fn splice(todo: &mut Vec<Vec<u8>>, target: &[u8], links: usize) -> io::Result<()> {
    if links > MAX_SYMLINKS {
        return Err(io::Error::from(rustix::io::Errno::LOOP));
    }
    if target.starts_with(b"/") {
        return Err(outside());
    }
    todo.extend(target.split(|b| *b == b'/').rev().map(<[u8]>::to_vec));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_paths_become_components_inside_the_root() {
        let home = vec![b"home".to_vec(), b"alice".to_vec()];
        let p = |s: &str| RelPath::new(&home, s.as_bytes()).0;
        assert_eq!(
            p("/a//b/./c"),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            p("x"),
            vec![b"home".to_vec(), b"alice".to_vec(), b"x".to_vec()]
        );
        assert_eq!(p("../../../.."), Vec::<Vec<u8>>::new());
        assert_eq!(p("/../etc"), vec![b"etc".to_vec()]);
    }

    #[test]
    fn the_fallback_walk_stays_beneath_the_root() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(outer.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink("d/e", root.join("in")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("d/e/up3")).unwrap();
        std::os::unix::fs::symlink("../..", root.join("d/e/up2")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let b = Beneath::new(&root).unwrap();
        let rel = |s: &str| RelPath::new(&[], s.as_bytes());
        let names = |v: Vec<Vec<u8>>| {
            v.iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("/")
        };
        assert_eq!(names(b.realpath(&rel("in")).unwrap()), "d/e");
        assert_eq!(names(b.realpath(&rel("in/up2/d")).unwrap()), "d");
        assert_eq!(names(b.realpath(&rel("in/new")).unwrap()), "d/e/new");
        let kind = |s: &str| {
            b.walk(&rel(s), true)
                .map(|_| ())
                .unwrap_err()
                .raw_os_error()
        };
        assert_eq!(
            kind("in/up3/secret"),
            Some(rustix::io::Errno::XDEV.raw_os_error())
        );
        assert_eq!(kind("in/up3"), Some(rustix::io::Errno::XDEV.raw_os_error()));
        assert_eq!(
            kind("abs/passwd"),
            Some(rustix::io::Errno::XDEV.raw_os_error())
        );
        assert_eq!(kind("loop"), Some(rustix::io::Errno::LOOP.raw_os_error()));
        // Opening by the walk: a file through an inside symlink, never one
        // through a link leading out, even a relative one.
        std::fs::write(root.join("d/e/f"), b"f").unwrap();
        std::os::unix::fs::symlink("../../../secret", root.join("d/e/s")).unwrap();
        let open = |s: &str, flags| b.open_walking(&rel(s), flags, Mode::from_raw_mode(0o600));
        let f = open("in/f", OFlags::RDONLY).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(f), &mut text).unwrap();
        assert_eq!(text, "f");
        for path in ["in/s", "d/e/s", "in/up3/secret", "abs/passwd"] {
            let e = open(path, OFlags::RDONLY).unwrap_err();
            assert_eq!(
                e.raw_os_error(),
                Some(rustix::io::Errno::XDEV.raw_os_error()),
                "{path}"
            );
            let e = open(path, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC).unwrap_err();
            assert_eq!(
                e.raw_os_error(),
                Some(rustix::io::Errno::XDEV.raw_os_error()),
                "{path}"
            );
        }
        // O_NOFOLLOW on the last name: the symlink itself is not opened.
        assert!(open("d/e/s", OFlags::RDONLY | OFlags::NOFOLLOW).is_err());
        assert_eq!(std::fs::read(outer.path().join("secret")).unwrap(), b"s");
        // The last name is kept, not opened, when it is no symlink.
        let w = b.walk(&rel("in/up2/d/e"), true).unwrap();
        assert_eq!(w.name.as_deref(), Some(&b"e"[..]));
        assert_eq!(names(w.names), "d");
    }
}
