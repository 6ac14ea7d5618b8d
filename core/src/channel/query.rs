//! Read-only queries of one channel's state, behind
//! [`crate::Connection::channel`].

use crate::event::ChannelId;

use super::send::MAX_DATA_PER_PACKET;
use super::state::{Channel, Phase};
use super::Channels;

/// Where a channel is in its opening (RFC 4254 section 5.1). A channel the
/// connection no longer knows has no phase: it is closed, or its opening
/// was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelPhase {
    /// We sent CHANNEL_OPEN; the peer has not answered yet.
    Opening,
    /// The peer asked to open it; [`crate::Connection::accept_channel`] or
    /// [`crate::Connection::reject_channel`] answers.
    OpenRequested,
    /// Confirmed: data and requests may flow (unless EOF or CLOSE was sent).
    Open,
}

/// One channel's state as the connection holds it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelView<'a>(&'a Channel);

impl Channels {
    /// The state of `id`, if the connection still knows the channel.
    pub(crate) fn view(&self, id: ChannelId) -> Option<ChannelView<'_>> {
        self.table.get(id.0).map(ChannelView)
    }
}

impl<'a> ChannelView<'a> {
    pub(crate) fn phase(self) -> ChannelPhase {
        match self.0.phase {
            Phase::OpeningByUs { .. } => ChannelPhase::Opening,
            Phase::OpeningByPeer => ChannelPhase::OpenRequested,
            Phase::Open => ChannelPhase::Open,
        }
    }

    pub(crate) fn kind(self) -> &'a str {
        &self.0.kind
    }

    pub(crate) fn eof_received(self) -> bool {
        self.0.got_eof
    }

    pub(crate) fn eof_sent(self) -> bool {
        self.0.sent_eof
    }

    pub(crate) fn close_sent(self) -> bool {
        self.0.sent_close
    }

    /// CLOSE was sent, or asked for on a channel still being opened (it goes
    /// out with the confirmation).
    pub(crate) fn closing(self) -> bool {
        self.0.sent_close
            || matches!(
                self.0.phase,
                Phase::OpeningByUs {
                    close_requested: true
                }
            )
    }

    /// Bytes the peer's window still takes; 0 while we may not send data
    /// (not confirmed, EOF or CLOSE sent) or the peer takes none (maximum
    /// packet size 0).
    pub(crate) fn send_window(self) -> u32 {
        if self.0.check_can_send().is_err() || self.0.send.max_packet() == 0 {
            return 0;
        }
        self.0.send.available()
    }

    /// The most data one packet carries: the peer's maximum packet size,
    /// capped as `send` caps it.
    pub(crate) fn max_packet(self) -> u32 {
        self.0.send.max_packet().min(MAX_DATA_PER_PACKET)
    }

    pub(crate) fn recv_window(self) -> u32 {
        self.0.recv.remaining()
    }

    pub(crate) fn unconsumed(self) -> u32 {
        self.0.recv.unconsumed()
    }

    pub(crate) fn pending_replies(self) -> usize {
        self.0.awaiting_replies
    }
}
