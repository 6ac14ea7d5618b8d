//! Starting connections: what every adapter's `connect` and listener do,
//! minus the runtime's own socket calls.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::host_key::ServerName;
use crate::options::{ClientOptions, ServerOptions};
use crate::pump::{with_timeout, Pump, Timer};
use crate::server::ServerSession;
use crate::session::Session;

/// Tries `addrs` in order (as resolved: IPv6 and IPv4 alike), each under
/// `per_attempt` on `timer`, and returns the first stream `connect` makes.
/// When all fail: [`Error::Connect`] with the last address and error.
pub async fn connect_first<S, F, Fut>(
    host: &str,
    addrs: Vec<SocketAddr>,
    per_attempt: Option<Duration>,
    timer: &dyn Timer,
    mut connect: F,
) -> Result<S>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    connect_each(host, addrs, |addr| {
        let attempt = connect(addr);
        async move {
            let attempt = async { attempt.await.map_err(Error::from) };
            match with_timeout(timer, per_attempt, "TCP connect", attempt).await {
                Ok(stream) => Ok(stream),
                Err(Error::Io(e)) => Err(io::Error::new(e.kind(), e.to_string())),
                Err(Error::Timeout(_)) => {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                }
                Err(e) => Err(io::Error::other(e)),
            }
        }
    })
    .await
}

/// Tries `addrs` in order with `connect`, which bounds each attempt itself
/// (the blocking adapter's `TcpStream::connect_timeout`, or
/// [`connect_first`]'s timer), and returns the first stream made. When all
/// fail: [`Error::Connect`] with the last address and error; when there is
/// no address at all: [`Error::Resolve`].
pub async fn connect_each<S, F, Fut>(
    host: &str,
    addrs: Vec<SocketAddr>,
    mut connect: F,
) -> Result<S>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut last: Option<(SocketAddr, io::Error)> = None;
    for addr in addrs {
        match connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(Error::Connect {
            addr: addr.to_string(),
            source: Arc::new(e),
        }),
        None => Err(resolve_error(
            host,
            io::Error::new(io::ErrorKind::NotFound, "no addresses found"),
        )),
    }
}

/// The error for a failed name lookup.
pub fn resolve_error(host: &str, e: io::Error) -> Error {
    Error::Resolve {
        host: host.to_string(),
        source: Arc::new(e),
    }
}

/// Starts a client session over a connected `stream`: hands the pump to
/// `spawn` (which runs it as a task), then runs the handshake (host key
/// verification included); the connection's handshake timeout
/// (`TransportConfig::handshake_timeout`) bounds it.
///
/// If the returned future is dropped, the session goes with it and the
/// pump closes the connection.
pub async fn start_client<S>(
    stream: S,
    server: ServerName,
    options: &ClientOptions,
    timer: Arc<dyn Timer>,
    spawn: impl FnOnce(Pump<S>),
) -> Result<Session>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (session, engine) = crate::session::client(options, server);
    spawn(engine.into_pump(stream, timer.clone()));
    // ssh's ConnectTimeout also bounds the banner exchange and the key
    // exchange (OpenSSH sshconnect.c `ssh_login`, kex.c
    // `kex_exchange_identification`): a server that accepts and never
    // speaks is given up on then, not when the handshake timer runs out.
    let reached = with_timeout(&*timer, options.connect_timeout, "ConnectTimeout", async {
        session.host_key_received().await
    })
    .await;
    match reached {
        Err(Error::Timeout("ConnectTimeout")) => return Err(session.handshake_timed_out()),
        other => other?,
    }
    session.handshake().await?;
    Ok(session)
}

/// Starts a server session over an accepted `stream`, handing the pump to
/// `spawn`. Authentication and channels then proceed as the client drives
/// them, decided by the options' handler.
pub fn start_server<S>(
    stream: S,
    options: &ServerOptions,
    timer: Arc<dyn Timer>,
    spawn: impl FnOnce(Pump<S>),
) -> ServerSession
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (session, engine) = crate::server::server(options);
    spawn(engine.into_pump(stream, timer));
    session
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_on::block_on;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Every address is tried in order until one connects; the ones after
    /// it are not.
    #[test]
    fn the_first_address_that_connects_wins() {
        let mut tried = Vec::new();
        let got = block_on(connect_each("h", vec![addr(1), addr(2), addr(3)], |a| {
            tried.push(a.port());
            std::future::ready(if a.port() == 2 {
                Ok(a.port())
            } else {
                Err(io::Error::from(io::ErrorKind::ConnectionRefused))
            })
        }));
        assert_eq!(got.unwrap(), 2);
        assert_eq!(tried, [1, 2]);
    }

    /// All failing: the last address and its error, so a refused port
    /// reads as refused (`Error::is_connection_refused`).
    #[test]
    fn when_every_address_fails_the_last_one_is_reported() {
        let err = block_on(connect_each("h", vec![addr(1), addr(2)], |a| {
            std::future::ready(Err::<(), _>(io::Error::from(if a.port() == 1 {
                io::ErrorKind::TimedOut
            } else {
                io::ErrorKind::ConnectionRefused
            })))
        }))
        .unwrap_err();
        assert!(err.is_connection_refused(), "{err:?}");
        assert!(matches!(&err, Error::Connect { addr, .. } if addr == "127.0.0.1:2"));
    }

    /// A name resolving to nothing is a resolve error naming the host.
    #[test]
    fn no_address_is_a_resolve_error() {
        let err = block_on(connect_each("nowhere.example", Vec::new(), |_| {
            std::future::ready(Ok::<(), io::Error>(()))
        }))
        .unwrap_err();
        assert!(matches!(&err, Error::Resolve { host, .. } if host == "nowhere.example"));
    }
}
