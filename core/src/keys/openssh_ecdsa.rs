//! Reading `openssh-key-v1` files (OpenSSH PROTOCOL.key) that hold an
//! ECDSA key whose private scalar is shorter than the curve's size (32, 48
//! or 66 bytes for P-256, P-384, P-521).
//!
//! OpenSSH stores the scalar as an `mpint`, which drops leading zero bytes;
//! the top byte of a P-521 scalar is 0 or 1, so about half of the keys
//! `ssh-keygen -t ecdsa -b 521` makes have a 65-byte (or shorter) scalar,
//! and one P-256 or P-384 key in 256 has a zero top byte (the interop tests
//! met one: a host key that would not load, now and then). `ssh-key` 0.6
//! only read exactly the curve's size; 0.7 reads short P-384 and P-521
//! scalars but still refuses a short P-256 one, so such files fail there. This
//! module reads the container itself (decrypting with ssh-key's KDF and
//! cipher when it is encrypted) and hands `ssh-key` a keypair built from
//! the padded scalar.

use ssh_key::private::{EcdsaKeypair, EcdsaPrivateKey, KeypairData};
use ssh_key::sec1::consts::{U32, U48, U66};
use ssh_key::sec1::EncodedPoint;
use ssh_key::{Cipher, Kdf};
use zeroize::Zeroizing;

use super::KeyError;
use crate::wire::Reader;

const MAGIC: &[u8] = b"openssh-key-v1\0";
/// The largest scalar: P-521's.
const MAX_SCALAR_LEN: usize = 66;

/// One curve: its key algorithm, its curve identifier (RFC 5656 §3.1.1)
/// and its scalar's size in bytes.
struct Curve {
    algorithm: &'static [u8],
    identifier: &'static [u8],
    scalar_len: usize,
}

const CURVES: [Curve; 3] = [
    Curve {
        algorithm: b"ecdsa-sha2-nistp256",
        identifier: b"nistp256",
        scalar_len: 32,
    },
    Curve {
        algorithm: b"ecdsa-sha2-nistp384",
        identifier: b"nistp384",
        scalar_len: 48,
    },
    Curve {
        algorithm: b"ecdsa-sha2-nistp521",
        identifier: b"nistp521",
        scalar_len: 66,
    },
];

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

/// Reads an ECDSA key file. `Ok(None)` if the file is not one (the caller
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
    if count != 1 {
        return Ok(None);
    }
    let algorithm = Reader::new(public).string().ok();
    let Some(curve) = CURVES.iter().find(|c| Some(c.algorithm) == algorithm) else {
        return Ok(None);
    };
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
        let tag = match tag.len() {
            0 => None,
            16 => <[u8; 16]>::try_from(tag).ok().map(Into::into),
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
    if s.string().map_err(malformed)? != curve.algorithm
        || s.string().map_err(malformed)? != curve.identifier
    {
        return Err(bad("key type"));
    }
    let point = s.string().map_err(malformed)?;
    let scalar = s.mpint().map_err(malformed)?;
    let comment = String::from_utf8_lossy(s.string().map_err(malformed)?).into_owned();
    let start = scalar.iter().position(|&b| b != 0).unwrap_or(scalar.len());
    let scalar = &scalar[start..];
    if scalar.len() > curve.scalar_len {
        return Err(bad("ECDSA scalar too long"));
    }
    let mut buffer = Zeroizing::new([0u8; MAX_SCALAR_LEN]);
    let padded = &mut buffer[..curve.scalar_len];
    padded[curve.scalar_len - scalar.len()..].copy_from_slice(scalar);
    // The point must be the scalar's: a file whose halves disagree is
    // refused.
    macro_rules! checked_pair {
        ($curve:ident, $size:ty, $variant:ident, $len:literal) => {{
            use $curve::elliptic_curve::sec1::ToSec1Point;
            let secret = $curve::SecretKey::from_slice(padded).map_err(|_| bad("ECDSA scalar"))?;
            let public =
                EncodedPoint::<$size>::from_bytes(point).map_err(|_| bad("ECDSA point"))?;
            let derived = secret.public_key().to_sec1_point(false);
            if derived.as_bytes() != public.as_bytes() {
                return Err(bad("ECDSA public point does not match the private key"));
            }
            EcdsaKeypair::$variant {
                public,
                private: EcdsaPrivateKey::<$len>::from(secret),
            }
        }};
    }
    let keypair = match curve.scalar_len {
        32 => checked_pair!(p256, U32, NistP256, 32),
        48 => checked_pair!(p384, U48, NistP384, 48),
        _ => checked_pair!(p521, U66, NistP521, 66),
    };
    ssh_key::PrivateKey::new(KeypairData::Ecdsa(keypair), comment)
        .map(Some)
        .map_err(|e| KeyError::Encoding(e.to_string()))
}
