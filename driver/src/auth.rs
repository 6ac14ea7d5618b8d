//! Client user authentication (RFC 4252, RFC 4256): one call per method and
//! [`Session::authenticate`], which walks the server's list of methods the
//! way `ssh` does.

use std::borrow::Cow;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use conch_core::{Command, Event, KeyError, PrivateKey, Prompt, PublicKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::session::Session;
use crate::shared::{lock, Shared};

/// How one authentication attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthResult {
    /// Logged in: channels may be opened.
    Success,
    /// Not accepted. `methods` may continue; `partial_success` says the
    /// method worked but the server wants more (RFC 4252 section 5.1).
    Failure {
        /// Methods that can continue.
        methods: Vec<String>,
        /// Whether this method succeeded partially.
        partial_success: bool,
    },
    /// The password is expired; call [`Session::auth_change_password`]
    /// (RFC 4252 section 8).
    PasswordChangeRequired {
        /// The server's prompt.
        prompt: String,
    },
}

impl AuthResult {
    /// Whether this is [`AuthResult::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, AuthResult::Success)
    }
}

/// A boxed signing future (see [`Signer`]).
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, KeyError>> + Send + 'a>>;

/// Something that signs with a private key for public key authentication: a
/// key in memory, an agent, a hardware token.
pub trait Signer: Send + Sync {
    /// The public key offered to the server.
    fn public_key(&self) -> PublicKey;

    /// Signs `data` with `algorithm` (e.g. `ssh-ed25519`, `rsa-sha2-512`) and
    /// returns the SSH signature blob (`string` algorithm, `string` signature).
    fn sign<'a>(&'a self, algorithm: &'a str, data: &'a [u8]) -> SignFuture<'a>;
}

impl Signer for PrivateKey {
    fn public_key(&self) -> PublicKey {
        PrivateKey::public_key(self).clone()
    }

    fn sign<'a>(&'a self, algorithm: &'a str, data: &'a [u8]) -> SignFuture<'a> {
        Box::pin(std::future::ready(PrivateKey::sign(self, algorithm, data)))
    }
}

/// Answers keyboard-interactive prompts (RFC 4256 section 3.2).
pub trait KeyboardInteractive: Send {
    /// One answer per prompt, or `None` to give up ([`Error::Cancelled`]).
    /// `name` and `instruction` may be empty, and so may `prompts` (then
    /// answer with an empty list).
    fn respond(&mut self, name: &str, instruction: &str, prompts: &[Prompt])
        -> Option<Vec<String>>;
}

impl<F> KeyboardInteractive for F
where
    F: FnMut(&str, &str, &[Prompt]) -> Option<Vec<String>> + Send,
{
    fn respond(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: &[Prompt],
    ) -> Option<Vec<String>> {
        self(name, instruction, prompts)
    }
}

/// Answers every keyboard-interactive prompt with one password: what PAM
/// servers asking "Password:" through keyboard-interactive want. The
/// password is zeroized when the responder is dropped.
#[derive(Clone)]
pub struct PasswordResponder(pub String);

impl Zeroize for PasswordResponder {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for PasswordResponder {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for PasswordResponder {}

impl fmt::Debug for PasswordResponder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordResponder(..)")
    }
}

impl KeyboardInteractive for PasswordResponder {
    fn respond(&mut self, _: &str, _: &str, prompts: &[Prompt]) -> Option<Vec<String>> {
        Some(prompts.iter().map(|_| self.0.clone()).collect())
    }
}

/// The credentials [`Session::authenticate`] may use, each tried when the
/// server lists its method: keys first (in order), then the password, then
/// keyboard-interactive, as OpenSSH's default `PreferredAuthentications`.
/// The password is zeroized when the methods are dropped.
#[derive(Default)]
pub struct AuthMethods {
    /// Keys or agents to offer, in order.
    pub signers: Vec<Arc<dyn Signer>>,
    /// A password, tried once.
    pub password: Option<String>,
    /// A responder for keyboard-interactive, tried once.
    pub keyboard_interactive: Option<Box<dyn KeyboardInteractive>>,
    /// The methods in the order to try them, as ssh's
    /// `PreferredAuthentications` (`publickey`, `password`,
    /// `keyboard-interactive`; others are skipped); methods not listed are
    /// not used. `None`: publickey, password, then keyboard-interactive.
    pub preferred: Option<Vec<String>>,
}

impl fmt::Debug for AuthMethods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthMethods")
            .field(
                "signers",
                &self
                    .signers
                    .iter()
                    .map(|s| s.public_key())
                    .collect::<Vec<_>>(),
            )
            .field("password", &self.password.as_ref().map(|_| ".."))
            .field("keyboard_interactive", &self.keyboard_interactive.is_some())
            .field("preferred", &self.preferred)
            .finish()
    }
}

/// Wipes the password (keys wipe themselves when their last reference
/// goes; a responder is the application's own).
impl Zeroize for AuthMethods {
    fn zeroize(&mut self) {
        self.password.zeroize();
    }
}

impl Drop for AuthMethods {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for AuthMethods {}

impl AuthMethods {
    /// No credentials yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a private key.
    pub fn key(self, key: PrivateKey) -> Self {
        self.signer(Arc::new(key))
    }

    /// Adds any signer (e.g. an agent identity).
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signers.push(signer);
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Tries only these methods, in this order
    /// ([`AuthMethods::preferred`]).
    pub fn preferred<S: Into<String>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.preferred = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    fn order(&self) -> impl Iterator<Item = &str> {
        const DEFAULT: [&str; 3] = ["publickey", "password", "keyboard-interactive"];
        let preferred = self.preferred.as_deref().unwrap_or_default();
        let default = if self.preferred.is_none() {
            &DEFAULT[..]
        } else {
            &[]
        };
        preferred
            .iter()
            .map(String::as_str)
            .chain(default.iter().copied())
    }

    /// Sets the keyboard-interactive responder.
    pub fn keyboard_interactive(mut self, responder: impl KeyboardInteractive + 'static) -> Self {
        self.keyboard_interactive = Some(Box::new(responder));
        self
    }
}

/// Most info-request rounds one keyboard-interactive attempt answers (a
/// server could otherwise ask forever).
const MAX_INFO_ROUNDS: usize = 32;

impl Session {
    /// Sends an authentication request with `start` and waits for the
    /// server's answer.
    ///
    /// A call dropped while waiting (a timeout around it, a `select!`)
    /// leaves its request outstanding: the next exchange first waits for
    /// that answer (the server answers in order, RFC 4252 section 5, and
    /// it must not be taken for the new request's), and if it was
    /// success, there is nothing left to do.
    async fn auth_exchange(
        &self,
        start: impl FnOnce(&mut Shared) -> std::result::Result<(), conch_core::ApiMisuse>,
    ) -> Result<Event> {
        poll_fn(|cx| {
            let mut sh = lock(&self.inner.shared);
            if !sh.client.auth_in_flight {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = sh.end_error() {
                return Poll::Ready(Err(e));
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await?;
        let sent = self.inner.mutate(|sh| {
            if sh.conn.is_authenticated() {
                return Ok(false);
            }
            sh.client.auth_request_sent();
            let sent = start(sh);
            if sent.is_err() {
                sh.client.auth_request_done();
            }
            sent.map(|()| true)
        })?;
        if !sent {
            return Ok(Event::AuthSuccess);
        }
        poll_fn(|cx| {
            let mut sh = lock(&self.inner.shared);
            if let Some(e) = sh.client.auth_reply.take() {
                return Poll::Ready(Ok(e));
            }
            if let Some(e) = sh.end_error() {
                return Poll::Ready(Err(e));
            }
            sh.session_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Tries method `none`: succeeds on servers that need no
    /// authentication, and otherwise tells which methods the server offers.
    pub async fn auth_none(&self, user: &str) -> Result<AuthResult> {
        let ev = self
            .auth_exchange(|sh| call(sh, Command::AuthNone { user: user.into() }))
            .await?;
        Ok(simple_result(ev))
    }

    /// Tries a password (RFC 4252 section 8).
    pub async fn auth_password(&self, user: &str, password: &str) -> Result<AuthResult> {
        let ev = self
            .auth_exchange(|sh| {
                call(
                    sh,
                    Command::AuthPassword {
                        user: user.into(),
                        password: password.into(),
                    },
                )
            })
            .await?;
        Ok(simple_result(ev))
    }

    /// Answers [`AuthResult::PasswordChangeRequired`] with the old and a new
    /// password.
    pub async fn auth_change_password(&self, old: &str, new: &str) -> Result<AuthResult> {
        let ev = self
            .auth_exchange(|sh| {
                call(
                    sh,
                    Command::AuthChangePassword {
                        old: old.into(),
                        new: new.into(),
                    },
                )
            })
            .await?;
        Ok(simple_result(ev))
    }

    /// Public key authentication with a key in memory (RFC 4252 section 7):
    /// the key is offered first, and signed only if the server accepts it.
    pub async fn auth_publickey(&self, user: &str, key: &PrivateKey) -> Result<AuthResult> {
        self.auth_signer(user, key).await
    }

    /// Public key authentication with any [`Signer`] (an agent, a token).
    pub async fn auth_signer(&self, user: &str, signer: &dyn Signer) -> Result<AuthResult> {
        let public = signer.public_key();
        let ev = self
            .auth_exchange(|sh| {
                call(
                    sh,
                    Command::AuthPublickey {
                        user: user.into(),
                        key: Cow::Borrowed(&public),
                    },
                )
            })
            .await?;
        let Event::AuthSignatureNeeded {
            algorithm, data, ..
        } = ev
        else {
            return Ok(simple_result(ev));
        };
        let signature = signer.sign(&algorithm, &data).await?;
        let ev = self
            .auth_exchange(|sh| {
                call(
                    sh,
                    Command::AuthSignature {
                        blob: Cow::Borrowed(&signature),
                    },
                )
            })
            .await?;
        Ok(simple_result(ev))
    }

    /// Keyboard-interactive authentication (RFC 4256), answering each round
    /// of prompts with `responder`.
    pub async fn auth_keyboard_interactive(
        &self,
        user: &str,
        responder: &mut dyn KeyboardInteractive,
    ) -> Result<AuthResult> {
        let mut ev = self
            .auth_exchange(|sh| {
                call(
                    sh,
                    Command::AuthKeyboardInteractive {
                        user: user.into(),
                        submethods: "".into(),
                    },
                )
            })
            .await?;
        for _ in 0..MAX_INFO_ROUNDS {
            let Event::AuthInfoRequest {
                name,
                instruction,
                prompts,
            } = ev
            else {
                return Ok(simple_result(ev));
            };
            // The answers may be passwords: wiped once sent.
            let answers = responder
                .respond(&name, &instruction, &prompts)
                .map(Zeroizing::new)
                .ok_or(Error::Cancelled)?;
            ev = self
                .auth_exchange(|sh| {
                    call(
                        sh,
                        Command::AuthInfoResponse {
                            responses: Cow::Borrowed(&answers[..]),
                        },
                    )
                })
                .await?;
        }
        Err(Error::AuthFailed {
            methods: vec!["keyboard-interactive".into()],
            partial_success: false,
        })
    }

    /// Authenticates as `user` the way `ssh` does: asks with `none` which
    /// methods the server takes, then tries the given credentials in the
    /// order publickey (each key), password, keyboard-interactive, each only
    /// while the server still lists its method, following partial successes.
    ///
    /// Fails with [`Error::AuthFailed`] (carrying the methods the server
    /// still allows) when nothing given is left to try.
    pub async fn authenticate(&self, user: &str, mut methods: AuthMethods) -> Result<()> {
        let (mut allowed, mut partial) = match self.auth_none(user).await? {
            AuthResult::Success => return Ok(()),
            AuthResult::Failure {
                methods,
                partial_success,
            } => (methods, partial_success),
            AuthResult::PasswordChangeRequired { .. } => (Vec::new(), false),
        };
        let mut next_key = 0;
        // Why a key the server accepted could not sign, if one could not:
        // reported when nothing else gets us in, as it says more than
        // "permission denied".
        let mut sign_error = None;
        let mut tried_password = false;
        let mut tried_keyboard = false;
        loop {
            let offers = |m: &str| allowed.iter().any(|a| a == m);
            // The first method in our order that the server allows and we
            // can still try (ssh's PreferredAuthentications walk,
            // sshconnect2.c `authmethod_get`).
            let next = methods.order().find(|m| {
                offers(m)
                    && match *m {
                        "publickey" => next_key < methods.signers.len(),
                        "password" => !tried_password && methods.password.is_some(),
                        "keyboard-interactive" => {
                            !tried_keyboard && methods.keyboard_interactive.is_some()
                        }
                        _ => false,
                    }
            });
            let result = match next {
                Some("publickey") => {
                    let signer = methods.signers[next_key].clone();
                    next_key += 1;
                    match self.auth_signer(user, &*signer).await {
                        // The key could not sign (a wrong passphrase, an
                        // agent that refused): like ssh, go on with the
                        // next credential. The server still lists the same
                        // methods, and RFC 4252 section 5 lets a client
                        // start another method while one is pending.
                        Err(Error::Sign(e)) => {
                            sign_error = Some(e);
                            continue;
                        }
                        other => other?,
                    }
                }
                Some("password") => {
                    tried_password = true;
                    let password = methods.password.as_deref().unwrap_or_default();
                    self.auth_password(user, password).await?
                }
                Some(_) => {
                    tried_keyboard = true;
                    let Some(responder) = methods.keyboard_interactive.as_deref_mut() else {
                        return Err(walk_failed(allowed, partial, sign_error));
                    };
                    self.auth_keyboard_interactive(user, responder).await?
                }
                None => return Err(walk_failed(allowed, partial, sign_error)),
            };
            match result {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure {
                    methods,
                    partial_success,
                } => {
                    allowed = methods;
                    partial |= partial_success;
                }
                // An expired password cannot be changed without asking the
                // user: go on with the other methods.
                AuthResult::PasswordChangeRequired { .. } => {}
            }
        }
    }
}

/// The error that ends a walk through the methods without success: a key's
/// signing failure if there was one, else authentication failed.
fn walk_failed(methods: Vec<String>, partial_success: bool, sign_error: Option<KeyError>) -> Error {
    match sign_error {
        Some(e) => Error::Sign(e),
        None => Error::AuthFailed {
            methods,
            partial_success,
        },
    }
}

/// Maps an answer that ends an attempt.
fn simple_result(ev: Event) -> AuthResult {
    match ev {
        Event::AuthSuccess => AuthResult::Success,
        Event::AuthFailure {
            methods,
            partial_success,
        } => AuthResult::Failure {
            methods,
            partial_success,
        },
        Event::AuthPasswordChange { prompt } => AuthResult::PasswordChangeRequired { prompt },
        // A signature or info request where none can be answered: the
        // attempt cannot go on.
        _ => AuthResult::Failure {
            methods: Vec::new(),
            partial_success: false,
        },
    }
}

/// Applies a client command: the session keeps one `Connection` for either
/// role, so the client's calls go through `apply` (whose role check cannot
/// fail here: only client sessions authenticate).
fn call(sh: &mut Shared, command: Command<'_>) -> std::result::Result<(), conch_core::ApiMisuse> {
    sh.conn.apply(command).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_given_for_authentication_are_wiped() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<AuthMethods>();
        zeroized_on_drop::<PasswordResponder>();
        let mut methods = AuthMethods::new().password("s3cret");
        let mut responder = PasswordResponder("s3cret".into());
        assert_eq!(
            responder.respond(
                "",
                "",
                &[Prompt {
                    prompt: "Password: ".into(),
                    echo: false
                }]
            ),
            Some(vec!["s3cret".to_string()])
        );
        methods.zeroize();
        responder.zeroize();
        assert_eq!(methods.password, None);
        assert_eq!(responder.0, "");
    }
}
