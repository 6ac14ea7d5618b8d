//! # conch-tokio
//!
//! Conch over tokio: connect over TCP (names resolved, IPv4 and IPv6, connect
//! and handshake timeouts) or over any `AsyncRead + AsyncWrite` stream,
//! authenticate, and talk to remote commands through [`Channel`]s that are
//! tokio byte streams. A [`Listener`] serves connections.
//!
//! Sessions and channels are [`conch_driver`]'s, wrapped so channels
//! implement tokio's I/O traits; every driver method is reachable through
//! `Deref` (auth calls, requests, `exit_status` ...). The I/O pump of each
//! connection runs as a spawned task, so a tokio runtime with the time
//! driver enabled must be running. [`Tokio`] names tokio's calls for the
//! driver; the logic around them is `conch_driver::runtime`'s.
//!
//! ```no_run
//! use conch_tokio::{connect, AuthMethods, ClientOptions, HostKeyPolicy};
//! use tokio::io::AsyncReadExt;
//!
//! # async fn demo(host_key: conch_tokio::PublicKey) -> Result<(), conch_tokio::Error> {
//! let options = ClientOptions::new(HostKeyPolicy::trust_keys([host_key]));
//! let session = connect("example.org", 22, options).await?;
//! session.authenticate("alice", AuthMethods::new().password("secret")).await?;
//! let mut channel = session.exec("uname -a").await?;
//! let mut out = String::new();
//! channel.read_to_string(&mut out).await?;
//! println!("{out} ({})", channel.exit_status().await?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod runtime;
mod server;
pub mod sftp;
mod stream;

pub use client::{connect, connect_stream, connect_via, Session};
// OpenSSH's files and habits (known_hosts, key files, the agent, authorized_keys).
pub use conch_openssh::adapter_exports::*;
pub use runtime::Tokio;
pub use server::{serve_stream, Listener, ServerSession};
pub use stream::{Channel, ChannelStderr};

pub use conch_driver::conch_core::{
    AuthAttempt, AuthDecision, Bytes, ChannelOpenFailure, ChannelRequest, ClientConfig, PrivateKey,
    Prompt, PublicKey, ServerConfig, WindowSize,
};
pub use conch_driver::conch_core::{Forward, ForwardChannel};
pub use conch_driver::forwarding::{ForwardListener, Listen, OnFailure, RemoteTarget, Target};
pub use conch_driver::{
    AuthMethods, AuthResult, ClientOptions, Error, ExitStatus, HostKeyPolicy, HostKeyVerdict,
    HostKeyVerifier, IncomingChannel, KeyboardInteractive, PasswordResponder, PtyRequest, Result,
    ServerHandler, ServerName, ServerOptions, SessionCommand, Signer,
};
pub use conch_driver::{ForwardRequest, ListenRequest, PendingOpen};

/// Runs one command over SSH and yields its stream (Twisted's
/// `SSHCommandClientEndpoint`), on tokio: conch-openssh's
/// [`conch_openssh::CommandEndpoint`], whose calls here return futures.
///
/// ```no_run
/// use conch_tokio::{AgentClient, CommandEndpoint};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # async fn demo() -> Result<(), conch_tokio::EndpointError> {
/// let mut endpoint = CommandEndpoint::new_connection("/bin/cat", "alice", "example.org")
///     .port(22)
///     .password("secret");
/// if let Some(agent) = AgentClient::from_env() {
///     endpoint = endpoint.agent(agent);
/// }
/// let mut channel = endpoint.connect().await?;
/// channel.write_all(b"bif\n").await.ok();
/// channel.shutdown().await.ok();
/// let mut echoed = String::new();
/// channel.read_to_string(&mut echoed).await.ok();
/// # Ok(()) }
/// ```
pub type CommandEndpoint = conch_openssh::CommandEndpoint<Tokio>;

/// Local forwarding on tokio (`ssh -L`, or with no target the SOCKS proxy
/// of `ssh -D`): see [`conch_driver::forwarding::local_forward`].
///
/// ```no_run
/// use conch_tokio::{local_forward, Listen, Target};
///
/// # async fn demo(session: conch_tokio::Session) -> std::io::Result<()> {
/// // Like `ssh -L 127.0.0.1:5433:db.internal:5432`.
/// let listener = local_forward(
///     &session,
///     &Listen::Tcp(vec!["127.0.0.1:5433".parse().unwrap()]),
///     Some(Target::Tcp { host: "db.internal".into(), port: 5432 }),
///     None,
/// )
/// .await?;
/// println!("forwarding {:?}", listener.local_addr());
/// # Ok(()) }
/// ```
pub async fn local_forward(
    session: &Session,
    listen: &Listen,
    target: Option<Target>,
    on_failure: Option<OnFailure>,
) -> std::io::Result<ForwardListener> {
    conch_driver::forwarding::local_forward::<Tokio>(session.driver(), listen, target, on_failure)
        .await
}

/// Remote forwarding's client half on tokio (`ssh -R`): see
/// [`conch_driver::forwarding::serve_remote_forwards`].
pub async fn serve_remote_forwards(
    session: &Session,
    targets: Vec<RemoteTarget>,
    on_failure: Option<OnFailure>,
) {
    conch_driver::forwarding::serve_remote_forwards::<Tokio>(
        session.driver().clone(),
        targets,
        on_failure,
    )
    .await
}

/// Remote forwarding's and agent forwarding's client half on tokio
/// (`ssh -R`, `ssh -A`): see [`conch_driver::forwarding::serve_forwarded`].
pub async fn serve_forwarded(
    session: &Session,
    targets: Vec<RemoteTarget>,
    agent: Option<Target>,
    on_failure: Option<OnFailure>,
) {
    conch_driver::forwarding::serve_forwarded::<Tokio>(
        session.driver().clone(),
        targets,
        agent,
        on_failure,
    )
    .await
}

/// The server's forwarding on tokio: see
/// [`conch_driver::forwarding::serve_forwards`].
pub async fn serve_forwards(session: ServerSession) {
    conch_driver::forwarding::serve_forwards::<Tokio>(session.into_driver()).await
}
