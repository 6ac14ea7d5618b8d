//! The fuzzing harnesses, one public function per target, plus what they
//! share: a "null" crypto provider and a driver that plays the application
//! side of a [`Connection`] from the fuzz input (`driver.rs`, built on the
//! `Endpoint` of `conch-test-support`, which every in-memory harness
//! shares).
//!
//! This file only uses `conch-core`'s public API, `conch-test-support` and
//! `rand_chacha`, so it is compiled both by the fuzz crate and, through
//! `#[path]`, by
//! `core/tests/hostile_regressions.rs`, which replays every committed crash
//! input with the very code that found it.
//!
//! # The null crypto provider
//!
//! Random bytes never get past a real key exchange: the fuzzer would have to
//! forge an ed25519 signature and then AES-GCM tags. The provider in
//! [`null_crypto`] implements the core's public crypto traits with
//! algorithms that do nothing: a key exchange whose shared secret is a
//! constant, a host key "signature" that always verifies, and a cipher that
//! leaves packets in the clear with no MAC. Both ends must negotiate it, so
//! it can never be picked by a real peer, and it is compiled only here (the
//! fuzz crate and the regression test), never into the library.
//!
//! # Input format of the connection targets
//!
//! The input is a sequence of records. A record starting with a byte below
//! [`ACT_BASE`] is `Feed`: a little-endian `u16` length and that many bytes
//! for `handle_input` (cut short at the end of the input). The byte
//! [`COMMAND`] starts `Command`: an application call encoded as a
//! transcript encodes it (`conch_core::Command::decode`), so the fuzzer
//! reaches every call of the API through the one type the API, its
//! recording and its replay share, and a new call needs nothing here. Any
//! other byte is `Act`: one argument byte, and what the harness itself does
//! (let time pass, the socket's EOF or stall, the policy byte, consume what
//! was held back, repeat a feed). Events are answered by the driver as an
//! application would, steered by the policy byte, so the fuzzer reaches
//! authentication decisions, channel opens, requests and data flow.
//!
//! [`Connection`]: conch_core::Connection
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use conch_core::{
    AlgorithmPreferences, ClientConfig, Command, PrivateKey, ServerConfig, TransportConfig,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Record bytes at or above this are the harness's own acts or commands;
/// below, input.
pub const ACT_BASE: u8 = 0xc0;

/// The record byte that starts a [`Command`].
pub const COMMAND: u8 = 0xff;

/// The identification line the decoder target pretends to have received.
pub const PEER_IDENT: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n";

// ----------------------------------------------------------------------
// Null crypto
// ----------------------------------------------------------------------

/// Algorithms that do nothing, for fuzzing only.
#[path = "null_crypto.rs"]
pub mod null_crypto;

/// Transport settings using the null provider, with compression offered
/// first (`zlib@openssh.com,zlib,none`, what `Compression yes` asks for):
/// an input whose KEXINIT lists a zlib method reaches the inflater with
/// whatever bytes follow, while the recorded seeds, whose peers list only
/// `none`, negotiate no compression as before.
pub fn null_transport() -> TransportConfig {
    let crypto = Arc::new(null_crypto::provider());
    let mut algorithms = AlgorithmPreferences::defaults_for(&crypto);
    algorithms.set_compression(conch_core::config::COMPRESSION_CLIENT_ON);
    TransportConfig {
        algorithms,
        crypto,
        ..TransportConfig::default()
    }
}

/// [`null_transport`] offering no compression: the honest peer of the
/// recorded seeds that run uncompressed.
fn null_transport_uncompressed() -> TransportConfig {
    let mut t = null_transport();
    t.algorithms
        .set_compression(&[conch_core::config::COMPRESSION_NONE]);
    t
}

/// A client configuration with the null provider.
pub fn null_client_config() -> ClientConfig {
    ClientConfig {
        transport: null_transport(),
        ..ClientConfig::default()
    }
}

/// A server configuration with the null provider and an ed25519 host key.
pub fn null_server_config() -> ServerConfig {
    let mut c = ServerConfig::new(vec![key(1)]);
    c.transport = null_transport();
    // Failures answered at once: the recorded seeds (and the kept crash
    // inputs) were written without the delay, and an input can still pass
    // time with `act`.
    c.auth_failure_delay = None;
    c
}

fn key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

// ----------------------------------------------------------------------
// Records
// ----------------------------------------------------------------------

/// One record of a connection target's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// Bytes from the peer.
    Feed(&'a [u8]),
    /// Something the harness does that is not an application call (time
    /// passing, the socket, the policy byte): which, and its argument.
    Act(u8, u8),
    /// An application call, decoded from the input with the transcript
    /// codec: every [`Command`] the API has, and nothing else.
    Command(Command<'a>),
}

/// Splits a connection target's input into records. A command that does
/// not decode ends the input (its length is unknown).
pub fn records(mut data: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    while let Some((&op, rest)) = data.split_first() {
        if op == COMMAND {
            match Command::decode(rest) {
                Ok((command, used)) => {
                    out.push(Record::Command(command));
                    data = rest.get(used..).unwrap_or_default();
                }
                Err(_) => break,
            }
        } else if op >= ACT_BASE {
            let arg = rest.first().copied().unwrap_or(0);
            out.push(Record::Act(op - ACT_BASE, arg));
            data = rest.get(1..).unwrap_or_default();
        } else {
            let len = match rest {
                [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
                _ => 0,
            };
            let body = rest.get(2..).unwrap_or_default();
            let (feed, rest) = body.split_at(len.min(body.len()));
            out.push(Record::Feed(feed));
            data = rest;
        }
    }
    out
}

/// `bytes` as `Feed` records (in pieces of at most 65535 bytes).
pub fn encode_feed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    for piece in bytes.chunks(usize::from(u16::MAX)) {
        out.push(0);
        out.extend_from_slice(&(piece.len() as u16).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

/// An `Act` record.
pub fn encode_act(op: u8, arg: u8) -> [u8; 2] {
    [ACT_BASE + op, arg]
}

/// A `Command` record: the marker, then the command as a transcript
/// encodes it.
pub fn encode_command(command: &Command<'_>) -> Vec<u8> {
    let mut out = vec![COMMAND];
    command.encode(&mut out);
    out
}

/// A record as the input spells it.
pub fn encode_record(record: &Record<'_>) -> Vec<u8> {
    match record {
        Record::Feed(bytes) => encode_feed(bytes),
        Record::Act(op, arg) => encode_act(*op, *arg).to_vec(),
        Record::Command(command) => encode_command(command),
    }
}

/// What an `Act` record does (its first byte minus [`ACT_BASE`], modulo
/// the count). Application calls are not here: they are `Command` records.
pub mod act {
    /// Let `arg` seconds pass and fire the timer.
    pub const TICK: u8 = 0;
    /// Replace the policy byte that steers the answers to events.
    pub const POLICY: u8 = 1;
    /// The socket reached EOF.
    pub const SOCKET_EOF: u8 = 2;
    /// Consume every byte received and not yet consumed (one
    /// `Command::Consume` per channel with data held back).
    pub const CONSUME: u8 = 3;
    /// The socket stops (or resumes) taking bytes: a stalled peer.
    pub const STALL: u8 = 4;
    /// Feed the last `Feed` record's bytes again, `arg * 64` times: floods
    /// that a short input could not spell out (most of a flood is packets
    /// that look alike; with the null cipher they are identical).
    pub const REPEAT: u8 = 5;
    /// How many there are.
    pub const COUNT: u8 = 6;
}

/// Application calls for scripts (seeds and tests), as commands.
pub mod calls {
    use std::borrow::Cow;

    use conch_core::{ChannelId, ChannelRequest, Command, PublicKey};

    /// Opens a session channel.
    pub fn open_session() -> Command<'static> {
        Command::OpenChannel {
            kind: "session".into(),
            extra: Cow::Borrowed(&[]),
        }
    }

    /// Opens a direct-tcpip channel to localhost:80.
    pub fn open_direct_tcpip() -> Command<'static> {
        let mut extra = Vec::new();
        for (text, port) in [("localhost", 80u32), ("127.0.0.1", 4000)] {
            extra.extend_from_slice(&(text.len() as u32).to_be_bytes());
            extra.extend_from_slice(text.as_bytes());
            extra.extend_from_slice(&port.to_be_bytes());
        }
        Command::OpenChannel {
            kind: "direct-tcpip".into(),
            extra: Cow::Owned(extra),
        }
    }

    /// `exec` of `echo hello` with want-reply on channel `ch`.
    pub fn exec(ch: u32) -> Command<'static> {
        Command::ChannelRequest {
            channel: ChannelId(ch),
            request: Cow::Owned(ChannelRequest::Exec {
                command: b"echo hello".to_vec(),
            }),
            want_reply: true,
        }
    }

    /// `n` bytes of data (extended data of type `ext`, if any) on `ch`.
    pub fn send(ch: u32, ext: Option<u32>, n: usize) -> Command<'static> {
        Command::SendData {
            channel: ChannelId(ch),
            ext,
            data: Cow::Owned(vec![0x5a; n]),
        }
    }

    /// A `tcpip-forward` global request with want-reply.
    pub fn global() -> Command<'static> {
        Command::GlobalRequest {
            name: "tcpip-forward".into(),
            data: Cow::Borrowed(&[0, 0, 0, 0, 0, 0, 0, 0]),
            want_reply: true,
        }
    }

    /// Client: the authentication method `method` picks (password, public
    /// key `key`, keyboard-interactive, none).
    pub fn auth(method: u8, key: &PublicKey) -> Command<'static> {
        match method % 4 {
            0 => Command::AuthPassword {
                user: "fuzz".into(),
                password: "password".into(),
            },
            1 => Command::AuthPublickey {
                user: "fuzz".into(),
                key: Cow::Owned(key.clone()),
            },
            2 => Command::AuthKeyboardInteractive {
                user: "fuzz".into(),
                submethods: "".into(),
            },
            _ => Command::AuthNone {
                user: "fuzz".into(),
            },
        }
    }
}

// ----------------------------------------------------------------------
// The driver: the application side of a Connection
// ----------------------------------------------------------------------

#[path = "driver.rs"]
pub mod driver;
pub use driver::Driver;

// ----------------------------------------------------------------------
// The targets
// ----------------------------------------------------------------------

/// Runs the records of `data` on `driver`; returns it for inspection.
pub fn run_records(mut driver: Driver, data: &[u8]) -> Driver {
    for record in records(data) {
        if driver.is_done() {
            break;
        }
        driver.run(record);
    }
    driver
}

/// A client [`Connection`] (null crypto) fed the records of `data` as the
/// server's side of the conversation.
pub fn client_connection(data: &[u8]) {
    drop(run_records(
        Driver::client(null_client_config(), false),
        data,
    ));
}

/// A server [`Connection`] (null crypto) fed the records of `data` as the
/// client's side; authentication decisions and channel answers come from
/// the policy byte the records set.
pub fn server_connection(data: &[u8]) {
    drop(run_records(
        Driver::server(null_server_config(), false),
        data,
    ));
}

/// The binary packet decoder and the key exchange messages with the real
/// algorithms: a client that has received an identification line is fed
/// `data[1..]` in pieces of `data[0] % 64 + 1` bytes (so the fuzzer tries
/// every split of a packet).
pub fn packet_decoder(data: &[u8]) {
    drop(packet_decoder_driver(data));
}

/// [`packet_decoder`], returning the driver for inspection.
pub fn packet_decoder_driver(data: &[u8]) -> Driver {
    let mut driver = Driver::client(ClientConfig::default(), false);
    driver.feed(PEER_IDENT);
    let Some((&split, stream)) = data.split_first() else {
        return driver;
    };
    for piece in stream.chunks(usize::from(split % 64) + 1) {
        if driver.is_done() {
            break;
        }
        driver.feed(piece);
    }
    driver
}

#[path = "parsers.rs"]
mod parsers;
pub use parsers::{agent_codec, certificate, known_hosts, private_key};

// ----------------------------------------------------------------------
// Seed inputs: honest sessions, recorded as records
// ----------------------------------------------------------------------

/// An honest session between a driver under test and an honest peer
/// driver, with `script` (`Act` and `Command` records) played on the side
/// under test whenever the conversation goes quiet. Returns the input that
/// replays it: the peer's bytes as `Feed` records, interleaved with the
/// script.
/// The peer offers no compression, so the session runs uncompressed.
pub fn record_session(server_under_test: bool, policy: u8, script: &[Record<'_>]) -> Vec<u8> {
    record_session_with(server_under_test, false, policy, script)
}

/// [`record_session`] with a peer that offers compression as the side
/// under test does: the session runs with `zlib@openssh.com`, so the
/// input's packets after authentication are deflated and mutations of
/// them reach the inflater.
pub fn record_compressed_session(
    server_under_test: bool,
    policy: u8,
    script: &[Record<'_>],
) -> Vec<u8> {
    record_session_with(server_under_test, true, policy, script)
}

fn record_session_with(
    server_under_test: bool,
    peer_compresses: bool,
    policy: u8,
    script: &[Record<'_>],
) -> Vec<u8> {
    let peer_transport = if peer_compresses {
        null_transport()
    } else {
        null_transport_uncompressed()
    };
    let (mut tested, mut peer) = if server_under_test {
        let mut peer = null_client_config();
        peer.transport = peer_transport;
        (
            Driver::server(null_server_config(), true),
            Driver::client(peer, true),
        )
    } else {
        let mut peer = null_server_config();
        peer.transport = peer_transport;
        (
            Driver::client(null_client_config(), true),
            Driver::server(peer, true),
        )
    };
    let mut input = Vec::new();
    input.extend_from_slice(&encode_act(act::POLICY, policy));
    tested.act(act::POLICY, policy);
    let mut script = script.iter();
    for _ in 0..1000 {
        let to_peer = std::mem::take(&mut tested.transmitted);
        if !to_peer.is_empty() {
            peer.feed(&to_peer);
        }
        let to_tested = std::mem::take(&mut peer.transmitted);
        if !to_tested.is_empty() {
            input.extend_from_slice(&encode_feed(&to_tested));
            tested.feed(&to_tested);
            continue;
        }
        if !to_peer.is_empty() {
            continue;
        }
        match script.next() {
            Some(record) => {
                input.extend_from_slice(&encode_record(record));
                tested.run(record.clone());
            }
            None => break,
        }
    }
    input
}

/// What a real server (default algorithms, OpenSSH's identification) sends
/// to the [`packet_decoder`] target's client, after its identification
/// line: KEXINIT, the key exchange reply, NEWKEYS and the first encrypted
/// packets. Both RNGs are seeded, so it replays exactly.
pub fn real_server_flight() -> Vec<u8> {
    let mut client = Driver::client(ClientConfig::default(), true);
    let mut config = ServerConfig::new(vec![key(1)]);
    config.transport.software_version = "OpenSSH_9.6".into();
    let mut server = Driver::server(config, true);
    let mut from_server = Vec::new();
    for _ in 0..100 {
        let c = std::mem::take(&mut client.transmitted);
        server.feed(&c);
        let s = std::mem::take(&mut server.transmitted);
        if c.is_empty() && s.is_empty() {
            break;
        }
        client.feed(&s);
        from_server.extend_from_slice(&s);
    }
    assert!(from_server.starts_with(PEER_IDENT));
    from_server.split_off(PEER_IDENT.len())
}
