//! conch-blocking against an in-process server built with its own
//! listener, running commands with `sh -c` (fixtures in
//! `conch_driver::testing`).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use conch_blocking::{
    connect, AuthMethods, AuthResult, Channel, ChannelOpenFailure, ChannelRequest, ClientOptions,
    Error, ExitStatus, HostKeyPolicy, Listener, PasswordResponder, Session,
};
use conch_driver::testing::{TestServer, FLOOD_COMMAND, FLOOD_LEN, PASSWORD, STDERR_COMMAND, USER};

/// Bound on a whole test: blocking calls cannot be cancelled, so the test
/// body runs on its own thread and the test fails if it has not finished.
const TEST_LIMIT: Duration = Duration::from_secs(60);

fn bounded(body: impl FnOnce() + Send + 'static) {
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

/// Starts the test server on a free loopback port.
fn start_server() -> (SocketAddr, TestServer) {
    let server = TestServer::new();
    let listener = Listener::bind("127.0.0.1:0", server.options.clone()).expect("bind");
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        while let Ok((session, _)) = listener.accept() {
            thread::spawn(move || {
                while let Some(incoming) = session.accept_channel() {
                    TestServer::serve(incoming.map(Channel::into_inner));
                }
            });
        }
    });
    (addr, server)
}

fn login(addr: SocketAddr, server: &TestServer) -> Session {
    let session = connect("127.0.0.1", addr.port(), server.client_options()).expect("connect");
    session
        .authenticate(USER, AuthMethods::new().password(PASSWORD))
        .expect("authenticate");
    session
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("read");
    out
}

#[test]
fn exec_gives_output_and_exit_status() {
    bounded(|| {
        let (addr, server) = start_server();
        let session = login(addr, &server);
        let channel = session.exec("echo hello; exit 7").unwrap();
        assert_eq!(read_all(&channel), b"hello\n");
        assert_eq!(channel.exit_status().unwrap(), ExitStatus::Code(7));
        let channel = session.exec("kill -9 $$").unwrap();
        let status = channel.exit_status().unwrap();
        assert!(
            matches!(&status, ExitStatus::Signal { name, .. } if name == "KILL"),
            "{status:?}"
        );
    })
}

#[test]
fn stdin_is_echoed_through_cat() {
    bounded(|| {
        let (addr, server) = start_server();
        let session = login(addr, &server);
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
        let (addr, server) = start_server();
        let session = login(addr, &server);
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
        let (addr, server) = start_server();
        let session = login(addr, &server);
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
        let (addr, server) = start_server();
        let session = login(addr, &server);
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
        let (addr, server) = start_server();
        let session = login(addr, &server);
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
        let (addr, server) = start_server();
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
        let err = session.open_channel("direct-tcpip", b"x").unwrap_err();
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
        let channel = session.open_session().unwrap();
        let err = channel
            .request(ChannelRequest::XonXoff {
                client_can_do: true,
            })
            .unwrap_err();
        assert!(matches!(err, Error::RequestRefused { .. }), "{err:?}");

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
