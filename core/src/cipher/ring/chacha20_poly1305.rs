//! `chacha20-poly1305@openssh.com` on ring's
//! `ring::aead::chacha20_poly1305_openssh`, which implements OpenSSH's
//! construction (PROTOCOL.chacha20poly1305) itself: the same wire format as
//! [`crate::cipher::chacha20_poly1305`].
//!
//! - The 64 derived key bytes are K_2 (the first 32, for the packet and the
//!   Poly1305 key) then K_1 (the last 32, for the length alone); ring takes
//!   them in that order.
//! - The nonce is the sequence number; the tag covers the encrypted length
//!   and the ciphertext, and ring checks it before decrypting anything.

use ring::aead::chacha20_poly1305_openssh::{OpeningKey, SealingKey, KEY_LEN};
use zeroize::Zeroizing;

use crate::crypto::{CipherAlgorithm, MacKey, OpenError, PacketLayout, PacketOpener, PacketSealer};

use super::{length_bytes, split_tag, LENGTH_LEN, TAG_LEN};

/// The same layout as the pure-Rust cipher: OpenSSH's block size of 8 with
/// the length kept out of the aligned part (its `aadlen` of 4).
const LAYOUT: PacketLayout = PacketLayout {
    block_len: 8,
    tag_len: TAG_LEN,
    length_outside_alignment: true,
    first_block_len: LENGTH_LEN,
};

/// The ChaCha20-Poly1305 packet cipher on ring.
#[derive(Debug)]
pub struct RingChaCha20Poly1305;

/// `chacha20-poly1305@openssh.com` on ring.
pub static CHACHA20_POLY1305: RingChaCha20Poly1305 = RingChaCha20Poly1305;

impl CipherAlgorithm for RingChaCha20Poly1305 {
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
        Box::new(RingChaChaSealer {
            key: SealingKey::new(&key_material(key)),
        })
    }

    fn opener(
        &self,
        key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketOpener> {
        Box::new(RingChaChaOpener {
            key: OpeningKey::new(&key_material(key)),
        })
    }
}

/// The 64 key bytes ring wants, in a buffer wiped on drop (right after ring
/// has copied them into its key). A shorter `key` (a caller bug) leaves the
/// missing bytes zero rather than panicking, as the pure-Rust cipher does.
fn key_material(key: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut material = Zeroizing::new([0u8; KEY_LEN]);
    let n = key.len().min(KEY_LEN);
    material[..n].copy_from_slice(&key[..n]);
    material
}

/// The sending direction, keyed.
pub struct RingChaChaSealer {
    key: SealingKey,
}

impl std::fmt::Debug for RingChaChaSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingChaChaSealer").finish_non_exhaustive()
    }
}

impl PacketSealer for RingChaChaSealer {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn seal(&mut self, seq: u32, packet: &mut [u8]) {
        let (body, tag_out) =
            split_tag(packet).expect("the transport frames every packet with room for the tag");
        // `body` holds at least the length field, as ring requires.
        self.key.seal_in_place(seq, body, tag_out);
    }
}

/// The receiving direction, keyed.
pub struct RingChaChaOpener {
    key: OpeningKey,
}

impl std::fmt::Debug for RingChaChaOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingChaChaOpener").finish_non_exhaustive()
    }
}

impl PacketOpener for RingChaChaOpener {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn decrypt_length(&mut self, seq: u32, first_block: &mut [u8]) -> u32 {
        // A decrypted copy: the tag covers the encrypted length, so the bytes
        // stay as they came for `open`.
        u32::from_be_bytes(
            self.key
                .decrypt_packet_length(seq, length_bytes(first_block)),
        )
    }

    fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), OpenError> {
        let (body, tag) = split_tag(packet).ok_or(OpenError)?;
        // ring verifies the tag first and leaves the packet as it came when
        // it does not match.
        self.key
            .open_in_place(seq, body, tag)
            .map_err(|_| OpenError)?;
        // ring decrypts only what follows the length; the trait promises a
        // wholly plaintext packet, length included.
        let (length, _) = body.split_at_mut(LENGTH_LEN);
        let plain = self.key.decrypt_packet_length(seq, length_bytes(length));
        length.copy_from_slice(&plain);
        Ok(())
    }
}
