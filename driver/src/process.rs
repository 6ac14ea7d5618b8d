//! Serving a session channel with a local process as sshd(8) does: `exec`
//! runs the command with the account's shell (`SHELL -c`), `shell` runs it
//! as a login shell, in an environment built as sshd builds it
//! ([`SessionSetup`]), on a pseudo-terminal when the client asked for one
//! (RFC 4254 section 6.2), else with stdin, stdout and stderr on pipes; the exit
//! status wired through the channel. What `conchd` and the adapters' test
//! servers do.
//!
//! [`serve_command`] is a future (`Send + 'static`) that any runtime can
//! spawn: the process's pipes are non-blocking and its exit is awaited, both
//! through `async-process`, whose reactor (async-io's: one thread for the
//! whole program, plus one that reaps exited processes) wakes the task. No
//! thread per command, because threads are what a server holding thousands
//! of sessions pays for most: a stack each, and with every command's start
//! and end a thread's creation and exit, whose unmapped stack costs every
//! core a TLB shootdown in a process with many threads. [`spawn_command`]
//! runs the same future on a thread of its own, for callers without a
//! runtime.

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::future::{poll_fn, Future};
use std::os::fd::AsFd;
use std::pin::pin;
use std::task::Poll;
use std::thread::{self, JoinHandle};

use async_process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use conch_core::ChannelRequest;
use futures_util::future::{join, select, Either};
use futures_util::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::block_on::block_on;
use crate::channel::Channel;
pub use crate::login::{AcceptEnv, Account, ConnectionAddrs, SessionSetup, DEFAULT_PATH};
use crate::server::{IncomingChannel, SessionCommand};

/// Exit status reported when the command could not be started (as shells do).
const CANNOT_RUN: u32 = 127;

/// Runs the channel's command as a local process on a thread of its own
/// (which waits on [`serve_command`]) and returns that thread; it ends once
/// the channel is finished (exit status, EOF, close). For callers that have
/// no runtime to spawn [`serve_command`] on.
pub fn spawn_command(incoming: IncomingChannel) -> JoinHandle<()> {
    thread::spawn(move || block_on(serve_command(incoming)))
}

/// Runs the channel's command as a local process until it exits and the
/// channel is closed (blocking the calling thread).
pub fn run_command(incoming: IncomingChannel) {
    block_on(serve_command(incoming));
}

/// [`serve_session`] as the current account, without the connection's
/// addresses.
pub async fn serve_command(incoming: IncomingChannel) {
    serve_session(incoming, SessionSetup::current_account()).await
}

/// Serves the channel's command as a local process, as sshd(8) runs it:
/// as `setup`'s account, in its home directory, `exec` with `SHELL -c
/// COMMAND` and `shell` as a login shell (`argv[0]` `-bash`), in the
/// environment [`SessionSetup::environment`] builds (nothing inherited from
/// this process). With a `pty-req`, on a pseudo-terminal
/// (RFC 4254 section 6.2); without, on pipes: stdout and stderr go to the channel
/// (stderr as extended data, RFC 4254 section 5.2), the channel's data to
/// its stdin (the channel's EOF closes the pipe), `signal` requests
/// (section 6.9) to the process. Once it has exited and its output is
/// sent, the exit status or signal (section 6.10), EOF and CLOSE. A
/// subsystem is refused on stderr with status 127, as is a command that
/// cannot be started.
///
/// When the client asked for agent forwarding
/// ([`IncomingChannel::agent_forwarding`]), the command's `SSH_AUTH_SOCK`
/// is a socket private to the account (`/tmp/ssh-XXXXXXXXXX/agent.PID`,
/// 0700 directory, 0600 socket, as sshd makes it) whose connections become
/// `auth-agent@openssh.com` channels to the client (OpenSSH
/// PROTOCOL.agent); it is removed when the command's session ends.
///
/// The future is `Send + 'static`: spawn it on any runtime. Dropping it
/// before it completes leaves the process running (its pipes closed).
pub async fn serve_session(incoming: IncomingChannel, setup: SessionSetup) {
    #[cfg(unix)]
    if incoming.agent_forwarding {
        // OpenSSH PROTOCOL.agent, as sshd: the command's SSH_AUTH_SOCK is
        // a private socket whose connections go to the client's agent.
        // sshd goes on without the agent when it cannot make the socket.
        if let Ok(agent) = crate::agent_socket::AgentSocket::create(&std::env::temp_dir()) {
            let session = incoming.channel.session_inner().clone();
            let extra_env = vec![(
                "SSH_AUTH_SOCK".to_string(),
                agent.path().as_os_str().to_os_string(),
            )];
            let served = pin!(serve_process(incoming, setup, extra_env));
            let _ = select(served, pin!(agent.serve(session))).await;
            // Dropping `agent` removes the socket and its directory.
            return;
        }
    }
    serve_process(incoming, setup, Vec::new()).await
}

/// [`serve_session`] after the agent socket, with `extra_env` added to the
/// command's environment.
async fn serve_process(
    incoming: IncomingChannel,
    setup: SessionSetup,
    extra_env: Vec<(String, OsString)>,
) {
    let channel = incoming.channel;
    let shell = setup.account.shell.as_path();
    let shell_name = shell
        .file_name()
        .map_or_else(|| OsString::from("sh"), |n| n.to_os_string());
    let (arg0, args) = match &incoming.command {
        SessionCommand::Exec(line) => (
            shell_name,
            vec![OsString::from("-c"), os_str(line).to_os_string()],
        ),
        // sshd(8): a login shell, its argv[0] the shell's name after a '-'.
        SessionCommand::Shell => {
            let mut login = OsString::from("-");
            login.push(&shell_name);
            (login, Vec::new())
        }
        SessionCommand::Subsystem(name) => {
            fail(&channel, &format!("subsystem {name:?} is not available\n")).await;
            return;
        }
    };
    let home = setup.account.home.as_path();
    let cwd = home.is_dir().then_some(home);
    #[cfg(unix)]
    if let Some(request) = &incoming.pty {
        let terminal = match crate::pty::Terminal::open(request) {
            Ok(t) => t,
            Err(e) => {
                fail(&channel, &format!("cannot allocate a terminal: {e}\n")).await;
                return;
            }
        };
        let env = setup.environment(
            Some(&request.term),
            Some(&terminal.name),
            &incoming.env,
            &extra_env,
        );
        let command = crate::pty::PtyCommand {
            program: shell,
            arg0,
            args,
            env,
            cwd,
        };
        match crate::pty::serve(&channel, terminal, command).await {
            Ok(crate::pty::Ended::Exited(status)) => {
                match status {
                    Ok(status) => report_status(&channel, status),
                    Err(_) => {
                        let _ = channel.send_exit_status(CANNOT_RUN);
                    }
                }
                let _ = channel.send_eof();
                let _ = channel.close_channel().await;
            }
            Ok(crate::pty::Ended::HungUp) => {}
            Err(e) => fail(&channel, &format!("cannot run command: {e}\n")).await,
        }
        return;
    }
    let env = setup.environment(None, None, &incoming.env, &extra_env);
    let mut std_command = std::process::Command::new(shell);
    std_command.args(&args);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::arg0(&mut std_command, &arg0);
    #[cfg(not(unix))]
    let _ = arg0;
    let mut command = Command::from(std_command);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            fail(&channel, &format!("cannot run command: {e}\n")).await;
            return;
        }
    };
    let status = run(&mut child, &channel).await;
    // RFC 4254 section 6.10: the status goes before EOF and CLOSE.
    match status {
        Ok(status) => report_status(&channel, status),
        Err(_) => {
            let _ = channel.send_exit_status(CANNOT_RUN);
        }
    }
    let _ = channel.send_eof();
    let _ = channel.close_channel().await;
}

/// Serves the running process until its output has ended and it has
/// exited; returns its status.
///
/// The input side (stdin and signals) is served alongside, and given up as
/// soon as the status is known: the process is reaped then, so its pid may
/// be reused, and no signal must reach that other process. Whatever the
/// client still sends is dropped with the channel, which closes next.
async fn run(child: &mut Child, channel: &Channel) -> std::io::Result<std::process::ExitStatus> {
    let stdin = child.stdin.take();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let pid = child.id();
    let output = pin!(async {
        copy_output(stdout, stderr, channel).await;
        child.status().await
    });
    let input = pin!(async {
        // Independent, so a process that does not read its stdin (its pipe
        // full) still gets the client's signals.
        join(feed_stdin(channel, stdin), deliver_signals(channel, pid)).await;
        std::future::pending::<Infallible>().await
    });
    // The output is polled first: once the status is taken, the input side
    // is not polled again.
    match select(output, input).await {
        Either::Left((status, _)) => status,
        Either::Right((never, _)) => match never {},
    }
}

/// Largest chunk of channel data written to the process's stdin at once. A
/// chunk is at most one packet's data anyway (32 KiB by default).
const INPUT_CHUNK: usize = 256 * 1024;

/// Writes channel data into the process's stdin until the channel's EOF,
/// then closes the pipe. The data goes to the pipe as received, without a
/// copy through a buffer of ours; while the pipe is full, the channel's
/// window stays shut, which holds the client back.
async fn feed_stdin(channel: &Channel, mut stdin: Option<ChildStdin>) {
    // EOF (RFC 4254 section 5.3), or the channel's end: returning drops the
    // pipe, which gives the process EOF on stdin.
    while let Ok(Some(chunk)) = channel.read_chunk(INPUT_CHUNK).await {
        if let Some(pipe) = &mut stdin {
            if pipe.write_all(&chunk).await.is_err() {
                // The process closed its stdin: keep reading (and dropping)
                // so the client is not held up.
                stdin = None;
            }
        }
    }
}

/// Delivers the client's `signal` requests (RFC 4254 section 6.9) to the
/// process until the channel has closed.
async fn deliver_signals(channel: &Channel, pid: u32) {
    while let Some(request) = channel.next_request().await {
        if let ChannelRequest::Signal { name } = request {
            signal(pid, &name);
        }
    }
}

/// The signals RFC 4254 section 6.10 names (without `SIG`): only these
/// reach the process, and only these are reported by name.
#[cfg(unix)]
const SIGNALS: [(&str, rustix::process::Signal); 13] = {
    use rustix::process::Signal;
    [
        ("ABRT", Signal::ABORT),
        ("ALRM", Signal::ALARM),
        ("FPE", Signal::FPE),
        ("HUP", Signal::HUP),
        ("ILL", Signal::ILL),
        ("INT", Signal::INT),
        ("KILL", Signal::KILL),
        ("PIPE", Signal::PIPE),
        ("QUIT", Signal::QUIT),
        ("SEGV", Signal::SEGV),
        ("TERM", Signal::TERM),
        ("USR1", Signal::USR1),
        ("USR2", Signal::USR2),
    ]
};

/// The signal RFC 4254 section 6.10 names `name` (without `SIG`), if it
/// is one of those.
#[cfg(unix)]
pub(crate) fn named_signal(name: &str) -> Option<rustix::process::Signal> {
    SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
}

/// Sends signal `name` to the process with `kill(2)`.
#[cfg(unix)]
fn signal(pid: u32, name: &str) {
    use rustix::process::{kill_process, Pid};
    let Some(signal) = named_signal(name) else {
        return;
    };
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // It may have exited meanwhile (not yet reaped, so the pid is still
        // its own): nothing to do then.
        let _ = kill_process(pid, signal);
    }
}

/// No POSIX signals to deliver.
#[cfg(not(unix))]
fn signal(_pid: u32, _name: &str) {}

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

/// The RFC 4254 section 6.10 name of this system's signal number `signal`
/// (`SIG` and the number for the others).
#[cfg(unix)]
fn signal_name(signal: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, s)| s.as_raw() == signal)
        .map_or_else(|| format!("SIG{signal}"), |(n, _)| n.to_string())
}

async fn fail(channel: &Channel, message: &str) {
    let _ = (&mut &channel.stderr()).write_all(message.as_bytes()).await;
    let _ = channel.send_exit_status(CANNOT_RUN);
    let _ = channel.send_eof();
    let _ = channel.close_channel().await;
}

/// First size of a pipe read buffer: what a short command's output needs.
/// Small, because it is allocated (and touched) for stdout and stderr of
/// every command, however little they print: with 1,000 sessions, 16 KiB
/// buffers cost about 15 KiB of memory per session more than this.
const FIRST_READ: usize = 1024;
/// What a pipe holds unless enlarged (Linux), so the most one read can get.
const DEFAULT_PIPE: usize = 64 * 1024;
/// Largest pipe read buffer, reached when reads keep filling the buffer.
const LARGEST_READ: usize = 1024 * 1024;

/// Copies the process's stdout and stderr into the channel (RFC 4254
/// section 5.2: stderr as extended data 1) until both pipes have ended.
///
/// Both streams share one window: while it is shut, each holds the chunk
/// it read last and reads no more, so the process blocks on a full pipe, as
/// it would behind a slow terminal. The two are served in turns (see
/// [`in_turns`]), so neither takes every reopening of the window.
async fn copy_output(stdout: Option<ChildStdout>, stderr: Option<ChildStderr>, channel: &Channel) {
    let stderr_channel = channel.stderr();
    let out = async {
        if let Some(pipe) = stdout {
            copy_pipe(pipe, channel).await;
        }
    };
    let err = async {
        if let Some(pipe) = stderr {
            copy_pipe(pipe, &stderr_channel).await;
        }
    };
    in_turns(out, err).await;
}

/// Copies one output pipe into `sink` until the pipe ends or writing fails
/// (then the pipe is dropped, and a process still writing to it gets
/// SIGPIPE, as with a closed terminal).
///
/// Every chunk crosses to the task that pumps the socket (a wake-up or
/// two), so a fast producer (`head -c 2G /dev/zero`) should be read in
/// large chunks: the buffer grows fourfold, up to [`LARGEST_READ`], while
/// reads keep filling it, and once it outgrows what the pipe holds, the
/// pipe is enlarged to that size too. A command that prints a few lines
/// keeps a small buffer and pipe, so thousands of sessions stay cheap.
async fn copy_pipe(mut pipe: impl OutputPipe, mut sink: impl AsyncWrite + Unpin) {
    let mut buf = vec![0u8; FIRST_READ];
    let mut enlarged = false;
    loop {
        let n = match pipe.read(&mut buf).await {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if sink.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if n == buf.len() && n < LARGEST_READ {
            buf.resize(n * 4, 0);
            if !enlarged && buf.len() > DEFAULT_PIPE {
                enlarged = true;
                pipe.enlarge();
            }
        }
        // A pipe that always has more (and a window that lets it through)
        // would keep this task busy for as long as it lasts: let the other
        // stream, and the runtime's other tasks, have their turn.
        yield_now().await;
    }
}

/// Runs `a` and `b` to completion, taking turns at being polled first: the
/// one polled second on one wake-up is polled first on the next. Both wait
/// for the same window, and the one polled first takes all of it when it
/// reopens; in turns, neither can starve the other.
async fn in_turns(a: impl Future<Output = ()>, b: impl Future<Output = ()>) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_done, mut b_done, mut a_first) = (false, false, true);
    poll_fn(move |cx| {
        for a_turn in [a_first, !a_first] {
            if a_turn {
                a_done = a_done || a.as_mut().poll(cx).is_ready();
            } else {
                b_done = b_done || b.as_mut().poll(cx).is_ready();
            }
        }
        a_first = !a_first;
        if a_done && b_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Lets the executor run other tasks (and this one's other futures) before
/// going on.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// A process's output pipe.
trait OutputPipe: AsyncRead + Unpin {
    /// Best effort: a pipe holds 64 KiB by default on Linux, which caps
    /// every read at that size.
    fn enlarge(&self) {}
}

impl OutputPipe for ChildStdout {
    fn enlarge(&self) {
        enlarge_pipe(self, LARGEST_READ);
    }
}

impl OutputPipe for ChildStderr {
    fn enlarge(&self) {
        enlarge_pipe(self, LARGEST_READ);
    }
}

/// Grows the pipe behind `fd` to hold at least `size` bytes, if it is a
/// pipe and holds less; returns whether it now holds at least that much.
///
/// A Linux pipe holds 64 KiB by default, so the side filling it blocks
/// every 64 KiB until the other side has read: two context switches per
/// 64 KiB of a bulk transfer. Best effort: growing fails for an
/// unprivileged user past `/proc/sys/fs/pipe-max-size` or the per-user
/// pipe quota, and on other systems, which only means smaller transfers.
/// Never shrinks a pipe someone made larger.
pub fn enlarge_pipe(fd: impl AsFd, size: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        match rustix::pipe::fcntl_getpipe_size(&fd) {
            Ok(current) if current >= size => true,
            Ok(_) => rustix::pipe::fcntl_setpipe_size(&fd, size).is_ok_and(|now| now >= size),
            // Not a pipe (a file, a terminal, /dev/null).
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, size);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pipe_is_grown_but_never_shrunk() {
        let (reader, writer) = std::io::pipe().unwrap();
        let size = |fd| rustix::pipe::fcntl_getpipe_size(fd).unwrap();
        assert!(size(&reader) < 256 * 1024);
        assert!(enlarge_pipe(&writer, 256 * 1024));
        assert!(size(&reader) >= 256 * 1024);
        let grown = size(&reader);
        // Asking for less than it holds leaves it as it is.
        assert!(enlarge_pipe(&writer, 64 * 1024));
        assert_eq!(size(&reader), grown);
    }

    #[test]
    fn what_is_not_a_pipe_is_left_alone() {
        let null = std::fs::File::open("/dev/null").unwrap();
        assert!(!enlarge_pipe(&null, 256 * 1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn signal_names_round_trip() {
        assert_eq!(signal_name(9), "KILL");
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(1), "HUP");
        assert_eq!(signal_name(10), "USR1");
        assert_eq!(signal_name(31), "SIG31");
    }

    #[cfg(unix)]
    #[test]
    fn every_signal_named_by_the_rfc_can_be_sent() {
        for (name, signal) in SIGNALS {
            assert!(crate::channel::signal_number(name).is_some(), "{name}");
            assert_eq!(signal_name(signal.as_raw()), name);
        }
    }

    #[test]
    fn the_future_can_be_spawned_anywhere() {
        fn spawnable<F: Future + Send + 'static>(_: impl FnOnce(IncomingChannel) -> F) {}
        spawnable(serve_command);
    }

    /// A pipe giving at most `per_read` bytes per read, `total` in all, and
    /// what was asked of it.
    struct ScriptedPipe {
        per_read: usize,
        left: usize,
        log: std::sync::Arc<std::sync::Mutex<PipeLog>>,
    }

    #[derive(Default)]
    struct PipeLog {
        /// The buffer size of each read.
        asked: Vec<usize>,
        /// How many reads came before the pipe was enlarged.
        enlarged_after: Option<usize>,
    }

    impl AsyncRead for ScriptedPipe {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            self.log.lock().unwrap().asked.push(buf.len());
            let n = buf.len().min(self.per_read).min(self.left);
            self.left -= n;
            Poll::Ready(Ok(n))
        }
    }

    impl OutputPipe for ScriptedPipe {
        fn enlarge(&self) {
            let mut log = self.log.lock().unwrap();
            log.enlarged_after = Some(log.asked.len());
        }
    }

    /// Copies `total` bytes from a pipe giving `per_read` at a time.
    fn copy_scripted(per_read: usize, total: usize) -> PipeLog {
        let log = std::sync::Arc::default();
        let pipe = ScriptedPipe {
            per_read,
            left: total,
            log: std::sync::Arc::clone(&log),
        };
        block_on(copy_pipe(pipe, futures_util::io::sink()));
        std::sync::Arc::into_inner(log)
            .expect("the pipe is dropped")
            .into_inner()
            .unwrap()
    }

    #[test]
    fn a_fast_producer_is_read_in_ever_larger_chunks_up_to_a_mebibyte() {
        let log = copy_scripted(usize::MAX, 8 * LARGEST_READ);
        const K: usize = 1024;
        assert_eq!(
            log.asked[..8],
            [
                K,
                4 * K,
                16 * K,
                64 * K,
                256 * K,
                1024 * K,
                1024 * K,
                1024 * K
            ]
        );
        // The pipe is enlarged once reads fill what it holds by default.
        assert_eq!(log.enlarged_after, Some(4));
    }

    #[test]
    fn a_slow_producer_keeps_a_small_buffer_and_pipe() {
        let log = copy_scripted(100, 100_000);
        assert!(
            log.asked.iter().all(|&n| n == FIRST_READ),
            "{:?}",
            log.asked
        );
        assert_eq!(log.enlarged_after, None);
    }

    #[test]
    fn turns_alternate_between_wake_ups() {
        use std::sync::{Arc, Mutex};
        let order = Arc::new(Mutex::new(Vec::new()));
        let step = |name: &'static str| {
            let order = order.clone();
            async move {
                for _ in 0..3 {
                    order.lock().unwrap().push(name);
                    yield_now().await;
                }
            }
        };
        block_on(in_turns(step("a"), step("b")));
        // A poll on which a future completes records nothing.
        assert_eq!(*order.lock().unwrap(), ["a", "b", "b", "a", "a", "b"]);
    }
}
