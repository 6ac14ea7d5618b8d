//! `conch -G [-F FILE] [-o OPTION=VALUE]... [-p PORT] [-l USER] [USER@]HOST`:
//! prints the configuration conch resolves for HOST in `ssh -G`'s format
//! (see `conch_openssh::ssh_config`), then exits without connecting.

use conch_openssh::ssh_config::{ConfigFiles, LoadOptions, SshConfig};
use std::ffi::OsString;
use std::path::PathBuf;

/// What `conch -G` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpArgs {
    /// The host as typed (an alias).
    pub host: String,
    /// `-F`: a file, `none`, or the default files.
    pub files: ConfigFiles,
    /// Command-line options in order (`-o`, `-p` as `Port`, `-l` as `User`,
    /// then `USER@` as `User`, which the earlier ones override).
    pub options: Vec<String>,
}

/// Whether the arguments ask for `-G`.
pub fn requested(args: &[OsString]) -> bool {
    args.iter().any(|a| a == "-G")
}

/// Parses `conch -G`'s arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<DumpArgs, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut host: Option<String> = None;
    let mut files = ConfigFiles::Default;
    let mut options = Vec::new();
    let text = |p: &mut lexopt::Parser| -> Result<String, String> {
        p.value()
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|w| format!("invalid argument {w:?}"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('G') | Short('v') | Short('q') | Short('n') | Short('T') => {}
            Short('F') => {
                let f = text(&mut parser)?;
                files = if f == "none" {
                    ConfigFiles::None
                } else {
                    ConfigFiles::File(PathBuf::from(f))
                };
            }
            Short('o') => options.push(text(&mut parser)?),
            Short('p') => options.push(format!("Port {}", text(&mut parser)?)),
            Short('l') => options.push(format!("User {}", text(&mut parser)?)),
            Value(v) if host.is_none() => {
                host = Some(
                    v.into_string()
                        .map_err(|w| format!("invalid argument {w:?}"))?,
                )
            }
            Value(_) => return Err("-G prints the configuration; it takes no command".into()),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let destination = host.ok_or("-G needs a host")?;
    let host = match destination.rsplit_once('@') {
        Some((user, h)) => {
            options.push(format!("User {user}"));
            h.to_string()
        }
        None => destination,
    };
    if host.is_empty() {
        return Err("no host name given".into());
    }
    Ok(DumpArgs {
        host,
        files,
        options,
    })
}

/// `conch -G`'s `main`: prints the configuration, or the error naming the
/// file and line, and returns the exit status (255 on error, as ssh).
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("conch: {e}");
            return 255;
        }
    };
    let mut load = LoadOptions::from_environment();
    load.files = a.files;
    load.command_line = a.options;
    match SshConfig::load(&a.host, &load).and_then(|c| c.to_ssh_g()) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("conch: {e}");
            255
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<DumpArgs, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn options_in_order_with_user_at_last() {
        let a = parse_strs(&[
            "-G", "-F", "cfg", "-o", "Port=1", "-p", "2", "-l", "bob", "al@db",
        ])
        .unwrap();
        assert_eq!(a.host, "db");
        assert_eq!(a.files, ConfigFiles::File(PathBuf::from("cfg")));
        assert_eq!(a.options, ["Port=1", "Port 2", "User bob", "User al"]);
        assert_eq!(
            parse_strs(&["-G", "-F", "none", "h"]).unwrap().files,
            ConfigFiles::None
        );
        assert!(parse_strs(&["-G"]).is_err());
        assert!(parse_strs(&["-G", "h", "ls"]).is_err());
        assert!(requested(&[OsString::from("x"), OsString::from("-G")]));
        assert!(!requested(&[OsString::from("h")]));
    }
}
