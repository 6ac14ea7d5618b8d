//! OpenSSH's `ssh` against `conchd` on loopback: 100 MiB transfers, the one
//! part of the "`ssh` against `conchd`" list that
//! `cli/tests/openssh_client.rs` does not already cover (exec, stdin, stderr
//! and exit status are tested there), and OpenSSH 10's `ssh` against
//! `conchd`. Every run is bounded by the harness.

use std::process::Command;
use std::time::Duration;

use conch_interop::{
    pattern_sha256, workspace_bin, Input, KeyPair, KeyType, OpenSsh, PatternReader, ServerProcess,
    SshClient, TestDir,
};

/// Longest one 100 MiB run may take on a shared 2-core machine.
const BULK_TIMEOUT: Duration = Duration::from_secs(300);
/// 100 MiB.
const HUNDRED_MIB: u64 = 100 * 1024 * 1024;

/// A `conchd` on a free port with keys made by `ssh-keygen`, and an `ssh`
/// client set up to log in to it.
struct Conchd {
    process: ServerProcess,
    host_key: KeyPair,
    user_key: KeyPair,
    _dir: TestDir,
}

impl Conchd {
    fn start() -> Self {
        let binary = workspace_bin("conch-cli", "conchd");
        let dir = TestDir::new("conchd");
        let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
        let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
        let authorized = dir.write("authorized_keys", format!("{}\n", user_key.public_line));
        let process = ServerProcess::start("conchd", |port| {
            let mut command = Command::new(&binary);
            command
                .args(["-p", &port.to_string(), "--host-key"])
                .arg(&host_key.private_path)
                .arg("--authorized-keys")
                .arg(&authorized);
            command
        });
        Conchd {
            process,
            host_key,
            user_key,
            _dir: dir,
        }
    }

    fn ssh(&self) -> SshClient {
        SshClient::new(self.process.port())
            .identity(&self.user_key)
            .trust_host_key(&self.host_key)
            .server_log(self.process.log_path())
            .timeout(BULK_TIMEOUT)
    }
}

/// 100 MiB up: `ssh`'s stdin reaches the remote `sha256sum` intact.
#[test]
fn hundred_mib_upload_hashed_by_the_remote_side() {
    let conchd = Conchd::start();
    let out = conchd.ssh().run_with_input(
        "sha256sum",
        Input::Reader(Box::new(PatternReader::new(HUNDRED_MIB, 11))),
    );
    out.assert_success();
    let remote_hash = out.stdout_text();
    assert_eq!(
        remote_hash.split_whitespace().next(),
        Some(pattern_sha256(HUNDRED_MIB, 11).as_str()),
        "remote sha256sum printed {remote_hash:?}"
    );
}

/// 100 MiB up and back through the remote `cat`, written and read at the
/// same time by `ssh`.
#[test]
fn hundred_mib_round_trip_through_cat() {
    let conchd = Conchd::start();
    let out = conchd.ssh().run_with_input(
        "cat",
        Input::Reader(Box::new(PatternReader::new(HUNDRED_MIB, 12))),
    );
    out.assert_success();
    assert_eq!(out.stdout.len() as u64, HUNDRED_MIB, "bytes back from cat");
    assert_eq!(
        conch_interop::sha256_hex(&out.stdout),
        pattern_sha256(HUNDRED_MIB, 12),
        "cat's output differs"
    );
}

/// 100 MiB down: what the remote command writes reaches `ssh`'s stdout.
#[test]
fn hundred_mib_download() {
    let conchd = Conchd::start();
    let out = conchd.ssh().run("head -c 104857600 /dev/zero");
    out.assert_success();
    assert_eq!(out.stdout.len() as u64, HUNDRED_MIB, "bytes received");
    assert!(
        out.stdout.iter().all(|&b| b == 0),
        "the zeros came back changed"
    );
}

/// OpenSSH 10's `ssh` against `conchd` with both ends' defaults: they agree
/// on ML-KEM (`mlkem768x25519-sha256`, the first choice of both), and
/// stdin, stdout, stderr and the exit status come through.
#[test]
fn openssh_10_exec_against_conchd_with_mlkem() {
    let conchd = Conchd::start();
    let out = conchd
        .ssh()
        .openssh(OpenSsh::V10)
        // Debug output names the key exchange; the remote stderr is
        // among its lines.
        .arg("-v")
        .run_with_input("cat; echo to-stderr >&2; exit 3", "from stdin");
    assert_eq!(out.code(), Some(3), "{}", out.stderr_text());
    assert_eq!(out.stdout_text(), "from stdin");
    let stderr = out.stderr_text();
    assert!(
        stderr.lines().any(|line| line.trim_end() == "to-stderr"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kex: algorithm: mlkem768x25519-sha256"),
        "{stderr}"
    );
}
