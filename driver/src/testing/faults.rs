//! Fault scenarios every async adapter's `tests/faults.rs` runs (issue 6):
//! a peer killed in the middle of a transfer, a peer that stops answering,
//! the connect, handshake and auth timeouts, and futures dropped at every
//! await point. Each takes the adapter as [`Adapter`] and drives the
//! adapter's own calls and streams; the peers are [`FaultProxy`] and
//! [`ScriptedPeer`]. Run them one at a time ([`super::serial`]): some
//! count the process's file descriptors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use super::adapter::{login, read_counting, read_until_end, Adapter, Baseline, Task};
use super::checks::{
    assert_auth_timed_out, assert_connect_timed_out, assert_echo_lost, assert_handshake_timed_out,
    assert_held_output_lost, assert_keepalives_gave_up, assert_login_grace_ended,
    assert_session_lost, assert_stream_lost, ECHO_FLOWING,
};
use super::{
    cancel_after, drop_at_every_await_point, io_is_connection_lost, is_connection_lost,
    is_keepalive_timeout, keepalive_deadline, with_keepalive, FaultProxy, ScriptedPeer, TestServer,
    UnacceptedListener, ECHO_COMMAND, ENDLESS_STREAM, FAULT_NOTICE, KEEPALIVE_INTERVAL,
    KEEPALIVE_MAX, OUTPUT_THEN_WAIT, OUTPUT_THEN_WAIT_LEN, PASSWORD, STEP_TIMEOUT, USER,
};
use crate::{AuthMethods, Error, ExitStatus, Result};

/// Echo traffic in full flow on one channel: a writer, a reader and the
/// exit status waiting on [`ECHO_COMMAND`], each its own task.
#[derive(Debug)]
pub struct EchoInFlight {
    reader: Task<(usize, std::io::Result<()>)>,
    writer: Task<std::io::Error>,
    status: Task<Result<ExitStatus>>,
}

impl EchoInFlight {
    /// Starts [`ECHO_COMMAND`] on `session`, writes to it and reads from it
    /// without end, and waits for its exit status; returns once the echo
    /// flows.
    pub async fn start<A: Adapter>(session: &A::Session) -> Self {
        let echo = Arc::new(
            A::step("exec", A::exec(session, ECHO_COMMAND))
                .await
                .unwrap(),
        );
        let echoed = Arc::new(AtomicUsize::new(0));
        let reader = A::spawn({
            let (echo, echoed) = (echo.clone(), echoed.clone());
            async move { read_counting::<A>(&echo, &echoed).await }
        });
        let writer = A::spawn({
            let echo = echo.clone();
            async move {
                let chunk = vec![7u8; 16 * 1024];
                let mut writer = A::io(&echo);
                loop {
                    if let Err(e) = writer.write(&chunk).await {
                        return e;
                    }
                }
            }
        });
        let status = A::spawn(async move { A::channel(&echo).exit_status().await });
        A::wait_for("echo traffic", STEP_TIMEOUT, move || {
            echoed.load(Ordering::Relaxed) > ECHO_FLOWING
        })
        .await;
        EchoInFlight {
            reader,
            writer,
            status,
        }
    }

    /// After the peer died: the pending read, write and exit status each
    /// fail with the lost connection within [`FAULT_NOTICE`] (the read
    /// after what had been echoed).
    pub async fn assert_connection_lost<A: Adapter>(self) {
        let read = A::within(FAULT_NOTICE, "pending read fails", self.reader).await;
        let write_error = A::within(FAULT_NOTICE, "pending write fails", self.writer).await;
        let status = A::within(FAULT_NOTICE, "pending exit status fails", self.status).await;
        assert_echo_lost(read, write_error, status);
    }
}

/// Output that arrived and is not read yet: [`OUTPUT_THEN_WAIT`], run on
/// `session` until all its output is buffered.
pub async fn held_output<A: Adapter>(session: &A::Session) -> A::Channel {
    let held = A::step("exec", A::exec(session, OUTPUT_THEN_WAIT))
        .await
        .unwrap();
    A::wait_for("output arrives", STEP_TIMEOUT, || {
        A::channel(&held).buffered_len() == OUTPUT_THEN_WAIT_LEN
    })
    .await;
    held
}

/// After the peer died: everything that arrived before is still
/// delivered, then the error (a truncated download never looks complete).
pub async fn assert_held_output_then_lost<A: Adapter>(held: &A::Channel) {
    let read = A::within(FAULT_NOTICE, "read held output", read_until_end::<A>(held)).await;
    assert_held_output_lost(read);
}

/// The test server behind a [`FaultProxy`], and a session logged in to it
/// through the proxy with `options(&test)`.
async fn behind_proxy<A: Adapter>(
    options: impl FnOnce(&TestServer) -> crate::ClientOptions,
) -> (FaultProxy, A::Session) {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let proxy = FaultProxy::start(addr);
    let session = login::<A>(proxy.addr().port(), options(&test)).await;
    (proxy, session)
}

// ---------------------------------------------------------------------
// A peer killed in the middle of a transfer
// ---------------------------------------------------------------------

/// A server killed while a transfer is in flight fails every pending call
/// (a read, a write, a write held up by a full window, an exit status)
/// promptly with the lost connection, and what had arrived is delivered.
pub async fn server_killed_mid_transfer_fails_every_pending_call_and_keeps_received_data<
    A: Adapter,
>() {
    let (proxy, session) = behind_proxy::<A>(TestServer::client_options).await;
    let held = held_output::<A>(&session).await;
    let echo = EchoInFlight::start::<A>(&session).await;
    // And a writer held up by a full window: the server side of this
    // channel reads nothing.
    let stuck = A::step("exec", A::exec(&session, ENDLESS_STREAM))
        .await
        .unwrap();
    let stuck_written = Arc::new(AtomicUsize::new(0));
    let stuck_writer = A::spawn({
        let written = stuck_written.clone();
        async move {
            let chunk = vec![1u8; 64 * 1024];
            let mut writer = A::io(&stuck);
            loop {
                match writer.write(&chunk).await {
                    Ok(n) => written.fetch_add(n, Ordering::Relaxed),
                    Err(e) => return e,
                };
            }
        }
    });
    // Past the server's 2 MiB window: the writer waits.
    A::wait_for("window full", STEP_TIMEOUT, || {
        stuck_written.load(Ordering::Relaxed) >= 2 * 1024 * 1024
    })
    .await;

    proxy.kill();
    let stuck_error = A::within(FAULT_NOTICE, "write into a full window fails", stuck_writer).await;
    assert!(io_is_connection_lost(&stuck_error), "{stuck_error:?}");
    echo.assert_connection_lost::<A>().await;
    assert_held_output_then_lost::<A>(&held).await;

    let later = A::step("exec after the cut", A::exec(&session, "true"))
        .await
        .err()
        .expect("exec after the cut must fail");
    let driver = A::session(&session);
    assert_session_lost(driver, later);
    A::within(FAULT_NOTICE, "socket closed", driver.closed()).await;
}

/// A client gone while the server streams to it ends the server's session
/// and fails its writer; once every handle is dropped, nothing of either
/// side is left.
pub async fn client_gone_mid_transfer_ends_the_server_side<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options.clone()).await;
    let baseline = Baseline::now::<A>();
    let proxy = FaultProxy::start(addr);
    let session = login::<A>(proxy.addr().port(), test.client_options()).await;
    let channel = A::step("exec", A::exec(&session, ENDLESS_STREAM))
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024 * 1024];
    A::step("read", A::io(&channel).read_exact(&mut buf))
        .await
        .unwrap();
    // Stop reading: the server's writer fills the window and waits.
    A::wait_for("window fills", STEP_TIMEOUT, || {
        A::channel(&channel).buffered_len() >= 1024 * 1024
    })
    .await;

    proxy.kill();
    let server = served.sessions().pop().expect("a server session");
    A::within(FAULT_NOTICE, "server session ends", server.closed()).await;
    let reason = server.disconnect_reason().unwrap();
    assert!(is_connection_lost(&reason), "{reason:?}");
    let mut stream_end = None;
    A::wait_for("server writer fails", FAULT_NOTICE, || {
        stream_end = served.stream_result();
        stream_end.is_some()
    })
    .await;
    assert_stream_lost(stream_end.unwrap());

    // The client's side is gone too; once its handles (and the proxy) are
    // dropped no task or socket of either side is left.
    drop((channel, session, server, proxy));
    baseline.assert_let_go::<A>().await;
}

// ---------------------------------------------------------------------
// A peer that stops answering
// ---------------------------------------------------------------------

/// Answered keepalives keep an idle session up; once the server goes
/// silent, they give up in time (not before they were due), failing the
/// pending calls with a keepalive timeout and closing the socket.
pub async fn keepalive_notices_a_server_that_stops_answering<A: Adapter>() {
    let (proxy, session) = behind_proxy::<A>(|test| with_keepalive(test.client_options())).await;
    let driver = A::session(&session);
    let channel = Arc::new(
        A::step("exec", A::exec(&session, ECHO_COMMAND))
            .await
            .unwrap(),
    );
    // Answered keepalives keep an idle session up.
    A::sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 2)).await;
    assert!(!driver.is_closed(), "{:?}", driver.disconnect_reason());

    let reader = A::spawn({
        let channel = channel.clone();
        async move { read_until_end::<A>(&channel).await }
    });
    let status = A::spawn(async move { A::channel(&channel).exit_status().await });
    let frozen_at = Instant::now();
    proxy.freeze();
    let (_, end) = A::within(keepalive_deadline(), "keepalive notices", reader).await;
    assert_keepalives_gave_up(end, frozen_at.elapsed());
    let status = A::within(FAULT_NOTICE, "exit status fails", status).await;
    assert!(
        matches!(&status, Err(e) if is_keepalive_timeout(e)),
        "{status:?}"
    );
    let reason = driver.disconnect_reason().unwrap();
    assert!(is_keepalive_timeout(&reason), "{reason:?}");
    A::within(FAULT_NOTICE, "socket closed", driver.closed()).await;
    A::wait_for("client closed the socket", FAULT_NOTICE, || {
        proxy.all_closed_by_client()
    })
    .await;
}

/// Without keepalives a silent server is not given up on; the socket
/// dying still reaches the waiting read.
pub async fn without_keepalive_a_silent_server_goes_unnoticed_until_the_socket_dies<A: Adapter>() {
    let (proxy, session) = behind_proxy::<A>(TestServer::client_options).await;
    let channel = Arc::new(
        A::step("exec", A::exec(&session, ECHO_COMMAND))
            .await
            .unwrap(),
    );
    let reader = A::spawn(async move { read_until_end::<A>(&channel).await });
    proxy.freeze();
    // Well past when keepalives would have given up.
    A::sleep(KEEPALIVE_INTERVAL * (KEEPALIVE_MAX + 4)).await;
    let driver = A::session(&session);
    assert!(!driver.is_closed(), "{:?}", driver.disconnect_reason());
    assert!(!reader.is_finished());
    // The socket dying still reaches the waiting read.
    proxy.kill();
    let (_, end) = A::within(FAULT_NOTICE, "read fails", reader).await;
    let error = end.expect_err("a cut connection must fail the read");
    assert!(io_is_connection_lost(&error), "{error:?}");
}

/// The server's keepalives give up on a client that went silent.
pub async fn server_keepalive_notices_a_client_that_stops_answering<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options_with_keepalive()).await;
    let proxy = FaultProxy::start(addr);
    let session = login::<A>(proxy.addr().port(), test.client_options()).await;
    let _channel = A::step("exec", A::exec(&session, ECHO_COMMAND))
        .await
        .unwrap();
    proxy.freeze();
    let server = served.sessions().pop().expect("a server session");
    A::within(keepalive_deadline(), "server gives up", server.closed()).await;
    let reason = server.disconnect_reason().unwrap();
    assert!(is_keepalive_timeout(&reason), "{reason:?}");
}

// ---------------------------------------------------------------------
// Connect, handshake and auth timeouts
// ---------------------------------------------------------------------

/// `connect` to a listener that never accepts fails with a timed-out
/// connect when the connect timeout is due.
pub async fn connect_timeout_fires_when_the_listener_never_accepts<A: Adapter>() {
    let test = TestServer::new();
    let listener = UnacceptedListener::new();
    let started = Instant::now();
    let error = A::step(
        "connect",
        A::connect(listener.addr().port(), test.short_timeout_options()),
    )
    .await
    .err()
    .expect("connect must time out");
    assert_connect_timed_out(&error, started);
}

/// `connect` to the peer `start_peer` starts, which never completes the
/// handshake, fails with the handshake timeout when it is due, and the
/// client closes its socket. (The peer is started here, inside the test's
/// body, not before the test has its turn.)
pub async fn handshake_times_out<A: Adapter>(start_peer: impl FnOnce() -> ScriptedPeer) {
    let peer = start_peer();
    let test = TestServer::new();
    let started = Instant::now();
    let error = A::step(
        "connect",
        A::connect(peer.addr().port(), test.short_timeout_options()),
    )
    .await
    .err()
    .expect("the handshake must time out");
    assert_handshake_timed_out(&error, started);
    A::wait_for("the client closes its socket", FAULT_NOTICE, || {
        peer.all_closed_by_client()
    })
    .await;
}

/// [`handshake_times_out`] with a server that accepts and never speaks.
pub async fn handshake_timeout_fires_when_the_server_never_speaks<A: Adapter>() {
    handshake_times_out::<A>(ScriptedPeer::silent).await
}

/// [`handshake_times_out`] with a server that stops after its KEXINIT.
pub async fn handshake_timeout_fires_when_the_server_stops_after_kexinit<A: Adapter>() {
    handshake_times_out::<A>(ScriptedPeer::stops_after_kexinit).await
}

/// A server dying in the middle of the key exchange fails `connect` at
/// once (the handshake timeout is long: the loss itself ends the wait).
pub async fn server_dying_during_the_handshake_fails_connect_at_once<A: Adapter>() {
    let test = TestServer::new();
    let peer = ScriptedPeer::dies_after_kexinit();
    let started = Instant::now();
    let error = A::step(
        "connect",
        A::connect(peer.addr().port(), test.client_options()),
    )
    .await
    .err()
    .expect("connect must fail");
    assert!(is_connection_lost(&error), "{error:?}");
    assert!(started.elapsed() < FAULT_NOTICE, "{:?}", started.elapsed());
}

/// A server dying while the client waits for its answer to a password
/// fails the waiting `authenticate` at once (the auth timeout is long).
pub async fn server_dying_during_authentication_fails_it_at_once<A: Adapter>() {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let proxy = FaultProxy::start(addr);
    let session = A::step(
        "connect",
        A::connect(proxy.addr().port(), test.client_options()),
    )
    .await
    .expect("connect");
    // The request goes nowhere; then the server dies while the client
    // waits for its answer.
    proxy.freeze();
    let auth = A::spawn(async move {
        A::session(&session)
            .authenticate(USER, AuthMethods::new().password(PASSWORD))
            .await
    });
    A::sleep(Duration::from_millis(50)).await;
    assert!(!auth.is_finished());
    proxy.kill();
    let error = A::within(FAULT_NOTICE, "authenticate fails", auth)
        .await
        .unwrap_err();
    assert!(is_connection_lost(&error), "{error:?}");
}

/// A server that stops answering during authentication fails it with the
/// auth timeout when due; the session is over, says why, and its socket
/// is closed.
pub async fn auth_timeout_fires_when_the_server_stops_answering<A: Adapter>() {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let proxy = FaultProxy::start(addr);
    let session = A::step(
        "connect",
        A::connect(proxy.addr().port(), test.short_timeout_options()),
    )
    .await
    .expect("connect");
    let driver = A::session(&session);
    proxy.freeze();
    let started = Instant::now();
    let error = A::step(
        "authenticate",
        driver.authenticate(USER, AuthMethods::new().password(PASSWORD)),
    )
    .await
    .unwrap_err();
    assert_auth_timed_out(&error, started, driver);
    A::within(FAULT_NOTICE, "socket closed", driver.closed()).await;
    A::wait_for("the client closes its socket", FAULT_NOTICE, || {
        proxy.all_closed_by_client()
    })
    .await;
}

/// Once authenticated, the auth timeout no longer ends the session.
pub async fn auth_timeout_is_disarmed_once_the_server_answers<A: Adapter>() {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let mut options = test.client_options();
    // Long enough for a loaded machine to answer a password.
    options.config_mut().auth_timeout = Some(Duration::from_secs(1));
    let session = login::<A>(addr.port(), options).await;
    A::sleep(Duration::from_millis(1500)).await;
    let driver = A::session(&session);
    assert!(!driver.is_closed(), "{:?}", driver.disconnect_reason());
    still_usable::<A>(session).await;
}

/// The server's login grace time ends a client that never authenticates,
/// and the client hears why.
pub async fn server_login_grace_time_ends_a_client_that_never_authenticates<A: Adapter>() {
    let test = TestServer::new();
    let grace = Duration::from_secs(1);
    let options = test.options_with(|config| config.transport.handshake_timeout = Some(grace));
    let (addr, served) = A::start_server(options).await;
    let started = Instant::now();
    let session = A::step("connect", A::connect(addr.port(), test.client_options()))
        .await
        .expect("connect");
    let server = served.sessions().pop().expect("a server session");
    A::within(grace + FAULT_NOTICE, "server gives up", server.closed()).await;
    assert!(started.elapsed() >= grace);
    // The client hears why.
    let driver = A::session(&session);
    A::within(FAULT_NOTICE, "client sees the end", driver.closed()).await;
    assert_login_grace_ended(
        &server.disconnect_reason().unwrap(),
        &driver.disconnect_reason().unwrap(),
    );
}

// ---------------------------------------------------------------------
// Futures dropped at every await point
// ---------------------------------------------------------------------

/// The session still runs commands.
async fn still_usable<A: Adapter>(session: A::Session) {
    let channel = A::step("exec after a drop", A::exec(&session, "echo ok"))
        .await
        .unwrap();
    let mut out = String::new();
    A::step(
        "read after a drop",
        A::io(&channel).read_to_string(&mut out),
    )
    .await
    .unwrap();
    assert_eq!(out, "ok\n");
}

/// `connect` dropped at each of its await points in turn leaves no task,
/// socket or thread behind, on either side.
pub async fn dropping_connect_at_every_await_point_leaves_nothing_behind<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options.clone()).await;
    let baseline = Baseline::now::<A>();
    let mut points = 0;
    for k in 0..200 {
        let attempt = cancel_after(A::connect(addr.port(), test.client_options()), k);
        match A::step("connect", attempt).await {
            None => points += 1,
            Some(session) => {
                drop(session.expect("connect"));
                break;
            }
        }
    }
    // The handshake waits at least for the host key and for the userauth
    // service. (Seen only where the pumps run while this task waits.)
    assert!(
        points >= 2 || !A::PUMPS_ON_TEST_THREAD,
        "connect had only {points} await points"
    );
    baseline.assert_released::<A>(&served).await;
}

/// `authenticate` dropped at each of its await points in turn: a later
/// login on the same session works.
pub async fn dropping_authenticate_at_every_await_point_then_logging_in_works<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options.clone()).await;
    let baseline = Baseline::now::<A>();
    let connected = || async {
        A::step("connect", A::connect(addr.port(), test.client_options()))
            .await
            .expect("connect")
    };
    let login_again = |session: A::Session| async move {
        A::step(
            "authenticate after a drop",
            A::session(&session).authenticate(USER, AuthMethods::new().password(PASSWORD)),
        )
        .await
        .expect("authenticate after a dropped attempt");
        still_usable::<A>(session).await;
    };
    let points = A::step(
        "drops",
        drop_at_every_await_point(
            connected,
            |session: A::Session| async move {
                A::session(&session)
                    .authenticate(USER, AuthMethods::new().password(PASSWORD))
                    .await
                    .unwrap();
            },
            login_again,
        ),
    )
    .await;
    assert!(points >= 2 || !A::PUMPS_ON_TEST_THREAD, "{points}");
    baseline.assert_released::<A>(&served).await;
}

/// Opening a channel, running a command, closing a channel and a global
/// request, each dropped at each of its await points in turn: the session
/// stays usable.
pub async fn dropping_channel_calls_at_every_await_point_keeps_the_session_usable<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options.clone()).await;
    let baseline = Baseline::now::<A>();
    let logged_in = || login::<A>(addr.port(), test.client_options());
    let drops = async {
        let open = drop_at_every_await_point(
            logged_in,
            |session: A::Session| async move {
                A::open_session(&session).await.expect("open");
            },
            still_usable::<A>,
        )
        .await;
        let exec = drop_at_every_await_point(
            logged_in,
            |session: A::Session| async move {
                let channel = A::exec(&session, "echo dropped").await.expect("exec");
                let mut out = Vec::new();
                A::io(&channel).read_to_end(&mut out).await.unwrap();
                A::channel(&channel).exit_status().await.unwrap();
            },
            still_usable::<A>,
        )
        .await;
        let close = drop_at_every_await_point(
            logged_in,
            |session: A::Session| async move {
                let channel = A::exec(&session, ECHO_COMMAND).await.expect("exec");
                A::channel(&channel).close_channel().await.unwrap();
            },
            still_usable::<A>,
        )
        .await;
        let global = drop_at_every_await_point(
            logged_in,
            |session: A::Session| async move {
                let refused = A::session(&session)
                    .global_request("conch-test@example.org", b"")
                    .await;
                assert!(matches!(refused, Err(Error::RequestRefused { .. })));
            },
            still_usable::<A>,
        )
        .await;
        (open, exec, close, global)
    };
    let (open, exec, close, global) = A::step("drops", drops).await;
    // Opening and each request wait for the server at least once.
    assert!(
        (open >= 1 && exec >= 2 && close >= 3 && global >= 1) || !A::PUMPS_ON_TEST_THREAD,
        "await points: open {open}, exec {exec}, close {close}, global {global}"
    );
    baseline.assert_released::<A>(&served).await;
}

/// A read or an exit status dropped while waiting loses nothing; writes
/// into a full window, the last one dropped, send exactly what they
/// reported; closing the session, dropped at once, still closes it.
pub async fn dropped_reads_writes_and_exit_status_lose_nothing<A: Adapter>() {
    let test = TestServer::new();
    let (addr, served) = A::start_server(test.options.clone()).await;
    let baseline = Baseline::now::<A>();
    let session = login::<A>(addr.port(), test.client_options()).await;

    // A read dropped while waiting: the data comes to the next read.
    let channel = A::step("exec", A::exec(&session, "sleep 0.2; echo late; exit 3"))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(cancel_after(A::io(&channel).read(&mut buf), 0)
        .await
        .is_none());
    // So is a wait for the exit status.
    assert!(cancel_after(A::channel(&channel).exit_status(), 0)
        .await
        .is_none());
    let mut out = String::new();
    A::step("read", A::io(&channel).read_to_string(&mut out))
        .await
        .unwrap();
    assert_eq!(out, "late\n");
    let status = A::step("exit status", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Code(3));

    // Writes into a full window, the last one dropped: exactly what the
    // writes reported goes through, once.
    let echo = A::step("exec", A::exec(&session, ECHO_COMMAND))
        .await
        .unwrap();
    let mut echo_io = A::io(&echo);
    let chunk = vec![b'x'; 64 * 1024];
    let mut accepted = 0;
    loop {
        match A::step("write", cancel_after(echo_io.write(&chunk), 0)).await {
            Some(n) => accepted += n.unwrap(),
            None => break,
        }
        assert!(accepted < 64 * 1024 * 1024, "the window never filled");
    }
    A::step("shutdown", echo_io.close()).await.unwrap();
    let mut echoed = Vec::new();
    A::step("read echo", echo_io.read_to_end(&mut echoed))
        .await
        .unwrap();
    assert_eq!(echoed.len(), accepted);

    // Closing the session, dropped at once, still closes it. (Where the
    // pumps run on threads of their own, the close may be done before the
    // first poll.)
    let dropped = cancel_after(A::session(&session).close(), 0).await;
    assert!(dropped.is_none() || !A::PUMPS_ON_TEST_THREAD);
    drop(echo_io);
    drop((channel, echo, session));
    baseline.assert_released::<A>(&served).await;
}
