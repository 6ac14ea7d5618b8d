//! Records: one call into a [`crate::Connection`] with its arguments, and
//! what came out of it.

use std::borrow::Cow;
use std::fmt;

use crate::command::Command;

use super::codec::{Put, Reader};
use super::FormatError;
pub(crate) use crate::command::fmt_bytes;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// A time handed to the connection, as nanoseconds after the instant it was
/// created with (negative if the caller handed in an earlier one).
pub type TimeOffset = i64;

/// One public call into a [`crate::Connection`], with its arguments.
///
/// Queries that take `&self` (`poll_timeout`, `send_capacity`, ...) and
/// `poll_transmit` change nothing and are not recorded. The input calls
/// and the output calls that change state have variants of their own;
/// every mutator is a [`Command`], recorded as it was applied (shorthands
/// as the command they build, see [`Command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call<'a> {
    /// `handle_input(now, data)`, the bytes verbatim.
    HandleInput {
        /// `now`.
        at: TimeOffset,
        /// The bytes received.
        data: Cow<'a, [u8]>,
    },
    /// `handle_eof(now)`.
    HandleEof {
        /// `now`.
        at: TimeOffset,
    },
    /// `handle_timeout(now)`.
    HandleTimeout {
        /// `now`.
        at: TimeOffset,
    },
    /// `poll_event()`; its outcome is the event's digest or "no event".
    PollEvent,
    /// `consume_transmit(n)`; its outcome is the digest of the bytes taken.
    ConsumeTransmit {
        /// `n`.
        n: u64,
    },
    /// An application call (a mutator), as it was applied.
    Command(Command<'a>),
}

/// What a recorded call returned or produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The call returns nothing (`handle_eof`, `disconnect`).
    Done,
    /// `Ok(())`.
    Ok,
    /// `Ok` with a number: the id of the channel opened, or the bytes
    /// `send_data` accepted.
    Value(u64),
    /// `Err`, with the error's text.
    Err(String),
    /// `poll_event` returned an event; the SHA-256 of its canonical encoding.
    Event(Digest),
    /// `poll_event` returned `None`.
    NoEvent,
    /// `consume_transmit`: the SHA-256 of the bytes it took from the
    /// transmit buffer.
    Transmitted(Digest),
}

/// One call and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The call.
    pub call: Call<'a>,
    /// What it returned or produced.
    pub outcome: Outcome,
}

// Call tags (see the module documentation for the table).
const HANDLE_INPUT: u8 = 0x01;
const HANDLE_EOF: u8 = 0x02;
const HANDLE_TIMEOUT: u8 = 0x03;
const POLL_EVENT: u8 = 0x04;
const CONSUME_TRANSMIT: u8 = 0x05;

// Outcome tags.
const OUT_DONE: u8 = 0;
const OUT_OK: u8 = 1;
const OUT_VALUE: u8 = 2;
const OUT_ERR: u8 = 3;
const OUT_EVENT: u8 = 4;
const OUT_NO_EVENT: u8 = 5;
const OUT_TRANSMITTED: u8 = 6;

impl Record<'_> {
    /// Appends the record's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.call.encode(out);
        self.outcome.encode(out);
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Record<'static> {
        Record {
            call: self.call.into_owned(),
            outcome: self.outcome,
        }
    }
}

impl<'a> Record<'a> {
    pub(crate) fn decode(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let call = Call::decode(r)?;
        let outcome = Outcome::decode(r)?;
        Ok(Record { call, outcome })
    }
}

impl Outcome {
    /// Appends the outcome's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Outcome::Done => out.byte(OUT_DONE),
            Outcome::Ok => out.byte(OUT_OK),
            Outcome::Value(v) => {
                out.byte(OUT_VALUE);
                out.uvar(*v);
            }
            Outcome::Err(e) => {
                out.byte(OUT_ERR);
                out.text(e);
            }
            Outcome::Event(d) => {
                out.byte(OUT_EVENT);
                out.raw(d);
            }
            Outcome::NoEvent => out.byte(OUT_NO_EVENT),
            Outcome::Transmitted(d) => {
                out.byte(OUT_TRANSMITTED);
                out.raw(d);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        Ok(match r.byte("outcome")? {
            OUT_DONE => Outcome::Done,
            OUT_OK => Outcome::Ok,
            OUT_VALUE => Outcome::Value(r.uvar("outcome value")?),
            OUT_ERR => Outcome::Err(r.text("outcome error")?.to_string()),
            OUT_EVENT => Outcome::Event(r.array("event digest")?),
            OUT_NO_EVENT => Outcome::NoEvent,
            OUT_TRANSMITTED => Outcome::Transmitted(r.array("transmit digest")?),
            _ => return Err(r.invalid("outcome")),
        })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Done => f.write_str("done"),
            Outcome::Ok => f.write_str("Ok"),
            Outcome::Value(v) => write!(f, "Ok({v})"),
            Outcome::Err(e) => write!(f, "Err({e})"),
            Outcome::Event(d) => write!(f, "an event with digest {}", short_hex(d)),
            Outcome::NoEvent => f.write_str("no event"),
            Outcome::Transmitted(d) => write!(f, "bytes with digest {}", short_hex(d)),
        }
    }
}

/// The first eight bytes of a digest in hex, enough to tell two apart.
pub(crate) fn short_hex(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Call<'_> {
    /// Appends the call's encoding: its tag, then its arguments.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Call::HandleInput { at, data } => {
                out.byte(HANDLE_INPUT);
                out.ivar(*at);
                out.bytes(data);
            }
            Call::HandleEof { at } => {
                out.byte(HANDLE_EOF);
                out.ivar(*at);
            }
            Call::HandleTimeout { at } => {
                out.byte(HANDLE_TIMEOUT);
                out.ivar(*at);
            }
            Call::PollEvent => out.byte(POLL_EVENT),
            Call::ConsumeTransmit { n } => {
                out.byte(CONSUME_TRANSMIT);
                out.uvar(*n);
            }
            Call::Command(command) => command.encode(out),
        }
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Call<'static> {
        match self {
            Call::HandleInput { at, data } => Call::HandleInput {
                at,
                data: Cow::Owned(data.into_owned()),
            },
            Call::HandleEof { at } => Call::HandleEof { at },
            Call::HandleTimeout { at } => Call::HandleTimeout { at },
            Call::PollEvent => Call::PollEvent,
            Call::ConsumeTransmit { n } => Call::ConsumeTransmit { n },
            Call::Command(command) => Call::Command(command.into_owned()),
        }
    }

    /// The time handed in, for the calls that take one.
    pub fn at(&self) -> Option<TimeOffset> {
        match self {
            Call::HandleInput { at, .. } | Call::HandleEof { at } | Call::HandleTimeout { at } => {
                Some(*at)
            }
            _ => None,
        }
    }
}

impl<'a> Call<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, FormatError> {
        let tag_at = r.pos();
        let tag = r.byte("call")?;
        Ok(match tag {
            HANDLE_INPUT => Call::HandleInput {
                at: r.ivar("time")?,
                data: Cow::Borrowed(r.bytes("input")?),
            },
            HANDLE_EOF => Call::HandleEof {
                at: r.ivar("time")?,
            },
            HANDLE_TIMEOUT => Call::HandleTimeout {
                at: r.ivar("time")?,
            },
            POLL_EVENT => Call::PollEvent,
            CONSUME_TRANSMIT => Call::ConsumeTransmit {
                n: r.uvar("consumed count")?,
            },
            _ => Call::Command(Command::decode_tagged(tag, tag_at, r)?),
        })
    }
}

/// Seconds with millisecond precision, signed.
fn fmt_at(f: &mut fmt::Formatter<'_>, at: TimeOffset) -> fmt::Result {
    let sign = if at < 0 { "-" } else { "+" };
    let abs = at.unsigned_abs();
    write!(
        f,
        "{sign}{}.{:06}s ",
        abs / 1_000_000_000,
        (abs % 1_000_000_000) / 1000
    )
}

impl fmt::Display for Call<'_> {
    /// One line, e.g. `+0.012000s handle_input(48 bytes b"SSH-2.0-...")`.
    /// Passwords and answers to prompts are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = self.at() {
            fmt_at(f, at)?;
        }
        match self {
            Call::HandleInput { data, .. } => {
                f.write_str("handle_input(")?;
                fmt_bytes(f, data, 32)?;
                f.write_str(")")
            }
            Call::HandleEof { .. } => f.write_str("handle_eof()"),
            Call::HandleTimeout { .. } => f.write_str("handle_timeout()"),
            Call::PollEvent => f.write_str("poll_event()"),
            Call::ConsumeTransmit { n } => write!(f, "consume_transmit({n})"),
            Call::Command(command) => command.fmt(f),
        }
    }
}
