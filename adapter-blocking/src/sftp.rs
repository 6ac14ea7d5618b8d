//! SFTP without a runtime: the driver's client ([`conch_driver::sftp`])
//! with each call waiting on the calling thread, files as `std::io`
//! `Read`/`Write`/`Seek`, listings as iterators.

use std::io::{self, SeekFrom};
use std::path::Path;

use conch_driver::block_on::block_on;
use futures_util::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[cfg(unix)]
pub use conch_driver::sftp::RootFs;
pub use conch_driver::sftp::{
    conch_sftp, serve, serve_blocking, DirEntry, FileAttributes, FileType, Limits, OpenFlags,
    Progress, ProgressFn, ProtocolError, Result, SftpError, Skipped, StatVfs, StatusCode,
    StatusError, TransferOptions, TransferStats, TreeStats, UnsafeName,
};

/// A blocking SFTP session (the calls of [`conch_driver::sftp::Sftp`],
/// each waiting on the calling thread). Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Sftp {
    inner: conch_driver::sftp::Sftp,
}

impl Sftp {
    /// The runtime-agnostic session underneath.
    pub fn driver(&self) -> &conch_driver::sftp::Sftp {
        &self.inner
    }

    /// The read and write sizes in use.
    pub fn limits(&self) -> Limits {
        self.inner.limits()
    }

    /// Whether the server offers extension `name`.
    pub fn supports(&self, name: &str) -> bool {
        self.inner.supports(name)
    }

    /// Attributes, following symlinks.
    pub fn stat(&self, path: &str) -> Result<FileAttributes> {
        block_on(self.inner.stat(path))
    }

    /// Attributes of the path itself.
    pub fn lstat(&self, path: &str) -> Result<FileAttributes> {
        block_on(self.inner.lstat(path))
    }

    /// Sets attributes.
    pub fn setstat(&self, path: &str, attrs: FileAttributes) -> Result<()> {
        block_on(self.inner.setstat(path, attrs))
    }

    /// Changes permission bits.
    pub fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        block_on(self.inner.chmod(path, mode))
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &str, mode: u32) -> Result<()> {
        block_on(self.inner.mkdir(path, mode))
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, path: &str) -> Result<()> {
        block_on(self.inner.rmdir(path))
    }

    /// Removes a file.
    pub fn remove(&self, path: &str) -> Result<()> {
        block_on(self.inner.remove(path))
    }

    /// Renames (replacing the target when the server offers posix-rename).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        block_on(self.inner.rename(from, to))
    }

    /// Creates the symlink `link` pointing at `target`.
    pub fn symlink(&self, target: &str, link: &str) -> Result<()> {
        block_on(self.inner.symlink(target, link))
    }

    /// What a symlink points to.
    pub fn readlink(&self, path: &str) -> Result<String> {
        block_on(self.inner.readlink(path))
    }

    /// The canonical absolute path.
    pub fn realpath(&self, path: &str) -> Result<String> {
        block_on(self.inner.realpath(path))
    }

    /// Creates a hard link.
    pub fn hardlink(&self, from: &str, to: &str) -> Result<()> {
        block_on(self.inner.hardlink(from, to))
    }

    /// File system statistics.
    pub fn statvfs(&self, path: &str) -> Result<StatVfs> {
        block_on(self.inner.statvfs(path))
    }

    /// Opens a file for reading.
    pub fn open(&self, path: &str) -> Result<File> {
        block_on(self.inner.open(path)).map(|inner| File { inner })
    }

    /// Creates (or truncates) a file for writing.
    pub fn create(&self, path: &str) -> Result<File> {
        block_on(self.inner.create(path)).map(|inner| File { inner })
    }

    /// Opens a file with `flags`.
    pub fn open_with(&self, path: &str, flags: OpenFlags, attrs: FileAttributes) -> Result<File> {
        block_on(self.inner.open_with(path, flags, attrs)).map(|inner| File { inner })
    }

    /// Lists a directory as an iterator of entries.
    pub fn read_dir(&self, path: &str) -> Result<ReadDir> {
        block_on(self.inner.read_dir(path)).map(|inner| ReadDir { inner })
    }

    /// Lists a directory, without `.` and `..`, sorted by name.
    pub fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        block_on(self.inner.list_dir(path))
    }

    /// Downloads a file (see [`conch_driver::sftp::Sftp::download`]).
    pub fn download(
        &self,
        remote: &str,
        local: &Path,
        opts: &TransferOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<TransferStats> {
        block_on(self.inner.download(remote, local, opts, progress))
    }

    /// Uploads a file.
    pub fn upload(
        &self,
        local: &Path,
        remote: &str,
        opts: &TransferOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<TransferStats> {
        block_on(self.inner.upload(local, remote, opts, progress))
    }

    /// Downloads a directory tree.
    pub fn download_tree(
        &self,
        remote: &str,
        local: &Path,
        opts: &TransferOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<TreeStats> {
        block_on(self.inner.download_tree(remote, local, opts, progress))
    }

    /// Uploads a directory tree.
    pub fn upload_tree(
        &self,
        local: &Path,
        remote: &str,
        opts: &TransferOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<TreeStats> {
        block_on(self.inner.upload_tree(local, remote, opts, progress))
    }

    /// Ends the session.
    pub fn close(self) -> Result<()> {
        block_on(self.inner.close())
    }
}

/// A remote file with `std::io::Read`, `Write` and `Seek` (see
/// [`conch_driver::sftp::File`]: writes are sent behind, so `flush` before
/// relying on them; [`File::close`] reports the last failures).
#[derive(Debug)]
pub struct File {
    inner: conch_driver::sftp::File,
}

impl File {
    /// The file's attributes.
    pub fn metadata(&self) -> Result<FileAttributes> {
        block_on(self.inner.metadata())
    }

    /// Sets the file's attributes.
    pub fn set_metadata(&self, attrs: FileAttributes) -> Result<()> {
        block_on(self.inner.set_metadata(attrs))
    }

    /// Truncates or extends the file.
    pub fn set_len(&mut self, size: u64) -> Result<()> {
        block_on(self.inner.set_len(size))
    }

    /// Flushes writes and asks the server to fsync.
    pub fn sync_all(&mut self) -> Result<()> {
        block_on(self.inner.sync_all())
    }

    /// Waits for the writes in flight and closes the handle.
    pub fn close(self) -> Result<()> {
        block_on(self.inner.close())
    }
}

impl io::Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        block_on(self.inner.read(buf))
    }
}

impl io::Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        block_on(self.inner.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        block_on(self.inner.flush())
    }
}

impl io::Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        block_on(self.inner.seek(pos))
    }
}

/// A directory listing as an iterator.
#[derive(Debug)]
pub struct ReadDir {
    inner: conch_driver::sftp::ReadDir,
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.inner.next_entry())
    }
}

impl crate::Session {
    /// Opens an SFTP session over a new session channel.
    pub fn sftp(&self) -> Result<Sftp> {
        block_on(self.driver().sftp()).map(|inner| Sftp { inner })
    }
}
