//! The state of one channel (RFC 4254 section 5).

use crate::error::ApiMisuse;

use super::replies::ReplyQueue;
use super::window::{RecvWindow, SendWindow};

/// Where a channel is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// We sent CHANNEL_OPEN and await CONFIRMATION or FAILURE. The peer has
    /// no number for it yet, so nothing can be sent on it; a `close` asked
    /// for meanwhile is carried out when the confirmation comes.
    OpeningByUs { close_requested: bool },
    /// The peer sent CHANNEL_OPEN; the application has not answered yet.
    OpeningByPeer,
    /// Confirmed; data and requests may flow.
    Open,
}

/// One channel, under our local id.
#[derive(Debug)]
pub(super) struct Channel {
    pub(super) phase: Phase,
    /// The channel type from CHANNEL_OPEN, e.g. `session`.
    pub(super) kind: Box<str>,
    /// The peer's number for the channel ("recipient channel" in what we send).
    pub(super) peer_id: u32,
    pub(super) send: SendWindow,
    pub(super) recv: RecvWindow,
    pub(super) sent_eof: bool,
    pub(super) got_eof: bool,
    /// We sent CLOSE. The peer's CLOSE ends the channel at once (we answer
    /// it if needed), so there is no "got close" state.
    pub(super) sent_close: bool,
    /// Our want-reply requests awaiting CHANNEL_SUCCESS/FAILURE. Replies
    /// carry no identification, only their order (RFC 4254 section 5.4).
    pub(super) awaiting_replies: usize,
    /// Replies we owe the peer.
    pub(super) owed_replies: ReplyQueue,
    /// `send` took less than offered: emit `ChannelEvent::Writable` once
    /// more fits.
    pub(super) wants_writable: bool,
    /// Listed in `Channels::budget_waiters`.
    pub(super) awaiting_budget: bool,
}

impl Channel {
    /// A channel with windows not yet known on the sending side.
    pub(super) fn new(
        phase: Phase,
        kind: &str,
        peer_id: u32,
        send: SendWindow,
        recv: RecvWindow,
    ) -> Self {
        Channel {
            phase,
            kind: kind.into(),
            peer_id,
            send,
            recv,
            sent_eof: false,
            got_eof: false,
            sent_close: false,
            awaiting_replies: 0,
            owed_replies: ReplyQueue::default(),
            wants_writable: false,
            awaiting_budget: false,
        }
    }

    /// Whether the channel is confirmed (either direction).
    pub(super) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// The application may send messages on the channel: it is confirmed
    /// and we have not sent CLOSE.
    pub(super) fn check_usable(&self) -> Result<(), ApiMisuse> {
        match self.phase {
            Phase::OpeningByUs { .. } => Err(ApiMisuse::ChannelNotConfirmed),
            Phase::OpeningByPeer => Err(ApiMisuse::ChannelOpenNotAccepted),
            Phase::Open if self.sent_close => Err(ApiMisuse::ChannelClosing),
            Phase::Open => Ok(()),
        }
    }

    /// The application may send data: usable and no EOF sent.
    pub(super) fn check_can_send(&self) -> Result<(), ApiMisuse> {
        self.check_usable()?;
        if self.sent_eof {
            return Err(ApiMisuse::EofAlreadySent);
        }
        Ok(())
    }

    /// Whether data could go out now if the send buffer allows.
    pub(super) fn can_send_now(&self) -> bool {
        self.check_can_send().is_ok() && self.send.available() > 0 && self.send.max_packet() > 0
    }
}
