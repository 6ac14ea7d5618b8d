//! Records the transcripts under `tests/transcripts/` against real peers.
//!
//! These are `#[ignore]`d: they rewrite committed fixtures. Run them with
//! `tests/transcripts/record.sh` (as root, after `scripts/test
//! --setup-only`, like every interop test), then commit the new files. The
//! ordinary test run replays the fixtures with no peer
//! (`core/tests/replay.rs`).
//!
//! Each recording is replayed right after it is made, so a fixture that
//! does not replay is never written. `CONCH_TRANSCRIPTS_DIR` writes them
//! elsewhere (e.g. to compare with the committed ones).

mod common;
use common::client::{load_key, public_of, runtime};

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_driver::conch_core::record::{self, Transcript};
use conch_driver::conch_core::Side;
use conch_interop::{
    test_user, workspace_bin, Dropbear, DropbearOptions, KeyPair, KeyType, ServerProcess,
    SshClient, Sshd, SshdOptions, TestDir,
};
use conch_tokio::{
    connect, AuthMethods, ClientConfig, ClientOptions, HostKeyPolicy, PublicKey, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bound on each recording.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A command with stdout, stderr and an exit status.
const STDIO_COMMAND: &str = "echo to-stdout; echo to-stderr >&2; exit 3";

fn out_dir() -> PathBuf {
    match std::env::var_os("CONCH_TRANSCRIPTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("transcripts"),
    }
}

/// Client options trusting `host_key`, recording to a scratch file.
fn options(host_key: PublicKey, scratch: &TestDir, config: ClientConfig) -> ClientOptions {
    let mut options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
    options.config = Arc::new(config);
    options.connect_timeout = Some(TIMEOUT);
    options.config_mut().transport.handshake_timeout = Some(TIMEOUT);
    options.record = Some(scratch.join("transcript.bin"));
    options
}

/// Runs `session_fn` on a recorded client session, then checks that the
/// transcript replays and moves it to `tests/transcripts/<name>`.
fn record_client<F, Fut>(name: &str, port: u16, options: ClientOptions, session_fn: F)
where
    F: FnOnce(Session) -> Fut,
    Fut: std::future::Future<Output = Session>,
{
    let scratch = options.record.clone().expect("recording");
    let rt = runtime();
    rt.block_on(async {
        tokio::time::timeout(TIMEOUT, async {
            let session = connect("127.0.0.1", port, options)
                .await
                .unwrap_or_else(|e| panic!("{name}: connect: {e}"));
            let session = session_fn(session).await;
            session.close().await;
        })
        .await
        .unwrap_or_else(|_| panic!("{name}: timed out"));
    });
    drop(rt);
    keep(name, &scratch, Side::Client);
}

/// Checks the transcript at `from` and moves it to the fixtures.
fn keep(name: &str, from: &std::path::Path, side: Side) {
    let bytes = std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let transcript = Transcript::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(transcript.header.config.side(), side, "{name}");
    assert!(!transcript.truncated, "{name}: truncated");
    let summary = record::replay(&bytes, Instant::now()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let to = dir.join(name);
    std::fs::write(&to, &bytes).unwrap();
    eprintln!(
        "{}: {} bytes, {} records, {} events, {} bytes in, {} out",
        to.display(),
        bytes.len(),
        summary.records,
        summary.events,
        summary.input_bytes,
        summary.transmitted_bytes
    );
}

async fn read_all(channel: &mut conch_tokio::Channel) -> (Vec<u8>, Vec<u8>) {
    let mut stderr = channel.stderr();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (a, b) = tokio::join!(channel.read_to_end(&mut out), stderr.read_to_end(&mut err));
    a.expect("read stdout");
    b.expect("read stderr");
    (out, err)
}

/// OpenSSH: password login as the test user; exec with stdout, stderr and
/// exit status.
#[test]
#[ignore = "re-records tests/transcripts (tests/transcripts/record.sh)"]
fn record_openssh_exec_password() {
    let user = test_user();
    let sshd = Sshd::start(SshdOptions {
        password_auth: true,
        pubkey_auth: false,
        ..SshdOptions::default()
    });
    let scratch = TestDir::new("record");
    let options = options(
        public_of(sshd.host_key(KeyType::Ed25519)),
        &scratch,
        ClientConfig::default(),
    );
    record_client(
        "openssh-exec-password.bin",
        sshd.port(),
        options,
        |session| async move {
            session
                .authenticate(&user.name, AuthMethods::new().password(&user.password))
                .await
                .expect("password login");
            let mut channel = session.exec(STDIO_COMMAND).await.expect("exec");
            let (out, err) = read_all(&mut channel).await;
            assert_eq!(out, b"to-stdout\n");
            assert_eq!(err, b"to-stderr\n");
            let status = channel.exit_status().await.expect("exit status");
            assert_eq!(status.code(), Some(3));
            drop(channel);
            session
        },
    );
}

/// OpenSSH: public-key login; stdin through `cat` with re-exchanges on the
/// way (the client re-keys every 8 KiB).
#[test]
#[ignore = "re-records tests/transcripts (tests/transcripts/record.sh)"]
fn record_openssh_publickey_stdio_rekey() {
    let sshd = Sshd::start(SshdOptions::default());
    let scratch = TestDir::new("record");
    let mut config = ClientConfig::default();
    config.transport.rekey_bytes = 8 * 1024;
    let options = options(public_of(sshd.host_key(KeyType::Ed25519)), &scratch, config);
    let user = sshd.login_user();
    let key = load_key(sshd.user_key());
    let input: Vec<u8> = (0..12_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    record_client(
        "openssh-publickey-stdio-rekey.bin",
        sshd.port(),
        options,
        |session| async move {
            session
                .authenticate(&user, AuthMethods::new().key(key))
                .await
                .expect("public-key login");
            let mut channel = session
                .exec("cat; echo done >&2; exit 5")
                .await
                .expect("exec");
            channel.write_all(&input).await.expect("write stdin");
            channel.shutdown().await.expect("EOF");
            let (out, err) = read_all(&mut channel).await;
            assert!(out == input, "cat returned {} bytes", out.len());
            assert_eq!(err, b"done\n");
            assert_eq!(channel.exit_status().await.unwrap().code(), Some(5));
            drop(channel);
            assert!(
                session.algorithms().is_some(),
                "key exchanges were recorded"
            );
            session
        },
    );
    assert!(
        sshd.key_exchanges() >= 2,
        "sshd saw {} key exchanges",
        sshd.key_exchanges()
    );
}

/// OpenSSH: 50 channels open at once on one connection, each running
/// `echo N`.
#[test]
#[ignore = "re-records tests/transcripts (tests/transcripts/record.sh)"]
fn record_openssh_50_channels() {
    let sshd = Sshd::start(SshdOptions::default());
    let scratch = TestDir::new("record");
    let options = options(
        public_of(sshd.host_key(KeyType::Ed25519)),
        &scratch,
        ClientConfig::default(),
    );
    let user = sshd.login_user();
    let key = load_key(sshd.user_key());
    record_client(
        "openssh-50-channels.bin",
        sshd.port(),
        options,
        |session| async move {
            session
                .authenticate(&user, AuthMethods::new().key(key))
                .await
                .expect("public-key login");
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..50 {
                let session = session.clone();
                tasks.spawn(async move {
                    let mut channel = session.exec(format!("echo {i}")).await.expect("exec");
                    let mut out = String::new();
                    channel.read_to_string(&mut out).await.expect("read");
                    assert_eq!(out, format!("{i}\n"));
                    assert!(channel.exit_status().await.unwrap().success());
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.expect("channel task");
            }
            session
        },
    );
}

/// Dropbear: password login; exec with stdout, stderr and exit status.
#[test]
#[ignore = "re-records tests/transcripts (tests/transcripts/record.sh)"]
fn record_dropbear_exec() {
    let dropbear = Dropbear::start(DropbearOptions {
        password_auth: true,
        ..DropbearOptions::default()
    });
    let scratch = TestDir::new("record");
    let options = options(
        public_of(&dropbear.host_keys()[0]),
        &scratch,
        ClientConfig::default(),
    );
    let user = dropbear.login_user().to_owned();
    let password = dropbear.password().to_owned();
    record_client(
        "dropbear-exec.bin",
        dropbear.port(),
        options,
        |session| async move {
            session
                .authenticate(&user, AuthMethods::new().password(password))
                .await
                .expect("password login");
            let mut channel = session.exec(STDIO_COMMAND).await.expect("exec");
            let (out, err) = read_all(&mut channel).await;
            assert_eq!(out, b"to-stdout\n");
            assert_eq!(err, b"to-stderr\n");
            assert_eq!(channel.exit_status().await.unwrap().code(), Some(3));
            drop(channel);
            session
        },
    );
}

/// OpenSSH's `ssh` against `conchd`, recording on the server side through
/// `CONCH_RECORD` (conchd writes `PATH.N` for its N-th connection).
#[test]
#[ignore = "re-records tests/transcripts (tests/transcripts/record.sh)"]
fn record_ssh_to_conchd() {
    let dir = TestDir::new("record-conchd");
    let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
    let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
    let authorized = dir.write("authorized_keys", &user_key.public_line);
    let record_to = dir.join("conchd.bin");
    let conchd_bin = workspace_bin("conch-cli", "conchd");
    let conchd = ServerProcess::start("conchd", |port| {
        let mut command = Command::new(&conchd_bin);
        command
            .args(["-p", &port.to_string(), "--host-key"])
            .arg(&host_key.private_path)
            .arg("--authorized-keys")
            .arg(&authorized)
            .env("CONCH_RECORD", &record_to);
        command
    });
    let out = SshClient::new(conchd.port())
        .identity(&user_key)
        .trust_host_key(&host_key)
        .server_log(conchd.log_path())
        .run_with_input("cat; echo to-stderr >&2; exit 4", "bif pow zot\n");
    out.assert_code(4);
    assert_eq!(out.stdout_text(), "bif pow zot\n");
    assert_eq!(out.stderr_text(), "to-stderr\n");
    // conchd numbers its connections; the first was the harness's check
    // that the port accepts, the last is ssh's.
    let file = (1..)
        .map(|n| {
            let mut name = record_to.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        })
        .take_while(|p| p.exists())
        .last()
        .expect("conchd wrote no transcript");
    // conchd ends the connection after ssh has gone; wait until the
    // transcript says so before conchd is killed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ended(&file) {
        assert!(
            Instant::now() < deadline,
            "conchd did not finish the transcript"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(conchd);
    keep("ssh-to-conchd.bin", &file, Side::Server);
}

/// Whether the transcript at `path` replays to a connection that has ended
/// and sent everything.
fn ended(path: &std::path::Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(transcript) = Transcript::decode(&bytes) else {
        return false;
    };
    let mut replayer = record::Replayer::new(transcript, Instant::now());
    while let Some(step) = replayer.step() {
        if step.is_err() {
            return false;
        }
    }
    replayer.connection().is_closed()
}
