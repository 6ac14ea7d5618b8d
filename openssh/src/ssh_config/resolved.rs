//! The configuration resolved for one host: the passes over the files,
//! the defaults ssh fills in, and typed accessors.

use super::algorithms::{conch_algorithms, resolve_algorithms};
use super::expand::{env_expand, percent_expand, percent_expand_only, tilde_expand, Tokens};
use super::jump::{parse_proxy_jump, JumpHost};
use super::options::{kind_of, parse_forward, Forward, ForwardKind, Slot};
use super::reader::{hostname_tokens, Reader, Setting, Store, HOSTNAME_TOKENS};
use super::{ConfigError, ConfigFiles, LoadOptions};
use std::path::PathBuf;
use std::time::Duration;

/// `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// `yes`: unknown and changed keys are refused.
    Yes,
    /// `no`/`off`: unknown keys are added, changed ones refused.
    No,
    /// `ask` (the default).
    Ask,
    /// `accept-new`.
    AcceptNew,
}

/// Every option's value for one host. Values that ssh expands when it
/// uses them (`%` tokens, `${ENV}`, `~`) are expanded by the accessors
/// that return them.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    original_host: String,
    hostname: String,
    port: u16,
    user: String,
    tokens: Tokens,
    store: Store,
    home: PathBuf,
    env: EnvLookup,
    algorithms: Vec<(Slot, Vec<String>)>,
    /// What it was resolved with: how its jump hosts are resolved.
    load: LoadOptions,
}

/// The environment lookup, shown as `..` in debug output.
#[derive(Clone)]
struct EnvLookup(super::EnvFn);

impl std::fmt::Debug for EnvLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvLookup(..)")
    }
}

pub(crate) fn resolve(host: &str, opts: &LoadOptions) -> Result<ResolvedConfig, ConfigError> {
    let pass = |host_for_match: String, post_canon: bool, store: Store, command_line: bool| {
        let mut r = Reader::new(opts, host, host_for_match, post_canon, store);
        if command_line {
            for line in &opts.command_line {
                r.command_line(line)?;
            }
        }
        match &opts.files {
            ConfigFiles::None => {}
            ConfigFiles::File(f) => {
                if !r.read_top(f, true, false)? {
                    let name = f.display().to_string();
                    return Err(ConfigError::at(
                        &name,
                        0,
                        "Can't open user config file: No such file or directory",
                    ));
                }
            }
            ConfigFiles::Default => {
                r.read_top(&opts.home.join(".ssh/config"), true, true)?;
                r.read_top(&opts.system_file, false, false)?;
            }
        }
        Ok::<_, ConfigError>((r.want_final, r.store))
    };
    let (want_final, mut store) = pass(host.to_string(), false, Store::default(), true)?;
    let resolved_host = |store: &Store| -> Result<String, ConfigError> {
        Ok(match store.single.get("hostname") {
            Some(s) => percent_expand_only(&s.args[0], &hostname_tokens(host), HOSTNAME_TOKENS)
                .map_err(|m| s.error(m))?,
            None => host.to_string(),
        }
        .to_ascii_lowercase())
    };
    // ssh.c takes the host name from HostName after the first pass, before
    // any final pass: a HostName first set in the final pass does not
    // change it (OpenSSH 9.2).
    let hostname = resolved_host(&store)?;
    if want_final {
        // `Match final`/`canonical`: ssh reads the files again, `Host`
        // lines now matching the resolved name (ssh.c "re-parsing
        // configuration").
        store = pass(hostname.clone(), true, store, false)?.1;
    }
    let port = store
        .first("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(22);
    let user = store.first("user").unwrap_or(&opts.local_user).to_string();
    let tokens = Tokens {
        host: hostname.clone(),
        original_host: host.to_string(),
        port,
        remote_user: user.clone(),
        local_user: opts.local_user.clone(),
        local_host: opts.local_host.clone(),
        home: opts.home.display().to_string(),
        uid: opts.uid,
        // ssh.c: `%k` is HostKeyAlias, else the host as typed.
        host_key_alias: store.first("hostkeyalias").unwrap_or(host).to_string(),
    };
    if let Some(s) = store.single.get("proxyjump") {
        check_jump_loop(s, &hostname, port, &user)?;
    }
    let mut algorithms = Vec::new();
    for (key, slot) in [
        ("ciphers", Slot::Cipher),
        ("macs", Slot::Mac),
        ("kexalgorithms", Slot::Kex),
        ("hostkeyalgorithms", Slot::HostKey),
        ("pubkeyacceptedalgorithms", Slot::PubkeyAccepted),
    ] {
        let set = conch_algorithms(slot);
        let list = match store.single.get(key) {
            Some(s) => resolve_algorithms(&s.args[0], &set).map_err(|m| s.error(m))?,
            None => set.defaults,
        };
        if list.is_empty() {
            let s = store.single.get(key).cloned().unwrap_or_else(|| Setting {
                args: vec![],
                file: "defaults".into(),
                line: 0,
            });
            return Err(s.error(format!("{key}: no algorithm left")));
        }
        algorithms.push((slot, list));
    }
    Ok(ResolvedConfig {
        original_host: host.to_string(),
        hostname,
        port,
        user,
        tokens,
        store,
        home: opts.home.clone(),
        env: EnvLookup(opts.env.clone()),
        algorithms,
        load: opts.clone(),
    })
}

/// ssh.c refuses a ProxyJump whose last hop is the destination itself
/// (same host, port and user): "jumphost loop via HOST".
fn check_jump_loop(s: &Setting, host: &str, port: u16, user: &str) -> Result<(), ConfigError> {
    let spec = &s.args[0];
    if spec.eq_ignore_ascii_case("none") {
        return Ok(());
    }
    let last = spec.rsplit(',').next().unwrap_or(spec);
    let (jump_user, host_port) = match last.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => (user, last),
    };
    let (jump_host, jump_port) = match host_port.strip_prefix('[') {
        Some(b) => match b.split_once(']') {
            Some((h, rest)) => (h, rest.strip_prefix(':')),
            None => (host_port, None),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (host_port, None),
        },
    };
    let jump_port = jump_port.and_then(|p| p.parse::<u16>().ok()).unwrap_or(22);
    if jump_host == host && jump_port == port && jump_user == user {
        return Err(s.error(format!("jumphost loop via {jump_host}")));
    }
    Ok(())
}

impl ResolvedConfig {
    /// The host as given (the alias).
    pub fn host(&self) -> &str {
        &self.original_host
    }

    /// The host to connect to: `HostName` (`%h` expanded) or the alias,
    /// lower-cased as ssh does.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// `Port` (22 by default).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `User` (the local user by default).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The local user's home directory the configuration was read with
    /// (`~` in paths, the default identity and known_hosts files).
    pub fn local_home(&self) -> &std::path::Path {
        &self.home
    }

    /// The `%` token values for this host.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The words of any single-valued option, by keyword (any case), as
    /// stored (normalised, not expanded); `None` if never set. Options
    /// conch does not act on yet are here too.
    pub fn get(&self, keyword: &str) -> Option<&[String]> {
        let key = kind_of(keyword).map(|(k, _)| k)?;
        self.store.single.get(key).map(|s| s.args.as_slice())
    }

    pub(crate) fn setting(&self, key: &str) -> Option<&Setting> {
        self.store.single.get(key)
    }

    pub(crate) fn settings(&self, key: &str) -> &[Setting] {
        self.store
            .multi
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// ssh's expansion of a path: `~`, then `%` tokens, then `${ENV}`.
    fn expand_path(&self, s: &Setting, word: &str) -> Result<PathBuf, ConfigError> {
        let t = tilde_expand(word, &self.home);
        let t = percent_expand(&t, &self.tokens).map_err(|m| s.error(m))?;
        let t = env_expand(&t, &*self.env.0).map_err(|m| s.error(m))?;
        Ok(PathBuf::from(t))
    }

    fn flag(&self, key: &str, default: bool) -> bool {
        match self.setting(key).and_then(|s| s.args.first()) {
            Some(v) => v == "yes" || v == "true",
            None => default,
        }
    }

    fn number(&self, key: &str, default: u32) -> u32 {
        self.setting(key)
            .and_then(|s| s.args[0].parse().ok())
            .unwrap_or(default)
    }

    /// `IdentityFile`s in order, expanded; empty when none is configured
    /// (the caller then tries the default identities).
    pub fn identity_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        self.settings("identityfile")
            .iter()
            .map(|s| self.expand_path(s, &s.args[0]))
            .collect()
    }

    /// `CertificateFile`s in order, expanded.
    pub fn certificate_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        self.settings("certificatefile")
            .iter()
            .map(|s| self.expand_path(s, &s.args[0]))
            .collect()
    }

    /// `UserKnownHostsFile`s, expanded (default `~/.ssh/known_hosts
    /// ~/.ssh/known_hosts2`).
    pub fn user_known_hosts_files(&self) -> Result<Vec<PathBuf>, ConfigError> {
        match self.setting("userknownhostsfile") {
            Some(s) => s.args.iter().map(|w| self.expand_path(s, w)).collect(),
            None => Ok(vec![
                self.home.join(".ssh/known_hosts"),
                self.home.join(".ssh/known_hosts2"),
            ]),
        }
    }

    /// `GlobalKnownHostsFile`s (default [`crate::GLOBAL_KNOWN_HOSTS_FILES`]).
    pub fn global_known_hosts_files(&self) -> Vec<PathBuf> {
        match self.setting("globalknownhostsfile") {
            Some(s) => s.args.iter().map(PathBuf::from).collect(),
            None => crate::GLOBAL_KNOWN_HOSTS_FILES
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }

    /// `IdentityAgent`, expanded (`None` if unset).
    pub fn identity_agent(&self) -> Result<Option<PathBuf>, ConfigError> {
        self.setting("identityagent")
            .map(|s| self.expand_path(s, &s.args[0]))
            .transpose()
    }

    /// `IdentitiesOnly`.
    pub fn identities_only(&self) -> bool {
        self.flag("identitiesonly", false)
    }

    /// `BatchMode`.
    pub fn batch_mode(&self) -> bool {
        self.flag("batchmode", false)
    }

    /// `CheckHostIP` (off by default since OpenSSH 8.5).
    pub fn check_host_ip(&self) -> bool {
        self.flag("checkhostip", false)
    }

    /// `HashKnownHosts`.
    pub fn hash_known_hosts(&self) -> bool {
        self.flag("hashknownhosts", false)
    }

    /// `ExitOnForwardFailure`.
    pub fn exit_on_forward_failure(&self) -> bool {
        self.flag("exitonforwardfailure", false)
    }

    /// `GatewayPorts`: whether local (`-L`, `-D`) listeners with no bind
    /// address listen on every address rather than loopback.
    pub fn gateway_ports(&self) -> bool {
        self.flag("gatewayports", false)
    }

    /// `Compression`.
    pub fn compression(&self) -> bool {
        self.flag("compression", false)
    }

    /// `PasswordAuthentication`.
    pub fn password_authentication(&self) -> bool {
        self.flag("passwordauthentication", true)
    }

    /// `KbdInteractiveAuthentication`.
    pub fn kbd_interactive_authentication(&self) -> bool {
        self.flag("kbdinteractiveauthentication", true)
    }

    /// `PubkeyAuthentication` (`unbound` and `host-bound` count as on).
    pub fn pubkey_authentication(&self) -> bool {
        self.setting("pubkeyauthentication")
            .is_none_or(|s| s.args[0] != "false")
    }

    /// `StrictHostKeyChecking`.
    pub fn strict_host_key_checking(&self) -> StrictHostKeyChecking {
        match self
            .setting("stricthostkeychecking")
            .map(|s| s.args[0].as_str())
        {
            Some("true") => StrictHostKeyChecking::Yes,
            Some("false") => StrictHostKeyChecking::No,
            Some("accept-new") => StrictHostKeyChecking::AcceptNew,
            _ => StrictHostKeyChecking::Ask,
        }
    }

    /// `ServerAliveInterval` (`None`: off).
    pub fn server_alive_interval(&self) -> Option<Duration> {
        Some(self.number("serveraliveinterval", 0))
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s.into()))
    }

    /// `ServerAliveCountMax` (3).
    pub fn server_alive_count_max(&self) -> u32 {
        self.number("serveralivecountmax", 3)
    }

    /// `ConnectTimeout` (`None`: the system's TCP timeout).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.setting("connecttimeout")
            .and_then(|s| s.args[0].parse::<u64>().ok())
            .map(Duration::from_secs)
    }

    /// `ConnectionAttempts` (1).
    pub fn connection_attempts(&self) -> u32 {
        self.number("connectionattempts", 1)
    }

    /// `NumberOfPasswordPrompts` (3).
    pub fn number_of_password_prompts(&self) -> u32 {
        self.number("numberofpasswordprompts", 3)
    }

    /// The resolved algorithm list of `slot`, most preferred first.
    pub fn algorithms(&self, slot: Slot) -> &[String] {
        self.algorithms
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, l)| l.as_slice())
            .unwrap_or_default()
    }

    /// `ProxyJump` as written (`None` if unset or `none`).
    pub fn proxy_jump(&self) -> Option<&str> {
        self.setting("proxyjump")
            .map(|s| s.args[0].as_str())
            .filter(|v| !v.eq_ignore_ascii_case("none"))
    }

    /// `ProxyJump`'s jump hosts, first hop first (none if unset or
    /// `none`).
    pub fn proxy_jump_hosts(&self) -> Result<Vec<JumpHost>, ConfigError> {
        let Some(s) = self
            .setting("proxyjump")
            .filter(|s| !s.args[0].eq_ignore_ascii_case("none"))
        else {
            return Ok(Vec::new());
        };
        parse_proxy_jump(&s.args[0]).map_err(|m| s.error(m))
    }

    /// The files, system view and command line this was resolved with
    /// (for [`crate::ssh_config::ConfigBuilder`], without the builder's own
    /// options): what its jump hosts are resolved with.
    pub fn load_options(&self) -> &LoadOptions {
        &self.load
    }

    pub(crate) fn with_load_options(mut self, load: LoadOptions) -> Self {
        self.load = load;
        self
    }

    /// `ProxyCommand` with its tokens (`%h %k %n %p %r %%`) expanded
    /// (`None` if unset or `none`).
    pub fn proxy_command(&self) -> Result<Option<String>, ConfigError> {
        let Some(s) = self.setting("proxycommand").filter(|s| s.args[0] != "none") else {
            return Ok(None);
        };
        // sshconnect.c `expand_proxy_command`: %h %k %n %p %r only.
        percent_expand_only(&s.args[0], &self.tokens, "hknpr%")
            .map(Some)
            .map_err(|m| s.error(m))
    }

    /// `RemoteCommand` with its tokens expanded.
    pub fn remote_command(&self) -> Result<Option<String>, ConfigError> {
        let Some(s) = self
            .setting("remotecommand")
            .filter(|s| s.args[0] != "none")
        else {
            return Ok(None);
        };
        percent_expand(&s.args[0], &self.tokens)
            .map(Some)
            .map_err(|m| s.error(m))
    }

    /// Local (with a destination) or dynamic (without) forwards, which
    /// share one list in file order.
    pub(crate) fn local_and_dynamic(&self) -> Vec<Forward> {
        // Checked when read, so parsing again cannot fail.
        self.settings("localforward")
            .iter()
            .filter_map(|s| {
                let kind = if s.args.len() == 1 {
                    ForwardKind::Dynamic
                } else {
                    ForwardKind::Local
                };
                parse_forward(kind, &s.args).ok()
            })
            .collect()
    }

    /// `LocalForward`s, in order.
    pub fn local_forwards(&self) -> Vec<Forward> {
        self.local_and_dynamic()
            .into_iter()
            .filter(|f| f.connect.is_some())
            .collect()
    }

    /// `RemoteForward`s, in order (no destination: a remote dynamic
    /// forward).
    pub fn remote_forwards(&self) -> Vec<Forward> {
        self.settings("remoteforward")
            .iter()
            .filter_map(|s| parse_forward(ForwardKind::Remote, &s.args).ok())
            .collect()
    }

    /// `DynamicForward`s, in order.
    pub fn dynamic_forwards(&self) -> Vec<Forward> {
        self.local_and_dynamic()
            .into_iter()
            .filter(|f| f.connect.is_none())
            .collect()
    }

    /// `SendEnv` name patterns.
    pub fn send_env(&self) -> Vec<String> {
        self.settings("sendenv")
            .iter()
            .map(|s| s.args[0].clone())
            .collect()
    }

    /// `SetEnv` pairs.
    pub fn set_env(&self) -> Vec<(String, String)> {
        self.setting("setenv")
            .map(|s| {
                s.args
                    .iter()
                    .filter_map(|a| {
                        a.split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `PreferredAuthentications` (`None`: conch's order).
    pub fn preferred_authentications(&self) -> Option<Vec<String>> {
        self.setting("preferredauthentications")
            .map(|s| s.args[0].split(',').map(String::from).collect())
    }

    /// `RekeyLimit`: bytes (0: the cipher's default) and time (`None`).
    pub fn rekey_limit(&self) -> (u64, Option<Duration>) {
        let v = self
            .setting("rekeylimit")
            .map(|s| s.args[0].clone())
            .unwrap_or_else(|| "0 0".into());
        let mut it = v.split(' ').map(|n| n.parse::<u64>().unwrap_or(0));
        let bytes = it.next().unwrap_or(0);
        let secs = it.next().unwrap_or(0);
        (bytes, (secs > 0).then(|| Duration::from_secs(secs)))
    }

    /// The printed value of a choice or flag option (`requesttty`,
    /// `loglevel`, `addressfamily`, `forwardagent`...), default included.
    pub fn value(&self, keyword: &str) -> Option<String> {
        let (key, kind) = kind_of(keyword)?;
        if let Some(s) = self.setting(key) {
            return Some(s.args.join(" "));
        }
        super::dump::default_of(key, kind)
    }
}
