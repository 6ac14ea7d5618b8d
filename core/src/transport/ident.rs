//! The identification exchange (RFC 4253 section 4.2): `SSH-2.0-software
//! comments` CR LF, possibly after other lines of text from a server.

use bytes::{Buf, BytesMut};

use crate::error::{Error, PeerIncompatible, PeerMisbehaved};

/// Most text lines accepted before the version line (RFC 4253 section 4.2
/// sets no limit; a peer must not make us read forever).
pub(crate) const MAX_BANNER_LINES: usize = 1024;
/// Most bytes of text accepted before the version line.
pub(crate) const MAX_BANNER_BYTES: usize = 64 * 1024;
/// The version line's maximum length including CR LF (RFC 4253 section 4.2).
pub(crate) const MAX_VERSION_LINE: usize = 255;

const PREFIX: &[u8] = b"SSH-";

/// Our identification line as sent, CR LF included.
pub(crate) fn our_line(software_version: &str) -> Vec<u8> {
    format!("SSH-2.0-{software_version}\r\n").into_bytes()
}

/// Reads the peer's identification from the start of the receive buffer.
#[derive(Debug, Default)]
pub(crate) struct IdentReader {
    lines: usize,
    bytes: usize,
    /// Bytes at the front of the buffer already searched for the end of
    /// the current text line, so a line trickled in a byte at a time is
    /// searched once in all, not once per byte (quadratic otherwise).
    scanned: usize,
}

impl IdentReader {
    /// Consumes text lines and, once complete, the version line from `buf`.
    /// Returns the identification string without CR LF (it goes into the
    /// exchange hash as V_C / V_S), or `None` while more input is needed.
    pub(crate) fn poll(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<u8>>, Error> {
        loop {
            let looks_like_version = if buf.len() >= PREFIX.len() {
                buf.starts_with(PREFIX)
            } else {
                PREFIX.starts_with(buf)
            };
            if looks_like_version {
                let window = &buf[..buf.len().min(MAX_VERSION_LINE)];
                let Some(lf) = window.iter().position(|&b| b == b'\n') else {
                    if buf.len() >= MAX_VERSION_LINE {
                        return Err(
                            PeerMisbehaved::BadIdentification("version line too long").into()
                        );
                    }
                    return Ok(None);
                };
                let line = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]).to_vec();
                buf.advance(lf + 1);
                check_version_line(&line)?;
                return Ok(Some(line));
            }
            // RFC 4253 section 4.2: other lines may precede the version line
            // (OpenSSH accepts a bare LF as the end of a line too).
            let from = self.scanned.min(buf.len());
            let Some(lf) = buf[from..].iter().position(|&b| b == b'\n') else {
                if self.bytes + buf.len() > MAX_BANNER_BYTES {
                    return Err(PeerMisbehaved::TooManyBannerLines.into());
                }
                self.scanned = buf.len();
                return Ok(None);
            };
            let lf = from + lf;
            self.scanned = 0;
            self.lines += 1;
            self.bytes += lf + 1;
            if self.lines > MAX_BANNER_LINES || self.bytes > MAX_BANNER_BYTES {
                return Err(PeerMisbehaved::TooManyBannerLines.into());
            }
            buf.advance(lf + 1);
        }
    }
}

/// Checks `SSH-protoversion-softwareversion [SP comments]` (CR LF removed).
fn check_version_line(line: &[u8]) -> Result<(), Error> {
    if line.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(PeerMisbehaved::BadIdentification("control character in version line").into());
    }
    let rest = &line[PREFIX.len()..];
    let Some(dash) = rest.iter().position(|&b| b == b'-') else {
        return Err(PeerMisbehaved::BadIdentification("no software version").into());
    };
    let proto = &rest[..dash];
    // RFC 4253 section 5.1: "1.99" announces a server that also speaks 2.0.
    if proto != b"2.0" && proto != b"1.99" {
        return Err(PeerIncompatible::Version(String::from_utf8_lossy(proto).into_owned()).into());
    }
    if rest.len() == dash + 1 {
        return Err(PeerMisbehaved::BadIdentification("empty software version").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = BytesMut::from(input);
        IdentReader::default().poll(&mut buf)
    }

    #[test]
    fn version_line_with_crlf_or_bare_lf_and_the_rest_stays_buffered() {
        let mut buf = BytesMut::from(&b"SSH-2.0-OpenSSH_9.6 Debian\r\n\0\0\0\x0c"[..]);
        let id = IdentReader::default().poll(&mut buf).unwrap().unwrap();
        assert_eq!(id, b"SSH-2.0-OpenSSH_9.6 Debian");
        assert_eq!(&buf[..], b"\0\0\0\x0c");
        assert_eq!(read_all(b"SSH-1.99-x\n").unwrap().unwrap(), b"SSH-1.99-x");
    }

    #[test]
    fn text_lines_before_the_version_are_skipped() {
        let id = read_all(b"hello\r\nSSH is cool\nSSH-2.0-x\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(id, b"SSH-2.0-x");
    }

    #[test]
    fn split_anywhere_gives_the_same_result() {
        let input = b"banner\r\nSSH-2.0-split_test c\r\nrest";
        let mut reader = IdentReader::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if got.is_none() {
                got = reader.poll(&mut buf).unwrap();
            }
        }
        assert_eq!(got.unwrap(), b"SSH-2.0-split_test c");
        assert_eq!(&buf[..], b"rest");
    }

    #[test]
    fn other_protocol_versions_are_incompatible() {
        assert_eq!(
            read_all(b"SSH-1.5-old\r\n").unwrap_err(),
            Error::PeerIncompatible(PeerIncompatible::Version("1.5".into()))
        );
    }

    #[test]
    fn malformed_and_oversized_lines_are_refused() {
        let long = [&b"SSH-2.0-"[..], &[b'a'; 300], b"\r\n"].concat();
        assert!(matches!(
            read_all(&long),
            Err(Error::PeerMisbehaved(PeerMisbehaved::BadIdentification(_)))
        ));
        // 253 bytes + CR LF = 255: the longest allowed.
        let max = [&b"SSH-2.0-"[..], &[b'a'; 245], b"\r\n"].concat();
        assert_eq!(max.len(), 255);
        assert!(read_all(&max).unwrap().is_some());
        for bad in [&b"SSH-2.0\r\n"[..], b"SSH-2.0-\r\n", b"SSH-2.0-a\0b\r\n"] {
            assert!(read_all(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_banner_line_trickled_a_byte_at_a_time_is_searched_once() {
        let mut reader = IdentReader::default();
        let mut buf = BytesMut::new();
        for _ in 0..1000 {
            buf.extend_from_slice(b"x");
            assert_eq!(reader.poll(&mut buf).unwrap(), None);
            assert_eq!(reader.scanned, buf.len());
        }
        buf.extend_from_slice(b"\nSSH-2.0-y\r\n");
        assert_eq!(reader.poll(&mut buf).unwrap().unwrap(), b"SSH-2.0-y");
        assert_eq!(reader.lines, 1);
        assert_eq!(reader.scanned, 0);
    }

    #[test]
    fn too_many_banner_lines_or_bytes() {
        let many = b"x\r\n".repeat(MAX_BANNER_LINES + 1);
        assert_eq!(
            read_all(&many).unwrap_err(),
            Error::PeerMisbehaved(PeerMisbehaved::TooManyBannerLines)
        );
        // One endless line without LF.
        let endless = vec![b'x'; MAX_BANNER_BYTES + 1];
        assert_eq!(
            read_all(&endless).unwrap_err(),
            Error::PeerMisbehaved(PeerMisbehaved::TooManyBannerLines)
        );
        // Exactly at the limit is still fine.
        let ok = [&b"x\r\n".repeat(MAX_BANNER_LINES)[..], b"SSH-2.0-y\r\n"].concat();
        assert!(read_all(&ok).unwrap().is_some());
    }
}
