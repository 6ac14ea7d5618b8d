//! Every algorithm the default provider offers, pinned one at a time on
//! both sides: the session works end to end (handshake, login, data both
//! ways, a re-exchange) and a flipped ciphertext bit is caught. The lists
//! come from the provider, so algorithms added later are covered too.

mod common;

use common::*;
use conch_core::config::AlgorithmPreferences;
use conch_core::crypto::CryptoProvider;
use conch_core::{
    DisconnectReason, Error, NegotiatedAlgorithms, PeerMisbehaved, PrivateKey, PublicKey,
};

fn defaults() -> AlgorithmPreferences {
    AlgorithmPreferences::defaults_for(&CryptoProvider::default())
}

/// Runs the scenario with `pin` applied to both sides' preferences and
/// returns what was negotiated.
fn session_with(pin: impl Fn(&mut AlgorithmPreferences), what: &str) -> NegotiatedAlgorithms {
    let mut client = client_config();
    let mut server = server_config();
    pin(&mut client.transport.algorithms);
    pin(&mut server.transport.algorithms);
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    let negotiated = pair
        .client
        .negotiated()
        .unwrap_or_else(|| panic!("{what}: no KeyExchangeDone"));
    pair.echo_across_a_rekey(what, &pattern(3, 150_000), 70_000);

    // A flipped bit in the server's next packet (its KEXINIT for another
    // re-exchange, sealed with the current keys). Past the 4-byte length
    // field; a block cipher in CBC mode would garble the whole first block,
    // length included, hence the second possible error.
    pair.tap = Some(Box::new(FlipByte::new(Direction::ServerToClient, 12, 0x80)));
    pair.server.conn.rekey().unwrap();
    pair.drive();
    let err = pair.client.conn.error().cloned();
    assert!(
        matches!(
            err,
            Some(Error::PeerMisbehaved(
                PeerMisbehaved::BadMac | PeerMisbehaved::BadPacketLength(_)
            ))
        ),
        "{what}: corrupted packet gave {err:?}"
    );
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::MacError | DisconnectReason::ProtocolError,
                ..
            })
        ),
        "{what}: server saw {:?}",
        pair.server.disconnected()
    );
    negotiated
}

#[test]
fn every_key_exchange_method_works() {
    let prefs = defaults();
    assert!(!prefs.kex.is_empty());
    for kex in &prefs.kex {
        let n = session_with(|p| p.kex = vec![kex.clone()], kex);
        assert_eq!(&n.kex, kex);
    }
}

#[test]
fn every_cipher_and_mac_works() {
    let prefs = defaults();
    assert!(!prefs.cipher.is_empty());
    for cipher in &prefs.cipher {
        let macs: Vec<Option<&String>> = if prefs.mac.is_empty() {
            vec![None]
        } else {
            prefs.mac.iter().map(Some).collect()
        };
        for mac in macs {
            let what = format!("{cipher} / {mac:?}");
            let n = session_with(
                |p| {
                    p.cipher = vec![cipher.clone()];
                    if let Some(m) = mac {
                        p.mac = vec![m.clone()];
                    }
                },
                &what,
            );
            assert_eq!(&n.cipher_c2s, cipher, "{what}");
            assert_eq!(&n.cipher_s2c, cipher, "{what}");
            if n.mac_c2s.is_empty() {
                // An AEAD cipher: the MAC list does not matter.
                break;
            }
            assert_eq!(Some(&n.mac_c2s), mac, "{what}");
        }
    }
}

/// Host keys made by `ssh-keygen` (see `fixtures/host_keys/README.md`),
/// each with its `.pub` line.
const FIXTURE_HOST_KEYS: &[(&str, &str, &str)] = &[
    (
        "ecdsa_p256",
        include_str!("fixtures/host_keys/ecdsa_p256"),
        include_str!("fixtures/host_keys/ecdsa_p256.pub"),
    ),
    (
        "ecdsa_p384",
        include_str!("fixtures/host_keys/ecdsa_p384"),
        include_str!("fixtures/host_keys/ecdsa_p384.pub"),
    ),
    (
        "ecdsa_p521",
        include_str!("fixtures/host_keys/ecdsa_p521"),
        include_str!("fixtures/host_keys/ecdsa_p521.pub"),
    ),
    (
        "rsa_3072",
        include_str!("fixtures/host_keys/rsa_3072"),
        include_str!("fixtures/host_keys/rsa_3072.pub"),
    ),
];

fn all_host_keys() -> Vec<PrivateKey> {
    let mut keys = vec![host_key()];
    for (name, private, public) in FIXTURE_HOST_KEYS {
        let key = PrivateKey::from_openssh(private.as_bytes(), None)
            .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
        let expected =
            PublicKey::from_openssh(public).unwrap_or_else(|e| panic!("fixture {name}.pub: {e}"));
        assert_eq!(key.public_key(), &expected, "{name}: public half differs");
        keys.push(key);
    }
    keys
}

/// Every fixture key, then each with a certificate (PROTOCOL.certkeys) of
/// the type asked for, as a server holds `HostKey` and `HostCertificate`.
fn all_keys_and_certificates(host: bool) -> Vec<PrivateKey> {
    let ca = ca_key(0xca);
    let plain = all_host_keys();
    let certified: Vec<PrivateKey> = plain
        .iter()
        .map(|k| certify(k, &ca, host, &[USER], (0, i64::MAX as u64)))
        .collect();
    plain.into_iter().chain(certified).collect()
}

#[test]
fn every_host_key_algorithm_works() {
    let keys = all_keys_and_certificates(true);
    let prefs = defaults();
    assert!(!prefs.host_key.is_empty());
    for alg in &prefs.host_key {
        let holder = keys
            .iter()
            .find(|k| {
                k.public_key()
                    .signature_algorithms()
                    .contains(&alg.as_str())
            })
            .unwrap_or_else(|| panic!("no fixture key can sign {alg}"));
        let mut client = client_config();
        client.transport.algorithms.host_key = vec![alg.clone()];
        let mut server = server_config();
        // The server holds every key; the client's single choice decides.
        server.host_keys = keys.clone();
        let mut pair = Pair::with_configs(client, server);
        pair.connect();
        assert_eq!(
            pair.client_app.host_keys_seen,
            vec![holder.public_key().clone()],
            "{alg}: the host key shown is the one that signs {alg}"
        );
        let negotiated = pair.client.negotiated().unwrap();
        assert_eq!(&negotiated.host_key, alg);
        // A re-exchange proves the same key again.
        pair.client.conn.rekey().unwrap();
        pair.drive();
        assert_eq!(pair.client.rekeys(), 1, "{alg}");
        pair.assert_alive();
    }
}

#[test]
fn every_user_key_type_logs_in_with_publickey() {
    for user_key in all_keys_and_certificates(false) {
        let what = user_key.public_key().algorithm();
        let mut pair = Pair::new();
        pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
        // The certificates: accepted by their CA, not by the list.
        pair.server_app.trusted_user_cas = vec![ca_public(&ca_key(0xca))];
        pair.server_app.cert_now = 1;
        pair.handshake();
        pair.client
            .conn
            .auth_publickey(USER, user_key.public_key())
            .unwrap();
        pair.drive();
        let (algorithm, data) = pair
            .client
            .signature_request()
            .unwrap_or_else(|| panic!("{what}: no signature request: {:#?}", pair.client.log));
        assert!(
            user_key
                .public_key()
                .signature_algorithms()
                .contains(&algorithm.as_str()),
            "{what}: asked to sign with {algorithm}"
        );
        // RFC 8332: with server-sig-algs offering SHA-2, never SHA-1 RSA.
        assert_ne!(algorithm, "ssh-rsa", "{what}");
        let sig = user_key.sign(&algorithm, &data).unwrap();
        pair.client.conn.auth_signature(&sig).unwrap();
        pair.drive();
        pair.assert_authenticated();
    }
}
