//! The server side: a TCP [`Listener`] and the blocking [`ServerSession`].

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};

use conch_driver::block_on::block_on;

use crate::channel::Channel;
use crate::{Error, IncomingChannel, Result, ServerOptions};

// Not `conch_driver::runtime::Listener`: that one is async over a
// runtime's registered socket and spawns the pump as a task. Here `accept`
// blocks the caller's thread on std's listener and each connection gets a
// reader and a writer thread (`crate::pump`); what is shared is the bind
// with its deep backlog (`conch_driver::listen`).
/// Accepts SSH connections on a TCP socket.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    options: ServerOptions,
}

impl Listener {
    /// Binds to `addr` (e.g. `127.0.0.1:0` for a free loopback port), the
    /// first of its addresses that can be bound, and listens with a backlog
    /// of 4096 ([`conch_driver::listen`]; std's own bind asks for 128).
    pub fn bind(addr: impl ToSocketAddrs, options: ServerOptions) -> io::Result<Self> {
        Ok(Listener {
            tcp: conch_driver::listen::listen_tcp_any(addr.to_socket_addrs()?)?,
            options,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts the next connection and starts its session (its threads run
    /// the handshake and authentication as the client drives them).
    pub fn accept(&self) -> io::Result<(ServerSession, SocketAddr)> {
        let (stream, peer) = self.tcp.accept()?;
        let _ = stream.set_nodelay(true);
        let mut options = self.options.clone();
        options.peer = Some(peer);
        Ok((serve_stream(stream, &options)?, peer))
    }
}

/// Serves the SSH server role over an accepted TCP stream.
pub fn serve_stream(stream: TcpStream, options: &ServerOptions) -> io::Result<ServerSession> {
    let (inner, engine) = conch_driver::server(options);
    crate::pump::spawn(stream, engine)?;
    Ok(ServerSession { inner })
}

/// A blocking server connection (see [`conch_driver::ServerSession`]).
#[derive(Debug, Clone)]
pub struct ServerSession {
    inner: conch_driver::ServerSession,
}

impl ServerSession {
    /// The next session channel the client started with exec, shell or
    /// subsystem; `None` once the connection has ended.
    pub fn accept_channel(&self) -> Option<IncomingChannel<Channel>> {
        Some(block_on(self.inner.accept_channel())?.map(Channel::new))
    }

    /// Waits until the client has authenticated; returns the user.
    pub fn authenticated(&self) -> Result<String> {
        block_on(self.inner.authenticated())
    }

    /// The authenticated user, if any yet.
    pub fn user(&self) -> Option<String> {
        self.inner.user()
    }

    /// The connection's RNG seed.
    pub fn rng_seed(&self) -> [u8; 32] {
        self.inner.rng_seed()
    }

    /// Why the connection ended, if it has.
    pub fn disconnect_reason(&self) -> Option<Error> {
        self.inner.disconnect_reason()
    }

    /// Sends DISCONNECT and waits until the socket is closed.
    pub fn close(&self) {
        block_on(self.inner.close())
    }

    /// The runtime-agnostic session underneath.
    pub fn driver(&self) -> &conch_driver::ServerSession {
        &self.inner
    }
}
