//! SSH data types on the wire (RFC 4251 section 5).
//!
//! [`Reader`] decodes from a borrowed byte slice and never panics on short or
//! malformed input: every getter returns a [`DecodeError`] instead. [`Encode`]
//! appends values to any growable buffer.

use std::fmt;

/// A peer sent bytes that do not decode as the SSH type that was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was being read when the input ran out or was invalid.
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {}", self.what)
    }
}

impl std::error::Error for DecodeError {}

fn malformed(what: &'static str) -> DecodeError {
    DecodeError { what }
}

/// Largest name-list we accept, in bytes. OpenSSH caps the whole KEXINIT at
/// the packet size; a single list this long already means a hostile peer.
pub const MAX_NAME_LIST_LEN: usize = 64 * 1024;

/// Largest number of names in one name-list.
pub const MAX_NAME_LIST_ITEMS: usize = 1024;

/// A cursor over a received message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes `n` raw bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(malformed(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// `byte`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, "byte")?[0])
    }

    /// `boolean`: any non-zero value is true (RFC 4251 section 5).
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.bytes(1, "boolean")?[0] != 0)
    }

    /// `uint32`, network byte order.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4, "uint32")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// `uint64`, network byte order.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8, "uint64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// `string`: a uint32 length and that many bytes.
    pub fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.bytes(len, "string")
    }

    /// A `string` that must be valid UTF-8 (RFC 4251 section 5 uses ISO-10646
    /// UTF-8 for text).
    pub fn utf8(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.string()?).map_err(|_| malformed("UTF-8 string"))
    }

    /// A `string` of US-ASCII, used for names (RFC 4251 section 6).
    pub fn ascii(&mut self) -> Result<&'a str, DecodeError> {
        let s = self.string()?;
        if !s.is_ascii() {
            return Err(malformed("ASCII name"));
        }
        // ASCII is always valid UTF-8.
        std::str::from_utf8(s).map_err(|_| malformed("ASCII name"))
    }

    /// `name-list`: comma-separated ASCII names, none empty (RFC 4251 section 5).
    pub fn name_list(&mut self) -> Result<Vec<&'a str>, DecodeError> {
        let raw = self.string()?;
        if raw.len() > MAX_NAME_LIST_LEN {
            return Err(malformed("name-list (too long)"));
        }
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let text = std::str::from_utf8(raw).map_err(|_| malformed("name-list"))?;
        let mut names = Vec::new();
        for name in text.split(',') {
            if name.is_empty() || !name.is_ascii() || names.len() >= MAX_NAME_LIST_ITEMS {
                return Err(malformed("name-list"));
            }
            names.push(name);
        }
        Ok(names)
    }

    /// `mpint` as its two's-complement big-endian bytes (possibly with a
    /// leading zero byte). Negative values are rejected: SSH never needs them.
    pub fn mpint(&mut self) -> Result<&'a [u8], DecodeError> {
        let raw = self.string()?;
        if raw.first().is_some_and(|b| b & 0x80 != 0) {
            return Err(malformed("mpint (negative)"));
        }
        Ok(raw)
    }

    /// Fails unless every byte was consumed.
    pub fn end(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(malformed("message (trailing bytes)"))
        }
    }
}

/// Appends SSH wire types to a buffer.
pub trait Encode {
    /// Raw bytes, no length prefix.
    fn put_raw(&mut self, bytes: &[u8]);

    /// `byte`.
    fn put_u8(&mut self, v: u8) {
        self.put_raw(&[v]);
    }
    /// `boolean`.
    fn put_bool(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }
    /// `uint32`.
    fn put_u32(&mut self, v: u32) {
        self.put_raw(&v.to_be_bytes());
    }
    /// `uint64`.
    fn put_u64(&mut self, v: u64) {
        self.put_raw(&v.to_be_bytes());
    }
    /// `string`.
    fn put_string(&mut self, s: &[u8]) {
        // A single SSH packet cannot carry 4 GiB, so this cannot truncate for
        // anything we build; saturate rather than wrap to be safe.
        self.put_u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.put_raw(s);
    }
    /// `string` holding text.
    fn put_str(&mut self, s: &str) {
        self.put_string(s.as_bytes());
    }
    /// `name-list`.
    fn put_name_list<S: AsRef<str>>(&mut self, names: &[S]) {
        let len: usize =
            names.iter().map(|n| n.as_ref().len()).sum::<usize>() + names.len().saturating_sub(1);
        self.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                self.put_raw(b",");
            }
            self.put_raw(n.as_ref().as_bytes());
        }
    }
    /// `mpint` from an unsigned big-endian magnitude: leading zeros are
    /// stripped and a zero byte is prepended when the top bit is set
    /// (RFC 4251 section 5).
    fn put_mpint(&mut self, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let m = &magnitude[start..];
        let pad = m.first().is_some_and(|b| b & 0x80 != 0);
        self.put_u32(u32::try_from(m.len() + usize::from(pad)).unwrap_or(u32::MAX));
        if pad {
            self.put_u8(0);
        }
        self.put_raw(m);
    }
}

impl Encode for Vec<u8> {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Encode for bytes::BytesMut {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_examples_from_rfc4251() {
        // RFC 4251 section 5 examples.
        let cases: &[(&[u8], &[u8])] = &[
            (&[], &[0, 0, 0, 0]),
            (
                &[0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
                &[0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7],
            ),
            (&[0x80], &[0, 0, 0, 2, 0, 0x80]),
            (&[0, 0, 0x80], &[0, 0, 0, 2, 0, 0x80]),
        ];
        for (input, want) in cases {
            let mut v = Vec::new();
            v.put_mpint(input);
            assert_eq!(&v[..], *want);
        }
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0, 0, 0, 9, b'a']);
        assert!(r.string().is_err());
        let mut r = Reader::new(&[0, 0]);
        assert!(r.u32().is_err());
    }

    #[test]
    fn name_list_round_trip_and_rejects_empty_names() {
        let mut v = Vec::new();
        v.put_name_list(&["a", "bc"]);
        assert_eq!(Reader::new(&v).name_list().unwrap(), vec!["a", "bc"]);
        let mut v = Vec::new();
        v.put_str("a,,b");
        assert!(Reader::new(&v).name_list().is_err());
        let mut v = Vec::new();
        v.put_str("");
        assert!(Reader::new(&v).name_list().unwrap().is_empty());
    }
}
