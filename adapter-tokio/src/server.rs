//! The server side: a TCP [`Listener`] and the [`ServerSession`] handle.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::ToSocketAddrs;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::stream::Channel;
use crate::{IncomingChannel, ServerOptions, Tokio};

/// Accepts SSH connections on a TCP socket.
#[derive(Debug)]
pub struct Listener {
    inner: conch_driver::runtime::Listener<Tokio>,
}

impl Listener {
    /// Binds to `addr` (e.g. `127.0.0.1:0` for a free loopback port), the
    /// first of its addresses that can be bound, and listens with a backlog
    /// of 4096 ([`conch_driver::listen`]; tokio's own bind asks for 128).
    pub async fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let addrs = tokio::net::lookup_host(addr).await?;
        Ok(Listener {
            inner: conch_driver::runtime::Listener::bind(addrs, options)?,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Another listener on the same socket under the same startup limits,
    /// for accepting on another thread with a runtime of its own; call it
    /// inside that runtime ([`conch_driver::runtime::Listener::try_clone`]).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Listener {
            inner: self.inner.try_clone()?,
        })
    }

    /// Accepts the next connection and starts its session (the handshake
    /// and authentication proceed in the background as the client drives
    /// them); serve it with [`ServerSession::accept_channel`].
    pub async fn accept(&self) -> io::Result<(ServerSession, SocketAddr)> {
        let (inner, peer) = self.inner.accept().await?;
        Ok((ServerSession { inner }, peer))
    }
}

/// Serves the SSH server role over any accepted byte stream.
pub fn serve_stream<S>(stream: S, options: &ServerOptions) -> ServerSession
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inner = conch_driver::runtime::serve_stream::<Tokio, _>(stream.compat(), options);
    ServerSession { inner }
}

/// A server connection (see [`conch_driver::ServerSession`], reachable
/// through `Deref`); accepted channels are tokio streams.
#[derive(Debug, Clone)]
pub struct ServerSession {
    inner: conch_driver::ServerSession,
}

impl Deref for ServerSession {
    type Target = conch_driver::ServerSession;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl ServerSession {
    /// The next session channel the client started with exec, shell or
    /// subsystem; `None` once the connection has ended.
    pub async fn accept_channel(&self) -> Option<IncomingChannel<Channel>> {
        Some(self.inner.accept_channel().await?.map(Channel::new))
    }

    /// The runtime-agnostic session underneath.
    pub fn into_driver(self) -> conch_driver::ServerSession {
        self.inner
    }
}
