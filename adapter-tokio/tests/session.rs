//! conch-tokio against an in-process server built with its own listener,
//! running commands with `sh -c`. The scenarios every async adapter runs
//! are `conch_driver::testing::sessions` (here through conch-tokio's API
//! and tokio's I/O traits); what only conch-tokio has is tested below them.

mod common;

use common::Tokio;
use conch_driver::testing::adapter::{login, read_to_end};
use conch_driver::testing::sessions::logged_in;
use conch_driver::testing::{Adapter, TestServer, PASSWORD, STEP_TIMEOUT, USER};
use conch_tokio::{connect, Channel, ClientOptions, Error, ExitStatus, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

conch_driver::session_tests!(Tokio);

// ---------------------------------------------------------------------
// What only conch-tokio's tests cover
// ---------------------------------------------------------------------

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let options = ClientOptions::insecure_accept_any_host_key();
    let err = Tokio::step("connect", connect("127.0.0.1", port, options))
        .await
        .unwrap_err();
    assert!(err.is_connection_refused(), "{err:?}");
}

#[tokio::test]
async fn dropping_connect_aborts_and_closing_ends_the_session() {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();

    // A connect future dropped during the handshake: the server sees the
    // connection end.
    let abandoned = tokio::spawn(connect("127.0.0.1", port, server.client_options()));
    let (server_session, _) = Tokio::step("accept", listener.accept()).await.unwrap();
    abandoned.abort();
    drop(abandoned);
    Tokio::step(
        "server sees the abandoned connection end",
        server_session.closed(),
    )
    .await;
    assert!(server_session.disconnect_reason().is_some());

    // An explicit close: every later call fails and the server sees it.
    let client = tokio::spawn(connect("127.0.0.1", port, server.client_options()));
    let (server_session, _) = Tokio::step("accept", listener.accept()).await.unwrap();
    let session = Tokio::step("connect", client).await.unwrap().unwrap();
    Tokio::step("authenticate", session.auth_password(USER, PASSWORD))
        .await
        .unwrap();
    Tokio::step("close", session.close()).await;
    assert!(session.is_closed());
    let err = Tokio::step("exec after close", session.exec("true"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    Tokio::step("server sees the close", server_session.closed()).await;
}

#[tokio::test]
async fn dropping_a_channel_closes_it_on_the_server() {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (session, _) = listener.accept().await.unwrap();
        let incoming = session.accept_channel().await.unwrap();
        let mut channel = incoming.channel;
        // The client never writes: a read ends only when the channel closes.
        let mut buf = [0u8; 16];
        let n = channel.read(&mut buf).await.unwrap();
        let write_after = channel.write_all(b"too late").await;
        let _ = seen_tx.send((n, write_after.is_err()));
    });
    let session = login::<Tokio>(port, server.client_options()).await;
    let channel = Tokio::step("exec", session.exec("sleep 60")).await.unwrap();
    drop(channel);
    let (n, write_failed) = Tokio::step("server sees the close", seen_rx).await.unwrap();
    assert_eq!(n, 0);
    assert!(write_failed, "writing to a closed channel must fail");
}

#[tokio::test]
async fn a_silent_server_hits_the_handshake_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (socket, _) = silent.accept().await.unwrap();
        tokio::time::sleep(STEP_TIMEOUT).await;
        drop(socket);
    });
    let mut options = ClientOptions::insecure_accept_any_host_key();
    options.config_mut().transport.handshake_timeout = Some(std::time::Duration::from_millis(300));
    let err = Tokio::step("connect", connect("127.0.0.1", port, options))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout("handshake")), "{err:?}");
    hold.abort();
}

#[tokio::test]
async fn env_pty_and_signal_requests_reach_the_command() {
    let session = logged_in::<Tokio>().await;
    let channel = Tokio::step("open", session.open_session()).await.unwrap();
    // LC_* is in the default AcceptEnv; other names are refused.
    assert!(channel.set_env("GREETING", "hi").await.is_err());
    Tokio::step("env", channel.set_env("LC_GREETING", "hi there"))
        .await
        .unwrap();
    let size = conch_tokio::WindowSize {
        cols: 80,
        rows: 24,
        width_px: 0,
        height_px: 0,
    };
    Tokio::step("pty", channel.request_pty("xterm", size, &[]))
        .await
        .unwrap();
    Tokio::step("exec", channel.exec("echo \"$LC_GREETING\"; tty"))
        .await
        .unwrap();
    // On a real terminal: its line discipline ends lines with CR LF.
    let out = String::from_utf8(read_to_end::<Tokio>(&channel).await).unwrap();
    assert!(out.starts_with("hi there\r\n/dev/pts/"), "{out:?}");

    let channel = Tokio::step("exec", session.exec("echo started; exec sleep 30"))
        .await
        .unwrap();
    let mut line = [0u8; 8];
    Tokio::step("started", (&channel).read_exact(&mut line))
        .await
        .unwrap();
    channel.signal("TERM").unwrap();
    let status = Tokio::step("exit status", channel.exit_status())
        .await
        .unwrap();
    assert!(
        matches!(&status, ExitStatus::Signal { name, .. } if name == "TERM"),
        "{status:?}"
    );
}

#[tokio::test]
async fn connect_stream_runs_over_any_byte_stream() {
    let server = TestServer::new();
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let server_session = conch_tokio::serve_stream(server_end, &server.options);
    tokio::spawn(async move {
        while let Some(incoming) = server_session.accept_channel().await {
            tokio::spawn(conch_driver::process::serve_command(
                incoming.map(Channel::into_inner),
            ));
        }
    });
    let session = Tokio::step(
        "connect over a duplex pipe",
        conch_tokio::connect_stream(
            client_end,
            conch_tokio::ServerName::new("in-memory", 22),
            server.client_options(),
        ),
    )
    .await
    .unwrap();
    Tokio::step(
        "authenticate",
        session.auth_publickey(USER, &server.client_key),
    )
    .await
    .unwrap();
    let channel = Tokio::step("exec", session.exec("echo piped"))
        .await
        .unwrap();
    assert_eq!(read_to_end::<Tokio>(&channel).await, b"piped\n");
}
