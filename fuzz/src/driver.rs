//! The driver: the application side of a [`Connection`], steered by the
//! fuzz input (part of `harness.rs`, included by path like it).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conch_core::{
    ApiMisuse, Applied, AuthDecision, ChannelConfig, ChannelEvent, ChannelId, ChannelOpenFailure,
    ClientConfig, Command, Connection, Event, PrivateKey, Prompt, ServerConfig,
};
use conch_test_support::{base_instant, App, Direction, Endpoint, Pipe};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::{act, calls, key, Record};

/// Plays the application and the socket for one [`Connection`], checking
/// the loop contract's promises as it goes (it panics when one is broken,
/// which the fuzzer reports). The connection and the loop contract's steps
/// are an [`Endpoint`] of `conch-test-support`; the answers to its events
/// are the [`FuzzApp`]'s.
pub struct Driver {
    /// The connection, and the steps of the loop contract.
    pub ep: Endpoint,
    /// What answers its events.
    pub app: FuzzApp,
    now: Instant,
    /// Everything the connection transmitted.
    pub transmitted: Vec<u8>,
    /// Whether to keep `transmitted` (the corpus generator reads it).
    keep_transmitted: bool,
    /// The "socket": what the connection transmitted, not yet looked at.
    out: Pipe,
    /// The last `Feed` record, for [`act::REPEAT`].
    last_feed: Vec<u8>,
    /// Bytes [`act::REPEAT`] may still feed in this run, so one input
    /// cannot take the fuzzer's whole time budget.
    repeat_budget: usize,
}

/// The application side of a [`Driver`]: answers events as an application
/// steered by the policy byte would.
#[derive(Debug)]
pub struct FuzzApp {
    policy: u8,
    channels: Vec<ChannelId>,
    /// Received bytes not yet consumed, per channel.
    unconsumed: Vec<(ChannelId, usize)>,
    user_key: PrivateKey,
    auth_tries: u32,
    disconnected: bool,
}

/// Most bytes one input may feed through [`act::REPEAT`]: enough for a
/// flood past every limit of the connection (a few MiB), small enough that
/// a run stays well under a second.
const REPEAT_BUDGET: usize = 16 << 20;

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("conn", &self.ep.conn)
            .field("policy", &self.app.policy)
            .finish_non_exhaustive()
    }
}

/// The answers a peer may provoke and leave unread before the connection
/// ends with `PeerMisbehaved::UnreadAnswers`: 1 MiB, the share of
/// `ChannelConfig::memory_budget` its documentation gives them (the
/// core's `UNREAD_ANSWERS_LIMIT`, not public).
const UNREAD_ANSWERS: usize = 1 << 20;

/// Room in [`transmit_bound`] for what the two documented limits do not
/// cover: the answer that crosses the unread-answers limit and the
/// DISCONNECT after it (under 1 KiB), the framing of queued packets, the
/// messages the input's own application calls queue besides data (opens,
/// requests, EOF, close, a re-exchange's KEXINIT: a small multiple of the
/// input's length, which the fuzz runs keep to 8 KiB with `-max_len`), and
/// window adjustments (one per half window consumed).
const TRANSMIT_SLACK: usize = 512 << 10;

/// Most bytes the transmit buffer may hold, even with the socket stalled,
/// from the limits the connection's configuration documents (the harness
/// uses the defaults): the application's data, which `send_data` stops
/// taking once `ChannelConfig::send_buffer_limit` bytes are queued; the
/// answers the peer provoked, the core's or the application's (accepting
/// or refusing its channels, replies to its requests, authentication
/// decisions), which end the connection past [`UNREAD_ANSWERS`]; and
/// [`TRANSMIT_SLACK`]. About 2.5 MiB. More is memory a hostile peer made
/// the server hold beyond its limits: `unread-application-answers-grow-
/// without-bound` (in `core/tests/fuzz_regressions/server_connection/`)
/// grew it past 3 MiB with requests the application answered, before such
/// answers counted against the limit.
fn transmit_bound() -> usize {
    ChannelConfig::default().send_buffer_limit + UNREAD_ANSWERS + TRANSMIT_SLACK
}

/// The user key the client driver authenticates with.
pub fn user_key() -> PrivateKey {
    key(2)
}

impl Driver {
    /// A client; `keep` keeps what it transmits in [`Driver::transmitted`].
    pub fn client(config: ClientConfig, keep: bool) -> Self {
        let conn = Connection::client(
            Arc::new(config),
            Box::new(ChaCha20Rng::seed_from_u64(11)),
            base_instant(),
        );
        Self::new(conn.into(), keep)
    }

    /// A server; `keep` as for [`Driver::client`].
    pub fn server(config: ServerConfig, keep: bool) -> Self {
        let conn = Connection::server(
            Arc::new(config),
            Box::new(ChaCha20Rng::seed_from_u64(12)),
            base_instant(),
        );
        Self::new(conn.into(), keep)
    }

    fn new(conn: Connection, keep_transmitted: bool) -> Self {
        let mut ep = Endpoint::new(conn);
        // The fuzzer wants speed: the app keeps what it needs itself.
        ep.log_events = false;
        let mut out = Pipe::new();
        out.drop_transcript();
        let mut d = Driver {
            ep,
            app: FuzzApp {
                policy: 0,
                channels: Vec::new(),
                unconsumed: Vec::new(),
                user_key: user_key(),
                auth_tries: 0,
                disconnected: false,
            },
            now: base_instant(),
            transmitted: Vec::new(),
            keep_transmitted,
            out,
            last_feed: Vec::new(),
            repeat_budget: REPEAT_BUDGET,
        };
        let now = d.now;
        d.ep.conn.handle_timeout(now);
        d.after();
        d
    }

    /// A one-line account of how far the connection got.
    pub fn summary(&self) -> String {
        format!(
            "authenticated {}, channels {:?}, error {:?}",
            self.ep.conn.is_authenticated(),
            self.app.channels,
            self.ep.conn.error()
        )
    }

    /// Whether the connection has ended.
    pub fn is_done(&self) -> bool {
        self.app.disconnected
    }

    /// Runs one record.
    pub fn run(&mut self, record: Record<'_>) {
        match record {
            Record::Feed(bytes) => {
                self.last_feed = bytes.to_vec();
                self.feed(bytes);
            }
            Record::Act(op, arg) if op % act::COUNT == act::REPEAT => {
                let bytes = std::mem::take(&mut self.last_feed);
                for _ in 0..usize::from(arg) * 64 {
                    if self.is_done() || self.repeat_budget < bytes.len().max(1) {
                        break;
                    }
                    self.repeat_budget -= bytes.len().max(1);
                    self.feed(&bytes);
                }
                self.last_feed = bytes;
            }
            Record::Act(op, arg) => self.act(op, arg),
            Record::Command(command) => self.apply(command),
        }
    }

    /// Feeds bytes from the peer.
    pub fn feed(&mut self, bytes: &[u8]) {
        let before = self.ep.conn.error().cloned();
        self.ep.input(self.now, bytes);
        if let Some(e) = before {
            // Fatal errors are sticky.
            assert_eq!(self.ep.conn.error(), Some(&e), "sticky error changed");
        }
        self.after();
    }

    /// Does what `Act` record `op` says, with `arg`.
    pub fn act(&mut self, op: u8, arg: u8) {
        match op % act::COUNT {
            act::TICK => {
                self.now += Duration::from_secs(u64::from(arg));
                self.ep.conn.handle_timeout(self.now);
            }
            act::POLICY => self.app.policy = arg,
            act::SOCKET_EOF => self.ep.eof(self.now),
            act::CONSUME => {
                for (channel, n) in std::mem::take(&mut self.app.unconsumed) {
                    let _refused_or_done = call(&mut self.ep.conn, Command::Consume { channel, n });
                }
            }
            act::STALL => {
                // The transmit buffer is left to grow meanwhile.
                self.ep.stall_transmit = !self.ep.stall_transmit;
            }
            // REPEAT is a record of its own (see `run`).
            _ => {}
        }
        self.after();
    }

    /// Makes an application call, then drains as the loop contract asks.
    pub fn apply(&mut self, command: Command<'_>) {
        let _refused_or_done = self.app.call(&mut self.ep.conn, command);
        self.after();
    }

    /// Answers events, moves the transmit buffer to the "socket", and
    /// checks the loop contract.
    fn after(&mut self) {
        // No tap: the direction is not looked at.
        self.ep.pump(
            &mut self.app,
            &mut self.out,
            Direction::ClientToServer,
            &mut None,
        );
        let sent = self.out.take();
        if self.keep_transmitted {
            self.transmitted.extend_from_slice(&sent);
        }
        let bound = transmit_bound();
        assert!(
            self.ep.max_transmit_len <= bound,
            "transmit buffer of {} bytes, over {bound}",
            self.ep.max_transmit_len
        );
        if let Some(t) = self.ep.conn.poll_transmit() {
            assert!(
                t.len() <= bound,
                "transmit buffer of {} bytes, over {bound}",
                t.len()
            );
        }
        let stalled = self.ep.stall_transmit;
        if let Some(e) = self.ep.conn.error().filter(|_| !stalled) {
            // The end: the DISCONNECT is out, nothing more is asked of us.
            assert!(self.ep.conn.is_closed(), "closed once drained after {e}");
            assert_eq!(self.ep.conn.poll_timeout(), None);
        }
        // A fatal error is reported, once, by the event.
        assert_eq!(
            self.app.disconnected,
            self.ep.conn.error().is_some(),
            "Disconnected if and only if the connection has an error"
        );
    }
}

/// Makes an application call. Refusals are expected (the fuzzer calls at
/// random) and must leave the connection as it was: an `ApiMisuse` is
/// never fatal.
fn call(conn: &mut Connection, command: Command<'_>) -> Result<Applied, ApiMisuse> {
    let before = conn.error().cloned();
    let r = conn.apply(command);
    if let Err(e) = &r {
        assert_eq!(
            conn.error(),
            before.as_ref(),
            "a refused call ({e}) changed the connection's state"
        );
    }
    r
}

impl App for FuzzApp {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        assert!(!self.disconnected, "event after Disconnected: {event:?}");
        self.answer(conn, event);
    }
}

impl FuzzApp {
    /// [`call`], keeping the channels it opens.
    fn call(&mut self, conn: &mut Connection, command: Command<'_>) -> Result<Applied, ApiMisuse> {
        let r = call(conn, command);
        if let Ok(Applied::Opened(id)) = &r {
            self.channels.push(*id);
        }
        r
    }

    /// Client: tries the method `arg` picks.
    fn try_auth(&mut self, conn: &mut Connection, arg: u8) {
        self.auth_tries += 1;
        let command = calls::auth(arg, self.user_key.public_key());
        let _refused_or_sent = self.call(conn, command);
    }

    /// Answers one event as an application steered by the policy byte.
    fn answer(&mut self, conn: &mut Connection, event: Event) {
        let p = self.policy;
        let command = match event {
            Event::HostKey { .. } => Command::AcceptHostKey,
            Event::UserauthReady => return self.try_auth(conn, p),
            Event::AuthFailure { .. } if self.auth_tries < 8 => {
                return self.try_auth(conn, p.wrapping_add(self.auth_tries as u8))
            }
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => match self.user_key.sign(&algorithm, &data) {
                Ok(sig) => Command::AuthSignature {
                    blob: Cow::Owned(sig),
                },
                Err(_) => return,
            },
            Event::AuthInfoRequest { prompts, .. } => Command::AuthInfoResponse {
                responses: Cow::Owned(vec!["123456".to_string(); prompts.len()]),
            },
            Event::AuthPasswordChange { .. } => Command::AuthChangePassword {
                old: "old".into(),
                new: "new".into(),
            },
            Event::AuthRequest { .. } => {
                let decision = match (p >> 5) % 5 {
                    0 => AuthDecision::Accept,
                    1 => AuthDecision::Reject,
                    2 => AuthDecision::Partial {
                        methods: vec!["password".into(), "keyboard-interactive".into()],
                    },
                    3 => AuthDecision::InfoRequest {
                        name: "n".into(),
                        instruction: "i".into(),
                        prompts: vec![Prompt {
                            prompt: "Code: ".into(),
                            echo: false,
                        }],
                    },
                    _ => AuthDecision::ChangePassword {
                        prompt: "expired".into(),
                    },
                };
                let decide = |decision| Command::AuthDecision {
                    decision: Cow::Owned(decision),
                };
                if self.call(conn, decide(decision)).is_err() {
                    // A decision that does not fit the attempt: accept.
                    let _refused = self.call(conn, decide(AuthDecision::Accept));
                }
                return;
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { .. },
            } => {
                if p & 0x02 == 0 {
                    self.channels.push(channel);
                    Command::AcceptChannel { channel }
                } else {
                    Command::RejectChannel {
                        channel,
                        reason: ChannelOpenFailure::AdministrativelyProhibited,
                        description: "no".into(),
                    }
                }
            }
            Event::Channel {
                id: channel,
                event:
                    ChannelEvent::Request {
                        want_reply: true, ..
                    },
            } => Command::ChannelReply {
                channel,
                success: p & 0x04 == 0,
            },
            Event::GlobalRequest {
                want_reply: true, ..
            } => Command::GlobalReply {
                success: p & 0x08 == 0,
                data: Cow::Borrowed(&[]),
            },
            Event::Channel {
                id: channel,
                event: ChannelEvent::Data { data } | ChannelEvent::ExtendedData { data, .. },
            } => {
                if p & 0x10 == 0 {
                    Command::Consume {
                        channel,
                        n: data.len(),
                    }
                } else {
                    self.unconsumed.push((channel, data.len()));
                    return;
                }
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::Closed,
            } => {
                self.channels.retain(|c| *c != channel);
                return;
            }
            Event::Disconnected { error } => {
                assert_eq!(
                    conn.error(),
                    Some(&error),
                    "Disconnected carries the connection's error"
                );
                self.disconnected = true;
                return;
            }
            _ => return,
        };
        let _refused_or_done = self.call(conn, command);
    }
}
