//! Compression against real peers (RFC 4253 section 6.2; OpenSSH PROTOCOL
//! section 1.2): Conch's client asking for it (ssh's `Compression yes`
//! list) against sshd with `Compression yes` and against dropbear, which
//! both offer only `zlib@openssh.com`; OpenSSH's `ssh -C` against Conch's
//! server offering sshd's list (delayed) or plain `zlib` alone (ssh 9.2
//! still implements it), and against `conchd`. Bulk data crosses rekeys
//! forced by `RekeyLimit`, so each side's fresh context at every NEWKEYS
//! is checked against OpenSSH's. Every test is bounded.

mod common;
use common::client::{block_on_bounded, load_key, public_of, runtime};
use common::stream_through;

use std::process::Command;
use std::time::Duration;

use conch_driver::conch_core::config::{COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED};
use conch_interop::{
    pattern_sha256, workspace_bin, Dropbear, DropbearOptions, Input, KeyPair, KeyType,
    PatternReader, ServerProcess, SshClient, Sshd, SshdOptions, TestDir,
};
use conch_tokio::{
    connect, AuthAttempt, AuthDecision, AuthMethods, Channel, ClientOptions, HostKeyPolicy,
    Listener, PublicKey, ServerConfig, ServerHandler, ServerOptions, Session,
};
use tokio::io::AsyncReadExt;

/// Longest one test may take on a shared 2-core machine.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long sshd may take to write a log line after the fact.
const LOG_WAIT: Duration = Duration::from_secs(5);
/// Random bytes through `cat` (incompressible: the stream must still be right).
const PATTERN_LEN: u64 = 2 * 1024 * 1024;
/// Compressible output of a remote command.
const TEXT_LEN: usize = 3_000_000;

/// Client options trusting `host_keys`, asking for `compression`.
fn options(host_keys: &[KeyPair], compression: &[&str]) -> ClientOptions {
    let mut options =
        ClientOptions::new(HostKeyPolicy::trust_keys(host_keys.iter().map(public_of)));
    options.connect_timeout = Some(TEST_TIMEOUT);
    let config = options.config_mut();
    config.transport.handshake_timeout = Some(TEST_TIMEOUT);
    config.transport.algorithms.set_compression(compression);
    options
}

async fn login(port: u16, options: ClientOptions, user: &str, key: &KeyPair) -> Session {
    let session = connect("127.0.0.1", port, options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    session
        .authenticate(user, AuthMethods::new().key(load_key(key)))
        .await
        .unwrap_or_else(|e| panic!("authenticate: {e}"));
    session
}

/// Random bytes through `cat`, then compressible text from `yes`: both
/// intact. Returns the compression negotiated each way.
async fn transfer(session: &Session) -> (String, String) {
    let channel = session.exec("cat").await.expect("exec cat");
    let back = stream_through(&channel, PATTERN_LEN, 21).await;
    assert_eq!(back, (PATTERN_LEN, pattern_sha256(PATTERN_LEN, 21)));
    let mut channel = session
        .exec(&format!("yes compressible | head -c {TEXT_LEN}"))
        .await
        .expect("exec yes");
    let mut text = Vec::new();
    channel.read_to_end(&mut text).await.expect("read text");
    assert_eq!(text.len(), TEXT_LEN);
    assert!(text.chunks(13).all(|c| c == &b"compressible\n"[..c.len()]));
    let names = session.algorithms().expect("negotiated algorithms");
    (names.compression_c2s, names.compression_s2c)
}

fn delayed() -> (String, String) {
    ("zlib@openssh.com".into(), "zlib@openssh.com".into())
}

#[test]
fn conch_client_asking_for_compression_gets_delayed_zlib_from_sshd() {
    let sshd = Sshd::start(SshdOptions {
        // sshd's default, spelled out: none,zlib@openssh.com.
        extra_config: vec!["Compression yes".into()],
        rekey_limit: Some("512K".into()),
        ..SshdOptions::default()
    });
    let got = block_on_bounded("compressed session with sshd", TEST_TIMEOUT, async {
        let options = options(sshd.host_keys(), COMPRESSION_CLIENT_ON);
        let session = login(sshd.port(), options, &sshd.login_user(), sshd.user_key()).await;
        transfer(&session).await
    });
    assert_eq!(got, delayed());
    sshd.assert_log_contains("compression: zlib@openssh.com", LOG_WAIT);
    // sshd rekeyed by its RekeyLimit with compression on.
    assert!(sshd.key_exchanges() > 2, "{}", sshd.log_tail(40));
}

#[test]
fn sshd_92_does_not_offer_plain_zlib_and_compression_no_offers_none() {
    let sshd = Sshd::start(SshdOptions {
        extra_config: vec!["Compression yes".into()],
        ..SshdOptions::default()
    });
    let result = block_on_bounded("plain zlib against sshd", TEST_TIMEOUT, async {
        connect(
            "127.0.0.1",
            sshd.port(),
            options(sshd.host_keys(), &["zlib"]),
        )
        .await
    });
    let error = result.expect_err("no common compression");
    assert!(
        error.to_string().contains("no matching compression"),
        "{error}"
    );
    let sshd = Sshd::start(SshdOptions {
        extra_config: vec!["Compression no".into()],
        ..SshdOptions::default()
    });
    let got = block_on_bounded("asking sshd that refuses", TEST_TIMEOUT, async {
        let options = options(sshd.host_keys(), COMPRESSION_CLIENT_ON);
        let session = login(sshd.port(), options, &sshd.login_user(), sshd.user_key()).await;
        let names = session.algorithms().expect("negotiated algorithms");
        (names.compression_c2s, names.compression_s2c)
    });
    assert_eq!(got, ("none".into(), "none".into()));
}

#[test]
fn conch_client_asking_for_compression_gets_delayed_zlib_from_dropbear() {
    let dropbear = Dropbear::start(DropbearOptions::default());
    let got = block_on_bounded("compressed session with dropbear", TEST_TIMEOUT, async {
        let options = options(dropbear.host_keys(), COMPRESSION_CLIENT_ON);
        let user = dropbear.login_user().to_string();
        let session = login(dropbear.port(), options, &user, dropbear.user_key()).await;
        transfer(&session).await
    });
    assert_eq!(got, delayed());
    // Dropbear's server, like sshd, keeps plain zlib (compression before
    // authentication) off by default.
    let result = block_on_bounded("plain zlib against dropbear", TEST_TIMEOUT, async {
        connect(
            "127.0.0.1",
            dropbear.port(),
            options(dropbear.host_keys(), &["zlib"]),
        )
        .await
    });
    let error = result.expect_err("no common compression");
    assert!(
        error.to_string().contains("no matching compression"),
        "{error}"
    );
}

/// Authorizes one key for any user.
#[derive(Debug)]
struct AuthorizedKey(PublicKey);

impl ServerHandler for AuthorizedKey {
    fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::PublicKey { key, .. } if *key == self.0 => AuthDecision::Accept,
            _ => AuthDecision::Reject,
        }
    }
}

/// `ssh -C -v` (with `RekeyLimit=256K`) against Conch's server offering
/// `compression`: random bytes through `cat` come back intact; returns
/// ssh's stderr.
fn ssh_against_conch_server(compression: &[&str]) -> String {
    let dir = TestDir::new("conch-compression");
    let host = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
    let user = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
    let mut config = ServerConfig::new(vec![load_key(&host)]);
    config.transport.algorithms.set_compression(compression);
    let options = ServerOptions::new(config, AuthorizedKey(public_of(&user)));
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
    let out = SshClient::new(port)
        .identity(&user)
        .trust_host_key(&host)
        .timeout(TEST_TIMEOUT)
        .arg("-C")
        .arg("-v")
        .option("RekeyLimit=256K")
        .run_with_input(
            "cat",
            Input::Reader(Box::new(PatternReader::new(PATTERN_LEN, 22))),
        );
    out.assert_success();
    assert_eq!(
        conch_interop::sha256_hex(&out.stdout),
        pattern_sha256(PATTERN_LEN, 22),
        "cat's output differs"
    );
    drop(rt);
    out.stderr_text()
}

#[test]
fn ssh_minus_capital_c_gets_delayed_zlib_from_the_conch_server() {
    let err = ssh_against_conch_server(COMPRESSION_SERVER_ALLOWED);
    assert!(
        err.contains("server->client cipher:") && err.contains("compression: zlib@openssh.com"),
        "{err}"
    );
    assert!(err.contains("Enabling compression at level 6"), "{err}");
}

#[test]
fn ssh_minus_capital_c_gets_plain_zlib_from_a_conch_server_offering_only_that() {
    let err = ssh_against_conch_server(&["zlib"]);
    let kex_lines: Vec<&str> = err.lines().filter(|l| l.contains(" cipher: ")).collect();
    // Both directions, at the first exchange and at each rekey.
    assert!(kex_lines.len() >= 4, "{err}");
    assert!(
        kex_lines
            .iter()
            .all(|l| l.trim_end().ends_with("compression: zlib")),
        "{err}"
    );
}

#[test]
fn ssh_minus_capital_c_against_conchd() {
    let binary = workspace_bin("conch-cli", "conchd");
    let dir = TestDir::new("conchd-compression");
    let host = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
    let user = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
    let authorized = dir.write("authorized_keys", format!("{}\n", user.public_line));
    let process = ServerProcess::start("conchd", |port| {
        let mut command = Command::new(&binary);
        command
            .args(["-p", &port.to_string(), "--host-key"])
            .arg(&host.private_path)
            .arg("--authorized-keys")
            .arg(&authorized);
        command
    });
    let ssh = || {
        SshClient::new(process.port())
            .identity(&user)
            .trust_host_key(&host)
            .server_log(process.log_path())
            .timeout(TEST_TIMEOUT)
    };
    let out = ssh()
        .arg("-C")
        .arg("-v")
        .run(&format!("yes compressible | head -c {TEXT_LEN}"));
    out.assert_success();
    assert_eq!(out.stdout.len(), TEXT_LEN);
    let err = out.stderr_text();
    assert!(err.contains("compression: zlib@openssh.com"), "{err}");
    // Without -C, ssh's own order puts none first.
    let out = ssh().arg("-v").run("true");
    out.assert_success();
    assert!(out.stderr_text().contains("compression: none"), "{out}");
}
