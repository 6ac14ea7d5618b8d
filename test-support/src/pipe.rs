//! Bytes in flight: the pipes between the two ends, transcripts, and taps
//! that inject or corrupt packets.

use conch_core::{BytesMut, Connection};
use sha2::{Digest, Sha256};

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ClientToServer,
    /// Server to client.
    ServerToClient,
}

/// Sees every byte in flight and decides what the receiver gets: used to
/// inject, drop or corrupt packets.
pub trait Tap {
    /// `bytes` were just transmitted going `dir`; append to `out` what the
    /// receiver should get instead.
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>);
}

/// One direction of the in-memory socket.
#[derive(Debug)]
pub struct Pipe {
    /// Bytes written by the sender (after the tap), not yet delivered.
    pub(crate) in_flight: Vec<u8>,
    /// SHA-256 of every byte the sender transmitted (before the tap), if
    /// kept.
    transcript: Option<Sha256>,
    /// Bytes the sender transmitted.
    pub sent: u64,
    /// Bytes handed to the receiver.
    pub delivered: u64,
    /// While set, bytes stay in flight (the peer looks silent).
    pub blocked: bool,
}

impl Pipe {
    /// An empty pipe that keeps a transcript.
    pub fn new() -> Self {
        Pipe {
            in_flight: Vec::new(),
            transcript: Some(Sha256::new()),
            sent: 0,
            delivered: 0,
            blocked: false,
        }
    }

    /// Stops hashing the transcript (it costs as much as a cipher, which a
    /// benchmark would measure); [`Pipe::digest`] then panics.
    pub fn drop_transcript(&mut self) {
        self.transcript = None;
    }

    /// Whether the transcript is kept.
    pub fn keeps_transcript(&self) -> bool {
        self.transcript.is_some()
    }

    /// Queues `bytes` transmitted going `dir`, through `tap` if there is one.
    pub fn push(&mut self, dir: Direction, bytes: &[u8], tap: &mut Option<Box<dyn Tap>>) {
        if let Some(t) = &mut self.transcript {
            t.update(bytes);
        }
        self.sent += bytes.len() as u64;
        match tap {
            Some(t) => t.on_bytes(dir, bytes, &mut self.in_flight),
            None => self.in_flight.extend_from_slice(bytes),
        }
    }

    /// `conn`'s transmit buffer, taken with `take_transmit` straight into
    /// the empty buffer in flight, which `take_transmit` swaps with the
    /// connection's: nothing is copied. While bytes are still in flight,
    /// the new ones wait in the connection (as behind a write in progress)
    /// rather than be appended, which would copy them. Returns how many
    /// bytes came.
    pub(crate) fn take_from(&mut self, conn: &mut Connection) -> usize {
        if !self.in_flight.is_empty() {
            return 0;
        }
        conn.take_transmit(&mut self.in_flight);
        let n = self.in_flight.len();
        self.sent += n as u64;
        n
    }

    /// Everything in flight, as a buffer for `handle_input_buf`, in the
    /// same memory: `BytesMut`'s `FromIterator` collects into a `Vec`,
    /// which reuses the memory of the `Vec` it iterates over (the standard
    /// library's in-place collection). `Bytes::from(vec).try_into_mut()`
    /// would keep the memory too, but allocates a header whenever the `Vec`
    /// has spare capacity, which is nearly always.
    pub(crate) fn take_buf(&mut self) -> BytesMut {
        let data = std::mem::take(&mut self.in_flight);
        self.delivered += data.len() as u64;
        data.into_iter().collect()
    }

    /// Gives back the spare `handle_input_buf` left: its payloads dropped
    /// by the app, it is unshared and turns into a `Vec` with no copy,
    /// keeping its allocation for the next `take_transmit`.
    pub(crate) fn restore_buf(&mut self, spare: BytesMut) {
        debug_assert!(self.in_flight.is_empty());
        let mut v = Vec::from(spare);
        v.clear();
        self.in_flight = v;
    }

    /// Queues `bytes` the sender never transmitted, after what is in
    /// flight: raw bytes from a third party on the wire, outside the
    /// transcript and the tap.
    pub fn inject(&mut self, bytes: &[u8]) {
        self.in_flight.extend_from_slice(bytes);
    }

    /// Takes everything in flight (it counts as delivered): the bytes a
    /// test intercepts, to drop, read or change before it injects them.
    pub fn take(&mut self) -> Vec<u8> {
        let data = std::mem::take(&mut self.in_flight);
        self.delivered += data.len() as u64;
        data
    }

    /// SHA-256 of everything the sender transmitted so far.
    ///
    /// # Panics
    ///
    /// If the transcript was dropped ([`Pipe::drop_transcript`]).
    pub fn digest(&self) -> [u8; 32] {
        self.transcript
            .clone()
            .expect("the pipe keeps no transcript")
            .finalize()
            .into()
    }

    /// Bytes waiting to be delivered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Drops whatever is in flight (the network lost it).
    pub fn discard(&mut self) {
        self.in_flight.clear();
    }
}

impl Default for Pipe {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of each direction's byte stream, as the senders emitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcript {
    /// Client to server.
    pub c2s: [u8; 32],
    /// Server to client.
    pub s2c: [u8; 32],
    /// Bytes client to server.
    pub c2s_len: u64,
    /// Bytes server to client.
    pub s2c_len: u64,
}

/// Inserts `packet` into the stream going `dir` right after the first binary
/// packet that follows the identification line (that is, after the KEXINIT,
/// which is sent in the clear: RFC 4253 sections 4.2 and 6).
#[derive(Debug)]
pub struct InjectAfterFirstPacket {
    /// Which stream.
    pub dir: Direction,
    /// Raw bytes to insert.
    pub packet: Vec<u8>,
    held: Vec<u8>,
    done: bool,
}

impl InjectAfterFirstPacket {
    /// A tap that inserts `packet` once.
    pub fn new(dir: Direction, packet: Vec<u8>) -> Self {
        InjectAfterFirstPacket {
            dir,
            packet,
            held: Vec::new(),
            done: false,
        }
    }

    /// Where the first packet ends in `held`, once it is all there.
    fn split_point(&self) -> Option<usize> {
        // The identification line ends with CR LF (RFC 4253 section 4.2).
        // Only the server may send other lines before it; those would end
        // the same way, but they do not start with "SSH-".
        let mut pos = 0;
        loop {
            let rest = self.held.get(pos..)?;
            let eol = rest.windows(2).position(|w| w == b"\r\n")?;
            let is_version = rest.starts_with(b"SSH-");
            pos += eol + 2;
            if is_version {
                break;
            }
        }
        let len_bytes = self.held.get(pos..pos + 4)?;
        let len = u32::from_be_bytes(len_bytes.try_into().ok()?) as usize;
        let end = pos + 4 + len;
        (self.held.len() >= end).then_some(end)
    }
}

impl Tap for InjectAfterFirstPacket {
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>) {
        if dir != self.dir || self.done {
            out.extend_from_slice(bytes);
            return;
        }
        self.held.extend_from_slice(bytes);
        if let Some(end) = self.split_point() {
            out.extend_from_slice(&self.held[..end]);
            out.extend_from_slice(&self.packet);
            out.extend_from_slice(&self.held[end..]);
            self.held.clear();
            self.done = true;
        }
    }
}

/// Flips bits of one byte of the stream going `dir`, `offset` bytes after
/// the tap was installed.
#[derive(Debug)]
pub struct FlipByte {
    /// Which stream.
    pub dir: Direction,
    /// Offset from the installation of the tap.
    pub offset: u64,
    /// XOR mask.
    pub mask: u8,
    seen: u64,
    /// Whether the flip happened.
    pub flipped: bool,
}

impl FlipByte {
    /// Flips `mask` into the byte at `offset`.
    pub fn new(dir: Direction, offset: u64, mask: u8) -> Self {
        FlipByte {
            dir,
            offset,
            mask,
            seen: 0,
            flipped: false,
        }
    }
}

impl Tap for FlipByte {
    fn on_bytes(&mut self, dir: Direction, bytes: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(bytes);
        if dir != self.dir {
            return;
        }
        let end = self.seen + bytes.len() as u64;
        if !self.flipped && (self.seen..end).contains(&self.offset) {
            out[start + (self.offset - self.seen) as usize] ^= self.mask;
            self.flipped = true;
        }
        self.seen = end;
    }
}

/// A plaintext SSH_MSG_IGNORE packet with an empty string (RFC 4253 sections
/// 6 and 11.2), framed for the unencrypted phase: block size 8, padding of
/// at least 4 bytes (zeros, which is allowed before encryption starts).
pub fn plaintext_ignore_packet() -> Vec<u8> {
    let payload = [2u8, 0, 0, 0, 0];
    // packet_length(4) + padding_length(1) + payload + padding = 0 mod 8.
    let mut padding = 8 - (4 + 1 + payload.len()) % 8;
    if padding < 4 {
        padding += 8;
    }
    let packet_length = (1 + payload.len() + padding) as u32;
    let mut p = Vec::new();
    p.extend_from_slice(&packet_length.to_be_bytes());
    p.push(padding as u8);
    p.extend_from_slice(&payload);
    p.extend(std::iter::repeat_n(0u8, padding));
    assert_eq!(p.len() % 8, 0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Injected bytes reach the receiver after what was in flight, but are
    /// not part of what the sender transmitted; taking them delivers them.
    #[test]
    fn injected_bytes_are_delivered_but_not_in_the_transcript() {
        let mut sent_only = Pipe::new();
        sent_only.push(Direction::ClientToServer, b"SSH-2.0-x\r\n", &mut None);
        let mut pipe = Pipe::new();
        pipe.push(Direction::ClientToServer, b"SSH-2.0-x\r\n", &mut None);
        pipe.inject(b"junk");
        assert_eq!(pipe.digest(), sent_only.digest());
        assert_eq!(pipe.sent, 11);
        assert_eq!(pipe.take(), b"SSH-2.0-x\r\njunk");
        assert_eq!((pipe.in_flight(), pipe.delivered), (0, 15));
    }

    /// A tap decides what the receiver gets; the transcript keeps what the
    /// sender sent.
    #[test]
    fn a_tap_changes_the_bytes_in_flight_not_the_transcript() {
        let mut tap: Option<Box<dyn Tap>> =
            Some(Box::new(FlipByte::new(Direction::ServerToClient, 1, 0x20)));
        let mut plain = Pipe::new();
        plain.push(Direction::ServerToClient, b"abc", &mut None);
        let mut pipe = Pipe::new();
        pipe.push(Direction::ServerToClient, b"abc", &mut tap);
        assert_eq!(pipe.take(), b"aBc");
        assert_eq!(pipe.digest(), plain.digest());
    }
}
