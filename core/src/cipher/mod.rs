//! Packet ciphers (RFC 4253 section 6.3) behind the [`crate::crypto`] traits.
//!
//! - [`none`]: the initial state before the first NEWKEYS;
//! - [`aes_gcm`]: `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com`
//!   (RFC 5647 as OpenSSH implements it).

pub mod aes_gcm;
pub mod none;

pub use aes_gcm::{AesGcm, AES128_GCM, AES256_GCM};
pub use none::{NoneOpener, NoneSealer};
