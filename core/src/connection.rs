//! [`Connection`]: one SSH connection, either role, with no I/O of its own.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand_core::CryptoRngCore;

use crate::auth::{AuthContext, AuthDecision, ClientAuth, ServerAuth, ServerAuthConfig};
use crate::channel::Channels;
use crate::config::{ChannelConfig, ClientConfig, ServerConfig};
use crate::error::{ApiMisuse, Error, PeerMisbehaved};
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest, Event};
use crate::keys::{KeyError, PublicKey};
use crate::msg;
use crate::outbox::Outbox;
use crate::record::{self, Call, Outcome, RecordedConfig, RecordedValue, Recorder};
use crate::transport::{Incoming, Side, Transport};
use crate::wire::Encode;

/// Output the peer's own messages made us queue (answers to its requests,
/// refusals of its channel opens) and that has not been written yet, beyond
/// which the connection ends. Adapters keep reading while a write is
/// blocked, so a peer that keeps asking without reading the answers, or
/// while it stalls a key exchange we started (nothing but the exchange may
/// go out then), would otherwise grow our buffers without bound. An honest
/// peer gets nowhere near this: it is tens of thousands of unread answers.
const PEER_PROVOKED_OUTPUT_LIMIT: usize = 1024 * 1024;

/// What a queued message counts for beyond its payload: at least what
/// framing, padding and the largest MAC add once it is sealed (4 + 1 + 19 +
/// 64 bytes, RFC 4253 section 6), so sealing never makes the count grow.
const QUEUED_MESSAGE_OVERHEAD: usize = 96;

/// The randomness a connection draws on: any cryptographically secure RNG.
/// Tests hand in a seeded one, adapters one seeded from the OS.
pub type Rng = Box<dyn CryptoRngCore + Send>;

/// One SSH connection, client or server, as a pure state machine.
///
/// A `Connection` never touches a socket, a clock or the OS's randomness:
/// the caller moves bytes and time in and out. It is driven like this, and
/// every adapter follows the same loop (see `ARCHITECTURE.md`):
///
/// 1. **Input.** Bytes read from the socket go to [`Connection::handle_input`]
///    in any split (one byte at a time works), or, read into a [`BytesMut`]
///    the caller can hand over, to [`Connection::handle_input_buf`], which
///    takes them without a copy. When the socket reaches EOF,
///    call [`Connection::handle_eof`]. When the time returned by
///    [`Connection::poll_timeout`] has come, call
///    [`Connection::handle_timeout`].
/// 2. **Drain.** After every input call *and* every mutator call, drain all
///    output until nothing is left:
///    - [`Connection::poll_event`] until it returns `None`, answering the
///      events that ask for a decision (host key, auth, channel opens, ...);
///    - [`Connection::poll_transmit`] until it returns `None`, writing the
///      bytes to the socket and reporting how many were written with
///      [`Connection::consume_transmit`]; or, for a caller that writes
///      without holding the connection (another thread's lock, say),
///      [`Connection::take_transmit`], which moves all of them into the
///      caller's buffer at once; then take again only once that buffer has
///      been written;
///    - [`Connection::poll_timeout`] to (re)arm the timer.
///
///    Answering an event is a mutator call, so it may produce more output:
///    keep draining until a full round yields nothing.
/// 3. **Mutate.** Application actions ([`Connection::open_session`],
///    [`Connection::send_data`], ...) may be called at any time between
///    input calls; then drain again.
/// 4. **End.** When [`Event::Disconnected`] has been returned and
///    [`Connection::poll_transmit`] yields nothing more, close the socket
///    (after writing what [`Connection::take_transmit`] handed out, if used).
///
/// Time only ever comes from the `now` arguments, which must not go
/// backwards; randomness only from the RNG given at construction. The same
/// RNG seed, times and inputs give byte-identical output.
///
/// Fatal errors are sticky: once an input call has returned an error, every
/// later one returns it again, and the last bytes transmitted are a DISCONNECT
/// with [`Error::disconnect_reason`].
pub struct Connection {
    side: Side,
    rng: Rng,
    transport: Transport,
    auth: Auth,
    channels: Channels,
    outbox: Outbox,
    events: VecDeque<Event>,
    error: Option<Error>,
    channel_config: ChannelConfig,
    keepalive: Option<Keepalive>,
    /// Server: the client must be authenticated by then (OpenSSH
    /// `LoginGraceTime`); the transport's own deadline covers only the key
    /// exchange.
    login_deadline: Option<Instant>,
    userauth_started: bool,
    /// Whether `send_data` turned data away for lack of send buffer.
    send_budget_exhausted: bool,
    /// Output queued while handling the peer's input and not written since
    /// (counted as `queued_output` does; see `PEER_PROVOKED_OUTPUT_LIMIT`).
    peer_provoked_output: usize,
    /// The latest time handed in.
    now: Instant,
    /// The transcript being recorded, if any (see [`crate::record`]).
    recorder: Option<Box<Recorder>>,
}

/// The role's authentication state. The server's is much larger (it queues
/// pending requests); one connection holds one, so the size gap costs nothing.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Auth {
    Client(ClientAuth),
    Server(ServerAuth),
}

/// OpenSSH-style keepalives: after `interval` of silence from the peer send
/// `keepalive@openssh.com`; after `max` unanswered, give up.
#[derive(Debug)]
struct Keepalive {
    interval: Duration,
    max: u32,
    outstanding: u32,
    next: Instant,
}

impl Drop for Connection {
    /// Passwords in authentication requests nobody polled are wiped (the
    /// outbox and the auth queue wipe their own).
    fn drop(&mut self) {
        crate::auth::wipe_queued_secrets(&mut self.events);
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("transport", &self.transport)
            .field("auth", &self.auth)
            .field("channels", &self.channels.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A client connection. Our identification string is ready to transmit at once.
    pub fn client(config: Arc<ClientConfig>, rng: Rng, now: Instant) -> Self {
        let transport = Transport::new_client(config.transport.clone(), now);
        Self::new(
            Side::Client,
            transport,
            Auth::Client(ClientAuth::default()),
            config.channels.clone(),
            config.transport.keepalive_interval,
            config.transport.keepalive_max,
            config.transport.handshake_timeout,
            rng,
            now,
        )
    }

    /// A server connection for one accepted socket.
    pub fn server(config: Arc<ServerConfig>, rng: Rng, now: Instant) -> Self {
        let transport =
            Transport::new_server(config.transport.clone(), config.host_keys.clone(), now);
        let auth = ServerAuth::new(ServerAuthConfig {
            methods: config.auth_methods.clone(),
            max_attempts: config.max_auth_attempts,
            banner: config.auth_banner.clone(),
        });
        Self::new(
            Side::Server,
            transport,
            Auth::Server(auth),
            config.channels.clone(),
            config.transport.keepalive_interval,
            config.transport.keepalive_max,
            config.transport.handshake_timeout,
            rng,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        side: Side,
        transport: Transport,
        auth: Auth,
        channel_config: ChannelConfig,
        keepalive_interval: Option<Duration>,
        keepalive_max: u32,
        handshake_timeout: Option<Duration>,
        rng: Rng,
        now: Instant,
    ) -> Self {
        Connection {
            side,
            rng,
            transport,
            auth,
            channels: Channels::new(channel_config.clone()),
            outbox: Outbox::default(),
            events: VecDeque::new(),
            error: None,
            channel_config,
            keepalive: keepalive_interval.map(|interval| Keepalive {
                interval,
                max: keepalive_max,
                outstanding: 0,
                next: now + interval,
            }),
            login_deadline: match side {
                Side::Server => handshake_timeout.map(|t| now + t),
                Side::Client => None,
            },
            userauth_started: false,
            send_budget_exhausted: false,
            peer_provoked_output: 0,
            now,
            recorder: None,
        }
    }

    /// Which role this connection plays.
    pub fn side(&self) -> Side {
        self.side
    }

    // ------------------------------------------------------------------
    // Recording (see the `record` module)
    // ------------------------------------------------------------------

    /// A client connection that records a transcript of every call, for
    /// [`record::replay`]. Its RNG is `ChaCha20Rng` from `seed` (draw it
    /// from the OS), and the transcript holds that seed: **anyone with the
    /// transcript can decrypt the session** (see [`crate::record`]).
    pub fn client_recorded(config: Arc<ClientConfig>, seed: [u8; 32], now: Instant) -> Self {
        let header = record::Header {
            config: RecordedConfig::Client(config.clone()),
            seed,
        };
        let mut conn = Self::client(config, record::seeded_rng(seed), now);
        let recorder =
            Recorder::new(&header, now).expect("a client header holds no key that could fail");
        conn.recorder = Some(Box::new(recorder));
        conn
    }

    /// A server connection that records a transcript, as
    /// [`Connection::client_recorded`]. The transcript also holds the host
    /// **private** keys. Fails only if a host key cannot be encoded.
    pub fn server_recorded(
        config: Arc<ServerConfig>,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Self, KeyError> {
        let header = record::Header {
            config: RecordedConfig::Server(config.clone()),
            seed,
        };
        let recorder = Recorder::new(&header, now)?;
        let mut conn = Self::server(config, record::seeded_rng(seed), now);
        conn.recorder = Some(Box::new(recorder));
        Ok(conn)
    }

    /// Whether this connection records a transcript.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// The transcript bytes recorded since the last call (the header comes
    /// with the first), to be appended to a file; empty when not recording.
    pub fn take_transcript(&mut self) -> Vec<u8> {
        self.recorder.as_mut().map(|r| r.take()).unwrap_or_default()
    }

    /// Runs a public call `f`; when recording, appends `call` (built only
    /// then) and the result.
    fn recorded<'a, T: RecordedValue>(
        &mut self,
        call: impl FnOnce(&Recorder) -> Call<'a>,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let call = self.recorder.as_deref().map(call);
        self.record_call(call, f)
    }

    /// Runs a public call `f`; appends `call` (`Some` exactly when
    /// recording) and the result.
    fn record_call<T: RecordedValue>(
        &mut self,
        call: Option<Call<'_>>,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let result = f(self);
        if let (Some(call), Some(recorder)) = (call, &mut self.recorder) {
            recorder.record(&call, record::outcome_of(&result));
        }
        result
    }

    /// When recording, appends `call`, which returns nothing.
    fn record_done<'a>(&mut self, call: impl FnOnce(&Recorder) -> Call<'a>) {
        if let Some(recorder) = &mut self.recorder {
            let call = call(recorder);
            recorder.record(&call, Outcome::Done);
        }
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// Feeds bytes received from the peer, split anywhere.
    ///
    /// The bytes are copied into the connection's receive buffer. A caller
    /// that reads into a [`BytesMut`] it can hand over saves that copy with
    /// [`Connection::handle_input_buf`].
    ///
    /// Returns the connection's fatal error if it has failed (now or before).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.recorded(
            |r| Call::HandleInput {
                at: r.offset(now),
                data: data.into(),
            },
            |c| c.receive(now, !data.is_empty(), |t| t.handle_input(data)),
        )
    }

    /// Feeds the bytes received from the peer that `buf` holds, and leaves
    /// `buf` empty: the same as [`Connection::handle_input`] of `&buf[..]`
    /// followed by `buf.clear()` (the same events, output and errors, and
    /// the same `handle_input` call in a transcript), but without copying
    /// the bytes when it can.
    ///
    /// - **No copy** when the connection has no input buffered (no partial
    ///   packet or identification line waits for the rest) and has not
    ///   ended: it adopts `buf`'s memory as its receive buffer. Packets are
    ///   decrypted in place there, and the payloads of [`Event::Data`] and
    ///   the other events are [`crate::Bytes`] slices of it. `buf` gets the
    ///   connection's spare receive buffer in exchange (empty, with the
    ///   memory the connection received into last time), so a caller that
    ///   reads into the buffer it got back allocates nothing in the steady
    ///   state, once the payloads cut from that memory have been dropped.
    ///   (A `BytesMut` made afresh from a `Vec` each time costs `bytes` one
    ///   small allocation, its shared header, when the first packet is
    ///   split off it.)
    /// - **Copy** otherwise: the bytes are appended to the buffered input,
    ///   as `handle_input` does, or dropped if the connection has ended;
    ///   `buf` keeps its memory, cleared.
    ///
    /// As with `handle_input`'s own buffer, payloads the application keeps
    /// keep the memory they were cut from alive, and the spare handed back
    /// may share its allocation with such payloads; `BytesMut` then moves
    /// to new memory when it has to grow, never over them. When recording
    /// a transcript, the bytes are copied into it.
    pub fn handle_input_buf(&mut self, now: Instant, buf: &mut BytesMut) -> Result<(), Error> {
        // The transcript needs the bytes, which the connection may adopt:
        // copy them first (only when recording).
        let call = self.recorder.as_deref().map(|r| Call::HandleInput {
            at: r.offset(now),
            data: Cow::Owned(buf.to_vec()),
        });
        let any = !buf.is_empty();
        let result = self.record_call(call, |c| c.receive(now, any, |t| t.handle_input_buf(buf)));
        // Left untouched if the connection had failed before.
        buf.clear();
        result
    }

    /// The input calls' common work: `feed` hands the bytes (`any`: there
    /// is at least one) to the transport, then they are processed.
    fn receive(
        &mut self,
        now: Instant,
        any: bool,
        feed: impl FnOnce(&mut Transport),
    ) -> Result<(), Error> {
        self.advance_clock(now);
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if any {
            // Anything from the peer shows it is alive.
            if let Some(k) = &mut self.keepalive {
                k.outstanding = 0;
                k.next = now + k.interval;
            }
        }
        feed(&mut self.transport);
        self.process_input()
    }

    /// The peer closed its end of the byte stream.
    pub fn handle_eof(&mut self, now: Instant) {
        self.advance_clock(now);
        if self.error.is_none() {
            // The socket is gone, so no DISCONNECT can be sent.
            self.record_error(Error::ConnectionLost("peer closed the connection".into()));
        }
        self.record_done(|r| Call::HandleEof { at: r.offset(now) });
    }

    /// Runs time-driven work (re-exchange by time, keepalives, the
    /// handshake deadline). Call when [`Connection::poll_timeout`]'s instant
    /// has passed; calling early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.recorded(
            |r| Call::HandleTimeout { at: r.offset(now) },
            |c| {
                c.advance_clock(now);
                if let Some(e) = &c.error {
                    return Err(e.clone());
                }
                if let Err(e) = c.transport.handle_timeout(now, &mut *c.rng) {
                    return Err(c.fail(e));
                }
                if c.login_deadline.is_some_and(|d| now >= d) && !c.is_authenticated() {
                    return Err(c.fail(Error::Timeout("authentication (login grace time)")));
                }
                let ready = c.connection_layer_ready();
                if let Some(k) = &mut c.keepalive {
                    if now >= k.next && ready {
                        if k.outstanding >= k.max {
                            return Err(c.fail(Error::Timeout("no answer to keepalives")));
                        }
                        k.outstanding += 1;
                        k.next = now + k.interval;
                        c.channels.send_keepalive(&mut c.outbox);
                    } else if now >= k.next {
                        k.next = now + k.interval;
                    }
                }
                c.flush();
                Ok(())
            },
        )
    }

    fn advance_clock(&mut self, now: Instant) {
        // Time never goes backwards for the state machine, whatever the caller does.
        if now > self.now {
            self.now = now;
        }
    }

    fn process_input(&mut self) -> Result<(), Error> {
        let queued_before = self.queued_output();
        loop {
            let incoming =
                match self
                    .transport
                    .poll_incoming(self.now, &mut *self.rng, &mut self.events)
                {
                    Ok(Some(incoming)) => incoming,
                    Ok(None) => break,
                    Err(e) => return Err(self.fail(e)),
                };
            if let Err(e) = self.dispatch(incoming) {
                return Err(self.fail(e));
            }
            if self.transport.is_closed() {
                break;
            }
        }
        self.after_progress();
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let provoked = self.queued_output().saturating_sub(queued_before);
        self.peer_provoked_output = self.peer_provoked_output.saturating_add(provoked);
        if self.peer_provoked_output > PEER_PROVOKED_OUTPUT_LIMIT {
            return Err(self.fail(
                PeerMisbehaved::Other("too many answers queued for a peer that does not take them")
                    .into(),
            ));
        }
        Ok(())
    }

    /// Bytes queued for the peer, sealed or not (each message not sealed
    /// yet counted with `QUEUED_MESSAGE_OVERHEAD` on top of its payload).
    fn queued_output(&self) -> usize {
        self.outbox.pending_bytes()
            + self.outbox.len() * QUEUED_MESSAGE_OVERHEAD
            + self.transport.transmit().len()
    }

    /// Routes one upper-layer packet by message number (RFC 4250 section 4.1.1).
    fn dispatch(&mut self, incoming: Incoming) -> Result<(), Error> {
        let msg_no = incoming.payload.first().copied().unwrap_or(0);
        match msg_no {
            msg::SERVICE_REQUEST | msg::SERVICE_ACCEPT | 50..=79 => {
                let ctx = AuthContext {
                    session_id: self.transport.session_id().unwrap_or(&[]),
                    server_sig_algs: self.transport.server_sig_algs(),
                };
                let was_authenticated = self.is_authenticated();
                match &mut self.auth {
                    Auth::Client(a) => {
                        a.handle(incoming.payload, ctx, &mut self.outbox, &mut self.events)?
                    }
                    Auth::Server(a) => {
                        a.handle(incoming.payload, ctx, &mut self.outbox, &mut self.events)?
                    }
                }
                if !was_authenticated && self.is_authenticated() {
                    self.on_authenticated();
                }
                Ok(())
            }
            80..=127 => {
                if !self.is_authenticated() {
                    // RFC 4252 section 5: the connection protocol starts only
                    // after authentication succeeded.
                    return Err(PeerMisbehaved::UnexpectedMessage {
                        msg: msg_no,
                        state: "before authentication",
                    }
                    .into());
                }
                let known =
                    self.channels
                        .handle(incoming.payload, &mut self.outbox, &mut self.events)?;
                if !known {
                    self.transport.send_unimplemented(incoming.seq);
                }
                Ok(())
            }
            _ => {
                self.transport.send_unimplemented(incoming.seq);
                Ok(())
            }
        }
    }

    fn on_authenticated(&mut self) {
        self.login_deadline = None;
        if let Some(k) = &mut self.keepalive {
            k.outstanding = 0;
            k.next = self.now + k.interval;
        }
    }

    /// Work after any input or mutator: start user auth once the transport
    /// is up, hand queued messages to the transport.
    fn after_progress(&mut self) {
        if self.error.is_some() {
            return;
        }
        if !self.userauth_started && self.transport.is_established() {
            self.userauth_started = true;
            if let Auth::Client(a) = &mut self.auth {
                a.start(&mut self.outbox);
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        if self.error.is_none() {
            self.transport
                .flush_outbox(&mut self.outbox, &mut *self.rng);
        }
        if self.send_budget_exhausted {
            let budget = self.send_budget();
            if budget > 0 {
                self.send_budget_exhausted = false;
                self.channels.on_send_budget(budget, &mut self.events);
            }
        }
    }

    fn send_budget(&self) -> usize {
        self.channel_config
            .send_buffer_limit
            .saturating_sub(self.outbox.pending_bytes() + self.transport.transmit().len())
    }

    /// Records a fatal error, queues the DISCONNECT and the final event, and
    /// returns the error for the caller to pass on.
    fn fail(&mut self, error: Error) -> Error {
        if let Some(e) = &self.error {
            return e.clone();
        }
        if !matches!(
            error,
            Error::PeerDisconnected { .. } | Error::ConnectionLost(_)
        ) {
            self.transport
                .send_disconnect(error.disconnect_reason(), &error.to_string());
        }
        self.record_error(error.clone());
        error
    }

    fn record_error(&mut self, error: Error) {
        self.error = Some(error.clone());
        self.events.push_back(Event::Disconnected { error });
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// The next event, if any. Drain until `None` after every call.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if let Some(r) = &mut self.recorder {
            r.record_event(event.as_ref());
        }
        event
    }

    /// Bytes to write to the socket, if any. Report how many were written
    /// with [`Connection::consume_transmit`]; the same bytes are returned
    /// until then.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        let t = self.transport.transmit();
        if t.is_empty() {
            None
        } else {
            Some(t)
        }
    }

    /// The first `n` bytes of [`Connection::poll_transmit`] were written.
    pub fn consume_transmit(&mut self, n: usize) {
        if let Some(r) = &mut self.recorder {
            r.record_transmit(n, self.transport.transmit());
        }
        self.transport.consume_transmit(n);
        self.transmitted(n);
    }

    /// Moves every byte waiting for the socket into `out`: the same bytes,
    /// with the same effect (and the same record in a transcript), as
    /// [`Connection::poll_transmit`] and [`Connection::consume_transmit`] of
    /// all of it until `poll_transmit` returns `None`. The caller then
    /// writes `out` to the socket on its own, for instance without holding
    /// a lock the application's threads need while it sits in `write(2)`.
    ///
    /// When `out` is empty and nothing of the waiting bytes was consumed
    /// yet, the connection's buffer and `out` are swapped, with no copy: the
    /// connection keeps `out`'s allocation, so a caller handing the same
    /// `Vec` back each time (cleared) allocates nothing in the steady state.
    /// Otherwise the bytes are appended to `out`.
    ///
    /// Bytes taken no longer count against the send buffer
    /// ([`crate::ChannelConfig::send_buffer_limit`]): taking reopens it
    /// (with [`Event::ChannelWritable`] where `send_data` was turned away),
    /// and the application may queue that much again. Take again only once
    /// `out` has been written, so that what waits in memory stays within
    /// about twice the limit (the connection's buffer and `out`).
    pub fn take_transmit(&mut self, out: &mut Vec<u8>) {
        // Releasing room may let held-back messages through, as after
        // `consume_transmit`: take those too.
        loop {
            let n = self.transport.transmit().len();
            if n == 0 {
                return;
            }
            if let Some(r) = &mut self.recorder {
                r.record_transmit(n, self.transport.transmit());
            }
            self.transport.take_transmit(out);
            self.transmitted(n);
        }
    }

    /// Bookkeeping once `n` bytes have left the transmit buffer.
    fn transmitted(&mut self, n: usize) {
        // What the peer takes pays off what it provoked.
        self.peer_provoked_output = self.peer_provoked_output.saturating_sub(n);
        // Room in the transmit buffer lets held-back messages through.
        self.flush();
    }

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let keepalive = self
            .keepalive
            .as_ref()
            .filter(|_| self.connection_layer_ready())
            .map(|k| k.next);
        [
            self.transport.poll_timeout(),
            keepalive,
            self.login_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the connection has ended and everything left to send has been
    /// taken: the socket may be closed.
    pub fn is_closed(&self) -> bool {
        self.error.is_some() && self.transport.transmit().is_empty()
    }

    /// The fatal error that ended the connection, if it has ended.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The session identifier (the first exchange hash), once known.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.transport.session_id()
    }

    /// The server's host key (client role, once received).
    pub fn server_host_key(&self) -> Option<&PublicKey> {
        self.transport.host_key()
    }

    /// Whether user authentication has succeeded.
    pub fn is_authenticated(&self) -> bool {
        match &self.auth {
            Auth::Client(a) => a.is_authenticated(),
            Auth::Server(a) => a.is_authenticated(),
        }
    }

    fn connection_layer_ready(&self) -> bool {
        self.is_authenticated() && !self.transport.is_closed()
    }

    // ------------------------------------------------------------------
    // Mutators: the connection as a whole
    // ------------------------------------------------------------------

    fn check_open(&self) -> Result<(), Error> {
        if self.error.is_some() {
            return Err(ApiMisuse::Closed.into());
        }
        Ok(())
    }

    /// Runs `f` on the connection, then hands any queued messages on.
    fn mutate<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        self.check_open()?;
        let r = f(self);
        self.after_progress();
        r
    }

    /// Starts a key re-exchange now (RFC 4253 section 9). Data keeps its order
    /// across it.
    pub fn rekey(&mut self) -> Result<(), Error> {
        self.recorded(
            |_| Call::Rekey,
            |c| c.mutate(|c| Ok(c.transport.start_rekey(c.now, &mut *c.rng)?)),
        )
    }

    /// Ends the connection: sends DISCONNECT (reason `by application`) with
    /// `description`, then [`Event::Disconnected`].
    pub fn disconnect(&mut self, description: &str) {
        if self.error.is_none() {
            // Whatever is queued goes out before the DISCONNECT.
            self.flush();
            self.fail(Error::Closed(description.to_string()));
        }
        self.record_done(|_| Call::Disconnect {
            description: description.into(),
        });
    }

    // ------------------------------------------------------------------
    // Mutators: client decisions and authentication
    // ------------------------------------------------------------------

    fn client_auth(&mut self, what: &'static str) -> Result<&mut ClientAuth, Error> {
        match &mut self.auth {
            Auth::Client(a) => Ok(a),
            Auth::Server(_) => Err(ApiMisuse::WrongRole(what, "client").into()),
        }
    }

    /// Accepts the host key from [`Event::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), Error> {
        self.recorded(
            |_| Call::AcceptHostKey,
            |c| {
                c.client_auth("accept_host_key")?;
                c.mutate(|c| {
                    c.transport.accept_host_key(c.now, &mut *c.rng)?;
                    // Packets that arrived while we waited can be processed now.
                    c.process_input()
                })
            },
        )
    }

    /// Rejects the host key from [`Event::HostKey`]: the connection ends with
    /// DISCONNECT `host key not verifiable` and [`Error::HostKeyRejected`].
    pub fn reject_host_key(&mut self) -> Result<(), Error> {
        self.recorded(
            |_| Call::RejectHostKey,
            |c| {
                c.client_auth("reject_host_key")?;
                c.check_open()?;
                c.fail(Error::HostKeyRejected);
                Ok(())
            },
        )
    }

    /// Tries authentication method `none` (mostly to learn the methods).
    pub fn auth_none(&mut self, user: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthNone { user: user.into() },
            |c| {
                c.client_auth("auth_none")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.none(user, &mut c.outbox)?)
                })
            },
        )
    }

    /// Tries a password (RFC 4252 section 8).
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthPassword {
                user: user.into(),
                password: password.into(),
            },
            |c| {
                c.client_auth("auth_password")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.password(user, password, &mut c.outbox)?)
                })
            },
        )
    }

    /// Answers [`Event::AuthPasswordChange`].
    pub fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthChangePassword {
                old: old.into(),
                new: new.into(),
            },
            |c| {
                c.client_auth("auth_change_password")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.change_password(old, new, &mut c.outbox)?)
                })
            },
        )
    }

    /// Offers a public key (RFC 4252 section 7). The server is asked first
    /// without a signature; if it accepts the key,
    /// [`Event::AuthSignatureNeeded`] asks for the signature.
    pub fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthPublickey {
                user: user.into(),
                key: Cow::Borrowed(key),
            },
            |c| {
                c.client_auth("auth_publickey")?;
                c.mutate(|c| {
                    let ctx = AuthContext {
                        session_id: c.transport.session_id().unwrap_or(&[]),
                        server_sig_algs: c.transport.server_sig_algs(),
                    };
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.publickey(user, key, ctx, &mut c.outbox)?)
                })
            },
        )
    }

    /// Answers [`Event::AuthSignatureNeeded`] with an SSH signature blob
    /// (`string` algorithm, `string` signature).
    pub fn auth_signature(&mut self, signature_blob: &[u8]) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthSignature {
                blob: signature_blob.into(),
            },
            |c| {
                c.client_auth("auth_signature")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.signature(signature_blob, &mut c.outbox)?)
                })
            },
        )
    }

    /// Starts keyboard-interactive authentication (RFC 4256).
    pub fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthKeyboardInteractive {
                user: user.into(),
                submethods: submethods.into(),
            },
            |c| {
                c.client_auth("auth_keyboard_interactive")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.keyboard_interactive(user, submethods, &mut c.outbox)?)
                })
            },
        )
    }

    /// Answers [`Event::AuthInfoRequest`], one response per prompt.
    pub fn auth_info_response(&mut self, responses: &[String]) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthInfoResponse {
                responses: responses.into(),
            },
            |c| {
                c.client_auth("auth_info_response")?;
                c.mutate(|c| {
                    let Auth::Client(a) = &mut c.auth else {
                        unreachable!()
                    };
                    Ok(a.info_response(responses, &mut c.outbox)?)
                })
            },
        )
    }

    // ------------------------------------------------------------------
    // Mutators: server decisions
    // ------------------------------------------------------------------

    /// Server: answers the pending [`Event::AuthRequest`].
    pub fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), Error> {
        if self.recorder.is_some() {
            let copy = decision.clone();
            return self.recorded(
                |_| Call::AuthDecision {
                    decision: Cow::Borrowed(&copy),
                },
                |c| c.decide_auth(decision),
            );
        }
        self.decide_auth(decision)
    }

    fn decide_auth(&mut self, decision: AuthDecision) -> Result<(), Error> {
        let Auth::Server(_) = &self.auth else {
            return Err(ApiMisuse::WrongRole("auth_decision", "server").into());
        };
        self.check_open()?;
        let was_authenticated = self.is_authenticated();
        let Auth::Server(a) = &mut self.auth else {
            unreachable!()
        };
        let r = a.decide(decision, &mut self.outbox, &mut self.events);
        let r = match r {
            Err(e @ Error::ApiMisuse(_)) => Err(e),
            Err(e) => Err(self.fail(e)),
            Ok(()) => Ok(()),
        };
        if !was_authenticated && self.is_authenticated() {
            self.on_authenticated();
        }
        self.after_progress();
        r
    }

    // ------------------------------------------------------------------
    // Mutators: channels
    // ------------------------------------------------------------------

    fn require_authenticated(&self) -> Result<(), Error> {
        if !self.is_authenticated() {
            return Err(ApiMisuse::WrongState("not authenticated yet").into());
        }
        Ok(())
    }

    /// Opens a `session` channel (RFC 4254 section 6.1). [`Event::ChannelOpened`]
    /// or [`Event::ChannelOpenFailed`] follows.
    pub fn open_session(&mut self) -> Result<ChannelId, Error> {
        self.open_channel("session", &[])
    }

    /// Opens a channel of any type, with its type-specific data encoded by the caller.
    pub fn open_channel(&mut self, kind: &str, extra: &[u8]) -> Result<ChannelId, Error> {
        self.recorded(
            |_| Call::OpenChannel {
                kind: kind.into(),
                extra: extra.into(),
            },
            |c| {
                c.require_authenticated()?;
                c.mutate(|c| Ok(c.channels.open(kind, extra, &mut c.outbox)?))
            },
        )
    }

    /// Opens a `direct-tcpip` channel (RFC 4254 section 7.2).
    pub fn open_direct_tcpip(
        &mut self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<ChannelId, Error> {
        let mut extra = Vec::new();
        extra.put_str(host);
        extra.put_u32(port);
        extra.put_str(originator);
        extra.put_u32(originator_port);
        self.open_channel("direct-tcpip", &extra)
    }

    /// Confirms a channel from [`Event::ChannelOpenRequest`].
    pub fn accept_channel(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::AcceptChannel { channel },
            |c| c.mutate(|c| Ok(c.channels.accept(channel, &mut c.outbox)?)),
        )
    }

    /// Refuses a channel from [`Event::ChannelOpenRequest`].
    pub fn reject_channel(
        &mut self,
        channel: ChannelId,
        reason: ChannelOpenFailure,
        description: &str,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::RejectChannel {
                channel,
                reason,
                description: description.into(),
            },
            |c| {
                c.mutate(|c| {
                    Ok(c.channels
                        .reject(channel, reason, description, &mut c.outbox)?)
                })
            },
        )
    }

    /// Sends a channel request (exec, shell, pty-req, env, signal, ...). With
    /// `want_reply`, an [`Event::ChannelRequestReply`] follows.
    pub fn channel_request(
        &mut self,
        channel: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::ChannelRequest {
                channel,
                request: Cow::Borrowed(request),
                want_reply,
            },
            |c| {
                c.mutate(|c| {
                    Ok(c.channels
                        .request(channel, request, want_reply, &mut c.outbox)?)
                })
            },
        )
    }

    /// Shorthand for an `exec` request with want-reply (RFC 4254 section 6.5).
    pub fn exec(&mut self, channel: ChannelId, command: &[u8]) -> Result<(), Error> {
        self.channel_request(
            channel,
            &ChannelRequest::Exec {
                command: command.to_vec(),
            },
            true,
        )
    }

    /// Answers the oldest want-reply request on `channel` from
    /// [`Event::ChannelRequest`].
    pub fn channel_reply(&mut self, channel: ChannelId, success: bool) -> Result<(), Error> {
        self.recorded(
            |_| Call::ChannelReply { channel, success },
            |c| c.mutate(|c| Ok(c.channels.reply(channel, success, &mut c.outbox)?)),
        )
    }

    /// Sends channel data; returns how many bytes were taken, bounded by the
    /// peer's window, its maximum packet size and the send buffer. When fewer
    /// than offered were taken, [`Event::ChannelWritable`] tells when to try again.
    pub fn send_data(&mut self, channel: ChannelId, data: &[u8]) -> Result<usize, Error> {
        self.send_inner(channel, None, data)
    }

    /// Sends extended data (`code` 1 is stderr, RFC 4254 section 5.2); as
    /// [`Connection::send_data`].
    pub fn send_extended_data(
        &mut self,
        channel: ChannelId,
        code: u32,
        data: &[u8],
    ) -> Result<usize, Error> {
        self.send_inner(channel, Some(code), data)
    }

    fn send_inner(
        &mut self,
        channel: ChannelId,
        ext: Option<u32>,
        data: &[u8],
    ) -> Result<usize, Error> {
        self.recorded(
            |_| Call::SendData {
                channel,
                ext,
                data: data.into(),
            },
            |c| {
                c.mutate(|c| {
                    let budget = c.send_budget();
                    let Connection {
                        channels,
                        outbox,
                        transport,
                        rng,
                        ..
                    } = c;
                    let n = channels.send_each(channel, ext, data, budget, &mut |parts| {
                        if !transport.send_direct(outbox, parts, &mut **rng) {
                            outbox.queue_parts(parts);
                        }
                    })?;
                    if n < data.len() && c.send_budget() == 0 {
                        c.send_budget_exhausted = true;
                    }
                    Ok(n)
                })
            },
        )
    }

    /// Bytes [`Connection::send_data`] would take now on `channel`.
    pub fn send_capacity(&self, channel: ChannelId) -> Result<usize, Error> {
        Ok(self.channels.send_window(channel)?.min(self.send_budget()))
    }

    /// Sends EOF: we will send no more data on `channel` (half-close).
    pub fn send_eof(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::SendEof { channel },
            |c| c.mutate(|c| Ok(c.channels.eof(channel, &mut c.outbox)?)),
        )
    }

    /// Closes `channel`. [`Event::ChannelClosed`] follows when the peer's
    /// CLOSE arrives; data received meanwhile is dropped.
    pub fn close_channel(&mut self, channel: ChannelId) -> Result<(), Error> {
        self.recorded(
            |_| Call::CloseChannel { channel },
            |c| c.mutate(|c| Ok(c.channels.close(channel, &mut c.outbox)?)),
        )
    }

    /// The application has processed `n` bytes of data or extended data
    /// received on `channel`: the receive window reopens accordingly. Data
    /// not consumed holds the peer back, which bounds memory.
    pub fn consume(&mut self, channel: ChannelId, n: usize) -> Result<(), Error> {
        self.recorded(
            |_| Call::Consume {
                channel,
                n: n as u64,
            },
            |c| c.mutate(|c| Ok(c.channels.consume(channel, n, &mut c.outbox)?)),
        )
    }

    /// Sends a global request (RFC 4254 section 4). With `want_reply`, an
    /// [`Event::GlobalReply`] follows.
    pub fn global_request(
        &mut self,
        name: &str,
        data: &[u8],
        want_reply: bool,
    ) -> Result<(), Error> {
        self.recorded(
            |_| Call::GlobalRequest {
                name: name.into(),
                data: data.into(),
                want_reply,
            },
            |c| {
                c.require_authenticated()?;
                c.mutate(|c| {
                    c.channels
                        .global_request(name, data, want_reply, &mut c.outbox);
                    Ok(())
                })
            },
        )
    }

    /// Answers the oldest want-reply [`Event::GlobalRequest`].
    pub fn global_reply(&mut self, success: bool, data: &[u8]) -> Result<(), Error> {
        self.recorded(
            |_| Call::GlobalReply {
                success,
                data: data.into(),
            },
            |c| c.mutate(|c| Ok(c.channels.global_reply(success, data, &mut c.outbox)?)),
        )
    }
}
