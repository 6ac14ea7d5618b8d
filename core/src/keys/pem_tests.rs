//! Keys written by `ssh-keygen -m PEM`/`-m PKCS8` and `openssl`
//! (testdata/pem, see the README there) load, match their public halves
//! and sign; the formats Conch does not read say so.

use super::*;
use crate::keys::PrivateKey;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("testdata/pem/", $name)),
            include_str!(concat!("testdata/pem/", $name, ".pub")),
        )
    };
}

#[test]
fn pem_and_pkcs8_keys_load_and_match_their_public_halves() {
    let fixtures = [
        fixture!("rsa_pkcs1"),
        fixture!("p256_sec1"),
        fixture!("p384_pkcs8"),
        fixture!("ed25519_openssl.pem"),
        fixture!("p521_openssl.pem"),
    ];
    for (name, private, public) in fixtures {
        let key = PrivateKey::from_text(private.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = crate::keys::PublicKey::from_openssh(public).unwrap();
        assert_eq!(key.public_key(), &expected, "{name}");
        let alg = expected.signature_algorithms()[0];
        let sig = key.sign(alg, b"data").unwrap();
        assert!(expected.verify(alg, b"data", &sig), "{name}");
    }
}

#[test]
fn encrypted_pkcs8_needs_the_right_passphrase() {
    let text = include_bytes!("testdata/pem/rsa_pkcs8_encrypted.pem");
    let public = include_str!("testdata/pem/rsa_pkcs8_encrypted.pem.pub");
    assert_eq!(
        PrivateKey::from_text(text, None).err(),
        Some(KeyError::Encrypted)
    );
    assert_eq!(
        PrivateKey::from_text(text, Some(b"wrong")).err(),
        Some(KeyError::WrongPassphrase)
    );
    let key = PrivateKey::from_text(text, Some(b"conch-test")).unwrap();
    assert_eq!(
        key.public_key(),
        &crate::keys::PublicKey::from_openssh(public).unwrap()
    );
}

#[test]
fn formats_not_read_are_named_in_the_error() {
    let cases: [(&[u8], &str); 4] = [
        (include_bytes!("testdata/pem/dsa"), "DSA"),
        (include_bytes!("testdata/pem/rsa_legacy_encrypted"), "ssh-keygen -p"),
        (
            b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
            "puttygen",
        ),
        (
            b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
            "",
        ),
    ];
    for (text, says) in cases {
        match PrivateKey::from_text(text, None) {
            Err(KeyError::Unsupported(why)) => assert!(why.contains(says), "{why}"),
            Err(KeyError::Encoding(_)) if says.is_empty() => {}
            other => panic!("expected unsupported ({says}), got {other:?}"),
        }
    }
    // openssh-key-v1 still goes through from_text.
    let openssh = include_bytes!("testdata/certs/user");
    assert!(PrivateKey::from_text(openssh, None).is_ok());
}

#[test]
fn truncated_pem_is_an_error_not_a_panic() {
    let text = include_str!("testdata/pem/p256_sec1");
    for len in (0..text.len()).step_by(7) {
        let _ = PrivateKey::from_text(&text.as_bytes()[..len], Some(b"x"));
    }
}
