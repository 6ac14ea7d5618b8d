//! Faults under conch-smol (issue 6): a peer killed in the middle of a
//! transfer, a peer that stops answering, the connect, handshake and auth
//! timeouts, and futures dropped at every await point. The peers (a proxy
//! that can cut or freeze a connection, scripted servers) and the checks
//! are `conch_driver::testing`'s, shared with the other adapters.
//!
//! The tests of this file run one at a time ([`serial`]): some count the
//! process's file descriptors.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_driver::testing::{
    cancel_after, drop_at_every_await_point, io_is_connection_lost, io_is_keepalive_timeout,
    is_connection_lost, is_keepalive_timeout, keepalive_deadline, keepalive_earliest, serial,
    with_keepalive, FaultProxy, Held, ScriptedPeer, Served, TestServer, UnacceptedListener,
    ECHO_COMMAND, ENDLESS_STREAM, FAULT_NOTICE, KEEPALIVE_INTERVAL, KEEPALIVE_MAX,
    OUTPUT_THEN_WAIT, OUTPUT_THEN_WAIT_LEN, PASSWORD, SHORT_TIMEOUT, STEP_TIMEOUT, USER,
};
use conch_smol::{
    connect, AuthMethods, Channel, ClientOptions, Error, ExitStatus, Listener, ServerOptions,
    Session,
};
use smol::io::{AsyncReadExt, AsyncWriteExt};

/// Runs a test body on this thread (spawned tasks go to smol's global
/// executor), one test at a time.
fn run(body: impl Future<Output = ()>) {
    let _serial = serial();
    smol::block_on(body);
}

async fn sleep(d: Duration) {
    smol::Timer::after(d).await;
}

/// Runs one step with a deadline, so a hang fails the test.
async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    smol::future::or(f, async {
        sleep(limit).await;
        panic!("not done within {limit:?}: {what}")
    })
    .await
}

async fn step<T>(what: &str, f: impl Future<Output = T>) -> T {
    within(STEP_TIMEOUT, what, f).await
}

/// Waits (bounded) until `cond` holds.
async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    within(limit, what, async {
        while !cond() {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// The test server on a free loopback port; what it accepts is in `Served`.
async fn start_server(options: ServerOptions) -> (SocketAddr, Served) {
    let listener = Listener::bind("127.0.0.1:0", options).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let served = Served::default();
    let accepted = served.clone();
    smol::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            accepted.session(session.clone());
            let accepted = accepted.clone();
            smol::spawn(async move {
                while let Some(incoming) = session.accept_channel().await {
                    accepted.channel(incoming);
                }
            })
            .detach();
        }
    })
    .detach();
    (addr, served)
}

async fn login(addr: SocketAddr, options: ClientOptions) -> Session {
    let session = step("connect", connect("127.0.0.1", addr.port(), options))
        .await
        .expect("connect");
    step(
        "authenticate",
        session.authenticate(USER, AuthMethods::new().password(PASSWORD)),
    )
    .await
    .expect("authenticate");
    session
}

/// Reads until the stream ends, counting in `progress`; the bytes and how
/// it ended.
async fn read_counting(channel: &Channel, progress: &AtomicUsize) -> (usize, io::Result<()>) {
    let mut reader = channel;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => return (progress.load(Ordering::Relaxed), Ok(())),
            Ok(n) => {
                progress.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return (progress.load(Ordering::Relaxed), Err(e)),
        }
    }
}

/// Reads until the stream ends; the bytes and how it ended.
async fn read_until_end(channel: &Channel) -> (usize, io::Result<()>) {
    read_counting(channel, &AtomicUsize::new(0)).await
}

// ---------------------------------------------------------------------
// A peer killed in the middle of a transfer
// ---------------------------------------------------------------------

#[test]
fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options()).await;

        // Output that arrived and is not read yet.
        let held = step("exec", session.exec(OUTPUT_THEN_WAIT)).await.unwrap();
        wait_for("output arrives", STEP_TIMEOUT, || {
            held.buffered_len() == OUTPUT_THEN_WAIT_LEN
        })
        .await;

        // A transfer in full flow: a writer, a reader and the exit status
        // waiting on an echoing command.
        let echo = Arc::new(step("exec", session.exec(ECHO_COMMAND)).await.unwrap());
        let echoed = Arc::new(AtomicUsize::new(0));
        let reader = smol::spawn({
            let (echo, echoed) = (echo.clone(), echoed.clone());
            async move { read_counting(&echo, &echoed).await }
        });
        let writer = smol::spawn({
            let echo = echo.clone();
            async move {
                let chunk = vec![7u8; 16 * 1024];
                let mut writer = &*echo;
                loop {
                    if let Err(e) = writer.write(&chunk).await {
                        return e;
                    }
                }
            }
        });
        let status = smol::spawn({
            let echo = echo.clone();
            async move { echo.exit_status().await }
        });
        // And a writer held up by a full window: the server side of this
        // channel reads nothing.
        let stuck = step("exec", session.exec(ENDLESS_STREAM)).await.unwrap();
        let stuck_written = Arc::new(AtomicUsize::new(0));
        let stuck_writer = smol::spawn({
            let written = stuck_written.clone();
            async move {
                let chunk = vec![1u8; 64 * 1024];
                let mut writer = &stuck;
                loop {
                    match writer.write(&chunk).await {
                        Ok(n) => written.fetch_add(n, Ordering::Relaxed),
                        Err(e) => return e,
                    };
                }
            }
        });
        wait_for("echo traffic", STEP_TIMEOUT, || {
            echoed.load(Ordering::Relaxed) > 256 * 1024
        })
        .await;
        // Past the server's 2 MiB window: the writer waits.
        wait_for("window full", STEP_TIMEOUT, || {
            stuck_written.load(Ordering::Relaxed) >= 2 * 1024 * 1024
        })
        .await;

        proxy.kill();
        let stuck_error =
            within(FAULT_NOTICE, "write into a full window fails", stuck_writer).await;
        assert!(io_is_connection_lost(&stuck_error), "{stuck_error:?}");
        let (echoed, read_end) = within(FAULT_NOTICE, "pending read fails", reader).await;
        assert!(echoed > 256 * 1024);
        let read_error = read_end.expect_err("a cut connection must not read as a clean end");
        assert!(io_is_connection_lost(&read_error), "{read_error:?}");
        let write_error = within(FAULT_NOTICE, "pending write fails", writer).await;
        assert!(io_is_connection_lost(&write_error), "{write_error:?}");
        let status = within(FAULT_NOTICE, "pending exit status fails", status).await;
        assert!(
            matches!(&status, Err(e) if is_connection_lost(e)),
            "{status:?}"
        );

        // Everything that arrived before the cut is still delivered, then
        // the error: a truncated download never looks complete.
        let (received, end) = within(FAULT_NOTICE, "read held output", read_until_end(&held)).await;
        assert_eq!(received, OUTPUT_THEN_WAIT_LEN);
        let end = end.expect_err("the held output must end with the error");
        assert!(io_is_connection_lost(&end), "{end:?}");

        assert!(session.is_closed());
        let reason = session.disconnect_reason().unwrap();
        assert!(is_connection_lost(&reason), "{reason:?}");
        let later = step("exec after the cut", session.exec("true"))
            .await
            .unwrap_err();
        assert!(is_connection_lost(&later), "{later:?}");
        within(FAULT_NOTICE, "socket closed", session.closed()).await;
    });
}

#[test]
fn client_gone_mid_transfer_ends_the_server_side() {
    run(async {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone()).await;
        let baseline = Held::baseline();
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options()).await;
        let mut channel = step("exec", session.exec(ENDLESS_STREAM)).await.unwrap();
        let mut buf = vec![0u8; 1024 * 1024];
        step("read", channel.read_exact(&mut buf)).await.unwrap();
        // Stop reading: the server's writer fills the window and waits.
        wait_for("window fills", STEP_TIMEOUT, || {
            channel.buffered_len() >= 1024 * 1024
        })
        .await;

        proxy.kill();
        let server = served.sessions().pop().expect("a server session");
        within(FAULT_NOTICE, "server session ends", server.closed()).await;
        let reason = server.disconnect_reason().unwrap();
        assert!(is_connection_lost(&reason), "{reason:?}");
        let mut stream_end = None;
        wait_for("server writer fails", FAULT_NOTICE, || {
            stream_end = served.stream_result();
            stream_end.is_some()
        })
        .await;
        let (written, error) = stream_end.unwrap();
        assert!(written >= 2 * 1024 * 1024, "{written}");
        assert!(io_is_connection_lost(&error), "{error:?}");

        // The client's side is gone too; once its handles (and the proxy)
        // are dropped no socket of either side is left.
        drop(channel);
        drop(session);
        drop(server);
        drop(proxy);
        assert!(
            released(&baseline).await,
            "left behind: {}",
            baseline.describe_left()
        );
    });
}

// ---------------------------------------------------------------------
// A peer that stops answering
// ---------------------------------------------------------------------

#[test]
fn keepalive_notices_a_server_that_stops_answering() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), with_keepalive(test.client_options())).await;
        let channel = Arc::new(step("exec", session.exec(ECHO_COMMAND)).await.unwrap());
        // Answered keepalives keep an idle session up.
        sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 2)).await;
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());

        let reader = smol::spawn({
            let channel = channel.clone();
            async move { read_until_end(&channel).await }
        });
        let status = smol::spawn({
            let channel = channel.clone();
            async move { channel.exit_status().await }
        });
        let frozen_at = Instant::now();
        proxy.freeze();
        let (_, end) = within(keepalive_deadline(), "keepalive notices", reader).await;
        let noticed_after = frozen_at.elapsed();
        let error = end.expect_err("a silent server must fail the read");
        assert!(io_is_keepalive_timeout(&error), "{error:?}");
        assert!(
            noticed_after >= keepalive_earliest(),
            "gave up after {noticed_after:?}, before the keepalives were due"
        );
        let status = within(FAULT_NOTICE, "exit status fails", status).await;
        assert!(
            matches!(&status, Err(e) if is_keepalive_timeout(e)),
            "{status:?}"
        );
        let reason = session.disconnect_reason().unwrap();
        assert!(is_keepalive_timeout(&reason), "{reason:?}");
        within(FAULT_NOTICE, "socket closed", session.closed()).await;
        wait_for("client closed the socket", FAULT_NOTICE, || {
            proxy.all_closed_by_client()
        })
        .await;
    });
}

#[test]
fn without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options()).await;
        let channel = Arc::new(step("exec", session.exec(ECHO_COMMAND)).await.unwrap());
        let reader = smol::spawn({
            let channel = channel.clone();
            async move { read_until_end(&channel).await }
        });
        proxy.freeze();
        // Well past when keepalives would have given up.
        sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 4)).await;
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());
        assert!(!reader.is_finished());
        // The socket dying still reaches the waiting read.
        proxy.kill();
        let (_, end) = within(FAULT_NOTICE, "read fails", reader).await;
        let error = end.expect_err("a cut connection must fail the read");
        assert!(io_is_connection_lost(&error), "{error:?}");
    });
}

#[test]
fn server_keepalive_notices_a_client_that_stops_answering() {
    run(async {
        let test = TestServer::new();
        let options = test.options_with(|config| {
            config.transport.keepalive_interval = Some(KEEPALIVE_INTERVAL);
            config.transport.keepalive_max = KEEPALIVE_MAX;
        });
        let (addr, served) = start_server(options).await;
        let proxy = FaultProxy::start(addr);
        let session = login(proxy.addr(), test.client_options()).await;
        let _channel = step("exec", session.exec(ECHO_COMMAND)).await.unwrap();
        proxy.freeze();
        let server = served.sessions().pop().expect("a server session");
        within(keepalive_deadline(), "server gives up", server.closed()).await;
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
    run(async {
        let test = TestServer::new();
        let listener = UnacceptedListener::new();
        let started = Instant::now();
        let error = step(
            "connect",
            connect("127.0.0.1", listener.addr().port(), short_timeouts(&test)),
        )
        .await
        .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(&error, Error::Connect { source, .. }
                if source.kind() == std::io::ErrorKind::TimedOut),
            "{error:?}"
        );
        assert!(took >= SHORT_TIMEOUT, "{took:?}");
        assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
    });
}

async fn assert_handshake_times_out(peer: ScriptedPeer, test: &TestServer) {
    let started = Instant::now();
    let error = step(
        "connect",
        connect("127.0.0.1", peer.addr().port(), short_timeouts(test)),
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, Error::Timeout("handshake")), "{error:?}");
    assert!(took >= SHORT_TIMEOUT, "{took:?}");
    assert!(took < SHORT_TIMEOUT + FAULT_NOTICE, "{took:?}");
    wait_for("the client closes its socket", FAULT_NOTICE, || {
        peer.all_closed_by_client()
    })
    .await;
}

#[test]
fn handshake_timeout_fires_when_the_server_never_speaks() {
    run(async {
        let test = TestServer::new();
        assert_handshake_times_out(ScriptedPeer::silent(), &test).await;
    });
}

#[test]
fn handshake_timeout_fires_when_the_server_stops_after_kexinit() {
    run(async {
        let test = TestServer::new();
        assert_handshake_times_out(ScriptedPeer::stops_after_kexinit(), &test).await;
    });
}

#[test]
fn server_dying_during_the_handshake_fails_connect_at_once() {
    run(async {
        let test = TestServer::new();
        let peer = ScriptedPeer::dies_after_kexinit();
        let started = Instant::now();
        // The handshake timeout is long: the loss itself must end the wait.
        let error = step(
            "connect",
            connect("127.0.0.1", peer.addr().port(), test.client_options()),
        )
        .await
        .unwrap_err();
        assert!(is_connection_lost(&error), "{error:?}");
        assert!(started.elapsed() < FAULT_NOTICE, "{:?}", started.elapsed());
    });
}

#[test]
fn server_dying_during_authentication_fails_it_at_once() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let proxy = FaultProxy::start(addr);
        let session = step(
            "connect",
            connect("127.0.0.1", proxy.addr().port(), test.client_options()),
        )
        .await
        .unwrap();
        // The request goes nowhere; then the server dies while the client
        // waits for its answer (the auth timeout is long).
        proxy.freeze();
        let auth = smol::spawn(async move {
            session
                .authenticate(USER, AuthMethods::new().password(PASSWORD))
                .await
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!auth.is_finished());
        proxy.kill();
        let error = within(FAULT_NOTICE, "authenticate fails", auth)
            .await
            .unwrap_err();
        assert!(is_connection_lost(&error), "{error:?}");
    });
}

#[test]
fn auth_timeout_fires_when_the_server_stops_answering() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let proxy = FaultProxy::start(addr);
        let session = step(
            "connect",
            connect("127.0.0.1", proxy.addr().port(), short_timeouts(&test)),
        )
        .await
        .unwrap();
        proxy.freeze();
        let started = Instant::now();
        let error = step(
            "authenticate",
            session.authenticate(USER, AuthMethods::new().password(PASSWORD)),
        )
        .await
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
        within(FAULT_NOTICE, "socket closed", session.closed()).await;
        wait_for("the client closes its socket", FAULT_NOTICE, || {
            proxy.all_closed_by_client()
        })
        .await;
    });
}

#[test]
fn auth_timeout_is_disarmed_once_the_server_answers() {
    run(async {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone()).await;
        let mut options = test.client_options();
        // Long enough for a loaded machine to answer a password.
        options.auth_timeout = Some(Duration::from_secs(1));
        let session = login(addr, options).await;
        sleep(Duration::from_millis(1500)).await;
        assert!(!session.is_closed(), "{:?}", session.disconnect_reason());
        let mut channel = step("exec", session.exec("echo ok")).await.unwrap();
        let mut out = String::new();
        step("read", channel.read_to_string(&mut out))
            .await
            .unwrap();
        assert_eq!(out, "ok\n");
    });
}

#[test]
fn server_login_grace_time_ends_a_client_that_never_authenticates() {
    run(async {
        let test = TestServer::new();
        let grace = Duration::from_secs(1);
        let options = test.options_with(|config| config.transport.handshake_timeout = Some(grace));
        let (addr, served) = start_server(options).await;
        let started = Instant::now();
        let session = step(
            "connect",
            connect("127.0.0.1", addr.port(), test.client_options()),
        )
        .await
        .unwrap();
        let server = served.sessions().pop().expect("a server session");
        within(grace + FAULT_NOTICE, "server gives up", server.closed()).await;
        assert!(started.elapsed() >= grace);
        let reason = server.disconnect_reason().unwrap();
        assert!(
            matches!(&reason, Error::Disconnected(conch_driver::conch_core::Error::Timeout(what))
                if what.contains("login grace")),
            "{reason:?}"
        );
        // The client hears why.
        within(FAULT_NOTICE, "client sees the end", session.closed()).await;
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
// Futures dropped at every await point
// ---------------------------------------------------------------------

/// Waits (bounded) until everything held since `baseline` is let go;
/// whether it was.
async fn released(baseline: &Held) -> bool {
    for _ in 0..(FAULT_NOTICE.as_millis() / 10) {
        if baseline.released() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    baseline.released()
}

/// Every connection the server accepted has ended (the server saw the
/// socket close), and nothing since `baseline` is held any more (smol does
/// not count tasks; a task left behind would hold its socket).
async fn assert_released(baseline: &Held, served: &Served) {
    let sessions = served.sessions();
    assert!(!sessions.is_empty());
    for server in sessions {
        within(
            FAULT_NOTICE,
            "server sees the connection end",
            server.closed(),
        )
        .await;
    }
    assert!(
        released(baseline).await,
        "left behind: {}",
        baseline.describe_left()
    );
}

/// A fresh session, logged in.
async fn logged_in(addr: SocketAddr, test: &TestServer) -> Session {
    login(addr, test.client_options()).await
}

/// The session still runs commands.
async fn still_usable(session: Session) {
    let mut channel = step("exec after a drop", session.exec("echo ok"))
        .await
        .unwrap();
    let mut out = String::new();
    step("read after a drop", channel.read_to_string(&mut out))
        .await
        .unwrap();
    assert_eq!(out, "ok\n");
}

#[test]
fn dropping_connect_at_every_await_point_leaves_nothing_behind() {
    run(async {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone()).await;
        let baseline = Held::baseline();
        // (How many await points a call is seen waiting at depends on how
        // smol's threads run the pumps meanwhile: no count is checked.)
        for k in 0..200 {
            let attempt = cancel_after(connect("127.0.0.1", addr.port(), test.client_options()), k);
            match step("connect", attempt).await {
                None => continue,
                Some(session) => {
                    drop(session.expect("connect"));
                    break;
                }
            }
        }
        assert_released(&baseline, &served).await;
    });
}

#[test]
fn dropping_authenticate_at_every_await_point_then_logging_in_works() {
    run(async {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone()).await;
        let baseline = Held::baseline();
        let connected = || async {
            step(
                "connect",
                connect("127.0.0.1", addr.port(), test.client_options()),
            )
            .await
            .unwrap()
        };
        let login_again = |session: Session| async move {
            step(
                "authenticate after a drop",
                session.authenticate(USER, AuthMethods::new().password(PASSWORD)),
            )
            .await
            .expect("authenticate after a dropped attempt");
            still_usable(session).await;
        };
        step(
            "drops",
            drop_at_every_await_point(
                connected,
                |session| async move {
                    session
                        .authenticate(USER, AuthMethods::new().password(PASSWORD))
                        .await
                        .unwrap();
                },
                login_again,
            ),
        )
        .await;
        assert_released(&baseline, &served).await;
    });
}

#[test]
fn dropping_channel_calls_at_every_await_point_keeps_the_session_usable() {
    run(async {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone()).await;
        let baseline = Held::baseline();
        let drops = async {
            drop_at_every_await_point(
                || logged_in(addr, &test),
                |session| async move {
                    session.open_session().await.unwrap();
                },
                still_usable,
            )
            .await;
            drop_at_every_await_point(
                || logged_in(addr, &test),
                |session| async move {
                    let mut channel = session.exec("echo dropped").await.unwrap();
                    let mut out = Vec::new();
                    channel.read_to_end(&mut out).await.unwrap();
                    channel.exit_status().await.unwrap();
                },
                still_usable,
            )
            .await;
            drop_at_every_await_point(
                || logged_in(addr, &test),
                |session| async move {
                    let channel = session.exec(ECHO_COMMAND).await.unwrap();
                    channel.close_channel().await.unwrap();
                },
                still_usable,
            )
            .await;
            drop_at_every_await_point(
                || logged_in(addr, &test),
                |session| async move {
                    let refused = session.global_request("conch-test@example.org", b"").await;
                    assert!(matches!(refused, Err(Error::RequestRefused { .. })));
                },
                still_usable,
            )
            .await;
        };
        step("drops", drops).await;
        assert_released(&baseline, &served).await;
    });
}

#[test]
fn dropped_reads_writes_and_exit_status_lose_nothing() {
    run(async {
        let test = TestServer::new();
        let (addr, served) = start_server(test.options.clone()).await;
        let baseline = Held::baseline();
        let session = login(addr, test.client_options()).await;

        // A read dropped while waiting: the data comes to the next read.
        let mut channel = step("exec", session.exec("sleep 0.2; echo late; exit 3"))
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        assert!(cancel_after(channel.read(&mut buf), 0).await.is_none());
        // So is a wait for the exit status.
        assert!(cancel_after(channel.exit_status(), 0).await.is_none());
        let mut out = String::new();
        step("read", channel.read_to_string(&mut out))
            .await
            .unwrap();
        assert_eq!(out, "late\n");
        let status = step("exit status", channel.exit_status()).await.unwrap();
        assert_eq!(status, ExitStatus::Code(3));

        // Writes into a full window, the last one dropped: exactly what
        // the writes reported goes through, once.
        let mut echo = step("exec", session.exec(ECHO_COMMAND)).await.unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        let mut accepted = 0;
        loop {
            match step("write", cancel_after(echo.write(&chunk), 0)).await {
                Some(n) => accepted += n.unwrap(),
                None => break,
            }
            assert!(accepted < 64 * 1024 * 1024, "the window never filled");
        }
        step("shutdown", echo.close()).await.unwrap();
        let mut echoed = Vec::new();
        step("read echo", echo.read_to_end(&mut echoed))
            .await
            .unwrap();
        assert_eq!(echoed.len(), accepted);

        // Closing the session, dropped at once, still closes it.
        // (The pump runs on smol's own threads: the close may be done
        // before the first poll.)
        let _ = cancel_after(session.close(), 0).await;
        drop((channel, echo, session));
        assert_released(&baseline, &served).await;
    });
}
