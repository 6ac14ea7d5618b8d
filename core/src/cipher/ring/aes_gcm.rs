//! `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com` on ring's AES-GCM:
//! the same wire format as [`crate::cipher::aes_gcm`] (RFC 5647, OpenSSH
//! PROTOCOL section 1.6).
//!
//! - The packet length stays in clear and is the additional authenticated
//!   data (RFC 5647 section 7.3); padding aligns the rest to 16 bytes
//!   (section 7.2).
//! - The 12-byte nonce is the derived IV read as a 4-byte fixed field and an
//!   8-byte invocation counter that goes up by one per packet, modulo 2^64
//!   (section 7.1), independently of the sequence number. ring's
//!   `NonceSequence` cannot be given that starting point, hence
//!   `LessSafeKey` with the nonce computed here.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use zeroize::Zeroizing;

use crate::crypto::{CipherAlgorithm, MacKey, OpenError, PacketLayout, PacketOpener, PacketSealer};

use super::{length_bytes, split_tag, LENGTH_LEN, TAG_LEN};

/// The same layout as the pure-Rust AES-GCM: 16-byte blocks, the length
/// outside the aligned part, the tag after the packet.
const LAYOUT: PacketLayout = PacketLayout {
    block_len: 16,
    tag_len: TAG_LEN,
    length_outside_alignment: true,
    first_block_len: LENGTH_LEN,
};

/// One of the AES-GCM ciphers on ring, by key size.
#[derive(Debug)]
pub struct RingAesGcm {
    name: &'static str,
    algorithm: &'static ring::aead::Algorithm,
    key_len: usize,
}

/// `aes128-gcm@openssh.com` on ring.
pub static AES128_GCM: RingAesGcm = RingAesGcm {
    name: "aes128-gcm@openssh.com",
    algorithm: &ring::aead::AES_128_GCM,
    key_len: 16,
};

/// `aes256-gcm@openssh.com` on ring.
pub static AES256_GCM: RingAesGcm = RingAesGcm {
    name: "aes256-gcm@openssh.com",
    algorithm: &ring::aead::AES_256_GCM,
    key_len: 32,
};

impl CipherAlgorithm for RingAesGcm {
    fn name(&self) -> &'static str {
        self.name
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn iv_len(&self) -> usize {
        NONCE_LEN
    }

    fn is_aead(&self) -> bool {
        true
    }

    fn sealer(
        &self,
        key: &[u8],
        iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketSealer> {
        Box::new(RingGcmState::new(self, key, iv))
    }

    fn opener(
        &self,
        key: &[u8],
        iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketOpener> {
        Box::new(RingGcmState::new(self, key, iv))
    }
}

/// A keyed AES-GCM direction: ring's expanded key and the nonce
/// (RFC 5647 section 7.1).
pub struct RingGcmState {
    key: LessSafeKey,
    fixed: [u8; 4],
    invocation_counter: u64,
}

impl std::fmt::Debug for RingGcmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingGcmState")
            .field("algorithm", self.key.algorithm())
            .finish_non_exhaustive()
    }
}

impl RingGcmState {
    /// Keys a direction. The key derivation gives `key_len` key bytes and a
    /// 12-byte IV; shorter ones (a caller bug) are zero-filled rather than
    /// panicking, as the pure-Rust ChaCha20-Poly1305 does.
    fn new(cipher: &RingAesGcm, key: &[u8], iv: &[u8]) -> Self {
        // The copy is exactly `key_len` bytes, as ring requires, and wiped
        // once ring has expanded it.
        let mut key_bytes = Zeroizing::new([0u8; 32]);
        let key_bytes = &mut key_bytes[..cipher.key_len];
        let n = key.len().min(key_bytes.len());
        key_bytes[..n].copy_from_slice(&key[..n]);
        // ring rejects only a key of the wrong length, and this one is
        // exactly the algorithm's.
        let unbound = UnboundKey::new(cipher.algorithm, key_bytes)
            .expect("key length matches the AES-GCM algorithm");
        let mut fixed = [0u8; 4];
        let mut counter = [0u8; 8];
        if let Some(iv) = iv.get(..NONCE_LEN) {
            fixed.copy_from_slice(&iv[..4]);
            counter.copy_from_slice(&iv[4..]);
        }
        RingGcmState {
            key: LessSafeKey::new(unbound),
            fixed,
            invocation_counter: u64::from_be_bytes(counter),
        }
    }

    /// The nonce for this packet, then the counter steps on (wrapping, as
    /// RFC 5647 section 7.1's modulo 2^64 says).
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.fixed);
        nonce[4..].copy_from_slice(&self.invocation_counter.to_be_bytes());
        self.invocation_counter = self.invocation_counter.wrapping_add(1);
        // Unique per key: the counter never repeats within 2^64 packets, and
        // the transport re-keys long before (RFC 4344 section 3.1).
        Nonce::assume_unique_for_key(nonce)
    }
}

impl PacketSealer for RingGcmState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn seal(&mut self, _seq: u32, packet: &mut [u8]) {
        let nonce = self.next_nonce();
        let (body, tag_out) =
            split_tag(packet).expect("the transport frames every packet with room for the tag");
        let (length, plaintext) = body.split_at_mut(LENGTH_LEN);
        // Encryption fails only past GCM's 64 GiB limit, far beyond any
        // packet (RFC 4253 section 6.1 caps them at 256 KiB here).
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(length_bytes(length)), plaintext)
            .expect("packet within AES-GCM limits");
        tag_out.copy_from_slice(tag.as_ref());
    }
}

impl PacketOpener for RingGcmState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn decrypt_length(&mut self, _seq: u32, first_block: &mut [u8]) -> u32 {
        u32::from_be_bytes(length_bytes(first_block))
    }

    fn open(&mut self, _seq: u32, packet: &mut [u8]) -> Result<(), OpenError> {
        // The counter steps on even for a packet that fails, as the
        // pure-Rust cipher's does; the transport drops the connection then.
        let nonce = self.next_nonce();
        if packet.len() < LENGTH_LEN + TAG_LEN {
            return Err(OpenError);
        }
        let (length, ciphertext_and_tag) = packet.split_at_mut(LENGTH_LEN);
        // On failure ring leaves the ciphertext unspecified (it wipes it);
        // the transport discards the packet either way.
        self.key
            .open_in_place(nonce, Aad::from(length_bytes(length)), ciphertext_and_tag)
            .map(|_| ())
            .map_err(|_| OpenError)
    }
}
