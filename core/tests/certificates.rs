//! OpenSSH certificates (PROTOCOL.certkeys) between the core's client and
//! server: a user certificate logs in through a trusted CA, a host
//! certificate is negotiated and checked against `@cert-authority`, and
//! each refusal says why.

mod common;

use common::*;
use conch_core::keys::{CertificateError, CertificateType};
use conch_core::known_hosts::{CertVerdict, KnownHosts, Verdict};
use conch_core::{Event, PrivateKey};

/// Unix seconds the applications check validity at: 2025-06-01.
const NOW: u64 = 1_748_736_000;
const DAY: u64 = 86_400;

fn user_cert(ca: &ssh_key::PrivateKey, principals: &[&str], window: (u64, u64)) -> PrivateKey {
    certify(&ed25519_key(7), ca, false, principals, window)
}

/// Offers the certificate, signs when asked; returns whether the server
/// asked for a signature.
fn log_in(pair: &mut Pair, key: &PrivateKey) -> bool {
    pair.handshake();
    pair.client
        .conn
        .auth_publickey(USER, key.public_key())
        .unwrap();
    pair.drive();
    let Some((algorithm, data)) = pair.client.signature_request() else {
        return false;
    };
    assert_eq!(algorithm, "ssh-ed25519-cert-v01@openssh.com");
    let sig = key.sign(&algorithm, &data).unwrap();
    pair.client.conn.auth_signature(&sig).unwrap();
    pair.drive();
    true
}

#[test]
fn a_user_certificate_from_a_trusted_ca_logs_in_and_the_server_sees_it() {
    let ca = ca_key(1);
    let key = user_cert(&ca, &[USER], (NOW - DAY, NOW + DAY));
    let mut pair = Pair::new();
    pair.server_app.trusted_user_cas = vec![ca_public(&ca)];
    pair.server_app.cert_now = NOW;
    assert!(log_in(&mut pair, &key));
    pair.assert_authenticated();
    // The application saw the certificate: its key id, serial, principals.
    let seen = pair.server.log.iter().find_map(|e| match e {
        Event::AuthRequest {
            attempt: conch_core::AuthAttempt::PublicKey { key, signed: true },
            ..
        } => key.certificate().cloned(),
        _ => None,
    });
    let cert = seen.expect("a signed certificate attempt");
    assert_eq!(cert.key_id(), "test key");
    assert_eq!(cert.serial(), 99);
    assert_eq!(cert.principals(), [USER]);
    assert_eq!(cert.cert_type(), CertificateType::User);
}

/// A certificate, the CA the server trusts, and the refusal expected.
type Case = (
    PrivateKey,
    ssh_key::PrivateKey,
    fn(&CertificateError) -> bool,
);

#[test]
fn expired_unknown_and_wrong_principal_certificates_are_refused_with_their_reason() {
    let ca = ca_key(1);
    let cases: Vec<Case> = vec![
        (
            user_cert(&ca, &[USER], (NOW - 2 * DAY, NOW - DAY)),
            ca.clone(),
            |e| matches!(e, CertificateError::Expired { .. }),
        ),
        (
            user_cert(&ca, &[USER], (NOW + DAY, NOW + 2 * DAY)),
            ca.clone(),
            |e| matches!(e, CertificateError::NotYetValid { .. }),
        ),
        (user_cert(&ca, &["root"], (0, NOW + DAY)), ca.clone(), |e| {
            matches!(e, CertificateError::WrongPrincipal { .. })
        }),
        (
            user_cert(&ca_key(2), &[USER], (0, NOW + DAY)),
            ca.clone(),
            |e| matches!(e, CertificateError::UnknownCa { .. }),
        ),
    ];
    for (key, trusted, is_expected) in cases {
        let mut pair = Pair::new();
        pair.server_app.trusted_user_cas = vec![ca_public(&trusted)];
        pair.server_app.cert_now = NOW;
        assert!(!log_in(&mut pair, &key), "no signature is asked for");
        assert!(!pair.client.conn.is_authenticated());
        let refusals = &pair.server_app.cert_refusals;
        assert!(
            refusals.len() == 1 && is_expected(&refusals[0]),
            "{refusals:?}"
        );
    }
}

fn host_cert_pair(principals: &[&str], window: (u64, u64)) -> (Pair, ssh_key::PrivateKey) {
    let ca = ca_key(3);
    let plain = host_key();
    let certified = certify(&plain, &ca, true, principals, window);
    let mut server = server_config();
    // HostKey and HostCertificate: both kept, the client's list chooses.
    server.host_keys = vec![plain, certified];
    let mut pair = Pair::with_configs(client_config(), server);
    pair.connect();
    (pair, ca)
}

#[test]
fn a_host_certificate_is_preferred_and_checked_against_cert_authority_lines() {
    let (pair, ca) = host_cert_pair(&["server.example"], (0, NOW + DAY));
    let negotiated = pair.client.negotiated().unwrap();
    assert_eq!(negotiated.host_key, "ssh-ed25519-cert-v01@openssh.com");
    let key = pair.client_app.host_keys_seen[0].clone();
    assert!(key.certificate().is_some());

    let ca_line = ca_public(&ca).to_openssh();
    let known = KnownHosts::parse(&format!("@cert-authority *.example {ca_line}\n"));
    assert_eq!(
        known.check_certificate("server.example", 22, &key, NOW),
        CertVerdict::Trusted { line: 1 }
    );
    // Another name: the CA matches the pattern, the principal does not.
    assert!(matches!(
        known.check_certificate("other.example", 22, &key, NOW),
        CertVerdict::Refused {
            error: CertificateError::WrongPrincipal { .. },
            ..
        }
    ));
    // Expired.
    assert!(matches!(
        known.check_certificate("server.example", 22, &key, NOW + 2 * DAY),
        CertVerdict::Refused {
            error: CertificateError::Expired { .. },
            ..
        }
    ));
    // The CA revoked.
    let revoked = KnownHosts::parse(&format!(
        "@cert-authority *.example {ca_line}\n@revoked * {ca_line}\n"
    ));
    assert_eq!(
        revoked.check_certificate("server.example", 22, &key, NOW),
        CertVerdict::Refused {
            line: 2,
            error: CertificateError::Revoked { what: "CA key" }
        }
    );
    // A CA for other hosts does not vouch: fall back to the plain key,
    // which this file knows.
    let plain = key.plain_key();
    let fallback = KnownHosts::parse(&format!(
        "@cert-authority *.other {ca_line}\nserver.example {}\n",
        plain.to_openssh()
    ));
    assert_eq!(
        fallback.check_certificate("server.example", 22, &key, NOW),
        CertVerdict::NoAuthority
    );
    assert_eq!(
        fallback.check("server.example", 22, None, &plain),
        Verdict::Known { line: 2 }
    );
}

#[test]
fn a_client_that_does_not_ask_for_certificates_gets_the_plain_host_key() {
    let ca = ca_key(3);
    let plain = host_key();
    let certified = certify(&plain, &ca, true, &[], (0, NOW + DAY));
    let mut server = server_config();
    server.host_keys = vec![plain.clone(), certified];
    let mut client = client_config();
    client
        .transport
        .algorithms
        .host_key
        .retain(|a| !a.contains("-cert-v01@"));
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    assert_eq!(
        pair.client_app.host_keys_seen,
        vec![plain.public_key().clone()]
    );
}
