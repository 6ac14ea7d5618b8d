//! A real dropbear server on a free loopback port, killed on drop.
//!
//! Logins go to [`crate::TEST_USER`] (created by `.ci/run`): dropbear 2022.x
//! cannot be pointed at an authorized_keys file, it reads
//! `~/.ssh/authorized_keys` of the login user, so the test's keys are added
//! to that user's file while the server runs (see
//! [`crate::authorized_keys_lease`]) and removed on drop. Doing that, and
//! logging in as another user at all, needs root: CI runs as root; elsewhere
//! run the tests with `sudo`.
//!
//! ```no_run
//! use conch_interop::{Dropbear, DropbearOptions};
//!
//! let dropbear = Dropbear::start(DropbearOptions::default());
//! // Connect to 127.0.0.1:dropbear.port() as dropbear.login_user() with
//! // dropbear.user_key().private_path, trusting dropbear.host_keys().
//! dropbear.ssh_client().run("echo hi").assert_success();
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::authorized_keys_lease::AuthorizedKeysLease;
use crate::client::SshClient;
use crate::dir::{tail, TestDir};
use crate::keys::{KeyPair, KeyType};
use crate::known_hosts::{host_pattern, write_known_hosts};
use crate::net::{free_port, wait_for_port};
use crate::process::{require_program, ChildGuard};
use crate::user::{is_root, test_user, TestUser};

/// The dropbear binary.
pub const DROPBEAR: &str = "/usr/sbin/dropbear";

/// How long dropbear may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many fresh ports to try when another process took the one picked.
const START_ATTEMPTS: usize = 3;

/// Lines of dropbear's log shown in failure messages.
const LOG_TAIL_LINES: usize = 60;

/// How to configure a [`Dropbear`].
#[derive(Clone, Debug)]
pub struct DropbearOptions {
    /// Host key types to generate with `dropbearkey` (`-r`, in order).
    pub host_key_types: Vec<KeyType>,
    /// User key types to generate with `ssh-keygen` and authorize.
    pub user_key_types: Vec<KeyType>,
    /// Allow password logins (`-s` otherwise).
    pub password_auth: bool,
    /// More command-line arguments, e.g. `["-W", "1048576"]`.
    pub extra_args: Vec<String>,
}

impl Default for DropbearOptions {
    fn default() -> Self {
        DropbearOptions {
            host_key_types: vec![KeyType::Ed25519],
            user_key_types: vec![KeyType::Ed25519],
            password_auth: false,
            extra_args: Vec::new(),
        }
    }
}

/// A running `dropbear -F`. If the test is panicking, the drop prints the
/// tail of dropbear's log.
#[derive(Debug)]
pub struct Dropbear {
    // Field order matters: the child is killed before the keys are revoked
    // and the dir is removed.
    child: ChildGuard,
    port: u16,
    host_keys: Vec<KeyPair>,
    user_keys: Vec<KeyPair>,
    user: TestUser,
    log_path: PathBuf,
    _authorized: AuthorizedKeysLease,
    dir: TestDir,
}

impl Dropbear {
    /// Generates keys, authorizes the user keys for [`crate::TEST_USER`],
    /// starts dropbear and waits (bounded) until the port accepts. Panics
    /// with a clear message if dropbear is not installed, the test user is
    /// missing, or the tests do not run as root.
    #[track_caller]
    pub fn start(options: DropbearOptions) -> Self {
        require_program(DROPBEAR, "dropbear-bin");
        require_program("dropbearkey", "dropbear-bin");
        let user = test_user();
        if !is_root() {
            panic!(
                "dropbear tests must run as root (as .ci/run does): dropbear logs in \
                 as {} and reads that user's ~/.ssh/authorized_keys",
                user.name
            );
        }
        let dir = TestDir::new("dropbear");
        let host_keys: Vec<KeyPair> = options
            .host_key_types
            .iter()
            .map(|&kind| {
                KeyPair::generate_dropbear(&dir, &format!("host_{}", kind.short_name()), kind)
            })
            .collect();
        let user_keys: Vec<KeyPair> = options
            .user_key_types
            .iter()
            .map(|&kind| {
                KeyPair::generate(&dir, &format!("user_{}", kind.short_name()), kind, None)
            })
            .collect();
        let public_keys: Vec<String> = user_keys.iter().map(KeyPair::public_key).collect();
        let authorized = AuthorizedKeysLease::new(&user, &public_keys);
        let log_path = dir.join("dropbear.log");

        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut command = Command::new(DROPBEAR);
            // -F: foreground; -E: log to stderr (our log file); -m: no motd.
            command
                .args(["-F", "-E", "-m"])
                .arg("-p")
                .arg(format!("127.0.0.1:{port}"))
                .arg("-P")
                .arg(dir.join("dropbear.pid"));
            for key in &host_keys {
                command.arg("-r").arg(&key.private_path);
            }
            if !options.password_auth {
                command.arg("-s");
            }
            command.args(&options.extra_args);
            let mut child = ChildGuard::spawn("dropbear", &mut command, &log_path);
            let ready = wait_for_port(port, START_TIMEOUT, || {
                child
                    .exited()
                    .map(|status| format!("dropbear exited with {status} before listening"))
            });
            match ready {
                Ok(()) => {
                    return Dropbear {
                        child,
                        port,
                        host_keys,
                        user_keys,
                        user,
                        log_path,
                        _authorized: authorized,
                        dir,
                    }
                }
                Err(failure) => {
                    drop(child);
                    let log = tail(&log_path, LOG_TAIL_LINES);
                    last_failure = format!("{failure}\n--- dropbear log ---\n{log}");
                    if !log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("dropbear did not start: {last_failure}");
    }

    /// The loopback port it listens on (address 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The dropbear listener's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The user to log in as ([`crate::TEST_USER`]).
    pub fn login_user(&self) -> &str {
        &self.user.name
    }

    /// The login user's password (for `password_auth`).
    pub fn password(&self) -> &str {
        &self.user.password
    }

    /// Host keys, in the order of [`DropbearOptions::host_key_types`].
    pub fn host_keys(&self) -> &[KeyPair] {
        &self.host_keys
    }

    /// Known_hosts lines (plain, `[127.0.0.1]:port`) for every host key.
    pub fn known_hosts_lines(&self) -> Vec<String> {
        let hosts = host_pattern(self.port);
        self.host_keys
            .iter()
            .map(|key| key.known_hosts_line(&hosts))
            .collect()
    }

    /// Writes [`Self::known_hosts_lines`] to a fresh file `known_hosts` in
    /// this server's temp dir and returns its path (for a client's
    /// `UserKnownHostsFile`).
    #[track_caller]
    pub fn known_hosts_file(&self) -> PathBuf {
        let path = self.dir.join("known_hosts");
        write_known_hosts(&path, &self.known_hosts_lines());
        path
    }

    /// The first authorized user key (Ed25519 by default).
    #[track_caller]
    pub fn user_key(&self) -> &KeyPair {
        self.user_keys
            .first()
            .unwrap_or_else(|| panic!("DropbearOptions::user_key_types is empty"))
    }

    /// Every authorized user key.
    pub fn user_keys(&self) -> &[KeyPair] {
        &self.user_keys
    }

    /// The temp dir holding keys and the log.
    pub fn dir(&self) -> &TestDir {
        &self.dir
    }

    /// The log file (dropbear's stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An OpenSSH `ssh` client for this server, logging in as
    /// [`Dropbear::login_user`] with [`Dropbear::user_key`], with the host
    /// keys in its known_hosts and `StrictHostKeyChecking=yes`.
    #[track_caller]
    pub fn ssh_client(&self) -> SshClient {
        let mut client = SshClient::new(self.port)
            .user(&self.user.name)
            .identity(self.user_key())
            .server_log(&self.log_path);
        for key in &self.host_keys {
            client = client.trust_host_key(key);
        }
        client
    }
}

impl Drop for Dropbear {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "conch-interop: dropbear on port {} (test failed):\n--- dropbear log ({}) ---\n{}",
                self.port,
                self.log_path.display(),
                tail(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}
