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

mod global;
pub mod modes;
mod replies;
mod request;
mod state;
mod table;
#[cfg(test)]
mod tests;
mod window;

pub use modes::{decode_terminal_modes, encode_terminal_modes};

use std::collections::VecDeque;

use bytes::Bytes;

use crate::config::ChannelConfig;
use crate::error::{sanitize_text, ApiMisuse, Error, PeerMisbehaved};
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest, Event};
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

use global::GlobalRequests;
use state::{Channel, Phase};
use table::IdTable;
use window::{RecvWindow, SendWindow};

/// Most data we put in one CHANNEL_DATA packet, whatever maximum packet size
/// the peer announces: well inside the 256 KiB packets OpenSSH (and we)
/// accept, while RFC 4253 section 6.1 only guarantees 32 KiB payloads, so a
/// peer announcing more than its transport takes still gets packets it reads.
const MAX_DATA_PER_PACKET: u32 = 128 * 1024;

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
}

impl Channels {
    /// No channels yet.
    pub(crate) fn new(config: ChannelConfig) -> Self {
        Channels {
            table: IdTable::new(config.max_channels),
            globals: GlobalRequests::default(),
            budget_waiters: Vec::new(),
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
        // Channels awaiting the application's answer count too, so a peer
        // cannot make us hold more than `max_channels` of anything.
        let id = if self.table.len() < self.config.max_channels as usize {
            self.table.insert(Channel::new(
                Phase::OpeningByPeer,
                peer_id,
                SendWindow::new(window, max_packet),
                RecvWindow::new(self.config.window_size),
            ))
        } else {
            None
        };
        let Some(id) = id else {
            send_open_failure(
                out,
                peer_id,
                ChannelOpenFailure::ResourceShortage,
                "too many channels",
            );
            return Ok(());
        };
        events.push_back(Event::ChannelOpenRequest {
            channel: ChannelId(id),
            kind: kind.to_string(),
            data,
        });
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
        events.push_back(Event::ChannelOpened {
            channel: ChannelId(id),
        });
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
        self.table.remove(id);
        events.push_back(Event::ChannelOpenFailed {
            channel: ChannelId(id),
            reason: ChannelOpenFailure::from_code(reason),
            description: sanitize_text(description),
        });
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
            events.push_back(Event::ChannelWritable {
                channel: ChannelId(id),
            });
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
        events.push_back(match code {
            None => Event::Data { channel, data },
            Some(code) => Event::ExtendedData {
                channel,
                code,
                data,
            },
        });
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
                events.push_back(Event::Eof {
                    channel: ChannelId(id),
                });
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
        let Some(ch) = self.table.remove(id) else {
            return Ok(());
        };
        let channel = ChannelId(id);
        // Our requests the peer never answered fail, in order, before the
        // channel is reported closed.
        for _ in 0..ch.awaiting_replies {
            events.push_back(Event::ChannelRequestReply {
                channel,
                success: false,
            });
        }
        events.push_back(Event::ChannelClosed { channel });
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
                events.push_back(Event::ExitStatus { channel, code });
                auto_reply(ch, out, true)?;
            }
            ChannelRequest::ExitSignal {
                signal,
                core_dumped,
                message,
            } => {
                events.push_back(Event::ExitSignal {
                    channel,
                    signal: sanitize_text(&signal),
                    core_dumped,
                    message: sanitize_text(&message),
                });
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
                events.push_back(Event::ChannelRequest {
                    channel,
                    request,
                    want_reply,
                });
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
        events.push_back(Event::ChannelRequestReply {
            channel: ChannelId(id),
            success: msg_no == msg::CHANNEL_SUCCESS,
        });
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
        let id = self
            .table
            .insert(Channel::new(
                Phase::OpeningByUs {
                    close_requested: false,
                },
                0,
                // The peer's window and packet size come with its confirmation.
                SendWindow::new(0, 0),
                RecvWindow::new(self.config.window_size),
            ))
            .ok_or(ApiMisuse::ChannelLimit)?;
        // RFC 4254 section 5.1.
        let mut w = out.message(msg::CHANNEL_OPEN);
        w.put_str(kind);
        w.put_u32(id);
        w.put_u32(self.config.window_size);
        w.put_u32(self.config.max_packet_size);
        w.put_raw(extra);
        Ok(ChannelId(id))
    }

    /// Confirms a channel the peer asked to open.
    pub(crate) fn accept(&mut self, id: ChannelId, out: &mut Outbox) -> Result<(), ApiMisuse> {
        let (window, max_packet) = (self.config.window_size, self.config.max_packet_size);
        let ch = self.channel_mut(id)?;
        if ch.phase != Phase::OpeningByPeer {
            return Err(ApiMisuse::NoChannelOpenPending);
        }
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
        self.table.remove(id.0);
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

    /// Queues as much of `data` as the peer's window, its maximum packet size
    /// and `budget` (bytes the send buffer may still take) allow, as
    /// CHANNEL_DATA (`ext == None`) or CHANNEL_EXTENDED_DATA. Returns how many
    /// bytes were taken; when fewer than offered, a `ChannelWritable` event
    /// follows once more can be sent.
    ///
    /// Only data bytes count against `budget` (headers add at most 13 bytes
    /// per packet), so a send cut short by the budget uses it up exactly and
    /// the connection then reports room through [`Channels::on_send_budget`].
    #[cfg(test)]
    pub(crate) fn send(
        &mut self,
        id: ChannelId,
        ext: Option<u32>,
        data: &[u8],
        budget: usize,
        out: &mut Outbox,
    ) -> Result<usize, ApiMisuse> {
        self.send_each(id, ext, data, budget, &mut |parts| out.queue_parts(parts))
    }

    /// [`Channels::send`], handing each data message to `sink` as its
    /// parts (the header fields, then the data) instead of queueing it. The
    /// connection frames and seals it straight into the transmit buffer when
    /// nothing is queued ahead of it: one copy of the data fewer, and the
    /// packet is sealed while its bytes are still in the CPU cache.
    pub(crate) fn send_each(
        &mut self,
        id: ChannelId,
        ext: Option<u32>,
        data: &[u8],
        budget: usize,
        sink: &mut dyn FnMut(&[&[u8]]),
    ) -> Result<usize, ApiMisuse> {
        let ch = self
            .table
            .get_mut(id.0)
            .ok_or(ApiMisuse::UnknownChannel(id.0))?;
        ch.check_can_send()?;
        if data.is_empty() {
            return Ok(0);
        }
        let max_packet = ch.send.max_packet().min(MAX_DATA_PER_PACKET) as usize;
        if max_packet == 0 {
            return Err(ApiMisuse::PeerTakesNoData);
        }
        let mut taken = 0usize;
        let mut budget_left = budget;
        while let Some(rest) = data.get(taken..).filter(|rest| !rest.is_empty()) {
            let n = rest
                .len()
                .min(ch.send.available() as usize)
                .min(max_packet)
                .min(budget_left);
            let Some(chunk) = rest.get(..n).filter(|chunk| !chunk.is_empty()) else {
                break;
            };
            let (header, header_len) = data_header(ch.peer_id, ext, n);
            sink(&[&header[..header_len], chunk]);
            // `n` is at most the window, a u32.
            ch.send.take(u32::try_from(n).unwrap_or(u32::MAX));
            taken += n;
            budget_left -= n;
        }
        if taken < data.len() {
            ch.wants_writable = true;
            // With window left, the budget is what stopped us; otherwise the
            // next WINDOW_ADJUST will tell.
            if ch.send.available() > 0 && !ch.awaiting_budget {
                ch.awaiting_budget = true;
                self.budget_waiters.push(id.0);
            }
        }
        Ok(taken)
    }

    /// Bytes `send` would accept now, ignoring the send buffer budget.
    pub(crate) fn send_window(&self, id: ChannelId) -> Result<usize, ApiMisuse> {
        let ch = self
            .table
            .get(id.0)
            .ok_or(ApiMisuse::UnknownChannel(id.0))?;
        ch.check_can_send()?;
        if ch.send.max_packet() == 0 {
            return Ok(0);
        }
        Ok(ch.send.available() as usize)
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
    /// On a channel that is gone this does nothing: `Data` events queued
    /// before `ChannelClosed` are normally consumed after the close, and ids
    /// are not reused soon (see `table`), so the call cannot hit another
    /// channel.
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

    /// Called when the send buffer has room again (`budget` bytes): emits
    /// `ChannelWritable` for channels that were held back by the budget.
    pub(crate) fn on_send_budget(&mut self, _budget: usize, events: &mut VecDeque<Event>) {
        // Drain in place and put the list back, so its memory is reused:
        // this runs every time the send buffer refills (no allocation per
        // packet in the steady state).
        let mut waiters = std::mem::take(&mut self.budget_waiters);
        for id in waiters.drain(..) {
            let Some(ch) = self.table.get_mut(id) else {
                continue;
            };
            if !ch.awaiting_budget {
                continue;
            }
            ch.awaiting_budget = false;
            // A channel whose window ran out meanwhile waits for the
            // WINDOW_ADJUST instead.
            if ch.wants_writable && ch.can_send_now() {
                ch.wants_writable = false;
                events.push_back(Event::ChannelWritable {
                    channel: ChannelId(id),
                });
            }
        }
        self.budget_waiters = waiters;
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

/// A reader over the message after its number.
fn body(payload: &Bytes) -> Reader<'_> {
    Reader::new(payload.get(1..).unwrap_or_default())
}

/// SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 section 5.1), no language tag.
/// The fields of a CHANNEL_DATA or CHANNEL_EXTENDED_DATA message before its
/// data (RFC 4254 section 5.2: byte type, uint32 recipient channel, [uint32
/// data type code,] the data's string length) and how many bytes they take.
fn data_header(peer_id: u32, ext: Option<u32>, data_len: usize) -> ([u8; 13], usize) {
    let mut header = [0u8; 13];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        header[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    match ext {
        None => put(&[msg::CHANNEL_DATA]),
        Some(_) => put(&[msg::CHANNEL_EXTENDED_DATA]),
    }
    put(&peer_id.to_be_bytes());
    if let Some(code) = ext {
        put(&code.to_be_bytes());
    }
    // At most the window, a u32.
    put(&u32::try_from(data_len).unwrap_or(u32::MAX).to_be_bytes());
    (header, len)
}

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
