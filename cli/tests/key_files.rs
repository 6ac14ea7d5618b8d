//! Key files made by `ssh-keygen`, loaded with the driver's helper and its
//! passphrase callback.

use std::cell::Cell;

use conch_interop::{KeyPair, KeyType, TestDir};
use conch_openssh::{load_private_key, load_public_key, KeyFileError, PASSPHRASE_ATTEMPTS};

#[test]
fn an_unencrypted_key_never_asks() {
    let dir = TestDir::new("keys-plain");
    let pair = KeyPair::generate(&dir, "plain", KeyType::Ed25519, None);
    let key = load_private_key(&pair.private_path, &mut |_| panic!("asked")).unwrap();
    let public = load_public_key(&pair.public_path).unwrap();
    assert_eq!(key.public_key(), &public);
    assert_eq!(public.fingerprint(), pair.fingerprint());
}

#[test]
fn an_encrypted_key_asks_until_right_at_most_three_times() {
    let dir = TestDir::new("keys-encrypted");
    let pair = KeyPair::generate(&dir, "enc", KeyType::Ed25519, Some("s3cret"));
    let public = load_public_key(&pair.public_path).unwrap();

    let asked = Cell::new(0);
    let key = load_private_key(&pair.private_path, &mut |path| {
        assert_eq!(path, pair.private_path);
        asked.set(asked.get() + 1);
        Some(if asked.get() == 2 { "s3cret" } else { "nope" }.to_string())
    })
    .unwrap();
    assert_eq!(asked.get(), 2);
    assert_eq!(key.public_key(), &public);

    asked.set(0);
    let e = load_private_key(&pair.private_path, &mut |_| {
        asked.set(asked.get() + 1);
        Some("nope".into())
    })
    .unwrap_err();
    assert!(matches!(e, KeyFileError::WrongPassphrase { .. }), "{e:?}");
    assert_eq!(asked.get(), PASSPHRASE_ATTEMPTS);

    // No answer (or an empty one): give up at once.
    for answer in [None, Some(String::new())] {
        let e = load_private_key(&pair.private_path, &mut |_| answer.clone()).unwrap_err();
        assert!(matches!(e, KeyFileError::PassphraseNeeded { .. }), "{e:?}");
    }
}

#[test]
fn missing_and_foreign_files_are_clear_errors() {
    let dir = TestDir::new("keys-bad");
    let e = load_private_key(&dir.join("absent"), &mut |_| None).unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let junk = dir.write(
        "junk",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n",
    );
    let e = load_private_key(&junk, &mut |_| None).unwrap_err();
    assert!(matches!(e, KeyFileError::Invalid { .. }), "{e:?}");
    // A PEM header over a broken body: named, with the reason.
    assert!(
        e.to_string().contains("not a private key Conch can read"),
        "{e}"
    );
    assert_eq!(e.path(), junk);
}

#[test]
fn a_key_file_signer_decrypts_only_when_it_must_sign() {
    use conch_driver::{block_on::block_on, Signer};
    use conch_openssh::KeyFileSigner;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let dir = TestDir::new("keys-lazy");
    let pair = KeyPair::generate(&dir, "enc", KeyType::Ed25519, Some("s3cret"));
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let signer = KeyFileSigner::open(
        &pair.private_path,
        Arc::new(move |_: &std::path::Path| {
            counter.fetch_add(1, Ordering::SeqCst);
            Some("s3cret".into())
        }),
    )
    .unwrap();
    // The public half comes from the .pub file: nothing asked yet.
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert!(!signer.is_loaded());
    assert_eq!(signer.public_key().fingerprint(), pair.fingerprint());
    let sig = block_on(signer.sign("ssh-ed25519", b"data")).unwrap();
    assert!(signer.public_key().verify("ssh-ed25519", b"data", &sig));
    block_on(signer.sign("ssh-ed25519", b"more")).unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once, then kept");

    // A .pub that belongs to another key: never signs for it.
    let other = KeyPair::generate(&dir, "other", KeyType::Ed25519, None);
    std::fs::copy(&other.public_path, &pair.public_path).unwrap();
    let signer = KeyFileSigner::open(
        &pair.private_path,
        Arc::new(|_: &std::path::Path| Some("s3cret".into())),
    )
    .unwrap();
    assert!(block_on(signer.sign("ssh-ed25519", b"data")).is_err());
}
