//! A real OpenSSH `sshd` on a free loopback port, with its own host keys,
//! config, authorized_keys and DEBUG3 log in a temp dir; killed on drop.
//!
//! ```no_run
//! use conch_interop::{Sshd, SshdOptions};
//!
//! let sshd = Sshd::start(SshdOptions {
//!     password_auth: true,
//!     rekey_limit: Some("1M".into()),
//!     ..SshdOptions::default()
//! });
//! // Connect a client to 127.0.0.1:sshd.port() as sshd.login_user() with
//! // sshd.user_key().private_path, trusting sshd.host_keys().
//! sshd.ssh_client().run("echo hi").assert_success();
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::SshClient;
use crate::dir::{tail, TestDir};
use crate::keys::{KeyPair, KeyType};
use crate::known_hosts::{host_pattern, write_known_hosts};
use crate::net::free_port;
use crate::openssh::OpenSsh;
use crate::process::{require_program, run_bounded, ChildGuard, Input, TOOL_TIMEOUT};
use crate::user::current_user;

/// The system's sshd binary ([`OpenSsh::System`]). It must be started by
/// absolute path (sshd re-executes itself for every connection).
pub const SSHD: &str = "/usr/sbin/sshd";

/// The passphrase of [`Sshd::encrypted_user_key`].
pub const ENCRYPTED_KEY_PASSPHRASE: &str = "conch interop passphrase";

/// How long sshd may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many fresh ports to try when another process took the one picked.
const START_ATTEMPTS: usize = 3;

/// Lines of sshd's log shown in failure messages.
const LOG_TAIL_LINES: usize = 80;

/// How to configure an [`Sshd`]. Start from `SshdOptions::default()`
/// (public-key auth only, an Ed25519 host key, OpenSSH's default algorithms).
/// Algorithm lists use sshd_config syntax, e.g. `"aes128-ctr"` or
/// `"+ssh-rsa"`. What was negotiated shows in the log:
/// `sshd.assert_log_contains("kex: algorithm: curve25519-sha256", ..)`, and
/// likewise `"kex: host key algorithm: "`, `"kex: client->server cipher: "`
/// (followed by `MAC: `), `"Accepted publickey for "`.
#[derive(Clone, Debug)]
pub struct SshdOptions {
    /// Which OpenSSH's sshd to run (the system's by default); its
    /// [`Sshd::ssh_client`] runs the same version's `ssh`.
    pub openssh: OpenSsh,
    /// Host key types to generate and offer (`HostKey` lines, in order).
    pub host_key_types: Vec<KeyType>,
    /// User key types to generate and authorize besides the default Ed25519
    /// pair and its encrypted twin (see [`Sshd::user_keys`]).
    pub extra_user_key_types: Vec<KeyType>,
    /// Extra authorized_keys lines (e.g. a key Conch generated).
    pub authorized_keys: Vec<String>,
    /// `PubkeyAuthentication`.
    pub pubkey_auth: bool,
    /// `PasswordAuthentication` (log in as [`crate::TEST_USER`]); turns on
    /// `UsePAM`.
    pub password_auth: bool,
    /// `KbdInteractiveAuthentication` through PAM (log in as
    /// [`crate::TEST_USER`]; PAM asks one "Password: " prompt); turns on
    /// `UsePAM`.
    pub kbd_interactive_auth: bool,
    /// `RekeyLimit`, e.g. `"1M"` or `"1M 2s"`: forces sshd to rekey often.
    pub rekey_limit: Option<String>,
    /// `KexAlgorithms`.
    pub kex_algorithms: Option<String>,
    /// `Ciphers`.
    pub ciphers: Option<String>,
    /// `MACs`.
    pub macs: Option<String>,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: Option<String>,
    /// `PubkeyAcceptedAlgorithms`.
    pub pubkey_accepted_algorithms: Option<String>,
    /// `MaxSessions`: channels per connection (OpenSSH's default is 10; the
    /// default here is 100 so that many-channel tests are not refused).
    pub max_sessions: u32,
    /// Also listen on `[::1]:port` (same port), for IPv6 connect tests.
    pub listen_ipv6_loopback: bool,
    /// More sshd_config lines, verbatim (they come before the defaults, and
    /// sshd keeps the first value of a keyword).
    pub extra_config: Vec<String>,
}

impl Default for SshdOptions {
    fn default() -> Self {
        SshdOptions {
            openssh: OpenSsh::System,
            host_key_types: vec![KeyType::Ed25519],
            extra_user_key_types: Vec::new(),
            authorized_keys: Vec::new(),
            pubkey_auth: true,
            password_auth: false,
            kbd_interactive_auth: false,
            rekey_limit: None,
            kex_algorithms: None,
            ciphers: None,
            macs: None,
            host_key_algorithms: None,
            pubkey_accepted_algorithms: None,
            max_sessions: 100,
            listen_ipv6_loopback: false,
            extra_config: Vec::new(),
        }
    }
}

/// A running sshd. Dropping it kills the listener (connections still open end
/// when their clients go). If the test is panicking, the drop prints the tail
/// of sshd's log, so every failing test shows what the server saw.
#[derive(Debug)]
pub struct Sshd {
    // Field order matters: the child is killed before the dir is removed.
    child: ChildGuard,
    port: u16,
    openssh: OpenSsh,
    host_keys: Vec<KeyPair>,
    user_keys: Vec<KeyPair>,
    encrypted_user_key: KeyPair,
    config_path: PathBuf,
    log_path: PathBuf,
    stderr_path: PathBuf,
    dir: TestDir,
}

impl Sshd {
    /// Starts sshd with [`SshdOptions::default`].
    #[track_caller]
    pub fn start_default() -> Self {
        Self::start(SshdOptions::default())
    }

    /// Generates keys and config, starts `sshd -D` and waits (bounded) until
    /// it listens. Panics with sshd's own words if it cannot start, and with
    /// an installation hint if sshd is not installed.
    #[track_caller]
    pub fn start(options: SshdOptions) -> Self {
        options.openssh.require();
        require_program("ssh-keygen", "openssh-client");
        let dir = TestDir::new("sshd");

        let host_keys: Vec<KeyPair> = options
            .host_key_types
            .iter()
            .map(|&kind| {
                KeyPair::generate(&dir, &format!("host_{}", kind.short_name()), kind, None)
            })
            .collect();
        let mut user_keys = vec![KeyPair::generate(
            &dir,
            "user_ed25519",
            KeyType::Ed25519,
            None,
        )];
        for &kind in &options.extra_user_key_types {
            let name = format!("user_{}", kind.short_name());
            user_keys.push(KeyPair::generate(&dir, &name, kind, None));
        }
        let encrypted_user_key = KeyPair::generate(
            &dir,
            "user_ed25519_encrypted",
            KeyType::Ed25519,
            Some(ENCRYPTED_KEY_PASSPHRASE),
        );
        let mut authorized: Vec<String> = user_keys
            .iter()
            .chain([&encrypted_user_key])
            .map(|key| key.public_line.clone())
            .collect();
        authorized.extend(options.authorized_keys.iter().cloned());
        let authorized_keys_path = dir.write("authorized_keys", authorized.join("\n") + "\n");

        let config_path = dir.join("sshd_config");
        let log_path = dir.join("sshd.log");
        let stderr_path = dir.join("sshd.stderr");
        check_privsep_dir();

        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let config = render_config(&options, port, &dir, &host_keys, &authorized_keys_path);
            dir.write("sshd_config", &config);
            check_config(options.openssh, &config_path, &config);

            let mut command = Command::new(options.openssh.sshd());
            command
                .arg("-D")
                .arg("-E")
                .arg(&log_path)
                .arg("-f")
                .arg(&config_path);
            let mut child = ChildGuard::spawn("sshd", &mut command, &stderr_path);
            match wait_until_listening(&mut child, port, options.listen_ipv6_loopback, &log_path) {
                Ok(()) => {
                    return Sshd {
                        child,
                        port,
                        openssh: options.openssh,
                        host_keys,
                        user_keys,
                        encrypted_user_key,
                        config_path,
                        log_path,
                        stderr_path,
                        dir,
                    }
                }
                Err(failure) => {
                    let log = tail(&log_path, LOG_TAIL_LINES);
                    let stderr = tail(&stderr_path, LOG_TAIL_LINES);
                    last_failure = format!(
                        "{failure}\n--- sshd log ---\n{log}\n--- sshd stderr ---\n{stderr}"
                    );
                    let port_taken = last_failure.contains("Address already in use")
                        || last_failure.contains("Cannot bind any address");
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("sshd did not start: {last_failure}");
    }

    /// The loopback port it listens on (address 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Which OpenSSH this is.
    pub fn openssh(&self) -> OpenSsh {
        self.openssh
    }

    /// The sshd listener's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The user that public-key logins should use: the user running the tests
    /// (sshd's `AuthorizedKeysFile` is this server's own file, for any user).
    pub fn login_user(&self) -> String {
        current_user()
    }

    /// Host keys, in the order of [`SshdOptions::host_key_types`].
    pub fn host_keys(&self) -> &[KeyPair] {
        &self.host_keys
    }

    /// The host key of `kind`; panics if it was not generated.
    #[track_caller]
    pub fn host_key(&self, kind: KeyType) -> &KeyPair {
        self.host_keys
            .iter()
            .find(|key| key.key_type == kind)
            .unwrap_or_else(|| {
                panic!("no {kind:?} host key: add it to SshdOptions::host_key_types")
            })
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

    /// The authorized, unencrypted Ed25519 user key.
    pub fn user_key(&self) -> &KeyPair {
        &self.user_keys[0]
    }

    /// Every authorized unencrypted user key: the Ed25519 one first, then
    /// one per [`SshdOptions::extra_user_key_types`].
    pub fn user_keys(&self) -> &[KeyPair] {
        &self.user_keys
    }

    /// The authorized user key of `kind`; panics if it was not generated.
    #[track_caller]
    pub fn user_key_of(&self, kind: KeyType) -> &KeyPair {
        self.user_keys
            .iter()
            .find(|key| key.key_type == kind)
            .unwrap_or_else(|| {
                panic!("no {kind:?} user key: add it to SshdOptions::extra_user_key_types")
            })
    }

    /// An authorized Ed25519 user key encrypted with
    /// [`ENCRYPTED_KEY_PASSPHRASE`].
    pub fn encrypted_user_key(&self) -> &KeyPair {
        &self.encrypted_user_key
    }

    /// The temp dir holding keys, config and logs.
    pub fn dir(&self) -> &TestDir {
        &self.dir
    }

    /// The generated `sshd_config`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The DEBUG3 log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last `lines` lines of the log, and anything sshd wrote on stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = format!(
            "--- sshd log ({}) ---\n{}",
            self.log_path.display(),
            tail(&self.log_path, lines)
        );
        let stderr = tail(&self.stderr_path, lines);
        if !stderr.trim().is_empty() {
            let _ = write!(text, "\n--- sshd stderr ---\n{stderr}");
        }
        text
    }

    /// Waits (at most `timeout`) until the log contains `needle`, e.g.
    /// `"Accepted publickey for"` or `"rekeying"`; panics with the log tail
    /// if it does not. sshd writes a line slightly after the client sees its
    /// effect, hence the wait.
    #[track_caller]
    pub fn assert_log_contains(&self, needle: &str, timeout: Duration) {
        let started = Instant::now();
        while !self.log().contains(needle) {
            if started.elapsed() >= timeout {
                panic!(
                    "sshd log has no {needle:?} after {timeout:?}\n{}",
                    self.log_tail(LOG_TAIL_LINES)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many key exchanges sshd has completed so far (initial one
    /// included), from its log: with a small [`SshdOptions::rekey_limit`],
    /// a transfer of a few MiB must push this well above 1.
    pub fn key_exchanges(&self) -> usize {
        self.log().matches("SSH2_MSG_NEWKEYS received").count()
    }

    /// An OpenSSH `ssh` client (of this server's [`OpenSsh`]) for this server: logs in as
    /// [`Sshd::login_user`] with [`Sshd::user_key`], with the host keys in
    /// its known_hosts and `StrictHostKeyChecking=yes`, and shows this
    /// server's log when a run fails.
    pub fn ssh_client(&self) -> SshClient {
        let mut client = SshClient::new(self.port)
            .openssh(self.openssh)
            .user(&self.login_user())
            .identity(self.user_key())
            .server_log(&self.log_path);
        for key in &self.host_keys {
            client = client.trust_host_key(key);
        }
        client
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "conch-interop: sshd of {} on port {} (test failed):\n{}",
                self.openssh,
                self.port,
                self.log_tail(LOG_TAIL_LINES)
            );
        }
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// The sshd_config text. sshd keeps the first value it reads for most
/// keywords, so `extra_config` goes first.
fn render_config(
    options: &SshdOptions,
    port: u16,
    dir: &TestDir,
    host_keys: &[KeyPair],
    authorized_keys: &Path,
) -> String {
    let mut config = String::from("# Written by conch-interop for one test.\n");
    for line in &options.extra_config {
        let _ = writeln!(config, "{line}");
    }
    let _ = writeln!(config, "ListenAddress 127.0.0.1:{port}");
    if options.listen_ipv6_loopback {
        let _ = writeln!(config, "ListenAddress [::1]:{port}");
    }
    for key in host_keys {
        let _ = writeln!(config, "HostKey {}", key.private_path.display());
    }
    let _ = writeln!(config, "PidFile {}", dir.join("sshd.pid").display());
    for line in options.openssh.sshd_config_lines() {
        let _ = writeln!(config, "{line}");
    }
    let _ = writeln!(config, "AuthorizedKeysFile {}", authorized_keys.display());
    let use_pam = options.password_auth || options.kbd_interactive_auth;
    let settings = [
        ("LogLevel", "DEBUG3".to_owned()),
        // The temp dir and files belong to the test runner, not the login
        // user.
        ("StrictModes", "no".to_owned()),
        ("UsePAM", yes_no(use_pam).to_owned()),
        // CI runs as root and logs in as itself.
        ("PermitRootLogin", "yes".to_owned()),
        (
            "PubkeyAuthentication",
            yes_no(options.pubkey_auth).to_owned(),
        ),
        (
            "PasswordAuthentication",
            yes_no(options.password_auth).to_owned(),
        ),
        (
            "KbdInteractiveAuthentication",
            yes_no(options.kbd_interactive_auth).to_owned(),
        ),
        ("PermitEmptyPasswords", "no".to_owned()),
        ("MaxSessions", options.max_sessions.to_string()),
        ("MaxStartups", "100".to_owned()),
        ("LoginGraceTime", "60".to_owned()),
        ("PrintMotd", "no".to_owned()),
        ("PrintLastLog", "no".to_owned()),
        ("X11Forwarding", "no".to_owned()),
        ("AcceptEnv", "LANG LC_* CONCH_*".to_owned()),
        ("Subsystem", "sftp internal-sftp".to_owned()),
    ];
    for (keyword, value) in settings {
        let _ = writeln!(config, "{keyword} {value}");
    }
    let optional = [
        ("RekeyLimit", &options.rekey_limit),
        ("KexAlgorithms", &options.kex_algorithms),
        ("Ciphers", &options.ciphers),
        ("MACs", &options.macs),
        ("HostKeyAlgorithms", &options.host_key_algorithms),
        (
            "PubkeyAcceptedAlgorithms",
            &options.pubkey_accepted_algorithms,
        ),
    ];
    for (keyword, value) in optional {
        if let Some(value) = value {
            let _ = writeln!(config, "{keyword} {value}");
        }
    }
    // OpenSSH 9.8 penalises sources that fail auth or drop connections by
    // refusing them for a while; tests do both on purpose from 127.0.0.1.
    if options.openssh.version() >= (9, 8) {
        let _ = writeln!(config, "PerSourcePenalties no");
    }
    config
}

/// `sshd -t`: a clear failure for a config sshd rejects (e.g. an algorithm
/// name it does not know), before starting it.
#[track_caller]
fn check_config(openssh: OpenSsh, config_path: &Path, config: &str) {
    let checked = run_bounded(
        Command::new(openssh.sshd())
            .arg("-t")
            .arg("-f")
            .arg(config_path),
        Input::Null,
        TOOL_TIMEOUT,
    );
    if !checked.status.success() {
        checked.fail(&format!("sshd rejects the generated config:\n{config}"));
    }
}

/// sshd started as root chroots its pre-auth child into /run/sshd, which the
/// distribution creates at boot and `.ci/run` creates in containers.
#[track_caller]
fn check_privsep_dir() {
    if crate::user::is_root() && !Path::new("/run/sshd").is_dir() {
        panic!(
            "/run/sshd (sshd's privilege separation directory) is missing: \
             run `bash .ci/run --setup-only` as root, or `mkdir -m 0755 /run/sshd`"
        );
    }
}

/// Waits until the log says sshd listens on `port` at every address;
/// `Err` if sshd exits, cannot bind one of them, or the time runs out.
/// Reading the log, rather than connecting, keeps probe connections out of
/// sshd's log and its per-source penalties.
fn wait_until_listening(
    child: &mut ChildGuard,
    port: u16,
    ipv6: bool,
    log: &Path,
) -> Result<(), String> {
    let mut ready = vec![format!("Server listening on 127.0.0.1 port {port}")];
    if ipv6 {
        ready.push(format!("Server listening on ::1 port {port}"));
    }
    let bind_failed = format!("Bind to port {port} on");
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if ready.iter().all(|line| text.contains(line)) {
            return Ok(());
        }
        // sshd logs "Bind to port N on ADDR." at debug level before every
        // bind, and "Bind to port N on ADDR failed: ..." when one fails.
        if text
            .lines()
            .any(|line| line.contains(&bind_failed) && line.contains("failed"))
        {
            return Err(format!("sshd could not bind port {port} on every address"));
        }
        if let Some(status) = child.exited() {
            return Err(format!("sshd exited with {status} before listening"));
        }
        if started.elapsed() >= START_TIMEOUT {
            return Err(format!("sshd did not listen within {START_TIMEOUT:?}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The system OpenSSH's (major, minor) version, from `ssh -V` (the same
/// package set as sshd on Debian); (0, 0) if it cannot be told. See
/// [`OpenSsh::version`] for either.
pub fn openssh_version() -> (u32, u32) {
    OpenSsh::System.version()
}
