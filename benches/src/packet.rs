//! One binary packet for the cipher benchmarks, and the raw AEAD call each
//! provider cipher is compared with.
//!
//! With the `ring` feature, `Protection::ring` adds the ring provider's
//! ciphers (`conch_core::cipher::ring`), labelled `<cipher>[ring]` so
//! reports show them next to the pure-Rust ones, and their raw baseline is
//! ring's own AEAD call.
//!
//! The packet is framed as the transport frames it (RFC 4253 section 6):
//! `uint32 packet_length, byte padding_length, payload, padding`, then room
//! for the tag, padded to the cipher's block with the length inside or
//! outside the aligned part as its [`PacketLayout`] says.

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use conch_core::crypto::{
    CipherAlgorithm, CryptoProvider, MacAlgorithm, OpenError, PacketLayout, PacketOpener,
    PacketSealer,
};

const LENGTH_LEN: usize = 4;
/// The AES-GCM tag after the packet.
const TAG_LEN: usize = 16;
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

    /// The ciphers the ring provider implements with the `ring` crate, in
    /// its preference order (all AEAD, so no MAC).
    #[cfg(feature = "ring")]
    pub fn ring() -> Vec<Protection> {
        Protection::all(&CryptoProvider::ring())
            .into_iter()
            .filter(Protection::is_ring)
            .collect()
    }

    /// Whether the cipher is one of the ring provider's own implementations.
    pub fn is_ring(&self) -> bool {
        #[cfg(feature = "ring")]
        if let Some(ring) = conch_core::cipher::ring::ring_cipher(self.cipher.name()) {
            return std::ptr::addr_eq(ring, self.cipher);
        }
        false
    }

    /// A provider that implements this protection: the ring one for a ring
    /// cipher, else the default.
    pub fn provider(&self) -> CryptoProvider {
        #[cfg(feature = "ring")]
        if self.is_ring() {
            return CryptoProvider::ring();
        }
        CryptoProvider::default()
    }

    /// `cipher`, or `cipher+mac`, with `[ring]` after a ring cipher: the name
    /// benchmarks are reported under.
    pub fn label(&self) -> String {
        let provider = if self.is_ring() { "[ring]" } else { "" };
        match self.mac {
            None => format!("{}{provider}", self.cipher.name()),
            Some(mac) => format!("{}{provider}+{}", self.cipher.name(), mac.name()),
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

/// The plain AEAD call a provider's AES-GCM cipher wraps (the `aes-gcm`
/// crate's, or ring's for the ring provider): the baseline its overhead is
/// measured against.
pub enum RawAead {
    /// AES-128-GCM.
    Aes128(Box<Aes128Gcm>),
    /// AES-256-GCM.
    Aes256(Box<Aes256Gcm>),
    /// ring's AES-128-GCM or AES-256-GCM.
    #[cfg(feature = "ring")]
    Ring(Box<ring::aead::LessSafeKey>),
}

impl std::fmt::Debug for RawAead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RawAead::Aes128(_) => "RawAead::Aes128",
            RawAead::Aes256(_) => "RawAead::Aes256",
            #[cfg(feature = "ring")]
            RawAead::Ring(_) => "RawAead::Ring",
        })
    }
}

impl RawAead {
    /// The raw counterpart of `protection`'s cipher, if the benchmarks know
    /// one: ring's call for a ring cipher, else [`RawAead::for_cipher`].
    pub fn for_protection(protection: &Protection) -> Option<RawAead> {
        #[cfg(feature = "ring")]
        if protection.is_ring() {
            use ring::aead::{LessSafeKey, UnboundKey, AES_128_GCM, AES_256_GCM};
            let (algorithm, key): (_, &[u8]) = match protection.cipher.name() {
                "aes128-gcm@openssh.com" => (&AES_128_GCM, &[0x42; 16]),
                "aes256-gcm@openssh.com" => (&AES_256_GCM, &[0x42; 32]),
                _ => return None,
            };
            let key = UnboundKey::new(algorithm, key).expect("key of the algorithm's length");
            return Some(RawAead::Ring(Box::new(LessSafeKey::new(key))));
        }
        RawAead::for_cipher(protection.cipher.name())
    }

    /// The raw `aes-gcm` counterpart of the pure-Rust provider cipher called
    /// `name`, if the benchmarks know one.
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
        let tag_at = packet.len() - TAG_LEN;
        let (body, tag_out) = packet.split_at_mut(tag_at);
        let (aad, plaintext) = body.split_at_mut(LENGTH_LEN);
        let sealed = match self {
            RawAead::Aes128(c) => seal_with(&**c, nonce, aad, plaintext, tag_out),
            RawAead::Aes256(c) => seal_with(&**c, nonce, aad, plaintext, tag_out),
            #[cfg(feature = "ring")]
            RawAead::Ring(key) => key
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(&*aad),
                    plaintext,
                )
                .map(|tag| tag_out.copy_from_slice(tag.as_ref()))
                .is_ok(),
        };
        assert!(sealed, "packet within AES-GCM limits");
    }

    /// Verifies and decrypts what [`RawAead::seal`] made; false if the tag is wrong.
    pub fn open(&self, nonce: &[u8; 12], packet: &mut [u8]) -> bool {
        let (aad, sealed) = packet.split_at_mut(LENGTH_LEN);
        match self {
            RawAead::Aes128(c) => open_with(&**c, nonce, aad, sealed),
            RawAead::Aes256(c) => open_with(&**c, nonce, aad, sealed),
            #[cfg(feature = "ring")]
            RawAead::Ring(key) => key
                .open_in_place(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(&*aad),
                    sealed,
                )
                .is_ok(),
        }
    }
}

/// One `aes-gcm` seal: the tag into `tag_out`; false past GCM's limits.
fn seal_with<C: AeadInOut>(
    cipher: &C,
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &mut [u8],
    tag_out: &mut [u8],
) -> bool {
    let Ok(nonce) = aes_gcm::aead::Nonce::<C>::try_from(&nonce[..]) else {
        return false;
    };
    cipher
        .encrypt_inout_detached(&nonce, aad, plaintext.into())
        .map(|tag| tag_out.copy_from_slice(&tag))
        .is_ok()
}

/// One `aes-gcm` open of `ciphertext || tag`.
fn open_with<C: AeadInOut>(cipher: &C, nonce: &[u8; 12], aad: &[u8], sealed: &mut [u8]) -> bool {
    let (ciphertext, tag) = sealed.split_at_mut(sealed.len() - TAG_LEN);
    let (Ok(nonce), Ok(tag)) = (
        aes_gcm::aead::Nonce::<C>::try_from(&nonce[..]),
        aes_gcm::aead::Tag::<C>::try_from(&*tag),
    ) else {
        return false;
    };
    cipher
        .decrypt_inout_detached(&nonce, aad, ciphertext.into(), &tag)
        .is_ok()
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
        assert!(!all.iter().any(Protection::is_ring));
        #[cfg(feature = "ring")]
        let all = {
            let ring = Protection::ring();
            let labels: Vec<String> = ring.iter().map(Protection::label).collect();
            assert_eq!(
                labels,
                [
                    "chacha20-poly1305@openssh.com[ring]",
                    "aes128-gcm@openssh.com[ring]",
                    "aes256-gcm@openssh.com[ring]",
                ]
            );
            all.into_iter().chain(ring).collect::<Vec<_>>()
        };
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
                if let (0, Some(raw)) = (seq, RawAead::for_protection(&protection)) {
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
