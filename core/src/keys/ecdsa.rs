//! ECDSA signatures `ecdsa-sha2-nistp256/384/521` (RFC 5656 section 3).
//!
//! The hash follows the curve (section 6.2.1: SHA-256, SHA-384, SHA-512),
//! and the signature blob's second field is itself an encoding: `string
//! (mpint r || mpint s)` (section 3.1.2). Public points must be on the
//! curve (checked when decoding the SEC1 point).
//!
//! P-256 and P-384 sign with RFC 6979 deterministic nonces. P-521's crate
//! only signs with an RNG (its digest is shorter than the field), so its
//! nonce RNG is seeded from the private scalar and the message: still
//! deterministic, never reused across messages, and secret.

use p256::ecdsa::signature::{RandomizedSigner, Signer, Verifier};
use sha2::{Digest, Sha512};
use ssh_key::public::EcdsaPublicKey;
use zeroize::{Zeroize, Zeroizing};

use super::seeded_rng::SeededRng;
use super::KeyError;
use crate::wire::{Encode, Reader};

/// The curve of an ECDSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The key's (and its only signature algorithm's) name.
    pub(super) fn algorithm(self) -> &'static str {
        match self {
            Curve::P256 => "ecdsa-sha2-nistp256",
            Curve::P384 => "ecdsa-sha2-nistp384",
            Curve::P521 => "ecdsa-sha2-nistp521",
        }
    }

    pub(super) fn of_public(key: &EcdsaPublicKey) -> Curve {
        match key {
            EcdsaPublicKey::NistP256(_) => Curve::P256,
            EcdsaPublicKey::NistP384(_) => Curve::P384,
            EcdsaPublicKey::NistP521(_) => Curve::P521,
        }
    }

    /// Bytes of a scalar (and of r and s).
    fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
}

/// An mpint magnitude left-padded to `len` bytes, or `None` if longer.
fn fixed(magnitude: &[u8], len: usize) -> Option<Vec<u8>> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let m = &magnitude[start..];
    if m.len() > len {
        return None;
    }
    let mut out = vec![0u8; len];
    out[len - m.len()..].copy_from_slice(m);
    Some(out)
}

/// Checks the signature field `inner` (`mpint r, mpint s`) over `data`.
pub(super) fn verify(key: &EcdsaPublicKey, data: &[u8], inner: &[u8]) -> bool {
    let curve = Curve::of_public(key);
    let mut r = Reader::new(inner);
    let (Ok(r_bytes), Ok(s_bytes)) = (r.mpint(), r.mpint()) else {
        return false;
    };
    if r.end().is_err() {
        return false;
    }
    let len = curve.scalar_len();
    let (Some(r_fixed), Some(s_fixed)) = (fixed(r_bytes, len), fixed(s_bytes, len)) else {
        return false;
    };
    let point = key.as_sec1_bytes();
    // `from_scalars` refuses r or s of zero or not below the group order
    // (`fixed` made them the curve's size, so the conversions to the
    // curve's field bytes hold; were they not, the zero default is refused).
    match curve {
        Curve::P256 => {
            let (Ok(vk), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p256::ecdsa::Signature::from_scalars(
                    p256::FieldBytes::try_from(&r_fixed[..]).unwrap_or_default(),
                    p256::FieldBytes::try_from(&s_fixed[..]).unwrap_or_default(),
                ),
            ) else {
                return false;
            };
            vk.verify(data, &sig).is_ok()
        }
        Curve::P384 => {
            let (Ok(vk), Ok(sig)) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p384::ecdsa::Signature::from_scalars(
                    p384::FieldBytes::try_from(&r_fixed[..]).unwrap_or_default(),
                    p384::FieldBytes::try_from(&s_fixed[..]).unwrap_or_default(),
                ),
            ) else {
                return false;
            };
            vk.verify(data, &sig).is_ok()
        }
        Curve::P521 => {
            let (Ok(vk), Ok(sig)) = (
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p521::ecdsa::Signature::from_scalars(
                    p521::FieldBytes::try_from(&r_fixed[..]).unwrap_or_default(),
                    p521::FieldBytes::try_from(&s_fixed[..]).unwrap_or_default(),
                ),
            ) else {
                return false;
            };
            vk.verify(data, &sig).is_ok()
        }
    }
}

/// Encodes the signature field: `mpint r || mpint s` (RFC 5656 section 3.1.2).
fn encode(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.len() + s.len() + 10);
    out.put_mpint(r);
    out.put_mpint(s);
    out
}

/// An ECDSA private key ready to sign: built once when the key is loaded,
/// because building one computes its public point, a scalar multiplication
/// as costly as the signature itself.
#[derive(Clone)]
pub(super) enum EcdsaSigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl EcdsaSigningKey {
    /// The key with private scalar `d` (big-endian, the curve's size).
    pub(super) fn new(curve: Curve, d: &[u8]) -> Result<Self, KeyError> {
        let bad = |_| KeyError::Sign;
        Ok(match curve {
            Curve::P256 => Self::P256(p256::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
            Curve::P384 => Self::P384(p384::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
            Curve::P521 => Self::P521(p521::ecdsa::SigningKey::from_slice(d).map_err(bad)?),
        })
    }

    /// Signs `data`; returns the signature field.
    pub(super) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let bad = |_| KeyError::Sign;
        match self {
            Self::P256(key) => {
                let sig: p256::ecdsa::Signature = key.try_sign(data).map_err(bad)?;
                let (r, s) = sig.split_bytes();
                Ok(encode(&r, &s))
            }
            Self::P384(key) => {
                let sig: p384::ecdsa::Signature = key.try_sign(data).map_err(bad)?;
                let (r, s) = sig.split_bytes();
                Ok(encode(&r, &s))
            }
            Self::P521(key) => {
                // The seed, and the RNG state, give the nonce, and the nonce
                // with the signature gives the key: each is wiped after use.
                let mut seed = Sha512::new();
                let mut scalar = key.to_bytes();
                seed.update(scalar);
                scalar.as_mut_slice().zeroize();
                seed.update(Sha512::digest(data));
                let digest: Zeroizing<[u8; 64]> = Zeroizing::new(seed.finalize().into());
                let mut seed32 = Zeroizing::new([0u8; 32]);
                seed32.copy_from_slice(&digest[..32]);
                let mut rng = SeededRng::from_seed(&seed32);
                let sig: p521::ecdsa::Signature =
                    key.try_sign_with_rng(&mut rng, data).map_err(bad)?;
                let (r, s) = sig.split_bytes();
                Ok(encode(&r, &s))
            }
        }
    }
}
