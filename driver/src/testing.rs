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

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use conch_core::{AuthAttempt, AuthDecision, PrivateKey, Prompt, PublicKey, ServerConfig};

use crate::host_key::HostKeyPolicy;
use crate::options::{ClientOptions, ServerOptions};
use crate::server::{IncomingChannel, ServerHandler};

pub mod adapter;
mod cancel;
pub mod checks;
pub mod faults;
mod peers;
mod resources;
pub mod sessions;
pub mod suites;

pub use adapter::{Adapter, AsyncRead, AsyncWrite, Baseline, DetachedTask, Task};
pub use cancel::*;
pub use peers::*;
pub use resources::*;

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
            terminals: true,
        };
        TestServer {
            options: ServerOptions::new(ServerConfig::new(vec![host]), handler),
            host_key,
            client_key,
        }
    }

    /// The same server refusing `pty-req`: an application that does not
    /// serve terminals.
    pub fn without_terminals() -> Self {
        let mut server = TestServer::new();
        let handler = TestHandler {
            authorized: server.client_key.public_key().clone(),
            terminals: false,
        };
        server.options = ServerOptions::new((*server.options.config).clone(), handler);
        server
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
    terminals: bool,
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

    /// Its commands run on real terminals ([`crate::process::serve_command`]).
    fn accept_pty(&self, _user: &str) -> bool {
        self.terminals
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
