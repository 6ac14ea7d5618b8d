//! Input: bytes, EOF and time from the caller, and the routing of each
//! packet received to the layer that owns its message number.

use std::borrow::Cow;
use std::time::Instant;

use bytes::BytesMut;

use crate::auth::AuthContext;
use crate::error::{Error, PeerMisbehaved, TimeoutKind};
#[cfg(doc)]
use crate::event::Event;
use crate::msg;
use crate::record::Call;
use crate::transport::{Incoming, Side, Transport};

use super::{Auth, Connection};

/// Output the peer's own messages made us queue (answers to its requests,
/// refusals of its channel opens, whether the core gives them or the
/// application through `Connection::apply`) and that has not been written
/// yet, beyond which the connection ends. Adapters keep reading while a
/// write is blocked, so a peer that keeps asking without reading the answers, or
/// while it stalls a key exchange we started (nothing but the exchange may
/// go out then), would otherwise grow our buffers without bound. An honest
/// peer gets nowhere near this: it is tens of thousands of unread answers.
const PEER_PROVOKED_OUTPUT_LIMIT: usize = crate::config::UNREAD_ANSWERS_LIMIT;

/// What a queued message counts for beyond its payload: at least what
/// framing, padding and the largest MAC add once it is sealed (4 + 1 + 19 +
/// 64 bytes, RFC 4253 section 6), so sealing never makes the count grow.
const QUEUED_MESSAGE_OVERHEAD: usize = 96;

impl Connection {
    /// Feeds bytes received from the peer, split anywhere.
    ///
    /// The bytes are copied into the connection's receive buffer. A caller
    /// that reads into a [`BytesMut`] it can hand over saves that copy with
    /// [`Connection::handle_input_buf`].
    ///
    /// A fatal error (the peer broke the protocol, say) is reported once,
    /// by [`Event::Disconnected`], and [`Connection::error`] keeps it;
    /// input after it is ignored.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        let call = self.recorder.as_deref().map(|r| Call::HandleInput {
            at: r.offset(now),
            data: data.into(),
        });
        self.receive(now, !data.is_empty(), |t| t.handle_input(data));
        self.record_input(call);
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
    ///   decrypted in place there, and the payloads of [`crate::ChannelEvent::Data`] and
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
    pub fn handle_input_buf(&mut self, now: Instant, buf: &mut BytesMut) {
        // The transcript needs the bytes, which the connection may adopt:
        // copy them first (only when recording).
        let call = self.recorder.as_deref().map(|r| Call::HandleInput {
            at: r.offset(now),
            data: Cow::Owned(buf.to_vec()),
        });
        let any = !buf.is_empty();
        self.receive(now, any, |t| t.handle_input_buf(buf));
        self.record_input(call);
        // Left untouched if the connection had failed before.
        buf.clear();
    }

    /// The input calls' common work: `feed` hands the bytes (`any`: there
    /// is at least one) to the transport, then they are processed.
    fn receive(&mut self, now: Instant, any: bool, feed: impl FnOnce(&mut Transport)) {
        let span = self.span.clone();
        let _entered = span.enter();
        self.advance_clock(now);
        if self.error.is_some() {
            return;
        }
        if any {
            // Anything from the peer shows it is alive.
            if let Some(k) = &mut self.keepalive {
                k.outstanding = 0;
                k.next = now + k.interval;
            }
        }
        feed(&mut self.transport);
        self.process_input();
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
    /// handshake deadline, the client's deadline for an authentication
    /// answer). Call when [`Connection::poll_timeout`]'s instant
    /// has passed; calling early is harmless. A deadline that passed ends
    /// the connection with [`Error::Timeout`], reported by
    /// [`Event::Disconnected`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let call = self
            .recorder
            .as_deref()
            .map(|r| Call::HandleTimeout { at: r.offset(now) });
        self.run_timers(now);
        self.record_input(call);
    }

    fn run_timers(&mut self, now: Instant) {
        let span = self.span.clone();
        let _entered = span.enter();
        self.advance_clock(now);
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.transport.handle_timeout(now, &mut *self.rng) {
            return self.fail(e);
        }
        if self.login_deadline.is_some_and(|d| now >= d) {
            let kind = match self.side {
                Side::Client => TimeoutKind::Handshake,
                Side::Server => TimeoutKind::LoginGrace,
            };
            return self.fail(Error::Timeout(kind));
        }
        if matches!(&self.auth, Auth::Client(a) if a.answer_overdue(now)) {
            return self.fail(Error::Timeout(TimeoutKind::Authentication));
        }
        if let Auth::Server(a) = &mut self.auth {
            if let Err(e) = a.handle_timeout(now, &mut self.outbox, &mut self.events) {
                return self.fail(e);
            }
        }
        let ready = self.connection_layer_ready();
        if let Some(k) = &mut self.keepalive {
            if now >= k.next && ready {
                if k.outstanding >= k.max {
                    return self.fail(Error::Timeout(TimeoutKind::Keepalive));
                }
                k.outstanding += 1;
                k.next = now + k.interval;
                tracing::debug!(
                    "sending keepalive@openssh.com ({} unanswered)",
                    k.outstanding
                );
                self.channels.send_keepalive(&mut self.outbox);
            } else if now >= k.next {
                k.next = now + k.interval;
            }
        }
        self.flush();
    }

    /// Processes every complete packet received; a fatal error ends the
    /// connection (see [`Connection::fail`]).
    pub(super) fn process_input(&mut self) {
        let queued_before = self.queued_output();
        loop {
            let incoming =
                match self
                    .transport
                    .poll_incoming(self.now, &mut *self.rng, &mut self.events)
                {
                    Ok(Some(incoming)) => incoming,
                    Ok(None) => break,
                    Err(e) => return self.fail(e),
                };
            if let Err(e) = self.dispatch(incoming) {
                return self.fail(e);
            }
            if self.transport.is_closed() {
                break;
            }
        }
        self.after_progress();
        self.count_provoked_output(queued_before);
    }

    /// Counts what was queued since [`Connection::queued_output`] was
    /// `queued_before` as output the peer provoked, and ends the connection
    /// once what it provoked and left unread passes the limit. Called after
    /// the peer's packets are processed, and after the application's
    /// answers to them (`Connection::apply`): an answer the application
    /// gives to each of a flood of requests is as much the peer's doing as
    /// one the core gives itself.
    pub(super) fn count_provoked_output(&mut self, queued_before: usize) {
        if self.error.is_some() {
            return;
        }
        let provoked = self.queued_output().saturating_sub(queued_before);
        self.peer_provoked_output = self.peer_provoked_output.saturating_add(provoked);
        if self.peer_provoked_output > PEER_PROVOKED_OUTPUT_LIMIT {
            self.fail(PeerMisbehaved::UnreadAnswers.into());
        }
    }

    /// Bytes queued for the peer, sealed or not (each message not sealed
    /// yet counted with `QUEUED_MESSAGE_OVERHEAD` on top of its payload).
    pub(super) fn queued_output(&self) -> usize {
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
                if msg_no == msg::USERAUTH_FAILURE {
                    tracing::trace!("SSH2_MSG_USERAUTH_FAILURE received");
                }
                match &mut self.auth {
                    Auth::Client(a) => {
                        a.handle(incoming.payload, ctx, &mut self.outbox, &mut self.events)?;
                        if a.service_accepted() {
                            // The client's handshake is over (RFC 4253 section 10).
                            self.login_deadline = None;
                        }
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

    pub(super) fn on_authenticated(&mut self) {
        self.login_deadline = None;
        if let Some(k) = &mut self.keepalive {
            k.outstanding = 0;
            k.next = self.now + k.interval;
        }
    }
}
