//! `aes128-gcm@openssh.com` and `aes256-gcm@openssh.com`: RFC 5647 as
//! OpenSSH implements it (OpenSSH PROTOCOL section 1.6).
//!
//! - The packet length stays in clear and is the additional authenticated
//!   data (RFC 5647 section 7.3); the padding aligns the rest of the packet
//!   to 16 bytes (section 7.2).
//! - The 12-byte nonce is a 4-byte fixed field and an 8-byte invocation
//!   counter, both from the derived IV; the counter goes up by one per packet
//!   (section 7.1), independently of the sequence number.
//! - The 16-byte tag follows the packet; the MAC slot of KEXINIT is ignored
//!   (OpenSSH negotiates no MAC for AEAD ciphers).

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::Zeroize;

use crate::crypto::{CipherAlgorithm, MacKey, OpenError, PacketLayout, PacketOpener, PacketSealer};

use super::none::read_length;

const TAG_LEN: usize = 16;
const IV_LEN: usize = 12;
const LENGTH_LEN: usize = 4;

const LAYOUT: PacketLayout = PacketLayout {
    block_len: 16,
    tag_len: TAG_LEN,
    length_outside_alignment: true,
    first_block_len: LENGTH_LEN,
};

/// One of the AES-GCM ciphers, by key size.
#[derive(Debug)]
pub struct AesGcm {
    name: &'static str,
    key_len: usize,
}

/// `aes128-gcm@openssh.com`.
pub static AES128_GCM: AesGcm = AesGcm {
    name: "aes128-gcm@openssh.com",
    key_len: 16,
};

/// `aes256-gcm@openssh.com`.
pub static AES256_GCM: AesGcm = AesGcm {
    name: "aes256-gcm@openssh.com",
    key_len: 32,
};

impl CipherAlgorithm for AesGcm {
    fn name(&self) -> &'static str {
        self.name
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn iv_len(&self) -> usize {
        IV_LEN
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
        Box::new(GcmState::new(key, iv))
    }

    fn opener(
        &self,
        key: &[u8],
        iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketOpener> {
        Box::new(GcmState::new(key, iv))
    }
}

/// The AES key schedule for one of the two key sizes.
enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

/// A keyed AES-GCM direction: the cipher and the nonce (RFC 5647 section 7.1).
pub struct GcmState {
    aead: Aead,
    fixed: [u8; 4],
    invocation_counter: u64,
}

impl std::fmt::Debug for GcmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcmState").finish_non_exhaustive()
    }
}

impl GcmState {
    /// Keys a direction. `key` must be 16 or 32 bytes and `iv` 12 bytes, as
    /// the key derivation gives them for this cipher; anything else is a bug
    /// in the caller.
    fn new(key: &[u8], iv: &[u8]) -> Self {
        let aead = match key.len() {
            16 => Aead::Aes128(Box::new(
                Aes128Gcm::new_from_slice(key).expect("16-byte key"),
            )),
            _ => Aead::Aes256(Box::new(
                Aes256Gcm::new_from_slice(key).expect("AES-GCM key must be 16 or 32 bytes"),
            )),
        };
        let mut fixed = [0u8; 4];
        let mut counter = [0u8; 8];
        if iv.len() >= IV_LEN {
            fixed.copy_from_slice(&iv[..4]);
            counter.copy_from_slice(&iv[4..IV_LEN]);
        }
        GcmState {
            aead,
            fixed,
            invocation_counter: u64::from_be_bytes(counter),
        }
    }

    /// Overwrites the key material in place: the cipher with one keyed by
    /// zeros, the nonce fields with zeros. The AES key schedule zeroizes
    /// itself when the old cipher is dropped (the `aes` crate's `zeroize`
    /// feature), and since `polyval` 0.7 so does the GHASH key H = AES_K(0)
    /// (0.6's runtime-detected backend never ran its zeroizing drop).
    /// Writing the zero key's cipher over it, which replaces H with a
    /// public value, stays: it does not depend on a dependency's feature.
    fn wipe(&mut self) {
        match &mut self.aead {
            Aead::Aes128(c) => {
                **c = Aes128Gcm::new(&Default::default());
                std::hint::black_box(&**c);
            }
            Aead::Aes256(c) => {
                **c = Aes256Gcm::new(&Default::default());
                std::hint::black_box(&**c);
            }
        }
        self.fixed.zeroize();
        self.invocation_counter.zeroize();
        // Keep the compiler from treating the overwrites as dead stores
        // before the memory is freed.
        std::hint::black_box(&self.fixed);
    }

    /// The nonce for this packet, then the counter steps on (wrapping as
    /// RFC 5647 section 7.1's modulo 2^64 says).
    fn next_nonce(&mut self) -> [u8; IV_LEN] {
        let mut nonce = [0u8; IV_LEN];
        nonce[..4].copy_from_slice(&self.fixed);
        nonce[4..].copy_from_slice(&self.invocation_counter.to_be_bytes());
        self.invocation_counter = self.invocation_counter.wrapping_add(1);
        nonce
    }
}

impl Drop for GcmState {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl PacketSealer for GcmState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn seal(&mut self, _seq: u32, packet: &mut [u8]) {
        let nonce = Nonce::from(self.next_nonce());
        let tag_at = packet.len() - TAG_LEN;
        let (body, tag_out) = packet.split_at_mut(tag_at);
        let (length, plaintext) = body.split_at_mut(LENGTH_LEN);
        // Encryption only fails for inputs over GCM's 64 GiB limit, far past
        // any packet.
        let tag = match &self.aead {
            Aead::Aes128(c) => c.encrypt_inout_detached(&nonce, length, plaintext.into()),
            Aead::Aes256(c) => c.encrypt_inout_detached(&nonce, length, plaintext.into()),
        }
        .expect("packet within AES-GCM limits");
        tag_out.copy_from_slice(&tag);
    }
}

impl PacketOpener for GcmState {
    fn layout(&self) -> PacketLayout {
        LAYOUT
    }

    fn decrypt_length(&mut self, _seq: u32, first_block: &mut [u8]) -> u32 {
        read_length(first_block)
    }

    fn open(&mut self, _seq: u32, packet: &mut [u8]) -> Result<(), OpenError> {
        let nonce = Nonce::from(self.next_nonce());
        if packet.len() < LENGTH_LEN + TAG_LEN {
            return Err(OpenError);
        }
        let tag_at = packet.len() - TAG_LEN;
        let (body, tag) = packet.split_at_mut(tag_at);
        let tag = <&Tag>::try_from(&*tag).map_err(|_| OpenError)?;
        let (length, ciphertext) = body.split_at_mut(LENGTH_LEN);
        match &self.aead {
            Aead::Aes128(c) => c.decrypt_inout_detached(&nonce, length, ciphertext.into(), tag),
            Aead::Aes256(c) => c.decrypt_inout_detached(&nonce, length, ciphertext.into(), tag),
        }
        .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plaintext packet of `payload` padded as RFC 5647 section 7.2 wants,
    /// with room for the tag.
    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut padding = 16 - (1 + payload.len()) % 16;
        if padding < 4 {
            padding += 16;
        }
        let len = 1 + payload.len() + padding;
        let mut p = (len as u32).to_be_bytes().to_vec();
        p.push(padding as u8);
        p.extend_from_slice(payload);
        p.resize(4 + len + TAG_LEN, 0x5a);
        p
    }

    fn pair(alg: &AesGcm) -> (Box<dyn PacketSealer>, Box<dyn PacketOpener>) {
        let key: Vec<u8> = (0..alg.key_len() as u8).collect();
        let iv: Vec<u8> = (100..112).collect();
        (alg.sealer(&key, &iv, None), alg.opener(&key, &iv, None))
    }

    #[test]
    fn seal_then_open_round_trips_for_both_key_sizes_and_many_packets() {
        for alg in [&AES128_GCM, &AES256_GCM] {
            let (mut sealer, mut opener) = pair(alg);
            for i in 0..5u32 {
                let plain = packet(format!("message {i}").as_bytes());
                let mut p = plain.clone();
                sealer.seal(i, &mut p);
                // The length stays in clear, the rest is encrypted.
                assert_eq!(p[..4], plain[..4]);
                assert_ne!(p[4..], plain[4..]);
                assert_eq!(opener.decrypt_length(i, &mut p[..4]) as usize, p.len() - 20);
                opener.open(i, &mut p).unwrap();
                assert_eq!(p[..p.len() - TAG_LEN], plain[..plain.len() - TAG_LEN]);
            }
        }
    }

    #[test]
    fn wiping_leaves_the_state_of_an_all_zero_key_and_iv() {
        for (alg, key_len) in [(&AES128_GCM, 16), (&AES256_GCM, 32)] {
            let key: Vec<u8> = (1..=key_len as u8).collect();
            let iv: Vec<u8> = (100..112).collect();
            let mut keyed = GcmState::new(&key, &iv);
            let mut zero = GcmState::new(&vec![0u8; key_len], &[0u8; IV_LEN]);
            let seal = |s: &mut GcmState| {
                let mut p = packet(b"after the wipe");
                s.seal(0, &mut p);
                p
            };
            keyed.wipe();
            assert_eq!(keyed.fixed, [0; 4], "{}", alg.name);
            assert_eq!(keyed.invocation_counter, 0, "{}", alg.name);
            // Cipher and GHASH key both: the tag matches too.
            assert_eq!(seal(&mut keyed), seal(&mut zero), "{}", alg.name);
        }
    }

    #[test]
    fn the_aes_key_schedule_zeroizes_itself_on_drop() {
        // Compile-time: needs the `aes` crate's `zeroize` feature.
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<aes::Aes128>();
        zeroized_on_drop::<aes::Aes256>();
    }

    #[test]
    fn the_nonce_changes_per_packet() {
        let (mut sealer, _) = pair(&AES128_GCM);
        let mut a = packet(b"same");
        let mut b = a.clone();
        sealer.seal(0, &mut a);
        sealer.seal(1, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_authentication() {
        let (mut sealer, _) = pair(&AES256_GCM);
        let mut sealed = packet(b"attack at dawn");
        sealer.seal(0, &mut sealed);
        // Flip one bit in the length (AAD), the ciphertext, and the tag.
        for at in [1, 4, 10, sealed.len() - 1] {
            let (_, mut opener) = pair(&AES256_GCM);
            let mut p = sealed.clone();
            p[at] ^= 0x01;
            assert_eq!(
                opener.open(0, &mut p),
                Err(OpenError),
                "bit flipped at {at}"
            );
        }
        // Unchanged, it opens.
        let (_, mut opener) = pair(&AES256_GCM);
        assert!(opener.open(0, &mut sealed).is_ok());
    }

    #[test]
    fn a_packet_out_of_order_fails_authentication() {
        // The invocation counter binds each packet to its position.
        let (mut sealer, mut opener) = pair(&AES128_GCM);
        let mut first = packet(b"one");
        let mut second = packet(b"two");
        sealer.seal(0, &mut first);
        sealer.seal(1, &mut second);
        assert_eq!(opener.open(0, &mut second), Err(OpenError));
    }
}
