//! The scripted server application: authentication decisions from its
//! settings, session channels, and a few commands run in-process.

use std::collections::{BTreeMap, VecDeque};

use conch_core::{
    AuthAttempt, AuthDecision, ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest,
    Connection, Event, Forward, Prompt, PublicKey,
};

use super::channel_log::{event_channel, record_channel_event, ChannelLog};
use super::role_calls::RoleCalls;
use super::{PASSWORD, USER};
use conch_test_support::App;

/// The global request name the test server answers with success, echoing
/// its data back.
pub const ECHO_GLOBAL_REQUEST: &str = "echo@conch.test";
/// The port the test server says it bound for a `tcpip-forward` on port 0.
pub const ALLOCATED_PORT: u32 = 40_000;

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
    /// CAs whose user certificates may log in (sshd's TrustedUserCAKeys),
    /// checked at [`Self::cert_now`].
    pub trusted_user_cas: Vec<PublicKey>,
    /// The time user certificates are checked at, Unix seconds.
    pub cert_now: u64,
    /// Why the last user certificate was refused.
    pub cert_refusals: Vec<conch_core::keys::CertificateError>,
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
            trusted_user_cas: Vec::new(),
            cert_now: 0,
            cert_refusals: Vec::new(),
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
            AuthAttempt::PublicKey { key, signed } if key.certificate().is_some() => {
                let policy = conch_core::keys::UserCertificatePolicy {
                    trusted_cas: &self.trusted_user_cas,
                    revoked: &[],
                    user,
                    authorized_principals: None,
                    now: self.cert_now,
                    source: None,
                };
                match key.check_user_certificate(&policy) {
                    Err(e) => {
                        self.cert_refusals.push(e);
                        AuthDecision::Reject
                    }
                    Ok(_) if *signed => self.method_succeeded("publickey"),
                    Ok(_) => AuthDecision::Accept,
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
                Out::Exit(code) => {
                    conn.channel_request(ch, &ChannelRequest::ExitStatus { code: *code }, false)
                }
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
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        let event = &event;
        match event {
            Event::AuthRequest { user, attempt, .. } => {
                let decision = self.decide(user, attempt);
                if let Err(e) = conn.auth_decision(decision) {
                    self.errors.push(format!("auth_decision: {e}"));
                }
                return;
            }
            Event::GlobalRequest {
                name,
                data,
                want_reply: true,
            } => {
                // One request the test server knows: it answers with the
                // data it was given. Anything else fails (RFC 4254 section 4).
                let r = if name == ECHO_GLOBAL_REQUEST {
                    conn.global_reply(true, data)
                } else if let Some(Ok(_)) = Forward::decode(name, data) {
                    // Forwarding requests are granted; a port-0 listener
                    // "gets" ALLOCATED_PORT (the test binds nothing).
                    conn.reply_forward(true, ALLOCATED_PORT)
                } else {
                    conn.global_reply(false, &[])
                };
                if let Err(e) = r {
                    self.errors.push(format!("global_reply: {e}"));
                }
                return;
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { kind, .. },
            } => {
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
            Event::Channel {
                event:
                    ChannelEvent::Request {
                        request,
                        want_reply,
                        ..
                    },
                ..
            } => {
                let command = match request {
                    ChannelRequest::Exec { command } if state.command.is_none() => {
                        Command::parse(command)
                    }
                    _ => None,
                };
                // Session set-up requests are accepted (and only recorded);
                // a shell is not offered.
                let accepted = command.is_some()
                    || matches!(
                        request,
                        ChannelRequest::PtyReq { .. }
                            | ChannelRequest::Env { .. }
                            | ChannelRequest::WindowChange { .. }
                    );
                if *want_reply {
                    if let Err(e) = conn.channel_reply(ch, accepted) {
                        self.errors.push(format!("channel_reply {ch}: {e}"));
                    }
                }
                if let Some(c) = command {
                    self.start_command(ch, c);
                }
            }
            Event::Channel {
                event: ChannelEvent::Data { data, .. },
                ..
            } => match state.command {
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
            Event::Channel {
                event: ChannelEvent::ExtendedData { data, .. },
                ..
            } => {
                state.log.unconsumed -= data.len();
                if let Err(e) = conn.consume(ch, data.len()) {
                    self.errors.push(format!("consume {ch}: {e}"));
                }
            }
            Event::Channel {
                event: ChannelEvent::Eof,
                ..
            } => match state.command {
                Some(Command::Cat) | Some(Command::Sink) => {
                    state.out.extend([Out::Exit(0), Out::Eof, Out::Close]);
                }
                Some(Command::Wc) => {
                    let n = u32::try_from(state.counted).unwrap_or(u32::MAX);
                    state.out.extend([Out::Exit(n), Out::Close]);
                }
                _ => {}
            },
            Event::Channel {
                event: ChannelEvent::Closed,
                ..
            } => {
                state.out.clear();
            }
            _ => {}
        }
        self.pump(conn, ch);
    }
}
