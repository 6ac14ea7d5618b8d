//! Fixtures for the adapters' integration tests (feature `test-support`):
//! a server configuration with fixed keys and credentials, a handler that
//! runs commands with `sh -c`, and the commands the scenarios use. Each
//! adapter's tests bind its own listener and drive its own client API;
//! what they share lives here.
//!
//! For the fault tests (issue 6): peers that die or go silent
//! ([`FaultProxy`], [`ScriptedPeer`], [`UnacceptedListener`]), a server
//! that records what it accepted ([`Served`]), dropping futures at each
//! await point ([`cancel_after`]), and what a connection holds in the
//! process ([`Held`]).
//!
//! The scenarios themselves, written once for every async adapter:
//! [`sessions`] and [`faults`], over the adapter as an [`Adapter`]; what
//! their outcomes must look like, also for the blocking adapter: [`checks`].

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use conch_core::{AuthAttempt, AuthDecision, PrivateKey, Prompt, PublicKey, ServerConfig};

use crate::host_key::HostKeyPolicy;
use crate::options::{ClientOptions, ServerOptions};
use crate::server::{IncomingChannel, ServerHandler};

pub mod adapter;
pub mod checks;
pub mod faults;
pub mod sessions;
pub mod suites;

pub use adapter::{Adapter, AsyncRead, AsyncWrite, Baseline, DetachedTask, Task};

/// The test user.
pub const USER: &str = "alice";
/// The test user's password (also the keyboard-interactive answer).
pub const PASSWORD: &str = "correct horse battery staple";
/// Bound on every step of a test, so a bug fails the test instead of hanging it.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// A command printing more than a channel window (2 MiB by default), so an
/// unread channel running it stalls.
pub const FLOOD_COMMAND: &str = "head -c 8388608 /dev/zero";
/// The number of bytes [`FLOOD_COMMAND`] prints.
pub const FLOOD_LEN: usize = 8 * 1024 * 1024;
/// A command writing to stdout and stderr and exiting with status 3.
pub const STDERR_COMMAND: &str = "echo to-stdout; echo to-stderr >&2; exit 3";

/// Keys, options and credentials of an in-process test server.
#[derive(Debug)]
pub struct TestServer {
    /// Server options (handler included) for the adapter's listener.
    pub options: ServerOptions,
    /// The server's host key, which clients must trust.
    pub host_key: PublicKey,
    /// A key authorized for [`USER`].
    pub client_key: PrivateKey,
}

impl TestServer {
    /// A server with keys made from a fixed seed.
    pub fn new() -> Self {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x0c0c);
        let host = PrivateKey::generate_ed25519(&mut rng);
        let client_key = PrivateKey::generate_ed25519(&mut rng);
        let host_key = host.public_key().clone();
        let handler = TestHandler {
            authorized: client_key.public_key().clone(),
        };
        TestServer {
            options: ServerOptions::new(ServerConfig::new(vec![host]), handler),
            host_key,
            client_key,
        }
    }

    /// Client options that trust exactly this server's host key.
    pub fn client_options(&self) -> ClientOptions {
        let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([self.host_key.clone()]));
        options.config_mut().transport.handshake_timeout = Some(STEP_TIMEOUT);
        options.connect_timeout = Some(STEP_TIMEOUT);
        options
    }

    /// Serves a started channel: runs its command on a thread of its own
    /// ([`crate::process::spawn_command`]), for a caller with no runtime to
    /// spawn [`crate::process::serve_command`] on.
    pub fn serve(incoming: IncomingChannel) {
        crate::process::spawn_command(incoming);
    }
}

impl Default for TestServer {
    fn default() -> Self {
        Self::new()
    }
}

/// Accepts [`USER`] with [`PASSWORD`] (password or keyboard-interactive) or
/// the authorized key.
#[derive(Debug)]
pub struct TestHandler {
    authorized: PublicKey,
}

impl ServerHandler for TestHandler {
    fn auth(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        if user != USER {
            return AuthDecision::Reject;
        }
        match attempt {
            AuthAttempt::Password { password, .. } if password == PASSWORD => AuthDecision::Accept,
            AuthAttempt::PublicKey { key, .. } if *key == self.authorized => AuthDecision::Accept,
            AuthAttempt::KeyboardInteractive { responses, .. } if responses.is_empty() => {
                AuthDecision::InfoRequest {
                    name: String::new(),
                    instruction: String::new(),
                    prompts: vec![Prompt {
                        prompt: "Password: ".into(),
                        echo: false,
                    }],
                }
            }
            AuthAttempt::KeyboardInteractive { responses, .. }
                if responses.len() == 1 && responses[0] == PASSWORD =>
            {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }
}

// ---------------------------------------------------------------------
// Faults: peers that die, go silent or never answer (issue 6). Each
// adapter's `tests/faults.rs` drives its own client and listener through
// these; what they share is written here once.
// ---------------------------------------------------------------------

/// Time within which a fault (a dead socket, a timeout that fired) must
/// have reached every waiting call. Generous: it bounds a hang, it is not
/// a latency target.
pub const FAULT_NOTICE: Duration = Duration::from_secs(5);

/// The short timeouts the fault tests configure (connect, handshake, auth).
pub const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

/// Keepalive interval of the keepalive tests.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(200);

/// Unanswered keepalives before giving up, in the keepalive tests.
pub const KEEPALIVE_MAX: u32 = 2;

/// When a silent peer must have been noticed at the latest: after
/// [`KEEPALIVE_MAX`] unanswered keepalives, one interval apart, and one
/// more interval (plus [`FAULT_NOTICE`] of slack for a loaded machine).
pub fn keepalive_deadline() -> Duration {
    KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 1) + FAULT_NOTICE
}

/// The earliest a silent peer can be given up on, counted from when it
/// went silent: the last keepalive was answered at most an interval before,
/// then [`KEEPALIVE_MAX`] more go unanswered, one interval apart, before
/// the next tick gives up. Half an interval less, for a keepalive that left
/// late on a loaded machine; one interval less would be a client giving up
/// a keepalive too early.
pub fn keepalive_earliest() -> Duration {
    KEEPALIVE_INTERVAL * KEEPALIVE_MAX - KEEPALIVE_INTERVAL / 2
}

/// `options` with keepalives every [`KEEPALIVE_INTERVAL`], giving up after
/// [`KEEPALIVE_MAX`] unanswered (OpenSSH `ServerAliveInterval`/`CountMax`).
pub fn with_keepalive(mut options: ClientOptions) -> ClientOptions {
    let mut config = (*options.config).clone();
    config.transport.keepalive_interval = Some(KEEPALIVE_INTERVAL);
    config.transport.keepalive_max = KEEPALIVE_MAX;
    options.config = Arc::new(config);
    options
}

impl TestServer {
    /// The server options with their protocol settings changed by `edit`.
    pub fn options_with(&self, edit: impl FnOnce(&mut ServerConfig)) -> ServerOptions {
        let mut options = self.options.clone();
        let mut config = (*options.config).clone();
        edit(&mut config);
        options.config = Arc::new(config);
        options
    }

    /// The server options with keepalives every [`KEEPALIVE_INTERVAL`],
    /// giving up after [`KEEPALIVE_MAX`] unanswered.
    pub fn options_with_keepalive(&self) -> ServerOptions {
        self.options_with(|config| {
            config.transport.keepalive_interval = Some(KEEPALIVE_INTERVAL);
            config.transport.keepalive_max = KEEPALIVE_MAX;
        })
    }

    /// Client options with [`SHORT_TIMEOUT`] for connect, handshake and
    /// authentication.
    pub fn short_timeout_options(&self) -> ClientOptions {
        let mut options = self.client_options();
        options.connect_timeout = Some(SHORT_TIMEOUT);
        let config = options.config_mut();
        config.transport.handshake_timeout = Some(SHORT_TIMEOUT);
        config.auth_timeout = Some(SHORT_TIMEOUT);
        options
    }
}

/// A command printing [`OUTPUT_THEN_WAIT_LEN`] bytes, then waiting for its
/// stdin to end (which it does when the channel is gone): output the client
/// can hold unread while the connection is still up.
pub const OUTPUT_THEN_WAIT: &str = "head -c 1048576 /dev/zero; exec cat >/dev/null";
/// Bytes [`OUTPUT_THEN_WAIT`] prints.
pub const OUTPUT_THEN_WAIT_LEN: usize = 1024 * 1024;
/// A command echoing stdin, ending when the channel does.
pub const ECHO_COMMAND: &str = "exec cat";
/// An exec "command" the fault tests' server does not run but streams
/// itself, writing from this process until the channel fails (see
/// [`Served::stream_result`]).
pub const ENDLESS_STREAM: &str = "conch-test:endless-stream";

/// How a server-side stream to a client ended: the bytes written, and the
/// error that stopped it.
pub type StreamEnd = (u64, io::Error);

/// What the fault tests' server has accepted, for the test to inspect: the
/// sessions (to see them end), and the [`ENDLESS_STREAM`] writers.
#[derive(Debug, Clone, Default)]
pub struct Served {
    inner: Arc<Mutex<ServedState>>,
}

#[derive(Debug, Default)]
struct ServedState {
    sessions: Vec<crate::ServerSession>,
    streams: Vec<JoinHandle<StreamEnd>>,
}

impl Served {
    fn state(&self) -> MutexGuard<'_, ServedState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an accepted connection.
    pub fn session(&self, session: crate::ServerSession) {
        self.state().sessions.push(session);
    }

    /// Records an accepted connection and serves its channels as they come,
    /// until it ends: what an async adapter's accept loop runs for each
    /// connection, as a task of `A`'s runtime. Each command runs as a task
    /// of that runtime too ([`process::serve_command`]), not on a thread of
    /// its own, so a server holding many sessions holds no thread per
    /// command (as `conchd`); [`ENDLESS_STREAM`] as in [`Served::channel`].
    ///
    /// [`process::serve_command`]: crate::process::serve_command
    pub async fn serve_connection<A: Adapter>(self, session: crate::ServerSession) {
        self.session(session.clone());
        while let Some(incoming) = session.accept_channel().await {
            self.serve_channel(incoming, |incoming| {
                A::spawn_detached(Box::pin(crate::process::serve_command(incoming)));
            });
        }
    }

    /// Serves a started channel from a caller without a runtime (the
    /// blocking adapter's server accepts channels on plain threads, and
    /// there is no task to spawn `serve_command` as): [`ENDLESS_STREAM`] is
    /// written from a thread of this process until the channel fails,
    /// anything else runs as a command on a thread of its own
    /// ([`TestServer::serve`]).
    pub fn channel(&self, incoming: IncomingChannel) {
        self.serve_channel(incoming, TestServer::serve);
    }

    /// Starts [`ENDLESS_STREAM`]'s writer, or hands the command to
    /// `run_command`.
    fn serve_channel(&self, incoming: IncomingChannel, run_command: impl FnOnce(IncomingChannel)) {
        let endless =
            incoming.command == crate::SessionCommand::Exec(ENDLESS_STREAM.as_bytes().to_vec());
        if endless {
            let channel = incoming.channel;
            let writer = thread::spawn(move || stream_until_error(&channel));
            self.state().streams.push(writer);
        } else {
            run_command(incoming);
        }
    }

    /// The sessions accepted so far.
    pub fn sessions(&self) -> Vec<crate::ServerSession> {
        self.state().sessions.clone()
    }

    /// Whether an [`ENDLESS_STREAM`] writer has stopped; then its result.
    pub fn stream_result(&self) -> Option<StreamEnd> {
        let mut state = self.state();
        let finished = state.streams.iter().position(|h| h.is_finished())?;
        let handle = state.streams.remove(finished);
        drop(state);
        Some(handle.join().expect("stream writer panicked"))
    }
}

/// Writes zeros to `channel` until a write fails.
fn stream_until_error(channel: &crate::Channel) -> StreamEnd {
    use futures_util::io::AsyncWriteExt;
    let chunk = vec![0u8; 32 * 1024];
    let mut written = 0u64;
    loop {
        match crate::block_on::block_on((&mut &*channel).write(&chunk)) {
            Ok(0) => return (written, io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => written += n as u64,
            Err(e) => return (written, e),
        }
    }
}

/// Whether `e` says the connection to the peer is gone: the socket closed
/// or reset under a session (not a clean end of a channel).
pub fn is_connection_lost(e: &crate::Error) -> bool {
    matches!(
        e,
        crate::Error::Disconnected(conch_core::Error::ConnectionLost(_)) | crate::Error::Io(_)
    )
}

/// Whether an I/O error from a channel stream carries a lost connection.
pub fn io_is_connection_lost(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<crate::Error>())
        .is_some_and(is_connection_lost)
}

/// Whether `e` is the end of a connection whose peer left keepalives
/// unanswered.
pub fn is_keepalive_timeout(e: &crate::Error) -> bool {
    matches!(
        e,
        crate::Error::Disconnected(conch_core::Error::Timeout(
            conch_core::TimeoutKind::Keepalive
        ))
    )
}

/// Whether an I/O error from a channel stream carries a keepalive timeout.
pub fn io_is_keepalive_timeout(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<crate::Error>())
        .is_some_and(is_keepalive_timeout)
}

/// Serializes the tests of one test binary that count the process's file
/// descriptors (all of a `faults.rs`, so no other test opens sockets
/// meanwhile).
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The number of open file descriptors of this process (Linux).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// This process's TCP sockets that are not listening: connections, open or
/// already reset (Linux). What a finished connection must not leave.
pub fn connected_sockets() -> usize {
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN; field 9 the inode.
            if fields.get(3) == Some(&"0A") {
                if let Some(inode) = fields.get(9) {
                    listening.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.starts_with("socket:[") && !listening.contains(target))
        .count()
}

/// What connections hold in this process (fds, the blocking adapter's
/// pump threads), to check that a test's connections let go of all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Open file descriptors.
    pub fds: usize,
    /// `conch-read`/`conch-write` threads.
    pub pump_threads: usize,
}

impl Held {
    /// What is held now.
    pub fn now() -> Self {
        Held {
            fds: open_fds(),
            pump_threads: pump_threads(),
        }
    }

    /// What is held before a test's connections, taken once the connections
    /// of earlier tests in the process have closed (a task or thread may
    /// still be finishing one).
    pub fn baseline() -> Self {
        wait_until(FAULT_NOTICE, || connected_sockets() == 0);
        Self::now()
    }

    /// Whether everything taken since `self` has been let go: no
    /// connection's socket is open, and no more fds or pump threads are
    /// held (what earlier tests left may still close meanwhile, never open).
    pub fn released(&self) -> bool {
        let now = Self::now();
        connected_sockets() == 0 && now.fds <= self.fds && now.pump_threads <= self.pump_threads
    }

    /// What is left, for a failure message.
    pub fn describe_left(&self) -> String {
        format!(
            "{:?} held, {:?} before, {} connected sockets: {}",
            Self::now(),
            self,
            connected_sockets(),
            describe_threads_and_fds()
        )
    }
}

/// The number of this process's threads that run connections: the
/// blocking adapter's `conch-read` and `conch-write` pump threads (Linux).
/// (Other threads come and go with the test harness.)
pub fn pump_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.starts_with("conch-"))
        })
        .count()
}

/// This process's threads (by name) and file descriptors (by target),
/// for the message of a test that found something left behind.
pub fn describe_threads_and_fds() -> String {
    let list = |dir: &str, entry: &dyn Fn(&std::path::Path) -> String| -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| entry(&e.path()))
            .collect::<Vec<_>>()
    };
    let threads = list("/proc/self/task", &|p| {
        std::fs::read_to_string(p.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string()
    });
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let fds = list("/proc/self/fd", &|p| {
        let target = std::fs::read_link(p)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        // A TCP socket: its ports (hex) and state, from /proc/net/tcp.
        let inode = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'));
        let line = inode.and_then(|inode| {
            tcp.lines()
                .find(|l| l.split_whitespace().nth(9) == Some(inode))
        });
        match line {
            Some(l) => {
                let f: Vec<&str> = l.split_whitespace().collect();
                format!("{target} {} -> {} st {}", f[1], f[2], f[3])
            }
            None => target,
        }
    });
    format!("threads {threads:?}, fds {fds:?}")
}

/// Checks `cond` every few milliseconds until it holds or `limit` passes
/// (blocking the thread); whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A future that gives up on `future` at its `pendings + 1`-th `Pending`:
/// resolves to `None` there (and drops it), or to `Some(output)` if it
/// finished first. Running a call under `cancel_after(.., k)` for k = 0,
/// 1, 2, ... drops it at each of its await points in turn.
pub fn cancel_after<F: Future>(future: F, pendings: usize) -> CancelAfter<F> {
    CancelAfter {
        future: Some(Box::pin(future)),
        pendings_left: pendings,
    }
}

/// See [`cancel_after`].
pub struct CancelAfter<F> {
    future: Option<Pin<Box<F>>>,
    pendings_left: usize,
}

impl<F> std::fmt::Debug for CancelAfter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelAfter")
            .field("pendings_left", &self.pendings_left)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for CancelAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        use Poll;
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            self.future = None;
            return Poll::Ready(Some(out));
        }
        if self.pendings_left == 0 {
            // Dropped here, at its await point, as `select!` would.
            self.future = None;
            return Poll::Ready(None);
        }
        self.pendings_left -= 1;
        Poll::Pending
    }
}

/// Runs `call` on fresh sessions made by `session`, dropping it at its
/// first, second, ... await point until it completes (at most 200); after
/// each run `check` gets the session (then it is dropped). Returns how
/// many await points the call had. Bound the whole run with a timer.
pub async fn drop_at_every_await_point<S, Make, MakeFut, Call, CallFut, Check, CheckFut>(
    mut session: Make,
    mut call: Call,
    mut check: Check,
) -> usize
where
    S: Clone,
    Make: FnMut() -> MakeFut,
    MakeFut: Future<Output = S>,
    Call: FnMut(S) -> CallFut,
    CallFut: Future<Output = ()>,
    Check: FnMut(S) -> CheckFut,
    CheckFut: Future<Output = ()>,
{
    for k in 0..200 {
        let session = session().await;
        let finished = cancel_after(call(session.clone()), k).await.is_some();
        check(session).await;
        if finished {
            return k;
        }
    }
    panic!("the call never finished");
}

/// A TCP listener on loopback that never accepts: its backlog is full, so
/// the kernel drops further connection attempts and `connect` hangs
/// until the caller's timeout (Linux drops SYNs to a full accept queue).
#[derive(Debug)]
pub struct UnacceptedListener {
    listener: TcpListener,
    _queued: TcpStream,
}

impl UnacceptedListener {
    /// Binds it and fills its backlog.
    pub fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
        socket.bind(&any_port.into()).expect("bind");
        // A backlog of 0 holds one connection; the next is dropped.
        socket.listen(0).expect("listen");
        let listener: TcpListener = socket.into();
        let queued = TcpStream::connect(listener.local_addr().expect("address")).expect("fill");
        UnacceptedListener {
            listener,
            _queued: queued,
        }
    }

    /// The address nobody will be accepted on.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("address")
    }
}

impl Default for UnacceptedListener {
    fn default() -> Self {
        Self::new()
    }
}

/// A loopback peer that accepts connections and reads (and drops)
/// whatever arrives, after sending a fixed prefix, if any: a server that
/// never sends its identification, or one that stops after its KEXINIT.
/// It records whether the client closed each connection.
#[derive(Debug)]
pub struct ScriptedPeer {
    addr: SocketAddr,
    state: Arc<Mutex<ScriptedState>>,
}

#[derive(Debug, Default)]
struct ScriptedState {
    accepted: usize,
    closed_by_client: usize,
}

impl ScriptedPeer {
    /// A server that accepts and never says anything.
    pub fn silent() -> Self {
        Self::start(Vec::new(), false)
    }

    /// A server that sends its identification and KEXINIT (made by the
    /// core's own server) and then nothing more.
    pub fn stops_after_kexinit() -> Self {
        Self::start(Self::identification_and_kexinit(), false)
    }

    /// A server that sends its identification and KEXINIT, then dies
    /// (closes the connection) in the middle of the key exchange.
    pub fn dies_after_kexinit() -> Self {
        Self::start(Self::identification_and_kexinit(), true)
    }

    fn identification_and_kexinit() -> Vec<u8> {
        use rand_chacha::rand_core::SeedableRng;
        let rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x6b6578);
        let host = PrivateKey::generate_ed25519(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
        let now = Instant::now();
        let config = Arc::new(ServerConfig::new(vec![host]));
        let mut conn = conch_core::Connection::server(config, Box::new(rng), now);
        // The first entry with an RNG queues our KEXINIT after the
        // identification (RFC 4253 section 7.1).
        conn.handle_timeout(now);
        let mut prefix = Vec::new();
        while let Some(out) = conn.poll_transmit() {
            let n = out.len();
            prefix.extend_from_slice(out);
            conn.consume_transmit(n);
        }
        assert!(prefix.starts_with(b"SSH-2.0-") && prefix.len() > 100);
        prefix
    }

    fn start(prefix: Vec<u8>, then_die: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = Arc::<Mutex<ScriptedState>>::default();
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                lock_scripted(&shared).accepted += 1;
                let shared = shared.clone();
                let prefix = prefix.clone();
                thread::spawn(move || {
                    let _ = stream.write_all(&prefix);
                    if then_die {
                        // Let the client's first bytes arrive, then go.
                        thread::sleep(Duration::from_millis(50));
                        let _ = stream.shutdown(Shutdown::Both);
                        return;
                    }
                    let mut buf = [0u8; 4096];
                    // Read until the client closes (or resets) the socket.
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                    lock_scripted(&shared).closed_by_client += 1;
                });
            }
        });
        ScriptedPeer { addr, state }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether at least one connection was accepted and the client has
    /// closed every one.
    pub fn all_closed_by_client(&self) -> bool {
        let state = lock_scripted(&self.state);
        state.accepted > 0 && state.closed_by_client == state.accepted
    }
}

fn lock_scripted(state: &Mutex<ScriptedState>) -> MutexGuard<'_, ScriptedState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP proxy on loopback between a client and a server that the test can
/// cut ([`FaultProxy::kill`]: both sockets shut, as when a peer's process
/// dies) or freeze ([`FaultProxy::freeze`]: the sockets stay open and
/// nothing is forwarded any more, as when a peer hangs or a network path
/// goes dark). Dropping it kills it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
}

#[derive(Debug)]
struct ProxyShared {
    state: Mutex<ProxyState>,
}

#[derive(Debug, Default)]
struct ProxyState {
    frozen: bool,
    killed: bool,
    /// Client to server bytes forwarded.
    upstream: u64,
    /// Server to client bytes forwarded.
    downstream: u64,
    /// Connections whose client closed its side.
    closed_by_client: usize,
    accepted: usize,
    /// Every socket of every connection, to shut them on a kill.
    sockets: Vec<TcpStream>,
}

impl ProxyShared {
    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl FaultProxy {
    /// A proxy forwarding connections made to [`FaultProxy::addr`] to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let shared = Arc::new(ProxyShared {
            state: Default::default(),
        });
        let accept_shared = shared.clone();
        spawn_named("proxy-accept", move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if accept_shared.state().killed {
                    return;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let clones = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                );
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = clones else {
                    continue;
                };
                {
                    let mut state = accept_shared.state();
                    state.accepted += 1;
                    state.sockets.extend([c3, s3]);
                }
                let up = accept_shared.clone();
                spawn_named("proxy-up", move || forward(client, s2, &up, true));
                let down = accept_shared.clone();
                spawn_named("proxy-down", move || forward(server, c2, &down, false));
            }
        });
        FaultProxy { addr, shared }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts every connection down in both directions, as the kernel does
    /// for a process that dies: each side reads EOF, writes fail.
    pub fn kill(&self) {
        let sockets = {
            let mut state = self.shared.state();
            state.killed = true;
            std::mem::take(&mut state.sockets)
        };
        for s in sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// From now on forwards nothing in either direction, while keeping the
    /// connections open (what arrives is read and dropped).
    pub fn freeze(&self) {
        self.shared.state().frozen = true;
    }

    /// Client to server bytes forwarded so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.shared.state().upstream
    }

    /// Server to client bytes forwarded so far.
    pub fn downstream_bytes(&self) -> u64 {
        self.shared.state().downstream
    }

    /// Whether at least one connection was made and the client closed
    /// (or reset) every one.
    pub fn all_closed_by_client(&self) -> bool {
        let state = self.shared.state();
        state.accepted > 0 && state.closed_by_client == state.accepted
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.kill();
        // Wakes the accept loop so it sees the kill and ends.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Starts a thread with a name that shows in [`describe_threads_and_fds`].
fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("thread");
}

/// Copies `from` to `to` while the proxy forwards; `upstream` tells the
/// direction (client to server).
fn forward(mut from: TcpStream, mut to: TcpStream, shared: &ProxyShared, upstream: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        {
            let mut state = shared.state();
            if state.killed {
                return;
            }
            if state.frozen {
                continue;
            }
            if upstream {
                state.upstream += n as u64;
            } else {
                state.downstream += n as u64;
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
    let mut state = shared.state();
    if upstream && !state.killed {
        state.closed_by_client += 1;
    }
    if !state.killed && !state.frozen {
        // Pass the half-close on, as a kernel would.
        let _ = to.shutdown(Shutdown::Write);
    }
}
