//! A listener cloned onto another thread's runtime
//! ([`conch_tokio::Listener::try_clone`]), as conchd serves on a thread per
//! core: the clone accepts and serves on its own thread while the
//! original's runtime is not running at all, and both count
//! unauthenticated connections together (sshd's `PerSourceMaxStartups`
//! holds across the threads). Loopback only; every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_driver::StartupLimits;
use conch_tokio::{Listener, ServerOptions};

const WAIT: Duration = Duration::from_secs(10);

fn one_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The test server's options, with at most `per_source` unauthenticated
/// connections from one address.
fn options(per_source: u32) -> ServerOptions {
    let mut options = TestServer::new().options;
    options.startup_limits = StartupLimits {
        per_source: Some(per_source),
        ..StartupLimits::default()
    };
    options
}

/// Binds on a runtime of the calling thread's and clones the listener onto
/// a second runtime; returns both runtimes with their listeners.
fn bind_and_clone(
    options: ServerOptions,
) -> (
    (tokio::runtime::Runtime, Listener),
    (tokio::runtime::Runtime, Listener),
) {
    let first = one_thread_runtime();
    let listener = first
        .block_on(Listener::bind("127.0.0.1:0", options))
        .expect("bind");
    let second = one_thread_runtime();
    let clone = {
        let _inside = second.enter();
        listener.try_clone().expect("clone")
    };
    ((first, listener), (second, clone))
}

/// Accepts on `listener` in `runtime` on a thread of its own until the
/// test ends, reporting each connection's peer address.
fn accept_on_a_thread(
    runtime: tokio::runtime::Runtime,
    listener: Listener,
) -> mpsc::Receiver<SocketAddr> {
    let (accepted, peers) = mpsc::channel();
    thread::spawn(move || {
        runtime.block_on(async move {
            // The sessions are kept, so none ends before the test does.
            let mut sessions = Vec::new();
            while let Ok((session, peer)) = listener.accept().await {
                sessions.push(session);
                if accepted.send(peer).is_err() {
                    return;
                }
            }
        })
    });
    peers
}

/// A TCP connection from `source` (any 127.0.0.0/8 address is this host).
fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&local.into()).expect("bind source");
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket
        .connect_timeout(&server.into(), WAIT)
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// What the server says first: its identification line when it serves the
/// connection, nothing (EOF or a reset) when it dropped it at once.
fn first_words(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = [0u8; 8];
    let mut got = Vec::new();
    while got.len() < buf.len() {
        match stream.read(&mut buf[got.len()..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn a_clone_accepts_and_serves_a_login_on_its_own_thread() {
    let ((first, listener), (second, clone)) = bind_and_clone(TestServer::new().options);
    let port = listener.local_addr().unwrap().port();
    // Only the clone accepts; the first runtime is not running meanwhile,
    // so a clone still tied to its reactor would never see a connection.
    let peers = accept_on_a_thread(second, clone);
    let client = one_thread_runtime();
    let logged_in = client.block_on(async {
        let session = conch_tokio::connect("127.0.0.1", port, TestServer::new().client_options())
            .await
            .expect("connect");
        tokio::time::timeout(WAIT, session.auth_password(USER, PASSWORD))
            .await
            .expect("login in time")
    });
    assert!(
        matches!(&logged_in, Ok(result) if result.is_success()),
        "{logged_in:?}"
    );
    assert!(peers.recv_timeout(WAIT).is_ok(), "the clone accepted it");
    drop((first, listener));
}

#[test]
fn the_clones_count_unauthenticated_connections_together() {
    let ((first, listener), (second, clone)) = bind_and_clone(options(1));
    let port = listener.local_addr().unwrap().port();
    // One connection from 127.0.0.2, accepted by the first listener and
    // left unauthenticated: it holds that address's one slot.
    let mut held = connect_from("127.0.0.2", port);
    let (_session, peer) = first
        .block_on(async { tokio::time::timeout(WAIT, listener.accept()).await })
        .expect("accepted in time")
        .expect("accepted");
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
    held.write_all(b"SSH-2.0-held\r\n").unwrap();
    // The clone, on its own thread, turns away a second one from there...
    let peers = accept_on_a_thread(second, clone);
    let mut refused = connect_from("127.0.0.2", port);
    assert_eq!(first_words(&mut refused), b"", "dropped without a word");
    // ...and serves one from another address.
    let mut served = connect_from("127.0.0.3", port);
    assert_eq!(first_words(&mut served), b"SSH-2.0-");
    assert_eq!(
        peers.recv_timeout(WAIT).map(|p| p.ip().to_string()),
        Ok("127.0.0.3".to_string())
    );
    drop(held);
}
