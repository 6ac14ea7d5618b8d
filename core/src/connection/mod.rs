//! [`Connection`]: one SSH connection, either role, with no I/O of its own.
//!
//! This file holds the type, its construction, the connection-wide mutators
//! and the frame every call shares (the clock, handing queued messages on,
//! failing). The other methods are grouped as the type's docs group them:
//! `input` (bytes, EOF and time in, and routing each packet), `output`
//! (events, bytes and timeouts out, and state queries), `apply` (the one
//! path of every application call: recording, checks, dispatch),
//! `channels` (the typed mutators both roles have, wrappers building each
//! command), `roles` ([`ClientConnection`] and [`ServerConnection`], with
//! the typed mutators of one role) and `recording` (the transcript
//! constructors and the input calls' records).

mod apply;
mod channel_handle;
mod channels;
mod input;
mod output;
mod recording;
mod roles;
mod trace;

pub use roles::{ClientConnection, ServerConnection};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(doc)]
use bytes::BytesMut;
use rand_core::CryptoRng;

use crate::auth::{ClientAuth, ServerAuth, ServerAuthConfig};
use crate::channel::Channels;
use crate::command::Command;
use crate::config::{ChannelConfig, ClientConfig, ServerConfig};
use crate::error::{ApiMisuse, Error};
use crate::event::Event;
use crate::outbox::Outbox;
use crate::record::Recorder;
use crate::transport::{Side, Transport};
pub use channel_handle::{ChannelMut, ChannelRef};

/// The randomness a connection draws on: any cryptographically secure RNG.
/// Tests hand in a seeded one, adapters one seeded from the OS.
pub type Rng = Box<dyn CryptoRng + Send>;

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
///    [`Connection::handle_timeout`]. Input calls return nothing: what
///    they cause comes out in step 2.
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
///    input calls; then drain again. Each is a [`Command`] applied by
///    [`Connection::apply`] (the typed methods build it), which records it
///    when recording; replay and the fuzz harness apply commands the same
///    way. A call that cannot work now (wrong role, wrong state, unknown
///    channel, connection ended) returns [`ApiMisuse`] and changes nothing.
/// 4. **End.** When [`Event::Disconnected`] has been returned and
///    [`Connection::poll_transmit`] yields nothing more, close the socket
///    (after writing what [`Connection::take_transmit`] handed out, if used).
///
/// Time only ever comes from the `now` arguments, which must not go
/// backwards; randomness only from the RNG given at construction. The same
/// RNG seed, times and inputs give byte-identical output.
///
/// Fatal errors (the peer broke the protocol, a deadline passed, the
/// application disconnected) come out on one channel only: they are
/// reported once, by [`Event::Disconnected`], which carries the [`Error`];
/// [`Connection::error`] keeps it afterwards, later input is ignored, and
/// the last bytes transmitted are a DISCONNECT with
/// [`Error::disconnect_reason`] (unless the peer's own DISCONNECT or the
/// socket's end caused it).
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
    /// The end of `handshake_timeout`, past the key exchange the
    /// transport's own deadline covers: by then a client must have the user
    /// authentication service accepted, and a server an authenticated
    /// client (OpenSSH `LoginGraceTime`). `None` once that happened.
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
    /// The `tracing` span every call runs in (see `trace`).
    span: tracing::Span,
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
    /// A client connection. Our identification string is ready to transmit
    /// at once. The client's own calls (the host key decision,
    /// authentication) are [`ClientConnection`]'s; it dereferences to the
    /// `Connection` for the rest.
    pub fn client(config: Arc<ClientConfig>, rng: Rng, now: Instant) -> ClientConnection {
        let transport = Transport::new_client(config.transport.clone(), now);
        ClientConnection::new(Self::new(
            Side::Client,
            transport,
            Auth::Client(ClientAuth::new(config.auth_timeout)),
            config.channels.fitted_to(config.transport.max_packet_len),
            config.transport.keepalive_interval,
            config.transport.keepalive_max,
            config.transport.handshake_timeout,
            rng,
            now,
        ))
    }

    /// A server connection for one accepted socket. The decision on each
    /// authentication request is [`ServerConnection`]'s; it dereferences to
    /// the `Connection` for the rest.
    pub fn server(config: Arc<ServerConfig>, mut rng: Rng, now: Instant) -> ServerConnection {
        let transport =
            Transport::new_server(config.transport.clone(), config.host_keys.clone(), now);
        // Drawn only when used, so a configuration without the delay draws
        // the same random stream as before it existed (recorded sessions
        // replay).
        let mut timing_secret = [0u8; 32];
        if config.auth_failure_delay.is_some() {
            rng.fill_bytes(&mut timing_secret);
        }
        let auth = ServerAuth::new(
            ServerAuthConfig {
                methods: config.auth_methods.clone(),
                max_attempts: config.max_auth_attempts,
                banner: config.auth_banner.clone(),
                failure_delay: config.auth_failure_delay,
                timing_secret,
            },
            now,
        );
        ServerConnection::new(Self::new(
            Side::Server,
            transport,
            Auth::Server(auth),
            config.channels.fitted_to(config.transport.max_packet_len),
            config.transport.keepalive_interval,
            config.transport.keepalive_max,
            config.transport.handshake_timeout,
            rng,
            now,
        ))
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
            login_deadline: handshake_timeout.map(|t| now + t),
            userauth_started: false,
            send_budget_exhausted: false,
            peer_provoked_output: 0,
            now,
            recorder: None,
            span: trace::connection_span(side),
        }
    }

    /// Which role this connection plays.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The `tracing` span (named `ssh`, with the `role`) that everything
    /// this connection logs happens in. Its `peer` field is empty: the
    /// caller, which knows the socket, records it
    /// (`conn.span().record("peer", "192.0.2.1:22")`).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    // ------------------------------------------------------------------
    // The frame every call shares
    // ------------------------------------------------------------------

    fn advance_clock(&mut self, now: Instant) {
        // Time never goes backwards for the state machine, whatever the caller does.
        if now > self.now {
            self.now = now;
        }
        // The answer deadline of a request queued since the last instant
        // handed in starts now (mutators are given no time).
        match &mut self.auth {
            Auth::Client(a) => a.start_answer_deadline(self.now),
            Auth::Server(a) => a.set_now(self.now),
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

    /// Records a fatal error and queues the DISCONNECT and the final event,
    /// the one place the error is reported; the first error wins.
    fn fail(&mut self, error: Error) {
        if self.error.is_some() {
            return;
        }
        if !matches!(
            error,
            Error::PeerDisconnected { .. } | Error::ConnectionLost(_)
        ) {
            tracing::debug!(
                "sending SSH2_MSG_DISCONNECT: {}: {error}",
                error.disconnect_reason().code()
            );
            self.transport
                .send_disconnect(error.disconnect_reason(), &error.to_string());
        }
        self.record_error(error);
    }

    fn record_error(&mut self, error: Error) {
        self.error = Some(error.clone());
        self.events.push_back(Event::Disconnected { error });
    }

    // ------------------------------------------------------------------
    // Mutators: the connection as a whole
    // ------------------------------------------------------------------

    /// Starts a key re-exchange now (RFC 4253 section 9). Data keeps its order
    /// across it.
    pub fn rekey(&mut self) -> Result<(), ApiMisuse> {
        self.apply(Command::Rekey).map(drop)
    }

    /// Ends the connection: sends DISCONNECT (reason `by application`) with
    /// `description`, then [`Event::Disconnected`]. Does nothing once the
    /// connection has ended.
    pub fn disconnect(&mut self, description: &str) {
        // `Disconnect` is refused for no reason: it is for either role, and
        // accepted on a closed connection.
        let _ = self.apply(Command::Disconnect {
            description: description.into(),
        });
    }
}
