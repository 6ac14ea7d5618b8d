//! Mutators for the decisions on authentication: the client's on the host
//! key and its authentication attempts, the server's on each request.

use std::borrow::Cow;

use crate::auth::{AuthContext, AuthDecision, ClientAuth};
use crate::error::{ApiMisuse, Error};
#[cfg(doc)]
use crate::event::Event;
use crate::keys::PublicKey;
use crate::outbox::Outbox;
use crate::record::Call;

use super::{Auth, Connection};

impl Connection {
    // ------------------------------------------------------------------
    // Mutators: client decisions and authentication
    // ------------------------------------------------------------------

    fn client_auth(&mut self, what: &'static str) -> Result<&mut ClientAuth, Error> {
        match &mut self.auth {
            Auth::Client(a) => Ok(a),
            Auth::Server(_) => Err(ApiMisuse::WrongRole(what, "client").into()),
        }
    }

    /// What every client authentication call does: check the role and that
    /// the connection is open, then let `step` queue its request with the
    /// session's context (what a public key signs, RFC 4252 section 7).
    fn client_auth_step(
        &mut self,
        what: &'static str,
        step: impl FnOnce(&mut ClientAuth, AuthContext<'_>, &mut Outbox) -> Result<(), ApiMisuse>,
    ) -> Result<(), Error> {
        self.client_auth(what)?;
        self.mutate(|c| {
            let ctx = AuthContext {
                session_id: c.transport.session_id().unwrap_or(&[]),
                server_sig_algs: c.transport.server_sig_algs(),
            };
            match &mut c.auth {
                Auth::Client(a) => {
                    step(a, ctx, &mut c.outbox)?;
                    a.request_queued();
                    Ok(())
                }
                Auth::Server(_) => Err(ApiMisuse::WrongRole(what, "client").into()),
            }
        })
    }

    /// Accepts the host key from [`Event::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), Error> {
        self.recorded(
            |_| Call::AcceptHostKey,
            |c| {
                c.client_auth("accept_host_key")?;
                c.mutate(|c| {
                    c.transport.accept_host_key(c.now, &mut *c.rng)?;
                    // Packets that arrived while we waited can be processed now.
                    c.process_input()
                })
            },
        )
    }

    /// Rejects the host key from [`Event::HostKey`]: the connection ends with
    /// DISCONNECT `host key not verifiable` and [`Error::HostKeyRejected`].
    pub fn reject_host_key(&mut self) -> Result<(), Error> {
        self.recorded(
            |_| Call::RejectHostKey,
            |c| {
                c.client_auth("reject_host_key")?;
                c.check_open()?;
                c.fail(Error::HostKeyRejected);
                Ok(())
            },
        )
    }

    /// Tries authentication method `none` (mostly to learn the methods).
    pub fn auth_none(&mut self, user: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthNone { user: user.into() },
            |c| c.client_auth_step("auth_none", |a, _, out| a.none(user, out)),
        )
    }

    /// Tries a password (RFC 4252 section 8).
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthPassword {
                user: user.into(),
                password: password.into(),
            },
            |c| c.client_auth_step("auth_password", |a, _, out| a.password(user, password, out)),
        )
    }

    /// Answers [`Event::AuthPasswordChange`].
    pub fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthChangePassword {
                old: old.into(),
                new: new.into(),
            },
            |c| {
                c.client_auth_step("auth_change_password", |a, _, out| {
                    a.change_password(old, new, out)
                })
            },
        )
    }

    /// Offers a public key (RFC 4252 section 7). The server is asked first
    /// without a signature; if it accepts the key,
    /// [`Event::AuthSignatureNeeded`] asks for the signature.
    pub fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthPublickey {
                user: user.into(),
                key: Cow::Borrowed(key),
            },
            |c| {
                c.client_auth_step("auth_publickey", |a, ctx, out| {
                    a.publickey(user, key, ctx, out)
                })
            },
        )
    }

    /// Answers [`Event::AuthSignatureNeeded`] with an SSH signature blob
    /// (`string` algorithm, `string` signature).
    pub fn auth_signature(&mut self, signature_blob: &[u8]) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthSignature {
                blob: signature_blob.into(),
            },
            |c| {
                c.client_auth_step("auth_signature", |a, _, out| {
                    a.signature(signature_blob, out)
                })
            },
        )
    }

    /// Starts keyboard-interactive authentication (RFC 4256).
    pub fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthKeyboardInteractive {
                user: user.into(),
                submethods: submethods.into(),
            },
            |c| {
                c.client_auth_step("auth_keyboard_interactive", |a, _, out| {
                    a.keyboard_interactive(user, submethods, out)
                })
            },
        )
    }

    /// Answers [`Event::AuthInfoRequest`], one response per prompt.
    pub fn auth_info_response(&mut self, responses: &[String]) -> Result<(), Error> {
        self.recorded(
            |_| Call::AuthInfoResponse {
                responses: responses.into(),
            },
            |c| {
                c.client_auth_step("auth_info_response", |a, _, out| {
                    a.info_response(responses, out)
                })
            },
        )
    }

    // ------------------------------------------------------------------
    // Mutators: server decisions
    // ------------------------------------------------------------------

    /// Server: answers the pending [`Event::AuthRequest`].
    pub fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), Error> {
        if self.recorder.is_some() {
            let copy = decision.clone();
            return self.recorded(
                |_| Call::AuthDecision {
                    decision: Cow::Borrowed(&copy),
                },
                |c| c.decide_auth(decision),
            );
        }
        self.decide_auth(decision)
    }

    fn decide_auth(&mut self, decision: AuthDecision) -> Result<(), Error> {
        let Auth::Server(_) = &self.auth else {
            return Err(ApiMisuse::WrongRole("auth_decision", "server").into());
        };
        self.check_open()?;
        let was_authenticated = self.is_authenticated();
        let Auth::Server(a) = &mut self.auth else {
            return Err(ApiMisuse::WrongRole("auth_decision", "server").into());
        };
        let r = a.decide(decision, &mut self.outbox, &mut self.events);
        let r = match r {
            Err(e @ Error::ApiMisuse(_)) => Err(e),
            Err(e) => Err(self.fail(e)),
            Ok(()) => Ok(()),
        };
        if !was_authenticated && self.is_authenticated() {
            self.on_authenticated();
        }
        self.after_progress();
        r
    }
}
