//! An in-memory client/server pair: two [`Connection`]s in one process, the
//! bytes one transmits handed straight to the other's input, driven by the
//! loop contract written on [`Connection`].
//!
//! This is the bench-side driver (the idea of `core/tests/common`'s `Pair`,
//! without its logging): it copies nothing it does not have to, so what a
//! benchmark measures is the core. The bytes one end transmits are taken
//! whole with [`Connection::take_transmit`] and handed to the other end's
//! [`Connection::handle_input_buf`], which decrypts them in that same
//! memory; the spare buffer it hands back is what the next
//! `take_transmit` swaps in. Nothing is copied between the two
//! connections, each direction's buffers are allocated once, and a read
//! costs one 40-byte allocation (see `pump`). Time never moves (every call
//! gets the same `now`), so no timer fires; both RNGs are seeded, so runs
//! repeat.

use std::sync::Arc;
use std::time::Instant;

use conch_core::{BytesMut, ClientConfig, Connection, Event, ServerConfig};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// What an application does with the events of its connection.
pub trait Application {
    /// Reacts to one event; answers are mutator calls on `conn`.
    fn on_event(&mut self, conn: &mut Connection, event: Event);
}

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
    /// Client to server.
    to_server: Link,
    /// Server to client.
    to_client: Link,
    now: Instant,
}

/// One direction of the pair.
#[derive(Debug, Default)]
struct Link {
    /// The buffer the sender's next bytes are taken into.
    wire: Vec<u8>,
    /// Input calls made on the receiver.
    reads: u64,
}

impl InMemoryPair {
    /// A fresh pair; `seed` seeds the client's RNG and `seed + 1` the
    /// server's.
    pub fn new(client: Arc<ClientConfig>, server: Arc<ServerConfig>, seed: u64) -> Self {
        // The core reads no clock; the driver takes one instant and never
        // moves it, so timers never fire during a benchmark.
        let now = Instant::now();
        InMemoryPair {
            client: Connection::client(client, Box::new(ChaCha20Rng::seed_from_u64(seed)), now)
                .into(),
            server: Connection::server(
                server,
                Box::new(ChaCha20Rng::seed_from_u64(seed.wrapping_add(1))),
                now,
            )
            .into(),
            to_server: Link::default(),
            to_client: Link::default(),
            now,
        }
    }

    /// Input calls made so far, both ends together: each hands over all
    /// the bytes the other end had transmitted.
    pub fn reads(&self) -> u64 {
        self.to_server.reads + self.to_client.reads
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
                &mut self.to_server,
            );
            progress |= pump(
                &mut self.server,
                &mut self.client,
                client_app,
                self.now,
                &mut self.to_client,
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

/// Moves everything `from` transmits into `to` in one input call, then
/// drains `to`'s events as an adapter would. The link's buffer, empty, is
/// swapped with `from`'s transmit buffer, handed to `to` without a copy,
/// and replaced by the spare `to` hands back. Returns whether any byte
/// moved.
///
/// Each read costs one small allocation: the first packet `to` splits off
/// the `BytesMut` made of a `Vec` makes `bytes` allocate its shared header
/// (40 bytes), which goes again when the spare turns back into a `Vec` for
/// `take_transmit`. An adapter that reads into the `BytesMut` it got back
/// keeps the header, and allocates nothing.
fn pump(
    from: &mut Connection,
    to: &mut Connection,
    to_app: &mut dyn Application,
    now: Instant,
    link: &mut Link,
) -> bool {
    let mut moved = false;
    let wire = &mut link.wire;
    wire.clear();
    from.take_transmit(wire);
    if !wire.is_empty() {
        if to.error().is_none() {
            link.reads += 1;
            let mut input = into_bytes_mut(std::mem::take(wire));
            // An input error ends `to`; its app learns it from
            // `Event::Disconnected`, and the bytes after it are dropped as
            // a closed socket would drop them.
            to.handle_input_buf(now, &mut input);
            // The spare holds the previous read, whose payloads `to`'s app
            // has dropped: unshared, it turns into a `Vec` with no copy
            // and keeps its allocation.
            *wire = Vec::from(input);
        }
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

/// `vec` as a `BytesMut` in the same memory, with no copy and no
/// allocation: `BytesMut`'s `FromIterator` collects into a `Vec`, which
/// reuses the memory of the `Vec` it iterates over when it can (the
/// standard library's in-place collection). `Bytes::from(vec).try_into_mut()`
/// would keep the memory too, but allocates a header for the `Bytes`
/// whenever the `Vec` has spare capacity, which is nearly always.
fn into_bytes_mut(vec: Vec<u8>) -> BytesMut {
    vec.into_iter().collect()
}
