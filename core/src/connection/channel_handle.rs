//! Channel handles: one channel's state and mutators, as quinn-proto's
//! `conn.send_stream(id)` gives one stream's.
//!
//! [`Connection::channel`] answers what the connection knows of a channel
//! (its phase, EOF and CLOSE each way, both windows), so an application
//! need not keep a copy of it from the events; [`Connection::channel_mut`]
//! adds the channel's mutators, each the `Connection` method of the same
//! purpose with the id filled in. A handle exists from the open call (or
//! [`ChannelEvent::OpenRequest`]) until the close has gone both ways
//! ([`ChannelEvent::Closed`]) or the open was refused: then the id names
//! nothing and both accessors return `None`.

use crate::channel::{ChannelPhase, ChannelView};
use crate::error::ApiMisuse;
#[cfg(doc)]
use crate::event::ChannelEvent;
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest};

use super::Connection;

impl Connection {
    /// The channel `id`'s state, while the connection knows the channel.
    pub fn channel(&self, id: ChannelId) -> Option<ChannelRef<'_>> {
        let view = self.channels.view(id)?;
        Some(ChannelRef {
            id,
            view,
            send_budget: self.send_budget(),
        })
    }

    /// The channel `id`'s state and mutators, while the connection knows
    /// the channel.
    pub fn channel_mut(&mut self, id: ChannelId) -> Option<ChannelMut<'_>> {
        self.channels.view(id)?;
        Some(ChannelMut { conn: self, id })
    }
}

/// One channel's state, from [`Connection::channel`].
#[derive(Debug, Clone, Copy)]
pub struct ChannelRef<'a> {
    id: ChannelId,
    view: ChannelView<'a>,
    /// What the send buffer still takes (the connection's, shared by all
    /// channels).
    send_budget: usize,
}

impl<'a> ChannelRef<'a> {
    /// The channel's id.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The channel type, e.g. `session` (RFC 4254 section 5.1).
    pub fn kind(&self) -> &'a str {
        self.view.kind()
    }

    /// Where the channel is in its opening.
    pub fn phase(&self) -> ChannelPhase {
        self.view.phase()
    }

    /// Whether the channel is confirmed, whether or not EOF or CLOSE has
    /// been sent since.
    pub fn is_open(&self) -> bool {
        self.phase() == ChannelPhase::Open
    }

    /// Whether the channel awaits an answer to its opening, from the peer
    /// ([`ChannelPhase::Opening`]) or from the application
    /// ([`ChannelPhase::OpenRequested`]).
    pub fn is_opening(&self) -> bool {
        !self.is_open()
    }

    /// Whether the peer sent EOF: it sends no more data (RFC 4254 section
    /// 5.3). Data may still be sent to it.
    pub fn eof_received(&self) -> bool {
        self.view.eof_received()
    }

    /// Whether we sent EOF.
    pub fn eof_sent(&self) -> bool {
        self.view.eof_sent()
    }

    /// Whether we sent CLOSE; the channel is gone when the peer's arrives.
    pub fn close_sent(&self) -> bool {
        self.view.close_sent()
    }

    /// Whether the channel is being closed: CLOSE was sent, or asked for on
    /// a channel still being opened (it goes out with the confirmation).
    pub fn is_closing(&self) -> bool {
        self.view.closing()
    }

    /// Bytes [`Connection::send_data`] would take now: the peer's window,
    /// bounded by the send buffer. 0 while data may not be sent (not
    /// confirmed, EOF or CLOSE sent).
    pub fn send_capacity(&self) -> usize {
        (self.view.send_window() as usize).min(self.send_budget)
    }

    /// Bytes the peer's window still takes (RFC 4254 section 5.2), whatever
    /// the send buffer holds; 0 while data may not be sent.
    pub fn send_window(&self) -> u32 {
        self.view.send_window()
    }

    /// The most data one packet carries: the peer's maximum packet size
    /// (0 until the channel is confirmed), capped at what the connection
    /// puts in one packet.
    pub fn max_packet_size(&self) -> u32 {
        self.view.max_packet()
    }

    /// Bytes the peer may still send before it has to wait for our
    /// WINDOW_ADJUST; it grows as the application consumes data.
    pub fn recv_window(&self) -> u32 {
        self.view.recv_window()
    }

    /// Bytes received and handed out in events, not yet passed to
    /// [`Connection::consume`].
    pub fn unconsumed(&self) -> u32 {
        self.view.unconsumed()
    }

    /// Our want-reply requests the peer has not answered yet.
    pub fn pending_replies(&self) -> usize {
        self.view.pending_replies()
    }
}

/// One channel's state and mutators, from [`Connection::channel_mut`].
/// Each mutator is the `Connection` method named in its documentation.
#[derive(Debug)]
pub struct ChannelMut<'a> {
    conn: &'a mut Connection,
    id: ChannelId,
}

impl ChannelMut<'_> {
    /// The channel's id.
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The channel's state (`None` once a mutator ended the channel, e.g.
    /// [`ChannelMut::reject`]).
    pub fn state(&self) -> Option<ChannelRef<'_>> {
        self.conn.channel(self.id)
    }

    /// [`Connection::accept_channel`].
    pub fn accept(&mut self) -> Result<(), ApiMisuse> {
        self.conn.accept_channel(self.id)
    }

    /// [`Connection::reject_channel`].
    pub fn reject(
        &mut self,
        reason: ChannelOpenFailure,
        description: &str,
    ) -> Result<(), ApiMisuse> {
        self.conn.reject_channel(self.id, reason, description)
    }

    /// [`Connection::channel_request`].
    pub fn request(&mut self, request: &ChannelRequest, want_reply: bool) -> Result<(), ApiMisuse> {
        self.conn.channel_request(self.id, request, want_reply)
    }

    /// [`Connection::exec`].
    pub fn exec(&mut self, command: &[u8]) -> Result<(), ApiMisuse> {
        self.conn.exec(self.id, command)
    }

    /// [`Connection::channel_reply`].
    pub fn reply(&mut self, success: bool) -> Result<(), ApiMisuse> {
        self.conn.channel_reply(self.id, success)
    }

    /// [`Connection::send_data`].
    pub fn send_data(&mut self, data: &[u8]) -> Result<usize, ApiMisuse> {
        self.conn.send_data(self.id, data)
    }

    /// [`Connection::send_extended_data`].
    pub fn send_extended_data(&mut self, code: u32, data: &[u8]) -> Result<usize, ApiMisuse> {
        self.conn.send_extended_data(self.id, code, data)
    }

    /// [`Connection::send_eof`].
    pub fn send_eof(&mut self) -> Result<(), ApiMisuse> {
        self.conn.send_eof(self.id)
    }

    /// [`Connection::close_channel`].
    pub fn close(&mut self) -> Result<(), ApiMisuse> {
        self.conn.close_channel(self.id)
    }

    /// [`Connection::consume`].
    pub fn consume(&mut self, n: usize) -> Result<(), ApiMisuse> {
        self.conn.consume(self.id, n)
    }
}
