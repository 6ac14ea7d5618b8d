//! Output: events, bytes to write and the next timeout for the caller, and
//! what the caller may ask of the connection's state.

use std::time::Instant;

use crate::error::Error;
use crate::event::Event;
use crate::keys::PublicKey;

use super::{Auth, Connection};

impl Connection {
    /// The next event, if any. Drain until `None` after every call.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if let Some(e) = &event {
            let _entered = self.span.enter();
            super::trace::log_event(self.side, e);
        }
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
    /// (with [`crate::ChannelEvent::Writable`] where `send_data` was turned away),
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
        let answer = match &self.auth {
            Auth::Client(a) => a.answer_deadline(self.now),
            Auth::Server(a) => a.poll_timeout(),
        };
        [
            self.transport.poll_timeout(),
            keepalive,
            self.login_deadline,
            answer,
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

    /// The peer's identification line (RFC 4253 section 4.2, without its
    /// CR LF), once received: until then the connection is in the banner
    /// exchange, which is how a client tells a server that accepted the
    /// connection and never spoke from one stuck in the key exchange
    /// (OpenSSH's "Connection timed out during banner exchange").
    pub fn peer_identification(&self) -> Option<&[u8]> {
        self.transport.peer_identification()
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

    pub(super) fn connection_layer_ready(&self) -> bool {
        self.is_authenticated() && !self.transport.is_closed()
    }
}
