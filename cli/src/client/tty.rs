//! `conch` with a terminal: whether to ask for one (ssh(1)'s `-t`/`-T` and
//! `RequestTTY`), the local terminal in raw mode for the session (restored
//! on every way out: the guard's drop, which runs on errors, panics and
//! the termination signals caught here), the `pty-req` as ssh sends it
//! (TERM, size, the local terminal's modes), SIGWINCH as `window-change`,
//! and the escape sequences.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;

use conch_core::channel::modes::encode_terminal_modes;
use conch_core::WindowSize;
use conch_tokio::{Channel, Error, ExitStatus};
use rustix::termios::{
    self, InputModes, LocalModes, OptionalActions, OutputModes, SpecialCodeIndex, Termios,
};
use tokio::signal::unix::{signal, SignalKind};

use super::escape::{help, Action, EscapeChar, Escapes};
use super::{ClientArgs, Debug, FAILURE};
use crate::output::{CopyError, Output, Stream};

/// ssh's `RequestTTY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTty {
    /// A terminal when no command is given (the default).
    Auto,
    /// `-T`, `no`: never.
    No,
    /// `-t`, `yes`: always, if stdin is a terminal.
    Yes,
    /// `-tt`, `force`: always, even if stdin is not a terminal.
    Force,
}

impl RequestTty {
    /// Parses the ssh_config value (`yes`, `no`, `force`, `auto`; the
    /// resolved forms `true`/`false` too).
    pub fn parse(value: &str) -> Result<RequestTty, String> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(RequestTty::Auto),
            "no" | "false" => Ok(RequestTty::No),
            "yes" | "true" => Ok(RequestTty::Yes),
            "force" => Ok(RequestTty::Force),
            _ => Err(format!("unsupported option \"{value}\" for RequestTTY")),
        }
    }

    /// Whether a terminal is requested, as ssh.c decides: `Auto` asks for
    /// one only for a shell; without `Force`, never when stdin is not a
    /// terminal (then ssh says so, unless quiet).
    pub fn wants_terminal(self, has_command: bool, stdin_is_terminal: bool, quiet: bool) -> bool {
        let wanted = match self {
            RequestTty::No => false,
            RequestTty::Force => return true,
            RequestTty::Yes => true,
            RequestTty::Auto => !has_command,
        };
        if wanted && !stdin_is_terminal {
            if !quiet {
                eprintln!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
            }
            return false;
        }
        wanted
    }
}

/// Whether stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    termios::isatty(std::io::stdin())
}

/// The `pty-req` as ssh sends it: `TERM` (empty when unset), the size of
/// the terminal on stdin (zeros when there is none) and its modes (none
/// when stdin is not a terminal, as ssh's `tty_make_modes`).
pub fn pty_request() -> (String, WindowSize, Vec<u8>) {
    let term = std::env::var("TERM").unwrap_or_default();
    let modes = match termios::tcgetattr(std::io::stdin()) {
        Ok(t) => conch_driver::terminal_modes::terminal_modes(&t),
        Err(_) => Vec::new(),
    };
    (term, window_size(), encode_terminal_modes(&modes))
}

/// The size of the terminal on stdin.
fn window_size() -> WindowSize {
    let ws = termios::tcgetwinsize(std::io::stdin()).unwrap_or(termios::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    WindowSize {
        cols: ws.ws_col.into(),
        rows: ws.ws_row.into(),
        width_px: ws.ws_xpixel.into(),
        height_px: ws.ws_ypixel.into(),
    }
}

/// The local terminal in raw mode; its settings are put back when dropped.
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts the terminal on stdin in raw mode as ssh's `enter_raw_mode`
    /// does; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        raw.input_modes.insert(InputModes::IGNPAR);
        raw.input_modes.remove(
            InputModes::ISTRIP
                | InputModes::INLCR
                | InputModes::IGNCR
                | InputModes::ICRNL
                | InputModes::IXON
                | InputModes::IXANY
                | InputModes::IXOFF,
        );
        #[cfg(any(target_os = "linux", target_os = "android"))]
        raw.input_modes.remove(InputModes::IUCLC);
        raw.local_modes.remove(
            LocalModes::ISIG
                | LocalModes::ICANON
                | LocalModes::ECHO
                | LocalModes::ECHOE
                | LocalModes::ECHOK
                | LocalModes::ECHONL
                | LocalModes::IEXTEN,
        );
        raw.output_modes.remove(OutputModes::OPOST);
        raw.special_codes[SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[SpecialCodeIndex::VTIME] = 0;
        termios::tcsetattr(stdin.as_fd(), OptionalActions::Drain, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Drain, &self.saved);
    }
}

/// How the interactive session ended, besides the remote exit status.
enum End {
    /// The output ended (the channel closed).
    Output([Result<u64, CopyError>; 2]),
    /// `~.` was typed.
    Disconnected,
    /// A termination signal came.
    Signal(&'static str),
}

/// Forwards the session on a terminal until it ends; returns the exit
/// status to leave with. `close` ends the connection (for `~.`).
pub async fn forward_tty<F>(
    channel: Channel,
    args: &ClientArgs,
    debug: &Debug,
    escape: EscapeChar,
    close: F,
) -> i32
where
    F: std::future::Future<Output = ()>,
{
    let channel = Arc::new(channel);
    // Raw mode from here to the end of this function, whatever the way out.
    let raw = RawMode::enter();
    let (stdout, stderr_out) = match (Output::start(Stream::Stdout), Output::start(Stream::Stderr))
    {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            drop(raw);
            eprintln!("conch: cannot write the output: {e}");
            return FAILURE;
        }
    };
    let stderr = channel.stderr();
    let output = async {
        let (o, e) = tokio::join!(stdout.copy_from(&*channel), stderr_out.copy_from(&stderr));
        End::Output([o, e])
    };
    let input = typed_input(&channel, args.no_stdin, escape);
    let end = tokio::select! {
        end = output => end,
        end = input => end,
        name = termination_signal() => End::Signal(name),
    };
    // Back to the settings the terminal had before anything is printed.
    drop(raw);
    let host = &args.host;
    match end {
        End::Disconnected => {
            close.await;
            if !args.quiet {
                eprintln!("Connection to {host} closed.");
            }
            return FAILURE;
        }
        End::Signal(name) => {
            debug.log(format!("killed by {name}"));
            eprintln!("Killed by signal {name}.");
            return FAILURE;
        }
        End::Output(results) => {
            for r in &results {
                if let Err(CopyError::Write(_)) = r {
                    return FAILURE;
                }
            }
        }
    }
    match channel.exit_status().await {
        Ok(status) => {
            if !args.quiet {
                eprintln!("Connection to {host} closed.");
            }
            match status {
                ExitStatus::Code(code) => code.min(255) as i32,
                other => other.shell_code().min(255) as i32,
            }
        }
        Err(Error::NoExitStatus) => FAILURE,
        Err(e) => {
            eprintln!("Connection to {host} closed by remote host: {e}");
            FAILURE
        }
    }
}

/// Sends what is typed (through the escapes) and window changes; returns
/// only for `~.`.
async fn typed_input(channel: &Channel, no_stdin: bool, escape: EscapeChar) -> End {
    let mut winch = signal(SignalKind::window_change()).ok();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    if !no_stdin {
        // A thread of its own, blocked in read(2) on the terminal: the
        // process exits without waiting for it.
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = vec![0u8; 4096];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    } else {
        let _ = channel.send_eof();
    }
    let mut escapes = Escapes::new(escape);
    let mut stdin_open = !no_stdin;
    loop {
        tokio::select! {
            chunk = rx.recv(), if stdin_open => {
                let Some(chunk) = chunk else {
                    stdin_open = false;
                    let _ = channel.send_eof();
                    continue;
                };
                for action in escapes.feed(&chunk) {
                    match action {
                        Action::Send(bytes) => {
                            use tokio::io::AsyncWriteExt;
                            if (&*channel).write_all(&bytes).await.is_err() {
                                stdin_open = false;
                            }
                        }
                        Action::Disconnect => return End::Disconnected,
                        Action::Help => {
                            let EscapeChar::Char(e) = escape else { continue };
                            print_local(&format!("{}{}", e as char, '?'), &help(e));
                        }
                        Action::ListConnections => print_local(
                            "~#",
                            "The following connections are open:\r\n  #0 client-session\r\n",
                        ),
                    }
                }
            }
            Some(()) = next_winch(&mut winch) => {
                let _ = channel.window_change(window_size());
            }
            else => std::future::pending::<()>().await,
        }
    }
}

async fn next_winch(winch: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match winch {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Writes an escape's echo and answer on stderr (raw mode: CR LF).
fn print_local(typed: &str, text: &str) {
    let mut err = std::io::stderr();
    let _ = write!(err, "{typed}\r\n{text}");
    let _ = err.flush();
}

/// The first of SIGTERM, SIGHUP, SIGINT and SIGQUIT: caught, so the
/// terminal is restored before exiting.
async fn termination_signal() -> &'static str {
    let kinds = [
        (SignalKind::terminate(), "15"),
        (SignalKind::hangup(), "1"),
        (SignalKind::interrupt(), "2"),
        (SignalKind::quit(), "3"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        if let Ok(s) = signal(kind) {
            streams.push((s, name));
        }
    }
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits: Vec<_> = streams
        .iter_mut()
        .map(|(s, name)| {
            let name: &'static str = name;
            Box::pin(async move {
                s.recv().await;
                name
            })
        })
        .collect();
    let (name, _, _) = futures_util::future::select_all(waits).await;
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_tty_rules_as_ssh() {
        use RequestTty::*;
        // (setting, has command, stdin a terminal) -> terminal?
        let cases = [
            (Auto, false, true, true),
            (Auto, true, true, false),
            (Auto, false, false, false),
            (Yes, true, true, true),
            (Yes, true, false, false),
            (No, false, true, false),
            (Force, true, false, true),
        ];
        for (setting, command, terminal, expected) in cases {
            assert_eq!(
                setting.wants_terminal(command, terminal, true),
                expected,
                "{setting:?} command={command} terminal={terminal}"
            );
        }
        assert_eq!(RequestTty::parse("true").unwrap(), Yes);
        assert_eq!(RequestTty::parse("FORCE").unwrap(), Force);
        assert!(RequestTty::parse("maybe").is_err());
    }
}
