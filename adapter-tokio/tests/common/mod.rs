//! conch-tokio as the [`Adapter`] of the shared scenarios
//! (`conch_driver::testing::{sessions, faults}`): the [`conch_tokio::Tokio`]
//! runtime (its timer, tasks, listener and `connect`), conch-tokio's
//! `exec`, and channels read and written through tokio's I/O traits
//! (bridged to `futures-io` by `tokio-util`).

use std::future::Future;
use std::io;

use conch_driver::testing::{Adapter, AsyncRead, AsyncWrite};
use conch_tokio::{Bytes, Channel, ChannelStderr, Result, Session};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// conch-tokio on the test's tokio runtime.
pub struct Tokio;

impl Adapter for Tokio {
    type Session = Session;
    type Channel = Channel;
    type Stderr = ChannelStderr;
    type Runtime = conch_tokio::Tokio;

    // Each test's runtime is current-thread (`block_on`, `#[tokio::test]`).
    const PUMPS_ON_TEST_THREAD: bool = true;

    fn block_on<T>(body: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(body)
    }

    fn alive_tasks() -> Option<usize> {
        Some(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        )
    }

    // tokio's reads and writes: conch-tokio's own wrappers and traits.
    async fn exec(session: &Session, command: &str) -> Result<Channel> {
        session.exec(command).await
    }

    async fn open_session(session: &Session) -> Result<Channel> {
        session.open_session().await
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
