//! `ssh -G`'s output (OpenSSH 9.2 `dump_client_config`): one option per
//! line, lower-case keyword, a space, the value in ssh's spelling, in
//! ssh's order; only the options conch supports.

use super::options::{Endpoint, Kind, Slot};
use super::resolved::ResolvedConfig;
use super::ConfigError;

/// The options printed, in `dump_client_config`'s order.
const ORDER: &[&str] = &[
    "addressfamily",
    "batchmode",
    "checkhostip",
    "compression",
    "exitonforwardfailure",
    "hashknownhosts",
    "identitiesonly",
    "kbdinteractiveauthentication",
    "passwordauthentication",
    "pubkeyauthentication",
    "requesttty",
    "stricthostkeychecking",
    "tcpkeepalive",
    "connectionattempts",
    "numberofpasswordprompts",
    "serveralivecountmax",
    "serveraliveinterval",
    "ciphers",
    "hostkeyalgorithms",
    "identityagent",
    "kexalgorithms",
    "remotecommand",
    "loglevel",
    "macs",
    "preferredauthentications",
    "pubkeyacceptedalgorithms",
    "dynamicforward",
    "localforward",
    "remoteforward",
    "identityfile",
    "certificatefile",
    "globalknownhostsfile",
    "userknownhostsfile",
    "sendenv",
    "setenv",
    "forwardagent",
    "connecttimeout",
    "rekeylimit",
    "proxyjump",
    "proxycommand",
];

/// The options `conch -G` prints (after `host`, `user`, `hostname` and
/// `port`), lower case.
pub const PRINTED_OPTIONS: &[&str] = ORDER;

/// The value ssh prints for an option never set (`fill_default_options`).
pub(crate) fn default_of(key: &str, _kind: Kind) -> Option<String> {
    Some(
        match key {
            "addressfamily" => "any",
            "batchmode"
            | "checkhostip"
            | "compression"
            | "exitonforwardfailure"
            | "hashknownhosts"
            | "identitiesonly"
            | "forwardagent" => "no",
            "kbdinteractiveauthentication" | "passwordauthentication" | "tcpkeepalive" => "yes",
            "pubkeyauthentication" => "true",
            "requesttty" => "auto",
            "stricthostkeychecking" => "ask",
            "connectionattempts" => "1",
            "numberofpasswordprompts" | "serveralivecountmax" => "3",
            "serveraliveinterval" => "0",
            "loglevel" => "INFO",
            "connecttimeout" => "none",
            "rekeylimit" => "0 0",
            _ => return None,
        }
        .to_string(),
    )
}

impl ResolvedConfig {
    /// The configuration as `ssh -G` prints it, for the options conch
    /// supports ([`PRINTED_OPTIONS`]). Paths ssh expands before printing
    /// (`UserKnownHostsFile`, `IdentityAgent`) and `RemoteCommand` are
    /// expanded; `IdentityFile`, `CertificateFile`, `ProxyCommand` and
    /// `ProxyJump` are printed as written, as ssh does.
    pub fn to_ssh_g(&self) -> Result<String, ConfigError> {
        let mut out = String::new();
        let mut put = |k: &str, v: &str| {
            out.push_str(k);
            out.push(' ');
            out.push_str(v);
            out.push('\n');
        };
        put("host", self.host());
        put("user", self.user());
        put("hostname", self.hostname());
        put("port", &self.port().to_string());
        for &key in ORDER {
            let algorithms = |slot| self.algorithms(slot).join(",");
            match key {
                "ciphers" => put(key, &algorithms(Slot::Cipher)),
                "macs" => put(key, &algorithms(Slot::Mac)),
                "kexalgorithms" => put(key, &algorithms(Slot::Kex)),
                "hostkeyalgorithms" => put(key, &algorithms(Slot::HostKey)),
                "pubkeyacceptedalgorithms" => put(key, &algorithms(Slot::PubkeyAccepted)),
                "identityagent" => {
                    if let Some(p) = self.identity_agent()? {
                        put(key, &p.display().to_string());
                    }
                }
                "remotecommand" => {
                    if let Some(c) = self.remote_command()? {
                        put(key, &c);
                    }
                }
                "proxycommand" => {
                    // ssh prints ProxyCommand only without ProxyJump.
                    // `none` is cleared (readconf.c CLEAR_ON_NONE).
                    if self.setting("proxyjump").is_none() {
                        if let Some(s) = self.setting(key).filter(|s| s.args[0] != "none") {
                            put(key, &s.args[0]);
                        }
                    }
                }
                "proxyjump" => {
                    if let Some(j) = self.proxy_jump() {
                        put(key, j);
                    }
                }
                "preferredauthentications" => {
                    if let Some(s) = self.setting(key) {
                        put(key, &s.args[0]);
                    }
                }
                "dynamicforward" => {
                    // OpenSSH 9.2's dump_cfg_forwards prints, besides the
                    // dynamic forwards, the listen side of every local
                    // forward to a Unix socket (its destination has no
                    // host); conch prints what ssh prints.
                    for f in self.local_and_dynamic() {
                        if matches!(f.connect, None | Some(Endpoint::Path(_))) {
                            put(key, &f.listen.to_ssh_string());
                        }
                    }
                }
                "localforward" => {
                    for f in self.local_forwards() {
                        if let Some(c) = f.connect {
                            put(
                                key,
                                &format!("{} {}", f.listen.to_ssh_string(), c.to_ssh_string()),
                            );
                        }
                    }
                }
                "remoteforward" => {
                    for f in self.remote_forwards() {
                        // A remote dynamic forward: ssh's destination is
                        // the placeholder `socks` port 0.
                        let c = f
                            .connect
                            .map_or_else(|| "[socks]:0".to_string(), |c| c.to_ssh_string());
                        put(key, &format!("{} {c}", f.listen.to_ssh_string()));
                    }
                }
                "identityfile" => {
                    let set = self.settings(key);
                    if set.is_empty() {
                        for name in crate::DEFAULT_IDENTITY_FILES {
                            put(key, &format!("~/.ssh/{name}"));
                        }
                    }
                    for s in set {
                        put(key, &s.args[0]);
                    }
                }
                "certificatefile" | "sendenv" => {
                    for s in self.settings(key) {
                        put(key, &s.args[0]);
                    }
                }
                "setenv" => {
                    for (k, v) in self.set_env() {
                        put(key, &format!("{k}={v}"));
                    }
                }
                "globalknownhostsfile" => {
                    let files: Vec<String> = self
                        .global_known_hosts_files()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    put(key, &files.join(" "));
                }
                "userknownhostsfile" => {
                    let files: Vec<String> = self
                        .user_known_hosts_files()?
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    put(key, &files.join(" "));
                }
                _ => {
                    if let Some(v) = self.value(key) {
                        put(key, &v);
                    }
                }
            }
        }
        Ok(out)
    }
}
