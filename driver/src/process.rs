//! Serving a session channel with a local process: `exec` runs the command
//! with `sh -c`, `shell` runs `sh`, as the current user, with stdin, stdout,
//! stderr and the exit status wired through the channel. What `conchd` and
//! the adapters' test servers do.
//!
//! The process's pipes are blocking, so each is served by a thread that
//! waits on the channel with [`crate::block_on`]; this works whatever
//! runtime pumps the connection.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};

use conch_core::ChannelRequest;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use crate::block_on::block_on;
use crate::channel::{Channel, ChannelStderr};
use crate::server::{IncomingChannel, SessionCommand};

/// Exit status reported when the command could not be started (as shells do).
const CANNOT_RUN: u32 = 127;

/// Runs the channel's command as a local process on background threads and
/// returns the thread that finishes the channel (exit status, EOF, close).
pub fn spawn_command(incoming: IncomingChannel) -> JoinHandle<()> {
    thread::spawn(move || run_command(incoming))
}

/// Runs the channel's command as a local process until it exits and the
/// channel is closed (blocking).
pub fn run_command(incoming: IncomingChannel) {
    let channel = incoming.channel;
    let mut command = match &incoming.command {
        SessionCommand::Exec(line) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(os_str(line));
            c
        }
        SessionCommand::Shell => Command::new("/bin/sh"),
        SessionCommand::Subsystem(name) => {
            fail(&channel, &format!("subsystem {name:?} is not available\n"));
            return;
        }
    };
    command
        .envs(incoming.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            fail(&channel, &format!("cannot run command: {e}\n"));
            return;
        }
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = {
        let channel = channel.share();
        thread::spawn(move || copy_channel_to_stdin(&channel, stdin))
    };
    let output = {
        let channel = channel.share();
        thread::spawn(move || {
            if let Some(out) = stdout {
                copy_to_channel(out, &channel);
            }
        })
    };
    let errors = {
        let stderr_channel = channel.stderr();
        thread::spawn(move || {
            if let Some(err) = stderr {
                copy_to_stderr(err, &stderr_channel);
            }
        })
    };
    let signals = {
        let channel = channel.share();
        let pid = child.id();
        thread::spawn(move || forward_signals(&channel, pid))
    };
    let _ = output.join();
    let _ = errors.join();
    let status = child.wait();
    // RFC 4254 section 6.10: the status goes before EOF and CLOSE.
    match status {
        Ok(status) => report_status(&channel, status),
        Err(_) => {
            let _ = channel.send_exit_status(CANNOT_RUN);
        }
    }
    let _ = channel.send_eof();
    let _ = block_on(channel.close_channel());
    let _ = input.join();
    let _ = signals.join();
}

/// Delivers `signal` requests (RFC 4254 section 6.9) to the process with
/// `kill(1)` until the channel closes.
fn forward_signals(channel: &Channel, pid: u32) {
    while let Some(request) = block_on(channel.next_request()) {
        if let ChannelRequest::Signal { name } = request {
            // Only the names RFC 4254 lists: nothing a client sends reaches
            // kill's command line unchecked.
            if crate::channel::signal_number(&name).is_some() {
                let _ = Command::new("kill")
                    .args(["-s", &name, &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

#[cfg(unix)]
fn os_str(bytes: &[u8]) -> &OsStr {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes)
}

#[cfg(not(unix))]
fn os_str(bytes: &[u8]) -> &OsStr {
    OsStr::new(std::str::from_utf8(bytes).unwrap_or(""))
}

#[cfg(unix)]
fn report_status(channel: &Channel, status: std::process::ExitStatus) {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        let _ = channel.send_exit_status(code as u32);
    } else if let Some(signal) = status.signal() {
        let name = signal_name(signal);
        let _ = channel.send_exit_signal(&name, status.core_dumped(), "");
    } else {
        let _ = channel.send_exit_status(CANNOT_RUN);
    }
}

#[cfg(not(unix))]
fn report_status(channel: &Channel, status: std::process::ExitStatus) {
    let _ = channel.send_exit_status(status.code().unwrap_or(CANNOT_RUN as i32) as u32);
}

/// The RFC 4254 section 6.10 name of a POSIX signal number.
fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 13] = [
        "HUP", "INT", "QUIT", "ILL", "ABRT", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM",
    ];
    NAMES
        .iter()
        .find(|n| crate::channel::signal_number(n) == u32::try_from(signal).ok())
        .map_or_else(|| format!("SIG{signal}"), |n| n.to_string())
}

fn fail(channel: &Channel, message: &str) {
    let stderr = channel.stderr();
    let _ = block_on((&stderr).write_all(message.as_bytes()));
    let _ = channel.send_exit_status(CANNOT_RUN);
    let _ = channel.send_eof();
    let _ = block_on(channel.close_channel());
}

fn copy_channel_to_stdin(channel: &Channel, mut stdin: Option<std::process::ChildStdin>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match block_on((&mut &*channel).read(&mut buf)) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(pipe) = &mut stdin {
            if pipe.write_all(&buf[..n]).is_err() {
                // The process closed its stdin: keep reading (and dropping)
                // so the client is not held up.
                stdin = None;
            }
        }
    }
    // Dropping the pipe gives the process EOF on stdin.
}

/// First size of a pipe read buffer: what a short command's output needs.
const FIRST_READ: usize = 16 * 1024;
/// Largest pipe read buffer, reached when reads keep filling the buffer.
const LARGEST_READ: usize = 1024 * 1024;

fn copy_to_channel(from: impl Pipe, channel: &Channel) {
    copy_pipe(from, |data| {
        block_on((&mut &*channel).write_all(data)).is_ok()
    });
}

fn copy_to_stderr(from: impl Pipe, channel: &ChannelStderr) {
    copy_pipe(from, |data| {
        block_on((&mut &*channel).write_all(data)).is_ok()
    });
}

/// Copies a process's pipe into `send` until the pipe ends or `send`
/// fails.
///
/// Every chunk read here crosses to the task that pumps the socket, a
/// thread wake-up or two, so a fast producer (`head -c 2G /dev/zero`)
/// should be read in large chunks: the pipe is enlarged to
/// [`LARGEST_READ`] and the buffer grows, up to that size, while reads
/// keep filling it. A command that prints a few lines keeps a small buffer,
/// so thousands of sessions stay cheap.
fn copy_pipe<R: Pipe>(mut from: R, mut send: impl FnMut(&[u8]) -> bool) {
    let mut buf = vec![0u8; FIRST_READ];
    let mut enlarged = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if !send(&buf[..n]) {
            return;
        }
        if n == buf.len() && buf.len() < LARGEST_READ {
            if !enlarged {
                enlarged = true;
                from.enlarge();
            }
            buf.resize(buf.len() * 4, 0);
        }
    }
}

/// A process's output pipe.
trait Pipe: Read {
    /// Best effort: a pipe holds 64 KiB by default on Linux, which caps
    /// every read at that size. Failing (an unprivileged user over
    /// `/proc/sys/fs/pipe-max-size`) only means smaller reads.
    fn enlarge(&self) {}
}

#[cfg(target_os = "linux")]
impl Pipe for std::process::ChildStdout {
    fn enlarge(&self) {
        let _ = rustix::pipe::fcntl_setpipe_size(self, LARGEST_READ);
    }
}

#[cfg(target_os = "linux")]
impl Pipe for std::process::ChildStderr {
    fn enlarge(&self) {
        let _ = rustix::pipe::fcntl_setpipe_size(self, LARGEST_READ);
    }
}

#[cfg(not(target_os = "linux"))]
impl Pipe for std::process::ChildStdout {}

#[cfg(not(target_os = "linux"))]
impl Pipe for std::process::ChildStderr {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_round_trip() {
        assert_eq!(signal_name(9), "KILL");
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(1), "HUP");
        assert_eq!(signal_name(31), "SIG31");
    }
}
