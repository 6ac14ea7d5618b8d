//! [`Replayer`]: re-runs a transcript on a rebuilt connection and checks
//! that everything comes out the same.

use std::fmt;
use std::time::{Duration, Instant};

use crate::command::Command;
use crate::connection::Connection;
use crate::event::Event;

use super::call::{fmt_bytes, short_hex, Call, Outcome, TimeOffset};
use super::canonical::{bytes_digest, event_digest};
use super::header::RecordedConfig;
use super::{seeded_rng, FormatError, Transcript};

/// The first place a replay differs from its transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the record (0 is the first after the header).
    pub index: usize,
    /// The call, as [`Call`]'s `Display` shows it.
    pub call: String,
    /// What the transcript says came out.
    pub expected: String,
    /// What came out of the replay.
    pub actual: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "replay diverged at record {}, {}: expected {}, got {}",
            self.index, self.call, self.expected, self.actual
        )
    }
}

impl std::error::Error for Divergence {}

/// Why a transcript did not replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The bytes are not a transcript this version can read.
    #[error("{0}")]
    Format(#[from] FormatError),
    /// The replay differed from the recording.
    #[error("{0}")]
    Divergence(#[from] Divergence),
}

/// One record replayed.
#[derive(Debug)]
pub struct Step {
    /// Index of the record in [`Transcript::records`].
    pub index: usize,
    /// What the call returned or produced (equal to the recorded outcome).
    pub outcome: Outcome,
    /// The event, if the call was a `poll_event` that returned one.
    pub event: Option<Event>,
}

/// What a replay went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Records replayed.
    pub records: usize,
    /// Events polled.
    pub events: usize,
    /// Bytes fed to `handle_input`.
    pub input_bytes: u64,
    /// Bytes taken with `consume_transmit`.
    pub transmitted_bytes: u64,
    /// Whether the transcript ended inside a record (the recording process
    /// stopped mid-write); the complete records were replayed.
    pub truncated: bool,
}

/// Re-runs a transcript step by step.
///
/// The connection is rebuilt from the header (role, configuration, a
/// `ChaCha20Rng` from the seed, and `base` as the creation instant), then
/// every recorded call is made again in order, with the recorded
/// arguments and times (`base` plus the offset), and its outcome compared
/// with the recorded one: results, the digest of every event polled and of
/// every transmitted chunk consumed. The first difference is returned as a
/// [`Divergence`] and ends the replay.
///
/// Any `base` works: the connection only compares and adds instants.
#[derive(Debug)]
pub struct Replayer<'a> {
    transcript: Transcript<'a>,
    conn: Connection,
    base: Instant,
    next: usize,
    stopped: bool,
    summary: ReplaySummary,
}

impl<'a> Replayer<'a> {
    /// A replayer positioned before the first record.
    pub fn new(transcript: Transcript<'a>, base: Instant) -> Self {
        let rng = seeded_rng(transcript.header.seed);
        let conn = match &transcript.header.config {
            RecordedConfig::Client(c) => Connection::client(c.clone(), rng, base).into(),
            RecordedConfig::Server(c) => Connection::server(c.clone(), rng, base).into(),
        };
        let summary = ReplaySummary {
            records: 0,
            events: 0,
            input_bytes: 0,
            transmitted_bytes: 0,
            truncated: transcript.truncated,
        };
        Replayer {
            transcript,
            conn,
            base,
            next: 0,
            stopped: false,
            summary,
        }
    }

    /// The transcript being replayed.
    pub fn transcript(&self) -> &Transcript<'a> {
        &self.transcript
    }

    /// The rebuilt connection, in the state the replay has brought it to.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// What has been replayed so far.
    pub fn summary(&self) -> &ReplaySummary {
        &self.summary
    }

    /// Replays the next record. `None` once every record has been replayed
    /// or after a divergence.
    pub fn step(&mut self) -> Option<Result<Step, Divergence>> {
        if self.stopped {
            return None;
        }
        let index = self.next;
        let Some(record) = self.transcript.records.get(index) else {
            self.stopped = true;
            return None;
        };
        self.next += 1;
        let diverged = |expected: String, actual: String| Divergence {
            index,
            call: record.call.to_string(),
            expected,
            actual,
        };
        let result = match run_call(&mut self.conn, self.base, &record.call) {
            Err(actual) => Err(diverged(record.outcome.to_string(), actual)),
            Ok(ran) if ran.outcome == record.outcome => {
                self.summary.records += 1;
                match &record.call {
                    Call::HandleInput { data, .. } => {
                        self.summary.input_bytes += data.len() as u64;
                    }
                    Call::ConsumeTransmit { .. } => {
                        self.summary.transmitted_bytes += ran.transmitted as u64;
                    }
                    _ => {}
                }
                if ran.event.is_some() {
                    self.summary.events += 1;
                }
                Ok(Step {
                    index,
                    outcome: ran.outcome,
                    event: ran.event,
                })
            }
            Ok(ran) => Err(diverged(record.outcome.to_string(), ran.describe())),
        };
        if result.is_err() {
            self.stopped = true;
        }
        Some(result)
    }

    /// Replays every record; the summary, or the first divergence.
    pub fn run(mut self) -> Result<ReplaySummary, Divergence> {
        while let Some(step) = self.step() {
            step?;
        }
        Ok(self.summary)
    }
}

/// Decodes and replays `transcript` (see [`Replayer`]).
pub fn replay(transcript: &[u8], base: Instant) -> Result<ReplaySummary, ReplayError> {
    let transcript = Transcript::decode(transcript)?;
    Ok(Replayer::new(transcript, base).run()?)
}

/// What one call did on the replayed connection.
struct Ran {
    outcome: Outcome,
    event: Option<Event>,
    /// For `consume_transmit`: the bytes taken.
    transmitted: usize,
    /// For `consume_transmit`: a glimpse of them, for a divergence report.
    transmitted_head: Vec<u8>,
}

impl Ran {
    fn outcome(outcome: Outcome) -> Self {
        Ran {
            outcome,
            event: None,
            transmitted: 0,
            transmitted_head: Vec::new(),
        }
    }

    /// The outcome with what it stands for, for a divergence report.
    fn describe(&self) -> String {
        match (&self.outcome, &self.event) {
            (Outcome::Event(d), Some(e)) => {
                let mut text = format!("{e:?}");
                if text.len() > 400 {
                    let cut = (0..=400).rev().find(|&i| text.is_char_boundary(i));
                    text.truncate(cut.unwrap_or(0));
                    text.push_str("...");
                }
                format!("{text} (digest {})", short_hex(d))
            }
            (Outcome::Transmitted(d), _) => {
                struct Head<'b>(&'b [u8]);
                impl fmt::Display for Head<'_> {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt_bytes(f, self.0, 24)
                    }
                }
                format!(
                    "{} bytes with digest {} (starting {})",
                    self.transmitted,
                    short_hex(d),
                    Head(&self.transmitted_head)
                )
            }
            (o, _) => o.to_string(),
        }
    }
}

/// `base` moved by `at` nanoseconds.
fn instant(base: Instant, at: TimeOffset) -> Result<Instant, String> {
    let d = Duration::from_nanos(at.unsigned_abs());
    let t = if at >= 0 {
        base.checked_add(d)
    } else {
        base.checked_sub(d)
    };
    t.ok_or_else(|| format!("a time the platform cannot represent ({at} ns from the base instant)"))
}

/// Makes `call` on `conn`. `Err` only when the call cannot be made at all.
fn run_call(conn: &mut Connection, base: Instant, call: &Call<'_>) -> Result<Ran, String> {
    let outcome = match call {
        Call::HandleInput { at, data } => {
            conn.handle_input(instant(base, *at)?, data);
            Outcome::of_input(conn.error())
        }
        Call::HandleEof { at } => {
            conn.handle_eof(instant(base, *at)?);
            Outcome::Done
        }
        Call::HandleTimeout { at } => {
            conn.handle_timeout(instant(base, *at)?);
            Outcome::of_input(conn.error())
        }
        Call::PollEvent => {
            let event = conn.poll_event();
            let outcome = match &event {
                Some(e) => Outcome::Event(event_digest(e)),
                None => Outcome::NoEvent,
            };
            return Ok(Ran {
                outcome,
                event,
                transmitted: 0,
                transmitted_head: Vec::new(),
            });
        }
        Call::ConsumeTransmit { n } => {
            let n = usize::try_from(*n).unwrap_or(usize::MAX);
            let transmit = conn.poll_transmit().unwrap_or(&[]);
            let taken = &transmit[..n.min(transmit.len())];
            let digest = bytes_digest(taken);
            let transmitted = taken.len();
            let transmitted_head = taken[..taken.len().min(24)].to_vec();
            // Taking more than there is takes everything; clamped here so
            // that an edited count cannot overflow the buffer arithmetic.
            conn.consume_transmit(transmitted);
            return Ok(Ran {
                outcome: Outcome::Transmitted(digest),
                event: None,
                transmitted,
                transmitted_head,
            });
        }
        // Every application call takes the one path it took when recorded.
        Call::Command(command) => {
            let disconnect = matches!(command, Command::Disconnect { .. });
            Outcome::of_command(disconnect, &conn.apply(command.clone()))
        }
    };
    Ok(Ran::outcome(outcome))
}
