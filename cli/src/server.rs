//! The server `conchd` runs, as a library so that `conch --demo` runs the
//! very same code in-process: authentication from an authorized_keys file
//! and an optional password file, and each `exec` (or `shell`) request run
//! as sshd(8) runs it ([`conch_driver::process::serve_session`]): with the
//! shell of the user running conchd, in an environment built as sshd builds
//! it (`env` requests only for the names in [`ServerSetup::accept_env`]),
//! on a real pseudo-terminal after a `pty-req`; stdin, stdout, stderr, exit
//! status and exit signal wired through the channel.
//!
//! User names: any name is accepted if its credential is (a key in the
//! authorized_keys file, or a password from the password file); commands
//! always run as the user running `conchd`, which is why it listens on
//! loopback unless told otherwise.
//!
//! The `sftp` subsystem is served as sshd's `internal-sftp` would, over a
//! root directory (`--sftp-root`, default the home directory) that
//! clients see as `/` and cannot leave (see `conch_driver::sftp::RootFs`).
//!
//! Password file: either lines `user:password` (that user with that
//! password; `#` starts a comment line), or one line without a `:` (that
//! password for any user). Password and keyboard-interactive logins are
//! offered only when a password file is given.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use conch_core::known_hosts::key_type_label;
use conch_core::{AuthAttempt, AuthDecision, PrivateKey, Prompt, PublicKey, ServerConfig};
use conch_driver::process::{serve_session, AcceptEnv, SessionSetup};
use conch_openssh::{AuthorizedKeys, KeyOption};
use conch_tokio::{
    Channel, ChannelOpenFailure, Forward, ForwardChannel, ForwardPolicy, Listener, ServerHandler,
    ServerOptions, SessionCommand,
};

/// Where the server's log lines go (stderr for `conchd`, nowhere for the demo).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A log that writes `conchd: LINE` to stderr.
pub fn stderr_log() -> Log {
    Arc::new(|line: &str| eprintln!("conchd: {line}"))
}

/// A log that drops everything.
pub fn no_log() -> Log {
    Arc::new(|_: &str| {})
}

/// Who may log in with a password.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Passwords {
    /// Password logins are not offered.
    #[default]
    None,
    /// One password for any user name.
    Any(String),
    /// A password per user name.
    PerUser(HashMap<String, String>),
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Passwords::None => f.write_str("None"),
            Passwords::Any(_) => f.write_str("Any(..)"),
            Passwords::PerUser(m) => f.debug_set().entries(m.keys()).finish(),
        }
    }
}

impl Passwords {
    /// Parses a password file (see the [module docs](self)).
    pub fn parse(text: &str) -> Self {
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        match lines.as_slice() {
            [] => Passwords::None,
            [single] if !single.contains(':') => Passwords::Any(single.to_string()),
            _ => Passwords::PerUser(
                lines
                    .iter()
                    .filter_map(|l| l.split_once(':'))
                    .map(|(u, p)| (u.to_string(), p.to_string()))
                    .collect(),
            ),
        }
    }

    /// Whether `password` is right for `user`.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let expected = match self {
            Passwords::None => return false,
            Passwords::Any(p) => p,
            Passwords::PerUser(m) => match m.get(user) {
                Some(p) => p,
                None => return false,
            },
        };
        conch_openssh::constant_time_eq(expected.as_bytes(), password.as_bytes())
    }

    fn is_none(&self) -> bool {
        *self == Passwords::None
    }
}

/// What a conchd serves with: its host key and who may log in.
#[derive(Clone)]
pub struct ServerSetup {
    /// The host key.
    pub host_key: PrivateKey,
    /// A certificate of the host key (sshd's `HostCertificate`), served
    /// to clients that ask for certificates.
    pub host_certificate: Option<PublicKey>,
    /// CAs whose user certificates may log in (sshd's
    /// `TrustedUserCAKeys`): a certificate listing the user name as a
    /// principal, valid now, from an allowed `source-address`.
    pub trusted_user_cas: Vec<PublicKey>,
    /// Keys that may log in (any user name). Their options are not
    /// enforced: [`read_authorized_keys`] keeps only keys whose options
    /// conchd honours by construction.
    pub authorized_keys: AuthorizedKeys,
    /// Passwords that may log in.
    pub passwords: Passwords,
    /// Which `env` requests are accepted (sshd_config's `AcceptEnv`;
    /// `LANG` and `LC_*` by default).
    pub accept_env: AcceptEnv,
    /// Where log lines go.
    pub log: Log,
    /// The `sftp` subsystem.
    pub sftp: SftpSetup,
    /// What forwarding is allowed (sshd's options; the default allows it
    /// all to authenticated users, listeners on loopback).
    pub forwarding: ForwardPolicy,
    /// Limits against abusive clients (`--max-startups`, ...).
    pub limits: crate::limits::Limits,
    /// Whether sessions may forward the client's agent (sshd_config's
    /// `AllowAgentForwarding`, yes by default there and in conchd).
    pub allow_agent_forwarding: bool,
}

/// How conchd serves the `sftp` subsystem (as sshd's `internal-sftp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SftpSetup {
    /// The directory clients see as `/`; `None`: the home directory of the
    /// user running conchd (`$HOME`).
    pub root: Option<std::path::PathBuf>,
    /// Refuse every change (sftp-server's `-R`).
    pub read_only: bool,
}

impl SftpSetup {
    /// The directory served.
    pub fn root_dir(&self) -> std::path::PathBuf {
        self.root.clone().unwrap_or_else(|| {
            std::env::var_os("HOME").map_or_else(|| "/".into(), std::path::PathBuf::from)
        })
    }
}

impl fmt::Debug for ServerSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSetup")
            .field("host_key", &self.host_key.public_key())
            .field("authorized_keys", &self.authorized_keys.keys().len())
            .field("passwords", &self.passwords)
            .field("accept_env", &self.accept_env)
            .finish_non_exhaustive()
    }
}

impl ServerSetup {
    /// The core configuration: the host key and the methods offered.
    fn server_options(&self, forced: crate::cert_auth::ForcedCommands) -> ServerOptions {
        let mut host_keys = vec![self.host_key.clone()];
        // Checked when the setup is made (`with_certificate`); the
        // certified key is offered beside the plain one.
        if let Some(certified) = self
            .host_certificate
            .as_ref()
            .and_then(|c| self.host_key.with_certificate(c).ok())
        {
            host_keys.push(certified);
        }
        let mut config = ServerConfig::new(host_keys);
        config.transport = crate::provider::transport_config();
        let mut methods = Vec::new();
        if !self.authorized_keys.is_empty() || !self.trusted_user_cas.is_empty() {
            methods.push("publickey".to_string());
        }
        if !self.passwords.is_none() {
            methods.push("password".to_string());
            methods.push("keyboard-interactive".to_string());
        }
        config.auth_methods = methods;
        self.limits.apply(&mut config);
        let mut options = ServerOptions::new(
            config,
            Authenticator {
                authorized_keys: self.authorized_keys.clone(),
                trusted_user_cas: self.trusted_user_cas.clone(),
                forced,
                passwords: self.passwords.clone(),
                accept_env: self.accept_env.clone(),
                log: self.log.clone(),
                forwarding: self.forwarding.clone(),
                allow_agent_forwarding: self.allow_agent_forwarding,
            },
        );
        options.startup_limits = self.limits.startups;
        options
    }
}

/// Decides logins from the setup's keys and passwords, logging the outcome
/// the way sshd words it.
pub(crate) struct Authenticator {
    authorized_keys: AuthorizedKeys,
    trusted_user_cas: Vec<PublicKey>,
    /// The `force-command` of the certificate each connection (by client
    /// address) logged in with.
    forced: crate::cert_auth::ForcedCommands,
    passwords: Passwords,
    accept_env: AcceptEnv,
    log: Log,
    forwarding: ForwardPolicy,
    allow_agent_forwarding: bool,
}

impl ServerHandler for Authenticator {
    fn auth(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        self.auth_from(None, user, attempt)
    }

    fn auth_from(
        &self,
        peer: Option<SocketAddr>,
        user: &str,
        attempt: &AuthAttempt,
    ) -> AuthDecision {
        match attempt {
            AuthAttempt::PublicKey { key, signed } if key.certificate().is_some() => {
                self.certificate_decision(peer, user, key, *signed)
            }
            AuthAttempt::PublicKey { key, signed } => {
                let known = self.authorized_keys.find(key).is_some();
                if *signed && known {
                    (self.log)(&format!(
                        "Accepted publickey for {user}: {} {}",
                        key_type_label(key),
                        key.fingerprint()
                    ));
                }
                if known {
                    AuthDecision::Accept
                } else {
                    AuthDecision::Reject
                }
            }
            AuthAttempt::Password {
                password,
                new_password: None,
            } => self.password_decision(user, password, "password"),
            AuthAttempt::KeyboardInteractive { responses, .. }
                if responses.is_empty() && !self.passwords.is_none() =>
            {
                AuthDecision::InfoRequest {
                    name: String::new(),
                    instruction: String::new(),
                    prompts: vec![Prompt {
                        prompt: "Password: ".into(),
                        echo: false,
                    }],
                }
            }
            AuthAttempt::KeyboardInteractive { responses, .. } if responses.len() == 1 => {
                self.password_decision(user, &responses[0], "keyboard-interactive")
            }
            _ => AuthDecision::Reject,
        }
    }

    fn direct_forward(
        &self,
        user: &str,
        target: &ForwardChannel,
    ) -> Result<(), (ChannelOpenFailure, String)> {
        let r = self.forwarding.direct(target);
        self.forward_decisions_logged(user, &format!("{target:?}"), r.is_ok());
        r
    }

    fn remote_forward(&self, user: &str, forward: &Forward) -> Option<Forward> {
        let r = self.forwarding.listen(forward);
        self.forward_decisions_logged(user, &format!("{forward:?}"), r.is_some());
        r
    }

    /// Commands run on a real pseudo-terminal ([`serve_session`]).
    fn accept_pty(&self, _user: &str) -> bool {
        true
    }

    // Sessions are served by `serve_session`, which makes the agent socket.
    fn accept_agent_forwarding(&self, _user: &str) -> bool {
        self.allow_agent_forwarding
    }

    fn accept_env(&self, user: &str, name: &str) -> bool {
        let accepted = self.accept_env.allows(name);
        if !accepted {
            // As sshd (at debug level there): the refused name is worth a line.
            (self.log)(&format!("{user}: env {name:?} refused (not in AcceptEnv)"));
        }
        accepted
    }
}

impl Authenticator {
    fn forward_decisions_logged(&self, user: &str, what: &str, allowed: bool) {
        if !allowed {
            // sshd's words for a refused forward.
            (self.log)(&format!("refused {what} for {user} by policy"));
        }
    }

    pub(crate) fn trusted_user_cas(&self) -> &[PublicKey] {
        &self.trusted_user_cas
    }

    pub(crate) fn authorized_keys(&self) -> &AuthorizedKeys {
        &self.authorized_keys
    }

    pub(crate) fn forced(&self) -> &crate::cert_auth::ForcedCommands {
        &self.forced
    }

    pub(crate) fn log(&self, line: &str) {
        (self.log)(line)
    }

    fn password_decision(&self, user: &str, password: &str, method: &str) -> AuthDecision {
        if self.passwords.check(user, password) {
            (self.log)(&format!("Accepted {method} for {user}"));
            AuthDecision::Accept
        } else {
            (self.log)(&format!("Failed {method} for {user}"));
            AuthDecision::Reject
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

/// A bound conchd: call [`Conchd::run`] to serve.
pub struct Conchd {
    listener: Listener,
    log: Log,
    forced: crate::cert_auth::ForcedCommands,
    sftp: SftpSetup,
}

/// How conchd runs each command: as the account running conchd, with the
/// connection's addresses in `SSH_CONNECTION` (the server's address is the
/// one bound: an unspecified address such as `0.0.0.0` shows as such).
fn session_setup(peer: SocketAddr, local: SocketAddr) -> SessionSetup {
    SessionSetup::current_account().with_addrs(peer, local)
}

impl fmt::Debug for Conchd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conchd")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Conchd {
    /// Binds to `addr` (port 0: a free port) with `setup`.
    pub async fn bind(addr: SocketAddr, setup: &ServerSetup) -> io::Result<Self> {
        let forced = crate::cert_auth::ForcedCommands::default();
        let listener = Listener::bind(addr, setup.server_options(forced.clone())).await?;
        Ok(Conchd {
            listener,
            log: setup.log.clone(),
            sftp: setup.sftp.clone(),
            forced,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Another server on the same socket and settings, sharing the startup
    /// limits and the certificates' forced commands, for another thread's
    /// runtime: call it inside that runtime.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Conchd {
            listener: self.listener.try_clone()?,
            log: self.log.clone(),
            sftp: self.sftp.clone(),
            forced: self.forced.clone(),
        })
    }

    /// Serves connections until accepting fails: each connection on its own
    /// task, each started channel's command on a task of its own too (no
    /// thread per command, see [`conch_driver::process`]).
    pub async fn run(self) -> io::Result<()> {
        let local = self.listener.local_addr()?;
        loop {
            let (session, peer) = self.listener.accept().await?;
            let log = self.log.clone();
            let sftp = self.sftp.clone();
            log(&format!("connection from {peer}"));
            // Forwarding requests the policy allowed are served beside the
            // session channels, until the connection ends.
            tokio::spawn(conch_tokio::serve_forwards(session.clone()));
            let forced = self.forced.clone();
            tokio::spawn(async move {
                while let Some(mut incoming) = session.accept_channel().await {
                    // A certificate's force-command runs whatever was asked.
                    forced.apply(peer, &mut incoming);
                    log(&format!(
                        "{}: {}{}",
                        incoming.user,
                        describe(&incoming.command),
                        if incoming.pty.is_some() {
                            " on a terminal"
                        } else {
                            ""
                        }
                    ));
                    if incoming.command == SessionCommand::Subsystem("sftp".into()) {
                        serve_sftp(incoming.channel.into_inner(), &sftp, &log);
                        continue;
                    }
                    tokio::spawn(serve_session(
                        incoming.map(Channel::into_inner),
                        session_setup(peer, local),
                    ));
                }
                forced.forget(peer);
                let reason = session
                    .disconnect_reason()
                    .map_or_else(|| "closed".to_string(), |e| e.to_string());
                log(&format!("connection from {peer} ended: {reason}"));
            });
        }
    }
}

/// Serves the `sftp` subsystem over the configured root on a blocking
/// thread (the file system calls block), confined to the root.
fn serve_sftp(channel: conch_driver::Channel, setup: &SftpSetup, log: &Log) {
    let root = setup.root_dir();
    let read_only = setup.read_only;
    let log = log.clone();
    tokio::task::spawn_blocking(move || {
        let fs = match conch_driver::sftp::RootFs::new(&root) {
            Ok(fs) => fs,
            Err(e) => {
                log(&format!("sftp: cannot serve {}: {e}", root.display()));
                let _ = channel.send_exit_status(1);
                let _ = channel.send_eof();
                return;
            }
        };
        let server = conch_driver::sftp::conch_sftp::server::Server::new(fs).read_only(read_only);
        if let Err(e) = conch_driver::sftp::serve_blocking(&channel, server) {
            log(&format!("sftp session ended: {e}"));
        }
    });
}

fn describe(command: &conch_tokio::SessionCommand) -> String {
    match command {
        conch_tokio::SessionCommand::Exec(line) => {
            format!("exec {:?}", String::from_utf8_lossy(line))
        }
        conch_tokio::SessionCommand::Shell => "shell".into(),
        conch_tokio::SessionCommand::Subsystem(name) => format!("subsystem {name}"),
    }
}

/// Reads an authorized_keys file (sshd(8)'s format, see
/// [`conch_openssh::authorized_keys`]). conchd enforces no key options: a
/// key whose options restrict more than forwarding and `~/.ssh/rc` (which
/// conchd never offers) is refused with a warning rather than
/// half-honoured, and so is every line that does not parse. Warnings go to
/// `log`.
pub fn read_authorized_keys(path: &Path, log: &Log) -> io::Result<AuthorizedKeys> {
    let mut keys = AuthorizedKeys::read(path)?;
    for invalid in keys.invalid_lines() {
        log(&format!(
            "{}:{}: skipped: {}",
            path.display(),
            invalid.line,
            invalid.reason
        ));
    }
    let refused = keys.retain(|entry| entry.options().iter().all(enforced));
    for entry in refused {
        let options: Vec<String> = entry
            .options()
            .iter()
            .filter(|o| !enforced(o))
            .map(|o| o.name().to_string())
            .collect();
        log(&format!(
            "{}:{}: skipped: conchd does not enforce option {}",
            path.display(),
            entry.line(),
            options.join(", ")
        ));
    }
    Ok(keys)
}

/// Reads a `TrustedUserCAKeys` file: public keys, one per line, `#`
/// comments and blank lines ignored (sshd_config(5)); lines that do not
/// parse are logged and skipped.
pub fn read_ca_keys(path: &Path, log: &Log) -> io::Result<Vec<PublicKey>> {
    let text = fs::read_to_string(path)?;
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match PublicKey::from_openssh(line) {
            Ok(key) => keys.push(key),
            Err(e) => log(&format!("{}:{}: skipped: {e}", path.display(), i + 1)),
        }
    }
    Ok(keys)
}

/// Whether conchd honours an authorized_keys option: the forwarding
/// restrictions by offering no forwarding, `cert-authority` and its
/// `principals` by checking certificates ([`crate::cert_auth`]).
fn enforced(option: &KeyOption) -> bool {
    option.restricts_only_unoffered_features()
        || matches!(option.name(), "cert-authority" | "principals")
}

/// Reads the host key at `path`. With `generate`, a missing file is
/// created first with a new Ed25519 key (mode 0600, and `PATH.pub` beside
/// it); without, a missing file is an error: conchd never makes a host key
/// silently.
pub fn load_host_key(path: &Path, generate: bool) -> Result<PrivateKey, String> {
    if generate && !path.exists() {
        let key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
        write_new_key(path, &key)
            .map_err(|e| format!("cannot write host key {}: {e}", path.display()))?;
        return Ok(key);
    }
    conch_openssh::load_private_key(path, &mut |_| None).map_err(|e| match e {
        e if e.is_not_found() => format!(
            "host key {} does not exist (make one with --generate-host-key, or ssh-keygen -t ed25519 -N '' -f {})",
            path.display(),
            path.display()
        ),
        conch_openssh::KeyFileError::PassphraseNeeded { .. } => {
            format!("host key {} is encrypted; conchd needs an unencrypted key", path.display())
        }
        other => other.to_string(),
    })
}

/// Writes a new private key (readable by its owner only) and its `.pub`.
pub fn write_new_key(path: &Path, key: &PrivateKey) -> io::Result<()> {
    let pem = key
        .to_openssh()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(pem.as_bytes())?;
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    fs::write(public, format!("{}\n", key.public_key().to_openssh()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_forms() {
        let any = Passwords::parse("# demo\nsecret\n");
        assert!(any.check("alice", "secret"));
        assert!(any.check("bob", "secret"));
        assert!(!any.check("bob", "secre"));
        let per_user = Passwords::parse("alice:a:b\nbob:pw\n");
        assert!(per_user.check("alice", "a:b"), "only the first ':' splits");
        assert!(per_user.check("bob", "pw"));
        assert!(!per_user.check("carol", "pw"));
        assert!(!per_user.check("bob", "a:b"));
        assert_eq!(Passwords::parse("\n# nothing\n"), Passwords::None);
        assert!(!Passwords::None.check("alice", ""));
    }

    #[test]
    fn authorized_keys_with_options_conchd_cannot_enforce_are_refused() {
        use rand_chacha::rand_core::SeedableRng;
        let key = |seed: u64| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            PrivateKey::generate_ed25519(&mut rng).public_key().clone()
        };
        let path = std::env::temp_dir().join(format!("conchd-authorized-{}", std::process::id()));
        let text = format!(
            "no-port-forwarding,no-agent-forwarding {}\ncommand=\"date\" {}\nbogus line\n",
            key(1).to_openssh(),
            key(2).to_openssh()
        );
        fs::write(&path, text).unwrap();
        let logged = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log: Log = {
            let logged = logged.clone();
            Arc::new(move |line: &str| logged.lock().unwrap().push(line.to_string()))
        };
        let keys = read_authorized_keys(&path, &log);
        let _ = fs::remove_file(&path);
        let keys = keys.unwrap();
        assert!(keys.find(&key(1)).is_some());
        assert!(keys.find(&key(2)).is_none(), "command= is not enforced");
        let logged = logged.lock().unwrap().join("\n");
        assert!(
            logged.contains(":2: skipped: conchd does not enforce option command"),
            "{logged}"
        );
        assert!(logged.contains(":3: skipped:"), "{logged}");
    }
}
