//! `process::serve_command` serving commands as a user would see them over a
//! real connection: output and stderr under a small window, stdin, exit
//! statuses and signals, and many commands at once on one thread. The
//! server is `conch_driver::testing`'s [`TestServer`] (keys, credentials),
//! serving each connection on a thread of its own. The tests run one at a
//! time ([`serial`]): one counts the process's threads.
#![cfg(unix)]

use std::future::{poll_fn, Future};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use async_io::{Async, Timer as AsyncIoTimer};
use conch_driver::block_on::{block_on, block_on_until};
use conch_driver::process::serve_command;
use conch_driver::testing::{serial, TestServer, PASSWORD, USER};
use conch_driver::{
    start_client, start_server, AuthMethods, Channel, ExitStatus, IncomingChannel, ServerName,
    ServerSession, Session, Sleep, Timer,
};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use futures_util::stream::{FuturesUnordered, StreamExt};

/// Bound on each test, so a hang fails it.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// async-io's timer, for the connections' timeouts (no runtime here).
struct AsyncIo;

impl Timer for AsyncIo {
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(async move {
            AsyncIoTimer::at(deadline).await;
        })
    }
}

/// How the test server serves each started channel.
type Serve = fn(IncomingChannel) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves every channel the client starts with `serve`, all of them on
/// this one thread (as futures, no task or thread each).
async fn serve_all(session: ServerSession, serve: Serve) {
    let mut commands = FuturesUnordered::new();
    let mut accepting = true;
    poll_fn(|cx| {
        while accepting {
            match pin!(session.accept_channel()).poll(cx) {
                Poll::Ready(Some(incoming)) => commands.push(serve(incoming)),
                Poll::Ready(None) => accepting = false,
                Poll::Pending => break,
            }
        }
        while let Poll::Ready(Some(())) = commands.poll_next_unpin(cx) {}
        if accepting || !commands.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// `server` on a free loopback port, for one connection, on a thread of its
/// own (pump and commands).
fn start_test_server(server: &TestServer, serve: Serve) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let options = server.options.clone();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let stream = Async::new(stream).expect("non-blocking socket");
        let mut pump = None;
        let session = start_server(stream, &options, Arc::new(AsyncIo), |p| pump = Some(p));
        let pump = pump.expect("the pump is handed over at once");
        block_on(futures_util::future::join(pump, serve_all(session, serve)));
    });
    addr
}

/// Runs `test` with a client session (receive window `window`) logged in to
/// a fresh test server, under [`TEST_TIMEOUT`].
fn with_session<T, F: Future<Output = T>>(window: u32, test: impl FnOnce(Session) -> F) -> T {
    with_server_session(TestServer::new(), window, test)
}

/// Serves with [`serve_command`].
fn commands(incoming: IncomingChannel) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(serve_command(incoming))
}

/// [`with_session`] with this server.
fn with_server_session<T, F: Future<Output = T>>(
    server: TestServer,
    window: u32,
    test: impl FnOnce(Session) -> F,
) -> T {
    with_server_serving(server, commands, window, test)
}

/// [`with_server_session`] serving channels with `serve`.
fn with_server_serving<T, F: Future<Output = T>>(
    server: TestServer,
    serve: Serve,
    window: u32,
    test: impl FnOnce(Session) -> F,
) -> T {
    let addr = start_test_server(&server, serve);
    let stream = Async::new(TcpStream::connect(addr).expect("connect")).expect("non-blocking");
    let mut options = server.client_options();
    let mut config = (*options.config).clone();
    config.channels.window_size = window;
    options.config = Arc::new(config);
    let deadline = Instant::now() + TEST_TIMEOUT;
    let session = block_on_until(
        start_client(
            stream,
            ServerName::new("127.0.0.1", addr.port()),
            &options,
            Arc::new(AsyncIo),
            |pump| {
                thread::spawn(move || block_on(pump));
            },
        ),
        Some(deadline),
    )
    .expect("handshake in time")
    .expect("handshake");
    block_on_until(
        async {
            session
                .authenticate(USER, AuthMethods::new().password(PASSWORD))
                .await
                .expect("login");
            test(session).await
        },
        Some(deadline),
    )
    .expect("the test timed out")
}

/// Reads the channel's stdout and stderr to the end, both at once (they
/// share the window, so reading one only would stall the other).
async fn read_both(channel: &Channel) -> (Vec<u8>, Vec<u8>) {
    let stderr = channel.stderr();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (o, e) = futures_util::future::join(
        (&mut &*channel).read_to_end(&mut out),
        (&mut &stderr).read_to_end(&mut err),
    )
    .await;
    o.expect("stdout");
    e.expect("stderr");
    (out, err)
}

/// A channel running a process that sleeps for 30 s (as the shell's own
/// process, so a signal reaches it), once it has started.
async fn start_sleeper(session: &Session) -> Channel {
    let channel = session
        .exec("echo ready; exec sleep 30")
        .await
        .expect("exec");
    assert_eq!(read_line(&channel).await, "ready");
    channel
}

/// Reads one line (up to and without its newline) from stdout.
async fn read_line(channel: &Channel) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = (&mut &*channel).read(&mut byte).await.expect("read");
        if n == 0 || byte[0] == b'\n' {
            return String::from_utf8(line).expect("text");
        }
        line.push(byte[0]);
    }
}

#[test]
fn stdout_and_stderr_interleaved_under_a_small_window_both_complete() {
    let _serial = serial();
    const LEN: usize = 1_000_000;
    let (out, err, status) = with_session(16 * 1024, |session| async move {
        // Both streams written at the same time, far beyond the window.
        let command = format!(
            "head -c {LEN} /dev/zero | tr '\\0' o & head -c {LEN} /dev/zero | tr '\\0' e >&2; wait"
        );
        let channel = session.exec(command).await.expect("exec");
        let (out, err) = read_both(&channel).await;
        (out, err, channel.exit_status().await.expect("status"))
    });
    assert_eq!(out.len(), LEN);
    assert!(out.iter().all(|&b| b == b'o'), "stdout has stderr's bytes");
    assert_eq!(err.len(), LEN);
    assert!(err.iter().all(|&b| b == b'e'), "stderr has stdout's bytes");
    assert_eq!(status, ExitStatus::Code(0));
}

#[test]
fn input_larger_than_the_window_round_trips_through_cat() {
    let _serial = serial();
    const LEN: usize = 3 * 1024 * 1024 + 17;
    let input: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let (out, status) = with_session(64 * 1024, |session| {
        let input = input.clone();
        async move {
            let channel = session.exec("cat").await.expect("exec");
            let write = async {
                (&mut &channel).write_all(&input).await.expect("write");
                channel.send_eof().expect("eof");
            };
            let mut out = Vec::new();
            let mut reader = &channel;
            let ((), read) = futures_util::future::join(write, reader.read_to_end(&mut out)).await;
            read.expect("read");
            (out, channel.exit_status().await.expect("status"))
        }
    });
    assert!(
        out == input,
        "cat gave back {} bytes, not the input",
        out.len()
    );
    assert_eq!(status, ExitStatus::Code(0));
}

#[test]
fn a_command_that_closes_its_output_still_reports_its_exit_status() {
    let _serial = serial();
    let (out, err, status) = with_session(2 * 1024 * 1024, |session| async move {
        let channel = session
            .exec("echo before; exec >&- 2>&-; sleep 1; exit 7")
            .await
            .expect("exec");
        let (out, err) = read_both(&channel).await;
        (out, err, channel.exit_status().await.expect("status"))
    });
    assert_eq!(out, b"before\n");
    assert!(err.is_empty());
    assert_eq!(status, ExitStatus::Code(7));
}

#[test]
fn a_signal_reaches_the_process_and_its_death_is_reported() {
    let _serial = serial();
    let started = Instant::now();
    let status = with_session(2 * 1024 * 1024, |session| async move {
        let channel = start_sleeper(&session).await;
        channel.signal("TERM").expect("signal");
        channel.exit_status().await.expect("status")
    });
    assert!(
        matches!(&status, ExitStatus::Signal { name, .. } if name == "TERM"),
        "{status:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "not killed");
}

#[test]
fn a_signal_reaches_a_process_that_does_not_read_its_full_stdin() {
    let _serial = serial();
    let status = with_session(2 * 1024 * 1024, |session| async move {
        let channel = start_sleeper(&session).await;
        // More than the pipe holds: writing it to the process's stdin
        // waits for a read that never comes.
        (&mut &channel)
            .write_all(&vec![b'x'; 1024 * 1024])
            .await
            .expect("write");
        channel.signal("KILL").expect("signal");
        channel.exit_status().await.expect("status")
    });
    assert!(
        matches!(&status, ExitStatus::Signal { name, .. } if name == "KILL"),
        "{status:?}"
    );
}

#[test]
fn a_subsystem_is_refused_with_status_127() {
    let _serial = serial();
    let (err, status) = with_session(2 * 1024 * 1024, |session| async move {
        let channel = session.open_session().await.expect("open");
        channel.subsystem("sftp").await.expect("subsystem request");
        let (_, err) = read_both(&channel).await;
        (err, channel.exit_status().await.expect("status"))
    });
    assert!(
        String::from_utf8_lossy(&err).contains("not available"),
        "{err:?}"
    );
    assert_eq!(status, ExitStatus::Code(127));
}

#[cfg(target_os = "linux")]
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn many_commands_run_without_a_thread_each() {
    let _serial = serial();
    const COMMANDS: usize = 50;
    let (before, during, outputs) = with_session(2 * 1024 * 1024, |session| async move {
        let before = threads();
        let mut channels = Vec::new();
        for i in 0..COMMANDS {
            let channel = session
                .exec(format!("echo ready; read line; echo \"{i} $line\""))
                .await
                .expect("exec");
            channels.push(channel);
        }
        // All running (and served) at once.
        for channel in &channels {
            assert_eq!(read_line(channel).await, "ready");
        }
        let during = threads();
        let mut outputs = Vec::new();
        for channel in &channels {
            (&mut &*channel).write_all(b"done\n").await.expect("write");
            channel.send_eof().expect("eof");
        }
        for channel in &channels {
            outputs.push((
                read_line(channel).await,
                channel.exit_status().await.expect("status"),
            ));
        }
        (before, during, outputs)
    });
    for (i, (line, status)) in outputs.iter().enumerate() {
        assert_eq!(line, &format!("{i} done"));
        assert_eq!(status, &ExitStatus::Code(0));
    }
    // The reactor's and the reaper's threads start with the first command
    // (once per program); a thread per command would add 50 or more.
    assert!(
        during <= before + 4,
        "{before} threads before {COMMANDS} commands, {during} while they ran"
    );
}

/// Reads stdout until it holds `text` (a terminal's output has no end
/// while the program runs); returns everything read.
async fn read_until(channel: &Channel, text: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(text) {
        let n = (&mut &*channel).read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "the output ended before {text:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

fn size(cols: u32, rows: u32) -> conch_driver::conch_core::WindowSize {
    conch_driver::conch_core::WindowSize {
        cols,
        rows,
        width_px: 0,
        height_px: 0,
    }
}

#[test]
fn a_pty_req_gets_a_real_terminal_with_the_clients_term_size_and_modes() {
    use conch_driver::conch_core::channel::modes::{encode_terminal_modes, ECHO, VINTR};
    let _serial = serial();
    let (out, status) = with_session(1 << 20, |session| async move {
        let channel = session.open_session().await.expect("open");
        let modes = encode_terminal_modes(&[(ECHO, 0), (VINTR, 7)]);
        channel
            .request_pty("vt220", size(100, 40), &modes)
            .await
            .expect("pty-req accepted");
        channel
            .exec("tty; echo T=$TERM; stty size; stty -a; echo SSH_TTY=$SSH_TTY")
            .await
            .expect("exec");
        let (out, err) = read_both(&channel).await;
        assert!(err.is_empty(), "a terminal has no separate stderr");
        (
            String::from_utf8_lossy(&out).into_owned(),
            channel.exit_status().await.expect("status"),
        )
    });
    assert_eq!(status, ExitStatus::Code(0));
    let tty = out.lines().next().unwrap_or("").trim_end();
    assert!(tty.starts_with("/dev/pts/"), "{out}");
    assert!(out.contains(&format!("SSH_TTY={tty}")), "{out}");
    assert!(out.contains("T=vt220\r\n"), "{out}");
    assert!(out.contains("40 100\r\n"), "{out}");
    // The modes sent: no echo, and ^G as the interrupt character.
    assert!(out.contains(" -echo "), "{out}");
    assert!(out.contains("intr = ^G"), "{out}");
}

#[test]
fn window_changes_and_signals_reach_the_program_on_the_terminal() {
    let _serial = serial();
    let (seen, status) = with_session(1 << 20, |session| async move {
        let channel = session.open_session().await.expect("open");
        channel
            .request_pty("xterm", size(80, 24), &[])
            .await
            .expect("pty-req");
        // The shell's traps run between short sleeps (the foreground job).
        channel
            .exec(
                "trap 'echo size=$(stty size)' WINCH; trap 'echo got-int; exit 9' INT; \
                 echo ready; while :; do sleep 0.1; done",
            )
            .await
            .expect("exec");
        let mut seen = read_until(&channel, "ready").await;
        channel.window_change(size(132, 50)).expect("window-change");
        seen += &read_until(&channel, "size=50 132").await;
        channel.signal("INT").expect("signal");
        seen += &read_until(&channel, "got-int").await;
        (seen, channel.exit_status().await.expect("status"))
    });
    assert!(seen.contains("size=50 132"), "{seen}");
    assert_eq!(status, ExitStatus::Code(9), "{seen}");
}

#[test]
fn a_login_shell_on_a_terminal_runs_what_is_typed_and_its_exit_status_comes_back() {
    let _serial = serial();
    let (seen, status) = with_session(1 << 20, |session| async move {
        let channel = session.open_session().await.expect("open");
        channel
            .request_pty("dumb", size(80, 24), &[])
            .await
            .expect("pty-req");
        channel.shell().await.expect("shell");
        (&mut &channel)
            .write_all(b"echo $0 $((6*7)) $HOME\n")
            .await
            .expect("type");
        let mut seen = read_until(&channel, " 42 ").await;
        (&mut &channel).write_all(b"exit 4\n").await.expect("type");
        let (rest, _) = read_both(&channel).await;
        seen += &String::from_utf8_lossy(&rest);
        (seen, channel.exit_status().await.expect("status"))
    });
    // A login shell: argv[0] starts with '-'.
    assert!(seen.contains("\n-"), "{seen}");
    assert_eq!(status, ExitStatus::Code(4), "{seen}");
}

#[test]
fn a_server_that_does_not_serve_terminals_refuses_pty_req() {
    let _serial = serial();
    let refused = with_server_session(
        TestServer::without_terminals(),
        1 << 20,
        |session| async move {
            let channel = session.open_session().await.expect("open");
            channel.request_pty("xterm", size(80, 24), &[]).await
        },
    );
    assert!(
        matches!(refused, Err(conch_driver::Error::RequestRefused { .. })),
        "{refused:?}"
    );
}

#[test]
fn env_requests_outside_accept_env_are_refused_and_the_environment_is_built_not_inherited() {
    let _serial = serial();
    let (refused, out) = with_session(1 << 20, |session| async move {
        let channel = session.open_session().await.expect("open");
        let refused: Vec<bool> = futures_util::future::join_all(
            ["LD_PRELOAD", "PATH", "BASH_ENV"]
                .iter()
                .map(|name| channel.set_env(name, "/tmp/evil")),
        )
        .await
        .iter()
        .map(Result::is_err)
        .collect();
        channel
            .set_env("LANG", "C.UTF-8")
            .await
            .expect("LANG accepted");
        channel
            .set_env("LC_TIME", "C")
            .await
            .expect("LC_* accepted");
        channel.exec("env").await.expect("exec");
        let (out, _) = read_both(&channel).await;
        (refused, String::from_utf8_lossy(&out).into_owned())
    });
    assert_eq!(refused, [true, true, true]);
    assert!(
        out.contains("LANG=C.UTF-8\n") && out.contains("LC_TIME=C\n"),
        "{out}"
    );
    assert!(!out.contains("/tmp/evil"), "{out}");
    for name in ["USER=", "LOGNAME=", "HOME=", "PATH=", "SHELL="] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing: {out}"
        );
    }
    // Nothing of this test process's own environment: cargo sets these.
    assert!(!out.contains("CARGO_"), "{out}");
}

/// An application's own program on a terminal channel: a tiny REPL.
fn repl(incoming: IncomingChannel) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    use conch_driver::terminal::{Line, TerminalChannel};
    Box::pin(async move {
        let Some(pty) = incoming.pty.clone() else {
            return;
        };
        let mut term = TerminalChannel::new(incoming.channel, &pty);
        let mut status = 0;
        loop {
            let size = term.size();
            let prompt = format!("{}x{}> ", size.cols, size.rows);
            match term.read_line(&prompt).await {
                Ok(Line::Text(line)) if line == "quit" => break,
                Ok(Line::Text(line)) => {
                    let _ = term.write_text(&format!("[{line}]\n")).await;
                }
                Ok(Line::Interrupt) => status += 1,
                Ok(Line::Eof) | Err(_) => {
                    status = 100;
                    break;
                }
            }
        }
        term.finish(status).await;
    })
}

#[test]
fn an_application_program_on_a_terminal_channel_edits_lines_and_follows_resizes() {
    let _serial = serial();
    let (seen, status) =
        with_server_serving(TestServer::new(), repl, 1 << 20, |session| async move {
            let channel = session.open_session().await.expect("open");
            channel
                .request_pty("xterm", size(80, 24), &[])
                .await
                .expect("pty-req");
            channel.shell().await.expect("shell");
            let mut seen = read_until(&channel, "80x24> ").await;
            // Typed in pieces, with an erased character and a killed line.
            for keys in [&b"helx"[..], b"\x7flo", b"\r"] {
                (&mut &channel).write_all(keys).await.expect("type");
            }
            seen += &read_until(&channel, "[hello]\r\n").await;
            (&mut &channel)
                .write_all(b"junk\x15\x03")
                .await
                .expect("type");
            channel.window_change(size(100, 30)).expect("resize");
            (&mut &channel).write_all(b"x\r").await.expect("type");
            seen += &read_until(&channel, "100x30> ").await;
            (&mut &channel).write_all(b"quit\n").await.expect("type");
            let (rest, _) = read_both(&channel).await;
            seen += &String::from_utf8_lossy(&rest);
            (seen, channel.exit_status().await.expect("status"))
        });
    // Echo as typed, the erase shown as backspace-space-backspace.
    assert!(seen.contains("helx\x08 \x08lo\r\n[hello]\r\n"), "{seen:?}");
    assert!(seen.contains("^C\r\n"), "{seen:?}");
    assert!(seen.contains("[x]"), "{seen:?}");
    // One interrupt, then quit.
    assert_eq!(status, ExitStatus::Code(1), "{seen:?}");
}
