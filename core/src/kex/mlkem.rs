//! `mlkem768x25519-sha256`: the post-quantum hybrid of ML-KEM-768 (FIPS
//! 203) and X25519 (RFC 7748) that OpenSSH 10 prefers
//! (draft-ietf-sshm-mlkem-hybrid-kex; OpenSSH `kexmlkem768x25519.c`).
//!
//! It rides on the ECDH messages (RFC 5656 section 4) with these values:
//! - the client sends `string C_INIT = ek || X25519 public`: its 1184-byte
//!   ML-KEM-768 encapsulation key and its 32-byte X25519 public key;
//! - the server encapsulates to `ek` and answers `string S_REPLY = ct ||
//!   X25519 public`: the 1088-byte ciphertext and its own X25519 key;
//! - `K = SHA-256(ML-KEM shared secret || X25519 shared secret)`, hashed
//!   and used for the key derivation as a `string` (not an mpint).
//!
//! The lengths are exact; an encapsulation key that fails FIPS 203's input
//! check (section 7.2, coefficients below q) and an all-zero X25519 result
//! are refused.

use ml_kem::{Decapsulate, Encapsulate, Kem, KeyExport, MlKem768};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::curve25519::X25519Ephemeral;
use crate::crypto::{HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, SharedSecret};

/// ML-KEM-768 encapsulation key bytes (FIPS 203 section 8, table 3).
pub const MLKEM768_PUBLIC_LEN: usize = 1184;
/// ML-KEM-768 ciphertext bytes.
pub const MLKEM768_CIPHERTEXT_LEN: usize = 1088;
const X25519_LEN: usize = 32;
/// ML-KEM's modulus q (FIPS 203 section 2.4).
const MLKEM_Q: u16 = 3329;

type EncapsulationKey = <MlKem768 as Kem>::EncapsulationKey;
type DecapsulationKey = <MlKem768 as Kem>::DecapsulationKey;

/// The ML-KEM-768 + X25519 hybrid.
#[derive(Debug)]
pub struct MlKem768X25519;

/// `mlkem768x25519-sha256`.
pub static MLKEM768X25519_SHA256: MlKem768X25519 = MlKem768X25519;

impl KexAlgorithm for MlKem768X25519 {
    fn name(&self) -> &'static str {
        "mlkem768x25519-sha256"
    }

    fn hash(&self) -> HashAlgorithm {
        HashAlgorithm::Sha256
    }

    /// The client's half: an ML-KEM key pair and an X25519 key pair.
    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        let mut rng = rng;
        let (dk, ek) = MlKem768::generate_keypair_from_rng(&mut rng);
        let x25519 = x25519_pair(rng);
        let mut public = Vec::with_capacity(MLKEM768_PUBLIC_LEN + X25519_LEN);
        public.extend_from_slice(&ek.to_bytes());
        public.extend_from_slice(x25519.public_value());
        Box::new(HybridClient {
            dk: Box::new(dk),
            x25519,
            public,
        })
    }

    /// The server's half: encapsulate to the client's key, add our X25519
    /// share, and combine.
    fn respond(
        &self,
        rng: &mut dyn CryptoRng,
        client_public: &[u8],
    ) -> Result<(Vec<u8>, SharedSecret), KexError> {
        if client_public.len() != MLKEM768_PUBLIC_LEN + X25519_LEN {
            return Err(KexError::InvalidPeerValue);
        }
        let (ek_bytes, client_x25519) = client_public.split_at(MLKEM768_PUBLIC_LEN);
        if !encapsulation_key_is_valid(ek_bytes) {
            return Err(KexError::InvalidPeerValue);
        }
        let encoded = ek_bytes
            .try_into()
            .map_err(|_| KexError::InvalidPeerValue)?;
        let ek = EncapsulationKey::new(encoded).map_err(|_| KexError::InvalidPeerValue)?;
        let (ct, kem_secret) = ek.encapsulate_with_rng(rng);
        let kem_secret = Zeroizing::new(<[u8; 32]>::from(kem_secret));
        let x25519 = x25519_pair(rng);
        let mut reply = Vec::with_capacity(MLKEM768_CIPHERTEXT_LEN + X25519_LEN);
        reply.extend_from_slice(&ct);
        reply.extend_from_slice(x25519.public_value());
        let x_secret = x25519_secret(x25519, client_x25519)?;
        Ok((reply, combine(&kem_secret, &x_secret)))
    }
}

fn x25519_pair(rng: &mut dyn CryptoRng) -> X25519Ephemeral {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut seed[..]);
    X25519Ephemeral::from_secret(*seed)
}

/// The raw X25519 shared secret (refusing the all-zero result of a
/// low-order point, as for curve25519-sha256, RFC 8731 section 3).
fn x25519_secret(ours: X25519Ephemeral, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, KexError> {
    // `agree` gives K as an mpint; the hybrid needs the 32 raw bytes.
    ours.raw_agree(peer)
}

/// K = string(SHA-256(kem secret || X25519 secret)).
fn combine(kem_secret: &[u8; 32], x25519_secret: &[u8; 32]) -> SharedSecret {
    let mut h = Sha256::new();
    h.update(kem_secret);
    h.update(x25519_secret);
    let digest = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
    SharedSecret::from_string(&digest[..])
}

/// FIPS 203 section 7.2, encapsulation key check: every 12-bit coefficient
/// of the encoded vector (all but the final 32-byte seed) is below q, i.e.
/// the key is the canonical encoding of what it decodes to.
fn encapsulation_key_is_valid(ek: &[u8]) -> bool {
    let Some(coefficients) = ek.len().checked_sub(32).map(|n| &ek[..n]) else {
        return false;
    };
    coefficients.chunks_exact(3).all(|c| {
        let a = u16::from(c[0]) | (u16::from(c[1] & 0x0f) << 8);
        let b = u16::from(c[1] >> 4) | (u16::from(c[2]) << 4);
        a < MLKEM_Q && b < MLKEM_Q
    })
}

/// The client's key pairs until the server's reply.
struct HybridClient {
    dk: Box<DecapsulationKey>,
    x25519: X25519Ephemeral,
    public: Vec<u8>,
}

impl std::fmt::Debug for HybridClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridClient").finish_non_exhaustive()
    }
}

impl KexEphemeral for HybridClient {
    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn agree(self: Box<Self>, server_reply: &[u8]) -> Result<SharedSecret, KexError> {
        if server_reply.len() != MLKEM768_CIPHERTEXT_LEN + X25519_LEN {
            return Err(KexError::InvalidPeerValue);
        }
        let (ct, server_x25519) = server_reply.split_at(MLKEM768_CIPHERTEXT_LEN);
        let ct = ct.try_into().map_err(|_| KexError::InvalidPeerValue)?;
        // ML-KEM decapsulation never fails: a bad ciphertext gives an
        // implicit-rejection secret, and the host key signature then fails.
        let kem_secret = self.dk.decapsulate(ct);
        let kem_secret = Zeroizing::new(<[u8; 32]>::from(kem_secret));
        let x_secret = x25519_secret(self.x25519, server_x25519)?;
        Ok(combine(&kem_secret, &x_secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(seed)
    }

    #[test]
    fn client_and_server_agree_on_a_32_byte_string_secret() {
        let mut r = rng(31);
        let client = MLKEM768X25519_SHA256.start(&mut r);
        assert_eq!(client.public_value().len(), 1184 + 32);
        let (reply, k_server) = MLKEM768X25519_SHA256
            .respond(&mut r, client.public_value())
            .unwrap();
        assert_eq!(reply.len(), 1088 + 32);
        let k_client = client.agree(&reply).unwrap();
        assert_eq!(k_client.encoded(), k_server.encoded());
        // A string of 32 bytes, even when the top bit is set (no mpint zero).
        assert_eq!(k_client.encoded()[..4], [0, 0, 0, 32]);
        assert_eq!(k_client.encoded().len(), 36);
    }

    #[test]
    fn k_is_sha256_of_the_kem_secret_then_the_x25519_secret() {
        // Recompute K from the two component secrets with the crates alone.
        let mut r = rng(32);
        let (dk, ek) = MlKem768::generate_keypair_from_rng(&mut r);
        let client_x = X25519Ephemeral::from_secret([7u8; 32]);
        let mut client_public = ek.to_bytes().to_vec();
        client_public.extend_from_slice(client_x.public_value());
        let (reply, k) = MLKEM768X25519_SHA256
            .respond(&mut r, &client_public)
            .unwrap();
        let ct = reply[..1088].try_into().unwrap();
        let kem: [u8; 32] = dk.decapsulate(ct).into();
        let server_x: [u8; 32] = reply[1088..].try_into().unwrap();
        let x = x25519_dalek::StaticSecret::from([7u8; 32])
            .diffie_hellman(&x25519_dalek::PublicKey::from(server_x));
        let mut h = Sha256::new();
        h.update(kem);
        h.update(x.as_bytes());
        let mut want = vec![0, 0, 0, 32];
        want.extend_from_slice(&h.finalize());
        assert_eq!(k.encoded(), want.as_slice());
    }

    #[test]
    fn wrong_lengths_bad_keys_and_low_order_points_are_refused() {
        let mut r = rng(33);
        let client = MLKEM768X25519_SHA256.start(&mut r);
        let good = client.public_value().to_vec();
        for len in [0, 32, 1184, 1184 + 31, 1184 + 33] {
            assert!(MLKEM768X25519_SHA256
                .respond(&mut r, &vec![1u8; len])
                .is_err());
        }
        // A coefficient of 0xfff (>= q) in the encapsulation key.
        let mut bad_key = good.clone();
        bad_key[0] = 0xff;
        bad_key[1] |= 0x0f;
        assert_eq!(
            MLKEM768X25519_SHA256.respond(&mut r, &bad_key).unwrap_err(),
            KexError::InvalidPeerValue
        );
        // The X25519 part a low-order point (u = 0).
        let mut low_order = good.clone();
        low_order[1184..].fill(0);
        assert!(MLKEM768X25519_SHA256.respond(&mut r, &low_order).is_err());
        // Client side: reply of the wrong length.
        assert!(client.agree(&[0u8; 1088]).is_err());
    }

    #[test]
    fn a_tampered_ciphertext_gives_a_different_secret() {
        let mut r = rng(34);
        let client = MLKEM768X25519_SHA256.start(&mut r);
        let (mut reply, k_server) = MLKEM768X25519_SHA256
            .respond(&mut r, client.public_value())
            .unwrap();
        reply[10] ^= 1;
        let k_client = client.agree(&reply).unwrap();
        assert_ne!(k_client.encoded(), k_server.encoded());
    }
}
