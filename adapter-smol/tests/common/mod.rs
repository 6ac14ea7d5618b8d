//! conch-smol as the [`Adapter`] of the shared scenarios
//! (`conch_driver::testing::{sessions, faults}`): the [`conch_smol::Smol`]
//! runtime (async-io's timer, tasks on smol's global executor, the
//! listener and `connect`), and the driver's sessions and `futures-io`
//! channels, which conch-smol hands out as they are.

use std::future::Future;
use std::io;

use conch_driver::testing::{Adapter, AsyncRead, AsyncWrite};
use conch_smol::{Bytes, Channel, ChannelStderr, Result, Session};

/// conch-smol, its pumps on smol's executor threads.
pub struct Smol;

impl Adapter for Smol {
    type Session = Session;
    type Channel = Channel;
    type Stderr = ChannelStderr;
    type Runtime = conch_smol::Smol;

    // The pumps run on smol's global executor threads, also while the test
    // is busy: how many await points a call is seen waiting at varies.
    const PUMPS_ON_TEST_THREAD: bool = false;

    // Spawned tasks go to smol's global executor; the body runs on this
    // thread.
    fn block_on<T>(body: impl Future<Output = T>) -> T {
        smol::block_on(body)
    }

    fn alive_tasks() -> Option<usize> {
        // smol does not count its tasks; a task left behind would hold its
        // socket, which the baseline counts.
        None
    }

    // conch-smol's calls: the driver's own sessions and channels.
    async fn exec(session: &Session, command: &str) -> Result<Channel> {
        session.exec(command).await
    }

    async fn open_session(session: &Session) -> Result<Channel> {
        session.open_session().await
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
