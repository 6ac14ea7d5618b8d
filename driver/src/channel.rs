//! [`Channel`]: one SSH channel as a byte stream, with its requests.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use conch_core::{ApiMisuse, ChannelId, ChannelRequest, Connection, WindowSize};
use futures_io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::session::SessionInner;
use crate::shared::{lock, ChannelState, Holder, Phase, RecvQueue};

/// How a remote command ended (RFC 4254 section 6.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this status.
    Code(u32),
    /// It was killed by a signal.
    Signal {
        /// Signal name without `SIG`, e.g. `KILL`.
        name: String,
        /// Whether a core was dumped.
        core_dumped: bool,
        /// The server's message (may be empty).
        message: String,
    },
}

impl ExitStatus {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Code(0))
    }

    /// The exit code, if it exited normally.
    pub fn code(&self) -> Option<u32> {
        match self {
            ExitStatus::Code(c) => Some(*c),
            ExitStatus::Signal { .. } => None,
        }
    }

    /// The status a POSIX shell would report: the code, or 128 + the signal
    /// number for the signals RFC 4254 section 6.10 names (other signals give 255).
    pub fn shell_code(&self) -> u32 {
        match self {
            ExitStatus::Code(c) => *c,
            ExitStatus::Signal { name, .. } => signal_number(name).map_or(255, |n| 128 + n),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal {
                name, core_dumped, ..
            } => {
                write!(f, "killed by signal {name}")?;
                if *core_dumped {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// The POSIX numbers of the signal names RFC 4254 section 6.10 lists.
pub fn signal_number(name: &str) -> Option<u32> {
    Some(match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => return None,
    })
}

/// What channel handles share: the channel's key in the shared state. When
/// the last handle goes, the channel is closed.
pub(crate) struct ChannelHandle {
    pub(crate) session: Arc<SessionInner>,
    key: u64,
    id: ChannelId,
}

impl Drop for ChannelHandle {
    fn drop(&mut self) {
        let mut guard = lock(&self.session.shared);
        let sh = &mut *guard;
        let Some(ch) = sh.channel_entry(self.key) else {
            return;
        };
        match ch.phase() {
            // Closed once the server confirms it (see `Shared`).
            Phase::Opening => ch.st.holder = Holder::Dropped,
            Phase::Open => {
                ch.st.holder = Holder::Dropped;
                ch.st.stdout.clear();
                ch.st.stderr.clear();
                if !ch.closing() {
                    let _ = ch.conn.close_channel(self.id);
                }
            }
            Phase::OpenFailed | Phase::Closed => sh.remove_channel(self.key),
        }
        sh.drain();
        sh.wake_pump();
    }
}

impl ChannelHandle {
    /// Runs `f` on the connection and the channel's state if the channel is
    /// open, then handles the events and wakes the pump.
    fn mutate_open<T>(
        &self,
        f: impl FnOnce(&mut Connection, &mut ChannelState) -> std::result::Result<T, ApiMisuse>,
    ) -> Result<T> {
        let mut guard = lock(&self.session.shared);
        let sh = &mut *guard;
        if let Some(e) = sh.end_error() {
            return Err(e);
        }
        let ch = sh
            .channel_entry(self.key)
            .filter(|ch| ch.phase() == Phase::Open)
            .ok_or(Error::Misuse(conch_core::Error::ApiMisuse(
                ApiMisuse::UnknownChannel(self.id.0),
            )))?;
        let r = f(ch.conn, ch.st);
        sh.drain();
        sh.wake_pump();
        r.map_err(Error::from_core)
    }

    /// Takes received data from stdout or stderr with `take`, which returns
    /// what it took and how many bytes that is, and reopens the peer's
    /// window by that many; `Ok(None)` once the stream has ended. The
    /// copying and the chunk reads both go through here, so they consume
    /// the window, see EOF and errors, and wait alike.
    fn poll_take<T>(
        &self,
        cx: &mut Context<'_>,
        stderr: bool,
        take: impl FnOnce(&mut RecvQueue) -> (T, usize),
    ) -> Poll<io::Result<Option<T>>> {
        let mut guard = lock(&self.session.shared);
        let sh = &mut *guard;
        let end = sh.end_error();
        let Some(ch) = sh.channel_entry(self.key) else {
            return Poll::Ready(Ok(None));
        };
        let queue = if stderr {
            &mut ch.st.stderr
        } else {
            &mut ch.st.stdout
        };
        if !queue.is_empty() {
            let (taken, n) = take(queue);
            // After CLOSE the id may already belong to another channel.
            if ch.phase() == Phase::Open {
                // RFC 4254 section 5.2: the window reopens as data is consumed.
                let _ = ch.conn.consume(self.id, n);
                sh.drain();
                sh.wake_pump();
            }
            return Poll::Ready(Ok(Some(taken)));
        }
        if ch.input_ended() {
            return Poll::Ready(Ok(None));
        }
        if let Some(e) = end {
            return Poll::Ready(Err(e.into_io()));
        }
        ch.st.wakers.register(cx.waker());
        Poll::Pending
    }

    /// Copies received data into `buf`; `Ok(0)` at the end.
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        stderr: bool,
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_take(cx, stderr, |queue| {
            let n = queue.read_into(buf);
            (n, n)
        })
        .map_ok(|n| n.unwrap_or(0))
    }

    /// Takes the next received chunk, at most `max` bytes, without a copy;
    /// `Ok(None)` at the end.
    fn poll_read_chunk(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        stderr: bool,
    ) -> Poll<io::Result<Option<Bytes>>> {
        if max == 0 {
            return Poll::Ready(Ok(Some(Bytes::new())));
        }
        self.poll_take(cx, stderr, |queue| {
            let chunk = queue.pop_chunk(max).unwrap_or_default();
            let n = chunk.len();
            (chunk, n)
        })
    }

    fn poll_write(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        stderr: bool,
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut guard = lock(&self.session.shared);
        let sh = &mut *guard;
        if let Some(e) = sh.end_error() {
            return Poll::Ready(Err(e.into_io()));
        }
        let Some(ch) = sh.channel_entry(self.key) else {
            return Poll::Ready(Err(broken_pipe("channel closed")));
        };
        match ch.phase() {
            Phase::Opening => {
                ch.st.wakers.register(cx.waker());
                return Poll::Pending;
            }
            Phase::Open => {}
            Phase::OpenFailed | Phase::Closed => {
                return Poll::Ready(Err(broken_pipe("channel closed")))
            }
        }
        if ch.output_ended() {
            return Poll::Ready(Err(broken_pipe("channel already shut down for writing")));
        }
        let r = if stderr {
            // RFC 4254 section 5.2: SSH_EXTENDED_DATA_STDERR is 1.
            ch.conn.send_extended_data(self.id, 1, buf)
        } else {
            ch.conn.send_data(self.id, buf)
        };
        if let Ok(0) = r {
            // The peer's window or our send buffer is full: `ChannelEvent::Writable`
            // wakes us. Registered before draining so it cannot be missed.
            ch.st.wakers.register(cx.waker());
        }
        sh.drain();
        sh.wake_pump();
        match r {
            Ok(0) => Poll::Pending,
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(Error::from_core(e).into_io())),
        }
    }

    /// Sends EOF once (half-close, RFC 4254 section 5.3).
    fn shutdown_write(&self) -> io::Result<()> {
        let mut guard = lock(&self.session.shared);
        let sh = &mut *guard;
        let Some(ch) = sh.channel_entry(self.key) else {
            return Ok(());
        };
        if ch.phase() == Phase::Open && !ch.output_ended() {
            let r = ch.conn.send_eof(self.id);
            sh.drain();
            sh.wake_pump();
            r.map_err(|e| Error::from_core(e).into_io())?;
        }
        Ok(())
    }
}

fn broken_pipe(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, what)
}

/// One SSH channel, usually a `session` channel running a command.
///
/// Reading gives the channel's data (a command's stdout on the client, its
/// stdin on the server); writing sends data, split to the peer's window and
/// packet size and waiting when the window is shut; closing the write side
/// ([`futures_io::AsyncWrite::poll_close`], or tokio's `shutdown`) sends EOF
/// while reading goes on. [`Channel::stderr`] gives the extended-data
/// stream. The traits are also implemented for `&Channel`, so one task can
/// read while another writes. [`Channel::read_chunk`] reads without a copy:
/// it hands over the received bytes themselves.
///
/// Received data waits in the channel until read; the peer can send only as
/// much as the window (the core's `ChannelConfig::window_size`) allows before
/// it is read, so an unread channel holds up only itself, with bounded
/// memory. That holds for stderr too: read it (or call
/// [`Channel::discard_stderr`]) if a command may write much to it.
///
/// Dropping the last handle (this and its [`ChannelStderr`]s) closes the
/// channel.
pub struct Channel {
    handle: Arc<ChannelHandle>,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.handle.id)
    }
}

impl Channel {
    pub(crate) fn new(session: Arc<SessionInner>, key: u64, id: ChannelId) -> Self {
        Channel {
            handle: Arc::new(ChannelHandle { session, key, id }),
        }
    }

    /// The session the channel belongs to.
    pub(crate) fn session_inner(&self) -> &Arc<SessionInner> {
        &self.handle.session
    }

    /// Our number for the channel (for logs).
    pub fn id(&self) -> ChannelId {
        self.handle.id
    }

    /// The extended-data stream (stderr): readable on the client, writable on
    /// the server. Several handles may exist; they share one stream.
    pub fn stderr(&self) -> ChannelStderr {
        ChannelStderr {
            handle: self.handle.clone(),
        }
    }

    /// From now on, stderr data is thrown away on arrival (its window
    /// reopened at once), so an unread stderr never holds up the command.
    pub fn discard_stderr(&self) {
        let _ = self.handle.mutate_open(|conn, st| {
            st.stderr_discard = true;
            let n = st.stderr.clear();
            if n > 0 {
                conn.consume(st.id, n)?;
            }
            Ok(())
        });
    }

    pub(crate) async fn wait_open(&self) -> Result<()> {
        poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let end = sh.end_error();
            let Some(ch) = sh.channel_entry(self.handle.key) else {
                return Poll::Ready(Err(Error::Misuse(
                    ApiMisuse::UnknownChannel(self.handle.id.0).into(),
                )));
            };
            if let Some((reason, description)) = &ch.st.open_failure {
                return Poll::Ready(Err(Error::ChannelOpenRefused {
                    reason: *reason,
                    description: description.clone(),
                }));
            }
            match ch.phase() {
                Phase::Open => Poll::Ready(Ok(())),
                Phase::OpenFailed | Phase::Closed => Poll::Ready(Err(Error::Misuse(
                    ApiMisuse::UnknownChannel(self.handle.id.0).into(),
                ))),
                Phase::Opening => match end {
                    Some(e) => Poll::Ready(Err(e)),
                    None => {
                        ch.st.wakers.register(cx.waker());
                        Poll::Pending
                    }
                },
            }
        })
        .await
    }

    /// Sends a request with want-reply and waits for the answer: `Ok` on
    /// success, [`Error::RequestRefused`] on failure (also when the channel
    /// closes first, RFC 4254 section 5.4).
    pub async fn request(&self, request: ChannelRequest) -> Result<()> {
        let name = request.name().to_string();
        let ticket = self.handle.mutate_open(|conn, st| {
            conn.channel_request(st.id, &request, true)?;
            Ok(st.replies.ticket())
        })?;
        let mut guard = ReplyTicket {
            handle: &self.handle,
            ticket,
            taken: false,
        };
        let ok = poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let end = sh.end_error();
            let Some(st) = sh.channels.get_mut(&self.handle.key) else {
                return Poll::Ready(Ok(false));
            };
            if let Some(ok) = st.replies.take(ticket) {
                return Poll::Ready(Ok(ok));
            }
            if let Some(e) = end {
                return Poll::Ready(Err(e));
            }
            st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await?;
        guard.taken = true;
        if ok {
            Ok(())
        } else {
            Err(Error::RequestRefused { request: name })
        }
    }

    /// Sends a request without asking for a reply.
    pub fn send_request(&self, request: &ChannelRequest) -> Result<()> {
        self.handle
            .mutate_open(|conn, st| conn.channel_request(st.id, request, false))
    }

    /// Asks the server to forward agent connections back to this client
    /// (`auth-agent-req@openssh.com`, OpenSSH PROTOCOL.agent; `ssh -A`),
    /// before the shell or command starts. Sent without a reply, as
    /// OpenSSH sends it; the server's `auth-agent@openssh.com` channels
    /// then arrive through [`crate::Session::accept_forwarded`] with the
    /// target [`conch_core::ForwardChannel::AuthAgent`] (before, the
    /// connection refuses them).
    pub fn request_agent_forwarding(&self) -> Result<()> {
        self.send_request(&ChannelRequest::AuthAgentReq)
    }

    /// Runs `command` (RFC 4254 section 6.5).
    pub async fn exec(&self, command: impl AsRef<[u8]>) -> Result<()> {
        self.request(ChannelRequest::Exec {
            command: command.as_ref().to_vec(),
        })
        .await
    }

    /// Starts the user's shell (RFC 4254 section 6.5).
    pub async fn shell(&self) -> Result<()> {
        self.request(ChannelRequest::Shell).await
    }

    /// Starts a subsystem such as `sftp` (RFC 4254 section 6.5).
    pub async fn subsystem(&self, name: &str) -> Result<()> {
        self.request(ChannelRequest::Subsystem {
            name: name.to_string(),
        })
        .await
    }

    /// Asks for a pseudo-terminal (RFC 4254 section 6.2). `modes` is the
    /// encoded terminal modes string (section 8); empty is fine.
    pub async fn request_pty(&self, term: &str, size: WindowSize, modes: &[u8]) -> Result<()> {
        self.request(ChannelRequest::PtyReq {
            term: term.to_string(),
            size,
            modes: modes.to_vec(),
        })
        .await
    }

    /// Sets an environment variable for the command to come (RFC 4254
    /// section 6.4). Servers often refuse names they do not accept.
    pub async fn set_env(&self, name: &str, value: &str) -> Result<()> {
        self.request(ChannelRequest::Env {
            name: name.to_string(),
            value: value.to_string(),
        })
        .await
    }

    /// Tells the server the terminal size changed (RFC 4254 section 6.7; no reply).
    pub fn window_change(&self, size: WindowSize) -> Result<()> {
        self.send_request(&ChannelRequest::WindowChange { size })
    }

    /// Delivers a signal (name without `SIG`, e.g. `TERM`) to the remote
    /// process (RFC 4254 section 6.9; no reply).
    pub fn signal(&self, name: &str) -> Result<()> {
        self.send_request(&ChannelRequest::Signal {
            name: name.to_string(),
        })
    }

    /// Half-closes: sends EOF, after which nothing more can be written;
    /// reading goes on (RFC 4254 section 5.3). The stream traits' close /
    /// shutdown do the same.
    pub fn send_eof(&self) -> Result<()> {
        self.handle.shutdown_write().map_err(Error::from)
    }

    /// Waits for the remote command's exit status or signal. Resolves as soon
    /// as it arrives, which may be before all output has been read;
    /// [`Error::NoExitStatus`] if the channel closes without one.
    pub async fn exit_status(&self) -> Result<ExitStatus> {
        poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let end = sh.end_error();
            let Some(ch) = sh.channel_entry(self.handle.key) else {
                return Poll::Ready(Err(Error::NoExitStatus));
            };
            if let Some(status) = &ch.st.exit {
                return Poll::Ready(Ok(status.clone()));
            }
            if matches!(ch.phase(), Phase::Closed | Phase::OpenFailed) {
                return Poll::Ready(Err(Error::NoExitStatus));
            }
            if let Some(e) = end {
                return Poll::Ready(Err(e));
            }
            ch.st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Server side: the next request the client sent after the command
    /// started (`signal`, `window-change`, ...), already answered with the
    /// handler's verdict; `None` once the channel or connection has closed.
    pub async fn next_request(&self) -> Option<ChannelRequest> {
        poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let ended = sh.error.is_some();
            let Some(ch) = sh.channel_entry(self.handle.key) else {
                return Poll::Ready(None);
            };
            if let Some(r) = ch.st.requests.pop_front() {
                return Poll::Ready(Some(r));
            }
            if ended || ch.phase() != Phase::Open {
                return Poll::Ready(None);
            }
            ch.st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Server side: reports the command's exit status (RFC 4254 section 6.10).
    pub fn send_exit_status(&self, code: u32) -> Result<()> {
        self.send_request(&ChannelRequest::ExitStatus { code })
    }

    /// Server side: reports that the command was killed by a signal.
    pub fn send_exit_signal(&self, name: &str, core_dumped: bool, message: &str) -> Result<()> {
        self.send_request(&ChannelRequest::ExitSignal {
            signal: name.to_string(),
            core_dumped,
            message: message.to_string(),
        })
    }

    /// Closes the channel in both directions (RFC 4254 section 5.3) and
    /// waits for the peer's CLOSE; data still unread is dropped. (Not to be
    /// confused with the stream traits' `close`/`shutdown`, which only send
    /// EOF.)
    pub async fn close_channel(&self) -> Result<()> {
        let r = self.handle.mutate_open(|conn, st| {
            if !conn.channel(st.id).is_some_and(|ch| ch.is_closing()) {
                conn.close_channel(st.id)?;
            }
            Ok(())
        });
        match r {
            Ok(()) | Err(Error::Misuse(_)) => {}
            Err(e) => return Err(e),
        }
        poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let end = sh.end_error();
            let Some(ch) = sh.channel_entry(self.handle.key) else {
                return Poll::Ready(Ok(()));
            };
            if !matches!(ch.phase(), Phase::Open | Phase::Opening) {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = end {
                return Poll::Ready(Err(e));
            }
            ch.st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Bytes received and not yet read (stdout and stderr). The peer's
    /// window keeps this below the configured window size.
    pub fn buffered_len(&self) -> usize {
        let sh = lock(&self.handle.session.shared);
        sh.channels
            .get(&self.handle.key)
            .map_or(0, |st| st.stdout.len() + st.stderr.len())
    }

    /// Whether the peer has sent EOF (or the channel is closed).
    pub fn is_eof(&self) -> bool {
        let mut sh = lock(&self.handle.session.shared);
        sh.channel_entry(self.handle.key)
            .is_none_or(|ch| ch.input_ended())
    }

    /// Completes once the channel is closed both ways (or its open failed,
    /// or the connection ended).
    pub(crate) async fn wait_closed(&self) {
        poll_fn(|cx| {
            let mut sh = lock(&self.handle.session.shared);
            let ended = sh.error.is_some();
            let Some(ch) = sh.channel_entry(self.handle.key) else {
                return Poll::Ready(());
            };
            if ended || matches!(ch.phase(), Phase::Closed | Phase::OpenFailed) {
                return Poll::Ready(());
            }
            ch.st.wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Polls a read of the channel's data (the core of the `AsyncRead` impls).
    pub fn poll_read_data(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.handle.poll_read(cx, buf, false)
    }

    /// Polls a zero-copy read of the channel's data: the next received
    /// chunk, at most `max` bytes, as a slice of the decrypted packet rather
    /// than a copy; `Ok(None)` at the end of the stream (where a read gives
    /// 0). The zero-copy counterpart of [`Channel::poll_read_data`], with the
    /// same semantics otherwise: the chunk's bytes reopen the peer's window
    /// as a read of them would, errors and waking are the same, and chunk
    /// reads and reads may be mixed (each continues where the other
    /// stopped). A chunk is never more than one received packet's data, so
    /// it may be shorter than what is buffered. `max == 0` gives an empty
    /// chunk at once.
    pub fn poll_read_chunk(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<Option<Bytes>>> {
        self.handle.poll_read_chunk(cx, max, false)
    }

    /// Reads the next chunk of the channel's data, at most `max` bytes,
    /// without copying it; `None` at the end of the stream. The zero-copy
    /// counterpart of reading (see [`Channel::poll_read_chunk`]). Cancel
    /// safe: dropping the future before it is ready loses no data.
    pub async fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_read_chunk(cx, max)).await
    }

    /// Polls a write of channel data (the core of the `AsyncWrite` impls).
    pub fn poll_write_data(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.handle.poll_write(cx, buf, false)
    }

    /// Sends EOF; always ready (the stream traits' close/shutdown).
    pub fn poll_shutdown_write(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.handle.shutdown_write())
    }
}

/// Forgets a request's reply if its waiter goes away.
struct ReplyTicket<'a> {
    handle: &'a ChannelHandle,
    ticket: u64,
    taken: bool,
}

impl Drop for ReplyTicket<'_> {
    fn drop(&mut self) {
        if !self.taken {
            let mut sh = lock(&self.handle.session.shared);
            if let Some(st) = sh.channels.get_mut(&self.handle.key) {
                st.replies.abandon(self.ticket);
            }
        }
    }
}

/// The extended-data (stderr) stream of a [`Channel`]: read it on the
/// client, write it on the server. Keeps the channel open while it exists.
pub struct ChannelStderr {
    handle: Arc<ChannelHandle>,
}

impl fmt::Debug for ChannelStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelStderr({})", self.handle.id)
    }
}

impl ChannelStderr {
    /// Polls a read of stderr data.
    pub fn poll_read_data(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.handle.poll_read(cx, buf, true)
    }

    /// Polls a zero-copy read of stderr data: the stderr counterpart of
    /// [`Channel::poll_read_chunk`], and the zero-copy counterpart of
    /// [`ChannelStderr::poll_read_data`].
    pub fn poll_read_chunk(
        &self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<io::Result<Option<Bytes>>> {
        self.handle.poll_read_chunk(cx, max, true)
    }

    /// Reads the next chunk of stderr data, at most `max` bytes, without
    /// copying it; `None` at the end of the stream. The zero-copy
    /// counterpart of reading (see [`Channel::poll_read_chunk`]).
    pub async fn read_chunk(&self, max: usize) -> io::Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_read_chunk(cx, max)).await
    }

    /// Polls a write of stderr data (server side).
    pub fn poll_write_data(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.handle.poll_write(cx, buf, true)
    }
}

macro_rules! futures_io_impls {
    ($ty:ty, $shutdown:expr) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_data(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_data(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Written data is already queued in the connection, which the
                // pump sends as fast as the socket takes it.
                Poll::Ready(Ok(()))
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                #[allow(clippy::redundant_closure_call)]
                ($shutdown)(&*self, cx)
            }
        }
    };
}

futures_io_impls!(Channel, |c: &Channel, cx: &mut Context<'_>| c
    .poll_shutdown_write(cx));
futures_io_impls!(&Channel, |c: &&Channel, cx: &mut Context<'_>| c
    .poll_shutdown_write(cx));
// Closing the stderr writer does not end the channel's output: stdout may go on.
futures_io_impls!(ChannelStderr, |_: &ChannelStderr, _: &mut Context<'_>| {
    Poll::Ready(Ok(()))
});
futures_io_impls!(&ChannelStderr, |_: &&ChannelStderr, _: &mut Context<'_>| {
    Poll::Ready(Ok(()))
});
