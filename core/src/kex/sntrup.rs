//! `sntrup761x25519-sha512` and its older name
//! `sntrup761x25519-sha512@openssh.com` (OpenSSH 8.5 to 9.8's default):
//! the hybrid of Streamlined NTRU Prime sntrup761 ([`super::sntrup761`])
//! and X25519, laid out like `mlkem768x25519-sha256` but with SHA-512
//! (draft-josefsson-ntruprime-ssh; OpenSSH `kexsntrup761x25519.c`):
//!
//! - the client sends `string C_INIT = pk || X25519 public` (1158 + 32
//!   bytes);
//! - the server answers `string S_REPLY = ct || X25519 public` (1039 + 32);
//! - `K = SHA-512(sntrup761 shared secret || X25519 shared secret)`, hashed
//!   and used as a `string`.

use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::curve25519::X25519Ephemeral;
use super::sntrup761::{self, CIPHERTEXT_BYTES, PUBLIC_KEY_BYTES};
use crate::crypto::{HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, SharedSecret};

const X25519_LEN: usize = 32;

/// The sntrup761 + X25519 hybrid, under one of its names.
#[derive(Debug)]
pub struct Sntrup761X25519 {
    name: &'static str,
}

/// `sntrup761x25519-sha512` (the name OpenSSH 9.9 and later use).
pub static SNTRUP761X25519_SHA512: Sntrup761X25519 = Sntrup761X25519 {
    name: "sntrup761x25519-sha512",
};

/// `sntrup761x25519-sha512@openssh.com` (the same method, earlier name).
pub static SNTRUP761X25519_SHA512_OPENSSH: Sntrup761X25519 = Sntrup761X25519 {
    name: "sntrup761x25519-sha512@openssh.com",
};

fn x25519_pair(rng: &mut dyn CryptoRng) -> X25519Ephemeral {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut seed[..]);
    X25519Ephemeral::from_secret(*seed)
}

/// K = string(SHA-512(kem secret || X25519 secret)).
fn combine(kem_secret: &[u8], x25519_secret: &[u8]) -> SharedSecret {
    let mut h = Sha512::new();
    h.update(kem_secret);
    h.update(x25519_secret);
    let digest = Zeroizing::new(h.finalize().to_vec());
    SharedSecret::from_string(&digest)
}

impl KexAlgorithm for Sntrup761X25519 {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hash(&self) -> HashAlgorithm {
        HashAlgorithm::Sha512
    }

    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        let kem = sntrup761::generate(rng);
        let x25519 = x25519_pair(rng);
        let mut public = Vec::with_capacity(PUBLIC_KEY_BYTES + X25519_LEN);
        public.extend_from_slice(&kem.public);
        public.extend_from_slice(x25519.public_value());
        Box::new(HybridClient {
            kem: Box::new(kem),
            x25519,
            public,
        })
    }

    fn respond(
        &self,
        rng: &mut dyn CryptoRng,
        client_public: &[u8],
    ) -> Result<(Vec<u8>, SharedSecret), KexError> {
        if client_public.len() != PUBLIC_KEY_BYTES + X25519_LEN {
            return Err(KexError::InvalidPeerValue);
        }
        let (pk, client_x25519) = client_public.split_at(PUBLIC_KEY_BYTES);
        let (ct, kem_secret) = sntrup761::encapsulate(rng, pk).ok_or(KexError::InvalidPeerValue)?;
        let x25519 = x25519_pair(rng);
        let mut reply = Vec::with_capacity(CIPHERTEXT_BYTES + X25519_LEN);
        reply.extend_from_slice(&ct);
        reply.extend_from_slice(x25519.public_value());
        let x_secret = x25519.raw_agree(client_x25519)?;
        Ok((reply, combine(&kem_secret[..], &x_secret[..])))
    }
}

/// The client's key pairs until the server's reply.
struct HybridClient {
    kem: Box<sntrup761::KeyPair>,
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
        if server_reply.len() != CIPHERTEXT_BYTES + X25519_LEN {
            return Err(KexError::InvalidPeerValue);
        }
        let (ct, server_x25519) = server_reply.split_at(CIPHERTEXT_BYTES);
        let kem_secret = self.kem.decapsulate(ct).ok_or(KexError::InvalidPeerValue)?;
        let x_secret = self.x25519.raw_agree(server_x25519)?;
        Ok(combine(&kem_secret[..], &x_secret[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn client_and_server_agree_on_a_64_byte_string_secret() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(51);
        for alg in [&SNTRUP761X25519_SHA512, &SNTRUP761X25519_SHA512_OPENSSH] {
            let client = alg.start(&mut rng);
            assert_eq!(client.public_value().len(), 1158 + 32);
            let (reply, k_server) = alg.respond(&mut rng, client.public_value()).unwrap();
            assert_eq!(reply.len(), 1039 + 32);
            let k_client = client.agree(&reply).unwrap();
            assert_eq!(k_client.encoded(), k_server.encoded());
            assert_eq!(k_client.encoded()[..4], [0, 0, 0, 64]);
        }
    }

    #[test]
    fn wrong_lengths_and_low_order_points_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(52);
        let client = SNTRUP761X25519_SHA512.start(&mut rng);
        let mut low_order = client.public_value().to_vec();
        low_order[1158..].fill(0);
        assert!(SNTRUP761X25519_SHA512
            .respond(&mut rng, &low_order)
            .is_err());
        assert!(SNTRUP761X25519_SHA512
            .respond(&mut rng, &client.public_value()[1..])
            .is_err());
        assert!(client.agree(&[0u8; 1039]).is_err());
    }
}
