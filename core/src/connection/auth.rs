//! The typed mutators for the decisions on authentication: the client's on
//! the host key and its authentication attempts, the server's on each
//! request. Each builds its [`Command`] for [`Connection::apply`].

use std::borrow::Cow;

use crate::auth::AuthDecision;
use crate::command::Command;
use crate::error::ApiMisuse;
#[cfg(doc)]
use crate::event::Event;
use crate::keys::PublicKey;

use super::Connection;

impl Connection {
    // ------------------------------------------------------------------
    // Mutators: client decisions and authentication
    // ------------------------------------------------------------------

    /// Client: accepts the host key from [`Event::HostKey`].
    pub fn accept_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.apply(Command::AcceptHostKey).map(drop)
    }

    /// Client: rejects the host key from [`Event::HostKey`]: the connection
    /// ends with DISCONNECT `host key not verifiable` and
    /// [`crate::Error::HostKeyRejected`].
    pub fn reject_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.apply(Command::RejectHostKey).map(drop)
    }

    /// Client: tries authentication method `none` (mostly to learn the methods).
    pub fn auth_none(&mut self, user: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthNone { user: user.into() })
            .map(drop)
    }

    /// Client: tries a password (RFC 4252 section 8).
    pub fn auth_password(&mut self, user: &str, password: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthPassword {
            user: user.into(),
            password: password.into(),
        })
        .map(drop)
    }

    /// Client: answers [`Event::AuthPasswordChange`].
    pub fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthChangePassword {
            old: old.into(),
            new: new.into(),
        })
        .map(drop)
    }

    /// Client: offers a public key (RFC 4252 section 7). The server is asked
    /// first without a signature; if it accepts the key,
    /// [`Event::AuthSignatureNeeded`] asks for the signature.
    pub fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthPublickey {
            user: user.into(),
            key: Cow::Borrowed(key),
        })
        .map(drop)
    }

    /// Client: answers [`Event::AuthSignatureNeeded`] with an SSH signature
    /// blob (`string` algorithm, `string` signature).
    pub fn auth_signature(&mut self, signature_blob: &[u8]) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthSignature {
            blob: signature_blob.into(),
        })
        .map(drop)
    }

    /// Client: starts keyboard-interactive authentication (RFC 4256).
    pub fn auth_keyboard_interactive(
        &mut self,
        user: &str,
        submethods: &str,
    ) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthKeyboardInteractive {
            user: user.into(),
            submethods: submethods.into(),
        })
        .map(drop)
    }

    /// Client: answers [`Event::AuthInfoRequest`], one response per prompt.
    pub fn auth_info_response(&mut self, responses: &[String]) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthInfoResponse {
            responses: responses.into(),
        })
        .map(drop)
    }

    // ------------------------------------------------------------------
    // Mutators: server decisions
    // ------------------------------------------------------------------

    /// Server: answers the pending [`Event::AuthRequest`].
    pub fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthDecision {
            decision: Cow::Owned(decision),
        })
        .map(drop)
    }
}
