//! Forwarding and jump hosts without a runtime, both ends conch-blocking:
//! a server whose handler allows forwarding serves it with
//! `serve_forwards`; the client's local forward, SOCKS5 proxy, remote
//! forward on port 0 (to a target, and as a SOCKS proxy: remote dynamic
//! forwarding) and `open_direct_tcpip` each carry an echo; a refused
//! target is an open failure with the OS's words; and a session reached
//! through a jump host runs commands, then ends with an error naming the
//! jump host when the jump host's connection closes.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{bounded, login, read_all, start_server};
use conch_blocking::{
    connect_via, local_forward, serve_forwards, serve_remote_forwards, AuthAttempt, AuthDecision,
    AuthMethods, ChannelOpenFailure, Error, Forward, ForwardChannel, Listen, Listener,
    RemoteTarget, ServerHandler, Target,
};
use conch_driver::testing::{TestServer, PASSWORD, USER};

/// Password logins of [`USER`]; every forward allowed.
#[derive(Debug)]
struct Forwarding;

impl ServerHandler for Forwarding {
    fn auth(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::Password { password, .. } if user == USER && password == PASSWORD => {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }

    fn direct_forward(
        &self,
        _: &str,
        _: &ForwardChannel,
    ) -> Result<(), (ChannelOpenFailure, String)> {
        Ok(())
    }

    fn remote_forward(&self, _: &str, forward: &Forward) -> Option<Forward> {
        Some(forward.clone())
    }
}

/// A conch-blocking server allowing forwarding, on a free loopback port;
/// each connection's forwarding served on its own thread.
fn forwarding_server(test: &TestServer) -> u16 {
    let mut options = test.options.clone();
    options.handler = Arc::new(Forwarding);
    let listener = Listener::bind("127.0.0.1:0", options).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        while let Ok((session, _)) = listener.accept() {
            thread::spawn(move || serve_forwards(session));
        }
    });
    port
}

/// A thread echoing `n` connections until their EOF.
fn echo_server(n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    thread::spawn(move || {
        for mut s in l.incoming().flatten().take(n) {
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

/// Writes `data`, half-closes, and reads to the end: an echo gives it back.
fn round_trip(mut s: TcpStream, data: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    back
}

/// A SOCKS5 CONNECT (no authentication) to `host:port` by name through
/// the proxy at `proxy` (RFC 1928); the stream once granted.
fn socks5_connect(proxy: SocketAddr, host: &str, port: u16) -> TcpStream {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut method = [0u8; 2];
    s.read_exact(&mut method).unwrap();
    assert_eq!(method, [5, 0], "no authentication chosen");
    let mut request = vec![5, 1, 0, 3, u8::try_from(host.len()).unwrap()];
    request.extend_from_slice(host.as_bytes());
    request.extend_from_slice(&port.to_be_bytes());
    s.write_all(&request).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply[1], 0, "SOCKS5 request granted");
    s
}

#[test]
fn local_socks_remote_and_direct_forwards_without_a_runtime() {
    bounded(|| {
        let echo = echo_server(8);
        let test = TestServer::new();
        let port = forwarding_server(&test);
        let session = login(port, test.client_options());

        // -W
        let mut direct = session.open_direct_tcpip("127.0.0.1", echo).unwrap();
        direct.write_all(b"direct").unwrap();
        direct.send_eof().unwrap();
        assert_eq!(read_all(&direct), b"direct");

        // -L
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port: echo,
        };
        let local = local_forward(
            &session,
            &Listen::Tcp(vec![any]),
            Some(target.clone()),
            None,
        )
        .unwrap();
        let l_addr = local.local_addr().unwrap();
        assert_eq!(
            round_trip(TcpStream::connect(l_addr).unwrap(), b"-L"),
            b"-L"
        );

        // -D: the target named in the SOCKS5 request, by name.
        let socks = local_forward(&session, &Listen::Tcp(vec![any]), None, None).unwrap();
        let proxied = socks5_connect(socks.local_addr().unwrap(), "localhost", echo);
        assert_eq!(round_trip(proxied, b"-D"), b"-D");

        // -R 0: the server allocates a port and forwards it back to us.
        let forward = Forward::Tcpip {
            address: "127.0.0.1".into(),
            port: 0,
        };
        let bound = session.request_forward(&forward).unwrap();
        assert_ne!(bound, 0);
        let targets = vec![RemoteTarget {
            forward: Forward::Tcpip {
                address: "127.0.0.1".into(),
                port: bound,
            },
            target,
        }];
        // -R 0 with no target (remote dynamic): we are the SOCKS proxy.
        let dynamic = session.request_forward(&forward).unwrap();
        let mut targets = targets;
        targets.push(RemoteTarget {
            forward: Forward::Tcpip {
                address: "127.0.0.1".into(),
                port: dynamic,
            },
            target: Target::Socks,
        });
        let s = session.clone();
        thread::spawn(move || serve_remote_forwards(&s, targets, None));
        let r_port = u16::try_from(bound).unwrap();
        let back = round_trip(TcpStream::connect(("127.0.0.1", r_port)).unwrap(), b"-R");
        assert_eq!(back, b"-R");
        let server_side: SocketAddr = ([127, 0, 0, 1], u16::try_from(dynamic).unwrap()).into();
        let proxied = socks5_connect(server_side, "localhost", echo);
        assert_eq!(round_trip(proxied, b"-R dynamic"), b"-R dynamic");

        // A refused target: the server's connect failed, said as OpenSSH does.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        match session.open_direct_tcpip("127.0.0.1", closed_port) {
            Err(Error::ChannelOpenRefused {
                reason: ChannelOpenFailure::ConnectFailed,
                description,
            }) => assert_eq!(description, "Connection refused"),
            other => panic!("{other:?}"),
        }

        // A port in use is a clear error at once.
        let taken = local.local_addr().unwrap();
        let err = local_forward(&session, &Listen::Tcp(vec![taken]), None, None).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    })
}

#[test]
fn jump_host_without_a_runtime() {
    bounded(|| {
        let test = TestServer::new();
        let jump_port = forwarding_server(&test);
        // The target runs commands (conch-blocking's own listener).
        let (target, _served) = start_server(test.options.clone());
        let outer = login(jump_port, test.client_options());

        // The inner hop checks its own host key: any other is refused.
        let other_key = test.client_key.public_key().clone();
        let stranger =
            conch_blocking::ClientOptions::new(conch_blocking::HostKeyPolicy::trust_keys([
                other_key,
            ]));
        assert!(connect_via(&outer, "127.0.0.1", target.port(), stranger).is_err());

        let inner = connect_via(&outer, "127.0.0.1", target.port(), test.client_options()).unwrap();
        inner
            .authenticate(USER, AuthMethods::new().password(PASSWORD))
            .unwrap();
        let channel = inner.exec("echo through").unwrap();
        assert_eq!(read_all(&channel), b"through\n");

        outer.close();
        conch_driver::block_on::block_on(inner.driver().closed());
        let reason = inner.disconnect_reason().expect("the inner session ended");
        assert!(
            reason.to_string().contains("jump host"),
            "unclear error: {reason}"
        );
        assert!(inner.exec("echo late").is_err());
    })
}
