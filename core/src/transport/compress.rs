//! Payload compression (RFC 4253 section 6.2): `zlib`, which starts with
//! the first NEWKEYS, and `zlib@openssh.com` (OpenSSH PROTOCOL section
//! 1.2, draft-miller-secsh-compression-delayed), the same stream started
//! only after USERAUTH_SUCCESS, so that nobody unauthenticated reaches the
//! inflater.
//!
//! Each direction is one zlib stream (RFC 1950 framing) for as long as a
//! set of keys lasts: every packet's payload is deflated and ended with a
//! partial flush (OpenSSH's `Z_PARTIAL_FLUSH`), so the peer can inflate it
//! whole while the history carries over to the next packet. The context is
//! started afresh at each NEWKEYS in that direction (section 6.2: "The
//! compression context is initialized after each key exchange"; OpenSSH's
//! `ssh_set_newkeys` ends the old stream and starts a new one too).
//!
//! The inflater is bounded: a payload may not inflate past the largest
//! packet we accept, so a few bytes on the wire cannot make us allocate
//! more (a "decompression bomb" ends the connection with
//! COMPRESSION_ERROR).
//!
//! Not wiped: the deflate and inflate histories (up to 32 KiB each way of
//! recent plaintext, passwords included once compression is on) live in
//! flate2's state until the context ends; `zlib@openssh.com` never sees a
//! password, which is one more reason it is the one OpenSSH offers.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::config::{COMPRESSION_NONE, COMPRESSION_ZLIB, COMPRESSION_ZLIB_OPENSSH};
use crate::error::PeerMisbehaved;

/// The deflate level OpenSSH uses (`start_compression_out(ssh, 6)`).
const LEVEL: u32 = 6;
/// Output room added at a time while inflating: one typical packet.
const INFLATE_STEP: usize = 32 * 1024;

/// A negotiated compression method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `none`.
    None,
    /// `zlib`: on from NEWKEYS.
    Zlib,
    /// `zlib@openssh.com`: on from USERAUTH_SUCCESS (or from NEWKEYS once
    /// authenticated, for a re-exchange).
    Delayed,
}

impl Method {
    /// The method for a name we implement.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            COMPRESSION_NONE => Some(Method::None),
            COMPRESSION_ZLIB => Some(Method::Zlib),
            COMPRESSION_ZLIB_OPENSSH => Some(Method::Delayed),
            _ => None,
        }
    }

    /// Its name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::None => COMPRESSION_NONE,
            Method::Zlib => COMPRESSION_ZLIB,
            Method::Delayed => COMPRESSION_ZLIB_OPENSSH,
        }
    }

    /// Whether the stream runs at once when keys are taken into use,
    /// `authenticated` saying whether USERAUTH_SUCCESS went by already.
    fn starts_at_newkeys(self, authenticated: bool) -> bool {
        match self {
            Method::None => false,
            Method::Zlib => true,
            Method::Delayed => authenticated,
        }
    }
}

/// One direction's compression, as far as the keys in use go.
#[derive(Debug, Default)]
pub(crate) enum State<T> {
    /// Payloads pass as they are.
    #[default]
    Off,
    /// `zlib@openssh.com` negotiated, authentication not yet done.
    Waiting,
    /// The stream runs.
    On(Box<T>),
}

impl<T: Stream> State<T> {
    /// The state for newly taken keys (section 6.2: a fresh context).
    pub(crate) fn at_newkeys(method: Method, authenticated: bool) -> Self {
        if method.starts_at_newkeys(authenticated) {
            State::On(Box::new(T::start()))
        } else if method == Method::Delayed {
            State::Waiting
        } else {
            State::Off
        }
    }

    /// USERAUTH_SUCCESS went by: a waiting delayed stream starts.
    pub(crate) fn authenticated(&mut self) {
        if matches!(self, State::Waiting) {
            *self = State::On(Box::new(T::start()));
        }
    }

    /// Whether payloads are being (de)compressed.
    pub(crate) fn is_on(&self) -> bool {
        matches!(self, State::On(_))
    }
}

/// A stream that starts fresh.
pub(crate) trait Stream {
    /// A new context.
    fn start() -> Self;
}

/// The sending side's zlib stream.
pub(crate) struct Deflater {
    z: Compress,
    /// The compressed payload of the packet being framed.
    out: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .finish_non_exhaustive()
    }
}

impl Stream for Deflater {
    fn start() -> Self {
        Deflater {
            // RFC 1950 framing (zlib header), as deflateInit gives OpenSSH.
            z: Compress::new(Compression::new(LEVEL), true),
            out: Vec::new(),
        }
    }
}

impl Deflater {
    /// Deflates the payload made of `parts` and ends it with a partial
    /// flush, so the peer can inflate all of it now; the bytes are valid
    /// until the next call. The previous payload's bytes are wiped first
    /// (they may have carried a password).
    pub(crate) fn compress(&mut self, parts: &[&[u8]]) -> &[u8] {
        zeroize::Zeroize::zeroize(&mut self.out);
        self.out.clear();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // Deflate's worst case is a few bytes per 16 KiB block over the
        // input, plus the flush marker; more room is added if ever needed.
        self.out.reserve(len + len / 1024 + 64);
        for (i, part) in parts.iter().enumerate() {
            let flush = if i + 1 == parts.len() {
                FlushCompress::Partial
            } else {
                FlushCompress::None
            };
            self.feed(part, flush);
        }
        if parts.is_empty() {
            self.feed(&[], FlushCompress::Partial);
        }
        &self.out
    }

    /// Runs `input` through the stream until all of it is taken and, for a
    /// flush, until the flush is out whole (the output buffer did not fill).
    fn feed(&mut self, mut input: &[u8], flush: FlushCompress) {
        loop {
            if self.out.len() == self.out.capacity() {
                self.out.reserve(INFLATE_STEP);
            }
            let before = self.z.total_in();
            let room = self.out.capacity() - self.out.len();
            if self.z.compress_vec(input, &mut self.out, flush).is_err() {
                // flate2 fails only on misuse of a finished stream, which
                // we never finish; the peer would see a corrupt stream.
                tracing::error!("deflate failed");
                return;
            }
            let took = usize::try_from(self.z.total_in() - before).unwrap_or(input.len());
            input = input.get(took..).unwrap_or_default();
            let filled = self.out.capacity() - self.out.len() < room;
            let output_full = self.out.len() == self.out.capacity();
            if input.is_empty() && !output_full {
                return;
            }
            if took == 0 && !filled && !output_full {
                // No progress with room to spare: nothing more will come.
                return;
            }
        }
    }
}

/// The receiving side's zlib stream.
pub(crate) struct Inflater {
    z: Decompress,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .finish_non_exhaustive()
    }
}

impl Stream for Inflater {
    fn start() -> Self {
        Inflater {
            z: Decompress::new(true),
        }
    }
}

impl Inflater {
    /// Inflates one packet's payload into `out` (cleared first), which
    /// never grows past `limit` bytes: a payload inflating further is
    /// refused, as is one that is not a whole, flushed part of the stream.
    pub(crate) fn decompress(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), PeerMisbehaved> {
        out.clear();
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err(PeerMisbehaved::Compression(
                        "payload inflates past the maximum packet size",
                    ));
                }
                let step = INFLATE_STEP.max(input.len() * 4);
                out.reserve_exact(step.min(limit - out.len()));
            }
            let (in_before, out_before) = (self.z.total_in(), out.len());
            let status = self
                .z
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| PeerMisbehaved::Compression("corrupt zlib stream"))?;
            if status == Status::StreamEnd {
                // The stream must go on for the next packet (OpenSSH treats
                // Z_STREAM_END as an error too).
                return Err(PeerMisbehaved::Compression("zlib stream ended"));
            }
            let took = usize::try_from(self.z.total_in() - in_before).unwrap_or(input.len());
            input = input.get(took..).unwrap_or_default();
            // Done only when a call makes no progress: miniz_oxide can take
            // all the input and still hold output back (what it decoded
            // past its 32 KiB window's wrap), handing it out on the next
            // call even with no input; stopping at "all input taken" cut
            // such payloads short.
            let produced = out.len() > out_before;
            if took == 0 && !produced && out.len() < out.capacity() {
                if input.is_empty() {
                    return Ok(());
                }
                return Err(PeerMisbehaved::Compression("truncated zlib data"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(inflater: &mut Inflater, wire: &[u8], limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        inflater.decompress(wire, &mut out, limit).unwrap();
        out
    }

    #[test]
    fn packets_round_trip_and_share_history() {
        let mut d = Deflater::start();
        let mut i = Inflater::start();
        let text = b"the quick brown fox jumps over the lazy dog ".repeat(40);
        let first = d.compress(&[&text[..5], &text[5..]]).to_vec();
        assert!(first.len() < text.len() / 4, "{} bytes", first.len());
        assert_eq!(inflate_all(&mut i, &first, 1 << 18), text);
        // The same text again costs almost nothing: the history carried over.
        let second = d.compress(&[&text]).to_vec();
        assert!(second.len() < 40, "{} bytes", second.len());
        assert_eq!(inflate_all(&mut i, &second, 1 << 18), text);
        // Incompressible bytes grow by a little only.
        let noise: Vec<u8> = (0..70_000u32)
            .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let third = d.compress(&[&noise]).to_vec();
        assert_eq!(inflate_all(&mut i, &third, 1 << 18), noise);
        assert!(d.compress(&[]).len() < 8);
    }

    #[test]
    fn payloads_past_the_inflate_window_come_out_whole() {
        // Channel data of 32 KiB with its header inflates past miniz_oxide's
        // 32 KiB window: all of it must come out, whatever the ratio.
        for (len, period) in [
            (32_777usize, 7u32),
            (32_777, 251),
            (40_000, 1021),
            (65_545, 4099),
        ] {
            let mut d = Deflater::start();
            let mut i = Inflater::start();
            let data: Vec<u8> = (0..len as u32)
                .map(|n| ((n % period).wrapping_mul(2_654_435_761) >> 11) as u8)
                .collect();
            let wire = d.compress(&[&data[..9], &data[9..]]).to_vec();
            let out = inflate_all(&mut i, &wire, 256 * 1024);
            assert_eq!(
                out.len(),
                len,
                "period {period}: {} bytes of {len}",
                out.len()
            );
            assert!(out == data, "period {period}: bytes differ");
        }
    }

    #[test]
    fn a_stream_of_channel_packets_of_every_size_comes_out_whole() {
        // As a session carrying `yes conch` output: the history runs across
        // packets, so where the inflater's window wraps moves from packet to
        // packet.
        let mut d = Deflater::start();
        let mut i = Inflater::start();
        let text = b"conch\n".repeat(6000);
        let mut seed = 7u32;
        for _ in 0..3000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = 1 + (seed >> 8) as usize % 32_768;
            let start = (seed >> 3) as usize % 6;
            let mut payload = vec![94u8, 0, 0, 0, 0];
            payload.extend_from_slice(&(len as u32).to_be_bytes());
            payload.extend_from_slice(&text[start..start + len]);
            let wire = d.compress(&[&payload[..9], &payload[9..]]).to_vec();
            let out = inflate_all(&mut i, &wire, 256 * 1024);
            assert_eq!(out.len(), payload.len(), "{len}");
            assert!(out == payload);
        }
    }

    #[test]
    fn a_payload_inflating_past_the_limit_is_refused_without_growing() {
        let mut d = Deflater::start();
        let mut i = Inflater::start();
        let bomb = d.compress(&[&vec![0u8; 1 << 20]]).to_vec();
        assert!(bomb.len() < 2048, "{} bytes", bomb.len());
        let mut out = Vec::new();
        assert_eq!(
            i.decompress(&bomb, &mut out, 256 * 1024),
            Err(PeerMisbehaved::Compression(
                "payload inflates past the maximum packet size"
            ))
        );
        assert!(out.capacity() <= 256 * 1024, "{}", out.capacity());
    }

    #[test]
    fn garbage_and_truncated_data_are_refused() {
        let mut out = Vec::new();
        assert!(Inflater::start()
            .decompress(b"\xff\xff\xff\xff", &mut out, 1 << 18)
            .is_err());
        let mut d = Deflater::start();
        let wire = d.compress(&[b"hello hello hello"]).to_vec();
        // Only the zlib header: nothing of the payload arrives.
        let got = Inflater::start().decompress(&wire[..2], &mut out, 1 << 18);
        assert!(got.is_ok() && out.is_empty());
    }
}
