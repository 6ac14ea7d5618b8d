//! `process::serve_command` serving commands as a user would see them over a
//! real connection: output and stderr under a small window, stdin, exit
//! statuses and signals, and many commands at once on one thread. The
//! server is `conch_driver::testing`'s [`TestServer`] (keys, credentials),
//! serving each connection on a thread of its own. The tests run one at a
//! time ([`serial`]): one counts the process's threads.
#![cfg(unix)]

use std::future::{poll_fn, Future};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use async_io::{Async, Timer as AsyncIoTimer};
use conch_driver::block_on::{block_on, block_on_until};
use conch_driver::process::serve_command;
use conch_driver::testing::{serial, TestServer, PASSWORD, USER};
use conch_driver::{
    start_client, start_server, AuthMethods, Channel, ExitStatus, ServerName, ServerSession,
    Session, Sleep, Timer,
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

/// Serves every channel the client starts with `serve_command`, all of
/// them on this one thread (as futures, no task or thread each).
async fn serve_all(session: ServerSession) {
    let mut commands = FuturesUnordered::new();
    let mut accepting = true;
    poll_fn(|cx| {
        while accepting {
            match pin!(session.accept_channel()).poll(cx) {
                Poll::Ready(Some(incoming)) => commands.push(serve_command(incoming)),
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
fn start_test_server(server: &TestServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let options = server.options.clone();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let stream = Async::new(stream).expect("non-blocking socket");
        let mut pump = None;
        let session = start_server(stream, &options, Arc::new(AsyncIo), |p| pump = Some(p));
        let pump = pump.expect("the pump is handed over at once");
        block_on(futures_util::future::join(pump, serve_all(session)));
    });
    addr
}

/// Runs `test` with a client session (receive window `window`) logged in to
/// a fresh test server, under [`TEST_TIMEOUT`].
fn with_session<T, F: Future<Output = T>>(window: u32, test: impl FnOnce(Session) -> F) -> T {
    let server = TestServer::new();
    let addr = start_test_server(&server);
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
