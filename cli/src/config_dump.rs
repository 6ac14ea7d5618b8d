//! `conch -G [-F FILE] [-o OPTION=VALUE]... [-p PORT] [-l USER] [USER@]HOST`:
//! prints the configuration conch resolves for HOST in `ssh -G`'s format
//! (see `conch_openssh::ssh_config`), then exits without connecting.

use conch_openssh::ssh_config::{ConfigFiles, LoadOptions, ResolvedConfig, SshConfig};
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

/// Whether the arguments ask for `-G`: among the options, which may
/// come before and after the host but not in the remote command
/// (`conch h grep -G x` runs `grep -G x`).
pub fn requested(args: &[OsString]) -> bool {
    const WITH_VALUE: &[&str] = &[
        "-p",
        "-l",
        "-i",
        "-o",
        "-F",
        "--password-env",
        "--record",
        "--replay",
    ];
    let mut host_seen = false;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let Some(w) = word.to_str() else { return false };
        if w == "-G" {
            return true;
        }
        if WITH_VALUE.contains(&w) {
            words.next();
        } else if w == "--" || !w.starts_with('-') {
            if host_seen || w == "--" {
                return false;
            }
            host_seen = true;
        }
    }
    false
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
            Short('C') => options.push("Compression yes".to_string()),
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

/// Resolves `a.host` as ssh does: the command line (`-p`, `-l`/`USER@`,
/// `-i`, `--no-agent`, then the `-o` options in order; the first value
/// wins) and then the ssh_config files `a.config` names (with `load`'s
/// view of the system). Sets `a.host`, `a.port` and `a.user` to what
/// connecting uses and returns the whole resolution.
pub fn apply_config(
    a: &mut crate::client::ClientArgs,
    mut load: LoadOptions,
) -> Result<ResolvedConfig, String> {
    load.files = a.config.clone();
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    // Command-line values come first, so they win and `Match user` sees
    // them, as in ssh.
    if let Some(port) = a.given_port {
        load.command_line.push(format!("Port {port}"));
    }
    if let Some(user) = &a.given_user {
        load.command_line.push(format!("User {}", quote(user)));
    }
    for path in &a.identities {
        load.command_line.push(format!(
            "IdentityFile {}",
            quote(&path.display().to_string())
        ));
    }
    if a.no_agent {
        load.command_line.push("IdentityAgent none".into());
    }
    load.command_line.extend(a.options.iter().cloned());
    let config = SshConfig::load(&a.host, &load).map_err(|e| e.to_string())?;
    a.host = config.hostname().to_string();
    a.port = config.port();
    a.user = config.user().to_string();
    if a.request_tty.is_none() {
        if let Some([value]) = config.get("RequestTTY") {
            a.request_tty = Some(crate::client::RequestTty::parse(value)?);
        }
    }
    if a.forward_agent.is_none() {
        if let Some([value]) = config.get("ForwardAgent") {
            a.forward_agent = Some(crate::client::forward_agent(value)?);
        }
    }
    if a.escape_char.is_none() {
        if let Some([value]) = config.get("EscapeChar") {
            a.escape_char = Some(crate::client::EscapeChar::parse(value)?);
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<DumpArgs, String> {
        parse(args.iter().map(OsString::from))
    }

    fn client(args: &[&str]) -> crate::client::ClientArgs {
        match crate::client::parse_args(args.iter().map(OsString::from)) {
            Ok(crate::client::Invocation::Connect(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connecting_takes_hostname_port_user_and_identities_from_the_file() {
        let dir = std::env::temp_dir().join(format!("conch-cli-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config");
        std::fs::write(
            &file,
            "Host db\n  HostName DB.example.org\n  Port 2222\n  User alice\n  IdentityFile ~/.ssh/id_%h\n\
             Match user \"o'brien x\"\n  Port 7\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let load = || LoadOptions::isolated(&dir);
        let mut a = client(&["-F", f, "-i", "k0", "db", "true"]);
        let config = apply_config(&mut a, load()).unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_str()),
            ("db.example.org", 2222, "alice")
        );
        assert_eq!(
            config.identity_files().unwrap(),
            [PathBuf::from("k0"), dir.join(".ssh/id_db.example.org")]
        );
        assert_eq!(a.command, "true");
        // The command line wins.
        let mut a = client(&["-F", f, "-p", "3", "bob@db"]);
        apply_config(&mut a, load()).unwrap();
        assert_eq!((a.port, a.user.as_str()), (3, "bob"));
        // A user name with a space and quotes reaches `Match user` intact.
        let mut a = client(&["-F", f, "-l", "o'brien x", "other"]);
        apply_config(&mut a, load()).unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_str()),
            ("other", 7, "o'brien x")
        );
        // -F none reads nothing, but the -o options still apply and are
        // checked as ssh checks them; a bad file is an error naming its line.
        let mut a = client(&[
            "-F",
            "none",
            "-o",
            "HostName=h2",
            "-o",
            "ConnectTimeout=3",
            "db",
        ]);
        let config = apply_config(&mut a, load()).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("h2", 22));
        assert_eq!(
            config.connect_timeout(),
            Some(std::time::Duration::from_secs(3))
        );
        let mut a = client(&["-F", "none", "-o", "Bogus=1", "db"]);
        let e = apply_config(&mut a, load()).unwrap_err();
        assert!(e.contains("Bad configuration option"), "{e}");
        std::fs::write(&file, "Host db\n  Port x\n").unwrap();
        let mut a = client(&["-F", f, "db"]);
        let e = apply_config(&mut a, load()).unwrap_err();
        assert!(e.contains("line 2: Bad port"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
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
        let words = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(requested(&words(&["x", "-G"])));
        assert!(requested(&words(&["-F", "cfg", "-G", "x"])));
        assert!(!requested(&words(&["h"])));
        // Not a -G: the value of -o, or a word of the remote command.
        assert!(!requested(&words(&["-o", "-G", "h"])));
        assert!(!requested(&words(&["h", "grep", "-G", "x"])));
        assert!(!requested(&words(&["-p", "2", "h", "-v", "ls", "-G"])));
    }
}
