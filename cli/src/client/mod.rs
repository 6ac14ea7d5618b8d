//! `conch`, an ssh-like client:
//!
//! ```text
//! conch [-p PORT] [-l USER] [-i IDENTITY]... [-o OPTION=VALUE]... [-F FILE|none]
//!       [-v] [-q] [-n] [-t|-tt|-T] [-e CHAR] [--password-env VAR] [--no-agent]
//!       [USER@]HOST [COMMAND...]
//! conch --demo
//! conch --replay FILE
//! conch sftp [-b BATCHFILE] [-P PORT] [-i IDENTITY] [-r] [USER@]HOST[:DIR]
//! conch scp [-r] [-p] [-P PORT] [-i IDENTITY] SOURCE... TARGET
//! ```
//!
//! It runs COMMAND (the words joined with spaces, as `ssh` does; the login
//! shell when there is none), on a pseudo-terminal by ssh's `RequestTTY`
//! rules (`-t`, `-tt`, `-T`, `-o RequestTTY`: by default for a shell when
//! stdin is a terminal), with the local terminal in raw mode meanwhile and
//! ssh's escapes (`~.`, `~?`, `~~`, `~#`; `-e` changes or disables the
//! escape character). It forwards stdin (its end becomes
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
//! `ConnectionAttempts`, `AddressFamily`, `ProxyCommand`, `ProxyJump`/`-J`
//! (each jump host with its own ssh_config), keepalives,
//! `RekeyLimit`, `SendEnv`/`SetEnv`, `RemoteCommand` and `LogLevel`.
//! `Compression yes` (`-C`) asks for zlib@openssh.com, then zlib.
//! Options whose feature conch lacks (`UpdateHostKeys`) are warned about
//! as not supported.
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
mod forward_args;
mod forwarding;

mod escape;
mod tty;

pub(crate) use args::forward_agent;
pub use args::{parse_args, ClientArgs, Invocation, USAGE};
pub use escape::EscapeChar;
pub use forward_args::ForwardSetup;
pub use tty::RequestTty;

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

/// The client's own `debug1: ...` lines (shown with `-v`), among the
/// library's (see [`crate::logging`]).
struct Debug;

impl Debug {
    fn log(&self, message: impl AsRef<str>) {
        tracing::debug!("{}", message.as_ref());
    }
}

/// Runs the client with its resolved configuration and forwards; returns
/// the process exit status.
pub async fn run(mut args: ClientArgs, config: ResolvedConfig, setup: ForwardSetup) -> i32 {
    let log_level = config.value("LogLevel").unwrap_or_default();
    if matches!(log_level.as_str(), "QUIET" | "FATAL" | "ERROR") {
        args.quiet = true;
    }
    if let Some(level) = log_level.strip_prefix("DEBUG") {
        let level = level.parse::<u8>().unwrap_or(1);
        args.verbose = args.verbose.max(level);
    }
    crate::logging::init_client(args.verbose);
    let debug = Debug;
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
    if !setup.is_empty()
        || args.stdio_forward.is_some()
        || args.no_command
        || forwarding::agent_wanted(&args)
    {
        return forwarding::run(&args, &setup, endpoint, &debug).await;
    }
    if wants_terminal(&args) {
        let session = match endpoint.connect_session().await {
            Ok(s) => s,
            Err(e) => return report(&args, &e),
        };
        return run_on_terminal(&session, &args, &debug).await;
    }
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

/// Parses ssh-style options and a destination (`conch`'s own syntax) into
/// the connection settings, ssh_config applied: how `conch sftp` and
/// `conch scp` reach their hosts.
pub fn connection_args(words: Vec<OsString>) -> Result<(ClientArgs, ResolvedConfig), String> {
    match parse_args(words)? {
        Invocation::Connect(mut a) => {
            let load = conch_openssh::ssh_config::LoadOptions::from_environment();
            let config = crate::config_dump::apply_config(&mut a, load)?;
            Ok((*a, config))
        }
        _ => Err("expected a host".into()),
    }
}

/// Connects and authenticates as `conch` does for `args`. A failure has
/// been reported on stderr (as `conch` reports it); the error is the exit
/// status.
pub async fn connect_session(
    args: &ClientArgs,
    config: ResolvedConfig,
) -> Result<conch_tokio::Session, i32> {
    crate::logging::init_client(args.verbose);
    let debug = Debug;
    let (endpoint, _env) = build_endpoint(args, config, &debug).map_err(|message| {
        eprintln!("conch: {message}");
        FAILURE
    })?;
    debug.log(format!("Connecting to {} port {}.", args.host, args.port));
    endpoint
        .connect_session()
        .await
        .map_err(|e| report(args, &e))
}

/// Whether the command (or shell) gets a pseudo-terminal: ssh's
/// RequestTTY rules (`-t`, `-tt`, `-T`, `RequestTTY`) over whether a
/// command was given and stdin is a terminal. Forwards and jump hosts do
/// not change it, as in ssh.
fn wants_terminal(args: &ClientArgs) -> bool {
    let request_tty = args.request_tty.unwrap_or(RequestTty::Auto);
    let stdin_is_terminal = !args.no_stdin && tty::stdin_is_terminal();
    request_tty.wants_terminal(!args.command.is_empty(), stdin_is_terminal, args.quiet)
}

/// The command (or a shell) on a connected session, on a pseudo-terminal
/// when [`wants_terminal`] says so: what `conch` runs once its forwards
/// are set up.
async fn run_command(session: &conch_tokio::Session, args: &ClientArgs, debug: &Debug) -> i32 {
    if wants_terminal(args) {
        return run_on_terminal(session, args, debug).await;
    }
    let channel = match forwarding::open_command(
        session,
        &args.command,
        forwarding::agent_wanted(args),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return report(args, &e),
    };
    forward(channel, args, debug).await
}

/// The session on a pseudo-terminal: `pty-req` (a refusal is reported
/// and the session goes on without one, as in ssh), then the command or
/// a shell, forwarded with the local terminal in raw mode.
async fn run_on_terminal(session: &conch_tokio::Session, args: &ClientArgs, debug: &Debug) -> i32 {
    let started = async {
        let channel = session
            .open_session()
            .await
            .map_err(EndpointError::from_session_error)?;
        // -A: ask on this channel; the agent channels that follow are
        // served by `forwarding::run`, which every -A run goes through.
        if forwarding::agent_wanted(args) {
            debug.log("Requesting authentication agent forwarding.");
            channel
                .request_agent_forwarding()
                .map_err(EndpointError::from_session_error)?;
        }
        let (term, size, modes) = tty::pty_request();
        debug.log(format!(
            "Requesting a terminal: TERM={term:?}, {}x{}",
            size.cols, size.rows
        ));
        let has_pty = match channel.request_pty(&term, size, &modes).await {
            Ok(()) => true,
            Err(Error::RequestRefused { .. }) => {
                eprintln!("PTY allocation request failed on channel 0");
                false
            }
            Err(e) => return Err(EndpointError::from_session_error(e)),
        };
        if args.command.is_empty() {
            channel.shell().await
        } else {
            debug.log(format!("Sending command: {}", args.command));
            channel.exec(&args.command).await
        }
        .map_err(EndpointError::from_session_error)?;
        Ok((channel, has_pty))
    };
    let (channel, has_pty) = match started.await {
        Ok(s) => s,
        Err(e) => return report(args, &e),
    };
    // As ssh: escapes only when there is a terminal.
    let escape = if has_pty {
        args.escape_char.unwrap_or_default()
    } else {
        EscapeChar::None
    };
    let code = tty::forward_tty(channel, args, debug, escape, async {
        session.driver().close().await;
    })
    .await;
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
    // The provider `conch` was built with (ring's AES-GCM with the `ring`
    // feature) implements the same names the configuration resolved.
    with_provider(&mut host);
    let options = host.options_mut();
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

/// Sets `conch`'s crypto provider on `host` and its jump hosts.
fn with_provider(host: &mut HostConfig) {
    let provider = Arc::new(crate::provider::crypto_provider());
    host.options_mut().config_mut().transport.crypto = provider;
    for hop in host.jumps_mut() {
        with_provider(hop);
    }
}

/// Prints the OpenSSH-like message for a failure to start and returns 255.
fn report(args: &ClientArgs, e: &EndpointError) -> i32 {
    let (host, port) = (&args.host, args.port);
    match e {
        // Reported as ssh's jump process reports it: under the hop's name.
        EndpointError::JumpHost {
            user,
            host,
            port,
            error,
        } => {
            let mut hop = args.clone();
            hop.host = host.clone();
            hop.port = *port;
            hop.user = user.clone();
            return report(&hop, error);
        }
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

/// The program a `conch` command line runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// A session with a host (ssh's command line).
    Ssh,
    /// `conch sftp ...`.
    Sftp,
    /// `conch scp ...`.
    Scp,
}

/// `conch sftp ...` and `conch scp ...` run the file transfer programs
/// only when `sftp`/`scp` is the very first word; a host of that name is
/// reached with anything before it: `conch -- sftp`, `conch user@sftp`,
/// `conch -p 22 sftp`.
pub fn program(args: &[OsString]) -> Program {
    match args.first().and_then(|a| a.to_str()) {
        Some("sftp") => Program::Sftp,
        Some("scp") => Program::Scp,
        _ => Program::Ssh,
    }
}

/// `conch`'s `main`.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    match program(&args) {
        Program::Sftp => return crate::sftp::main(args[1..].to_vec()),
        Program::Scp => return crate::sftp::scp::main(args[1..].to_vec()),
        Program::Ssh => {}
    }
    if crate::config_dump::requested(&args) {
        return crate::config_dump::main(args);
    }
    let args = match parse_args(args) {
        Ok(Invocation::Connect(mut a)) => {
            let load = conch_openssh::ssh_config::LoadOptions::from_environment;
            // The forwarding keywords for the host as named (before
            // HostName replaces it), with the command line's first.
            let setup = match forward_args::resolve(&a.host, &a.config, &a.forward_options, load())
            {
                Ok(s) => s,
                Err(message) => {
                    eprintln!("conch: {message}");
                    return FAILURE;
                }
            };
            match crate::config_dump::apply_config(&mut a, load()) {
                Ok(config) => (*a, config, setup),
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
    let (args, config, setup) = args;
    block_on_one_thread("conch", FAILURE, run(args, config, setup))
}

/// Runs `program`'s `future` to its exit status on a tokio runtime of the
/// calling thread; `failure` if the runtime cannot start.
pub(crate) fn block_on_one_thread(
    program: &str,
    failure: i32,
    future: impl std::future::Future<Output = i32>,
) -> i32 {
    match one_thread_runtime() {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => {
            eprintln!("{program}: cannot start the runtime: {e}");
            failure
        }
    }
}

/// A tokio runtime on the calling thread, with I/O and timers: what the
/// programs run on (conchd has one per core).
pub(crate) fn one_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

#[cfg(test)]
mod dispatch_tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// The host `conch` would connect to for this command line.
    fn host(args: &[&str]) -> (Program, String) {
        let args = os(args);
        match parse_args(args.clone()) {
            Ok(Invocation::Connect(a)) => (program(&args), a.host),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_host_named_sftp_or_scp_is_reachable() {
        assert_eq!(program(&os(&["sftp", "example.org"])), Program::Sftp);
        assert_eq!(program(&os(&["scp", "a", "h:b"])), Program::Scp);
        assert_eq!(program(&os(&["sftp"])), Program::Sftp);
        for name in ["sftp", "scp"] {
            assert_eq!(host(&["--", name]), (Program::Ssh, name.to_string()));
            assert_eq!(
                host(&[&format!("alice@{name}")]),
                (Program::Ssh, name.to_string())
            );
            assert_eq!(host(&["-p", "22", name]), (Program::Ssh, name.to_string()));
            assert_eq!(
                host(&["--", name, "uptime"]),
                (Program::Ssh, name.to_string())
            );
        }
        // Only the exact first word picks a program.
        assert_eq!(program(&os(&["sftp.example.org"])), Program::Ssh);
        assert_eq!(program(&os(&["SFTP"])), Program::Ssh);
    }
}
