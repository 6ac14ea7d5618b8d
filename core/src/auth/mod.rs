//! User authentication (RFC 4252, RFC 4256), client and server roles.
//!
//! STUB: the interface the rest of the crate uses. Bodies to be written.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::error::{ApiMisuse, Error};
use crate::event::{Event, Prompt};
use crate::keys::PublicKey;
use crate::outbox::Outbox;

/// What the transport knows that authentication needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthContext<'a> {
    /// Session identifier (RFC 4253 section 7.2), signed in publickey auth.
    pub session_id: &'a [u8],
    /// `server-sig-algs` from the server's EXT_INFO (RFC 8308 section 3.1), if any.
    pub server_sig_algs: Option<&'a [String]>,
}

/// The server application's answer to an [`Event::AuthRequest`].
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

/// Client-side authentication state.
#[derive(Debug, Default)]
pub(crate) struct ClientAuth {}

impl ClientAuth {
    /// Queues SERVICE_REQUEST "ssh-userauth". Called once, when the first key
    /// exchange is done and the host key accepted.
    pub(crate) fn start(&mut self, _out: &mut Outbox) {}

    /// Handles SERVICE_ACCEPT (6) and messages 50..=79.
    pub(crate) fn handle(
        &mut self,
        _payload: Bytes,
        _ctx: AuthContext<'_>,
        _out: &mut Outbox,
        _events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Whether USERAUTH_SUCCESS was received.
    pub(crate) fn is_authenticated(&self) -> bool {
        false
    }

    /// Tries the `none` method.
    pub(crate) fn none(&mut self, _user: &str, _out: &mut Outbox) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Tries a password.
    pub(crate) fn password(
        &mut self,
        _user: &str,
        _password: &str,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Answers a password change request.
    pub(crate) fn change_password(
        &mut self,
        _old: &str,
        _new: &str,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Offers a public key (query without signature first).
    pub(crate) fn publickey(
        &mut self,
        _user: &str,
        _key: &PublicKey,
        _ctx: AuthContext<'_>,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Sends the signed publickey request after `AuthSignatureNeeded`.
    pub(crate) fn signature(
        &mut self,
        _signature_blob: &[u8],
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Starts keyboard-interactive.
    pub(crate) fn keyboard_interactive(
        &mut self,
        _user: &str,
        _submethods: &str,
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }

    /// Answers an info request.
    pub(crate) fn info_response(
        &mut self,
        _responses: &[String],
        _out: &mut Outbox,
    ) -> Result<(), ApiMisuse> {
        Ok(())
    }
}

/// Server-side authentication settings, from `ServerConfig`.
#[derive(Debug, Clone)]
pub(crate) struct ServerAuthConfig {
    /// Methods offered.
    pub methods: Vec<String>,
    /// Failed attempts before DISCONNECT (14).
    pub max_attempts: u32,
    /// Banner to send before the first USERAUTH_FAILURE / with the first reply.
    pub banner: Option<String>,
}

/// Server-side authentication state.
#[derive(Debug)]
pub(crate) struct ServerAuth {}

impl ServerAuth {
    /// A new server auth state.
    pub(crate) fn new(_config: ServerAuthConfig) -> Self {
        ServerAuth {}
    }

    /// Handles SERVICE_REQUEST (5) and messages 50..=79.
    pub(crate) fn handle(
        &mut self,
        _payload: Bytes,
        _ctx: AuthContext<'_>,
        _out: &mut Outbox,
        _events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Applies the application's decision on the pending `AuthRequest`.
    pub(crate) fn decide(
        &mut self,
        _decision: AuthDecision,
        _out: &mut Outbox,
        _events: &mut VecDeque<Event>,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// Whether a user is authenticated.
    pub(crate) fn is_authenticated(&self) -> bool {
        false
    }
}
