//! Conch's client (conch-tokio) against a real OpenSSH `sshd` on loopback:
//! exec with exit status and exit signal, bulk data through `cat`, stderr,
//! many commands on one connection, every authentication method a user has
//! (key file, encrypted key file, agent, password, keyboard-interactive),
//! known_hosts files written by OpenSSH's tools, a changed host key, and
//! rekeying forced by sshd's `RekeyLimit`, channel packets as large as the
//! transport takes. Exec, exit status and signal,
//! stderr, password and keyboard-interactive logins run against both
//! OpenSSH versions the harness has (9.2 and 10.0, see `OpenSsh`).
//!
//! Every test is bounded: each Conch call runs under [`TEST_TIMEOUT`] (bulk
//! transfers under [`BULK_TIMEOUT`]), and the harness bounds every child.

mod common;
use common::client::{block_on_bounded, load_key, public_of};
use common::stream_through;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use conch_interop::known_hosts::{hash_known_hosts, host_pattern, keyscan, write_known_hosts};
use conch_interop::{
    pattern_sha256, sha256_hex, KeyPair, KeyType, OpenSsh, PatternReader, SshAgent, Sshd,
    SshdOptions, TestDir, TEST_PASSWORD, TEST_USER,
};
use conch_tokio::{
    connect, AgentClient, AuthMethods, ClientOptions, Error, ExitStatus, HostKeyPolicy,
    KnownHostsFile, KnownHostsPolicy, KnownHostsVerifier, NoUi, PasswordResponder, Session,
};
use conch_tokio::{load_private_key, KeyFileError};
use tokio::io::AsyncReadExt;

/// Longest a test without bulk data may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a bulk transfer may take (100 MiB each way on a shared 2-core
/// machine).
const BULK_TIMEOUT: Duration = Duration::from_secs(300);
/// How long sshd may take to write a log line after the fact.
const LOG_WAIT: Duration = Duration::from_secs(5);
/// The big payload through `cat`.
const HUNDRED_MIB: u64 = 100 * 1024 * 1024;
/// The payload of the rekeying test.
const SIXTY_FOUR_MIB: u64 = 64 * 1024 * 1024;

/// Options trusting exactly sshd's host keys.
fn trusting(sshd: &Sshd) -> ClientOptions {
    options_with(HostKeyPolicy::trust_keys(
        sshd.host_keys().iter().map(public_of),
    ))
}

fn options_with(policy: HostKeyPolicy) -> ClientOptions {
    let mut options = ClientOptions::new(policy);
    options.connect_timeout = Some(TEST_TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(TEST_TIMEOUT);
    options
}

/// Connects trusting sshd's host keys and logs in with its user key.
async fn login(sshd: &Sshd) -> Session {
    login_with(sshd, trusting(sshd)).await
}

/// [`login`] with `options`.
async fn login_with(sshd: &Sshd, options: ClientOptions) -> Session {
    let session = connect("127.0.0.1", sshd.port(), options)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    session
        .authenticate(
            &sshd.login_user(),
            AuthMethods::new().key(load_key(sshd.user_key())),
        )
        .await
        .unwrap_or_else(|e| panic!("authenticate: {e}"));
    session
}

/// What one remote command did.
#[derive(Debug)]
struct Ran {
    stdout: String,
    stderr: String,
    status: ExitStatus,
}

/// Runs `command`, reading stdout and stderr at the same time.
async fn run(session: &Session, command: &str) -> Ran {
    let mut channel = session
        .exec(command)
        .await
        .unwrap_or_else(|e| panic!("exec {command:?}: {e}"));
    let mut stderr_stream = channel.stderr();
    let mut stdout = String::new();
    let mut stderr = String::new();
    let (out, err) = tokio::join!(
        channel.read_to_string(&mut stdout),
        stderr_stream.read_to_string(&mut stderr)
    );
    out.expect("read stdout");
    err.expect("read stderr");
    let status = channel
        .exit_status()
        .await
        .unwrap_or_else(|e| panic!("exit status of {command:?}: {e}"));
    Ran {
        stdout,
        stderr,
        status,
    }
}

/// Sends `len` bytes through `cat` on a fresh connection and checks they
/// come back intact, with `cat` exiting 0.
fn cat_intact(sshd: &Sshd, len: u64, seed: u64) {
    let (received, status) = block_on_bounded("bulk data through cat", BULK_TIMEOUT, async {
        let session = login(sshd).await;
        let channel = session.exec("cat").await.expect("exec cat");
        let received = stream_through(&channel, len, seed).await;
        let status = channel.exit_status().await.expect("cat's exit status");
        (received, status)
    });
    assert_eq!(status, ExitStatus::Code(0), "cat failed");
    assert_eq!(
        received.0, len,
        "cat returned {} of {len} bytes",
        received.0
    );
    assert_eq!(
        received.1,
        pattern_sha256(len, seed),
        "cat's output differs"
    );
}

/// sshd of `openssh` with the default options.
fn sshd_of(openssh: OpenSsh) -> Sshd {
    Sshd::start(SshdOptions {
        openssh,
        ..SshdOptions::default()
    })
}

/// Against both OpenSSH versions (the harness's [`OpenSsh`]).
#[test]
fn exec_reports_output_and_exit_status() {
    for openssh in OpenSsh::ALL {
        let sshd = sshd_of(openssh);
        let ran = block_on_bounded("exec", TEST_TIMEOUT, async {
            let session = login(&sshd).await;
            run(&session, "echo hello from sshd; exit 7").await
        });
        assert_eq!(ran.stdout, "hello from sshd\n", "{openssh}");
        assert_eq!(ran.status, ExitStatus::Code(7), "{openssh}");
        sshd.assert_log_contains("Accepted publickey for ", LOG_WAIT);
    }
}

#[test]
fn exec_reports_exit_signal() {
    for openssh in OpenSsh::ALL {
        let sshd = sshd_of(openssh);
        let ran = block_on_bounded("exec", TEST_TIMEOUT, async {
            let session = login(&sshd).await;
            run(&session, "echo before; kill -TERM $$; echo after").await
        });
        assert_eq!(ran.stdout, "before\n", "{openssh}");
        match &ran.status {
            ExitStatus::Signal { name, .. } => assert_eq!(name, "TERM", "{openssh}"),
            other => panic!("{openssh}: expected exit signal TERM, got {other}"),
        }
        assert_eq!(ran.status.shell_code(), 128 + 15);
    }
}

#[test]
fn hundred_mib_through_cat() {
    let sshd = Sshd::start_default();
    cat_intact(&sshd, HUNDRED_MIB, 1);
}

/// A channel packet size as large as the transport's packets: sshd fills
/// its data packets up to what the client announced (its SFTP server's
/// 255 KiB reads do), so an announcement past what the client's transport
/// accepts would get them refused as too long. The connection lowers it to
/// fit, and a download through SFTP comes through intact.
#[test]
fn channel_packet_size_at_the_transport_limit() {
    const LEN: u64 = 16 * 1024 * 1024;
    let sshd = Sshd::start_default();
    let dir = TestDir::new("large-packets");
    let src = dir.join("src.bin");
    let mut f = std::fs::File::create(&src).expect("create");
    std::io::copy(&mut PatternReader::new(LEN, 7), &mut f).expect("write");
    let mut options = trusting(&sshd);
    let channels = &mut options.config_mut().channels;
    channels.max_packet_size = 256 * 1024;
    // A window that holds several such packets, as a user tuning for
    // throughput would set along with them.
    channels.window_size = 8 * 1024 * 1024;
    channels.memory_budget = 64 * 1024 * 1024;
    block_on_bounded("16 MiB through SFTP", BULK_TIMEOUT, async {
        let session = login_with(&sshd, options).await;
        let sftp = session.sftp().await.expect("sftp subsystem");
        let back = dir.join("back.bin");
        let remote = src.to_str().expect("UTF-8 temp path");
        let opts = conch_tokio::sftp::TransferOptions::default();
        let got = sftp.download(remote, &back, &opts, None).await;
        assert_eq!(got.expect("download").size, LEN);
        let data = std::fs::read(&back).expect("read back");
        assert_eq!(sha256_hex(&data), pattern_sha256(LEN, 7));
    });
}

#[test]
fn stderr_is_kept_apart() {
    for openssh in OpenSsh::ALL {
        let sshd = sshd_of(openssh);
        let ran = block_on_bounded("exec", TEST_TIMEOUT, async {
            let session = login(&sshd).await;
            run(&session, "echo out; echo err >&2; echo out2; exit 3").await
        });
        assert_eq!(ran.stdout, "out\nout2\n", "{openssh}");
        assert_eq!(ran.stderr, "err\n", "{openssh}");
        assert_eq!(ran.status, ExitStatus::Code(3), "{openssh}");
    }
}

/// The how-to's example: fifty `/bin/echo N` commands, one after another, on
/// one connection.
#[test]
fn fifty_commands_on_one_connection() {
    let sshd = Sshd::start_default();
    let outputs = block_on_bounded("fifty commands", TEST_TIMEOUT * 2, async {
        let session = login(&sshd).await;
        let mut outputs = Vec::new();
        for n in 0..50 {
            outputs.push(run(&session, &format!("/bin/echo {n}")).await);
        }
        outputs
    });
    for (n, ran) in outputs.iter().enumerate() {
        assert_eq!(ran.stdout, format!("{n}\n"), "command {n}");
        assert!(ran.status.success(), "command {n}: {}", ran.status);
    }
    // One connection: sshd accepted one login.
    assert_eq!(sshd.log().matches("Accepted publickey for ").count(), 1);
}

/// Logs in as [`TEST_USER`] with `methods` and returns `id -un`'s output.
fn login_as_test_user(sshd: &Sshd, methods: AuthMethods) -> String {
    block_on_bounded("test user login", TEST_TIMEOUT, async {
        let session = connect("127.0.0.1", sshd.port(), trusting(sshd))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        session
            .authenticate(TEST_USER, methods)
            .await
            .unwrap_or_else(|e| panic!("authenticate as {TEST_USER}: {e}"));
        let ran = run(&session, "id -un").await;
        assert!(ran.status.success(), "id -un: {}", ran.status);
        ran.stdout
    })
}

#[test]
fn password_login() {
    conch_interop::test_user();
    for openssh in OpenSsh::ALL {
        let sshd = Sshd::start(SshdOptions {
            openssh,
            pubkey_auth: false,
            password_auth: true,
            ..SshdOptions::default()
        });
        let who = login_as_test_user(&sshd, AuthMethods::new().password(TEST_PASSWORD));
        assert_eq!(who, format!("{TEST_USER}\n"), "{openssh}");
        sshd.assert_log_contains(&format!("Accepted password for {TEST_USER}"), LOG_WAIT);
    }
}

#[test]
fn wrong_password_is_refused() {
    conch_interop::test_user();
    let sshd = Sshd::start(SshdOptions {
        pubkey_auth: false,
        password_auth: true,
        ..SshdOptions::default()
    });
    let result = block_on_bounded("wrong password", TEST_TIMEOUT, async {
        let session = connect("127.0.0.1", sshd.port(), trusting(&sshd))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        session
            .authenticate(TEST_USER, AuthMethods::new().password("not the password"))
            .await
    });
    match result {
        Err(Error::AuthFailed { methods, .. }) => {
            assert!(methods.iter().any(|m| m == "password"), "{methods:?}")
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
}

#[test]
fn keyboard_interactive_login() {
    conch_interop::test_user();
    for openssh in OpenSsh::ALL {
        let sshd = Sshd::start(SshdOptions {
            openssh,
            pubkey_auth: false,
            kbd_interactive_auth: true,
            ..SshdOptions::default()
        });
        let who = login_as_test_user(
            &sshd,
            AuthMethods::new().keyboard_interactive(PasswordResponder(TEST_PASSWORD.to_owned())),
        );
        assert_eq!(who, format!("{TEST_USER}\n"), "{openssh}");
        sshd.assert_log_contains(
            &format!("Accepted keyboard-interactive/pam for {TEST_USER}"),
            LOG_WAIT,
        );
    }
}

#[test]
fn agent_login_through_ssh_agent() {
    let sshd = Sshd::start_default();
    let agent = SshAgent::start();
    agent.add(sshd.user_key());
    let signers = AgentClient::new(agent.socket()).signers();
    assert_eq!(signers.len(), 1, "the agent should hold the one key added");
    assert_eq!(signers[0].public_key(), public_of(sshd.user_key()));
    let ran = block_on_bounded("agent login", TEST_TIMEOUT, async {
        let session = connect("127.0.0.1", sshd.port(), trusting(&sshd))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let mut methods = AuthMethods::new();
        for signer in signers {
            methods = methods.signer(signer);
        }
        session
            .authenticate(&sshd.login_user(), methods)
            .await
            .unwrap_or_else(|e| panic!("authenticate with the agent: {e}"));
        run(&session, "echo via-agent").await
    });
    assert_eq!(ran.stdout, "via-agent\n");
    sshd.assert_log_contains("Accepted publickey for ", LOG_WAIT);
}

#[test]
fn encrypted_key_file_with_its_passphrase() {
    let sshd = Sshd::start_default();
    let encrypted = sshd.encrypted_user_key();
    let path = encrypted.private_path.clone();

    // No passphrase and a wrong one are clear errors naming the file.
    let missing = load_private_key(&path, &mut |_| None).expect_err("no passphrase");
    assert!(
        matches!(missing, KeyFileError::PassphraseNeeded { .. }),
        "{missing:?}"
    );
    let wrong = load_private_key(&path, &mut |_| Some("wrong passphrase".to_owned()))
        .expect_err("wrong passphrase");
    assert!(
        matches!(wrong, KeyFileError::WrongPassphrase { .. }),
        "{wrong:?}"
    );
    let message = wrong.to_string();
    assert!(
        message.contains("incorrect passphrase") && message.contains(&path.display().to_string()),
        "unclear error: {message}"
    );

    let key = load_key(encrypted);
    assert_eq!(key.public_key(), &public_of(encrypted));
    let ran = block_on_bounded("encrypted key login", TEST_TIMEOUT, async {
        let session = connect("127.0.0.1", sshd.port(), trusting(&sshd))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        session
            .authenticate(&sshd.login_user(), AuthMethods::new().key(key))
            .await
            .unwrap_or_else(|e| panic!("authenticate with the decrypted key: {e}"));
        run(&session, "echo decrypted").await
    });
    assert_eq!(ran.stdout, "decrypted\n");
}

/// Connects with a strict known_hosts check against `path`, and runs `true`.
fn connect_strict(sshd: &Sshd, path: &Path) -> Result<(), Error> {
    let verifier = KnownHostsVerifier::new(
        KnownHostsFile::new(path),
        KnownHostsPolicy::Strict,
        Arc::new(NoUi),
    );
    block_on_bounded("strict connect", TEST_TIMEOUT, async {
        let session = connect(
            "127.0.0.1",
            sshd.port(),
            options_with(verifier.into_policy()),
        )
        .await?;
        session
            .authenticate(
                &sshd.login_user(),
                AuthMethods::new().key(load_key(sshd.user_key())),
            )
            .await?;
        let ran = run(&session, "true").await;
        assert!(ran.status.success());
        Ok(())
    })
}

#[test]
fn known_hosts_from_ssh_keyscan_accepted_strictly() {
    let sshd = Sshd::start(SshdOptions {
        host_key_types: vec![KeyType::Ed25519, KeyType::Rsa],
        ..SshdOptions::default()
    });
    let dir = TestDir::new("known-hosts");

    // Control: an empty file refuses the host under the strict policy.
    let empty = dir.write("empty", "");
    match connect_strict(&sshd, &empty) {
        Err(Error::HostKeyRejected { .. }) => {}
        other => panic!("an unknown host must be refused, got {other:?}"),
    }

    // Plain `ssh-keyscan` output.
    let plain = dir.join("plain");
    write_known_hosts(&plain, &keyscan(sshd.port(), KeyType::Ed25519, false));
    connect_strict(&sshd, &plain).unwrap_or_else(|e| panic!("ssh-keyscan file: {e}"));

    // `ssh-keyscan -H` output (hashed by ssh-keyscan).
    let scanned_hashed = dir.join("scanned_hashed");
    write_known_hosts(
        &scanned_hashed,
        &keyscan(sshd.port(), KeyType::Ed25519, true),
    );
    assert!(std::fs::read_to_string(&scanned_hashed)
        .expect("read")
        .starts_with("|1|"));
    connect_strict(&sshd, &scanned_hashed).unwrap_or_else(|e| panic!("ssh-keyscan -H file: {e}"));

    // Every key type scanned, then hashed in place by `ssh-keygen -H`.
    let hashed = dir.join("hashed");
    let mut lines = keyscan(sshd.port(), KeyType::Rsa, false);
    lines.extend(keyscan(sshd.port(), KeyType::Ed25519, false));
    write_known_hosts(&hashed, &lines);
    hash_known_hosts(&hashed);
    let text = std::fs::read_to_string(&hashed).expect("read hashed");
    assert!(
        !text.contains("127.0.0.1") && text.lines().all(|l| l.starts_with("|1|")),
        "ssh-keygen -H left names in clear:\n{text}"
    );
    connect_strict(&sshd, &hashed).unwrap_or_else(|e| panic!("ssh-keygen -H file: {e}"));
}

#[test]
fn changed_host_key_is_refused_naming_file_and_line() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("known-hosts-changed");
    let impostor = KeyPair::generate(&dir, "other_host", KeyType::Ed25519, None);
    let path = dir.join("known_hosts");
    write_known_hosts(
        &path,
        &[
            "other.example ".to_owned() + &impostor.public_key(),
            impostor.known_hosts_line(&host_pattern(sshd.port())),
        ],
    );
    match connect_strict(&sshd, &path) {
        Err(Error::HostKeyChanged { detail, .. }) => {
            let expected = format!("{}:2", path.display());
            assert!(
                detail.contains(&expected),
                "the error should name {expected}: {detail}"
            );
        }
        other => panic!("a changed host key must be refused, got {other:?}"),
    }
    // Nothing was authenticated.
    assert!(!sshd.log().contains("Accepted publickey for "));
}

#[test]
fn rekeying_forced_by_sshd_keeps_data_intact() {
    let sshd = Sshd::start(SshdOptions {
        rekey_limit: Some("8M".into()),
        ..SshdOptions::default()
    });
    cat_intact(&sshd, SIXTY_FOUR_MIB, 2);
    // 64 MiB each way past an 8 MiB limit: sshd re-keys many times.
    let exchanges = sshd.key_exchanges();
    assert!(
        exchanges >= 4,
        "sshd logged {exchanges} key exchanges; expected several"
    );
}
