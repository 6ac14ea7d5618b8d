//! User certificates beside key files, as ssh finds them: `PATH-cert.pub`
//! next to an identity file `PATH`, and `CertificateFile`s
//! (ssh_config(5)), each offered with the key it certifies
//! (PROTOCOL.certkeys).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use conch_core::keys::plain_signature_algorithm;
use conch_core::{KeyError, PublicKey};
use conch_driver::{SignFuture, Signer};

use crate::key_file::{load_public_key, KeyFileError};

/// A signer presenting a certificate of its key: the server is offered the
/// certificate, and the key (in memory, in a file, in an agent) signs.
#[derive(Clone)]
pub struct CertifiedSigner {
    certificate: PublicKey,
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for CertifiedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedSigner")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl CertifiedSigner {
    /// `signer` presenting `certificate`, which must be a certificate of
    /// its key.
    pub fn new(certificate: PublicKey, signer: Arc<dyn Signer>) -> Result<Self, KeyError> {
        if certificate.certificate().is_none() {
            return Err(KeyError::Encoding("not a certificate".into()));
        }
        if certificate.plain_key() != signer.public_key().plain_key() {
            return Err(KeyError::Encoding(
                "the certificate is for another key".into(),
            ));
        }
        Ok(CertifiedSigner {
            certificate,
            signer,
        })
    }
}

impl Signer for CertifiedSigner {
    fn public_key(&self) -> PublicKey {
        self.certificate.clone()
    }

    fn sign<'a>(&'a self, algorithm: &'a str, data: &'a [u8]) -> SignFuture<'a> {
        // The key signs under the plain name (PROTOCOL.certkeys), which is
        // also what the signature blob carries.
        self.signer.sign(plain_signature_algorithm(algorithm), data)
    }
}

/// `PATH-cert.pub`, where ssh looks for the certificate of identity `PATH`.
pub fn certificate_path(key_path: &Path) -> PathBuf {
    let mut name = key_path.as_os_str().to_owned();
    name.push("-cert.pub");
    PathBuf::from(name)
}

/// Loads a certificate file (`ssh-ed25519-cert-v01@openssh.com AAAA...`,
/// what `ssh-keygen -s` writes).
pub fn load_certificate(path: &Path) -> Result<PublicKey, KeyFileError> {
    let key = load_public_key(path)?;
    if key.certificate().is_none() {
        return Err(KeyFileError::Invalid {
            path: path.to_path_buf(),
            reason: format!("{} is not a certificate", key.algorithm()),
        });
    }
    Ok(key)
}

/// The signers to offer for the identity `signer` loaded from `key_path`,
/// as ssh offers them: first the key with each certificate of it, from
/// `PATH-cert.pub` and then from `certificate_files` (files that certify
/// other keys, or cannot be read, are skipped), then the key itself.
pub fn with_certificates(
    signer: Arc<dyn Signer>,
    key_path: &Path,
    certificate_files: &[PathBuf],
) -> Vec<Arc<dyn Signer>> {
    let mut out: Vec<Arc<dyn Signer>> = Vec::new();
    let candidates = std::iter::once(certificate_path(key_path)).chain(certificate_files.to_vec());
    for path in candidates {
        let Ok(cert) = load_certificate(&path) else {
            continue;
        };
        if out.iter().any(|s| s.public_key() == cert) {
            continue;
        }
        if let Ok(certified) = CertifiedSigner::new(cert, signer.clone()) {
            out.push(Arc::new(certified));
        }
    }
    out.push(signer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use conch_core::PrivateKey;

    const USER: &str = include_str!("testdata/user");
    const CERT: &str = include_str!("testdata/user_forever-cert.pub");
    const OTHER_CERT: &str = include_str!("testdata/host_h-cert.pub");

    #[test]
    fn the_cert_pub_beside_a_key_is_offered_first_and_signs_with_the_key() {
        let dir = std::env::temp_dir().join(format!("conch-cert-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_path = dir.join("id_ed25519");
        std::fs::write(certificate_path(&key_path), CERT).unwrap();
        // Another key's certificate given as CertificateFile is skipped.
        let other = dir.join("other-cert.pub");
        std::fs::write(&other, OTHER_CERT).unwrap();
        let key = PrivateKey::from_openssh(USER.as_bytes(), None).unwrap();
        let signers = with_certificates(Arc::new(key.clone()), &key_path, &[other]);
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(signers.len(), 2);
        let cert = PublicKey::from_openssh(CERT).unwrap();
        assert_eq!(signers[0].public_key(), cert);
        assert_eq!(&signers[1].public_key(), key.public_key());
        let alg = "ssh-ed25519-cert-v01@openssh.com";
        let sig = conch_driver::block_on::block_on(signers[0].sign(alg, b"data")).unwrap();
        assert!(cert.verify(alg, b"data", &sig));
    }

    #[test]
    fn a_plain_key_file_is_not_a_certificate() {
        let path = std::env::temp_dir().join(format!("conch-not-cert-{}", std::process::id()));
        std::fs::write(&path, include_str!("testdata/user.pub")).unwrap();
        let err = load_certificate(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.to_string().contains("not a certificate"), "{err}");
    }
}
