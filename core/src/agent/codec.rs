//! Encoding and decoding of single agent messages (the bytes after the
//! length field), both directions.

use super::{msg, AgentError, Identity, Request, Response, MAX_IDENTITIES, MAX_MESSAGE_LEN};
use crate::wire::{Encode, Reader};

/// Frames a message body: `uint32 length` then the body, refusing bodies the
/// other side would refuse.
fn frame(body: Vec<u8>) -> Result<Vec<u8>, AgentError> {
    if body.len() > MAX_MESSAGE_LEN {
        return Err(AgentError::TooLong(body.len()));
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    // Cannot truncate: the length was just bounded by MAX_MESSAGE_LEN.
    out.put_u32(body.len() as u32);
    out.extend_from_slice(&body);
    Ok(out)
}

impl Request {
    /// The message ready to write: length, type and fields.
    pub fn encode(&self) -> Result<Vec<u8>, AgentError> {
        let mut body = Vec::new();
        match self {
            Request::RequestIdentities => body.put_u8(msg::REQUEST_IDENTITIES),
            Request::Sign {
                key_blob,
                data,
                flags,
            } => {
                body.put_u8(msg::SIGN_REQUEST);
                body.put_string(key_blob);
                body.put_string(data);
                body.put_u32(*flags);
            }
            Request::Other { kind, body: rest } => {
                body.put_u8(*kind);
                body.put_raw(rest);
            }
        }
        frame(body)
    }

    /// Decodes one message body (as [`super::FrameDecoder`] returns it).
    pub fn decode(message: &[u8]) -> Result<Self, AgentError> {
        let mut r = Reader::new(message);
        let kind = r.u8().map_err(|_| AgentError::Empty)?;
        let request = match kind {
            msg::REQUEST_IDENTITIES => Request::RequestIdentities,
            msg::SIGN_REQUEST => Request::Sign {
                key_blob: r.string()?.to_vec(),
                data: r.string()?.to_vec(),
                flags: r.u32()?,
            },
            kind => {
                return Ok(Request::Other {
                    kind,
                    body: r.remaining().to_vec(),
                })
            }
        };
        r.end()?;
        Ok(request)
    }
}

impl Response {
    /// The message ready to write: length, type and fields.
    pub fn encode(&self) -> Result<Vec<u8>, AgentError> {
        let mut body = Vec::new();
        match self {
            Response::Failure => body.put_u8(msg::FAILURE),
            Response::Success => body.put_u8(msg::SUCCESS),
            Response::Identities(ids) => {
                if ids.len() > MAX_IDENTITIES {
                    return Err(AgentError::TooManyIdentities(
                        u32::try_from(ids.len()).unwrap_or(u32::MAX),
                    ));
                }
                body.put_u8(msg::IDENTITIES_ANSWER);
                // Bounded by MAX_IDENTITIES just above.
                body.put_u32(ids.len() as u32);
                for id in ids {
                    body.put_string(&id.key_blob);
                    body.put_str(&id.comment);
                }
            }
            Response::Signature(sig) => {
                body.put_u8(msg::SIGN_RESPONSE);
                body.put_string(sig);
            }
        }
        frame(body)
    }

    /// Decodes one message body from an agent. Every failure code an agent
    /// may use reads as [`Response::Failure`]; other request-only or unknown
    /// types are an error.
    pub fn decode(message: &[u8]) -> Result<Self, AgentError> {
        let mut r = Reader::new(message);
        let kind = r.u8().map_err(|_| AgentError::Empty)?;
        let response = match kind {
            msg::FAILURE | msg::EXTENSION_FAILURE => return Ok(Response::Failure),
            k if msg::LEGACY_FAILURES.contains(&k) => return Ok(Response::Failure),
            msg::SUCCESS => Response::Success,
            msg::IDENTITIES_ANSWER => Response::Identities(decode_identities(&mut r)?),
            msg::SIGN_RESPONSE => Response::Signature(r.string()?.to_vec()),
            other => return Err(AgentError::UnexpectedMessage(other)),
        };
        r.end()?;
        Ok(response)
    }
}

fn decode_identities(r: &mut Reader<'_>) -> Result<Vec<Identity>, AgentError> {
    let count = r.u32()?;
    if count as usize > MAX_IDENTITIES {
        return Err(AgentError::TooManyIdentities(count));
    }
    // Each identity takes at least its two length fields, so the message
    // itself bounds what a count can make us reserve.
    let mut ids = Vec::with_capacity((count as usize).min(r.remaining().len() / 8));
    for _ in 0..count {
        let key_blob = r.string()?.to_vec();
        let comment = String::from_utf8_lossy(r.string()?).into_owned();
        ids.push(Identity { key_blob, comment });
    }
    Ok(ids)
}
