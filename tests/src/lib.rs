//! Helpers that start real SSH peers on loopback for interop tests:
//! OpenSSH's `sshd`, `ssh` and `ssh-agent`, and dropbear.
//!
//! Every peer runs on a free `127.0.0.1` port with keys and config generated
//! into its own temp dir, is killed when dropped, and every child process
//! has a time bound, so a test never hangs and never touches the machine's
//! own SSH setup (except [`TEST_USER`]'s authorized_keys, see
//! [`dropbear`]). A missing peer program is a test **failure** that says
//! how to install it, never a skip. When a test fails, the peers it started
//! print the tail of their logs (sshd logs at DEBUG3) into the test output.
//!
//! # Setup
//! `bash .ci/run --setup-only` (as root) installs `openssh-server`,
//! `openssh-client` and `dropbear-bin`, creates `/run/sshd` and the test
//! user [`TEST_USER`] with password [`TEST_PASSWORD`]. CI (`bash .ci/run`)
//! does that and then runs the whole test suite, as root. It also unpacks
//! OpenSSH 10 (Debian's backports packages) into `/opt/openssh10` beside
//! the system's 9.2: [`OpenSsh`] picks which one a test's `sshd`
//! ([`SshdOptions::openssh`]) or `ssh` ([`SshClient::openssh`]) is.
//! Set [`KEEP_DIRS_ENV`] (`CONCH_INTEROP_KEEP_DIRS=1`) to keep the temp dirs
//! (configs, keys, logs) after the tests.
//!
//! # Writing an interop test
//! Add a file to `tests/tests/` (e.g. `sshd_client.rs` for Conch's client
//! against sshd, `openssh_client.rs` for `ssh` against `conchd`); add the
//! adapter you test (e.g. `conch-tokio`) to `[dev-dependencies]` of
//! `tests/Cargo.toml`. `tests/tests/harness.rs` shows every helper at work
//! with OpenSSH's own client.
//!
//! Conch's client against sshd:
//! ```no_run
//! use conch_interop::{KeyType, Sshd, SshdOptions, TEST_PASSWORD, TEST_USER};
//!
//! let sshd = Sshd::start(SshdOptions {
//!     password_auth: true,
//!     host_key_types: vec![KeyType::Ed25519, KeyType::Rsa],
//!     ..SshdOptions::default()
//! });
//! let port = sshd.port(); // connect to 127.0.0.1:port
//! let user = sshd.login_user(); // public-key logins (the user running the tests)
//! let key = &sshd.user_key().private_path; // an authorized OpenSSH ed25519 key file
//! let encrypted = sshd.encrypted_user_key(); // .passphrase == Some(ENCRYPTED_KEY_PASSPHRASE)
//! let known_hosts = sshd.known_hosts_lines(); // "[127.0.0.1]:port ssh-ed25519 AAAA..."
//! // password / keyboard-interactive logins: TEST_USER with TEST_PASSWORD.
//! // ... run Conch; on failure the test output shows sshd's log tail.
//! sshd.assert_log_contains("Accepted password for", std::time::Duration::from_secs(5));
//! ```
//!
//! OpenSSH's `ssh` against Conch's server:
//! ```no_run
//! use std::process::Command;
//! use conch_interop::{workspace_bin, KeyPair, KeyType, ServerProcess, SshClient, TestDir};
//!
//! let dir = TestDir::new("conchd");
//! let host_key = KeyPair::generate(&dir, "host", KeyType::Ed25519, None);
//! let user_key = KeyPair::generate(&dir, "user", KeyType::Ed25519, None);
//! let authorized = dir.write("authorized_keys", &user_key.public_line);
//! // Started on a free port, waited for, killed on drop (see ServerProcess):
//! let conchd = ServerProcess::start("conchd", |port| {
//!     let mut command = Command::new(workspace_bin("<package>", "conchd"));
//!     command.args(["-p", &port.to_string(), "--host-key"]).arg(&host_key.private_path)
//!         .arg("--authorized-keys").arg(&authorized);
//!     command
//! });
//! let out = SshClient::new(conchd.port())
//!     .identity(&user_key)
//!     .trust_host_key(&host_key)
//!     .server_log(conchd.log_path())
//!     .run_with_input("cat", "bif pow zot");
//! out.assert_success();
//! assert_eq!(out.stdout_text(), "bif pow zot");
//! ```
//!
//! Agent and dropbear: see [`SshAgent`] and [`Dropbear`]; known_hosts files
//! written by OpenSSH: see [`known_hosts`]; 100 MiB payloads: see
//! [`PatternReader`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod authorized_keys_lease;
pub mod bins;
pub mod client;
pub mod data;
pub mod dir;
pub mod dropbear;
pub mod forwarding;
pub mod keys;
pub mod known_hosts;
pub mod net;
pub mod openssh;
pub mod process;
pub mod server;
pub mod sshd;
pub mod tmux;
pub mod user;

pub use agent::SshAgent;
pub use bins::workspace_bin;
pub use client::SshClient;
pub use data::{pattern_sha256, sha256_hex, PatternReader};
pub use dir::{TestDir, KEEP_DIRS_ENV};
pub use dropbear::{Dropbear, DropbearOptions};
pub use keys::{KeyPair, KeyType};
pub use net::free_port;
pub use openssh::{OpenSsh, OPENSSH10_DEFAULT_DIR, OPENSSH10_DIR_ENV};
pub use process::{run_bounded, ChildGuard, Finished, Input};
pub use server::ServerProcess;
pub use sshd::{Sshd, SshdOptions, ENCRYPTED_KEY_PASSPHRASE};
pub use tmux::Tmux;
pub use user::{current_user, test_user, TestUser, TEST_PASSWORD, TEST_USER};
