//! A real OpenSSH `ssh-agent` on a socket in a temp dir, killed on drop.
//!
//! ```no_run
//! use conch_interop::{SshAgent, Sshd};
//!
//! let sshd = Sshd::start_default();
//! let agent = SshAgent::start();
//! agent.add(sshd.user_key());
//! // Point Conch's agent client at agent.socket() (what SSH_AUTH_SOCK holds).
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::write_askpass;
use crate::dir::{tail, TestDir};
use crate::keys::KeyPair;
use crate::process::{require_program, run_bounded, ChildGuard, Finished, Input, TOOL_TIMEOUT};

/// How long the agent may take to create its socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `ssh-agent -D`.
#[derive(Debug)]
pub struct SshAgent {
    child: ChildGuard,
    socket: PathBuf,
    log_path: PathBuf,
    dir: TestDir,
}

impl SshAgent {
    /// Starts `ssh-agent -D -a <temp>/agent.sock` and waits (bounded) until
    /// it answers `ssh-add -l`.
    #[track_caller]
    pub fn start() -> Self {
        require_program("ssh-agent", "openssh-client");
        require_program("ssh-add", "openssh-client");
        let dir = TestDir::new("agent");
        let socket = dir.join("agent.sock");
        let log_path = dir.join("ssh-agent.log");
        let mut command = Command::new("ssh-agent");
        command.arg("-D").arg("-a").arg(&socket);
        let mut child = ChildGuard::spawn("ssh-agent", &mut command, &log_path);
        let started = Instant::now();
        while !socket.exists() {
            if let Some(status) = child.exited() {
                panic!("ssh-agent exited with {status}:\n{}", tail(&log_path, 40));
            }
            if started.elapsed() >= START_TIMEOUT {
                panic!("ssh-agent made no socket within {START_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
        let agent = SshAgent {
            child,
            socket,
            log_path,
            dir,
        };
        // 0: identities listed, 1: "The agent has no identities." Both mean it
        // answers; anything else is a broken agent.
        let listed = agent.ssh_add(&["-l"], None);
        if !matches!(listed.code(), Some(0 | 1)) {
            listed.fail("ssh-agent does not answer");
        }
        agent
    }

    /// The socket path: the value of `SSH_AUTH_SOCK`.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `("SSH_AUTH_SOCK", socket)`, for `Command::env`.
    pub fn env(&self) -> (&'static str, &Path) {
        ("SSH_AUTH_SOCK", &self.socket)
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// `ssh-add`s the private key (answering its passphrase, if any), and
    /// panics unless that succeeds.
    #[track_caller]
    pub fn add(&self, key: &KeyPair) {
        let path = key.private_path.to_string_lossy().into_owned();
        self.ssh_add(&[&path], key.passphrase.as_deref())
            .assert_success();
    }

    /// The public key lines the agent holds (`ssh-add -L`).
    #[track_caller]
    pub fn identities(&self) -> Vec<String> {
        let listed = self.ssh_add(&["-L"], None);
        match listed.code() {
            Some(0) => listed.stdout_text().lines().map(str::to_owned).collect(),
            Some(1) => Vec::new(),
            _ => listed.fail("ssh-add -L failed"),
        }
    }

    /// Removes every key (`ssh-add -D`).
    #[track_caller]
    pub fn remove_all(&self) {
        self.ssh_add(&["-D"], None).assert_success();
    }

    /// Runs `ssh-add ARGS` against this agent, answering a passphrase prompt
    /// with `passphrase` through `SSH_ASKPASS`.
    #[track_caller]
    pub fn ssh_add(&self, args: &[&str], passphrase: Option<&str>) -> Finished {
        let mut command = Command::new("ssh-add");
        command.args(args).env("SSH_AUTH_SOCK", &self.socket);
        match passphrase {
            Some(passphrase) => {
                let askpass = write_askpass(&self.dir, passphrase);
                command
                    .env("SSH_ASKPASS", askpass)
                    .env("SSH_ASKPASS_REQUIRE", "force");
            }
            None => {
                command.env_remove("SSH_ASKPASS");
            }
        }
        let mut finished = run_bounded(&mut command, Input::Null, TOOL_TIMEOUT);
        finished.diagnostics = format!("--- ssh-agent log ---\n{}", tail(&self.log_path, 40));
        finished
    }
}
