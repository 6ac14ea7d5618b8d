//! # conch-smol
//!
//! Conch over smol: the same surface as `conch-tokio`, with the `futures-io`
//! traits smol uses. Sessions and channels are [`conch_driver`]'s own types
//! (they implement `futures-io` already); this crate adds TCP connect and
//! listen over `smol::net`, `async-io` timers, and runs each connection's
//! I/O pump as a task on smol's global executor (`smol::spawn`): [`Smol`]
//! names them, and `conch_driver::runtime` holds the logic around them.
//!
//! Besides `read`, [`Channel::read_chunk`] and [`ChannelStderr::read_chunk`]
//! read without a copy: they hand over the received bytes themselves as
//! [`Bytes`].
//!
//! ```no_run
//! use conch_smol::{connect, AuthMethods, ClientOptions, HostKeyPolicy};
//! use smol::io::AsyncReadExt;
//!
//! # async fn demo(host_key: conch_smol::PublicKey) -> Result<(), conch_smol::Error> {
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

use std::io;
use std::net::SocketAddr;

use futures_io::{AsyncRead, AsyncWrite};
use smol::net::AsyncToSocketAddrs;

mod runtime;
pub use runtime::Smol;

pub use conch_driver::conch_core::{
    AuthAttempt, AuthDecision, Bytes, ChannelOpenFailure, ChannelRequest, ClientConfig, PrivateKey,
    Prompt, PublicKey, ServerConfig, WindowSize,
};
pub use conch_driver::{
    AuthMethods, AuthResult, Channel, ChannelStderr, ClientOptions, Error, ExitStatus,
    HostKeyPolicy, HostKeyVerdict, HostKeyVerifier, IncomingChannel, KeyboardInteractive,
    PasswordResponder, PtyRequest, Result, ServerHandler, ServerName, ServerOptions, ServerSession,
    Session, SessionCommand, Signer,
};
// OpenSSH's files and habits (known_hosts, key files, the agent, authorized_keys).
pub use conch_driver::conch_core::{Forward, ForwardChannel};
pub use conch_driver::forwarding::{ForwardListener, Listen, OnFailure, RemoteTarget, Target};
pub use conch_driver::{ForwardRequest, ListenRequest, PendingOpen};
pub use conch_openssh::adapter_exports::*;

/// Local forwarding on smol (`ssh -L`, or with no target the SOCKS proxy
/// of `ssh -D`): see [`conch_driver::forwarding::local_forward`].
pub async fn local_forward(
    session: &Session,
    listen: &Listen,
    target: Option<Target>,
    on_failure: Option<OnFailure>,
) -> io::Result<ForwardListener> {
    conch_driver::forwarding::local_forward::<Smol>(session, listen, target, on_failure).await
}

/// Remote forwarding's client half on smol (`ssh -R`): see
/// [`conch_driver::forwarding::serve_remote_forwards`].
pub async fn serve_remote_forwards(
    session: &Session,
    targets: Vec<RemoteTarget>,
    on_failure: Option<OnFailure>,
) {
    conch_driver::forwarding::serve_remote_forwards::<Smol>(session.clone(), targets, on_failure)
        .await
}

/// Remote forwarding's and agent forwarding's client half on smol
/// (`ssh -R`, `ssh -A`): see [`conch_driver::forwarding::serve_forwarded`].
pub async fn serve_forwarded(
    session: &Session,
    targets: Vec<RemoteTarget>,
    agent: Option<Target>,
    on_failure: Option<OnFailure>,
) {
    conch_driver::forwarding::serve_forwarded::<Smol>(session.clone(), targets, agent, on_failure)
        .await
}

/// The server's forwarding on smol: see
/// [`conch_driver::forwarding::serve_forwards`].
pub async fn serve_forwards(session: ServerSession) {
    conch_driver::forwarding::serve_forwards::<Smol>(session).await
}

/// Runs one command over SSH and yields its stream (Twisted's
/// `SSHCommandClientEndpoint`), on smol: conch-openssh's
/// [`conch_openssh::CommandEndpoint`], whose calls here return futures.
///
/// ```no_run
/// use conch_smol::CommandEndpoint;
/// use smol::io::AsyncReadExt;
///
/// # async fn demo() -> Result<(), conch_smol::EndpointError> {
/// let endpoint = CommandEndpoint::new_connection("uname -a", "alice", "example.org").password("secret");
/// let mut channel = endpoint.connect().await?;
/// let mut out = String::new();
/// channel.read_to_string(&mut out).await.ok();
/// # Ok(()) }
/// ```
pub type CommandEndpoint = conch_openssh::CommandEndpoint<Smol>;

/// Connects to `host` (a name or an address) on `port` over TCP: every
/// address the name resolves to is tried in turn (IPv6 and IPv4), each
/// within the options' connect timeout; then the handshake, host key check
/// included, within the handshake timeout. Authenticate next.
///
/// Dropping the returned future at any point abandons the connection.
pub async fn connect(host: &str, port: u16, options: ClientOptions) -> Result<Session> {
    conch_driver::runtime::connect::<Smol>(host, port, options).await
}

/// Connects to `host:port` through `jump`, an authenticated session (a
/// jump host, `ssh -J`): see [`conch_driver::runtime::connect_via`].
pub async fn connect_via(
    jump: &Session,
    host: &str,
    port: u16,
    options: ClientOptions,
) -> Result<Session> {
    conch_driver::runtime::connect_via::<Smol>(jump, host, port, options).await
}

/// Runs the client handshake over any byte stream (a proxy, another SSH
/// channel ...). `server` names the server for host key verification.
pub async fn connect_stream<S>(
    stream: S,
    server: ServerName,
    options: ClientOptions,
) -> Result<Session>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    conch_driver::runtime::connect_stream::<Smol, _>(stream, server, options).await
}

/// Accepts SSH connections on a TCP socket.
#[derive(Debug)]
pub struct Listener {
    inner: conch_driver::runtime::Listener<Smol>,
}

impl Listener {
    /// Binds to `addr` (e.g. `127.0.0.1:0` for a free loopback port), the
    /// first of its addresses that can be bound, and listens with a backlog
    /// of 4096 ([`conch_driver::listen`]; smol's own bind asks for 128).
    pub async fn bind(addr: impl AsyncToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let addrs = smol::net::resolve(addr).await?;
        Ok(Listener {
            inner: conch_driver::runtime::Listener::bind(addrs, options)?,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Accepts the next connection and starts its session; serve it with
    /// [`ServerSession::accept_channel`].
    pub async fn accept(&self) -> io::Result<(ServerSession, SocketAddr)> {
        self.inner.accept().await
    }
}

/// Serves the SSH server role over any accepted byte stream.
pub fn serve_stream<S>(stream: S, options: &ServerOptions) -> ServerSession
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    conch_driver::runtime::serve_stream::<Smol, _>(stream, options)
}

/// SFTP (`session.sftp().await`): the driver's client, whose files are
/// `futures-io` streams with seeking and whose listings are streams, and
/// its server ([`sftp::serve`] over a [`sftp::RootFs`] or a file system of
/// your own).
pub mod sftp {
    pub use conch_driver::sftp::*;
}
