//! `curve25519-sha256` and its pre-standard name
//! `curve25519-sha256@libssh.org` (RFC 8731): ECDH over X25519 (RFC 7748)
//! with SHA-256.

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::{HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, SharedSecret};

/// X25519 key exchange with SHA-256, under one of its two names.
#[derive(Debug)]
pub struct Curve25519Sha256 {
    name: &'static str,
}

/// `curve25519-sha256` (RFC 8731).
pub static CURVE25519_SHA256: Curve25519Sha256 = Curve25519Sha256 {
    name: "curve25519-sha256",
};

/// `curve25519-sha256@libssh.org`, the same method under the name it had
/// before RFC 8731 (section 1).
pub static CURVE25519_SHA256_LIBSSH: Curve25519Sha256 = Curve25519Sha256 {
    name: "curve25519-sha256@libssh.org",
};

impl KexAlgorithm for Curve25519Sha256 {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hash(&self) -> HashAlgorithm {
        HashAlgorithm::Sha256
    }

    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        // RFC 8731 section 3: 32 random bytes; X25519 clamps them (RFC 7748
        // section 5).
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        Box::new(X25519Ephemeral::from_secret(*seed))
    }
}

/// Our X25519 key pair for one exchange.
pub struct X25519Ephemeral {
    secret: StaticSecret,
    public: [u8; 32],
}

impl std::fmt::Debug for X25519Ephemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X25519Ephemeral")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl X25519Ephemeral {
    /// A key pair from the given secret scalar bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret).to_bytes();
        X25519Ephemeral { secret, public }
    }
}

impl X25519Ephemeral {
    /// The raw 32-byte X25519 result with the peer's public value (for the
    /// hybrids, which hash it rather than encode it as an mpint). Fails on a
    /// wrong length or an all-zero result (RFC 8731 section 3).
    pub fn raw_agree(self, peer_public: &[u8]) -> Result<Zeroizing<[u8; 32]>, KexError> {
        let peer: [u8; 32] = peer_public
            .try_into()
            .map_err(|_| KexError::InvalidPeerValue)?;
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(KexError::InvalidPeerValue);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

impl KexEphemeral for X25519Ephemeral {
    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn agree(self: Box<Self>, peer_public: &[u8]) -> Result<SharedSecret, KexError> {
        // RFC 8731 section 3: public values are exactly 32 bytes, and an
        // all-zero result (a low-order peer point) MUST abort the exchange.
        let shared = self.raw_agree(peer_public)?;
        // RFC 8731 section 3.1: the 32 bytes are read as an unsigned
        // big-endian integer and encoded as mpint.
        Ok(SharedSecret::from_unsigned_be(&shared[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// The mpint encoding of a 32-byte big-endian value.
    fn mpint(bytes: &[u8; 32]) -> Vec<u8> {
        SharedSecret::from_unsigned_be(bytes).encoded().to_vec()
    }

    #[test]
    fn rfc7748_section_5_2_scalar_multiplication_vectors() {
        // RFC 7748 section 5.2, the two single-multiplication test vectors
        // (scalar, input u-coordinate, output u-coordinate).
        let vectors = [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ];
        for (scalar, u, out) in vectors {
            let eph = Box::new(X25519Ephemeral::from_secret(hex32(scalar)));
            let k = eph.agree(&hex32(u)).unwrap();
            assert_eq!(k.encoded(), mpint(&hex32(out)).as_slice());
        }
    }

    #[test]
    fn rfc7748_section_6_1_diffie_hellman() {
        // RFC 7748 section 6.1: Alice's and Bob's key pairs and shared secret.
        let alice = X25519Ephemeral::from_secret(hex32(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let bob = X25519Ephemeral::from_secret(hex32(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            alice.public_value(),
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            bob.public_value(),
            hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let k = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let alice_pub = alice.public_value().to_vec();
        let bob_pub = bob.public_value().to_vec();
        assert_eq!(
            Box::new(alice).agree(&bob_pub).unwrap().encoded(),
            mpint(&k)
        );
        assert_eq!(
            Box::new(bob).agree(&alice_pub).unwrap().encoded(),
            mpint(&k)
        );
    }

    #[test]
    fn both_sides_agree_through_the_trait() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let a = CURVE25519_SHA256.start(&mut rng);
        let b = CURVE25519_SHA256_LIBSSH.start(&mut rng);
        let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
        assert_eq!(
            a.agree(&pb).unwrap().encoded(),
            b.agree(&pa).unwrap().encoded()
        );
    }

    #[test]
    fn low_order_points_and_bad_lengths_are_rejected() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        // u = 0 and u = 1 are low-order points: the result is all zeros.
        let mut one = [0u8; 32];
        one[0] = 1;
        for peer in [[0u8; 32], one] {
            let e = CURVE25519_SHA256.start(&mut rng);
            assert_eq!(e.agree(&peer).unwrap_err(), KexError::InvalidPeerValue);
        }
        for len in [0, 31, 33] {
            let e = CURVE25519_SHA256.start(&mut rng);
            assert_eq!(
                e.agree(&vec![9u8; len]).unwrap_err(),
                KexError::InvalidPeerValue
            );
        }
    }
}
