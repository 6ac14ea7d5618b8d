//! ssh_config(5) read exactly as OpenSSH's `ssh` reads it, and the
//! configuration it resolves for one host, as `ssh -G` prints it.
//!
//! What is read, in order (the first value obtained for an option wins,
//! ssh_config(5) "DESCRIPTION"):
//!
//! 1. the command line's `-o` options (and `-p`, `-l`), always applied;
//! 2. `-F FILE` alone, or nothing with `-F none`; otherwise
//!    `~/.ssh/config` then `/etc/ssh/ssh_config`.
//!
//! The rules, each as ssh_config(5) states it and OpenSSH 9.2's
//! `readconf.c` does it: keywords are case-insensitive and separated from
//! their arguments by whitespace or one `=`; arguments may be quoted;
//! `#` starts a comment. `Host` takes several patterns (`*`, `?`,
//! `!negated`); `Match` takes `all`, `host`, `originalhost`, `user`,
//! `localuser`, `exec` and `canonical`/`final` (which, with
//! `CanonicalizeHostname` off as in conch, hold only in the final pass
//! that `Match final` asks for: the files are read again with `Host`
//! matching the host name resolved by the first pass, whose `HostName`
//! stays). `Include` takes globs and `~`, relative to
//! `~/.ssh` (or `/etc/ssh` for the system file), nested up to
//! [`MAX_INCLUDE_DEPTH`]. `IdentityFile`, `CertificateFile`, the three
//! forwards and `SendEnv` accumulate; everything else keeps its first
//! value (`SetEnv` too: in OpenSSH 9.2 its first line wins). `%` tokens
//! (ssh_config(5) "TOKENS") and `${ENV}` are expanded by the accessors
//! that return paths and commands, as ssh does when it uses them.
//! Algorithm lists take `+`, `-`, `^`, resolved against conch_core's
//! defaults. An unknown keyword is an error naming file and line unless
//! `IgnoreUnknown` lists it; so is a bad value, even in a block that
//! does not apply to the host (ssh checks every line).
//!
//! ```
//! use conch_openssh::ssh_config::{LoadOptions, SshConfig};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("conch-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let file = dir.join("config");
//! std::fs::write(&file, "Host db\n  HostName db.example.org\n  Port 2222\n  User alice\n")?;
//! let options = LoadOptions::isolated(&dir).with_file(&file);
//! let config = SshConfig::load("db", &options)?;
//! assert_eq!(config.hostname(), "db.example.org");
//! assert_eq!(config.port(), 2222);
//! assert_eq!(config.user(), "alice");
//! // The same without a file:
//! let built = SshConfig::builder("db")
//!     .option("HostName", "db.example.org")
//!     .option("Port", "2222")
//!     .build(&LoadOptions::isolated(&dir))?;
//! assert_eq!(built.port(), 2222);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! # demo().unwrap();
//! ```

mod algorithms;
mod dump;
mod exec;
mod expand;
mod jump;
mod lex;
mod options;
mod pattern;
mod reader;
mod resolved;
#[cfg(test)]
mod tests;

pub use algorithms::{check_algorithm_spec, conch_algorithms, resolve_algorithms, AlgorithmSet};
pub use dump::PRINTED_OPTIONS;
pub use exec::{CommandRunner, NoExec, ShellRunner};
pub use expand::{env_expand, parse_duration, percent_expand, tilde_expand, Tokens};
pub use jump::{parse_proxy_jump, JumpHost};
pub use options::{Endpoint, Forward, Slot};
pub use pattern::{host_line_matches, wildcard_match};
pub use reader::{Setting, MAX_FILES, MAX_FILE_SIZE, MAX_INCLUDE_DEPTH, MAX_LINE_LEN};
pub use resolved::{ResolvedConfig, StrictHostKeyChecking};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A configuration error: the file, the line, and what is wrong, as
/// ssh words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {message}")]
pub struct ConfigError {
    /// The file (`command-line` for `-o` options).
    pub file: String,
    /// The line, from 1 (0 when the error is about the whole file).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn at(file: &str, line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// Looks up an environment variable (for `${NAME}` in paths).
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Which files are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFiles {
    /// `~/.ssh/config` then the system file, as ssh without `-F`.
    Default,
    /// `-F FILE`: this file only; it must exist.
    File(PathBuf),
    /// `-F none`: no file.
    None,
}

/// Everything about the local system a resolution reads, so a program (or
/// a test) can state it instead of taking it from the process.
#[derive(Clone)]
pub struct LoadOptions {
    /// The files read.
    pub files: ConfigFiles,
    /// Command-line options in `Keyword value` form, applied first, in
    /// order (`-o`; `-p N` is `Port N`, `-l NAME` is `User NAME`).
    pub command_line: Vec<String>,
    /// The local user's home directory (`%d`, `~` in paths; ssh takes it
    /// from the password database).
    pub home: PathBuf,
    /// Where `~` points in `Include` patterns (glob(3)'s `GLOB_TILDE`
    /// reads `$HOME`).
    pub glob_home: PathBuf,
    /// The local user name (`%u`, `Match localuser`, the default `User`).
    pub local_user: String,
    /// The local host name (`%l`, `%L`).
    pub local_host: String,
    /// The local user id (`%i`).
    pub uid: u32,
    /// The system file (`/etc/ssh/ssh_config`).
    pub system_file: PathBuf,
    /// Where relative Includes of the system file live (`/etc/ssh`).
    pub system_dir: PathBuf,
    /// Runs `Match exec` commands.
    pub runner: Arc<dyn CommandRunner>,
    /// Reads environment variables for `${NAME}`.
    pub env: EnvFn,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("files", &self.files)
            .field("command_line", &self.command_line)
            .field("home", &self.home)
            .field("local_user", &self.local_user)
            .finish_non_exhaustive()
    }
}

impl LoadOptions {
    /// The process's view, as ssh takes it: the user's name and home
    /// directory from the password database (`/etc/passwd`) for the
    /// current uid, falling back to `$USER`/`$HOME`; the host name from
    /// the kernel; `Match exec` through `/bin/sh`; the default files.
    pub fn from_environment() -> Self {
        let uid = current_uid();
        let (name, dir) = passwd_entry(uid).unwrap_or_else(|| {
            (
                std::env::var("USER").unwrap_or_else(|_| "root".into()),
                std::env::var("HOME").unwrap_or_else(|_| "/".into()),
            )
        });
        let glob_home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&dir));
        LoadOptions {
            files: ConfigFiles::Default,
            command_line: Vec::new(),
            home: PathBuf::from(dir),
            glob_home,
            local_user: name,
            local_host: local_host_name(),
            uid,
            system_file: PathBuf::from("/etc/ssh/ssh_config"),
            system_dir: PathBuf::from("/etc/ssh"),
            runner: Arc::new(ShellRunner),
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// Nothing from the process: no file (`-F none`), `home` as the home
    /// directory, user `user` on host `localhost`, no environment
    /// variables, and `Match exec` never holds ([`NoExec`]). The uid is
    /// the process's, so the files it writes pass ssh's ownership check.
    pub fn isolated(home: impl AsRef<Path>) -> Self {
        let home = home.as_ref().to_path_buf();
        LoadOptions {
            files: ConfigFiles::None,
            command_line: Vec::new(),
            glob_home: home.clone(),
            home: home.clone(),
            local_user: "user".into(),
            local_host: "localhost".into(),
            uid: current_uid(),
            system_file: home.join("etc-ssh/ssh_config"),
            system_dir: home.join("etc-ssh"),
            runner: Arc::new(NoExec),
            env: Arc::new(|_| None),
        }
    }

    /// Reads `file` only (`-F file`).
    pub fn with_file(mut self, file: impl AsRef<Path>) -> Self {
        self.files = ConfigFiles::File(file.as_ref().to_path_buf());
        self
    }

    /// Adds a command-line option (`-o "Keyword value"`).
    pub fn with_option(mut self, line: impl Into<String>) -> Self {
        self.command_line.push(line.into());
        self
    }

    /// Runs `Match exec` with `runner`.
    pub fn with_runner(mut self, runner: Arc<dyn CommandRunner>) -> Self {
        self.runner = runner;
        self
    }
}

/// Entry point: resolve a host alias as ssh does.
#[derive(Debug, Clone, Copy)]
pub struct SshConfig;

impl SshConfig {
    /// Reads the configuration for `host` (as typed on the command line)
    /// and returns every option's resolved value.
    pub fn load(host: &str, options: &LoadOptions) -> Result<ResolvedConfig, ConfigError> {
        resolved::resolve(host, options)
    }

    /// A configuration built in code, without files: options as `-o`
    /// would give them.
    pub fn builder(host: &str) -> ConfigBuilder {
        ConfigBuilder {
            host: host.to_string(),
            lines: Vec::new(),
        }
    }
}

/// Builds a [`ResolvedConfig`] from options given in code
/// ([`SshConfig::builder`]); each is checked as in a file.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    host: String,
    lines: Vec<String>,
}

impl ConfigBuilder {
    /// Sets `keyword` to `value` (words separated by spaces, quoted as in
    /// a file). The first value given wins, as in a file.
    pub fn option(mut self, keyword: &str, value: &str) -> Self {
        self.lines.push(format!("{keyword} {value}"));
        self
    }

    /// Resolves with `base`'s system view and files; the options given
    /// here come before `base`'s command line.
    pub fn build(self, base: &LoadOptions) -> Result<ResolvedConfig, ConfigError> {
        let mut options = base.clone();
        let mut lines = self.lines;
        lines.extend(options.command_line);
        options.command_line = lines;
        // The builder's options are this host's, not its jump hosts'.
        SshConfig::load(&self.host, &options).map(|r| r.with_load_options(base.clone()))
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// The name and home directory of `uid` in `/etc/passwd`.
fn passwd_entry(uid: u32) -> Option<(String, String)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid))
            .then(|| (f[0].to_string(), f[5].to_string()))
    })
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
