//! `conch scp`: copies files between hosts over SFTP, as OpenSSH 9's
//! `scp` does by default.
//!
//! ```text
//! conch scp [-r] [-p] [-P PORT] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE]
//!           [-q] [-v] [--password-env VAR] [--no-agent] SOURCE... TARGET
//! ```
//!
//! Each operand is local, or remote as `[USER@]HOST:[PATH]` (an empty
//! path is the remote home directory; a colon after a `/` is part of a
//! local name, as in scp(1)). Remote to remote copies go through the
//! local side (scp's `-3`), through a temporary file.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use conch_tokio::sftp::conch_sftp::names::{base_name, join};
use conch_tokio::sftp::{Sftp, TransferOptions};

use super::{connection_option, split_destination, Arg};

/// Help text.
pub const USAGE: &str = "\
usage: conch scp [-r] [-p] [-P PORT] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE]
                 [-q] [-v] [--password-env VAR] [--no-agent] SOURCE... TARGET";

/// One operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A local path.
    Local(PathBuf),
    /// A path on `[USER@]HOST`.
    Remote {
        /// `[USER@]HOST`.
        host: String,
        /// The path ("" for the home directory).
        path: String,
    },
}

impl Operand {
    /// Parses an operand as scp(1) does: remote when a `:` comes before
    /// any `/`.
    pub fn parse(word: &str) -> Operand {
        let colon = if word.starts_with('[') {
            word.find("]:").map(|i| i + 1)
        } else {
            word.find(':')
        };
        match colon {
            Some(i) if i > 0 && !word[..i].contains('/') => {
                let (host, path) = split_destination(word);
                Operand::Remote {
                    host,
                    path: path.unwrap_or_default(),
                }
            }
            _ => Operand::Local(PathBuf::from(word)),
        }
    }
}

/// What `conch scp`'s command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpArgs {
    /// Copy directories recursively.
    pub recursive: bool,
    /// Preserve modes and times.
    pub preserve: bool,
    /// Quiet: no progress meter.
    pub quiet: bool,
    /// The sources.
    pub sources: Vec<Operand>,
    /// The target.
    pub target: Operand,
    /// Connection options, as `conch` words (without the host).
    pub connection: Vec<OsString>,
}

/// Parses `conch scp`'s arguments (after `scp`).
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<ScpArgs, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let (mut recursive, mut preserve, mut quiet) = (false, false, false);
    let mut connection = Vec::new();
    let mut operands = Vec::new();
    while let Some(arg) = Arg::next(&mut parser)? {
        if matches!(arg, Arg::Short('q')) {
            quiet = true;
        }
        if connection_option(&arg, &mut parser, &mut connection)? {
            continue;
        }
        match arg {
            Arg::Short('r') => recursive = true,
            Arg::Short('p') => preserve = true,
            // Already the behaviour: over SFTP, remote to remote through us.
            Arg::Short('3') | Arg::Short('s') => {}
            Arg::Long(l) if l == "help" => return Err(USAGE.to_string()),
            Arg::Value(v) => operands.push(Operand::parse(
                &v.into_string()
                    .map_err(|v| format!("invalid argument {v:?}"))?,
            )),
            other => return Err(format!("{}\n\n{USAGE}", other.unexpected())),
        }
    }
    if operands.len() < 2 {
        return Err(USAGE.to_string());
    }
    let target = operands.pop().ok_or_else(|| USAGE.to_string())?;
    Ok(ScpArgs {
        recursive,
        preserve,
        quiet,
        sources: operands,
        target,
        connection,
    })
}

/// `conch scp`'s `main`; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(m) if m == USAGE => {
            eprintln!("{USAGE}");
            return 1;
        }
        Err(m) => {
            eprintln!("conch scp: {m}");
            return 1;
        }
    };
    crate::client::block_on_one_thread("conch scp", 1, run(a))
}

/// Open SFTP sessions by `[USER@]HOST`, with their home directories.
struct Hosts {
    connection: Vec<OsString>,
    open: HashMap<String, (Sftp, String)>,
}

impl Hosts {
    async fn get(&mut self, host: &str) -> Result<(Sftp, String), i32> {
        if let Some(s) = self.open.get(host) {
            return Ok(s.clone());
        }
        let mut words = self.connection.clone();
        words.push(host.into());
        let sftp = super::open(words).await?;
        let home = sftp.realpath(".").await.map_err(|e| {
            eprintln!("scp: {host}: {e}");
            1
        })?;
        self.open
            .insert(host.to_string(), (sftp.clone(), home.clone()));
        Ok((sftp, home))
    }
}

fn remote_path(home: &str, path: &str) -> String {
    if path.is_empty() {
        home.to_string()
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        join(home, path)
    }
}

async fn run(a: ScpArgs) -> i32 {
    let mut hosts = Hosts {
        connection: a.connection.clone(),
        open: HashMap::new(),
    };
    let opts = TransferOptions {
        preserve: a.preserve,
        ..Default::default()
    };
    let show = !a.quiet && std::io::stderr().is_terminal();
    let several = a.sources.len() > 1;
    let mut status = 0;
    for source in &a.sources {
        if let Err(message) = copy(
            &mut hosts,
            source,
            &a.target,
            several,
            a.recursive,
            &opts,
            show,
        )
        .await
        {
            match message {
                Failure::Reported(code) => return code,
                Failure::Message(m) => {
                    eprintln!("scp: {m}");
                    status = 1;
                }
            }
        }
    }
    status
}

enum Failure {
    /// Connecting failed and was reported: exit with this status.
    Reported(i32),
    /// One copy failed: reported, and the others go on.
    Message(String),
}

impl From<i32> for Failure {
    fn from(code: i32) -> Self {
        Failure::Reported(code)
    }
}

async fn copy(
    hosts: &mut Hosts,
    source: &Operand,
    target: &Operand,
    several: bool,
    recursive: bool,
    opts: &TransferOptions,
    show: bool,
) -> Result<(), Failure> {
    let msg = |m: String| Failure::Message(m);
    let mut progress = |p: &conch_tokio::sftp::Progress<'_>| {
        if show {
            let pct = p
                .total
                .filter(|t| *t > 0)
                .map_or(100, |t| p.transferred * 100 / t);
            eprint!(
                "\r{:<40} {pct:>3}% {:>12}",
                base_name(p.path),
                p.transferred
            );
            if p.total.is_some_and(|t| p.transferred >= t) {
                eprintln!();
            }
        }
    };
    match (source, target) {
        (Operand::Local(l), Operand::Local(t)) => std::fs::copy(l, t)
            .map(drop)
            .map_err(|e| msg(format!("{}: {e}", l.display()))),
        (Operand::Local(local), Operand::Remote { host, path }) => {
            let (sftp, home) = hosts.get(host).await?;
            let mut remote = remote_path(&home, path);
            let is_dir = sftp.stat(&remote).await.is_ok_and(|a| a.is_dir());
            let name = local
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if is_dir {
                remote = join(&remote, name);
            } else if several {
                return Err(msg(format!("{remote}: Not a directory")));
            }
            if local.is_dir() {
                if !recursive {
                    return Err(msg(format!("{}: not a regular file", local.display())));
                }
                sftp.upload_tree(local, &remote, opts, Some(&mut progress))
                    .await
                    .map(drop)
                    .map_err(|e| msg(format!("{remote}: {e}")))
            } else {
                sftp.upload(local, &remote, opts, Some(&mut progress))
                    .await
                    .map(drop)
                    .map_err(|e| msg(format!("{}: {e}", local.display())))
            }
        }
        (Operand::Remote { host, path }, Operand::Local(local)) => {
            let (sftp, home) = hosts.get(host).await?;
            let remote = remote_path(&home, path);
            let attrs = sftp
                .stat(&remote)
                .await
                .map_err(|e| msg(format!("{remote}: {e}")))?;
            let mut dest = local.clone();
            if dest.is_dir() {
                dest = dest.join(base_name(&remote));
            } else if several {
                return Err(msg(format!("{}: Not a directory", local.display())));
            }
            if attrs.is_dir() {
                if !recursive {
                    return Err(msg(format!("{remote}: not a regular file")));
                }
                let stats = sftp
                    .download_tree(&remote, &dest, opts, Some(&mut progress))
                    .await
                    .map_err(|e| msg(format!("{remote}: {e}")))?;
                for s in stats.skipped {
                    eprintln!("scp: skipping {}: {}", s.path, s.reason);
                }
                Ok(())
            } else {
                sftp.download(&remote, &dest, opts, Some(&mut progress))
                    .await
                    .map(drop)
                    .map_err(|e| msg(format!("{remote}: {e}")))
            }
        }
        (Operand::Remote { .. }, Operand::Remote { .. }) => {
            // Through the local side: into a private temporary directory,
            // then out of it.
            let tmp = std::env::temp_dir().join(format!("conch-scp-{}", std::process::id()));
            std::fs::create_dir(&tmp).map_err(|e| msg(format!("{}: {e}", tmp.display())))?;
            let staged = via_local(hosts, source, target, several, recursive, opts, &tmp).await;
            let _ = std::fs::remove_dir_all(&tmp);
            staged
        }
    }
}

async fn via_local(
    hosts: &mut Hosts,
    source: &Operand,
    target: &Operand,
    several: bool,
    recursive: bool,
    opts: &TransferOptions,
    tmp: &Path,
) -> Result<(), Failure> {
    let Operand::Remote { path, .. } = source else {
        return Ok(());
    };
    let name = base_name(path);
    let name = if name.is_empty() { "home" } else { name };
    let staged = tmp.join(name);
    Box::pin(copy(
        hosts,
        source,
        &Operand::Local(tmp.to_path_buf()),
        false,
        recursive,
        opts,
        false,
    ))
    .await?;
    Box::pin(copy(
        hosts,
        &Operand::Local(staged),
        target,
        several,
        recursive,
        opts,
        false,
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_are_remote_only_with_a_colon_before_any_slash() {
        assert_eq!(
            Operand::parse("u@h:dir/f"),
            Operand::Remote {
                host: "u@h".into(),
                path: "dir/f".into()
            }
        );
        assert_eq!(
            Operand::parse("h:"),
            Operand::Remote {
                host: "h".into(),
                path: String::new()
            }
        );
        assert_eq!(Operand::parse("./a:b"), Operand::Local("./a:b".into()));
        assert_eq!(Operand::parse("/x/y"), Operand::Local("/x/y".into()));
        assert_eq!(
            Operand::parse("[::1]:/tmp"),
            Operand::Remote {
                host: "[::1]".into(),
                path: "/tmp".into()
            }
        );
    }

    #[test]
    fn flags_and_operands() {
        let a = parse_args(
            ["-r", "-P", "2200", "a", "b", "h:/d"]
                .iter()
                .map(OsString::from),
        )
        .unwrap();
        assert!(a.recursive);
        assert_eq!(a.sources.len(), 2);
        assert_eq!(
            a.target,
            Operand::Remote {
                host: "h".into(),
                path: "/d".into()
            }
        );
        assert!(parse_args(["only"].iter().map(OsString::from)).is_err());
    }
}
