//! The connection's memory budget over its channels' receive windows
//! (`ChannelConfig::memory_budget`) and the session count
//! (`ChannelConfig::max_sessions`): every channel enters and leaves the
//! table through here, so the sums stay exact.

use super::state::Channel;
use super::{Channels, SESSION};

/// The smallest receive window a channel is opened with; below it the open
/// is refused (`ChannelConfig::memory_budget`).
const MIN_WINDOW: u32 = 8 * 1024;

/// A new channel's window is at most this fraction of the budget left
/// beyond the floor reserve, so windows shrink geometrically as channels
/// open instead of the first few taking everything (with the default
/// budget the first four still get OpenSSH's full 2 MiB).
const WINDOW_SHARE: u64 = 8;

/// How many smallest windows the budget keeps room for beyond the
/// generous ones (with the default budget: 1,024 channels of 8 KiB).
const FLOOR_CHANNELS: u64 = 1024;

impl Channels {
    /// The receive window a channel opened now gets, or `None` when the
    /// memory budget has no room for one (`ChannelConfig::memory_budget`).
    /// Windows are granted once and never grow (WINDOW_ADJUST only returns
    /// what the application consumed), so the sum of the sizes bounds what
    /// the peer can make us buffer.
    pub(super) fn window_for_new_channel(&self) -> Option<u32> {
        let c = &self.config;
        let for_windows = c
            .memory_budget
            .saturating_sub(c.send_buffer_limit)
            .saturating_sub(crate::config::UNREAD_ANSWERS_LIMIT);
        let left = (for_windows as u64).saturating_sub(self.reserved);
        let floor = u64::from(MIN_WINDOW.min(c.window_size));
        if left < floor {
            return None;
        }
        // The geometric share is taken from what is left beyond a reserve
        // of FLOOR_CHANNELS smallest windows, so that the first channels'
        // generous windows never use up the room of many more small ones:
        // hundreds of forwarded connections still fit in one budget.
        let generous = left.saturating_sub(floor * FLOOR_CHANNELS) / WINDOW_SHARE;
        let size = u64::from(c.window_size).min(generous.max(floor));
        u32::try_from(size).ok()
    }

    /// Adds a channel to the table, reserving its receive window.
    pub(super) fn insert(&mut self, channel: Channel) -> Option<u32> {
        let size = u64::from(channel.recv.size());
        let session = &*channel.kind == SESSION;
        let id = self.table.insert(channel)?;
        self.reserved += size;
        if session {
            self.sessions += 1;
        }
        Some(id)
    }

    /// Removes a channel from the table, releasing its receive window.
    pub(super) fn remove(&mut self, id: u32) -> Option<Channel> {
        let channel = self.table.remove(id)?;
        self.reserved = self.reserved.saturating_sub(u64::from(channel.recv.size()));
        if &*channel.kind == SESSION {
            self.sessions = self.sessions.saturating_sub(1);
        }
        Some(channel)
    }
}
