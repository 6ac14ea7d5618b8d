//! Record and replay: a transcript of every call into a
//! [`Connection`](crate::Connection), and a replayer that re-runs it and
//! checks that the very same bytes and events come out.
//!
//! A connection is deterministic: given its RNG seed, the times handed in,
//! the calls the application makes and the bytes it receives, its output is
//! fixed. So a session recorded once against a real server replays forever,
//! offline, with no peer. The workspace's `tests/transcripts/` holds such
//! recordings (OpenSSH, dropbear, OpenSSH's `ssh` against `conchd`), replayed
//! by the ordinary test run.
//!
//! - **Record**: build the connection with
//!   [`Connection::client_recorded`](crate::Connection::client_recorded) or
//!   [`Connection::server_recorded`](crate::Connection::server_recorded)
//!   (its RNG is then `ChaCha20Rng` from the given seed), drive it as usual,
//!   and now and then append
//!   [`Connection::take_transcript`](crate::Connection::take_transcript) to
//!   a file. The core does no I/O; `conch-driver` does the writing when
//!   `ClientOptions::record`/`ServerOptions::record` or the environment
//!   variable `CONCH_RECORD=PATH` asks for it, and `conch --record FILE`
//!   records a command-line session. When not recording, the cost is one
//!   branch per call.
//! - **Replay**: [`replay`] (or [`Replayer`], step by step, as
//!   `conch --replay FILE` uses it to print a transcript) rebuilds the
//!   connection from the header, makes every recorded call again and
//!   reports the first [`Divergence`]: which record, what was expected and
//!   what came out.
//!
//! # Security: a transcript is the session, in clear
//!
//! **Anyone who has a transcript can decrypt that session.** The seed
//! determines every key the connection generated, and the transcript holds
//! every byte received; a server's transcript also holds its **host private
//! keys**. Passwords and keyboard-interactive answers given to the
//! connection are recorded as they were passed in. Record on test systems,
//! or to produce a bug report you choose to share, never as routine logging.
//!
//! # Format, version 2
//!
//! A transcript is a header followed by records, back to back, to the end of
//! the file; a recording cut short by a crash ends inside a record, and the
//! complete records before it still replay.
//!
//! Primitives: `uvar` is an unsigned LEB128 varint (7 bits a byte, low
//! first); `ivar` a zigzag-mapped signed varint; `bytes` a `uvar` length
//! and the bytes; `text` UTF-8 `bytes`; `flag` a byte 0 or 1; `list<T>` a
//! `uvar` count and the items; `duration` two `uvar`s, seconds and
//! nanoseconds; `opt<T>` a `flag` and, if 1, the value.
//!
//! Header:
//!
//! | field | encoding |
//! |---|---|
//! | magic | the 8 bytes `CONCHREC` |
//! | format version | `uvar`, 2 (version 1 lacked the client auth timeout) |
//! | role | byte: 0 client, 1 server |
//! | algorithms: kex, host key, cipher, MAC | 4 × `list<text>` |
//! | software version | `text` |
//! | rekey bytes | `uvar` |
//! | rekey interval, keepalive interval | 2 × `opt<duration>` |
//! | keepalive max | `uvar` |
//! | handshake timeout | `opt<duration>` |
//! | max packet length | `uvar` |
//! | strict kex | `flag` |
//! | compression algorithms (version 4 on) | `list<text>` |
//! | channels: window size, max packet size, max channels, send buffer limit | 4 × `uvar` |
//! | *client only:* auth timeout | `opt<duration>` |
//! | *server only:* host keys | `list<text>`, unencrypted `openssh-key-v1` PEM |
//! | *server only:* auth methods | `list<text>` |
//! | *server only:* max auth attempts | `uvar` |
//! | *server only:* auth banner | `opt<text>` |
//! | seed | 32 bytes |
//!
//! The crypto provider is not recorded: replays use the default one. The
//! instant the connection was created with is the reference: every time is
//! recorded as `at`, an `ivar` of nanoseconds since it.
//!
//! Each record is a call tag, the call's arguments, then its outcome. Calls
//! (see [`Call`]; tags from 0x10 on are the application calls, each a
//! [`Command`](crate::Command) encoded by `Command::encode`; channel ids are
//! `uvar`s):
//!
//! | tag | call | arguments |
//! |---|---|---|
//! | 0x01 | `handle_input` | `at`, `bytes` received, verbatim |
//! | 0x02 | `handle_eof` | `at` |
//! | 0x03 | `handle_timeout` | `at` |
//! | 0x04 | `poll_event` | |
//! | 0x05 | `consume_transmit` | `uvar` n |
//! | 0x10 | `rekey` | |
//! | 0x11 | `disconnect` | `text` |
//! | 0x12 / 0x13 | `accept_host_key` / `reject_host_key` | |
//! | 0x20 | `auth_none` | user |
//! | 0x21 | `auth_password` | user, password |
//! | 0x22 | `auth_change_password` | old, new |
//! | 0x23 | `auth_publickey` | user, key blob |
//! | 0x24 | `auth_signature` | signature blob |
//! | 0x25 | `auth_keyboard_interactive` | user, submethods |
//! | 0x26 | `auth_info_response` | `list<text>` |
//! | 0x27 | `auth_decision` | byte kind (0 accept, 1 reject, 2 partial, 3 info request, 4 change password), then its fields |
//! | 0x30 | `open_channel` | kind, extra `bytes` |
//! | 0x31 | `accept_channel` | channel |
//! | 0x32 | `reject_channel` | channel, reason code, description |
//! | 0x33 | `channel_request` | channel, want reply, byte kind (0 pty-req ... 10 other, in [`ChannelRequest`](crate::ChannelRequest) order), its fields |
//! | 0x34 | `channel_reply` | channel, success |
//! | 0x35 | `send_data` | channel, `bytes` |
//! | 0x36 | `send_extended_data` | channel, code, `bytes` |
//! | 0x37 / 0x38 | `send_eof` / `close_channel` | channel |
//! | 0x39 | `consume` | channel, n |
//! | 0x3a | `global_request` | name, data, want reply |
//! | 0x3b | `global_reply` | success, data |
//!
//! Outcomes (see [`Outcome`]): 0 done (the call returns nothing:
//! `handle_eof`, `disconnect`), 1 `Ok(())`, 2 `Ok(n)` with a `uvar` (the
//! channel opened, the bytes `send_data` accepted), 3 `Err` with the
//! error's `text`, 4 an event with the SHA-256 of its canonical encoding
//! ([`encode_event`]), 5 no event, 6 the SHA-256 of the bytes
//! `consume_transmit` took. `handle_input` and `handle_timeout` return
//! nothing; they are recorded with the connection's state after them: 1,
//! or 3 with the fatal error it has ended with. An application call
//! refused with an `ApiMisuse` is recorded as 3 with the text of the
//! `Error` it converts to (`API misuse: ...`).
//!
//! Not recorded: `poll_transmit` and the `&self` queries, which change
//! nothing. The format version changes whenever any of this does, the
//! canonical event encoding included.

mod args;
mod call;
mod canonical;
mod codec;
mod command;
mod header;
mod recorder;
mod replay;
#[cfg(test)]
mod tests;

pub use call::{Call, Digest, Outcome, Record, TimeOffset};
pub use canonical::{encode_event, event_digest};
pub use header::{Header, RecordedConfig, FORMAT_VERSION, MAGIC};
pub use recorder::Recorder;
pub use replay::{replay, Divergence, ReplayError, ReplaySummary, Replayer, Step};

use rand_chacha::rand_core::SeedableRng;

use crate::keys::KeyError;

/// The RNG a recorded connection uses: `ChaCha20Rng` from `seed`. The seed
/// should come from the OS (adapters draw it); recording it is what makes a
/// session replayable.
pub fn seeded_rng(seed: [u8; 32]) -> crate::Rng {
    Box::new(rand_chacha::ChaCha20Rng::from_seed(seed))
}

/// A transcript that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with [`MAGIC`].
    #[error("not a Conch transcript (no CONCHREC magic)")]
    NotATranscript,
    /// A format version this build cannot read.
    #[error("transcript format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u64),
    /// The data ends inside a value.
    #[error("transcript truncated in {what} at byte {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// A value is out of range.
    #[error("invalid {what} at byte {offset}")]
    Invalid {
        /// What was being read.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// A key in the transcript does not parse.
    #[error("invalid key at byte {offset}: {error}")]
    Key {
        /// Where.
        offset: usize,
        /// Why.
        error: KeyError,
    },
}

/// A decoded transcript. Records borrow the bytes they were decoded from.
#[derive(Debug, Clone)]
pub struct Transcript<'a> {
    /// Role, configuration and seed.
    pub header: Header,
    /// Every call, in order.
    pub records: Vec<Record<'a>>,
    /// Whether the data ended inside a record (dropped), as when the
    /// recording process died mid-write.
    pub truncated: bool,
}

impl<'a> Transcript<'a> {
    /// Decodes a whole transcript. A truncated last record is dropped and
    /// flagged; any other malformation is an error.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = codec::Reader::new(bytes);
        let header = Header::decode(&mut r)?;
        let mut records = Vec::new();
        let mut truncated = false;
        while !r.is_empty() {
            match Record::decode(&mut r) {
                Ok(record) => records.push(record),
                Err(FormatError::Truncated { .. }) => {
                    truncated = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Transcript {
            header,
            records,
            truncated,
        })
    }

    /// Encodes the transcript again (tests edit records and re-encode).
    pub fn encode(&self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::new();
        self.header.encode(&mut out)?;
        for record in &self.records {
            record.encode(&mut out);
        }
        Ok(out)
    }
}
