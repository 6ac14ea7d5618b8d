//! Recording sessions to transcript files (`conch_core::record`): which
//! sessions record and where, and the file the transcript is appended to as
//! the session runs.
//!
//! A session records when its options name a file
//! ([`crate::ClientOptions::record`], [`crate::ServerOptions::record`]) or,
//! failing that, when the environment variable [`RECORD_ENV`]
//! (`CONCH_RECORD=PATH`) is set. A client writes `PATH` (further client
//! sessions of the same process recording to the same path write `PATH.2`,
//! `PATH.3`, ...); a server writes one file per connection, `PATH.1`,
//! `PATH.2`, ... in the order the process accepted them. Files are created readable by their owner only
//! (on Unix): **a transcript lets anyone decrypt the session it records**,
//! and a server's holds its host private keys.
//!
//! The bytes are written after every round of calls (each time the driver
//! drains the connection's events), so a transcript is complete up to the
//! last round even if the process dies. If writing fails, recording stops
//! and the session goes on; the transcript then ends early.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use conch_core::{ClientConfig, Connection, ServerConfig};

use crate::options::rng_from_seed;

/// The environment variable that turns recording on: `CONCH_RECORD=PATH`.
pub const RECORD_ENV: &str = "CONCH_RECORD";

/// Server connections recorded by this process so far, for `PATH.N`.
static SERVER_RECORDINGS: AtomicU64 = AtomicU64::new(0);

/// Paths client sessions of this process have recorded to.
static CLIENT_PATHS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// `path`, or `path.N` (N = 2, 3, ...) if a client session of this process
/// has recorded to it already, so that no session overwrites another's.
fn fresh_client_path(path: PathBuf) -> PathBuf {
    let mut used = CLIENT_PATHS.lock().unwrap_or_else(|e| e.into_inner());
    let chosen = std::iter::once(path.clone())
        .chain((2..).map(|n| numbered(&path, n)))
        .find(|p| !used.contains(p))
        .unwrap_or(path);
    used.push(chosen.clone());
    chosen
}

/// `path.n`.
fn numbered(path: &Path, n: u64) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// An open transcript file.
#[derive(Debug)]
pub(crate) struct TranscriptFile {
    /// `None` once a write has failed: recording stopped.
    file: Option<File>,
}

impl TranscriptFile {
    fn create(path: &Path) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot record the session to {}: {e}", path.display()),
            )
        })?;
        Ok(TranscriptFile { file: Some(file) })
    }

    /// Appends what `conn` recorded since the last call.
    pub(crate) fn write_from(&mut self, conn: &mut Connection) {
        let bytes = conn.take_transcript();
        if bytes.is_empty() {
            return;
        }
        if let Some(file) = &mut self.file {
            if file.write_all(&bytes).is_err() {
                self.file = None;
            }
        }
    }
}

/// Where the session should record: the option, else `CONCH_RECORD`.
fn record_path(option: &Option<PathBuf>) -> Option<PathBuf> {
    option.clone().or_else(|| {
        std::env::var_os(RECORD_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// A client connection, recording if asked to. An `Err` means recording
/// was asked for and the file could not be created: the session must fail
/// with it rather than run unrecorded.
pub(crate) fn client_connection(
    config: &Arc<ClientConfig>,
    record: &Option<PathBuf>,
    seed: [u8; 32],
) -> (Connection, Option<io::Result<TranscriptFile>>) {
    let now = Instant::now();
    let Some(path) = record_path(record) else {
        return (
            Connection::client(config.clone(), rng_from_seed(seed), now).into(),
            None,
        );
    };
    let conn = Connection::client_recorded(config.clone(), seed, now).into();
    let path = fresh_client_path(path);
    (conn, Some(TranscriptFile::create(&path)))
}

/// A server connection, recording to `PATH.N` if asked to (see
/// [`client_connection`]).
pub(crate) fn server_connection(
    config: &Arc<ServerConfig>,
    record: &Option<PathBuf>,
    seed: [u8; 32],
) -> (Connection, Option<io::Result<TranscriptFile>>) {
    let now = Instant::now();
    let unrecorded = || Connection::server(config.clone(), rng_from_seed(seed), now).into();
    let Some(path) = record_path(record) else {
        return (unrecorded(), None);
    };
    let n = SERVER_RECORDINGS.fetch_add(1, Ordering::Relaxed) + 1;
    match Connection::server_recorded(config.clone(), seed, now) {
        Ok(conn) => (
            conn.into(),
            Some(TranscriptFile::create(&numbered(&path, n))),
        ),
        Err(e) => (
            unrecorded(),
            Some(Err(io::Error::other(format!(
                "cannot record the session: a host key cannot be encoded: {e}"
            )))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use conch_core::record::{self, Transcript};
    use conch_core::{AuthAttempt, AuthDecision, PrivateKey, ServerConfig, Side};

    use super::*;
    use crate::{AuthMethods, ClientOptions, Engine, HostKeyPolicy, ServerHandler, ServerOptions};

    struct PasswordOnly;

    impl ServerHandler for PasswordOnly {
        fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
            match attempt {
                AuthAttempt::Password { password, .. } if password == "pw" => AuthDecision::Accept,
                _ => AuthDecision::Reject,
            }
        }
    }

    /// Moves every byte each engine has for the other; whether any moved.
    fn shuttle(a: &Engine, b: &Engine) -> bool {
        let mut moved = false;
        let mut buf = Vec::new();
        for (from, to) in [(a, b), (b, a)] {
            loop {
                from.take_transmit(&mut buf);
                if buf.is_empty() {
                    break;
                }
                to.input(&buf);
                moved = true;
            }
        }
        // What a thread-based pump does once the connection has ended.
        for engine in [a, b] {
            if engine.should_close() {
                engine.finished();
            }
        }
        moved
    }

    /// Polls `future` while shuttling bytes, until it is ready.
    fn run<T>(a: &Engine, b: &Engine, future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            shuttle(a, b);
        }
        panic!("no progress");
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("conch-record-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn both_sides_record_a_session_that_replays() {
        use rand_chacha::rand_core::SeedableRng;
        let dir = scratch("both");
        let host = PrivateKey::generate_ed25519(&mut rand_chacha::ChaCha20Rng::seed_from_u64(1));
        // `run` shuttles bytes but runs no timer: failures (the client's
        // `none` probe) are answered at once.
        let mut config = ServerConfig::new(vec![host.clone()]);
        config.auth_failure_delay = None;
        let mut server_options = ServerOptions::new(config, PasswordOnly);
        server_options.record = Some(dir.join("server"));
        let mut client_options =
            ClientOptions::new(HostKeyPolicy::trust_keys([host.public_key().clone()]));
        client_options.record = Some(dir.join("client"));
        client_options.rng_seed = Some([9; 32]);

        let (_server, server_engine) = crate::server::server(&server_options);
        let (client, client_engine) =
            crate::session::client(&client_options, crate::ServerName::new("test", 22));
        run(&client_engine, &server_engine, client.handshake()).unwrap();
        run(
            &client_engine,
            &server_engine,
            client.authenticate("alice", AuthMethods::new().password("pw")),
        )
        .unwrap();
        run(&client_engine, &server_engine, client.close());
        drop(client);
        drop(client_engine);

        let client_bytes = std::fs::read(dir.join("client")).unwrap();
        let t = Transcript::decode(&client_bytes).unwrap();
        assert_eq!(t.header.config.side(), Side::Client);
        assert_eq!(
            t.header.seed,
            client_options.rng_seed.unwrap_or(t.header.seed)
        );
        let summary = record::replay(&client_bytes, Instant::now()).unwrap();
        assert!(summary.events >= 4, "{summary:?}");

        // The server's file is numbered per connection.
        let server_file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("server.")
            })
            .expect("server transcript");
        let server_bytes = std::fs::read(&server_file).unwrap();
        assert_eq!(
            Transcript::decode(&server_bytes)
                .unwrap()
                .header
                .config
                .side(),
            Side::Server
        );
        record::replay(&server_bytes, Instant::now()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&server_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "a transcript is readable by its owner only"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_client_session_to_the_same_path_gets_its_own_file() {
        let dir = scratch("twice");
        let path = dir.join("t.bin");
        assert_eq!(fresh_client_path(path.clone()), path);
        assert_eq!(fresh_client_path(path.clone()), dir.join("t.bin.2"));
        assert_eq!(fresh_client_path(path.clone()), dir.join("t.bin.3"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_transcript_that_cannot_be_created_fails_the_session() {
        let dir = scratch("fail");
        let mut options = ClientOptions::insecure_accept_any_host_key();
        options.record = Some(dir.join("no/such/dir/file"));
        let (session, _engine) = crate::session::client(&options, crate::ServerName::new("x", 22));
        let e = session.disconnect_reason().expect("ended at once");
        assert!(
            e.to_string().contains("cannot record the session to"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
