//! Agent forwarding against real OpenSSH (OpenSSH PROTOCOL.agent):
//! `conch -A` to sshd and `ssh -A` to conchd let `ssh-add -l` run there
//! list the key held by a real `ssh-agent` on the client's side; without
//! `-A` (or with conchd's `--no-agent-forwarding`) the remote `ssh-add -l`
//! finds no agent; conchd's agent socket is private and goes with the
//! session.
//!
//! Every test bounds its waits and stops what it started (`Sshd` and
//! `SshAgent` stop on drop).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use conch_interop::{
    run_bounded, workspace_bin, Input, KeyPair, KeyType, ServerProcess, SshAgent, SshClient, Sshd,
    TestDir,
};

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

/// A `conchd` on a free port (extra arguments as given) and an `ssh` set up
/// to log in to it with a key file.
struct Conchd {
    process: ServerProcess,
    host_key: KeyPair,
    user_key: KeyPair,
    _dir: TestDir,
}

impl Conchd {
    fn start(extra: &[&str]) -> Self {
        let binary = workspace_bin("conch-cli", "conchd");
        let dir = TestDir::new("conchd-agent");
        let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
        let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
        let authorized = dir.write("authorized_keys", format!("{}\n", user_key.public_line));
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let process = ServerProcess::start("conchd", |port| {
            let mut command = Command::new(&binary);
            command
                .args(["-p", &port.to_string(), "--host-key"])
                .arg(&host_key.private_path)
                .arg("--authorized-keys")
                .arg(&authorized)
                .args(&extra);
            command
        });
        Conchd {
            process,
            host_key,
            user_key,
            _dir: dir,
        }
    }

    /// `ssh` logging in with its key file; with `agent`, `-A` forwarding
    /// that agent (ForwardAgent takes the socket path, so the harness's
    /// cleared SSH_AUTH_SOCK does not matter; ssh forwards nothing with
    /// `IdentityAgent none`, so the agent is named there too).
    fn ssh(&self, agent: Option<&SshAgent>) -> SshClient {
        let ssh = SshClient::new(self.process.port())
            .identity(&self.user_key)
            .trust_host_key(&self.host_key)
            .server_log(self.process.log_path())
            .timeout(RUN_TIMEOUT);
        match agent {
            Some(agent) => ssh
                .agent(agent)
                .arg("-A")
                .option(&format!("ForwardAgent={}", agent.socket().display())),
            None => ssh,
        }
    }
}

#[test]
fn ssh_capital_a_to_conchd_lets_ssh_add_there_list_the_clients_key() {
    let conchd = Conchd::start(&[]);
    let dir = TestDir::new("agent-fwd-conchd");
    let (agent, key) = agent_with_key(&dir);
    let out = conchd.ssh(Some(&agent)).run("ssh-add -l");
    out.assert_success();
    assert!(
        out.stdout_text().contains(&key.fingerprint()),
        "{}",
        out.stdout_text()
    );
}

#[test]
fn conchds_agent_socket_is_private_and_removed_with_the_session() {
    let conchd = Conchd::start(&[]);
    let dir = TestDir::new("agent-fwd-socket");
    let (agent, _key) = agent_with_key(&dir);
    let out = conchd
        .ssh(Some(&agent))
        .run(r#"echo "$SSH_AUTH_SOCK"; stat -c %a "$(dirname "$SSH_AUTH_SOCK")" "$SSH_AUTH_SOCK""#);
    out.assert_success();
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let socket = Path::new(lines[0]);
    let parent = socket
        .parent()
        .and_then(Path::file_name)
        .unwrap_or_default();
    assert!(
        parent.to_string_lossy().starts_with("ssh-")
            && socket
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("agent.")),
        "{text}"
    );
    assert_eq!(&lines[1..], ["700", "600"], "{text}");
    // Gone once the session has ended (bounded wait: the server notices
    // the command's end as ssh does, but its clean-up may trail ssh's exit).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while socket.parent().is_some_and(Path::exists) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !socket.parent().is_some_and(Path::exists),
        "{} left behind",
        socket.display()
    );
}

#[test]
fn conchd_without_a_request_or_with_forwarding_forbidden_offers_no_agent() {
    let dir = TestDir::new("agent-fwd-forbidden");
    let (agent, _key) = agent_with_key(&dir);
    let conchd = Conchd::start(&[]);
    // No -A: no SSH_AUTH_SOCK, and ssh-add says so with status 2.
    conchd.ssh(None).run("ssh-add -l").assert_code(2);
    let forbidding = Conchd::start(&["--no-agent-forwarding"]);
    forbidding
        .ssh(Some(&agent))
        .run("ssh-add -l")
        .assert_code(2);
}
