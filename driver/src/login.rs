//! What a served command starts with, as sshd(8) sets it up: the account
//! it runs as, its environment (built from scratch, never inherited from
//! the server process), and which `env` requests a client may make
//! ([`AcceptEnv`], sshd_config(5)'s `AcceptEnv`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The `PATH` commands get unless told otherwise: OpenSSH's default
/// (`_PATH_STDPATH` plus `/usr/local/bin`, as Debian's sshd sets it).
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// The local account a command runs as: what sshd(8) reads from the
/// password database for `USER`, `LOGNAME`, `HOME` and `SHELL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Home directory (the command's working directory).
    pub home: PathBuf,
    /// Login shell: runs `exec` commands (`SHELL -c COMMAND`) and is the
    /// `shell` request's program.
    pub shell: PathBuf,
}

impl Account {
    /// The account this process runs as (commands run as the server's
    /// user), from the password database; `None` if it has no entry.
    #[cfg(unix)]
    pub fn current() -> Option<Account> {
        let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok()??;
        let shell = if user.shell.as_os_str().is_empty() {
            // passwd(5): an empty shell field means /bin/sh.
            PathBuf::from("/bin/sh")
        } else {
            user.shell
        };
        Some(Account {
            name: user.name,
            home: user.dir,
            shell,
        })
    }

    /// No password database to read.
    #[cfg(not(unix))]
    pub fn current() -> Option<Account> {
        None
    }

    /// The current account, or `name` with `/` as its home and `/bin/sh`
    /// as its shell when the database has no entry.
    pub fn current_or(name: &str) -> Account {
        Account::current().unwrap_or_else(|| Account {
            name: name.to_string(),
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
        })
    }
}

/// Which client `env` requests (RFC 4254 section 6.4) are accepted:
/// sshd_config(5)'s `AcceptEnv`, patterns with `*` and `?` matched against
/// the variable's name. sshd accepts none by default; [`AcceptEnv::default`]
/// is Debian's `AcceptEnv LANG LC_*`, the locale only. A client must never
/// set `LD_PRELOAD`, `PATH` or `BASH_ENV`: list only names that cannot
/// change what runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptEnv {
    patterns: Vec<String>,
}

impl Default for AcceptEnv {
    fn default() -> Self {
        AcceptEnv::new(["LANG", "LC_*"])
    }
}

impl AcceptEnv {
    /// Accepts the names matching any of `patterns`.
    pub fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        AcceptEnv {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Accepts nothing (sshd's own default).
    pub fn none() -> Self {
        AcceptEnv::new(Vec::<String>::new())
    }

    /// The patterns.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a client may set `name`. A name with `=` or a NUL byte is
    /// never accepted (it would not be one variable).
    pub fn allows(&self, name: &str) -> bool {
        !name.is_empty()
            && !name.contains(['=', '\0'])
            && self
                .patterns
                .iter()
                .any(|p| wildcard_match(p.as_bytes(), name.as_bytes()))
    }
}

/// sshd's `match_pattern`: `*` any run of characters, `?` any one.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard_match(rest, &text[skip..])),
        Some((&p, rest)) => match text.split_first() {
            Some((&t, text_rest)) if p == b'?' || p == t => wildcard_match(rest, text_rest),
            _ => false,
        },
    }
}

/// Where a session's connection comes from and arrives:
/// `SSH_CONNECTION` and `SSH_CLIENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionAddrs {
    /// The client's address.
    pub client: SocketAddr,
    /// The server's address the client connected to.
    pub server: SocketAddr,
}

/// How commands are set up (see [`crate::process::serve_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetup {
    /// The account the commands run as.
    pub account: Account,
    /// The `PATH` they get.
    pub path: String,
    /// The connection's addresses, for `SSH_CONNECTION` and `SSH_CLIENT`.
    pub addrs: Option<ConnectionAddrs>,
}

impl SessionSetup {
    /// Commands run as the current account with [`DEFAULT_PATH`].
    pub fn current_account() -> Self {
        SessionSetup {
            account: Account::current_or("nobody"),
            path: DEFAULT_PATH.to_string(),
            addrs: None,
        }
    }

    /// The same with the connection's addresses.
    pub fn with_addrs(mut self, client: SocketAddr, server: SocketAddr) -> Self {
        self.addrs = Some(ConnectionAddrs { client, server });
        self
    }

    /// The environment of a command, in sshd(8)'s order (`do_setup_env` in
    /// OpenSSH's session.c): `USER`, `LOGNAME`, `HOME`, `PATH`, `SHELL`,
    /// `TERM` with a terminal, then the client's accepted `env` requests
    /// (which may override those), then what the client cannot set:
    /// `SSH_CLIENT`, `SSH_CONNECTION`, `SSH_TTY`, and `extra` (the agent
    /// socket). Nothing comes from the server process's own environment.
    pub fn environment(
        &self,
        term: Option<&str>,
        tty: Option<&str>,
        client_env: &[(String, String)],
        extra: &[(String, OsString)],
    ) -> Vec<(String, OsString)> {
        let account = &self.account;
        let mut env: Vec<(String, OsString)> = Vec::new();
        let mut set = |name: &str, value: OsString| {
            env.retain(|(n, _)| n != name);
            env.push((name.to_string(), value));
        };
        set("USER", account.name.clone().into());
        set("LOGNAME", account.name.clone().into());
        set("HOME", account.home.clone().into());
        set("PATH", self.path.clone().into());
        set("SHELL", account.shell.clone().into());
        if let Some(term) = term {
            set("TERM", term.into());
        }
        for (name, value) in client_env {
            set(name, value.into());
        }
        if let Some(ConnectionAddrs { client, server }) = self.addrs {
            let (cip, cport) = (client.ip().to_canonical(), client.port());
            let (sip, sport) = (server.ip().to_canonical(), server.port());
            set("SSH_CLIENT", format!("{cip} {cport} {sport}").into());
            set(
                "SSH_CONNECTION",
                format!("{cip} {cport} {sip} {sport}").into(),
            );
        }
        if let Some(tty) = tty {
            set("SSH_TTY", tty.into());
        }
        for (name, value) in extra {
            set(name, value.clone());
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_env_matches_sshd_patterns_and_refuses_what_changes_programs() {
        let default = AcceptEnv::default();
        for name in ["LANG", "LC_ALL", "LC_CTYPE", "LC_"] {
            assert!(default.allows(name), "{name}");
        }
        for name in [
            "LD_PRELOAD",
            "PATH",
            "BASH_ENV",
            "LANGUAGE",
            "XLC_ALL",
            "",
            "LC_A=B",
        ] {
            assert!(!default.allows(name), "{name}");
        }
        let custom = AcceptEnv::new(["GIT_?", "*_COLOR"]);
        assert!(custom.allows("GIT_X"));
        assert!(!custom.allows("GIT_XY"));
        assert!(custom.allows("TERM_COLOR"));
        assert!(!AcceptEnv::none().allows("LANG"));
    }

    #[test]
    fn the_environment_is_built_not_inherited_and_the_client_cannot_spoof_ssh_variables() {
        let setup = SessionSetup {
            account: Account {
                name: "alice".into(),
                home: "/home/alice".into(),
                shell: "/bin/bash".into(),
            },
            path: "/usr/bin:/bin".into(),
            addrs: None,
        }
        .with_addrs(
            "[::ffff:10.0.0.2]:50000".parse().unwrap(),
            "10.0.0.1:22".parse().unwrap(),
        );
        let env = setup.environment(
            Some("xterm-256color"),
            Some("/dev/pts/3"),
            &[
                ("LANG".into(), "C.UTF-8".into()),
                ("SSH_TTY".into(), "/dev/null".into()),
            ],
            &[],
        );
        let get = |n: &str| {
            env.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("USER").as_deref(), Some("alice"));
        assert_eq!(get("LOGNAME").as_deref(), Some("alice"));
        assert_eq!(get("HOME").as_deref(), Some("/home/alice"));
        assert_eq!(get("SHELL").as_deref(), Some("/bin/bash"));
        assert_eq!(get("PATH").as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(get("TERM").as_deref(), Some("xterm-256color"));
        assert_eq!(get("LANG").as_deref(), Some("C.UTF-8"));
        assert_eq!(get("SSH_TTY").as_deref(), Some("/dev/pts/3"));
        assert_eq!(
            get("SSH_CONNECTION").as_deref(),
            Some("10.0.0.2 50000 10.0.0.1 22")
        );
        assert_eq!(get("SSH_CLIENT").as_deref(), Some("10.0.0.2 50000 22"));
        assert_eq!(env.len(), 10, "{env:?}");
    }
}
