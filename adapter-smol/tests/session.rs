//! conch-smol against an in-process server built with its own listener,
//! running commands with `sh -c` (fixtures in `conch_driver::testing`).

use std::future::Future;
use std::net::SocketAddr;

use conch_driver::testing::{
    TestServer, FLOOD_COMMAND, FLOOD_LEN, PASSWORD, STDERR_COMMAND, STEP_TIMEOUT, USER,
};
use conch_smol::{
    connect, AuthMethods, AuthResult, ChannelOpenFailure, ChannelRequest, ClientOptions, Error,
    ExitStatus, HostKeyPolicy, Listener, PasswordResponder, Session,
};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Runs one step of a test with a deadline.
async fn step<T>(what: &str, f: impl Future<Output = T>) -> T {
    smol::future::or(f, async {
        async_io::Timer::after(STEP_TIMEOUT).await;
        panic!("timed out: {what}")
    })
    .await
}

/// Starts the test server on a free loopback port.
async fn start_server() -> (SocketAddr, TestServer) {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone())
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    smol::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            smol::spawn(async move {
                while let Some(incoming) = session.accept_channel().await {
                    TestServer::serve(incoming);
                }
            })
            .detach();
        }
    })
    .detach();
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

async fn read_all(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    step("read to end", r.read_to_end(&mut out))
        .await
        .expect("read");
    out
}

#[test]
fn exec_gives_output_and_exit_status() {
    smol::block_on(async {
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
    })
}

#[test]
fn stdin_is_echoed_through_cat() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let mut channel = step("exec", session.exec("cat")).await.unwrap();
        for word in ["bif", "pow", "zot"] {
            channel.write_all(word.as_bytes()).await.unwrap();
            let mut buf = [0u8; 3];
            step("echo", channel.read_exact(&mut buf)).await.unwrap();
            assert_eq!(&buf, word.as_bytes());
        }
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut reader, mut writer) = (&channel, &channel);
        let write = async {
            writer.write_all(&data).await.unwrap();
            writer.close().await.unwrap();
        };
        let read = async {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).await.unwrap();
            out
        };
        let ((), echoed) = step("bulk echo", smol::future::zip(write, read)).await;
        assert!(
            echoed == data,
            "echoed data differs ({} bytes)",
            echoed.len()
        );
        assert!(step("exit", channel.exit_status()).await.unwrap().success());
    })
}

#[test]
fn stderr_is_kept_apart() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let channel = step("exec", session.exec(STDERR_COMMAND)).await.unwrap();
        let stderr = channel.stderr();
        let (out, err) = smol::future::zip(read_all(&channel), read_all(&stderr)).await;
        assert_eq!(out, b"to-stdout\n");
        assert_eq!(err, b"to-stderr\n");
        assert_eq!(
            step("exit", channel.exit_status()).await.unwrap(),
            ExitStatus::Code(3)
        );
    })
}

#[test]
fn fifty_commands_share_one_connection() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let session = session.clone();
                smol::spawn(async move {
                    let channel = session.exec(format!("/bin/echo {i}")).await.unwrap();
                    let out = read_all(&channel).await;
                    assert_eq!(out, format!("{i}\n").into_bytes());
                    assert!(channel.exit_status().await.unwrap().success());
                })
            })
            .collect();
        step("fifty commands", async {
            for t in tasks {
                t.await;
            }
        })
        .await;
    })
}

#[test]
fn half_close_lets_the_remote_see_eof_and_output_still_flows() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let mut channel = step("exec", session.exec("cat; echo remote-saw-eof"))
            .await
            .unwrap();
        channel.write_all(b"last words\n").await.unwrap();
        channel.close().await.unwrap();
        assert!(
            channel.write_all(b"more").await.is_err(),
            "write after EOF must fail"
        );
        assert_eq!(read_all(&channel).await, b"last words\nremote-saw-eof\n");
        assert!(step("exit", channel.exit_status()).await.unwrap().success());
    })
}

#[test]
fn a_stalled_reader_does_not_stall_other_channels() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let window = conch_smol::ClientConfig::default().channels.window_size as usize;
        let flood = step("exec flood", session.exec(FLOOD_COMMAND))
            .await
            .unwrap();
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
        assert!(unread > 0, "the flood should have filled its window");
        assert!(
            unread <= window,
            "unread data {unread} exceeds the window {window}"
        );
        echo.close().await.unwrap();
        let all = read_all(&flood).await;
        assert_eq!(all.len(), FLOOD_LEN);
        assert!(all.iter().all(|&b| b == 0));
        assert!(step("exit", flood.exit_status()).await.unwrap().success());
    })
}

#[test]
fn auth_methods_refusals_and_host_key() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let port = addr.port();
        let connect_test = || connect("127.0.0.1", port, server.client_options());

        let session = step("connect", connect_test()).await.unwrap();
        let r = step("bad password", session.auth_password(USER, "wrong"))
            .await
            .unwrap();
        assert!(matches!(r, AuthResult::Failure { .. }), "{r:?}");
        let r = step(
            "publickey",
            session.auth_publickey(USER, &server.client_key),
        )
        .await
        .unwrap();
        assert_eq!(r, AuthResult::Success);

        let session = step("connect", connect_test()).await.unwrap();
        let methods = AuthMethods::new()
            .password("wrong")
            .keyboard_interactive(PasswordResponder(PASSWORD.into()));
        step("authenticate", session.authenticate(USER, methods))
            .await
            .unwrap();
        let err = step("open", session.open_channel("direct-tcpip", b"x"))
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
        assert!(matches!(err, Error::RequestRefused { .. }), "{err:?}");

        let other = TestServer::new().client_key.public_key().clone();
        let options = ClientOptions::new(HostKeyPolicy::trust_keys([other]));
        let err = step("connect", connect("127.0.0.1", port, options))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HostKeyRejected { .. }), "{err:?}");
    })
}

/// Reads with `read_chunk` alone until the end, checking every chunk
/// against `max`; the end must stay the end.
async fn read_chunks_to_end<F, R>(max: usize, mut read_chunk: F) -> Vec<u8>
where
    F: FnMut(usize) -> R,
    R: Future<Output = std::io::Result<Option<conch_smol::Bytes>>>,
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

#[test]
fn read_chunk_and_read_take_turns_on_one_stream_in_order() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let channel = step("exec", session.exec("cat")).await.unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut reader, mut writer) = (&channel, &channel);
        let write = async {
            writer.write_all(&data).await.unwrap();
            writer.close().await.unwrap();
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
        let ((), echoed) = step("echo", smol::future::zip(write, read)).await;
        assert_eq!(echoed.len(), data.len());
        assert!(echoed == data, "the bytes differ or are out of order");
        assert!(step("exit", channel.exit_status()).await.unwrap().success());
    })
}

#[test]
fn read_chunk_alone_reopens_the_window_on_stdout_and_stderr() {
    smol::block_on(async {
        let (addr, server) = start_server().await;
        let session = login(addr, &server).await;
        let window = conch_smol::ClientConfig::default().channels.window_size as usize;
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
        let (out, err) = smol::future::zip(
            read_chunks_to_end(64 * 1024, |max| channel.read_chunk(max)),
            read_chunks_to_end(64 * 1024, |max| stderr.read_chunk(max)),
        )
        .await;
        assert_eq!(out, b"done\n");
        assert_eq!(err.len(), FLOOD_LEN);
        assert!(err.iter().all(|&b| b == 0));
        assert_eq!(
            step("exit", channel.exit_status()).await.unwrap(),
            ExitStatus::Code(3)
        );
    })
}
