//! The per-channel record both scripted applications keep.

use conch_core::{ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest, Event};
use sha2::{Digest, Sha256};

/// What one side saw on one channel.
#[derive(Debug, Default)]
pub struct ChannelLog {
    /// `ChannelOpened` arrived.
    pub opened: bool,
    /// `ChannelOpenFailed` arrived.
    pub open_failed: Option<(ChannelOpenFailure, String)>,
    /// `ChannelRequestReply` results, in order.
    pub replies: Vec<bool>,
    /// Data received (kept only while the app's `keep_data` is set).
    pub stdout: Vec<u8>,
    /// Extended data code 1 received (kept only while `keep_data` is set).
    pub stderr: Vec<u8>,
    /// Other extended data codes received.
    pub other_extended: Vec<(u32, Vec<u8>)>,
    /// Total data bytes received.
    pub stdout_len: u64,
    /// Running SHA-256 of data received.
    pub stdout_hash: Sha256,
    /// Total stderr bytes received.
    pub stderr_len: u64,
    /// Bytes received and not yet consumed.
    pub unconsumed: usize,
    /// Largest `unconsumed` ever.
    pub max_unconsumed: usize,
    /// Position in `stdout` of the first byte not yet consumed (slow readers).
    pub consumed_upto: usize,
    /// `Eof` arrived.
    pub eof: bool,
    /// Data or extended data arrived after `Eof` (must stay 0).
    pub data_after_eof: usize,
    /// `ExitStatus` arrived.
    pub exit_status: Option<u32>,
    /// `ExitSignal` arrived: signal, core dumped, message.
    pub exit_signal: Option<(String, bool, String)>,
    /// `ChannelClosed` arrived.
    pub closed: bool,
    /// `ChannelWritable` events.
    pub writable: usize,
    /// Requests the peer sent, in order.
    pub requests: Vec<(ChannelRequest, bool)>,
}

impl ChannelLog {
    fn on_data(&mut self, data: &[u8], keep: bool) {
        if self.eof {
            self.data_after_eof += 1;
        }
        self.stdout_len += data.len() as u64;
        self.stdout_hash.update(data);
        if keep {
            self.stdout.extend_from_slice(data);
        }
        self.unconsumed += data.len();
        self.max_unconsumed = self.max_unconsumed.max(self.unconsumed);
    }

    /// SHA-256 of all data received so far.
    pub fn stdout_digest(&self) -> [u8; 32] {
        self.stdout_hash.clone().finalize().into()
    }
}

/// The channel an event is about, if any (not an open request: the channel
/// exists only once accepted).
pub fn event_channel(event: &Event) -> Option<ChannelId> {
    match event {
        Event::Channel {
            event: ChannelEvent::OpenRequest { .. },
            ..
        } => None,
        Event::Channel { id, .. } => Some(*id),
        _ => None,
    }
}

/// Records a channel event into that channel's log.
pub(crate) fn record_channel_event(log: &mut ChannelLog, event: &Event, keep_data: bool) {
    let Event::Channel { event, .. } = event else {
        return;
    };
    match event {
        ChannelEvent::Opened => log.opened = true,
        ChannelEvent::OpenFailed {
            reason,
            description,
            ..
        } => log.open_failed = Some((*reason, description.clone())),
        ChannelEvent::RequestReply { success, .. } => log.replies.push(*success),
        ChannelEvent::Request {
            request,
            want_reply,
            ..
        } => log.requests.push((request.clone(), *want_reply)),
        ChannelEvent::Data { data, .. } => log.on_data(data, keep_data),
        ChannelEvent::ExtendedData { code, data, .. } => {
            if log.eof {
                log.data_after_eof += 1;
            }
            log.unconsumed += data.len();
            log.max_unconsumed = log.max_unconsumed.max(log.unconsumed);
            if *code == 1 {
                log.stderr_len += data.len() as u64;
                if keep_data {
                    log.stderr.extend_from_slice(data);
                }
            } else {
                log.other_extended.push((*code, data.to_vec()));
            }
        }
        ChannelEvent::Eof => log.eof = true,
        ChannelEvent::ExitStatus { code, .. } => log.exit_status = Some(*code),
        ChannelEvent::ExitSignal {
            signal,
            core_dumped,
            message,
            ..
        } => log.exit_signal = Some((signal.clone(), *core_dumped, message.clone())),
        ChannelEvent::Closed => log.closed = true,
        ChannelEvent::Writable => log.writable += 1,
        _ => {}
    }
}
