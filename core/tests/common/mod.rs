//! The in-memory `Pair` harness: a client and a server [`Connection`] joined
//! by two byte pipes, with a virtual clock and a small scripted application
//! on each end. Modelled on quinn-proto's test `Pair`.
//!
//! Everything is driven from the test thread: nothing sleeps, nothing reads
//! the clock except once to get a base `Instant`, and both connections get
//! seeded RNGs, so a run is reproducible byte for byte.
//!
//! The drive loop follows the contract written on [`Connection`]: after
//! every input or mutator call, drain `poll_event` (handing each event to the
//! side's application, whose answers are mutator calls) and `poll_transmit`
//! (moving the bytes into the pipe towards the peer, then `consume_transmit`),
//! until a full round yields nothing; fire timers when the virtual clock has
//! passed `poll_timeout`.
#![allow(dead_code, unused_imports)]

mod client_app;
mod endpoint;
mod pair;
mod role_calls;
mod server_app;
mod taps;

use std::sync::OnceLock;
use std::time::Instant;

use conch_core::{ClientConfig, PrivateKey, ServerConfig};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

pub use client_app::{ClientApp, HostKeyPolicy};
pub use endpoint::{event_channel, App, ChannelLog, Endpoint};
pub use pair::Pair;
pub use role_calls::RoleCalls;
pub use server_app::{Command, ServerApp, ServerChannel, ECHO_GLOBAL_REQUEST};
pub use taps::{
    plaintext_ignore_packet, Direction, FlipByte, InjectAfterFirstPacket, Pipe, Tap, Transcript,
};

/// The user name every scenario logs in as.
pub const USER: &str = "alice";
/// The password the default server application accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// Seed of the server's host key.
pub const HOST_KEY_SEED: u64 = 0x5eed_0001;

/// Upper bound on drive rounds: a round moves every byte in flight, so a
/// healthy exchange needs far fewer. Hitting it means a livelock.
pub const MAX_ROUNDS: usize = 100_000;

// ----------------------------------------------------------------------
// Keys and configurations
// ----------------------------------------------------------------------

/// A deterministic Ed25519 key.
pub fn ed25519_key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// The server's host key.
pub fn host_key() -> PrivateKey {
    ed25519_key(HOST_KEY_SEED)
}

/// Default client configuration.
pub fn client_config() -> ClientConfig {
    ClientConfig::default()
}

/// Default server configuration with [`host_key`].
pub fn server_config() -> ServerConfig {
    ServerConfig::new(vec![host_key()])
}

/// `len` deterministic pseudo-random bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The one clock read of the whole test process, shared by every pair so
/// that two pairs fed the same offsets see identical `Instant`s.
fn base_instant() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    // The core never reads the clock; the harness reads it once for a base
    // and moves time only by explicit offsets from there.
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}

// ----------------------------------------------------------------------
// Sessions
// ----------------------------------------------------------------------

/// A [`Pair`] after the handshake and a password login ([`Pair::connect`]).
pub fn connected() -> Pair {
    let mut pair = Pair::new();
    pair.connect();
    pair
}
