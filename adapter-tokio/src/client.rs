//! The client side: connecting and the [`Session`] handle.

use std::ops::Deref;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::stream::Channel;
use crate::{ClientOptions, Result, ServerName, Tokio};

/// A client session (see [`conch_driver::Session`], reachable through
/// `Deref` for authentication and the rest); its channel-opening calls
/// return tokio streams. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) inner: conch_driver::Session,
}

impl Deref for Session {
    type Target = conch_driver::Session;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Session {
    /// Opens a `session` channel; send requests on it before using it.
    pub async fn open_session(&self) -> Result<Channel> {
        self.inner.open_session().await.map(Channel::new)
    }

    /// Opens a channel of any type (see [`conch_driver::Session::open_channel`]).
    pub async fn open_channel(&self, kind: &str, extra: &[u8]) -> Result<Channel> {
        self.inner.open_channel(kind, extra).await.map(Channel::new)
    }

    /// Opens a session channel running `command` (stdout/stdin as the stream).
    pub async fn exec(&self, command: impl AsRef<[u8]>) -> Result<Channel> {
        self.inner.exec(command).await.map(Channel::new)
    }

    /// Opens a `direct-tcpip` channel to `host:port` as the server sees it
    /// (RFC 4254 section 7.2; `ssh -W`): a tokio byte stream to the target.
    pub async fn open_direct_tcpip(&self, host: &str, port: u16) -> Result<Channel> {
        self.inner
            .open_direct_tcpip(host, port)
            .await
            .map(Channel::new)
    }

    /// Opens a `direct-streamlocal@openssh.com` channel to the server's
    /// Unix socket `path` (OpenSSH PROTOCOL section 2.4).
    pub async fn open_direct_streamlocal(&self, path: &str) -> Result<Channel> {
        self.inner
            .open_direct_streamlocal(path)
            .await
            .map(Channel::new)
    }

    /// The runtime-agnostic session underneath.
    pub fn driver(&self) -> &conch_driver::Session {
        &self.inner
    }
}

/// Connects to `host` (a name or an address) on `port` over TCP: every
/// address the name resolves to is tried in turn (IPv6 and IPv4), each
/// within the options' connect timeout; then the handshake, host key check
/// included, within the handshake timeout. Authenticate next.
///
/// Dropping the returned future at any point abandons the connection.
pub async fn connect(host: &str, port: u16, options: ClientOptions) -> Result<Session> {
    conch_driver::runtime::connect::<Tokio>(host, port, options).await
}

/// Connects to `host:port` through `jump`, an authenticated session (a
/// jump host, `ssh -J`): see [`conch_driver::runtime::connect_via`]. Chain
/// calls for more hops; authenticate the returned session next.
pub async fn connect_via(
    jump: &Session,
    host: &str,
    port: u16,
    options: ClientOptions,
) -> Result<Session> {
    conch_driver::runtime::connect_via::<Tokio>(jump.driver(), host, port, options).await
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
    conch_driver::runtime::connect_stream::<Tokio, _>(stream.compat(), server, options).await
}
