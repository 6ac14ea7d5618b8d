//! Faults under conch-blocking (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and handles dropped at each stage leaving no thread or socket
//! behind. The peers (a proxy that can cut or freeze a connection,
//! scripted servers) and the checks are `conch_driver::testing`'s, shared
//! with the other adapters.
//!
//! The tests of this file run one at a time ([`serial`]): some count the
//! process's file descriptors and threads.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use conch_blocking::{
    connect, AuthMethods, Channel, ClientOptions, Error, Listener, ServerOptions, Session,
};
use conch_driver::block_on::block_on_until;
use conch_driver::testing::{
    describe_threads_and_fds, io_is_connection_lost, io_is_keepalive_timeout, is_connection_lost,
    is_keepalive_timeout, keepalive_deadline, keepalive_earliest, serial, wait_until,
    with_keepalive, FaultProxy, Held, ScriptedPeer, Served, TestServer, UnacceptedListener,
    ECHO_COMMAND, ENDLESS_STREAM, FAULT_NOTICE, KEEPALIVE_INTERVAL, KEEPALIVE_MAX,
    OUTPUT_THEN_WAIT, OUTPUT_THEN_WAIT_LEN, PASSWORD, SHORT_TIMEOUT, STEP_TIMEOUT, USER,
};

/// Bound on a whole test: blocking calls cannot be cancelled, so the body
/// runs on its own thread and the test fails if it has not finished.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Runs a test body on its own thread, one test at a time, bounded.
fn run(body: impl FnOnce() + Send + 'static) {
    let _serial = serial();
    let (done_tx, done_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        body();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(TEST_LIMIT) {
        Ok(()) => handle.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!(),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish in {TEST_LIMIT:?}"),
    }
}

/// Runs `f` on a thread; its result must come within `limit`.
struct Pending<T>(mpsc::Receiver<T>);

fn pending<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    Pending(rx)
}

impl<T> Pending<T> {
    fn within(self, limit: Duration, what: &str) -> T {
        self.0
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("not done within {limit:?}: {what}"))
    }

    #[track_caller]
    fn assert_still_waiting(&self) {
        assert!(
            matches!(self.0.try_recv(), Err(mpsc::TryRecvError::Empty)),
            "should still be waiting"
        );
    }
}

fn wait_for(what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    assert!(wait_until(limit, cond), "not within {limit:?}: {what}");
}

/// Waits (bounded) until a server session's socket is closed.
fn wait_closed(server: &conch_driver::ServerSession, limit: Duration, what: &str) {
    block_on_until(server.closed(), Some(Instant::now() + limit)).unwrap_or_else(|| {
        panic!(
            "not within {limit:?}: {what} ({})",
            describe_threads_and_fds()
        )
    });
}

/// The test server on a free loopback port; what it accepts is in `Served`.
fn start_server(options: ServerOptions) -> (SocketAddr, Served) {
    let listener = Listener::bind("127.0.0.1:0", options).expect("bind");
    let addr = listener.local_addr().unwrap();
    let served = Served::default();
    let accepted = served.clone();
    thread::spawn(move || {
        while let Ok((session, _)) = listener.accept() {
            accepted.session(session.driver().clone());
            let accepted = accepted.clone();
            thread::spawn(move || {
                while let Some(incoming) = session.accept_channel() {
                    accepted.channel(incoming.map(Channel::into_inner));
                }
            });
        }
    });
    (addr, served)
}

fn login(addr: SocketAddr, options: ClientOptions) -> Session {
    let session = connect("127.0.0.1", addr.port(), options).expect("connect");
    session
        .authenticate(USER, AuthMethods::new().password(PASSWORD))
        .expect("authenticate");
    session
}

/// Reads until the stream ends, counting in `progress`; the bytes and how
/// it ended.
fn read_counting(channel: &Channel, progress: &AtomicUsize) -> (usize, io::Result<()>) {
    let mut reader = channel;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (progress.load(Ordering::Relaxed), Ok(())),
            Ok(n) => {
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return (progress.load(Ordering::Relaxed), Err(e)),
        }
    }
}

fn read_until_end(channel: &Channel) -> (usize, io::Result<()>) {
    read_counting(channel, &AtomicUsize::new(0))
}

// ---------------------------------------------------------------------
// A peer killed in the middle of a transfer
// ---------------------------------------------------------------------

#[test]
fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options());

        // Output that arrived and is not read yet.
        let held = session.exec(OUTPUT_THEN_WAIT).unwrap();
        wait_for("output arrives", STEP_TIMEOUT, || {
            held.buffered_len() == OUTPUT_THEN_WAIT_LEN
        });

        // A transfer in full flow: a writer, a reader and the exit status
        // waiting on an echoing command, each on its own thread.
        let echo = Arc::new(session.exec(ECHO_COMMAND).unwrap());
        let echoed = Arc::new(AtomicUsize::new(0));
        let reader = pending({
            let (echo, echoed) = (echo.clone(), echoed.clone());
            move || read_counting(&echo, &echoed)
        });
        let writer = pending({
            let echo = echo.clone();
            move || {
                let chunk = vec![7u8; 16 * 1024];
                let mut writer = &*echo;
                loop {
                    if let Err(e) = writer.write(&chunk) {
                        return e;
                    }
                }
            }
        });
        let status = pending({
            let echo = echo.clone();
            move || echo.exit_status()
        });
        // And a writer held up by a full window: the server side of this
        // channel reads nothing.
        let stuck = session.exec(ENDLESS_STREAM).unwrap();
        let stuck_written = Arc::new(AtomicUsize::new(0));
        let stuck_writer = pending({
            let written = stuck_written.clone();
            move || {
                let chunk = vec![1u8; 64 * 1024];
                let mut writer = &stuck;
                loop {
                    match writer.write(&chunk) {
                        Ok(n) => written.fetch_add(n, Ordering::Relaxed),
                        Err(e) => return e,
                    };
                }
            }
        });
        wait_for("echo traffic", STEP_TIMEOUT, || {
            echoed.load(Ordering::Relaxed) > 256 * 1024
        });
        // Past the server's 2 MiB window: the writer waits.
        wait_for("window full", STEP_TIMEOUT, || {
            stuck_written.load(Ordering::Relaxed) >= 2 * 1024 * 1024
        });

        proxy.kill();
        let stuck_error = stuck_writer.within(FAULT_NOTICE, "write into a full window fails");
        assert!(io_is_connection_lost(&stuck_error), "{stuck_error:?}");
        let (echoed, read_end) = reader.within(FAULT_NOTICE, "pending read fails");
        assert!(echoed > 256 * 1024);
        let read_error = read_end.expect_err("a cut connection must not read as a clean end");
        assert!(io_is_connection_lost(&read_error), "{read_error:?}");
        let write_error = writer.within(FAULT_NOTICE, "pending write fails");
        assert!(io_is_connection_lost(&write_error), "{write_error:?}");
        let status = status.within(FAULT_NOTICE, "pending exit status fails");
        assert!(
            matches!(&status, Err(e) if is_connection_lost(e)),
            "{status:?}"
        );

        // Everything that arrived before the cut is still delivered, then
        // the error: a truncated download never looks complete.
        let (received, end) = read_until_end(&held);
        assert_eq!(received, OUTPUT_THEN_WAIT_LEN);
        let end = end.expect_err("the held output must end with the error");
        assert!(io_is_connection_lost(&end), "{end:?}");

        assert!(session.is_closed());
        let reason = session.disconnect_reason().unwrap();
        assert!(is_connection_lost(&reason), "{reason:?}");
        let later = session.exec("true").unwrap_err();
        assert!(is_connection_lost(&later), "{later:?}");
    });
}

#[test]
fn client_gone_mid_transfer_ends_the_server_side() {
    run(|| {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone());
        let baseline = Held::baseline();
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options());
        let mut channel = session.exec(ENDLESS_STREAM).unwrap();
        let mut buf = vec![0u8; 1024 * 1024];
        channel.read_exact(&mut buf).unwrap();
        // Stop reading: the server's writer fills the window and waits.
        wait_for("window fills", STEP_TIMEOUT, || {
            channel.buffered_len() >= 1024 * 1024
        });

        proxy.kill();
        let server = served.sessions().pop().expect("a server session");
        wait_closed(&server, FAULT_NOTICE, "server session ends");
        let reason = server.disconnect_reason().unwrap();
        assert!(is_connection_lost(&reason), "{reason:?}");
        let mut stream_end = None;
        wait_for("server writer fails", FAULT_NOTICE, || {
            stream_end = served.stream_result();
            stream_end.is_some()
        });
        let (written, error) = stream_end.unwrap();
        assert!(written >= 2 * 1024 * 1024, "{written}");
        assert!(io_is_connection_lost(&error), "{error:?}");

        // Once the handles (and the proxy) are gone, no thread or socket
        // of either side is left.
        drop((channel, session, server, proxy));
        let released = wait_until(FAULT_NOTICE, || baseline.released());
        assert!(released, "left behind: {}", baseline.describe_left());
    });
}

// ---------------------------------------------------------------------
// A peer that stops answering
// ---------------------------------------------------------------------

#[test]
fn keepalive_notices_a_server_that_stops_answering() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), with_keepalive(test.client_options()));
        let channel = Arc::new(session.exec(ECHO_COMMAND).unwrap());
        // Answered keepalives keep an idle session up.
        thread::sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 2));
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());

        let reader = pending({
            let channel = channel.clone();
            move || read_until_end(&channel)
        });
        let status = pending({
            let channel = channel.clone();
            move || channel.exit_status()
        });
        let frozen_at = Instant::now();
        proxy.freeze();
        let (_, end) = reader.within(keepalive_deadline(), "keepalive notices");
        let noticed_after = frozen_at.elapsed();
        let error = end.expect_err("a silent server must fail the read");
        assert!(io_is_keepalive_timeout(&error), "{error:?}");
        assert!(
            noticed_after >= keepalive_earliest(),
            "gave up after {noticed_after:?}, before the keepalives were due"
        );
        let status = status.within(FAULT_NOTICE, "exit status fails");
        assert!(
            matches!(&status, Err(e) if is_keepalive_timeout(e)),
            "{status:?}"
        );
        let reason = session.disconnect_reason().unwrap();
        assert!(is_keepalive_timeout(&reason), "{reason:?}");
        wait_for("client closed the socket", FAULT_NOTICE, || {
            proxy.all_closed_by_client()
        });
    });
}

#[test]
fn without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options());
        let channel = Arc::new(session.exec(ECHO_COMMAND).unwrap());
        let reader = pending({
            let channel = channel.clone();
            move || read_until_end(&channel)
        });
        proxy.freeze();
        // Well past when keepalives would have given up.
        thread::sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 4));
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());
        reader.assert_still_waiting();
        // The socket dying still reaches the waiting read.
        proxy.kill();
        let (_, end) = reader.within(FAULT_NOTICE, "read fails");
        let error = end.expect_err("a cut connection must fail the read");
        assert!(io_is_connection_lost(&error), "{error:?}");
    });
}

#[test]
fn server_keepalive_notices_a_client_that_stops_answering() {
    run(|| {
        let test = TestServer::new();
        let options = test.options_with(|config| {
            config.transport.keepalive_interval = Some(KEEPALIVE_INTERVAL);
            config.transport.keepalive_max = KEEPALIVE_MAX;
        });
        let (addr, served) = start_server(options);
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options());
        let _channel = session.exec(ECHO_COMMAND).unwrap();
        proxy.freeze();
        let server = served.sessions().pop().expect("a server session");
        wait_closed(&server, keepalive_deadline(), "server gives up");
        let reason = server.disconnect_reason().unwrap();
        assert!(is_keepalive_timeout(&reason), "{reason:?}");
    });
}

// ---------------------------------------------------------------------
// Connect, handshake and auth timeouts
// ---------------------------------------------------------------------

fn short_timeouts(test: &TestServer) -> ClientOptions {
    let mut options = test.client_options();
    options.connect_timeout = Some(SHORT_TIMEOUT);
    options.handshake_timeout = Some(SHORT_TIMEOUT);
    options.auth_timeout = Some(SHORT_TIMEOUT);
    options
}

#[test]
fn connect_timeout_fires_when_the_listener_never_accepts() {
    run(|| {
        let test = TestServer::new();
        let listener = UnacceptedListener::new();
        let started = Instant::now();
        let error =
            connect("127.0.0.1", listener.addr().port(), short_timeouts(&test)).unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(&error, Error::Connect { source, .. }
                if source.kind() == io::ErrorKind::TimedOut),
            "{error:?}"
        );
        assert!(took >= SHORT_TIMEOUT, "{took:?}");
        assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
    });
}

fn assert_handshake_times_out(peer: ScriptedPeer, test: &TestServer) {
    let started = Instant::now();
    let error = connect("127.0.0.1", peer.addr().port(), short_timeouts(test)).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, Error::Timeout("handshake")), "{error:?}");
    assert!(took >= SHORT_TIMEOUT, "{took:?}");
    assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
    wait_for("the client closes its socket", FAULT_NOTICE, || {
        peer.all_closed_by_client()
    });
}

#[test]
fn handshake_timeout_fires_when_the_server_never_speaks() {
    run(|| assert_handshake_times_out(ScriptedPeer::silent(), &TestServer::new()));
}

#[test]
fn handshake_timeout_fires_when_the_server_stops_after_kexinit() {
    run(|| assert_handshake_times_out(ScriptedPeer::stops_after_kexinit(), &TestServer::new()));
}

#[test]
fn server_dying_during_the_handshake_fails_connect_at_once() {
    run(|| {
        let test = TestServer::new();
        let peer = ScriptedPeer::dies_after_kexinit();
        let started = Instant::now();
        // The handshake timeout is long: the loss itself must end the wait.
        let error = connect("127.0.0.1", peer.addr().port(), test.client_options()).unwrap_err();
        assert!(is_connection_lost(&error), "{error:?}");
        assert!(started.elapsed() < FAULT_NOTICE, "{:?}", started.elapsed());
    });
}

#[test]
fn server_dying_during_authentication_fails_it_at_once() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = connect("127.0.0.1", proxy.addr().port(), test.client_options()).unwrap();
        // The request goes nowhere; then the server dies while the client
        // waits for its answer (the auth timeout is long).
        proxy.freeze();
        let auth =
            pending(move || session.authenticate(USER, AuthMethods::new().password(PASSWORD)));
        thread::sleep(Duration::from_millis(50));
        auth.assert_still_waiting();
        proxy.kill();
        let error = auth.within(FAULT_NOTICE, "authenticate fails").unwrap_err();
        assert!(is_connection_lost(&error), "{error:?}");
    });
}

#[test]
fn auth_timeout_fires_when_the_server_stops_answering() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = connect("127.0.0.1", proxy.addr().port(), short_timeouts(&test)).unwrap();
        proxy.freeze();
        let started = Instant::now();
        let error = session
            .authenticate(USER, AuthMethods::new().password(PASSWORD))
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(error, Error::Timeout("authentication")),
            "{error:?}"
        );
        assert!(took >= SHORT_TIMEOUT, "{took:?}");
        assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
        // The session is over, says why, and its socket is closed.
        assert!(session.is_closed());
        assert!(matches!(
            session.disconnect_reason(),
            Some(Error::Timeout("authentication"))
        ));
        wait_for("the client closes its socket", FAULT_NOTICE, || {
            proxy.all_closed_by_client()
        });
    });
}

#[test]
fn auth_timeout_is_disarmed_once_the_server_answers() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let mut options = test.client_options();
        // Long enough for a loaded machine to answer a password.
        options.auth_timeout = Some(Duration::from_secs(1));
        let session = login(addr, options);
        thread::sleep(Duration::from_millis(1500));
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());
        let mut channel = session.exec("echo ok").unwrap();
        let mut out = String::new();
        channel.read_to_string(&mut out).unwrap();
        assert_eq!(out, "ok\n");
    });
}

#[test]
fn server_login_grace_time_ends_a_client_that_never_authenticates() {
    run(|| {
        let test = TestServer::new();
        let grace = Duration::from_secs(1);
        let options = test.options_with(|config| config.transport.handshake_timeout = Some(grace));
        let (addr, served) = start_server(options);
        let started = Instant::now();
        let session = connect("127.0.0.1", addr.port(), test.client_options()).unwrap();
        let server = served.sessions().pop().expect("a server session");
        wait_closed(&server, grace + FAULT_NOTICE, "server gives up");
        assert!(started.elapsed() >= grace);
        let reason = server.disconnect_reason().unwrap();
        assert!(
            matches!(&reason, Error::Disconnected(conch_driver::conch_core::Error::Timeout(what))
                if what.contains("login grace")),
            "{reason:?}"
        );
        // The client hears why.
        wait_for("client sees the end", FAULT_NOTICE, || session.is_closed());
        let client_reason = session.disconnect_reason().unwrap();
        assert!(
            matches!(
                client_reason,
                Error::Disconnected(conch_driver::conch_core::Error::PeerDisconnected { .. })
            ),
            "{client_reason:?}"
        );
    });
}

// ---------------------------------------------------------------------
// Handles dropped at each stage
// ---------------------------------------------------------------------

#[test]
fn handles_dropped_at_each_stage_leave_no_thread_or_socket() {
    run(|| {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone());
        let baseline = Held::baseline();

        // Before authentication.
        drop(connect("127.0.0.1", addr.port(), test.client_options()).unwrap());
        // Logged in, nothing open.
        drop(login(addr, test.client_options()));
        // A channel mid-echo, dropped before its session.
        let session = login(addr, test.client_options());
        let mut echo = session.exec(ECHO_COMMAND).unwrap();
        echo.write_all(b"ping").unwrap();
        drop(echo);
        drop(session);
        // A session dropped with unread output and a channel still held
        // (the channel keeps the connection; dropping it ends it).
        let session = login(addr, test.client_options());
        let held = session.exec(OUTPUT_THEN_WAIT).unwrap();
        wait_for("output arrives", STEP_TIMEOUT, || held.buffered_len() > 0);
        drop(session);
        assert!(!held.is_eof());
        drop(held);
        // A session closed explicitly.
        let session = login(addr, test.client_options());
        session.close();
        assert!(session.is_closed());
        drop(session);

        let sessions = served.sessions();
        assert_eq!(sessions.len(), 5);
        for server in &sessions {
            wait_closed(server, FAULT_NOTICE, "server sees the connection end");
        }
        drop(sessions);
        let released = wait_until(FAULT_NOTICE, || baseline.released());
        assert!(released, "left behind: {}", baseline.describe_left());
    });
}
