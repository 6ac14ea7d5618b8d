//! The scenarios the benchmarks and the allocation test run: a connected
//! pair with exec'd sessions, a bulk download through them, and a whole
//! session from the first byte to the last.

use std::sync::Arc;

use conch_core::{ChannelId, ClientConfig, PrivateKey, ServerConfig};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::apps::{BenchClient, BenchServer, ExecBehaviour, Login};
use crate::packet::Protection;
use crate::pair::{in_memory_pair, InMemoryPair};

/// The user every scenario logs in as.
pub const USER: &str = "bench";
/// The password the server accepts.
pub const PASSWORD: &str = "correct horse battery staple";
/// What the server writes in answer to an exec in a whole session.
pub const ANSWER: &[u8] = b"hello from conch\n";
/// Most bytes the server application hands to one `send_data` call in a
/// download, as a server relaying a file or a pipe in 64 KiB reads would.
pub const DEFAULT_WRITE_SIZE: usize = 64 * 1024;

/// Configurations and keys, made once and shared by every pair.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Client configuration (defaults).
    pub client: Arc<ClientConfig>,
    /// Server configuration (defaults, one Ed25519 host key).
    pub server: Arc<ServerConfig>,
    /// The user's Ed25519 key, authorized on the server.
    pub user_key: Arc<PrivateKey>,
    /// The only cipher (and MAC) offered, when pinned.
    pub protection: Option<Protection>,
}

impl Default for Fixture {
    fn default() -> Self {
        let host_key = PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(0x4057));
        let user_key = PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(0x0005e7));
        Fixture {
            client: Arc::new(ClientConfig::default()),
            server: Arc::new(ServerConfig::new(vec![host_key])),
            user_key: Arc::new(user_key),
            protection: None,
        }
    }
}

impl Fixture {
    /// Default configurations with only `protection` offered on both sides,
    /// so the pair negotiates it.
    pub fn pinned(protection: Protection) -> Self {
        let mut fixture = Fixture::default();
        let mut client = (*fixture.client).clone();
        let mut server = (*fixture.server).clone();
        for algorithms in [
            &mut client.transport.algorithms,
            &mut server.transport.algorithms,
        ] {
            algorithms.cipher = vec![protection.cipher.name().to_string()];
            if let Some(mac) = protection.mac {
                algorithms.mac = vec![mac.name().to_string()];
            }
        }
        fixture.client = Arc::new(client);
        fixture.server = Arc::new(server);
        fixture.protection = Some(protection);
        fixture
    }

    /// The client application for this login.
    pub fn client_app(&self, login: LoginKind, sessions: usize, command: &[u8]) -> BenchClient {
        let login = match login {
            LoginKind::Password => Login::Password(PASSWORD.to_string()),
            LoginKind::PublicKey => Login::PublicKey(self.user_key.clone()),
        };
        BenchClient::new(USER, login, sessions, command)
    }

    /// The server application, accepting both the password and the key.
    pub fn server_app(&self, exec: ExecBehaviour) -> BenchServer {
        BenchServer::new(
            USER,
            Some(PASSWORD),
            Some(self.user_key.public_key().clone()),
            exec,
        )
    }
}

/// Which method a scenario logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// `password`.
    Password,
    /// `publickey` with an Ed25519 key.
    PublicKey,
}

impl LoginKind {
    /// A short label for benchmark names.
    pub fn label(self) -> &'static str {
        match self {
            LoginKind::Password => "password",
            LoginKind::PublicKey => "publickey-ed25519",
        }
    }
}

/// A logged-in pair with `sessions` session channels whose exec the server
/// confirmed and holds open, ready for [`Connected::download`].
#[derive(Debug)]
pub struct Connected {
    /// Both connections and their applications.
    pub pair: InMemoryPair,
    /// Most bytes handed to one `send_data` call in
    /// [`Connected::download`] ([`DEFAULT_WRITE_SIZE`]). The pair moves
    /// everything sent between two drives in one read, so with one channel
    /// this is also the size of the client's reads.
    pub write_size: usize,
    /// Per-channel bytes still to send in the running download.
    remaining: Vec<u64>,
}

impl Connected {
    /// Handshake, password login and `sessions` exec'd channels.
    ///
    /// # Panics
    ///
    /// If any step fails.
    pub fn new(fixture: &Fixture, sessions: usize, seed: u64) -> Self {
        let client = fixture.client_app(LoginKind::Password, sessions, b"download");
        let server = fixture.server_app(ExecBehaviour::Hold);
        let pair = driven_pair(fixture, client, server, seed, "setup");
        let (client, server) = (&pair.client_app, &pair.server_app);
        assert_eq!(client.ready.len(), sessions, "not every exec confirmed");
        assert_eq!(server.exec_channels.len(), sessions);
        if let Some(p) = fixture.protection {
            let negotiated = client.negotiated.as_ref().expect("a key exchange happened");
            assert_eq!(negotiated.cipher_s2c, p.cipher.name());
            if let Some(mac) = p.mac {
                assert_eq!(negotiated.mac_s2c, mac.name());
            }
        }
        Connected {
            pair,
            write_size: DEFAULT_WRITE_SIZE,
            remaining: Vec::with_capacity(sessions),
        }
    }

    /// The server sends `per_channel` bytes on every exec'd channel (taken
    /// from `source` over and over, at most `write_size` bytes per call),
    /// the client consumes them as they arrive; returns when all arrived.
    /// Channels are served round robin, one call each, as far as windows
    /// and the send buffer let each call go, then the pair is driven.
    ///
    /// # Panics
    ///
    /// If the bytes do not all arrive.
    pub fn download(&mut self, per_channel: u64, source: &[u8]) {
        assert!(!source.is_empty());
        let before = self.pair.client_app.total_received();
        self.remaining.clear();
        self.remaining
            .resize(self.pair.server_app.exec_channels.len(), per_channel);
        let mut stalled_rounds = 0;
        while self.remaining.iter().any(|&r| r > 0) {
            let mut sent_any = false;
            for i in 0..self.remaining.len() {
                let channel = self.pair.server_app.exec_channels[i];
                let left = self.remaining[i];
                if left == 0 {
                    continue;
                }
                let n = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(source.len())
                    .min(self.write_size);
                let taken = send(&mut self.pair, channel, &source[..n]);
                self.remaining[i] -= taken as u64;
                sent_any |= taken > 0;
            }
            self.pair.drive();
            stalled_rounds = if sent_any { 0 } else { stalled_rounds + 1 };
            assert!(stalled_rounds < 3, "download stalled: {:?}", self.pair);
        }
        let (client, server) = (&self.pair.client_app, &self.pair.server_app);
        let total = per_channel * server.exec_channels.len() as u64;
        assert_eq!(client.total_received() - before, total);
        assert!(client.failures.is_empty(), "{:?}", client.failures);
        assert!(server.failures.is_empty(), "{:?}", server.failures);
    }
}

/// A pair of `fixture`'s configurations with these applications, driven
/// until nothing moves; panics if either application saw a failure
/// (`what` names the step).
fn driven_pair(
    fixture: &Fixture,
    client: BenchClient,
    server: BenchServer,
    seed: u64,
    what: &str,
) -> InMemoryPair {
    let (c, s) = (fixture.client.clone(), fixture.server.clone());
    let mut pair = in_memory_pair(c, s, client, server, seed);
    pair.drive();
    let (client, server) = (&pair.client_app, &pair.server_app);
    assert!(
        client.failures.is_empty() && server.failures.is_empty(),
        "{what} failed: client {:?}, server {:?}",
        client.failures,
        server.failures
    );
    pair
}

fn send(pair: &mut InMemoryPair, channel: ChannelId, data: &[u8]) -> usize {
    pair.server
        .conn
        .send_data(channel, data)
        .unwrap_or_else(|e| panic!("send_data on {channel}: {e}"))
}

/// One whole session: key exchange, login with `login`, one session channel
/// exec'ing a command that answers [`ANSWER`] and exits 0, the channel
/// closes, the client disconnects. Returns the client application so a
/// caller can look at what happened.
///
/// # Panics
///
/// If the session does not go exactly so.
pub fn whole_session(fixture: &Fixture, login: LoginKind, seed: u64) -> BenchClient {
    let mut client = fixture.client_app(login, 1, b"greet");
    client.disconnect_when_closed = true;
    let server = fixture.server_app(ExecBehaviour::Answer(ANSWER.to_vec()));
    let pair = driven_pair(fixture, client, server, seed, "session");
    let (client, server) = (&pair.client_app, &pair.server_app);
    assert_eq!(client.total_received(), ANSWER.len() as u64);
    assert_eq!(client.exit_statuses, [0]);
    assert_eq!(client.closed, 1);
    assert!(matches!(
        client.disconnected,
        Some(conch_core::Error::Closed(_))
    ));
    assert!(
        server.disconnected.is_some(),
        "the server did not see the end"
    );
    assert!(pair.client.conn.is_closed() && pair.server.conn.is_closed());
    pair.client_app
}
