//! The OpenSSH `ssh` client, pinned down for tests: no config files, no
//! default keys or agent, a known_hosts file of the test's own, batch mode,
//! and a time bound. Used to prove the harness against real servers and to
//! test Conch's server (`conchd`) with the client users actually run.
//!
//! ```no_run
//! use conch_interop::{KeyPair, KeyType, SshClient, TestDir};
//!
//! // `ssh` against a server on `port` whose host key is `host_key`:
//! # let (port, dir) = (2222, TestDir::new("doc"));
//! # let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
//! # let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
//! let out = SshClient::new(port)
//!     .identity(&user_key)
//!     .trust_host_key(&host_key)
//!     .run_with_input("cat", "hello")
//!     .assert_success()
//!     .stdout_text();
//! ```

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::agent::SshAgent;
use crate::dir::{tail, TestDir};
use crate::keys::KeyPair;
use crate::known_hosts::host_pattern_for;
use crate::net::LOOPBACK;
use crate::openssh::OpenSsh;
use crate::process::{require_program, run_bounded, Finished, Input, SSH_TIMEOUT};
use crate::user::current_user;

/// Lines of the server log attached to a failed run.
const SERVER_LOG_LINES: usize = 60;

/// A configured `ssh` invocation (a builder: each method returns the
/// changed client). Run it with [`SshClient::run`] and friends, or take the
/// [`SshClient::command`] to drive the process yourself.
#[derive(Debug)]
pub struct SshClient {
    program: PathBuf,
    dir: TestDir,
    host: String,
    port: u16,
    user: String,
    identities: Vec<PathBuf>,
    known_hosts: PathBuf,
    strict_host_key_checking: String,
    askpass: Option<PathBuf>,
    agent_socket: Option<PathBuf>,
    options: Vec<String>,
    args: Vec<String>,
    timeout: Duration,
    server_log: Option<PathBuf>,
}

impl SshClient {
    /// `ssh` to `127.0.0.1:port` (see [`SshClient::host`]) as the current user, with an empty
    /// known_hosts file of its own, `StrictHostKeyChecking=yes`,
    /// `BatchMode=yes`, no identity and no agent.
    #[track_caller]
    pub fn new(port: u16) -> Self {
        require_program("ssh", "openssh-client");
        let dir = TestDir::new("ssh");
        let known_hosts = dir.write("known_hosts", "");
        SshClient {
            program: OpenSsh::System.ssh(),
            dir,
            host: LOOPBACK.to_string(),
            port,
            user: current_user(),
            identities: Vec::new(),
            known_hosts,
            strict_host_key_checking: "yes".to_owned(),
            askpass: None,
            agent_socket: None,
            options: Vec::new(),
            args: Vec::new(),
            timeout: SSH_TIMEOUT,
            server_log: None,
        }
    }

    /// Run this OpenSSH's `ssh` (the system's by default); panics with how
    /// to install it if it is missing.
    #[track_caller]
    pub fn openssh(mut self, openssh: OpenSsh) -> Self {
        openssh.require();
        self.program = openssh.ssh();
        self
    }

    /// Connect to this address instead of `127.0.0.1`, e.g. `"::1"` (call
    /// before [`SshClient::trust_host_key`], whose known_hosts line names
    /// the host).
    pub fn host(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    /// Log in as `user`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_owned();
        self
    }

    /// Offer this key (`-i`; only the keys given are used). For an encrypted
    /// key the passphrase is answered through `SSH_ASKPASS`.
    pub fn identity(mut self, key: &KeyPair) -> Self {
        self.identities.push(key.private_path.clone());
        if let Some(passphrase) = &key.passphrase {
            self = self.askpass_answer(passphrase);
        }
        self
    }

    /// Adds `[host]:port <key>` to this client's known_hosts file.
    #[track_caller]
    pub fn trust_host_key(self, key: &KeyPair) -> Self {
        let line = key.known_hosts_line(&host_pattern_for(&self.host, self.port));
        append_line(&self.known_hosts, &line);
        self
    }

    /// Use this known_hosts file instead of the client's own.
    pub fn known_hosts_file(mut self, path: &Path) -> Self {
        self.known_hosts = path.to_path_buf();
        self
    }

    /// The known_hosts file in use.
    pub fn known_hosts_path(&self) -> &Path {
        &self.known_hosts
    }

    /// `StrictHostKeyChecking`: `yes`, `accept-new` or `no`.
    pub fn strict_host_key_checking(mut self, value: &str) -> Self {
        self.strict_host_key_checking = value.to_owned();
        self
    }

    /// Answer every prompt (password, keyboard-interactive, key passphrase)
    /// with `password`, through `SSH_ASKPASS` with
    /// `SSH_ASKPASS_REQUIRE=force`; turns `BatchMode` off, since batch mode
    /// forbids prompting. Add `.option("PreferredAuthentications=password")`
    /// (or `keyboard-interactive`) to pick the method.
    #[track_caller]
    pub fn password(self, password: &str) -> Self {
        self.askpass_answer(password)
    }

    #[track_caller]
    fn askpass_answer(mut self, answer: &str) -> Self {
        self.askpass = Some(write_askpass(&self.dir, answer));
        self
    }

    /// Authenticate with the keys in this agent (`IdentityAgent`).
    pub fn agent(mut self, agent: &SshAgent) -> Self {
        self.agent_socket = Some(agent.socket().to_path_buf());
        self
    }

    /// An `-o` option, e.g. `"Ciphers=aes128-ctr"`. ssh keeps the first
    /// value it sees, and these come before the harness defaults, so they
    /// win.
    pub fn option(mut self, option: &str) -> Self {
        self.options.push(option.to_owned());
        self
    }

    /// Any other argument placed before the destination, e.g. `"-T"`, `"-v"`.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Kill `ssh` and fail the test after this long (default
    /// [`SSH_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Attach the tail of this server log to failure messages.
    pub fn server_log(mut self, path: &Path) -> Self {
        self.server_log = Some(path.to_path_buf());
        self
    }

    /// The `ssh` command line for running `remote_command` (empty: no command,
    /// i.e. a shell). Standard streams are left for the caller to set.
    pub fn command(&self, remote_command: &str) -> Command {
        let mut command = Command::new(&self.program);
        command.arg("-F").arg("none");
        for option in &self.options {
            command.arg("-o").arg(option);
        }
        command.args(&self.args);
        let batch = self.askpass.is_none();
        let defaults = [
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "GlobalKnownHostsFile=/dev/null".to_owned(),
            format!("StrictHostKeyChecking={}", self.strict_host_key_checking),
            format!("BatchMode={}", if batch { "yes" } else { "no" }),
            // Without an agent, only the -i keys; with one, its keys too.
            format!(
                "IdentitiesOnly={}",
                if self.agent_socket.is_some() {
                    "no"
                } else {
                    "yes"
                }
            ),
            format!(
                "IdentityAgent={}",
                self.agent_socket
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
            ),
            // Keep known_hosts exactly as the test wrote it.
            "UpdateHostKeys=no".to_owned(),
            "CheckHostIP=no".to_owned(),
            "NumberOfPasswordPrompts=1".to_owned(),
            "ConnectTimeout=10".to_owned(),
            // Quiet stderr ("Warning: Permanently added ..."): tests compare
            // the remote command's stderr. Pass .arg("-v") to see more.
            "LogLevel=ERROR".to_owned(),
        ];
        for option in defaults {
            command.arg("-o").arg(option);
        }
        for identity in &self.identities {
            command.arg("-i").arg(identity);
        }
        command
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-l")
            .arg(&self.user)
            .arg(&self.host);
        if !remote_command.is_empty() {
            command.arg(remote_command);
        }
        command.env_remove("SSH_AUTH_SOCK");
        match &self.askpass {
            Some(askpass) => {
                command
                    .env("SSH_ASKPASS", askpass)
                    .env("SSH_ASKPASS_REQUIRE", "force");
            }
            None => {
                command.env_remove("SSH_ASKPASS");
            }
        }
        command
    }

    /// Runs `remote_command` with no input; see [`SshClient::run_with_input`].
    #[track_caller]
    pub fn run(&self, remote_command: &str) -> Finished {
        self.run_with_input(remote_command, Input::Null)
    }

    /// Runs `remote_command` feeding it `input`, within the timeout, and
    /// returns what happened; failure messages include the server log tail.
    /// `ssh` exits with the remote status, or 255 for its own errors.
    #[track_caller]
    pub fn run_with_input(&self, remote_command: &str, input: impl Into<Input>) -> Finished {
        let mut finished = run_bounded(
            &mut self.command(remote_command),
            input.into(),
            self.timeout,
        );
        if let Some(log) = &self.server_log {
            finished.diagnostics = format!(
                "--- server log ({}) ---\n{}",
                log.display(),
                tail(log, SERVER_LOG_LINES)
            );
        }
        finished
    }
}

/// Writes an askpass program into `dir` that prints `answer`, and returns
/// its path (for `SSH_ASKPASS`).
#[track_caller]
pub fn write_askpass(dir: &TestDir, answer: &str) -> PathBuf {
    let secret = dir.write("askpass.secret", format!("{answer}\n"));
    let script = dir.write(
        "askpass",
        format!("#!/bin/sh\nexec cat '{}'\n", secret.display()),
    );
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|err| panic!("chmod {}: {err}", script.display()));
    script
}

#[track_caller]
fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
    writeln!(file, "{line}").unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
}
