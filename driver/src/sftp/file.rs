//! A remote file as a `futures-io` stream with seeking. Sequential reads
//! are read ahead: each reply that comes back whole doubles the number of
//! READs kept in flight past the position, up to [`READ_AHEAD`] of the
//! server's read size (so a reader with small buffers, such as an 8 KiB
//! copy loop, still moves data at the pipeline's pace); a seek, a write
//! or a short read starts over with one. Writes are sent behind: `write`
//! returns once the request is queued and up to [`WRITES_IN_FLIGHT`] of
//! them await their status at once, so sequential writing is not one
//! round trip per buffer. A failed write is reported by a later write,
//! `flush` or `close`; flush before relying on the data being there.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use conch_sftp::client::Reply;
use conch_sftp::packet::{Handle, Request};
use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};

use super::{ext, unexpected, FileAttributes, Result, Sftp, SftpError};

/// Writes awaiting their status at once, per file.
pub const WRITES_IN_FLIGHT: usize = 16;

/// Most READs in flight ahead of a sequential reader, per file (at most
/// this many times the server's read size buffered: 4 MiB with OpenSSH).
pub const READ_AHEAD: usize = 16;

/// An open remote file. Dropping it closes the handle (without waiting);
/// [`File::close`] closes it and reports the outcome.
#[derive(Debug)]
pub struct File {
    sftp: Sftp,
    handle: Handle,
    /// The position: where the next read or write goes.
    pos: u64,
    /// Data received at `pos` that the caller has not taken yet.
    leftover: Bytes,
    /// READs in flight (id, length), contiguous from `pos + leftover.len()`.
    ahead: VecDeque<(u32, u32)>,
    /// The offset after the last READ in flight.
    next_read: u64,
    /// READs to keep in flight now (1 to [`READ_AHEAD`]).
    depth: usize,
    /// The server said EOF for the next offset.
    eof: bool,
    /// Writes in flight, oldest first.
    writes: VecDeque<u32>,
    /// An FSTAT in flight for a seek from the end, with its offset.
    seek: Option<(u32, i64)>,
    /// The CLOSE in flight, once closing.
    closing: Option<u32>,
    closed: bool,
}

impl File {
    pub(crate) fn new(sftp: Sftp, handle: Handle) -> Self {
        File {
            sftp,
            handle,
            pos: 0,
            leftover: Bytes::new(),
            ahead: VecDeque::new(),
            next_read: 0,
            depth: 1,
            eof: false,
            writes: VecDeque::new(),
            seek: None,
            closing: None,
            closed: false,
        }
    }

    /// The current position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Forgets what was read ahead (before a write or seek, or after a
    /// short read or EOF).
    fn forget_ahead(&mut self) {
        for (id, _) in self.ahead.drain(..) {
            self.sftp.engine().forget(id);
        }
        self.depth = 1;
    }

    /// Forgets the read state (before a write or seek moves the position).
    fn drop_read(&mut self) {
        self.forget_ahead();
        self.leftover = Bytes::new();
        self.eof = false;
    }

    /// Waits for every write in flight; the first failure is returned.
    pub fn poll_flush_writes(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        while let Some(&id) = self.writes.front() {
            let r = ready!(self.sftp.engine().poll_reply(cx, id));
            self.writes.pop_front();
            match r {
                Ok(Reply::Ok) => {}
                Ok(other) => return Poll::Ready(Err(unexpected(other))),
                Err(e) => {
                    // The writes after a failed one are not waited for.
                    for id in self.writes.drain(..) {
                        self.sftp.engine().forget(id);
                    }
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_read_inner(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_flush_writes(cx))?;
        let max = u32::try_from(self.sftp.limits().max_read_length).unwrap_or(u32::MAX);
        loop {
            if !self.leftover.is_empty() {
                let n = buf.len().min(self.leftover.len());
                buf[..n].copy_from_slice(&self.leftover.split_to(n));
                self.pos += n as u64;
                return Poll::Ready(Ok(n));
            }
            if self.eof && self.ahead.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if self.ahead.is_empty() {
                self.next_read = self.pos;
            }
            while !self.eof && self.ahead.len() < self.depth {
                let len = if self.ahead.is_empty() && self.depth == 1 {
                    // The first READ: the caller's size, at least 64 KiB.
                    u32::try_from(buf.len().max(64 * 1024))
                        .unwrap_or(u32::MAX)
                        .min(max)
                } else {
                    max
                };
                let id = self.sftp.engine().send(&Request::Read {
                    handle: self.handle.clone(),
                    offset: self.next_read,
                    len,
                })?;
                self.ahead.push_back((id, len));
                self.next_read += u64::from(len);
            }
            let Some(&(id, len)) = self.ahead.front() else {
                return Poll::Ready(Ok(0));
            };
            let r = ready!(self.sftp.engine().poll_reply(cx, id));
            self.ahead.pop_front();
            match r? {
                Reply::Data(data) if data.len() > len as usize => {
                    self.forget_ahead();
                    return Poll::Ready(Err(SftpError::Invalid(format!(
                        "server sent {} bytes for a read of {len}",
                        data.len()
                    ))));
                }
                Reply::Data(data) => {
                    if data.is_empty() {
                        self.eof = true;
                    }
                    if data.len() < len as usize {
                        // What follows in flight no longer lines up.
                        self.forget_ahead();
                    } else {
                        self.depth = (self.depth * 2).min(READ_AHEAD);
                    }
                    self.leftover = data;
                }
                Reply::Eof => {
                    self.eof = true;
                    self.forget_ahead();
                }
                other => return Poll::Ready(Err(unexpected(other))),
            }
        }
    }

    fn poll_write_inner(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.drop_read();
        // Collect the statuses already in, so a failure shows at once.
        while let Some(&id) = self.writes.front() {
            if self.writes.len() < WRITES_IN_FLIGHT && !self.sftp.engine().has_reply(id) {
                break;
            }
            let r = ready!(self.sftp.engine().poll_reply(cx, id));
            self.writes.pop_front();
            match r {
                Ok(Reply::Ok) => {}
                Ok(other) => return Poll::Ready(Err(unexpected(other))),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let n = buf.len().min(self.sftp.limits().max_write_length as usize);
        let id = self.sftp.engine().send(&Request::Write {
            handle: self.handle.clone(),
            offset: self.pos,
            data: Bytes::copy_from_slice(&buf[..n]),
        })?;
        self.pos += n as u64;
        self.writes.push_back(id);
        self.sftp.engine().push(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_seek_inner(&mut self, cx: &mut Context<'_>, to: SeekFrom) -> Poll<Result<u64>> {
        ready!(self.poll_flush_writes(cx))?;
        let base = match to {
            SeekFrom::Start(n) => {
                self.drop_read();
                self.pos = n;
                return Poll::Ready(Ok(n));
            }
            SeekFrom::Current(d) => (self.pos, d),
            SeekFrom::End(d) => {
                let id = match self.seek {
                    Some((id, _)) => id,
                    None => {
                        let id = self.sftp.engine().send(&Request::Fstat {
                            handle: self.handle.clone(),
                        })?;
                        self.seek = Some((id, d));
                        id
                    }
                };
                let r = ready!(self.sftp.engine().poll_reply(cx, id));
                self.seek = None;
                match r? {
                    Reply::Attrs(a) => match a.size {
                        Some(size) => (size, d),
                        None => {
                            return Poll::Ready(Err(SftpError::Invalid(
                                "the server did not say the file's size".into(),
                            )))
                        }
                    },
                    other => return Poll::Ready(Err(unexpected(other))),
                }
            }
        };
        let Some(n) = base.0.checked_add_signed(base.1) else {
            return Poll::Ready(Err(SftpError::Invalid("seek before the start".into())));
        };
        self.drop_read();
        self.pos = n;
        Poll::Ready(Ok(n))
    }

    fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        let flushed = ready!(self.poll_flush_writes(cx));
        self.drop_read();
        let id = match self.closing {
            Some(id) => id,
            None => {
                let id = self.sftp.engine().send(&Request::Close {
                    handle: self.handle.clone(),
                })?;
                self.closing = Some(id);
                id
            }
        };
        let r = ready!(self.sftp.engine().poll_reply(cx, id));
        self.closing = None;
        self.closed = true;
        flushed?;
        match r? {
            Reply::Ok => Poll::Ready(Ok(())),
            other => Poll::Ready(Err(unexpected(other))),
        }
    }

    /// Waits for every write in flight (their failures included).
    pub async fn flush_writes(&mut self) -> Result<()> {
        poll_fn(|cx| self.poll_flush_writes(cx)).await
    }

    /// The file's attributes (SSH_FXP_FSTAT).
    pub async fn metadata(&self) -> Result<FileAttributes> {
        match self
            .sftp
            .engine()
            .call(&Request::Fstat {
                handle: self.handle.clone(),
            })
            .await?
        {
            Reply::Attrs(a) => Ok(a),
            other => Err(unexpected(other)),
        }
    }

    /// Sets the file's attributes (SSH_FXP_FSETSTAT).
    pub async fn set_metadata(&self, attrs: FileAttributes) -> Result<()> {
        let request = Request::Fsetstat {
            handle: self.handle.clone(),
            attrs,
        };
        match self.sftp.engine().call(&request).await? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Statistics of the file system holding the file
    /// (`fstatvfs@openssh.com`).
    pub async fn statvfs(&self) -> Result<super::StatVfs> {
        if !self.sftp.supports(ext::FSTATVFS) {
            return Err(SftpError::Unsupported(ext::FSTATVFS));
        }
        let request = Request::Fstatvfs {
            handle: self.handle.clone(),
        };
        match self.sftp.engine().call(&request).await? {
            Reply::StatVfs(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// Truncates or extends the file to `size` bytes.
    pub async fn set_len(&mut self, size: u64) -> Result<()> {
        self.flush_writes().await?;
        self.set_metadata(FileAttributes::with_size(size)).await
    }

    /// Waits for the writes in flight, then asks the server to put the
    /// file on stable storage (`fsync@openssh.com`).
    pub async fn sync_all(&mut self) -> Result<()> {
        self.flush_writes().await?;
        if !self.sftp.supports(ext::FSYNC) {
            return Err(SftpError::Unsupported(ext::FSYNC));
        }
        let request = Request::Fsync {
            handle: self.handle.clone(),
        };
        match self.sftp.engine().call(&request).await? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Copies `len` bytes (0: to the end) from this file at `from_offset`
    /// into `to` at `to_offset` on the server, without the data crossing
    /// the network (`copy-data`).
    pub async fn copy_to(
        &mut self,
        from_offset: u64,
        len: u64,
        to: &mut File,
        to_offset: u64,
    ) -> Result<()> {
        if !self.sftp.supports(ext::COPY_DATA) {
            return Err(SftpError::Unsupported(ext::COPY_DATA));
        }
        self.flush_writes().await?;
        to.flush_writes().await?;
        let request = Request::CopyData {
            from: self.handle.clone(),
            from_offset,
            len,
            to: to.handle.clone(),
            to_offset,
        };
        match self.sftp.engine().call(&request).await? {
            Reply::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Waits for the writes in flight and closes the handle; the first
    /// failure of either is returned.
    pub async fn close(mut self) -> Result<()> {
        poll_fn(|cx| self.poll_close_inner(cx)).await
    }

    /// Reads at `offset` without moving the position: at most `len` bytes,
    /// empty at the end of the file.
    pub async fn read_at(&self, offset: u64, len: u32) -> Result<Bytes> {
        let request = Request::Read {
            handle: self.handle.clone(),
            offset,
            len: len.min(self.sftp.limits().max_read_length as u32),
        };
        match self.sftp.engine().call(&request).await? {
            Reply::Data(d) => Ok(d),
            Reply::Eof => Ok(Bytes::new()),
            other => Err(unexpected(other)),
        }
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_inner(cx, buf).map_err(Into::into)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_inner(cx, buf).map_err(Into::into)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_writes(cx).map_err(Into::into)
    }

    /// Flushes and closes the handle; the file can no longer be used.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_inner(cx).map_err(Into::into)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        self.get_mut().poll_seek_inner(cx, pos).map_err(Into::into)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let engine = self.sftp.engine();
        for id in self
            .writes
            .drain(..)
            .chain(self.ahead.drain(..).map(|(id, _)| id))
            .chain(self.seek.take().map(|s| s.0))
        {
            engine.forget(id);
        }
        if let Some(id) = self.closing.take() {
            engine.forget(id);
            return;
        }
        engine.send_and_forget(&Request::Close {
            handle: std::mem::take(&mut self.handle),
        });
    }
}
