//! The binary packet protocol (RFC 4253 section 6): framing, padding,
//! sequence numbers, and the packet ciphers in both directions.
//!
//! Received packets are opened in place in one `BytesMut` and handed up as
//! `Bytes` slices of it, so payloads reach the upper layers without a copy.
//! Sent packets are framed straight into the transmit buffer and sealed in
//! place; the buffer is reused, so the steady state allocates nothing.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use crate::cipher::{NoneOpener, NoneSealer};
use crate::crypto::{PacketLayout, PacketOpener, PacketSealer};
use crate::error::PeerMisbehaved;
use crate::wire::DecodeError;

use super::compress::{self, Deflater, Inflater};

/// Bytes of `uint32 packet_length`.
const LENGTH_LEN: usize = 4;
/// RFC 4253 section 6: at least four bytes of padding.
const MIN_PADDING: usize = 4;
/// RFC 4253 section 6: a packet is at least 16 bytes (or one block).
const MIN_PACKET: usize = 16;
/// Random bytes kept ready for packets sent where no RNG is at hand
/// (DISCONNECT, UNIMPLEMENTED): the most padding one packet can carry.
const PADDING_RESERVE: usize = 255;

/// Smallest receive buffer allocated.
const MIN_RECEIVE_BUFFER: usize = 16 * 1024;
/// Room a new receive buffer keeps for a partial packet in front of a
/// large read: OpenSSH's packets carry at most 32 KiB of data.
const PARTIAL_PACKET_ROOM: usize = 64 * 1024;
/// Receive buffers kept for their memory (see [`Receiver::make_room`]):
/// enough to cycle through while the application holds the payloads of a
/// few large reads.
const SPARE_BUFFERS: usize = 8;

/// The receiving direction.
pub(crate) struct Receiver {
    /// Bytes received and not yet consumed.
    pub(crate) buf: BytesMut,
    /// Earlier receive buffers, empty, kept until the payloads cut from
    /// them are dropped so that their memory can take input again.
    spares: VecDeque<BytesMut>,
    /// Buffers `make_room` had to allocate (for tests of the reuse).
    #[cfg(test)]
    fresh_buffers: usize,
    opener: Box<dyn PacketOpener>,
    layout: PacketLayout,
    /// Sequence number of the next packet (RFC 4253 section 6.4).
    pub(crate) seq: u32,
    /// Length of the packet whose first block was already read.
    pending_len: Option<usize>,
    /// Bytes received since the last NEWKEYS in this direction (rekey limit).
    pub(crate) bytes_since_kex: u64,
    max_packet_len: usize,
    /// Compression of what we receive (RFC 4253 section 6.2).
    pub(crate) inflate: compress::State<Inflater>,
}

impl std::fmt::Debug for Receiver {
    // Lengths and counters only: buffered packets are nobody's business.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("buffered", &self.buf.len())
            .field("seq", &self.seq)
            .field("layout", &self.layout)
            .field("bytes_since_kex", &self.bytes_since_kex)
            .field("inflate", &self.inflate.is_on())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    pub(crate) fn new(max_packet_len: u32) -> Self {
        Receiver {
            buf: BytesMut::with_capacity(MIN_RECEIVE_BUFFER),
            spares: VecDeque::new(),
            #[cfg(test)]
            fresh_buffers: 0,
            opener: Box::new(NoneOpener),
            layout: PacketLayout::NONE,
            seq: 0,
            pending_len: None,
            bytes_since_kex: 0,
            max_packet_len: max_packet_len as usize,
            inflate: compress::State::Off,
        }
    }

    /// Takes received bytes from `input`, leaving it empty. When nothing is
    /// buffered (no partial packet or identification line waits for more),
    /// the two buffers are swapped instead of copied: packets are then
    /// opened in place in `input`'s memory and split off it, exactly as
    /// they would be in ours, and `input` gets our spare buffer. Otherwise
    /// the bytes are appended after the partial data and `input` is
    /// cleared, keeping its memory.
    pub(crate) fn take_input(&mut self, input: &mut BytesMut) {
        if self.buf.is_empty() {
            // No packet is in progress: `pending_len` is set only while
            // that packet's first block is still buffered.
            debug_assert!(self.pending_len.is_none());
            std::mem::swap(&mut self.buf, input);
        } else {
            self.append(input);
        }
        input.clear();
    }

    /// Appends received bytes after those buffered.
    pub(crate) fn append(&mut self, data: &[u8]) {
        self.make_room(data.len());
        self.buf.extend_from_slice(data);
    }

    /// Makes room for `additional` more bytes, in memory the buffers have
    /// used before where it can.
    ///
    /// Payloads are handed up as slices of the buffer they were received
    /// in, so while the application holds some (a writer still busy with
    /// the last chunks of a download), that memory cannot take input and
    /// the buffer moves to other memory. Left to the allocator, that would
    /// be fresh memory again and again (glibc returns freed memory at the
    /// top of the heap to the kernel), and every page of it costs a page
    /// fault and the kernel zeroing it: about 8% of a client's CPU in a
    /// bulk download. So the buffers left behind are kept, empty, and taken
    /// again once everything cut from them is dropped.
    ///
    /// The spares are let go when a small input finds nothing buffered and
    /// fits the buffer's own memory: the bulk transfer they served is over
    /// (during one, the socket reads are large or end inside a packet). So
    /// a connection holds at most [`SPARE_BUFFERS`] of them, and after a
    /// transfer only until its next small input.
    fn make_room(&mut self, additional: usize) {
        let quiet = self.buf.is_empty() && additional < MIN_RECEIVE_BUFFER;
        if self.buf.try_reclaim(additional) {
            if quiet {
                self.spares.clear();
            }
            return;
        }
        let needed = self.buf.len() + additional;
        let mut next = match self.spares.iter_mut().position(|s| s.try_reclaim(needed)) {
            Some(i) => self.spares.remove(i).unwrap_or_default(),
            None => {
                #[cfg(test)]
                {
                    self.fresh_buffers += 1;
                }
                // Room for a partial packet in front of a read this size,
                // so that the buffer fits the reads after this one too
                // (not for the largest packet we accept: reads of a peer
                // sending those just find fewer spares that fit).
                let slack = additional.min(PARTIAL_PACKET_ROOM);
                BytesMut::with_capacity(needed.max(additional + slack).max(MIN_RECEIVE_BUFFER))
            }
        };
        // The start of a packet (its first block possibly decrypted
        // already, see `pending_len`) moves along.
        next.extend_from_slice(&self.buf);
        let mut left = std::mem::replace(&mut self.buf, next);
        left.clear();
        if self.spares.len() == SPARE_BUFFERS {
            self.spares.pop_front();
        }
        self.spares.push_back(left);
    }

    /// Uses new keys from the next packet on (after NEWKEYS, RFC 4253
    /// section 7.3).
    pub(crate) fn set_opener(&mut self, opener: Box<dyn PacketOpener>) {
        self.layout = opener.layout();
        self.opener = opener;
        self.bytes_since_kex = 0;
    }

    /// The next whole packet's sequence number and payload, or `None` until
    /// more input arrives.
    pub(crate) fn next_packet(&mut self) -> Result<Option<(u32, Bytes)>, PeerMisbehaved> {
        let len = match self.pending_len {
            Some(len) => len,
            None => {
                let first = self.layout.first_block_len.max(LENGTH_LEN);
                if self.buf.len() < first {
                    return Ok(None);
                }
                let len = self.opener.decrypt_length(self.seq, &mut self.buf[..first]);
                self.check_length(len)?;
                self.pending_len = Some(len as usize);
                len as usize
            }
        };
        let total = LENGTH_LEN + len + self.layout.tag_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        self.pending_len = None;
        self.opener
            .open(self.seq, &mut self.buf[..total])
            .map_err(|_| PeerMisbehaved::BadMac)?;
        // Only now, authenticated, is the padding length trusted.
        let padding = usize::from(self.buf[LENGTH_LEN]);
        if padding < MIN_PADDING || padding >= len {
            return Err(PeerMisbehaved::BadPadding(self.buf[LENGTH_LEN]));
        }
        let payload_len = len - padding - 1;
        if payload_len == 0 {
            return Err(DecodeError {
                what: "message number (empty payload)",
            }
            .into());
        }
        if let compress::State::On(inflater) = &mut self.inflate {
            let payload = inflate_packet(
                inflater,
                &mut self.buf,
                total,
                payload_len,
                self.max_packet_len,
            )?;
            let seq = self.seq;
            self.seq = self.seq.wrapping_add(1);
            self.bytes_since_kex += total as u64;
            return Ok(Some((seq, payload)));
        }
        let packet = if SECRET_MESSAGES.contains(&self.buf[LENGTH_LEN + 1]) {
            take_wiping(&mut self.buf, total)
        } else {
            self.buf.split_to(total).freeze()
        };
        let payload = packet.slice(LENGTH_LEN + 1..LENGTH_LEN + 1 + payload_len);
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.bytes_since_kex += total as u64;
        Ok(Some((seq, payload)))
    }

    /// RFC 4253 section 6: the length must fit our limit and align to the
    /// cipher block.
    fn check_length(&self, len: u32) -> Result<(), PeerMisbehaved> {
        // In u64, so no peer value can overflow on any target.
        let l = u64::from(len);
        let aligned = if self.layout.length_outside_alignment {
            l
        } else {
            l + LENGTH_LEN as u64
        };
        let too_long =
            LENGTH_LEN as u64 + l + self.layout.tag_len as u64 > self.max_packet_len as u64;
        let too_short = l < 1 + MIN_PADDING as u64
            || LENGTH_LEN as u64 + l < self.layout.first_block_len as u64;
        if too_long || too_short || aligned % self.layout.block_len.max(8) as u64 != 0 {
            return Err(PeerMisbehaved::BadPacketLength(len));
        }
        Ok(())
    }
}

/// Messages whose plaintext carries a password or prompt answers (RFC 4252
/// section 8, RFC 4256 section 3.4); only clients send them.
const SECRET_MESSAGES: [u8; 2] = [
    crate::msg::USERAUTH_REQUEST,
    crate::msg::USERAUTH_INFO_RESPONSE,
];

/// Inflates the payload of the `total`-byte packet opened at the start of
/// `buf` (RFC 4253 section 6.2), at most `limit` bytes of it. The packet's
/// bytes are wiped from the buffer, as its message number, and so whether
/// it carries a secret, is known only after inflating; an inflated secret
/// message gets a wiping allocation (see [`take_wiping`]).
fn inflate_packet(
    inflater: &mut Inflater,
    buf: &mut BytesMut,
    total: usize,
    payload_len: usize,
    limit: usize,
) -> Result<Bytes, PeerMisbehaved> {
    let mut packet = buf.split_to(total);
    let mut out = Vec::new();
    let inflated = inflater.decompress(
        &packet[LENGTH_LEN + 1..LENGTH_LEN + 1 + payload_len],
        &mut out,
        limit,
    );
    packet[..].zeroize();
    inflated?;
    match out.first() {
        None => Err(DecodeError {
            what: "message number (empty payload)",
        }
        .into()),
        Some(m) if SECRET_MESSAGES.contains(m) => Ok(Bytes::from_owner(Zeroizing::new(out))),
        Some(_) => Ok(Bytes::from(out)),
    }
}

/// The first `len` bytes of `buf`, moved into their own allocation that is
/// zeroized when the last `Bytes` of it is dropped; the receive buffer is
/// zeroed where they were (a frozen slice of it could not be wiped later).
fn take_wiping(buf: &mut BytesMut, len: usize) -> Bytes {
    let mut plaintext = buf.split_to(len);
    let copy = Zeroizing::new(plaintext.to_vec());
    plaintext[..].zeroize();
    Bytes::from_owner(copy)
}

/// The sending direction and the transmit buffer.
pub(crate) struct Sender {
    buf: Vec<u8>,
    /// Offset of the first byte not yet taken by the socket.
    head: usize,
    sealer: Box<dyn PacketSealer>,
    layout: PacketLayout,
    /// Sequence number of the next packet.
    pub(crate) seq: u32,
    /// Bytes sent since the last NEWKEYS in this direction (rekey limit).
    pub(crate) bytes_since_kex: u64,
    /// Random bytes for padding when no RNG is passed in.
    padding_reserve: Vec<u8>,
    /// Compression of what we send (RFC 4253 section 6.2).
    pub(crate) deflate: compress::State<Deflater>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("pending", &(self.buf.len() - self.head))
            .field("seq", &self.seq)
            .field("layout", &self.layout)
            .field("bytes_since_kex", &self.bytes_since_kex)
            .field("deflate", &self.deflate.is_on())
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(crate) fn new() -> Self {
        Sender {
            buf: Vec::with_capacity(16 * 1024),
            head: 0,
            sealer: Box::new(NoneSealer),
            layout: PacketLayout::NONE,
            seq: 0,
            bytes_since_kex: 0,
            padding_reserve: Vec::with_capacity(PADDING_RESERVE),
            deflate: compress::State::Off,
        }
    }

    /// Uses new keys from the next packet on (after our NEWKEYS).
    pub(crate) fn set_sealer(&mut self, sealer: Box<dyn PacketSealer>) {
        self.layout = sealer.layout();
        self.sealer = sealer;
        self.bytes_since_kex = 0;
    }

    /// Tops up the padding reserve (a no-op unless it was used).
    pub(crate) fn refill_padding_reserve(&mut self, rng: &mut dyn CryptoRng) {
        let have = self.padding_reserve.len();
        if have < PADDING_RESERVE {
            self.padding_reserve.resize(PADDING_RESERVE, 0);
            rng.fill_bytes(&mut self.padding_reserve[have..]);
        }
    }

    /// Appends bytes outside any packet (the identification line).
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Frames, pads and seals one packet into the transmit buffer. Padding
    /// comes from `rng`, or from the reserve when there is none.
    pub(crate) fn send(&mut self, payload: &[u8], rng: Option<&mut dyn CryptoRng>) {
        self.send_parts(&[payload], rng);
    }

    /// [`Sender::send`] of the payload made of `parts` back to back, copied
    /// straight into the packet, or deflated into it while compression is
    /// on (section 6.2: the payload is compressed, then framed and sealed).
    pub(crate) fn send_parts(&mut self, parts: &[&[u8]], rng: Option<&mut dyn CryptoRng>) {
        if self.deflate.is_on() {
            // Out of `self` while framing, which borrows all of it.
            let mut state = std::mem::take(&mut self.deflate);
            if let compress::State::On(deflater) = &mut state {
                let compressed = deflater.compress(parts);
                self.frame(&[compressed], rng);
            }
            self.deflate = state;
            return;
        }
        self.frame(parts, rng);
    }

    /// Frames, pads and seals the payload made of `parts` back to back.
    fn frame(&mut self, parts: &[&[u8]], rng: Option<&mut dyn CryptoRng>) {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let block = self.layout.block_len.max(8);
        // RFC 4253 section 6: length field (unless AEAD/EtM keep it out),
        // padding length, payload and padding are a multiple of the block.
        let unpadded = 1
            + payload_len
            + if self.layout.length_outside_alignment {
                0
            } else {
                LENGTH_LEN
            };
        let mut padding = block - unpadded % block;
        if padding < MIN_PADDING {
            padding += block;
        }
        while LENGTH_LEN + 1 + payload_len + padding < MIN_PACKET {
            padding += block;
        }
        let packet_len = 1 + payload_len + padding;
        self.make_room(LENGTH_LEN + packet_len + self.layout.tag_len);
        let start = self.buf.len();
        // Payloads come from our own layers and are far below 4 GiB.
        self.buf
            .extend_from_slice(&u32::try_from(packet_len).unwrap_or(u32::MAX).to_be_bytes());
        // At most 255: block sizes are at most 32 and MIN_PACKET is 16.
        self.buf.push(padding as u8);
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        let pad_at = self.buf.len();
        self.buf.resize(pad_at + padding, 0);
        match rng {
            Some(rng) => rng.fill_bytes(&mut self.buf[pad_at..]),
            None => {
                let take = padding.min(self.padding_reserve.len());
                let from = self.padding_reserve.len() - take;
                self.buf[pad_at..pad_at + take].copy_from_slice(&self.padding_reserve[from..]);
                self.padding_reserve.truncate(from);
            }
        }
        self.buf.resize(self.buf.len() + self.layout.tag_len, 0);
        self.sealer.seal(self.seq, &mut self.buf[start..]);
        self.seq = self.seq.wrapping_add(1);
        self.bytes_since_kex += (self.buf.len() - start) as u64;
    }

    /// Bytes ready for the socket.
    pub(crate) fn transmit(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// The socket took `n` bytes.
    pub(crate) fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.buf.len());
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Moves every byte not yet taken into `out`, leaving the transmit
    /// buffer empty. When `out` is empty and the socket took nothing of the
    /// buffer yet, the two are swapped (no copy): the sender keeps `out`'s
    /// allocation, so a caller handing back the same `Vec` each time makes
    /// the two allocations alternate and the steady state allocates
    /// nothing. Otherwise the bytes are appended to `out`.
    pub(crate) fn take_into(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() && self.head == 0 {
            std::mem::swap(&mut self.buf, out);
        } else {
            out.extend_from_slice(&self.buf[self.head..]);
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Makes room for `needed` more bytes. The bytes the socket has taken
    /// are dropped only when their room is needed, and only when that moves
    /// no more unsent bytes than were taken (linear overall); otherwise the
    /// buffer grows. A socket taking a large buffer a piece at a time then
    /// costs no copying at all, where compacting after every take moved the
    /// unsent rest each time.
    fn make_room(&mut self, needed: usize) {
        let spare = self.buf.capacity() - self.buf.len();
        let unsent = self.buf.len() - self.head;
        if spare < needed && self.head > 0 && unsent <= self.head {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.reserve(needed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::AES256_GCM;
    use crate::crypto::CipherAlgorithm;
    use rand_chacha::rand_core::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(9)
    }

    /// A none-cipher packet with the given header fields and body.
    fn raw_packet(len: u32, padding: u8, body_len: usize) -> Vec<u8> {
        let mut p = len.to_be_bytes().to_vec();
        p.push(padding);
        p.resize(4 + body_len, 0);
        p
    }

    /// Reads of 100,000 bytes (cutting packets anywhere) of a stream of
    /// 32 KiB packets, with the payloads of the last `held_reads` reads
    /// still held by the application; returns the receiver after checking
    /// every payload.
    fn receive_holding(held_reads: usize, packets: usize) -> Receiver {
        let mut tx = Sender::new();
        let mut rx = Receiver::new(256 * 1024);
        let mut r = rng();
        let mut wire = Vec::new();
        for i in 0..packets {
            tx.send(&[i as u8; 32 * 1024], Some(&mut r));
            let n = tx.transmit().len();
            wire.extend_from_slice(tx.transmit());
            tx.consume(n);
        }
        let mut held = VecDeque::new();
        let mut next = 0;
        for read in wire.chunks(100_000) {
            rx.append(read);
            let mut payloads = Vec::new();
            while let Some((_, payload)) = rx.next_packet().unwrap() {
                assert_eq!(payload, vec![next as u8; 32 * 1024]);
                next += 1;
                payloads.push(payload);
            }
            held.push_back(payloads);
            if held.len() > held_reads {
                held.pop_front();
            }
        }
        assert_eq!(next, packets);
        rx
    }

    #[test]
    fn receive_memory_is_used_again_once_the_payloads_cut_from_it_are_dropped() {
        // A writer a few reads behind pins the buffers it reads from; the
        // receiver cycles through the ones it left behind instead of
        // taking fresh memory for every read (about 100 reads here).
        let rx = receive_holding(4, 300);
        assert!(
            rx.fresh_buffers <= SPARE_BUFFERS,
            "{} fresh buffers",
            rx.fresh_buffers
        );
        // An application that keeps up leaves one buffer doing all the work.
        let rx = receive_holding(0, 300);
        assert!(rx.fresh_buffers <= 2, "{} fresh buffers", rx.fresh_buffers);
    }

    #[test]
    fn spare_receive_memory_is_let_go_after_a_transfer() {
        let mut rx = receive_holding(4, 60);
        assert!(!rx.spares.is_empty());
        // The transfer is over: a small packet finds nothing buffered.
        let mut tx = Sender::new();
        tx.send(b"\x5ethe end", Some(&mut rng()));
        rx.append(tx.transmit());
        assert!(rx.spares.is_empty(), "{} spares kept", rx.spares.len());
        assert_eq!(&rx.next_packet().unwrap().unwrap().1[..], b"\x5ethe end");
    }

    #[test]
    fn plain_packets_round_trip_with_valid_padding() {
        let mut tx = Sender::new();
        let mut rx = Receiver::new(256 * 1024);
        let mut r = rng();
        for n in [1usize, 2, 7, 8, 100, 1000] {
            let payload = vec![0x5e; n];
            tx.send(&payload, Some(&mut r));
            let wire = tx.transmit().to_vec();
            tx.consume(wire.len());
            assert_eq!(wire.len() % 8, 0);
            assert!(wire.len() >= 16);
            let padding = wire[4] as usize;
            assert!((4..4 + 8).contains(&padding), "padding {padding}");
            rx.buf.extend_from_slice(&wire);
            let (seq, got) = rx.next_packet().unwrap().unwrap();
            assert_eq!(got, payload);
            assert_eq!(
                seq as usize,
                [1usize, 2, 7, 8, 100, 1000]
                    .iter()
                    .position(|&x| x == n)
                    .unwrap()
            );
        }
        assert!(rx.next_packet().unwrap().is_none());
    }

    #[test]
    fn aead_packets_align_without_the_length_field() {
        let key = [7u8; 32];
        let iv = [1u8; 12];
        let mut tx = Sender::new();
        tx.set_sealer(AES256_GCM.sealer(&key, &iv, None));
        let mut rx = Receiver::new(256 * 1024);
        rx.set_opener(AES256_GCM.opener(&key, &iv, None));
        let mut r = rng();
        for n in 1..40usize {
            tx.send(&vec![n as u8; n], Some(&mut r));
            let wire = tx.transmit().to_vec();
            tx.consume(wire.len());
            assert_eq!((wire.len() - 4 - 16) % 16, 0);
            rx.buf.extend_from_slice(&wire);
            assert_eq!(rx.next_packet().unwrap().unwrap().1, vec![n as u8; n]);
        }
    }

    #[test]
    fn password_packets_come_out_intact_between_others() {
        // USERAUTH_REQUEST (50) and INFO_RESPONSE (61) take the wiping path.
        let key = [7u8; 32];
        let iv = [1u8; 12];
        let mut tx = Sender::new();
        tx.set_sealer(AES256_GCM.sealer(&key, &iv, None));
        let mut rx = Receiver::new(256 * 1024);
        rx.set_opener(AES256_GCM.opener(&key, &iv, None));
        let mut r = rng();
        let payloads: [&[u8]; 4] = [b"\x02ignore", b"\x32password", b"\x3danswers", b"\x5ddata"];
        for p in payloads {
            tx.send(p, Some(&mut r));
        }
        rx.buf.extend_from_slice(tx.transmit());
        for (seq, p) in payloads.iter().enumerate() {
            let (got_seq, got) = rx.next_packet().unwrap().unwrap();
            assert_eq!((got_seq as usize, &got[..]), (seq, *p));
        }
        assert!(rx.next_packet().unwrap().is_none());
    }

    #[test]
    fn decoder_rejects_bad_lengths_and_padding() {
        let cases: Vec<(Vec<u8>, PeerMisbehaved)> = vec![
            // Over the 256 KiB limit.
            (
                raw_packet(256 * 1024, 4, 0),
                PeerMisbehaved::BadPacketLength(256 * 1024),
            ),
            // Not a multiple of the block size (12 + 4 = 16 would be; 13 is not).
            (raw_packet(13, 4, 13), PeerMisbehaved::BadPacketLength(13)),
            // Too short to hold the padding.
            (raw_packet(4, 3, 4), PeerMisbehaved::BadPacketLength(4)),
            // Padding under four bytes.
            (raw_packet(12, 3, 12), PeerMisbehaved::BadPadding(3)),
            // Padding as long as the packet.
            (raw_packet(12, 12, 12), PeerMisbehaved::BadPadding(12)),
        ];
        for (wire, want) in cases {
            let mut rx = Receiver::new(256 * 1024);
            rx.buf.extend_from_slice(&wire);
            assert_eq!(rx.next_packet().unwrap_err(), want);
        }
    }

    #[test]
    fn a_packet_split_anywhere_is_waited_for() {
        let mut tx = Sender::new();
        tx.send(b"\x05hello", Some(&mut rng()));
        let wire = tx.transmit().to_vec();
        let mut rx = Receiver::new(256 * 1024);
        for (i, b) in wire.iter().enumerate() {
            rx.buf.extend_from_slice(&[*b]);
            let got = rx.next_packet().unwrap();
            assert_eq!(got.is_some(), i == wire.len() - 1);
        }
    }

    #[test]
    fn transmit_buffer_compacts_and_keeps_order() {
        let mut tx = Sender::new();
        let first_capacity = tx.buf.capacity();
        let mut r = rng();
        let mut sent = Vec::new();
        let mut taken = Vec::new();
        for i in 0..2000u32 {
            tx.send(&i.to_be_bytes(), Some(&mut r));
            // Take a little less than was added, so data accumulates.
            let t = tx.transmit();
            let n = t.len().saturating_sub(7);
            taken.extend_from_slice(&t[..n]);
            tx.consume(n);
            // Taken bytes do not pile up: beyond its first capacity the
            // buffer stays within a small multiple of what is unsent.
            let unsent = tx.transmit().len();
            assert!(
                tx.buf.capacity() <= first_capacity.max(4 * unsent + 256),
                "{i}: capacity {}, unsent {unsent}",
                tx.buf.capacity()
            );
        }
        taken.extend_from_slice(tx.transmit());
        sent.extend_from_slice(&taken);
        let mut rx = Receiver::new(256 * 1024);
        rx.buf.extend_from_slice(&sent);
        for i in 0..2000u32 {
            assert_eq!(rx.next_packet().unwrap().unwrap().1, i.to_be_bytes()[..]);
        }
    }

    #[test]
    fn taking_into_an_empty_vec_swaps_and_into_a_full_one_appends() {
        let mut tx = Sender::new();
        let mut r = rng();
        tx.send(b"\x5eone", Some(&mut r));
        let sealed = tx.transmit().to_vec();
        let inside = tx.transmit().as_ptr();
        let mut out = Vec::with_capacity(100);
        let given = out.as_ptr();
        tx.take_into(&mut out);
        // Swapped: `out` now holds the sender's allocation, and the sender
        // keeps the one it was given.
        assert_eq!(out, sealed);
        assert_eq!(out.as_ptr(), inside);
        assert!(tx.transmit().is_empty());
        assert_eq!(tx.buf.as_ptr(), given);

        // Not empty: appended after what `out` holds.
        tx.send(b"\x5etwo", Some(&mut r));
        let second = tx.transmit().to_vec();
        tx.take_into(&mut out);
        assert_eq!(out, [sealed.clone(), second.clone()].concat());
        assert!(tx.transmit().is_empty());

        // Partly taken by the socket: only the rest moves, by copy.
        tx.send(b"\x5ethree", Some(&mut r));
        let third = tx.transmit().to_vec();
        tx.consume(5);
        let mut rest = Vec::new();
        tx.take_into(&mut rest);
        assert_eq!(rest, third[5..]);
        assert!(tx.transmit().is_empty());
    }

    #[test]
    fn padding_without_rng_comes_from_the_reserve() {
        let mut tx = Sender::new();
        tx.refill_padding_reserve(&mut rng());
        tx.send(&[1, 0, 0, 0, 0], None);
        let wire = tx.transmit();
        let padding = wire[4] as usize;
        assert!(wire[wire.len() - padding..].iter().any(|&b| b != 0));
    }
}
