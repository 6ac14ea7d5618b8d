//! Tests of the keys module: Ed25519 round trips, and RSA and ECDSA keys
//! and signatures made by OpenSSH's `ssh-keygen` (fixtures in `testdata/`).

use super::*;
use crate::wire::Encode;
use rand_chacha::rand_core::SeedableRng;

#[test]
fn sign_and_verify_round_trip_and_tamper() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let key = PrivateKey::generate_ed25519(&mut rng);
    let sig = key.sign("ssh-ed25519", b"hello").unwrap();
    let public = PublicKey::from_blob(key.public_key().blob()).unwrap();
    assert!(public.verify("ssh-ed25519", b"hello", &sig));
    assert!(!public.verify("ssh-ed25519", b"hellp", &sig));
    assert!(!public.verify("rsa-sha2-256", b"hello", &sig));
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(!public.verify("ssh-ed25519", b"hello", &bad));
}

#[test]
fn openssh_text_round_trip() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let key = PrivateKey::generate_ed25519(&mut rng);
    let pem = key.to_openssh().unwrap();
    let back = PrivateKey::from_openssh(pem.as_bytes(), None).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let line = key.public_key().to_openssh();
    assert!(line.starts_with("ssh-ed25519 AAAA"));
    assert_eq!(&PublicKey::from_openssh(&line).unwrap(), key.public_key());
    // A comment does not make a different key.
    let commented = PublicKey::from_openssh(&format!("{line} someone@somewhere")).unwrap();
    assert_eq!(&commented, key.public_key());
    assert!(key.public_key().fingerprint().starts_with("SHA256:"));
}

// ---------------------------------------------------------------------------
// RSA and ECDSA keys made by ssh-keygen (see testdata/README.md)
// ---------------------------------------------------------------------------

const RSA2048: &str = include_str!("testdata/rsa2048");
const RSA2048_PUB: &str = include_str!("testdata/rsa2048.pub");
const RSA2048_ENCRYPTED: &str = include_str!("testdata/rsa2048_encrypted");
const P256: &str = include_str!("testdata/p256");
const P256_PUB: &str = include_str!("testdata/p256.pub");
const P384: &str = include_str!("testdata/p384");
const P384_PUB: &str = include_str!("testdata/p384.pub");
const P521_SHORT: &str = include_str!("testdata/p521_short");
const P521_SHORT_PUB: &str = include_str!("testdata/p521_short.pub");
const P521_SHORT_ENCRYPTED: &str = include_str!("testdata/p521_short_encrypted");
const MESSAGE: &[u8] = include_bytes!("testdata/message.txt");
const PASSPHRASE: &[u8] = b"conch test";

/// (private, public line, key type, signature algorithms in preference order)
const FIXTURES: &[(&str, &str, &str, &[&str])] = &[
    (
        RSA2048,
        RSA2048_PUB,
        "ssh-rsa",
        &["rsa-sha2-512", "rsa-sha2-256"],
    ),
    (
        P256,
        P256_PUB,
        "ecdsa-sha2-nistp256",
        &["ecdsa-sha2-nistp256"],
    ),
    (
        P384,
        P384_PUB,
        "ecdsa-sha2-nistp384",
        &["ecdsa-sha2-nistp384"],
    ),
    (
        P521_SHORT,
        P521_SHORT_PUB,
        "ecdsa-sha2-nistp521",
        &["ecdsa-sha2-nistp521"],
    ),
];

#[test]
fn rsa_and_ecdsa_keys_load_and_match_their_public_lines() {
    for (private, public, key_type, algorithms) in FIXTURES {
        let key = PrivateKey::from_openssh(private.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{key_type}: {e}"));
        let line = PublicKey::from_openssh(public).unwrap();
        assert_eq!(key.public_key(), &line, "{key_type}");
        assert_eq!(key.public_key().algorithm(), *key_type);
        assert_eq!(key.public_key().signature_algorithms(), *algorithms);
    }
}

/// One P-256 or P-384 key in 256 that ssh-keygen writes has a scalar
/// one byte short (its mpint drops the zero top byte): they load, sign
/// what their public halves verify, and match their `.pub` files.
#[test]
fn p256_and_p384_keys_with_a_short_scalar_load() {
    for (private, public, algorithm) in [
        (
            include_str!("testdata/p256_short"),
            include_str!("testdata/p256_short.pub"),
            "ecdsa-sha2-nistp256",
        ),
        (
            include_str!("testdata/p384_short"),
            include_str!("testdata/p384_short.pub"),
            "ecdsa-sha2-nistp384",
        ),
    ] {
        // ssh-key 0.7 reads the short P-384 scalar but refuses the short
        // P-256 one (which `openssh_ecdsa` reads): when it reads both, that
        // module can go.
        assert_eq!(
            ssh_key::PrivateKey::from_openssh(private).is_err(),
            algorithm == "ecdsa-sha2-nistp256",
            "{algorithm}"
        );
        let key = PrivateKey::from_openssh(private.as_bytes(), None)
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert_eq!(key.public_key(), &PublicKey::from_openssh(public).unwrap());
        let sig = key.sign(algorithm, b"data").unwrap();
        assert!(
            key.public_key().verify(algorithm, b"data", &sig),
            "{algorithm}"
        );
    }
}

#[test]
fn a_p521_key_with_a_65_byte_scalar_loads_plain_and_encrypted() {
    let plain = PrivateKey::from_openssh(P521_SHORT.as_bytes(), None).unwrap();
    let encrypted =
        PrivateKey::from_openssh(P521_SHORT_ENCRYPTED.as_bytes(), Some(PASSPHRASE)).unwrap();
    assert_eq!(plain.public_key(), encrypted.public_key());
    // The key works: what it signs verifies.
    let sig = encrypted.sign("ecdsa-sha2-nistp521", b"data").unwrap();
    assert!(plain
        .public_key()
        .verify("ecdsa-sha2-nistp521", b"data", &sig));
    assert_eq!(
        PrivateKey::from_openssh(P521_SHORT_ENCRYPTED.as_bytes(), None).unwrap_err(),
        KeyError::Encrypted
    );
    assert_eq!(
        PrivateKey::from_openssh(P521_SHORT_ENCRYPTED.as_bytes(), Some(b"wrong")).unwrap_err(),
        KeyError::WrongPassphrase
    );
}

#[test]
fn an_encrypted_rsa_key_needs_the_right_passphrase() {
    assert_eq!(
        PrivateKey::from_openssh(RSA2048_ENCRYPTED.as_bytes(), None).unwrap_err(),
        KeyError::Encrypted
    );
    assert_eq!(
        PrivateKey::from_openssh(RSA2048_ENCRYPTED.as_bytes(), Some(b"nope")).unwrap_err(),
        KeyError::WrongPassphrase
    );
    let key = PrivateKey::from_openssh(RSA2048_ENCRYPTED.as_bytes(), Some(PASSPHRASE)).unwrap();
    assert_eq!(
        key.public_key(),
        &PublicKey::from_openssh(RSA2048_PUB).unwrap()
    );
}

/// The signed data and the SSH signature blob of an OpenSSH SSHSIG file
/// (PROTOCOL.sshsig): `"SSHSIG" || string namespace || string reserved ||
/// string hash_algorithm || string H(message)` is what the blob signs.
fn sshsig(armored: &str) -> (Vec<u8>, Vec<u8>) {
    use base64ct::Encoding;
    let body: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let raw = base64ct::Base64::decode_vec(&body).unwrap();
    let mut r = Reader::new(&raw[6..]);
    assert_eq!(&raw[..6], b"SSHSIG");
    assert_eq!(r.u32().unwrap(), 1);
    let _public = r.string().unwrap();
    let namespace = r.string().unwrap();
    let reserved = r.string().unwrap();
    let hash_alg = r.string().unwrap();
    let blob = r.string().unwrap().to_vec();
    assert_eq!(hash_alg, b"sha512");
    let mut signed = b"SSHSIG".to_vec();
    signed.put_string(namespace);
    signed.put_string(reserved);
    signed.put_string(hash_alg);
    signed.put_string(&sha2::Sha512::digest(MESSAGE));
    (signed, blob)
}

use sha2::Digest;

#[test]
fn signatures_made_by_openssh_verify() {
    let cases = [
        (
            RSA2048_PUB,
            include_str!("testdata/rsa2048.message.sig"),
            "rsa-sha2-512",
        ),
        (
            P256_PUB,
            include_str!("testdata/p256.message.sig"),
            "ecdsa-sha2-nistp256",
        ),
        (
            P384_PUB,
            include_str!("testdata/p384.message.sig"),
            "ecdsa-sha2-nistp384",
        ),
        (
            P521_SHORT_PUB,
            include_str!("testdata/p521_short.message.sig"),
            "ecdsa-sha2-nistp521",
        ),
    ];
    for (public, armored, algorithm) in cases {
        let key = PublicKey::from_openssh(public).unwrap();
        let (signed, blob) = sshsig(armored);
        assert!(key.verify(algorithm, &signed, &blob), "{algorithm}");
        // Another message, or the blob under another algorithm name, fails.
        assert!(!key.verify(algorithm, b"other", &blob), "{algorithm}");
        if algorithm == "rsa-sha2-512" {
            assert!(!key.verify("rsa-sha2-256", &signed, &blob));
        }
    }
}

#[test]
fn rsa_signs_with_the_hash_its_algorithm_names() {
    let key = PrivateKey::from_openssh(RSA2048.as_bytes(), None).unwrap();
    let public = key.public_key();
    for alg in ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"] {
        let blob = key.sign(alg, b"exchange hash").unwrap();
        let mut r = Reader::new(&blob);
        assert_eq!(r.ascii().unwrap(), alg);
        // RFC 8332 section 3: s is as long as the 2048-bit modulus.
        assert_eq!(r.string().unwrap().len(), 256);
        assert!(public.verify(alg, b"exchange hash", &blob), "{alg}");
        assert!(!public.verify(alg, b"exchange hasH", &blob), "{alg}");
        // Deterministic: the same input gives the same signature.
        assert_eq!(key.sign(alg, b"exchange hash").unwrap(), blob);
    }
    // The blob names its algorithm; a SHA-256 signature relabelled as
    // SHA-512 fails (the hash inside the PKCS#1 encoding differs).
    let blob = key.sign("rsa-sha2-256", b"m").unwrap();
    let mut relabelled = Vec::new();
    relabelled.put_str("rsa-sha2-512");
    let mut r = Reader::new(&blob);
    r.string().unwrap();
    relabelled.put_string(r.string().unwrap());
    assert!(!public.verify("rsa-sha2-512", b"m", &relabelled));
}

#[test]
fn rsa_signatures_shorter_than_the_modulus_are_padded_as_openssh_does() {
    // An s with leading zero bytes may be sent without them; find one by
    // signing different messages until the top byte is zero.
    let key = PrivateKey::from_openssh(RSA2048.as_bytes(), None).unwrap();
    let (msg, s) = (0u32..2000)
        .map(|i| i.to_be_bytes())
        .find_map(|m| {
            let blob = key.sign("rsa-sha2-256", &m).unwrap();
            let mut r = Reader::new(&blob);
            r.string().unwrap();
            let s = r.string().unwrap().to_vec();
            (s[0] == 0).then_some((m, s))
        })
        .expect("a signature with a leading zero byte");
    let mut short = Vec::new();
    short.put_str("rsa-sha2-256");
    short.put_string(&s[1..]);
    assert!(key.public_key().verify("rsa-sha2-256", &msg, &short));
    // Longer than the modulus is refused.
    let mut long = Vec::new();
    long.put_str("rsa-sha2-256");
    let mut padded = vec![0u8];
    padded.extend_from_slice(&s);
    long.put_string(&padded);
    assert!(!key.public_key().verify("rsa-sha2-256", &msg, &long));
}

#[test]
fn legacy_ssh_rsa_is_supported_but_not_offered() {
    let key = PrivateKey::from_openssh(RSA2048.as_bytes(), None).unwrap();
    let public = key.public_key();
    assert!(!public.signature_algorithms().contains(&"ssh-rsa"));
    assert!(public.supports_signature_algorithm("ssh-rsa"));
    assert!(!public.supports_signature_algorithm("ssh-ed25519"));
}

#[test]
fn ecdsa_signature_blobs_are_mpint_r_and_s_inside_a_string() {
    // RFC 5656 section 3.1.2, cross-checked with ssh-key's own decoder.
    for (private, _, key_type, _) in &FIXTURES[1..] {
        let key = PrivateKey::from_openssh(private.as_bytes(), None).unwrap();
        let blob = key.sign(key_type, b"data").unwrap();
        let mut r = Reader::new(&blob);
        assert_eq!(r.ascii().unwrap(), *key_type);
        let inner = r.string().unwrap();
        r.end().unwrap();
        let mut i = Reader::new(inner);
        let (rr, ss) = (i.mpint().unwrap(), i.mpint().unwrap());
        i.end().unwrap();
        assert!(!rr.is_empty() && !ss.is_empty());
        let parsed = ssh_key::Signature::try_from(blob.as_slice()).unwrap();
        assert_eq!(parsed.as_bytes(), inner);
        assert!(key.public_key().verify(key_type, b"data", &blob));
        assert!(!key.public_key().verify(key_type, b"dat", &blob));
        // A trailing byte inside or after the blob is refused.
        let mut extra = Vec::new();
        extra.put_str(key_type);
        let mut inner_extra = inner.to_vec();
        inner_extra.push(0);
        extra.put_string(&inner_extra);
        assert!(!key.public_key().verify(key_type, b"data", &extra));
        let mut trailing = blob.clone();
        trailing.push(0);
        assert!(!key.public_key().verify(key_type, b"data", &trailing));
    }
}

#[test]
fn a_signature_from_another_curve_or_key_type_is_refused() {
    let p256 = PrivateKey::from_openssh(P256.as_bytes(), None).unwrap();
    let p384 = PrivateKey::from_openssh(P384.as_bytes(), None).unwrap();
    let blob = p384.sign("ecdsa-sha2-nistp384", b"d").unwrap();
    assert!(!p256.public_key().verify("ecdsa-sha2-nistp384", b"d", &blob));
    assert!(!p256.public_key().verify("ecdsa-sha2-nistp256", b"d", &blob));
    assert_eq!(
        p256.sign("rsa-sha2-256", b"d").unwrap_err(),
        KeyError::Unsupported("rsa-sha2-256".into())
    );
}

#[test]
fn an_agent_signs_rsa_with_the_hash_the_flags_ask_for() {
    use crate::agent::{sign_flags, MemoryAgent, Request, Response};
    let key = PrivateKey::from_openssh(RSA2048.as_bytes(), None).unwrap();
    let public = key.public_key().clone();
    let mut agent = MemoryAgent::new();
    agent.add(key, "rsa");
    for alg in ["rsa-sha2-256", "rsa-sha2-512"] {
        let answer = agent.answer(&Request::Sign {
            key_blob: public.blob().to_vec(),
            data: b"session data".to_vec(),
            flags: sign_flags(alg),
        });
        let Response::Signature(blob) = answer else {
            panic!("{alg}: {answer:?}");
        };
        assert_eq!(Reader::new(&blob).ascii().unwrap(), alg);
        assert!(public.verify(alg, b"session data", &blob), "{alg}");
    }
}

// ---------------------------------------------------------------------------
// The bcrypt-pbkdf round count of encrypted keys
// ---------------------------------------------------------------------------

/// `pem` (an encrypted `openssh-key-v1` file) with its `kdfoptions` round
/// count replaced: `magic, string ciphername, string kdfname, string
/// kdfoptions (string salt, uint32 rounds), ...` (PROTOCOL.key).
fn with_kdf_rounds(pem: &str, rounds: u32) -> String {
    use base64ct::Encoding;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut raw = base64ct::Base64::decode_vec(&body).unwrap();
    let magic = b"openssh-key-v1\0".len();
    let mut r = Reader::new(&raw[magic..]);
    assert_ne!(r.string().unwrap(), b"none", "an encrypted key");
    assert_eq!(r.string().unwrap(), b"bcrypt");
    let options_at = raw.len() - r.remaining().len();
    let mut options = Reader::new(&raw[options_at + 4..]);
    let salt = options.string().unwrap();
    assert_eq!(options.u32().unwrap(), 16, "ssh-keygen's default");
    let rounds_at = options_at + 4 + 4 + salt.len();
    raw[rounds_at..rounds_at + 4].copy_from_slice(&rounds.to_be_bytes());
    let encoded = base64ct::Base64::encode_string(&raw);
    let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    out
}

fn load(pem: &str, passphrase: Option<&[u8]>) -> Result<(), KeyError> {
    PrivateKey::from_openssh(pem.as_bytes(), passphrase).map(|_| ())
}

#[test]
fn the_round_count_patch_hits_the_kdf() {
    // 17 rounds instead of 16 derive another key: the passphrase no longer
    // decrypts, which shows `with_kdf_rounds` changes what the KDF runs.
    let patched = with_kdf_rounds(RSA2048_ENCRYPTED, 17);
    assert_eq!(
        load(&patched, Some(PASSPHRASE)).unwrap_err(),
        KeyError::WrongPassphrase
    );
    let same = with_kdf_rounds(RSA2048_ENCRYPTED, 16);
    assert_eq!(load(&same, Some(PASSPHRASE)), Ok(()));
    // The driver's fixture is this patch at one round over the cap.
    assert_eq!(
        with_kdf_rounds(RSA2048_ENCRYPTED, MAX_KDF_ROUNDS + 1),
        include_str!("testdata/rsa2048_encrypted_10001_rounds")
    );
}

#[test]
fn a_key_asking_for_more_than_max_kdf_rounds_is_refused_before_running_them() {
    for (name, pem) in [
        ("rsa2048", RSA2048_ENCRYPTED),
        ("p521_short", P521_SHORT_ENCRYPTED),
    ] {
        // With the passphrase, and without: a caller learns it before
        // asking the user for one. Were the check gone, one round over the
        // cap would cost minutes, not hang the run for years; 2^32 - 1 is
        // tried only where no passphrase means no KDF run at all.
        for (rounds, passphrase) in [
            (MAX_KDF_ROUNDS + 1, Some(PASSPHRASE)),
            (MAX_KDF_ROUNDS + 1, None),
            (u32::MAX, None),
        ] {
            let patched = with_kdf_rounds(pem, rounds);
            let want = KeyError::TooManyKdfRounds {
                rounds,
                max: MAX_KDF_ROUNDS,
            };
            let e = load(&patched, passphrase).unwrap_err();
            assert_eq!(e, want, "{name}, {rounds} rounds, {passphrase:?}");
            assert!(e.to_string().contains(&rounds.to_string()), "{e}");
        }
    }
    // The ECDSA reader (for short scalars ssh-key refuses) checks on its own too.
    let patched = with_kdf_rounds(P521_SHORT_ENCRYPTED, MAX_KDF_ROUNDS + 1);
    assert!(matches!(
        openssh_ecdsa::read(patched.as_bytes(), Some(PASSPHRASE)),
        Err(KeyError::TooManyKdfRounds { .. })
    ));
}

#[test]
fn p521_signatures_are_unchanged_by_the_wiping_rng() {
    // The nonce RNG used to be rand_chacha's ChaCha20Rng; the wiping one
    // must give the same nonce, so recorded sessions replay byte for byte.
    use p256::ecdsa::signature::RandomizedSigner;
    let key = PrivateKey::from_openssh(P521_SHORT.as_bytes(), None).unwrap();
    let ssh_key::private::KeypairData::Ecdsa(k) = key.inner.key_data() else {
        panic!("an ECDSA key");
    };
    let d = k.private_key_bytes();
    for data in [&b""[..], b"data", MESSAGE] {
        let ours = ecdsa::EcdsaSigningKey::new(ecdsa::Curve::P521, d)
            .unwrap()
            .sign(data)
            .unwrap();
        let signing = p521::ecdsa::SigningKey::from_slice(d).unwrap();
        let mut seed = sha2::Sha512::new();
        seed.update(signing.to_bytes());
        seed.update(sha2::Sha512::digest(data));
        let seed: [u8; 64] = seed.finalize().into();
        let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed[..32].try_into().unwrap());
        let sig: p521::ecdsa::Signature = signing.try_sign_with_rng(&mut rng, data).unwrap();
        let (r, s) = sig.split_bytes();
        let mut expected = Vec::new();
        expected.put_mpint(&r);
        expected.put_mpint(&s);
        assert_eq!(ours, expected);
    }
}

/// Compile-time: the signing keys the crates build from a [`PrivateKey`]
/// wipe themselves on drop (ssh-key's own key types do too, in `Drop`
/// impls without the `ZeroizeOnDrop` marker, so they cannot be named here).
#[test]
fn the_crates_signing_keys_zeroize_on_drop() {
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroized_on_drop::<::rsa::PrivateKey>();
    zeroized_on_drop::<ed25519_dalek::SigningKey>();
    zeroized_on_drop::<p256::ecdsa::SigningKey>();
    zeroized_on_drop::<p384::ecdsa::SigningKey>();
    // p521's `SigningKey` is a newtype (without the marker) around the
    // same `ecdsa::SigningKey`, whose drop wipes the scalar.
    zeroized_on_drop::<p521::SecretKey>();
    zeroized_on_drop::<zeroize::Zeroizing<String>>();
}

/// An `ssh_key` Ed25519 private key with the given halves.
fn ed25519_ssh_key(secret: [u8; 32], public: [u8; 32]) -> ssh_key::PrivateKey {
    let keypair = ssh_key::private::Ed25519Keypair {
        public: ssh_key::public::Ed25519PublicKey(public),
        private: ssh_key::private::Ed25519PrivateKey::from_bytes(&secret),
    };
    ssh_key::PrivateKey::new(ssh_key::private::KeypairData::Ed25519(keypair), "").unwrap()
}

#[test]
fn an_ed25519_key_signs_the_rfc_8032_signature() {
    // RFC 8032 section 7.1, TEST 2: the key prepared at load signs exactly
    // what the standard says, wrapped as an SSH blob (RFC 8709 section 6).
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let secret = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    let public = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    let key = PrivateKey::from_ssh_key(ed25519_ssh_key(
        secret.try_into().unwrap(),
        public.try_into().unwrap(),
    ))
    .unwrap();
    let mut expected = Vec::new();
    expected.put_str("ssh-ed25519");
    expected.put_string(&hex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
         085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ));
    assert_eq!(key.sign("ssh-ed25519", &[0x72]).unwrap(), expected);
}

#[test]
fn an_ed25519_key_whose_public_half_is_not_its_secrets_is_refused() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let a = PrivateKey::generate_ed25519(&mut rng);
    let b = PrivateKey::generate_ed25519(&mut rng);
    let (ssh_key::private::KeypairData::Ed25519(ka), ssh_key::private::KeypairData::Ed25519(kb)) =
        (a.inner.key_data(), b.inner.key_data())
    else {
        panic!("generated Ed25519 keys");
    };
    let mixed = ed25519_ssh_key(ka.private.to_bytes(), kb.public.0);
    assert!(matches!(
        PrivateKey::from_ssh_key(mixed),
        Err(KeyError::Encoding(_))
    ));
}

#[test]
fn a_key_type_that_is_not_an_algorithm_name_is_refused() {
    // The fuzz findings `certificate/key-type-with-a-carriage-return` and
    // `certificate/key-type-with-a-parenthesis`: a certificate's type
    // mangled into a name no known algorithm has was taken as an unknown
    // algorithm's key, whose line then did not read back.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let key = PrivateKey::generate_ed25519(&mut rng);
    let good = key.public_key().blob().to_vec();
    for name in [
        "ssh-ed25519\rcert-v01@openssh.com",
        "ssh ed25519@example.com",
        "a,b@example.com",
        "ssh-ed-cert-v01@op)nssh.com",
        "",
    ] {
        let mut blob = Vec::new();
        blob.put_str(name);
        blob.extend_from_slice(&good[4 + "ssh-ed25519".len()..]);
        let err = PublicKey::from_blob(&blob).unwrap_err();
        assert!(
            err.to_string().contains("not an algorithm name"),
            "{name:?}: {err}"
        );
    }
    // An unknown algorithm with a proper name still decodes, and its line
    // reads back.
    let mut blob = Vec::new();
    blob.put_str("unknown-key@example.com");
    blob.put_string(b"opaque");
    let unknown = PublicKey::from_blob(&blob).unwrap();
    assert_eq!(
        PublicKey::from_openssh(&unknown.to_openssh()).unwrap(),
        unknown
    );
}

#[test]
fn an_ed25519_key_whose_length_is_not_32_is_refused() {
    // The fuzz finding `certificate/ed25519-key-with-a-wrong-length`: a
    // key string whose length said 160 was read as its first 32 bytes,
    // so the blob and the key's line disagreed.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let key = PrivateKey::generate_ed25519(&mut rng);
    let mut blob = key.public_key().blob().to_vec();
    let at = 4 + "ssh-ed25519".len();
    blob[at..at + 4].copy_from_slice(&160u32.to_be_bytes());
    assert!(PublicKey::from_blob(&blob).is_err());
    assert!(PublicKey::from_blob(key.public_key().blob()).is_ok());
}

/// A certificate blob named `-cert-v01@opgnssh.comopenssh.com`, found by the
/// `certificate` fuzz target: ssh-key 0.7.0-rc.12 decodes it as a
/// certificate of an unknown algorithm with an empty name, and panics when
/// it is written back.
fn foreign_certificate_blob() -> &'static [u8] {
    &include_bytes!("../../tests/fuzz_regressions/certificate/ssh-key-0.7-encode-panic-other-name")
        [9..]
}

#[test]
fn a_foreign_certificate_type_is_refused_not_a_panic() {
    let blob = foreign_certificate_blob();
    let refused = |r: Result<PublicKey, KeyError>| match r {
        Err(KeyError::Encoding(m)) => assert!(m.contains("is not supported"), "{m}"),
        other => panic!("{other:?}"),
    };
    refused(PublicKey::from_blob(blob));
    let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(blob);
    // Whatever type the line claims, the blob's own type is checked too.
    refused(PublicKey::from_openssh(&format!("ssh-ed25519 {b64}")));
    refused(PublicKey::from_openssh(&format!(
        "-cert-v01@opgnssh.comopenssh.com {b64}"
    )));
    // OpenSSH's own certificate types are still read (see the tests above);
    // an unknown one with a proper name is refused the same way.
    let mut named = Vec::new();
    let name = b"x-cert-v01@example.com";
    named.extend_from_slice(&(name.len() as u32).to_be_bytes());
    named.extend_from_slice(name);
    named.extend_from_slice(&blob[36..]);
    refused(PublicKey::from_blob(&named));
}

#[test]
fn a_private_key_file_listing_a_foreign_certificate_type_is_refused() {
    // PROTOCOL.key: magic, cipher, KDF, KDF options, one public key blob,
    // then the (here encrypted, never reached) private section.
    let mut body = b"openssh-key-v1\0".to_vec();
    let string = |body: &mut Vec<u8>, s: &[u8]| {
        body.extend_from_slice(&(s.len() as u32).to_be_bytes());
        body.extend_from_slice(s);
    };
    string(&mut body, b"aes256-ctr");
    string(&mut body, b"bcrypt");
    string(
        &mut body,
        &[
            0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 16,
        ],
    );
    body.extend_from_slice(&1u32.to_be_bytes());
    string(&mut body, foreign_certificate_blob());
    string(&mut body, &[0u8; 64]);
    let text =
        pem_rfc7468::encode_string("OPENSSH PRIVATE KEY", pem_rfc7468::LineEnding::LF, &body)
            .expect("PEM");
    match PrivateKey::from_openssh(text.as_bytes(), None) {
        Err(KeyError::Encoding(m)) => assert!(m.contains("is not supported"), "{m}"),
        other => panic!("{:?}", other.map(|_| "a key")),
    }
}
