//! What the CLI tests share: a `conchd` started on a free loopback port
//! with keys made by `ssh-keygen`, and `conch` command lines that never
//! touch the machine's own SSH setup (no config, no agent, a known_hosts
//! file of the test's own, batch mode).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use conch_interop::{run_bounded, Finished, Input, KeyPair, KeyType, ServerProcess, TestDir};

/// Longest a `conch` run may take in a test.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The password `conchd` accepts when started with one.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running conchd and the keys it was started with.
pub struct Conchd {
    pub process: ServerProcess,
    pub host_key: KeyPair,
    pub user_key: KeyPair,
    pub dir: TestDir,
}

impl Conchd {
    /// Starts conchd with a new host key and an authorized user key; with
    /// `password`, also a password file holding [`PASSWORD`] for any user.
    pub fn start(password: bool) -> Self {
        Self::start_with(password, &[])
    }

    /// [`Conchd::start`], also authorizing `extra_keys` (public key lines).
    pub fn start_with(password: bool, extra_keys: &[&str]) -> Self {
        Self::start_full(password, extra_keys, &[])
    }

    /// [`Conchd::start`] with more conchd arguments (e.g. forwarding flags).
    pub fn start_args(args: &[&str]) -> Self {
        Self::start_full(false, &[], args)
    }

    fn start_full(password: bool, extra_keys: &[&str], args: &[&str]) -> Self {
        let dir = TestDir::new("conchd-keys");
        let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
        let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
        let mut lines = vec![user_key.public_line.as_str()];
        lines.extend_from_slice(extra_keys);
        let authorized = dir.write("authorized_keys", lines.join("\n") + "\n");
        let password_file = password.then(|| dir.write("passwords", PASSWORD));
        let process = ServerProcess::start("conchd", |port| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_conchd"));
            command
                .args(["-p", &port.to_string(), "--host-key"])
                .arg(&host_key.private_path)
                .arg("--authorized-keys")
                .arg(&authorized);
            if let Some(file) = &password_file {
                command.arg("--password-file").arg(file);
            }
            command.args(args);
            command
        });
        Conchd {
            process,
            host_key,
            user_key,
            dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// A known_hosts file (in the server's dir) listing its host key.
    pub fn known_hosts(&self) -> PathBuf {
        let line = self
            .host_key
            .known_hosts_line(&conch_interop::known_hosts::host_pattern(self.port()));
        self.dir.write("known_hosts", format!("{line}\n"))
    }

    /// `conch` set up to log in with the user key and trust the host key.
    pub fn conch(&self) -> Conch {
        Conch::new(self.port())
            .known_hosts(&self.known_hosts())
            .arg("-i")
            .arg(self.user_key.private_path.to_str().unwrap())
    }
}

/// A `conch` command line under construction.
pub struct Conch {
    command: Command,
    port: u16,
}

impl Conch {
    /// `conch -F none -o BatchMode=yes --no-agent -p PORT`, with an empty
    /// HOME (no default identities, no ~/.ssh/known_hosts) unless a
    /// known_hosts file is given.
    pub fn new(port: u16) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_conch"));
        command
            .args(["-F", "none", "-o", "BatchMode=yes", "--no-agent"])
            .args(["-p", &port.to_string()])
            .env_remove("SSH_AUTH_SOCK")
            .env("HOME", "/nonexistent/conch-test-home");
        Conch { command, port }
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn option(self, option: &str) -> Self {
        self.arg("-o").arg(option)
    }

    pub fn known_hosts(self, path: &Path) -> Self {
        let option = format!("UserKnownHostsFile={}", path.display());
        self.option(&option)
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Runs `remote_command` on 127.0.0.1 with `input` on stdin.
    pub fn run(mut self, remote_command: &str, input: impl Into<Input>) -> Finished {
        self.command.arg("127.0.0.1");
        if !remote_command.is_empty() {
            self.command.arg(remote_command);
        }
        run_bounded(&mut self.command, input.into(), RUN_TIMEOUT)
    }

    /// Starts with these words after the host, in the background, its
    /// stderr appended to `log`; stopped when the guard drops.
    pub fn spawn(mut self, words: &[&str], log: &Path) -> conch_interop::ChildGuard {
        self.command.arg("127.0.0.1").args(words);
        conch_interop::ChildGuard::spawn("conch", &mut self.command, log)
    }

    /// Runs with these words after the host (options, then the command).
    pub fn run_words(mut self, words: &[&str], input: impl Into<Input>) -> Finished {
        self.command.arg("127.0.0.1").args(words);
        run_bounded(&mut self.command, input.into(), RUN_TIMEOUT)
    }
}

/// `ssh-keygen -F HOST -f FILE`: the lines OpenSSH finds for HOST.
pub fn openssh_finds(file: &Path, host: &str) -> Vec<String> {
    conch_interop::known_hosts::openssh_lookup(file, host)
}
