//! `conchd`'s command line:
//!
//! ```text
//! conchd [-p PORT] --host-key FILE [--generate-host-key] [--host-certificate FILE]
//!        [--authorized-keys FILE] [--trusted-user-ca-keys FILE]
//!        [--password-file FILE] [--listen ADDR] [-q]
//!        [--accept-env PATTERNS]... [--sftp-root DIR] [--sftp-read-only]
//!        [--no-forwarding] [--allow-tcp-forwarding yes|no|local|remote]
//!        [--no-agent-forwarding]
//!        [--permit-open HOST:PORT]... [--permit-listen [HOST:]PORT]...
//!        [--gateway-ports no|yes|clientspecified]
//!        [--max-startups START:RATE:FULL] [--per-source-max-startups N]
//!        [--max-sessions N] [--memory-budget SIZE] [--max-auth-tries N]
//!        [--login-grace-time SECS] [--compression yes|no] [--log-level LEVEL]
//! ```
//!
//! It listens on `127.0.0.1` (port 2222 unless `-p`), logs to stderr, and
//! serves until killed. See [`crate::server`] for what it accepts and runs.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use conch_core::known_hosts::key_type_label;
use conch_openssh::forward_policy::{AllowForwarding, GatewayPorts, Permit, PermitEntry};
use conch_openssh::ForwardPolicy;

use crate::limits::{Limits, FLAGS_USAGE};
use crate::server::{load_host_key, read_authorized_keys, Conchd, Passwords, ServerSetup};

/// The port used without `-p`.
pub const DEFAULT_PORT: u16 = 2222;

/// Help text.
pub const USAGE: &str = "\
usage: conchd [-p PORT] --host-key FILE [--generate-host-key] [--host-certificate FILE]
              [--authorized-keys FILE] [--trusted-user-ca-keys FILE]
              [--password-file FILE] [--listen ADDR] [-q]
              [--accept-env PATTERNS]... [--sftp-root DIR] [--sftp-read-only]
              [--no-forwarding] [--allow-tcp-forwarding yes|no|local|remote]
              [--no-agent-forwarding] [--permit-open HOST:PORT]... [--permit-listen [HOST:]PORT]...
              [--gateway-ports no|yes|clientspecified]
              [--max-startups START:RATE:FULL] [--per-source-max-startups N]
              [--max-sessions N] [--memory-budget SIZE] [--max-auth-tries N]
              [--login-grace-time SECS] [--compression yes|no] [--log-level LEVEL]

A small SSH server for tests and demos: runs each exec request with the shell
of the user running conchd (a login shell for `shell`, on a pseudo-terminal
when the client asks for one), for any user name whose key or password is
accepted.

  -p, --port PORT          TCP port (default 2222)
      --listen ADDR        address to listen on (default 127.0.0.1)
      --host-key FILE      the server's OpenSSH private key (must exist)
      --generate-host-key  create --host-key (Ed25519, with FILE.pub) if missing
      --host-certificate FILE certificate of the host key (ssh-keygen -s CA -h),
                              served to clients that ask for certificates
      --authorized-keys FILE  public keys allowed to log in, one per line
                              (cert-authority lines with principals=\"...\" too)
      --trusted-user-ca-keys FILE  CA keys whose user certificates may log in
                              (sshd's TrustedUserCAKeys: the user name must be a
                              principal; force-command and source-address apply)
      --password-file FILE    `user:password` lines, or one password for any user
      --sftp-root DIR      serve the sftp subsystem over DIR, seen as / by
                           clients and never left (default: $HOME)
      --sftp-read-only     refuse every change over sftp
      --accept-env PATTERNS   env variables clients may set, as sshd's AcceptEnv
                              (names with * and ?, space-separated; repeatable;
                              default LANG LC_*; '' accepts none)
  -q, --quiet              log nothing
      --no-forwarding      refuse all port and Unix-socket forwarding
      --allow-tcp-forwarding WHICH  as sshd's AllowTcpForwarding (default yes)
      --no-agent-forwarding  refuse agent forwarding (sshd's
                           AllowAgentForwarding no; allowed by default)
      --permit-open HOST:PORT       allow only these -L/-D targets (repeatable,
                                    `*` for any host or port; sshd's PermitOpen)
      --permit-listen [HOST:]PORT   allow only these -R listeners (repeatable;
                                    sshd's PermitListen)
      --gateway-ports WHICH         as sshd's GatewayPorts (default no: -R
                                    listeners bind loopback)
      --log-level LEVEL    quiet, error, info (default), debug1, debug2
      --help               this help

Forwarding (-L, -R, -D, -W and their Unix-socket forms) is allowed to every
authenticated user unless restricted by the options above.

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
    /// `--host-certificate`.
    pub host_certificate: Option<PathBuf>,
    /// `--trusted-user-ca-keys`.
    pub trusted_user_ca_keys: Option<PathBuf>,
    /// The password file.
    pub password_file: Option<PathBuf>,
    /// `--accept-env`: the AcceptEnv patterns, if given.
    pub accept_env: Option<Vec<String>>,
    /// Log nothing.
    pub quiet: bool,
    /// The `sftp` subsystem's root and mode.
    pub sftp: crate::server::SftpSetup,
    /// What forwarding is allowed (sshd's options).
    pub forwarding: ForwardPolicy,
    /// Limits against abusive clients.
    pub limits: Limits,
    /// What the library's log shows (`--log-level`; `None`: nothing).
    pub log_level: Option<tracing::Level>,
    /// `--no-agent-forwarding` not given.
    pub allow_agent_forwarding: bool,
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
    let mut host_certificate = None;
    let mut trusted_user_ca_keys = None;
    let mut password_file = None;
    let mut quiet = false;
    let mut sftp = crate::server::SftpSetup::default();
    let mut forwarding = ForwardPolicy::default();
    let mut accept_env: Option<Vec<String>> = None;
    let mut limits = Limits::default();
    let mut log_level = Some(tracing::Level::INFO);
    let mut allow_agent_forwarding = true;
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
            Long("host-certificate") => {
                host_certificate = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("trusted-user-ca-keys") => {
                trusted_user_ca_keys =
                    Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("password-file") => {
                password_file = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("accept-env") => accept_env
                .get_or_insert_with(Vec::new)
                .extend(text(&mut parser)?.split_whitespace().map(str::to_string)),
            Short('q') | Long("quiet") => quiet = true,
            Long("sftp-root") => {
                sftp.root = Some(PathBuf::from(parser.value().map_err(|e| e.to_string())?))
            }
            Long("sftp-read-only") => sftp.read_only = true,
            Long("no-forwarding") => forwarding = ForwardPolicy::none(),
            Long("no-agent-forwarding") => allow_agent_forwarding = false,
            Long("allow-tcp-forwarding") => {
                let v = text(&mut parser)?;
                forwarding.tcp = AllowForwarding::parse(&v)
                    .ok_or_else(|| format!("bad --allow-tcp-forwarding {v:?}"))?;
            }
            Long("gateway-ports") => {
                let v = text(&mut parser)?;
                forwarding.gateway_ports =
                    GatewayPorts::parse(&v).ok_or_else(|| format!("bad --gateway-ports {v:?}"))?;
            }
            Long("permit-open") => {
                let v = text(&mut parser)?;
                add_permit(&mut forwarding.permit_open, &v, false)?;
            }
            Long("permit-listen") => {
                let v = text(&mut parser)?;
                add_permit(&mut forwarding.permit_listen, &v, true)?;
            }
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
    if authorized_keys.is_none() && password_file.is_none() && trusted_user_ca_keys.is_none() {
        return Err(format!(
            "nobody could log in: give --authorized-keys FILE, --trusted-user-ca-keys FILE \
             and/or --password-file FILE\n\n{}",
            usage()
        ));
    }
    Ok(DaemonArgs {
        listen: SocketAddr::new(address, port),
        host_key,
        generate_host_key,
        authorized_keys,
        host_certificate,
        trusted_user_ca_keys,
        password_file,
        accept_env,
        quiet,
        sftp,
        forwarding,
        limits,
        log_level: if quiet { None } else { log_level },
        allow_agent_forwarding,
    })
}

/// Adds one `--permit-open`/`--permit-listen` value: `any`, `none`, or an
/// entry (the first entry replaces the default `any`).
fn add_permit(permit: &mut Permit, value: &str, host_optional: bool) -> Result<(), String> {
    match value {
        "any" => *permit = Permit::Any,
        "none" => *permit = Permit::None,
        entry => {
            let entry = PermitEntry::parse(entry, host_optional)?;
            match permit {
                Permit::Only(list) => list.push(entry),
                _ => *permit = Permit::Only(vec![entry]),
            }
        }
    }
    Ok(())
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
    let host_certificate = match &args.host_certificate {
        Some(path) => {
            let cert = conch_openssh::load_certificate(path).map_err(|e| e.to_string())?;
            // Refused now rather than silently never served.
            host_key
                .with_certificate(&cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Some(cert)
        }
        None => None,
    };
    let trusted_user_cas = match &args.trusted_user_ca_keys {
        Some(path) => crate::server::read_ca_keys(path, &log)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => Vec::new(),
    };
    Ok(ServerSetup {
        host_key,
        host_certificate,
        trusted_user_cas,
        authorized_keys,
        passwords,
        accept_env: args
            .accept_env
            .as_ref()
            .map_or_else(Default::default, conch_driver::process::AcceptEnv::new),
        log,
        limits: args.limits.clone(),
        sftp: args.sftp.clone(),
        forwarding: args.forwarding.clone(),
        allow_agent_forwarding: args.allow_agent_forwarding,
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
    let result = serve_on_every_core(&args, &setup);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("conchd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// [`crate::client::one_thread_runtime`], its error worded for conchd.
fn one_thread_runtime() -> Result<tokio::runtime::Runtime, String> {
    crate::client::one_thread_runtime().map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Listens, then accepts and serves on a thread per core, each with a
/// runtime of its own, as sshd serves each connection in a process of its
/// own: a connection stays on the thread that accepted it, so its tasks
/// never wake each other across threads (about 13% more throughput on
/// one download than a shared multi-thread runtime, BENCHMARKS.md), and
/// the connections spread over the cores as each thread accepts when it
/// is free. Returns when accepting fails on any of them.
fn serve_on_every_core(args: &DaemonArgs, setup: &ServerSetup) -> Result<(), String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = one_thread_runtime()?;
    let server = first
        .block_on(Conchd::bind(args.listen, setup))
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
    let (ended, first_end) = std::sync::mpsc::channel();
    let mut runtimes = vec![(first, server)];
    for _ in 1..threads {
        let runtime = one_thread_runtime()?;
        let clone = {
            let _inside = runtime.enter();
            runtimes[0].1.try_clone()
        }
        .map_err(|e| format!("cannot listen on {addr} on another thread: {e}"))?;
        runtimes.push((runtime, clone));
    }
    for (runtime, server) in runtimes {
        let ended = ended.clone();
        std::thread::Builder::new()
            .name("conchd".into())
            .spawn(move || {
                // A panic ends conchd as it would on one thread, not just
                // this thread's share of the connections.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(server.run())
                }));
                let _ = ended.send(match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("accept failed: {e}")),
                    Err(_) => Err("a serving thread panicked".to_string()),
                });
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
    }
    drop(ended);
    first_end
        .recv()
        .unwrap_or_else(|_| Err("every serving thread ended".into()))
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
        assert_eq!(a.sftp, crate::server::SftpSetup::default());
        assert_eq!(a.accept_env, None);
        let a = parse(&[
            "--host-key",
            "k",
            "--password-file",
            "pw",
            "--sftp-root",
            "/srv/files",
            "--sftp-read-only",
        ])
        .unwrap();
        assert_eq!(a.sftp.root_dir(), PathBuf::from("/srv/files"));
        assert!(a.sftp.read_only);
        let a = parse(&[
            "--host-key",
            "k",
            "--password-file",
            "pw",
            "--accept-env",
            "LANG LC_*",
            "--accept-env",
            "TZ",
        ])
        .unwrap();
        assert_eq!(a.accept_env.unwrap(), ["LANG", "LC_*", "TZ"]);
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
