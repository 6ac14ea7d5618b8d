//! Private keys in the PEM and DER formats other tools write: PKCS#1
//! (`BEGIN RSA PRIVATE KEY`, RFC 8017 appendix A.1.2), SEC1 (`BEGIN EC
//! PRIVATE KEY`, RFC 5915), PKCS#8 (`BEGIN PRIVATE KEY`, RFC 5208) and
//! encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`, RFC 5958 with PBES2 of
//! RFC 8018), as `ssh-keygen -m PEM`/`-m PKCS8` and `openssl` write them.
//! The DER is decoded by RustCrypto's `pkcs1` (through `rsa`), `sec1` and
//! `pkcs8` crates.

use pkcs8::der::asn1::{ObjectIdentifier, OctetStringRef};
use pkcs8::der::Decode;
use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair};
use zeroize::Zeroizing;

use super::KeyError;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// The most PBKDF2 iterations an encrypted PKCS#8 file may ask for
/// (OpenSSL writes 2048; guides suggest up to a few hundred thousand):
/// bounds the work a hostile file can cause before a passphrase is tried.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The largest scrypt cost (log2 N) an encrypted PKCS#8 file may ask for;
/// 2^20 is about 1 GiB of memory with r = 8.
pub const MAX_SCRYPT_LOG_N: u8 = 20;

/// Whether `text` is a PEM document this module reads (by its label).
pub(super) fn is_pem_key(text: &[u8]) -> bool {
    matches!(
        pem_rfc7468::decode_label(text),
        Ok("RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY")
    )
}

/// Formats Conch does not read, recognised so the error says which.
pub(super) fn unsupported_format(text: &[u8]) -> Option<&'static str> {
    let head = String::from_utf8_lossy(&text[..text.len().min(64)]).into_owned();
    if head.starts_with("PuTTY-User-Key-File-") {
        return Some(
            "PuTTY .ppk keys are not supported; convert with \
             `puttygen KEY.ppk -O private-openssh -o KEY`",
        );
    }
    match pem_rfc7468::decode_label(text) {
        Ok("DSA PRIVATE KEY") => Some("DSA keys are not supported (OpenSSH 7.0 disabled them)"),
        Ok("SSH2 ENCRYPTED PRIVATE KEY") => {
            Some("ssh.com private keys are not supported; convert with `ssh-keygen -i`")
        }
        _ => None,
    }
}

/// Decodes a PEM private key; `passphrase` is needed for an encrypted
/// PKCS#8 one ([`KeyError::Encrypted`] without it).
pub(super) fn read(text: &[u8], passphrase: Option<&[u8]>) -> Result<KeypairData, KeyError> {
    // OpenSSL's legacy encryption (`Proc-Type: 4,ENCRYPTED` headers, what
    // `ssh-keygen -m PEM -N pass` writes): refused with the way out.
    if String::from_utf8_lossy(text).contains("Proc-Type: 4,ENCRYPTED") {
        return Err(KeyError::Unsupported(
            "PEM encrypted with OpenSSL's legacy scheme (DEK-Info); convert it with \
             `ssh-keygen -p -f FILE` (OpenSSH format) or `openssl pkcs8 -topk8` (PKCS#8)"
                .into(),
        ));
    }
    let (label, der) =
        pem_rfc7468::decode_vec(text).map_err(|e| KeyError::Encoding(format!("PEM: {e}")))?;
    let der = Zeroizing::new(der);
    match label {
        "RSA PRIVATE KEY" => rsa_pkcs1(&der),
        "EC PRIVATE KEY" => ec_sec1(&der, None),
        "PRIVATE KEY" => pkcs8(&der),
        "ENCRYPTED PRIVATE KEY" => {
            let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(&der)
                .map_err(|e| KeyError::Encoding(format!("encrypted PKCS#8: {e}")))?;
            check_kdf(&info.encryption_algorithm)?;
            let Some(pass) = passphrase else {
                return Err(KeyError::Encrypted);
            };
            // A wrong passphrase shows as bad padding or as DER that does
            // not decode.
            let plain = info.decrypt(pass).map_err(|_| KeyError::WrongPassphrase)?;
            pkcs8(plain.as_bytes()).map_err(|e| match e {
                KeyError::Encoding(_) => KeyError::WrongPassphrase,
                other => other,
            })
        }
        other => Err(KeyError::Unsupported(format!("PEM {other:?}"))),
    }
}

/// Refuses key derivations costlier than the bounds above.
fn check_kdf(scheme: &pkcs8::pkcs5::EncryptionScheme) -> Result<(), KeyError> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let pkcs8::pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
        return Err(KeyError::Unsupported(
            "PKCS#8 encrypted with PBES1; only PBES2 is supported".into(),
        ));
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => Err(KeyError::Unsupported(
            format!(
                "PKCS#8 KDF asks for {} PBKDF2 iterations; at most {MAX_PBKDF2_ITERATIONS} are accepted",
                p.iteration_count
            ),
        )),
        Kdf::Scrypt(p) if p.cost_parameter > 1u64 << MAX_SCRYPT_LOG_N => {
            Err(KeyError::Unsupported(format!(
                "PKCS#8 KDF asks for scrypt N = {}; at most 2^{MAX_SCRYPT_LOG_N} is accepted",
                p.cost_parameter
            )))
        }
        _ => Ok(()),
    }
}

fn rsa_pkcs1(der: &[u8]) -> Result<KeypairData, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = rsa::PrivateKey::from_pkcs1_der(der)
        .map_err(|e| KeyError::Encoding(format!("PKCS#1: {e}")))?;
    rsa_keypair(&key)
}

fn rsa_keypair(key: &rsa::PrivateKey) -> Result<KeypairData, KeyError> {
    RsaKeypair::try_from(key)
        .map(KeypairData::Rsa)
        .map_err(|e| KeyError::Encoding(format!("RSA key: {e}")))
}

/// SEC1 `ECPrivateKey`; the curve comes from its parameters or, inside
/// PKCS#8, from the algorithm's (`curve`).
fn ec_sec1(der: &[u8], curve: Option<ObjectIdentifier>) -> Result<KeypairData, KeyError> {
    let key =
        sec1::EcPrivateKey::from_der(der).map_err(|e| KeyError::Encoding(format!("SEC1: {e}")))?;
    let curve = key
        .parameters
        .and_then(|p| p.named_curve())
        .or(curve)
        .ok_or_else(|| KeyError::Encoding("EC key without a named curve".into()))?;
    let bad = |e: p256::elliptic_curve::Error| KeyError::Encoding(format!("EC key: {e}"));
    let keypair = match curve {
        P256 => {
            let secret = p256::SecretKey::from_slice(key.private_key).map_err(bad)?;
            EcdsaKeypair::NistP256 {
                public: secret.public_key().into(),
                private: secret.into(),
            }
        }
        P384 => {
            let secret = p384::SecretKey::from_slice(key.private_key).map_err(bad)?;
            EcdsaKeypair::NistP384 {
                public: secret.public_key().into(),
                private: secret.into(),
            }
        }
        P521 => {
            let secret = p521::SecretKey::from_slice(key.private_key).map_err(bad)?;
            EcdsaKeypair::NistP521 {
                public: secret.public_key().into(),
                private: secret.into(),
            }
        }
        other => return Err(KeyError::Unsupported(format!("EC curve {other}"))),
    };
    Ok(KeypairData::Ecdsa(keypair))
}

fn pkcs8(der: &[u8]) -> Result<KeypairData, KeyError> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| KeyError::Encoding(format!("PKCS#8: {e}")))?;
    match info.algorithm.oid {
        RSA_ENCRYPTION => {
            use rsa::pkcs8::DecodePrivateKey;
            let key = rsa::PrivateKey::from_pkcs8_der(der)
                .map_err(|e| KeyError::Encoding(format!("PKCS#8 RSA: {e}")))?;
            rsa_keypair(&key)
        }
        EC_PUBLIC_KEY => {
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(|e| KeyError::Encoding(format!("PKCS#8 EC curve: {e}")))?;
            ec_sec1(info.private_key.as_bytes(), Some(curve))
        }
        ED25519 => {
            // RFC 8410 section 7: the key is an OCTET STRING inside the
            // OCTET STRING.
            let seed = <&OctetStringRef>::from_der(info.private_key.as_bytes())
                .map_err(|e| KeyError::Encoding(format!("PKCS#8 Ed25519: {e}")))?;
            let seed: &[u8; 32] = seed
                .as_bytes()
                .try_into()
                .map_err(|_| KeyError::Encoding("PKCS#8 Ed25519: not 32 bytes".into()))?;
            Ok(KeypairData::Ed25519(Ed25519Keypair::from_seed(seed)))
        }
        other => Err(KeyError::Unsupported(format!(
            "PKCS#8 key algorithm {other}"
        ))),
    }
}

#[cfg(test)]
#[path = "pem_tests.rs"]
mod tests;
