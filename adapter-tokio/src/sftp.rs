//! SFTP on tokio: the driver's client ([`conch_driver::sftp`]) with files
//! as tokio `AsyncRead`/`AsyncWrite`/`AsyncSeek` streams. Everything else
//! (listings, transfers, the server) is the driver's, re-exported here.

use std::io::{self, SeekFrom};
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

#[cfg(unix)]
pub use conch_driver::sftp::RootFs;
pub use conch_driver::sftp::{
    conch_sftp, serve, serve_blocking, DirEntry, FileAttributes, FileType, Limits, OpenFlags,
    Progress, ProgressFn, ProtocolError, ReadDir, Result, SftpError, Skipped, StatVfs, StatusCode,
    StatusError, TransferOptions, TransferStats, TreeStats, UnsafeName,
};

/// An SFTP session on tokio: the driver's [`conch_driver::sftp::Sftp`]
/// (reachable through `Deref` for every call but opening files), whose
/// files are tokio streams.
#[derive(Debug, Clone)]
pub struct Sftp {
    inner: conch_driver::sftp::Sftp,
}

impl Deref for Sftp {
    type Target = conch_driver::sftp::Sftp;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Sftp {
    /// Wraps the driver's session.
    pub fn new(inner: conch_driver::sftp::Sftp) -> Self {
        Sftp { inner }
    }

    /// Opens a file for reading.
    pub async fn open(&self, path: &str) -> Result<File> {
        self.inner.open(path).await.map(File::new)
    }

    /// Creates (or truncates) a file for writing.
    pub async fn create(&self, path: &str) -> Result<File> {
        self.inner.create(path).await.map(File::new)
    }

    /// Opens a file with `flags`; `attrs` apply to a file it creates.
    pub async fn open_with(
        &self,
        path: &str,
        flags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<File> {
        self.inner
            .open_with(path, flags, attrs)
            .await
            .map(File::new)
    }

    /// The runtime-agnostic session underneath.
    pub fn into_inner(self) -> conch_driver::sftp::Sftp {
        self.inner
    }
}

/// A remote file as a tokio stream (see [`conch_driver::sftp::File`] for
/// its semantics, and its methods through `Deref`). `shutdown()` flushes
/// and closes the handle.
#[derive(Debug)]
pub struct File {
    inner: Compat<conch_driver::sftp::File>,
}

impl File {
    fn new(inner: conch_driver::sftp::File) -> Self {
        File {
            inner: inner.compat(),
        }
    }

    /// Waits for the writes in flight and closes the handle.
    pub async fn close(self) -> Result<()> {
        self.inner.into_inner().close().await
    }

    /// The runtime-agnostic file (a `futures-io` stream).
    pub fn into_inner(self) -> conch_driver::sftp::File {
        self.inner.into_inner()
    }
}

impl Deref for File {
    type Target = conch_driver::sftp::File;

    fn deref(&self) -> &Self::Target {
        self.inner.get_ref()
    }
}

impl DerefMut for File {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.inner.get_mut()
    }
}

impl AsyncRead for File {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.inner).start_seek(position)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.inner).poll_complete(cx)
    }
}

impl crate::Session {
    /// Opens an SFTP session over a new session channel (the `sftp`
    /// subsystem).
    pub async fn sftp(&self) -> Result<Sftp> {
        self.driver().sftp().await.map(Sftp::new)
    }
}
