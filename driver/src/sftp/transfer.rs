//! Whole-file transfers with many requests in flight. A download keeps
//! `requests_in_flight` READs outstanding (each of the server's
//! `max-read-length` from `limits@openssh.com`, else 32 KiB) and writes
//! each reply at its offset as it comes, so memory is bounded by
//! `requests_in_flight × chunk` whatever the file's size; an upload keeps
//! as many WRITEs outstanding. Short reads are asked again for the rest
//! (draft-ietf-secsh-filexfer-02 section 6.4 lets a server return less).
//!
//! Local files are read and written with `std::fs` from the transfer's
//! task: page-cache writes, as a runtime's own file APIs would do on a
//! thread pool.

use std::collections::VecDeque;
use std::fs;
use std::future::poll_fn;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use conch_sftp::client::Reply;
use conch_sftp::packet::{Handle, Request};

use super::engine::Engine;
use super::{unexpected, File, FileAttributes, OpenFlags, Result, Sftp, SftpError};

/// How transfers run.
#[derive(Debug, Clone)]
pub struct TransferOptions {
    /// Requests outstanding at once (OpenSSH's sftp uses 64).
    pub requests_in_flight: usize,
    /// Bytes per request; `None`: the server's limits (or 32 KiB).
    pub chunk_size: Option<u32>,
    /// Continue a partial file: a download appends to what the local file
    /// holds, an upload to what the remote file holds (when shorter than
    /// the source; otherwise the whole file is sent again).
    pub resume: bool,
    /// Copy permissions and access/modification times.
    pub preserve: bool,
    /// Tree transfers: follow symlinks to regular files (copying the file
    /// they point to) instead of skipping them. Directories behind
    /// symlinks are always skipped, so a loop cannot recurse forever.
    pub follow_symlinks: bool,
    /// Tree transfers: the most entries one remote directory may list.
    pub max_entries: usize,
    /// Tree transfers: the deepest nesting followed.
    pub max_depth: usize,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            requests_in_flight: 64,
            chunk_size: None,
            resume: false,
            preserve: false,
            follow_symlinks: false,
            max_entries: 100_000,
            max_depth: 64,
        }
    }
}

/// Where a transfer stands, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The remote path of the file.
    pub path: &'a str,
    /// Bytes of the file now at the destination (a resumed part included).
    pub transferred: u64,
    /// The file's size, when known.
    pub total: Option<u64>,
}

/// A progress callback, called after each reply.
pub type ProgressFn<'a> = &'a mut (dyn FnMut(&Progress<'_>) + Send);

/// What a file transfer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Bytes moved by this transfer.
    pub bytes: u64,
    /// The size of the destination file afterwards.
    pub size: u64,
    /// Where the transfer started (non-zero when resumed).
    pub resumed_from: u64,
}

/// Requests in flight, forgotten if the transfer is dropped midway.
struct InFlight<'a> {
    engine: &'a Engine,
    queue: VecDeque<(u32, u64, u32)>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        for (id, _, _) in self.queue.drain(..) {
            self.engine.forget(id);
        }
    }
}

fn local_err(path: &Path) -> impl Fn(io::Error) -> SftpError + '_ {
    move |e| SftpError::local(path, e)
}

fn chunk_len(opts: &TransferOptions, limit: u64) -> u32 {
    let limit = limit.clamp(1, u64::from(u32::MAX));
    opts.chunk_size
        .map_or(limit, |c| u64::from(c).clamp(1, limit)) as u32
}

#[cfg(unix)]
fn write_at(file: &fs::File, offset: u64, data: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &fs::File, offset: u64, data: &[u8]) -> io::Result<()> {
    use std::io::{Seek, Write};
    file.seek(io::SeekFrom::Start(offset))?;
    file.write_all(data)
}

/// Opens the local file a download writes: with `O_NOFOLLOW` on Unix, so
/// a symlink planted where the file goes is not written through.
pub(crate) fn open_local_for_write(path: &Path, truncate: bool) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    o.open(path)
}

fn system_time(secs: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

/// Applies remote permissions and times to a downloaded file.
fn preserve_local(file: &fs::File, path: &Path, attrs: &FileAttributes) -> Result<()> {
    #[cfg(unix)]
    if let Some(mode) = attrs.permissions {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
            .map_err(local_err(path))?;
    }
    if let Some((atime, mtime)) = attrs.atime_mtime {
        let times = fs::FileTimes::new()
            .set_accessed(system_time(atime))
            .set_modified(system_time(mtime));
        file.set_times(times).map_err(local_err(path))?;
    }
    Ok(())
}

/// Local permissions and times as SFTP attributes.
pub(crate) fn local_attrs(meta: &fs::Metadata) -> FileAttributes {
    let secs = |t: io::Result<SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
    };
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = Some(if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    });
    FileAttributes {
        permissions: mode,
        atime_mtime: Some((secs(meta.accessed()), secs(meta.modified()))),
        ..Default::default()
    }
}

impl Sftp {
    /// Downloads the remote file `remote` to the local path `local`
    /// (created, or truncated unless resuming). See [`TransferOptions`].
    pub async fn download(
        &self,
        remote: &str,
        local: &Path,
        opts: &TransferOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<TransferStats> {
        let attrs = self.stat(remote).await?;
        if attrs.is_dir() {
            return Err(SftpError::Invalid(format!("{remote} is a directory")));
        }
        let remote_file = self.open(remote).await?;
        let start = if opts.resume {
            match fs::symlink_metadata(local) {
                Ok(m) if m.is_file() && attrs.size.is_some_and(|s| m.len() <= s) => m.len(),
                _ => 0,
            }
        } else {
            0
        };
        let lf = open_local_for_write(local, start == 0).map_err(local_err(local))?;
        let result = self
            .download_into(
                &remote_file,
                &lf,
                local,
                remote,
                start,
                attrs.size,
                opts,
                progress,
            )
            .await;
        let closed = remote_file.close().await;
        let stats = result?;
        closed?;
        if opts.preserve {
            preserve_local(&lf, local, &attrs)?;
        }
        Ok(stats)
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_into(
        &self,
        remote_file: &File,
        lf: &fs::File,
        local: &Path,
        remote: &str,
        start: u64,
        size: Option<u64>,
        opts: &TransferOptions,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<TransferStats> {
        let engine = self.engine().as_ref();
        let handle: &Handle = remote_file.handle();
        let chunk = chunk_len(opts, self.limits().max_read_length);
        let max_in_flight = opts.requests_in_flight.max(1);
        let mut flight = InFlight {
            engine,
            queue: VecDeque::new(),
        };
        // Remainders of short reads, asked again first.
        let mut holes: VecDeque<(u64, u32)> = VecDeque::new();
        let mut next = start;
        let mut eof = false;
        let mut end = start;
        let mut received = 0u64;
        loop {
            while flight.queue.len() < max_in_flight {
                let (offset, len) = if let Some(h) = holes.pop_front() {
                    h
                } else if eof || (size.is_some_and(|s| next >= s) && !flight.queue.is_empty()) {
                    // Past the size stat gave, one read at a time finds
                    // the end (the file may have grown).
                    break;
                } else {
                    let r = (next, chunk);
                    next += u64::from(chunk);
                    r
                };
                let id = engine.send(&Request::Read {
                    handle: handle.clone(),
                    offset,
                    len,
                })?;
                flight.queue.push_back((id, offset, len));
            }
            let Some(&(id, offset, len)) = flight.queue.front() else {
                break;
            };
            let reply = poll_fn(|cx| engine.poll_reply(cx, id)).await;
            flight.queue.pop_front();
            match reply? {
                Reply::Data(data) => {
                    if data.len() > len as usize {
                        return Err(SftpError::Invalid(format!(
                            "server sent {} bytes for a read of {len}",
                            data.len()
                        )));
                    }
                    if data.is_empty() {
                        // A zero-length DATA says nothing more: as EOF.
                        eof = true;
                        continue;
                    }
                    // Zeros need not be written: the region is new (the
                    // local file ends at `start`) and `set_len` below
                    // extends the file, so a sparse file stays sparse.
                    if data.iter().any(|b| *b != 0) {
                        write_at(lf, offset, &data).map_err(local_err(local))?;
                    }
                    let got = data.len() as u64;
                    end = end.max(offset + got);
                    received += got;
                    if got < u64::from(len) {
                        holes.push_back((offset + got, len - got as u32));
                    }
                    if let Some(p) = progress.as_mut() {
                        p(&Progress {
                            path: remote,
                            transferred: start + received,
                            total: size,
                        });
                    }
                }
                Reply::Eof => eof = true,
                other => return Err(unexpected(other)),
            }
        }
        lf.set_len(end).map_err(local_err(local))?;
        Ok(TransferStats {
            bytes: received,
            size: end,
            resumed_from: start,
        })
    }

    /// Uploads the local file `local` to the remote path `remote`
    /// (created, or truncated unless resuming). See [`TransferOptions`].
    pub async fn upload(
        &self,
        local: &Path,
        remote: &str,
        opts: &TransferOptions,
        mut progress: Option<ProgressFn<'_>>,
    ) -> Result<TransferStats> {
        let mut lf = fs::File::open(local).map_err(local_err(local))?;
        let meta = lf.metadata().map_err(local_err(local))?;
        if meta.is_dir() {
            return Err(SftpError::Invalid(format!(
                "{} is a directory",
                local.display()
            )));
        }
        let size = meta.len();
        let mut flags = OpenFlags::WRITE | OpenFlags::CREATE;
        if !opts.resume {
            flags = flags | OpenFlags::TRUNCATE;
        }
        let mode = local_attrs(&meta).permissions.unwrap_or(0o644) & 0o777;
        let mut rf = self
            .open_with(remote, flags, FileAttributes::with_permissions(mode))
            .await?;
        let mut start = 0;
        if opts.resume {
            let have = rf.metadata().await?.size.unwrap_or(0);
            if have <= size {
                start = have;
            } else {
                rf.set_len(0).await?;
            }
        }
        let engine = self.engine().as_ref();
        let chunk = chunk_len(opts, self.limits().max_write_length) as usize;
        let max_in_flight = opts.requests_in_flight.max(1);
        let mut flight = InFlight {
            engine,
            queue: VecDeque::new(),
        };
        io::Seek::seek(&mut lf, io::SeekFrom::Start(start)).map_err(local_err(local))?;
        let mut offset = start;
        let mut acked = start;
        let mut at_end = false;
        loop {
            while !at_end && flight.queue.len() < max_in_flight {
                let mut buf = vec![0; chunk];
                let n = read_full(&mut lf, &mut buf).map_err(local_err(local))?;
                if n == 0 {
                    at_end = true;
                    break;
                }
                buf.truncate(n);
                let id = engine.send(&Request::Write {
                    handle: rf.handle().clone(),
                    offset,
                    data: Bytes::from(buf),
                })?;
                flight.queue.push_back((id, offset, n as u32));
                offset += n as u64;
            }
            let Some(&(id, _, len)) = flight.queue.front() else {
                break;
            };
            let reply = poll_fn(|cx| engine.poll_reply(cx, id)).await;
            flight.queue.pop_front();
            match reply? {
                Reply::Ok => {}
                other => return Err(unexpected(other)),
            }
            acked += u64::from(len);
            if let Some(p) = progress.as_mut() {
                p(&Progress {
                    path: remote,
                    transferred: acked,
                    total: Some(size),
                });
            }
        }
        drop(flight);
        if opts.preserve {
            rf.set_metadata(local_attrs(&meta)).await?;
        }
        rf.close().await?;
        Ok(TransferStats {
            bytes: acked - start,
            size: acked,
            resumed_from: start,
        })
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
