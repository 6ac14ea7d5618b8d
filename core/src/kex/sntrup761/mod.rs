//! Streamlined NTRU Prime sntrup761, the key encapsulation mechanism of
//! OpenSSH's `sntrup761x25519-sha512` (NTRU Prime NIST round 3
//! specification, parameters p = 761, q = 4591, w = 286), written from the
//! specification because no crate of the RustCrypto generation Conch uses
//! offers it.
//!
//! - Key generation: g small and invertible in R/3, f short (w coefficients
//!   of +-1); the public key is h = g / (3f) in R/q, encoded; the secret
//!   key keeps f, 1/g in R/3, the public key, a random rho for implicit
//!   rejection and the hash of the public key.
//! - Encapsulation: r short; the ciphertext is Round(h r), encoded, and a
//!   confirmation hash of r; the session key hashes r and the ciphertext.
//! - Decapsulation recovers r from 3 f c mod 3 times 1/g, re-encrypts, and
//!   on any difference hashes rho instead of r (implicit rejection), in
//!   constant time.
//!
//! Hashes are SHA-512 truncated to 32 bytes with a one-byte prefix
//! (`Hash_prefix`). Randomness comes from the caller's RNG.

pub mod encode;
pub mod poly;

use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use encode::{
    rounded_decode, rounded_encode, rq_decode, rq_encode, small_encode, ROUNDED_BYTES, RQ_BYTES,
    SMALL_BYTES,
};
use poly::{
    f3_freeze, r3_from_rq, r3_mult, r3_recip, round3, rq_mult3, rq_mult_small, rq_recip3, sort_u32,
    weight_w_mask, Poly, P, W,
};

/// Public key bytes.
pub const PUBLIC_KEY_BYTES: usize = RQ_BYTES;
/// Ciphertext bytes: the rounded polynomial and a 32-byte confirmation.
pub const CIPHERTEXT_BYTES: usize = ROUNDED_BYTES + HASH_BYTES;
/// Shared secret bytes.
pub const SHARED_SECRET_BYTES: usize = HASH_BYTES;
const HASH_BYTES: usize = 32;

/// `Hash_prefix(b, x)`: the first 32 bytes of SHA-512(b || x).
fn hash_prefix(b: u8, parts: &[&[u8]]) -> [u8; HASH_BYTES] {
    let mut h = Sha512::new();
    h.update([b]);
    for p in parts {
        h.update(p);
    }
    // The digests hashed here are secrets (the session key, hashes of r):
    // the full digest is written straight into a buffer wiped on drop.
    let mut full = Zeroizing::new([0u8; 64]);
    h.finalize_into((&mut *full).into());
    let mut out = [0u8; HASH_BYTES];
    out.copy_from_slice(&full[..HASH_BYTES]);
    out
}

/// `HashConfirm(r, cache) = Hash_prefix(2, Hash_prefix(3, r) || cache)`,
/// where `cache = Hash_prefix(4, pk)`.
fn hash_confirm(r_enc: &[u8], cache: &[u8; HASH_BYTES]) -> [u8; HASH_BYTES] {
    // Hash_prefix(3, r) with the ciphertext gives the session key.
    let inner = Zeroizing::new(hash_prefix(3, &[r_enc]));
    hash_prefix(2, &[&inner[..], cache])
}

/// `HashSession(b, y, z) = Hash_prefix(b, Hash_prefix(3, y) || z)`.
fn hash_session(b: u8, y: &[u8], z: &[u8]) -> [u8; HASH_BYTES] {
    let inner = Zeroizing::new(hash_prefix(3, &[y]));
    hash_prefix(b, &[&inner[..], z])
}

fn urandom32(rng: &mut dyn CryptoRng) -> u32 {
    let mut b = [0u8; 4];
    rng.fill_bytes(&mut b);
    u32::from_le_bytes(b)
}

/// Uniform coefficients in {-1, 0, 1}.
fn small_random(rng: &mut dyn CryptoRng) -> Poly {
    let mut g = [0i16; P];
    for x in g.iter_mut() {
        let u = u64::from(urandom32(rng) & 0x3fff_ffff);
        *x = ((u * 3) >> 30) as i16 - 1;
    }
    g
}

/// Exactly w coefficients of +-1 at random places: w even values (which
/// become +-1) and p-w values = 1 mod 4 (which become 0), sorted by their
/// random high bits in constant time.
fn short_random(rng: &mut dyn CryptoRng) -> Poly {
    let mut list = Zeroizing::new([0u32; P]);
    for (i, l) in list.iter_mut().enumerate() {
        let u = urandom32(rng);
        *l = if i < W { u & !1 } else { (u & !3) | 1 };
    }
    sort_u32(&mut list[..]);
    let mut f = [0i16; P];
    for (o, &l) in f.iter_mut().zip(list.iter()) {
        *o = (l & 3) as i16 - 1;
    }
    f
}

/// A key pair: the public key bytes and the secret key.
pub struct KeyPair {
    /// The encoded public key.
    pub public: Vec<u8>,
    secret: SecretKey,
}

struct SecretKey {
    f: Zeroizing<Poly>,
    ginv: Zeroizing<Poly>,
    h: Poly,
    rho: Zeroizing<[u8; SMALL_BYTES]>,
    cache: [u8; HASH_BYTES],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("sntrup761::KeyPair").finish_non_exhaustive()
    }
}

/// Generates a key pair.
pub fn generate(rng: &mut dyn CryptoRng) -> KeyPair {
    // g must be invertible in R/3; most are (the loop is not secret:
    // it only reveals how many g were refused).
    let (g, ginv) = loop {
        let g = Zeroizing::new(small_random(rng));
        let (ginv, mask) = r3_recip(&g);
        if mask == 0 {
            break (g, Zeroizing::new(ginv));
        }
    };
    let f = Zeroizing::new(short_random(rng));
    // 3f is invertible in R/q for every nonzero f (R/q is a field).
    // 1/(3f) gives f: wiped like f.
    let finv3 = Zeroizing::new(rq_recip3(&f).0);
    let h = rq_mult_small(&finv3, &g);
    let public = rq_encode(&h);
    let mut rho = Zeroizing::new([0u8; SMALL_BYTES]);
    rng.fill_bytes(&mut rho[..]);
    let cache = hash_prefix(4, &[&public]);
    KeyPair {
        public,
        secret: SecretKey {
            f,
            ginv,
            h,
            rho,
            cache,
        },
    }
}

/// Round(h r), encoded, with the confirmation hash: the ciphertext of r.
fn encrypt(h: &Poly, r_enc: &[u8], r: &Poly, cache: &[u8; HASH_BYTES]) -> Vec<u8> {
    // h r before rounding gives r (h is public): wiped like r.
    let hr = Zeroizing::new(rq_mult_small(h, r));
    let c = round3(&hr);
    let mut ct = rounded_encode(&c);
    ct.extend_from_slice(&hash_confirm(r_enc, cache));
    ct
}

/// Encapsulates to `public` (which must be [`PUBLIC_KEY_BYTES`] long):
/// the ciphertext and the 32-byte shared secret.
pub fn encapsulate(
    rng: &mut dyn CryptoRng,
    public: &[u8],
) -> Option<(Vec<u8>, Zeroizing<[u8; SHARED_SECRET_BYTES]>)> {
    if public.len() != PUBLIC_KEY_BYTES {
        return None;
    }
    let h = rq_decode(public);
    let cache = hash_prefix(4, &[public]);
    let r = Zeroizing::new(short_random(rng));
    let r_enc = Zeroizing::new(small_encode(&r));
    let ct = encrypt(&h, &r_enc, &r, &cache);
    let k = Zeroizing::new(hash_session(1, &r_enc, &ct));
    Some((ct, k))
}

impl KeyPair {
    /// Decapsulates `ct` (which must be [`CIPHERTEXT_BYTES`] long). A
    /// ciphertext that does not re-encrypt to itself gives a pseudorandom
    /// secret instead (implicit rejection), so the caller learns nothing.
    pub fn decapsulate(&self, ct: &[u8]) -> Option<Zeroizing<[u8; SHARED_SECRET_BYTES]>> {
        if ct.len() != CIPHERTEXT_BYTES {
            return None;
        }
        let sk = &self.secret;
        let c = rounded_decode(&ct[..ROUNDED_BYTES]);
        // e = 3 f c mod 3 = (g r) mod 3, so r = e / g.
        // c f gives f (c is public), and e gives r: each is wiped.
        let cf = Zeroizing::new(rq_mult_small(&c, &sk.f));
        let cf3 = Zeroizing::new(rq_mult3(&cf));
        let e = Zeroizing::new(r3_from_rq(&cf3));
        let ev = Zeroizing::new(r3_mult(&e, &sk.ginv));
        // A result of the wrong weight becomes a fixed short vector.
        let mask = weight_w_mask(&ev);
        let mut r = Zeroizing::new([0i16; P]);
        for (i, (o, &x)) in r.iter_mut().zip(ev.iter()).enumerate() {
            let x = i32::from(x);
            *o = if i < W {
                f3_freeze(((x ^ 1) & !mask) ^ 1)
            } else {
                f3_freeze(x & !mask)
            };
        }
        let r_enc = Zeroizing::new(small_encode(&r));
        let again = encrypt(&sk.h, &r_enc, &r, &sk.cache);
        let same = again.as_slice().ct_eq(ct);
        // Implicit rejection: hash rho, with prefix 0, when they differ.
        let mut chosen = Zeroizing::new([0u8; SMALL_BYTES]);
        for ((o, r), rho) in chosen.iter_mut().zip(r_enc.iter()).zip(sk.rho.iter()) {
            *o = u8::conditional_select(rho, r, same);
        }
        let prefix = u8::conditional_select(&0, &1, same);
        Some(Zeroizing::new(hash_session(prefix, &chosen[..], ct)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn encapsulated_secrets_decapsulate_and_sizes_match_the_spec() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(761);
        let kp = generate(&mut rng);
        assert_eq!(kp.public.len(), 1158);
        let (ct, k) = encapsulate(&mut rng, &kp.public).unwrap();
        assert_eq!(ct.len(), 1039);
        assert_eq!(*kp.decapsulate(&ct).unwrap(), *k);
        // The public key satisfies h * 3f = g: decrypting works only then,
        // but check the short vector's weight too.
        let f = &kp.secret.f;
        assert_eq!(f.iter().filter(|&&x| x != 0).count(), W);
    }

    #[test]
    fn a_tampered_ciphertext_gives_another_secret_not_an_error() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(762);
        let kp = generate(&mut rng);
        let (mut ct, k) = encapsulate(&mut rng, &kp.public).unwrap();
        ct[5] ^= 1;
        let k2 = kp.decapsulate(&ct).unwrap();
        assert_ne!(*k2, *k);
        // The confirmation hash alone changed: also rejected.
        let (mut ct, k) = encapsulate(&mut rng, &kp.public).unwrap();
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_ne!(*kp.decapsulate(&ct).unwrap(), *k);
        assert!(kp.decapsulate(&ct[1..]).is_none());
        assert!(encapsulate(&mut rng, &kp.public[1..]).is_none());
    }
}
