//! The command endpoint's scenarios, written once and run by each
//! adapter's tests on its own runtime (`tests/endpoint.rs` in conch-tokio,
//! conch-smol and conch-blocking), against the driver's in-process test
//! server ([`conch_driver::testing::TestServer`]) on `port`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use conch_driver::testing::{TestServer, PASSWORD, USER};
use conch_driver::HostKeyPolicy;

use crate::endpoint::{CommandEndpoint, EndpointError, EndpointRuntime};
use crate::{KnownHostsFile, KnownHostsPolicy, NoUi};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "conch-endpoint-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An endpoint running `command` as [`USER`] with [`PASSWORD`] on the test
/// server at `port`, asking nobody.
fn endpoint<R: EndpointRuntime>(command: &str, port: u16) -> CommandEndpoint<R> {
    CommandEndpoint::new_connection(command, USER, "127.0.0.1")
        .port(port)
        .password(PASSWORD)
        .ui(Arc::new(NoUi))
}

/// Reads the channel's stdout to its end and waits for its exit status.
async fn output<R: EndpointRuntime>(channel: &R::Channel) -> (String, Option<u32>) {
    let channel = R::driver_channel(channel);
    let mut out = Vec::new();
    while let Some(chunk) = channel.read_chunk(64 * 1024).await.expect("read") {
        out.extend_from_slice(&chunk);
    }
    let status = channel.exit_status().await.expect("exit status");
    (String::from_utf8_lossy(&out).into_owned(), status.code())
}

/// A new connection checks the host key against a known_hosts file (the
/// new key saved under accept-new, then found under strict checking), logs
/// in and runs the command; an existing connection runs another command
/// and stays open after it.
pub async fn new_and_existing_connections_run_commands<R: EndpointRuntime>(port: u16) {
    let dir = TempDir::new();
    let known_hosts = KnownHostsFile::new(dir.0.join("known_hosts"));
    let first = endpoint::<R>("echo hello; exit 3", port)
        .known_hosts(known_hosts.clone())
        .known_hosts_policy(KnownHostsPolicy::AcceptNew);
    let channel = R::into_future(first.connect())
        .await
        .expect("accept-new connects");
    assert_eq!(output::<R>(&channel).await, ("hello\n".into(), Some(3)));
    drop(channel);
    let saved = std::fs::read_to_string(known_hosts.path()).expect("the key was saved");
    assert_eq!(saved.lines().count(), 1, "{saved}");

    let strict = endpoint::<R>("echo first", port)
        .known_hosts(known_hosts)
        .known_hosts_policy(KnownHostsPolicy::Strict);
    let (session, channel) = R::into_future(strict.connect_with_session())
        .await
        .expect("the saved key is known");
    assert_eq!(output::<R>(&channel).await, ("first\n".into(), Some(0)));

    let again = CommandEndpoint::<R>::existing_connection(&session, "echo second");
    assert_eq!(again.command(), b"echo second");
    let channel = R::into_future(again.connect())
        .await
        .expect("runs on the session");
    assert_eq!(output::<R>(&channel).await, ("second\n".into(), Some(0)));
    drop(channel);
    let same = R::into_future(again.connect_session())
        .await
        .expect("as is");
    assert!(!R::driver_session(&same).is_closed(), "left open");
    R::driver_session(&session).close().await;
}

/// Each phase's failure is its own error: a refused TCP connection, an
/// unknown host under strict checking (with no credential sent), a wrong
/// password, a refused command channel is not reached.
pub async fn each_phase_fails_with_its_own_error<R: EndpointRuntime>(port: u16) {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    match R::into_future(endpoint::<R>("true", closed_port).connect()).await {
        Err(EndpointError::ConnectionRefused { addr }) => {
            assert!(addr.ends_with(&format!(":{closed_port}")), "{addr}")
        }
        other => panic!("expected ConnectionRefused, got {:?}", other.map(|_| ())),
    }

    let dir = TempDir::new();
    let strict = endpoint::<R>("true", port)
        .known_hosts(KnownHostsFile::new(dir.0.join("known_hosts")))
        .known_hosts_policy(KnownHostsPolicy::Strict);
    match R::into_future(strict.connect()).await {
        Err(EndpointError::HostKeyRejected { fingerprint, .. }) => {
            assert_eq!(fingerprint, TestServer::new().host_key.fingerprint())
        }
        other => panic!("expected HostKeyRejected, got {:?}", other.map(|_| ())),
    }
    assert!(!dir.0.join("known_hosts").exists(), "strict saves nothing");

    let trusted = HostKeyPolicy::trust_keys([TestServer::new().host_key]);
    let wrong = CommandEndpoint::<R>::new_connection("true", USER, "127.0.0.1")
        .port(port)
        .password("not the password")
        .ui(Arc::new(NoUi))
        .host_key_policy(trusted);
    match R::into_future(wrong.connect()).await {
        Err(EndpointError::AuthenticationFailed { methods, lost }) => {
            assert!(lost.is_none());
            assert!(methods.iter().any(|m| m == "password"), "{methods:?}");
        }
        other => panic!("expected AuthenticationFailed, got {:?}", other.map(|_| ())),
    }
}
