//! One end of a pair: its connection, what it reported, and the per-channel
//! record both applications keep.

use conch_core::{
    ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest, Connection, Error, Event,
    NegotiatedAlgorithms,
};
use sha2::{Digest, Sha256};

/// One side: its connection and everything it reported.
#[derive(Debug)]
pub struct Endpoint {
    /// The state machine.
    pub conn: Connection,
    /// Every event in order (data events only while `log_data` is set).
    pub log: Vec<Event>,
    /// Whether `Data`/`ExtendedData` events go to `log` (off for bulk runs).
    pub log_data: bool,
    /// Position of [`Endpoint::new_events`] in `log`.
    read: usize,
    /// Errors returned by input and timeout calls, consecutive repeats folded.
    pub input_errors: Vec<Error>,
    /// How many input/timeout calls returned an error.
    pub input_error_calls: usize,
    /// While set, `poll_transmit` is not drained (the socket is not writable).
    pub stall_transmit: bool,
    /// Output is moved with `take_transmit` (into a reused buffer) instead
    /// of `poll_transmit` + `consume_transmit`.
    pub take_transmit: bool,
    /// The buffer `take_transmit` fills (kept, as an adapter keeps it).
    pub taken: Vec<u8>,
    /// `handle_eof` was called (the peer closed its socket).
    pub eof_delivered: bool,
    /// Events returned after `Disconnected` (must stay 0).
    pub events_after_disconnect: usize,
    /// Largest `poll_transmit` length seen.
    pub max_transmit_len: usize,
    /// `handle_timeout` calls made.
    pub timeouts_fired: usize,
    /// `handle_input` calls made by the pipes.
    pub input_calls: usize,
}

impl Endpoint {
    pub(crate) fn new(conn: impl Into<Connection>) -> Self {
        Endpoint {
            conn: conn.into(),
            log: Vec::new(),
            log_data: true,
            read: 0,
            input_errors: Vec::new(),
            input_error_calls: 0,
            stall_transmit: false,
            take_transmit: false,
            taken: Vec::new(),
            eof_delivered: false,
            events_after_disconnect: 0,
            max_transmit_len: 0,
            timeouts_fired: 0,
            input_calls: 0,
        }
    }

    pub(crate) fn record_event(&mut self, event: &Event) {
        if self.disconnected().is_some() {
            self.events_after_disconnect += 1;
        }
        let is_data = matches!(
            event,
            Event::Channel {
                event: ChannelEvent::Data { .. } | ChannelEvent::ExtendedData { .. },
                ..
            }
        );
        if self.log_data || !is_data {
            self.log.push(event.clone());
        }
    }

    pub(crate) fn record_error(&mut self, error: Error) {
        self.input_error_calls += 1;
        if self.input_errors.last() != Some(&error) {
            self.input_errors.push(error);
        }
    }

    /// Events logged since the previous call.
    pub fn new_events(&mut self) -> Vec<Event> {
        let v = self.log[self.read..].to_vec();
        self.read = self.log.len();
        v
    }

    /// The error of the `Disconnected` event, if one was returned.
    pub fn disconnected(&self) -> Option<&Error> {
        self.log.iter().find_map(|e| match e {
            Event::Disconnected { error } => Some(error),
            _ => None,
        })
    }

    /// Whether an event matching `f` was logged.
    pub fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.log.iter().any(f)
    }

    /// How many logged events match `f`.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.log.iter().filter(|e| f(e)).count()
    }

    /// Number of completed re-exchanges.
    pub fn rekeys(&self) -> usize {
        self.count(|e| matches!(e, Event::KeyExchangeDone { rekey: true, .. }))
    }

    /// What the first key exchange negotiated, if one completed.
    pub fn negotiated(&self) -> Option<NegotiatedAlgorithms> {
        self.log.iter().find_map(|e| match e {
            Event::KeyExchangeDone { algorithms, .. } => Some(algorithms.clone()),
            _ => None,
        })
    }

    /// The first request to sign for public key authentication, if one
    /// came: the signature algorithm and the data to sign.
    pub fn signature_request(&self) -> Option<(String, Vec<u8>)> {
        self.log.iter().find_map(|e| match e {
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => Some((algorithm.clone(), data.clone())),
            _ => None,
        })
    }
}

/// What an application does with each event of its connection.
pub trait App {
    /// Reacts to one event (answers are mutator calls on `conn`).
    fn on_event(&mut self, conn: &mut Connection, event: &Event);
}

// ----------------------------------------------------------------------
// Per-channel record
// ----------------------------------------------------------------------

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
