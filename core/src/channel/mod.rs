//! The connection protocol (RFC 4254): channels, their windows, channel
//! requests and global requests.
//!
//! The crate-internal `Channels` holds every channel of one connection under
//! our local id (a slab, lowest free slot first, O(1) lookups; a reused slot
//! gets a new id) and turns messages 80..=127 into events and the
//! application's calls into messages.
//!
//! Flow control (RFC 4254 section 5.2) is end to end: the receive window is
//! reopened only for bytes the application says it has consumed, so a slow
//! reader stalls its sender and what we buffer stays within the window; sends
//! never exceed the peer's window, its maximum packet size, or the send
//! buffer budget the connection hands in.
//!
//! Closing (section 5.3): a channel ends when CLOSE has gone both ways. Its
//! id is free for reuse only then, so a late message from the peer can never
//! land on a newer channel.

mod budget;
mod global;
pub mod modes;
mod query;
mod replies;
mod request;
mod send;
mod state;
mod table;
#[cfg(test)]
mod tests;
mod window;

pub use modes::{decode_terminal_modes, encode_terminal_modes};
pub use query::ChannelPhase;
pub(crate) use query::ChannelView;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::config::ChannelConfig;
use crate::error::{sanitize_text, ApiMisuse, Error, PeerMisbehaved};
use crate::event::{ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest, Event};
use crate::forward::{self, ForwardChannel};
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

use global::GlobalRequests;
use state::{Channel, Phase};
use table::IdTable;
use window::{RecvWindow, SendWindow};

/// All channels of one connection, and pending global requests.
#[derive(Debug)]
pub(crate) struct Channels {
    config: ChannelConfig,
    table: IdTable<Channel>,
    globals: GlobalRequests,
    /// Channels whose last `send` was cut short by the send buffer budget,
    /// to be told when room returns. May hold ids since closed (checked
    /// against `Channel::awaiting_budget` when drained).
    budget_waiters: Vec<u32>,
    /// Sum of the receive window sizes of the channels in `table`: the most
    /// channel data the peer can make us hold (see `window_for_new_channel`).
    reserved: u64,
    /// `session` channels in `table` (for `ChannelConfig::max_sessions`).
    sessions: u32,
    /// Whether we sent `auth-agent-req@openssh.com` on some session of this
    /// connection: only then are `auth-agent@openssh.com` opens accepted.
    agent_requested: bool,
}

/// The channel type counted by `ChannelConfig::max_sessions`.
pub(super) const SESSION: &str = "session";

impl Channels {
    /// No channels yet.
    pub(crate) fn new(config: ChannelConfig) -> Self {
        Channels {
            table: IdTable::new(config.max_channels),
            globals: GlobalRequests::default(),
            budget_waiters: Vec::new(),
            reserved: 0,
            sessions: 0,
            agent_requested: false,
            config,
        }
    }

    /// Handles messages 80..=127. Returns `Ok(false)` for a message number
    /// in that range this layer does not implement (the caller answers
    /// SSH_MSG_UNIMPLEMENTED).
    pub(crate) fn handle(
        &mut self,
        payload: Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<bool, Error> {
        let Some(&msg_no) = payload.first() else {
            return Ok(false);
        };
        match msg_no {
            msg::GLOBAL_REQUEST => self.globals.on_request(&payload, out, events)?,
            msg::REQUEST_SUCCESS => self.globals.on_reply(true, &payload, events)?,
            msg::REQUEST_FAILURE => self.globals.on_reply(false, &payload, events)?,
            msg::CHANNEL_OPEN => self.on_open(&payload, out, events)?,
            msg::CHANNEL_OPEN_CONFIRMATION => self.on_open_confirmation(&payload, out, events)?,
            msg::CHANNEL_OPEN_FAILURE => self.on_open_failure(&payload, events)?,
            msg::CHANNEL_WINDOW_ADJUST => self.on_window_adjust(&payload, events)?,
            msg::CHANNEL_DATA | msg::CHANNEL_EXTENDED_DATA => self.on_data(&payload, events)?,
            msg::CHANNEL_EOF => self.on_eof(&payload, events)?,
            msg::CHANNEL_CLOSE => self.on_close(&payload, out, events)?,
            msg::CHANNEL_REQUEST => self.on_request(&payload, out, events)?,
            msg::CHANNEL_SUCCESS | msg::CHANNEL_FAILURE => {
                self.on_request_reply(&payload, events)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    // ------------------------------------------------------------------
    // Messages from the peer
    // ------------------------------------------------------------------

    /// The channel `id` the peer names, which must be confirmed.
    fn confirmed(&mut self, id: u32, msg_no: u8) -> Result<&mut Channel, PeerMisbehaved> {
        match self.table.get_mut(id) {
            Some(ch) if ch.is_open() => Ok(ch),
            Some(Channel {
                phase: Phase::OpeningByUs { .. },
                ..
            }) => Err(PeerMisbehaved::UnexpectedMessage {
                msg: msg_no,
                state: "before the channel open was confirmed",
            }),
            // A channel the peer asked for and we have not confirmed: the
            // peer cannot know our number for it yet.
            _ => Err(PeerMisbehaved::UnknownChannel(id)),
        }
    }

    /// SSH_MSG_CHANNEL_OPEN (RFC 4254 section 5.1).
    fn on_open(
        &mut self,
        payload: &Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let kind = r.ascii()?;
        let peer_id = r.u32()?;
        let window = r.u32()?;
        let max_packet = r.u32()?;
        let data = payload.slice_ref(r.remaining());
        // A `forwarded-*` channel must belong to a forward we asked for and
        // the peer agreed to (RFC 4254 section 7.1; OpenSSH's client refuses
        // "forwarding for unknown listen_port" the same way): the
        // application never hears of one that does not.
        // `direct-*` opens are the application's to decode and decide.
        let forwarded = matches!(
            kind,
            forward::FORWARDED_TCPIP | forward::FORWARDED_STREAMLOCAL
        );
        if forwarded {
            let expected = match ForwardChannel::decode(kind, &data) {
                Some(Ok(c)) => self.globals.expects(&c),
                _ => false,
            };
            if !expected {
                send_open_failure(
                    out,
                    peer_id,
                    ChannelOpenFailure::AdministrativelyProhibited,
                    "no such forward was requested",
                );
                return Ok(());
            }
        }
        // An agent channel is only for a side that asked for agent
        // forwarding (OpenSSH PROTOCOL.agent); OpenSSH's client refuses one
        // when ForwardAgent is off ("ssh server tried agent forwarding"),
        // so a server cannot reach the client's agent uninvited.
        if kind == forward::AUTH_AGENT && !self.agent_requested {
            send_open_failure(
                out,
                peer_id,
                ChannelOpenFailure::AdministrativelyProhibited,
                "agent forwarding was not requested",
            );
            return Ok(());
        }
        // Channels awaiting the application's answer count too, so a peer
        // cannot make us hold more than `max_channels` of anything, and
        // their windows are reserved from the memory budget at once.
        if kind == SESSION && self.sessions >= self.config.max_sessions {
            // sshd's answer past `MaxSessions` (session_open fails, the
            // open is refused as "connect failed").
            tracing::info!(
                "refused channel open ({kind}): too many sessions (max_sessions {})",
                self.config.max_sessions
            );
            send_open_failure(
                out,
                peer_id,
                ChannelOpenFailure::ConnectFailed,
                "too many sessions",
            );
            return Ok(());
        }
        let refusal = if self.table.len() >= self.config.max_channels as usize {
            Err("too many channels")
        } else {
            self.window_for_new_channel()
                .ok_or("memory budget exhausted")
        };
        let id = refusal.and_then(|size| {
            self.insert(Channel::new(
                Phase::OpeningByPeer,
                kind,
                peer_id,
                SendWindow::new(window, max_packet),
                RecvWindow::new(size),
            ))
            .ok_or("too many channels")
        });
        let id = match id {
            Ok(id) => id,
            Err(why) => {
                tracing::info!("refused channel open ({kind}): {why}");
                send_open_failure(out, peer_id, ChannelOpenFailure::ResourceShortage, why);
                return Ok(());
            }
        };
        push_event(
            events,
            ChannelId(id),
            ChannelEvent::OpenRequest {
                kind: kind.to_string(),
                data,
            },
        );
        Ok(())
    }

    /// SSH_MSG_CHANNEL_OPEN_CONFIRMATION.
    fn on_open_confirmation(
        &mut self,
        payload: &Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        let peer_id = r.u32()?;
        let window = r.u32()?;
        let max_packet = r.u32()?;
        // Channel-type specific data may follow (section 5.1); none of the
        // types in RFC 4254 defines any, so it is ignored.
        let ch = self
            .table
            .get_mut(id)
            .ok_or(PeerMisbehaved::UnknownChannel(id))?;
        let Phase::OpeningByUs { close_requested } = ch.phase else {
            return Err(PeerMisbehaved::UnexpectedMessage {
                msg: msg::CHANNEL_OPEN_CONFIRMATION,
                state: "for a channel not being opened by us",
            }
            .into());
        };
        ch.phase = Phase::Open;
        ch.peer_id = peer_id;
        ch.send = SendWindow::new(window, max_packet);
        push_event(events, ChannelId(id), ChannelEvent::Opened);
        if close_requested {
            out.message(msg::CHANNEL_CLOSE).put_u32(peer_id);
            ch.sent_close = true;
        }
        Ok(())
    }

    /// SSH_MSG_CHANNEL_OPEN_FAILURE.
    fn on_open_failure(
        &mut self,
        payload: &Bytes,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        let reason = r.u32()?;
        // Some old implementations send neither description nor language
        // tag; take what is there.
        let description = if r.is_empty() { "" } else { r.utf8()? };
        let ch = self
            .table
            .get(id)
            .ok_or(PeerMisbehaved::UnknownChannel(id))?;
        if !matches!(ch.phase, Phase::OpeningByUs { .. }) {
            return Err(PeerMisbehaved::UnexpectedMessage {
                msg: msg::CHANNEL_OPEN_FAILURE,
                state: "for a channel not being opened by us",
            }
            .into());
        }
        self.remove(id);
        push_event(
            events,
            ChannelId(id),
            ChannelEvent::OpenFailed {
                reason: ChannelOpenFailure::from_code(reason),
                description: sanitize_text(description),
            },
        );
        Ok(())
    }

    /// SSH_MSG_CHANNEL_WINDOW_ADJUST (section 5.2).
    fn on_window_adjust(
        &mut self,
        payload: &Bytes,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        let n = r.u32()?;
        r.end()?;
        let ch = self.confirmed(id, msg::CHANNEL_WINDOW_ADJUST)?;
        ch.send
            .adjust(n)
            .map_err(|_| PeerMisbehaved::WindowOverflow(id))?;
        if ch.wants_writable && ch.can_send_now() {
            ch.wants_writable = false;
            push_event(events, ChannelId(id), ChannelEvent::Writable);
        }
        Ok(())
    }

    /// SSH_MSG_CHANNEL_DATA and SSH_MSG_CHANNEL_EXTENDED_DATA (section 5.2).
    fn on_data(&mut self, payload: &Bytes, events: &mut VecDeque<Event>) -> Result<(), Error> {
        let msg_no = payload.first().copied().unwrap_or_default();
        let mut r = body(payload);
        let id = r.u32()?;
        let code = if msg_no == msg::CHANNEL_EXTENDED_DATA {
            Some(r.u32()?)
        } else {
            None
        };
        let data = r.string()?;
        r.end()?;
        let max_packet = self.config.max_packet_size;
        let ch = self.confirmed(id, msg_no)?;
        if ch.got_eof {
            // Section 5.3: no more data after EOF.
            return Err(PeerMisbehaved::UnexpectedMessage {
                msg: msg_no,
                state: "after the peer's channel EOF",
            }
            .into());
        }
        // The length came from a uint32, so it fits.
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        if len > max_packet {
            return Err(PeerMisbehaved::ChannelPacketTooLarge(id).into());
        }
        ch.recv
            .receive(len)
            .map_err(|_| PeerMisbehaved::WindowExceeded(id))?;
        if ch.sent_close || len == 0 {
            // After our CLOSE the application wants nothing more from the
            // channel; the data was still checked against the window.
            return Ok(());
        }
        ch.recv.deliver(len);
        // A slice of the received payload: no copy.
        let data = payload.slice_ref(data);
        let channel = ChannelId(id);
        let event = match code {
            None => ChannelEvent::Data { data },
            Some(code) => ChannelEvent::ExtendedData { code, data },
        };
        push_event(events, channel, event);
        Ok(())
    }

    /// SSH_MSG_CHANNEL_EOF (section 5.3).
    fn on_eof(&mut self, payload: &Bytes, events: &mut VecDeque<Event>) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        r.end()?;
        let ch = self.confirmed(id, msg::CHANNEL_EOF)?;
        // A repeated EOF says nothing new; it is not worth failing over.
        if !ch.got_eof {
            ch.got_eof = true;
            if !ch.sent_close {
                push_event(events, ChannelId(id), ChannelEvent::Eof);
            }
        }
        Ok(())
    }

    /// SSH_MSG_CHANNEL_CLOSE (section 5.3): answered with our CLOSE if we
    /// have not sent one, which completes the close.
    fn on_close(
        &mut self,
        payload: &Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        r.end()?;
        let ch = self.confirmed(id, msg::CHANNEL_CLOSE)?;
        if !ch.sent_close {
            out.message(msg::CHANNEL_CLOSE).put_u32(ch.peer_id);
        }
        let Some(ch) = self.remove(id) else {
            return Ok(());
        };
        let channel = ChannelId(id);
        // Our requests the peer never answered fail, in order, before the
        // channel is reported closed.
        for _ in 0..ch.awaiting_replies {
            push_event(
                events,
                channel,
                ChannelEvent::RequestReply { success: false },
            );
        }
        push_event(events, channel, ChannelEvent::Closed);
        Ok(())
    }

    /// SSH_MSG_CHANNEL_REQUEST (section 5.4, section 6).
    fn on_request(
        &mut self,
        payload: &Bytes,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = body(payload);
        let id = r.u32()?;
        let name = r.ascii()?;
        let want_reply = r.bool()?;
        let request = request::decode_body(name, payload.slice_ref(r.remaining()))?;
        let ch = self.confirmed(id, msg::CHANNEL_REQUEST)?;
        if ch.sent_close {
            // We closed: the application is not asked, and no reply is sent.
            // The peer fails its pending requests when our CLOSE completes
            // the close; a reply sent after our CLOSE could reach it after it
            // has freed, or even reused, its channel number.
            return Ok(());
        }
        let channel = ChannelId(id);
        let peer_id = ch.peer_id;
        let auto_reply = |ch: &mut Channel, out: &mut Outbox, success: bool| {
            if want_reply {
                ch.owed_replies
                    .push_automatic(success, |s| send_channel_reply(out, peer_id, s))
            } else {
                Ok(())
            }
        };
        match request {
            // Section 6.10: these end a session; they get their own events.
            ChannelRequest::ExitStatus { code } => {
                push_event(events, channel, ChannelEvent::ExitStatus { code });
                auto_reply(ch, out, true)?;
            }
            ChannelRequest::ExitSignal {
                signal,
                core_dumped,
                message,
            } => {
                push_event(
                    events,
                    channel,
                    ChannelEvent::ExitSignal {
                        signal: sanitize_text(&signal),
                        core_dumped,
                        message: sanitize_text(&message),
                    },
                );
                auto_reply(ch, out, true)?;
            }
            ChannelRequest::Other { ref name, .. }
                if name == request::KEEPALIVE || name == request::EOW =>
            {
                auto_reply(ch, out, false)?;
            }
            request => {
                if want_reply {
                    ch.owed_replies.push_application()?;
                }
                push_event(
                    events,
                    channel,
                    ChannelEvent::Request {
                        request,
                        want_reply,
                    },
                );
            }
        }
        Ok(())
    }

    /// SSH_MSG_CHANNEL_SUCCESS / SSH_MSG_CHANNEL_FAILURE (section 5.4): the
    /// answer to our oldest want-reply request on the channel.
    fn on_request_reply(
        &mut self,
        payload: &Bytes,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let msg_no = payload.first().copied().unwrap_or_default();
        let mut r = body(payload);
        let id = r.u32()?;
        r.end()?;
        let ch = self.confirmed(id, msg_no)?;
        ch.awaiting_replies = ch
            .awaiting_replies
            .checked_sub(1)
            .ok_or(PeerMisbehaved::UnsolicitedReply)?;
        push_event(
            events,
            ChannelId(id),
            ChannelEvent::RequestReply {
                success: msg_no == msg::CHANNEL_SUCCESS,
            },
        );
        Ok(())
    }

    // ------------------------------------------------------------------
    // The application's calls
    // ------------------------------------------------------------------

    fn channel_mut(&mut self, id: ChannelId) -> Result<&mut Channel, ApiMisuse> {
        self.table
            .get_mut(id.0)
            .ok_or(ApiMisuse::UnknownChannel(id.0))
    }

    /// Opens a channel of `kind` with type-specific `extra` data.
    pub(crate) fn open(
        &mut self,
        kind: &str,
        extra: &[u8],
        out: &mut Outbox,
    ) -> Result<ChannelId, ApiMisuse> {
        if self.table.len() >= self.config.max_channels as usize {
            return Err(ApiMisuse::ChannelLimit);
        }
        let window = self
            .window_for_new_channel()
            .ok_or(ApiMisuse::ChannelLimit)?;
        let id = self
            .insert(Channel::new(
                Phase::OpeningByUs {
                    close_requested: false,
                },
                kind,
                0,
                // The peer's window and packet size come with its confirmation.
                SendWindow::new(0, 0),
                RecvWindow::new(window),
            ))
            .ok_or(ApiMisuse::ChannelLimit)?;
        // RFC 4254 section 5.1.
        let mut w = out.message(msg::CHANNEL_OPEN);
        w.put_str(kind);
        w.put_u32(id);
        w.put_u32(window);
        w.put_u32(self.config.max_packet_size);
        w.put_raw(extra);
        Ok(ChannelId(id))
    }

    /// Confirms a channel the peer asked to open.
    pub(crate) fn accept(&mut self, id: ChannelId, out: &mut Outbox) -> Result<(), ApiMisuse> {
        let max_packet = self.config.max_packet_size;
        let ch = self.channel_mut(id)?;
        if ch.phase != Phase::OpeningByPeer {
            return Err(ApiMisuse::NoChannelOpenPending);
        }
        // The window reserved when the open arrived.
        let window = ch.recv.size();
        ch.phase = Phase::Open;
        let mut w = out.message(msg::CHANNEL_OPEN_CONFIRMATION);
        w.put_u32(ch.peer_id);
        w.put_u32(id.0);
        w.put_u32(window);
        w.put_u32(max_packet);
        Ok(())
    }

    /// Refuses a channel the peer asked to open.
    pub(crate) fn reject(
        &mut self,
        id: ChannelId,
        reason: ChannelOpenFailure,
        description: &str,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let ch = self.channel_mut(id)?;
        if ch.phase != Phase::OpeningByPeer {
            return Err(ApiMisuse::NoChannelOpenPending);
        }
        let peer_id = ch.peer_id;
        self.remove(id.0);
        send_open_failure(out, peer_id, reason, description);
        Ok(())
    }

    /// Sends a channel request.
    pub(crate) fn request(
        &mut self,
        id: ChannelId,
        request: &ChannelRequest,
        want_reply: bool,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let ch = self.channel_mut(id)?;
        ch.check_usable()?;
        // Section 5.4.
        let mut w = out.message(msg::CHANNEL_REQUEST);
        w.put_u32(ch.peer_id);
        w.put_str(request.name());
        w.put_bool(want_reply);
        request::encode_body(request, &mut w);
        if want_reply {
            ch.awaiting_replies += 1;
        }
        if *request == ChannelRequest::AuthAgentReq {
            self.agent_requested = true;
        }
        Ok(())
    }

    /// Answers the oldest want-reply request the peer sent on `id`. After
    /// we sent CLOSE this does nothing: the close settled the request.
    pub(crate) fn reply(
        &mut self,
        id: ChannelId,
        success: bool,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let ch = self.channel_mut(id)?;
        if !ch.is_open() {
            return Err(ApiMisuse::ChannelNotOpen);
        }
        if ch.sent_close {
            return Ok(());
        }
        let peer_id = ch.peer_id;
        ch.owed_replies
            .answer(success, |s| send_channel_reply(out, peer_id, s))
            .map_err(|_| ApiMisuse::NoChannelRequestPending)
    }

    /// Sends EOF.
    pub(crate) fn eof(&mut self, id: ChannelId, out: &mut Outbox) -> Result<(), ApiMisuse> {
        let ch = self.channel_mut(id)?;
        ch.check_can_send()?;
        out.message(msg::CHANNEL_EOF).put_u32(ch.peer_id);
        ch.sent_eof = true;
        ch.wants_writable = false;
        Ok(())
    }

    /// Sends CLOSE (once); the channel is gone when the peer's CLOSE arrives.
    /// On a channel we are still opening, the CLOSE goes out once the peer
    /// confirms it. Calling it again does nothing.
    pub(crate) fn close(&mut self, id: ChannelId, out: &mut Outbox) -> Result<(), ApiMisuse> {
        let ch = self.channel_mut(id)?;
        match ch.phase {
            Phase::OpeningByUs { .. } => {
                ch.phase = Phase::OpeningByUs {
                    close_requested: true,
                };
                Ok(())
            }
            Phase::OpeningByPeer => Err(ApiMisuse::ChannelOpenUnanswered),
            Phase::Open if ch.sent_close => Ok(()),
            Phase::Open => {
                out.message(msg::CHANNEL_CLOSE).put_u32(ch.peer_id);
                ch.sent_close = true;
                ch.wants_writable = false;
                // Requests awaiting the application's answer are settled
                // by the close (see `on_request`).
                ch.owed_replies.clear();
                Ok(())
            }
        }
    }

    /// The application processed `n` bytes of received data; reopens the
    /// window with WINDOW_ADJUST when enough has been consumed.
    ///
    /// On a channel that is gone this does nothing: `ChannelEvent::Data`
    /// queued before `ChannelEvent::Closed` is normally consumed after the
    /// close, and ids are not reused soon (see `table`), so the call cannot
    /// hit another channel.
    pub(crate) fn consume(
        &mut self,
        id: ChannelId,
        n: usize,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let Some(ch) = self.table.get_mut(id.0) else {
            return Ok(());
        };
        let n = u32::try_from(n)
            .map_err(|_| ApiMisuse::InvalidArgument("consumed more than was received"))?;
        ch.recv
            .consume(n)
            .map_err(|_| ApiMisuse::InvalidArgument("consumed more than was received"))?;
        // No more data can come after the peer's EOF or once we closed, so
        // the window no longer matters then.
        if ch.is_open() && !ch.sent_close && !ch.got_eof {
            if let Some(adjust) = ch.recv.adjustment_due() {
                let mut w = out.message(msg::CHANNEL_WINDOW_ADJUST);
                w.put_u32(ch.peer_id);
                w.put_u32(adjust);
            }
        }
        Ok(())
    }

    /// Sends a global request.
    pub(crate) fn global_request(
        &mut self,
        name: &str,
        data: &[u8],
        want_reply: bool,
        out: &mut Outbox,
    ) {
        self.globals.send(name, data, want_reply, out);
    }

    /// Answers the oldest want-reply global request from the peer.
    pub(crate) fn global_reply(
        &mut self,
        success: bool,
        data: &[u8],
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        self.globals.reply(success, data, out)
    }

    /// Whether the oldest global request the application is to answer is a
    /// `tcpip-forward` on port 0 (whose reply carries the allocated port).
    pub(crate) fn global_pending_wants_port(&self) -> bool {
        self.globals.pending_wants_port()
    }

    /// Sends `keepalive@openssh.com` with want-reply; its reply (success or
    /// failure) is swallowed, not surfaced as an event.
    pub(crate) fn send_keepalive(&mut self, out: &mut Outbox) {
        self.globals.send_keepalive(out);
    }

    /// Number of channels in use, including those being opened and closed.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

/// Queues `event` about channel `id` for the application.
fn push_event(events: &mut VecDeque<Event>, id: ChannelId, event: ChannelEvent) {
    events.push_back(Event::Channel { id, event });
}

/// A reader over the message after its number.
fn body(payload: &Bytes) -> Reader<'_> {
    Reader::new(payload.get(1..).unwrap_or_default())
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 section 5.1), no language tag.
fn send_open_failure(out: &mut Outbox, peer_id: u32, reason: ChannelOpenFailure, text: &str) {
    let mut w = out.message(msg::CHANNEL_OPEN_FAILURE);
    w.put_u32(peer_id);
    w.put_u32(reason.code());
    w.put_str(text);
    w.put_str("");
}

/// SSH_MSG_CHANNEL_SUCCESS or SSH_MSG_CHANNEL_FAILURE (section 5.4).
fn send_channel_reply(out: &mut Outbox, peer_id: u32, success: bool) {
    let number = if success {
        msg::CHANNEL_SUCCESS
    } else {
        msg::CHANNEL_FAILURE
    };
    out.message(number).put_u32(peer_id);
}
