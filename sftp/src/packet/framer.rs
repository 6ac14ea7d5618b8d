//! The version exchange (draft-ietf-secsh-filexfer-02 section 4) and the
//! framing of the byte stream into packets (section 3).

use bytes::{Buf, Bytes, BytesMut};

use super::{kind, VERSION};
use crate::error::ProtocolError;
use crate::wire::{begin_packet, end_packet, put_bytes, put_u32};

/// SSH_FXP_INIT (draft section 4).
pub(crate) fn encode_init(out: &mut Vec<u8>) {
    let start = begin_packet(out, kind::INIT);
    put_u32(out, VERSION);
    end_packet(out, start);
}

/// SSH_FXP_VERSION with extension pairs (draft section 4, PROTOCOL 4).
pub(crate) fn encode_version(out: &mut Vec<u8>, extensions: &[(&str, &str)]) {
    let start = begin_packet(out, kind::VERSION);
    put_u32(out, VERSION);
    for (name, data) in extensions {
        put_bytes(out, name.as_bytes());
        put_bytes(out, data.as_bytes());
    }
    end_packet(out, start);
}

/// Splits a byte stream into packets. The announced length is checked
/// against the limit as soon as its four bytes arrive, so no more than one
/// packet of at most the limit is ever buffered.
#[derive(Debug)]
pub struct Framer {
    buf: BytesMut,
    max: u32,
}

impl Framer {
    /// A framer refusing packets longer than `max` bytes.
    pub fn new(max: u32) -> Self {
        Framer {
            buf: BytesMut::new(),
            max,
        }
    }

    /// Adds received bytes. Call [`Framer::next_packet`] until `None` after
    /// each call: the buffer is not bounded otherwise.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet a whole packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole packet as its type and body, `None` when more bytes
    /// are needed.
    pub fn next_packet(&mut self) -> Result<Option<(u8, Bytes)>, ProtocolError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if len > self.max {
            return Err(ProtocolError::PacketTooLong { len, max: self.max });
        }
        if len == 0 {
            return Err(ProtocolError::Truncated {
                what: "packet type",
            });
        }
        let total = 4 + len as usize;
        if self.buf.len() < total {
            // Room for the rest of this packet at once, never more than the
            // limit allows.
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        let mut body = self.buf.split_to(len as usize).freeze();
        let ty = body[0];
        body.advance(1);
        Ok(Some((ty, body)))
    }
}
