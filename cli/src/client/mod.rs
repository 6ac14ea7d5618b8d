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
//! Options taken with `-o`: `UserKnownHostsFile`, `StrictHostKeyChecking`
//! (`yes`, `accept-new`, `ask`, and `no`, which here means accept-new: a
//! changed key is always refused), `BatchMode`, `Port`, `User`,
//! `IdentityFile`, `ConnectTimeout`, `IdentitiesOnly`; others are an error.
//! Credentials, in order: the agent's keys (`SSH_AUTH_SOCK`, unless
//! `--no-agent`), the `-i` files (else the default `~/.ssh/id_*` files),
//! then keyboard-interactive and the password, from the environment
//! variable named by `--password-env`, or asked on the terminal unless
//! `BatchMode=yes`.
//!
//! `--record FILE` records a transcript of the session (see
//! `conch_core::record`; **anyone with it can decrypt the session**), and
//! `conch --replay FILE` replays one and prints its calls and events
//! ([`crate::replay`]).

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use conch_core::PublicKey;
use conch_driver::Signer;
use conch_openssh::{
    default_identity_files, load_private_key, ConsoleUi, HostKeyUi, KeyFileError, KeyFileSigner,
    KnownHostsFile, KnownHostsPolicy, PassphraseFn,
};
use conch_tokio::{
    AgentClient, Channel, ClientOptions, CommandEndpoint, EndpointError, Error, ExitStatus,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::output::{CopyError, Output, Stream};

mod args;
mod forward_args;
mod forwarding;

mod escape;
mod tty;

pub use args::{parse_args, ClientArgs, Invocation, StrictHostKeyChecking, USAGE};
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

/// Prints `debug1: ...` lines when `-v` was given.
struct Debug(u8);

impl Debug {
    fn log(&self, message: impl AsRef<str>) {
        if self.0 > 0 {
            eprintln!("debug1: {}", message.as_ref());
        }
    }
}

/// Runs the client; returns the process exit status.
pub async fn run(args: ClientArgs, setup: ForwardSetup) -> i32 {
    let debug = Debug(args.verbose);
    let endpoint = match build_endpoint(&args, &debug) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("conch: {message}");
            return FAILURE;
        }
    };
    debug.log(format!("Connecting to {} port {}.", args.host, args.port));
    if !setup.is_empty() || args.stdio_forward.is_some() || args.no_command {
        // Each jump host gets the same credentials and checks, under its
        // own name, user and port.
        let build = |user: &str, host: &str, port: u16| {
            let mut hop = args.clone();
            hop.user = user.to_string();
            hop.host = host.to_string();
            hop.port = port;
            hop.command = String::new();
            build_endpoint(&hop, &debug)
        };
        return forwarding::run(&args, &setup, endpoint, &build, &debug).await;
    }
    if wants_terminal(&args) {
        let session = match endpoint.connect_session().await {
            Ok(s) => s,
            Err(e) => return report(&args, &e),
        };
        return run_on_terminal(&session, &args, &debug).await;
    }
    let connected = if args.command.is_empty() {
        start_shell(&endpoint).await
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
pub fn connection_args(words: Vec<OsString>) -> Result<ClientArgs, String> {
    match parse_args(words)? {
        Invocation::Connect(mut a) => {
            let load = conch_openssh::ssh_config::LoadOptions::from_environment();
            crate::config_dump::apply_config(&mut a, load)?;
            Ok(*a)
        }
        _ => Err("expected a host".into()),
    }
}

/// Connects and authenticates as `conch` does for `args`. A failure has
/// been reported on stderr (as `conch` reports it); the error is the exit
/// status.
pub async fn connect_session(args: &ClientArgs) -> Result<conch_tokio::Session, i32> {
    let debug = Debug(args.verbose);
    let endpoint = build_endpoint(args, &debug).map_err(|message| {
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
    let channel = match forwarding::open_command(session, &args.command).await {
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

/// No command: a shell, without a pseudo-terminal.
async fn start_shell(endpoint: &CommandEndpoint) -> Result<Channel, EndpointError> {
    let session = endpoint.connect_session().await?;
    let channel = session
        .open_session()
        .await
        .map_err(EndpointError::from_session_error)?;
    channel
        .shell()
        .await
        .map_err(EndpointError::from_session_error)?;
    Ok(channel)
}

fn build_endpoint(args: &ClientArgs, debug: &Debug) -> Result<CommandEndpoint, String> {
    let can_ask = !args.batch && have_terminal();
    let mut endpoint =
        CommandEndpoint::new_connection(args.command.clone(), args.user.clone(), args.host.clone())
            .port(args.port);

    let mut options = ClientOptions {
        config: Arc::new(conch_core::ClientConfig {
            transport: crate::provider::transport_config(),
            ..conch_core::ClientConfig::default()
        }),
        ..ClientOptions::default()
    };
    debug.log(format!(
        "crypto provider: {}",
        crate::provider::PROVIDER_NAME
    ));
    if let Some(timeout) = args.connect_timeout {
        options.connect_timeout = Some(timeout);
    }
    options.record = args.record.clone();
    endpoint = endpoint.options(options);

    let known_hosts = match &args.known_hosts {
        Some(path) => KnownHostsFile::new(path),
        None => KnownHostsFile::user_default()
            .ok_or("HOME is not set: give -o UserKnownHostsFile=FILE")?,
    };
    debug.log(format!("known hosts: {}", known_hosts.path().display()));
    let policy = match args.strict {
        StrictHostKeyChecking::Yes => KnownHostsPolicy::Strict,
        StrictHostKeyChecking::AcceptNew => KnownHostsPolicy::AcceptNew,
        StrictHostKeyChecking::Ask => KnownHostsPolicy::Ask,
    };
    endpoint = endpoint
        .known_hosts(known_hosts)
        .known_hosts_policy(policy)
        .ui(Arc::new(CliUi {
            ask: can_ask,
            quiet: args.quiet,
            console: ConsoleUi::new(),
        }));

    if !args.no_agent && !args.identities_only {
        if let Some(agent) = AgentClient::from_env() {
            debug.log(format!("agent: {}", agent.socket().display()));
            endpoint = endpoint.agent(agent);
        }
    }
    let explicit = !args.identities.is_empty();
    let files = if explicit {
        args.identities.clone()
    } else {
        default_identity_files()
    };
    for path in &files {
        match load_identity(path, can_ask) {
            Ok(signer) => {
                debug.log(format!(
                    "identity file {}: {}",
                    path.display(),
                    signer.public_key().fingerprint()
                ));
                endpoint = endpoint.signer(signer);
            }
            Err(e) => {
                // As ssh: a missing -i file is a warning, default files that
                // Conch cannot use are only mentioned with -v.
                if explicit && e.is_not_found() {
                    eprintln!(
                        "Warning: Identity file {} not accessible: No such file or directory.",
                        path.display()
                    );
                } else if explicit {
                    eprintln!("Warning: {e}");
                } else {
                    debug.log(format!("skipping {e}"));
                }
            }
        }
    }

    if let Some(var) = &args.password_env {
        let password = std::env::var(var)
            .map_err(|_| format!("--password-env: environment variable {var} is not set"))?;
        endpoint = endpoint.password(password);
    } else if can_ask {
        endpoint = endpoint.password_prompt(Arc::new(|prompt: &str, _echo: bool| {
            rpassword::prompt_password(prompt).ok()
        }));
    }
    Ok(endpoint)
}

/// An identity file as a signer. With a terminal, an encrypted key whose
/// `.pub` is there is offered first and its passphrase asked only if the
/// server accepts it (as `ssh` does); without one (batch mode), encrypted
/// keys cannot be used and are skipped now.
fn load_identity(path: &Path, can_ask: bool) -> Result<Arc<dyn Signer>, KeyFileError> {
    if !can_ask {
        return load_private_key(path, &mut |_| None).map(|k| Arc::new(k) as Arc<dyn Signer>);
    }
    let ask: Arc<PassphraseFn> = Arc::new(|path: &Path| {
        rpassword::prompt_password(format!("Enter passphrase for key '{}': ", path.display())).ok()
    });
    KeyFileSigner::open(path, ask).map(|s| Arc::new(s) as Arc<dyn Signer>)
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
    // `conch sftp ...` and `conch scp ...`: the file transfer programs.
    match args.first().and_then(|a| a.to_str()) {
        Some("sftp") => return crate::sftp::main(args[1..].to_vec()),
        Some("scp") => return crate::sftp::scp::main(args[1..].to_vec()),
        _ => {}
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
            if let Err(message) = crate::config_dump::apply_config(&mut a, load()) {
                eprintln!("conch: {message}");
                return FAILURE;
            }
            (*a, setup)
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
    let (args, setup) = args;
    runtime.block_on(run(args, setup))
}
