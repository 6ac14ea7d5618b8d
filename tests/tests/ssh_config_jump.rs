//! ProxyJump from ssh_config, against two OpenSSH sshd: an alias that sets
//! HostName, Port, User, IdentityFile and ProxyJump, whose jump host is an
//! alias with its own HostName, Port and IdentityFile, logs in through
//! `conch_openssh::HostConfig` (a command endpoint and a session) and
//! through `conch ALIAS`. Each sshd only accepts its own user key, so each
//! hop used its own credentials; the jump host's log shows the
//! `direct-tcpip` channel to the target. Every run is bounded; HOME is a
//! scratch directory and the file is given with `-F`.

use std::sync::Arc;
use std::time::Duration;

use conch_interop::{run_bounded, workspace_bin, Input, Sshd, TestDir};
use conch_openssh::ssh_config::{LoadOptions, SshConfig};
use conch_openssh::{EndpointError, HostConfig, NoUi};
use tokio::io::AsyncReadExt;

const STEP: Duration = Duration::from_secs(15);

/// `target` through `bastion`, both aliases; `bastion_key` is the jump
/// host's IdentityFile.
fn write_config(
    dir: &TestDir,
    bastion: &Sshd,
    target: &Sshd,
    bastion_key: &str,
) -> std::path::PathBuf {
    let mut known = bastion.known_hosts_lines();
    known.extend(target.known_hosts_lines());
    let known = dir.write("known_hosts", known.join("\n") + "\n");
    dir.write(
        "config",
        format!(
            "Host target\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  ProxyJump bastion\n\
             Host bastion\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {bastion_key}\n\
             Host *\n  IdentityAgent none\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n",
            target.port(),
            target.login_user(),
            target.user_key().private_path.display(),
            bastion.port(),
            bastion.login_user(),
            known.display(),
        ),
    )
}

fn host(dir: &TestDir, config: &std::path::Path) -> HostConfig {
    let load = LoadOptions::isolated(dir.path()).with_file(config);
    HostConfig::from_resolved(SshConfig::load("target", &load).unwrap(), Arc::new(NoUi)).unwrap()
}

#[test]
fn an_alias_with_proxy_jump_logs_in_through_its_jump_host() {
    let conch = workspace_bin("conch-cli", "conch");
    let (bastion, target) = (Sshd::start_default(), Sshd::start_default());
    let dir = TestDir::new("cfg-proxyjump");
    let key = bastion.user_key().private_path.display().to_string();
    let config = write_config(&dir, &bastion, &target, &key);
    let h = host(&dir, &config);
    assert_eq!(h.jumps().len(), 1);
    assert_eq!(h.jumps()[0].port(), bastion.port());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // A command, then a session for a library user.
        let endpoint = h.endpoint::<conch_tokio::Tokio>("echo via-bastion");
        let mut channel = tokio::time::timeout(STEP, endpoint.connect())
            .await
            .unwrap()
            .unwrap();
        let mut out = String::new();
        channel.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "via-bastion\n");
        let session =
            tokio::time::timeout(STEP, h.endpoint::<conch_tokio::Tokio>("").connect_session())
                .await
                .unwrap()
                .unwrap();
        let mut channel = session.exec("echo session").await.unwrap();
        let mut out = String::new();
        channel.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "session\n");
    });
    bastion.assert_log_contains(
        &format!("target 127.0.0.1 port {}", target.port()),
        Duration::from_secs(5),
    );

    // The `conch` binary, the alias alone.
    let mut c = std::process::Command::new(&conch);
    c.arg("-F")
        .arg(&config)
        .args(["target", "echo from-conch"])
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", dir.path());
    let out = run_bounded(&mut c, Input::Null, STEP);
    out.assert_success();
    assert_eq!(out.stdout_text(), "from-conch\n");

    // The jump host with the target's key: refused there, and the error
    // names the jump host, not the target.
    let wrong = target.user_key().private_path.display().to_string();
    let config = write_config(&dir, &bastion, &target, &wrong);
    let h = host(&dir, &config);
    let e = runtime.block_on(async {
        tokio::time::timeout(STEP, h.endpoint::<conch_tokio::Tokio>("true").connect())
            .await
            .unwrap()
            .unwrap_err()
    });
    match e {
        EndpointError::JumpHost { port, error, .. } => {
            assert_eq!(port, bastion.port());
            assert!(
                matches!(*error, EndpointError::AuthenticationFailed { .. }),
                "{error:?}"
            );
        }
        other => panic!("expected the jump host's failure, got {other:?}"),
    }
    let mut c = std::process::Command::new(&conch);
    c.arg("-F")
        .arg(&config)
        .args(["target", "true"])
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", dir.path());
    let out = run_bounded(&mut c, Input::Null, STEP);
    out.assert_code(255);
    assert!(
        out.stderr_text().contains("Permission denied"),
        "{}",
        out.stderr_text()
    );
}
