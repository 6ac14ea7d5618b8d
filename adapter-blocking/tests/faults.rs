//! Faults under conch-blocking (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and handles dropped at each stage leaving no thread or socket
//! behind. The peers (a proxy that can cut or freeze a connection,
//! scripted servers) and the checks are `conch_driver::testing`'s, shared
//! with the other adapters.
//!
//! The tests of this file run one at a time ([`serial`]): some count the
//! process's file descriptors and threads.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, login, read_counting, read_until_end, start_server};
use conch_blocking::{connect, AuthMethods};
use conch_driver::block_on::block_on_until;
use conch_driver::testing::checks::{
    assert_auth_timed_out, assert_connect_timed_out, assert_echo_lost, assert_handshake_timed_out,
    assert_held_output_lost, assert_keepalives_gave_up, assert_login_grace_ended,
    assert_session_lost, assert_stream_lost, ECHO_FLOWING,
};
use conch_driver::testing::{
    describe_threads_and_fds, io_is_connection_lost, is_connection_lost, is_keepalive_timeout,
    keepalive_deadline, serial, wait_until, with_keepalive, FaultProxy, Held, ScriptedPeer,
    TestServer, UnacceptedListener, ECHO_COMMAND, ENDLESS_STREAM, FAULT_NOTICE, KEEPALIVE_INTERVAL,
    KEEPALIVE_MAX, OUTPUT_THEN_WAIT, OUTPUT_THEN_WAIT_LEN, PASSWORD, STEP_TIMEOUT, USER,
};

/// Runs a test body on its own thread, one test at a time, bounded.
fn run(body: impl FnOnce() + Send + 'static) {
    let _serial = serial();
    bounded(body);
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

// ---------------------------------------------------------------------
// A peer killed in the middle of a transfer
// ---------------------------------------------------------------------

#[test]
fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data() {
    run(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr().port(), test.client_options());

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
            move || read_counting(&*echo, &echoed)
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
            echoed.load(Ordering::Relaxed) > ECHO_FLOWING
        });
        // Past the server's 2 MiB window: the writer waits.
        wait_for("window full", STEP_TIMEOUT, || {
            stuck_written.load(Ordering::Relaxed) >= 2 * 1024 * 1024
        });

        proxy.kill();
        let stuck_error = stuck_writer.within(FAULT_NOTICE, "write into a full window fails");
        assert!(io_is_connection_lost(&stuck_error), "{stuck_error:?}");
        let read = reader.within(FAULT_NOTICE, "pending read fails");
        let write_error = writer.within(FAULT_NOTICE, "pending write fails");
        let status = status.within(FAULT_NOTICE, "pending exit status fails");
        assert_echo_lost(read, write_error, status);

        // Everything that arrived before the cut is still delivered, then
        // the error: a truncated download never looks complete.
        assert_held_output_lost(read_until_end(&held));
        let later = session.exec("true").unwrap_err();
        assert_session_lost(session.driver(), later);
    });
}

#[test]
fn client_gone_mid_transfer_ends_the_server_side() {
    run(|| {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone());
        let baseline = Held::baseline();
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr().port(), test.client_options());
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
        assert_stream_lost(stream_end.unwrap());

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
        let session = login(proxy.addr().port(), with_keepalive(test.client_options()));
        let channel = Arc::new(session.exec(ECHO_COMMAND).unwrap());
        // Answered keepalives keep an idle session up.
        thread::sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 2));
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());

        let reader = pending({
            let channel = channel.clone();
            move || read_until_end(&*channel)
        });
        let status = pending({
            let channel = channel.clone();
            move || channel.exit_status()
        });
        let frozen_at = Instant::now();
        proxy.freeze();
        let (_, end) = reader.within(keepalive_deadline(), "keepalive notices");
        assert_keepalives_gave_up(end, frozen_at.elapsed());
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
        let session = login(proxy.addr().port(), test.client_options());
        let channel = Arc::new(session.exec(ECHO_COMMAND).unwrap());
        let reader = pending({
            let channel = channel.clone();
            move || read_until_end(&*channel)
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
        let (addr, served) = start_server(test.options_with_keepalive());
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr().port(), test.client_options());
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

#[test]
fn connect_timeout_fires_when_the_listener_never_accepts() {
    run(|| {
        let test = TestServer::new();
        let listener = UnacceptedListener::new();
        let started = Instant::now();
        let error = connect(
            "127.0.0.1",
            listener.addr().port(),
            test.short_timeout_options(),
        )
        .unwrap_err();
        assert_connect_timed_out(&error, started);
    });
}

fn assert_handshake_times_out(peer: ScriptedPeer, test: &TestServer) {
    let started = Instant::now();
    let error = connect(
        "127.0.0.1",
        peer.addr().port(),
        test.short_timeout_options(),
    )
    .unwrap_err();
    assert_handshake_timed_out(&error, started);
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
        let session = connect(
            "127.0.0.1",
            proxy.addr().port(),
            test.short_timeout_options(),
        )
        .unwrap();
        proxy.freeze();
        let started = Instant::now();
        let error = session
            .authenticate(USER, AuthMethods::new().password(PASSWORD))
            .unwrap_err();
        // The session is over, says why, and its socket is closed.
        assert_auth_timed_out(&error, started, session.driver());
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
        options.config_mut().auth_timeout = Some(Duration::from_secs(1));
        let session = login(addr.port(), options);
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
        // The client hears why.
        wait_for("client sees the end", FAULT_NOTICE, || session.is_closed());
        assert_login_grace_ended(
            &server.disconnect_reason().unwrap(),
            &session.disconnect_reason().unwrap(),
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
        drop(login(addr.port(), test.client_options()));
        // A channel mid-echo, dropped before its session.
        let session = login(addr.port(), test.client_options());
        let mut echo = session.exec(ECHO_COMMAND).unwrap();
        echo.write_all(b"ping").unwrap();
        drop(echo);
        drop(session);
        // A session dropped with unread output and a channel still held
        // (the channel keeps the connection; dropping it ends it).
        let session = login(addr.port(), test.client_options());
        let held = session.exec(OUTPUT_THEN_WAIT).unwrap();
        wait_for("output arrives", STEP_TIMEOUT, || held.buffered_len() > 0);
        drop(session);
        assert!(!held.is_eof());
        drop(held);
        // A session closed explicitly.
        let session = login(addr.port(), test.client_options());
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
