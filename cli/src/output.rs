//! Writing the remote command's output to our stdout and stderr without
//! holding up the connection.
//!
//! The runtime thread must never block on a slow reader of our stdout: it
//! also pumps the socket, answers keepalives and forwards stdin. tokio's own
//! `stdout()` hands every write to a pool thread and back, two thread
//! wake-ups per chunk; at 32 KiB chunks that costs more CPU than the
//! cipher. Here one dedicated thread per stream owns the file descriptor.
//! The runtime thread takes the received chunks from the channel as they
//! are (slices of the decrypted packets, not copies), gathers what has
//! arrived into a batch of up to [`CHUNK`] bytes, and hands the batch over;
//! the thread writes it with vectored writes. So a fast download costs one
//! wake-up per [`CHUNK`] and no copy of the data on our side.
//!
//! Memory stays bounded: at most `IN_FLIGHT` batches wait for the thread
//! (plus the one it is writing), each of at most [`CHUNK`] bytes in at most
//! [`MAX_SLICES`] chunks; the channel's window holds back the rest.
//!
//! The descriptor is a duplicate, written unbuffered: std's `Stdout` is
//! line-buffered and scans every byte for newlines.
//!
//! When the output is a pipe, it is grown to [`PIPE_SIZE`] (best effort,
//! never shrunk): a Linux pipe holds 64 KiB by default, so the writer
//! thread and the reader of our output would take turns four times per
//! batch, each turn two context switches. On two cores those hand-offs cost
//! a quarter of a download's throughput.

use std::fs::File;
use std::future::poll_fn;
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;

use conch_driver::process::enlarge_pipe;
use conch_tokio::Bytes;
use tokio::sync::{mpsc, oneshot};

/// Largest number of bytes handed to the writer thread at once.
pub const CHUNK: usize = 256 * 1024;
/// Largest number of chunks in one batch: the writer's `writev` takes them
/// in one call, and tiny chunks cannot pile up without bound.
pub const MAX_SLICES: usize = 64;
/// Batches queued for the writer thread (plus the one it is writing).
const IN_FLIGHT: usize = 3;
/// What an output pipe is grown to hold: four batches.
pub const PIPE_SIZE: usize = 4 * CHUNK;

/// Received chunks to copy to an output: a channel's stdout or stderr.
pub trait ChunkSource {
    /// Polls for the next received chunk of at most `max` bytes; `Ok(None)`
    /// at the end. The end and errors must be reported again if polled
    /// again (a channel's are).
    fn poll_read_chunk(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<Option<Bytes>>>;
}

impl ChunkSource for conch_tokio::Channel {
    fn poll_read_chunk(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<Option<Bytes>>> {
        conch_driver::Channel::poll_read_chunk(self, cx, max)
    }
}

impl ChunkSource for conch_tokio::ChannelStderr {
    fn poll_read_chunk(&self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<Option<Bytes>>> {
        conch_tokio::ChannelStderr::poll_read_chunk(self, cx, max)
    }
}

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

/// A thread writing batches of chunks to one of our standard streams.
#[derive(Debug)]
pub struct Output {
    batches: mpsc::Sender<Vec<Bytes>>,
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
        Self::start_writing_to_fd(fd)
    }

    /// Starts the writer thread writing to `fd`, grown first if it is a
    /// pipe.
    fn start_writing_to_fd(fd: OwnedFd) -> io::Result<Output> {
        enlarge_pipe(&fd, PIPE_SIZE);
        Self::start_writing_to(File::from(fd))
    }

    /// Starts the writer thread writing to `to`.
    fn start_writing_to(mut to: impl Write + Send + 'static) -> io::Result<Output> {
        let (batch_tx, mut batch_rx) = mpsc::channel::<Vec<Bytes>>(IN_FLIGHT);
        let (done_tx, done_rx) = oneshot::channel();
        let error = Arc::new(Mutex::new(None));
        let thread_error = error.clone();
        thread::Builder::new()
            .name("conch-output".into())
            .spawn(move || {
                while let Some(batch) = batch_rx.blocking_recv() {
                    if let Err(e) = write_batch(&mut to, &batch) {
                        *thread_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        // Dropping the receiver makes the next send fail.
                        break;
                    }
                }
                let _ = done_tx.send(());
            })?;
        Ok(Output {
            batches: batch_tx,
            error,
            done: done_rx,
        })
    }

    /// Copies `from` to the stream until `from` ends, then waits until
    /// everything has been written. Returns the number of bytes copied.
    pub async fn copy_from(mut self, from: &impl ChunkSource) -> Result<u64, CopyError> {
        let mut total = 0u64;
        let result = loop {
            let batch = match poll_fn(|cx| poll_batch(from, cx)).await {
                Ok(Some(batch)) => batch,
                Ok(None) => break Ok(total),
                Err(e) => break Err(CopyError::Read(e)),
            };
            total += batch.iter().map(|c| c.len() as u64).sum::<u64>();
            if self.batches.send(batch).await.is_err() {
                break Err(CopyError::Write(self.take_error()));
            }
        };
        // Everything queued is written before the copy counts as done.
        drop(self.batches);
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

/// Takes every chunk `from` has ready, up to [`CHUNK`] bytes in at most
/// [`MAX_SLICES`] chunks; waits only while it has nothing. `Ok(None)` at
/// the end.
fn poll_batch(
    from: &impl ChunkSource,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Option<Vec<Bytes>>>> {
    let mut batch = Vec::new();
    let mut len = 0;
    while len < CHUNK && batch.len() < MAX_SLICES {
        match from.poll_read_chunk(cx, CHUNK - len) {
            Poll::Ready(Ok(Some(chunk))) => {
                len += chunk.len();
                batch.push(chunk);
            }
            // Nothing more yet, the end or an error: what was taken goes
            // out first, and the next poll reports the end or error again.
            _ if !batch.is_empty() => break,
            Poll::Ready(Ok(None)) => return Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(Some(batch)))
}

/// Writes every byte of `batch`, in order, with as few `writev` calls as
/// the descriptor allows.
fn write_batch(to: &mut impl Write, batch: &[Bytes]) -> io::Result<()> {
    // `poll_batch` makes one group; a longer batch would take several.
    for group in batch.chunks(MAX_SLICES) {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        for (slice, chunk) in slices.iter_mut().zip(group) {
            *slice = IoSlice::new(chunk);
        }
        let mut unwritten = &mut slices[..group.len()];
        // Drops empty chunks at the front: writing nothing would return 0,
        // which means the descriptor takes no more.
        IoSlice::advance_slices(&mut unwritten, 0);
        while !unwritten.is_empty() {
            match to.write_vectored(unwritten) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut unwritten, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    /// Chunks handed out in order (split to `max` as a channel does), then
    /// the end or an error; counts the bytes taken.
    struct Chunks {
        queue: Mutex<VecDeque<Bytes>>,
        fail_at_end: bool,
        taken: AtomicUsize,
    }

    impl Chunks {
        fn new(chunks: impl IntoIterator<Item = Bytes>, fail_at_end: bool) -> Self {
            Chunks {
                queue: Mutex::new(chunks.into_iter().collect()),
                fail_at_end,
                taken: AtomicUsize::new(0),
            }
        }
    }

    impl ChunkSource for Chunks {
        fn poll_read_chunk(
            &self,
            _: &mut Context<'_>,
            max: usize,
        ) -> Poll<io::Result<Option<Bytes>>> {
            let mut queue = self.queue.lock().unwrap();
            let Some(front) = queue.front_mut() else {
                return Poll::Ready(if self.fail_at_end {
                    Err(io::ErrorKind::ConnectionReset.into())
                } else {
                    Ok(None)
                });
            };
            let chunk = if front.len() > max {
                front.split_to(max)
            } else {
                queue.pop_front().unwrap()
            };
            self.taken.fetch_add(chunk.len(), Ordering::SeqCst);
            Poll::Ready(Ok(Some(chunk)))
        }
    }

    /// A descriptor taking at most 7 bytes per call, across slice
    /// boundaries, failing once `fail_after` bytes are in, and while there
    /// is a `gate`, waiting for it before each call (until its sender goes).
    struct Trickle {
        written: Arc<Mutex<Vec<u8>>>,
        fail_after: usize,
        gate: Option<std_mpsc::Receiver<()>>,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if let Some(gate) = &self.gate {
                let _ = gate.recv();
            }
            let mut written = self.written.lock().unwrap();
            if written.len() >= self.fail_after {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let before = written.len();
            for b in bufs {
                let room = 7 - (written.len() - before);
                written.extend_from_slice(&b[..b.len().min(room)]);
            }
            Ok(written.len() - before)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn trickle(
        fail_after: usize,
        gate: Option<std_mpsc::Receiver<()>>,
    ) -> (Output, Arc<Mutex<Vec<u8>>>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let to = Trickle {
            written: written.clone(),
            fail_after,
            gate,
        };
        (Output::start_writing_to(to).unwrap(), written)
    }

    /// Chunks of assorted sizes, some longer than a batch, with a pattern
    /// that shows a byte lost, repeated or moved.
    fn pattern() -> (Vec<Bytes>, Vec<u8>) {
        let mut all = Vec::new();
        let chunks = [1usize, 5, 32 * 1024, 3, CHUNK + 11, 700, 2 * CHUNK, 9]
            .iter()
            .cycle()
            .take(40)
            .map(|&len| {
                let chunk: Vec<u8> = (all.len()..all.len() + len)
                    .map(|i| (i % 251) as u8)
                    .collect();
                all.extend_from_slice(&chunk);
                Bytes::from(chunk)
            })
            .collect();
        (chunks, all)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pipe_output_is_grown_and_carries_the_bytes() {
        use std::io::Read;
        let (mut reader, writer) = io::pipe().unwrap();
        let before = rustix::pipe::fcntl_getpipe_size(&reader).unwrap();
        assert!(before < PIPE_SIZE, "the pipe starts at {before} bytes");
        let output = Output::start_writing_to_fd(writer.into()).unwrap();
        assert!(rustix::pipe::fcntl_getpipe_size(&reader).unwrap() >= PIPE_SIZE);
        let source = Chunks::new([Bytes::from_static(b"through the pipe")], false);
        let copied = runtime().block_on(output.copy_from(&source)).unwrap();
        assert_eq!(copied, 16);
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"through the pipe");
    }

    #[test]
    fn every_byte_is_written_once_in_order_through_partial_writes() {
        let (chunks, all) = pattern();
        let source = Chunks::new(chunks, false);
        let (output, written) = trickle(usize::MAX, None);
        let copied = runtime().block_on(output.copy_from(&source)).unwrap();
        assert_eq!(copied, all.len() as u64);
        let written = written.lock().unwrap();
        assert_eq!(written.len(), all.len());
        assert!(*written == all, "the written bytes differ");
    }

    #[test]
    fn a_batch_holds_at_most_chunk_bytes_in_at_most_max_slices() {
        let many_small = Chunks::new(
            (0..MAX_SLICES * 2).map(|_| Bytes::from_static(b"ab")),
            false,
        );
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let Poll::Ready(Ok(Some(batch))) = poll_batch(&many_small, &mut cx) else {
            panic!("a batch was ready");
        };
        assert_eq!(batch.len(), MAX_SLICES);
        let big = Chunks::new([Bytes::from(vec![0; 3 * CHUNK])], false);
        let Poll::Ready(Ok(Some(batch))) = poll_batch(&big, &mut cx) else {
            panic!("a batch was ready");
        };
        assert_eq!(batch.iter().map(Bytes::len).sum::<usize>(), CHUNK);
    }

    #[test]
    fn data_before_a_read_error_is_written_then_the_error_reported() {
        let source = Chunks::new([Bytes::from_static(b"partial output")], true);
        let (output, written) = trickle(usize::MAX, None);
        let r = runtime().block_on(output.copy_from(&source));
        assert!(
            matches!(r, Err(CopyError::Read(ref e)) if e.kind() == io::ErrorKind::ConnectionReset),
            "{r:?}"
        );
        assert_eq!(*written.lock().unwrap(), b"partial output");
    }

    #[test]
    fn a_write_error_stops_the_copy_and_is_reported() {
        let (chunks, _) = pattern();
        let source = Chunks::new(chunks, false);
        let (output, _) = trickle(100, None);
        let r = runtime().block_on(output.copy_from(&source));
        assert!(
            matches!(r, Err(CopyError::Write(ref e)) if e.kind() == io::ErrorKind::BrokenPipe),
            "{r:?}"
        );
        // Not read to the end: the copy stopped at the failure, having
        // taken at most what was in flight.
        let left = source.queue.lock().unwrap().len();
        assert!(left > 0, "the whole source was read");
    }

    #[test]
    fn a_stuck_output_holds_a_bounded_amount_and_blocks_no_runtime_thread() {
        let (chunks, all) = pattern();
        let source = Arc::new(Chunks::new(chunks, false));
        let (open_gate, gate) = std_mpsc::channel();
        let (output, written) = trickle(usize::MAX, Some(gate));
        runtime().block_on(async {
            let copy = tokio::spawn({
                let source = source.clone();
                async move { output.copy_from(&*source).await }
            });
            // The writer is stuck in its first write; this thread goes on.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let taken = source.taken.load(Ordering::SeqCst);
            assert!(taken > 0);
            assert!(
                taken <= (IN_FLIGHT + 2) * CHUNK,
                "{taken} bytes taken while the output is stuck"
            );
            assert!(taken < all.len(), "everything was taken");
            // Unstuck (the gate's sender gone), everything goes out.
            drop(open_gate);
            assert_eq!(copy.await.unwrap().unwrap(), all.len() as u64);
        });
        assert!(*written.lock().unwrap() == all);
    }
}
