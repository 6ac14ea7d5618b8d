//! One binary packet for the cipher benchmarks, and the raw AEAD call each
//! provider cipher is compared with.
//!
//! The packet is framed as the transport frames it (RFC 4253 section 6):
//! `uint32 packet_length, byte padding_length, payload, padding`, then room
//! for the tag, padded to the cipher's block with the length inside or
//! outside the aligned part as its [`PacketLayout`] says.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use conch_core::crypto::{
    CipherAlgorithm, CryptoProvider, MacAlgorithm, OpenError, PacketLayout, PacketOpener,
    PacketSealer,
};

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

/// One way to protect packets: a cipher, and for a cipher that is not AEAD
/// the MAC it runs with.
#[derive(Debug, Clone, Copy)]
pub struct Protection {
    /// The cipher.
    pub cipher: &'static dyn CipherAlgorithm,
    /// The MAC (`None` for AEAD ciphers).
    pub mac: Option<&'static dyn MacAlgorithm>,
}

impl Protection {
    /// Every cipher of `provider` in its preference order, each non-AEAD one
    /// with the provider's most preferred MAC (what two default peers
    /// negotiate when that cipher is the only one offered).
    pub fn all(provider: &CryptoProvider) -> Vec<Protection> {
        let mac = provider.mac.first().copied();
        provider
            .cipher
            .iter()
            .map(|&cipher| Protection {
                cipher,
                mac: if cipher.is_aead() { None } else { mac },
            })
            .collect()
    }

    /// `cipher`, or `cipher+mac`: the name benchmarks are reported under.
    pub fn label(&self) -> String {
        match self.mac {
            None => self.cipher.name().to_string(),
            Some(mac) => format!("{}+{}", self.cipher.name(), mac.name()),
        }
    }

    /// A sealer and an opener keyed alike (any fixed key bytes will do), so
    /// what one seals the other opens.
    pub fn keyed(&self) -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
        let key = vec![0x42; self.cipher.key_len()];
        let iv = vec![0x24; self.cipher.iv_len()];
        let mac_key = |mac: &dyn MacAlgorithm| mac.key(&vec![0x99; mac.key_len()]);
        (
            self.cipher.sealer(&key, &iv, self.mac.map(mac_key)),
            self.cipher.opener(&key, &iv, self.mac.map(mac_key)),
        )
    }
}

/// Opens packet `seq` as the transport does: the length first (decrypting
/// the first block when the cipher hides it), then the whole packet.
pub fn open_packet(
    opener: &mut dyn PacketOpener,
    seq: u32,
    packet: &mut [u8],
) -> Result<(), OpenError> {
    let first = opener
        .layout()
        .first_block_len
        .max(LENGTH_LEN)
        .min(packet.len());
    opener.decrypt_length(seq, &mut packet[..first]);
    opener.open(seq, packet)
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

    #[test]
    fn every_provider_protection_round_trips_and_aes_gcm_matches_the_raw_call() {
        let all = Protection::all(&CryptoProvider::default());
        assert!(all
            .iter()
            .any(|p| p.cipher.name() == "aes128-gcm@openssh.com"));
        for protection in all {
            let label = protection.label();
            let (mut sealer, mut opener) = protection.keyed();
            let layout = sealer.layout();
            let plain = plaintext_packet(layout, 1000);
            let outside = if layout.length_outside_alignment {
                LENGTH_LEN
            } else {
                0
            };
            let aligned = plain.len() - layout.tag_len - outside;
            assert_eq!(aligned % layout.block_len.max(8), 0, "{label}");
            let end = plain.len() - layout.tag_len;
            for seq in 0..3 {
                let mut p = plain.clone();
                sealer.seal(seq, &mut p);
                assert_ne!(p[..end], plain[..end], "{label}");
                if let (0, Some(raw)) = (seq, RawAead::for_cipher(protection.cipher.name())) {
                    // Same key, and the first nonce is the derived IV: the
                    // provider and the raw call must give the same bytes, or
                    // the baseline measures something else.
                    let mut r = plain.clone();
                    raw.seal(&[0x24; 12], &mut r);
                    assert_eq!(r, p, "{label}");
                    assert!(raw.open(&[0x24; 12], &mut r));
                    assert_eq!(r[..end], plain[..end]);
                }
                open_packet(&mut *opener, seq, &mut p).expect("opens");
                assert_eq!(p[..end], plain[..end], "{label}");
            }
        }
    }
}
