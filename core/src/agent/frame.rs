//! Reassembling agent messages from a byte stream.

use super::{AgentError, Request, Response, MAX_MESSAGE_LEN};

/// Collects one length-prefixed agent message at a time from bytes that may
/// arrive split anywhere. It never holds more than one message, and refuses
/// a length over [`MAX_MESSAGE_LEN`] as soon as the 4 length bytes are in,
/// before buffering anything for it.
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    /// The length field while it is incomplete.
    header: Vec<u8>,
    /// The body length once the header is complete.
    expected: Option<usize>,
    body: Vec<u8>,
    /// Set after an error: the stream's framing is lost for good.
    failed: Option<AgentError>,
}

impl FrameDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes bytes from the front of `input` until one message is complete,
    /// and returns its body (type byte first). Returns `Ok(None)` when
    /// `input` ran out first; call again with more. Bytes after a complete
    /// message are left in `input` for the next call. After an error every
    /// call returns it again: the connection must be dropped.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, AgentError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let expected = match self.expected {
            Some(n) => n,
            None => {
                let take = (4 - self.header.len()).min(input.len());
                let (head, rest) = input.split_at(take);
                self.header.extend_from_slice(head);
                *input = rest;
                let Ok(bytes) = <[u8; 4]>::try_from(self.header.as_slice()) else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes(bytes) as usize;
                let checked = if len == 0 {
                    Err(AgentError::Empty)
                } else if len > MAX_MESSAGE_LEN {
                    Err(AgentError::TooLong(len))
                } else {
                    Ok(len)
                };
                match checked {
                    Ok(len) => {
                        self.expected = Some(len);
                        self.body.reserve_exact(len);
                        len
                    }
                    Err(e) => {
                        self.failed = Some(e.clone());
                        return Err(e);
                    }
                }
            }
        };
        let take = (expected - self.body.len()).min(input.len());
        let (head, rest) = input.split_at(take);
        self.body.extend_from_slice(head);
        *input = rest;
        if self.body.len() < expected {
            return Ok(None);
        }
        self.header.clear();
        self.expected = None;
        Ok(Some(std::mem::take(&mut self.body)))
    }

    /// [`FrameDecoder::decode`] then [`Response::decode`]: the client side.
    pub fn decode_response(&mut self, input: &mut &[u8]) -> Result<Option<Response>, AgentError> {
        self.decode(input)?
            .map(|m| Response::decode(&m))
            .transpose()
    }

    /// [`FrameDecoder::decode`] then [`Request::decode`]: the agent side.
    pub fn decode_request(&mut self, input: &mut &[u8]) -> Result<Option<Request>, AgentError> {
        self.decode(input)?.map(|m| Request::decode(&m)).transpose()
    }

    /// Whether part of a message has been read (an end of stream now means
    /// the agent hung up mid-message).
    pub fn is_mid_message(&self) -> bool {
        !self.header.is_empty()
    }
}
