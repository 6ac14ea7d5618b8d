//! Any server program under test (e.g. Conch's `conchd`) started on a free
//! loopback port, with its stderr in a log file, killed on drop.
//!
//! ```no_run
//! use std::process::Command;
//! use conch_interop::{workspace_bin, KeyPair, KeyType, ServerProcess, SshClient, TestDir};
//!
//! let dir = TestDir::new("conchd-keys");
//! let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
//! let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
//! let authorized = dir.write("authorized_keys", &user_key.public_line);
//! let conchd_path = workspace_bin("<package>", "conchd");
//! let conchd = ServerProcess::start("conchd", |port| {
//!     let mut command = Command::new(&conchd_path);
//!     command
//!         .args(["-p", &port.to_string(), "--host-key"])
//!         .arg(&host_key.private_path)
//!         .arg("--authorized-keys")
//!         .arg(&authorized);
//!     command
//! });
//! let out = SshClient::new(conchd.port())
//!     .identity(&user_key)
//!     .trust_host_key(&host_key)
//!     .server_log(conchd.log_path())
//!     .run("echo hi");
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::dir::{tail, TestDir};
use crate::net::{free_port, wait_for_port};
use crate::process::ChildGuard;

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many fresh ports to try when the server exits before listening
/// (another process may have taken the port).
const START_ATTEMPTS: usize = 3;

/// Lines of the log shown in failure messages.
const LOG_TAIL_LINES: usize = 60;

/// A running server process. If the test is panicking, the drop prints the
/// tail of its log.
#[derive(Debug)]
pub struct ServerProcess {
    // Field order matters: the child is killed before the dir is removed.
    child: ChildGuard,
    name: String,
    port: u16,
    log_path: PathBuf,
    dir: TestDir,
}

impl ServerProcess {
    /// Picks a free port, builds the command with `command_for_port(port)`,
    /// starts it (stdin null, stdout discarded, stderr to the log) and waits
    /// (bounded) until the port accepts connections. If the process exits
    /// first, tries again on another port, then panics with its log.
    #[track_caller]
    pub fn start(name: &str, mut command_for_port: impl FnMut(u16) -> Command) -> Self {
        let dir = TestDir::new(name);
        let log_path = dir.join(&format!("{name}.log"));
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut command = command_for_port(port);
            let mut child = ChildGuard::spawn(name, &mut command, &log_path);
            let ready = wait_for_port(port, START_TIMEOUT, || {
                child
                    .exited()
                    .map(|status| format!("{name} exited with {status} before listening"))
            });
            match ready {
                Ok(()) => {
                    return ServerProcess {
                        child,
                        name: name.to_owned(),
                        port,
                        log_path,
                        dir,
                    }
                }
                Err(failure) => {
                    let exited = child.exited().is_some();
                    drop(child);
                    last_failure = format!(
                        "{failure}\n--- {name} log ---\n{}",
                        tail(&log_path, LOG_TAIL_LINES)
                    );
                    if !exited {
                        break;
                    }
                }
            }
        }
        panic!("{name} did not start: {last_failure}");
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The log file (the server's stderr).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A temp dir of this server's own, for files a test wants beside it.
    pub fn dir(&self) -> &TestDir {
        &self.dir
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "conch-interop: {} on port {} (test failed):\n--- log ({}) ---\n{}",
                self.name,
                self.port,
                self.log_path.display(),
                tail(&self.log_path, LOG_TAIL_LINES)
            );
        }
    }
}
