//! RSA signatures: `rsa-sha2-256` and `rsa-sha2-512` (RFC 8332) and the
//! legacy SHA-1 `ssh-rsa` (RFC 4253 section 6.6), all RSASSA-PKCS1-v1_5
//! (RFC 8017 section 8.2) over one key type, `ssh-rsa`.
//!
//! The signature blob is `string algorithm, string s` where `s` has the
//! length of the modulus (RFC 8332 section 3); a shorter `s` is padded with
//! leading zeros before checking, as OpenSSH does, a longer one refused.
//!
//! Signing uses the `rsa` crate directly with the hash the algorithm names
//! (ssh-key's own RSA signer always uses SHA-512), blinded with an RNG
//! seeded from the private exponent and the message, so signing stays
//! deterministic without handing the exponentiation an unblinded input.

use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use super::seeded_rng::SeededRng;
use super::KeyError;

/// The smallest modulus accepted, in bits (OpenSSH's `RequiredRSASize`
/// default since 9.1; RFC 8332 section 1 leaves the floor to policy).
pub const MIN_MODULUS_BITS: usize = 1024;
/// The largest modulus accepted, in bits (OpenSSH's `SSH_RSA_MAXIMUM_MODULUS_SIZE`).
pub const MAX_MODULUS_BITS: usize = 16384;

/// The signature algorithms of an RSA key, most preferred first, without
/// the legacy `ssh-rsa` (RFC 8332 section 3.3: SHA-512 before SHA-256).
pub const PREFERRED: &[&str] = &["rsa-sha2-512", "rsa-sha2-256"];
/// Every RSA signature algorithm, the legacy one last.
pub const ALL: &[&str] = &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

/// The public key as the `rsa` crate wants it, if its size is acceptable.
pub(super) fn public_key(key: &ssh_key::public::RsaPublicKey) -> Option<RsaPublicKey> {
    // The sizes are public: variable-time decoding leaks nothing.
    let n = BoxedUint::from_be_slice_vartime(key.n().as_positive_bytes()?);
    let e = BoxedUint::from_be_slice_vartime(key.e().as_positive_bytes()?);
    let bits = n.bit_width_vartime() as usize;
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
        return None;
    }
    RsaPublicKey::new_with_size_limits(n, e, MIN_MODULUS_BITS..=MAX_MODULUS_BITS).ok()
}

/// The private key from its openssh-key-v1 parts, with the modulus size
/// checked against Conch's bounds before any arithmetic.
pub(super) fn private_key(key: &ssh_key::private::RsaKeypair) -> Result<RsaPrivateKey, KeyError> {
    let num = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            // Only the length of a secret component is variable here, and
            // the modulus's size gives it away anyway.
            .map(BoxedUint::from_be_slice_vartime)
            .ok_or_else(|| KeyError::Encoding("RSA key component is not positive".into()))
    };
    let n = num(key.public().n())?;
    let bits = n.bit_width_vartime() as usize;
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits) {
        return Err(KeyError::Unsupported(format!("ssh-rsa of {bits} bits")));
    }
    let primes = vec![num(key.private().p())?, num(key.private().q())?];
    let private =
        RsaPrivateKey::from_components(n, num(key.public().e())?, num(key.private().d())?, primes)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
    private
        .validate()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    Ok(private)
}

/// Checks `s` (the signature field of the blob) over `data` with the hash
/// `algorithm` names.
pub(super) fn verify(key: &RsaPublicKey, algorithm: &str, data: &[u8], s: &[u8]) -> bool {
    let size = key.size();
    if s.len() > size {
        return false;
    }
    let mut padded = vec![0u8; size];
    padded[size - s.len()..].copy_from_slice(s);
    let Ok(sig) = Signature::try_from(padded.as_slice()) else {
        return false;
    };
    let key = key.clone();
    match algorithm {
        "rsa-sha2-256" => VerifyingKey::<Sha256>::new(key).verify(data, &sig).is_ok(),
        "rsa-sha2-512" => VerifyingKey::<Sha512>::new(key).verify(data, &sig).is_ok(),
        "ssh-rsa" => VerifyingKey::<Sha1>::new(key).verify(data, &sig).is_ok(),
        _ => false,
    }
}

/// Signs `data` with the hash `algorithm` names; the raw `s`, as long as
/// the modulus.
pub(super) fn sign(key: &RsaPrivateKey, algorithm: &str, data: &[u8]) -> Result<Vec<u8>, KeyError> {
    // Blinding values from a PRF of the secret exponent and the message.
    let mut seed = Sha256::new();
    seed.update(Zeroizing::new(
        rsa::traits::PrivateKeyParts::d(key).to_be_bytes(),
    ));
    seed.update(algorithm.as_bytes());
    seed.update(data);
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.finalize().into());
    let mut rng = SeededRng::from_seed(&seed);
    let key = key.clone();
    let sig = match algorithm {
        "rsa-sha2-256" => SigningKey::<Sha256>::new(key).try_sign_with_rng(&mut rng, data),
        "rsa-sha2-512" => SigningKey::<Sha512>::new(key).try_sign_with_rng(&mut rng, data),
        "ssh-rsa" => SigningKey::<Sha1>::new(key).try_sign_with_rng(&mut rng, data),
        other => return Err(KeyError::Unsupported(other.to_string())),
    };
    Ok(sig.map_err(|_| KeyError::Sign)?.to_vec())
}
