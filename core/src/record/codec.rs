//! The primitive encodings of the transcript format: LEB128 varints,
//! length-prefixed byte strings, flags and options.
//!
//! These are the transcript's own, not SSH's wire types: a transcript is
//! mostly small numbers (channel ids, lengths, time offsets), which take one
//! to five bytes as varints instead of SSH's fixed four or eight.
//!
//! [`Reader`] never panics on a short or malformed transcript: a transcript
//! may come from a bug report, so every getter returns a [`FormatError`].

use std::time::Duration;

use super::FormatError;

/// Appends transcript primitives to a buffer.
pub(crate) trait Put {
    /// Raw bytes.
    fn raw(&mut self, bytes: &[u8]);

    /// One byte.
    fn byte(&mut self, v: u8) {
        self.raw(&[v]);
    }

    /// An unsigned LEB128 varint: seven bits a byte, low bits first, the top
    /// bit set on every byte but the last.
    fn uvar(&mut self, mut v: u64) {
        let mut buf = [0u8; 10];
        let mut n = 0;
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                buf[n] = low;
                n += 1;
                break;
            }
            buf[n] = low | 0x80;
            n += 1;
        }
        self.raw(&buf[..n]);
    }

    /// A `usize` as a varint.
    fn usize(&mut self, v: usize) {
        self.uvar(v as u64);
    }

    /// A signed varint, zigzag-mapped (0, -1, 1, -2 ... become 0, 1, 2, 3 ...).
    fn ivar(&mut self, v: i64) {
        self.uvar(((v << 1) ^ (v >> 63)) as u64);
    }

    /// `0` or `1`.
    fn flag(&mut self, v: bool) {
        self.byte(u8::from(v));
    }

    /// A varint length, then the bytes.
    fn bytes(&mut self, b: &[u8]) {
        self.usize(b.len());
        self.raw(b);
    }

    /// Text, as [`Put::bytes`] of its UTF-8.
    fn text(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// A varint count, then each string.
    fn texts<S: AsRef<str>>(&mut self, list: &[S]) {
        self.usize(list.len());
        for s in list {
            self.text(s.as_ref());
        }
    }

    /// Seconds and nanoseconds, two varints (exact for any `Duration`).
    fn duration(&mut self, d: Duration) {
        self.uvar(d.as_secs());
        self.uvar(u64::from(d.subsec_nanos()));
    }

    /// A flag, then the duration if present.
    fn opt_duration(&mut self, d: Option<Duration>) {
        self.flag(d.is_some());
        if let Some(d) = d {
            self.duration(d);
        }
    }

    /// A flag, then the text if present.
    fn opt_text(&mut self, s: Option<&str>) {
        self.flag(s.is_some());
        if let Some(s) = s {
            self.text(s);
        }
    }
}

impl Put for Vec<u8> {
    fn raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A cursor over transcript bytes; values borrow from them where they can.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    /// Bytes read so far, for error positions.
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next byte in the whole transcript.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn short(&self, what: &'static str) -> FormatError {
        FormatError::Truncated {
            what,
            offset: self.pos,
        }
    }

    pub(crate) fn invalid(&self, what: &'static str) -> FormatError {
        FormatError::Invalid {
            what,
            offset: self.pos,
        }
    }

    pub(crate) fn raw(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.buf.len() < n {
            return Err(self.short(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        self.pos += n;
        Ok(head)
    }

    pub(crate) fn byte(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.raw(1, what)?[0])
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.raw(N, what)?);
        Ok(a)
    }

    pub(crate) fn uvar(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte(what)?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(self.invalid(what));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.invalid(what))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        let v = self.uvar(what)?;
        u32::try_from(v).map_err(|_| self.invalid(what))
    }

    pub(crate) fn usize(&mut self, what: &'static str) -> Result<usize, FormatError> {
        let v = self.uvar(what)?;
        usize::try_from(v).map_err(|_| self.invalid(what))
    }

    pub(crate) fn ivar(&mut self, what: &'static str) -> Result<i64, FormatError> {
        let z = self.uvar(what)?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    pub(crate) fn flag(&mut self, what: &'static str) -> Result<bool, FormatError> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.invalid(what)),
        }
    }

    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let len = self.usize(what)?;
        self.raw(len, what)
    }

    pub(crate) fn text(&mut self, what: &'static str) -> Result<&'a str, FormatError> {
        let at = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| FormatError::Invalid { what, offset: at })
    }

    pub(crate) fn texts(&mut self, what: &'static str) -> Result<Vec<String>, FormatError> {
        let n = self.usize(what)?;
        // Each string takes at least one byte, so a count larger than what
        // is left is a lie; do not let it size an allocation.
        if n > self.buf.len() {
            return Err(self.short(what));
        }
        (0..n)
            .map(|_| self.text(what).map(str::to_string))
            .collect()
    }

    pub(crate) fn duration(&mut self, what: &'static str) -> Result<Duration, FormatError> {
        let secs = self.uvar(what)?;
        let nanos = self.u32(what)?;
        if nanos >= 1_000_000_000 {
            return Err(self.invalid(what));
        }
        Ok(Duration::new(secs, nanos))
    }

    pub(crate) fn opt_duration(
        &mut self,
        what: &'static str,
    ) -> Result<Option<Duration>, FormatError> {
        if self.flag(what)? {
            Ok(Some(self.duration(what)?))
        } else {
            Ok(None)
        }
    }

    pub(crate) fn opt_text(&mut self, what: &'static str) -> Result<Option<String>, FormatError> {
        if self.flag(what)? {
            Ok(Some(self.text(what)?.to_string()))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let values = [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ];
        for v in values {
            let mut buf = Vec::new();
            buf.uvar(v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.uvar("v").unwrap(), v);
            assert!(r.is_empty());
        }
        let mut buf = Vec::new();
        buf.uvar(127);
        assert_eq!(buf, [127]);
        buf.clear();
        buf.uvar(128);
        assert_eq!(buf, [0x80, 1]);
        for v in [0, -1, 1, i64::MIN, i64::MAX, -1_000_000_007] {
            let mut buf = Vec::new();
            buf.ivar(v);
            assert_eq!(Reader::new(&buf).ivar("v").unwrap(), v);
        }
    }

    #[test]
    fn overlong_or_short_varints_are_errors_not_panics() {
        assert!(Reader::new(&[0xff; 11]).uvar("v").is_err());
        assert!(Reader::new(&[0x80]).uvar("v").is_err());
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .uvar("v")
                .is_err()
        );
        // A length larger than the rest.
        assert!(Reader::new(&[5, b'a']).bytes("b").is_err());
        // A count of strings larger than the rest.
        assert!(Reader::new(&[0xff, 0xff, 0x03]).texts("t").is_err());
        assert!(Reader::new(&[2]).flag("f").is_err());
        assert!(Reader::new(&[2, 0xff, 0xfe]).text("t").is_err());
    }

    #[test]
    fn durations_are_exact() {
        for d in [Duration::ZERO, Duration::new(3600, 1), Duration::MAX] {
            let mut buf = Vec::new();
            buf.opt_duration(Some(d));
            assert_eq!(Reader::new(&buf).opt_duration("d").unwrap(), Some(d));
        }
    }
}
