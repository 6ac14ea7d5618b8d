//! Running child processes with a time bound: one-shot commands whose output is
//! captured ([`run_bounded`]) and long-lived peers killed on drop
//! ([`ChildGuard`]). Nothing here can make a test hang.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a one-shot helper command (`ssh-keygen`, `ssh-add`, ...) may run.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an `ssh` command may run by default (see `SshClient::timeout`).
pub const SSH_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the output readers may lag behind a child that has exited
/// (a grandchild can hold the pipes open).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a running child is polled for exit.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// What a bounded command reads on its standard input.
pub enum Input {
    /// `/dev/null`: the command sees end-of-file at once.
    Null,
    /// These bytes, then end-of-file.
    Bytes(Vec<u8>),
    /// Everything this reader yields (streamed, not buffered), then
    /// end-of-file. See [`crate::PatternReader`] for large transfers.
    Reader(Box<dyn Read + Send>),
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Null => f.write_str("Input::Null"),
            Input::Bytes(bytes) => write!(f, "Input::Bytes({} bytes)", bytes.len()),
            Input::Reader(_) => f.write_str("Input::Reader(..)"),
        }
    }
}

impl From<&str> for Input {
    fn from(text: &str) -> Self {
        Input::Bytes(text.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Input {
    fn from(bytes: Vec<u8>) -> Self {
        Input::Bytes(bytes)
    }
}

/// A command that ran to completion within its time bound.
#[derive(Clone)]
pub struct Finished {
    /// The command line, for messages.
    pub command: String,
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote on standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote on standard error.
    pub stderr: Vec<u8>,
    /// How long it ran.
    pub elapsed: Duration,
    /// Extra text appended to failure messages (e.g. the tail of the server
    /// log the command talked to).
    pub diagnostics: String,
}

impl Finished {
    /// Standard output as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit code, or `None` if a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that ended the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Panics, showing the command, its output and the diagnostics, unless it
    /// exited with status 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    /// Panics, showing the command, its output and the diagnostics, unless it
    /// exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        if self.status.code() != Some(code) {
            panic!("expected exit status {code}, got {}\n{self}", self.status);
        }
        self
    }

    /// Panics with `message` and everything known about the run.
    #[track_caller]
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{self}")
    }
}

impl fmt::Debug for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "status: {} after {:?}", self.status, self.elapsed)?;
        writeln!(
            f,
            "stdout ({} bytes):\n{}",
            self.stdout.len(),
            clip(&self.stdout)
        )?;
        writeln!(
            f,
            "stderr ({} bytes):\n{}",
            self.stderr.len(),
            clip(&self.stderr)
        )?;
        if !self.diagnostics.is_empty() {
            writeln!(f, "{}", self.diagnostics)?;
        }
        Ok(())
    }
}

/// At most the last 4 KiB of `bytes`, as text, for messages.
fn clip(bytes: &[u8]) -> String {
    const LIMIT: usize = 4096;
    let start = bytes.len().saturating_sub(LIMIT);
    let prefix = if start > 0 { "[...]" } else { "" };
    format!("{prefix}{}", String::from_utf8_lossy(&bytes[start..]))
}

/// A command line as text, for messages.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&shell_quote(arg));
    }
    text
}

fn shell_quote(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%[]".contains(c));
    if plain {
        arg.into_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs `command` to completion with `input` on its standard input, capturing
/// standard output and standard error. Kills it and panics (with whatever it
/// printed) if it runs longer than `timeout`; panics if it cannot be started.
/// A non-zero exit is *not* a panic: check with [`Finished::assert_success`].
#[track_caller]
pub fn run_bounded(command: &mut Command, input: Input, timeout: Duration) -> Finished {
    let description = describe(command);
    let started = Instant::now();
    command
        .stdin(match input {
            Input::Null => Stdio::null(),
            _ => Stdio::piped(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start `{description}`: {err}"));

    let feeder = child.stdin.take().map(|stdin| feed(stdin, input));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => break None,
            Ok(None) => thread::sleep(POLL_INTERVAL),
            Err(err) => panic!("waiting for `{description}`: {err}"),
        }
    };
    let timed_out = status.is_none();
    let status = match status {
        Some(status) => status,
        None => {
            // Best effort: the child may exit between try_wait and kill.
            let _ = child.kill();
            child
                .wait()
                .unwrap_or_else(|err| panic!("reaping `{description}`: {err}"))
        }
    };
    let stdout = stdout.recv_timeout(DRAIN_TIMEOUT).unwrap_or_default();
    let stderr = stderr.recv_timeout(DRAIN_TIMEOUT).unwrap_or_default();
    // The feeder ends once the child's stdin is closed (broken pipe) or the
    // input is exhausted; it is never joined so that it cannot block us.
    drop(feeder);
    let finished = Finished {
        command: description,
        status,
        stdout,
        stderr,
        elapsed: started.elapsed(),
        diagnostics: String::new(),
    };
    if timed_out {
        finished.fail(&format!("timed out after {timeout:?}, killed"));
    }
    finished
}

/// Writes `input` into the child's stdin on its own thread, then closes it.
fn feed(mut stdin: std::process::ChildStdin, input: Input) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        // A child that exits without reading everything is the test's
        // business (it sees the exit status), not a harness error.
        let _ = match input {
            Input::Null => Ok(()),
            Input::Bytes(bytes) => stdin.write_all(&bytes),
            Input::Reader(mut reader) => io::copy(&mut reader, &mut stdin).map(|_| ()),
        };
    })
}

/// Reads a child's pipe to the end on its own thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buffer);
        }
        let _ = sender.send(buffer);
    });
    receiver
}

/// Runs a helper tool (`ssh-keygen`, `dropbearkey`, `ssh-add`, ...) within
/// [`TOOL_TIMEOUT`] and panics, with its output, unless it succeeds.
#[track_caller]
pub fn run_tool(command: &mut Command) -> Finished {
    let finished = run_bounded(command, Input::Null, TOOL_TIMEOUT);
    finished.assert_success();
    finished
}

/// Panics with an installation hint unless `program` exists. Interop tests
/// never skip: a missing peer is a failure that says how to fix it.
#[track_caller]
pub fn require_program(program: &str, package: &str) {
    let found = if program.contains('/') {
        Path::new(program).is_file()
    } else {
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
            .unwrap_or(false)
    };
    if !found {
        panic!(
            "`{program}` not found: {package} not installed: run .ci/run \
             (as root) or apt-get install {package}"
        );
    }
}

/// A long-lived child (a server or agent) that is killed and reaped when
/// dropped.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
}

impl ChildGuard {
    /// Starts `command` with no standard input, standard output discarded and
    /// standard error appended to `stderr_log`.
    #[track_caller]
    pub fn spawn(name: &str, command: &mut Command, stderr_log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr_log)
            .unwrap_or_else(|err| panic!("cannot open {}: {err}", stderr_log.display()));
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name} (`{}`): {err}", describe(command)));
        ChildGuard {
            name: name.to_owned(),
            child,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has already ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exited().is_none() {
            if let Err(err) = self.child.kill() {
                eprintln!("conch-interop: killing {}: {err}", self.name);
            }
            let _ = self.child.wait();
        }
    }
}
