//! The SSH transport layer (RFC 4253): identification exchange, binary packet
//! protocol, algorithm negotiation, key exchange and re-exchange.
//!
//! STUB: the interface the rest of the crate uses. Bodies to be written.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use rand_core::CryptoRngCore;

use crate::config::TransportConfig;
use crate::error::{ApiMisuse, DisconnectReason, Error};
use crate::event::Event;
use crate::keys::{PrivateKey, PublicKey};
use crate::outbox::Outbox;

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
pub(crate) struct Transport {}

impl Transport {
    /// A client transport; queues our identification line at once.
    pub(crate) fn new_client(_config: TransportConfig, _now: Instant) -> Self {
        Transport {}
    }

    /// A server transport with its host keys; queues our identification line.
    pub(crate) fn new_server(
        _config: TransportConfig,
        _host_keys: Vec<PrivateKey>,
        _now: Instant,
    ) -> Self {
        Transport {}
    }

    /// Appends received bytes to the receive buffer (no processing yet).
    pub(crate) fn handle_input(&mut self, _data: &[u8]) {}

    /// Processes buffered input until one upper-layer packet is ready
    /// (returned) or more input is needed / we are waiting for the host-key
    /// decision (`Ok(None)`). Transport messages are handled inside
    /// (KEXINIT, kex, NEWKEYS, IGNORE, DEBUG, UNIMPLEMENTED, DISCONNECT,
    /// EXT_INFO), pushing events such as `HostKey`, `KeyExchangeDone`, `Debug`.
    pub(crate) fn poll_incoming(
        &mut self,
        _now: Instant,
        _rng: &mut dyn CryptoRngCore,
        _events: &mut VecDeque<Event>,
    ) -> Result<Option<Incoming>, Error> {
        Ok(None)
    }

    /// Frames and seals the queued upper-layer messages into the transmit
    /// buffer, unless a key exchange is in progress (then they stay queued).
    /// May start a re-exchange if the byte limit is reached.
    pub(crate) fn flush_outbox(
        &mut self,
        _outbox: &mut Outbox,
        _now: Instant,
        _rng: &mut dyn CryptoRngCore,
    ) {
    }

    /// Bytes ready to be written to the socket.
    pub(crate) fn transmit(&self) -> &[u8] {
        &[]
    }

    /// The socket took `n` bytes of [`Self::transmit`].
    pub(crate) fn consume_transmit(&mut self, _n: usize) {}

    /// Earliest time `handle_timeout` must be called.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Time-driven work: rekey by time, keepalive, handshake deadline.
    pub(crate) fn handle_timeout(
        &mut self,
        _now: Instant,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// The application accepted the host key (client, first exchange).
    pub(crate) fn accept_host_key(
        &mut self,
        _now: Instant,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Starts a key re-exchange now.
    pub(crate) fn start_rekey(
        &mut self,
        _now: Instant,
        _rng: &mut dyn CryptoRngCore,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Whether the first key exchange completed (and, for a client, the host
    /// key was accepted), so upper-layer messages may flow.
    pub(crate) fn is_established(&self) -> bool {
        false
    }

    /// Whether a key exchange is in progress (outbox held back).
    pub(crate) fn in_key_exchange(&self) -> bool {
        false
    }

    /// The session identifier (exchange hash of the first key exchange).
    pub(crate) fn session_id(&self) -> Option<&[u8]> {
        None
    }

    /// The server's host key (client role, after the first exchange).
    pub(crate) fn host_key(&self) -> Option<&PublicKey> {
        None
    }

    /// `server-sig-algs` from the server's EXT_INFO (RFC 8308), if received.
    pub(crate) fn server_sig_algs(&self) -> Option<&[String]> {
        None
    }

    /// Queues SSH_MSG_UNIMPLEMENTED for packet `seq` (RFC 4253 section 11.4).
    pub(crate) fn send_unimplemented(&mut self, _seq: u32) {}

    /// Queues SSH_MSG_DISCONNECT as the last packet; nothing more is sent or
    /// processed afterwards.
    pub(crate) fn send_disconnect(&mut self, _reason: DisconnectReason, _description: &str) {}

    /// Whether a DISCONNECT was sent or received: nothing more will be
    /// processed, and once [`Self::transmit`] is empty the socket may close.
    pub(crate) fn is_closed(&self) -> bool {
        false
    }
}
