//! [`Recorder`]: the transcript a recording [`crate::Connection`] writes as
//! it is driven.

use std::time::Instant;

use crate::error::Error;
use crate::event::{ChannelId, Event};
use crate::keys::KeyError;

use super::call::{Call, Outcome, Record, TimeOffset};
use super::canonical::{bytes_digest, event_digest};
use super::header::Header;

/// Appends a record for every call into its connection. Its bytes are taken
/// with [`crate::Connection::take_transcript`] and written by the caller
/// wherever it likes (the core does no I/O).
#[derive(Debug)]
pub struct Recorder {
    out: Vec<u8>,
    base: Instant,
}

impl Recorder {
    /// A recorder whose transcript starts with `header`; times are recorded
    /// relative to `base`, the instant the connection was created with.
    pub(crate) fn new(header: &Header, base: Instant) -> Result<Self, KeyError> {
        let mut out = Vec::with_capacity(1024);
        header.encode(&mut out)?;
        Ok(Recorder { out, base })
    }

    /// `now` as an offset from the base instant, in nanoseconds (saturated
    /// at about 292 years either way).
    pub(crate) fn offset(&self, now: Instant) -> TimeOffset {
        match now.checked_duration_since(self.base) {
            Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            None => {
                let d = self.base.duration_since(now);
                i64::try_from(d.as_nanos()).map_or(i64::MIN, |n| -n)
            }
        }
    }

    /// Appends one record.
    pub(crate) fn record(&mut self, call: &Call<'_>, outcome: Outcome) {
        // Encoded straight from the borrowed arguments: no copy but the one
        // into the transcript.
        call.encode(&mut self.out);
        outcome.encode(&mut self.out);
    }

    /// `poll_event` returned `event`.
    pub(crate) fn record_event(&mut self, event: Option<&Event>) {
        let outcome = match event {
            Some(e) => Outcome::Event(event_digest(e)),
            None => Outcome::NoEvent,
        };
        self.record(&Call::PollEvent, outcome);
    }

    /// `consume_transmit(n)` is about to take bytes from `transmit`.
    pub(crate) fn record_transmit(&mut self, n: usize, transmit: &[u8]) {
        let taken = &transmit[..n.min(transmit.len())];
        self.record(
            &Call::ConsumeTransmit { n: n as u64 },
            Outcome::Transmitted(bytes_digest(taken)),
        );
    }

    /// The transcript bytes recorded since the last call (the header first).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

/// What a successful call returns, as a transcript records it.
pub(crate) trait RecordedValue {
    /// The number recorded, or `None` for `()`.
    fn recorded_value(&self) -> Option<u64>;
}

impl RecordedValue for () {
    fn recorded_value(&self) -> Option<u64> {
        None
    }
}

impl RecordedValue for usize {
    fn recorded_value(&self) -> Option<u64> {
        Some(*self as u64)
    }
}

impl RecordedValue for ChannelId {
    fn recorded_value(&self) -> Option<u64> {
        Some(self.0.into())
    }
}

/// The outcome a call's result is recorded as.
pub(crate) fn outcome_of<T: RecordedValue>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(v) => match v.recorded_value() {
            None => Outcome::Ok,
            Some(n) => Outcome::Value(n),
        },
        Err(e) => Outcome::Err(e.to_string()),
    }
}

impl Record<'_> {
    /// Whether this record is a `poll_event` that returned nothing (the
    /// drain loop's last call), which a printout may skip.
    pub fn is_empty_poll(&self) -> bool {
        matches!(self.call, Call::PollEvent) && self.outcome == Outcome::NoEvent
    }
}
