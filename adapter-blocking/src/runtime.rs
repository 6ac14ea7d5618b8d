//! Threads as the driver's [`Runtime`], so that the logic written once over
//! it (forwarding, jump hosts) runs here too rather than a second time:
//! each task is a thread waiting on its future with the driver's
//! [`block_on`], sockets are std's registered with `async-io`'s reactor
//! (which runs on its own thread when nobody drives it, so no executor is
//! needed), and the timer is `async-io`'s. Name lookups are std's blocking
//! resolver: a task blocks only its own thread.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use conch_driver::block_on::block_on;
use conch_driver::{Runtime, Sleep};
use futures_io::{AsyncRead, AsyncWrite};

use crate::channel::Channel;
use crate::session::Session;

/// A TCP stream registered with `async-io`'s reactor whose close shuts
/// its write side: `Async`'s own close only flushes, and a forwarded
/// connection passes the channel's EOF on as that shutdown (RFC 4254
/// section 5.3; without it the local peer would wait for an end that never
/// comes).
#[derive(Debug)]
pub(crate) struct Stream(Async<TcpStream>);

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A socket already shut or reset has nothing left to close.
        match self.0.get_ref().shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }
}

/// A thread per task (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Threads;

impl Runtime for Threads {
    type TcpStream = Stream;
    type TcpListener = Async<TcpListener>;
    type Session = Session;
    type Channel = Channel;

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }

    async fn connect_tcp(addr: SocketAddr) -> io::Result<Stream> {
        Async::<TcpStream>::connect(addr).await.map(Stream)
    }

    fn set_nodelay(stream: &Stream) -> io::Result<()> {
        stream.0.get_ref().set_nodelay(true)
    }

    fn tcp_listener(listener: TcpListener) -> io::Result<Async<TcpListener>> {
        Async::new(listener)
    }

    fn local_addr(listener: &Async<TcpListener>) -> io::Result<SocketAddr> {
        listener.get_ref().local_addr()
    }

    async fn accept(listener: &Async<TcpListener>) -> io::Result<(Stream, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        Ok((Stream(stream), peer))
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        // The tasks are a connection's pump, a listener's accept loop and
        // one per forwarded connection. If the OS refuses a thread, the
        // task is dropped: its connection or channel closes, which its
        // peer sees, rather than the caller's thread panicking.
        let _ = std::thread::Builder::new()
            .name("conch-task".into())
            .spawn(move || block_on(task));
    }

    fn sleep_until(deadline: Instant) -> Sleep {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }

    fn session(session: conch_driver::Session) -> Session {
        Session::new(session)
    }

    fn driver_session(session: &Session) -> &conch_driver::Session {
        session.driver()
    }

    fn channel(channel: conch_driver::Channel) -> Channel {
        Channel::new(channel)
    }

    fn driver_channel(channel: &Channel) -> &conch_driver::Channel {
        channel.driver()
    }
}
