//! `conch sftp` and `conch scp` ([`scp`]): OpenSSH's `sftp` and `scp`
//! over Conch's SFTP client (`conch_driver::sftp`).
//!
//! ```text
//! conch sftp [-b BATCHFILE] [-P PORT] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE]
//!            [-r] [-p] [-q] [-v] [--password-env VAR] [--no-agent] [USER@]HOST[:PATH]
//! ```
//!
//! Commands as sftp(1) has them (see [`commands`]). With `-b`, commands
//! are read from BATCHFILE (`-` for stdin) and echoed, and the first
//! failing command ends the session with status 1, unless it is prefixed
//! with `-`; without `-b` they are read from stdin, with a prompt on a
//! terminal, and a failure is only reported.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use conch_tokio::sftp::Sftp;

pub mod commands;
mod glob;
pub mod scp;

use commands::{Flow, Shell};

/// Help text.
pub const USAGE: &str = "\
usage: conch sftp [-b BATCHFILE] [-P PORT] [-i IDENTITY]... [-o OPTION=VALUE]...
                  [-F FILE] [-r] [-p] [-q] [-v] [--password-env VAR] [--no-agent]
                  [USER@]HOST[:PATH]

  -b BATCHFILE  read commands from BATCHFILE (- for stdin); stop at the first
                failing command not prefixed with '-'
  -P PORT       port to connect to
  -i FILE       identity file; -o, -F, -v, -q, --password-env, --no-agent as conch
  -r            get and put directories recursively
  -p            preserve modes and times";

/// What `conch sftp`'s command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpArgs {
    /// The batch file (`-` for stdin).
    pub batch: Option<PathBuf>,
    /// Recursive get/put.
    pub recursive: bool,
    /// Preserve modes and times.
    pub preserve: bool,
    /// A path after `HOST:`.
    pub path: Option<String>,
    /// The words for `conch`'s own parser: options and `[USER@]HOST`.
    pub connection: Vec<OsString>,
}

/// Splits `[USER@]HOST[:PATH]` (HOST may be `[v6]`).
pub fn split_destination(dest: &str) -> (String, Option<String>) {
    let (user, rest) = match dest.rsplit_once('@') {
        Some((u, r)) if !r.contains('/') => (Some(u), r),
        _ => (None, dest),
    };
    let (host, path) = if let Some(v6) = rest.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, tail)) => (format!("[{h}]"), tail.strip_prefix(':').map(str::to_string)),
            None => (rest.to_string(), None),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (rest.to_string(), None),
        }
    };
    let host = match user {
        Some(u) => format!("{u}@{host}"),
        None => host,
    };
    (host, path)
}

/// A command-line word, owned (so the parser can be asked for a value).
#[derive(Debug)]
pub(crate) enum Arg {
    Short(char),
    Long(String),
    Value(OsString),
}

impl Arg {
    pub(crate) fn next(parser: &mut lexopt::Parser) -> Result<Option<Arg>, String> {
        Ok(match parser.next().map_err(|e| e.to_string())? {
            None => None,
            Some(lexopt::Arg::Short(c)) => Some(Arg::Short(c)),
            Some(lexopt::Arg::Long(l)) => Some(Arg::Long(l.to_string())),
            Some(lexopt::Arg::Value(v)) => Some(Arg::Value(v)),
        })
    }

    pub(crate) fn unexpected(&self) -> String {
        match self {
            Arg::Short(c) => format!("invalid option '-{c}'"),
            Arg::Long(l) => format!("invalid option '--{l}'"),
            Arg::Value(v) => format!("unexpected argument {v:?}"),
        }
    }
}

/// The options `conch sftp` and `conch scp` share with `conch`, added as
/// words for its parser; `false` for an option that is not one of them.
pub(crate) fn connection_option(
    arg: &Arg,
    parser: &mut lexopt::Parser,
    out: &mut Vec<OsString>,
) -> Result<bool, String> {
    let value = |parser: &mut lexopt::Parser| parser.value().map_err(|e| e.to_string());
    match arg {
        Arg::Short('P') => out.extend(["-p".into(), value(parser)?]),
        Arg::Short('i') => out.extend(["-i".into(), value(parser)?]),
        Arg::Short('o') => out.extend(["-o".into(), value(parser)?]),
        Arg::Short('F') => out.extend(["-F".into(), value(parser)?]),
        Arg::Short('v') => out.push("-v".into()),
        Arg::Short('q') => out.push("-q".into()),
        Arg::Long(l) if l == "password-env" => {
            out.extend(["--password-env".into(), value(parser)?])
        }
        Arg::Long(l) if l == "no-agent" => out.push("--no-agent".into()),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parses `conch sftp`'s arguments (after `sftp`).
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<SftpArgs, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut a = SftpArgs {
        batch: None,
        recursive: false,
        preserve: false,
        path: None,
        connection: Vec::new(),
    };
    let mut destination = None;
    while let Some(arg) = Arg::next(&mut parser)? {
        if connection_option(&arg, &mut parser, &mut a.connection)? {
            continue;
        }
        match arg {
            Arg::Short('b') => {
                a.batch = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Arg::Short('r') => a.recursive = true,
            Arg::Short('p') => a.preserve = true,
            Arg::Long(l) if l == "help" => return Err(USAGE.to_string()),
            Arg::Value(v) if destination.is_none() => {
                destination = Some(
                    v.into_string()
                        .map_err(|v| format!("invalid argument {v:?}"))?,
                )
            }
            other => return Err(format!("{}\n\n{USAGE}", other.unexpected())),
        }
    }
    let dest = destination.ok_or_else(|| USAGE.to_string())?;
    let (host, path) = split_destination(&dest);
    a.path = path.filter(|p| !p.is_empty());
    if a.batch.is_some() {
        // As OpenSSH's sftp -b: nobody is there to answer questions.
        a.connection.extend(["-o".into(), "BatchMode=yes".into()]);
    }
    a.connection.push(host.into());
    Ok(a)
}

/// `conch sftp`'s `main`; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(m) if m == USAGE => {
            println!("{USAGE}");
            return 0;
        }
        Err(m) => {
            eprintln!("conch sftp: {m}");
            return 1;
        }
    };
    crate::client::block_on_one_thread("conch sftp", 1, run(a))
}

/// Opens an SFTP session for `conch`-style connection words.
pub(crate) async fn open(words: Vec<OsString>) -> Result<Sftp, i32> {
    let (args, config) = crate::client::connection_args(words).map_err(|m| {
        eprintln!("conch: {m}");
        crate::client::FAILURE
    })?;
    let session = crate::client::connect_session(&args, config).await?;
    session.sftp().await.map_err(|e| {
        eprintln!("Connection closed: cannot start sftp: {e}");
        crate::client::FAILURE
    })
}

async fn run(a: SftpArgs) -> i32 {
    let sftp = match open(a.connection.clone()).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut shell = match Shell::new(sftp, a.recursive, a.preserve).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conch sftp: {e}");
            return 1;
        }
    };
    if let Some(path) = &a.path {
        // As sftp HOST:PATH: a directory to start in, or a file to fetch.
        if let Err(e) = shell.start_at(path).await {
            eprintln!("{e}");
            return 1;
        }
        if shell.fetched_start() {
            return 0;
        }
    }
    let (lines, batch): (Box<dyn BufRead>, bool) = match &a.batch {
        Some(p) if p.as_os_str() == "-" => (Box::new(std::io::stdin().lock()), true),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => (Box::new(std::io::BufReader::new(f)), true),
            Err(e) => {
                eprintln!("conch sftp: {}: {e}", p.display());
                return 1;
            }
        },
        None => (Box::new(std::io::stdin().lock()), false),
    };
    shell.progress = !batch && std::io::stderr().is_terminal();
    let prompt = !batch && std::io::stdin().is_terminal();
    let mut lines = lines.lines();
    loop {
        if prompt {
            print!("sftp> ");
            let _ = std::io::stdout().flush();
        }
        let line = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                eprintln!("conch sftp: reading commands: {e}");
                return 1;
            }
            None => return 0,
        };
        let mut cmd = line.trim();
        if cmd.is_empty() || cmd.starts_with('#') {
            continue;
        }
        // sftp(1): '-' lets a batch go on past a failure, '@' hides the echo.
        let mut ignore_error = false;
        let mut echo = batch;
        loop {
            if let Some(rest) = cmd.strip_prefix('-') {
                ignore_error = true;
                cmd = rest;
            } else if let Some(rest) = cmd.strip_prefix('@') {
                echo = false;
                cmd = rest;
            } else {
                break;
            }
        }
        if echo {
            println!("sftp> {cmd}");
        }
        match shell.run_line(cmd).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => return 0,
            Err(e) => {
                eprintln!("{e}");
                if batch && !ignore_error {
                    return 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_split_into_host_and_path() {
        assert_eq!(split_destination("h"), ("h".into(), None));
        assert_eq!(
            split_destination("u@h:/tmp"),
            ("u@h".into(), Some("/tmp".into()))
        );
        assert_eq!(
            split_destination("[::1]:x"),
            ("[::1]".into(), Some("x".into()))
        );
        assert_eq!(split_destination("h:"), ("h".into(), Some(String::new())));
    }

    #[test]
    fn sftp_flags_map_to_conch_options() {
        let a = parse_args(
            ["-b", "cmds", "-P", "2200", "-i", "k", "-r", "u@h:dir"]
                .iter()
                .map(OsString::from),
        )
        .unwrap();
        assert_eq!(a.batch, Some(PathBuf::from("cmds")));
        assert!(a.recursive && !a.preserve);
        assert_eq!(a.path.as_deref(), Some("dir"));
        let words: Vec<_> = a.connection.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(
            words,
            ["-p", "2200", "-i", "k", "-o", "BatchMode=yes", "u@h"]
        );
        assert!(parse_args(["-x".into(), "h".into()]).is_err());
    }
}
