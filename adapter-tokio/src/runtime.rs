//! tokio as the driver's [`Runtime`]: its resolver, `tokio::net` sockets
//! (bridged to `futures-io` by `tokio-util`), `tokio::spawn` and its timer;
//! and conch-tokio's own [`Session`] and [`Channel`], which give channels
//! tokio's I/O traits. Being a `Runtime` also makes it conch-openssh's
//! `EndpointRuntime`, so [`crate::CommandEndpoint`]'s calls return futures
//! to await.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use conch_driver::{Runtime, Sleep};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

use crate::client::Session;
use crate::stream::Channel;

/// tokio, for the driver ([`Runtime`]) and conch-openssh's command
/// endpoint. A tokio runtime with the time driver enabled must be running.
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

impl Runtime for Tokio {
    type TcpStream = Compat<TcpStream>;
    type TcpListener = TcpListener;
    type Session = Session;
    type Channel = Channel;

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }

    async fn connect_tcp(addr: SocketAddr) -> io::Result<Compat<TcpStream>> {
        Ok(TcpStream::connect(addr).await?.compat())
    }

    fn set_nodelay(stream: &Compat<TcpStream>) -> io::Result<()> {
        stream.get_ref().set_nodelay(true)
    }

    fn tcp_listener(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(listener)
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(Compat<TcpStream>, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        Ok((stream.compat(), peer))
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn sleep_until(deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn session(inner: conch_driver::Session) -> Session {
        Session { inner }
    }

    fn driver_session(session: &Session) -> &conch_driver::Session {
        session.driver()
    }

    fn channel(channel: conch_driver::Channel) -> Channel {
        Channel::new(channel)
    }

    fn driver_channel(channel: &Channel) -> &conch_driver::Channel {
        channel
    }
}
