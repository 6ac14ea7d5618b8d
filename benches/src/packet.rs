//! One binary packet for the cipher benchmarks, and the raw AEAD call each
//! provider cipher is compared with.
//!
//! The packet is framed as the transport frames it (RFC 4253 section 6):
//! `uint32 packet_length, byte padding_length, payload, padding`, then room
//! for the tag, padded to the cipher's block with the length inside or
//! outside the aligned part as its [`PacketLayout`] says.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use conch_core::crypto::{CipherAlgorithm, PacketLayout, PacketOpener, PacketSealer};

const LENGTH_LEN: usize = 4;
/// RFC 4253 section 6: at least four bytes of padding.
const MIN_PADDING: usize = 4;

/// A plaintext packet carrying `payload_len` bytes of payload, with tag room.
pub fn plaintext_packet(layout: PacketLayout, payload_len: usize) -> Vec<u8> {
    let block = layout.block_len.max(8);
    let unpadded = 1
        + payload_len
        + if layout.length_outside_alignment {
            0
        } else {
            LENGTH_LEN
        };
    let mut padding = block - unpadded % block;
    if padding < MIN_PADDING {
        padding += block;
    }
    let packet_len = 1 + payload_len + padding;
    let mut p = Vec::with_capacity(LENGTH_LEN + packet_len + layout.tag_len);
    p.extend_from_slice(&(packet_len as u32).to_be_bytes());
    p.push(padding as u8);
    // A payload that is not all zeros, for appearance's sake: AES does not care.
    p.extend((0..payload_len).map(|i| (i % 251) as u8));
    p.resize(LENGTH_LEN + packet_len + layout.tag_len, 0);
    p
}

/// Keys of the right lengths for `cipher` (any fixed bytes will do).
pub fn keyed(cipher: &dyn CipherAlgorithm) -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
    let key = vec![0x42; cipher.key_len()];
    let iv = vec![0x24; cipher.iv_len()];
    (
        cipher.sealer(&key, &iv, None),
        cipher.opener(&key, &iv, None),
    )
}

/// The plain `aes-gcm` crate call the provider's AES-GCM ciphers wrap: the
/// baseline their overhead is measured against.
pub enum RawAead {
    /// AES-128-GCM.
    Aes128(Box<Aes128Gcm>),
    /// AES-256-GCM.
    Aes256(Box<Aes256Gcm>),
}

impl std::fmt::Debug for RawAead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RawAead::Aes128(_) => "RawAead::Aes128",
            RawAead::Aes256(_) => "RawAead::Aes256",
        })
    }
}

impl RawAead {
    /// The raw counterpart of the provider cipher called `name`, if the
    /// benchmarks know one.
    pub fn for_cipher(name: &str) -> Option<RawAead> {
        match name {
            "aes128-gcm@openssh.com" => Some(RawAead::Aes128(Box::new(Aes128Gcm::new(
                &[0x42; 16].into(),
            )))),
            "aes256-gcm@openssh.com" => Some(RawAead::Aes256(Box::new(Aes256Gcm::new(
                &[0x42; 32].into(),
            )))),
            _ => None,
        }
    }

    /// Encrypts a packet framed by [`plaintext_packet`] in place, the length
    /// as associated data and the tag after the packet (RFC 5647 section 7.3).
    pub fn seal(&self, nonce: &[u8; 12], packet: &mut [u8]) {
        let nonce = Nonce::from_slice(nonce);
        let tag_at = packet.len() - 16;
        let (body, tag_out) = packet.split_at_mut(tag_at);
        let (aad, plaintext) = body.split_at_mut(LENGTH_LEN);
        let tag = match self {
            RawAead::Aes128(c) => c.encrypt_in_place_detached(nonce, aad, plaintext),
            RawAead::Aes256(c) => c.encrypt_in_place_detached(nonce, aad, plaintext),
        }
        .expect("packet within AES-GCM limits");
        tag_out.copy_from_slice(&tag);
    }

    /// Verifies and decrypts what [`RawAead::seal`] made; false if the tag is wrong.
    pub fn open(&self, nonce: &[u8; 12], packet: &mut [u8]) -> bool {
        let nonce = Nonce::from_slice(nonce);
        let tag_at = packet.len() - 16;
        let (body, tag) = packet.split_at_mut(tag_at);
        let tag = Tag::from_slice(tag);
        let (aad, ciphertext) = body.split_at_mut(LENGTH_LEN);
        match self {
            RawAead::Aes128(c) => c.decrypt_in_place_detached(nonce, aad, ciphertext, tag),
            RawAead::Aes256(c) => c.decrypt_in_place_detached(nonce, aad, ciphertext, tag),
        }
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conch_core::crypto::CryptoProvider;

    #[test]
    fn provider_packets_round_trip_and_aes_gcm_matches_the_raw_call() {
        for cipher in CryptoProvider::default().cipher {
            let (mut sealer, mut opener) = keyed(cipher);
            let layout = sealer.layout();
            let plain = plaintext_packet(layout, 1000);
            let aligned = plain.len()
                - layout.tag_len
                - if layout.length_outside_alignment {
                    LENGTH_LEN
                } else {
                    0
                };
            assert_eq!(aligned % layout.block_len.max(8), 0, "{}", cipher.name());
            let mut p = plain.clone();
            sealer.seal(0, &mut p);
            assert_ne!(p, plain);
            if let Some(raw) = RawAead::for_cipher(cipher.name()) {
                // Same key, and the first nonce is the derived IV: the
                // provider and the raw call must give the same bytes, or the
                // baseline measures something else.
                let mut r = plain.clone();
                raw.seal(&[0x24; 12], &mut r);
                assert_eq!(r, p, "{}", cipher.name());
                let mut back = r.clone();
                assert!(raw.open(&[0x24; 12], &mut back));
                assert_eq!(back[..plain.len() - 16], plain[..plain.len() - 16]);
            }
            opener.open(0, &mut p).expect("opens");
            let end = plain.len() - layout.tag_len;
            assert_eq!(p[..end], plain[..end]);
        }
    }
}
