//! Every algorithm Conch implements, forced on both ends against OpenSSH:
//!
//! - Conch's client (conch-tokio) against `sshd` whose `KexAlgorithms`,
//!   `Ciphers`, `MACs`, `HostKeyAlgorithms` or `PubkeyAcceptedAlgorithms`
//!   allow only the one under test, and whose `RekeyLimit` makes it re-key
//!   during the transfer; the log must name what was negotiated;
//! - OpenSSH's `ssh` with the same single choice against Conch's server
//!   (the tokio `Listener`, in process, holding host keys made by
//!   `ssh-keygen`).
//!
//! Each case moves data through `cat` and compares it. Each case is bounded
//! (`CASE_TIMEOUT`, and the harness bounds every child).
//!
//! Every matrix runs against both OpenSSH versions the harness has
//! ([`OpenSsh`]): the system's 9.2 (Debian 12) and OpenSSH 10.0, which
//! `scripts/test` unpacks beside it. `mlkem768x25519-sha256` (OpenSSH 9.9
//! and later; 10.0's default) is tested against 10.0 only, by name and as
//! what the defaults of both ends agree on; sntrup761, OpenSSH 9.2's own
//! default, under both of its names against both.

mod common;
use common::client::{load_key, public_of, runtime};

use std::future::Future;
use std::time::Duration;

use conch_interop::{
    sha256_hex, Dropbear, DropbearOptions, KeyPair, KeyType, OpenSsh, SshClient, Sshd, SshdOptions,
    TestDir,
};
use conch_tokio::{
    connect, AuthAttempt, AuthDecision, AuthMethods, Channel, ClientConfig, ClientOptions,
    HostKeyPolicy, Listener, PublicKey, ServerConfig, ServerHandler, ServerOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest one case may take (GEX with an 8192-bit group on a slow
/// machine is the slowest).
const CASE_TIMEOUT: Duration = Duration::from_secs(90);
/// Bytes sent through `cat`: past sshd's `RekeyLimit` a few times.
const PAYLOAD_LEN: usize = 600 * 1024;
/// sshd re-keys after this much, so each algorithm is used under new keys.
const REKEY_LIMIT: &str = "256K";

fn payload() -> Vec<u8> {
    (0..PAYLOAD_LEN)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// One forced choice; `None` leaves both sides' defaults.
#[derive(Clone, Debug, Default)]
struct Case {
    kex: Option<&'static str>,
    cipher: Option<&'static str>,
    mac: Option<&'static str>,
    host_key_algorithm: Option<&'static str>,
    host_key_type: Option<KeyType>,
    user_key_type: Option<KeyType>,
    user_sig_algorithm: Option<&'static str>,
    /// The key exchange both ends must agree on when it is not forced
    /// (checked in sshd's log, or `ssh -v`'s).
    expect_kex: Option<&'static str>,
}

impl Case {
    fn kex(name: &'static str) -> Self {
        Case {
            kex: Some(name),
            ..Case::default()
        }
    }

    fn cipher(name: &'static str, mac: Option<&'static str>) -> Self {
        Case {
            cipher: Some(name),
            mac,
            ..Case::default()
        }
    }

    fn host_key(algorithm: &'static str, key_type: KeyType) -> Self {
        Case {
            host_key_algorithm: Some(algorithm),
            host_key_type: Some(key_type),
            ..Case::default()
        }
    }

    fn user_key(algorithm: &'static str, key_type: KeyType) -> Self {
        Case {
            user_key_type: Some(key_type),
            user_sig_algorithm: Some(algorithm),
            ..Case::default()
        }
    }

    /// Conch's preferences with the forced names alone in their slots.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::default();
        let prefs = &mut config.transport.algorithms;
        if let Some(k) = self.kex {
            prefs.kex = vec![k.to_string()];
        }
        if let Some(c) = self.cipher {
            prefs.cipher = vec![c.to_string()];
        }
        if let Some(m) = self.mac {
            prefs.mac = vec![m.to_string()];
        }
        if let Some(h) = self.host_key_algorithm {
            prefs.host_key = vec![h.to_string()];
        }
        config
    }
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(CASE_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Conch's client against `openssh`'s sshd with `case` forced on both ends.
#[track_caller]
fn client_against_sshd(case: Case, openssh: OpenSsh) {
    let what = format!("{case:?} against sshd of {openssh}");
    let host_type = case.host_key_type.unwrap_or(KeyType::Ed25519);
    let user_type = case.user_key_type.unwrap_or(KeyType::Ed25519);
    let sshd = Sshd::start(SshdOptions {
        openssh,
        host_key_types: vec![host_type],
        extra_user_key_types: if user_type == KeyType::Ed25519 {
            Vec::new()
        } else {
            vec![user_type]
        },
        kex_algorithms: case.kex.map(str::to_string),
        ciphers: case.cipher.map(str::to_string),
        macs: case.mac.map(str::to_string),
        host_key_algorithms: case.host_key_algorithm.map(str::to_string),
        pubkey_accepted_algorithms: case.user_sig_algorithm.map(str::to_string),
        rekey_limit: Some(REKEY_LIMIT.to_string()),
        ..SshdOptions::default()
    });
    let host_key = public_of(sshd.host_key(host_type));
    let user_key = load_key(sshd.user_key_of(user_type));
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
    options.config = std::sync::Arc::new(case.client_config());
    options.connect_timeout = Some(CASE_TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(CASE_TIMEOUT);
    let data = payload();
    let (echoed, algorithms) = runtime().block_on(bounded(&what, async {
        let session = connect("127.0.0.1", sshd.port(), options)
            .await
            .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
        session
            .authenticate(&sshd.login_user(), AuthMethods::new().key(user_key))
            .await
            .unwrap_or_else(|e| panic!("{what}: authenticate: {e}"));
        let channel = session.exec("cat").await.expect("exec cat");
        let echoed = through_cat(channel, &data).await;
        (echoed, session.algorithms().expect("negotiated"))
    }));
    assert!(
        echoed == data,
        "{what}: {} bytes came back, sha256 {} (sent {})",
        echoed.len(),
        sha256_hex(&echoed),
        sha256_hex(&data)
    );
    let log_wait = Duration::from_secs(5);
    if let Some(k) = case.kex.or(case.expect_kex) {
        assert_eq!(algorithms.kex, k, "{what}");
        sshd.assert_log_contains(&format!("kex: algorithm: {k}"), log_wait);
    }
    if let Some(c) = case.cipher {
        assert_eq!(algorithms.cipher_c2s, c);
        assert_eq!(algorithms.cipher_s2c, c);
        sshd.assert_log_contains(&format!("kex: client->server cipher: {c}"), log_wait);
    }
    if let Some(m) = case.mac {
        assert_eq!(algorithms.mac_c2s, m);
        sshd.assert_log_contains(&format!("MAC: {m}"), log_wait);
    }
    if let Some(h) = case.host_key_algorithm {
        assert_eq!(algorithms.host_key, h);
        sshd.assert_log_contains(&format!("kex: host key algorithm: {h}"), log_wait);
    }
    if let Some(a) = case.user_sig_algorithm {
        sshd.assert_log_contains(&format!("pkalg {a}"), log_wait);
        sshd.assert_log_contains("Accepted publickey for ", log_wait);
    }
    // sshd re-keyed during the transfer.
    assert!(
        sshd.key_exchanges() >= 2,
        "{what}: sshd logged {} key exchanges",
        sshd.key_exchanges()
    );
}

/// Writes `data` into `cat` while reading what comes back.
async fn through_cat(channel: Channel, data: &[u8]) -> Vec<u8> {
    let (mut reader, mut writer) = tokio::io::split(channel);
    let send = async {
        writer.write_all(data).await.expect("write");
        writer.shutdown().await.expect("eof");
    };
    let receive = async {
        let mut out = Vec::with_capacity(data.len());
        reader.read_to_end(&mut out).await.expect("read");
        out
    };
    let ((), out) = tokio::join!(send, receive);
    out
}

/// Authorizes the given keys for any user.
#[derive(Debug)]
struct AuthorizedKeys(Vec<PublicKey>);

impl ServerHandler for AuthorizedKeys {
    fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::PublicKey { key, .. } if self.0.contains(key) => AuthDecision::Accept,
            _ => AuthDecision::Reject,
        }
    }
}

/// `openssh`'s `ssh` with `case` forced against Conch's server, which has
/// a host key of the case's type (made by `ssh-keygen`) and the case's
/// legacy algorithms enabled where it names one.
#[track_caller]
fn ssh_against_conch(case: Case, openssh: OpenSsh) {
    let what = format!("{case:?} with ssh of {openssh}");
    let dir = TestDir::new("conch-server");
    let host_type = case.host_key_type.unwrap_or(KeyType::Ed25519);
    let user_type = case.user_key_type.unwrap_or(KeyType::Ed25519);
    let host_pair = KeyPair::generate(&dir, "host", host_type, None);
    let user_pair = KeyPair::generate(&dir, "user", user_type, None);
    let mut config = ServerConfig::new(vec![load_key(&host_pair)]);
    // Conch's server offers its defaults plus whatever legacy name the case
    // forces (those are off by default and enabled by name).
    let prefs = &mut config.transport.algorithms;
    for (list, name) in [
        (&mut prefs.kex, case.kex),
        (&mut prefs.cipher, case.cipher),
        (&mut prefs.mac, case.mac),
        (&mut prefs.host_key, case.host_key_algorithm),
    ] {
        if let Some(name) = name {
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        }
    }
    let options = ServerOptions::new(config, AuthorizedKeys(vec![public_of(&user_pair)]));
    let rt = runtime();
    let listener = rt
        .block_on(Listener::bind("127.0.0.1:0", options))
        .expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    rt.spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(incoming) = session.accept_channel().await {
                    tokio::spawn(conch_driver::process::serve_command(
                        incoming.map(Channel::into_inner),
                    ));
                }
            });
        }
    });

    let mut ssh = SshClient::new(port)
        .openssh(openssh)
        .identity(&user_pair)
        .trust_host_key(&host_pair)
        .timeout(CASE_TIMEOUT)
        .option("RekeyLimit=256K")
        // Debug output names what was negotiated ("kex: algorithm: ...").
        .arg("-v");
    for (option, value) in [
        ("KexAlgorithms", case.kex),
        ("Ciphers", case.cipher),
        ("MACs", case.mac),
        ("HostKeyAlgorithms", case.host_key_algorithm),
        ("PubkeyAcceptedAlgorithms", case.user_sig_algorithm),
    ] {
        if let Some(value) = value {
            ssh = ssh.option(&format!("{option}={value}"));
        }
    }
    let data = payload();
    let out = ssh.run_with_input("cat", data.clone());
    out.assert_success();
    assert!(
        out.stdout == data,
        "{what}: {} bytes came back (sent {}); stderr: {}",
        out.stdout.len(),
        data.len(),
        out.stderr_text()
    );
    if let Some(k) = case.kex.or(case.expect_kex) {
        assert!(
            out.stderr_text().contains(&format!("kex: algorithm: {k}")),
            "{what}: ssh did not log `kex: algorithm: {k}`: {}",
            out.stderr_text()
        );
    }
    drop(rt);
}

// ---------------------------------------------------------------------------
// Key exchange
// ---------------------------------------------------------------------------

/// The key exchange methods both OpenSSH 9.2 and Conch implement.
const KEX: &[&str] = &[
    "sntrup761x25519-sha512@openssh.com",
    "sntrup761x25519-sha512",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
    // Legacy, enabled by name.
    "diffie-hellman-group14-sha1",
];

/// The post-quantum hybrid of OpenSSH 9.9 and later (10.0's default).
const MLKEM: &str = "mlkem768x25519-sha256";

/// [`KEX`], against either version ([`MLKEM`] has its own test).
fn kex_cases(_openssh: OpenSsh) -> Vec<Case> {
    KEX.iter().copied().map(Case::kex).collect()
}

/// A matrix (`cases`) in one direction against one OpenSSH, as a test.
macro_rules! matrix_test {
    ($name:ident, $run:ident, $cases:expr, $openssh:expr) => {
        #[test]
        fn $name() {
            for case in $cases($openssh) {
                $run(case, $openssh);
            }
        }
    };
}

matrix_test!(
    conch_client_with_each_key_exchange_against_sshd,
    client_against_sshd,
    kex_cases,
    OpenSsh::System
);
matrix_test!(
    ssh_with_each_key_exchange_against_conch_server,
    ssh_against_conch,
    kex_cases,
    OpenSsh::System
);
matrix_test!(
    conch_client_with_each_key_exchange_against_sshd_10,
    client_against_sshd,
    kex_cases,
    OpenSsh::V10
);
matrix_test!(
    ssh_10_with_each_key_exchange_against_conch_server,
    ssh_against_conch,
    kex_cases,
    OpenSsh::V10
);

/// ML-KEM against a real peer, both ways, forced alone on both ends.
#[test]
fn mlkem768x25519_against_openssh_10() {
    client_against_sshd(Case::kex(MLKEM), OpenSsh::V10);
    ssh_against_conch(Case::kex(MLKEM), OpenSsh::V10);
}

// ---------------------------------------------------------------------------
// Ciphers and MACs
// ---------------------------------------------------------------------------

/// Every cipher with, where it needs one, every MAC.
fn cipher_cases(_openssh: OpenSsh) -> Vec<Case> {
    let mut cases = vec![
        Case::cipher("chacha20-poly1305@openssh.com", None),
        Case::cipher("aes128-gcm@openssh.com", None),
        Case::cipher("aes256-gcm@openssh.com", None),
    ];
    for cipher in ["aes128-ctr", "aes192-ctr", "aes256-ctr"] {
        for mac in [
            "hmac-sha2-256",
            "hmac-sha2-512",
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
        ] {
            cases.push(Case::cipher(cipher, Some(mac)));
        }
    }
    // Legacy MACs, enabled by name.
    cases.push(Case::cipher("aes128-ctr", Some("hmac-sha1")));
    cases.push(Case::cipher(
        "aes256-ctr",
        Some("hmac-sha1-etm@openssh.com"),
    ));
    cases
}

matrix_test!(
    conch_client_with_each_cipher_and_mac_against_sshd,
    client_against_sshd,
    cipher_cases,
    OpenSsh::System
);
matrix_test!(
    ssh_with_each_cipher_and_mac_against_conch_server,
    ssh_against_conch,
    cipher_cases,
    OpenSsh::System
);
matrix_test!(
    conch_client_with_each_cipher_and_mac_against_sshd_10,
    client_against_sshd,
    cipher_cases,
    OpenSsh::V10
);
matrix_test!(
    ssh_10_with_each_cipher_and_mac_against_conch_server,
    ssh_against_conch,
    cipher_cases,
    OpenSsh::V10
);

// ---------------------------------------------------------------------------
// Host keys and user keys
// ---------------------------------------------------------------------------

fn host_key_cases(_openssh: OpenSsh) -> Vec<Case> {
    vec![
        Case::host_key("ssh-ed25519", KeyType::Ed25519),
        Case::host_key("ecdsa-sha2-nistp256", KeyType::EcdsaP256),
        Case::host_key("ecdsa-sha2-nistp384", KeyType::EcdsaP384),
        Case::host_key("ecdsa-sha2-nistp521", KeyType::EcdsaP521),
        Case::host_key("rsa-sha2-512", KeyType::Rsa),
        Case::host_key("rsa-sha2-256", KeyType::Rsa),
        // Legacy SHA-1 RSA, enabled by name.
        Case::host_key("ssh-rsa", KeyType::Rsa),
    ]
}

matrix_test!(
    conch_client_with_each_host_key_algorithm_against_sshd,
    client_against_sshd,
    host_key_cases,
    OpenSsh::System
);
matrix_test!(
    ssh_with_each_host_key_algorithm_against_conch_server,
    ssh_against_conch,
    host_key_cases,
    OpenSsh::System
);
matrix_test!(
    conch_client_with_each_host_key_algorithm_against_sshd_10,
    client_against_sshd,
    host_key_cases,
    OpenSsh::V10
);
matrix_test!(
    ssh_10_with_each_host_key_algorithm_against_conch_server,
    ssh_against_conch,
    host_key_cases,
    OpenSsh::V10
);

/// User keys of every type made by `ssh-keygen`, RSA with either SHA-2
/// signature (`PubkeyAcceptedAlgorithms`).
fn user_key_cases(_openssh: OpenSsh) -> Vec<Case> {
    vec![
        Case::user_key("ecdsa-sha2-nistp256", KeyType::EcdsaP256),
        Case::user_key("ecdsa-sha2-nistp384", KeyType::EcdsaP384),
        Case::user_key("ecdsa-sha2-nistp521", KeyType::EcdsaP521),
        Case::user_key("rsa-sha2-512", KeyType::Rsa),
        Case::user_key("rsa-sha2-256", KeyType::Rsa),
    ]
}

/// User-key cases of Conch's client against `openssh`'s sshd. sshd 9.2
/// lists every algorithm it knows in `server-sig-algs` (RFC 8308 §3.1),
/// not just its `PubkeyAcceptedAlgorithms`, so a client (OpenSSH's too)
/// picks rsa-sha2-512 there and the rsa-sha2-256 case is left out; sshd 10
/// lists only its `PubkeyAcceptedAlgorithms`, so against it Conch must pick
/// rsa-sha2-256 from `server-sig-algs` (as against dropbear below).
fn client_user_key_cases(openssh: OpenSsh) -> Vec<Case> {
    user_key_cases(openssh)
        .into_iter()
        .filter(|c| openssh == OpenSsh::V10 || c.user_sig_algorithm != Some("rsa-sha2-256"))
        .collect()
}

matrix_test!(
    conch_client_with_each_user_key_against_sshd,
    client_against_sshd,
    client_user_key_cases,
    OpenSsh::System
);
matrix_test!(
    ssh_with_each_user_key_against_conch_server,
    ssh_against_conch,
    user_key_cases,
    OpenSsh::System
);
matrix_test!(
    conch_client_with_each_user_key_against_sshd_10,
    client_against_sshd,
    client_user_key_cases,
    OpenSsh::V10
);
matrix_test!(
    ssh_10_with_each_user_key_against_conch_server,
    ssh_against_conch,
    user_key_cases,
    OpenSsh::V10
);

/// dropbear 2022 signs and verifies RSA with SHA-256 only (no
/// rsa-sha2-512) and says so in `server-sig-algs`: Conch's client must sign
/// its RSA user key with rsa-sha2-256 there, and verify dropbear's RSA and
/// ECDSA host keys.
#[test]
fn conch_client_against_dropbear_with_rsa_and_ecdsa_keys() {
    for host_type in [KeyType::Rsa, KeyType::EcdsaP256, KeyType::EcdsaP521] {
        let dropbear = Dropbear::start(DropbearOptions {
            host_key_types: vec![host_type],
            user_key_types: vec![KeyType::Rsa],
            ..DropbearOptions::default()
        });
        let what = format!("dropbear with a {host_type:?} host key");
        let host_key = public_of(&dropbear.host_keys()[0]);
        let user_key = load_key(dropbear.user_key());
        let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
        options.connect_timeout = Some(CASE_TIMEOUT);
        options.config_mut().transport.handshake_timeout = Some(CASE_TIMEOUT);
        let data = payload();
        let (echoed, algorithms) = runtime().block_on(bounded(&what, async {
            let session = connect("127.0.0.1", dropbear.port(), options)
                .await
                .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
            session
                .authenticate(dropbear.login_user(), AuthMethods::new().key(user_key))
                .await
                .unwrap_or_else(|e| panic!("{what}: authenticate: {e}"));
            let channel = session.exec("cat").await.expect("exec cat");
            let echoed = through_cat(channel, &data).await;
            (echoed, session.algorithms().expect("negotiated"))
        }));
        assert!(echoed == data, "{what}: echo differs");
        let want = match host_type {
            KeyType::Rsa => "rsa-sha2-256",
            other => other.key_name(),
        };
        assert_eq!(algorithms.host_key, want, "{what}");
    }
}

/// The defaults on both ends: what a user gets without configuring anything.
#[test]
fn defaults_against_openssh_both_ways() {
    client_against_sshd(Case::default(), OpenSsh::System);
    ssh_against_conch(Case::default(), OpenSsh::System);
}

/// The defaults on both ends against OpenSSH 10 agree on ML-KEM, the first
/// choice of both (OpenSSH 10.0's release notes; Conch's `Algorithms`).
#[test]
fn defaults_against_openssh_10_both_ways_choose_mlkem() {
    let case = Case {
        expect_kex: Some(MLKEM),
        ..Case::default()
    };
    client_against_sshd(case.clone(), OpenSsh::V10);
    ssh_against_conch(case, OpenSsh::V10);
}
