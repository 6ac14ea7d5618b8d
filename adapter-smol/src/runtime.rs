//! smol as the driver's [`Runtime`]: its resolver, `smol::net` sockets,
//! global executor and `async-io` timer. Sessions and channels are the
//! driver's own (they implement `futures-io` already). Being a `Runtime`
//! also makes it conch-openssh's `EndpointRuntime`, so
//! [`crate::CommandEndpoint`]'s calls return futures to await.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use conch_driver::{Channel, Runtime, Session, Sleep};
use smol::net::{TcpListener, TcpStream};

/// smol, for the driver ([`Runtime`]) and conch-openssh's command endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Smol;

impl Runtime for Smol {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;
    type Session = Session;
    type Channel = Channel;

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        smol::net::resolve((host, port)).await
    }

    async fn connect_tcp(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn tcp_listener(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::try_from(listener)
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
        smol::spawn(task).detach();
    }

    fn sleep_until(deadline: Instant) -> Sleep {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }

    fn session(session: Session) -> Session {
        session
    }

    fn driver_session(session: &Session) -> &Session {
        session
    }

    fn channel(channel: Channel) -> Channel {
        channel
    }

    fn driver_channel(channel: &Channel) -> &Channel {
        channel
    }
}
