//! Channels as tokio byte streams.

use std::io;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use conch_driver::conch_core::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// An SSH channel as a tokio stream: read stdout, write stdin,
/// `shutdown()` sends EOF (half-close) while reading goes on. Requests,
/// `exit_status()` and the rest come from [`conch_driver::Channel`] through
/// `Deref`. Dropping it (and its stderr handles) closes the channel.
///
/// The traits are also implemented for `&Channel`, so a reader and a writer
/// task can share one channel.
#[derive(Debug)]
pub struct Channel {
    inner: conch_driver::Channel,
}

impl Channel {
    pub(crate) fn new(inner: conch_driver::Channel) -> Self {
        Channel { inner }
    }

    /// The stderr stream (readable on a client, writable on a server).
    pub fn stderr(&self) -> ChannelStderr {
        ChannelStderr {
            inner: self.inner.stderr(),
        }
    }

    /// Reads the next chunk of the channel's data, at most `max` bytes,
    /// without copying it: the zero-copy counterpart of `read`. The bytes
    /// are those received (a slice of the decrypted packet, so never more
    /// than one packet's data); `None` at the end of the stream, where
    /// `read` gives 0. Otherwise as `read`: the bytes taken reopen the
    /// peer's window, errors are the same, and chunk reads and reads may
    /// be mixed. Cancel safe. (`poll_read_chunk` is reachable through
    /// `Deref`.)
    pub async fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        self.inner.read_chunk(max).await
    }

    /// The runtime-agnostic channel (a `futures-io` stream).
    pub fn into_inner(self) -> conch_driver::Channel {
        self.inner
    }
}

/// A driver channel (e.g. from [`conch_driver::PendingOpen::accept`]) as a
/// tokio stream.
impl From<conch_driver::Channel> for Channel {
    fn from(inner: conch_driver::Channel) -> Self {
        Channel { inner }
    }
}

impl Deref for Channel {
    type Target = conch_driver::Channel;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// The stderr stream of a [`Channel`] as a tokio stream.
#[derive(Debug)]
pub struct ChannelStderr {
    inner: conch_driver::ChannelStderr,
}

impl ChannelStderr {
    /// Reads the next chunk of stderr data, at most `max` bytes, without
    /// copying it: the zero-copy counterpart of `read` (see
    /// [`Channel::read_chunk`]); `None` at the end of the stream.
    pub async fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        self.inner.read_chunk(max).await
    }

    /// Polls a zero-copy read of stderr data: the poll form of
    /// [`ChannelStderr::read_chunk`].
    pub fn poll_read_chunk(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<Option<Bytes>>> {
        self.inner.poll_read_chunk(cx, max)
    }
}

// The reading and writing are the driver's `futures-io` impls (for
// `&conch_driver::Channel` and `&ChannelStderr`, so shared handles work
// too), seen through tokio-util's bridge: `poll_shutdown` is their
// `poll_close` (EOF on the channel, nothing for stderr), `poll_flush`
// theirs. The bridge holds no state of its own, so one is made per call.
macro_rules! tokio_io_via_driver {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut (&self.inner).compat()).poll_read(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut (&self.inner).compat()).poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut (&self.inner).compat()).poll_flush(cx)
            }

            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut (&self.inner).compat()).poll_shutdown(cx)
            }
        }
    };
}

tokio_io_via_driver!(Channel);
tokio_io_via_driver!(&Channel);
tokio_io_via_driver!(ChannelStderr);
tokio_io_via_driver!(&ChannelStderr);
