//! conch-smol as the [`Adapter`] of the shared scenarios
//! (`conch_driver::testing::{sessions, faults}`): async-io's timer, tasks
//! on smol's global executor, conch-smol's listener and `connect`, and the
//! driver's sessions and `futures-io` channels, which conch-smol hands out
//! as they are.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use conch_driver::testing::{Adapter, AsyncRead, AsyncWrite, DetachedTask, Served};
use conch_driver::Sleep;
use conch_smol::{
    connect, Bytes, Channel, ChannelStderr, ClientOptions, Listener, Result, ServerOptions, Session,
};

/// conch-smol, its pumps on smol's executor threads.
pub struct Smol;

impl Adapter for Smol {
    type Session = Session;
    type Channel = Channel;
    type Stderr = ChannelStderr;

    // The pumps run on smol's global executor threads, also while the test
    // is busy: how many await points a call is seen waiting at varies.
    const PUMPS_ON_TEST_THREAD: bool = false;

    fn sleep_until(deadline: Instant) -> Sleep {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }

    fn spawn_detached(task: DetachedTask) {
        smol::spawn(task).detach();
    }

    fn alive_tasks() -> Option<usize> {
        // smol does not count its tasks; a task left behind would hold its
        // socket, which the baseline counts.
        None
    }

    async fn start_server(options: ServerOptions) -> (SocketAddr, Served) {
        let listener = Listener::bind("127.0.0.1:0", options).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let served = Served::default();
        let accepted = served.clone();
        smol::spawn(async move {
            while let Ok((session, _)) = listener.accept().await {
                smol::spawn(accepted.clone().serve_connection::<Self>(session)).detach();
            }
        })
        .detach();
        (addr, served)
    }

    fn connect(port: u16, options: ClientOptions) -> impl Future<Output = Result<Session>> + Send {
        connect("127.0.0.1", port, options)
    }

    fn session(session: &Session) -> &Session {
        session
    }

    async fn exec(session: &Session, command: &str) -> Result<Channel> {
        session.exec(command).await
    }

    async fn open_session(session: &Session) -> Result<Channel> {
        session.open_session().await
    }

    fn channel(channel: &Channel) -> &Channel {
        channel
    }

    fn io(channel: &Channel) -> impl AsyncRead + AsyncWrite + Unpin + Send + '_ {
        channel
    }

    async fn read_chunk(channel: &Channel, max: usize) -> io::Result<Option<Bytes>> {
        channel.read_chunk(max).await
    }

    fn stderr(channel: &Channel) -> ChannelStderr {
        channel.stderr()
    }

    fn stderr_io(stderr: &ChannelStderr) -> impl AsyncRead + Unpin + Send + '_ {
        stderr
    }

    async fn read_stderr_chunk(stderr: &ChannelStderr, max: usize) -> io::Result<Option<Bytes>> {
        stderr.read_chunk(max).await
    }
}
