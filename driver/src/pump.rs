//! The I/O pump: moves bytes between a socket and the connection, and time
//! into it, following the loop of `conch_core::Connection`.
//!
//! An adapter supplies only the socket and a timer. Async adapters run
//! [`Engine::into_pump`] (a future over any `futures-io` stream) as a task;
//! a thread-based adapter calls the [`Engine`]'s step methods from its own
//! reader and writer threads.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::shared::{lock, Shared, SharedRef};

/// A future that completes at a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The runtime's timer.
pub trait Timer: Send + Sync + 'static {
    /// A future completing at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Sleep;
}

/// Socket reads per pump wake-up before it yields to other tasks.
const READS_PER_POLL: usize = 16;
/// First size of the pump's read buffer: a handshake and short commands
/// fit, and a process holding thousands of idle connections stays small.
const FIRST_READ_BUFFER: usize = 8 * 1024;
/// Largest size of the pump's read buffer, reached while reads keep filling
/// it (a bulk transfer): fewer, larger reads and `handle_input` calls.
const LARGEST_READ_BUFFER: usize = 256 * 1024;

/// The pump's side of a connection: what moves bytes and time in and out.
#[derive(Clone)]
pub struct Engine {
    shared: SharedRef,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Engine")
    }
}

impl Engine {
    pub(crate) fn new(shared: SharedRef) -> Self {
        Engine { shared }
    }

    /// The pump future over `stream`: run it as a task of the runtime. It
    /// completes when the connection has ended and the stream is closed.
    pub fn into_pump<S>(self, stream: S, timer: Arc<dyn Timer>) -> Pump<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        Pump {
            shared: self.shared,
            stream,
            timer,
            sleep: None,
            read_buf: vec![0; FIRST_READ_BUFFER],
            read_eof: false,
            closing: false,
        }
    }

    // ----- step methods for thread-based pumps -----

    /// Bytes read from the socket.
    pub fn input(&self, data: &[u8]) {
        let mut sh = lock(&self.shared);
        let _ = sh.conn.handle_input(Instant::now(), data);
        sh.drain();
        sh.wake_pump();
    }

    /// The socket reached EOF.
    pub fn eof(&self) {
        let mut sh = lock(&self.shared);
        sh.conn.handle_eof(Instant::now());
        sh.drain();
        sh.wake_pump();
    }

    /// The socket failed.
    pub fn io_error(&self, e: io::Error) {
        let mut sh = lock(&self.shared);
        sh.io_failed(e);
        sh.wake_pump();
    }

    /// Copies up to `max` bytes waiting to be sent into `out` (cleared
    /// first); report what was written with [`Engine::consume_transmit`].
    pub fn copy_transmit(&self, out: &mut Vec<u8>, max: usize) {
        out.clear();
        let mut sh = lock(&self.shared);
        if let Some(t) = sh.conn.poll_transmit() {
            out.extend_from_slice(&t[..t.len().min(max)]);
        }
    }

    /// `n` bytes of the transmit buffer were written.
    pub fn consume_transmit(&self, n: usize) {
        let mut sh = lock(&self.shared);
        sh.conn.consume_transmit(n);
        sh.drain();
    }

    /// Runs the connection's timer if it is due; returns the next deadline.
    pub fn on_time(&self, now: Instant) -> Option<Instant> {
        let mut sh = lock(&self.shared);
        if let Some(t) = sh.poll_timeout() {
            if t <= now {
                sh.handle_timeout(now);
            }
        }
        sh.poll_timeout()
    }

    /// Sets the waker woken when there is something to transmit or the
    /// timer may have changed.
    pub fn set_waker(&self, waker: &Waker) {
        let mut sh = lock(&self.shared);
        set_waker(&mut sh, waker);
    }

    /// Whether the socket should be closed now: the connection has ended
    /// and everything left to send has been taken (or the socket failed).
    pub fn should_close(&self) -> bool {
        let sh = lock(&self.shared);
        sh.conn.is_closed() || sh.io_error.is_some()
    }

    /// The socket has been closed: wakes every waiting task for the last time.
    pub fn finished(&self) {
        let mut sh = lock(&self.shared);
        finish(&mut sh);
    }
}

fn set_waker(sh: &mut Shared, waker: &Waker) {
    if !sh.pump_waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
        sh.pump_waker = Some(waker.clone());
    }
}

fn finish(sh: &mut Shared) {
    if sh.error.is_none() {
        // The pump never stops before the connection ends; be safe anyway.
        sh.conn.handle_eof(Instant::now());
        sh.drain();
    }
    sh.pump_done = true;
    sh.pump_waker = None;
    sh.wake_everyone();
}

/// The I/O pump of one connection over an async byte stream (see
/// [`Engine::into_pump`]).
pub struct Pump<S> {
    shared: SharedRef,
    stream: S,
    timer: Arc<dyn Timer>,
    sleep: Option<(Instant, Sleep)>,
    /// Grows from [`FIRST_READ_BUFFER`] to [`LARGEST_READ_BUFFER`].
    read_buf: Vec<u8>,
    read_eof: bool,
    closing: bool,
}

impl<S> fmt::Debug for Pump<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pump")
            .field("read_eof", &self.read_eof)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Pump<S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut guard = lock(&this.shared);
        let sh = &mut *guard;
        set_waker(sh, cx.waker());
        for _ in 0..READS_PER_POLL {
            if this.closing || sh.conn.is_closed() || sh.io_error.is_some() {
                this.closing = true;
                // Best effort: a failing close changes nothing for the caller.
                if Pin::new(&mut this.stream).poll_close(cx).is_pending() {
                    return Poll::Pending;
                }
                finish(sh);
                return Poll::Ready(());
            }
            let mut progress = false;

            // Write everything the connection has for the socket.
            let mut wrote = false;
            while let Some(out) = sh.conn.poll_transmit() {
                match Pin::new(&mut this.stream).poll_write(cx, out) {
                    Poll::Ready(Ok(0)) => {
                        sh.io_failed(io::ErrorKind::WriteZero.into());
                        break;
                    }
                    Poll::Ready(Ok(n)) => {
                        sh.conn.consume_transmit(n);
                        sh.drain();
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => {
                        sh.io_failed(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if wrote {
                progress = true;
                if let Poll::Ready(Err(e)) = Pin::new(&mut this.stream).poll_flush(cx) {
                    sh.io_failed(e);
                }
            }

            // Read one buffer's worth.
            if !this.read_eof && sh.error.is_none() {
                match Pin::new(&mut this.stream).poll_read(cx, &mut this.read_buf) {
                    Poll::Ready(Ok(0)) => {
                        this.read_eof = true;
                        sh.conn.handle_eof(Instant::now());
                        sh.drain();
                        progress = true;
                    }
                    Poll::Ready(Ok(n)) => {
                        let _ = sh.conn.handle_input(Instant::now(), &this.read_buf[..n]);
                        sh.drain();
                        progress = true;
                        if n == this.read_buf.len() && n < LARGEST_READ_BUFFER {
                            this.read_buf.resize(n * 4, 0);
                        }
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        this.read_eof = true;
                        sh.io_failed(e);
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }

            // Time.
            match sh.poll_timeout() {
                None => this.sleep = None,
                Some(deadline) => {
                    if this.sleep.as_ref().is_none_or(|(d, _)| *d != deadline) {
                        this.sleep = Some((deadline, this.timer.sleep_until(deadline)));
                    }
                    let now = Instant::now();
                    let due = deadline <= now
                        || this
                            .sleep
                            .as_mut()
                            .is_some_and(|(_, s)| s.as_mut().poll(cx).is_ready());
                    if due {
                        this.sleep = None;
                        sh.handle_timeout(now.max(deadline));
                        progress = true;
                    }
                }
            }

            if !progress {
                return Poll::Pending;
            }
        }
        // Busy connection: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs `future` with a deadline `limit` from now on `timer`;
/// [`Error::Timeout`] naming `what` if it passes first. No limit: just runs it.
pub async fn with_timeout<T>(
    timer: &dyn Timer,
    limit: Option<Duration>,
    what: &'static str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(limit) = limit else {
        return future.await;
    };
    let mut sleep = timer.sleep_until(Instant::now() + limit);
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = future.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Error::Timeout(what)));
        }
        Poll::Pending
    })
    .await
}
