//! The server side: a TCP [`Listener`] and the [`ServerSession`] handle.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::stream::Channel;
use crate::{timer, IncomingChannel, ServerOptions};

/// Accepts SSH connections on a TCP socket.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    options: ServerOptions,
}

impl Listener {
    /// Binds to `addr` (e.g. `127.0.0.1:0` for a free loopback port), the
    /// first of its addresses that can be bound, and listens with a backlog
    /// of 4096 (tokio's own bind asks for 128).
    pub async fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        let mut last_error = None;
        for addr in tokio::net::lookup_host(addr).await? {
            match listen(addr) {
                Ok(tcp) => return Ok(Listener { tcp, options }),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts the next connection and starts its session (the handshake
    /// and authentication proceed in the background as the client drives
    /// them); serve it with [`ServerSession::accept_channel`].
    pub async fn accept(&self) -> io::Result<(ServerSession, SocketAddr)> {
        let (stream, peer) = self.tcp.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((serve_stream(stream, &self.options), peer))
    }
}

/// Connections the kernel queues before they are accepted. tokio's
/// `TcpListener::bind`, like std's, asks for 128: a burst of a thousand
/// clients (a fleet tool connecting everywhere at once) overflows that, and
/// each dropped SYN costs its client a one-second retransmit. The kernel
/// caps it at `net.core.somaxconn` (4096 on current Linux).
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As tokio's own bind: a restarted server can bind again at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves the SSH server role over any accepted byte stream.
pub fn serve_stream<S>(stream: S, options: &ServerOptions) -> ServerSession
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inner = conch_driver::start_server(stream.compat(), options, timer(), |pump| {
        tokio::spawn(pump);
    });
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
}
