//! OpenSSH's `ssh` against `conchd` with certificates made by
//! `ssh-keygen -s`: `ssh` logs in with a user certificate
//! (`--trusted-user-ca-keys`) and trusts conchd's `--host-certificate`
//! through an `@cert-authority` line alone; a certificate's
//! `force-command` runs instead of the command asked for; a
//! `source-address` that does not match is refused. Every run is bounded
//! by the harness.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use conch_interop::process::TOOL_TIMEOUT;
use conch_interop::{
    current_user, run_bounded, workspace_bin, Input, KeyPair, KeyType, ServerProcess, SshClient,
    TestDir,
};

const TIMEOUT: Duration = Duration::from_secs(30);

/// `ssh-keygen -s CA -I id [args] KEY.pub`: writes and returns `KEY-cert.pub`.
#[track_caller]
fn sign(ca: &KeyPair, key: &KeyPair, args: &[&str]) -> PathBuf {
    let mut command = Command::new("ssh-keygen");
    command
        .args(["-q", "-s"])
        .arg(&ca.private_path)
        .args(["-I", "conch-interop", "-z", "17"])
        .args(args)
        .arg(&key.public_path);
    run_bounded(&mut command, Input::Null, TOOL_TIMEOUT).assert_success();
    let mut cert = key.private_path.clone().into_os_string();
    cert.push("-cert.pub");
    PathBuf::from(cert)
}

/// conchd with a host certificate, trusting one user CA, and an `ssh`
/// whose user key carries a certificate made with `user_cert_args`.
struct Setup {
    conchd: ServerProcess,
    ca: KeyPair,
    user: KeyPair,
    _dir: TestDir,
}

impl Setup {
    fn start(user_cert_args: &[&str]) -> Self {
        let dir = TestDir::new("conchd-certs");
        let ca = KeyPair::generate(&dir, "ca", KeyType::Ed25519, None);
        let host = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
        let host_cert = sign(&ca, &host, &["-h", "-n", "127.0.0.1"]);
        let user = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
        let me = current_user();
        sign(&ca, &user, &[&["-n", me.as_str()], user_cert_args].concat());
        let binary = workspace_bin("conch-cli", "conchd");
        let conchd = ServerProcess::start("conchd", |port| {
            let mut command = Command::new(&binary);
            command
                .args(["-p", &port.to_string(), "--host-key"])
                .arg(&host.private_path)
                .arg("--host-certificate")
                .arg(&host_cert)
                .arg("--trusted-user-ca-keys")
                .arg(&ca.public_path);
            command
        });
        Setup {
            conchd,
            ca,
            user,
            _dir: dir,
        }
    }

    /// `ssh` knowing only the CA, as `@cert-authority` for the port.
    fn ssh(&self) -> SshClient {
        let client = SshClient::new(self.conchd.port())
            .identity(&self.user)
            .server_log(self.conchd.log_path())
            .timeout(TIMEOUT);
        let line = format!(
            "@cert-authority [127.0.0.1]:{} {}\n",
            self.conchd.port(),
            self.ca.public_line
        );
        std::fs::write(client.known_hosts_path(), line).expect("known_hosts");
        client
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.conchd.log_path()).unwrap_or_default()
    }
}

#[test]
fn ssh_logs_in_with_a_user_certificate_and_trusts_the_host_certificate() {
    let setup = Setup::start(&[]);
    let out = setup.ssh().arg("-v").run("echo certified");
    out.assert_success();
    assert_eq!(out.stdout_text(), "certified\n");
    // ssh saw a host certificate (not a plain key it was never told of).
    assert!(
        out.stderr_text().contains("ED25519-CERT"),
        "ssh did not get the host certificate:\n{}",
        out.stderr_text()
    );
    let log = setup.log();
    assert!(
        log.contains("Accepted publickey for") && log.contains("ID conch-interop (serial 17)"),
        "conchd log:\n{log}"
    );
}

#[test]
fn a_force_command_runs_instead_of_the_command_asked() {
    let setup = Setup::start(&["-O", "force-command=echo forced $SSH_ORIGINAL_COMMAND"]);
    let out = setup.ssh().run("echo asked");
    out.assert_success();
    assert_eq!(out.stdout_text(), "forced echo asked\n");
}

#[test]
fn a_source_address_that_does_not_match_is_refused() {
    let setup = Setup::start(&["-O", "source-address=10.0.0.0/8"]);
    let out = setup.ssh().run("echo must-not-run");
    assert_ne!(out.code(), Some(0), "logged in from outside source-address");
    assert!(!out.stdout_text().contains("must-not-run"));
    let log = setup.log();
    assert!(
        log.contains("source address 127.0.0.1 is not allowed"),
        "conchd log:\n{log}"
    );
    // The same certificate from an allowed address logs in.
    let allowed = Setup::start(&["-O", "source-address=127.0.0.0/8,::1"]);
    allowed.ssh().run("true").assert_success();
}
