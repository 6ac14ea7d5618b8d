//! Agent forwarding against real OpenSSH (OpenSSH PROTOCOL.agent):
//! `conch -A` to sshd lets `ssh-add -l` run there list the key held by a
//! real `ssh-agent` on the client's side; without `-A` the remote
//! `ssh-add -l` finds no agent.
//!
//! Every test bounds its waits and stops what it started (`Sshd` and
//! `SshAgent` stop on drop).

use std::process::Command;
use std::time::Duration;

use conch_interop::{run_bounded, workspace_bin, Input, KeyPair, KeyType, SshAgent, Sshd, TestDir};

/// How long one `conch` run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// `conch` logging in to `sshd` with its key file (not the agent), host
/// keys trusted, no config file, batch mode, `SSH_AUTH_SOCK` as given.
fn conch(sshd: &Sshd, agent: &SshAgent, args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("conch-cli", "conch"));
    c.args(["-F", "none", "--no-agent", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            sshd.known_hosts_file().display()
        ))
        .arg("-i")
        .arg(&sshd.user_key().private_path)
        .args(["-p", &sshd.port().to_string(), "-l", &sshd.login_user()])
        .args(args)
        .env("SSH_AUTH_SOCK", agent.socket());
    c
}

/// A real agent holding a freshly generated key (not the login key, so
/// that a listing of it can only have come through the forwarded agent).
fn agent_with_key(dir: &TestDir) -> (SshAgent, KeyPair) {
    let agent = SshAgent::start();
    let key = KeyPair::generate(dir, "forwarded", KeyType::Ed25519, None);
    agent.add(&key);
    (agent, key)
}

#[test]
fn conch_capital_a_lets_ssh_add_on_sshd_list_the_clients_key() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("agent-fwd");
    let (agent, key) = agent_with_key(&dir);
    let out = run_bounded(
        &mut conch(&sshd, &agent, &["-A", "127.0.0.1", "ssh-add", "-l"]),
        Input::Null,
        RUN_TIMEOUT,
    );
    out.assert_success();
    let listed = out.stdout_text();
    assert!(
        listed.contains(&key.fingerprint()) && listed.contains("conch-interop-forwarded"),
        "{listed}"
    );
}

#[test]
fn forward_agent_yes_in_the_config_file_forwards_and_small_a_overrides_it() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("agent-fwd-config");
    let (agent, key) = agent_with_key(&dir);
    let config = dir.write("config", "Host *\n    ForwardAgent yes\n");
    let config = config.to_string_lossy().into_owned();
    let with_config = |extra: &[&str]| {
        let mut args = vec!["-F", config.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["127.0.0.1", "ssh-add", "-l"]);
        let mut c = conch(&sshd, &agent, &[]);
        // The later -F wins over the helper's "-F none".
        c.args(&args);
        run_bounded(&mut c, Input::Null, RUN_TIMEOUT)
    };
    let out = with_config(&[]);
    out.assert_success();
    assert!(out.stdout_text().contains(&key.fingerprint()));
    // ssh-add: exit status 2 when it cannot reach an agent.
    with_config(&["-a"]).assert_code(2);
}

#[test]
fn without_capital_a_the_remote_ssh_add_finds_no_agent() {
    let sshd = Sshd::start_default();
    let dir = TestDir::new("agent-fwd-none");
    let (agent, _key) = agent_with_key(&dir);
    let out = run_bounded(
        &mut conch(&sshd, &agent, &["127.0.0.1", "ssh-add", "-l"]),
        Input::Null,
        RUN_TIMEOUT,
    );
    out.assert_code(2);
    assert!(
        out.stderr_text()
            .contains("Could not open a connection to your authentication agent"),
        "{}",
        out.stderr_text()
    );
}
