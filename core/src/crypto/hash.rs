//! The hash functions key exchange methods name (RFC 4253 section 7.2 uses
//! the method's HASH for the exchange hash and key derivation).

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::wire::Encode;

/// A hash function of a key exchange method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-1 (FIPS 180-4), for the legacy `diffie-hellman-group14-sha1` only.
    Sha1,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
}

/// An incremental hash; SSH values are fed with the [`Encode`] methods.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// SHA-1 state.
    Sha1(Sha1),
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-384 state.
    Sha384(Sha384),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl Encode for Hasher {
    fn put_raw(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_matches_fips_180_2_example() {
        // FIPS 180-2 appendix B.1: SHA-256("abc").
        let mut h = HashAlgorithm::Sha256.hasher();
        h.put_raw(b"abc");
        let d = h.finish();
        assert_eq!(d.len(), HashAlgorithm::Sha256.output_len());
        assert_eq!(
            d[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea],
            "first bytes of ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
