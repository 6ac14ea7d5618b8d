//! The pair itself: two endpoints, two pipes, a virtual clock, an
//! application on each end, and the drive loop.

use std::time::{Duration, Instant};

use conch_core::{Connection, Error};

use crate::endpoint::{App, Endpoint};
use crate::pipe::{Direction, Pipe, Tap, Transcript};
use crate::MAX_ROUNDS;

/// A client and a server joined in memory, with applications `C` and `S`.
///
/// The drive loop follows the contract written on [`Connection`]: after
/// every input or mutator call, drain `poll_event` (handing each event to
/// the side's application, whose answers are mutator calls) and the
/// transmit buffer (into the pipe towards the peer), until a full round
/// yields nothing; fire timers when the virtual clock has passed
/// `poll_timeout`; report EOF to a side once its peer has closed and its
/// last bytes are delivered.
pub struct Pair<C, S> {
    /// Client end.
    pub client: Endpoint,
    /// Server end.
    pub server: Endpoint,
    /// Client application.
    pub client_app: C,
    /// Server application.
    pub server_app: S,
    /// Client to server bytes.
    pub c2s: Pipe,
    /// Server to client bytes.
    pub s2c: Pipe,
    /// Deliver input in pieces of this many bytes (`None`: all at once).
    /// Not with `input_buf`, which delivers all at once.
    pub chunk: Option<usize>,
    /// Drain the receiver after every piece (the adapter contract). When
    /// false, all pieces of a delivery are fed before draining, which
    /// isolates how the input parser copes with the split.
    pub drain_between_chunks: bool,
    /// Deliver with `handle_input_buf`, handing the receiver the sender's
    /// buffer (see [`Pair::zero_copy`]).
    pub input_buf: bool,
    /// Sees and may change every byte in flight.
    pub tap: Option<Box<dyn Tap>>,
    /// Call `handle_eof` on a side once its peer is closed and drained,
    /// as a socket would report it.
    pub propagate_close: bool,
    base: Instant,
    elapsed: Duration,
}

impl<C, S> std::fmt::Debug for Pair<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl<C: App, S: App> Pair<C, S> {
    /// `client` and `server` with their applications, the virtual clock at
    /// `base` (the instant both connections were made with). Events are
    /// logged, output moves with `poll_transmit`, input with `handle_input`
    /// all at once.
    pub fn join(
        client: impl Into<Connection>,
        server: impl Into<Connection>,
        client_app: C,
        server_app: S,
        base: Instant,
    ) -> Self {
        Pair {
            client: Endpoint::new(client),
            server: Endpoint::new(server),
            client_app,
            server_app,
            c2s: Pipe::new(),
            s2c: Pipe::new(),
            chunk: None,
            drain_between_chunks: true,
            input_buf: false,
            tap: None,
            propagate_close: true,
            base,
            elapsed: Duration::ZERO,
        }
    }

    /// The benchmarks' pair: nothing is copied between the two connections
    /// and nothing is recorded. Output is taken whole with
    /// `take_transmit` and handed to the peer's `handle_input_buf`, which
    /// decrypts it in that same memory; the spare it hands back is what
    /// the next `take_transmit` swaps in. Events are not logged (the apps
    /// get them and drop their payloads, which frees the spare) and the
    /// pipes keep no transcript. A read costs one small allocation: the
    /// first packet split off a `BytesMut` made of a `Vec` makes `bytes`
    /// allocate its shared header, which goes when the spare turns back
    /// into a `Vec`.
    pub fn zero_copy(mut self) -> Self {
        for ep in [&mut self.client, &mut self.server] {
            ep.take_transmit = true;
            ep.log_events = false;
        }
        self.c2s.drop_transcript();
        self.s2c.drop_transcript();
        self.input_buf = true;
        self
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

    /// Input calls made so far by the pipes, both ends together.
    pub fn reads(&self) -> u64 {
        (self.client.input_calls + self.server.input_calls) as u64
    }

    /// SHA-256 of each direction so far.
    ///
    /// # Panics
    ///
    /// On a [`Pair::zero_copy`] pair, which keeps no transcript.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            c2s: self.c2s.digest(),
            s2c: self.s2c.digest(),
            c2s_len: self.c2s.sent,
            s2c_len: self.s2c.sent,
        }
    }

    /// Runs until nothing moves: no event, no byte, no due timer.
    ///
    /// # Panics
    ///
    /// If that takes more than [`MAX_ROUNDS`] rounds (a livelock).
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
        use Direction::{ClientToServer as C2S, ServerToClient as S2C};
        let now = self.now();
        let delivery = Delivery {
            chunk: self.chunk,
            drain_each: self.drain_between_chunks,
            input_buf: self.input_buf,
            now,
        };
        let propagate = self.propagate_close;
        let Pair {
            client,
            server,
            client_app,
            server_app,
            c2s,
            s2c,
            tap,
            ..
        } = self;
        // Timer progress is judged by the events and bytes it produced.
        client.fire_timer(now);
        server.fire_timer(now);
        let mut progress = client.pump(client_app, c2s, C2S, tap);
        progress |= server.pump(server_app, s2c, S2C, tap);
        progress |= delivery.deliver(c2s, server, server_app, s2c, S2C, tap);
        progress |= delivery.deliver(s2c, client, client_app, c2s, C2S, tap);
        if propagate {
            progress |= propagate_close(c2s, client, server, server_app, s2c, S2C, tap, now);
            progress |= propagate_close(s2c, server, client, client_app, c2s, C2S, tap, now);
        }
        progress
    }

    /// Drives until the client reached `UserauthReady` (the handshake);
    /// panics with both logs if it does not come.
    pub fn handshake(&mut self) {
        self.drive();
        assert!(
            self.client
                .saw(|e| matches!(e, conch_core::Event::UserauthReady)),
            "handshake did not reach UserauthReady.\nclient log: {:#?}\nserver log: {:#?}\n\
             client errors: {:?}\nserver errors: {:?}",
            self.client.log,
            self.server.log,
            self.client.input_errors,
            self.server.input_errors,
        );
    }

    /// Runs `handle_input` on the client directly (outside the pipes): raw
    /// bytes from a peer that is not the server. `Err` with the fatal
    /// error the connection has ended with, if any.
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

/// How a round hands bytes in flight to the receiver.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    chunk: Option<usize>,
    drain_each: bool,
    input_buf: bool,
    now: Instant,
}

impl Delivery {
    /// Hands what is in flight in `pipe` to `rx`, in pieces of `chunk`
    /// bytes (draining `rx` after each piece as an adapter would), or all
    /// of it in the sender's own buffer with `input_buf`.
    fn deliver(
        self,
        pipe: &mut Pipe,
        rx: &mut Endpoint,
        rx_app: &mut dyn App,
        rx_out: &mut Pipe,
        rx_dir: Direction,
        tap: &mut Option<Box<dyn Tap>>,
    ) -> bool {
        if pipe.blocked || pipe.in_flight.is_empty() {
            return false;
        }
        if self.input_buf {
            let mut input = pipe.take_buf();
            rx.input_buf(self.now, &mut input);
            // The spare holds the previous read, whose payloads the app has
            // dropped: unshared, it turns back into a `Vec` with no copy.
            pipe.restore_buf(input);
            rx.pump(rx_app, rx_out, rx_dir, tap);
            return true;
        }
        let data = std::mem::take(&mut pipe.in_flight);
        let size = self.chunk.unwrap_or(data.len()).max(1);
        for piece in data.chunks(size) {
            rx.input(self.now, piece);
            if self.drain_each {
                rx.pump(rx_app, rx_out, rx_dir, tap);
            }
        }
        rx.pump(rx_app, rx_out, rx_dir, tap);
        pipe.delivered += data.len() as u64;
        // Reuse the allocation.
        if pipe.in_flight.is_empty() {
            pipe.in_flight = data;
            pipe.in_flight.clear();
        }
        true
    }
}

/// Reports EOF to `rx` once `peer` is closed and everything it sent through
/// `from_peer` was delivered, as a socket would.
#[allow(clippy::too_many_arguments)]
fn propagate_close(
    from_peer: &Pipe,
    peer: &Endpoint,
    rx: &mut Endpoint,
    rx_app: &mut dyn App,
    rx_out: &mut Pipe,
    rx_dir: Direction,
    tap: &mut Option<Box<dyn Tap>>,
    now: Instant,
) -> bool {
    if rx.eof_delivered || !peer.conn.is_closed() || from_peer.in_flight() > 0 || from_peer.blocked
    {
        return false;
    }
    rx.eof(now);
    rx.pump(rx_app, rx_out, rx_dir, tap);
    true
}
