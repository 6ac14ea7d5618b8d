//! Public and private keys, and the SSH signature blobs made with them.
//!
//! Parsing and encoding of key formats (the wire blob of RFC 4253 section 6.6,
//! OpenSSH `.pub` lines, and `openssh-key-v1` private keys, PROTOCOL.key,
//! encrypted ones included) is done by the `ssh-key` crate; this module gives
//! the rest of Conch the few operations it needs with the error split it uses.
//!
//! Key types and their signature algorithms:
//! - `ssh-ed25519` (RFC 8709);
//! - `ecdsa-sha2-nistp256/384/521` (RFC 5656 section 3), in `keys/ecdsa.rs`;
//! - `ssh-rsa` keys (RFC 4253 section 6.6) signing `rsa-sha2-512` and
//!   `rsa-sha2-256` (RFC 8332), and the legacy SHA-1 `ssh-rsa`, in `keys/rsa.rs`.

mod certificate;
mod ecdsa;
mod openssh_ecdsa;
mod pem;
mod rfc4716;
pub mod rsa;
mod seeded_rng;

use std::fmt;

use signature::{Signer, Verifier};
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg};

use crate::wire::{Encode, Reader};

pub use certificate::{
    is_certificate_algorithm, plain_signature_algorithm, Certificate, CertificateError,
    CertificateType, UserCertificatePolicy,
};
pub use pem::{MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_LOG_N};

/// A key could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text or blob is not a key in a format we read.
    #[error("invalid key encoding: {0}")]
    Encoding(String),
    /// The key is encrypted and needs a passphrase.
    #[error("key is encrypted; a passphrase is needed")]
    Encrypted,
    /// The passphrase did not decrypt the key.
    #[error("incorrect passphrase")]
    WrongPassphrase,
    /// The key's algorithm is not one Conch can use.
    #[error("unsupported key algorithm {0:?}")]
    Unsupported(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
    /// The encrypted key asks its passphrase to be stretched with more
    /// bcrypt-pbkdf rounds than [`MAX_KDF_ROUNDS`]; refused before any are
    /// run, as so many would keep the CPU busy for hours.
    #[error(
        "the key's passphrase KDF asks for {rounds} bcrypt-pbkdf rounds; \
         at most {max} are accepted (ssh-keygen -a; OpenSSH's default is 16)"
    )]
    TooManyKdfRounds {
        /// The rounds the key file asks for.
        rounds: u32,
        /// [`MAX_KDF_ROUNDS`].
        max: u32,
    },
}

/// The most bcrypt-pbkdf rounds an encrypted `openssh-key-v1` file may ask
/// for (its `kdfoptions`, PROTOCOL.key; `ssh-keygen -a`).
///
/// OpenSSH's default is 16; guides suggest 100, and some users raise it to
/// a few hundred. Each round costs about 12-20 ms for the 48 bytes
/// an `aes256-ctr` key needs (measured: 16 rounds 0.3 s, 100 rounds 1.2 s
/// on the project's 2-core test machine), so 10,000 rounds, 100 times the
/// common choice, bounds a load to a few minutes at worst, where the
/// largest count the file format allows (2^32 - 1) would take years.
pub const MAX_KDF_ROUNDS: u32 = 10_000;

/// Refuses a bcrypt-pbkdf round count above [`MAX_KDF_ROUNDS`].
fn check_kdf_rounds(rounds: u32) -> Result<(), KeyError> {
    if rounds > MAX_KDF_ROUNDS {
        return Err(KeyError::TooManyKdfRounds {
            rounds,
            max: MAX_KDF_ROUNDS,
        });
    }
    Ok(())
}

/// A public key: what a server presents as its host key and what a user
/// offers for authentication. Two keys are equal when their wire blobs are:
/// the comment of a `.pub` line does not count.
///
/// A key may be an OpenSSH certificate (PROTOCOL.certkeys): then its blob
/// and [`Self::algorithm`] are the certificate's, its signature
/// algorithms the `*-cert-v01@openssh.com` names, and
/// [`Self::certificate`] gives the CA's assertions; signatures are still
/// made and checked with the certified key.
#[derive(Clone)]
pub struct PublicKey {
    // Boxed: with RSA and the NIST curves the key data is large, and public
    // keys sit in events and auth states. For a certificate, the certified
    // key.
    inner: Box<ssh_key::PublicKey>,
    blob: Vec<u8>,
    certificate: Option<std::sync::Arc<Certificate>>,
}

/// Whether `name` can name a key type here: at most 64 characters (RFC
/// 4251 section 6), of those every algorithm name in use is made of
/// (letters, digits, `-`, `.`, `@`), which are also all that an OpenSSH
/// public key line can carry in its type field as ssh-key reads it. So a
/// key decoded from a blob always writes a line that reads back.
fn is_algorithm_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.@".contains(&b))
}

/// Refuses a key type named like a certificate (`NAME-cert-v01@DOMAIN`)
/// that is none of OpenSSH's. ssh-key decodes any such name as a
/// certificate of an unknown algorithm, and one whose NAME is empty
/// (`-cert-v01@x`) makes it panic when the key is written back (ssh-key
/// 0.7.0-rc.12, found by the `certificate` fuzz target). Run on every name
/// before ssh-key sees the bytes; an unknown certificate type could not be
/// checked against its CA anyway (the known ones are
/// `certificate::CERT_ALGORITHMS`).
fn check_key_type(name: &str) -> Result<(), KeyError> {
    let local = name.split('@').next().unwrap_or(name);
    let known = certificate::CERT_ALGORITHMS
        .iter()
        .any(|(cert, _)| *cert == name);
    if local.ends_with("-cert-v01") && !known {
        return Err(KeyError::Encoding(format!(
            "certificate type {name:?} is not supported"
        )));
    }
    Ok(())
}

/// [`check_key_type`] on the type named inside a key blob; a blob too short
/// to name one is left to the decoder's own error.
fn check_blob_key_type(blob: &[u8]) -> Result<(), KeyError> {
    match Reader::new(blob).ascii() {
        Ok(name) => check_key_type(name),
        Err(_) => Ok(()),
    }
}

impl PublicKey {
    /// Decodes the wire blob (`string` algorithm name followed by key data,
    /// RFC 4253 section 6.6), or a certificate blob (PROTOCOL.certkeys).
    pub fn from_blob(blob: &[u8]) -> Result<Self, KeyError> {
        let name = Reader::new(blob)
            .ascii()
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        if !is_algorithm_name(name) {
            // ssh-key would take it as an unknown algorithm's key, whose
            // line `to_openssh` could not write so that it reads back (a
            // space or CR in the name splits it, a `)` is refused).
            return Err(KeyError::Encoding(format!(
                "key type {name:?} is not an algorithm name"
            )));
        }
        check_key_type(name)?;
        if is_certificate_algorithm(name) {
            let cert = Certificate::from_blob(blob)?;
            let inner = ssh_key::PublicKey::from(cert.inner_key().clone());
            return Ok(PublicKey {
                inner: Box::new(inner),
                blob: blob.to_vec(),
                certificate: Some(std::sync::Arc::new(cert)),
            });
        }
        let inner =
            ssh_key::PublicKey::from_bytes(blob).map_err(|e| KeyError::Encoding(e.to_string()))?;
        // ssh-key reads an ed25519 key's 32 bytes whatever its string's
        // length says: a key is taken only in the one encoding it has
        // (RFC 8709 section 4), so that `blob()` is what its line holds.
        if inner.to_bytes().ok().as_deref() != Some(blob) {
            return Err(KeyError::Encoding(
                "key blob: a field's length does not match its contents".into(),
            ));
        }
        Ok(PublicKey {
            inner: Box::new(inner),
            blob: blob.to_vec(),
            certificate: None,
        })
    }

    /// Parses one OpenSSH public key line (`ssh-ed25519 AAAA... comment`),
    /// or a certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA...`,
    /// an `id_ed25519-cert.pub` file).
    pub fn from_openssh(line: &str) -> Result<Self, KeyError> {
        let line = line.trim();
        let mut fields = line.split_ascii_whitespace();
        if let (Some(kind), Some(b64)) = (fields.next(), fields.next()) {
            check_key_type(kind)?;
            let blob = <base64ct::Base64 as base64ct::Encoding>::decode_vec(b64)
                .map_err(|e| KeyError::Encoding(e.to_string()));
            if let Ok(blob) = &blob {
                check_blob_key_type(blob)?;
            }
            if is_certificate_algorithm(kind) {
                let key = Self::from_blob(&blob?)?;
                if key.algorithm() != kind {
                    return Err(KeyError::Encoding(format!(
                        "the line says {kind} but the certificate is {}",
                        key.algorithm()
                    )));
                }
                return Ok(key);
            }
        }
        let inner = ssh_key::PublicKey::from_openssh(line)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        Self::from_ssh_key(inner)
    }

    fn from_ssh_key(inner: ssh_key::PublicKey) -> Result<Self, KeyError> {
        let blob = inner
            .to_bytes()
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        Ok(PublicKey {
            inner: Box::new(inner),
            blob,
            certificate: None,
        })
    }

    /// The wire blob (for a certificate, the whole certificate).
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The key type name, e.g. `ssh-ed25519`, or for a certificate its
    /// type, e.g. `ssh-ed25519-cert-v01@openssh.com`.
    pub fn algorithm(&self) -> String {
        match &self.certificate {
            Some(_) => self.inner.algorithm().to_certificate_type(),
            None => self.inner.algorithm().as_str().to_string(),
        }
    }

    /// The certificate, when this key is one.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_deref()
    }

    /// The key itself: for a certificate the certified key, otherwise a
    /// copy of this one.
    pub fn plain_key(&self) -> PublicKey {
        match &self.certificate {
            None => self.clone(),
            Some(_) => {
                let mut inner = (*self.inner).clone();
                inner.set_comment("");
                Self::from_ssh_key(inner).unwrap_or_else(|_| self.clone())
            }
        }
    }

    /// The OpenSSH one-line form, without comment.
    pub fn to_openssh(&self) -> String {
        if self.certificate.is_some() {
            let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(&self.blob);
            return format!("{} {b64}", self.algorithm());
        }
        let mut k = (*self.inner).clone();
        k.set_comment("");
        k.to_openssh().unwrap_or_default().trim_end().to_string()
    }

    /// `SHA256:` followed by unpadded base64 of the SHA-256 of the blob, as
    /// `ssh-keygen -l` prints it. For a certificate, the certified key's
    /// (as OpenSSH prints it).
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The signature algorithms this key can make, most preferred first:
    /// what user authentication offers (the first of these the server's
    /// `server-sig-algs` lists, RFC 8308 section 3.1) and accepts. For RSA
    /// keys `rsa-sha2-512` and `rsa-sha2-256`; the legacy SHA-1 `ssh-rsa`
    /// is not among them (see [`Self::supports_signature_algorithm`]).
    ///
    /// For a certificate these are the certificate names
    /// (`rsa-sha2-512-cert-v01@openssh.com`, ...).
    pub fn signature_algorithms(&self) -> Vec<&'static str> {
        let plain = signature_algorithms_for(&self.inner.algorithm());
        self.as_certificate_names(plain)
    }

    /// Whether this key can make signatures of `algorithm`, the legacy
    /// `ssh-rsa` included (host keys may use it where the configuration
    /// enables it). A certificate supports only the certificate names.
    pub fn supports_signature_algorithm(&self, algorithm: &str) -> bool {
        let plain = all_signature_algorithms_for(&self.inner.algorithm());
        self.as_certificate_names(plain).contains(&algorithm)
    }

    fn as_certificate_names(&self, plain: Vec<&'static str>) -> Vec<&'static str> {
        if self.certificate.is_none() {
            return plain;
        }
        plain
            .into_iter()
            .filter_map(certificate::certificate_algorithm)
            .collect()
    }

    /// Verifies an SSH signature blob (`string` algorithm, `string` signature)
    /// over `data`. The blob's algorithm must be `expected_algorithm`, which
    /// must be one this key supports; otherwise the signature is refused.
    /// For a certificate algorithm the blob carries the plain name
    /// (`rsa-sha2-512` for `rsa-sha2-512-cert-v01@openssh.com`) and the
    /// certified key made it.
    pub fn verify(&self, expected_algorithm: &str, data: &[u8], sig_blob: &[u8]) -> bool {
        if !self.supports_signature_algorithm(expected_algorithm) {
            return false;
        }
        let expected_algorithm = plain_signature_algorithm(expected_algorithm);
        let mut r = Reader::new(sig_blob);
        let Ok(alg) = r.ascii() else { return false };
        if alg != expected_algorithm {
            return false;
        }
        let Ok(inner_sig) = r.string() else {
            return false;
        };
        // Security keys append `byte flags, uint32 counter` (PROTOCOL.u2f
        // "SSH U2F signatures"); sshd requires the user-presence flag
        // unless told `no-touch-required`, and so does this.
        if is_security_key_algorithm(alg) {
            let Ok(flags) = r.u8() else { return false };
            if r.u32().is_err() || flags & SK_USER_PRESENCE == 0 {
                return false;
            }
        }
        if r.end().is_err() {
            return false;
        }
        match self.inner.key_data() {
            KeyData::Rsa(k) => match rsa::public_key(k) {
                Some(k) => rsa::verify(&k, alg, data, inner_sig),
                None => false,
            },
            KeyData::Ecdsa(k) => ecdsa::verify(k, data, inner_sig),
            _ => {
                let Ok(sig) = ssh_key::Signature::try_from(sig_blob) else {
                    return false;
                };
                Verifier::verify(self.inner.key_data(), data, &sig).is_ok()
            }
        }
    }

    /// The underlying `ssh-key` value.
    pub fn as_ssh_key(&self) -> &ssh_key::PublicKey {
        &self.inner
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.blob == other.blob
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.blob.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.algorithm(), self.fingerprint())
    }
}

/// PROTOCOL.u2f: `SSH_SK_USER_PRESENCE_REQD`, set when the user touched
/// the security key.
const SK_USER_PRESENCE: u8 = 0x01;

/// `sk-ssh-ed25519@openssh.com` and `sk-ecdsa-sha2-nistp256@openssh.com`
/// (PROTOCOL.u2f): keys held by a FIDO security key, verified here and
/// offered from an agent, which does the signing.
fn is_security_key_algorithm(name: &str) -> bool {
    matches!(
        name,
        "sk-ssh-ed25519@openssh.com" | "sk-ecdsa-sha2-nistp256@openssh.com"
    )
}

fn signature_algorithms_for(alg: &Algorithm) -> Vec<&'static str> {
    match alg {
        Algorithm::Ed25519 => vec!["ssh-ed25519"],
        Algorithm::SkEd25519 => vec!["sk-ssh-ed25519@openssh.com"],
        Algorithm::SkEcdsaSha2NistP256 => vec!["sk-ecdsa-sha2-nistp256@openssh.com"],
        Algorithm::Rsa { .. } => rsa::PREFERRED.to_vec(),
        Algorithm::Ecdsa { curve } => vec![curve_of(*curve).algorithm()],
        _ => Vec::new(),
    }
}

fn all_signature_algorithms_for(alg: &Algorithm) -> Vec<&'static str> {
    match alg {
        Algorithm::Rsa { .. } => rsa::ALL.to_vec(),
        other => signature_algorithms_for(other),
    }
}

fn curve_of(curve: ssh_key::EcdsaCurve) -> ecdsa::Curve {
    match curve {
        ssh_key::EcdsaCurve::NistP256 => ecdsa::Curve::P256,
        ssh_key::EcdsaCurve::NistP384 => ecdsa::Curve::P384,
        ssh_key::EcdsaCurve::NistP521 => ecdsa::Curve::P521,
    }
}

/// A private key, able to sign. Its secret material is zeroized on drop (by
/// `ssh-key` and the `rsa` crate).
#[derive(Clone)]
pub struct PrivateKey {
    inner: ssh_key::PrivateKey,
    public: PublicKey,
    /// The private half as its signing crate takes it.
    signing: SigningKey,
}

/// A private key in the form its signing crate takes, built once when the
/// key is loaded: building it on every signature would repeat a scalar
/// multiplication (the public point of an Ed25519 or ECDSA key) or the
/// checks of an RSA key, as costly as the signature itself. Each wipes its
/// secret when dropped.
#[derive(Clone)]
enum SigningKey {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Ecdsa(Box<ecdsa::EcdsaSigningKey>),
    Rsa(Box<::rsa::PrivateKey>),
}

impl PrivateKey {
    /// Parses an `openssh-key-v1` private key (PROTOCOL.key). An encrypted key
    /// needs `passphrase`; without one this returns [`KeyError::Encrypted`].
    pub fn from_openssh(text: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        match Self::parse_with_ssh_key(text, passphrase) {
            Ok(inner) => Self::from_ssh_key(inner),
            // ECDSA scalars shorter than the curve size (mpint drops leading
            // zeros), which ssh-key refuses for P-256.
            Err(e @ KeyError::Encoding(_)) => match openssh_ecdsa::read(text, passphrase)? {
                Some(inner) => Self::from_ssh_key(inner),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Parses a private key in any format Conch reads: `openssh-key-v1`
    /// (PROTOCOL.key), PEM PKCS#1 RSA (`BEGIN RSA PRIVATE KEY`), PEM SEC1
    /// EC (`BEGIN EC PRIVATE KEY`), PKCS#8 (`BEGIN PRIVATE KEY`) and
    /// encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`, PBES2). An
    /// encrypted key needs `passphrase` ([`KeyError::Encrypted`] without,
    /// [`KeyError::WrongPassphrase`] when wrong). DSA, PuTTY and ssh.com
    /// keys, and PEM with OpenSSL's legacy encryption, are
    /// [`KeyError::Unsupported`] with a word on converting them.
    pub fn from_text(text: &[u8], passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        if let Some(why) = pem::unsupported_format(text) {
            return Err(KeyError::Unsupported(why.into()));
        }
        if !pem::is_pem_key(text) && !String::from_utf8_lossy(text).contains("Proc-Type:") {
            return Self::from_openssh(text, passphrase);
        }
        let data = pem::read(text, passphrase)?;
        let inner =
            ssh_key::PrivateKey::new(data, "").map_err(|e| KeyError::Encoding(e.to_string()))?;
        Self::from_ssh_key(inner)
    }

    fn parse_with_ssh_key(
        text: &[u8],
        passphrase: Option<&[u8]>,
    ) -> Result<ssh_key::PrivateKey, KeyError> {
        check_container_key_types(text)?;
        let inner = ssh_key::PrivateKey::from_openssh(text)
            .map_err(|e| KeyError::Encoding(e.to_string()))?;
        if !inner.is_encrypted() {
            return Ok(inner);
        }
        // Checked whether or not a passphrase is given, so a caller learns
        // it before prompting the user for a key it cannot load.
        if let ssh_key::Kdf::Bcrypt { rounds, .. } = inner.kdf() {
            check_kdf_rounds(*rounds)?;
        }
        let Some(pass) = passphrase else {
            return Err(KeyError::Encrypted);
        };
        inner.decrypt(pass).map_err(|e| match e {
            ssh_key::Error::Crypto | ssh_key::Error::Decrypted => KeyError::WrongPassphrase,
            other => KeyError::Encoding(other.to_string()),
        })
    }

    /// Generates a new Ed25519 key from the given RNG.
    pub fn generate_ed25519(rng: &mut dyn rand_core::CryptoRng) -> Self {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut seed[..]);
        let kp = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        let inner = ssh_key::PrivateKey::new(ssh_key::private::KeypairData::Ed25519(kp), "")
            .expect("an Ed25519 keypair is always a valid private key");
        Self::from_ssh_key(inner).expect("an Ed25519 public key always encodes")
    }

    /// Wraps an `ssh-key` private key (which must be decrypted).
    pub fn from_ssh_key(inner: ssh_key::PrivateKey) -> Result<Self, KeyError> {
        if inner.is_encrypted() {
            return Err(KeyError::Encrypted);
        }
        if signature_algorithms_for(&inner.algorithm()).is_empty() {
            return Err(KeyError::Unsupported(
                inner.algorithm().as_str().to_string(),
            ));
        }
        use ssh_key::private::KeypairData;
        let signing = match inner.key_data() {
            KeypairData::Rsa(k) => SigningKey::Rsa(Box::new(rsa::private_key(k)?)),
            KeypairData::Ecdsa(k) => SigningKey::Ecdsa(Box::new(ecdsa::EcdsaSigningKey::new(
                curve_of(k.curve()),
                k.private_key_bytes(),
            )?)),
            KeypairData::Ed25519(k) => {
                let key = ed25519_dalek::SigningKey::from_bytes(&k.private.to_bytes());
                // The file's public half must be the secret's (as ssh-key
                // checks when it signs).
                if key.verifying_key().as_bytes() != k.public.as_ref() {
                    return Err(KeyError::Encoding(
                        "the Ed25519 public key does not match its private key".into(),
                    ));
                }
                SigningKey::Ed25519(Box::new(key))
            }
            _ => {
                return Err(KeyError::Unsupported(
                    inner.algorithm().as_str().to_string(),
                ))
            }
        };
        let public = PublicKey::from_ssh_key(inner.public_key().clone())?;
        Ok(PrivateKey {
            inner,
            public,
            signing,
        })
    }

    /// Encodes as an unencrypted `openssh-key-v1` PEM document. The text
    /// holds the private key in clear, so it is zeroized when dropped.
    pub fn to_openssh(&self) -> Result<zeroize::Zeroizing<String>, KeyError> {
        self.inner
            .to_openssh(ssh_key::LineEnding::LF)
            .map_err(|e| KeyError::Encoding(e.to_string()))
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The same key presenting `certificate` (an OpenSSH certificate of
    /// this very key, e.g. from `id_ed25519-cert.pub` or a server's
    /// `HostCertificate`): its public key becomes the certificate, and it
    /// signs the certificate algorithms with the key.
    pub fn with_certificate(&self, certificate: &PublicKey) -> Result<Self, KeyError> {
        if certificate.certificate().is_none() {
            return Err(KeyError::Encoding("not a certificate".into()));
        }
        if certificate.plain_key() != self.public.plain_key() {
            return Err(KeyError::Encoding(
                "the certificate is for another key".into(),
            ));
        }
        let mut key = self.clone();
        key.public = certificate.clone();
        Ok(key)
    }

    /// Signs `data` with `algorithm` (one of
    /// [`PublicKey::signature_algorithms`]) and returns the SSH signature blob.
    pub fn sign(&self, algorithm: &str, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        if !self.public.supports_signature_algorithm(algorithm) {
            return Err(KeyError::Unsupported(algorithm.to_string()));
        }
        // The blob names the plain algorithm (PROTOCOL.certkeys).
        let algorithm = plain_signature_algorithm(algorithm);
        let inner_sig = match &self.signing {
            SigningKey::Rsa(key) => rsa::sign(key, algorithm, data)?,
            SigningKey::Ecdsa(key) => key.sign(data)?,
            SigningKey::Ed25519(key) => {
                let sig: ed25519_dalek::Signature =
                    key.try_sign(data).map_err(|_| KeyError::Sign)?;
                sig.to_bytes().to_vec()
            }
        };
        let mut blob = Vec::with_capacity(inner_sig.len() + algorithm.len() + 8);
        blob.put_str(algorithm);
        blob.put_string(&inner_sig);
        Ok(blob)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({:?})", self.public)
    }
}

/// [`check_key_type`] on the public keys an OpenSSH private key file lists
/// (PROTOCOL.key: `openssh-key-v1`, cipher, KDF, KDF options, the number of
/// keys, then each public key's blob), which ssh-key decodes as key blobs
/// whether or not the file is encrypted. A file that does not parse that
/// far is left to ssh-key's own error.
fn check_container_key_types(text: &[u8]) -> Result<(), KeyError> {
    let Ok((label, body)) = pem_rfc7468::decode_vec(text.trim_ascii()) else {
        return Ok(());
    };
    let Some(rest) = body.strip_prefix(b"openssh-key-v1\0") else {
        return Ok(());
    };
    if label != "OPENSSH PRIVATE KEY" {
        return Ok(());
    }
    let mut r = Reader::new(rest);
    let (Ok(_cipher), Ok(_kdf), Ok(_kdf_options), Ok(keys)) =
        (r.string(), r.string(), r.string(), r.u32())
    else {
        return Ok(());
    };
    for _ in 0..keys {
        let Ok(blob) = r.string() else {
            break;
        };
        check_blob_key_type(blob)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "security_key_tests.rs"]
mod security_key_tests;
