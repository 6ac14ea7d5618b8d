//! # conch-core
//!
//! The SSH protocol (RFC 4251-4254 and the extensions OpenSSH speaks) as a
//! pure, deterministic state machine: a [`Connection`] consumes bytes and
//! emits bytes and [`Event`]s. It does no I/O, reads no clock and draws no OS
//! randomness: time is an argument and randomness comes from the RNG given at
//! construction, so the same seed and inputs give byte-identical output.
//! Runtime adapters (`conch-tokio`, `conch-smol`, `conch-blocking`) move the
//! bytes; see [`Connection`] for the loop every adapter follows.
//!
//! Layers, each in its own module:
//! - [`transport`]: identification, binary packets, key exchange (RFC 4253);
//! - [`auth`]: user authentication (RFC 4252, RFC 4256);
//! - [`channel`]: channels and requests (RFC 4254);
//! - [`crypto`]: the algorithm provider behind small traits;
//! - [`keys`]: public/private keys and signatures;
//! - [`wire`]: the SSH data types (RFC 4251 section 5);
//! - [`record`]: transcripts of a connection's calls, and their replay.
//!
//! ## Cargo features
//!
//! - `ring` (off by default): adds `cipher::ring` and
//!   `CryptoProvider::ring()`, the default [`crypto::CryptoProvider`] with
//!   `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com` implemented by
//!   the `ring` crate's assembly (about six times faster than pure Rust).
//!   `cipher::ring` also has ring's `chacha20-poly1305@openssh.com`, which
//!   the provider leaves out: it is not faster for bulk data. Same names,
//!   same order, byte-identical packets: select it per
//!   connection with [`TransportConfig::crypto`]. Only ring's AEAD code is
//!   used (no OS randomness). Unlike the pure-Rust ciphers, ring's expanded
//!   keys are freed but not wiped when a connection drops or re-keys.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod auth;
pub mod channel;
pub mod cipher;
mod command;
pub mod config;
mod connection;
pub mod crypto;
pub mod error;
pub mod event;
pub mod forward;
pub mod kex;
pub mod keys;
pub mod known_hosts;
pub mod msg;
mod outbox;
pub mod record;
pub mod transport;
pub mod wire;

pub use auth::AuthDecision;
pub use channel::ChannelPhase;
pub use command::{Applied, Command};
pub use config::{
    AlgorithmPreferences, ChannelConfig, ClientConfig, ServerConfig, TransportConfig,
};
pub use connection::{ChannelMut, ChannelRef, ClientConnection, Connection, Rng, ServerConnection};
pub use error::{
    ApiMisuse, DisconnectReason, Error, PeerIncompatible, PeerMisbehaved, TimeoutKind,
};
pub use event::{
    AuthAttempt, ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest, Event,
    NegotiatedAlgorithms, Prompt, WindowSize,
};
pub use forward::{Forward, ForwardChannel};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use transport::Side;

// `bytes` is part of the API (payloads are `Bytes`, `handle_input_buf`
// takes a `BytesMut`): re-exported so callers need not pin the same version.
pub use bytes::{Bytes, BytesMut};

/// The origin of the unit tests' virtual clocks. Tests need one real
/// `Instant` to start from; this is the crate's only clock read, and it is
/// compiled into test builds only (every later time is derived from it).
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
pub(crate) fn test_epoch() -> std::time::Instant {
    std::time::Instant::now()
}
