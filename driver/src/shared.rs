//! The state one connection's handles share behind a mutex: the core
//! [`Connection`], what its events have told us, and the wakers of the tasks
//! waiting on it.
//!
//! Every event is handled here, once, for every adapter: after any call into
//! the connection, [`Shared::drain`] moves the events into per-channel and
//! per-session state and wakes whoever waits on them. The pump never waits
//! on a channel: received data is queued, and the core's per-channel window
//! (reopened only by [`Connection::consume`] as the application reads)
//! bounds each queue, so a channel nobody reads stalls only its own sender.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;
use conch_core::{
    ChannelId, ChannelOpenFailure, ChannelRef, ChannelRequest, Connection, Event,
    NegotiatedAlgorithms, PublicKey,
};

mod channel_events;

use crate::channel::ExitStatus;
use crate::record_file::TranscriptFile;
use crate::server::{PtyRequest, ServerHandler, SessionCommand};
use crate::wakers::{Replies, WakerSet};

/// Received `banner` messages kept for the application (oldest dropped).
const MAX_BANNERS: usize = 8;

/// The shared state, locked with [`lock`].
pub(crate) type SharedRef = Arc<Mutex<Shared>>;

/// Locks the shared state. A panic in another holder does not leave the state
/// inconsistent in a way that matters more than failing every call would, so
/// poisoning is ignored.
pub(crate) fn lock(shared: &SharedRef) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bytes received on one stream of a channel, not yet read.
#[derive(Debug, Default)]
pub(crate) struct RecvQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl RecvQueue {
    pub(crate) fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes the front chunk whole if it has at most `max` bytes, else its
    /// first `max` bytes (the rest stays at the front). The chunk is a slice
    /// of the received packet, not a copy. `None` when nothing is queued.
    pub(crate) fn pop_chunk(&mut self, max: usize) -> Option<Bytes> {
        let chunk = match self.chunks.front_mut() {
            None => return None,
            Some(front) if front.len() > max => front.split_to(max),
            Some(_) => self.chunks.pop_front()?,
        };
        self.len -= chunk.len();
        Some(chunk)
    }

    /// Copies up to `buf.len()` bytes out; returns how many.
    pub(crate) fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(chunk) = self.pop_chunk(buf.len() - n) else {
                break;
            };
            buf[n..n + chunk.len()].copy_from_slice(&chunk);
            n += chunk.len();
        }
        n
    }

    /// Drops everything; returns how many bytes were dropped.
    pub(crate) fn clear(&mut self) -> usize {
        self.chunks.clear();
        std::mem::take(&mut self.len)
    }
}

/// Where a channel is in its life (RFC 4254 section 5), as
/// [`ChannelEntry::phase`] derives it from the core's state of the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// We sent CHANNEL_OPEN and wait for the answer.
    Opening,
    /// Open (at least in one direction).
    Open,
    /// The peer refused to open it ([`ChannelState::open_failure`] says why).
    OpenFailed,
    /// Both sides sent CLOSE; the id is free for reuse.
    Closed,
}

/// Who holds the channel on the application side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// Server: opened by the client, not handed to the application yet (it
    /// is, once an exec/shell/subsystem request starts it).
    NotYet,
    /// A [`crate::Channel`] exists.
    Held,
    /// The application dropped it: data is discarded, the channel closed.
    Dropped,
}

/// Server-side facts about a session channel collected from its requests.
#[derive(Debug, Default)]
pub(crate) struct ServerChannelInfo {
    pub(crate) command: Option<SessionCommand>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) pty: Option<PtyRequest>,
    /// `auth-agent-req@openssh.com` was accepted before the start.
    pub(crate) agent_forwarding: bool,
    /// Started and queued for [`crate::ServerSession::accept_channel`].
    pub(crate) started: bool,
}

/// One channel as the handles see it: what the driver keeps beside the
/// core's state of the channel (which [`ChannelEntry`] queries).
#[derive(Debug)]
pub(crate) struct ChannelState {
    pub(crate) id: ChannelId,
    pub(crate) holder: Holder,
    /// The peer refused to open the channel: its reason and text. The core
    /// forgets a refused channel, so the driver keeps why for `wait_open`.
    pub(crate) open_failure: Option<(ChannelOpenFailure, String)>,
    pub(crate) stdout: RecvQueue,
    pub(crate) stderr: RecvQueue,
    /// Nobody will read stderr: consume it on arrival.
    pub(crate) stderr_discard: bool,
    pub(crate) exit: Option<ExitStatus>,
    pub(crate) replies: Replies<bool>,
    pub(crate) wakers: WakerSet,
    pub(crate) server: ServerChannelInfo,
    /// Requests received after the channel started (signal, window-change ...).
    pub(crate) requests: VecDeque<ChannelRequest>,
}

impl ChannelState {
    pub(crate) fn new(id: ChannelId, holder: Holder) -> Self {
        ChannelState {
            id,
            holder,
            open_failure: None,
            stdout: RecvQueue::default(),
            stderr: RecvQueue::default(),
            stderr_discard: false,
            exit: None,
            replies: Replies::default(),
            wakers: WakerSet::default(),
            server: ServerChannelInfo::default(),
            requests: VecDeque::new(),
        }
    }
}

/// One channel's driver state with the connection, for one call: the
/// phase, EOF and CLOSE come from the core ([`Connection::channel`]), not
/// from a copy kept from the events.
pub(crate) struct ChannelEntry<'a> {
    pub(crate) conn: &'a mut Connection,
    pub(crate) st: &'a mut ChannelState,
    /// The channel's id still names it in the core: the channel has been
    /// neither closed nor refused (after that the id may be reused).
    live: bool,
}

impl ChannelEntry<'_> {
    /// The core's state of the channel, while it has one.
    fn core(&self) -> Option<ChannelRef<'_>> {
        self.live.then(|| self.conn.channel(self.st.id)).flatten()
    }

    pub(crate) fn phase(&self) -> Phase {
        if self.st.open_failure.is_some() {
            return Phase::OpenFailed;
        }
        match self.core() {
            None => Phase::Closed,
            Some(ch) if ch.is_open() => Phase::Open,
            Some(_) => Phase::Opening,
        }
    }

    /// Whether the peer will send nothing more (EOF, close or refusal).
    pub(crate) fn input_ended(&self) -> bool {
        self.core().is_none_or(|ch| ch.eof_received())
    }

    /// Whether we closed the channel (or asked to, while it is opening).
    pub(crate) fn closing(&self) -> bool {
        self.core().is_some_and(|ch| ch.is_closing())
    }

    /// Whether we sent EOF or closed (or asked to): nothing more may be
    /// written.
    pub(crate) fn output_ended(&self) -> bool {
        self.core()
            .is_none_or(|ch| ch.eof_sent() || ch.is_closing())
    }
}

/// Client-role handshake and authentication progress.
#[derive(Debug, Default)]
pub(crate) struct ClientState {
    /// The server's key, once offered.
    pub(crate) host_key: Option<PublicKey>,
    /// Whether the application has answered for the host key.
    pub(crate) host_key_decided: bool,
    /// Whether the userauth service is ready (RFC 4252 section 4).
    pub(crate) userauth_ready: bool,
    /// The latest authentication answer not yet taken by an auth call.
    pub(crate) auth_reply: Option<Event>,
    /// Banners received, oldest first.
    pub(crate) banners: VecDeque<String>,
    /// An authentication request was sent and not answered yet (its caller
    /// may have gone away meanwhile).
    pub(crate) auth_in_flight: bool,
}

impl ClientState {
    /// An authentication request was sent (the core times its answer,
    /// `ClientConfig::auth_timeout`).
    pub(crate) fn auth_request_sent(&mut self) {
        self.auth_reply = None;
        self.auth_in_flight = true;
    }

    /// The request was not sent after all, or has been answered.
    pub(crate) fn auth_request_done(&mut self) {
        self.auth_in_flight = false;
    }
}

/// Server-role state.
pub(crate) struct ServerState {
    pub(crate) handler: Arc<dyn ServerHandler>,
    /// The client's address, if known ([`crate::ServerOptions::peer`]).
    pub(crate) peer: Option<std::net::SocketAddr>,
    /// The authenticated user.
    pub(crate) user: Option<String>,
    /// Started channels waiting for `accept_channel`, by key.
    pub(crate) incoming: VecDeque<u64>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState")
            .field("user", &self.user)
            .field("incoming", &self.incoming)
            .finish_non_exhaustive()
    }
}

/// Everything behind the connection's mutex.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) conn: Connection,
    /// Channels by key. Keys are never reused, unlike channel ids, so a
    /// stale handle can never see a later channel's data.
    pub(crate) channels: HashMap<u64, ChannelState>,
    /// Live channel ids to keys.
    ids: HashMap<ChannelId, u64>,
    next_key: u64,
    pub(crate) client: ClientState,
    pub(crate) server: Option<ServerState>,
    pub(crate) algorithms: Option<NegotiatedAlgorithms>,
    /// Global requests we sent with want-reply: the reply data or `None`
    /// for failure.
    pub(crate) globals: Replies<Option<Bytes>>,
    /// Forwarding: channels and listen requests awaiting the application,
    /// and the replies owed to the peer's global requests.
    pub(crate) forwards: crate::forward::Forwards,
    /// Why the connection ended, once it has.
    pub(crate) error: Option<conch_core::Error>,
    /// The socket failed: the pump must close it.
    pub(crate) io_error: Option<Arc<io::Error>>,
    /// The socket's failure is what ended the connection (and so what
    /// callers are told), rather than a failure after it had ended.
    io_error_ended_it: bool,
    /// The pump has finished and closed the socket.
    pub(crate) pump_done: bool,
    pub(crate) pump_waker: Option<Waker>,
    /// Tasks waiting on session-level state (handshake, auth, incoming
    /// channels, global replies, the end).
    pub(crate) session_wakers: WakerSet,
    /// Where the connection's transcript goes, when recording.
    transcript: Option<TranscriptFile>,
}

impl Shared {
    pub(crate) fn new(conn: Connection, server: Option<ServerState>) -> Self {
        Shared {
            conn,
            channels: HashMap::new(),
            ids: HashMap::new(),
            next_key: 0,
            client: ClientState::default(),
            server,
            algorithms: None,
            forwards: Default::default(),
            globals: Replies::default(),
            error: None,
            io_error: None,
            io_error_ended_it: false,
            pump_done: false,
            pump_waker: None,
            session_wakers: WakerSet::default(),
            transcript: None,
        }
    }

    /// Records to `transcript` (see `record_file`); a file that could not
    /// be created ends the connection with that error.
    pub(crate) fn start_recording(&mut self, transcript: Option<io::Result<TranscriptFile>>) {
        match transcript {
            None => {}
            Some(Ok(file)) => self.transcript = Some(file),
            Some(Err(e)) => self.io_failed(e),
        }
    }

    /// Registers a channel under a fresh key.
    pub(crate) fn add_channel(&mut self, id: ChannelId, holder: Holder) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        self.ids.insert(id, key);
        self.channels.insert(key, ChannelState::new(id, holder));
        key
    }

    /// The channel under `key` with the connection, if a handle's channel
    /// is still known.
    pub(crate) fn channel_entry(&mut self, key: u64) -> Option<ChannelEntry<'_>> {
        let st = self.channels.get_mut(&key)?;
        let live = self.ids.get(&st.id) == Some(&key);
        Some(ChannelEntry {
            conn: &mut self.conn,
            st,
            live,
        })
    }

    /// Forgets a channel's state (no handle refers to it any more).
    pub(crate) fn remove_channel(&mut self, key: u64) {
        if let Some(st) = self.channels.remove(&key) {
            if self.ids.get(&st.id) == Some(&key) {
                self.ids.remove(&st.id);
            }
        }
    }

    /// Wakes the pump so it transmits what the last call queued and re-arms
    /// its timer.
    pub(crate) fn wake_pump(&mut self) {
        if let Some(w) = &self.pump_waker {
            w.wake_by_ref();
        }
    }

    /// Wakes every waiting task (the connection ended).
    pub(crate) fn wake_everyone(&mut self) {
        self.session_wakers.wake_all();
        for st in self.channels.values_mut() {
            st.wakers.wake_all();
        }
        self.wake_pump();
    }

    /// The error to report to a caller once the connection has ended.
    pub(crate) fn end_error(&self) -> Option<crate::Error> {
        let e = self.error.as_ref()?;
        if let Some(io) = self.io_error.as_ref().filter(|_| self.io_error_ended_it) {
            return Some(crate::Error::Io(io.clone()));
        }
        Some(crate::Error::from_core(e.clone()))
    }

    /// The next instant the pump must call [`Shared::handle_timeout`]. Every
    /// protocol deadline (handshake, authentication answer, keepalive) is
    /// the connection's own, so a session's timeouts are in its transcript.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// Runs the connection's timer work due at `now`; a deadline that
    /// passed ends the connection, and [`Shared::end_error`] reports it.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
        self.drain();
        // What the timer queued (a keepalive, a re-exchange's KEXINIT) is
        // for the socket now: a pump that was about to sleep until the next
        // deadline must send it first.
        if self.conn.poll_transmit().is_some() {
            self.wake_pump();
        }
    }

    /// The socket failed: the connection is lost, and the pump closes the
    /// socket. Also when the connection had already ended (the peer's EOF
    /// came first and what was left to send cannot go out): a pump told
    /// nothing would keep retrying that write, or wait forever.
    pub(crate) fn io_failed(&mut self, e: io::Error) {
        if self.io_error.is_none() {
            self.io_error_ended_it = self.error.is_none();
            self.io_error = Some(Arc::new(e));
        }
        self.conn.handle_eof(std::time::Instant::now());
        self.drain();
    }

    /// Handles every pending event of the connection.
    pub(crate) fn drain(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.handle_event(event);
        }
        if let Some(t) = &mut self.transcript {
            t.write_from(&mut self.conn);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::HostKey { key } => {
                self.client.host_key = Some(key);
                self.session_wakers.wake_all();
            }
            Event::KeyExchangeDone { algorithms, .. } => {
                self.algorithms = Some(algorithms);
            }
            Event::UserauthReady => {
                self.client.userauth_ready = true;
                self.session_wakers.wake_all();
            }
            Event::AuthBanner { message } => {
                if self.client.banners.len() == MAX_BANNERS {
                    self.client.banners.pop_front();
                }
                self.client.banners.push_back(message);
                self.session_wakers.wake_all();
            }
            e @ (Event::AuthFailure { .. }
            | Event::AuthSignatureNeeded { .. }
            | Event::AuthPasswordChange { .. }
            | Event::AuthInfoRequest { .. }
            | Event::AuthSuccess) => {
                self.client.auth_request_done();
                self.client.auth_reply = Some(e);
                self.session_wakers.wake_all();
            }
            Event::AuthRequest { user, attempt, .. } => {
                if let Some(server) = &self.server {
                    let decision = server.handler.auth_from(server.peer, &user, &attempt);
                    // A refused decision (wrong state) cannot happen for the
                    // pending request; a fatal one arrives as `Disconnected`.
                    let _ = self.conn.apply(conch_core::Command::AuthDecision {
                        decision: std::borrow::Cow::Owned(decision),
                    });
                }
            }
            Event::Authenticated { user } => {
                if let Some(server) = &mut self.server {
                    server.user = Some(user);
                }
                self.session_wakers.wake_all();
            }
            Event::Channel { id, event } => self.on_channel_event(id, event),
            // Forwarding requests go to the server's handler; the rest are
            // refused (RFC 4254 section 4), in the order they came.
            Event::GlobalRequest {
                name,
                data,
                want_reply: true,
            } => self.on_global_request(&name, &data),
            Event::GlobalReply { success, data } => {
                self.globals.answer(success.then_some(data));
                self.session_wakers.wake_all();
            }
            Event::Disconnected { error } => {
                if self.error.is_none() {
                    self.error = Some(error);
                }
                self.wake_everyone();
            }
            // Debug messages and events added to the core later are not
            // needed to drive a session.
            _ => {}
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last records, if any call was not followed by a drain.
        if let Some(t) = &mut self.transcript {
            t.write_from(&mut self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientOptions, Engine, ServerName};

    fn client() -> (crate::Session, Engine) {
        crate::session::client(
            &ClientOptions::insecure_accept_any_host_key(),
            ServerName::new("example.org", 22),
        )
    }

    #[test]
    fn a_write_failing_after_the_peer_closed_still_closes_the_socket() {
        let (session, engine) = client();
        // The peer's EOF arrives while our identification waits to be sent:
        // the pump goes on writing it...
        engine.eof();
        assert!(!engine.should_close());
        // ... and that fails: the socket must be closed now, not the write
        // retried forever.
        engine.io_error(io::ErrorKind::BrokenPipe.into());
        assert!(engine.should_close());
        // Callers learn what ended the connection: the EOF.
        let reason = session.disconnect_reason();
        assert!(
            matches!(
                reason,
                Some(crate::Error::Disconnected(
                    conch_core::Error::ConnectionLost(_)
                ))
            ),
            "{reason:?}"
        );
    }

    /// A socket whose peer has closed: reads give EOF, and writes are not
    /// possible at first, then fail.
    struct ClosedByPeer {
        writes: usize,
    }

    impl futures_io::AsyncRead for ClosedByPeer {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Ready(Ok(0))
        }
    }

    impl futures_io::AsyncWrite for ClosedByPeer {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            _: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            self.writes += 1;
            if self.writes == 1 {
                cx.waker().wake_by_ref();
                return std::task::Poll::Pending;
            }
            std::task::Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    struct NeverTimer;

    impl crate::Timer for NeverTimer {
        fn sleep_until(&self, _: std::time::Instant) -> crate::Sleep {
            Box::pin(std::future::pending())
        }
    }

    #[test]
    fn the_pump_finishes_when_writing_fails_after_the_peer_closed() {
        let (session, engine) = client();
        let mut pump = engine.into_pump(ClosedByPeer { writes: 0 }, Arc::new(NeverTimer));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let finished = (0..10)
            .any(|_| std::future::Future::poll(std::pin::Pin::new(&mut pump), &mut cx).is_ready());
        assert!(finished, "the pump must end, not wait forever");
        assert!(session.is_closed());
    }

    #[test]
    fn recv_queue_reads_across_chunks_and_keeps_the_rest() {
        let mut q = RecvQueue::default();
        q.push(Bytes::from_static(b"hello "));
        q.push(Bytes::new());
        q.push(Bytes::from_static(b"world"));
        assert_eq!(q.len(), 11);
        let mut buf = [0u8; 8];
        assert_eq!(q.read_into(&mut buf), 8);
        assert_eq!(&buf, b"hello wo");
        assert_eq!(q.len(), 3);
        let mut rest = [0u8; 10];
        assert_eq!(q.read_into(&mut rest), 3);
        assert_eq!(&rest[..3], b"rld");
        assert!(q.is_empty());
        assert_eq!(q.read_into(&mut rest), 0);
    }

    #[test]
    fn recv_queue_pops_whole_chunks_splits_long_ones_and_mixes_with_copies() {
        let mut q = RecvQueue::default();
        q.push(Bytes::from_static(b"abcdef"));
        q.push(Bytes::from_static(b"gh"));
        q.push(Bytes::from_static(b"ijklmnop"));
        // Longer than `max`: only its front is taken, the rest stays first.
        assert_eq!(q.pop_chunk(4).as_deref(), Some(&b"abcd"[..]));
        assert_eq!(q.len(), 12);
        // A chunk that fits comes out whole, never joined with the next.
        assert_eq!(q.pop_chunk(100).as_deref(), Some(&b"ef"[..]));
        assert_eq!(q.pop_chunk(2).as_deref(), Some(&b"gh"[..]));
        // A copying read continues where the chunks stopped.
        let mut buf = [0u8; 3];
        assert_eq!(q.read_into(&mut buf), 3);
        assert_eq!(&buf, b"ijk");
        assert_eq!(q.pop_chunk(100).as_deref(), Some(&b"lmnop"[..]));
        assert!(q.is_empty());
        assert_eq!(q.len(), 0);
        assert_eq!(q.pop_chunk(100), None);
    }
}
