//! Serving a session channel with a local process: `exec` runs the command
//! with `sh -c`, `shell` runs `sh`, as the current user, with stdin, stdout,
//! stderr and the exit status wired through the channel. What `conchd` and
//! the adapters' test servers do.
//!
//! The process's pipes are blocking, so they are served by threads that wait
//! on the channel with [`crate::block_on`]; this works whatever runtime
//! pumps the connection. Two threads per command: one copies stdout and
//! stderr (polling both pipes) and then reports the exit status, the other
//! feeds stdin and delivers signals. Threads are what a server holding
//! thousands of sessions pays for: each one's creation and exit costs every
//! core a TLB shootdown in a process with many threads.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};

use bytes::Bytes;
use conch_core::ChannelRequest;
use futures_util::io::AsyncWriteExt;

use crate::block_on::block_on;
use crate::channel::Channel;
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
        let pid = child.id();
        thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn(move || serve_input(&channel, stdin, pid))
    };
    copy_output(stdout, stderr, &channel);
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
    if let Ok(input) = input {
        let _ = input.join();
    }
}

/// Stack of the input thread: it only writes received chunks (on the heap)
/// and awaits small futures.
const SMALL_STACK: usize = 128 * 1024;

/// Largest chunk of channel data written to the process's stdin at once. A
/// chunk is at most one packet's data anyway (32 KiB by default).
const INPUT_CHUNK: usize = 256 * 1024;

/// What the input thread is waiting for next.
enum InputEvent {
    Data(std::io::Result<Option<Bytes>>),
    Request(Option<ChannelRequest>),
}

/// Writes channel data into the process's stdin (its EOF closes the pipe)
/// and delivers `signal` requests (RFC 4254 section 6.9) to the process,
/// until the channel has ended both. The data goes to the pipe as received,
/// without a copy through a buffer of ours.
fn serve_input(channel: &Channel, mut stdin: Option<std::process::ChildStdin>, pid: u32) {
    use futures_util::future::{select, Either};
    let (mut reading, mut requests) = (true, true);
    while reading || requests {
        // Both futures only take what they return: the one not chosen
        // loses nothing when dropped.
        let event = block_on(async {
            let read = std::pin::pin!(channel.read_chunk(INPUT_CHUNK));
            let request = std::pin::pin!(channel.next_request());
            match (reading, requests) {
                (true, true) => match select(read, request).await {
                    Either::Left((r, _)) => InputEvent::Data(r),
                    Either::Right((r, _)) => InputEvent::Request(r),
                },
                (true, false) => InputEvent::Data(read.await),
                _ => InputEvent::Request(request.await),
            }
        });
        match event {
            InputEvent::Data(Ok(Some(chunk))) => {
                if let Some(pipe) = &mut stdin {
                    if pipe.write_all(&chunk).is_err() {
                        // The process closed its stdin: keep reading (and
                        // dropping) so the client is not held up.
                        stdin = None;
                    }
                }
            }
            InputEvent::Data(_) => {
                reading = false;
                // Dropping the pipe gives the process EOF on stdin.
                stdin = None;
            }
            InputEvent::Request(Some(ChannelRequest::Signal { name })) => signal(pid, &name),
            InputEvent::Request(Some(_)) => {}
            InputEvent::Request(None) => requests = false,
        }
    }
}

/// Sends signal `name` to the process with `kill(1)`.
fn signal(pid: u32, name: &str) {
    // Only the names RFC 4254 lists: nothing a client sends reaches kill's
    // command line unchecked.
    if crate::channel::signal_number(name).is_some() {
        let _ = Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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

/// First size of a pipe read buffer: what a short command's output needs.
const FIRST_READ: usize = 16 * 1024;
/// Largest pipe read buffer, reached when reads keep filling the buffer.
const LARGEST_READ: usize = 1024 * 1024;

/// One of the process's output pipes and where its bytes go.
struct Source<P> {
    pipe: P,
    buf: Vec<u8>,
    enlarged: bool,
}

impl<P: Pipe> Source<P> {
    fn new(pipe: P) -> Self {
        Source {
            pipe,
            buf: vec![0u8; FIRST_READ],
            enlarged: false,
        }
    }

    /// One read from the pipe, handed to `send`; `false` once the pipe has
    /// ended or `send` failed (then the pipe is dropped and a process still
    /// writing to it gets SIGPIPE, as with a closed terminal).
    ///
    /// Every chunk crosses to the task that pumps the socket (a thread
    /// wake-up or two), so a fast producer (`head -c 2G /dev/zero`) should
    /// be read in large chunks: the pipe is enlarged to [`LARGEST_READ`]
    /// and the buffer grows, up to that size, while reads keep filling it.
    /// A command that prints a few lines keeps a small buffer, so
    /// thousands of sessions stay cheap.
    fn pass_on(&mut self, send: impl FnOnce(&[u8]) -> bool) -> bool {
        let n = loop {
            match self.pipe.read(&mut self.buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => return false,
                Ok(n) => break n,
            }
        };
        if !send(&self.buf[..n]) {
            return false;
        }
        if n == self.buf.len() && n < LARGEST_READ {
            if !self.enlarged {
                self.enlarged = true;
                self.pipe.enlarge();
            }
            self.buf.resize(n * 4, 0);
        }
        true
    }
}

/// Copies the process's stdout and stderr into the channel (RFC 4254
/// section 5.2: stderr as extended data 1) until both pipes have ended,
/// waiting for whichever has data with `poll(2)`.
///
/// Both streams share one window, so a chunk waiting for the client to
/// open it also holds back the other stream's next read; the process then
/// blocks on a full pipe, as it would behind a slow terminal.
#[cfg(unix)]
fn copy_output(
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    channel: &Channel,
) {
    use rustix::event::{poll, PollFd, PollFlags};
    let stderr_channel = channel.stderr();
    let mut out = stdout.map(Source::new);
    let mut err = stderr.map(Source::new);
    while out.is_some() || err.is_some() {
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(s) = &out {
                fds.push(PollFd::new(&s.pipe, PollFlags::IN));
            }
            if let Some(s) = &err {
                fds.push(PollFd::new(&s.pipe, PollFlags::IN));
            }
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                // Cannot wait: give up on the output rather than spin.
                Err(_) => return,
            }
            // Readable, or hung up / failed (a read then says which).
            let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
            let out_ready = out.is_some() && ready(&fds[0]);
            let err_ready = err.is_some() && ready(&fds[fds.len() - 1]);
            (out_ready, err_ready)
        };
        if out_ready
            && !out.as_mut().is_some_and(|s| {
                s.pass_on(|data| block_on((&mut &*channel).write_all(data)).is_ok())
            })
        {
            out = None;
        }
        if err_ready
            && !err.as_mut().is_some_and(|s| {
                s.pass_on(|data| block_on((&mut &stderr_channel).write_all(data)).is_ok())
            })
        {
            err = None;
        }
    }
}

/// Without `poll(2)`: stderr on a thread of its own.
#[cfg(not(unix))]
fn copy_output(
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    channel: &Channel,
) {
    let stderr_channel = channel.stderr();
    let errors = thread::spawn(move || {
        if let Some(mut s) = stderr.map(Source::new) {
            while s.pass_on(|data| block_on((&mut &stderr_channel).write_all(data)).is_ok()) {}
        }
    });
    if let Some(mut s) = stdout.map(Source::new) {
        while s.pass_on(|data| block_on((&mut &*channel).write_all(data)).is_ok()) {}
    }
    let _ = errors.join();
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
