//! HMAC message authentication codes (RFC 4253 section 6.4, RFC 6668 for
//! the SHA-2 forms) and their OpenSSH encrypt-then-MAC variants
//! (`-etm@openssh.com`, OpenSSH PROTOCOL section 1.5).
//!
//! The MAC of packet `seq` is `MAC(key, uint32 seq || data)`, where `data`
//! is the plaintext packet (encrypt-and-MAC) or the length and ciphertext
//! (encrypt-then-MAC); the cipher decides which bytes it hands in, this
//! module only computes and checks tags. Checks compare in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::crypto::{MacAlgorithm, MacKey};

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HmacHash {
    Sha1,
    Sha256,
    Sha512,
}

/// One HMAC as named in KEXINIT.
#[derive(Debug)]
pub struct HmacAlgorithm {
    name: &'static str,
    hash: HmacHash,
    etm: bool,
}

/// `hmac-sha2-256` (RFC 6668 section 2): 32-byte key and tag.
pub static HMAC_SHA2_256: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha2-256",
    hash: HmacHash::Sha256,
    etm: false,
};

/// `hmac-sha2-512` (RFC 6668 section 2): 64-byte key and tag.
pub static HMAC_SHA2_512: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha2-512",
    hash: HmacHash::Sha512,
    etm: false,
};

/// `hmac-sha2-256-etm@openssh.com`: encrypt-then-MAC form.
pub static HMAC_SHA2_256_ETM: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha2-256-etm@openssh.com",
    hash: HmacHash::Sha256,
    etm: true,
};

/// `hmac-sha2-512-etm@openssh.com`: encrypt-then-MAC form.
pub static HMAC_SHA2_512_ETM: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha2-512-etm@openssh.com",
    hash: HmacHash::Sha512,
    etm: true,
};

/// `hmac-sha1` (RFC 4253 section 6.4). Legacy: not enabled by default.
pub static HMAC_SHA1: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha1",
    hash: HmacHash::Sha1,
    etm: false,
};

/// `hmac-sha1-etm@openssh.com`. Legacy: not enabled by default.
pub static HMAC_SHA1_ETM: HmacAlgorithm = HmacAlgorithm {
    name: "hmac-sha1-etm@openssh.com",
    hash: HmacHash::Sha1,
    etm: true,
};

impl HmacHash {
    /// Key and tag length: the hash output (RFC 4253 section 6.4 and RFC
    /// 6668 section 2 take keys of the digest length).
    fn output_len(self) -> usize {
        match self {
            HmacHash::Sha1 => 20,
            HmacHash::Sha256 => 32,
            HmacHash::Sha512 => 64,
        }
    }
}

impl MacAlgorithm for HmacAlgorithm {
    fn name(&self) -> &'static str {
        self.name
    }

    fn key_len(&self) -> usize {
        self.hash.output_len()
    }

    fn tag_len(&self) -> usize {
        self.hash.output_len()
    }

    fn encrypt_then_mac(&self) -> bool {
        self.etm
    }

    fn key(&self, key: &[u8]) -> Box<dyn MacKey> {
        Box::new(HmacKey::new(self.hash, key, self.etm))
    }
}

/// A keyed HMAC. The keyed state is kept and cloned per packet, so the key
/// schedule (two hash blocks) is computed once.
struct HmacKey {
    state: HmacState,
    etm: bool,
}

/// The keyed HMAC state for one of the hashes.
#[derive(Clone)]
enum HmacState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl HmacKey {
    fn new(hash: HmacHash, key: &[u8], etm: bool) -> Self {
        // HMAC takes keys of any length (RFC 2104 section 2).
        const ANY: &str = "HMAC accepts keys of any length";
        let state = match hash {
            HmacHash::Sha1 => HmacState::Sha1(Hmac::new_from_slice(key).expect(ANY)),
            HmacHash::Sha256 => HmacState::Sha256(Hmac::new_from_slice(key).expect(ANY)),
            HmacHash::Sha512 => HmacState::Sha512(Hmac::new_from_slice(key).expect(ANY)),
        };
        HmacKey { state, etm }
    }

    /// `HMAC(key, uint32 seq || data)` into `out` (at most the digest length).
    fn compute(&self, seq: u32, data: &[u8], out: &mut [u8; 64]) -> usize {
        fn run<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], out: &mut [u8; 64]) -> usize {
            let mut m = m.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            let tag = m.finalize().into_bytes();
            out[..tag.len()].copy_from_slice(&tag);
            tag.len()
        }
        match &self.state {
            HmacState::Sha1(m) => run(m, seq, data, out),
            HmacState::Sha256(m) => run(m, seq, data, out),
            HmacState::Sha512(m) => run(m, seq, data, out),
        }
    }
}

impl HmacKey {
    /// Replaces the keyed state (the inner and outer hash states after the
    /// padded key, which compute tags as well as the key does) with the
    /// state of the empty key. The `hmac` and `sha2` crates have no
    /// `zeroize` support, so this overwrite in place is what wipes it.
    fn wipe(&mut self) {
        const EMPTY: &str = "HMAC accepts the empty key";
        self.state = match self.state {
            HmacState::Sha1(_) => HmacState::Sha1(Hmac::new_from_slice(&[]).expect(EMPTY)),
            HmacState::Sha256(_) => HmacState::Sha256(Hmac::new_from_slice(&[]).expect(EMPTY)),
            HmacState::Sha512(_) => HmacState::Sha512(Hmac::new_from_slice(&[]).expect(EMPTY)),
        };
        // The memory is freed right after a drop; this keeps the compiler
        // from dropping the overwrite as a dead store.
        std::hint::black_box(&self.state);
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacKey").finish_non_exhaustive()
    }
}

impl MacKey for HmacKey {
    fn tag_len(&self) -> usize {
        match self.state {
            HmacState::Sha1(_) => 20,
            HmacState::Sha256(_) => 32,
            HmacState::Sha512(_) => 64,
        }
    }

    fn encrypt_then_mac(&self) -> bool {
        self.etm
    }

    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]) {
        let mut full = [0u8; 64];
        let len = self.compute(seq, data, &mut full);
        let n = tag.len().min(len);
        tag[..n].copy_from_slice(&full[..n]);
    }

    fn verify(&mut self, seq: u32, data: &[u8], tag: &[u8]) -> bool {
        let mut full = [0u8; 64];
        let len = self.compute(seq, data, &mut full);
        // RFC 4253 section 6.4 leaves timing open; a constant-time compare
        // keeps a forger from learning the tag byte by byte.
        len == tag.len() && bool::from(full[..len].ct_eq(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// HMAC over `data` with the SSH framing stripped: the first four bytes
    /// of `data` play the sequence number.
    fn raw_tag(alg: &HmacAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
        let seq = u32::from_be_bytes(data[..4].try_into().unwrap());
        let mut k = alg.key(key);
        let mut tag = vec![0u8; alg.tag_len()];
        k.sign(seq, &data[4..], &mut tag);
        tag
    }

    #[test]
    fn rfc4231_test_case_2_hmac_sha2() {
        // RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?".
        // The first four data bytes become our sequence number.
        let data = b"what do ya want for nothing?";
        assert_eq!(
            raw_tag(&HMAC_SHA2_256, b"Jefe", data),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            raw_tag(&HMAC_SHA2_512_ETM, b"Jefe", data),
            hex(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            )
        );
    }

    #[test]
    fn rfc4231_test_case_6_key_longer_than_the_block() {
        // RFC 4231 section 4.7: a 131-byte key of 0xaa is hashed first.
        let key = [0xaau8; 131];
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            raw_tag(&HMAC_SHA2_256, &key, data),
            hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        );
    }

    #[test]
    fn rfc2202_hmac_sha1_test_case_2() {
        // RFC 2202 section 3, test case 2.
        assert_eq!(
            raw_tag(&HMAC_SHA1, b"Jefe", b"what do ya want for nothing?"),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn wiping_replaces_the_keyed_state_with_the_empty_keys() {
        for alg in [&HMAC_SHA2_256, &HMAC_SHA2_512, &HMAC_SHA1] {
            let tag_of = |k: &mut HmacKey| {
                let mut tag = vec![0u8; alg.tag_len()];
                k.sign(3, b"packet", &mut tag);
                tag
            };
            let mut keyed = HmacKey::new(alg.hash, &[0x5a; 64], false);
            let mut empty = HmacKey::new(alg.hash, &[], false);
            let before = tag_of(&mut keyed);
            assert_ne!(before, tag_of(&mut empty), "{}", alg.name);
            keyed.wipe();
            // Nothing of the key is left to make its tags with.
            assert_eq!(tag_of(&mut keyed), tag_of(&mut empty), "{}", alg.name);
        }
    }

    #[test]
    fn the_sequence_number_is_covered_and_verify_rejects_any_change() {
        for alg in [&HMAC_SHA2_256, &HMAC_SHA2_512, &HMAC_SHA1_ETM] {
            let mut k = alg.key(&vec![7u8; alg.key_len()]);
            let mut tag = vec![0u8; alg.tag_len()];
            k.sign(5, b"packet", &mut tag);
            assert!(k.verify(5, b"packet", &tag), "{}", alg.name);
            assert!(!k.verify(6, b"packet", &tag), "{}", alg.name);
            assert!(!k.verify(5, b"packes", &tag), "{}", alg.name);
            let mut bad = tag.clone();
            bad[0] ^= 0x80;
            assert!(!k.verify(5, b"packet", &bad), "{}", alg.name);
            assert!(!k.verify(5, b"packet", &tag[1..]), "{}", alg.name);
        }
    }
}
