//! The sockets of forwarding: listeners (TCP through the runtime, Unix
//! sockets through `async-net`, on async-io's reactor) whose accept loops
//! run as tasks until stopped or until their session ends, and outgoing
//! connections. Unix streams are async-net's rather than a bare
//! `async_io::Async`, whose close only flushes: a forwarded EOF must shut
//! the socket's write side (RFC 4254 section 5.3), or the local peer
//! waits for an end that never comes.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Instant;

use conch_core::{Forward, ForwardChannel};
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::{select, Either};

use super::{splice, Listen, Target};
use crate::runtime::Runtime;
use crate::server::ServerSession;
use crate::wakers::WakerSet;

/// A byte stream of either socket family.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
pub(crate) type BoxStream = Box<dyn Stream>;

/// A stop signal shared by a listener's handle and its accept loops.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    wakers: Mutex<WakerSet>,
}

impl Stop {
    /// Stops the loops.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wake_all();
    }

    async fn stopped(&self) {
        poll_fn(|cx| {
            if self.stopped.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            self.wakers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .register(cx.waker());
            // Stopped between the check and the registration: look again.
            if self.stopped.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// A running forwarding listener. Dropping it (or [`ForwardListener::stop`])
/// stops accepting; connections already forwarded go on.
#[derive(Debug)]
pub struct ForwardListener {
    stop: Arc<Stop>,
    local_addr: Option<SocketAddr>,
}

impl ForwardListener {
    /// The TCP address bound (its port is the one allocated when port 0
    /// was asked for); `None` for a Unix socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Stops accepting.
    pub fn stop(&self) {
        self.stop.stop();
    }
}

impl Drop for ForwardListener {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// One listening socket.
enum Acceptor<R: Runtime> {
    Tcp(R::TcpListener),
    #[cfg(unix)]
    Unix(async_net::unix::UnixListener, PathBuf),
}

impl<R: Runtime> Acceptor<R> {
    async fn accept(&self) -> io::Result<(BoxStream, Option<SocketAddr>)> {
        match self {
            Acceptor::Tcp(l) => {
                let (s, peer) = R::accept(l).await?;
                let _ = R::set_nodelay(&s);
                Ok((Box::new(s), Some(peer)))
            }
            #[cfg(unix)]
            Acceptor::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Box::new(s), None))
            }
        }
    }
}

impl<R: Runtime> Drop for Acceptor<R> {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Acceptor::Unix(_, path) = self {
            // The socket file goes with its listener, as OpenSSH removes
            // it when the forward ends.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs `acceptor`'s loop as a task until `stop` or `ended`.
fn spawn_loop<R, F, Fut>(
    acceptor: Acceptor<R>,
    stop: Arc<Stop>,
    ended: Pin<Box<dyn Future<Output = ()> + Send>>,
    handler: F,
) where
    R: Runtime,
    F: Fn(BoxStream, Option<SocketAddr>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    R::spawn(async move {
        let stopped = pin!(stop.stopped());
        let mut end = pin!(select(stopped, ended));
        loop {
            match select(pin!(acceptor.accept()), end.as_mut()).await {
                Either::Left((Ok((stream, peer)), _)) => R::spawn(handler(stream, peer)),
                Either::Left((Err(_), _)) => {
                    let pause = R::sleep_until(Instant::now() + crate::listen::ACCEPT_BACKOFF);
                    if let Either::Right(_) = select(pause, end.as_mut()).await {
                        break;
                    }
                }
                Either::Right(_) => break,
            }
        }
    });
}

/// Binds a client's local listener and starts its loop.
pub(super) async fn bind<R, F, Fut>(
    listen: &Listen,
    session: crate::Session,
    handler: F,
) -> io::Result<ForwardListener>
where
    R: Runtime,
    F: Fn(BoxStream, Option<SocketAddr>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (acceptor, local_addr) = match listen {
        Listen::Tcp(addrs) => {
            let l = crate::listen::listen_tcp_any(addrs.iter().copied())?;
            l.set_nonblocking(true)?;
            let addr = l.local_addr()?;
            (Acceptor::<R>::Tcp(R::tcp_listener(l)?), Some(addr))
        }
        Listen::Unix(path) => (bind_unix::<R>(path)?, None),
    };
    let stop = Arc::new(Stop::default());
    let ended = Box::pin(async move { session.closed().await });
    spawn_loop(acceptor, stop.clone(), ended, handler);
    Ok(ForwardListener { stop, local_addr })
}

#[cfg(unix)]
fn bind_unix<R: Runtime>(path: &std::path::Path) -> io::Result<Acceptor<R>> {
    let l = async_net::unix::UnixListener::bind(path)?;
    Ok(Acceptor::Unix(l, path.to_path_buf()))
}

#[cfg(not(unix))]
fn bind_unix<R: Runtime>(_: &std::path::Path) -> io::Result<Acceptor<R>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "Unix-domain sockets are not supported here",
    ))
}

/// Connects to `target`: every address of a TCP host in turn.
pub(super) async fn connect<R: Runtime>(target: &Target) -> io::Result<BoxStream> {
    match target {
        Target::Tcp { host, port } => {
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            for addr in R::resolve(host, *port).await? {
                match R::connect_tcp(addr).await {
                    Ok(s) => {
                        let _ = R::set_nodelay(&s);
                        return Ok(Box::new(s));
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        #[cfg(unix)]
        Target::Unix(path) => Ok(Box::new(async_net::unix::UnixStream::connect(path).await?)),
        #[cfg(not(unix))]
        Target::Unix(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Unix-domain sockets are not supported here",
        )),
        Target::Socks => Err(super::socks_unresolved()),
    }
}

/// The addresses a remote forward's bind address stands for (RFC 4254
/// section 7.1): `""` and `"*"` every address of both families,
/// `"0.0.0.0"`/`"::"` those of one, `"localhost"` the loopback ones, else
/// what the name resolves to.
async fn bind_addrs<R: Runtime>(address: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let ips: Vec<IpAddr> = match address {
        "" | "*" => vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()],
        "localhost" => vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
        other => match other.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => return R::resolve(other, port).await,
        },
    };
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// Server: binds the listener of a remote forward (`bind`, as the handler
/// decided) and starts its loops; each accepted connection goes to the
/// client as a `forwarded-*` channel naming the forward as `requested`.
/// Returns the port bound (0 for a Unix socket).
pub(super) async fn bind_remote<R: Runtime>(
    session: &ServerSession,
    requested: &Forward,
    bind: &Forward,
) -> io::Result<(ForwardListener, u32)> {
    let stop = Arc::new(Stop::default());
    let ended = || -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let s = session.clone();
        Box::pin(async move { s.closed().await })
    };
    match (requested, bind) {
        (Forward::Tcpip { address, .. }, Forward::Tcpip { address: a, port }) => {
            let port = u16::try_from(*port)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "port out of range"))?;
            let mut bound = port;
            let mut listeners = Vec::new();
            for addr in bind_addrs::<R>(a, port).await? {
                let addr = SocketAddr::new(addr.ip(), bound);
                match crate::listen::listen_tcp(addr) {
                    Ok(l) => {
                        l.set_nonblocking(true)?;
                        bound = l.local_addr()?.port();
                        listeners.push(l);
                    }
                    // The second family may share the first's socket
                    // (IPv4-mapped addresses) or be absent.
                    Err(e) if listeners.is_empty() => return Err(e),
                    Err(_) => {}
                }
            }
            let local_addr = listeners.first().and_then(|l| l.local_addr().ok());
            for l in listeners {
                let session = session.clone();
                let address = address.clone();
                let handler = move |stream: BoxStream, peer: Option<SocketAddr>| {
                    let session = session.clone();
                    let origin = ForwardChannel::ForwardedTcpip {
                        address: address.clone(),
                        port: u32::from(bound),
                        originator: peer.map(|p| p.ip().to_string()).unwrap_or_default(),
                        originator_port: peer.map_or(0, |p| u32::from(p.port())),
                    };
                    async move {
                        if let Ok(channel) = session.open_forward(&origin).await {
                            let _ = splice(channel, stream).await;
                        }
                    }
                };
                spawn_loop(
                    Acceptor::<R>::Tcp(R::tcp_listener(l)?),
                    stop.clone(),
                    ended(),
                    handler,
                );
            }
            Ok((ForwardListener { stop, local_addr }, u32::from(bound)))
        }
        (Forward::Streamlocal { path: requested }, Forward::Streamlocal { path }) => {
            let acceptor = bind_unix::<R>(std::path::Path::new(path))?;
            let session = session.clone();
            let origin = ForwardChannel::ForwardedStreamlocal {
                path: requested.clone(),
            };
            let handler = move |stream: BoxStream, _: Option<SocketAddr>| {
                let session = session.clone();
                let origin = origin.clone();
                async move {
                    if let Ok(channel) = session.open_forward(&origin).await {
                        let _ = splice(channel, stream).await;
                    }
                }
            };
            spawn_loop(acceptor, stop.clone(), ended(), handler);
            Ok((
                ForwardListener {
                    stop,
                    local_addr: None,
                },
                0,
            ))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bind address of another kind than the request",
        )),
    }
}
