//! What an async adapter supplies ([`Runtime`]: name lookup, TCP sockets,
//! a place to run tasks, a timer, and its own handle types) and the client
//! and server logic written once over it: [`connect`], [`connect_stream`],
//! [`serve_stream`] and [`Listener`]. `conch-tokio` and `conch-smol` are
//! these, instantiated with their runtime; `conch-blocking` connects with
//! std's blocking calls and pumps on threads, and is a `Runtime` of a
//! thread per task only for the forwarding and jump-host code here.

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use crate::channel::Channel;
use crate::error::{Error, Result};
use crate::host_key::ServerName;
use crate::options::{ClientOptions, ServerOptions};
use crate::pump::{Sleep, Timer};
use crate::server::ServerSession;
use crate::session::Session;
use crate::start::{connect_first, resolve_error, start_client, start_server};
use crate::startups::Startups;

/// An async runtime as the driver needs it. Each call is the runtime's own
/// (its resolver, sockets, spawn and timer); the logic around them is this
/// module's.
pub trait Runtime: Send + Sync + 'static {
    /// A connected TCP stream, as a `futures-io` stream.
    type TcpStream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A listening TCP socket registered with the runtime.
    type TcpListener: fmt::Debug + Send + Sync + 'static;
    /// The adapter's client session: the driver's [`Session`], or a
    /// wrapper around it.
    type Session: Clone + Send + Sync + 'static;
    /// The adapter's channel: the driver's [`Channel`], or a wrapper
    /// giving it the runtime's I/O traits.
    type Channel: Send + 'static;

    /// Resolves `host` (a name or an address) to the addresses to try, in
    /// the resolver's order.
    fn resolve(host: &str, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;

    /// Opens a TCP connection to `addr`.
    fn connect_tcp(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;

    /// Sets `TCP_NODELAY` on a connected stream.
    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()>;

    /// Registers a bound, listening, non-blocking std listener.
    fn tcp_listener(listener: std::net::TcpListener) -> io::Result<Self::TcpListener>;

    /// The address `listener` is bound to.
    fn local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr>;

    /// Accepts the next connection on `listener`.
    fn accept(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<(Self::TcpStream, SocketAddr)>> + Send;

    /// Runs `task` to its end in the background (a connection's pump).
    fn spawn(task: impl Future<Output = ()> + Send + 'static);

    /// A future completing at `deadline`.
    fn sleep_until(deadline: Instant) -> Sleep;

    /// The driver's session as the adapter's.
    fn session(session: Session) -> Self::Session;

    /// The driver's session underneath the adapter's.
    fn driver_session(session: &Self::Session) -> &Session;

    /// The driver's channel as the adapter's.
    fn channel(channel: Channel) -> Self::Channel;

    /// The driver's channel underneath the adapter's.
    fn driver_channel(channel: &Self::Channel) -> &Channel;
}

/// The runtime's timer as the pump's [`Timer`].
struct RuntimeTimer<R>(PhantomData<fn() -> R>);

impl<R: Runtime> Timer for RuntimeTimer<R> {
    fn sleep_until(&self, deadline: Instant) -> Sleep {
        R::sleep_until(deadline)
    }
}

/// The runtime's timer, for [`crate::Engine::into_pump`].
pub fn timer<R: Runtime>() -> Arc<dyn Timer> {
    Arc::new(RuntimeTimer::<R>(PhantomData))
}

/// Connects to `host` (a name or an address) on `port` over TCP: every
/// address the name resolves to is tried in turn (IPv6 and IPv4), each
/// within the options' connect timeout; then the handshake, host key check
/// included, within the handshake timeout. Authenticate next.
///
/// Dropping the returned future at any point abandons the connection.
pub async fn connect<R: Runtime>(
    host: &str,
    port: u16,
    options: ClientOptions,
) -> Result<R::Session> {
    #[cfg(unix)]
    if let Some(command) = &options.proxy_command {
        let stream = crate::proxy::ProxyStream::spawn(command).map_err(|e| Error::Connect {
            addr: format!("proxy command {command:?}"),
            source: Arc::new(e),
        })?;
        return connect_stream::<R, _>(stream, ServerName::new(host, port), options).await;
    }
    let timer = RuntimeTimer::<R>(PhantomData);
    let mut attempt = 1;
    let (stream, addr) = loop {
        let addrs = R::resolve(host, port)
            .await
            .map(|a| options.address_family.filter(a))
            .map_err(|e| resolve_error(host, e))?;
        // The address the stream was made to is the last one tried.
        let mut tried = None;
        let made = connect_first(host, addrs, options.connect_timeout, &timer, |addr| {
            tried = Some(addr);
            R::connect_tcp(addr)
        })
        .await;
        match (made, tried) {
            (Ok(stream), Some(addr)) => break (stream, addr),
            (Err(e), _) if attempt < options.connection_attempts && !is_resolve(&e) => {
                // ssh.c `ssh_connect_direct`: a second between attempts.
                attempt += 1;
                R::sleep_until(Instant::now() + Duration::from_secs(1)).await;
            }
            (Err(e), _) => return Err(e),
            (Ok(_), None) => return Err(resolve_error(host, no_address())),
        }
    };
    // Interactive traffic and small packets: do not wait to coalesce. A
    // socket refusing the option still works, only with Nagle's delays.
    let _ = R::set_nodelay(&stream);
    let server = ServerName::new(host, port).with_address(addr.ip());
    connect_stream::<R, _>(stream, server, options).await
}

fn is_resolve(e: &Error) -> bool {
    matches!(e, Error::Resolve { .. })
}

fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no addresses found")
}

/// Runs the client handshake over any byte stream (a proxy, another SSH
/// channel ...), the pump a task on the runtime. `server` names the server
/// for host key verification.
pub async fn connect_stream<R, S>(
    stream: S,
    server: ServerName,
    options: ClientOptions,
) -> Result<R::Session>
where
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let session = start_client(stream, server, &options, timer::<R>(), R::spawn).await?;
    Ok(R::session(session))
}

/// Connects to `host:port` through `outer` (a jump host, `ssh -J`): the
/// new connection runs over a `direct-tcpip` channel of `outer` (RFC 4254
/// section 7.2) and is an ordinary session, with its own host key check
/// (`options`, `host` and `port` name it) and its own authentication to do
/// next. Hops chain: pass the session this returns as the next `outer`.
/// When `outer` ends, the channel ends and so does this connection, with
/// an I/O error saying the connection was lost.
pub async fn connect_via<R: Runtime>(
    outer: &Session,
    host: &str,
    port: u16,
    options: ClientOptions,
) -> Result<R::Session> {
    let channel = outer.open_direct_tcpip(host, port).await?;
    let stream = JumpStream {
        channel,
        outer: outer.clone(),
    };
    connect_stream::<R, _>(stream, ServerName::new(host, port), options).await
}

/// The channel a jump host carries a connection on: the inner connection's
/// socket. When the jump host's connection ends, the inner one ends with an
/// error that says so ("connection through the jump host ended: ...")
/// rather than a bare end of stream.
struct JumpStream {
    channel: Channel,
    outer: Session,
}

impl JumpStream {
    fn ended(&self, cause: impl fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("connection through the jump host ended: {cause}"),
        )
    }
}

impl AsyncRead for JumpStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        use std::task::Poll;
        match self.channel.poll_read_data(cx, buf) {
            Poll::Ready(Ok(0)) if !buf.is_empty() && self.outer.is_closed() => {
                let cause = self
                    .outer
                    .disconnect_reason()
                    .map_or_else(|| "closed".to_string(), |e| e.to_string());
                Poll::Ready(Err(self.ended(cause)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.ended(e))),
            other => other,
        }
    }
}

impl AsyncWrite for JumpStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.channel
            .poll_write_data(cx, buf)
            .map_err(|e| self.ended(e))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        self.channel.poll_shutdown_write(cx)
    }
}

/// Serves the SSH server role over any accepted byte stream, the pump a
/// task on the runtime.
pub fn serve_stream<R, S>(stream: S, options: &ServerOptions) -> ServerSession
where
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    start_server(stream, options, timer::<R>(), R::spawn)
}

/// Accepts SSH connections on a TCP socket of the runtime, turning away
/// those past [`ServerOptions::startup_limits`].
pub struct Listener<R: Runtime> {
    tcp: R::TcpListener,
    /// The same listening socket, shared by [`Listener::try_clone`]'s
    /// copies, which each register a duplicate of it with their runtime.
    socket: Arc<std::net::TcpListener>,
    options: ServerOptions,
    startups: Arc<Startups>,
}

impl<R: Runtime> fmt::Debug for Listener<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("tcp", &self.tcp)
            .field("options", &self.options)
            .finish()
    }
}

impl<R: Runtime> Listener<R> {
    /// Binds to the first of `addrs` that can be bound and listens with a
    /// backlog of [`crate::listen::LISTEN_BACKLOG`] (the runtimes' own binds
    /// ask for 128).
    pub fn bind(
        addrs: impl IntoIterator<Item = SocketAddr>,
        options: ServerOptions,
    ) -> io::Result<Self> {
        let listener = crate::listen::listen_tcp_any(addrs)?;
        listener.set_nonblocking(true)?;
        // The random early drop's RNG: from the options' seed when a test
        // fixes one (each connection's own seed is that seed too).
        let seed = options.rng_seed.unwrap_or_else(crate::options::os_seed);
        Ok(Listener {
            socket: Arc::new(listener.try_clone()?),
            tcp: R::tcp_listener(listener)?,
            startups: Startups::new(options.startup_limits, seed),
            options,
        })
    }

    /// Another listener on the same socket, under the same startup limits
    /// (one count of unauthenticated connections for both), registered
    /// with the runtime this is called in.
    ///
    /// For a server that accepts on several threads, each with a runtime of
    /// its own: a connection is served wholly on the thread that accepted
    /// it, so its tasks (the socket's pump, a command's pipes) never wake
    /// each other across threads, and the connections spread over the
    /// threads as each accepts when it is free (BENCHMARKS.md, "The same
    /// cipher again").
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Listener {
            tcp: R::tcp_listener(self.socket.try_clone()?)?,
            socket: self.socket.clone(),
            options: self.options.clone(),
            startups: self.startups.clone(),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        R::local_addr(&self.tcp)
    }

    /// Accepts the next connection and starts its session (the handshake
    /// and authentication proceed in the background as the client drives
    /// them).
    ///
    /// A connection past the startup limits (sshd's `MaxStartups`,
    /// `PerSourceMaxStartups`) is closed at once, as sshd closes it, and
    /// logged (a `tracing` event naming the limit); this then waits for the
    /// next one. So does an accept that failed for one connection (reset
    /// before it was accepted) or for want of descriptors or memory (after
    /// a pause, logged as a warning): only an error of the listening socket
    /// itself is returned, so a server's accept loop may end on it.
    pub async fn accept(&self) -> io::Result<(ServerSession, SocketAddr)> {
        use crate::listen::AcceptFailure;
        loop {
            let (stream, peer) = match R::accept(&self.tcp).await {
                Ok(accepted) => accepted,
                Err(error) => match AcceptFailure::of(&error) {
                    AcceptFailure::Connection => {
                        tracing::debug!(%error, "accept: {error}");
                        continue;
                    }
                    AcceptFailure::Resources => {
                        tracing::warn!(%error, "accept: {error}; retrying");
                        R::sleep_until(Instant::now() + crate::listen::ACCEPT_BACKOFF).await;
                        continue;
                    }
                    AcceptFailure::Listener => return Err(error),
                },
            };
            let slot = match self.startups.admit(peer.ip()) {
                Ok(slot) => slot,
                Err(refusal) => {
                    tracing::info!(%peer, %refusal, "drop connection from {peer}: {refusal}");
                    drop(stream);
                    continue;
                }
            };
            // As for a client: small interactive packets go out at once.
            let _ = R::set_nodelay(&stream);
            let mut options = self.options.clone();
            options.peer = Some(peer);
            let session = serve_stream::<R, _>(stream, &options);
            session.set_peer(peer);
            // The slot is held until the client authenticates or the
            // connection ends (LoginGraceTime ends it at the latest).
            let waiting = session.clone();
            R::spawn(async move {
                let _ = waiting.authenticated().await;
                drop(slot);
            });
            return Ok((session, peer));
        }
    }

    /// Connections accepted that have not authenticated yet.
    pub fn unauthenticated(&self) -> u32 {
        self.startups.unauthenticated()
    }
}
