//! Client role of user authentication (RFC 4252, RFC 4256).
//!
//! The application picks the methods; this module sends the requests, keeps
//! track of which method is in progress (message 60 means PK_OK,
//! PASSWD_CHANGEREQ or INFO_REQUEST depending on it) and turns the server's
//! answers into events. Secrets (passwords, responses) are written straight
//! from the caller's borrowed strings into the outbox and never kept here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    display_text, publickey_signed_data, AuthContext, MAX_PROMPTS, METHOD_KEYBOARD_INTERACTIVE,
    METHOD_NONE, METHOD_PASSWORD, METHOD_PUBLICKEY, SERVICE_CONNECTION, SERVICE_USERAUTH,
};
use crate::error::{ApiMisuse, Error, PeerMisbehaved};
use crate::event::{Event, Prompt};
use crate::keys::PublicKey;
use crate::msg;
use crate::outbox::Outbox;
use crate::wire::{Encode, Reader};

/// Client-side authentication state.
#[derive(Debug, Default)]
pub(crate) struct ClientAuth {
    phase: Phase,
    /// Time the server has to answer each request
    /// ([`crate::ClientConfig::auth_timeout`]).
    answer_timeout: Option<Duration>,
    /// The deadline for the answer to the request in flight.
    answer_deadline: AnswerDeadline,
}

/// The client's deadline for the server's answer to an authentication
/// request. RFC 4252 sets none; without one, a server that stops answering
/// before authentication keeps the client waiting forever, since keepalives
/// only start after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AnswerDeadline {
    /// No request is waiting for an answer (or no timeout is configured).
    #[default]
    Off,
    /// A request was just queued by a mutator, which is given no time: the
    /// deadline counts from the next instant handed in, so time the
    /// application spent before the call (signing, answering prompts)
    /// never counts.
    Starting,
    /// The answer is due by then.
    At(Instant),
}

/// Where the client is in the protocol.
#[derive(Debug, Default)]
enum Phase {
    /// The transport is not up yet; `start` has not been called.
    #[default]
    NotStarted,
    /// SERVICE_REQUEST "ssh-userauth" sent (RFC 4253 section 10).
    AwaitingServiceAccept,
    /// The service is ready and no method is in progress.
    Ready,
    /// A request went out; the server's answer is awaited.
    Awaiting(Outstanding),
    /// The server asked for a new password (RFC 4252 section 8); the
    /// application answers with `change_password` or tries another method.
    PasswordChangeRequested { user: String },
    /// The server accepted the key (PK_OK); the application signs.
    SignatureNeeded {
        user: String,
        key: PublicKey,
        algorithm: String,
    },
    /// The server sent keyboard-interactive prompts; the application answers.
    InfoRequested { prompts: usize },
    /// USERAUTH_SUCCESS received.
    Authenticated,
}

/// The request the server has not answered yet.
#[derive(Debug)]
enum Outstanding {
    None,
    /// A password (or a password change); PASSWD_CHANGEREQ may come back.
    Password {
        user: String,
    },
    /// A publickey query without signature; PK_OK may come back.
    PublicKeyQuery {
        user: String,
        key: PublicKey,
        algorithm: String,
    },
    /// A signed publickey request.
    PublicKeySigned,
    /// keyboard-interactive start or INFO_RESPONSE; INFO_REQUEST may come back.
    KeyboardInteractive,
}

impl ClientAuth {
    /// A client that gives the server `answer_timeout` to answer each
    /// authentication request.
    pub(crate) fn new(answer_timeout: Option<Duration>) -> Self {
        ClientAuth {
            answer_timeout,
            ..ClientAuth::default()
        }
    }

    /// A request was queued (by one of the method calls below): arms the
    /// answer deadline, to start at the next instant handed in.
    pub(crate) fn request_queued(&mut self) {
        if matches!(self.phase, Phase::Awaiting(_)) && self.answer_timeout.is_some() {
            self.answer_deadline = AnswerDeadline::Starting;
        }
    }

    /// Time moved to `now`: a deadline armed since the last instant starts.
    pub(crate) fn start_answer_deadline(&mut self, now: Instant) {
        if self.answer_deadline == AnswerDeadline::Starting {
            self.answer_deadline = match self.answer_timeout {
                Some(t) => AnswerDeadline::At(now + t),
                None => AnswerDeadline::Off,
            };
        }
    }

    /// When the answer to the request in flight is due; `now` (the latest
    /// instant handed in) while its deadline has yet to start, so that the
    /// caller hands in the time at once.
    pub(crate) fn answer_deadline(&self, now: Instant) -> Option<Instant> {
        match self.answer_deadline {
            AnswerDeadline::Off => None,
            AnswerDeadline::Starting => Some(now),
            AnswerDeadline::At(d) => Some(d),
        }
    }

    /// Whether the answer to the request in flight was due by `now`.
    pub(crate) fn answer_overdue(&self, now: Instant) -> bool {
        matches!(self.answer_deadline, AnswerDeadline::At(d) if now >= d)
    }

    /// Whether the server has accepted the user authentication service
    /// (the client's handshake is over).
    pub(crate) fn service_accepted(&self) -> bool {
        !matches!(self.phase, Phase::NotStarted | Phase::AwaitingServiceAccept)
    }

    /// Queues SERVICE_REQUEST "ssh-userauth". Called once, when the first key
    /// exchange is done and the host key accepted.
    pub(crate) fn start(&mut self, out: &mut Outbox) {
        if !matches!(self.phase, Phase::NotStarted) {
            return;
        }
        // RFC 4253 section 10.
        out.message(msg::SERVICE_REQUEST).put_str(SERVICE_USERAUTH);
        self.phase = Phase::AwaitingServiceAccept;
    }

    /// Handles SERVICE_ACCEPT (6) and messages 50..=79.
    pub(crate) fn handle(
        &mut self,
        payload: Bytes,
        ctx: AuthContext<'_>,
        _out: &mut Outbox,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let mut r = Reader::new(&payload);
        let msg_no = r.u8()?;
        let handled = match msg_no {
            msg::SERVICE_ACCEPT => self.on_service_accept(r, events),
            msg::USERAUTH_BANNER => self.on_banner(r, events),
            msg::USERAUTH_FAILURE => self.on_failure(r, events),
            msg::USERAUTH_SUCCESS => self.on_success(r, events),
            // 60: PK_OK, PASSWD_CHANGEREQ and INFO_REQUEST share the number.
            msg::USERAUTH_PK_OK => self.on_method_reply(r, ctx, events),
            other => Err(unexpected(other, "client user authentication")),
        };
        // An answer disarms the deadline; a banner is no answer (RFC 4252
        // section 5.4: it may come at any time), so it leaves it running.
        if !matches!(self.phase, Phase::Awaiting(_)) {
            self.answer_deadline = AnswerDeadline::Off;
        }
        handled
    }

    fn on_service_accept(
        &mut self,
        mut r: Reader<'_>,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        if !matches!(self.phase, Phase::AwaitingServiceAccept) {
            return Err(unexpected(msg::SERVICE_ACCEPT, "with no service request"));
        }
        // RFC 4253 section 10 carries the service name; some old servers
        // leave it out, which OpenSSH tolerates too.
        if !r.is_empty() {
            let service = r.string()?;
            r.end()?;
            if service != SERVICE_USERAUTH.as_bytes() {
                return Err(PeerMisbehaved::UnrequestedServiceAccept.into());
            }
        }
        self.phase = Phase::Ready;
        events.push_back(Event::UserauthReady);
        Ok(())
    }

    fn on_banner(&mut self, mut r: Reader<'_>, events: &mut VecDeque<Event>) -> Result<(), Error> {
        // RFC 4252 section 5.4: any time after the protocol starts and
        // before authentication succeeds.
        if matches!(self.phase, Phase::NotStarted | Phase::Authenticated) {
            return Err(unexpected(msg::USERAUTH_BANNER, "outside authentication"));
        }
        let message = display_text(r.string()?);
        let _language = r.string()?;
        events.push_back(Event::AuthBanner { message });
        Ok(())
    }

    fn on_failure(&mut self, mut r: Reader<'_>, events: &mut VecDeque<Event>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Awaiting(_)) {
            return Err(unexpected(
                msg::USERAUTH_FAILURE,
                "with no request outstanding",
            ));
        }
        // RFC 4252 section 5.1.
        let methods = r.name_list()?.into_iter().map(str::to_string).collect();
        let partial_success = r.bool()?;
        self.phase = Phase::Ready;
        events.push_back(Event::AuthFailure {
            methods,
            partial_success,
        });
        Ok(())
    }

    fn on_success(&mut self, r: Reader<'_>, events: &mut VecDeque<Event>) -> Result<(), Error> {
        if !matches!(self.phase, Phase::Awaiting(_)) {
            return Err(unexpected(
                msg::USERAUTH_SUCCESS,
                "with no request outstanding",
            ));
        }
        r.end()?;
        if let Phase::Awaiting(outstanding) = &self.phase {
            let method = match outstanding {
                Outstanding::None => "none",
                Outstanding::Password { .. } => "password",
                Outstanding::PublicKeyQuery { .. } | Outstanding::PublicKeySigned => "publickey",
                Outstanding::KeyboardInteractive => "keyboard-interactive",
            };
            // ssh(1)'s line; the connection's span names the peer.
            tracing::info!("Authenticated using \"{method}\".");
        }
        self.phase = Phase::Authenticated;
        events.push_back(Event::AuthSuccess);
        Ok(())
    }

    /// Message 60, read according to the method in progress.
    fn on_method_reply(
        &mut self,
        mut r: Reader<'_>,
        ctx: AuthContext<'_>,
        events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        let outstanding = match std::mem::replace(&mut self.phase, Phase::Ready) {
            Phase::Awaiting(outstanding) => outstanding,
            other => {
                self.phase = other;
                return Err(unexpected(60, "with no request outstanding"));
            }
        };
        match outstanding {
            Outstanding::PublicKeyQuery {
                user,
                key,
                algorithm,
            } => {
                // RFC 4252 section 7: PK_OK echoes the algorithm and blob.
                let echoed_algorithm = r.string()?;
                let echoed_blob = r.string()?;
                r.end()?;
                if echoed_algorithm != algorithm.as_bytes() || echoed_blob != key.blob() {
                    return Err(PeerMisbehaved::PkOkForKeyNotOffered.into());
                }
                let data = publickey_signed_data(
                    ctx.session_id,
                    &user,
                    SERVICE_CONNECTION,
                    &algorithm,
                    key.blob(),
                );
                events.push_back(Event::AuthSignatureNeeded {
                    key: key.clone(),
                    algorithm: algorithm.clone(),
                    data,
                });
                self.phase = Phase::SignatureNeeded {
                    user,
                    key,
                    algorithm,
                };
            }
            Outstanding::Password { user } => {
                // RFC 4252 section 8: PASSWD_CHANGEREQ.
                let prompt = display_text(r.string()?);
                let _language = r.string()?;
                events.push_back(Event::AuthPasswordChange { prompt });
                self.phase = Phase::PasswordChangeRequested { user };
            }
            Outstanding::KeyboardInteractive => {
                let (name, instruction, prompts) = read_info_request(&mut r)?;
                let count = prompts.len();
                events.push_back(Event::AuthInfoRequest {
                    name,
                    instruction,
                    prompts,
                });
                self.phase = Phase::InfoRequested { prompts: count };
            }
            Outstanding::None | Outstanding::PublicKeySigned => {
                return Err(unexpected(60, "in reply to a method that has none"));
            }
        }
        Ok(())
    }

    /// Whether USERAUTH_SUCCESS was received.
    pub(crate) fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated)
    }

    /// Checks that a new method may start now: the service is ready and no
    /// request is outstanding. While the server waits for us (signature,
    /// new password, prompt answers) a new method may start instead; the
    /// server then abandons the previous one (RFC 4252 section 5).
    fn can_start_method(&self) -> Result<(), ApiMisuse> {
        match self.phase {
            Phase::Ready
            | Phase::PasswordChangeRequested { .. }
            | Phase::SignatureNeeded { .. }
            | Phase::InfoRequested { .. } => Ok(()),
            Phase::NotStarted | Phase::AwaitingServiceAccept => Err(ApiMisuse::UserauthNotReady),
            Phase::Awaiting(_) => Err(ApiMisuse::AuthInProgress),
            Phase::Authenticated => Err(ApiMisuse::AlreadyAuthenticated),
        }
    }

    /// Tries the `none` method.
    pub(crate) fn none(&mut self, user: &str, out: &mut Outbox) -> Result<(), ApiMisuse> {
        self.can_start_method()?;
        // RFC 4252 section 5.2.
        let mut m = out.message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, user, METHOD_NONE);
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::None);
        Ok(())
    }

    /// Tries a password.
    pub(crate) fn password(
        &mut self,
        user: &str,
        password: &str,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        self.can_start_method()?;
        // RFC 4252 section 8.
        let mut m = out.sensitive_message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, user, METHOD_PASSWORD);
        m.put_bool(false);
        m.put_str(password);
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::Password {
            user: user.to_string(),
        });
        Ok(())
    }

    /// Answers a password change request.
    pub(crate) fn change_password(
        &mut self,
        old: &str,
        new: &str,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let Phase::PasswordChangeRequested { user } = &self.phase else {
            return Err(ApiMisuse::NoPasswordChangeRequested);
        };
        let user = user.clone();
        // RFC 4252 section 8: TRUE, old password, new password.
        let mut m = out.sensitive_message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, &user, METHOD_PASSWORD);
        m.put_bool(true);
        m.put_str(old);
        m.put_str(new);
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::Password { user });
        Ok(())
    }

    /// Offers a public key (query without signature first).
    pub(crate) fn publickey(
        &mut self,
        user: &str,
        key: &PublicKey,
        ctx: AuthContext<'_>,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        self.can_start_method()?;
        let algorithm =
            choose_signature_algorithm(&key.signature_algorithms(), ctx.server_sig_algs)
                .ok_or(ApiMisuse::InvalidArgument("key type cannot sign"))?;
        // RFC 4252 section 7: the query, FALSE and no signature.
        let mut m = out.message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, user, METHOD_PUBLICKEY);
        m.put_bool(false);
        m.put_str(algorithm);
        m.put_string(key.blob());
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::PublicKeyQuery {
            user: user.to_string(),
            key: key.clone(),
            algorithm: algorithm.to_string(),
        });
        Ok(())
    }

    /// Sends the signed publickey request after `AuthSignatureNeeded`.
    pub(crate) fn signature(
        &mut self,
        signature_blob: &[u8],
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let Phase::SignatureNeeded {
            user,
            key,
            algorithm,
        } = &self.phase
        else {
            return Err(ApiMisuse::NoSignatureRequested);
        };
        // Catch a wrong blob here rather than as a silent FAILURE from the
        // server: it must be `string` algorithm, `string` signature.
        let mut r = Reader::new(signature_blob);
        let blob_algorithm = r
            .string()
            .map_err(|_| ApiMisuse::InvalidArgument("not an SSH signature blob"))?;
        r.string()
            .map_err(|_| ApiMisuse::InvalidArgument("not an SSH signature blob"))?;
        // A security key's signature ends with its flags and counter
        // (PROTOCOL.u2f).
        if blob_algorithm.starts_with(b"sk-") {
            r.u8()
                .and_then(|_| r.u32())
                .map_err(|_| ApiMisuse::InvalidArgument("not an SSH signature blob"))?;
        }
        r.end()
            .map_err(|_| ApiMisuse::InvalidArgument("not an SSH signature blob"))?;
        // A certificate algorithm's signature names the plain algorithm
        // (PROTOCOL.certkeys).
        if blob_algorithm != crate::keys::plain_signature_algorithm(algorithm).as_bytes() {
            return Err(ApiMisuse::InvalidArgument(
                "signature made with another algorithm than asked",
            ));
        }
        // RFC 4252 section 7: TRUE, algorithm, key blob, signature.
        let mut m = out.message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, user, METHOD_PUBLICKEY);
        m.put_bool(true);
        m.put_str(algorithm);
        m.put_string(key.blob());
        m.put_string(signature_blob);
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::PublicKeySigned);
        Ok(())
    }

    /// Starts keyboard-interactive.
    pub(crate) fn keyboard_interactive(
        &mut self,
        user: &str,
        submethods: &str,
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        self.can_start_method()?;
        // RFC 4256 section 3.1: language tag (deprecated, empty), submethods.
        let mut m = out.message(msg::USERAUTH_REQUEST);
        put_request_head(&mut m, user, METHOD_KEYBOARD_INTERACTIVE);
        m.put_str("");
        m.put_str(submethods);
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::KeyboardInteractive);
        Ok(())
    }

    /// Answers an info request.
    pub(crate) fn info_response(
        &mut self,
        responses: &[String],
        out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        let Phase::InfoRequested { prompts } = self.phase else {
            return Err(ApiMisuse::NoPromptsPending);
        };
        // RFC 4256 section 3.4: exactly one response per prompt.
        if responses.len() != prompts {
            return Err(ApiMisuse::InvalidArgument(
                "the number of responses must equal the number of prompts",
            ));
        }
        let mut m = out.sensitive_message(msg::USERAUTH_INFO_RESPONSE);
        // At most MAX_PROMPTS, so this always fits.
        m.put_u32(u32::try_from(responses.len()).unwrap_or(u32::MAX));
        for response in responses {
            m.put_str(response);
        }
        drop(m);
        self.phase = Phase::Awaiting(Outstanding::KeyboardInteractive);
        Ok(())
    }
}

/// The fields every USERAUTH_REQUEST starts with (RFC 4252 section 5).
fn put_request_head(m: &mut impl Encode, user: &str, method: &str) {
    m.put_str(user);
    m.put_str(SERVICE_CONNECTION);
    m.put_str(method);
}

/// The signature algorithm to offer a key with, given the key's algorithms
/// (`ours`, most preferred first): the first of ours the server lists in
/// `server-sig-algs` (RFC 8308 section 3.1), else our preferred one. A
/// server that lists none of them may still accept the key's own algorithm
/// (as OpenSSH's client assumes for non-RSA keys). This matters for RSA
/// keys, where `rsa-sha2-512`, `rsa-sha2-256` and `ssh-rsa` share one blob.
fn choose_signature_algorithm(
    ours: &[&'static str],
    server_sig_algs: Option<&[String]>,
) -> Option<&'static str> {
    // A certificate's algorithm is listed by the server either as such or
    // by its plain name (OpenSSH lists only plain names and matches
    // certificates by them, sshconnect2.c `key_sig_algorithm`).
    let listed = |theirs: &[String], a: &str| {
        let plain = crate::keys::plain_signature_algorithm(a);
        theirs.iter().any(|t| t == a || t == plain)
    };
    server_sig_algs
        .and_then(|theirs| ours.iter().copied().find(|a| listed(theirs, a)))
        .or_else(|| ours.first().copied())
}

/// INFO_REQUEST after the message number (RFC 4256 section 3.2).
fn read_info_request(r: &mut Reader<'_>) -> Result<(String, String, Vec<Prompt>), Error> {
    let name = display_text(r.string()?);
    let instruction = display_text(r.string()?);
    let _language = r.string()?;
    let count = r.u32()?;
    if usize::try_from(count).map_or(true, |n| n > MAX_PROMPTS) {
        return Err(PeerMisbehaved::TooManyPrompts.into());
    }
    let mut prompts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let prompt = display_text(r.string()?);
        let echo = r.bool()?;
        prompts.push(Prompt { prompt, echo });
    }
    r.end()?;
    Ok((name, instruction, prompts))
}

fn unexpected(msg: u8, state: &'static str) -> Error {
    PeerMisbehaved::UnexpectedMessage { msg, state }.into()
}

#[cfg(test)]
mod tests {
    use super::choose_signature_algorithm;

    #[test]
    fn signature_algorithm_is_the_first_of_ours_the_server_lists() {
        let rsa = ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
        let listed = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let theirs = listed(&["ssh-ed25519", "ssh-rsa", "rsa-sha2-256"]);
        assert_eq!(
            choose_signature_algorithm(&rsa, Some(&theirs)),
            Some("rsa-sha2-256")
        );
        // Nothing in common, or no list: our preferred one.
        let theirs = listed(&["ssh-ed25519"]);
        assert_eq!(
            choose_signature_algorithm(&rsa, Some(&theirs)),
            Some("rsa-sha2-512")
        );
        assert_eq!(choose_signature_algorithm(&rsa, None), Some("rsa-sha2-512"));
        assert_eq!(choose_signature_algorithm(&[], None), None);
    }
}
