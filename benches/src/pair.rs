//! The benches' in-memory client/server pair: `conch-test-support`'s
//! [`Pair`](conch_test_support::Pair) with the bench applications on each
//! end, in its zero-copy mode, so what a benchmark measures is the core.
//!
//! The bytes one end transmits are taken whole with
//! [`Connection::take_transmit`] and handed to the other end's
//! [`Connection::handle_input_buf`], which decrypts them in that same
//! memory; the spare buffer it hands back is what the next
//! `take_transmit` swaps in. Nothing is copied between the two
//! connections, each direction's buffers are allocated once, and a read
//! costs one 40-byte allocation (the shared header `bytes` gives the
//! `BytesMut` made of a `Vec` when the first packet is split off it; an
//! adapter that reads into the `BytesMut` it got back keeps the header and
//! allocates nothing). Time never moves, so no timer fires; both RNGs are
//! seeded, so runs repeat.

use std::sync::Arc;

use conch_core::{ClientConfig, Connection, ServerConfig};
use conch_test_support::base_instant;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::apps::{BenchClient, BenchServer};

/// A client and a server [`Connection`] joined in memory, with the bench
/// applications.
pub type InMemoryPair = conch_test_support::Pair<BenchClient, BenchServer>;

/// A fresh zero-copy pair; `seed` seeds the client's RNG and `seed + 1`
/// the server's.
pub fn in_memory_pair(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    client_app: BenchClient,
    server_app: BenchServer,
    seed: u64,
) -> InMemoryPair {
    // The core reads no clock; the pair takes one instant and the benches
    // never move it.
    let now = base_instant();
    let client = Connection::client(client, Box::new(ChaCha20Rng::seed_from_u64(seed)), now);
    let server = Connection::server(
        server,
        Box::new(ChaCha20Rng::seed_from_u64(seed.wrapping_add(1))),
        now,
    );
    InMemoryPair::join(client, server, client_app, server_app, now).zero_copy()
}
