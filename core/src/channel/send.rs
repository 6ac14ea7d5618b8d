//! Sending channel data (RFC 4254 section 5.2): as much as the peer's
//! window, its maximum packet size and the send buffer allow, and telling
//! the application when more fits.

use std::collections::VecDeque;

use crate::error::ApiMisuse;
use crate::event::{ChannelEvent, ChannelId, Event};
use crate::msg;
#[cfg(test)]
use crate::outbox::Outbox;

use super::{push_event, Channels};

/// Most data we put in one CHANNEL_DATA packet, whatever maximum packet size
/// the peer announces: well inside the 256 KiB packets OpenSSH (and we)
/// accept, while RFC 4253 section 6.1 only guarantees 32 KiB payloads, so a
/// peer announcing more than its transport takes still gets packets it reads.
pub(super) const MAX_DATA_PER_PACKET: u32 = 128 * 1024;

impl Channels {
    /// Queues as much of `data` as the peer's window, its maximum packet size
    /// and `budget` (bytes the send buffer may still take) allow, as
    /// CHANNEL_DATA (`ext == None`) or CHANNEL_EXTENDED_DATA. Returns how many
    /// bytes were taken; when fewer than offered, `ChannelEvent::Writable`
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

    /// Called when the send buffer has room again (`budget` bytes): emits
    /// `ChannelEvent::Writable` for channels that were held back by the budget.
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
                push_event(events, ChannelId(id), ChannelEvent::Writable);
            }
        }
        self.budget_waiters = waiters;
    }
}

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
