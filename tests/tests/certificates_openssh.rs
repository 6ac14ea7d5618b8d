//! OpenSSH certificates (PROTOCOL.certkeys) between Conch's client and a
//! real `sshd`, with a CA made by `ssh-keygen -s`: a user certificate from
//! a file (`-cert.pub` beside the key) and from `ssh-agent` logs in to an
//! sshd with `TrustedUserCAKeys`; sshd's `HostCertificate` is verified
//! through an `@cert-authority` line and refused when expired, for another
//! host, or with its CA `@revoked`.
//!
//! Each test starts its own sshd and is bounded by [`TEST_TIMEOUT`].

mod common;
use common::client::block_on_bounded;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use conch_interop::process::TOOL_TIMEOUT;
use conch_interop::{run_bounded, Input, KeyPair, KeyType, SshAgent, Sshd, SshdOptions, TestDir};
use conch_tokio::{
    connect, with_certificates, AgentClient, AuthMethods, ClientOptions, Error, HostKeyPolicy,
    KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi, PublicKey, Signer,
};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_WAIT: Duration = Duration::from_secs(5);

/// `ssh-keygen -s CA -I id [args] KEY.pub`: writes and returns `KEY-cert.pub`.
#[track_caller]
fn sign(ca: &KeyPair, key: &KeyPair, args: &[&str]) -> PathBuf {
    let mut command = Command::new("ssh-keygen");
    command
        .args(["-q", "-s"])
        .arg(&ca.private_path)
        .args(["-I", "conch-interop"])
        .args(args)
        .arg(&key.public_path);
    run_bounded(&mut command, Input::Null, TOOL_TIMEOUT).assert_success();
    let mut cert = key.private_path.clone().into_os_string();
    cert.push("-cert.pub");
    PathBuf::from(cert)
}

fn options(policy: HostKeyPolicy) -> ClientOptions {
    let mut options = ClientOptions::new(policy);
    options.connect_timeout = Some(TEST_TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(TEST_TIMEOUT);
    options
}

fn trusting(sshd: &Sshd) -> ClientOptions {
    let keys = sshd
        .host_keys()
        .iter()
        .map(|k| PublicKey::from_openssh(&k.public_line).expect("host key"));
    options(HostKeyPolicy::trust_keys(keys))
}

/// Logs in with `signers` and runs `echo ok`.
async fn log_in(
    sshd: &Sshd,
    options: ClientOptions,
    signers: Vec<Arc<dyn Signer>>,
) -> Result<String, Error> {
    let session = connect("127.0.0.1", sshd.port(), options).await?;
    let mut methods = AuthMethods::new();
    for s in signers {
        methods = methods.signer(s);
    }
    session.authenticate(&sshd.login_user(), methods).await?;
    let mut channel = session.exec("echo ok").await?;
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut channel, &mut out)
        .await
        .map_err(Error::from)?;
    Ok(out)
}

/// An sshd trusting `ca` for user certificates; the user key is not in
/// its authorized_keys.
fn sshd_trusting_user_ca(ca: &KeyPair) -> Sshd {
    Sshd::start(SshdOptions {
        extra_config: vec![format!("TrustedUserCAKeys {}", ca.public_path.display())],
        ..SshdOptions::default()
    })
}

#[test]
fn a_user_certificate_beside_its_key_file_logs_in_where_the_key_alone_cannot() {
    let dir = TestDir::new("cert-user-file");
    let ca = KeyPair::generate(&dir, "ca", KeyType::Ed25519, None);
    let user = KeyPair::generate(&dir, "id_user", KeyType::Ed25519, None);
    let sshd = sshd_trusting_user_ca(&ca);
    let key = conch_tokio::load_key(&user.private_path).expect("user key");

    // The bare key is not authorized.
    let bare = block_on_bounded(
        "bare key",
        TEST_TIMEOUT,
        log_in(&sshd, trusting(&sshd), vec![Arc::new(key.clone())]),
    );
    assert!(bare.is_err(), "the key alone logged in: {bare:?}");

    sign(&ca, &user, &["-n", &sshd.login_user(), "-V", "-5m:+1h"]);
    let signers = with_certificates(Arc::new(key), &user.private_path, &[]);
    assert_eq!(signers.len(), 2, "the certificate, then the key");
    let out = block_on_bounded(
        "certificate login",
        TEST_TIMEOUT,
        log_in(&sshd, trusting(&sshd), signers),
    )
    .unwrap_or_else(|e| panic!("certificate login: {e}"));
    assert_eq!(out, "ok\n");
    sshd.assert_log_contains("Accepted publickey for", LOG_WAIT);
    sshd.assert_log_contains("ED25519-CERT", LOG_WAIT);
}

#[test]
fn an_rsa_user_certificate_from_ssh_agent_logs_in() {
    let dir = TestDir::new("cert-user-agent");
    let ca = KeyPair::generate(&dir, "ca", KeyType::Rsa, None);
    let user = KeyPair::generate(&dir, "id_user", KeyType::Rsa, None);
    let sshd = sshd_trusting_user_ca(&ca);
    sign(&ca, &user, &["-n", &sshd.login_user()]);
    let agent = SshAgent::start();
    // ssh-add adds the key and the -cert.pub beside it.
    agent.add(&user);
    let signers = AgentClient::new(agent.socket()).signers();
    assert!(
        signers
            .iter()
            .any(|s| s.public_key().certificate().is_some()),
        "the agent offers the certificate: {:?}",
        agent.identities()
    );
    let out = block_on_bounded(
        "agent certificate login",
        TEST_TIMEOUT,
        log_in(&sshd, trusting(&sshd), signers),
    )
    .unwrap_or_else(|e| panic!("agent certificate login: {e}"));
    assert_eq!(out, "ok\n");
    // RSA certificates are signed with SHA-2.
    sshd.assert_log_contains("RSA-CERT", LOG_WAIT);
}

/// An sshd serving `host` with the certificate made by `sign_args`,
/// and a known_hosts file with `known_hosts` lines.
fn host_cert_case(
    sign_args: &[&str],
    known_hosts: impl Fn(&KeyPair) -> String,
) -> Result<String, Error> {
    let dir = TestDir::new("cert-host");
    let ca = KeyPair::generate(&dir, "ca", KeyType::Ed25519, None);
    let host = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
    let cert = sign(&ca, &host, &[&["-h"], sign_args].concat());
    let sshd = Sshd::start(SshdOptions {
        extra_config: vec![
            format!("HostKey {}", host.private_path.display()),
            format!("HostCertificate {}", cert.display()),
        ],
        ..SshdOptions::default()
    });
    let file = dir.write("known_hosts", known_hosts(&ca));
    let verifier = KnownHostsVerifier::new(
        KnownHostsFile::new(&file),
        KnownHostsPolicy::Strict,
        Arc::new(NoUi),
    );
    let key = conch_tokio::load_key(&sshd.user_key().private_path).expect("user key");
    let result = block_on_bounded(
        "host certificate",
        TEST_TIMEOUT,
        log_in(&sshd, options(verifier.into_policy()), vec![Arc::new(key)]),
    );
    if result.is_ok() {
        sshd.assert_log_contains("ssh-ed25519-cert-v01@openssh.com", LOG_WAIT);
    }
    result
}

fn ca_line(ca: &KeyPair) -> String {
    format!("@cert-authority [127.0.0.1]:* {}\n", ca.public_line)
}

#[track_caller]
fn assert_refused(result: Result<String, Error>, why: &str) {
    match result {
        Ok(_) => panic!("accepted; expected a refusal saying {why:?}"),
        Err(e) => assert!(
            e.to_string().contains(why),
            "refused, but not for {why:?}: {e}"
        ),
    }
}

#[test]
fn sshds_host_certificate_is_trusted_through_cert_authority() {
    let out = host_cert_case(&["-n", "127.0.0.1", "-V", "-5m:+1h"], ca_line)
        .unwrap_or_else(|e| panic!("host certificate refused: {e}"));
    assert_eq!(out, "ok\n");
}

#[test]
fn an_expired_host_certificate_is_refused() {
    assert_refused(
        host_cert_case(&["-n", "127.0.0.1", "-V", "20200101:20210101"], ca_line),
        "expired",
    );
}

#[test]
fn a_host_certificate_for_another_name_is_refused() {
    assert_refused(
        host_cert_case(&["-n", "server.example"], ca_line),
        "not a principal",
    );
}

#[test]
fn a_host_certificate_from_a_revoked_ca_is_refused() {
    assert_refused(
        host_cert_case(&["-n", "127.0.0.1"], |ca| {
            format!("{}@revoked * {}\n", ca_line(ca), ca.public_line)
        }),
        "revoked",
    );
}
