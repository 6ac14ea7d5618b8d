//! `aes128-ctr`, `aes192-ctr` and `aes256-ctr` (RFC 4344 section 4) with a
//! separate MAC, in either arrangement:
//!
//! - encrypt-and-MAC (RFC 4253 section 6.4): the whole packet, length
//!   included, is encrypted; the MAC covers the sequence number and the
//!   *plaintext* packet. The receiver decrypts the first block to learn the
//!   length.
//! - encrypt-then-MAC (`-etm@openssh.com` MACs, OpenSSH PROTOCOL section
//!   1.5): the length stays in clear, the rest is encrypted, and the MAC
//!   covers the sequence number, the length and the *ciphertext*, so it is
//!   checked before anything is decrypted.
//!
//! The counter is the 128-bit big-endian IV, incremented per block across
//! packets (RFC 4344 section 4).

use aes::{Aes128, Aes192, Aes256};
use ctr::cipher::{KeyIvInit, StreamCipher};
use ctr::Ctr128BE;

use crate::crypto::{CipherAlgorithm, MacKey, OpenError, PacketLayout, PacketOpener, PacketSealer};

use super::none::read_length;

const BLOCK_LEN: usize = 16;
const LENGTH_LEN: usize = 4;

/// AES in counter mode, by key size.
#[derive(Debug)]
pub struct AesCtr {
    name: &'static str,
    key_len: usize,
}

/// `aes128-ctr` (RFC 4344 section 4).
pub static AES128_CTR: AesCtr = AesCtr {
    name: "aes128-ctr",
    key_len: 16,
};

/// `aes192-ctr` (RFC 4344 section 4).
pub static AES192_CTR: AesCtr = AesCtr {
    name: "aes192-ctr",
    key_len: 24,
};

/// `aes256-ctr` (RFC 4344 section 4).
pub static AES256_CTR: AesCtr = AesCtr {
    name: "aes256-ctr",
    key_len: 32,
};

impl CipherAlgorithm for AesCtr {
    fn name(&self) -> &'static str {
        self.name
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn iv_len(&self) -> usize {
        BLOCK_LEN
    }

    fn is_aead(&self) -> bool {
        false
    }

    fn sealer(&self, key: &[u8], iv: &[u8], mac: Option<Box<dyn MacKey>>) -> Box<dyn PacketSealer> {
        Box::new(CtrState::new(key, iv, mac))
    }

    fn opener(&self, key: &[u8], iv: &[u8], mac: Option<Box<dyn MacKey>>) -> Box<dyn PacketOpener> {
        Box::new(CtrState::new(key, iv, mac))
    }
}

/// The keystream for one of the key sizes.
enum Keystream {
    Aes128(Box<Ctr128BE<Aes128>>),
    Aes192(Box<Ctr128BE<Aes192>>),
    Aes256(Box<Ctr128BE<Aes256>>),
}

impl Keystream {
    /// `key` is 16, 24 or 32 bytes and `iv` 16, as the key derivation gives
    /// them for these ciphers; anything else is a bug in the caller.
    fn new(key: &[u8], iv: &[u8]) -> Self {
        const IV: &str = "AES-CTR IV is 16 bytes";
        match key.len() {
            16 => Keystream::Aes128(Box::new(Ctr128BE::new_from_slices(key, iv).expect(IV))),
            24 => Keystream::Aes192(Box::new(Ctr128BE::new_from_slices(key, iv).expect(IV))),
            _ => Keystream::Aes256(Box::new(
                Ctr128BE::new_from_slices(key, iv).expect("AES-CTR key of 16, 24 or 32 bytes"),
            )),
        }
    }

    fn apply(&mut self, data: &mut [u8]) {
        match self {
            Keystream::Aes128(c) => c.apply_keystream(data),
            Keystream::Aes192(c) => c.apply_keystream(data),
            Keystream::Aes256(c) => c.apply_keystream(data),
        }
    }
}

/// One keyed direction: keystream, MAC and arrangement.
pub struct CtrState {
    keystream: Keystream,
    mac: Option<Box<dyn MacKey>>,
    etm: bool,
}

impl std::fmt::Debug for CtrState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtrState")
            .field("etm", &self.etm)
            .finish_non_exhaustive()
    }
}

impl CtrState {
    fn new(key: &[u8], iv: &[u8], mac: Option<Box<dyn MacKey>>) -> Self {
        let etm = mac.as_ref().is_some_and(|m| m.encrypt_then_mac());
        CtrState {
            keystream: Keystream::new(key, iv),
            mac,
            etm,
        }
    }

    fn tag_len(&self) -> usize {
        self.mac.as_ref().map_or(0, |m| m.tag_len())
    }

    fn layout(&self) -> PacketLayout {
        PacketLayout {
            block_len: BLOCK_LEN,
            tag_len: self.tag_len(),
            length_outside_alignment: self.etm,
            first_block_len: if self.etm { LENGTH_LEN } else { BLOCK_LEN },
        }
    }
}

impl PacketSealer for CtrState {
    fn layout(&self) -> PacketLayout {
        CtrState::layout(self)
    }

    fn seal(&mut self, seq: u32, packet: &mut [u8]) {
        let tag_at = packet.len() - self.tag_len();
        let (body, tag) = packet.split_at_mut(tag_at);
        if self.etm {
            self.keystream.apply(&mut body[LENGTH_LEN..]);
            if let Some(mac) = &mut self.mac {
                mac.sign(seq, body, tag);
            }
        } else {
            if let Some(mac) = &mut self.mac {
                mac.sign(seq, body, tag);
            }
            self.keystream.apply(body);
        }
    }
}

impl PacketOpener for CtrState {
    fn layout(&self) -> PacketLayout {
        CtrState::layout(self)
    }

    fn decrypt_length(&mut self, _seq: u32, first_block: &mut [u8]) -> u32 {
        if !self.etm {
            // The length is inside the first encrypted block.
            self.keystream.apply(first_block);
        }
        read_length(first_block)
    }

    fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), OpenError> {
        let tag_len = self.tag_len();
        let first = if self.etm { LENGTH_LEN } else { BLOCK_LEN };
        if packet.len() < first + tag_len {
            return Err(OpenError);
        }
        let tag_at = packet.len() - tag_len;
        let (body, tag) = packet.split_at_mut(tag_at);
        if self.etm {
            // Authenticate before decrypting anything.
            if let Some(mac) = &mut self.mac {
                if !mac.verify(seq, body, tag) {
                    return Err(OpenError);
                }
            }
            self.keystream.apply(&mut body[LENGTH_LEN..]);
        } else {
            // The first block was decrypted by `decrypt_length`.
            self.keystream.apply(&mut body[BLOCK_LEN..]);
            if let Some(mac) = &mut self.mac {
                if !mac.verify(seq, body, tag) {
                    return Err(OpenError);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::mac::{HMAC_SHA2_256, HMAC_SHA2_256_ETM, HMAC_SHA2_512};
    use crate::crypto::MacAlgorithm;

    #[test]
    fn the_keystreams_zeroize_themselves_on_drop() {
        // Compile-time: the AES key schedule and the counter are wiped on
        // drop only with the `aes` and `ctr` crates' `zeroize` features.
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<Ctr128BE<Aes128>>();
        zeroized_on_drop::<Ctr128BE<Aes192>>();
        zeroized_on_drop::<Ctr128BE<Aes256>>();
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A plaintext packet padded for `layout`, with room for the tag.
    fn packet(layout: PacketLayout, payload: &[u8]) -> Vec<u8> {
        let outside = if layout.length_outside_alignment {
            0
        } else {
            4
        };
        let mut padding = 16 - (outside + 1 + payload.len()) % 16;
        if padding < 4 {
            padding += 16;
        }
        let len = 1 + payload.len() + padding;
        let mut p = (len as u32).to_be_bytes().to_vec();
        p.push(padding as u8);
        p.extend_from_slice(payload);
        p.resize(4 + len, 0x33);
        p.resize(4 + len + layout.tag_len, 0);
        p
    }

    fn keyed(
        cipher: &AesCtr,
        mac: &dyn MacAlgorithm,
    ) -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
        let key: Vec<u8> = (0..cipher.key_len as u8).collect();
        let iv: Vec<u8> = (0x40..0x50).collect();
        let mk = vec![0x11; mac.key_len()];
        (
            cipher.sealer(&key, &iv, Some(mac.key(&mk))),
            cipher.opener(&key, &iv, Some(mac.key(&mk))),
        )
    }

    #[test]
    fn nist_sp800_38a_f5_1_ctr_aes128_first_block() {
        // NIST SP 800-38A appendix F.5.1 (CTR-AES128.Encrypt), block #1.
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        let mut ks = Keystream::new(&key, &iv);
        let mut block = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        ks.apply(&mut block);
        assert_eq!(
            block,
            hex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff")
        );
    }

    #[test]
    fn encrypt_and_mac_round_trips_and_encrypts_the_length() {
        for cipher in [&AES128_CTR, &AES192_CTR, &AES256_CTR] {
            for mac in [&HMAC_SHA2_256, &HMAC_SHA2_512] {
                let (mut sealer, mut opener) = keyed(cipher, mac);
                let layout = sealer.layout();
                assert_eq!(layout.first_block_len, 16);
                assert!(!layout.length_outside_alignment);
                for i in 0..4u32 {
                    let plain = packet(layout, format!("payload {i}").as_bytes());
                    assert_eq!((plain.len() - layout.tag_len) % 16, 0);
                    let mut p = plain.clone();
                    sealer.seal(i, &mut p);
                    assert_ne!(p[..4], plain[..4], "length must be encrypted");
                    let len = opener.decrypt_length(i, &mut p[..16]) as usize;
                    assert_eq!(len + 4 + layout.tag_len, p.len());
                    opener.open(i, &mut p).unwrap();
                    let n = plain.len() - layout.tag_len;
                    assert_eq!(p[..n], plain[..n]);
                }
            }
        }
    }

    #[test]
    fn encrypt_then_mac_keeps_the_length_in_clear_and_checks_before_decrypting() {
        let (mut sealer, mut opener) = keyed(&AES256_CTR, &HMAC_SHA2_256_ETM);
        let layout = sealer.layout();
        assert!(layout.length_outside_alignment);
        assert_eq!(layout.first_block_len, 4);
        let plain = packet(layout, b"hello");
        assert_eq!((plain.len() - 4 - layout.tag_len) % 16, 0);
        let mut sealed = plain.clone();
        sealer.seal(3, &mut sealed);
        assert_eq!(sealed[..4], plain[..4]);
        // A flipped ciphertext bit is caught, and nothing was decrypted.
        let mut bad = sealed.clone();
        bad[6] ^= 1;
        let (_, mut fresh) = keyed(&AES256_CTR, &HMAC_SHA2_256_ETM);
        fresh.decrypt_length(3, &mut bad[..4]);
        assert_eq!(fresh.open(3, &mut bad), Err(OpenError));
        assert_eq!(bad[7..20], sealed[7..20]);
        // The right one opens.
        opener.decrypt_length(3, &mut sealed[..4]);
        opener.open(3, &mut sealed).unwrap();
        let n = plain.len() - layout.tag_len;
        assert_eq!(sealed[..n], plain[..n]);
    }

    #[test]
    fn a_wrong_sequence_number_or_flipped_bit_fails_in_encrypt_and_mac() {
        let (mut sealer, _) = keyed(&AES128_CTR, &HMAC_SHA2_256);
        let layout = sealer.layout();
        let mut sealed = packet(layout, b"attack at dawn");
        sealer.seal(0, &mut sealed);
        for (seq, flip) in [
            (1u32, None),
            (0, Some(20usize)),
            (0, Some(sealed.len() - 1)),
        ] {
            let (_, mut opener) = keyed(&AES128_CTR, &HMAC_SHA2_256);
            let mut p = sealed.clone();
            if let Some(at) = flip {
                p[at] ^= 0x04;
            }
            opener.decrypt_length(seq, &mut p[..16]);
            assert_eq!(opener.open(seq, &mut p), Err(OpenError), "{seq} {flip:?}");
        }
    }
}
