//! The SSH transport layer (RFC 4253): identification exchange, binary packet
//! protocol, algorithm negotiation, key exchange and re-exchange.
//!
//! Submodules, one concept each:
//! - `ident`: the identification lines (section 4.2);
//! - `packet`: framing, padding, sequence numbers, the packet ciphers (section 6);
//! - `compress`: zlib and zlib@openssh.com payload compression (section 6.2,
//!   OpenSSH PROTOCOL section 1.2);
//! - `key_exchange`: KEXINIT and negotiation, the exchange's typed phases,
//!   the methods' messages, NEWKEYS, re-exchange (sections 7-9), strict kex
//!   (OpenSSH PROTOCOL 1.10) and EXT_INFO (RFC 8308).
//!
//! This file holds the `Transport` the connection glue drives and the
//! dispatch of transport messages (section 11).

mod compress;
mod ident;
mod key_exchange;
mod packet;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand_core::CryptoRng;

use crate::config::TransportConfig;
use crate::error::{
    sanitize_text, ApiMisuse, DisconnectReason, Error, PeerMisbehaved, TimeoutKind,
};
use crate::event::Event;
use crate::keys::{PrivateKey, PublicKey};
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

use key_exchange::{kexinit, Phase, Signals};

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// We connected and verify the server's host key.
    Client,
    /// We accepted and prove our host key.
    Server,
}

/// A decrypted packet for the layers above the transport: message numbers
/// 5 and 6 (service request/accept) and 50..=127.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    /// Sequence number it arrived with (for SSH_MSG_UNIMPLEMENTED).
    pub seq: u32,
    /// The payload, message number first.
    pub payload: Bytes,
}

/// Transport state of one connection.
#[derive(Debug)]
pub(crate) struct Transport {
    side: Side,
    config: TransportConfig,
    /// Server: our host keys.
    host_keys: Vec<PrivateKey>,
    /// The algorithm lists we offer.
    offer: kexinit::Offer,
    tx: packet::Sender,
    rx: packet::Receiver,
    ident: ident::IdentReader,
    /// Our identification string without CR LF (V_C or V_S).
    our_ident: Vec<u8>,
    /// The peer's, once received.
    peer_ident: Option<Vec<u8>>,
    /// Where the key exchange stands (RFC 4253 sections 7-9).
    kex: Phase,
    /// What the peer's first KEXINIT signalled: strict kex, ext-info.
    signals: Signals,
    /// The exchange hash of the first exchange, once computed.
    session_id: Option<Vec<u8>>,
    /// Client: the server's host key from the first exchange.
    host_key: Option<PublicKey>,
    /// Client: `server-sig-algs` from EXT_INFO.
    server_sig_algs: Option<Vec<String>>,
    /// The first exchange must be done by then.
    handshake_deadline: Option<Instant>,
    /// USERAUTH_SUCCESS went by (server: sent; client: received), from
    /// when `zlib@openssh.com` compresses (OpenSSH PROTOCOL section 1.2).
    authenticated: bool,
    /// DISCONNECT sent or received: nothing more happens.
    closed: bool,
}

/// Input buffered while the client waits for the host key decision, beyond
/// which the server is sending more than a key exchange can explain.
const PAUSED_INPUT_LIMIT_PACKETS: usize = 4;

impl Transport {
    fn new(side: Side, config: TransportConfig, host_keys: Vec<PrivateKey>, now: Instant) -> Self {
        let offer = kexinit::Offer::new(&config, side, &host_keys);
        let line = ident::our_line(&config.software_version);
        let mut tx = packet::Sender::new();
        // RFC 4253 section 4.2: the identification goes out at once.
        tx.send_raw(&line);
        let our_ident = line[..line.len() - 2].to_vec();
        Transport {
            side,
            rx: packet::Receiver::new(config.max_packet_len),
            handshake_deadline: config.handshake_timeout.map(|t| now + t),
            config,
            host_keys,
            offer,
            tx,
            ident: ident::IdentReader::default(),
            our_ident,
            peer_ident: None,
            kex: Phase::Start,
            signals: Signals::default(),
            session_id: None,
            host_key: None,
            server_sig_algs: None,
            authenticated: false,
            closed: false,
        }
    }

    /// A client transport; queues our identification line at once.
    pub(crate) fn new_client(config: TransportConfig, now: Instant) -> Self {
        Self::new(Side::Client, config, Vec::new(), now)
    }

    /// A server transport with its host keys; queues our identification line.
    pub(crate) fn new_server(
        config: TransportConfig,
        host_keys: Vec<PrivateKey>,
        now: Instant,
    ) -> Self {
        Self::new(Side::Server, config, host_keys, now)
    }

    /// Appends received bytes to the receive buffer (no processing yet).
    pub(crate) fn handle_input(&mut self, data: &[u8]) {
        if !self.closed {
            self.rx.append(data);
        }
    }

    /// Takes received bytes from `input` without copying them when nothing
    /// is buffered (see `packet::Receiver::take_input`); `input` is left
    /// empty either way. After a DISCONNECT the bytes are dropped, as
    /// [`Self::handle_input`] drops them.
    pub(crate) fn handle_input_buf(&mut self, input: &mut BytesMut) {
        if self.closed {
            input.clear();
        } else {
            self.rx.take_input(input);
        }
    }

    /// Work every entry point with an RNG does first: keep random padding
    /// ready, and send our first KEXINIT (RFC 4253 section 7.1: right after
    /// the identification, without waiting for the peer's).
    fn prepare(&mut self, rng: &mut dyn CryptoRng) {
        self.tx.refill_padding_reserve(rng);
        if matches!(self.kex, Phase::Start) {
            self.send_kexinit(rng);
        }
    }

    /// Processes buffered input until one upper-layer packet is ready
    /// (returned) or more input is needed / we are waiting for the host-key
    /// decision (`Ok(None)`). Transport messages are handled inside
    /// (KEXINIT, kex, NEWKEYS, IGNORE, DEBUG, UNIMPLEMENTED, DISCONNECT,
    /// EXT_INFO), pushing events such as `HostKey`, `KeyExchangeDone`, `Debug`.
    pub(crate) fn poll_incoming(
        &mut self,
        now: Instant,
        rng: &mut dyn CryptoRng,
        events: &mut VecDeque<Event>,
    ) -> Result<Option<Incoming>, Error> {
        if self.closed {
            return Ok(None);
        }
        self.prepare(rng);
        if self.peer_ident.is_none() {
            match self.ident.poll(&mut self.rx.buf)? {
                Some(id) => {
                    tracing::debug!(
                        "Remote protocol version 2.0, remote software version {}",
                        crate::error::sanitize_text(&String::from_utf8_lossy(
                            id.strip_prefix(b"SSH-2.0-").unwrap_or(&id)
                        ))
                    );
                    self.peer_ident = Some(id);
                }
                None => return Ok(None),
            }
        }
        loop {
            if self.kex.awaiting_host_key() {
                // Nothing is processed until the application decides; the
                // server has no reason to send more than a few packets.
                let limit = PAUSED_INPUT_LIMIT_PACKETS * self.config.max_packet_len as usize;
                if self.rx.buf.len() > limit {
                    return Err(PeerMisbehaved::InputDuringHostKeyDecision.into());
                }
                return Ok(None);
            }
            let Some((seq, payload)) = self.rx.next_packet()? else {
                return Ok(None);
            };
            let incoming = self.handle_packet(seq, payload, now, rng, events)?;
            if self.rekey_due_by_bytes() {
                // Started by the next flush, after the outbox (RFC 4253 section 9).
                self.kex.request_rekey();
            }
            if incoming.is_some() {
                return Ok(incoming);
            }
        }
    }

    /// Handles one packet; upper-layer ones are returned.
    fn handle_packet(
        &mut self,
        seq: u32,
        payload: Bytes,
        now: Instant,
        rng: &mut dyn CryptoRng,
        events: &mut VecDeque<Event>,
    ) -> Result<Option<Incoming>, Error> {
        // The packet decoder never returns an empty payload.
        let msg_no = payload.first().copied().unwrap_or(0);
        if self.signals.strict
            && !self.kex.first_done()
            && !matches!(
                msg_no,
                msg::DISCONNECT | msg::KEXINIT | msg::NEWKEYS | 30..=49
            )
        {
            // OpenSSH PROTOCOL 1.10, strict kex: during the initial
            // exchange any other message, even IGNORE or DEBUG, ends the
            // connection.
            return Err(PeerMisbehaved::StrictKexViolation(msg_no).into());
        }
        match msg_no {
            msg::DISCONNECT => Err(self.on_disconnect(&payload)),
            msg::IGNORE | msg::UNIMPLEMENTED => Ok(None),
            msg::DEBUG => {
                self.on_debug(&payload, events)?;
                Ok(None)
            }
            msg::SERVICE_REQUEST | msg::SERVICE_ACCEPT | 50..=127 => {
                if !self.kex.first_done() {
                    return Err(PeerMisbehaved::UnexpectedMessage {
                        msg: msg_no,
                        state: "before the first key exchange",
                    }
                    .into());
                }
                if self.kex.peer_in_exchange() {
                    // RFC 4253 section 7.1. Answers to such messages could
                    // not go out before the exchange ends, and the peer
                    // decides when that is: refusing them bounds the queue.
                    return Err(PeerMisbehaved::UnexpectedMessage {
                        msg: msg_no,
                        state: "during key exchange",
                    }
                    .into());
                }
                if msg_no == msg::USERAUTH_SUCCESS && self.side == Side::Client {
                    // Delayed compression starts with the next packet each
                    // way (OpenSSH: "on the client side after a
                    // SSH2_MSG_USERAUTH_SUCCESS is received"). One sent
                    // unasked is the auth layer's error to report.
                    self.userauth_success_passed();
                }
                Ok(Some(Incoming { seq, payload }))
            }
            msg::EXT_INFO => {
                self.on_ext_info(&payload)?;
                Ok(None)
            }
            msg::KEXINIT => {
                self.on_kexinit(seq, payload, rng)?;
                Ok(None)
            }
            msg::NEWKEYS => {
                self.on_newkeys(now, events)?;
                Ok(None)
            }
            30..=49 => {
                self.on_kex_method_message(seq, payload, rng, events)?;
                Ok(None)
            }
            // RFC 4253 section 11.4: unknown transport messages.
            8..=19 | 22..=29 => {
                self.send_unimplemented(seq);
                Ok(None)
            }
            // 0 and 128..=255: the glue answers UNIMPLEMENTED.
            _ => Ok(Some(Incoming { seq, payload })),
        }
    }

    /// SSH_MSG_DISCONNECT (RFC 4253 section 11.1): we send nothing back.
    fn on_disconnect(&mut self, payload: &[u8]) -> Error {
        self.closed = true;
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let reason = r
            .u32()
            .map(DisconnectReason::from_code)
            .unwrap_or(DisconnectReason::ProtocolError);
        let description = r
            .string()
            .map(|s| sanitize_text(&String::from_utf8_lossy(s)))
            .unwrap_or_default();
        Error::PeerDisconnected {
            reason,
            description,
        }
    }

    /// SSH_MSG_DEBUG (RFC 4253 section 11.3): shown only if `always_display`.
    fn on_debug(&mut self, payload: &[u8], events: &mut VecDeque<Event>) -> Result<(), Error> {
        let mut r = Reader::new(payload.get(1..).unwrap_or_default());
        let always_display = r.bool()?;
        let message = r.string()?;
        if always_display {
            events.push_back(Event::Debug {
                message: sanitize_text(&String::from_utf8_lossy(message)),
            });
        }
        Ok(())
    }

    /// Frames and seals one upper-layer message, given as `parts`, straight
    /// into the transmit buffer if it may go out now and nothing is queued
    /// ahead of it; `false` (nothing done) otherwise, and the caller queues
    /// it in the outbox. The bytes on the wire are the same either way.
    pub(crate) fn send_direct(
        &mut self,
        outbox: &Outbox,
        parts: &[&[u8]],
        rng: &mut dyn CryptoRng,
    ) -> bool {
        if self.closed || !self.kex.may_send_upper() || self.over_byte_limit() || !outbox.is_empty()
        {
            return false;
        }
        self.prepare(rng);
        self.tx.send_parts(parts, Some(rng));
        self.start_rekey_if_due(rng);
        true
    }

    /// Frames and seals the queued upper-layer messages into the transmit
    /// buffer, unless a key exchange is in progress (then they stay queued).
    /// May start a re-exchange if the byte limit is reached.
    pub(crate) fn flush_outbox(&mut self, outbox: &mut Outbox, rng: &mut dyn CryptoRng) {
        if self.closed {
            return;
        }
        self.prepare(rng);
        if self.kex.may_send_upper() {
            while let Some(payload) = outbox.front() {
                // The rest waits for the next exchange.
                if self.over_byte_limit() {
                    self.kex.request_rekey();
                    break;
                }
                self.tx.send(payload, Some(rng));
                if self.side == Side::Server && payload.first() == Some(&msg::USERAUTH_SUCCESS) {
                    // OpenSSH: delayed compression starts "on the server
                    // side after a SSH2_MSG_USERAUTH_SUCCESS is sent".
                    self.userauth_success_passed();
                }
                outbox.pop_front();
            }
        }
        self.start_rekey_if_due(rng);
    }

    /// USERAUTH_SUCCESS went by: `zlib@openssh.com` starts in both
    /// directions from the next packet, and with every later NEWKEYS.
    fn userauth_success_passed(&mut self) {
        self.authenticated = true;
        self.tx.deflate.authenticated();
        self.rx.inflate.authenticated();
        if self.tx.deflate.is_on() || self.rx.inflate.is_on() {
            tracing::debug!("Enabling delayed compression after authentication");
        }
    }

    /// Whether our packets are compressed now, and the peer's (for tests:
    /// delayed compression really waits for authentication).
    #[cfg(test)]
    pub(crate) fn compressing(&self) -> (bool, bool) {
        (self.tx.deflate.is_on(), self.rx.inflate.is_on())
    }

    /// RFC 4253 section 9: no more than the limit under one set of keys.
    /// The count restarts at our NEWKEYS, so this also holds when the
    /// exchange is still waiting for the peer's NEWKEYS.
    fn over_byte_limit(&self) -> bool {
        self.kex.first_done() && self.tx.bytes_since_kex >= self.config.rekey_bytes
    }

    /// Sends KEXINIT if a re-exchange is due (by bytes, or asked for) and
    /// none is running.
    fn start_rekey_if_due(&mut self, rng: &mut dyn CryptoRng) {
        if self.rekey_due_by_bytes() {
            self.kex.request_rekey();
        }
        if self.kex.rekey_due() {
            self.send_kexinit(rng);
        }
    }

    /// Whether either direction carried `rekey_bytes` under the current
    /// keys (RFC 4253 section 9).
    fn rekey_due_by_bytes(&self) -> bool {
        self.kex.first_done() && self.over_rekey_bytes()
    }

    /// Whether either byte counter (restarted at each NEWKEYS) reached
    /// `rekey_bytes`.
    fn over_rekey_bytes(&self) -> bool {
        self.tx.bytes_since_kex >= self.config.rekey_bytes
            || self.rx.bytes_since_kex >= self.config.rekey_bytes
    }

    /// Bytes ready to be written to the socket.
    pub(crate) fn transmit(&self) -> &[u8] {
        self.tx.transmit()
    }

    /// The socket took `n` bytes of [`Self::transmit`].
    pub(crate) fn consume_transmit(&mut self, n: usize) {
        self.tx.consume(n);
    }

    /// Moves all of [`Self::transmit`] into `out` (see
    /// `packet::Sender::take_into`: swapped when `out` is empty).
    pub(crate) fn take_transmit(&mut self, out: &mut Vec<u8>) {
        self.tx.take_into(out);
    }

    /// When the time-based rekey is due, if it applies now.
    fn rekey_at(&self) -> Option<Instant> {
        let since = self.kex.idle_since()?;
        self.config.rekey_interval.map(|i| since + i)
    }

    /// Earliest time `handle_timeout` must be called.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let handshake = self.handshake_deadline.filter(|_| !self.kex.first_done());
        match (handshake, self.rekey_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time-driven work: rekey by time, keepalive, handshake deadline.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        self.prepare(rng);
        if !self.kex.first_done() && self.handshake_deadline.is_some_and(|d| now >= d) {
            return Err(Error::Timeout(TimeoutKind::Handshake));
        }
        if self.rekey_at().is_some_and(|t| now >= t) {
            // Started by the flush that follows (RFC 4253 section 9).
            self.kex.request_rekey();
        }
        Ok(())
    }

    /// The application accepted the host key (client, first exchange).
    pub(crate) fn accept_host_key(
        &mut self,
        _now: Instant,
        rng: &mut dyn CryptoRng,
    ) -> Result<(), ApiMisuse> {
        if self.closed {
            return Err(ApiMisuse::Closed);
        }
        if !self.kex.awaiting_host_key() {
            return Err(ApiMisuse::NoHostKeyPending);
        }
        self.tx.refill_padding_reserve(rng);
        self.continue_after_host_key(rng);
        Ok(())
    }

    /// Starts a key re-exchange now. The KEXINIT goes out at the next
    /// `flush_outbox` (which the glue runs after every call), after the
    /// messages already queued, so their order is kept.
    pub(crate) fn start_rekey(
        &mut self,
        _now: Instant,
        _rng: &mut dyn CryptoRng,
    ) -> Result<(), ApiMisuse> {
        if self.closed {
            return Err(ApiMisuse::Closed);
        }
        if !self.is_established() {
            return Err(ApiMisuse::NotEstablished);
        }
        self.kex.request_rekey();
        Ok(())
    }

    /// Whether the first key exchange completed (and, for a client, the host
    /// key was accepted), so upper-layer messages may flow.
    pub(crate) fn is_established(&self) -> bool {
        // A client's first exchange cannot end before the host key was
        // accepted: our NEWKEYS waited for it.
        self.kex.first_done()
    }

    /// Whether a key exchange is in progress (outbox held back).
    #[allow(dead_code)] // part of the interface the glue may use; tests do
    pub(crate) fn in_key_exchange(&self) -> bool {
        self.kex.in_progress()
    }

    /// Whether the client waits for the application's host key decision.
    #[cfg(test)]
    pub(crate) fn awaiting_host_key(&self) -> bool {
        self.kex.awaiting_host_key()
    }

    /// The session identifier (exchange hash of the first key exchange).
    pub(crate) fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// The peer's identification line, once received.
    pub(crate) fn peer_identification(&self) -> Option<&[u8]> {
        self.peer_ident.as_deref()
    }

    /// The server's host key (client role, after the first exchange).
    pub(crate) fn host_key(&self) -> Option<&PublicKey> {
        self.host_key.as_ref()
    }

    /// `server-sig-algs` from the server's EXT_INFO (RFC 8308), if received.
    pub(crate) fn server_sig_algs(&self) -> Option<&[String]> {
        self.server_sig_algs.as_deref()
    }

    /// Queues SSH_MSG_UNIMPLEMENTED for packet `seq` (RFC 4253 section 11.4).
    pub(crate) fn send_unimplemented(&mut self, seq: u32) {
        if self.closed {
            return;
        }
        let mut p = [0u8; 5];
        p[0] = msg::UNIMPLEMENTED;
        p[1..].copy_from_slice(&seq.to_be_bytes());
        // Transport-generic messages may go out even during a key exchange
        // (RFC 4253 section 7.1).
        self.tx.send(&p, None);
    }

    /// Queues SSH_MSG_DISCONNECT as the last packet; nothing more is sent or
    /// processed afterwards.
    pub(crate) fn send_disconnect(&mut self, reason: DisconnectReason, description: &str) {
        if self.closed {
            return;
        }
        let mut p = Vec::with_capacity(description.len() + 16);
        p.put_u8(msg::DISCONNECT);
        p.put_u32(reason.code());
        p.put_str(description);
        p.put_str("");
        self.tx.send(&p, None);
        self.closed = true;
    }

    /// Whether a DISCONNECT was sent or received: nothing more will be
    /// processed, and once [`Self::transmit`] is empty the socket may close.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}
