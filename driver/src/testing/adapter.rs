//! The adapter under test as the shared scenarios ([`super::sessions`],
//! [`super::faults`]) see it: its [`Runtime`] (a timer, a place to spawn,
//! the listener and `connect` written once over it), and its client calls. Each adapter's tests implement
//! [`Adapter`] once and run every scenario through the adapter's own
//! types: a channel is read and written through the adapter's own stream
//! traits ([`Adapter::io`]), sessions and channels are made by its own
//! calls; what both adapters reach through the driver (authentication,
//! exit status ...) is called on the driver's types.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use conch_core::Bytes;
/// The stream traits of [`Adapter::io`] (an adapter with others bridges).
pub use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::{self, Either, FutureExt};
use futures_util::io::AsyncReadExt;

use super::{Held, Served, FAULT_NOTICE, PASSWORD, STEP_TIMEOUT, USER};
use crate::{AuthMethods, Channel, ClientOptions, Result, Runtime, ServerOptions, Session, Sleep};

/// A future the adapter's runtime runs to its end, detached.
pub type DetachedTask = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An adapter under test: what the shared scenarios need of its runtime
/// and its API. Implemented once in each adapter's `tests/common`.
pub trait Adapter: Sized + 'static {
    /// The adapter's client session.
    type Session: Clone + Send + Sync + 'static;
    /// The adapter's channel (a byte stream in the adapter's I/O traits).
    type Channel: Send + Sync + 'static;
    /// The adapter's stderr stream of a channel.
    type Stderr: Send + Sync + 'static;
    /// The adapter's runtime: its timer, tasks, listener and `connect`.
    type Runtime: Runtime<Session = Self::Session, Channel = Self::Channel>;

    /// Whether the connections' pumps run only while the test's own task
    /// waits (a current-thread runtime): then a call is seen waiting at
    /// each of its await points, and the scenarios count them.
    const PUMPS_ON_TEST_THREAD: bool;

    /// A future completing at `deadline`, on the adapter's timer.
    fn sleep_until(deadline: Instant) -> Sleep {
        Self::Runtime::sleep_until(deadline)
    }

    /// Runs `task` on the adapter's runtime, detached.
    fn spawn_detached(task: DetachedTask) {
        Self::Runtime::spawn(task)
    }

    /// Runs a test body to its end on a runtime of the adapter's (what a
    /// `#[test]` of [`crate::session_tests!`] or [`crate::fault_tests!`]
    /// runs its scenario on).
    fn block_on<T>(body: impl Future<Output = T>) -> T;

    /// The number of tasks alive in the runtime, if it counts them.
    fn alive_tasks() -> Option<usize>;

    /// Binds the adapter's listener ([`crate::runtime::Listener`] on its
    /// runtime, which the adapter's `Listener` wraps) on a free loopback
    /// port and serves what it accepts through a [`Served`]: a task per
    /// connection running [`Served::serve_connection`] (which runs commands
    /// as tasks, through [`Adapter::spawn_detached`]).
    fn start_server(options: ServerOptions) -> impl Future<Output = (SocketAddr, Served)> + Send {
        async move {
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            let listener =
                crate::runtime::Listener::<Self::Runtime>::bind([loopback], options).expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let served = Served::default();
            let accepted = served.clone();
            Self::spawn_detached(Box::pin(async move {
                while let Ok((session, _)) = listener.accept().await {
                    Self::spawn_detached(Box::pin(
                        accepted.clone().serve_connection::<Self>(session),
                    ));
                }
            }));
            (addr, served)
        }
    }

    /// Connects to `port` on loopback: the adapter's `connect`, which is
    /// [`crate::runtime::connect`] on its runtime.
    fn connect(
        port: u16,
        options: ClientOptions,
    ) -> impl Future<Output = Result<Self::Session>> + Send {
        async move { crate::runtime::connect::<Self::Runtime>("127.0.0.1", port, options).await }
    }

    /// The driver's session underneath (authentication, requests, the end).
    fn session(session: &Self::Session) -> &Session {
        Self::Runtime::driver_session(session)
    }

    /// Runs `command` on a new channel, with the adapter's `exec`.
    fn exec<'a>(
        session: &'a Self::Session,
        command: &'a str,
    ) -> impl Future<Output = Result<Self::Channel>> + Send + 'a;

    /// Opens a session channel, with the adapter's `open_session`.
    fn open_session(
        session: &Self::Session,
    ) -> impl Future<Output = Result<Self::Channel>> + Send + '_;

    /// The driver's channel underneath (exit status, requests, buffers).
    fn channel(channel: &Self::Channel) -> &Channel {
        Self::Runtime::driver_channel(channel)
    }

    /// The channel as a stream, read and written through the adapter's own
    /// I/O traits (bridged to `futures-io` if they are not those).
    fn io(channel: &Self::Channel) -> impl AsyncRead + AsyncWrite + Unpin + Send + '_;

    /// The adapter's zero-copy read of the channel's data.
    fn read_chunk(
        channel: &Self::Channel,
        max: usize,
    ) -> impl Future<Output = io::Result<Option<Bytes>>> + Send + '_;

    /// The adapter's stderr stream of the channel.
    fn stderr(channel: &Self::Channel) -> Self::Stderr;

    /// The stderr stream, read through the adapter's own I/O traits.
    fn stderr_io(stderr: &Self::Stderr) -> impl AsyncRead + Unpin + Send + '_;

    /// The adapter's zero-copy read of stderr data.
    fn read_stderr_chunk(
        stderr: &Self::Stderr,
        max: usize,
    ) -> impl Future<Output = io::Result<Option<Bytes>>> + Send + '_;

    /// Waits `duration` on the adapter's timer.
    fn sleep(duration: Duration) -> Sleep {
        Self::sleep_until(Instant::now() + duration)
    }

    /// Runs `future` on the adapter's runtime; the [`Task`] gives its
    /// output (or its panic).
    fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Task<T> {
        let task = Task::default();
        let done = task.state.clone();
        Self::spawn_detached(Box::pin(async move {
            let out = AssertUnwindSafe(future).catch_unwind().await;
            let mut state = lock(&done);
            state.out = Some(out);
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }));
        task
    }

    /// `f`, which must finish within `limit` or the test fails (a hang
    /// becomes a failure naming `what`).
    fn within<'a, T>(
        limit: Duration,
        what: &'a str,
        f: impl Future<Output = T> + Send + 'a,
    ) -> impl Future<Output = T> + Send + 'a {
        async move {
            let f = std::pin::pin!(f);
            match future::select(f, Self::sleep(limit)).await {
                Either::Left((out, _)) => out,
                Either::Right(_) => panic!("not done within {limit:?}: {what}"),
            }
        }
    }

    /// One step of a test, within [`STEP_TIMEOUT`].
    fn step<'a, T>(
        what: &'a str,
        f: impl Future<Output = T> + Send + 'a,
    ) -> impl Future<Output = T> + Send + 'a {
        Self::within(STEP_TIMEOUT, what, f)
    }

    /// Waits until `cond` holds, checking every few milliseconds; fails
    /// the test if it does not within `limit`.
    fn wait_for<'a>(
        what: &'a str,
        limit: Duration,
        mut cond: impl FnMut() -> bool + Send + 'a,
    ) -> impl Future<Output = ()> + Send + 'a {
        Self::within(limit, what, async move {
            while !cond() {
                Self::sleep(Duration::from_millis(5)).await;
            }
        })
    }
}

/// The output of a future [`Adapter::spawn`] runs: await it (a panic in
/// the task panics here), or see whether it has finished.
#[derive(Debug)]
pub struct Task<T> {
    state: Arc<Mutex<TaskState<T>>>,
}

#[derive(Debug)]
struct TaskState<T> {
    out: Option<thread::Result<T>>,
    waker: Option<Waker>,
}

impl<T> Default for Task<T> {
    fn default() -> Self {
        Task {
            state: Arc::new(Mutex::new(TaskState {
                out: None,
                waker: None,
            })),
        }
    }
}

fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Task<T> {
    /// Whether the task has finished (its output waits to be taken).
    pub fn is_finished(&self) -> bool {
        lock(&self.state).out.is_some()
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = lock(&self.state);
        match state.out.take() {
            Some(Ok(out)) => Poll::Ready(out),
            Some(Err(panicked)) => {
                drop(state);
                panic::resume_unwind(panicked)
            }
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Connects to `port` with `options` and logs in as [`USER`] with
/// [`PASSWORD`], each within [`STEP_TIMEOUT`].
pub async fn login<A: Adapter>(port: u16, options: ClientOptions) -> A::Session {
    let session = A::step("connect", A::connect(port, options))
        .await
        .expect("connect");
    A::step(
        "authenticate",
        A::session(&session).authenticate(USER, AuthMethods::new().password(PASSWORD)),
    )
    .await
    .expect("authenticate");
    session
}

/// Reads `reader` to its end (unbounded: the caller bounds it).
pub async fn read_all(mut reader: impl AsyncRead + Unpin + Send) -> Vec<u8> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.expect("read");
    out
}

/// Reads the channel to its end through the adapter's stream, within
/// [`STEP_TIMEOUT`].
pub async fn read_to_end<A: Adapter>(channel: &A::Channel) -> Vec<u8> {
    A::step("read to end", read_all(A::io(channel))).await
}

/// Reads the channel until its stream ends, counting in `progress`; the
/// bytes read and how the stream ended.
pub async fn read_counting<A: Adapter>(
    channel: &A::Channel,
    progress: &std::sync::atomic::AtomicUsize,
) -> (usize, io::Result<()>) {
    use std::sync::atomic::Ordering;
    let mut reader = A::io(channel);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return (progress.load(Ordering::Relaxed), Ok(())),
            Ok(n) => {
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return (progress.load(Ordering::Relaxed), Err(e)),
        }
    }
}

/// Reads the channel until its stream ends; the bytes and how it ended.
pub async fn read_until_end<A: Adapter>(channel: &A::Channel) -> (usize, io::Result<()>) {
    read_counting::<A>(channel, &std::sync::atomic::AtomicUsize::new(0)).await
}

/// What the process holds before a test's connections: the runtime's tasks
/// (where it counts them) and what [`Held`] counts.
#[derive(Debug)]
pub struct Baseline {
    tasks: Option<usize>,
    held: Held,
}

impl Baseline {
    /// What is held now, once earlier tests' connections have closed.
    pub fn now<A: Adapter>() -> Self {
        Baseline {
            held: Held::baseline(),
            tasks: A::alive_tasks(),
        }
    }

    /// Every connection the server accepted has ended (the server saw the
    /// socket close), and the tasks, fds and threads are back to the
    /// baseline.
    pub async fn assert_released<A: Adapter>(&self, served: &Served) {
        let sessions = served.sessions();
        assert!(!sessions.is_empty());
        for server in sessions {
            A::within(
                FAULT_NOTICE,
                "server sees the connection end",
                server.closed(),
            )
            .await;
        }
        self.assert_let_go::<A>().await;
    }

    /// The tasks, fds and threads are back to the baseline within
    /// [`FAULT_NOTICE`] (a served command may need a moment to reap its
    /// process; a task left behind would hold its socket).
    pub async fn assert_let_go<A: Adapter>(&self) {
        let settled = || A::alive_tasks() == self.tasks && self.held.released();
        for _ in 0..(FAULT_NOTICE.as_millis() / 10) {
            if settled() {
                return;
            }
            A::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            settled(),
            "left behind: {:?} tasks (baseline {:?}); {}",
            A::alive_tasks(),
            self.tasks,
            self.held.describe_left()
        );
    }
}
