//! `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305).
//!
//! - The 64 derived key bytes are two ChaCha20 keys: the first 32 bytes
//!   (K_2, "main") encrypt the packet, the last 32 (K_1, "header") only the
//!   4-byte packet length, so a receiver can learn the length without
//!   touching the rest.
//! - Both use the original ChaCha20 with a 64-bit nonce, which is the
//!   packet sequence number as a big-endian `uint64`.
//! - The length is encrypted with K_1 from block counter 0. The Poly1305
//!   key is the first 32 bytes of K_2's keystream at block counter 0; the
//!   packet after the length is encrypted with K_2 from block counter 1.
//! - The tag is Poly1305 over the whole encrypted packet (encrypted length
//!   and ciphertext), checked in constant time before anything but the
//!   length is decrypted. No IV is derived and no MAC is negotiated.

use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20Legacy;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::{CipherAlgorithm, MacKey, OpenError, PacketLayout, PacketOpener, PacketSealer};

const KEY_LEN: usize = 64;
const TAG_LEN: usize = 16;
const LENGTH_LEN: usize = 4;
/// ChaCha20 block size; the payload keystream starts at the second block.
const CHACHA_BLOCK: u64 = 64;

const LAYOUT: PacketLayout = PacketLayout {
    // OpenSSH uses a block size of 8 and keeps the length out of the
    // aligned part (its `aadlen` of 4).
    block_len: 8,
    tag_len: TAG_LEN,
    length_outside_alignment: true,
    first_block_len: LENGTH_LEN,
};

/// The ChaCha20-Poly1305 packet cipher.
#[derive(Debug)]
pub struct ChaCha20Poly1305;

/// `chacha20-poly1305@openssh.com`.
pub static CHACHA20_POLY1305: ChaCha20Poly1305 = ChaCha20Poly1305;

impl CipherAlgorithm for ChaCha20Poly1305 {
    fn name(&self) -> &'static str {
        "chacha20-poly1305@openssh.com"
    }

    fn key_len(&self) -> usize {
        KEY_LEN
    }

    fn iv_len(&self) -> usize {
        0
    }

    fn is_aead(&self) -> bool {
        true
    }

    fn sealer(
        &self,
        key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketSealer> {
        Box::new(ChaChaState::new(key))
    }

    fn opener(
        &self,
        key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketOpener> {
        Box::new(ChaChaState::new(key))
    }
}

/// One keyed direction: the two ChaCha20 keys.
pub struct ChaChaState {
    main_key: Zeroizing<[u8; 32]>,
    header_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for ChaChaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaChaState").finish_non_exhaustive()
    }
}

impl ChaChaState {
    /// `key` is the 64 derived bytes; a shorter one (a caller bug) leaves
    /// the missing bytes zero rather than panicking.
    fn new(key: &[u8]) -> Self {
        let mut main_key = Zeroizing::new([0u8; 32]);
        let mut header_key = Zeroizing::new([0u8; 32]);
        let main = key.get(..32).unwrap_or_default();
        let header = key.get(32..64).unwrap_or_default();
        main_key[..main.len()].copy_from_slice(main);
        header_key[..header.len()].copy_from_slice(header);
        ChaChaState {
            main_key,
            header_key,
        }
    }

    fn stream(key: &[u8; 32], seq: u32) -> ChaCha20Legacy {
        let nonce = u64::from(seq).to_be_bytes();
        ChaCha20Legacy::new(key.into(), &nonce.into())
    }

    /// The main keystream at block 0, having taken the Poly1305 key from
    /// its first 32 bytes; positioned at block 1 for the payload.
    fn main_stream_and_poly_key(&self, seq: u32) -> (ChaCha20Legacy, Poly1305) {
        let mut main = Self::stream(&self.main_key, seq);
        let mut poly_key = Zeroizing::new([0u8; 32]);
        main.apply_keystream(&mut poly_key[..]);
        main.seek(CHACHA_BLOCK);
        let poly = Poly1305::new((&*poly_key).into());
        (main, poly)
    }
}

impl PacketSealer for ChaChaState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn seal(&mut self, seq: u32, packet: &mut [u8]) {
        let tag_at = packet.len() - TAG_LEN;
        let (body, tag_out) = packet.split_at_mut(tag_at);
        Self::stream(&self.header_key, seq).apply_keystream(&mut body[..LENGTH_LEN]);
        let (mut main, poly) = self.main_stream_and_poly_key(seq);
        main.apply_keystream(&mut body[LENGTH_LEN..]);
        tag_out.copy_from_slice(&poly.compute_unpadded(body));
    }
}

impl PacketOpener for ChaChaState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn decrypt_length(&mut self, seq: u32, first_block: &mut [u8]) -> u32 {
        // Decrypt a copy: the tag covers the encrypted length, so the bytes
        // stay as they came for `open`.
        let mut length = [0u8; LENGTH_LEN];
        let n = first_block.len().min(LENGTH_LEN);
        length[..n].copy_from_slice(&first_block[..n]);
        Self::stream(&self.header_key, seq).apply_keystream(&mut length);
        u32::from_be_bytes(length)
    }

    fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), OpenError> {
        if packet.len() < LENGTH_LEN + TAG_LEN {
            return Err(OpenError);
        }
        let tag_at = packet.len() - TAG_LEN;
        let (body, tag) = packet.split_at_mut(tag_at);
        let (mut main, poly) = self.main_stream_and_poly_key(seq);
        let expected = poly.compute_unpadded(body);
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(OpenError);
        }
        Self::stream(&self.header_key, seq).apply_keystream(&mut body[..LENGTH_LEN]);
        main.apply_keystream(&mut body[LENGTH_LEN..]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keystreams_zeroize_themselves_on_drop() {
        // Compile-time: the per-packet ChaCha20 states are wiped on drop
        // only with the `chacha20` crate's `zeroize` feature (the two keys
        // kept between packets are `Zeroizing`).
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<ChaCha20Legacy>();
        zeroized_on_drop::<Zeroizing<[u8; 32]>>();
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc8439_section_2_6_2_poly1305_key_generation() {
        // RFC 8439 section 2.6.2: key 80..9f, nonce 00000000 0001020304050607.
        // With the first four nonce bytes zero the IETF and the original
        // (64-bit nonce) ChaCha20 agree, so this checks our keystream setup
        // with nonce 0001020304050607 as a sequence number would give it.
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let mut c = ChaCha20Legacy::new((&key).into(), (&[0u8, 1, 2, 3, 4, 5, 6, 7]).into());
        let mut poly_key = [0u8; 32];
        c.apply_keystream(&mut poly_key);
        assert_eq!(
            poly_key.to_vec(),
            hex("8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646")
        );
    }

    #[test]
    fn rfc8439_section_2_5_2_poly1305() {
        // RFC 8439 section 2.5.2: "Cryptographic Forum Research Group".
        let key: [u8; 32] = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
            .try_into()
            .unwrap();
        let tag =
            Poly1305::new((&key).into()).compute_unpadded(b"Cryptographic Forum Research Group");
        assert_eq!(tag.to_vec(), hex("a8061dc1305136c6c22b8baf0c0127a9"));
    }

    #[test]
    fn rfc8439_appendix_a_1_first_keystream_blocks() {
        // RFC 8439 appendix A.1, test vectors #1 and #2: all-zero key and
        // nonce, block counters 0 and 1. Block 1 is where our payload
        // keystream starts.
        let mut c = ChaCha20Legacy::new((&[0u8; 32]).into(), (&[0u8; 8]).into());
        let mut ks = [0u8; 128];
        c.apply_keystream(&mut ks);
        assert_eq!(ks[..16].to_vec(), hex("76b8e0ada0f13d90405d6ae55386bd28"));
        assert_eq!(ks[64..80].to_vec(), hex("9f07e7be5551387a98ba977c732d080d"));
    }

    /// A packet padded to 8 bytes with the length outside, with tag room.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut padding = 8 - (1 + payload.len()) % 8;
        if padding < 4 {
            padding += 8;
        }
        let len = 1 + payload.len() + padding;
        let mut p = (len as u32).to_be_bytes().to_vec();
        p.push(padding as u8);
        p.extend_from_slice(payload);
        p.resize(4 + len + TAG_LEN, 0x21);
        p
    }

    fn keyed() -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
        let key: Vec<u8> = (0..64).collect();
        (
            CHACHA20_POLY1305.sealer(&key, &[], None),
            CHACHA20_POLY1305.opener(&key, &[], None),
        )
    }

    #[test]
    fn packets_round_trip_with_the_length_encrypted_under_the_header_key() {
        let (mut sealer, mut opener) = keyed();
        for seq in [0u32, 1, 7, u32::MAX] {
            let plain = packet(format!("data at {seq}").as_bytes());
            let mut p = plain.clone();
            sealer.seal(seq, &mut p);
            assert_ne!(p[..4], plain[..4]);
            // The length decrypts alone, with the header key (bytes 32..64).
            let mut header =
                ChaChaState::stream(&(32..64).collect::<Vec<u8>>().try_into().unwrap(), seq);
            let mut len = [0u8; 4];
            len.copy_from_slice(&p[..4]);
            header.apply_keystream(&mut len);
            assert_eq!(len, plain[..4]);
            assert_eq!(opener.decrypt_length(seq, &mut p[..4]).to_be_bytes(), len);
            opener.open(seq, &mut p).unwrap();
            assert_eq!(p[..p.len() - TAG_LEN], plain[..plain.len() - TAG_LEN]);
        }
    }

    #[test]
    fn the_tag_covers_the_encrypted_length_the_body_and_the_sequence_number() {
        let (mut sealer, _) = keyed();
        let mut sealed = packet(b"attack at dawn");
        sealer.seal(9, &mut sealed);
        for (seq, at) in [
            (9u32, Some(0usize)),
            (9, Some(5)),
            (9, Some(sealed.len() - 1)),
            (10, None),
        ] {
            let (_, mut opener) = keyed();
            let mut p = sealed.clone();
            if let Some(at) = at {
                p[at] ^= 0x10;
            }
            opener.decrypt_length(seq, &mut p[..4]);
            let before = p.clone();
            assert_eq!(opener.open(seq, &mut p), Err(OpenError), "{seq} {at:?}");
            // Nothing was decrypted on failure.
            assert_eq!(p, before);
        }
    }
}
