//! Security-key signatures (PROTOCOL.u2f): `sk-ssh-ed25519@openssh.com`
//! and `sk-ecdsa-sha2-nistp256@openssh.com` made the way a FIDO token and
//! OpenSSH make them, verified; without the user-presence flag, refused.

use sha2::{Digest, Sha256};
use signature::Signer;

use super::PublicKey;
use crate::wire::Encode;

const APPLICATION: &str = "ssh:";

/// What the token signs: SHA-256(application) || flags || counter ||
/// SHA-256(message).
fn signed_data(flags: u8, counter: u32, message: &[u8]) -> Vec<u8> {
    let mut d = Sha256::digest(APPLICATION).to_vec();
    d.push(flags);
    d.extend(counter.to_be_bytes());
    d.extend(Sha256::digest(message));
    d
}

fn sig_blob(alg: &str, sig: &[u8], flags: u8, counter: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_str(alg);
    b.put_string(sig);
    b.put_u8(flags);
    b.put_u32(counter);
    b
}

#[test]
fn sk_ed25519_signatures_verify_with_user_presence_only() {
    let alg = "sk-ssh-ed25519@openssh.com";
    let secret = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let mut key_blob = Vec::new();
    key_blob.put_str(alg);
    key_blob.put_string(secret.verifying_key().as_bytes());
    key_blob.put_str(APPLICATION);
    let key = PublicKey::from_blob(&key_blob).unwrap();
    assert_eq!(key.signature_algorithms(), [alg]);

    let sign = |flags| {
        let sig = secret.sign(&signed_data(flags, 9, b"session")).to_bytes();
        sig_blob(alg, &sig, flags, 9)
    };
    assert!(key.verify(alg, b"session", &sign(0x01)));
    assert!(key.verify(alg, b"session", &sign(0x05)));
    assert!(!key.verify(alg, b"other", &sign(0x01)));
    // Not touched: refused, as sshd refuses without no-touch-required.
    assert!(!key.verify(alg, b"session", &sign(0x00)));
    // The counter is signed too.
    let mut changed = sign(0x01);
    let last = changed.len() - 1;
    changed[last] ^= 1;
    assert!(!key.verify(alg, b"session", &changed));
}

#[test]
fn sk_ecdsa_signatures_verify() {
    let alg = "sk-ecdsa-sha2-nistp256@openssh.com";
    let secret = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let point = secret.verifying_key().to_sec1_point(false);
    let mut key_blob = Vec::new();
    key_blob.put_str(alg);
    key_blob.put_str("nistp256");
    key_blob.put_string(point.as_bytes());
    key_blob.put_str(APPLICATION);
    let key = PublicKey::from_blob(&key_blob).unwrap();

    let sign = |flags| {
        let sig: p256::ecdsa::Signature = secret.sign(&signed_data(flags, 1, b"session"));
        let (r, s) = (sig.r().to_bytes(), sig.s().to_bytes());
        let mut inner = Vec::new();
        inner.put_mpint(&r);
        inner.put_mpint(&s);
        sig_blob(alg, &inner, flags, 1)
    };
    assert!(key.verify(alg, b"session", &sign(0x01)));
    assert!(!key.verify(alg, b"other", &sign(0x01)));
    assert!(!key.verify(alg, b"session", &sign(0x00)));
}
