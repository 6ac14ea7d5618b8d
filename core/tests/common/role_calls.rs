//! The role's calls on a plain [`Connection`], through
//! [`Connection::apply`], for harnesses that keep either role in one
//! `Connection` (as the driver does). Applications normally call them on
//! the `ClientConnection` or `ServerConnection` the constructor returned,
//! where the other role's calls do not compile; here a wrong-role call is
//! `ApiMisuse::WrongRole`, from the same path.

use std::borrow::Cow;

use conch_core::{ApiMisuse, AuthDecision, Command, Connection, PublicKey};

/// `ClientConnection`'s and `ServerConnection`'s calls, for a `Connection`.
pub trait RoleCalls {
    /// `Command::AcceptHostKey`.
    fn accept_host_key(&mut self) -> Result<(), ApiMisuse>;
    /// `Command::RejectHostKey`.
    fn reject_host_key(&mut self) -> Result<(), ApiMisuse>;
    /// `Command::AuthNone`.
    fn auth_none(&mut self, user: &str) -> Result<(), ApiMisuse>;
    /// `Command::AuthPassword`.
    fn auth_password(&mut self, user: &str, password: &str) -> Result<(), ApiMisuse>;
    /// `Command::AuthChangePassword`.
    fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), ApiMisuse>;
    /// `Command::AuthPublickey`.
    fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), ApiMisuse>;
    /// `Command::AuthSignature`.
    fn auth_signature(&mut self, blob: &[u8]) -> Result<(), ApiMisuse>;
    /// `Command::AuthKeyboardInteractive`.
    fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), ApiMisuse>;
    /// `Command::AuthInfoResponse`.
    fn auth_info_response(&mut self, responses: &[String]) -> Result<(), ApiMisuse>;
    /// `Command::AuthDecision`.
    fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), ApiMisuse>;
}

impl RoleCalls for Connection {
    fn accept_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.apply(Command::AcceptHostKey).map(drop)
    }
    fn reject_host_key(&mut self) -> Result<(), ApiMisuse> {
        self.apply(Command::RejectHostKey).map(drop)
    }
    fn auth_none(&mut self, user: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthNone { user: user.into() })
            .map(drop)
    }
    fn auth_password(&mut self, user: &str, password: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthPassword {
            user: user.into(),
            password: password.into(),
        })
        .map(drop)
    }
    fn auth_change_password(&mut self, old: &str, new: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthChangePassword {
            old: old.into(),
            new: new.into(),
        })
        .map(drop)
    }
    fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthPublickey {
            user: user.into(),
            key: Cow::Borrowed(key),
        })
        .map(drop)
    }
    fn auth_signature(&mut self, blob: &[u8]) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthSignature { blob: blob.into() })
            .map(drop)
    }
    fn auth_keyboard_interactive(&mut self, user: &str, submethods: &str) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthKeyboardInteractive {
            user: user.into(),
            submethods: submethods.into(),
        })
        .map(drop)
    }
    fn auth_info_response(&mut self, responses: &[String]) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthInfoResponse {
            responses: responses.into(),
        })
        .map(drop)
    }
    fn auth_decision(&mut self, decision: AuthDecision) -> Result<(), ApiMisuse> {
        self.apply(Command::AuthDecision {
            decision: Cow::Owned(decision),
        })
        .map(drop)
    }
}
