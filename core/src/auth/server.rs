//! Server role of user authentication (RFC 4252, RFC 4256).
//!
//! Every USERAUTH_REQUEST the connection can judge by itself (a method not
//! offered, a key it cannot parse, a signature that does not verify) is
//! answered at once; every other one becomes an [`Event::AuthRequest`] and
//! waits for the application's [`AuthDecision`]. Requests arriving meanwhile
//! wait in a small bounded queue and are taken in order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zeroize::Zeroizing;

use super::{
    display_text, publickey_signed_data, AuthContext, AuthDecision, MAX_PROMPTS,
    METHOD_KEYBOARD_INTERACTIVE, METHOD_NONE, METHOD_PASSWORD, METHOD_PUBLICKEY,
    SERVICE_CONNECTION, SERVICE_USERAUTH,
};
use crate::error::{ApiMisuse, Error, PeerIncompatible, PeerMisbehaved};
use crate::event::{AuthAttempt, Event};
use crate::keys::PublicKey;
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

/// Most requests held while the application decides on an earlier one. A
/// client has no reason to pipeline more than a couple; past this it is
/// trying to make us buffer.
const MAX_QUEUED: usize = 16;

/// Server-side authentication settings, from `ServerConfig`.
#[derive(Debug, Clone)]
pub(crate) struct ServerAuthConfig {
    /// Methods offered.
    pub methods: Vec<String>,
    /// Failed attempts before DISCONNECT (14).
    pub max_attempts: u32,
    /// Banner to send before the first USERAUTH_FAILURE / with the first reply.
    pub banner: Option<String>,
    /// Least time between a request and its USERAUTH_FAILURE (see
    /// `FailureDelay`); `None`: answer at once.
    pub failure_delay: Option<Duration>,
    /// Mixed with the user name into the user-specific part of the delay.
    pub timing_secret: [u8; 32],
}

/// Server-side authentication state.
#[derive(Debug)]
pub(crate) struct ServerAuth {
    config: ServerAuthConfig,
    phase: Phase,
    /// Copied from the transport on each message; signed data needs it when
    /// queued requests are processed from `decide`.
    session_id: Vec<u8>,
    banner_sent: bool,
    /// Methods that may continue, as listed in USERAUTH_FAILURE.
    methods_left: Vec<String>,
    /// The user who achieved partial success; the rest of the methods must
    /// be for the same user (as OpenSSH insists for all of them).
    partial_user: Option<String>,
    /// Failed attempts so far (not `none`, not publickey queries).
    failures: u32,
    /// The request waiting for the application's decision.
    pending: Option<Pending>,
    /// Requests (50) and responses (61) that arrived while one was pending.
    /// They may hold passwords, so they are wiped when dropped.
    queue: VecDeque<Zeroizing<Vec<u8>>>,
    /// keyboard-interactive prompts sent, INFO_RESPONSE awaited.
    keyboard: Option<KeyboardExchange>,
    /// The latest time handed to the connection.
    now: Instant,
    /// When the request being processed began (its failure is timed from it).
    started: Instant,
    /// A USERAUTH_FAILURE held back until its time (see `FailureDelay`);
    /// nothing more is processed meanwhile.
    held: Option<HeldFailure>,
}

/// A USERAUTH_FAILURE waiting for its time.
///
/// OpenSSH (auth2.c, `ensure_minimum_time_since` and `user_specific_delay`)
/// answers a failed request no sooner than 5 ms plus up to 4.2 ms derived
/// from a hash of a server secret and the user name after the request
/// began, doubling that time until it exceeds what the check took. The
/// answer to a user that does not exist then comes after the same time as
/// to one whose password was wrong (a check shorter than the delay leaves
/// no trace), and the delay also paces guessing on one connection. The
/// core reads no clock: the time the decision came is the first instant
/// handed in after it (`handle_timeout` is due at once), when `release` is
/// fixed.
#[derive(Debug)]
struct HeldFailure {
    /// The user-specific minimum for this request.
    delay: Duration,
    /// When the failure goes out; `None` until the decision's time is known.
    release: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Until SERVICE_REQUEST "ssh-userauth" (RFC 4253 section 10).
    AwaitingServiceRequest,
    /// Accepting USERAUTH_REQUESTs.
    Running,
    /// USERAUTH_SUCCESS sent.
    Authenticated,
}

/// A request the application is deciding on.
#[derive(Debug)]
struct Pending {
    user: String,
    kind: PendingKind,
}

#[derive(Debug)]
enum PendingKind {
    None,
    PublicKeyQuery {
        algorithm: String,
        key_blob: Vec<u8>,
    },
    PublicKeySigned,
    Password,
    KeyboardInteractive {
        submethods: String,
    },
}

impl PendingKind {
    /// Whether refusing it counts towards the attempt limit (as OpenSSH,
    /// `none` does not; by our API, neither does a publickey query).
    fn counts_as_attempt(&self) -> bool {
        !matches!(self, PendingKind::None | PendingKind::PublicKeyQuery { .. })
    }
}

/// An INFO_REQUEST sent and not answered yet (RFC 4256 section 3.2).
#[derive(Debug)]
struct KeyboardExchange {
    user: String,
    submethods: String,
    prompts: usize,
}

impl ServerAuth {
    /// A new server auth state.
    pub(crate) fn new(config: ServerAuthConfig, now: Instant) -> Self {
        // RFC 4252 section 5.2: "none" MUST NOT be listed as a method.
        let methods_left = config
            .methods
            .iter()
            .filter(|m| *m != METHOD_NONE)
            .cloned()
            .collect();
        ServerAuth {
            config,
            phase: Phase::AwaitingServiceRequest,
            session_id: Vec::new(),
            banner_sent: false,
            methods_left,
            partial_user: None,
            failures: 0,
            pending: None,
            queue: VecDeque::new(),
            keyboard: None,
            now,
            started: now,
            held: None,
        }
    }

    /// The latest time handed to the connection.
    pub(crate) fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// When a held USERAUTH_FAILURE is due to go out, if one is held.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        // Until the time of the decision is known, due at once: the next
        // instant handed in fixes the release.
        self.held.as_ref().map(|h| h.release.unwrap_or(self.now))
    }

    /// Sends a held USERAUTH_FAILURE whose time has come, then processes
    /// the requests that queued behind it.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        self.now = now;
        let Some(held) = &mut self.held else {
            return Ok(());
        };
        let release = *held.release.get_or_insert_with(|| {
            let elapsed = now.saturating_duration_since(self.started);
            let mut delay = held.delay;
            while delay <= elapsed && !delay.is_zero() {
                delay = delay.saturating_mul(2);
            }
            self.started + delay
        });
        if now < release {
            return Ok(());
        }
        self.held = None;
        self.send_failure(false, out);
        self.drain_queue(out, events)
    }

    /// OpenSSH's `user_specific_delay`: the minimum plus up to 4.29 ms
    /// from a hash of the secret and the user name, the same for every
    /// attempt on `user` and as likely for a user that does not exist.
    fn user_delay(&self, minimum: Duration, user: &str) -> Duration {
        use sha2::{Digest, Sha512};
        let hash = Sha512::new()
            .chain_update(self.config.timing_secret)
            .chain_update(user.as_bytes())
            .finalize();
        let word = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]);
        // A u32 of picoseconds: 0 to 4.29 ms, as OpenSSH's PEEK_U32 / 1e12 s.
        minimum + Duration::from_nanos(u64::from(word) / 1000)
    }
    /// Handles SERVICE_REQUEST (5) and messages 50..=79.
    pub(crate) fn handle(
        &mut self,
        payload: Bytes,
        ctx: AuthContext<'_>,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        if self.session_id != ctx.session_id {
            self.session_id = ctx.session_id.to_vec();
        }
        let msg_no = Reader::new(&payload).u8()?;
        match (self.phase, msg_no) {
            (Phase::AwaitingServiceRequest, msg::SERVICE_REQUEST) => {
                self.on_service_request(&payload, out)
            }
            (Phase::AwaitingServiceRequest, other) => {
                Err(unexpected(other, "before the ssh-userauth service request"))
            }
            (Phase::Running, msg::USERAUTH_REQUEST | msg::USERAUTH_INFO_RESPONSE) => {
                if self.pending.is_some() || self.held.is_some() || !self.queue.is_empty() {
                    if self.queue.len() >= MAX_QUEUED {
                        return Err(PeerMisbehaved::TooManyQueuedAuthRequests.into());
                    }
                    self.queue.push_back(Zeroizing::new(payload.to_vec()));
                    return Ok(());
                }
                self.process(&payload, out, events)
            }
            (Phase::Running, other) => Err(unexpected(other, "during user authentication")),
            // RFC 4252 section 5.1: requests after success are ignored.
            (Phase::Authenticated, msg::USERAUTH_REQUEST) => Ok(()),
            (Phase::Authenticated, other) => Err(unexpected(other, "after authentication")),
        }
    }

    fn on_service_request(&mut self, payload: &[u8], out: &mut Outbox) -> Result<(), Error> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let service = r.string()?;
        r.end()?;
        if service != SERVICE_USERAUTH.as_bytes() {
            // RFC 4253 section 10: DISCONNECT (7) for a service we do not run.
            return Err(PeerIncompatible::ServiceNotAvailable(display_text(service)).into());
        }
        out.message(msg::SERVICE_ACCEPT).put_str(SERVICE_USERAUTH);
        self.phase = Phase::Running;
        Ok(())
    }

    /// Processes one USERAUTH_REQUEST or INFO_RESPONSE, now that nothing is
    /// pending.
    fn process(
        &mut self,
        payload: &[u8],
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        self.started = self.now;
        match payload.first().copied() {
            Some(msg::USERAUTH_REQUEST) => self.on_request(payload, out, events),
            Some(msg::USERAUTH_INFO_RESPONSE) => self.on_info_response(payload, out, events),
            other => Err(unexpected(other.unwrap_or(0), "during user authentication")),
        }
    }

    /// USERAUTH_REQUEST (RFC 4252 section 5).
    fn on_request(
        &mut self,
        payload: &[u8],
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(payload);
        r.u8()?;
        let user = r.utf8()?;
        let service = r.utf8()?;
        let method = r.utf8()?;
        // A new request abandons a keyboard-interactive exchange in progress
        // (RFC 4252 section 5).
        self.keyboard = None;
        self.send_banner_once(out);
        if self.partial_user.as_deref().is_some_and(|u| u != user) {
            return Err(PeerMisbehaved::UserChangedAfterPartialSuccess.into());
        }
        let is_query = method == METHOD_PUBLICKEY && r.clone().bool() == Ok(false);
        let counts = method != METHOD_NONE && !is_query;
        // OpenSSH holds back every failure but `none`'s (auth2.c,
        // input_userauth_request): `none` is how a client asks which
        // methods to try, and answering it late would slow every login.
        let delayed = method != METHOD_NONE;
        if service != SERVICE_CONNECTION {
            return self.fail_at_once(counts, delayed, user, out);
        }
        let (kind, attempt) = match method {
            // RFC 4252 section 5.2: the application may let users in with
            // `none`, so it is asked rather than refused here.
            METHOD_NONE => (PendingKind::None, AuthAttempt::None),
            m if !self.methods_left.iter().any(|allowed| allowed == m) => {
                return self.fail_at_once(counts, delayed, user, out);
            }
            METHOD_PUBLICKEY => match self.read_publickey(user, service, &mut r)? {
                Some(parsed) => parsed,
                None => return self.fail_at_once(counts, delayed, user, out),
            },
            METHOD_PASSWORD => {
                // RFC 4252 section 8.
                // Held wiped-on-drop until they move into the event, so a
                // malformed request leaves no copy behind.
                let changing = r.bool()?;
                let mut password = Zeroizing::new(r.utf8()?.to_string());
                let mut new_password = Zeroizing::new(None);
                if changing {
                    *new_password = Some(r.utf8()?.to_string());
                }
                r.end()?;
                (
                    PendingKind::Password,
                    AuthAttempt::Password {
                        password: std::mem::take(&mut *password),
                        new_password: new_password.take(),
                    },
                )
            }
            METHOD_KEYBOARD_INTERACTIVE => {
                // RFC 4256 section 3.1.
                let _language = r.string()?;
                let submethods = r.utf8()?.to_string();
                r.end()?;
                (
                    PendingKind::KeyboardInteractive {
                        submethods: submethods.clone(),
                    },
                    AuthAttempt::KeyboardInteractive {
                        submethods,
                        responses: Vec::new(),
                    },
                )
            }
            // Configured, but not a method this library implements.
            _ => return self.fail_at_once(counts, delayed, user, out),
        };
        self.ask(user.to_string(), kind, attempt, events);
        Ok(())
    }

    /// The publickey fields (RFC 4252 section 7). `None` when the key cannot
    /// be used or the signature does not verify: refused without asking.
    fn read_publickey(
        &self,
        user: &str,
        service: &str,
        r: &mut Reader<'_>,
    ) -> Result<Option<(PendingKind, AuthAttempt)>, Error> {
        let signed = r.bool()?;
        let algorithm = r.utf8()?;
        let key_blob = r.string()?;
        let signature = if signed { Some(r.string()?) } else { None };
        r.end()?;
        let Ok(key) = PublicKey::from_blob(key_blob) else {
            return Ok(None);
        };
        if !key.signature_algorithms().contains(&algorithm) {
            return Ok(None);
        }
        let kind = match signature {
            Some(signature) => {
                let data =
                    publickey_signed_data(&self.session_id, user, service, algorithm, key_blob);
                if !key.verify(algorithm, &data, signature) {
                    return Ok(None);
                }
                PendingKind::PublicKeySigned
            }
            None => PendingKind::PublicKeyQuery {
                algorithm: algorithm.to_string(),
                key_blob: key_blob.to_vec(),
            },
        };
        Ok(Some((kind, AuthAttempt::PublicKey { key, signed })))
    }

    /// INFO_RESPONSE (RFC 4256 section 3.4).
    fn on_info_response(
        &mut self,
        payload: &[u8],
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let Some(exchange) = self.keyboard.take() else {
            return Err(unexpected(
                msg::USERAUTH_INFO_RESPONSE,
                "with no keyboard-interactive prompts outstanding",
            ));
        };
        let mut r = Reader::new(payload);
        r.u8()?;
        let count = r.u32()?;
        if usize::try_from(count).ok() != Some(exchange.prompts) {
            // RFC 4256 section 3.4: a count that does not match the prompts
            // gets a failure message.
            return self.fail_at_once(true, true, &exchange.user, out);
        }
        // The answers may be passwords: wiped on drop until they move into
        // the event (the vector is sized first, so it never reallocates).
        let mut responses = Zeroizing::new(Vec::with_capacity(exchange.prompts));
        for _ in 0..count {
            responses.push(r.utf8()?.to_string());
        }
        r.end()?;
        let attempt = AuthAttempt::KeyboardInteractive {
            submethods: exchange.submethods.clone(),
            responses: std::mem::take(&mut *responses),
        };
        let kind = PendingKind::KeyboardInteractive {
            submethods: exchange.submethods,
        };
        self.ask(exchange.user, kind, attempt, events);
        Ok(())
    }

    /// Raises the event and waits for `decide`.
    fn ask(
        &mut self,
        user: String,
        kind: PendingKind,
        attempt: AuthAttempt,
        events: &mut VecDeque<Event>,
    ) {
        events.push_back(Event::AuthRequest {
            user: user.clone(),
            service: SERVICE_CONNECTION.to_string(),
            attempt,
        });
        self.pending = Some(Pending { user, kind });
    }

    /// Applies the application's decision on the pending `AuthRequest`.
    pub(crate) fn decide(
        &mut self,
        decision: AuthDecision,
        out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let Some(pending) = &self.pending else {
            return Err(ApiMisuse::NoAuthRequestPending.into());
        };
        check_decision_fits(&decision, &pending.kind)?;
        let Some(Pending { user, kind }) = self.pending.take() else {
            return Err(ApiMisuse::NoAuthRequestPending.into());
        };
        log_decision(&decision, &kind, &user);
        match decision {
            AuthDecision::Accept => match kind {
                // RFC 4252 section 7: PK_OK echoes algorithm and blob.
                PendingKind::PublicKeyQuery {
                    algorithm,
                    key_blob,
                } => {
                    let mut m = out.message(msg::USERAUTH_PK_OK);
                    m.put_str(&algorithm);
                    m.put_string(&key_blob);
                }
                _ => {
                    self.succeed(user, out, events);
                    return Ok(());
                }
            },
            AuthDecision::Reject => {
                let delayed = !matches!(kind, PendingKind::None);
                self.fail_at_once(kind.counts_as_attempt(), delayed, &user, out)?
            }
            AuthDecision::Partial { methods } => {
                // RFC 4252 section 5.1: partial success lists what may continue.
                self.methods_left = methods.into_iter().filter(|m| m != METHOD_NONE).collect();
                self.partial_user = Some(user);
                self.send_failure(true, out);
            }
            AuthDecision::InfoRequest {
                name,
                instruction,
                prompts,
            } => {
                // RFC 4256 section 3.2.
                let mut m = out.message(msg::USERAUTH_INFO_REQUEST);
                m.put_str(&name);
                m.put_str(&instruction);
                m.put_str("");
                m.put_u32(u32::try_from(prompts.len()).unwrap_or(u32::MAX));
                for p in &prompts {
                    m.put_str(&p.prompt);
                    m.put_bool(p.echo);
                }
                drop(m);
                // check_decision_fits lets InfoRequest through only for this kind.
                if let PendingKind::KeyboardInteractive { submethods } = kind {
                    self.keyboard = Some(KeyboardExchange {
                        user,
                        submethods,
                        prompts: prompts.len(),
                    });
                }
            }
            AuthDecision::ChangePassword { prompt } => {
                // RFC 4252 section 8: prompt, language tag.
                let mut m = out.message(msg::USERAUTH_PASSWD_CHANGEREQ);
                m.put_str(&prompt);
                m.put_str("");
            }
        }
        self.drain_queue(out, events)
    }

    /// Processes queued requests until one waits for the application again.
    fn drain_queue(&mut self, out: &mut Outbox, events: &mut VecDeque<Event>) -> Result<(), Error> {
        while self.pending.is_none() && self.held.is_none() && self.phase == Phase::Running {
            let Some(payload) = self.queue.pop_front() else {
                break;
            };
            self.process(&payload, out, events)?;
        }
        Ok(())
    }

    fn succeed(&mut self, user: String, out: &mut Outbox, events: &mut VecDeque<Event>) {
        out.message(msg::USERAUTH_SUCCESS);
        self.phase = Phase::Authenticated;
        self.keyboard = None;
        // RFC 4252 section 5.1: anything sent after this is ignored.
        self.queue.clear();
        events.push_back(Event::Authenticated { user });
    }

    /// Answers FAILURE, counting the attempt if it counts. The attempt that
    /// reaches the limit ends the connection instead, as OpenSSH's
    /// MaxAuthTries does (DISCONNECT 14, RFC 4252 section 4).
    ///
    /// With a `failure_delay` and `delayed` (every method but `none`) the
    /// FAILURE is held back (see `HeldFailure`), and requests arriving
    /// meanwhile wait behind it.
    fn fail_at_once(
        &mut self,
        counts: bool,
        delayed: bool,
        user: &str,
        out: &mut Outbox,
    ) -> Result<(), Error> {
        if counts {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.config.max_attempts {
                return Err(PeerMisbehaved::TooManyAuthAttempts.into());
            }
        }
        match self.config.failure_delay.filter(|_| delayed) {
            Some(minimum) => {
                self.held = Some(HeldFailure {
                    delay: self.user_delay(minimum, user),
                    release: None,
                });
            }
            None => self.send_failure(false, out),
        }
        Ok(())
    }

    fn send_failure(&mut self, partial_success: bool, out: &mut Outbox) {
        let mut m = out.message(msg::USERAUTH_FAILURE);
        m.put_name_list(&self.methods_left);
        m.put_bool(partial_success);
    }

    /// RFC 4252 section 5.4: the banner goes before the first reply.
    fn send_banner_once(&mut self, out: &mut Outbox) {
        if self.banner_sent {
            return;
        }
        self.banner_sent = true;
        if let Some(banner) = &self.config.banner {
            let mut m = out.message(msg::USERAUTH_BANNER);
            m.put_str(banner);
            m.put_str("");
        }
    }

    /// Whether a user is authenticated.
    pub(crate) fn is_authenticated(&self) -> bool {
        self.phase == Phase::Authenticated
    }
}

/// Refuses decisions that make no sense for the pending attempt, leaving it
/// pending so the application can answer again.
fn check_decision_fits(decision: &AuthDecision, kind: &PendingKind) -> Result<(), ApiMisuse> {
    match (decision, kind) {
        (AuthDecision::Accept | AuthDecision::Reject, _) => Ok(()),
        (AuthDecision::Partial { .. }, PendingKind::PublicKeyQuery { .. }) => Err(
            ApiMisuse::InvalidArgument("a publickey query can only be accepted or rejected"),
        ),
        (AuthDecision::Partial { methods }, _) => {
            if methods.iter().all(|m| m == METHOD_NONE) {
                Err(ApiMisuse::InvalidArgument(
                    "partial success must name the methods that may continue",
                ))
            } else {
                Ok(())
            }
        }
        (AuthDecision::InfoRequest { prompts, .. }, PendingKind::KeyboardInteractive { .. }) => {
            if prompts.len() > MAX_PROMPTS {
                Err(ApiMisuse::InvalidArgument(
                    "too many keyboard-interactive prompts",
                ))
            } else {
                Ok(())
            }
        }
        (AuthDecision::InfoRequest { .. }, _) => Err(ApiMisuse::InvalidArgument(
            "InfoRequest answers only keyboard-interactive attempts",
        )),
        (AuthDecision::ChangePassword { .. }, PendingKind::Password) => Ok(()),
        (AuthDecision::ChangePassword { .. }, _) => Err(ApiMisuse::InvalidArgument(
            "ChangePassword answers only password attempts",
        )),
    }
}

/// sshd's log line for a decision ("Accepted password for alice"): the
/// method and the user, never what was sent.
fn log_decision(decision: &AuthDecision, kind: &PendingKind, user: &str) {
    let method = match kind {
        PendingKind::None => "none",
        PendingKind::PublicKeyQuery { .. } => return,
        PendingKind::PublicKeySigned => "publickey",
        PendingKind::Password => "password",
        PendingKind::KeyboardInteractive { .. } => "keyboard-interactive",
    };
    // `none` is every client's first probe: not worth sshd's log.
    if method == "none" {
        tracing::debug!("{decision:?} none for {user}");
        return;
    }
    match decision {
        AuthDecision::Accept => tracing::info!("Accepted {method} for {user}"),
        AuthDecision::Reject => tracing::info!("Failed {method} for {user}"),
        AuthDecision::Partial { .. } => {
            tracing::info!("Partial authentication: {method} for {user}");
        }
        AuthDecision::InfoRequest { .. } | AuthDecision::ChangePassword { .. } => {}
    }
}

fn unexpected(msg: u8, state: &'static str) -> Error {
    PeerMisbehaved::UnexpectedMessage { msg, state }.into()
}
