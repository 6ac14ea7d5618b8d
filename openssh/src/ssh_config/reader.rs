//! Reading configuration files as OpenSSH's `readconf.c` reads them:
//! `Host` and `Match` blocks, `Include`, first value wins, accumulating
//! options, `IgnoreUnknown`, and every value checked as it is read (in
//! blocks that do not apply too, so a mistake shows whatever the host).

use super::algorithms::{check_algorithm_spec, conch_algorithms};
use super::expand::{percent_expand, percent_expand_only, tilde_expand, Tokens};
use super::lex::split_line;
use super::options::{kind_of, parse_forward, parse_value, ForwardKind, Kind};
use super::pattern::{host_line_matches, match_list, wildcard_match};
use super::{ConfigError, LoadOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// ssh's `READCONF_MAX_DEPTH`: Include nesting deeper than this is an error.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest configuration file read, in bytes (ssh has no limit; a bound
/// keeps a mistaken `Include /dev/zero`-like path from exhausting memory).
pub const MAX_FILE_SIZE: u64 = 4 << 20;
/// Longest line accepted, in bytes.
pub const MAX_LINE_LEN: usize = 64 << 10;
/// Most files read in one resolution, Includes counted.
pub const MAX_FILES: usize = 1024;
/// ssh's `SSH_MAX_IDENTITY_FILES` (and its limit for certificate files).
pub const MAX_IDENTITY_FILES: usize = 100;
/// ssh's `SSH_MAX_HOSTS_FILES`.
pub const MAX_HOSTS_FILES: usize = 16;

/// One stored value and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The words, normalised (see the options module).
    pub args: Vec<String>,
    /// The file (`command-line` for `-o`).
    pub file: String,
    /// The line number (0 for the command line).
    pub line: usize,
}

impl Setting {
    /// An error about this setting, naming its file and line.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.file, self.line, message)
    }
}

/// Every value obtained: one per single-valued keyword (the first), a
/// list per accumulating keyword.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Store {
    pub single: BTreeMap<&'static str, Setting>,
    pub multi: BTreeMap<&'static str, Vec<Setting>>,
}

impl Store {
    pub fn first(&self, key: &str) -> Option<&str> {
        self.single
            .get(key)
            .and_then(|s| s.args.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Copy)]
struct Flags {
    /// A user file (relative Includes are under `~/.ssh`) or the system
    /// one (under `/etc/ssh`).
    user_conf: bool,
    /// Inside an Include read from a block that did not apply: no `Host`
    /// or `Match` in it applies either (`SSHCONF_NEVERMATCH`).
    never_match: bool,
    /// `-o` on the command line: always active, no Include.
    command_line: bool,
    /// The file must belong to the user (or root) and be writable by
    /// nobody else (`SSHCONF_CHECKPERM`: `~/.ssh/config` and every
    /// included file).
    check_perm: bool,
}

/// One pass over the configuration.
pub(crate) struct Reader<'a> {
    opts: &'a LoadOptions,
    original_host: &'a str,
    /// The name `Host` lines match: the argument in the first pass, the
    /// resolved host name in the final one.
    host: String,
    post_canon: bool,
    pub want_final: bool,
    pub store: Store,
    files_read: usize,
}

impl<'a> Reader<'a> {
    pub fn new(
        opts: &'a LoadOptions,
        original_host: &'a str,
        host: String,
        post_canon: bool,
        store: Store,
    ) -> Self {
        Reader {
            opts,
            original_host,
            host,
            post_canon,
            want_final: false,
            store,
            files_read: 0,
        }
    }

    /// `-o` lines: always active, processed before any file.
    pub fn command_line(&mut self, line: &str) -> Result<(), ConfigError> {
        let flags = Flags {
            user_conf: true,
            never_match: false,
            command_line: true,
            check_perm: false,
        };
        let mut active = true;
        self.line("command-line", 0, line, &mut active, flags, 0)
    }

    /// Reads `path` if it exists. `Ok(false)` if it does not. With
    /// `check_perm`, as ssh reads `~/.ssh/config`: a file another user
    /// owns or may write is refused.
    pub fn read_top(
        &mut self,
        path: &Path,
        user_conf: bool,
        check_perm: bool,
    ) -> Result<bool, ConfigError> {
        let flags = Flags {
            user_conf,
            never_match: false,
            command_line: false,
            check_perm,
        };
        let mut active = true;
        self.file(path, flags, &mut active, 0)
    }

    fn file(
        &mut self,
        path: &Path,
        flags: Flags,
        active: &mut bool,
        depth: usize,
    ) -> Result<bool, ConfigError> {
        let name = path.display().to_string();
        if depth > MAX_INCLUDE_DEPTH {
            return Err(ConfigError::at(
                &name,
                0,
                "Too many recursive configuration includes",
            ));
        }
        self.files_read += 1;
        if self.files_read > MAX_FILES {
            return Err(ConfigError::at(
                &name,
                0,
                format!("more than {MAX_FILES} configuration files"),
            ));
        }
        let text = match read_bounded(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(ConfigError::at(
                    &name,
                    0,
                    format!("Can't open user config file: {e}"),
                ))
            }
        };
        if flags.check_perm && !self.owned_safely(path) {
            // readconf.c `read_config_file_depth`: fatal, as ssh.
            return Err(ConfigError::at(
                &name,
                0,
                format!("Bad owner or permissions on {name}"),
            ));
        }
        for (i, line) in text.split('\n').enumerate() {
            if line.len() > MAX_LINE_LEN {
                return Err(ConfigError::at(
                    &name,
                    i + 1,
                    format!("line longer than {MAX_LINE_LEN} bytes"),
                ));
            }
            self.line(&name, i + 1, line, active, flags, depth)?;
        }
        Ok(true)
    }

    fn line(
        &mut self,
        file: &str,
        n: usize,
        text: &str,
        active: &mut bool,
        flags: Flags,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let err = |m: String| ConfigError::at(file, n, m);
        let Some(line) = split_line(text).map_err(err)? else {
            return Ok(());
        };
        let keyword = line.keyword.to_ascii_lowercase();
        let args = &line.args;
        let setting = |args: Vec<String>| Setting {
            args,
            file: file.to_string(),
            line: n,
        };
        match keyword.as_str() {
            "host" => {
                if flags.command_line {
                    return Err(err(
                        "Host directive not supported as a command-line option".into()
                    ));
                }
                if args.is_empty() {
                    return Err(err("Missing argument.".into()));
                }
                *active = !flags.never_match && host_line_matches(&self.host, args);
                return Ok(());
            }
            "match" => {
                if flags.command_line {
                    return Err(err(
                        "Match directive not supported as a command-line option".into(),
                    ));
                }
                let m = self.match_line(args, flags).map_err(err)?;
                *active = !flags.never_match && m;
                return Ok(());
            }
            "include" => {
                if flags.command_line {
                    return Err(err(
                        "Include directive not supported as a command-line option".into(),
                    ));
                }
                return self.include(file, n, args, active, flags, depth);
            }
            "ignoreunknown" => {
                let a = args
                    .first()
                    .ok_or_else(|| err("Missing argument.".into()))?;
                if *active && !self.store.single.contains_key("ignoreunknown") {
                    self.store
                        .single
                        .insert("ignoreunknown", setting(vec![a.clone()]));
                }
                return Ok(());
            }
            _ => {}
        }
        let Some((key, kind)) = kind_of(&keyword) else {
            let ignored = self
                .store
                .first("ignoreunknown")
                .is_some_and(|list| match_list(&keyword, list, true) == 1);
            if ignored {
                return Ok(());
            }
            return Err(err(format!("Bad configuration option: {keyword}")));
        };
        let single_word = matches!(
            kind,
            Kind::Flag
                | Kind::Choice(_)
                | Kind::Int
                | Kind::Port
                | Kind::Time
                | Kind::Word
                | Kind::LogLevel
                | Kind::ForwardAgent
                | Kind::Algorithms(_)
                | Kind::AccumulateWord
        );
        if single_word && args.len() > 1 {
            return Err(err(format!(
                "keyword {keyword} extra arguments at end of line"
            )));
        }
        // ProxyJump and ProxyCommand exclude each other: whichever comes
        // first wins (readconf.c `parse_jump` and `oProxyCommand`).
        let other = match key {
            "proxyjump" => Some("proxycommand"),
            "proxycommand" => Some("proxyjump"),
            _ => None,
        };
        let first = !self.store.single.contains_key(key)
            && other.is_none_or(|o| !self.store.single.contains_key(o));
        match kind {
            Kind::Ignored => {}
            Kind::Rest => {
                // ssh keeps the rest of the line as written (quotes too).
                let rest = raw_rest(text);
                if rest.is_empty() {
                    return Err(err(format!("{}: missing argument.", line.keyword)));
                }
                if *active && first {
                    self.store.single.insert(key, setting(vec![rest]));
                }
            }
            Kind::Words | Kind::Known => {
                if args.is_empty() {
                    return Err(err(format!("{}: missing argument.", line.keyword)));
                }
                if kind == Kind::Words && args.len() > MAX_HOSTS_FILES {
                    return Err(err(format!(
                        "Too many known hosts files (max {MAX_HOSTS_FILES})."
                    )));
                }
                if *active && first {
                    self.store.single.insert(key, setting(args.clone()));
                }
            }
            Kind::AccumulateWord => {
                let a = args
                    .first()
                    .ok_or_else(|| err(format!("{}: missing argument.", line.keyword)))?;
                if *active {
                    let list = self.store.multi.entry(key).or_default();
                    // ssh's add_identity_file skips a file already listed.
                    if !list.iter().any(|s| s.args[0] == *a) {
                        if list.len() >= MAX_IDENTITY_FILES {
                            return Err(err(format!(
                                "Too many identity files specified (max {MAX_IDENTITY_FILES})"
                            )));
                        }
                        list.push(setting(vec![a.clone()]));
                    }
                }
            }
            Kind::Forward(fk) => {
                parse_forward(fk, args).map_err(err)?;
                if *active {
                    // Local and dynamic forwards are one list in ssh (a
                    // dynamic one has no destination), kept in file order.
                    let key = if fk == ForwardKind::Dynamic {
                        "localforward"
                    } else {
                        key
                    };
                    let list = self.store.multi.entry(key).or_default();
                    if !list.iter().any(|s| s.args == *args) {
                        list.push(setting(args.clone()));
                    }
                }
            }
            Kind::SendEnv => {
                for a in args {
                    if a.is_empty() || a.contains('=') {
                        return Err(err("Invalid environment name.".into()));
                    }
                }
                if *active {
                    let list = self.store.multi.entry(key).or_default();
                    for a in args {
                        match a.strip_prefix('-') {
                            // `SendEnv -PATTERN` removes names sent so far.
                            Some(pat) => list.retain(|s| !wildcard_match(&s.args[0], pat)),
                            None => list.push(setting(vec![a.clone()])),
                        }
                    }
                }
            }
            Kind::SetEnv => {
                if args.iter().any(|a| !a.contains('=')) {
                    return Err(err("Invalid SetEnv.".into()));
                }
                // OpenSSH 9.2: the first SetEnv line wins whole; a name
                // repeated within it keeps its first value.
                if *active && first {
                    let mut kept: Vec<String> = Vec::new();
                    for a in args {
                        let name = a.split('=').next().unwrap_or_default();
                        if !kept.iter().any(|k| k.split('=').next() == Some(name)) {
                            kept.push(a.clone());
                        }
                    }
                    self.store.single.insert(key, setting(kept));
                }
            }
            Kind::Algorithms(slot) => {
                let a = args
                    .first()
                    .ok_or_else(|| err(format!("{}: missing argument.", line.keyword)))?;
                check_algorithm_spec(a, slot, &conch_algorithms(slot)).map_err(err)?;
                if *active && first {
                    self.store.single.insert(key, setting(vec![a.clone()]));
                }
            }
            _ => {
                if kind == Kind::Rekey && args.len() > 2 {
                    return Err(err(format!(
                        "keyword {keyword} extra arguments at end of line"
                    )));
                }
                let v = parse_value(&line.keyword, kind, args).map_err(err)?;
                if *active && first {
                    self.store.single.insert(key, setting(vec![v]));
                }
            }
        }
        Ok(())
    }

    /// `match_cfg_line` of OpenSSH 9.2, criteria in order, all required.
    fn match_line(&mut self, args: &[String], flags: Flags) -> Result<bool, String> {
        let opts = self.opts;
        let host = match self.store.first("hostname") {
            Some(h) => percent_expand_only(h, &hostname_tokens(&self.host), HOSTNAME_TOKENS)?,
            None => self.host.clone(),
        };
        let ruser = self
            .store
            .first("user")
            .unwrap_or(&opts.local_user)
            .to_string();
        let mut result = true;
        let mut attributes = 0;
        let mut words = args.iter().peekable();
        while let Some(word) = words.next() {
            if word.starts_with('#') {
                break;
            }
            let (negate, attrib) = match word.strip_prefix('!') {
                Some(a) => (true, a.to_ascii_lowercase()),
                None => (false, word.to_ascii_lowercase()),
            };
            if attrib == "all" {
                let extra = words
                    .peek()
                    .is_some_and(|a| !a.is_empty() && !a.starts_with('#'));
                if attributes > 1 || extra {
                    return Err(format!(
                        "'{word}' cannot be combined with other Match attributes"
                    ));
                }
                return Ok(result && !negate);
            }
            attributes += 1;
            if attrib == "canonical" || attrib == "final" {
                // With CanonicalizeHostname off both hold only in the
                // final pass, which only `final` asks for (readconf.c).
                if attrib == "final" {
                    self.want_final = true;
                }
                if self.post_canon == negate {
                    result = false;
                }
                continue;
            }
            let arg = match words.next() {
                Some(a) if !a.is_empty() && !a.starts_with('#') => a,
                _ => return Err(format!("Missing Match criteria for {attrib}")),
            };
            let r = match attrib.as_str() {
                // match.c `match_hostname`: name and patterns lower-cased.
                "host" => match_list(&host.to_ascii_lowercase(), arg, true) == 1,
                "originalhost" => {
                    match_list(&self.original_host.to_ascii_lowercase(), arg, true) == 1
                }
                "user" => match_list(&ruser, arg, false) == 1,
                "localuser" => match_list(&opts.local_user, arg, false) == 1,
                "exec" => {
                    if !result || flags.never_match {
                        // ssh skips the command once a criterion failed.
                        continue;
                    }
                    let port = self
                        .store
                        .first("port")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(22);
                    let alias = self
                        .store
                        .first("hostkeyalias")
                        .unwrap_or(&host)
                        .to_string();
                    let tokens = Tokens {
                        host: host.clone(),
                        original_host: self.original_host.to_string(),
                        port,
                        remote_user: ruser.clone(),
                        local_user: opts.local_user.clone(),
                        local_host: opts.local_host.clone(),
                        home: opts.home.display().to_string(),
                        uid: opts.uid,
                        host_key_alias: alias,
                    };
                    let cmd = percent_expand(arg, &tokens)?;
                    opts.runner
                        .run(&cmd)
                        .map_err(|e| format!("match exec '{cmd}' error: {e}"))?
                }
                _ => return Err(format!("Unsupported Match attribute {attrib}")),
            };
            if r == negate {
                result = false;
            }
        }
        if attributes == 0 {
            return Err("One or more attributes required for Match".into());
        }
        Ok(result)
    }

    fn include(
        &mut self,
        file: &str,
        n: usize,
        args: &[String],
        active: &mut bool,
        flags: Flags,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let err = |m: String| ConfigError::at(file, n, m);
        if args.is_empty() {
            return Err(err("Include: missing argument.".into()));
        }
        for arg in args {
            if arg.is_empty() {
                return Err(err("keyword Include empty argument".into()));
            }
            if arg.starts_with('~') && !flags.user_conf {
                return Err(err(format!("bad include path {arg}.")));
            }
            // Relative paths live in ~/.ssh (user files) or /etc/ssh.
            let anchored = if arg.starts_with('/') || arg.starts_with('~') {
                arg.clone()
            } else if flags.user_conf {
                format!("~/.ssh/{arg}")
            } else {
                format!("{}/{arg}", self.opts.system_dir.display())
            };
            // glob(3) with GLOB_TILDE takes `~` from $HOME.
            let pattern = tilde_expand(&anchored, &self.opts.glob_home);
            let oactive = *active;
            for path in glob(&pattern) {
                let inner = Flags {
                    never_match: flags.never_match || !oactive,
                    check_perm: true,
                    ..flags
                };
                self.file(&path, inner, active, depth + 1)?;
                // A Match in the included file does not change the
                // including file's state.
                *active = oactive;
            }
        }
        Ok(())
    }
}

impl Reader<'_> {
    /// Owned by the user or root, and neither group- nor world-writable.
    #[cfg(unix)]
    fn owned_safely(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(m) => (m.uid() == 0 || m.uid() == self.opts.uid) && m.mode() & 0o022 == 0,
            Err(_) => false,
        }
    }

    #[cfg(not(unix))]
    fn owned_safely(&self, _path: &Path) -> bool {
        true
    }
}

/// The tokens `HostName` accepts (ssh_config(5) "TOKENS").
pub(crate) const HOSTNAME_TOKENS: &str = "h%";

/// HostName takes `%h` (and `%%`) only.
pub(crate) fn hostname_tokens(host: &str) -> Tokens {
    Tokens {
        host: host.to_string(),
        ..Tokens::default()
    }
}

/// The rest of a line after the keyword and its separator, unsplit.
fn raw_rest(text: &str) -> String {
    let t = text.trim_start_matches([' ', '\t']);
    let end = t.find([' ', '\t', '=']).unwrap_or(t.len());
    let rest = t[end..].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    rest.trim_start_matches([' ', '\t', '='])
        .trim_end_matches([' ', '\t', '\r'])
        .to_string()
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_SIZE} bytes"
        )));
    }
    // ssh reads bytes: a Latin-1 comment must not make the file an error.
    // Invalid sequences become U+FFFD (a path spelled in another encoding
    // would not be found).
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// glob(3) for Include: `*` and `?` in any component; names starting with
/// `.` only match a pattern starting with `.`; results sorted; only paths
/// that exist. (`[...]` classes are taken literally.)
pub(crate) fn glob(pattern: &str) -> Vec<PathBuf> {
    let magic = |s: &str| s.contains(['*', '?']);
    let mut current: Vec<PathBuf> = vec![if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &current {
            if !magic(comp) {
                next.push(base.join(comp));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    (!n.starts_with('.') || comp.starts_with('.')) && wildcard_match(n, comp)
                })
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        current = next;
        if current.len() > MAX_FILES {
            current.truncate(MAX_FILES);
        }
    }
    current.into_iter().filter(|p| p.exists()).collect()
}
