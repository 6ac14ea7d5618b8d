//! The core's scenarios on the in-memory pair of `conch-test-support` (a
//! client and a server `Connection` joined by two byte pipes, with a
//! virtual clock and the one drive loop): a small scripted application on
//! each end, keys, configurations and the steps the tests share.
//!
//! Both connections get seeded RNGs and the clock is read once for a base
//! `Instant`, so a run is reproducible byte for byte.
#![allow(dead_code, unused_imports)]

mod channel_log;
mod client_app;
mod role_calls;
mod scenario;
mod server_app;

use std::time::Instant;

use conch_core::{ClientConfig, PrivateKey, ServerConfig};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

pub use channel_log::{event_channel, ChannelLog};
pub use client_app::{ClientApp, HostKeyPolicy};
pub use conch_test_support::{
    base_instant, plaintext_ignore_packet, App, Direction, Endpoint, FlipByte,
    InjectAfterFirstPacket, Pipe, Tap, Transcript, MAX_ROUNDS,
};
pub use role_calls::RoleCalls;
pub use scenario::{Pair, Scenario};
pub use server_app::{Command, ServerApp, ServerChannel, ALLOCATED_PORT, ECHO_GLOBAL_REQUEST};

/// The user name every scenario logs in as.
pub const USER: &str = "alice";
/// The password the default server application accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// Seed of the server's host key.
pub const HOST_KEY_SEED: u64 = 0x5eed_0001;

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

/// An Ed25519 certificate authority (`ssh-keygen -t ed25519` for a CA).
pub fn ca_key(seed: u64) -> ssh_key::PrivateKey {
    let mut secret = [0u8; 32];
    ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut secret);
    let pair = ssh_key::private::Ed25519Keypair::from_seed(&secret);
    ssh_key::PrivateKey::new(ssh_key::private::KeypairData::Ed25519(pair), "ca").unwrap()
}

/// The CA's public key as Conch sees it.
pub fn ca_public(ca: &ssh_key::PrivateKey) -> conch_core::PublicKey {
    conch_core::PublicKey::from_blob(&ca.public_key().to_bytes().unwrap()).unwrap()
}

/// `key` with a certificate signed by `ca` (as `ssh-keygen -s ca [-h] -n
/// principals -V valid_after:valid_before`), using ssh-key's builder.
pub fn certify(
    key: &PrivateKey,
    ca: &ssh_key::PrivateKey,
    host: bool,
    principals: &[&str],
    window: (u64, u64),
) -> PrivateKey {
    let data = key.public_key().as_ssh_key().key_data().clone();
    let mut b = ssh_key::certificate::Builder::new([7u8; 16], data, window.0, window.1).unwrap();
    b.serial(99).unwrap();
    b.key_id("test key").unwrap();
    b.cert_type(if host {
        ssh_key::certificate::CertType::Host
    } else {
        ssh_key::certificate::CertType::User
    })
    .unwrap();
    for p in principals {
        b.valid_principal(*p).unwrap();
    }
    if principals.is_empty() {
        b.all_principals_valid().unwrap();
    }
    let cert = b.sign(ca).unwrap();
    let public = conch_core::PublicKey::from_blob(&cert.to_bytes().unwrap()).unwrap();
    key.with_certificate(&public).unwrap()
}

/// Default client configuration.
pub fn client_config() -> ClientConfig {
    ClientConfig::default()
}

/// Default server configuration with [`host_key`], except that failed
/// authentication is answered at once: these tests check what is answered,
/// and the pair's virtual clock moves only when a test moves it (the delay
/// has its own tests, in auth_delay.rs).
pub fn server_config() -> ServerConfig {
    let mut config = ServerConfig::new(vec![host_key()]);
    config.auth_failure_delay = None;
    config
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

// ----------------------------------------------------------------------
// Sessions
// ----------------------------------------------------------------------

/// A [`Pair`] after the handshake and a password login ([`Pair::connect`]).
pub fn connected() -> Pair {
    let mut pair = Pair::new();
    pair.connect();
    pair
}
