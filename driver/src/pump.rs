//! The I/O pump: moves bytes between a socket and the connection, and time
//! into it, following the loop of `conch_core::Connection`.
//!
//! An adapter supplies only the socket and a timer. Async adapters run
//! [`Engine::into_pump`] (a future over any `futures-io` stream) as a task;
//! a thread-based adapter calls the [`Engine`]'s step methods from its own
//! reader and writer threads.
//!
//! Neither holds the connection's lock during a socket call: bytes to send
//! are taken out of the connection into the pump's own buffer
//! ([`conch_core::Connection::take_transmit`]) and written from there, and
//! bytes are read into the pump's buffer before the lock is taken to hand
//! them over. So the application's threads (sealing a command's output
//! into packets, reading received data) run while the pump sits in
//! `write(2)` or `read(2)`, on another core.

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
            write_buf: Vec::new(),
            written: 0,
            read_eof: false,
            input_open: true,
            closing: false,
        }
    }

    // ----- step methods for thread-based pumps -----

    /// Bytes read from the socket.
    pub fn input(&self, data: &[u8]) {
        let mut sh = lock(&self.shared);
        sh.conn.handle_input(Instant::now(), data);
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

    /// Moves everything waiting to be sent into `out` (cleared first; its
    /// allocation is swapped in rather than the bytes copied, see
    /// [`conch_core::Connection::take_transmit`]). Write all of `out` to the
    /// socket before taking again: taken bytes no longer count against the
    /// connection's send buffer, so taking only once they are written
    /// bounds what waits in memory to about twice that buffer.
    pub fn take_transmit(&self, out: &mut Vec<u8>) {
        out.clear();
        let mut sh = lock(&self.shared);
        sh.conn.take_transmit(out);
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
    /// Ask only once what [`Engine::take_transmit`] gave has been written:
    /// it may end with the DISCONNECT.
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
    /// What was taken from the connection for the socket
    /// ([`conch_core::Connection::take_transmit`]), written without the
    /// lock; the next take reuses it, once all of it is written.
    write_buf: Vec<u8>,
    /// Bytes of `write_buf` written so far.
    written: usize,
    read_eof: bool,
    /// The connection still takes input (as of the last look).
    input_open: bool,
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

impl<S: AsyncRead + AsyncWrite + Unpin> Pump<S> {
    /// Writes the rest of `write_buf`, without the lock, until it is all
    /// written or the socket would block; returns whether anything was
    /// written, or the socket's failure.
    fn write_taken(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let mut wrote = false;
        while self.written < self.write_buf.len() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.write_buf[self.written..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.written += n;
                    wrote = true;
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if wrote {
            if let Poll::Ready(Err(e)) = Pin::new(&mut self.stream).poll_flush(cx) {
                return Err(e);
            }
        }
        Ok(wrote)
    }

    /// Reads one buffer's worth, without the lock.
    fn read_some(&mut self, cx: &mut Context<'_>) -> io::Result<Received> {
        match Pin::new(&mut self.stream).poll_read(cx, &mut self.read_buf) {
            Poll::Ready(Ok(0)) => {
                self.read_eof = true;
                Ok(Received::Eof)
            }
            Poll::Ready(Ok(n)) => Ok(Received::Bytes(n)),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                Ok(Received::Interrupted)
            }
            Poll::Ready(Err(e)) => {
                self.read_eof = true;
                Err(e)
            }
            Poll::Pending => Ok(Received::Nothing),
        }
    }

    /// Arms the timer for `deadline` (or drops it); the instant to run the
    /// connection's timer with, if it is due.
    fn timer_due(&mut self, deadline: Option<Instant>, cx: &mut Context<'_>) -> Option<Instant> {
        let Some(deadline) = deadline else {
            self.sleep = None;
            return None;
        };
        if self.sleep.as_ref().is_none_or(|(d, _)| *d != deadline) {
            self.sleep = Some((deadline, self.timer.sleep_until(deadline)));
        }
        let now = Instant::now();
        let due = deadline <= now
            || self
                .sleep
                .as_mut()
                .is_some_and(|(_, s)| s.as_mut().poll(cx).is_ready());
        if !due {
            return None;
        }
        self.sleep = None;
        Some(now.max(deadline))
    }
}

/// What one read from the socket brought.
enum Received {
    /// The socket has nothing now (it wakes the pump when it has).
    Nothing,
    /// A signal interrupted the call: try again.
    Interrupted,
    /// This many bytes at the start of the read buffer.
    Bytes(usize),
    /// The peer closed its end.
    Eof,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Pump<S> {
    type Output = ();

    /// Each round locks the connection twice, briefly: to take what is to
    /// be sent, and to hand over what was read. The socket calls in
    /// between run without the lock, so the application's threads go on
    /// meanwhile.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        for _ in 0..READS_PER_POLL {
            if !this.closing {
                let mut sh = lock(&this.shared);
                // Before looking: whatever is queued once this lock is
                // released wakes us, so no wake-up is lost.
                set_waker(&mut sh, cx.waker());
                if this.written == this.write_buf.len() {
                    // All taken before is written: take what waits now.
                    // Only then, so that at most one send buffer's worth
                    // waits here beyond the connection's own.
                    this.write_buf.clear();
                    this.written = 0;
                    sh.conn.take_transmit(&mut this.write_buf);
                    sh.drain();
                }
                let unwritten = this.written < this.write_buf.len();
                // A DISCONNECT taken must still be written before closing;
                // a failed socket takes nothing more.
                this.closing = sh.io_error.is_some() || (sh.conn.is_closed() && !unwritten);
                this.input_open = sh.error.is_none();
            }
            if this.closing {
                // Best effort: a failing close changes nothing for the caller.
                if Pin::new(&mut this.stream).poll_close(cx).is_pending() {
                    return Poll::Pending;
                }
                finish(&mut lock(&this.shared));
                return Poll::Ready(());
            }

            // The socket, without the lock: write what was taken, then read.
            let mut progress = false;
            let mut received = Received::Nothing;
            let mut failure = match this.write_taken(cx) {
                Ok(wrote) => {
                    progress = wrote;
                    None
                }
                Err(e) => Some(e),
            };
            if failure.is_none() && !this.read_eof && this.input_open {
                match this.read_some(cx) {
                    Ok(r) => received = r,
                    Err(e) => failure = Some(e),
                }
            }

            // Hand over what the socket did; learn the next deadline.
            let deadline = {
                let mut sh = lock(&this.shared);
                match received {
                    Received::Nothing => {}
                    Received::Interrupted => progress = true,
                    Received::Eof => {
                        sh.conn.handle_eof(Instant::now());
                        sh.drain();
                        progress = true;
                    }
                    Received::Bytes(n) => {
                        sh.conn.handle_input(Instant::now(), &this.read_buf[..n]);
                        sh.drain();
                        progress = true;
                    }
                }
                if let Some(e) = failure {
                    sh.io_failed(e);
                    progress = true;
                }
                sh.poll_timeout()
            };
            if let Received::Bytes(n) = received {
                if n == this.read_buf.len() && n < LARGEST_READ_BUFFER {
                    this.read_buf.resize((n * 4).min(LARGEST_READ_BUFFER), 0);
                }
            }

            // Time.
            if let Some(now) = this.timer_due(deadline, cx) {
                lock(&this.shared).handle_timeout(now);
                progress = true;
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Mutex;
    use std::task::Waker;
    use std::thread;

    use super::*;
    use crate::{ClientOptions, ServerName, Session};

    /// How long a socket call waits for the other thread. Far longer than
    /// it needs, unless that thread is stuck on the lock.
    const MEETING_TIMEOUT: Duration = Duration::from_secs(5);

    struct NeverTimer;

    impl Timer for NeverTimer {
        fn sleep_until(&self, _: Instant) -> Sleep {
            Box::pin(std::future::pending())
        }
    }

    fn client() -> (Session, Engine) {
        crate::session::client(
            &ClientOptions::insecure_accept_any_host_key(),
            ServerName::new("example.org", 22),
        )
    }

    /// A socket whose first write and every read take as long as it takes
    /// another thread to use the session (which needs the
    /// connection's lock), as a `write(2)` or `read(2)` may take long while
    /// the application goes on. A pump holding the lock across those calls
    /// deadlocks with that thread; here the call gives up after
    /// [`MEETING_TIMEOUT`] and says so in `missed`.
    struct MeetingSocket {
        asks: mpsc::Sender<&'static str>,
        answers: mpsc::Receiver<()>,
        met: Arc<Mutex<Vec<&'static str>>>,
        missed: Arc<Mutex<Vec<&'static str>>>,
        wrote: bool,
        written: Vec<u8>,
    }

    impl MeetingSocket {
        /// A socket, and the application's end of its meetings: it is asked
        /// with the name of each call and answers when it is done.
        fn new() -> (Self, mpsc::Receiver<&'static str>, mpsc::Sender<()>) {
            let (asks, asked) = mpsc::channel();
            let (answer, answers) = mpsc::channel();
            let socket = MeetingSocket {
                asks,
                answers,
                met: Arc::default(),
                missed: Arc::default(),
                wrote: false,
                written: Vec::new(),
            };
            (socket, asked, answer)
        }

        fn meet(&mut self, call: &'static str) {
            let _ = self.asks.send(call);
            let list = match self.answers.recv_timeout(MEETING_TIMEOUT) {
                Ok(()) => &self.met,
                Err(_) => &self.missed,
            };
            list.lock().unwrap().push(call);
        }
    }

    impl AsyncRead for MeetingSocket {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            self.meet("read");
            // Nothing arrives (and so nothing is to wake the pump for).
            Poll::Pending
        }
    }

    impl AsyncWrite for MeetingSocket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if !self.wrote {
                self.wrote = true;
                self.meet("write");
            }
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_application_uses_the_session_while_the_pump_is_in_a_socket_call() {
        let (session, engine) = client();
        let (socket, asked, answer) = MeetingSocket::new();
        let (met, missed) = (socket.met.clone(), socket.missed.clone());
        // The application: each time the socket call has started, it asks
        // the session something, then lets the call finish.
        let application = thread::spawn(move || {
            for _call in asked {
                let _ = session.is_closed();
                let _ = answer.send(());
            }
        });
        let mut pump = engine.into_pump(socket, Arc::new(NeverTimer));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut pump).poll(&mut cx).is_pending());
        drop(pump);
        application.join().unwrap();
        assert_eq!(
            *missed.lock().unwrap(),
            Vec::<&str>::new(),
            "the application was locked out during these socket calls"
        );
        // One round writes and reads, the next finds nothing to do.
        assert_eq!(*met.lock().unwrap(), ["write", "read", "read"]);
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn what_the_application_queues_during_a_socket_call_wakes_the_pump() {
        let (session, engine) = client();
        let (socket, asked, answer) = MeetingSocket::new();
        let missed = socket.missed.clone();
        // While the pump waits in a read in a round where it found nothing
        // to write (its second), so that it would wait next, the
        // application queues a DISCONNECT.
        let application = thread::spawn(move || {
            let mut reads = 0;
            for call in asked {
                reads += usize::from(call == "read");
                if reads == 2 && call == "read" {
                    let _ = session.inner.mutate(|sh| {
                        sh.conn.disconnect("queued during read(2)");
                        Ok(())
                    });
                }
                let _ = answer.send(());
            }
        });
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut pump = engine.into_pump(socket, Arc::new(NeverTimer));
        let woken = |c: &CountingWaker| c.0.load(std::sync::atomic::Ordering::SeqCst);
        let mut done = false;
        for _ in 0..100 {
            let before = woken(&counter);
            if Pin::new(&mut pump).poll(&mut cx).is_ready() {
                done = true;
                break;
            }
            // Polled again only when woken, as by a runtime.
            assert!(woken(&counter) > before, "the pump waits, not woken");
        }
        assert!(done, "the pump did not finish");
        assert_eq!(*missed.lock().unwrap(), Vec::<&str>::new());
        let text = b"queued during read(2)";
        assert!(pump.stream.written.windows(text.len()).any(|w| w == text));
        drop(pump);
        application.join().unwrap();
    }

    /// A socket taking at most `step` bytes per write, and only every other
    /// call (waking the pump for the next); reads see nothing yet.
    struct SlowSocket {
        step: usize,
        ready: bool,
        written: Vec<u8>,
        /// `written.len()` when `poll_close` was first called.
        closed_at: Option<usize>,
    }

    impl AsyncRead for SlowSocket {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for SlowSocket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.ready = !self.ready;
            if !self.ready {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(self.step);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            if self.closed_at.is_none() {
                self.closed_at = Some(self.written.len());
            }
            Poll::Ready(Ok(()))
        }
    }

    /// Polls `pump` until it completes (bounded).
    fn run_to_end<S: AsyncRead + AsyncWrite + Unpin>(pump: &mut Pump<S>) {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100_000 {
            if Pin::new(&mut *pump).poll(&mut cx).is_ready() {
                return;
            }
        }
        panic!("the pump did not finish");
    }

    #[test]
    fn a_disconnect_queued_while_the_pump_writes_reaches_the_socket_before_it_closes() {
        let (session, engine) = client();
        let shared = engine.shared.clone();
        let socket = SlowSocket {
            step: 7,
            ready: false,
            written: Vec::new(),
            closed_at: None,
        };
        let mut pump = engine.into_pump(socket, Arc::new(NeverTimer));
        let mut cx = Context::from_waker(Waker::noop());
        // The pump has started writing our identification and KEXINIT ...
        for _ in 0..3 {
            assert!(Pin::new(&mut pump).poll(&mut cx).is_pending());
        }
        assert!(!pump.stream.written.is_empty());
        // ... when the application ends the connection.
        {
            let mut sh = lock(&shared);
            sh.conn.disconnect("going away now");
            sh.drain();
        }
        run_to_end(&mut pump);
        let socket = &pump.stream;
        let text = b"going away now";
        let at = socket
            .written
            .windows(text.len())
            .position(|w| w == text)
            .expect("the DISCONNECT was written");
        assert_eq!(
            socket.closed_at,
            Some(socket.written.len()),
            "closed only after everything was written"
        );
        assert!(at + text.len() <= socket.written.len());
        assert!(session.is_closed());
        assert!(lock(&shared).pump_done);
    }
}
