//! The pair itself: two endpoints, two pipes, a virtual clock, and the
//! drive loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_core::{ChannelId, ClientConfig, Connection, Error, Event, ServerConfig};

use super::role_calls::RoleCalls;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::client_app::ClientApp;
use super::endpoint::{App, Endpoint};
use super::server_app::ServerApp;
use super::taps::{Direction, Pipe, Tap, Transcript};
use super::{base_instant, client_config, server_config, MAX_ROUNDS, PASSWORD, USER};

/// A client and a server joined in memory.
pub struct Pair {
    /// Client end.
    pub client: Endpoint,
    /// Server end.
    pub server: Endpoint,
    /// Client application.
    pub client_app: ClientApp,
    /// Server application.
    pub server_app: ServerApp,
    /// Client to server bytes.
    pub c2s: Pipe,
    /// Server to client bytes.
    pub s2c: Pipe,
    /// Deliver input in pieces of this many bytes (`None`: all at once).
    pub chunk: Option<usize>,
    /// Drain the receiver after every piece (the adapter contract). When
    /// false, all pieces of a delivery are fed before draining, which
    /// isolates how the input parser copes with the split.
    pub drain_between_chunks: bool,
    /// Sees and may change every byte in flight.
    pub tap: Option<Box<dyn Tap>>,
    /// Call `handle_eof` on a side once its peer is closed and drained,
    /// as a socket would report it.
    pub propagate_close: bool,
    base: Instant,
    elapsed: Duration,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// Default configurations, seeds 1 (client) and 2 (server).
    pub fn new() -> Self {
        Self::with_configs(client_config(), server_config())
    }

    /// These configurations, seeds 1 and 2.
    pub fn with_configs(client: ClientConfig, server: ServerConfig) -> Self {
        Self::with_seeds(client, server, 1, 2)
    }

    /// These configurations and RNG seeds.
    pub fn with_seeds(
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
        Pair {
            client: Endpoint::new(client),
            server: Endpoint::new(server),
            client_app: ClientApp::default(),
            server_app: ServerApp::default(),
            c2s: Pipe::new(),
            s2c: Pipe::new(),
            chunk: None,
            drain_between_chunks: true,
            tap: None,
            propagate_close: true,
            base,
            elapsed: Duration::ZERO,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.base + self.elapsed
    }

    /// Time since the pair was made.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Moves the virtual clock forward (timers fire on the next drive).
    pub fn advance(&mut self, d: Duration) {
        self.elapsed += d;
    }

    /// SHA-256 of each direction so far.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            c2s: self.c2s.digest(),
            s2c: self.s2c.digest(),
            c2s_len: self.c2s.sent,
            s2c_len: self.s2c.sent,
        }
    }

    /// Runs until nothing moves: no event, no byte, no due timer.
    /// Panics if that takes more than [`MAX_ROUNDS`] rounds.
    pub fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if !self.step() {
                return;
            }
        }
        panic!(
            "drive: no quiescence after {MAX_ROUNDS} rounds (livelock?); \
             client {:?}, server {:?}, in flight c2s {} s2c {}",
            self.client.conn,
            self.server.conn,
            self.c2s.in_flight(),
            self.s2c.in_flight()
        );
    }

    /// One round; returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let now = self.now();
        let mut progress = false;
        progress |= fire_timer(&mut self.client, now);
        progress |= fire_timer(&mut self.server, now);
        progress |= pump(
            &mut self.client,
            &mut self.client_app,
            &mut self.c2s,
            &mut self.tap,
            Direction::ClientToServer,
        );
        progress |= pump(
            &mut self.server,
            &mut self.server_app,
            &mut self.s2c,
            &mut self.tap,
            Direction::ServerToClient,
        );
        progress |= deliver(
            &mut self.c2s,
            &mut self.server,
            &mut self.server_app,
            &mut self.s2c,
            &mut self.tap,
            Direction::ServerToClient,
            self.chunk,
            self.drain_between_chunks,
            now,
        );
        progress |= deliver(
            &mut self.s2c,
            &mut self.client,
            &mut self.client_app,
            &mut self.c2s,
            &mut self.tap,
            Direction::ClientToServer,
            self.chunk,
            self.drain_between_chunks,
            now,
        );
        if self.propagate_close {
            progress |= propagate_close(
                &self.client.conn,
                &self.c2s,
                &mut self.server,
                &mut self.server_app,
                &mut self.s2c,
                &mut self.tap,
                Direction::ServerToClient,
                now,
            );
            progress |= propagate_close(
                &self.server.conn,
                &self.s2c,
                &mut self.client,
                &mut self.client_app,
                &mut self.c2s,
                &mut self.tap,
                Direction::ClientToServer,
                now,
            );
        }
        progress
    }

    /// Drives the handshake up to [`Event::UserauthReady`] on the client;
    /// panics with both logs if it does not come.
    pub fn handshake(&mut self) {
        self.drive();
        assert!(
            self.client.saw(|e| matches!(e, Event::UserauthReady)),
            "handshake did not reach UserauthReady.\nclient log: {:#?}\nserver log: {:#?}\n\
             client errors: {:?}\nserver errors: {:?}",
            self.client.log,
            self.server.log,
            self.client.input_errors,
            self.server.input_errors,
        );
    }

    /// Handshake and password login; panics unless both sides agree it worked.
    pub fn connect(&mut self) {
        self.handshake();
        self.client
            .conn
            .auth_password(USER, PASSWORD)
            .expect("auth_password after UserauthReady");
        self.drive();
        self.assert_authenticated();
    }

    /// Both sides report a successful login.
    pub fn assert_authenticated(&self) {
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

    /// Opens a session channel and execs `command`; returns the client's id
    /// once the server confirmed the channel and the request succeeded.
    pub fn exec(&mut self, command: &str) -> ChannelId {
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

    /// Sends all of `data` on `ch` from the client, driving between calls
    /// when the window or send buffer is full.
    pub fn client_send_all(&mut self, ch: ChannelId, data: &[u8]) {
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

    /// Echoes `input` through `cat` with a client re-exchange after its
    /// first `split` bytes, then EOF: every byte comes back, the channel
    /// closes, and each side did one re-exchange (`what` names the case).
    pub fn echo_across_a_rekey(&mut self, what: &str, input: &[u8], split: usize) {
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

    /// After a client's input to `cat` (`ch`) and its EOF: the echo is all
    /// of `input`, after one re-exchange; then a disconnect closes both
    /// sides.
    pub fn assert_echoed_then_disconnect(&mut self, ch: ChannelId, input: &[u8]) {
        assert!(self.client_app.channel(ch).stdout == input);
        assert_eq!(self.client.rekeys(), 1);
        self.client.conn.disconnect("done");
        self.drive();
        assert!(self.client.conn.is_closed() && self.server.conn.is_closed());
    }

    /// Runs `handle_input` on the client directly (outside the pipes);
    /// `Err` with the fatal error the connection has ended with, if any.
    pub fn client_input(&mut self, data: &[u8]) -> Result<(), Error> {
        let now = self.now();
        self.client.conn.handle_input(now, data);
        self.client.conn.error().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// Runs `handle_input` on the server directly (outside the pipes), as
    /// [`Pair::client_input`].
    pub fn server_input(&mut self, data: &[u8]) -> Result<(), Error> {
        let now = self.now();
        self.server.conn.handle_input(now, data);
        self.server.conn.error().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// Asserts the applications made no failing calls.
    pub fn assert_no_app_errors(&self) {
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

    /// Asserts neither connection has failed.
    pub fn assert_alive(&self) {
        assert!(
            self.client.conn.error().is_none() && self.server.conn.error().is_none(),
            "connection failed: client {:?} / server {:?}",
            self.client.conn.error(),
            self.server.conn.error()
        );
    }
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

fn fire_timer(ep: &mut Endpoint, now: Instant) -> bool {
    match ep.conn.poll_timeout() {
        Some(t) if t <= now => {
            ep.timeouts_fired += 1;
            ep.conn.handle_timeout(now);
            if let Some(e) = ep.conn.error() {
                ep.record_error(e.clone());
            }
            // Progress is judged by the events and bytes it produced.
            false
        }
        _ => false,
    }
}

/// Drains `ep`'s events (into its application) and transmit (into `out`)
/// until both are empty. Returns whether anything came out.
fn pump(
    ep: &mut Endpoint,
    app: &mut dyn App,
    out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    dir: Direction,
) -> bool {
    let mut progress = false;
    loop {
        let mut any = false;
        while let Some(event) = ep.conn.poll_event() {
            any = true;
            ep.record_event(&event);
            app.on_event(&mut ep.conn, &event);
        }
        if !ep.stall_transmit && ep.take_transmit {
            ep.taken.clear();
            ep.conn.take_transmit(&mut ep.taken);
            if !ep.taken.is_empty() {
                ep.max_transmit_len = ep.max_transmit_len.max(ep.taken.len());
                out.push(dir, &ep.taken, tap);
                any = true;
            }
        } else if !ep.stall_transmit {
            while let Some(bytes) = ep.conn.poll_transmit() {
                let n = bytes.len();
                assert!(n > 0, "poll_transmit returned an empty slice");
                ep.max_transmit_len = ep.max_transmit_len.max(n);
                out.push(dir, bytes, tap);
                ep.conn.consume_transmit(n);
                any = true;
            }
        }
        if !any {
            return progress;
        }
        progress = true;
    }
}

/// Hands what is in flight in `pipe` to `rx`, in pieces of `chunk` bytes,
/// draining `rx` after each piece as an adapter would.
#[allow(clippy::too_many_arguments)]
fn deliver(
    pipe: &mut Pipe,
    rx: &mut Endpoint,
    rx_app: &mut dyn App,
    rx_out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    rx_dir: Direction,
    chunk: Option<usize>,
    drain_each: bool,
    now: Instant,
) -> bool {
    if pipe.blocked || pipe.in_flight.is_empty() {
        return false;
    }
    let data = std::mem::take(&mut pipe.in_flight);
    let size = chunk.unwrap_or(data.len()).max(1);
    for piece in data.chunks(size) {
        rx.input_calls += 1;
        rx.conn.handle_input(now, piece);
        if let Some(e) = rx.conn.error() {
            rx.record_error(e.clone());
        }
        if drain_each {
            pump(rx, rx_app, rx_out, tap, rx_dir);
        }
    }
    pump(rx, rx_app, rx_out, tap, rx_dir);
    pipe.delivered += data.len() as u64;
    // Reuse the allocation.
    if pipe.in_flight.is_empty() {
        pipe.in_flight = data;
        pipe.in_flight.clear();
    }
    true
}

#[allow(clippy::too_many_arguments)]
fn propagate_close(
    peer: &Connection,
    from_peer: &Pipe,
    rx: &mut Endpoint,
    rx_app: &mut dyn App,
    rx_out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    rx_dir: Direction,
    now: Instant,
) -> bool {
    if rx.eof_delivered || !peer.is_closed() || from_peer.in_flight() > 0 || from_peer.blocked {
        return false;
    }
    rx.eof_delivered = true;
    rx.conn.handle_eof(now);
    pump(rx, rx_app, rx_out, tap, rx_dir);
    true
}
