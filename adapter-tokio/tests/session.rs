//! conch-tokio against an in-process server built with its own listener,
//! running commands with `sh -c` (fixtures in `conch_driver::testing`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use conch_driver::testing::{
    TestServer, FLOOD_COMMAND, FLOOD_LEN, PASSWORD, STDERR_COMMAND, STEP_TIMEOUT, USER,
};
use conch_tokio::{
    connect, AuthMethods, AuthResult, Channel, ChannelOpenFailure, ChannelRequest, ClientOptions,
    Error, ExitStatus, HostKeyPolicy, Listener, PasswordResponder, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs one step of a test with a deadline.
async fn step<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Starts the test server on a free loopback port.
async fn start_server() -> (SocketAddr, TestServer) {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(incoming) = session.accept_channel().await {
                    TestServer::serve(incoming.map(Channel::into_inner));
                }
            });
        }
    });
    (addr, server)
}

async fn login(addr: SocketAddr, server: &TestServer) -> Session {
    let session = step(
        "connect",
        connect("127.0.0.1", addr.port(), server.client_options()),
    )
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

async fn read_all(mut r: impl AsyncReadExt + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    step("read to end", r.read_to_end(&mut out))
        .await
        .expect("read");
    out
}

#[tokio::test]
async fn exec_gives_output_and_exit_status() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let channel = step("exec", session.exec("echo hello; exit 7"))
        .await
        .unwrap();
    assert_eq!(read_all(&channel).await, b"hello\n");
    let status = step("exit status", channel.exit_status()).await.unwrap();
    assert_eq!(status, ExitStatus::Code(7));

    let channel = step("exec", session.exec("kill -9 $$")).await.unwrap();
    let status = step("exit status", channel.exit_status()).await.unwrap();
    assert!(
        matches!(&status, ExitStatus::Signal { name, .. } if name == "KILL"),
        "{status:?}"
    );
    assert_eq!(status.shell_code(), 137);
}

#[tokio::test]
async fn stdin_is_echoed_through_cat() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let mut channel = step("exec", session.exec("cat")).await.unwrap();
    for word in ["bif", "pow", "zot"] {
        channel.write_all(word.as_bytes()).await.unwrap();
        let mut buf = [0u8; 3];
        step("echo", channel.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, word.as_bytes());
    }
    // A megabyte written and read concurrently: more than a window's worth
    // is in flight only if both directions move.
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = (&channel, &channel);
    let write = async {
        writer.write_all(&data).await.unwrap();
        writer.shutdown().await.unwrap();
    };
    let read = async {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        out
    };
    let ((), echoed) = step("bulk echo", async { tokio::join!(write, read) }).await;
    assert!(
        echoed == data,
        "echoed data differs ({} bytes)",
        echoed.len()
    );
    let status = step("exit status", channel.exit_status()).await.unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn stderr_is_kept_apart() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let channel = step("exec", session.exec(STDERR_COMMAND)).await.unwrap();
    let stderr = channel.stderr();
    let (out, err) = tokio::join!(read_all(&channel), read_all(&stderr));
    assert_eq!(out, b"to-stdout\n");
    assert_eq!(err, b"to-stderr\n");
    assert_eq!(
        step("exit", channel.exit_status()).await.unwrap(),
        ExitStatus::Code(3)
    );
}

#[tokio::test]
async fn fifty_commands_share_one_connection() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let session = session.clone();
        tasks.spawn(async move {
            let channel = session.exec(format!("/bin/echo {i}")).await.unwrap();
            let out = read_all(&channel).await;
            assert_eq!(out, format!("{i}\n").into_bytes());
            assert!(channel.exit_status().await.unwrap().success());
        });
    }
    step("fifty commands", async {
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn half_close_lets_the_remote_see_eof_and_output_still_flows() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let mut channel = step("exec", session.exec("cat; echo remote-saw-eof"))
        .await
        .unwrap();
    channel.write_all(b"last words\n").await.unwrap();
    channel.shutdown().await.unwrap();
    assert!(
        channel.write_all(b"more").await.is_err(),
        "write after EOF must fail"
    );
    assert_eq!(read_all(&channel).await, b"last words\nremote-saw-eof\n");
    assert!(step("exit", channel.exit_status()).await.unwrap().success());
}

#[tokio::test]
async fn a_stalled_reader_does_not_stall_other_channels() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let window = conch_tokio::ClientConfig::default().channels.window_size as usize;
    let flood = step("exec flood", session.exec(FLOOD_COMMAND))
        .await
        .unwrap();
    // Nobody reads `flood` while another channel works.
    let mut echo = step("exec cat", session.exec("cat")).await.unwrap();
    for round in 0..20 {
        let msg = format!("round {round}\n");
        echo.write_all(msg.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; msg.len()];
        step("echo while flood is stalled", echo.read_exact(&mut buf))
            .await
            .unwrap();
        assert_eq!(buf, msg.as_bytes());
        let other = step("exec", session.exec(format!("echo {round}")))
            .await
            .unwrap();
        assert_eq!(read_all(&other).await, format!("{round}\n").into_bytes());
    }
    let unread = flood.buffered_len();
    eprintln!("unread on the stalled channel: {unread} bytes (window {window})");
    assert!(unread > 0, "the flood should have filled its window");
    assert!(
        flood.buffered_len() <= window,
        "unread data {} exceeds the window {window}",
        flood.buffered_len()
    );
    echo.shutdown().await.unwrap();
    let all = read_all(&flood).await;
    assert_eq!(all.len(), FLOOD_LEN);
    assert!(all.iter().all(|&b| b == 0));
    assert!(step("exit", flood.exit_status()).await.unwrap().success());
}

#[tokio::test]
async fn each_auth_method_and_failure() {
    let (addr, server) = start_server().await;
    let port = addr.port();
    let connect = || connect("127.0.0.1", port, server.client_options());

    let session = step("connect", connect()).await.unwrap();
    let r = step("bad password", session.auth_password(USER, "wrong"))
        .await
        .unwrap();
    assert!(
        matches!(r, AuthResult::Failure { ref methods, .. } if methods.iter().any(|m| m == "password")),
        "{r:?}"
    );
    let err = step(
        "authenticate with nothing right",
        session.authenticate(USER, AuthMethods::new().password("still wrong")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");

    let session = step("connect", connect()).await.unwrap();
    let r = step(
        "publickey",
        session.auth_publickey(USER, &server.client_key),
    )
    .await
    .unwrap();
    assert_eq!(r, AuthResult::Success);
    assert!(session.is_authenticated());

    let session = step("connect", connect()).await.unwrap();
    let mut responder = PasswordResponder(PASSWORD.into());
    let r = step(
        "keyboard-interactive",
        session.auth_keyboard_interactive(USER, &mut responder),
    )
    .await
    .unwrap();
    assert_eq!(r, AuthResult::Success);

    // The walk skips what fails and goes on to what works.
    let session = step("connect", connect()).await.unwrap();
    let methods = AuthMethods::new()
        .password("wrong")
        .keyboard_interactive(PasswordResponder(PASSWORD.into()));
    step("authenticate", session.authenticate(USER, methods))
        .await
        .unwrap();
    assert!(session.is_authenticated());

    // A key the server accepts but that cannot sign (a wrong passphrase, an
    // agent that refuses) does not end the walk: the next credential is tried.
    let session = step("connect", connect()).await.unwrap();
    let methods = AuthMethods::new()
        .signer(Arc::new(CannotSign(server.client_key.public_key().clone())))
        .password(PASSWORD);
    step("authenticate", session.authenticate(USER, methods))
        .await
        .expect("the password after the key that could not sign");
    assert!(session.is_authenticated());
}

/// A signer whose key the server accepts but which fails to sign.
struct CannotSign(conch_tokio::PublicKey);

impl conch_tokio::Signer for CannotSign {
    fn public_key(&self) -> conch_tokio::PublicKey {
        self.0.clone()
    }

    fn sign<'a>(&'a self, _algorithm: &'a str, _data: &'a [u8]) -> conch_driver::SignFuture<'a> {
        Box::pin(std::future::ready(Err(
            conch_driver::conch_core::KeyError::WrongPassphrase,
        )))
    }
}

#[tokio::test]
async fn refusals_are_distinct_errors() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let err = step(
        "open direct-tcpip",
        session.open_channel("direct-tcpip", b"x"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ChannelOpenRefused {
                reason: ChannelOpenFailure::UnknownChannelType,
                ..
            }
        ),
        "{err:?}"
    );
    let channel = step("open", session.open_session()).await.unwrap();
    let err = step(
        "xon-xoff",
        channel.request(ChannelRequest::XonXoff {
            client_can_do: true,
        }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::RequestRefused { ref request } if request == "xon-xoff"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_untrusted_host_key_is_rejected_before_any_credential() {
    let (addr, _server) = start_server().await;
    let other = TestServer::new().client_key.public_key().clone();
    let options = ClientOptions::new(HostKeyPolicy::trust_keys([other]));
    let err = step("connect", connect("127.0.0.1", addr.port(), options))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HostKeyRejected { .. }), "{err:?}");
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = step(
        "connect",
        connect(
            "127.0.0.1",
            port,
            ClientOptions::insecure_accept_any_host_key(),
        ),
    )
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
    let (server_session, _) = step("accept", listener.accept()).await.unwrap();
    abandoned.abort();
    drop(abandoned);
    step(
        "server sees the abandoned connection end",
        server_session.closed(),
    )
    .await;
    assert!(server_session.disconnect_reason().is_some());

    // An explicit close: every later call fails and the server sees it.
    let client = tokio::spawn(connect("127.0.0.1", port, server.client_options()));
    let (server_session, _) = step("accept", listener.accept()).await.unwrap();
    let session = step("connect", client).await.unwrap().unwrap();
    step("authenticate", session.auth_password(USER, PASSWORD))
        .await
        .unwrap();
    step("close", session.close()).await;
    assert!(session.is_closed());
    let err = step("exec after close", session.exec("true"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    step("server sees the close", server_session.closed()).await;
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
    let session = step(
        "connect",
        connect("127.0.0.1", port, server.client_options()),
    )
    .await
    .unwrap();
    step("authenticate", session.auth_password(USER, PASSWORD))
        .await
        .unwrap();
    let channel = step("exec", session.exec("sleep 60")).await.unwrap();
    drop(channel);
    let (n, write_failed) = step("server sees the close", seen_rx).await.unwrap();
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
    options.handshake_timeout = Some(std::time::Duration::from_millis(300));
    let err = step("connect", connect("127.0.0.1", port, options))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout("handshake")), "{err:?}");
    hold.abort();
}

#[tokio::test]
async fn env_pty_and_signal_requests_reach_the_command() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let channel = step("open", session.open_session()).await.unwrap();
    step("env", channel.set_env("GREETING", "hi there"))
        .await
        .unwrap();
    let size = conch_tokio::WindowSize {
        cols: 80,
        rows: 24,
        width_px: 0,
        height_px: 0,
    };
    step("pty", channel.request_pty("xterm", size, &[]))
        .await
        .unwrap();
    step("exec", channel.exec("echo \"$GREETING\""))
        .await
        .unwrap();
    assert_eq!(read_all(&channel).await, b"hi there\n");

    let channel = step("exec", session.exec("echo started; exec sleep 30"))
        .await
        .unwrap();
    let mut line = [0u8; 8];
    step("started", (&channel).read_exact(&mut line))
        .await
        .unwrap();
    channel.signal("TERM").unwrap();
    let status = step("exit status", channel.exit_status()).await.unwrap();
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
            TestServer::serve(incoming.map(Channel::into_inner));
        }
    });
    let session = step(
        "connect over a duplex pipe",
        conch_tokio::connect_stream(
            client_end,
            conch_tokio::ServerName::new("in-memory", 22),
            server.client_options(),
        ),
    )
    .await
    .unwrap();
    step(
        "authenticate",
        session.auth_publickey(USER, &server.client_key),
    )
    .await
    .unwrap();
    let channel = step("exec", session.exec("echo piped")).await.unwrap();
    assert_eq!(read_all(&channel).await, b"piped\n");
}

/// Reads with `read_chunk` alone until the end, checking every chunk
/// against `max`; the end must stay the end.
async fn read_chunks_to_end<F, R>(max: usize, mut read_chunk: F) -> Vec<u8>
where
    F: FnMut(usize) -> R,
    R: Future<Output = std::io::Result<Option<conch_tokio::Bytes>>>,
{
    let mut out = Vec::new();
    while let Some(chunk) = step("read a chunk", read_chunk(max)).await.unwrap() {
        assert!(
            !chunk.is_empty() && chunk.len() <= max,
            "a chunk of {} bytes for max {max}",
            chunk.len()
        );
        out.extend_from_slice(&chunk);
    }
    assert!(step("after the end", read_chunk(max))
        .await
        .unwrap()
        .is_none());
    out
}

#[tokio::test]
async fn read_chunk_and_read_take_turns_on_one_stream_in_order() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let channel = step("exec", session.exec("cat")).await.unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut reader, mut writer) = (&channel, &channel);
    let write = async {
        writer.write_all(&data).await.unwrap();
        writer.shutdown().await.unwrap();
    };
    let read = async {
        // Smaller than most packets cat's output arrives in: chunks are split.
        const MAX: usize = 1000;
        let (mut out, mut split, mut buf) = (Vec::new(), false, [0u8; 777]);
        for turn in 0.. {
            if turn % 3 == 2 {
                let n = reader.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
                continue;
            }
            let Some(chunk) = channel.read_chunk(MAX).await.unwrap() else {
                break;
            };
            assert!(!chunk.is_empty() && chunk.len() <= MAX, "{}", chunk.len());
            split |= chunk.len() == MAX;
            out.extend_from_slice(&chunk);
        }
        assert!(split, "no chunk was cut at max");
        assert!(channel.read_chunk(MAX).await.unwrap().is_none());
        out
    };
    let ((), echoed) = step("echo", async { tokio::join!(write, read) }).await;
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "the bytes differ or are out of order");
    assert!(step("exit", channel.exit_status()).await.unwrap().success());
}

#[tokio::test]
async fn read_chunk_alone_reopens_the_window_on_stdout_and_stderr() {
    let (addr, server) = start_server().await;
    let session = login(addr, &server).await;
    let window = conch_tokio::ClientConfig::default().channels.window_size as usize;
    assert!(FLOOD_LEN >= 3 * window);
    // A command printing several windows: it ends only if every chunk
    // taken gives its bytes back to the window.
    let flood = step("exec flood", session.exec(FLOOD_COMMAND))
        .await
        .unwrap();
    let out = read_chunks_to_end(64 * 1024, |max| flood.read_chunk(max)).await;
    assert_eq!(out.len(), FLOOD_LEN);
    assert!(out.iter().all(|&b| b == 0));
    assert!(step("exit", flood.exit_status()).await.unwrap().success());

    let channel = step(
        "exec stderr flood",
        session.exec(format!("{FLOOD_COMMAND} >&2; echo done; exit 3")),
    )
    .await
    .unwrap();
    let stderr = channel.stderr();
    let (out, err) = tokio::join!(
        read_chunks_to_end(64 * 1024, |max| channel.read_chunk(max)),
        read_chunks_to_end(64 * 1024, |max| stderr.read_chunk(max)),
    );
    assert_eq!(out, b"done\n");
    assert_eq!(err.len(), FLOOD_LEN);
    assert!(err.iter().all(|&b| b == 0));
    assert_eq!(
        step("exit", channel.exit_status()).await.unwrap(),
        ExitStatus::Code(3)
    );
}
