//! The scripted applications on each end of an [`crate::InMemoryPair`]: a
//! client that logs in, opens sessions, execs a command and reads what comes
//! back, and a server that checks credentials, accepts sessions and either
//! answers an exec at once or leaves the channel to a bulk sender.

use std::borrow::Cow;
use std::sync::Arc;

use conch_core::{
    ApiMisuse, AuthAttempt, AuthDecision, ChannelEvent, ChannelId, ChannelOpenFailure,
    ChannelRequest, Command, Connection, Error, Event, NegotiatedAlgorithms, PrivateKey, PublicKey,
};

use conch_test_support::App;

/// How the client logs in.
#[derive(Debug, Clone)]
pub enum Login {
    /// The `password` method (RFC 4252 section 8).
    Password(String),
    /// The `publickey` method with this key (RFC 4252 section 7): a query,
    /// then the signed request.
    PublicKey(Arc<PrivateKey>),
}

/// The client application.
#[derive(Debug)]
pub struct BenchClient {
    /// User name to log in as.
    pub user: String,
    /// Credential.
    pub login: Login,
    /// Session channels to open once logged in.
    pub sessions: usize,
    /// Command to exec on each session.
    pub command: Vec<u8>,
    /// Disconnect once every session has closed.
    pub disconnect_when_closed: bool,
    /// Sessions whose exec the server confirmed, in confirmation order.
    pub ready: Vec<ChannelId>,
    /// Bytes of data and extended data received, per local channel number.
    pub received: Vec<u64>,
    /// Sessions closed.
    pub closed: usize,
    /// Exit statuses received.
    pub exit_statuses: Vec<u32>,
    /// Whether authentication succeeded.
    pub authenticated: bool,
    /// What the last key exchange settled on.
    pub negotiated: Option<NegotiatedAlgorithms>,
    /// Why the connection ended, once it has.
    pub disconnected: Option<Error>,
    /// Anything that went wrong on the way (a benchmark asserts it is empty).
    pub failures: Vec<String>,
}

impl BenchClient {
    /// A client that logs in as `user` and execs `command` on `sessions`
    /// session channels.
    pub fn new(user: &str, login: Login, sessions: usize, command: &[u8]) -> Self {
        BenchClient {
            user: user.to_string(),
            login,
            sessions,
            command: command.to_vec(),
            disconnect_when_closed: false,
            ready: Vec::with_capacity(sessions),
            received: Vec::new(),
            closed: 0,
            exit_statuses: Vec::new(),
            authenticated: false,
            negotiated: None,
            disconnected: None,
            failures: Vec::new(),
        }
    }

    /// Total bytes received on every channel.
    pub fn total_received(&self) -> u64 {
        self.received.iter().sum()
    }

    fn note(&mut self, what: &str, r: Result<(), ApiMisuse>) {
        if let Err(e) = r {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    /// Counts `n` bytes received on `channel` and hands them back to the
    /// window at once: the reader consumes as it reads.
    fn receive(&mut self, conn: &mut Connection, channel: ChannelId, n: usize) {
        let at = channel.0 as usize;
        if self.received.len() <= at {
            self.received.resize(at + 1, 0);
        }
        self.received[at] += n as u64;
        let r = conn.consume(channel, n);
        self.note("consume", r);
    }
}

impl App for BenchClient {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        match event {
            Event::HostKey { .. } => {
                let r = apply(conn, Command::AcceptHostKey);
                self.note("accept_host_key", r);
            }
            Event::KeyExchangeDone { algorithms, .. } => self.negotiated = Some(algorithms),
            Event::UserauthReady => {
                let r = match &self.login {
                    Login::Password(p) => apply(
                        conn,
                        Command::AuthPassword {
                            user: (&*self.user).into(),
                            password: (&**p).into(),
                        },
                    ),
                    Login::PublicKey(k) => apply(
                        conn,
                        Command::AuthPublickey {
                            user: (&*self.user).into(),
                            key: Cow::Borrowed(k.public_key()),
                        },
                    ),
                };
                self.note("auth", r);
            }
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => {
                let Login::PublicKey(key) = &self.login else {
                    self.failures.push("signature asked without a key".into());
                    return;
                };
                let r = match key.sign(&algorithm, &data) {
                    Ok(blob) => apply(
                        conn,
                        Command::AuthSignature {
                            blob: Cow::Owned(blob),
                        },
                    ),
                    Err(e) => {
                        self.failures.push(format!("sign: {e}"));
                        Ok(())
                    }
                };
                self.note("auth_signature", r);
            }
            Event::AuthFailure { methods, .. } => {
                self.failures
                    .push(format!("authentication failed; methods left {methods:?}"));
            }
            Event::AuthSuccess => {
                self.authenticated = true;
                for _ in 0..self.sessions {
                    if let Err(e) = conn.open_session() {
                        self.failures.push(format!("open_session: {e}"));
                    }
                }
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::Opened,
            } => {
                let r = conn.exec(channel, &self.command);
                self.note("exec", r);
            }
            Event::Channel {
                event: ChannelEvent::OpenFailed { description, .. },
                ..
            } => {
                self.failures
                    .push(format!("channel refused: {description}"));
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::RequestReply { success },
            } => {
                if success {
                    self.ready.push(channel);
                } else {
                    self.failures.push(format!("exec refused on {channel}"));
                }
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::Data { data } | ChannelEvent::ExtendedData { data, .. },
            } => {
                self.receive(conn, channel, data.len());
            }
            Event::Channel {
                event: ChannelEvent::ExitStatus { code, .. },
                ..
            } => self.exit_statuses.push(code),
            Event::Channel {
                event: ChannelEvent::Closed,
                ..
            } => {
                self.closed += 1;
                if self.disconnect_when_closed && self.closed == self.sessions {
                    conn.disconnect("done");
                }
            }
            Event::Disconnected { error } => self.disconnected = Some(error),
            _ => {}
        }
    }
}

/// What the server does when a session asks to exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecBehaviour {
    /// Confirm and leave the channel open: the benchmark sends on it.
    Hold,
    /// Confirm, write these bytes, exit 0, send EOF and close.
    Answer(Vec<u8>),
}

/// The server application.
#[derive(Debug)]
pub struct BenchServer {
    /// The one user allowed in.
    pub user: String,
    /// The password that logs in.
    pub password: Option<String>,
    /// The key that logs in.
    pub authorized_key: Option<PublicKey>,
    /// What an exec does.
    pub exec: ExecBehaviour,
    /// Channels that exec'd, in order.
    pub exec_channels: Vec<ChannelId>,
    /// Why the connection ended, once it has.
    pub disconnected: Option<Error>,
    /// Anything that went wrong on the way.
    pub failures: Vec<String>,
}

impl BenchServer {
    /// A server that lets `user` in with `password` or `authorized_key`.
    pub fn new(
        user: &str,
        password: Option<&str>,
        authorized_key: Option<PublicKey>,
        exec: ExecBehaviour,
    ) -> Self {
        BenchServer {
            user: user.to_string(),
            password: password.map(str::to_string),
            authorized_key,
            exec,
            exec_channels: Vec::new(),
            disconnected: None,
            failures: Vec::new(),
        }
    }

    fn decide(&self, user: &str, attempt: &AuthAttempt) -> AuthDecision {
        if user != self.user {
            return AuthDecision::Reject;
        }
        match attempt {
            AuthAttempt::Password {
                password,
                new_password: None,
            } if self.password.as_deref() == Some(password.as_str()) => AuthDecision::Accept,
            // Accepting the unsigned query answers PK_OK; the signed request
            // arrives already verified by the connection.
            AuthAttempt::PublicKey { key, .. } if self.authorized_key.as_ref() == Some(key) => {
                AuthDecision::Accept
            }
            _ => AuthDecision::Reject,
        }
    }

    fn note(&mut self, what: &str, r: Result<(), ApiMisuse>) {
        if let Err(e) = r {
            self.failures.push(format!("{what}: {e}"));
        }
    }

    /// Writes `output`, exit status 0, EOF and CLOSE on `channel`
    /// (RFC 4254 sections 5.2, 5.3, 6.10).
    fn answer(&mut self, conn: &mut Connection, channel: ChannelId, output: &[u8]) {
        match conn.send_data(channel, output) {
            Ok(n) if n == output.len() => {}
            Ok(n) => self
                .failures
                .push(format!("answer: window took {n} of {}", output.len())),
            Err(e) => self.failures.push(format!("answer: {e}")),
        }
        let r = conn.channel_request(channel, &ChannelRequest::ExitStatus { code: 0 }, false);
        self.note("exit-status", r);
        let r = conn.send_eof(channel);
        self.note("eof", r);
        let r = conn.close_channel(channel);
        self.note("close", r);
    }
}

impl App for BenchServer {
    fn on_event(&mut self, conn: &mut Connection, event: Event) {
        match event {
            Event::AuthRequest { user, attempt, .. } => {
                let decision = self.decide(&user, &attempt);
                let r = apply(
                    conn,
                    Command::AuthDecision {
                        decision: Cow::Owned(decision),
                    },
                );
                self.note("auth_decision", r);
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { kind, .. },
            } => {
                let r = if kind == "session" {
                    conn.accept_channel(channel)
                } else {
                    conn.reject_channel(
                        channel,
                        ChannelOpenFailure::UnknownChannelType,
                        "sessions only",
                    )
                };
                self.note("channel open answer", r);
            }
            Event::Channel {
                id: channel,
                event:
                    ChannelEvent::Request {
                        request,
                        want_reply,
                    },
            } => {
                let is_exec = matches!(request, ChannelRequest::Exec { .. });
                if want_reply {
                    let r = conn.channel_reply(channel, is_exec);
                    self.note("channel_reply", r);
                }
                if is_exec {
                    self.exec_channels.push(channel);
                    if let ExecBehaviour::Answer(output) = &self.exec {
                        let output = output.clone();
                        self.answer(conn, channel, &output);
                    }
                }
            }
            Event::Channel {
                id: channel,
                event: ChannelEvent::Data { data } | ChannelEvent::ExtendedData { data, .. },
            } => {
                let r = conn.consume(channel, data.len());
                self.note("consume", r);
            }
            Event::Disconnected { error } => self.disconnected = Some(error),
            _ => {}
        }
    }
}

/// Applies a role's command: the pair hands each application the plain
/// `Connection` of its side, so the role's calls go through `apply`.
fn apply(conn: &mut Connection, command: Command<'_>) -> Result<(), ApiMisuse> {
    conn.apply(command).map(drop)
}
