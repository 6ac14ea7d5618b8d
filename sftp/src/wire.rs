//! The SFTP data types (draft-ietf-secsh-filexfer-02 section 3, which uses
//! RFC 4251 section 5's `uint32`, `uint64` and `string`): a bounded reader
//! that never allocates more than the packet it reads from holds, and
//! writers into a `Vec<u8>`.

use bytes::Bytes;

use crate::error::ProtocolError;

/// Reads the fields of one received packet. Every length is checked
/// against the bytes that remain before anything is allocated, so a packet
/// can never make the reader allocate more than its own size.
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<Bytes, ProtocolError> {
        if n > self.buf.len() {
            return Err(ProtocolError::Truncated { what });
        }
        Ok(self.buf.split_to(n))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, ProtocolError> {
        let hi = u64::from(self.u32(what)?);
        let lo = u64::from(self.u32(what)?);
        Ok(hi << 32 | lo)
    }

    /// A `string` as the bytes of the packet (no copy).
    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<Bytes, ProtocolError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }

    /// A `string` copied out (names and handles: small, owned by the caller).
    pub(crate) fn vec(&mut self, what: &'static str) -> Result<Vec<u8>, ProtocolError> {
        Ok(self.bytes(what)?.to_vec())
    }

    /// A `string` holding text; invalid UTF-8 is replaced rather than
    /// refused (error messages and language tags are only shown).
    pub(crate) fn text(&mut self, what: &'static str) -> Result<String, ProtocolError> {
        Ok(String::from_utf8_lossy(&self.bytes(what)?).into_owned())
    }

    /// A count of items that each take at least `min_item` bytes: refused
    /// when the remaining bytes cannot hold that many, so the caller may
    /// reserve `count` items.
    pub(crate) fn count(
        &mut self,
        min_item: usize,
        what: &'static str,
    ) -> Result<usize, ProtocolError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item.max(1)) > self.buf.len() {
            return Err(ProtocolError::Truncated { what });
        }
        Ok(n)
    }

    /// The rest of the packet.
    pub(crate) fn rest(&mut self) -> Bytes {
        self.buf.split_off(0)
    }

    /// Ends a packet that must have no more fields.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes { what })
        }
    }
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a `string`. Lengths past `u32::MAX` cannot be framed; the
/// callers bound what they send far below that (the packet limit).
pub(crate) fn put_bytes(out: &mut Vec<u8>, v: &[u8]) {
    put_u32(out, u32::try_from(v.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(v);
}

/// Starts a packet: room for the length, then the type byte. Returns where
/// the packet starts, for [`end_packet`].
pub(crate) fn begin_packet(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.push(kind);
    start
}

/// Fills in the length of the packet begun at `start`.
pub(crate) fn end_packet(out: &mut [u8], start: usize) {
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}
