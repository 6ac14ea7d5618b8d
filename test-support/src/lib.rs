//! # conch-test-support
//!
//! Test fixtures shared by conch-core's integration tests, the benches, the
//! fuzz harness and the hostile peer, kept out of the production crate:
//!
//! - [`Pair`]: a client and a server [`Connection`] joined by two in-memory
//!   byte pipes, with a virtual clock, an application on each end, and the
//!   one drive loop of the workspace (modelled on quinn-proto's test
//!   `Pair`);
//! - [`Endpoint`]: one end, its connection and what it reported, with the
//!   loop contract's steps (deliver input, drain events into an [`App`],
//!   move the transmit buffer) that the pair, the hostile peer's victim and
//!   the fuzz driver are built from;
//! - [`Pipe`] and [`Tap`]: bytes in flight, their transcript, and taps that
//!   inject, drop or corrupt them.
//!
//! Everything is driven from the caller's thread: nothing sleeps, and the
//! clock is read at most once per process ([`base_instant`]), so a run with
//! seeded RNGs repeats byte for byte.
//!
//! The core's own unit tests (inside `conch-core`) cannot use this crate:
//! they would see a second copy of `conch-core`'s types.
//!
//! [`Connection`]: conch_core::Connection

mod endpoint;
mod pair;
mod pipe;

use std::sync::OnceLock;
use std::time::Instant;

pub use endpoint::{App, Endpoint};
pub use pair::Pair;
pub use pipe::{
    plaintext_ignore_packet, Direction, FlipByte, InjectAfterFirstPacket, Pipe, Tap, Transcript,
};

/// Upper bound on drive rounds: a round moves every byte in flight, so a
/// healthy exchange needs far fewer. Hitting it means a livelock.
pub const MAX_ROUNDS: usize = 100_000;

/// The one clock read of the whole process, shared by every pair so that
/// two pairs fed the same offsets see identical `Instant`s.
pub fn base_instant() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    // The core never reads the clock; the fixtures read it once for a base
    // and move time only by explicit offsets from there.
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}
