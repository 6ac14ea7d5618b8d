//! User authentication (RFC 4252, RFC 4256), client and server roles.
//!
//! Both roles are small state machines driven by the connection glue:
//! `ClientAuth` turns the application's `auth_*` calls into
//! SSH_MSG_USERAUTH_REQUESTs and the server's answers into events;
//! `ServerAuth` turns each request into an [`Event::AuthRequest`] and the
//! application's [`AuthDecision`] into the answer. Message number 60 means
//! something different per method (PK_OK, PASSWD_CHANGEREQ, INFO_REQUEST), so
//! each side tracks which method is in progress.
//!
//! [`Event::AuthRequest`]: crate::event::Event::AuthRequest

mod client;
mod server;
#[cfg(test)]
mod tests;

pub(crate) use client::ClientAuth;
pub(crate) use server::{ServerAuth, ServerAuthConfig};

use std::collections::VecDeque;

use zeroize::Zeroize;

use crate::event::{AuthAttempt, Event, Prompt};
use crate::wire::Encode;

/// Wipes the passwords and prompt answers in authentication requests still
/// queued for the application: a connection dropped before they were
/// polled leaves no copy behind. (Once polled, an event is the
/// application's, and so are its strings.)
pub(crate) fn wipe_queued_secrets(events: &mut VecDeque<Event>) {
    for event in events.iter_mut() {
        let Event::AuthRequest { attempt, .. } = event else {
            continue;
        };
        match attempt {
            AuthAttempt::Password {
                password,
                new_password,
            } => {
                password.zeroize();
                new_password.zeroize();
            }
            AuthAttempt::KeyboardInteractive { responses, .. } => responses.zeroize(),
            AuthAttempt::None | AuthAttempt::PublicKey { .. } => {}
        }
    }
}

/// The service that carries user authentication (RFC 4252 section 1).
pub(crate) const SERVICE_USERAUTH: &str = "ssh-userauth";
/// The service started once authenticated (RFC 4254 section 1).
pub(crate) const SERVICE_CONNECTION: &str = "ssh-connection";

/// Method names (RFC 4252 sections 5.2, 7, 8; RFC 4256 section 3.1).
pub(crate) const METHOD_NONE: &str = "none";
pub(crate) const METHOD_PUBLICKEY: &str = "publickey";
pub(crate) const METHOD_PASSWORD: &str = "password";
pub(crate) const METHOD_KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";

/// Most prompts in one keyboard-interactive INFO_REQUEST that we send or
/// accept. RFC 4256 sets no limit; a hostile server must not make the client
/// allocate without bound, and no real PAM conversation comes near this.
pub(crate) const MAX_PROMPTS: usize = 64;

/// What the transport knows that authentication needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthContext<'a> {
    /// Session identifier (RFC 4253 section 7.2), signed in publickey auth.
    pub session_id: &'a [u8],
    /// `server-sig-algs` from the server's EXT_INFO (RFC 8308 section 3.1), if any.
    pub server_sig_algs: Option<&'a [String]>,
}

/// The server application's answer to an [`Event::AuthRequest`].
///
/// Which answers fit which attempt: `Accept` and `Reject` fit every attempt;
/// `Partial` fits everything but a publickey query; `ChangePassword` only a
/// password attempt; `InfoRequest` only keyboard-interactive. Any other
/// combination is refused with [`crate::ApiMisuse::InvalidArgument`] and the
/// request stays pending.
///
/// [`Event::AuthRequest`]: crate::event::Event::AuthRequest
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthDecision {
    /// Accept: for a signed publickey, password or keyboard-interactive
    /// attempt the user is logged in; for a publickey query the server answers
    /// PK_OK and waits for the signed request.
    Accept,
    /// Refuse this attempt (counts towards the attempt limit, except `none`
    /// and publickey queries).
    Reject,
    /// The method succeeded but more are required: these may continue
    /// (RFC 4252 section 5.1, partial success).
    Partial {
        /// Methods that may continue.
        methods: Vec<String>,
    },
    /// keyboard-interactive: send these prompts (RFC 4256 section 3.2).
    InfoRequest {
        /// Name.
        name: String,
        /// Instruction.
        instruction: String,
        /// Prompts.
        prompts: Vec<Prompt>,
    },
    /// password: the password is expired; ask for a new one (RFC 4252 section 8).
    ChangePassword {
        /// Prompt.
        prompt: String,
    },
}

/// The bytes a publickey signature covers (RFC 4252 section 7): the session
/// id, then the signed USERAUTH_REQUEST without its signature field.
pub(crate) fn publickey_signed_data(
    session_id: &[u8],
    user: &str,
    service: &str,
    algorithm: &str,
    key_blob: &[u8],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(
        session_id.len() + user.len() + service.len() + algorithm.len() + key_blob.len() + 48,
    );
    data.put_string(session_id);
    data.put_u8(crate::msg::USERAUTH_REQUEST);
    data.put_str(user);
    data.put_str(service);
    data.put_str(METHOD_PUBLICKEY);
    data.put_bool(true);
    data.put_str(algorithm);
    data.put_string(key_blob);
    data
}

/// Text from the peer meant for a human (banner, prompts): decoded leniently,
/// because old servers send Latin-1 banners, and stripped of control
/// characters so the peer cannot drive the user's terminal.
pub(crate) fn display_text(raw: &[u8]) -> String {
    crate::error::sanitize_text(&String::from_utf8_lossy(raw))
}
