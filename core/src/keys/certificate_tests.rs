//! Certificates made by OpenSSH's ssh-keygen (testdata/certs, see the
//! README there), decoded and checked as sshd and ssh would.

use core::net::IpAddr;

use super::*;
use crate::keys::PrivateKey;

const CA: &str = include_str!("testdata/certs/ca.pub");
const RSA_CA: &str = include_str!("testdata/certs/rsaca.pub");
const USER: &str = include_str!("testdata/certs/user");
const FOREVER: &str = include_str!("testdata/certs/user_forever-cert.pub");
const WINDOW: &str = include_str!("testdata/certs/user_window-cert.pub");
const OPTS: &str = include_str!("testdata/certs/user_opts-cert.pub");
const NO_PRINCIPALS: &str = include_str!("testdata/certs/user_noprinc-cert.pub");
const EC_BY_RSA_CA: &str = include_str!("testdata/certs/ecuser_rsaca-cert.pub");
const HOST: &str = include_str!("testdata/certs/host_h-cert.pub");

/// 2025-06-01, inside the fixtures' 2020..2030 window.
const NOW: u64 = 1_748_736_000;

fn key(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).unwrap()
}

fn policy<'a>(cas: &'a [PublicKey], user: &'a str) -> UserCertificatePolicy<'a> {
    UserCertificatePolicy {
        trusted_cas: cas,
        revoked: &[],
        user,
        authorized_principals: None,
        now: NOW,
        source: None,
    }
}

#[test]
fn a_certificate_decodes_with_what_ssh_keygen_wrote() {
    let cert_key = key(FOREVER);
    assert_eq!(cert_key.algorithm(), "ssh-ed25519-cert-v01@openssh.com");
    let cert = cert_key.certificate().unwrap();
    assert_eq!(cert.cert_type(), CertificateType::User);
    assert_eq!(cert.key_id(), "alice@example");
    assert_eq!(cert.serial(), 42);
    assert_eq!(cert.principals(), ["alice", "bob"]);
    // ssh-keygen without -V writes "forever": u64::MAX (which ssh-key 0.6
    // alone could not decode).
    assert_eq!(cert.valid_after(), 0);
    assert_eq!(cert.valid_before(), u64::MAX);
    assert!(cert.has_extension("permit-pty"));
    assert_eq!(cert.signature_key(), &key(CA));
    // The certified key and its fingerprint are the plain key's.
    let user = key(include_str!("testdata/certs/user.pub"));
    assert_eq!(cert_key.plain_key(), user);
    assert_eq!(cert_key.fingerprint(), user.fingerprint());
    assert_eq!(
        cert_key.signature_algorithms(),
        ["ssh-ed25519-cert-v01@openssh.com"]
    );
    // The one-line form round-trips.
    assert_eq!(key(&cert_key.to_openssh()), cert_key);
}

#[test]
fn a_user_certificate_is_accepted_for_a_listed_principal_by_a_trusted_ca() {
    let cas = [key(CA)];
    let cert_key = key(FOREVER);
    let cert = cert_key
        .check_user_certificate(&policy(&cas, "bob"))
        .unwrap();
    assert_eq!(cert.key_id(), "alice@example");
}

#[test]
fn each_refusal_of_a_user_certificate_says_why() {
    let cas = [key(CA)];
    let cert_key = key(FOREVER);
    assert!(matches!(
        cert_key.check_user_certificate(&policy(&cas, "mallory")),
        Err(CertificateError::WrongPrincipal { name, .. }) if name == "mallory"
    ));
    assert!(matches!(
        cert_key.check_user_certificate(&policy(&[key(RSA_CA)], "alice")),
        Err(CertificateError::UnknownCa { .. })
    ));
    let revoked = [key(CA)];
    let mut p = policy(&cas, "alice");
    p.revoked = &revoked;
    assert_eq!(
        cert_key.check_user_certificate(&p),
        Err(CertificateError::Revoked { what: "CA key" })
    );
    let window = key(WINDOW);
    let mut p = policy(&cas, "alice");
    assert!(window.check_user_certificate(&p).is_ok());
    p.now = 1_000_000_000; // 2001
    assert!(matches!(
        window.check_user_certificate(&p),
        Err(CertificateError::NotYetValid { .. })
    ));
    p.now = 2_000_000_000; // 2033
    assert!(matches!(
        window.check_user_certificate(&p),
        Err(CertificateError::Expired { .. })
    ));
    // sshd wants a principal list for TrustedUserCAKeys.
    assert_eq!(
        key(NO_PRINCIPALS).check_user_certificate(&policy(&cas, "alice")),
        Err(CertificateError::NoPrincipals)
    );
    // A plain key is no certificate.
    assert_eq!(
        key(include_str!("testdata/certs/user.pub")).check_user_certificate(&policy(&cas, "alice")),
        Err(CertificateError::NotACertificate)
    );
    // A host certificate does not log a user in.
    assert!(matches!(
        key(HOST).check_user_certificate(&policy(&cas, "server.example")),
        Err(CertificateError::WrongType { .. })
    ));
}

#[test]
fn authorized_principals_replace_the_user_name() {
    let cas = [key(CA)];
    let list = ["bob".to_string(), "ops".to_string()];
    let mut p = policy(&cas, "root");
    p.authorized_principals = Some(&list);
    assert!(key(FOREVER).check_user_certificate(&p).is_ok());
    let other = ["ops".to_string()];
    p.authorized_principals = Some(&other);
    assert!(matches!(
        key(FOREVER).check_user_certificate(&p),
        Err(CertificateError::WrongPrincipal { .. })
    ));
}

#[test]
fn source_address_is_checked_against_the_address_given() {
    let cas = [key(CA)];
    let cert_key = key(OPTS);
    let mut p = policy(&cas, "alice");
    // Without the address, a certificate restricted by it is refused.
    assert!(matches!(
        cert_key.check_user_certificate(&p),
        Err(CertificateError::SourceAddress { .. })
    ));
    for ok in ["10.1.2.3", "192.168.1.5", "::ffff:10.9.9.9"] {
        p.source = Some(ok.parse::<IpAddr>().unwrap());
        let cert = cert_key.check_user_certificate(&p).unwrap();
        assert_eq!(cert.force_command(), Some("/bin/true"));
    }
    for bad in ["11.0.0.1", "192.168.1.6", "::1"] {
        p.source = Some(bad.parse::<IpAddr>().unwrap());
        assert!(matches!(
            cert_key.check_user_certificate(&p),
            Err(CertificateError::SourceAddress { .. })
        ));
    }
}

#[test]
fn an_rsa_ca_signs_with_sha2_and_a_tampered_certificate_fails() {
    let cas = [key(RSA_CA)];
    let cert_key = key(EC_BY_RSA_CA);
    assert_eq!(
        cert_key.algorithm(),
        "ecdsa-sha2-nistp256-cert-v01@openssh.com"
    );
    assert!(cert_key
        .check_user_certificate(&policy(&cas, "alice"))
        .is_ok());
    // Flip a byte of the key id: the blob still decodes, the CA's
    // signature no longer verifies.
    let mut blob = cert_key.blob().to_vec();
    let at = blob.windows(6).position(|w| w == b"\0\0\0\x02ec").unwrap();
    blob[at + 4] = b'x';
    let tampered = PublicKey::from_blob(&blob).unwrap();
    assert_eq!(
        tampered.check_user_certificate(&policy(&cas, "alice")),
        Err(CertificateError::BadSignature)
    );
}

#[test]
fn a_host_certificate_is_checked_for_the_name_connected_to() {
    let ca = key(CA);
    let host = key(HOST);
    assert!(host
        .check_host_certificate(&ca, "server.example", NOW)
        .is_ok());
    assert!(host.check_host_certificate(&ca, "10.1.2.3", NOW).is_ok());
    assert!(matches!(
        host.check_host_certificate(&ca, "other.example", NOW),
        Err(CertificateError::WrongPrincipal { .. })
    ));
    assert!(matches!(
        host.check_host_certificate(&key(RSA_CA), "server.example", NOW),
        Err(CertificateError::UnknownCa { .. })
    ));
    // A user certificate does not authenticate a host.
    assert!(matches!(
        key(FOREVER).check_host_certificate(&ca, "alice", NOW),
        Err(CertificateError::WrongType { .. })
    ));
}

#[test]
fn a_private_key_with_its_certificate_signs_the_certificate_algorithm() {
    let private = PrivateKey::from_openssh(USER.as_bytes(), None).unwrap();
    let cert_key = key(FOREVER);
    let with = private.with_certificate(&cert_key).unwrap();
    assert_eq!(with.public_key(), &cert_key);
    let alg = "ssh-ed25519-cert-v01@openssh.com";
    let sig = with.sign(alg, b"data").unwrap();
    // The blob names the plain algorithm; the certificate verifies it.
    assert_eq!(Reader::new(&sig).string().unwrap(), b"ssh-ed25519");
    assert!(cert_key.verify(alg, b"data", &sig));
    assert!(!cert_key.verify("ssh-ed25519", b"data", &sig));
    assert!(!private.public_key().verify(alg, b"data", &sig));
    // Another key's certificate is refused.
    assert!(matches!(
        private.with_certificate(&key(EC_BY_RSA_CA)),
        Err(KeyError::Encoding(_))
    ));
}

#[test]
fn truncated_certificates_are_errors_not_panics() {
    let blob = key(OPTS).blob().to_vec();
    for len in 0..blob.len() {
        assert!(PublicKey::from_blob(&blob[..len]).is_err(), "length {len}");
    }
}
