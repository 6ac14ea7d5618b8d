//! A tiny agent holding keys in memory: the agent side of the codec, for
//! tests and demos that need an agent without a real `ssh-agent`.

use std::fmt;

use super::{signature_algorithm, Identity, Request, Response};
use crate::keys::PrivateKey;

/// Answers agent requests from keys it was given. Pure: feed it decoded
/// requests (or raw message bodies) and send back the encoded responses.
#[derive(Clone, Default)]
pub struct MemoryAgent {
    keys: Vec<(PrivateKey, String)>,
}

impl MemoryAgent {
    /// An agent with no keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key, listed with `comment`.
    pub fn add(&mut self, key: PrivateKey, comment: impl Into<String>) {
        self.keys.push((key, comment.into()));
    }

    /// The answer to one request: the key list, a signature, or failure for
    /// an unknown key, a key that cannot sign as asked, or any request this
    /// agent does not implement.
    pub fn answer(&self, request: &Request) -> Response {
        match request {
            Request::RequestIdentities => Response::Identities(
                self.keys
                    .iter()
                    .map(|(key, comment)| Identity {
                        key_blob: key.public_key().blob().to_vec(),
                        comment: comment.clone(),
                    })
                    .collect(),
            ),
            Request::Sign {
                key_blob,
                data,
                flags,
            } => {
                let Some((key, _)) = self
                    .keys
                    .iter()
                    .find(|(k, _)| k.public_key().blob() == key_blob.as_slice())
                else {
                    return Response::Failure;
                };
                let algorithm =
                    signature_algorithm(&key.public_key().algorithm(), *flags).to_string();
                match key.sign(&algorithm, data) {
                    Ok(sig) => Response::Signature(sig),
                    Err(_) => Response::Failure,
                }
            }
            Request::Other { .. } => Response::Failure,
        }
    }

    /// [`MemoryAgent::answer`] for a raw message body; one that does not
    /// decode is answered with failure.
    pub fn answer_message(&self, message: &[u8]) -> Response {
        match Request::decode(message) {
            Ok(request) => self.answer(&request),
            Err(_) => Response::Failure,
        }
    }
}

impl fmt::Debug for MemoryAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(k, c)| (k.public_key(), c)))
            .finish()
    }
}
