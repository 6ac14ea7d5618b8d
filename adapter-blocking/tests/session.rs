//! conch-blocking against an in-process server built with its own
//! listener, running commands with `sh -c` (fixtures in
//! `conch_driver::testing`).

mod common;

use std::io::{Read, Write};
use std::thread;

use common::{bounded, logged_in, read_all, start_server};
use conch_blocking::{
    connect, AuthMethods, AuthResult, Channel, ChannelRequest, ClientOptions, Error, ExitStatus,
    HostKeyPolicy, PasswordResponder, Session,
};
use conch_driver::testing::checks::{assert_killed_by, assert_refusals};
use conch_driver::testing::{TestServer, FLOOD_COMMAND, FLOOD_LEN, PASSWORD, STDERR_COMMAND, USER};

#[test]
fn exec_gives_output_and_exit_status() {
    bounded(|| {
        let session = logged_in();
        let channel = session.exec("echo hello; exit 7").unwrap();
        assert_eq!(read_all(&channel), b"hello\n");
        assert_eq!(channel.exit_status().unwrap(), ExitStatus::Code(7));
        let channel = session.exec("kill -9 $$").unwrap();
        assert_killed_by(&channel.exit_status().unwrap(), "KILL", 137);
    })
}

#[test]
fn stdin_is_echoed_through_cat() {
    bounded(|| {
        let session = logged_in();
        let mut channel = session.exec("cat").unwrap();
        for word in ["bif", "pow", "zot"] {
            channel.write_all(word.as_bytes()).unwrap();
            let mut buf = [0u8; 3];
            channel.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, word.as_bytes());
        }
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let channel_ref = &channel;
        let data_ref = &data;
        let echoed = thread::scope(|s| {
            s.spawn(move || {
                let channel = channel_ref;
                let data = data_ref;
                let mut writer = channel;
                writer.write_all(data).unwrap();
                channel.send_eof().unwrap();
            });
            read_all(channel_ref)
        });
        assert!(
            echoed == data,
            "echoed data differs ({} bytes)",
            echoed.len()
        );
        assert!(channel.exit_status().unwrap().success());
    })
}

#[test]
fn stderr_is_kept_apart() {
    bounded(|| {
        let session = logged_in();
        let channel = session.exec(STDERR_COMMAND).unwrap();
        let stderr = channel.stderr();
        let (out, err) = thread::scope(|s| {
            let err = s.spawn(|| read_all(&stderr));
            (read_all(&channel), err.join().unwrap())
        });
        assert_eq!(out, b"to-stdout\n");
        assert_eq!(err, b"to-stderr\n");
        assert_eq!(channel.exit_status().unwrap(), ExitStatus::Code(3));
    })
}

#[test]
fn fifty_commands_from_several_threads_share_one_connection() {
    bounded(|| {
        let session = logged_in();
        thread::scope(|s| {
            for t in 0..5 {
                let session = session.clone();
                s.spawn(move || {
                    for i in (t * 10)..(t * 10 + 10) {
                        let channel = session.exec(format!("/bin/echo {i}")).unwrap();
                        assert_eq!(read_all(&channel), format!("{i}\n").into_bytes());
                        assert!(channel.exit_status().unwrap().success());
                    }
                });
            }
        });
    })
}

#[test]
fn half_close_lets_the_remote_see_eof_and_output_still_flows() {
    bounded(|| {
        let session = logged_in();
        let mut channel = session.exec("cat; echo remote-saw-eof").unwrap();
        channel.write_all(b"last words\n").unwrap();
        channel.send_eof().unwrap();
        assert!(
            channel.write_all(b"more").is_err(),
            "write after EOF must fail"
        );
        assert_eq!(read_all(&channel), b"last words\nremote-saw-eof\n");
        assert!(channel.exit_status().unwrap().success());
    })
}

#[test]
fn a_stalled_reader_does_not_stall_other_channels() {
    bounded(|| {
        let session = logged_in();
        let window = conch_blocking::ClientConfig::default().channels.window_size as usize;
        let flood = session.exec(FLOOD_COMMAND).unwrap();
        let mut echo = session.exec("cat").unwrap();
        for round in 0..20 {
            let msg = format!("round {round}\n");
            echo.write_all(msg.as_bytes()).unwrap();
            let mut buf = vec![0u8; msg.len()];
            echo.read_exact(&mut buf).unwrap();
            assert_eq!(buf, msg.as_bytes());
            let other = session.exec(format!("echo {round}")).unwrap();
            assert_eq!(read_all(&other), format!("{round}\n").into_bytes());
        }
        let unread = flood.buffered_len();
        assert!(unread > 0, "the flood should have filled its window");
        assert!(
            unread <= window,
            "unread data {unread} exceeds the window {window}"
        );
        echo.send_eof().unwrap();
        let all = read_all(&flood);
        assert_eq!(all.len(), FLOOD_LEN);
        assert!(all.iter().all(|&b| b == 0));
        assert!(flood.exit_status().unwrap().success());
    })
}

#[test]
fn auth_methods_refusals_and_host_key() {
    bounded(|| {
        let server = TestServer::new();
        let (addr, _served) = start_server(server.options.clone());
        let port = addr.port();
        let session = connect("127.0.0.1", port, server.client_options()).unwrap();
        let r = session.auth_password(USER, "wrong").unwrap();
        assert!(matches!(r, AuthResult::Failure { .. }), "{r:?}");
        let r = session.auth_publickey(USER, &server.client_key).unwrap();
        assert_eq!(r, AuthResult::Success);

        let session = connect("127.0.0.1", port, server.client_options()).unwrap();
        let methods = AuthMethods::new()
            .password("wrong")
            .keyboard_interactive(PasswordResponder(PASSWORD.into()));
        session.authenticate(USER, methods).unwrap();
        let open = session.open_channel("direct-tcpip", b"x").unwrap_err();
        let channel = session.open_session().unwrap();
        let request = channel
            .request(ChannelRequest::XonXoff {
                client_can_do: true,
            })
            .unwrap_err();
        assert_refusals(&open, &request);

        let other = TestServer::new().client_key.public_key().clone();
        let options = ClientOptions::new(HostKeyPolicy::trust_keys([other]));
        let err = connect("127.0.0.1", port, options).unwrap_err();
        assert!(matches!(err, Error::HostKeyRejected { .. }), "{err:?}");

        let closed_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connect(
            "127.0.0.1",
            closed_port,
            ClientOptions::insecure_accept_any_host_key(),
        )
        .unwrap_err();
        assert!(err.is_connection_refused(), "{err:?}");
    })
}

#[test]
fn session_and_channels_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Session>();
    send_sync::<Channel>();
    send_sync::<conch_blocking::ServerSession>();
}

/// Reads with `read_chunk` alone until the end, checking every chunk
/// against `max`; the end must stay the end.
fn read_chunks_to_end(
    max: usize,
    mut read_chunk: impl FnMut(usize) -> std::io::Result<Option<conch_blocking::Bytes>>,
) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = read_chunk(max).unwrap() {
        assert!(
            !chunk.is_empty() && chunk.len() <= max,
            "a chunk of {} bytes for max {max}",
            chunk.len()
        );
        out.extend_from_slice(&chunk);
    }
    assert!(read_chunk(max).unwrap().is_none());
    out
}

#[test]
fn read_chunk_and_read_take_turns_on_one_stream_in_order() {
    bounded(|| {
        let session = logged_in();
        let channel = std::sync::Arc::new(session.exec("cat").unwrap());
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let writer = {
            let (channel, data) = (channel.clone(), data.clone());
            thread::spawn(move || {
                (&*channel).write_all(&data).unwrap();
                channel.send_eof().unwrap();
            })
        };
        // Smaller than most packets cat's output arrives in: chunks are split.
        const MAX: usize = 1000;
        let (mut echoed, mut split, mut buf) = (Vec::new(), false, [0u8; 777]);
        for turn in 0.. {
            if turn % 3 == 2 {
                let n = (&*channel).read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                echoed.extend_from_slice(&buf[..n]);
                continue;
            }
            let Some(chunk) = channel.read_chunk(MAX).unwrap() else {
                break;
            };
            assert!(!chunk.is_empty() && chunk.len() <= MAX, "{}", chunk.len());
            split |= chunk.len() == MAX;
            echoed.extend_from_slice(&chunk);
        }
        writer.join().unwrap();
        assert!(split, "no chunk was cut at max");
        assert!(channel.read_chunk(MAX).unwrap().is_none());
        assert_eq!(echoed.len(), data.len());
        assert!(echoed == data, "the bytes differ or are out of order");
        assert!(channel.exit_status().unwrap().success());
    });
}

#[test]
fn read_chunk_alone_reopens_the_window_on_stdout_and_stderr() {
    bounded(|| {
        let session = logged_in();
        let window = conch_blocking::ClientConfig::default().channels.window_size as usize;
        assert!(FLOOD_LEN >= 3 * window);
        // A command printing several windows: it ends only if every chunk
        // taken gives its bytes back to the window.
        let flood = session.exec(FLOOD_COMMAND).unwrap();
        let out = read_chunks_to_end(64 * 1024, |max| flood.read_chunk(max));
        assert_eq!(out.len(), FLOOD_LEN);
        assert!(out.iter().all(|&b| b == 0));
        assert!(flood.exit_status().unwrap().success());

        // Only stderr floods, so reading it before stdout cannot stall.
        let channel = session
            .exec(format!("{FLOOD_COMMAND} >&2; echo done; exit 3"))
            .unwrap();
        let stderr = channel.stderr();
        let err = read_chunks_to_end(64 * 1024, |max| stderr.read_chunk(max));
        assert_eq!(err.len(), FLOOD_LEN);
        assert!(err.iter().all(|&b| b == 0));
        let out = read_chunks_to_end(64 * 1024, |max| channel.read_chunk(max));
        assert_eq!(out, b"done\n");
        assert_eq!(channel.exit_status().unwrap(), ExitStatus::Code(3));
    });
}

/// The verifier is told the address the TCP connection was made to (for
/// ssh's `CheckHostIP`), as with the async adapters.
#[test]
fn the_verifier_sees_the_address_connected_to() {
    bounded(|| {
        let test = TestServer::new();
        let (addr, _served) = start_server(test.options.clone());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let record = seen.clone();
        let trusted = test.host_key.clone();
        let mut options = test.client_options();
        options.host_key_policy = HostKeyPolicy::custom(
            move |server: &conch_blocking::ServerName, key: &conch_blocking::PublicKey| {
                *record.lock().unwrap() = Some(server.clone());
                *key == trusted
            },
        );
        let _session = connect("127.0.0.1", addr.port(), options).unwrap();
        let server = seen
            .lock()
            .unwrap()
            .clone()
            .expect("the verifier was asked");
        assert_eq!(server.address, Some(addr.ip()));
    })
}
