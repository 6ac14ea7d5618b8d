//! Packet ciphers (RFC 4253 section 6.3) and MACs (section 6.4) behind the
//! [`crate::crypto`] traits.
//!
//! - [`none`]: the initial state before the first NEWKEYS;
//! - [`aes_gcm`]: `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com`
//!   (RFC 5647 as OpenSSH implements it);
//! - [`chacha20_poly1305`]: `chacha20-poly1305@openssh.com` (OpenSSH
//!   PROTOCOL.chacha20poly1305);
//! - [`aes_ctr`]: `aes128-ctr`, `aes192-ctr`, `aes256-ctr` (RFC 4344), used
//!   with a MAC from [`mac`];
//! - [`mac`]: `hmac-sha2-256`, `hmac-sha2-512` (RFC 6668), their
//!   `-etm@openssh.com` forms, and the legacy `hmac-sha1`;
//! - `ring` (with the `ring` cargo feature): the AEAD ciphers above on the
//!   `ring` crate's assembly, and `CryptoProvider::ring` that uses them.

pub mod aes_ctr;
pub mod aes_gcm;
pub mod chacha20_poly1305;
pub mod mac;
pub mod none;
#[cfg(feature = "ring")]
pub mod ring;

pub use aes_ctr::{AesCtr, AES128_CTR, AES192_CTR, AES256_CTR};
pub use aes_gcm::{AesGcm, AES128_GCM, AES256_GCM};
pub use chacha20_poly1305::{ChaCha20Poly1305, CHACHA20_POLY1305};
pub use mac::{
    HmacAlgorithm, HMAC_SHA1, HMAC_SHA1_ETM, HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512,
    HMAC_SHA2_512_ETM,
};
pub use none::{NoneOpener, NoneSealer};
