//! Reading `openssh-key-v1` files (OpenSSH PROTOCOL.key) that hold an
//! `ecdsa-sha2-nistp521` key whose private scalar is shorter than 66 bytes.
//!
//! OpenSSH stores the scalar as an `mpint`, which drops leading zero bytes;
//! the top byte of a P-521 scalar is 0 or 1, so about half of the keys
//! `ssh-keygen -t ecdsa -b 521` makes have a 65-byte (or shorter) scalar.
//! `ssh-key` 0.6 only reads exactly 66 bytes, so such files fail there.
//! This module reads the container itself (decrypting with ssh-key's KDF
//! and cipher when it is encrypted) and hands `ssh-key` a keypair built
//! from the padded scalar.

use ssh_key::private::{EcdsaKeypair, EcdsaPrivateKey, KeypairData};
use ssh_key::{Cipher, Kdf};
use zeroize::Zeroizing;

use super::KeyError;
use crate::wire::Reader;

const MAGIC: &[u8] = b"openssh-key-v1\0";
const P521_ALGORITHM: &[u8] = b"ecdsa-sha2-nistp521";
const SCALAR_LEN: usize = 66;

/// The PEM body, base64-decoded. Both the base64 text and the binary are
/// the private key in clear when it is not encrypted: they are built at
/// their final size (no reallocation leaves a copy) and zeroized on drop.
fn decode_pem(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let text = std::str::from_utf8(text).ok()?;
    let lines = || {
        text.lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN OPENSSH PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
    };
    let mut body = Zeroizing::new(String::with_capacity(lines().map(str::len).sum()));
    lines().for_each(|l| body.push_str(l));
    use base64ct::Encoding;
    base64ct::Base64::decode_vec(&body).ok().map(Zeroizing::new)
}

fn bad(what: &str) -> KeyError {
    KeyError::Encoding(format!("openssh-key-v1: {what}"))
}

/// Reads a P-521 key file. `Ok(None)` if the file is not one (the caller
/// keeps its own error for it).
pub(super) fn read(
    text: &[u8],
    passphrase: Option<&[u8]>,
) -> Result<Option<ssh_key::PrivateKey>, KeyError> {
    let Some(binary) = decode_pem(text) else {
        return Ok(None);
    };
    let Some(rest) = binary.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let mut r = Reader::new(rest);
    let malformed = |_| bad("malformed container");
    let cipher_name = r.ascii().map_err(malformed)?;
    let kdf_name = r.ascii().map_err(malformed)?;
    let kdf_options = r.string().map_err(malformed)?;
    let count = r.u32().map_err(malformed)?;
    let public = r.string().map_err(malformed)?;
    let sealed = r.string().map_err(malformed)?;
    let tag = r.remaining();
    if count != 1 || Reader::new(public).string().ok() != Some(P521_ALGORITHM) {
        return Ok(None);
    }
    let mut section = Zeroizing::new(sealed.to_vec());
    if cipher_name != "none" {
        let Some(passphrase) = passphrase else {
            return Err(KeyError::Encrypted);
        };
        let cipher =
            Cipher::new(cipher_name).map_err(|_| KeyError::Unsupported(cipher_name.into()))?;
        if kdf_name != "bcrypt" {
            return Err(KeyError::Unsupported(kdf_name.into()));
        }
        let mut o = Reader::new(kdf_options);
        let salt = o.string().map_err(malformed)?.to_vec();
        let rounds = o.u32().map_err(malformed)?;
        super::check_kdf_rounds(rounds)?;
        let kdf = Kdf::Bcrypt { salt, rounds };
        let (key, iv) = kdf
            .derive_key_and_iv(cipher, passphrase)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        let tag: Option<[u8; 16]> = match tag.len() {
            0 => None,
            16 => tag.try_into().ok(),
            _ => return Err(bad("trailing bytes")),
        };
        cipher
            .decrypt(&key, &iv, &mut section, tag)
            .map_err(|_| KeyError::WrongPassphrase)?;
    }
    let mut s = Reader::new(&section);
    let (check1, check2) = (s.u32().map_err(malformed)?, s.u32().map_err(malformed)?);
    if check1 != check2 {
        // PROTOCOL.key: the check values differ when decryption failed.
        return Err(if cipher_name == "none" {
            bad("check values differ")
        } else {
            KeyError::WrongPassphrase
        });
    }
    if s.string().map_err(malformed)? != P521_ALGORITHM
        || s.string().map_err(malformed)? != b"nistp521"
    {
        return Err(bad("key type"));
    }
    let point = s.string().map_err(malformed)?;
    let scalar = s.mpint().map_err(malformed)?;
    let comment = String::from_utf8_lossy(s.string().map_err(malformed)?).into_owned();
    let start = scalar.iter().position(|&b| b != 0).unwrap_or(scalar.len());
    let scalar = &scalar[start..];
    if scalar.len() > SCALAR_LEN {
        return Err(bad("P-521 scalar too long"));
    }
    let mut padded = Zeroizing::new([0u8; SCALAR_LEN]);
    padded[SCALAR_LEN - scalar.len()..].copy_from_slice(scalar);
    let secret = p521::SecretKey::from_slice(&padded[..]).map_err(|_| bad("P-521 scalar"))?;
    let public = ssh_key::sec1::EncodedPoint::<ssh_key::sec1::consts::U66>::from_bytes(point)
        .map_err(|_| bad("P-521 point"))?;
    // The point must be the scalar's: a file whose halves disagree is refused.
    let derived = {
        use p521::elliptic_curve::sec1::ToEncodedPoint;
        secret.public_key().to_encoded_point(false)
    };
    if derived.as_bytes() != public.as_bytes() {
        return Err(bad("P-521 public point does not match the private key"));
    }
    let keypair = EcdsaKeypair::NistP521 {
        public,
        private: EcdsaPrivateKey::<SCALAR_LEN>::from(secret),
    };
    ssh_key::PrivateKey::new(KeypairData::Ecdsa(keypair), comment)
        .map(Some)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}
