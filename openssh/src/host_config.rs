//! A host alias resolved into everything connecting needs, as `ssh ALIAS`
//! uses its configuration: [`HostConfig`].
//!
//! [`crate::ssh_config`] says what each option's value is (`ssh -G`);
//! this module says what the values do: the name, port and user to
//! connect with; the protocol settings (algorithm lists, `RekeyLimit`,
//! `ServerAliveInterval`/`ServerAliveCountMax`); how to connect
//! (`ConnectTimeout` over the TCP connect, banner and key exchange,
//! `ConnectionAttempts`, `AddressFamily`, `ProxyCommand`, and `ProxyJump`
//! with each jump host resolved from its own configuration); host keys
//! (`UserKnownHostsFile`, `GlobalKnownHostsFile`, `StrictHostKeyChecking`,
//! `HashKnownHosts`, `CheckHostIP`, `HostKeyAlias`, and the host key
//! algorithms ordered by the key types known for the host); and
//! authentication (`IdentityFile`, `IdentitiesOnly`, `IdentityAgent`,
//! `BatchMode`, `PreferredAuthentications`, the three method switches,
//! `NumberOfPasswordPrompts`, `PubkeyAcceptedAlgorithms`), plus `SendEnv`,
//! `SetEnv` and `RemoteCommand` for the command.
//!
//! The connection itself is any adapter's `connect(hostname, port,
//! options)`, or a [`CommandEndpoint`] built by [`HostConfig::endpoint`].

use std::path::PathBuf;
use std::sync::Arc;

use conch_core::PublicKey;
use conch_driver::{AddressFamily, AuthMethods, ClientOptions, Signer};

use crate::endpoint::{CommandEndpoint, EndpointRuntime, PromptFn};
use crate::ssh_config::{
    ConfigError, LoadOptions, ResolvedConfig, Slot, SshConfig, StrictHostKeyChecking,
};
use crate::{
    load_private_key, ConsoleUi, HostKeyUi, KeyFileSigner, KnownHostsFile, KnownHostsPolicy,
    KnownHostsVerifier, PassphraseFn, DEFAULT_IDENTITY_FILES,
};

/// An identity file as a signer, or why it cannot be used.
pub type SignerResult = Result<Arc<dyn Signer>, crate::KeyFileError>;

/// One host's configuration, resolved from ssh_config files (or built in
/// code with [`SshConfig::builder`]) into what the adapters connect with.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use conch_openssh::HostConfig;
///
/// // ~/.ssh/config and /etc/ssh/ssh_config, as `ssh db` reads them.
/// let host = HostConfig::load("db")?;
/// // With conch-tokio:
/// // let session = conch_tokio::connect(host.hostname(), host.port(), host.options()).await?;
/// // session.authenticate(host.user(), host.auth_methods()).await?;
/// // or, for one command: host.endpoint::<conch_tokio::Tokio>("uptime").connect().await?
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HostConfig {
    resolved: ResolvedConfig,
    options: ClientOptions,
    verifier: KnownHostsVerifier,
    passphrase: Option<Arc<PassphraseFn>>,
    password_prompt: Option<Arc<PromptFn>>,
    /// `ProxyJump`'s hosts, first hop first, each with its own
    /// configuration.
    jumps: Vec<HostConfig>,
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field("hostname", &self.hostname())
            .field("port", &self.port())
            .field("user", &self.user())
            .field("options", &self.options)
            .field("verifier", &self.verifier)
            .field("jumps", &self.jumps)
            .finish_non_exhaustive()
    }
}

/// Answers no when batch mode forbids asking; warns as the inner UI does.
struct Batch(Arc<dyn HostKeyUi>);

impl HostKeyUi for Batch {
    fn confirm(&self, _prompt: &str, _key: &PublicKey) -> bool {
        false
    }

    fn warn(&self, message: &str) {
        self.0.warn(message)
    }
}

impl HostConfig {
    /// Resolves `alias` from `~/.ssh/config` and `/etc/ssh/ssh_config`, as
    /// `ssh alias` does, asking about unknown host keys on the terminal
    /// ([`ConsoleUi`]).
    pub fn load(alias: &str) -> Result<Self, ConfigError> {
        let resolved = SshConfig::load(alias, &LoadOptions::from_environment())?;
        Self::from_resolved(resolved, Arc::new(ConsoleUi::new()))
    }

    /// What `resolved` does; `ui` is asked about unknown host keys (never
    /// under `BatchMode yes`) and shown warnings, for this host and its
    /// jump hosts. `ProxyJump`'s hosts are resolved here, each from the
    /// same files with its own ssh_config ([`HostConfig::jumps`]).
    pub fn from_resolved(
        resolved: ResolvedConfig,
        ui: Arc<dyn HostKeyUi>,
    ) -> Result<Self, ConfigError> {
        Self::resolve_at_depth(resolved, ui, 0)
    }

    fn resolve_at_depth(
        resolved: ResolvedConfig,
        ui: Arc<dyn HostKeyUi>,
        depth: usize,
    ) -> Result<Self, ConfigError> {
        // Each hop asks or not by its own BatchMode.
        let jumps = jumps::resolve_jumps(&resolved, &ui, depth)?;
        let ui: Arc<dyn HostKeyUi> = if resolved.batch_mode() {
            Arc::new(Batch(ui))
        } else {
            ui
        };
        let verifier = known_hosts_verifier(&resolved, ui)?;
        let options = client_options(&resolved, &verifier)?;
        Ok(HostConfig {
            resolved,
            options,
            verifier,
            passphrase: None,
            password_prompt: None,
            jumps,
        })
    }

    /// Asks passphrases of encrypted identity files with `ask` (only for
    /// a key the server accepts, when its `.pub` is there); without it, or
    /// in batch mode, encrypted keys are skipped.
    /// The jump hosts get it too.
    pub fn with_passphrase_prompt(mut self, ask: Arc<PassphraseFn>) -> Self {
        self.jumps = std::mem::take(&mut self.jumps)
            .into_iter()
            .map(|j| j.with_passphrase_prompt(ask.clone()))
            .collect();
        self.passphrase = Some(ask);
        self
    }

    /// Asks passwords and keyboard-interactive answers with `prompt`
    /// (never in batch mode), for [`HostConfig::endpoint`]; the jump
    /// hosts too.
    pub fn with_password_prompt(mut self, prompt: Arc<PromptFn>) -> Self {
        self.jumps = std::mem::take(&mut self.jumps)
            .into_iter()
            .map(|j| j.with_password_prompt(prompt.clone()))
            .collect();
        self.password_prompt = Some(prompt);
        self
    }

    /// `ProxyJump`'s hosts, first hop first, each resolved with its own
    /// ssh_config (a hop's user and port from the `ProxyJump` entry
    /// first), from the same files and with the same command-line options
    /// except those naming the destination (`HostName`, `Port`, `User`,
    /// `ProxyJump`, `ProxyCommand`, `HostKeyAlias`, `RemoteCommand`). The
    /// first hop may have jump hosts of its own; later hops are reached
    /// through the earlier ones, as `ssh -J` does.
    pub fn jumps(&self) -> &[HostConfig] {
        &self.jumps
    }

    /// The jump hosts, to change their options before connecting.
    pub fn jumps_mut(&mut self) -> &mut [HostConfig] {
        &mut self.jumps
    }

    /// Every option's value.
    pub fn resolved(&self) -> &ResolvedConfig {
        &self.resolved
    }

    /// The host to connect to (`HostName`, else the alias).
    pub fn hostname(&self) -> &str {
        self.resolved.hostname()
    }

    /// `Port`.
    pub fn port(&self) -> u16 {
        self.resolved.port()
    }

    /// `User`.
    pub fn user(&self) -> &str {
        self.resolved.user()
    }

    /// The options to give an adapter's `connect`: protocol settings,
    /// timeouts, the proxy command and the known_hosts verifier (not the
    /// jump hosts: [`HostConfig::endpoint`] connects through them).
    pub fn options(&self) -> ClientOptions {
        self.options.clone()
    }

    /// The options, to change one before connecting.
    pub fn options_mut(&mut self) -> &mut ClientOptions {
        &mut self.options
    }

    /// The host key verifier (also in [`HostConfig::options`]).
    pub fn verifier(&self) -> &KnownHostsVerifier {
        &self.verifier
    }

    /// The identity files to try: `IdentityFile`s, else the default
    /// `~/.ssh/id_*` files that exist.
    pub fn identity_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        let files = self.resolved.identity_files()?;
        if !files.is_empty() {
            return Ok(files);
        }
        let dir = self.resolved.local_home().join(".ssh");
        Ok(DEFAULT_IDENTITY_FILES
            .iter()
            .map(|name| dir.join(name))
            .filter(|p| p.is_file())
            .collect())
    }

    /// The identity files as signers, each with the file it came from or
    /// why it could not be used. Keys whose type `PubkeyAcceptedAlgorithms`
    /// leaves out are dropped.
    pub fn identity_signers(&self) -> Result<Vec<(PathBuf, SignerResult)>, ConfigError> {
        let ask = self
            .passphrase
            .clone()
            .filter(|_| !self.resolved.batch_mode());
        let accepted = self.resolved.algorithms(Slot::PubkeyAccepted);
        Ok(self
            .identity_files()?
            .into_iter()
            .map(|path| {
                let signer = match &ask {
                    Some(ask) => KeyFileSigner::open(&path, ask.clone())
                        .map(|s| Arc::new(s) as Arc<dyn Signer>),
                    None => load_private_key(&path, &mut |_| None)
                        .map(|k| Arc::new(k) as Arc<dyn Signer>),
                };
                (path, signer)
            })
            .filter(|(_, s)| {
                s.as_ref()
                    .map_or(true, |s| key_accepted(&s.public_key(), accepted))
            })
            .collect())
    }

    /// The ssh-agent to use: `IdentityAgent` (a socket path,
    /// `SSH_AUTH_SOCK`, or `none`), else `$SSH_AUTH_SOCK`; none when
    /// `PubkeyAuthentication no`.
    #[cfg(unix)]
    pub fn agent(&self) -> Result<Option<crate::AgentClient>, ConfigError> {
        if !self.resolved.pubkey_authentication() {
            return Ok(None);
        }
        Ok(match self.resolved.identity_agent()? {
            Some(p) if p.as_os_str() == "none" => None,
            Some(p) if p.as_os_str() == "SSH_AUTH_SOCK" => crate::AgentClient::from_env(),
            Some(p) => Some(crate::AgentClient::new(p)),
            None => crate::AgentClient::from_env(),
        })
    }

    /// The methods to try, in order: `PreferredAuthentications` (else
    /// publickey, keyboard-interactive, password, as ssh), without those
    /// `PubkeyAuthentication`, `PasswordAuthentication` or
    /// `KbdInteractiveAuthentication` turn off, and without password and
    /// keyboard-interactive once the last connection accepted a changed
    /// host key (`StrictHostKeyChecking no`): ask after connecting.
    pub fn preferred_authentications(&self) -> Vec<String> {
        let r = &self.resolved;
        // `StrictHostKeyChecking no` accepted a changed host key: nothing
        // a man in the middle could read (sshconnect.c).
        let mitm_safe = !self.verifier.accepted_changed_key();
        r.preferred_authentications()
            .unwrap_or_else(|| {
                ["publickey", "keyboard-interactive", "password"]
                    .map(String::from)
                    .to_vec()
            })
            .into_iter()
            .filter(|m| match m.as_str() {
                "publickey" => r.pubkey_authentication(),
                "password" => r.password_authentication() && mitm_safe,
                "keyboard-interactive" => r.kbd_interactive_authentication() && mitm_safe,
                _ => false,
            })
            .collect()
    }

    /// The credentials for a session's `authenticate` (blocking: lists the
    /// agent's keys and reads the key files): the agent's keys (only
    /// those of the identity files under `IdentitiesOnly`), then the
    /// identity files, in `PreferredAuthentications` order. Files that
    /// cannot be used are skipped; [`HostConfig::endpoint`] also asks for
    /// passwords.
    pub fn auth_methods(&self) -> AuthMethods {
        let mut methods = AuthMethods::new().preferred(self.preferred_authentications());
        if !self.resolved.pubkey_authentication() {
            return methods;
        }
        let certificates = self.certificate_files();
        let files: Vec<Arc<dyn Signer>> = self
            .identity_signers()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(path, s)| Some((path, s.ok()?)))
            .flat_map(|(path, s)| crate::with_certificates(s, &path, &certificates))
            .collect();
        #[cfg(unix)]
        if let Ok(Some(agent)) = self.agent() {
            let given: Vec<PublicKey> = files.iter().map(|s| s.public_key().plain_key()).collect();
            let only = self.resolved.identities_only();
            methods.signers.extend(
                agent
                    .signers()
                    .into_iter()
                    .filter(|s| !only || given.contains(&s.public_key())),
            );
        }
        methods.signers.extend(files);
        methods
    }

    /// The environment passed to a command: `SetEnv` pairs, then the
    /// local variables `SendEnv` names (patterns), as ssh sends them.
    pub fn command_env(&self) -> Vec<(String, String)> {
        let mut env = self.resolved.set_env();
        let patterns = self.resolved.send_env();
        for (name, value) in std::env::vars() {
            if send_env_matches(&patterns, &name) && !env.iter().any(|(n, _)| *n == name) {
                env.push((name, value));
            }
        }
        env
    }

    /// A [`CommandEndpoint`] running `command` on this host with
    /// everything above: the options, the identity files, the agent, the
    /// authentication preferences, the password prompt (unless in batch
    /// mode) and the command's environment. Identity files that cannot be
    /// used are shown as warnings (explicit ones) or skipped (defaults).
    ///
    /// With `ProxyJump`, the endpoint connects through each jump host's
    /// own endpoint first ([`HostConfig::jumps`]), each with its own host
    /// key check and credentials; a failure there is
    /// [`crate::EndpointError::JumpHost`]. For a session rather than a
    /// command: `host.endpoint::<R>("").connect_session()`.
    pub fn endpoint<R: EndpointRuntime>(&self, command: impl AsRef<[u8]>) -> CommandEndpoint<R> {
        let mut endpoint =
            CommandEndpoint::<R>::new_connection(command, self.user(), self.hostname())
                .port(self.port())
                .options(self.options.clone())
                .known_hosts_verifier(self.verifier.clone())
                .identities_only(self.resolved.identities_only())
                .preferred_authentications(self.preferred_authentications())
                .password_prompts(self.resolved.number_of_password_prompts())
                .env(self.command_env());
        #[cfg(unix)]
        if let Ok(Some(agent)) = self.agent() {
            endpoint = endpoint.agent(agent);
        }
        if self.resolved.pubkey_authentication() {
            let explicit = self.resolved.identity_files().is_ok_and(|f| !f.is_empty());
            let certificates = self.certificate_files();
            for (path, signer) in self.identity_signers().unwrap_or_default() {
                match signer {
                    // Its certificates first (PATH-cert.pub, then
                    // `CertificateFile`s it certifies), then the key, as ssh
                    // offers them.
                    Ok(signer) => {
                        for s in crate::with_certificates(signer, &path, &certificates) {
                            endpoint = endpoint.signer(s);
                        }
                    }
                    Err(e) if explicit && e.is_not_found() => self.verifier_ui_warn(&format!(
                        "Warning: Identity file {} not accessible: No such file or directory.\n",
                        path.display()
                    )),
                    Err(e) if explicit => self.verifier_ui_warn(&format!("Warning: {e}\n")),
                    Err(_) => {}
                }
            }
        }
        if let (Some(prompt), false) = (&self.password_prompt, self.resolved.batch_mode()) {
            endpoint = endpoint.password_prompt(prompt.clone());
        }
        for hop in &self.jumps {
            endpoint = endpoint.jump_through(hop.endpoint::<R>(""));
        }
        endpoint
    }

    /// The `CertificateFile`s (user certificates offered with the identity
    /// each certifies, besides each identity's `-cert.pub`).
    fn certificate_files(&self) -> Vec<PathBuf> {
        self.resolved.certificate_files().unwrap_or_default()
    }

    fn verifier_ui_warn(&self, message: &str) {
        self.verifier.warn(message);
    }

    /// The options set whose feature conch does not have yet, each with
    /// its value: a program should say they are not supported
    /// (`UpdateHostKeys yes|ask`; `Compression yes` is supported). `RequestTTY` and
    /// `ForwardAgent` are not among them: whether to ask for a terminal or
    /// agent forwarding is the program's decision (`conch` follows both,
    /// see `conch_cli::client`).
    pub fn unsupported(&self) -> Vec<String> {
        let r = &self.resolved;
        let mut out = Vec::new();
        if let Some(v) = r
            .get("UpdateHostKeys")
            .filter(|v| v.first().is_some_and(|v| v != "false"))
        {
            out.push(format!("UpdateHostKeys {}", v.join(" ")));
        }
        out
    }
}

/// Whether a key of this type may be offered under
/// `PubkeyAcceptedAlgorithms` (an RSA key by any of its signature
/// algorithms).
fn key_accepted(key: &PublicKey, accepted: &[String]) -> bool {
    let t = key.algorithm();
    accepted
        .iter()
        .any(|a| *a == t || (t == "ssh-rsa" && a.starts_with("rsa-sha2-")))
}

/// `SendEnv` patterns, in order, a `-` pattern removing what earlier
/// ones matched (ssh_config(5) `SendEnv`).
fn send_env_matches(patterns: &[String], name: &str) -> bool {
    let mut send = false;
    for p in patterns {
        match p.strip_prefix('-') {
            Some(p) if crate::ssh_config::wildcard_match(name, p) => send = false,
            Some(_) => {}
            None if crate::ssh_config::wildcard_match(name, p) => send = true,
            None => {}
        }
    }
    send
}

/// The verifier of `UserKnownHostsFile` (new keys go to the first),
/// `GlobalKnownHostsFile`, `StrictHostKeyChecking`, `HashKnownHosts`,
/// `CheckHostIP` and `HostKeyAlias`.
fn known_hosts_verifier(
    r: &ResolvedConfig,
    ui: Arc<dyn HostKeyUi>,
) -> Result<KnownHostsVerifier, ConfigError> {
    let mut user = r.user_known_hosts_files()?.into_iter();
    let first = user
        .next()
        .unwrap_or_else(|| r.local_home().join(".ssh/known_hosts"));
    let file = KnownHostsFile::new(first).hash_new_entries(r.hash_known_hosts());
    let policy = match r.strict_host_key_checking() {
        StrictHostKeyChecking::Yes => KnownHostsPolicy::Strict,
        StrictHostKeyChecking::Ask => KnownHostsPolicy::Ask,
        StrictHostKeyChecking::AcceptNew => KnownHostsPolicy::AcceptNew,
        StrictHostKeyChecking::No => KnownHostsPolicy::AcceptChanged,
    };
    let alias = r.get("HostKeyAlias").and_then(|v| v.first().cloned());
    let verifier = KnownHostsVerifier::new(file, policy, ui)
        .check_host_ip(r.check_host_ip())
        .host_key_alias(alias);
    Ok(user
        .map(KnownHostsFile::new)
        .chain(
            r.global_known_hosts_files()
                .into_iter()
                .map(KnownHostsFile::new),
        )
        .fold(verifier, KnownHostsVerifier::also_read))
}

/// The protocol and connection settings.
fn client_options(
    r: &ResolvedConfig,
    verifier: &KnownHostsVerifier,
) -> Result<ClientOptions, ConfigError> {
    let mut options = ClientOptions::new(verifier.clone().into_policy());
    options.connect_timeout = r.connect_timeout();
    options.connection_attempts = r.connection_attempts().max(1);
    options.address_family = match r.value("AddressFamily").as_deref() {
        Some("inet") => AddressFamily::Inet,
        Some("inet6") => AddressFamily::Inet6,
        _ => AddressFamily::Any,
    };
    options.proxy_command = r.proxy_command()?;
    let config = options.config_mut();
    let t = &mut config.transport;
    t.algorithms.kex = r.algorithms(Slot::Kex).to_vec();
    t.algorithms.cipher = r.algorithms(Slot::Cipher).to_vec();
    t.algorithms.mac = r.algorithms(Slot::Mac).to_vec();
    let host_keys = r.algorithms(Slot::HostKey).to_vec();
    // sshconnect2.c `ssh_kex2`: without an explicit HostKeyAlgorithms,
    // the types already known for the host come first, so a host known
    // by its ECDSA key is not asked for an Ed25519 one it has never shown.
    t.algorithms.host_key = if r.get("HostKeyAlgorithms").is_none() {
        order_host_key_algorithms(
            &host_keys,
            &verifier.known_key_types(r.hostname(), r.port()),
        )
    } else {
        host_keys
    };
    let (bytes, interval) = r.rekey_limit();
    if bytes > 0 {
        t.rekey_bytes = bytes;
    }
    if interval.is_some() {
        t.rekey_interval = interval;
    }
    t.keepalive_interval = r.server_alive_interval();
    t.keepalive_max = r.server_alive_count_max();
    if r.compression() {
        // ssh_config(5) `Compression yes` (ssh -C): OpenSSH's list,
        // delayed zlib first. Without it only none is offered (ssh also
        // lists the zlib methods after none, which only a server without
        // none would pick).
        t.algorithms
            .set_compression(conch_core::config::COMPRESSION_CLIENT_ON);
    }
    Ok(options)
}

/// `algorithms` with those for the key types in `known` first, each part
/// in its own order (OpenSSH `order_hostkeyalgs`); an `ssh-rsa` key
/// brings its `rsa-sha2-*` algorithms.
pub fn order_host_key_algorithms(algorithms: &[String], known: &[String]) -> Vec<String> {
    let is_known = |a: &String| {
        known
            .iter()
            .any(|t| a == t || (t == "ssh-rsa" && a.starts_with("rsa-sha2-")))
    };
    let (first, rest): (Vec<String>, Vec<String>) = algorithms.iter().cloned().partition(is_known);
    first.into_iter().chain(rest).collect()
}

mod jumps;
pub use jumps::MAX_JUMP_DEPTH;

#[cfg(test)]
mod tests;
