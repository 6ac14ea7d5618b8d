//! The ssh-agent protocol (draft-miller-ssh-agent, OpenSSH's `PROTOCOL.agent`)
//! as a pure codec: the messages a client needs to list an agent's keys and
//! have it sign, in both directions, so the same code serves a client
//! talking to `$SSH_AUTH_SOCK` and a small in-process agent ([`MemoryAgent`])
//! for tests and demos. The socket itself lives in the adapters.
//!
//! Every message travels as `uint32 length` followed by that many bytes, the
//! first of which is the message type. [`FrameDecoder`] reassembles messages
//! from bytes split anywhere and refuses lengths over [`MAX_MESSAGE_LEN`]
//! before buffering them, so a hostile agent cannot make us allocate more.
//!
//! A client session, with the I/O left to the caller:
//!
//! ```
//! use conch_core::agent::{FrameDecoder, Request, Response};
//!
//! let to_agent = Request::RequestIdentities.encode().unwrap();
//! assert_eq!(to_agent, [0, 0, 0, 1, 11]);
//! // ... write `to_agent` to the socket, then feed what it answers:
//! let mut decoder = FrameDecoder::new();
//! let mut from_agent: &[u8] = &[0, 0, 0, 5, 12, 0, 0, 0, 0];
//! let answer = decoder.decode_response(&mut from_agent).unwrap();
//! assert_eq!(answer, Some(Response::Identities(Vec::new())));
//! ```

mod codec;
mod frame;
mod memory;

pub use frame::FrameDecoder;
pub use memory::MemoryAgent;

use crate::keys::{KeyError, PublicKey};
use crate::wire::DecodeError;

/// The largest message we send or accept, in bytes after the length field:
/// 256 KiB, OpenSSH's limit on agent replies and requests.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// The most identities we accept in one answer (OpenSSH's limit too).
pub const MAX_IDENTITIES: usize = 2048;

/// Message numbers (draft-miller-ssh-agent, "Message numbers").
pub mod msg {
    /// Generic failure reply.
    pub const FAILURE: u8 = 5;
    /// Generic success reply.
    pub const SUCCESS: u8 = 6;
    /// Client: list the keys.
    pub const REQUEST_IDENTITIES: u8 = 11;
    /// Agent: the list of keys.
    pub const IDENTITIES_ANSWER: u8 = 12;
    /// Client: sign data with a key.
    pub const SIGN_REQUEST: u8 = 13;
    /// Agent: the signature.
    pub const SIGN_RESPONSE: u8 = 14;
    /// Agent: an extension request failed; a client reads it as failure.
    pub const EXTENSION_FAILURE: u8 = 28;
    /// Older failure codes that some agents still send (ssh.com's agent
    /// and a legacy protocol-2 code); OpenSSH reads both as failure.
    pub const LEGACY_FAILURES: [u8; 2] = [30, 102];
}

/// Signature flags of a sign request (draft-miller-ssh-agent section 3.6.1).
pub mod flags {
    /// Sign an `ssh-rsa` key's data with `rsa-sha2-256` (RFC 8332).
    pub const RSA_SHA2_256: u32 = 0x02;
    /// Sign an `ssh-rsa` key's data with `rsa-sha2-512` (RFC 8332).
    pub const RSA_SHA2_512: u32 = 0x04;
}

/// One key an agent holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The public key's wire blob (RFC 4253 section 6.6).
    pub key_blob: Vec<u8>,
    /// The comment the key was added with (bytes that are not UTF-8 are
    /// replaced, since it is only ever shown).
    pub comment: String,
}

impl Identity {
    /// Decodes the key. Agents may hold key types Conch cannot use; such an
    /// identity gives an error and is best skipped, as OpenSSH skips it.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        PublicKey::from_blob(&self.key_blob)
    }
}

/// A message from client to agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `SSH_AGENTC_REQUEST_IDENTITIES`.
    RequestIdentities,
    /// `SSH_AGENTC_SIGN_REQUEST` (draft-miller-ssh-agent section 3.6).
    Sign {
        /// Which key: its wire blob.
        key_blob: Vec<u8>,
        /// What to sign.
        data: Vec<u8>,
        /// [`flags`] bits.
        flags: u32,
    },
    /// Any other request (adding keys, locking, extensions...): decoded so
    /// an agent can answer [`Response::Failure`].
    Other {
        /// The message number.
        kind: u8,
        /// The rest of the message.
        body: Vec<u8>,
    },
}

/// A message from agent to client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `SSH_AGENT_FAILURE` (also the extension and legacy failure codes).
    Failure,
    /// `SSH_AGENT_SUCCESS`.
    Success,
    /// `SSH_AGENT_IDENTITIES_ANSWER`.
    Identities(Vec<Identity>),
    /// `SSH_AGENT_SIGN_RESPONSE`: an SSH signature blob (`string`
    /// algorithm, `string` signature), as [`PublicKey::verify`] takes it.
    Signature(Vec<u8>),
}

/// The agent sent (or we were asked to send) something the protocol does
/// not allow. After any of these the connection to the agent is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// A length field over [`MAX_MESSAGE_LEN`].
    #[error("agent message of {0} bytes is over the limit")]
    TooLong(usize),
    /// A zero length: every message has at least its type byte.
    #[error("empty agent message")]
    Empty,
    /// More identities than [`MAX_IDENTITIES`].
    #[error("agent listed {0} identities, over the limit")]
    TooManyIdentities(u32),
    /// A reply of a type a client never expects.
    #[error("unexpected agent message {0}")]
    UnexpectedMessage(u8),
    /// A field did not decode, or bytes were left over.
    #[error("agent message: {0}")]
    Malformed(#[from] DecodeError),
}

/// The [`flags`] to ask for `signature_algorithm` (as negotiated with the
/// server, e.g. from `server-sig-algs`): only RSA needs them.
pub fn sign_flags(signature_algorithm: &str) -> u32 {
    // A certificate is signed as its key (PROTOCOL.certkeys).
    match crate::keys::plain_signature_algorithm(signature_algorithm) {
        "rsa-sha2-256" => flags::RSA_SHA2_256,
        "rsa-sha2-512" => flags::RSA_SHA2_512,
        _ => 0,
    }
}

/// The signature algorithm an agent uses for a key of type `key_algorithm`
/// asked with `flags`: the RSA flags pick SHA-2 (256 when both are set, as
/// OpenSSH's agent does), every other key type has exactly one algorithm.
pub fn signature_algorithm(key_algorithm: &str, flags: u32) -> &str {
    if key_algorithm != "ssh-rsa" {
        key_algorithm
    } else if flags & flags::RSA_SHA2_256 != 0 {
        "rsa-sha2-256"
    } else if flags & flags::RSA_SHA2_512 != 0 {
        "rsa-sha2-512"
    } else {
        "ssh-rsa"
    }
}

#[cfg(test)]
mod tests;
