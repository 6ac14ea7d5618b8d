//! The scripted client application.

use std::collections::BTreeMap;

use conch_core::{ChannelId, Connection, Event, PublicKey};

use super::channel_log::{event_channel, record_channel_event, ChannelLog};
use super::role_calls::RoleCalls;
use conch_test_support::App;

/// How the client application answers [`Event::HostKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Accept at once.
    Accept,
    /// Reject at once.
    Reject,
    /// Do not answer (the test decides later).
    Ignore,
}

/// The client end: answers the host key, records channels, consumes data.
/// Authentication and channel actions are left to the test.
#[derive(Debug)]
pub struct ClientApp {
    /// What to do with the host key.
    pub host_key_policy: HostKeyPolicy,
    /// Host keys the connection presented.
    pub host_keys_seen: Vec<PublicKey>,
    /// Call `consume` as data arrives.
    pub consume: bool,
    /// Keep received data in [`ChannelLog::stdout`]/`stderr`.
    pub keep_data: bool,
    /// Per channel record.
    pub channels: BTreeMap<ChannelId, ChannelLog>,
    /// Failed mutator calls the app made.
    pub errors: Vec<String>,
}

impl Default for ClientApp {
    fn default() -> Self {
        ClientApp {
            host_key_policy: HostKeyPolicy::Accept,
            host_keys_seen: Vec::new(),
            consume: true,
            keep_data: true,
            channels: BTreeMap::new(),
            errors: Vec::new(),
        }
    }
}

impl App for ClientApp {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        let event = &event;
        if let Event::HostKey { key } = event {
            self.host_keys_seen.push(key.clone());
            let r = match self.host_key_policy {
                HostKeyPolicy::Accept => conn.accept_host_key(),
                HostKeyPolicy::Reject => conn.reject_host_key(),
                HostKeyPolicy::Ignore => Ok(()),
            };
            if let Err(e) = r {
                self.errors.push(format!("host key answer: {e}"));
            }
            return;
        }
        let Some(ch) = event_channel(event) else {
            return;
        };
        let log = self.channels.entry(ch).or_default();
        record_channel_event(log, event, self.keep_data);
        if self.consume && log.unconsumed > 0 {
            let n = log.unconsumed;
            log.unconsumed = 0;
            log.consumed_upto = log.stdout.len();
            if let Err(e) = conn.consume(ch, n) {
                self.errors.push(format!("consume {ch}: {e}"));
            }
        }
    }
}

impl ClientApp {
    /// The record of `ch` (empty if nothing happened on it).
    pub fn channel(&mut self, ch: ChannelId) -> &mut ChannelLog {
        self.channels.entry(ch).or_default()
    }
}
