//! Channels as `std::io` streams.

use std::future::poll_fn;
use std::io::{self, Read, Write};

use conch_driver::block_on::block_on;

use crate::{Bytes, ChannelRequest, ExitStatus, Result, WindowSize};

/// An SSH channel as a blocking stream: `Read` gives stdout, `Write` feeds
/// stdin, [`Channel::send_eof`] half-closes. `&Channel` reads and writes
/// too, so one thread may read while another writes. Dropping it (and its
/// stderr handles) closes the channel.
#[derive(Debug)]
pub struct Channel {
    inner: conch_driver::Channel,
}

/// A driver channel (e.g. from [`conch_driver::PendingOpen::accept`]) as a
/// blocking stream.
impl From<conch_driver::Channel> for Channel {
    fn from(inner: conch_driver::Channel) -> Self {
        Channel::new(inner)
    }
}

impl Channel {
    pub(crate) fn new(inner: conch_driver::Channel) -> Self {
        Channel { inner }
    }

    /// The runtime-agnostic channel underneath.
    pub fn driver(&self) -> &conch_driver::Channel {
        &self.inner
    }

    /// The channel's number (for logs).
    pub fn id(&self) -> conch_driver::conch_core::ChannelId {
        self.inner.id()
    }

    /// The stderr stream (readable on a client, writable on a server).
    pub fn stderr(&self) -> ChannelStderr {
        ChannelStderr {
            inner: self.inner.stderr(),
        }
    }

    /// Throws stderr away from now on.
    pub fn discard_stderr(&self) {
        self.inner.discard_stderr()
    }

    /// Sends a request with want-reply and waits for the answer.
    pub fn request(&self, request: ChannelRequest) -> Result<()> {
        block_on(self.inner.request(request))
    }

    /// Sends a request without a reply.
    pub fn send_request(&self, request: &ChannelRequest) -> Result<()> {
        self.inner.send_request(request)
    }

    /// Runs a command on a channel from [`crate::Session::open_session`].
    pub fn exec(&self, command: impl AsRef<[u8]>) -> Result<()> {
        block_on(self.inner.exec(command))
    }

    /// Starts the user's shell.
    pub fn shell(&self) -> Result<()> {
        block_on(self.inner.shell())
    }

    /// Starts a subsystem.
    pub fn subsystem(&self, name: &str) -> Result<()> {
        block_on(self.inner.subsystem(name))
    }

    /// Asks for a pseudo-terminal.
    pub fn request_pty(&self, term: &str, size: WindowSize, modes: &[u8]) -> Result<()> {
        block_on(self.inner.request_pty(term, size, modes))
    }

    /// Sets an environment variable for the command to come.
    pub fn set_env(&self, name: &str, value: &str) -> Result<()> {
        block_on(self.inner.set_env(name, value))
    }

    /// Reports a terminal size change.
    pub fn window_change(&self, size: WindowSize) -> Result<()> {
        self.inner.window_change(size)
    }

    /// Delivers a signal (name without `SIG`).
    pub fn signal(&self, name: &str) -> Result<()> {
        self.inner.signal(name)
    }

    /// Half-closes: sends EOF; reading goes on.
    pub fn send_eof(&self) -> Result<()> {
        self.inner.send_eof()
    }

    /// Waits for the command's exit status or signal.
    pub fn exit_status(&self) -> Result<ExitStatus> {
        block_on(self.inner.exit_status())
    }

    /// Server side: the next request received after the start.
    pub fn next_request(&self) -> Option<ChannelRequest> {
        block_on(self.inner.next_request())
    }

    /// Server side: reports the exit status.
    pub fn send_exit_status(&self, code: u32) -> Result<()> {
        self.inner.send_exit_status(code)
    }

    /// Server side: reports death by a signal.
    pub fn send_exit_signal(&self, name: &str, core_dumped: bool, message: &str) -> Result<()> {
        self.inner.send_exit_signal(name, core_dumped, message)
    }

    /// Closes both directions and waits for the peer's CLOSE.
    pub fn close_channel(&self) -> Result<()> {
        block_on(self.inner.close_channel())
    }

    /// Reads the next chunk of the channel's data, at most `max` bytes,
    /// without copying it: the zero-copy counterpart of [`Read::read`]. The
    /// bytes are those received (a slice of the decrypted packet, so never
    /// more than one packet's data); `None` at the end of the stream, where
    /// `read` gives 0. Otherwise as `read`: it blocks until data, EOF or an
    /// error; the bytes taken reopen the peer's window; chunk reads and
    /// reads may be mixed.
    pub fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        block_on(self.inner.read_chunk(max))
    }

    /// Bytes received and not yet read.
    pub fn buffered_len(&self) -> usize {
        self.inner.buffered_len()
    }

    /// Whether the peer has sent EOF (or the channel is closed).
    pub fn is_eof(&self) -> bool {
        self.inner.is_eof()
    }

    /// The runtime-agnostic channel.
    pub fn into_inner(self) -> conch_driver::Channel {
        self.inner
    }
}

/// The stderr stream of a [`Channel`].
#[derive(Debug)]
pub struct ChannelStderr {
    inner: conch_driver::ChannelStderr,
}

impl ChannelStderr {
    /// Reads the next chunk of stderr data, at most `max` bytes, without
    /// copying it: the zero-copy counterpart of [`Read::read`] (see
    /// [`Channel::read_chunk`]); `None` at the end of the stream.
    pub fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        block_on(self.inner.read_chunk(max))
    }
}

macro_rules! std_io_impls {
    ($ty:ty) => {
        impl Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                block_on(poll_fn(|cx| self.inner.poll_read_data(cx, buf)))
            }
        }

        impl Write for $ty {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                block_on(poll_fn(|cx| self.inner.poll_write_data(cx, buf)))
            }

            fn flush(&mut self) -> io::Result<()> {
                // Written data is queued in the connection already.
                Ok(())
            }
        }
    };
}

std_io_impls!(Channel);
std_io_impls!(&Channel);
std_io_impls!(ChannelStderr);
std_io_impls!(&ChannelStderr);
