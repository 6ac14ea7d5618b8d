//! [`Recorder`]: the transcript a recording [`crate::Connection`] writes as
//! it is driven.

use std::time::Instant;

use crate::command::{Applied, Command};
use crate::error::{ApiMisuse, Error};
use crate::event::Event;
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

    /// Appends the first half of a command's record, the command; its
    /// outcome follows with [`Recorder::finish`] once it has run.
    pub(crate) fn begin_command(&mut self, command: &Command<'_>) {
        command.encode(&mut self.out);
    }

    /// Appends the outcome of the command begun with
    /// [`Recorder::begin_command`].
    pub(crate) fn finish(&mut self, outcome: Outcome) {
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

impl Outcome {
    /// The outcome an input call is recorded with: the connection's fatal
    /// error once it has one (the error it ended with, now or before),
    /// else `Ok`.
    pub(crate) fn of_input(error: Option<&Error>) -> Self {
        match error {
            Some(e) => Outcome::Err(e.to_string()),
            None => Outcome::Ok,
        }
    }

    /// The outcome a command is recorded with: `Done` for `Disconnect`
    /// (which returns nothing), else what `apply` returned. A refusal is
    /// recorded as the text of the [`Error`] it converts to.
    pub(crate) fn of_command(disconnect: bool, result: &Result<Applied, ApiMisuse>) -> Self {
        match result {
            Ok(_) if disconnect => Outcome::Done,
            Ok(Applied::Done) => Outcome::Ok,
            Ok(Applied::Opened(id)) => Outcome::Value(id.0.into()),
            Ok(Applied::Sent(n)) => Outcome::Value(*n as u64),
            Err(e) => Outcome::Err(Error::ApiMisuse(e.clone()).to_string()),
        }
    }
}

impl Record<'_> {
    /// Whether this record is a `poll_event` that returned nothing (the
    /// drain loop's last call), which a printout may skip.
    pub fn is_empty_poll(&self) -> bool {
        matches!(self.call, Call::PollEvent) && self.outcome == Outcome::NoEvent
    }
}
