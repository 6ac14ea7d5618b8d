//! The scenarios the core's tests share, on the in-memory pair of
//! `conch-test-support` with this directory's scripted applications.

use std::sync::Arc;

use conch_core::{ChannelId, ClientConfig, Connection, Event, ServerConfig};
use conch_test_support::base_instant;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::client_app::ClientApp;
use super::role_calls::RoleCalls;
use super::server_app::ServerApp;
use super::{client_config, server_config, PASSWORD, USER};

/// The pair every scenario runs on.
pub type Pair = conch_test_support::Pair<ClientApp, ServerApp>;

/// Constructors and steps of the scenarios, on [`Pair`].
pub trait Scenario: Sized {
    /// Default configurations, seeds 1 (client) and 2 (server).
    fn new() -> Self {
        Self::with_configs(client_config(), server_config())
    }

    /// These configurations, seeds 1 and 2.
    fn with_configs(client: ClientConfig, server: ServerConfig) -> Self {
        Self::with_seeds(client, server, 1, 2)
    }

    /// These configurations and RNG seeds.
    fn with_seeds(
        client: ClientConfig,
        server: ServerConfig,
        client_seed: u64,
        server_seed: u64,
    ) -> Self;

    /// Handshake and password login; panics unless both sides agree it
    /// worked.
    fn connect(&mut self);

    /// Both sides report a successful login.
    fn assert_authenticated(&self);

    /// Opens a session channel and execs `command`; returns the client's
    /// id once the server confirmed the channel and the request succeeded.
    fn exec(&mut self, command: &str) -> ChannelId;

    /// Sends all of `data` on `ch` from the client, driving between calls
    /// when the window or send buffer is full.
    fn client_send_all(&mut self, ch: ChannelId, data: &[u8]);

    /// Echoes `input` through `cat` with a client re-exchange after its
    /// first `split` bytes, then EOF: every byte comes back, the channel
    /// closes, and each side did one re-exchange (`what` names the case).
    fn echo_across_a_rekey(&mut self, what: &str, input: &[u8], split: usize);

    /// After a client's input to `cat` (`ch`) and its EOF: the echo is all
    /// of `input`, after one re-exchange; then a disconnect closes both
    /// sides.
    fn assert_echoed_then_disconnect(&mut self, ch: ChannelId, input: &[u8]);

    /// Asserts the applications made no failing calls.
    fn assert_no_app_errors(&self);
}

impl Scenario for Pair {
    fn with_seeds(
        client: ClientConfig,
        server: ServerConfig,
        client_seed: u64,
        server_seed: u64,
    ) -> Self {
        let base = base_instant();
        let client = Connection::client(
            Arc::new(client),
            Box::new(ChaCha20Rng::seed_from_u64(client_seed)),
            base,
        );
        let server = Connection::server(
            Arc::new(server),
            Box::new(ChaCha20Rng::seed_from_u64(server_seed)),
            base,
        );
        Pair::join(
            client,
            server,
            ClientApp::default(),
            ServerApp::default(),
            base,
        )
    }

    fn connect(&mut self) {
        self.handshake();
        self.client
            .conn
            .auth_password(USER, PASSWORD)
            .expect("auth_password after UserauthReady");
        self.drive();
        self.assert_authenticated();
    }

    fn assert_authenticated(&self) {
        assert!(
            self.client.saw(|e| matches!(e, Event::AuthSuccess)),
            "client saw no AuthSuccess: {:#?}\nserver: {:#?}",
            self.client.log,
            self.server.log
        );
        assert!(
            self.server
                .saw(|e| matches!(e, Event::Authenticated { user } if user == USER)),
            "server saw no Authenticated: {:#?}",
            self.server.log
        );
        assert!(self.client.conn.is_authenticated());
        assert!(self.server.conn.is_authenticated());
    }

    fn exec(&mut self, command: &str) -> ChannelId {
        let ch = self.client.conn.open_session().expect("open_session");
        self.drive();
        assert!(
            self.client_app.channel(ch).opened,
            "channel {ch} not opened: {:#?}",
            self.client.log
        );
        self.client
            .conn
            .exec(ch, command.as_bytes())
            .expect("exec request");
        self.drive();
        assert_eq!(
            self.client_app.channel(ch).replies,
            vec![true],
            "exec {command:?} not confirmed"
        );
        ch
    }

    fn client_send_all(&mut self, ch: ChannelId, data: &[u8]) {
        let mut off = 0;
        let mut stalls = 0;
        while off < data.len() {
            let n = self
                .client
                .conn
                .send_data(ch, &data[off..])
                .expect("send_data");
            off += n;
            if n == 0 {
                stalls += 1;
                assert!(
                    stalls < 10_000,
                    "client_send_all: no progress sending on {ch} at {off}/{}",
                    data.len()
                );
            } else {
                stalls = 0;
            }
            self.drive();
        }
    }

    fn echo_across_a_rekey(&mut self, what: &str, input: &[u8], split: usize) {
        let ch = self.exec("cat");
        let (first, second) = input.split_at(split);
        self.client_send_all(ch, first);
        self.client.conn.rekey().unwrap();
        self.client_send_all(ch, second);
        self.client.conn.send_eof(ch).unwrap();
        self.drive();
        let log = self.client_app.channel(ch);
        assert!(log.closed, "{what}: channel not closed");
        assert!(log.stdout == input, "{what}: echo differs");
        assert_eq!(self.client.rekeys(), 1, "{what}");
        assert_eq!(self.server.rekeys(), 1, "{what}");
    }

    fn assert_echoed_then_disconnect(&mut self, ch: ChannelId, input: &[u8]) {
        assert!(self.client_app.channel(ch).stdout == input);
        assert_eq!(self.client.rekeys(), 1);
        self.client.conn.disconnect("done");
        self.drive();
        assert!(self.client.conn.is_closed() && self.server.conn.is_closed());
    }

    fn assert_no_app_errors(&self) {
        assert!(
            self.client_app.errors.is_empty(),
            "client app errors: {:?}",
            self.client_app.errors
        );
        assert!(
            self.server_app.errors.is_empty(),
            "server app errors: {:?}",
            self.server_app.errors
        );
    }
}
