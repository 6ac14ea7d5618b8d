//! Client scenarios every async adapter's `tests/session.rs` runs against
//! its own listener: commands, their output and exit status, stdin and
//! half-close, stderr, many channels on one connection, flow control,
//! authentication and refusals, and zero-copy reads. Each takes the
//! adapter as [`Adapter`] and drives the adapter's own calls and streams.

use std::future::Future;
use std::io;
use std::sync::Arc;

use conch_core::{Bytes, ChannelRequest, ClientConfig, KeyError, PublicKey};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};

use super::adapter::{login, read_all, read_to_end, Adapter};
use super::checks::{assert_killed_by, assert_refusals};
use super::{TestServer, FLOOD_COMMAND, FLOOD_LEN, PASSWORD, STDERR_COMMAND, USER};
use crate::{
    AuthMethods, AuthResult, ClientOptions, Error, ExitStatus, HostKeyPolicy, PasswordResponder,
    SignFuture, Signer,
};

/// A test server on a free loopback port and a session logged in to it.
pub async fn logged_in<A: Adapter>() -> A::Session {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    login::<A>(addr.port(), test.client_options()).await
}

/// `len` bytes of a pattern that shows reordering (251 is prime).
fn pattern(len: u32) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The channel's default window: what an unread channel may hold.
fn default_window() -> usize {
    ClientConfig::default().channels.window_size as usize
}

/// A command's output and exit code arrive; a command killed by a signal
/// reports the signal (and a shell's 128 + n).
pub async fn exec_gives_output_and_exit_status<A: Adapter>() {
    let session = logged_in::<A>().await;
    let channel = A::step("exec", A::exec(&session, "echo hello; exit 7"))
        .await
        .unwrap();
    assert_eq!(read_to_end::<A>(&channel).await, b"hello\n");
    let status = A::step("exit status", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert_eq!(status, ExitStatus::Code(7));

    let channel = A::step("exec", A::exec(&session, "kill -9 $$"))
        .await
        .unwrap();
    let status = A::step("exit status", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert_killed_by(&status, "KILL", 137);
}

/// Writes are echoed by `cat`, word by word, and a megabyte written while
/// it is read back (more than a window is in flight only if both
/// directions move).
pub async fn stdin_is_echoed_through_cat<A: Adapter>() {
    let session = logged_in::<A>().await;
    let channel = A::step("exec", A::exec(&session, "cat")).await.unwrap();
    let mut io = A::io(&channel);
    for word in ["bif", "pow", "zot"] {
        io.write_all(word.as_bytes()).await.unwrap();
        let mut buf = [0u8; 3];
        A::step("echo", io.read_exact(&mut buf)).await.unwrap();
        assert_eq!(&buf, word.as_bytes());
    }
    let data = pattern(1_000_000);
    let (reader, mut writer) = (A::io(&channel), A::io(&channel));
    let write = async {
        writer.write_all(&data).await.unwrap();
        writer.close().await.unwrap();
    };
    let ((), echoed) = A::step(
        "bulk echo",
        futures_util::future::join(write, read_all(reader)),
    )
    .await;
    assert!(
        echoed == data,
        "echoed data differs ({} bytes)",
        echoed.len()
    );
    let status = A::step("exit status", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert!(status.success());
}

/// Stdout and stderr arrive on their own streams.
pub async fn stderr_is_kept_apart<A: Adapter>() {
    let session = logged_in::<A>().await;
    let channel = A::step("exec", A::exec(&session, STDERR_COMMAND))
        .await
        .unwrap();
    let stderr = A::stderr(&channel);
    let both =
        futures_util::future::join(read_all(A::io(&channel)), read_all(A::stderr_io(&stderr)));
    let (out, err) = A::step("read stdout and stderr", both).await;
    assert_eq!(out, b"to-stdout\n");
    assert_eq!(err, b"to-stderr\n");
    assert_eq!(
        A::step("exit", A::channel(&channel).exit_status())
            .await
            .unwrap(),
        ExitStatus::Code(3)
    );
}

/// Fifty commands run at once, from as many tasks, on one connection.
pub async fn fifty_commands_share_one_connection<A: Adapter>() {
    let session = logged_in::<A>().await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let session = session.clone();
            A::spawn(async move {
                let command = format!("/bin/echo {i}");
                let channel = A::exec(&session, &command).await.unwrap();
                let out = read_all(A::io(&channel)).await;
                assert_eq!(out, format!("{i}\n").into_bytes());
                assert!(A::channel(&channel).exit_status().await.unwrap().success());
            })
        })
        .collect();
    A::step("fifty commands", async {
        for task in tasks {
            task.await;
        }
    })
    .await;
}

/// Closing the write side sends EOF (the command sees its input end),
/// later writes fail, and the command's output still arrives.
pub async fn half_close_lets_the_remote_see_eof_and_output_still_flows<A: Adapter>() {
    let session = logged_in::<A>().await;
    let channel = A::step("exec", A::exec(&session, "cat; echo remote-saw-eof"))
        .await
        .unwrap();
    let mut io = A::io(&channel);
    io.write_all(b"last words\n").await.unwrap();
    io.close().await.unwrap();
    assert!(
        io.write_all(b"more").await.is_err(),
        "write after EOF must fail"
    );
    assert_eq!(
        read_to_end::<A>(&channel).await,
        b"last words\nremote-saw-eof\n"
    );
    let status = A::step("exit", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert!(status.success());
}

/// A channel nobody reads fills its window and no more, while other
/// channels of the connection go on; read later, it gives all its output.
pub async fn a_stalled_reader_does_not_stall_other_channels<A: Adapter>() {
    let session = logged_in::<A>().await;
    let window = default_window();
    let flood = A::step("exec flood", A::exec(&session, FLOOD_COMMAND))
        .await
        .unwrap();
    // Nobody reads `flood` while another channel works.
    let echo = A::step("exec cat", A::exec(&session, "cat")).await.unwrap();
    let mut echo_io = A::io(&echo);
    for round in 0..20 {
        let msg = format!("round {round}\n");
        echo_io.write_all(msg.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; msg.len()];
        A::step("echo while flood is stalled", echo_io.read_exact(&mut buf))
            .await
            .unwrap();
        assert_eq!(buf, msg.as_bytes());
        let command = format!("echo {round}");
        let other = A::step("exec", A::exec(&session, &command)).await.unwrap();
        assert_eq!(
            read_to_end::<A>(&other).await,
            format!("{round}\n").into_bytes()
        );
    }
    let unread = A::channel(&flood).buffered_len();
    eprintln!("unread on the stalled channel: {unread} bytes (window {window})");
    assert!(unread > 0, "the flood should have filled its window");
    assert!(
        unread <= window,
        "unread data {unread} exceeds the window {window}"
    );
    echo_io.close().await.unwrap();
    let all = read_to_end::<A>(&flood).await;
    assert_eq!(all.len(), FLOOD_LEN);
    assert!(all.iter().all(|&b| b == 0));
    let status = A::step("exit", A::channel(&flood).exit_status())
        .await
        .unwrap();
    assert!(status.success());
}

/// Password, public key and keyboard-interactive each log in; a wrong
/// password is a failure naming what may continue (and a key after it
/// still logs in), and a walk over methods skips what fails (a key that
/// cannot sign included).
pub async fn each_auth_method_and_failure<A: Adapter>() {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let connect = || async {
        A::step("connect", A::connect(addr.port(), test.client_options()))
            .await
            .unwrap()
    };

    let session = connect().await;
    let driver = A::session(&session);
    let r = A::step("bad password", driver.auth_password(USER, "wrong"))
        .await
        .unwrap();
    assert!(
        matches!(r, AuthResult::Failure { ref methods, .. } if methods.iter().any(|m| m == "password")),
        "{r:?}"
    );
    let err = A::step(
        "authenticate with nothing right",
        driver.authenticate(USER, AuthMethods::new().password("still wrong")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");

    // A failed method does not spoil the next one on the same connection.
    let session = connect().await;
    let driver = A::session(&session);
    let r = A::step("bad password", driver.auth_password(USER, "wrong"))
        .await
        .unwrap();
    assert!(matches!(r, AuthResult::Failure { .. }), "{r:?}");
    assert!(!driver.is_authenticated());
    let r = A::step("publickey", driver.auth_publickey(USER, &test.client_key))
        .await
        .unwrap();
    assert_eq!(r, AuthResult::Success);
    assert!(driver.is_authenticated());

    let session = connect().await;
    let mut responder = PasswordResponder(PASSWORD.into());
    let r = A::step(
        "keyboard-interactive",
        A::session(&session).auth_keyboard_interactive(USER, &mut responder),
    )
    .await
    .unwrap();
    assert_eq!(r, AuthResult::Success);

    // The walk skips what fails and goes on to what works.
    let session = connect().await;
    let methods = AuthMethods::new()
        .password("wrong")
        .keyboard_interactive(PasswordResponder(PASSWORD.into()));
    A::step(
        "authenticate",
        A::session(&session).authenticate(USER, methods),
    )
    .await
    .unwrap();
    assert!(A::session(&session).is_authenticated());

    // A key the server accepts but that cannot sign (a wrong passphrase, an
    // agent that refuses) does not end the walk: the next credential is tried.
    let session = connect().await;
    let methods = AuthMethods::new()
        .signer(Arc::new(CannotSign(test.client_key.public_key().clone())))
        .password(PASSWORD);
    A::step(
        "authenticate",
        A::session(&session).authenticate(USER, methods),
    )
    .await
    .expect("the password after the key that could not sign");
    assert!(A::session(&session).is_authenticated());
}

/// A signer whose key the server accepts but which fails to sign.
struct CannotSign(PublicKey);

impl Signer for CannotSign {
    fn public_key(&self) -> PublicKey {
        self.0.clone()
    }

    fn sign<'a>(&'a self, _algorithm: &'a str, _data: &'a [u8]) -> SignFuture<'a> {
        Box::pin(std::future::ready(Err(KeyError::WrongPassphrase)))
    }
}

/// A refused channel type and a refused request are errors that say so.
pub async fn refusals_are_distinct_errors<A: Adapter>() {
    let session = logged_in::<A>().await;
    let open = A::step(
        "open direct-tcpip",
        A::session(&session).open_channel("direct-tcpip", b"x"),
    )
    .await
    .unwrap_err();
    let channel = A::step("open", A::open_session(&session)).await.unwrap();
    let request = A::step(
        "xon-xoff",
        A::channel(&channel).request(ChannelRequest::XonXoff {
            client_can_do: true,
        }),
    )
    .await
    .unwrap_err();
    assert_refusals(&open, &request);
}

/// A server whose host key is not trusted is refused by `connect`.
pub async fn an_untrusted_host_key_is_rejected_before_any_credential<A: Adapter>() {
    let (addr, _served) = A::start_server(TestServer::new().options).await;
    let other = TestServer::new().client_key.public_key().clone();
    let options = ClientOptions::new(HostKeyPolicy::trust_keys([other]));
    let err = A::step("connect", A::connect(addr.port(), options))
        .await
        .err()
        .expect("an untrusted host key must fail connect");
    assert!(matches!(err, Error::HostKeyRejected { .. }), "{err:?}");
}

/// The verifier is told the address the TCP connection was made to (for
/// ssh's `CheckHostIP`), besides the name asked for.
pub async fn the_verifier_sees_the_address_connected_to<A: Adapter>() {
    let test = TestServer::new();
    let (addr, _served) = A::start_server(test.options.clone()).await;
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let trusted = test.host_key.clone();
    let mut options = test.client_options();
    options.host_key_policy =
        HostKeyPolicy::custom(move |server: &crate::ServerName, key: &PublicKey| {
            *record.lock().unwrap_or_else(|e| e.into_inner()) = Some(server.clone());
            *key == trusted
        });
    let _session = A::step("connect", A::connect(addr.port(), options))
        .await
        .expect("connect");
    let server = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let server = server.expect("the verifier was asked");
    assert_eq!(server.port, addr.port());
    assert_eq!(server.address, Some(addr.ip()));
}

/// Reads with `read_chunk` alone until the end, checking every chunk
/// against `max`; the end must stay the end.
async fn read_chunks_to_end<A, F, R>(max: usize, mut read_chunk: F) -> Vec<u8>
where
    A: Adapter,
    F: FnMut(usize) -> R,
    R: Future<Output = io::Result<Option<Bytes>>> + Send,
{
    let mut out = Vec::new();
    while let Some(chunk) = A::step("read a chunk", read_chunk(max)).await.unwrap() {
        assert!(
            !chunk.is_empty() && chunk.len() <= max,
            "a chunk of {} bytes for max {max}",
            chunk.len()
        );
        out.extend_from_slice(&chunk);
    }
    let after = A::step("after the end", read_chunk(max)).await.unwrap();
    assert!(after.is_none());
    out
}

/// Chunk reads and reads of one stream, mixed, give every byte once and in
/// order; a chunk longer than the reader's `max` is split.
pub async fn read_chunk_and_read_take_turns_on_one_stream_in_order<A: Adapter>() {
    let session = logged_in::<A>().await;
    let channel = A::step("exec", A::exec(&session, "cat")).await.unwrap();
    let data = pattern(1_000_000);
    let (mut reader, mut writer) = (A::io(&channel), A::io(&channel));
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
            let Some(chunk) = A::read_chunk(&channel, MAX).await.unwrap() else {
                break;
            };
            assert!(!chunk.is_empty() && chunk.len() <= MAX, "{}", chunk.len());
            split |= chunk.len() == MAX;
            out.extend_from_slice(&chunk);
        }
        assert!(split, "no chunk was cut at max");
        assert!(A::read_chunk(&channel, MAX).await.unwrap().is_none());
        out
    };
    let ((), echoed) = A::step("echo", futures_util::future::join(write, read)).await;
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "the bytes differ or are out of order");
    let status = A::step("exit", A::channel(&channel).exit_status())
        .await
        .unwrap();
    assert!(status.success());
}

/// Chunk reads alone give every byte of output several windows long, on
/// stdout and on stderr: each chunk taken reopens the window.
pub async fn read_chunk_alone_reopens_the_window_on_stdout_and_stderr<A: Adapter>() {
    const MAX: usize = 64 * 1024;
    let session = logged_in::<A>().await;
    assert!(FLOOD_LEN >= 3 * default_window());
    // A command printing several windows: it ends only if every chunk
    // taken gives its bytes back to the window.
    let flood = A::step("exec flood", A::exec(&session, FLOOD_COMMAND))
        .await
        .unwrap();
    let out = read_chunks_to_end::<A, _, _>(MAX, |max| A::read_chunk(&flood, max)).await;
    assert_eq!(out.len(), FLOOD_LEN);
    assert!(out.iter().all(|&b| b == 0));
    let status = A::step("exit", A::channel(&flood).exit_status())
        .await
        .unwrap();
    assert!(status.success());

    let command = format!("{FLOOD_COMMAND} >&2; echo done; exit 3");
    let channel = A::step("exec stderr flood", A::exec(&session, &command))
        .await
        .unwrap();
    let stderr = A::stderr(&channel);
    let (out, err) = futures_util::future::join(
        read_chunks_to_end::<A, _, _>(MAX, |max| A::read_chunk(&channel, max)),
        read_chunks_to_end::<A, _, _>(MAX, |max| A::read_stderr_chunk(&stderr, max)),
    )
    .await;
    assert_eq!(out, b"done\n");
    assert_eq!(err.len(), FLOOD_LEN);
    assert!(err.iter().all(|&b| b == 0));
    assert_eq!(
        A::step("exit", A::channel(&channel).exit_status())
            .await
            .unwrap(),
        ExitStatus::Code(3)
    );
}
