//! `conch`, an ssh-like client:
//!
//! ```text
//! conch [-p PORT] [-l USER] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE|none]
//!       [-v] [-q] [-n] [-T] [--password-env VAR] [--no-agent] [USER@]HOST [COMMAND...]
//! conch --demo
//! conch --replay FILE
//! ```
//!
//! It runs COMMAND (the words joined with spaces, as `ssh` does; a shell
//! without a terminal when there is none), forwards stdin (its end becomes
//! the channel's EOF), stdout and stderr, and exits with the remote exit
//! status, 128+N when the command was killed by signal N, and 255 with an
//! OpenSSH-like message when connecting, the host key or authentication
//! fails.
//!
//! The configuration is ssh's: the `-o` options (any ssh_config keyword),
//! then `-F FILE` or `~/.ssh/config` and `/etc/ssh/ssh_config`, resolved
//! by `conch_openssh::ssh_config` and acted on through
//! [`conch_openssh::HostConfig`]: host name, port, user, identities, the
//! agent (`IdentityAgent`, `IdentitiesOnly`), known hosts
//! (`UserKnownHostsFile`, `GlobalKnownHostsFile`, `StrictHostKeyChecking`
//! `yes`, `accept-new`, `ask`, and `no`, which as in ssh goes on after a
//! changed key's warning without passwords; `CheckHostIP`, `HashKnownHosts`),
//! `BatchMode`, the authentication methods and their order, algorithms,
//! `ConnectTimeout` (TCP connect, banner and key exchange),
//! `ConnectionAttempts`, `AddressFamily`, `ProxyCommand`, keepalives,
//! `RekeyLimit`, `SendEnv`/`SetEnv`, `RemoteCommand` and `LogLevel`.
//! Options whose feature conch lacks (`Compression`, `ForwardAgent`,
//! `RequestTTY`, `CertificateFile`) are warned about as not supported.
//! Credentials, in order: the agent's keys (`SSH_AUTH_SOCK`, unless
//! `--no-agent`), the `-i` and `IdentityFile` files (else the default
//! `~/.ssh/id_*` files), then keyboard-interactive and the password, from
//! the environment variable named by `--password-env`, or asked on the
//! terminal unless `BatchMode=yes`.
//!
//! `--record FILE` records a transcript of the session (see
//! `conch_core::record`; **anyone with it can decrypt the session**), and
//! `conch --replay FILE` replays one and prints its calls and events
//! ([`crate::replay`]).

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use conch_core::PublicKey;
use conch_openssh::ssh_config::ResolvedConfig;
use conch_openssh::{ConsoleUi, HostConfig, HostKeyUi, PassphraseFn};
use conch_tokio::{Channel, CommandEndpoint, EndpointError, Error, ExitStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::output::{CopyError, Output, Stream};

mod args;

pub use args::{parse_args, ClientArgs, Invocation, USAGE};

/// The exit status for failures of `conch` itself (as `ssh`).
pub const FAILURE: i32 = 255;

/// Whether a terminal is there to ask on.
fn have_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// The host key UI of `conch`: asks on the terminal unless in batch mode,
/// warns on stderr unless quiet (`-q` hides only the "Permanently added"
/// notices; refusals are always shown).
struct CliUi {
    ask: bool,
    quiet: bool,
    console: ConsoleUi,
}

impl HostKeyUi for CliUi {
    fn confirm(&self, prompt: &str, key: &PublicKey) -> bool {
        self.ask && self.console.confirm(prompt, key)
    }

    fn warn(&self, message: &str) {
        if !(self.quiet && message.starts_with("Warning: Permanently added")) {
            self.console.warn(message);
        }
    }
}

/// Prints `debug1: ...` lines when `-v` was given.
struct Debug(u8);

impl Debug {
    fn log(&self, message: impl AsRef<str>) {
        if self.0 > 0 {
            eprintln!("debug1: {}", message.as_ref());
        }
    }
}

/// Runs the client with its resolved configuration; returns the process
/// exit status.
pub async fn run(mut args: ClientArgs, config: ResolvedConfig) -> i32 {
    let log_level = config.value("LogLevel").unwrap_or_default();
    if matches!(log_level.as_str(), "QUIET" | "FATAL" | "ERROR") {
        args.quiet = true;
    }
    if let Some(level) = log_level.strip_prefix("DEBUG") {
        let level = level.parse::<u8>().unwrap_or(1);
        args.verbose = args.verbose.max(level);
    }
    let debug = Debug(args.verbose);
    if args.command.is_empty() {
        match config.remote_command() {
            Ok(Some(command)) => args.command = command,
            Ok(None) => {}
            Err(e) => {
                eprintln!("conch: {e}");
                return FAILURE;
            }
        }
    }
    let (endpoint, env) = match build_endpoint(&args, config, &debug) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("conch: {message}");
            return FAILURE;
        }
    };
    debug.log(format!("Connecting to {} port {}.", args.host, args.port));
    let connected = if args.command.is_empty() {
        start_shell(&endpoint, &env).await
    } else {
        debug.log(format!("Sending command: {}", args.command));
        endpoint.connect().await
    };
    let channel = match connected {
        Ok(channel) => channel,
        Err(e) => return report(&args, &e),
    };
    debug.log("Command started; forwarding stdin, stdout and stderr.");
    let code = forward(channel, &args, &debug).await;
    debug.log(format!("Exit status {code}"));
    code
}

/// No command: a shell, without a pseudo-terminal, with the configured
/// environment (`SetEnv`, `SendEnv`).
async fn start_shell(
    endpoint: &CommandEndpoint,
    env: &[(String, String)],
) -> Result<Channel, EndpointError> {
    let session = endpoint.connect_session().await?;
    let channel = session
        .open_session()
        .await
        .map_err(EndpointError::from_session_error)?;
    conch_openssh::endpoint::send_env(&channel, env)?;
    channel
        .shell()
        .await
        .map_err(EndpointError::from_session_error)?;
    Ok(channel)
}

/// The endpoint `conch` connects with: the host's configuration with the
/// terminal's prompts and the command line's extras.
fn build_endpoint(
    args: &ClientArgs,
    config: ResolvedConfig,
    debug: &Debug,
) -> Result<(CommandEndpoint, Vec<(String, String)>), String> {
    let can_ask = !config.batch_mode() && have_terminal();
    let ui = Arc::new(CliUi {
        ask: can_ask,
        quiet: args.quiet,
        console: ConsoleUi::new(),
    });
    let mut host = HostConfig::from_resolved(config, ui).map_err(|e| e.to_string())?;
    for option in host.unsupported() {
        eprintln!("conch: {option}: not supported by conch; ignored");
    }
    if can_ask {
        let ask: Arc<PassphraseFn> = Arc::new(|path: &Path| {
            rpassword::prompt_password(format!("Enter passphrase for key '{}': ", path.display()))
                .ok()
        });
        host = host
            .with_passphrase_prompt(ask)
            .with_password_prompt(Arc::new(|prompt: &str, _echo: bool| {
                rpassword::prompt_password(prompt).ok()
            }));
    }
    debug.log(format!(
        "crypto provider: {}",
        crate::provider::PROVIDER_NAME
    ));
    let options = host.options_mut();
    // The provider `conch` was built with (ring's AES-GCM with the `ring`
    // feature) implements the same names the configuration resolved.
    options.config_mut().transport.crypto = Arc::new(crate::provider::crypto_provider());
    options.record = args.record.clone();
    if let Some(command) = &options.proxy_command {
        debug.log(format!("proxy command: {command}"));
    }
    debug.log(format!(
        "known hosts: {}",
        host.verifier().file().path().display()
    ));
    debug.log(format!(
        "host key algorithms: {}",
        host.options()
            .config
            .transport
            .algorithms
            .host_key
            .join(",")
    ));
    let mut endpoint = host.endpoint::<conch_tokio::Tokio>(args.command.clone());
    if let Some(var) = &args.password_env {
        let password = std::env::var(var)
            .map_err(|_| format!("--password-env: environment variable {var} is not set"))?;
        endpoint = endpoint.password(password);
    }
    Ok((endpoint, host.command_env()))
}

/// Prints the OpenSSH-like message for a failure to start and returns 255.
fn report(args: &ClientArgs, e: &EndpointError) -> i32 {
    let (host, port) = (&args.host, args.port);
    match e {
        EndpointError::ConnectionRefused { .. } => {
            eprintln!("conch: connect to host {host} port {port}: Connection refused")
        }
        EndpointError::Connect(Error::Resolve { source, .. }) => {
            eprintln!("conch: Could not resolve hostname {host}: {source}")
        }
        EndpointError::Connect(Error::Connect { source, .. }) => {
            eprintln!("conch: connect to host {host} port {port}: {source}")
        }
        // As ssh (kex.c, packet.c `sshpkt_fatal`).
        EndpointError::Connect(Error::Timeout(what @ ("banner exchange" | "key exchange"))) => {
            eprintln!("Connection timed out during {what}");
            eprintln!("Connection to {host} port {port} timed out")
        }
        EndpointError::Connect(Error::Timeout(what)) => {
            eprintln!("conch: connect to host {host} port {port}: {what} timed out")
        }
        EndpointError::Connect(other) => {
            eprintln!("conch: connection to {host} port {port} failed: {other}")
        }
        // The host key UI has already shown OpenSSH's alarm, ending with
        // "Host key verification failed."
        EndpointError::HostKeyRejected { .. } | EndpointError::HostKeyChanged { .. } => {}
        EndpointError::AuthenticationFailed {
            methods,
            lost: None,
        } => eprintln!(
            "{}@{host}: Permission denied ({}).",
            args.user,
            methods.join(",")
        ),
        EndpointError::AuthenticationFailed { lost: Some(e), .. }
            if matches!(**e, Error::Sign(_)) =>
        {
            eprintln!(
                "{}@{host}: Permission denied (a key the server accepts cannot be used: {e}).",
                args.user
            )
        }
        EndpointError::AuthenticationFailed { lost: Some(e), .. } => {
            eprintln!("Connection closed by {host} port {port} during authentication: {e}")
        }
        EndpointError::ChannelOpenRefused {
            reason,
            description,
        } => eprintln!(
            "channel 0: open failed: {}: {description}",
            open_failure_text(*reason)
        ),
        EndpointError::RequestRefused { request } => {
            eprintln!("{request} request failed on channel 0")
        }
        EndpointError::Cancelled => eprintln!("conch: cancelled"),
        other => eprintln!("conch: {other}"),
    }
    FAILURE
}

/// RFC 4254 section 5.1's reason codes as OpenSSH prints them.
fn open_failure_text(reason: conch_tokio::ChannelOpenFailure) -> &'static str {
    match reason.code() {
        1 => "administratively prohibited",
        2 => "connect failed",
        3 => "unknown channel type",
        4 => "resource shortage",
        _ => "unknown reason",
    }
}

/// Forwards the standard streams until the channel ends; returns the exit
/// status to leave with.
async fn forward(channel: Channel, args: &ClientArgs, debug: &Debug) -> i32 {
    let channel = Arc::new(channel);
    if args.no_stdin {
        let _ = (&*channel).shutdown().await;
    } else {
        // stdin may never end (a terminal): it is not waited for. Its
        // end is the channel's EOF.
        let input = channel.clone();
        tokio::spawn(async move {
            if copy_input(tokio::io::stdin(), &*input).await.is_ok() {
                let _ = (&*input).shutdown().await;
            }
        });
    }
    let stderr = channel.stderr();
    // If our stdout or stderr goes away (`conch host yes | head -1`), the
    // command's output has nowhere to go: close the channel rather than
    // leave the command blocked on a full window forever.
    let close_on_write_error = |r: Result<u64, CopyError>| async {
        if let Err(CopyError::Write(e)) = &r {
            debug.log(format!("local output failed ({e}); closing the channel"));
            let _ = channel.close_channel().await;
        }
        r
    };
    let (stdout, stderr_out) = match (Output::start(Stream::Stdout), Output::start(Stream::Stderr))
    {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("conch: cannot write the output: {e}");
            return FAILURE;
        }
    };
    let out = async { close_on_write_error(stdout.copy_from(&*channel).await).await };
    let err = async { close_on_write_error(stderr_out.copy_from(&stderr).await).await };
    let (out, err) = tokio::join!(out, err);
    for r in [&out, &err] {
        match r {
            Err(CopyError::Write(_)) => return FAILURE,
            // The exit status below tells how the connection ended.
            Err(CopyError::Read(e)) => debug.log(format!("reading the channel failed: {e}")),
            Ok(_) => {}
        }
    }
    match channel.exit_status().await {
        Ok(ExitStatus::Code(code)) => code.min(255) as i32,
        Ok(status) => {
            debug.log(format!("remote command {status}"));
            status.shell_code().min(255) as i32
        }
        Err(Error::NoExitStatus) => FAILURE,
        Err(e) => {
            eprintln!("Connection to {} closed by remote host: {e}", args.host);
            FAILURE
        }
    }
}

/// Copies our stdin into the channel until stdin ends, passing each chunk
/// on at once (the remote side may be waiting for it).
async fn copy_input(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await.map_err(CopyError::Read)?;
        if n == 0 {
            to.flush().await.map_err(CopyError::Write)?;
            return Ok(total);
        }
        to.write_all(&buf[..n]).await.map_err(CopyError::Write)?;
        to.flush().await.map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// `conch`'s `main`.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    if crate::config_dump::requested(&args) {
        return crate::config_dump::main(args);
    }
    let (args, config) = match parse_args(args) {
        Ok(Invocation::Connect(mut a)) => {
            let load = conch_openssh::ssh_config::LoadOptions::from_environment();
            match crate::config_dump::apply_config(&mut a, load) {
                Ok(config) => (*a, config),
                Err(message) => {
                    eprintln!("conch: {message}");
                    return FAILURE;
                }
            }
        }
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return 0;
        }
        Ok(Invocation::Demo) => return crate::demo::main(),
        Ok(Invocation::Replay(path)) => return crate::replay::main(&path),
        Err(message) => {
            eprintln!("conch: {message}");
            return FAILURE;
        }
    };
    // One session, one thread (as `ssh`): the socket pump and the copies
    // hand data to each other without waking another thread. Output goes
    // through its own threads ([`crate::output`]).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conch: cannot start the runtime: {e}");
            return FAILURE;
        }
    };
    runtime.block_on(run(args, config))
}
