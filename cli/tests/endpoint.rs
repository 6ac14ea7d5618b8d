//! `conch_tokio::CommandEndpoint` and the Twisted Conch client how-to's examples against the
//! in-process conchd (`conch_cli::server`), and against small servers that
//! refuse: each failure is its own error variant, and dropping `connect`
//! cancels in every phase.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conch_cli::how_to::{echo, shared};
use conch_cli::server::{Conchd, Log, Passwords, ServerSetup};
use conch_core::{AuthAttempt, AuthDecision, ChannelRequest, PrivateKey, ServerConfig};
use conch_interop::TestDir;
use conch_tokio::{
    ChannelOpenFailure, CommandEndpoint, EndpointError, HostKeyPolicy, KnownHostsFile,
    KnownHostsPolicy, Listener, NoUi, ServerHandler, ServerOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STEP: Duration = Duration::from_secs(30);
const USER: &str = "alice";
const PASSWORD: &str = "endpoint-test-password";

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A conchd on a free loopback port, with its log lines kept.
struct Server {
    addr: SocketAddr,
    host_key: PrivateKey,
    client_key: PrivateKey,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start() -> Self {
        let host_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
        let client_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let log: Log = {
            let lines = lines.clone();
            Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_string()))
        };
        let setup = ServerSetup {
            host_key: host_key.clone(),
            host_certificate: None,
            trusted_user_cas: Vec::new(),
            authorized_keys: [client_key.public_key().clone()].into_iter().collect(),
            passwords: Passwords::Any(PASSWORD.into()),
            forwarding: conch_openssh::ForwardPolicy::default(),
            accept_env: Default::default(),
            log,
            sftp: Default::default(),
            limits: Default::default(),
            allow_agent_forwarding: true,
        };
        let server = Conchd::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), &setup)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(server.run());
        Server {
            addr,
            host_key,
            client_key,
            log: lines,
        }
    }

    /// An endpoint for `command` trusting this server's key and logging in
    /// with the client key.
    fn endpoint(&self, command: &str) -> CommandEndpoint {
        CommandEndpoint::new_connection(command, USER, "127.0.0.1")
            .port(self.addr.port())
            .keys([self.client_key.clone()])
            .host_key_policy(HostKeyPolicy::trust_keys([self
                .host_key
                .public_key()
                .clone()]))
    }

    /// The same without any key (password or nothing).
    fn endpoint_without_key(&self, command: &str) -> CommandEndpoint {
        CommandEndpoint::new_connection(command, USER, "127.0.0.1")
            .port(self.addr.port())
            .host_key_policy(HostKeyPolicy::trust_keys([self
                .host_key
                .public_key()
                .clone()]))
    }

    /// Waits until `n` connections have ended on the server.
    async fn ended(&self, n: usize) {
        step("server sees the connection end", async {
            loop {
                let ended = self
                    .log
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|l| l.contains(" ended: "))
                    .count();
                if ended >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

#[tokio::test]
async fn the_echo_example_gets_each_word_back() {
    let server = Server::start().await;
    let dir = TestDir::new("echo-example");
    let endpoint = CommandEndpoint::new_connection("/bin/cat", USER, "127.0.0.1")
        .port(server.addr.port())
        .keys([server.client_key.clone()])
        .known_hosts(KnownHostsFile::new(dir.join("known_hosts")))
        .known_hosts_policy(KnownHostsPolicy::AcceptNew)
        .ui(Arc::new(NoUi));
    let mut out = Vec::new();
    let status = step("echo example", echo::run(&endpoint, &mut out))
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "Server says: bif\nServer says: pow\nServer says: zot\n"
    );
}

#[tokio::test]
async fn fifty_commands_share_one_connection() {
    let server = Server::start().await;
    let out = Mutex::new(Vec::new());
    let ran = step(
        "50 echoes",
        shared::fifty_echoes(&server.endpoint("/bin/cat"), &out),
    )
    .await
    .unwrap();
    assert_eq!(ran, 50);
    let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
    for i in 0..50 {
        assert!(
            text.contains(&format!("Got some data: {i}\nLost my connection\n")),
            "{i} missing in:\n{text}"
        );
    }
    server.ended(1).await;
    let log = server.log.lock().unwrap().clone();
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("connection from"))
            .count(),
        2,
        "one connection (a line when it starts, one when it ends): {log:?}"
    );
}

#[tokio::test]
async fn existing_connection_never_closes_the_shared_connection() {
    let server = Server::start().await;
    let (session, first) = step("connect", server.endpoint("true").connect_with_session())
        .await
        .unwrap();
    drop(first);
    for i in 0..3 {
        let endpoint = CommandEndpoint::existing_connection(&session, format!("echo {i}"));
        let mut channel = step("exec", endpoint.connect()).await.unwrap();
        let mut out = String::new();
        step("read", channel.read_to_string(&mut out))
            .await
            .unwrap();
        assert_eq!(out, format!("{i}\n"));
        drop(channel);
        drop(endpoint);
    }
    // Cancelled while the channel opens: that channel goes, not the session.
    let endpoint = CommandEndpoint::existing_connection(&session, "echo never");
    let _ = tokio::time::timeout(Duration::from_micros(1), endpoint.connect()).await;
    drop(endpoint);
    let mut channel = step(
        "exec after a cancelled one",
        CommandEndpoint::existing_connection(&session, "echo still-up").connect(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "still-up\n");
    assert!(!session.is_closed());
}

#[tokio::test]
async fn a_new_connection_lives_as_long_as_its_channel() {
    let server = Server::start().await;
    let mut channel = step("connect", server.endpoint("cat").connect())
        .await
        .unwrap();
    channel.write_all(b"ping\n").await.unwrap();
    let mut buf = [0u8; 5];
    step("read", channel.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"ping\n");
    drop(channel);
    server.ended(1).await;
}

#[tokio::test]
async fn connection_refused_is_its_own_variant() {
    let port = conch_interop::free_port();
    let e = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(port)
        .host_key_policy(HostKeyPolicy::insecure_accept_any())
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(e, EndpointError::ConnectionRefused { ref addr } if addr.ends_with(&format!(":{port}"))),
        "{e:?}"
    );
}

#[tokio::test]
async fn host_key_rejected_and_changed_are_distinct() {
    let server = Server::start().await;
    let e = server
        .endpoint("true")
        .host_key_policy(HostKeyPolicy::reject_all())
        .connect()
        .await
        .unwrap_err();
    let EndpointError::HostKeyRejected { fingerprint, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*fingerprint, server.host_key.public_key().fingerprint());

    // known_hosts says another key: changed, naming the file and line.
    let dir = TestDir::new("endpoint-changed");
    let other = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let path = dir.write(
        "known_hosts",
        format!(
            "[127.0.0.1]:{} {}\n",
            server.addr.port(),
            other.public_key().to_openssh()
        ),
    );
    let e = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(server.addr.port())
        .keys([server.client_key.clone()])
        .known_hosts(KnownHostsFile::new(&path))
        .known_hosts_policy(KnownHostsPolicy::AcceptNew)
        .ui(Arc::new(NoUi))
        .connect()
        .await
        .unwrap_err();
    let EndpointError::HostKeyChanged { detail, .. } = &e else {
        panic!("{e:?}");
    };
    assert!(
        detail.contains(&format!("{}:1", path.display())),
        "{detail}"
    );

    // Unknown, asked, and the UI says no: rejected; nothing saved.
    let unknown = dir.join("unknown_hosts");
    let e = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(server.addr.port())
        .keys([server.client_key.clone()])
        .known_hosts(KnownHostsFile::new(&unknown))
        .ui(Arc::new(NoUi))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, EndpointError::HostKeyRejected { .. }), "{e:?}");
    assert!(!unknown.exists());
}

#[tokio::test]
async fn authentication_failed_carries_the_methods() {
    let server = Server::start().await;
    let stranger = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let e = server
        .endpoint_without_key("true")
        .connect()
        .await
        .unwrap_err();
    // No credential at all: the server's list comes back.
    let EndpointError::AuthenticationFailed {
        methods,
        lost: None,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(methods, &["publickey", "password", "keyboard-interactive"]);
    let endpoint = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(server.addr.port())
        .keys([stranger])
        .password("wrong")
        .host_key_policy(HostKeyPolicy::trust_keys([server
            .host_key
            .public_key()
            .clone()]));
    let e = endpoint.connect().await.unwrap_err();
    assert!(
        matches!(e, EndpointError::AuthenticationFailed { lost: None, .. }),
        "{e:?}"
    );
    // The password (also answering keyboard-interactive) gets in.
    let mut channel = CommandEndpoint::new_connection("echo pw", USER, "127.0.0.1")
        .port(server.addr.port())
        .password(PASSWORD)
        .host_key_policy(HostKeyPolicy::trust_keys([server
            .host_key
            .public_key()
            .clone()]))
        .connect()
        .await
        .unwrap();
    let mut out = String::new();
    channel.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, "pw\n");
}

#[tokio::test]
async fn a_password_prompt_is_asked_only_when_needed() {
    let server = Server::start().await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let prompt = {
        let asked = asked.clone();
        Arc::new(move |text: &str, _echo: bool| {
            asked.lock().unwrap().push(text.to_string());
            Some(PASSWORD.to_string())
        })
    };
    // A key that works: nobody is asked.
    server
        .endpoint("true")
        .password_prompt(prompt.clone())
        .connect()
        .await
        .unwrap();
    assert!(asked.lock().unwrap().is_empty());
    // No key: keyboard-interactive asks first (as OpenSSH's default order).
    server
        .endpoint_without_key("true")
        .password_prompt(prompt)
        .connect()
        .await
        .unwrap();
    assert_eq!(*asked.lock().unwrap(), ["Password: "]);
}

/// A server that lets anyone in and refuses what `refuse` names.
#[derive(Debug)]
struct Refuser {
    refuse_channel: bool,
}

impl ServerHandler for Refuser {
    fn auth(&self, _user: &str, attempt: &AuthAttempt) -> AuthDecision {
        match attempt {
            AuthAttempt::None => AuthDecision::Accept,
            _ => AuthDecision::Reject,
        }
    }

    fn channel_open(
        &self,
        _user: &str,
        _kind: &str,
        _data: &[u8],
    ) -> Result<(), (ChannelOpenFailure, String)> {
        if self.refuse_channel {
            Err((
                ChannelOpenFailure::AdministrativelyProhibited,
                "no sessions today".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn channel_request(&self, _user: &str, request: &ChannelRequest) -> bool {
        !matches!(request, ChannelRequest::Exec { .. })
    }
}

async fn refusing_server(refuse_channel: bool) -> (SocketAddr, PrivateKey) {
    let host_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let options = ServerOptions::new(
        ServerConfig::new(vec![host_key.clone()]),
        Refuser { refuse_channel },
    );
    let listener = Listener::bind("127.0.0.1:0", options).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((session, _)) = listener.accept().await {
            tokio::spawn(async move { while session.accept_channel().await.is_some() {} });
        }
    });
    (addr, host_key)
}

#[tokio::test]
async fn channel_open_and_exec_refusals_are_distinct() {
    for refuse_channel in [true, false] {
        let (addr, host_key) = refusing_server(refuse_channel).await;
        let e = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
            .port(addr.port())
            .host_key_policy(HostKeyPolicy::trust_keys([host_key.public_key().clone()]))
            .connect()
            .await
            .unwrap_err();
        match (refuse_channel, &e) {
            (
                true,
                EndpointError::ChannelOpenRefused {
                    reason,
                    description,
                },
            ) => {
                assert_eq!(*reason, ChannelOpenFailure::AdministrativelyProhibited);
                assert_eq!(reason.code(), 1);
                assert_eq!(description, "no sessions today");
            }
            (false, EndpointError::RequestRefused { request }) => assert_eq!(request, "exec"),
            _ => panic!("refuse_channel={refuse_channel}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn dropping_connect_during_the_handshake_closes_the_socket() {
    // A peer that accepts TCP and never speaks: the connect future waits in
    // the handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let endpoint = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(port)
        .host_key_policy(HostKeyPolicy::insecure_accept_any());
    let attempt = tokio::time::timeout(Duration::from_millis(300), endpoint.connect()).await;
    assert!(attempt.is_err(), "cannot have connected");
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut received = Vec::new();
    // The client's identification line, then EOF: it hung up.
    step(
        "EOF from the abandoned client",
        socket.read_to_end(&mut received),
    )
    .await
    .unwrap();
    assert!(received.starts_with(b"SSH-2.0-"), "{received:?}");
}

#[tokio::test]
async fn a_prompt_that_gives_up_is_cancelled() {
    let server = Server::start().await;
    let e = server
        .endpoint_without_key("true")
        .password_prompt(Arc::new(|_: &str, _: bool| None))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(e, EndpointError::Cancelled), "{e:?}");
}

/// Offers only `password`, and turns every attempt down; says on `closed`
/// when a connection has ended.
#[derive(Debug)]
struct PasswordOnly;

impl ServerHandler for PasswordOnly {
    fn auth(&self, _user: &str, _attempt: &AuthAttempt) -> AuthDecision {
        AuthDecision::Reject
    }
}

#[tokio::test]
async fn dropping_connect_during_authentication_closes_the_connection() {
    let host_key = PrivateKey::generate_ed25519(&mut rand_core::UnwrapErr(getrandom::SysRng));
    let mut config = ServerConfig::new(vec![host_key.clone()]);
    config.auth_methods = vec!["password".into()];
    let listener = Listener::bind("127.0.0.1:0", ServerOptions::new(config, PasswordOnly))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (session, _) = listener.accept().await.unwrap();
        session.closed().await;
        let _ = closed_tx.send(session.disconnect_reason());
    });

    let (asked_tx, asked_rx) = std::sync::mpsc::channel();
    let asked_tx = Mutex::new(asked_tx);
    // The user takes their time to type the password (asked off the
    // runtime's threads, so the connect future stays pending meanwhile).
    let prompt = Arc::new(move |_: &str, _: bool| {
        let _ = asked_tx.lock().unwrap().send(());
        std::thread::sleep(Duration::from_secs(2));
        None
    });
    let endpoint = CommandEndpoint::new_connection("true", USER, "127.0.0.1")
        .port(port)
        .host_key_policy(HostKeyPolicy::trust_keys([host_key.public_key().clone()]))
        .password_prompt(prompt);
    let mut connect = Box::pin(endpoint.connect());
    let shown = tokio::time::timeout(STEP, async {
        loop {
            tokio::select! {
                r = &mut connect => panic!("connect finished: {:?}", r.err()),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {
                    if asked_rx.try_recv().is_ok() { return; }
                }
            }
        }
    })
    .await;
    assert!(shown.is_ok(), "the password prompt was never shown");
    // Give up while the prompt is showing: the connection ends at once,
    // before the user answers.
    let dropped_at = std::time::Instant::now();
    drop(connect);
    let reason = step("server sees the connection end", closed_rx)
        .await
        .unwrap();
    assert!(
        dropped_at.elapsed() < Duration::from_secs(2),
        "waited for the prompt"
    );
    assert!(reason.is_some(), "the connection ended");
}
