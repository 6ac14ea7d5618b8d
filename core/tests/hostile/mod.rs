//! A scripted hostile peer for the `hostile_*` battery.
//!
//! [`Peer`] is an SSH endpoint written from the core's own public pieces
//! (the [`Encode`] codec, the curve25519 key exchange, the exchange hash and
//! key derivation of [`conch_core::kex`], the ed25519 signature and the
//! AES-GCM packet cipher), not from a second [`Connection`]. It does the
//! honest part of a connection by itself (identification, KEXINIT, key
//! exchange, NEWKEYS, strict kex, and optionally user authentication) and
//! then lets a test send anything, framed and sealed with the real keys, or
//! raw bytes that break the framing. It also decrypts what the victim sends,
//! so a test can read the victim's DISCONNECT even after the key exchange.
//!
//! [`Victim`] wraps the [`Connection`] under attack in an `Endpoint` of
//! `conch-test-support` (the loop contract's steps, written once for every
//! in-memory harness): it feeds it bytes, drains its events and transmit
//! buffer as the contract asks, and answers the decisions a plain
//! application would (accept the host key, let the user in, accept
//! channels), each switchable by the test.
#![allow(dead_code)]

mod peer;
#[path = "../common/role_calls.rs"]
mod role_calls;

pub use peer::*;
pub use role_calls::RoleCalls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_core::wire::DecodeError;
use conch_core::{
    ApiMisuse, AuthDecision, ChannelEvent, ClientConfig, Connection, DisconnectReason, Error,
    Event, PeerMisbehaved, PrivateKey, ServerConfig,
};
use conch_test_support::{App, Direction, Endpoint, Pipe};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Identification line the scripted peer sends.
pub const PEER_IDENT: &[u8] = b"SSH-2.0-Hostile_0.1";
/// The user the scripted client logs in as.
pub const USER: &str = "mallory";

/// A fixed instant: the core never reads the clock, so any base will do,
/// and a fixed one keeps every run identical.
pub fn epoch() -> Instant {
    // One clock read per test process, only to have an `Instant` at all.
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}

/// The victim's error for a peer that broke the protocol.
pub fn misbehaved(e: PeerMisbehaved) -> Error {
    Error::PeerMisbehaved(e)
}

/// The victim's error for a message that does not decode (`what` it read).
pub fn malformed(what: &'static str) -> Error {
    Error::from(DecodeError { what })
}

/// The victim's error for message `msg` where `state` allows none.
pub fn unexpected(msg: u8, state: &'static str) -> Error {
    misbehaved(PeerMisbehaved::UnexpectedMessage { msg, state })
}

/// A deterministic ed25519 key.
pub fn ed25519(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

// ----------------------------------------------------------------------
// The victim
// ----------------------------------------------------------------------

/// What the victim's application answers on its own.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Client: accept the server's host key.
    pub accept_host_key: bool,
    /// Client: on `UserauthReady`, try a password.
    pub try_password: bool,
    /// Server: accept every authentication attempt.
    pub accept_auth: bool,
    /// Accept every channel the peer opens (otherwise leave them pending).
    pub accept_channels: bool,
    /// Consume received data at once (reopening the window).
    pub consume_data: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            accept_host_key: true,
            try_password: true,
            accept_auth: true,
            accept_channels: true,
            consume_data: true,
        }
    }
}

/// The policy answers the victim's events, as a plain application would.
impl App for Policy {
    fn on_event(&mut self, conn: &mut Connection, e: Event) {
        let p = self;
        // Refusals of these calls (`ApiMisuse`) are not what the tests look
        // at; a fatal error shows in `conn.error()`.
        let _ = match e {
            Event::HostKey { .. } if p.accept_host_key => conn.accept_host_key(),
            Event::UserauthReady if p.try_password => conn.auth_password(USER, "hunter2"),
            Event::AuthRequest { .. } if p.accept_auth => conn.auth_decision(AuthDecision::Accept),
            Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { .. },
            } if p.accept_channels => conn.accept_channel(channel),
            Event::Channel {
                id: channel,
                event: ChannelEvent::Data { data },
            }
            | Event::Channel {
                id: channel,
                event: ChannelEvent::ExtendedData { data, .. },
            } if p.consume_data => conn.consume(channel, data.len()),
            _ => Ok(()),
        };
    }
}

/// The connection under attack and what it produced: an [`Endpoint`] of
/// `conch-test-support` (its connection, and every event it raised in
/// order in `log`), which it derefs to, answered by the [`Policy`].
#[derive(Debug)]
pub struct Victim {
    /// The connection and its log.
    pub ep: Endpoint,
    /// Automatic answers.
    pub policy: Policy,
    /// Bytes fed so far.
    pub fed: usize,
    /// Bytes it transmitted so far.
    pub transmitted: usize,
    /// The largest transmit buffer seen when draining (bytes).
    pub max_transmit: usize,
    /// What it transmitted and the peer has not taken yet.
    out: Pipe,
    now: Instant,
}

impl std::ops::Deref for Victim {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.ep
    }
}

impl std::ops::DerefMut for Victim {
    fn deref_mut(&mut self) -> &mut Endpoint {
        &mut self.ep
    }
}

impl Victim {
    /// A client with `config`.
    pub fn client(config: ClientConfig) -> Self {
        let conn = Connection::client(
            Arc::new(config),
            Box::new(ChaCha20Rng::seed_from_u64(101)),
            epoch(),
        );
        Self::start(conn.into())
    }

    /// A server with `config`.
    pub fn server(config: ServerConfig) -> Self {
        let conn = Connection::server(
            Arc::new(config),
            Box::new(ChaCha20Rng::seed_from_u64(102)),
            epoch(),
        );
        Self::start(conn.into())
    }

    /// A server with the default configuration and an ed25519 host key,
    /// except that failed authentication is answered at once (the peer
    /// reads answers without moving the clock).
    pub fn default_server() -> Self {
        let mut config = ServerConfig::new(vec![ed25519(7)]);
        config.auth_failure_delay = None;
        Self::server(config)
    }

    fn start(conn: Connection) -> Self {
        let mut out = Pipe::new();
        out.drop_transcript();
        let mut v = Victim {
            ep: Endpoint::new(conn),
            policy: Policy::default(),
            fed: 0,
            transmitted: 0,
            max_transmit: 0,
            out,
            now: epoch(),
        };
        // Any call with the RNG at hand sends the first KEXINIT (RFC 4253
        // section 7.1: right after the identification).
        v.ep.conn.handle_timeout(v.now);
        v.drain();
        v
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves the virtual clock and calls `handle_timeout`.
    pub fn advance(&mut self, d: Duration) -> Result<(), Error> {
        self.now += d;
        self.ep.conn.handle_timeout(self.now);
        self.drain();
        self.fatal()
    }

    /// Feeds bytes from the peer, then drains events.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.fed += bytes.len();
        self.ep.input(self.now, bytes);
        self.drain();
        self.fatal()
    }

    /// `Err` with the fatal error the connection has ended with, if any.
    fn fatal(&self) -> Result<(), Error> {
        self.ep.conn.error().map_or(Ok(()), |e| Err(e.clone()))
    }

    /// Calls a mutator on the connection, then drains events as the loop
    /// contract asks.
    pub fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApiMisuse>,
    ) -> Result<T, ApiMisuse> {
        let r = f(&mut self.ep.conn);
        self.drain();
        r
    }

    /// Feeds `bytes` in pieces of `chunk` until the victim fails. Returns
    /// the error and how many bytes had been fed when it came (the victim
    /// buffers at most that much of this input).
    pub fn feed_until_error(&mut self, bytes: &[u8], chunk: usize) -> Option<(Error, usize)> {
        let start = self.fed;
        for piece in bytes.chunks(chunk) {
            if let Err(e) = self.feed(piece) {
                return Some((e, self.fed - start));
            }
        }
        None
    }

    /// Answers events by the policy until none is left (answers are
    /// mutator calls, which may raise further events); the transmit buffer
    /// stays where it is until the peer takes it.
    fn drain(&mut self) {
        self.ep.drain_events(&mut self.policy);
        let pending = self.ep.conn.poll_transmit().map_or(0, <[u8]>::len);
        self.max_transmit = self.max_transmit.max(pending);
    }

    /// Everything the victim has to transmit, taken.
    pub fn take_output(&mut self) -> Vec<u8> {
        // No tap: the direction is not looked at.
        self.ep
            .transmit(&mut self.out, Direction::ClientToServer, &mut None);
        self.max_transmit = self.max_transmit.max(self.ep.max_transmit_len);
        let out = self.out.take();
        self.transmitted += out.len();
        self.drain();
        out
    }

    /// The error carried by the `Disconnected` event, which must be the
    /// last event.
    pub fn disconnected(&self) -> Option<&Error> {
        match self.ep.log.last() {
            Some(Event::Disconnected { error }) => Some(error),
            _ => None,
        }
    }
}

// ----------------------------------------------------------------------
// Plaintext helpers for the identification and first KEXINIT phase
// ----------------------------------------------------------------------

/// A plaintext packet (before the first NEWKEYS: block size 8, no MAC)
/// with correct padding.
pub fn plain_packet(payload: &[u8]) -> Vec<u8> {
    let mut padding = 8 - (5 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let len = (1 + payload.len() + padding) as u32;
    let mut p = len.to_be_bytes().to_vec();
    p.push(padding as u8);
    p.extend_from_slice(payload);
    p.resize(p.len() + padding, 0);
    p
}

/// Splits a victim's plaintext output (identification line, then packets
/// before NEWKEYS) into payloads.
pub fn plain_payloads(output: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = match output.iter().position(|&b| b == b'\n') {
        Some(lf) if output.starts_with(b"SSH-") => &output[lf + 1..],
        _ => output,
    };
    let mut out = Vec::new();
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(packet) = rest.get(4..4 + len) else {
            break;
        };
        let padding = packet[0] as usize;
        out.push(packet[1..len - padding].to_vec());
        rest = &rest[4 + len..];
    }
    out
}

/// The reason of the DISCONNECT a victim sent last in the clear.
pub fn plain_disconnect(output: &[u8]) -> Option<(DisconnectReason, String)> {
    plain_payloads(output)
        .last()
        .and_then(|p| parse_disconnect(p))
}

// ----------------------------------------------------------------------
// Assertions
// ----------------------------------------------------------------------

/// The most a victim may have queued for transmission at once in the
/// scenarios checked with the assertions below: they send no bulk data, so
/// the largest things queued are a KEXINIT, a key exchange reply and a few
/// answers, well under this.
pub const SCENARIO_TRANSMIT_BOUND: usize = 64 * 1024;

fn assert_bounded(victim: &Victim) {
    assert!(
        victim.max_transmit <= SCENARIO_TRANSMIT_BOUND,
        "transmit buffer reached {} bytes",
        victim.max_transmit
    );
}

/// Asserts the victim failed with `want`, raised it as its last event, and
/// sent a DISCONNECT with `reason` in the clear as its last packet.
#[track_caller]
pub fn assert_plain_failure(
    victim: &mut Victim,
    got: Result<(), Error>,
    want: Error,
    reason: DisconnectReason,
) {
    assert_failed_with(victim, &got, &want, reason);
    let out = victim.take_output();
    let (sent, _) = plain_disconnect(&out).expect("a plaintext DISCONNECT");
    assert_eq!(sent, reason, "DISCONNECT reason sent");
    assert_failure_is_final(victim, want);
}

/// Asserts a victim driven by `peer` failed with `want`, raised it as its
/// last event, and that its last packet, as the peer read it (in the clear
/// or decrypted with the session keys), is a DISCONNECT with `reason`.
#[track_caller]
pub fn assert_peer_saw_failure(
    peer: &Peer,
    victim: &mut Victim,
    got: Result<(), Error>,
    want: Error,
    reason: DisconnectReason,
) {
    assert_failed_with(victim, &got, &want, reason);
    assert!(!peer.garbled, "the victim's packets decrypt");
    assert_eq!(
        peer.disconnect_reason(),
        Some(reason),
        "DISCONNECT reason sent"
    );
    assert_failure_is_final(victim, want);
}

/// The call gave `want`, the victim's last event is `want`, and `want` maps
/// to the DISCONNECT `reason`.
#[track_caller]
fn assert_failed_with(
    victim: &Victim,
    got: &Result<(), Error>,
    want: &Error,
    reason: DisconnectReason,
) {
    assert_eq!(got, &Err(want.clone()));
    assert_eq!(victim.disconnected(), Some(want), "last event");
    assert_eq!(want.disconnect_reason(), reason);
}

/// Sticky: more input changes nothing and is not buffered; the victim is
/// closed, wants no timer, and never queued much.
#[track_caller]
fn assert_failure_is_final(victim: &mut Victim, want: Error) {
    assert_eq!(victim.feed(&[0u8; 1024]), Err(want));
    assert_eq!(victim.take_output(), b"");
    assert!(victim.conn.is_closed());
    assert_eq!(victim.conn.poll_timeout(), None);
    assert_bounded(victim);
}

impl Victim {
    /// Feeds `bytes`; the victim must fail with `want`, saying `reason` in
    /// the clear ([`assert_plain_failure`]).
    #[track_caller]
    pub fn feed_fails(&mut self, bytes: &[u8], want: Error, reason: DisconnectReason) {
        let got = self.feed(bytes);
        assert_plain_failure(self, got, want, reason);
    }
}

impl Peer {
    /// Delivers what the peer has queued; the victim must fail with `want`
    /// and send DISCONNECT `reason` ([`assert_peer_saw_failure`]).
    #[track_caller]
    pub fn pump_fails(&mut self, victim: &mut Victim, want: Error, reason: DisconnectReason) {
        let got = self.pump(victim);
        assert_peer_saw_failure(self, victim, got, want, reason);
    }

    /// Sends `payload` at once; the victim must fail with `want` and send
    /// DISCONNECT `reason` ([`assert_peer_saw_failure`]).
    #[track_caller]
    pub fn inject_fails(
        &mut self,
        victim: &mut Victim,
        payload: &[u8],
        want: Error,
        reason: DisconnectReason,
    ) {
        let got = self.inject(victim, payload);
        assert_peer_saw_failure(self, victim, got, want, reason);
    }

    /// Sends `payload` at once; the victim must fail to decode it (at
    /// `what`) and disconnect with a protocol error.
    #[track_caller]
    pub fn inject_malformed(&mut self, victim: &mut Victim, payload: &[u8], what: &'static str) {
        let reason = DisconnectReason::ProtocolError;
        self.inject_fails(victim, payload, malformed(what), reason);
    }
}

/// The peer's identification line, then one unencrypted packet carrying
/// `payload`: what a peer sends first if it skips its KEXINIT.
pub fn ident_then_packet(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Peer::ident_line();
    bytes.extend_from_slice(&plain_packet(payload));
    bytes
}
