//! Recording: the constructors of a recorded connection, and the glue
//! that appends every public call to the transcript (see [`crate::record`]).

use std::sync::Arc;
use std::time::Instant;

use crate::config::{ClientConfig, ServerConfig};
use crate::keys::KeyError;
use crate::record::{self, Call, Outcome, RecordedConfig, Recorder};

use super::{ClientConnection, Connection, ServerConnection};

impl Connection {
    /// A client connection that records a transcript of every call, for
    /// [`record::replay`]. Its RNG is `ChaCha20Rng` from `seed` (draw it
    /// from the OS), and the transcript holds that seed: **anyone with the
    /// transcript can decrypt the session** (see [`crate::record`]).
    pub fn client_recorded(
        config: Arc<ClientConfig>,
        seed: [u8; 32],
        now: Instant,
    ) -> ClientConnection {
        let header = record::Header {
            config: RecordedConfig::Client(config.clone()),
            seed,
        };
        let mut conn = Self::client(config, record::seeded_rng(seed), now);
        let recorder =
            Recorder::new(&header, now).expect("a client header holds no key that could fail");
        conn.recorder = Some(Box::new(recorder));
        conn
    }

    /// A server connection that records a transcript, as
    /// [`Connection::client_recorded`]. The transcript also holds the host
    /// **private** keys. Fails only if a host key cannot be encoded.
    pub fn server_recorded(
        config: Arc<ServerConfig>,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<ServerConnection, KeyError> {
        let header = record::Header {
            config: RecordedConfig::Server(config.clone()),
            seed,
        };
        let recorder = Recorder::new(&header, now)?;
        let mut conn = Self::server(config, record::seeded_rng(seed), now);
        conn.recorder = Some(Box::new(recorder));
        Ok(conn)
    }

    /// Whether this connection records a transcript.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// The transcript bytes recorded since the last call (the header comes
    /// with the first), to be appended to a file; empty when not recording.
    pub fn take_transcript(&mut self) -> Vec<u8> {
        self.recorder.as_mut().map(|r| r.take()).unwrap_or_default()
    }

    /// When recording, appends the input call `call` (`Some` exactly when
    /// recording) with the connection's state after it: `Ok`, or the fatal
    /// error it has ended with.
    pub(super) fn record_input(&mut self, call: Option<Call<'_>>) {
        if let (Some(call), Some(recorder)) = (call, &mut self.recorder) {
            recorder.record(&call, Outcome::of_input(self.error.as_ref()));
        }
    }

    /// When recording, appends `call`, which returns nothing.
    pub(super) fn record_done<'a>(&mut self, call: impl FnOnce(&Recorder) -> Call<'a>) {
        if let Some(recorder) = &mut self.recorder {
            let call = call(recorder);
            recorder.record(&call, Outcome::Done);
        }
    }
}
