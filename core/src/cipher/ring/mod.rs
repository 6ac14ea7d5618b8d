//! The AEAD packet ciphers backed by the [`ring`](https://docs.rs/ring/0.17)
//! crate, and [`CryptoProvider::ring`], the default provider with them in
//! place of the pure-Rust ones. Only with the `ring` cargo feature.
//!
//! The ciphers here implement exactly the same wire formats as
//! [`super::aes_gcm`] and [`super::chacha20_poly1305`], under the same names:
//! a peer cannot tell which one is in use, and the tests in
//! `core/tests/ring_provider.rs` check that both seal byte-identical
//! packets.
//!
//! # Speed
//!
//! ring's AES-GCM is stitched AES-NI/carry-less-multiply assembly: about six
//! times the pure-Rust throughput per packet on an x86-64 CPU with AES-NI
//! (`cargo bench -p conch-benches --features ring --bench packet`). Its
//! `chacha20-poly1305@openssh.com` pairs ChaCha20 assembly with a portable
//! Poly1305 (ring's vectorized Poly1305 lives only inside its IETF
//! ChaCha20-Poly1305, which OpenSSH's construction cannot use), so on CPUs
//! with AVX2 it is *slower* than the pure-Rust one for bulk data (about 0.8x
//! at 32 KiB packets) though faster for small packets. For throughput,
//! prefer AES-GCM: put it first in
//! [`crate::AlgorithmPreferences::cipher`].
//!
//! - [`aes_gcm`]: `aes128-gcm@openssh.com`, `aes256-gcm@openssh.com`
//!   (RFC 5647 as OpenSSH PROTOCOL section 1.6 uses it), on
//!   `ring::aead::LessSafeKey`: the nonce is RFC 5647 section 7.1's counter,
//!   which ring's nonce sequences cannot express;
//! - [`chacha20_poly1305`]: `chacha20-poly1305@openssh.com` (OpenSSH
//!   PROTOCOL.chacha20poly1305), on `ring::aead::chacha20_poly1305_openssh`,
//!   which implements that construction itself.
//!
//! Only ring's AEAD code is used: no `ring::rand` (the core draws no OS
//! randomness; the connection's RNG still comes from the caller).
//!
//! # Keys
//!
//! The derived key bytes are copied only into [`zeroize::Zeroizing`]
//! buffers, wiped as soon as ring has expanded them. ring's own key types are
//! opaque and do not wipe themselves on drop (ring has no zeroize support,
//! and this crate forbids the `unsafe` it would take to do it from outside):
//! the expanded key schedules live inside the boxed sealer or opener and are
//! freed, not overwritten, when that direction is re-keyed or the connection
//! is dropped. They never outlive that state, and nothing else holds them.
//! The pure-Rust ciphers do wipe their key schedules; choose them where that
//! matters more than speed.
//!
//! # Errors
//!
//! ring reports every failure to open as one opaque error; the openers turn
//! it, and packets too short to hold a length and a tag, into the same
//! [`crate::crypto::OpenError`] the pure-Rust ciphers return, so the
//! transport answers a bad tag identically with either provider. Nothing a
//! peer sends reaches a ring call that can panic.

pub mod aes_gcm;
pub mod chacha20_poly1305;

pub use aes_gcm::{RingAesGcm, AES128_GCM, AES256_GCM};
pub use chacha20_poly1305::{RingChaCha20Poly1305, CHACHA20_POLY1305};

use crate::crypto::{CipherAlgorithm, CryptoProvider};

/// Bytes of the packet length field, kept in clear (AES-GCM) or encrypted
/// alone (ChaCha20-Poly1305) ahead of the rest (RFC 4253 section 6).
const LENGTH_LEN: usize = 4;
/// Bytes of the AEAD tag after each packet, for all three ciphers.
const TAG_LEN: usize = 16;

/// The ring cipher that implements the cipher called `name`, if there is one.
pub fn ring_cipher(name: &str) -> Option<&'static dyn CipherAlgorithm> {
    [
        &CHACHA20_POLY1305 as &'static dyn CipherAlgorithm,
        &AES128_GCM,
        &AES256_GCM,
    ]
    .into_iter()
    .find(|c| c.name() == name)
}

impl CryptoProvider {
    /// The [default provider](CryptoProvider::default) with
    /// `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com` implemented by
    /// the `ring` crate (see [`crate::cipher::ring`]): same names in the
    /// same places (first, as in the default), every other algorithm
    /// unchanged, so a peer sees the same KEXINIT. Only with the `ring`
    /// cargo feature.
    ///
    /// ring's AES-GCM runs at several GiB/s with AES and carry-less
    /// multiply instructions and stays constant-time without them. Why
    /// ring's ChaCha20 is not used: for OpenSSH's construction ring has
    /// only a portable Poly1305, slower than the pure-Rust one on x86-64
    /// with AVX2; [`CHACHA20_POLY1305`] stays available to build a provider
    /// with it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use conch_core::crypto::CryptoProvider;
    /// use conch_core::{AlgorithmPreferences, ClientConfig};
    ///
    /// let provider = CryptoProvider::ring();
    /// let mut config = ClientConfig::default();
    /// config.transport.algorithms = AlgorithmPreferences::defaults_for(&provider);
    /// config.transport.crypto = Arc::new(provider);
    /// assert_eq!(config.transport.algorithms.cipher[0], "aes128-gcm@openssh.com");
    /// ```
    pub fn ring() -> Self {
        let mut provider = CryptoProvider::default();
        for cipher in &mut provider.cipher {
            if let Some(ring) = [&AES128_GCM as &'static dyn CipherAlgorithm, &AES256_GCM]
                .into_iter()
                .find(|r| r.name() == cipher.name())
            {
                *cipher = ring;
            }
        }
        provider
    }
}

/// Splits a packet `length || rest || tag` into the part before the tag and
/// the tag, or `None` when it is too short to hold a length and a tag.
fn split_tag(packet: &mut [u8]) -> Option<(&mut [u8], &mut [u8; TAG_LEN])> {
    if packet.len() < LENGTH_LEN + TAG_LEN {
        return None;
    }
    let (body, tag) = packet.split_at_mut(packet.len() - TAG_LEN);
    Some((body, tag.try_into().ok()?))
}

/// The 4 length bytes at the start of `first_block`, zero-filled when fewer
/// came (a caller bug; the pure-Rust ciphers do the same rather than panic).
fn length_bytes(first_block: &[u8]) -> [u8; LENGTH_LEN] {
    let mut length = [0u8; LENGTH_LEN];
    let n = first_block.len().min(LENGTH_LEN);
    length[..n].copy_from_slice(&first_block[..n]);
    length
}
