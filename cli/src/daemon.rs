//! `conchd`'s command line:
//!
//! ```text
//! conchd [-p PORT] --host-key FILE [--generate-host-key]
//!        [--authorized-keys FILE] [--password-file FILE] [--listen ADDR] [-q]
//!        [--max-startups START:RATE:FULL] [--per-source-max-startups N]
//!        [--max-sessions N] [--memory-budget SIZE] [--max-auth-tries N]
//!        [--login-grace-time SECS]
//! ```
//!
//! It listens on `127.0.0.1` (port 2222 unless `-p`), logs to stderr, and
//! serves until killed. See [`crate::server`] for what it accepts and runs.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use conch_core::known_hosts::key_type_label;

use crate::limits::{Limits, FLAGS_USAGE};
use crate::server::{load_host_key, read_authorized_keys, Conchd, Passwords, ServerSetup};

/// The port used without `-p`.
pub const DEFAULT_PORT: u16 = 2222;

/// Help text.
pub const USAGE: &str = "\
usage: conchd [-p PORT] --host-key FILE [--generate-host-key]
              [--authorized-keys FILE] [--password-file FILE] [--listen ADDR] [-q]

A small SSH server for tests and demos: runs each exec request with `sh -c`
as the current user, for any user name whose key or password is accepted.

  -p, --port PORT          TCP port (default 2222)
      --listen ADDR        address to listen on (default 127.0.0.1)
      --host-key FILE      the server's OpenSSH private key (must exist)
      --generate-host-key  create --host-key (Ed25519, with FILE.pub) if missing
      --authorized-keys FILE  public keys allowed to log in, one per line
      --password-file FILE    `user:password` lines, or one password for any user
  -q, --quiet              log nothing
      --log-level LEVEL    quiet, error, info (default), debug1, debug2
      --help               this help

Limits (sshd_config(5) keywords of the same names):
";

/// The whole help text: [`USAGE`] and the limits' flags.
pub fn usage() -> String {
    format!("{USAGE}{FLAGS_USAGE}")
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonArgs {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The host key file.
    pub host_key: PathBuf,
    /// Create the host key if missing.
    pub generate_host_key: bool,
    /// The authorized_keys file.
    pub authorized_keys: Option<PathBuf>,
    /// The password file.
    pub password_file: Option<PathBuf>,
    /// Log nothing.
    pub quiet: bool,
    /// Limits against abusive clients.
    pub limits: Limits,
    /// What the library's log shows (`--log-level`; `None`: nothing).
    pub log_level: Option<tracing::Level>,
}

/// Parses `conchd`'s arguments (without the program name). `Err(usage())`
/// for `--help`.
pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<DaemonArgs, String> {
    use lexopt::prelude::*;
    let mut port = DEFAULT_PORT;
    let mut address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut host_key = None;
    let mut generate_host_key = false;
    let mut authorized_keys = None;
    let mut password_file = None;
    let mut quiet = false;
    let mut limits = Limits::default();
    let mut log_level = Some(tracing::Level::INFO);
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Short('p') | Long("port") => {
                port = text(&mut parser)?
                    .parse()
                    .map_err(|e| format!("bad port: {e}"))?
            }
            Long("listen") => {
                address = text(&mut parser)?
                    .parse()
                    .map_err(|e| format!("bad listen address: {e}"))?
            }
            Long("host-key") => {
                host_key = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("generate-host-key") => generate_host_key = true,
            Long("authorized-keys") => {
                authorized_keys = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("password-file") => {
                password_file = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Short('q') | Long("quiet") => quiet = true,
            Long("log-level") => log_level = crate::logging::parse_level(&text(&mut parser)?)?,
            Long("help") => return Err(usage()),
            Long(name) if crate::limits::is_flag(name) => {
                let name = name.to_string();
                limits.parse_flag(&name, || text(&mut parser))?;
            }
            other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
        }
    }
    let host_key = host_key.ok_or_else(|| format!("--host-key FILE is required\n\n{}", usage()))?;
    if authorized_keys.is_none() && password_file.is_none() {
        return Err(format!(
            "nobody could log in: give --authorized-keys FILE and/or --password-file FILE\n\n{}",
            usage()
        ));
    }
    Ok(DaemonArgs {
        listen: SocketAddr::new(address, port),
        host_key,
        generate_host_key,
        authorized_keys,
        password_file,
        quiet,
        limits,
        log_level: if quiet { None } else { log_level },
    })
}

fn text(parser: &mut lexopt::Parser) -> Result<String, String> {
    parser
        .value()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|v| format!("invalid value {v:?}"))
}

/// Loads the files named on the command line.
pub fn setup(args: &DaemonArgs) -> Result<ServerSetup, String> {
    let log = if args.quiet {
        crate::server::no_log()
    } else {
        crate::server::stderr_log()
    };
    let host_key = load_host_key(&args.host_key, args.generate_host_key)?;
    let authorized_keys = match &args.authorized_keys {
        Some(path) => read_authorized_keys(path, &log)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => conch_openssh::AuthorizedKeys::default(),
    };
    let passwords = match &args.password_file {
        Some(path) => Passwords::parse(
            &std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        None => Passwords::None,
    };
    Ok(ServerSetup {
        host_key,
        authorized_keys,
        passwords,
        log,
        limits: args.limits.clone(),
    })
}

/// `conchd`'s `main`: returns only on error.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(message) if message == usage() => {
            println!("{message}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("conchd: {message}");
            return ExitCode::from(2);
        }
    };
    crate::logging::init_daemon(args.log_level);
    let setup = match setup(&args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("conchd: {message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conchd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = Conchd::bind(args.listen, &setup)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let key = setup.host_key.public_key();
        (setup.log)(&format!(
            "host key {} {}",
            key_type_label(key),
            key.fingerprint()
        ));
        (setup.log)(&format!(
            "crypto provider: {}",
            crate::provider::PROVIDER_NAME
        ));
        (setup.log)(&format!("listening on {addr}"));
        server
            .run()
            .await
            .map_err(|e| format!("accept failed: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("conchd: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DaemonArgs, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_to_loopback_and_requires_a_host_key_and_credentials() {
        let a = parse(&["--host-key", "k", "--authorized-keys", "ak"]).unwrap();
        assert_eq!(a.listen, "127.0.0.1:2222".parse().unwrap());
        assert!(!a.generate_host_key);
        assert!(parse(&["--authorized-keys", "ak"])
            .unwrap_err()
            .contains("--host-key"));
        assert!(parse(&["--host-key", "k"])
            .unwrap_err()
            .contains("nobody could log in"));
        let a = parse(&[
            "-p",
            "2200",
            "--listen",
            "::1",
            "--host-key",
            "k",
            "--password-file",
            "pw",
        ])
        .unwrap();
        assert_eq!(a.listen, "[::1]:2200".parse().unwrap());
    }

    #[test]
    fn a_missing_host_key_is_not_generated_silently() {
        let dir = std::env::temp_dir().join(format!("conchd-hostkey-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host_key");
        let e = load_host_key(&path, false).unwrap_err();
        assert!(e.contains("--generate-host-key"), "{e}");
        assert!(!path.exists());
        let made = load_host_key(&path, true).unwrap();
        assert!(path.exists() && dir.join("host_key.pub").exists());
        assert_eq!(
            load_host_key(&path, false).unwrap().public_key(),
            made.public_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
