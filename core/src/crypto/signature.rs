//! Host key signature algorithms backed by [`crate::keys`].

use crate::keys::{KeyError, PrivateKey, PublicKey};

use super::SignatureAlgorithm;

/// A signature algorithm that the keys module implements: signing with
/// [`PrivateKey::sign`], verifying with [`PublicKey::verify`].
#[derive(Debug)]
pub struct KeysSignature {
    name: &'static str,
}

impl KeysSignature {
    /// The keys module's algorithm called `name`.
    pub const fn new(name: &'static str) -> Self {
        KeysSignature { name }
    }
}

/// `ssh-ed25519` (RFC 8709).
pub static SSH_ED25519: KeysSignature = KeysSignature::new("ssh-ed25519");
/// `ecdsa-sha2-nistp256` (RFC 5656 section 3).
pub static ECDSA_SHA2_NISTP256: KeysSignature = KeysSignature::new("ecdsa-sha2-nistp256");
/// `ecdsa-sha2-nistp384` (RFC 5656 section 3).
pub static ECDSA_SHA2_NISTP384: KeysSignature = KeysSignature::new("ecdsa-sha2-nistp384");
/// `ecdsa-sha2-nistp521` (RFC 5656 section 3).
pub static ECDSA_SHA2_NISTP521: KeysSignature = KeysSignature::new("ecdsa-sha2-nistp521");
/// `rsa-sha2-512` (RFC 8332 section 3).
pub static RSA_SHA2_512: KeysSignature = KeysSignature::new("rsa-sha2-512");
/// `rsa-sha2-256` (RFC 8332 section 3).
pub static RSA_SHA2_256: KeysSignature = KeysSignature::new("rsa-sha2-256");
/// `ssh-rsa` with SHA-1 (RFC 4253 section 6.6). Legacy: not enabled by default.
pub static SSH_RSA: KeysSignature = KeysSignature::new("ssh-rsa");

/// `ssh-ed25519-cert-v01@openssh.com` (PROTOCOL.certkeys).
pub static SSH_ED25519_CERT: KeysSignature = KeysSignature::new("ssh-ed25519-cert-v01@openssh.com");
/// `ecdsa-sha2-nistp256-cert-v01@openssh.com` (PROTOCOL.certkeys).
pub static ECDSA_SHA2_NISTP256_CERT: KeysSignature =
    KeysSignature::new("ecdsa-sha2-nistp256-cert-v01@openssh.com");
/// `ecdsa-sha2-nistp384-cert-v01@openssh.com` (PROTOCOL.certkeys).
pub static ECDSA_SHA2_NISTP384_CERT: KeysSignature =
    KeysSignature::new("ecdsa-sha2-nistp384-cert-v01@openssh.com");
/// `ecdsa-sha2-nistp521-cert-v01@openssh.com` (PROTOCOL.certkeys).
pub static ECDSA_SHA2_NISTP521_CERT: KeysSignature =
    KeysSignature::new("ecdsa-sha2-nistp521-cert-v01@openssh.com");
/// `rsa-sha2-512-cert-v01@openssh.com` (PROTOCOL.certkeys, OpenSSH 7.8).
pub static RSA_SHA2_512_CERT: KeysSignature =
    KeysSignature::new("rsa-sha2-512-cert-v01@openssh.com");
/// `rsa-sha2-256-cert-v01@openssh.com` (PROTOCOL.certkeys, OpenSSH 7.8).
pub static RSA_SHA2_256_CERT: KeysSignature =
    KeysSignature::new("rsa-sha2-256-cert-v01@openssh.com");

impl SignatureAlgorithm for KeysSignature {
    fn name(&self) -> &'static str {
        self.name
    }

    fn supports_key(&self, key: &PublicKey) -> bool {
        key.supports_signature_algorithm(self.name)
    }

    fn sign(&self, key: &PrivateKey, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        key.sign(self.name, data)
    }

    fn verify(&self, key: &PublicKey, data: &[u8], signature_blob: &[u8]) -> bool {
        key.verify(self.name, data, signature_blob)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

    use super::*;
    use crate::wire::Encode;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
    const RFC8032_VECTORS: &[(&str, &str, &str, &str)] = &[
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];

    #[test]
    fn rfc8032_test_vectors_sign_and_verify() {
        for (secret, public, msg, sig) in RFC8032_VECTORS {
            let secret: [u8; 32] = hex(secret).try_into().unwrap();
            let signing = SigningKey::from_bytes(&secret);
            assert_eq!(signing.verifying_key().to_bytes().to_vec(), hex(public));
            let signature = signing.sign(&hex(msg));
            assert_eq!(signature.to_bytes().to_vec(), hex(sig));
            let verifying = VerifyingKey::from_bytes(&hex(public).try_into().unwrap()).unwrap();
            assert!(verifying.verify(&hex(msg), &signature).is_ok());
        }
    }

    #[test]
    fn rfc8032_signature_verifies_through_the_provider_as_ssh_blobs() {
        // The same vectors wrapped as SSH blobs (RFC 8709 sections 4 and 6).
        for (_, public, msg, sig) in RFC8032_VECTORS {
            let mut key_blob = Vec::new();
            key_blob.put_str("ssh-ed25519");
            key_blob.put_string(&hex(public));
            let key = PublicKey::from_blob(&key_blob).unwrap();
            let mut sig_blob = Vec::new();
            sig_blob.put_str("ssh-ed25519");
            sig_blob.put_string(&hex(sig));
            assert!(SSH_ED25519.supports_key(&key));
            assert!(SSH_ED25519.verify(&key, &hex(msg), &sig_blob));
            assert!(!SSH_ED25519.verify(&key, b"other message", &sig_blob));
        }
    }

    #[test]
    fn sign_through_the_provider_then_verify() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let key = PrivateKey::generate_ed25519(&mut rng);
        let blob = SSH_ED25519.sign(&key, b"exchange hash").unwrap();
        assert!(SSH_ED25519.verify(key.public_key(), b"exchange hash", &blob));
        assert!(!SSH_ED25519.verify(key.public_key(), b"exchange hasH", &blob));
    }
}
