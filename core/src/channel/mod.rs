//! The connection protocol (RFC 4254): channels, their windows, channel
//! requests and global requests.
//!
//! STUB: the interface the rest of the crate uses. Bodies to be written.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::config::ChannelConfig;
use crate::error::{ApiMisuse, Error};
use crate::event::{ChannelId, ChannelOpenFailure, ChannelRequest, Event};
use crate::outbox::Outbox;

/// All channels of one connection, and pending global requests.
#[derive(Debug)]
pub(crate) struct Channels {}

impl Channels {
    /// No channels yet.
    pub(crate) fn new(_config: ChannelConfig) -> Self {
        Channels {}
    }

    /// Handles messages 80..=127. Returns `Ok(false)` for a message number
    /// in that range this layer does not implement (the caller answers
    /// SSH_MSG_UNIMPLEMENTED).
    pub(crate) fn handle(
        &mut self,
        _payload: Bytes,
        _out: &mut Outbox,
        _events: &mut VecDeque<Event>,
    ) -> Result<bool, Error> {
        Ok(true)
    }

    /// Opens a channel of `kind` with type-specific `extra` data.
    pub(crate) fn open(
        &mut self,
        _kind: &str,
        _extra: &[u8],
        _out: &mut Outbox,
    ) -> Result<ChannelId, ApiMisuse> {
        Err(ApiMisuse::WrongState("unimplemented"))
    }

    /// Confirms a channel the peer asked to open.
    pub(crate) fn accept(&mut self, _id: ChannelId, _out: &mut Outbox) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Refuses a channel the peer asked to open.
    pub(crate) fn reject(
        &mut self,
        _id: ChannelId,
        _reason: ChannelOpenFailure,
        _description: &str,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Sends a channel request.
    pub(crate) fn request(
        &mut self,
        _id: ChannelId,
        _request: &ChannelRequest,
        _want_reply: bool,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Answers the oldest want-reply request the peer sent on `id`.
    pub(crate) fn reply(
        &mut self,
        _id: ChannelId,
        _success: bool,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Queues as much of `data` as the peer's window, its maximum packet size
    /// and `budget` (bytes the send buffer may still take) allow, as
    /// CHANNEL_DATA (`ext == None`) or CHANNEL_EXTENDED_DATA. Returns how many
    /// bytes were taken; when fewer than offered, a `ChannelWritable` event
    /// follows once more can be sent.
    pub(crate) fn send(
        &mut self,
        _id: ChannelId,
        _ext: Option<u32>,
        _data: &[u8],
        _budget: usize,
        _out: &mut Outbox,
    ) -> Result<usize, ApiMisuse> {
        Ok(0)
    }

    /// Bytes `send` would accept now, ignoring the send buffer budget.
    pub(crate) fn send_window(&self, _id: ChannelId) -> Result<usize, ApiMisuse> {
        Ok(0)
    }

    /// Sends EOF.
    pub(crate) fn eof(&mut self, _id: ChannelId, _out: &mut Outbox) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Sends CLOSE (once); the channel is gone when the peer's CLOSE arrives.
    pub(crate) fn close(&mut self, _id: ChannelId, _out: &mut Outbox) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// The application processed `n` bytes of received data; reopens the
    /// window with WINDOW_ADJUST when enough has been consumed.
    pub(crate) fn consume(
        &mut self,
        _id: ChannelId,
        _n: usize,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Called when the send buffer has room again (`budget` bytes): emits
    /// `ChannelWritable` for channels that were held back by the budget.
    pub(crate) fn on_send_budget(&mut self, _budget: usize, _events: &mut VecDeque<Event>) {}

    /// Sends a global request.
    pub(crate) fn global_request(
        &mut self,
        _name: &str,
        _data: &[u8],
        _want_reply: bool,
        _out: &mut Outbox,
    ) {
    }

    /// Answers the oldest want-reply global request from the peer.
    pub(crate) fn global_reply(
        &mut self,
        _success: bool,
        _data: &[u8],
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Sends `keepalive@openssh.com` with want-reply; its reply (success or
    /// failure) is swallowed, not surfaced as an event.
    pub(crate) fn send_keepalive(&mut self, _out: &mut Outbox) {}

    /// Number of open channels.
    pub(crate) fn len(&self) -> usize {
        0
    }
}
