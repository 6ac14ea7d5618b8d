//! conch-tokio as the [`Adapter`] of the shared scenarios
//! (`conch_driver::testing::{sessions, faults}`): tokio's timer and tasks,
//! conch-tokio's listener, `connect`, `exec`, and channels read and written
//! through tokio's I/O traits (bridged to `futures-io` by `tokio-util`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use conch_driver::testing::{Adapter, AsyncRead, AsyncWrite, DetachedTask, Served};
use conch_driver::Sleep;
use conch_tokio::{
    connect, Bytes, Channel, ChannelStderr, ClientOptions, Listener, Result, ServerOptions, Session,
};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// conch-tokio on the test's tokio runtime.
pub struct Tokio;

impl Adapter for Tokio {
    type Session = Session;
    type Channel = Channel;
    type Stderr = ChannelStderr;

    // `#[tokio::test]` and the fault tests' runtime are current-thread.
    const PUMPS_ON_TEST_THREAD: bool = true;

    fn sleep_until(deadline: Instant) -> Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn spawn_detached(task: DetachedTask) {
        tokio::spawn(task);
    }

    fn alive_tasks() -> Option<usize> {
        Some(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        )
    }

    async fn start_server(options: ServerOptions) -> (SocketAddr, Served) {
        let listener = Listener::bind("127.0.0.1:0", options).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let served = Served::default();
        let accepted = served.clone();
        tokio::spawn(async move {
            while let Ok((session, _)) = listener.accept().await {
                tokio::spawn(
                    accepted
                        .clone()
                        .serve_connection::<Self>((*session).clone()),
                );
            }
        });
        (addr, served)
    }

    fn connect(port: u16, options: ClientOptions) -> impl Future<Output = Result<Session>> + Send {
        connect("127.0.0.1", port, options)
    }

    fn session(session: &Session) -> &conch_driver::Session {
        session
    }

    async fn exec(session: &Session, command: &str) -> Result<Channel> {
        session.exec(command).await
    }

    async fn open_session(session: &Session) -> Result<Channel> {
        session.open_session().await
    }

    fn channel(channel: &Channel) -> &conch_driver::Channel {
        channel
    }

    fn io(channel: &Channel) -> impl AsyncRead + AsyncWrite + Unpin + Send + '_ {
        channel.compat()
    }

    async fn read_chunk(channel: &Channel, max: usize) -> io::Result<Option<Bytes>> {
        channel.read_chunk(max).await
    }

    fn stderr(channel: &Channel) -> ChannelStderr {
        channel.stderr()
    }

    fn stderr_io(stderr: &ChannelStderr) -> impl AsyncRead + Unpin + Send + '_ {
        stderr.compat()
    }

    async fn read_stderr_chunk(stderr: &ChannelStderr, max: usize) -> io::Result<Option<Bytes>> {
        stderr.read_chunk(max).await
    }
}
