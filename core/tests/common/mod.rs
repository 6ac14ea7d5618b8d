//! The in-memory `Pair` harness: a client and a server [`Connection`] joined
//! by two byte pipes, with a virtual clock and a small scripted application
//! on each end. Modelled on quinn-proto's test `Pair`.
//!
//! Everything is driven from the test thread: nothing sleeps, nothing reads
//! the clock except once to get a base `Instant`, and both connections get
//! seeded RNGs, so a run is reproducible byte for byte.
//!
//! The drive loop follows the contract written on [`Connection`]: after
//! every input or mutator call, drain `poll_event` (handing each event to the
//! side's application, whose answers are mutator calls) and `poll_transmit`
//! (moving the bytes into the pipe towards the peer, then `consume_transmit`),
//! until a full round yields nothing; fire timers when the virtual clock has
//! passed `poll_timeout`.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use conch_core::{
    AuthAttempt, AuthDecision, ChannelId, ChannelOpenFailure, ChannelRequest, ClientConfig,
    Connection, Error, Event, PrivateKey, Prompt, PublicKey, ServerConfig,
};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// The user name every scenario logs in as.
pub const USER: &str = "alice";
/// The password the default server application accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// Seed of the server's host key.
pub const HOST_KEY_SEED: u64 = 0x5eed_0001;

/// Upper bound on drive rounds: a round moves every byte in flight, so a
/// healthy exchange needs far fewer. Hitting it means a livelock.
pub const MAX_ROUNDS: usize = 100_000;

// ----------------------------------------------------------------------
// Keys and configurations
// ----------------------------------------------------------------------

/// A deterministic Ed25519 key.
pub fn ed25519_key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// The server's host key.
pub fn host_key() -> PrivateKey {
    ed25519_key(HOST_KEY_SEED)
}

/// Default client configuration.
pub fn client_config() -> ClientConfig {
    ClientConfig::default()
}

/// Default server configuration with [`host_key`].
pub fn server_config() -> ServerConfig {
    ServerConfig::new(vec![host_key()])
}

/// `len` deterministic pseudo-random bytes.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The one clock read of the whole test process, shared by every pair so
/// that two pairs fed the same offsets see identical `Instant`s.
fn base_instant() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    // The core never reads the clock; the harness reads it once for a base
    // and moves time only by explicit offsets from there.
    #[allow(clippy::disallowed_methods)]
    *BASE.get_or_init(Instant::now)
}

// ----------------------------------------------------------------------
// Pipes and taps
// ----------------------------------------------------------------------

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

/// Sees every byte in flight and decides what the receiver gets: used to
/// inject, drop or corrupt packets.
pub trait Tap {
    /// `bytes` were just transmitted going `dir`; append to `out` what the
    /// receiver should get instead.
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>);
}

/// One direction of the in-memory socket.
#[derive(Debug)]
pub struct Pipe {
    /// Bytes written by the sender (after the tap), not yet delivered.
    in_flight: Vec<u8>,
    /// SHA-256 of every byte the sender transmitted (before the tap).
    transcript: Sha256,
    /// Bytes the sender transmitted.
    pub sent: u64,
    /// Bytes handed to the receiver.
    pub delivered: u64,
    /// While set, bytes stay in flight (the peer looks silent).
    pub blocked: bool,
}

impl Pipe {
    fn new() -> Self {
        Pipe {
            in_flight: Vec::new(),
            transcript: Sha256::new(),
            sent: 0,
            delivered: 0,
            blocked: false,
        }
    }

    fn push(&mut self, dir: Direction, bytes: &[u8], tap: &mut Option<Box<dyn Tap>>) {
        self.transcript.update(bytes);
        self.sent += bytes.len() as u64;
        match tap {
            Some(t) => t.on_bytes(dir, bytes, &mut self.in_flight),
            None => self.in_flight.extend_from_slice(bytes),
        }
    }

    /// Bytes waiting to be delivered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Drops whatever is in flight (the network lost it).
    pub fn discard(&mut self) {
        self.in_flight.clear();
    }
}

/// SHA-256 of each direction's byte stream, as the senders emitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcript {
    /// Client to server.
    pub c2s: [u8; 32],
    /// Server to client.
    pub s2c: [u8; 32],
    /// Bytes client to server.
    pub c2s_len: u64,
    /// Bytes server to client.
    pub s2c_len: u64,
}

/// Inserts `packet` into the stream going `dir` right after the first binary
/// packet that follows the identification line (that is, after the KEXINIT,
/// which is sent in the clear: RFC 4253 sections 4.2 and 6).
#[derive(Debug)]
pub struct InjectAfterFirstPacket {
    /// Which stream.
    pub dir: Direction,
    /// Raw bytes to insert.
    pub packet: Vec<u8>,
    held: Vec<u8>,
    done: bool,
}

impl InjectAfterFirstPacket {
    /// A tap that inserts `packet` once.
    pub fn new(dir: Direction, packet: Vec<u8>) -> Self {
        InjectAfterFirstPacket {
            dir,
            packet,
            held: Vec::new(),
            done: false,
        }
    }

    /// Where the first packet ends in `held`, once it is all there.
    fn split_point(&self) -> Option<usize> {
        // The identification line ends with CR LF (RFC 4253 section 4.2).
        // Only the server may send other lines before it; those would end
        // the same way, but they do not start with "SSH-".
        let mut pos = 0;
        loop {
            let rest = self.held.get(pos..)?;
            let eol = rest.windows(2).position(|w| w == b"\r\n")?;
            let is_version = rest.starts_with(b"SSH-");
            pos += eol + 2;
            if is_version {
                break;
            }
        }
        let len_bytes = self.held.get(pos..pos + 4)?;
        let len = u32::from_be_bytes(len_bytes.try_into().ok()?) as usize;
        let end = pos + 4 + len;
        (self.held.len() >= end).then_some(end)
    }
}

impl Tap for InjectAfterFirstPacket {
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>) {
        if dir != self.dir || self.done {
            out.extend_from_slice(bytes);
            return;
        }
        self.held.extend_from_slice(bytes);
        if let Some(end) = self.split_point() {
            out.extend_from_slice(&self.held[..end]);
            out.extend_from_slice(&self.packet);
            out.extend_from_slice(&self.held[end..]);
            self.held.clear();
            self.done = true;
        }
    }
}

/// Flips bits of one byte of the stream going `dir`, `offset` bytes after
/// the tap was installed.
#[derive(Debug)]
pub struct FlipByte {
    /// Which stream.
    pub dir: Direction,
    /// Offset from the installation of the tap.
    pub offset: u64,
    /// XOR mask.
    pub mask: u8,
    seen: u64,
    /// Whether the flip happened.
    pub flipped: bool,
}

impl FlipByte {
    /// Flips `mask` into the byte at `offset`.
    pub fn new(dir: Direction, offset: u64, mask: u8) -> Self {
        FlipByte {
            dir,
            offset,
            mask,
            seen: 0,
            flipped: false,
        }
    }
}

impl Tap for FlipByte {
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(bytes);
        if dir != self.dir {
            return;
        }
        let end = self.seen + bytes.len() as u64;
        if !self.flipped && (self.seen..end).contains(&self.offset) {
            out[start + (self.offset - self.seen) as usize] ^= self.mask;
            self.flipped = true;
        }
        self.seen = end;
    }
}

/// A plaintext SSH_MSG_IGNORE packet with an empty string (RFC 4253 sections
/// 6 and 11.2), framed for the unencrypted phase: block size 8, padding of
/// at least 4 bytes (zeros, which is allowed before encryption starts).
pub fn plaintext_ignore_packet() -> Vec<u8> {
    let payload = [2u8, 0, 0, 0, 0];
    // packet_length(4) + padding_length(1) + payload + padding = 0 mod 8.
    let mut padding = 8 - (4 + 1 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let packet_length = (1 + payload.len() + padding) as u32;
    let mut p = Vec::new();
    p.extend_from_slice(&packet_length.to_be_bytes());
    p.push(padding as u8);
    p.extend_from_slice(&payload);
    p.extend(std::iter::repeat_n(0u8, padding));
    assert_eq!(p.len() % 8, 0);
    p
}

// ----------------------------------------------------------------------
// Endpoints
// ----------------------------------------------------------------------

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
    /// `handle_eof` was called (the peer closed its socket).
    pub eof_delivered: bool,
    /// Events returned after `Disconnected` (must stay 0).
    pub events_after_disconnect: usize,
    /// Largest `poll_transmit` length seen.
    pub max_transmit_len: usize,
    /// `handle_timeout` calls made.
    pub timeouts_fired: usize,
}

impl Endpoint {
    fn new(conn: Connection) -> Self {
        Endpoint {
            conn,
            log: Vec::new(),
            log_data: true,
            read: 0,
            input_errors: Vec::new(),
            input_error_calls: 0,
            stall_transmit: false,
            eof_delivered: false,
            events_after_disconnect: 0,
            max_transmit_len: 0,
            timeouts_fired: 0,
        }
    }

    fn record_event(&mut self, event: &Event) {
        if self.disconnected().is_some() {
            self.events_after_disconnect += 1;
        }
        let is_data = matches!(event, Event::Data { .. } | Event::ExtendedData { .. });
        if self.log_data || !is_data {
            self.log.push(event.clone());
        }
    }

    fn record_error(&mut self, error: Error) {
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

/// The channel an event is about, if any.
pub fn event_channel(event: &Event) -> Option<ChannelId> {
    Some(match event {
        Event::ChannelOpened { channel }
        | Event::ChannelOpenFailed { channel, .. }
        | Event::ChannelRequestReply { channel, .. }
        | Event::ChannelRequest { channel, .. }
        | Event::Data { channel, .. }
        | Event::ExtendedData { channel, .. }
        | Event::Eof { channel }
        | Event::ExitStatus { channel, .. }
        | Event::ExitSignal { channel, .. }
        | Event::ChannelClosed { channel }
        | Event::ChannelWritable { channel } => *channel,
        _ => return None,
    })
}

/// Records a channel event into that channel's log.
fn record_channel_event(log: &mut ChannelLog, event: &Event, keep_data: bool) {
    match event {
        Event::ChannelOpened { .. } => log.opened = true,
        Event::ChannelOpenFailed {
            reason,
            description,
            ..
        } => log.open_failed = Some((*reason, description.clone())),
        Event::ChannelRequestReply { success, .. } => log.replies.push(*success),
        Event::ChannelRequest {
            request,
            want_reply,
            ..
        } => log.requests.push((request.clone(), *want_reply)),
        Event::Data { data, .. } => log.on_data(data, keep_data),
        Event::ExtendedData { code, data, .. } => {
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
        Event::Eof { .. } => log.eof = true,
        Event::ExitStatus { code, .. } => log.exit_status = Some(*code),
        Event::ExitSignal {
            signal,
            core_dumped,
            message,
            ..
        } => log.exit_signal = Some((signal.clone(), *core_dumped, message.clone())),
        Event::ChannelClosed { .. } => log.closed = true,
        Event::ChannelWritable { .. } => log.writable += 1,
        _ => {}
    }
}

// ----------------------------------------------------------------------
// Client application
// ----------------------------------------------------------------------

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
    fn on_event(&mut self, conn: &mut Connection, event: &Event) {
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

// ----------------------------------------------------------------------
// Server application
// ----------------------------------------------------------------------

/// A command the server runs in-process on an `exec` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Echo stdin to stdout until EOF, then exit 0.
    Cat,
    /// Write the argument and a newline to stdout, exit 0.
    Echo(String),
    /// Write the argument to stderr (extended data 1), exit 0.
    Err(String),
    /// Exit with this status.
    Exit(u32),
    /// Die by this signal (core dumped, with a message).
    Kill(String),
    /// Send EOF at once, then count stdin until EOF; exit status = count.
    Wc,
    /// Store stdin; consume it only while `ServerApp::consume_sink` is set.
    Sink,
}

impl Command {
    /// Parses a command line.
    pub fn parse(line: &[u8]) -> Option<Command> {
        let line = std::str::from_utf8(line).ok()?;
        let (name, arg) = line.split_once(' ').unwrap_or((line, ""));
        Some(match name {
            "cat" => Command::Cat,
            "echo" => Command::Echo(arg.to_string()),
            "err" => Command::Err(arg.to_string()),
            "exit" => Command::Exit(arg.parse().ok()?),
            "kill" => Command::Kill(arg.to_string()),
            "wc" => Command::Wc,
            "sink" => Command::Sink,
            _ => return None,
        })
    }
}

/// One queued action of a server-side channel, done in order as windows allow.
#[derive(Debug)]
enum Out {
    /// Data (or stderr): bytes, how many were sent, whether sending them
    /// consumes as much input (echo back-pressure).
    Data {
        stderr: bool,
        bytes: Vec<u8>,
        sent: usize,
        echo: bool,
    },
    Exit(u32),
    Signal(String),
    Eof,
    Close,
}

/// Server-side state of one channel.
#[derive(Debug, Default)]
pub struct ServerChannel {
    /// What the server received on it.
    pub log: ChannelLog,
    /// The command running on it.
    pub command: Option<Command>,
    /// Bytes of stdin a `wc` counted.
    pub counted: u64,
    out: VecDeque<Out>,
}

/// The server end: decides authentication from its settings, accepts
/// session channels and runs [`Command`]s.
#[derive(Debug)]
pub struct ServerApp {
    /// Accept method `none`.
    pub allow_none: bool,
    /// The password that logs in.
    pub password: Option<String>,
    /// A password that is accepted only by changing it (RFC 4252 section 8).
    pub expired_password: Option<String>,
    /// Keys that may log in.
    pub authorized_keys: Vec<PublicKey>,
    /// keyboard-interactive prompts and the answers expected.
    pub kbd_prompts: Vec<(Prompt, String)>,
    /// When non-empty, every method listed must succeed (partial success
    /// until then); otherwise any one method suffices.
    pub required_methods: Vec<String>,
    /// Methods that succeeded so far.
    pub succeeded_methods: Vec<String>,
    kbd_pending: bool,
    /// Accept `session` channel opens.
    pub accept_channels: bool,
    /// Whether a `sink` consumes what it receives.
    pub consume_sink: bool,
    /// Keep received data in the channel logs.
    pub keep_data: bool,
    /// Per channel state.
    pub channels: BTreeMap<ChannelId, ServerChannel>,
    /// Failed mutator calls the app made.
    pub errors: Vec<String>,
}

impl Default for ServerApp {
    fn default() -> Self {
        ServerApp {
            allow_none: false,
            password: Some(PASSWORD.to_string()),
            expired_password: None,
            authorized_keys: Vec::new(),
            kbd_prompts: Vec::new(),
            required_methods: Vec::new(),
            succeeded_methods: Vec::new(),
            kbd_pending: false,
            accept_channels: true,
            consume_sink: true,
            keep_data: true,
            channels: BTreeMap::new(),
            errors: Vec::new(),
        }
    }
}

impl ServerApp {
    /// The decision for a method that verified: accept, or partial success
    /// while required methods remain.
    fn method_succeeded(&mut self, method: &str) -> AuthDecision {
        if self.required_methods.is_empty() {
            return AuthDecision::Accept;
        }
        if !self.succeeded_methods.iter().any(|m| m == method) {
            self.succeeded_methods.push(method.to_string());
        }
        let remaining: Vec<String> = self
            .required_methods
            .iter()
            .filter(|m| !self.succeeded_methods.contains(m))
            .cloned()
            .collect();
        if remaining.is_empty() {
            AuthDecision::Accept
        } else {
            AuthDecision::Partial { methods: remaining }
        }
    }

    fn decide(&mut self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        if user != USER {
            return AuthDecision::Reject;
        }
        match attempt {
            AuthAttempt::None if self.allow_none => self.method_succeeded("none"),
            AuthAttempt::None => AuthDecision::Reject,
            AuthAttempt::Password {
                password,
                new_password: None,
            } => {
                if self.expired_password.as_deref() == Some(password.as_str()) {
                    AuthDecision::ChangePassword {
                        prompt: "Your password has expired.".to_string(),
                    }
                } else if self.password.as_deref() == Some(password.as_str()) {
                    self.method_succeeded("password")
                } else {
                    AuthDecision::Reject
                }
            }
            AuthAttempt::Password {
                password,
                new_password: Some(new),
            } => {
                let old_ok = self.expired_password.as_deref() == Some(password.as_str())
                    || self.password.as_deref() == Some(password.as_str());
                if old_ok && new != password && !new.is_empty() {
                    self.expired_password = None;
                    self.password = Some(new.clone());
                    self.method_succeeded("password")
                } else {
                    AuthDecision::Reject
                }
            }
            AuthAttempt::PublicKey { key, signed } => {
                if !self.authorized_keys.contains(key) {
                    AuthDecision::Reject
                } else if *signed {
                    self.method_succeeded("publickey")
                } else {
                    // A query: the key would do; the client signs next.
                    AuthDecision::Accept
                }
            }
            AuthAttempt::KeyboardInteractive { responses, .. } => {
                if !self.kbd_pending {
                    self.kbd_pending = true;
                    AuthDecision::InfoRequest {
                        name: "conch test".to_string(),
                        instruction: "Answer the questions.".to_string(),
                        prompts: self.kbd_prompts.iter().map(|(p, _)| p.clone()).collect(),
                    }
                } else {
                    self.kbd_pending = false;
                    let expected: Vec<&String> = self.kbd_prompts.iter().map(|(_, a)| a).collect();
                    let ok = responses.len() == expected.len()
                        && responses.iter().zip(&expected).all(|(r, e)| r == *e);
                    if ok {
                        self.method_succeeded("keyboard-interactive")
                    } else {
                        AuthDecision::Reject
                    }
                }
            }
            _ => AuthDecision::Reject,
        }
    }

    fn start_command(&mut self, ch: ChannelId, command: Command) {
        let state = self.channels.entry(ch).or_default();
        let out = &mut state.out;
        match &command {
            Command::Cat | Command::Sink => {}
            Command::Echo(x) => {
                out.push_back(Out::Data {
                    stderr: false,
                    bytes: format!("{x}\n").into_bytes(),
                    sent: 0,
                    echo: false,
                });
                out.extend([Out::Exit(0), Out::Eof, Out::Close]);
            }
            Command::Err(x) => {
                out.push_back(Out::Data {
                    stderr: true,
                    bytes: x.clone().into_bytes(),
                    sent: 0,
                    echo: false,
                });
                out.extend([Out::Exit(0), Out::Eof, Out::Close]);
            }
            Command::Exit(n) => out.extend([Out::Exit(*n), Out::Eof, Out::Close]),
            Command::Kill(sig) => out.extend([Out::Signal(sig.clone()), Out::Eof, Out::Close]),
            // Half-close from the server side first: we will write nothing,
            // but still read stdin to the end.
            Command::Wc => out.push_back(Out::Eof),
        }
        state.command = Some(command);
    }

    /// Does the queued actions of `ch` as far as windows allow.
    fn pump(&mut self, conn: &mut Connection, ch: ChannelId) {
        let Some(state) = self.channels.get_mut(&ch) else {
            return;
        };
        while let Some(front) = state.out.front_mut() {
            let r = match front {
                Out::Data {
                    stderr,
                    bytes,
                    sent,
                    echo,
                } => {
                    let rest = &bytes[*sent..];
                    let r = if *stderr {
                        conn.send_extended_data(ch, 1, rest)
                    } else {
                        conn.send_data(ch, rest)
                    };
                    match r {
                        Ok(n) => {
                            *sent += n;
                            if *echo && n > 0 {
                                state.log.unconsumed -= n;
                                if let Err(e) = conn.consume(ch, n) {
                                    self.errors.push(format!("consume {ch}: {e}"));
                                }
                            }
                            if *sent < bytes.len() {
                                // Window or send buffer full: ChannelWritable resumes us.
                                return;
                            }
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                Out::Exit(code) => conn.channel_request(
                    ch,
                    &ChannelRequest::ExitStatus { code: *code },
                    false,
                ),
                Out::Signal(sig) => conn.channel_request(
                    ch,
                    &ChannelRequest::ExitSignal {
                        signal: sig.clone(),
                        core_dumped: true,
                        message: format!("killed by SIG{sig}"),
                    },
                    false,
                ),
                Out::Eof => conn.send_eof(ch),
                Out::Close => conn.close_channel(ch),
            };
            if let Err(e) = r {
                self.errors.push(format!("channel {ch}: {e}"));
                state.out.clear();
                return;
            }
            state.out.pop_front();
        }
    }

    /// Lets a `sink` on `ch` consume everything it holds, and from now on.
    pub fn release_sink(&mut self, conn: &mut Connection) {
        self.consume_sink = true;
        for (ch, state) in &mut self.channels {
            let n = state.log.unconsumed;
            if n > 0 {
                state.log.unconsumed = 0;
                state.log.consumed_upto = state.log.stdout.len();
                if let Err(e) = conn.consume(*ch, n) {
                    self.errors.push(format!("consume {ch}: {e}"));
                }
            }
        }
    }
}

impl App for ServerApp {
    fn on_event(&mut self, conn: &mut Connection, event: &Event) {
        match event {
            Event::AuthRequest { user, attempt, .. } => {
                let decision = self.decide(user, attempt);
                if let Err(e) = conn.auth_decision(decision) {
                    self.errors.push(format!("auth_decision: {e}"));
                }
                return;
            }
            Event::ChannelOpenRequest { channel, kind, .. } => {
                let r = if kind == "session" && self.accept_channels {
                    self.channels.entry(*channel).or_default();
                    conn.accept_channel(*channel)
                } else if kind == "session" {
                    conn.reject_channel(
                        *channel,
                        ChannelOpenFailure::AdministrativelyProhibited,
                        "no sessions today",
                    )
                } else {
                    conn.reject_channel(
                        *channel,
                        ChannelOpenFailure::UnknownChannelType,
                        "unknown channel type",
                    )
                };
                if let Err(e) = r {
                    self.errors.push(format!("channel open answer: {e}"));
                }
                return;
            }
            _ => {}
        }
        let Some(ch) = event_channel(event) else {
            return;
        };
        let state = self.channels.entry(ch).or_default();
        record_channel_event(&mut state.log, event, self.keep_data);

        match event {
            Event::ChannelRequest {
                request,
                want_reply,
                ..
            } => {
                let command = match request {
                    ChannelRequest::Exec { command } if state.command.is_none() => {
                        Command::parse(command)
                    }
                    _ => None,
                };
                if *want_reply {
                    if let Err(e) = conn.channel_reply(ch, command.is_some()) {
                        self.errors.push(format!("channel_reply {ch}: {e}"));
                    }
                }
                if let Some(c) = command {
                    self.start_command(ch, c);
                }
            }
            Event::Data { data, .. } => match state.command {
                Some(Command::Cat) => {
                    // Consumed as the echo goes out (see `pump`), so a
                    // client that does not read stalls the writer too.
                    state.out.push_back(Out::Data {
                        stderr: false,
                        bytes: data.to_vec(),
                        sent: 0,
                        echo: true,
                    });
                }
                Some(Command::Sink) if !self.consume_sink => {}
                _ => {
                    if let Some(Command::Wc) = state.command {
                        state.counted += data.len() as u64;
                    }
                    state.log.unconsumed -= data.len();
                    state.log.consumed_upto = state.log.stdout.len();
                    if let Err(e) = conn.consume(ch, data.len()) {
                        self.errors.push(format!("consume {ch}: {e}"));
                    }
                }
            },
            Event::ExtendedData { data, .. } => {
                state.log.unconsumed -= data.len();
                if let Err(e) = conn.consume(ch, data.len()) {
                    self.errors.push(format!("consume {ch}: {e}"));
                }
            }
            Event::Eof { .. } => match state.command {
                Some(Command::Cat) | Some(Command::Sink) => {
                    state.out.extend([Out::Exit(0), Out::Eof, Out::Close]);
                }
                Some(Command::Wc) => {
                    let n = u32::try_from(state.counted).unwrap_or(u32::MAX);
                    state.out.extend([Out::Exit(n), Out::Close]);
                }
                _ => {}
            },
            Event::ChannelClosed { .. } => {
                state.out.clear();
            }
            _ => {}
        }
        self.pump(conn, ch);
    }
}

// ----------------------------------------------------------------------
// The pair
// ----------------------------------------------------------------------

/// A client and a server joined in memory.
pub struct Pair {
    /// Client end.
    pub client: Endpoint,
    /// Server end.
    pub server: Endpoint,
    /// Client application.
    pub client_app: ClientApp,
    /// Server application.
    pub server_app: ServerApp,
    /// Client to server bytes.
    pub c2s: Pipe,
    /// Server to client bytes.
    pub s2c: Pipe,
    /// Deliver input in pieces of this many bytes (`None`: all at once).
    pub chunk: Option<usize>,
    /// Sees and may change every byte in flight.
    pub tap: Option<Box<dyn Tap>>,
    /// Call `handle_eof` on a side once its peer is closed and drained,
    /// as a socket would report it.
    pub propagate_close: bool,
    base: Instant,
    elapsed: Duration,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// Default configurations, seeds 1 (client) and 2 (server).
    pub fn new() -> Self {
        Self::with_configs(client_config(), server_config())
    }

    /// These configurations, seeds 1 and 2.
    pub fn with_configs(client: ClientConfig, server: ServerConfig) -> Self {
        Self::with_seeds(client, server, 1, 2)
    }

    /// These configurations and RNG seeds.
    pub fn with_seeds(
        client: ClientConfig,
        server: ServerConfig,
        client_seed: u64,
        server_seed: u64,
    ) -> Self {
        let base = base_instant();
        let client = Connection::client(
            Arc::new(client),
            Box::new(ChaCha20Rng::seed_from_u64(client_seed)),
            base,
        );
        let server = Connection::server(
            Arc::new(server),
            Box::new(ChaCha20Rng::seed_from_u64(server_seed)),
            base,
        );
        Pair {
            client: Endpoint::new(client),
            server: Endpoint::new(server),
            client_app: ClientApp::default(),
            server_app: ServerApp::default(),
            c2s: Pipe::new(),
            s2c: Pipe::new(),
            chunk: None,
            tap: None,
            propagate_close: true,
            base,
            elapsed: Duration::ZERO,
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.base + self.elapsed
    }

    /// Time since the pair was made.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Moves the virtual clock forward (timers fire on the next drive).
    pub fn advance(&mut self, d: Duration) {
        self.elapsed += d;
    }

    /// SHA-256 of each direction so far.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            c2s: self.c2s.transcript.clone().finalize().into(),
            s2c: self.s2c.transcript.clone().finalize().into(),
            c2s_len: self.c2s.sent,
            s2c_len: self.s2c.sent,
        }
    }

    /// Runs until nothing moves: no event, no byte, no due timer.
    /// Panics if that takes more than [`MAX_ROUNDS`] rounds.
    pub fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if !self.step() {
                return;
            }
        }
        panic!(
            "drive: no quiescence after {MAX_ROUNDS} rounds (livelock?); \
             client {:?}, server {:?}, in flight c2s {} s2c {}",
            self.client.conn,
            self.server.conn,
            self.c2s.in_flight(),
            self.s2c.in_flight()
        );
    }

    /// One round; returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let now = self.now();
        let mut progress = false;
        progress |= fire_timer(&mut self.client, now);
        progress |= fire_timer(&mut self.server, now);
        progress |= pump(
            &mut self.client,
            &mut self.client_app,
            &mut self.c2s,
            &mut self.tap,
            Direction::ClientToServer,
        );
        progress |= pump(
            &mut self.server,
            &mut self.server_app,
            &mut self.s2c,
            &mut self.tap,
            Direction::ServerToClient,
        );
        progress |= deliver(
            &mut self.c2s,
            &mut self.server,
            &mut self.server_app,
            &mut self.s2c,
            &mut self.tap,
            Direction::ServerToClient,
            self.chunk,
            now,
        );
        progress |= deliver(
            &mut self.s2c,
            &mut self.client,
            &mut self.client_app,
            &mut self.c2s,
            &mut self.tap,
            Direction::ClientToServer,
            self.chunk,
            now,
        );
        if self.propagate_close {
            progress |= propagate_close(
                &self.client.conn,
                &self.c2s,
                &mut self.server,
                &mut self.server_app,
                &mut self.s2c,
                &mut self.tap,
                Direction::ServerToClient,
                now,
            );
            progress |= propagate_close(
                &self.server.conn,
                &self.s2c,
                &mut self.client,
                &mut self.client_app,
                &mut self.c2s,
                &mut self.tap,
                Direction::ClientToServer,
                now,
            );
        }
        progress
    }

    /// Drives the handshake up to [`Event::UserauthReady`] on the client;
    /// panics with both logs if it does not come.
    pub fn handshake(&mut self) {
        self.drive();
        assert!(
            self.client.saw(|e| matches!(e, Event::UserauthReady)),
            "handshake did not reach UserauthReady.\nclient log: {:#?}\nserver log: {:#?}\n\
             client errors: {:?}\nserver errors: {:?}",
            self.client.log,
            self.server.log,
            self.client.input_errors,
            self.server.input_errors,
        );
    }

    /// Handshake and password login; panics unless both sides agree it worked.
    pub fn connect(&mut self) {
        self.handshake();
        self.client
            .conn
            .auth_password(USER, PASSWORD)
            .expect("auth_password after UserauthReady");
        self.drive();
        self.assert_authenticated();
    }

    /// Both sides report a successful login.
    pub fn assert_authenticated(&self) {
        assert!(
            self.client.saw(|e| matches!(e, Event::AuthSuccess)),
            "client saw no AuthSuccess: {:#?}\nserver: {:#?}",
            self.client.log,
            self.server.log
        );
        assert!(
            self.server
                .saw(|e| matches!(e, Event::Authenticated { user } if user == USER)),
            "server saw no Authenticated: {:#?}",
            self.server.log
        );
        assert!(self.client.conn.is_authenticated());
        assert!(self.server.conn.is_authenticated());
    }

    /// Opens a session channel and execs `command`; returns the client's id
    /// once the server confirmed the channel and the request succeeded.
    pub fn exec(&mut self, command: &str) -> ChannelId {
        let ch = self.client.conn.open_session().expect("open_session");
        self.drive();
        assert!(
            self.client_app.channel(ch).opened,
            "channel {ch} not opened: {:#?}",
            self.client.log
        );
        self.client
            .conn
            .exec(ch, command.as_bytes())
            .expect("exec request");
        self.drive();
        assert_eq!(
            self.client_app.channel(ch).replies,
            vec![true],
            "exec {command:?} not confirmed"
        );
        ch
    }

    /// Sends all of `data` on `ch` from the client, driving between calls
    /// when the window or send buffer is full.
    pub fn client_send_all(&mut self, ch: ChannelId, data: &[u8]) {
        let mut off = 0;
        let mut stalls = 0;
        while off < data.len() {
            let n = self
                .client
                .conn
                .send_data(ch, &data[off..])
                .expect("send_data");
            off += n;
            if n == 0 {
                stalls += 1;
                assert!(
                    stalls < 10_000,
                    "client_send_all: no progress sending on {ch} at {off}/{}",
                    data.len()
                );
            } else {
                stalls = 0;
            }
            self.drive();
        }
    }

    /// Runs `handle_input` on the client directly (outside the pipes).
    pub fn client_input(&mut self, data: &[u8]) -> Result<(), Error> {
        let now = self.now();
        self.client.conn.handle_input(now, data)
    }

    /// Runs `handle_input` on the server directly (outside the pipes).
    pub fn server_input(&mut self, data: &[u8]) -> Result<(), Error> {
        let now = self.now();
        self.server.conn.handle_input(now, data)
    }

    /// Asserts the applications made no failing calls.
    pub fn assert_no_app_errors(&self) {
        assert!(
            self.client_app.errors.is_empty(),
            "client app errors: {:?}",
            self.client_app.errors
        );
        assert!(
            self.server_app.errors.is_empty(),
            "server app errors: {:?}",
            self.server_app.errors
        );
    }

    /// Asserts neither connection has failed.
    pub fn assert_alive(&self) {
        assert!(
            self.client.conn.error().is_none() && self.server.conn.error().is_none(),
            "connection failed: client {:?} / server {:?}",
            self.client.conn.error(),
            self.server.conn.error()
        );
    }
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

fn fire_timer(ep: &mut Endpoint, now: Instant) -> bool {
    match ep.conn.poll_timeout() {
        Some(t) if t <= now => {
            ep.timeouts_fired += 1;
            if let Err(e) = ep.conn.handle_timeout(now) {
                ep.record_error(e);
            }
            // Progress is judged by the events and bytes it produced.
            false
        }
        _ => false,
    }
}

/// Drains `ep`'s events (into its application) and transmit (into `out`)
/// until both are empty. Returns whether anything came out.
fn pump(
    ep: &mut Endpoint,
    app: &mut dyn App,
    out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    dir: Direction,
) -> bool {
    let mut progress = false;
    loop {
        let mut any = false;
        while let Some(event) = ep.conn.poll_event() {
            any = true;
            ep.record_event(&event);
            app.on_event(&mut ep.conn, &event);
        }
        if !ep.stall_transmit {
            while let Some(bytes) = ep.conn.poll_transmit() {
                let n = bytes.len();
                assert!(n > 0, "poll_transmit returned an empty slice");
                ep.max_transmit_len = ep.max_transmit_len.max(n);
                out.push(dir, bytes, tap);
                ep.conn.consume_transmit(n);
                any = true;
            }
        }
        if !any {
            return progress;
        }
        progress = true;
    }
}

/// Hands what is in flight in `pipe` to `rx`, in pieces of `chunk` bytes,
/// draining `rx` after each piece as an adapter would.
#[allow(clippy::too_many_arguments)]
fn deliver(
    pipe: &mut Pipe,
    rx: &mut Endpoint,
    rx_app: &mut dyn App,
    rx_out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    rx_dir: Direction,
    chunk: Option<usize>,
    now: Instant,
) -> bool {
    if pipe.blocked || pipe.in_flight.is_empty() {
        return false;
    }
    let data = std::mem::take(&mut pipe.in_flight);
    let size = chunk.unwrap_or(data.len()).max(1);
    for piece in data.chunks(size) {
        if let Err(e) = rx.conn.handle_input(now, piece) {
            rx.record_error(e);
        }
        pump(rx, rx_app, rx_out, tap, rx_dir);
    }
    pipe.delivered += data.len() as u64;
    // Reuse the allocation.
    if pipe.in_flight.is_empty() {
        pipe.in_flight = data;
        pipe.in_flight.clear();
    }
    true
}

#[allow(clippy::too_many_arguments)]
fn propagate_close(
    peer: &Connection,
    from_peer: &Pipe,
    rx: &mut Endpoint,
    rx_app: &mut dyn App,
    rx_out: &mut Pipe,
    tap: &mut Option<Box<dyn Tap>>,
    rx_dir: Direction,
    now: Instant,
) -> bool {
    if rx.eof_delivered || !peer.is_closed() || from_peer.in_flight() > 0 || from_peer.blocked {
        return false;
    }
    rx.eof_delivered = true;
    rx.conn.handle_eof(now);
    pump(rx, rx_app, rx_out, tap, rx_dir);
    true
}
