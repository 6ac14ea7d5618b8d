//! An in-memory client/server pair: two [`Connection`]s in one process, the
//! bytes one transmits handed straight to the other's input, driven by the
//! loop contract written on [`Connection`].
//!
//! This is the bench-side driver (the idea of `core/tests/common`'s `Pair`,
//! without its logging): it copies nothing it does not have to, so what a
//! benchmark measures is the core. Time never moves (every call gets the same
//! `now`), so no timer fires; both RNGs are seeded, so runs repeat.

use std::sync::Arc;
use std::time::Instant;

use conch_core::{ClientConfig, Connection, Event, ServerConfig};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// What an application does with the events of its connection.
pub trait Application {
    /// Reacts to one event; answers are mutator calls on `conn`.
    fn on_event(&mut self, conn: &mut Connection, event: Event);
}

/// Bytes handed to `handle_input` per call at most, as a socket read of
/// 64 KiB would deliver them.
pub const DEFAULT_READ_SIZE: usize = 64 * 1024;

/// Drive rounds allowed before [`InMemoryPair::drive`] gives up: every round
/// moves all bytes in flight, so a healthy exchange needs a handful.
const MAX_ROUNDS: usize = 1_000_000;

/// A client and a server [`Connection`] joined in memory.
#[derive(Debug)]
pub struct InMemoryPair {
    /// The client end.
    pub client: Connection,
    /// The server end.
    pub server: Connection,
    /// Most bytes handed to one `handle_input` call.
    pub read_size: usize,
    now: Instant,
}

impl InMemoryPair {
    /// A fresh pair; `seed` seeds the client's RNG and `seed + 1` the
    /// server's.
    pub fn new(client: Arc<ClientConfig>, server: Arc<ServerConfig>, seed: u64) -> Self {
        // The core reads no clock; the driver takes one instant and never
        // moves it, so timers never fire during a benchmark.
        let now = Instant::now();
        InMemoryPair {
            client: Connection::client(client, Box::new(ChaCha20Rng::seed_from_u64(seed)), now),
            server: Connection::server(
                server,
                Box::new(ChaCha20Rng::seed_from_u64(seed.wrapping_add(1))),
                now,
            ),
            read_size: DEFAULT_READ_SIZE,
            now,
        }
    }

    /// Runs both ends until nothing moves: no event is left and no byte is
    /// in flight.
    ///
    /// # Panics
    ///
    /// After an absurd number of rounds (a livelock in the core or the apps).
    pub fn drive(&mut self, client_app: &mut dyn Application, server_app: &mut dyn Application) {
        for _ in 0..MAX_ROUNDS {
            let mut progress = drain_events(&mut self.client, client_app);
            progress |= drain_events(&mut self.server, server_app);
            progress |= pump(
                &mut self.client,
                &mut self.server,
                server_app,
                self.now,
                self.read_size,
            );
            progress |= pump(
                &mut self.server,
                &mut self.client,
                client_app,
                self.now,
                self.read_size,
            );
            if !progress {
                return;
            }
        }
        panic!(
            "drive: still busy after {MAX_ROUNDS} rounds: client {:?}, server {:?}",
            self.client, self.server
        );
    }
}

/// Hands every pending event of `conn` to `app`; returns whether there was one.
fn drain_events(conn: &mut Connection, app: &mut dyn Application) -> bool {
    let mut any = false;
    while let Some(event) = conn.poll_event() {
        any = true;
        app.on_event(conn, event);
    }
    any
}

/// Moves everything `from` transmits into `to`, `read_size` bytes per input
/// call, draining `to`'s events after each call as an adapter would. Returns
/// whether any byte moved.
fn pump(
    from: &mut Connection,
    to: &mut Connection,
    to_app: &mut dyn Application,
    now: Instant,
    read_size: usize,
) -> bool {
    let mut moved = false;
    while let Some(bytes) = from.poll_transmit() {
        let n = bytes.len().min(read_size.max(1));
        if to.error().is_none() {
            // An input error ends `to`; its app learns it from
            // `Event::Disconnected`, and the bytes after it are dropped as
            // a closed socket would drop them.
            let _ = to.handle_input(now, &bytes[..n]);
        }
        from.consume_transmit(n);
        drain_events(to, to_app);
        moved = true;
    }
    if from.is_closed() && to.error().is_none() {
        // `from` closed its socket: `to` reads EOF.
        to.handle_eof(now);
        drain_events(to, to_app);
        moved = true;
    }
    moved
}
