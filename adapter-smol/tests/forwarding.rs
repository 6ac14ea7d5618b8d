//! Forwarding on smol, both ends conch-smol: a server whose handler
//! allows forwarding serves it with `serve_forwards`; the client's local
//! forward, remote forward on port 0 and `open_direct_tcpip` each carry an
//! echo, and a refused target is an open failure with the OS's words.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_smol::{
    local_forward, serve_forwards, serve_remote_forwards, AuthAttempt, AuthDecision, AuthMethods,
    ChannelOpenFailure, Error, Forward, ForwardChannel, Listen, Listener, RemoteTarget,
    ServerHandler, Target,
};
use smol::io::{AsyncReadExt, AsyncWriteExt};

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

/// A thread echoing `n` connections until their EOF.
fn echo_server(n: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten().take(n) {
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
                let _ = s.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

fn round_trip(mut s: TcpStream, data: &[u8]) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(data).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    back
}

#[test]
fn local_remote_and_direct_forwards_on_smol() {
    let echo = echo_server(8);
    let test = TestServer::new();
    let mut options = test.options;
    options.handler = Arc::new(Forwarding);
    let client_options = {
        let mut o = conch_smol::ClientOptions::new(conch_smol::HostKeyPolicy::trust_keys([test
            .host_key
            .clone()]));
        o.connect_timeout = Some(Duration::from_secs(10));
        o
    };
    smol::block_on(async {
        let listener = Listener::bind("127.0.0.1:0", options).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        smol::spawn(async move {
            while let Ok((session, _)) = listener.accept().await {
                smol::spawn(serve_forwards(session)).detach();
            }
        })
        .detach();
        let session = conch_smol::connect("127.0.0.1", port, client_options)
            .await
            .unwrap();
        session
            .authenticate(USER, AuthMethods::new().password(PASSWORD))
            .await
            .unwrap();

        // -W
        let mut direct = session.open_direct_tcpip("127.0.0.1", echo).await.unwrap();
        direct.write_all(b"direct").await.unwrap();
        direct.close().await.unwrap();
        let mut back = Vec::new();
        direct.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"direct");

        // -L
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let local = local_forward(
            &session,
            &Listen::Tcp(vec![any]),
            Some(Target::Tcp {
                host: "127.0.0.1".into(),
                port: echo,
            }),
            None,
        )
        .await
        .unwrap();
        let l_addr = local.local_addr().unwrap();
        let back =
            smol::unblock(move || round_trip(TcpStream::connect(l_addr).unwrap(), b"-L")).await;
        assert_eq!(back, b"-L");

        // -R 0: the server allocates a port and forwards it back to us.
        let forward = Forward::Tcpip {
            address: "127.0.0.1".into(),
            port: 0,
        };
        let bound = session.request_forward(&forward).await.unwrap();
        assert_ne!(bound, 0);
        let targets = vec![RemoteTarget {
            forward: Forward::Tcpip {
                address: "127.0.0.1".into(),
                port: bound,
            },
            target: Target::Tcp {
                host: "127.0.0.1".into(),
                port: echo,
            },
        }];
        let s = session.clone();
        smol::spawn(async move { serve_remote_forwards(&s, targets, None).await }).detach();
        let r_port = u16::try_from(bound).unwrap();
        let back = smol::unblock(move || {
            round_trip(TcpStream::connect(("127.0.0.1", r_port)).unwrap(), b"-R")
        })
        .await;
        assert_eq!(back, b"-R");

        // A refused target: the server's connect failed, said as OpenSSH does.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        match session.open_direct_tcpip("127.0.0.1", closed_port).await {
            Err(Error::ChannelOpenRefused {
                reason: ChannelOpenFailure::ConnectFailed,
                description,
            }) => assert_eq!(description, "Connection refused"),
            other => panic!("{other:?}"),
        }
    });
}
