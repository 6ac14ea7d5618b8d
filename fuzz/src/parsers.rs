//! The targets that read what a file or an agent sends rather than a
//! peer's connection: known_hosts, keys, agent messages.
#![allow(clippy::disallowed_methods)]

use conch_core::agent::{FrameDecoder, Request, Response};
use conch_core::known_hosts::{KnownHosts, Verdict};
use conch_core::{PrivateKey, PublicKey};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::key;

/// The known_hosts parser: `parse` then `to_text` gives the text back, and
/// looking up, adding and re-reading never panics and agree.
pub fn known_hosts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = KnownHosts::parse(&text);
    assert_eq!(file.to_text(), text, "to_text round trip");
    let _ = file.invalid_lines();
    let key = key(3).public_key().clone();
    // Names from the file itself, so lookups hit its patterns.
    let mut names: Vec<String> = text
        .lines()
        .take(8)
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|f| f.split(',').map(|s| s.trim_start_matches('!').to_string()))
        .collect();
    names.push("example.com".into());
    let ip = "192.0.2.1".parse().ok();
    for name in names.iter().take(16) {
        for port in [22, 2222] {
            let _ = file.check(name, port, ip, &key);
            let _ = file.host_keys(name, port);
            let _ = file.cert_authorities(name, port);
            for entry in file.entries() {
                let _ = (entry.key(), entry.comment(), entry.matches_name(name));
            }
            // Whatever the file says, a key added is then known (unless
            // the file revokes it or the name cannot be recorded).
            let mut grown = file.clone();
            let mut rng = ChaCha20Rng::seed_from_u64(4);
            if let Ok(Some(appended)) = grown.add(name, port, &key, port == 22, &mut rng) {
                let reread = KnownHosts::parse(&format!("{text}{appended}"));
                assert_eq!(reread, grown, "added text re-reads as the same file");
                let verdict = grown.check(name, port, None, &key);
                assert!(
                    matches!(verdict, Verdict::Known { .. } | Verdict::Revoked { .. }),
                    "after add: {verdict:?}"
                );
            }
        }
    }
}

/// The private and public key parsers. A key that parses writes out in a
/// form that parses back to the same key.
pub fn private_key(data: &[u8]) {
    // The other formats (PEM, PKCS#8; no passphrase, as below).
    if let Ok(k) = PrivateKey::from_text(data, None) {
        let _ = k.public_key().to_openssh();
    }
    if let Ok(k) = PrivateKey::from_openssh(data, None) {
        let public = k.public_key().clone();
        if let Ok(text) = k.to_openssh() {
            let again = PrivateKey::from_openssh(text.as_bytes(), None).expect("re-read");
            assert_eq!(again.public_key(), &public);
        }
        let line = public.to_openssh();
        assert_eq!(PublicKey::from_openssh(&line).ok().as_ref(), Some(&public));
    }
    // (No passphrase is tried: the bcrypt rounds come from the file, and a
    // file may ask for billions; that is the user's own file, not a peer.)
    if let Ok(k) = PublicKey::from_blob(data) {
        assert_eq!(k.blob(), data);
        let _ = (k.algorithm(), k.fingerprint(), k.to_openssh());
        let _ = k.verify("ssh-ed25519", b"data", data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(k) = PublicKey::from_openssh(text) {
            assert_eq!(PublicKey::from_blob(k.blob()).ok().as_ref(), Some(&k));
        }
    }
}

/// The agent codec: frames split anywhere (by `data[0]`), each message
/// decoded both as a request and a response; what decodes encodes back to
/// something that decodes to the same value.
pub fn agent_codec(data: &[u8]) {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let mut decoder = FrameDecoder::new();
    for piece in stream.chunks(usize::from(split % 16) + 1) {
        let mut input = piece;
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(message)) => {
                    if let Ok(request) = Request::decode(&message) {
                        let encoded = request.encode().expect("re-encode a request");
                        assert_eq!(Request::decode(&encoded[4..]).as_ref(), Ok(&request));
                    }
                    if let Ok(response) = Response::decode(&message) {
                        let encoded = response.encode().expect("re-encode a response");
                        assert_eq!(Response::decode(&encoded[4..]).as_ref(), Ok(&response));
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // Sticky: the stream is unusable from here on.
                    assert!(decoder.decode(&mut &b"\0\0\0\x01\x05"[..]).is_err());
                    return;
                }
            }
        }
    }
}

/// Certificates (PROTOCOL.certkeys): the input's first 8 bytes are the
/// time checked at, the 9th picks the address, the rest is a key blob.
/// A certificate that decodes re-encodes to its blob; it is then checked
/// as a user certificate (by its own CA, so the signature is verified),
/// as a host certificate and through `@cert-authority`, and an accepted
/// one must satisfy what was asked.
pub fn certificate(data: &[u8]) {
    use conch_core::keys::UserCertificatePolicy;

    let Some((head, blob)) = data.split_at_checked(9) else {
        return;
    };
    let mut now = [0u8; 8];
    now.copy_from_slice(&head[..8]);
    let now = u64::from_be_bytes(now);
    let source = match head[8] % 3 {
        0 => None,
        1 => Some(std::net::IpAddr::from([10, 1, 2, head[8]])),
        _ => Some(std::net::IpAddr::from([
            0xfe80,
            0,
            0,
            0,
            0,
            0,
            0,
            u16::from(head[8]),
        ])),
    };
    let Ok(key) = PublicKey::from_blob(blob) else {
        return;
    };
    assert_eq!(key.blob(), blob);
    let line = key.to_openssh();
    assert_eq!(PublicKey::from_openssh(&line).ok().as_ref(), Some(&key));
    let Some(cert) = key.certificate() else {
        return;
    };
    let _ = (
        key.plain_key(),
        key.signature_algorithms(),
        format!("{cert:?}"),
    );
    let ca = cert.signature_key().clone();
    let user = cert.principals().first().cloned().unwrap_or_default();
    let cas = [ca.clone()];
    let policy = UserCertificatePolicy {
        trusted_cas: &cas,
        revoked: &[],
        user: &user,
        authorized_principals: None,
        now,
        source,
    };
    if let Ok(accepted) = key.check_user_certificate(&policy) {
        assert!(accepted.principals().contains(&user));
        assert!(accepted.valid_after() <= now && now < accepted.valid_before());
    }
    if key.check_host_certificate(&ca, &user, now).is_ok() {
        assert!(cert.principals().is_empty() || cert.principals().contains(&user));
    }
    let known = KnownHosts::parse(&format!("@cert-authority * {}\n", ca.to_openssh()));
    let _ = known.check_certificate(&user, 22, &key, now);
}
