//! A session channel's command on a pseudo-terminal (RFC 4254 section 6.2):
//! what [`crate::process::serve_session`] does when the client sent a
//! `pty-req`.
//!
//! The terminal gets the client's size and terminal modes (section 8,
//! [`crate::terminal_modes`]); the command (or the login shell) is the
//! leader of a new session with the terminal as its controlling tty
//! (pty-process does the `setsid` and `TIOCSCTTY` between fork and exec),
//! so the kernel's line discipline gives it echo, line editing and Ctrl-C.
//! `window-change` (section 6.7) resizes the terminal, which sends the
//! program SIGWINCH; `signal` (section 6.9) goes to the terminal's
//! foreground process group; the exit status or signal (section 6.10)
//! follows the last output. The master side and the child's exit are
//! awaited on async-io's reactor, as the pipes of a command without a
//! terminal are, so no thread per session.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use async_io::{Async, Timer};
use conch_core::channel::modes::decode_terminal_modes;
use conch_core::{ChannelRequest, WindowSize};
use futures_util::future::{join, select, Either};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use crate::channel::Channel;
use crate::server::PtyRequest;

/// After the command has exited, how long output from programs it left
/// behind on the terminal is still relayed before the channel is closed.
/// What the command itself wrote is already in the terminal's buffer and
/// drains at once; only a background job still writing waits this long.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(300);

/// Largest read from the terminal's master side.
const READ_CHUNK: usize = 16 * 1024;

/// A command to run on a terminal.
pub(crate) struct PtyCommand<'a> {
    /// The program.
    pub program: &'a Path,
    /// Its `argv[0]` (`-bash` for a login shell).
    pub arg0: OsString,
    /// The other arguments.
    pub args: Vec<OsString>,
    /// The whole environment.
    pub env: Vec<(String, OsString)>,
    /// The working directory, if it can be entered.
    pub cwd: Option<&'a Path>,
}

/// An allocated terminal, before its command is started.
pub(crate) struct Terminal {
    pty: pty_process::blocking::Pty,
    pts: pty_process::blocking::Pts,
    /// The terminal's device path (`SSH_TTY`), e.g. `/dev/pts/3`.
    pub name: String,
}

impl Terminal {
    /// Allocates a terminal with the requested size and modes.
    pub fn open(request: &PtyRequest) -> io::Result<Terminal> {
        let (pty, pts) = pty_process::blocking::open().map_err(io::Error::other)?;
        let name = rustix::pty::ptsname(&pty, Vec::new())?
            .to_string_lossy()
            .into_owned();
        let mut termios = rustix::termios::tcgetattr(&pts)?;
        // A modes string that does not parse is used up to where it
        // stopped being valid; sshd likewise applies what it read.
        let modes = decode_terminal_modes(&request.modes).unwrap_or_default();
        crate::terminal_modes::apply_terminal_modes(&mut termios, &modes);
        rustix::termios::tcsetattr(&pts, rustix::termios::OptionalActions::Now, &termios)?;
        resize(&pty, request.size)?;
        Ok(Terminal { pty, pts, name })
    }

    /// Starts `command` as the leader of a new session whose controlling
    /// terminal this is, and returns the master side and the child.
    fn spawn(self, command: PtyCommand<'_>) -> io::Result<(Async<File>, std::process::Child)> {
        let mut std_command = std::process::Command::new(command.program);
        std_command
            .args(&command.args)
            .env_clear()
            .envs(command.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = command.cwd {
            std_command.current_dir(cwd);
        }
        let child = pty_process::blocking::Command::from(std_command)
            .arg0(&command.arg0)
            .spawn(self.pts)
            .map_err(io::Error::other)?;
        // Our copy of the terminal side was consumed by the spawn: the
        // master reads EIO once every process has closed it.
        let master = Async::new(File::from(OwnedFd::from(self.pty)))?;
        Ok((master, child))
    }
}

/// Sets the terminal's size; the kernel sends SIGWINCH to its foreground
/// process group.
fn resize(pty: &impl std::os::fd::AsFd, size: WindowSize) -> io::Result<()> {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    rustix::termios::tcsetwinsize(
        pty,
        rustix::termios::Winsize {
            ws_row: clamp(size.rows),
            ws_col: clamp(size.cols),
            ws_xpixel: clamp(size.width_px),
            ws_ypixel: clamp(size.height_px),
        },
    )?;
    Ok(())
}

/// How serving a terminal session ended.
pub(crate) enum Ended {
    /// The command exited (its status), its output relayed.
    Exited(io::Result<ExitStatus>),
    /// The channel closed first: the terminal was hung up (the session got
    /// SIGHUP) and the command reaped.
    HungUp,
}

/// Runs `command` on `terminal` and serves it until it has exited and its
/// output is relayed, or until the channel has closed.
pub(crate) async fn serve(
    channel: &Channel,
    terminal: Terminal,
    command: PtyCommand<'_>,
) -> io::Result<Ended> {
    let (master, mut child) = terminal.spawn(command)?;
    let exit = ChildExit::new(child.id());
    let ended = {
        let output = pin!(async {
            let mut copy = pin!(copy_output(&master, channel));
            match select(copy.as_mut(), pin!(exit.wait())).await {
                // The terminal was closed by every process: the command
                // has exited or is about to.
                Either::Left(((), waiting)) => {
                    waiting.await;
                }
                // Output of what the command left behind still drains.
                Either::Right(((), _)) => {
                    select(copy, pin!(Timer::after(DRAIN_AFTER_EXIT))).await;
                }
            }
        });
        let input = pin!(join(
            feed_input(&master, channel),
            handle_requests(&master, channel)
        ));
        // The input side ends when the channel has closed.
        match select(output, input).await {
            Either::Left(_) => Ended::Exited(child.wait()),
            Either::Right(_) => Ended::HungUp,
        }
    };
    if let Ended::HungUp = ended {
        // Closing the master hangs the terminal up: the kernel sends SIGHUP
        // to the session, as when a terminal's line drops (sshd does the
        // same when the channel goes away first).
        drop(master);
        exit.wait().await;
        let _ = child.wait();
        return Ok(Ended::HungUp);
    }
    Ok(ended)
}

/// Copies the terminal's output into the channel until every process has
/// closed the terminal (the master reads EIO) or the channel is gone.
async fn copy_output(master: &Async<File>, channel: &Channel) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut reader = master;
    let mut sink = channel;
    loop {
        let n = match reader.read(&mut buf).await {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if sink.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Writes the client's keystrokes to the terminal until the channel's
/// EOF. While the terminal's input buffer is full, the channel's window
/// stays shut.
async fn feed_input(master: &Async<File>, channel: &Channel) {
    let mut writer = master;
    while let Ok(Some(chunk)) = channel.read_chunk(READ_CHUNK).await {
        if writer.write_all(&chunk).await.is_err() {
            // Nobody holds the terminal any more: drop what comes.
            break;
        }
    }
    while let Ok(Some(_)) = channel.read_chunk(READ_CHUNK).await {}
}

/// Serves `window-change` and `signal` until the channel has closed.
async fn handle_requests(master: &Async<File>, channel: &Channel) {
    while let Some(request) = channel.next_request().await {
        match request {
            ChannelRequest::WindowChange { size } => {
                let _ = resize(master.get_ref(), size);
            }
            ChannelRequest::Signal { name } => signal_foreground(master.get_ref(), &name),
            _ => {}
        }
    }
}

/// Sends signal `name` to the terminal's foreground process group (what
/// typing the INTR character would reach), RFC 4254 section 6.9.
fn signal_foreground(master: &File, name: &str) {
    let Some(signal) = crate::process::named_signal(name) else {
        return;
    };
    if let Ok(group) = rustix::termios::tcgetpgrp(master) {
        let _ = rustix::process::kill_process_group(group, signal);
    }
}

/// Waits for a child's exit without reaping it (so its pid, and so its
/// process group, stays its own until `wait` is called): a pidfd on Linux,
/// which the reactor reports readable at the exit; elsewhere polling.
struct ChildExit {
    #[cfg(target_os = "linux")]
    pidfd: Option<Async<OwnedFd>>,
    pid: u32,
}

impl ChildExit {
    fn new(pid: u32) -> ChildExit {
        #[cfg(target_os = "linux")]
        {
            let pidfd = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
                .and_then(|p| {
                    rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
                })
                .and_then(|fd| Async::new(fd).ok());
            ChildExit { pidfd, pid }
        }
        #[cfg(not(target_os = "linux"))]
        ChildExit { pid }
    }

    async fn wait(&self) {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = &self.pidfd {
            if pidfd.readable().await.is_ok() {
                return;
            }
        }
        // Without a pidfd: look every 50 ms whether the process is still
        // there (it stays a zombie, not reaped, until `wait`).
        while self.running() {
            Timer::after(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process has not exited yet: a zombie is reported by
    /// `waitid` with `WNOWAIT`, which leaves it to be reaped later.
    fn running(&self) -> bool {
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        let options = rustix::process::WaitIdOptions::EXITED
            | rustix::process::WaitIdOptions::NOHANG
            | rustix::process::WaitIdOptions::NOWAIT;
        matches!(
            rustix::process::waitid(rustix::process::WaitId::Pid(pid), options),
            Ok(None)
        )
    }
}
