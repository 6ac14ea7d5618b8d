//! Writing the remote command's output to our stdout and stderr without
//! holding up the connection.
//!
//! The runtime thread must never block on a slow reader of our stdout: it
//! also pumps the socket, answers keepalives and forwards stdin. tokio's own
//! `stdout()` hands every write to a pool thread and back, two thread
//! wake-ups per chunk; at 32 KiB chunks that costs more CPU than the
//! cipher. Here one dedicated thread per stream owns the file descriptor
//! and writes whole buffers of up to [`CHUNK`] bytes as they come, with a
//! few buffers in flight and reused, so a fast download costs one wake-up
//! per [`CHUNK`] and no allocation in the steady state.
//!
//! The descriptor is a duplicate, written unbuffered: std's `Stdout` is
//! line-buffered and scans every byte for newlines.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot};

/// Largest buffer handed to the writer thread at once.
pub const CHUNK: usize = 256 * 1024;
/// Buffers queued for the writer thread (plus the one it is writing).
const IN_FLIGHT: usize = 3;

/// Why a copy to the output stopped early.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the channel failed.
    Read(io::Error),
    /// Writing our output failed (e.g. the reader of our stdout went away).
    Write(io::Error),
}

/// Which of our standard streams.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// File descriptor 1.
    Stdout,
    /// File descriptor 2.
    Stderr,
}

/// A thread writing buffers to one of our standard streams.
#[derive(Debug)]
pub struct Output {
    /// A buffer and how many of its bytes to write.
    full: mpsc::Sender<(Vec<u8>, usize)>,
    empty: std_mpsc::Receiver<Vec<u8>>,
    error: Arc<Mutex<Option<io::Error>>>,
    done: oneshot::Receiver<()>,
}

impl Output {
    /// Starts the writer thread for `stream`.
    pub fn start(stream: Stream) -> io::Result<Output> {
        let fd = match stream {
            Stream::Stdout => io::stdout().as_fd().try_clone_to_owned()?,
            Stream::Stderr => io::stderr().as_fd().try_clone_to_owned()?,
        };
        let mut file = File::from(fd);
        let (full_tx, mut full_rx) = mpsc::channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (empty_tx, empty_rx) = std_mpsc::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let error = Arc::new(Mutex::new(None));
        let thread_error = error.clone();
        thread::Builder::new()
            .name("conch-output".into())
            .spawn(move || {
                while let Some((buf, len)) = full_rx.blocking_recv() {
                    if let Err(e) = file.write_all(&buf[..len]) {
                        *thread_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        // Dropping the receiver makes the next send fail.
                        break;
                    }
                    let _ = empty_tx.send(buf);
                }
                let _ = done_tx.send(());
            })?;
        Ok(Output {
            full: full_tx,
            empty: empty_rx,
            error,
            done: done_rx,
        })
    }

    /// Copies `from` to the stream until `from` ends, then waits until
    /// everything has been written. Returns the number of bytes copied.
    pub async fn copy_from(mut self, mut from: impl AsyncRead + Unpin) -> Result<u64, CopyError> {
        let mut total = 0u64;
        let result = loop {
            // Buffers come back whole: only a new one is zero-filled.
            let mut buf = self.empty.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            let n = match from.read(&mut buf).await {
                Ok(0) => break Ok(total),
                Ok(n) => n,
                Err(e) => break Err(CopyError::Read(e)),
            };
            total += n as u64;
            if self.full.send((buf, n)).await.is_err() {
                break Err(CopyError::Write(self.take_error()));
            }
        };
        // Everything queued is written before the copy counts as done.
        drop(self.full);
        let _ = (&mut self.done).await;
        if result.is_ok() {
            if let Some(e) = self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(CopyError::Write(e));
            }
        }
        result
    }

    fn take_error(&self) -> io::Error {
        self.error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}
