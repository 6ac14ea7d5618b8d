//! The crypto provider: every algorithm the transport can negotiate, behind
//! small traits, so another implementation (a faster AEAD, a hardware key)
//! plugs in without touching the state machine.
//!
//! The transport only ever sees these traits:
//! - [`KexAlgorithm`] / [`KexEphemeral`]: one key exchange method of the
//!   single round trip kind (client sends its public value, the server answers
//!   with its own and a signature; RFC 5656 section 4, RFC 8731, and the DH
//!   groups of RFC 4253 section 8 when the values are given as mpint bytes);
//! - [`SignatureAlgorithm`]: host key signatures (the keys come from
//!   [`crate::keys`]);
//! - [`CipherAlgorithm`] with its [`PacketSealer`] / [`PacketOpener`]: the
//!   binary packet protection, for AEAD ciphers with the length in clear
//!   (AES-GCM), AEAD ciphers that encrypt the length
//!   (chacha20-poly1305@openssh.com) and a cipher plus a [`MacAlgorithm`],
//!   encrypt-and-MAC or encrypt-then-MAC.
//!
//! Algorithms are `&'static` values, so a provider is a few lists of
//! pointers and cloning it is cheap.

mod hash;
mod signature;

use std::fmt;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::config::AlgorithmPreferences;
use crate::wire::Encode;

pub use hash::{HashAlgorithm, Hasher};
pub use signature::{KeysSignature, SSH_ED25519};

/// The set of algorithm implementations a connection may negotiate.
///
/// Each list is in the provider's preference order; the names enabled in
/// [`crate::TransportConfig::algorithms`] select from it.
#[derive(Debug, Clone)]
pub struct CryptoProvider {
    /// Key exchange methods.
    pub kex: Vec<&'static dyn KexAlgorithm>,
    /// Host key signature algorithms (also the user-auth signature
    /// algorithms announced in `server-sig-algs`, RFC 8308 section 3.1).
    pub signature: Vec<&'static dyn SignatureAlgorithm>,
    /// Packet ciphers.
    pub cipher: Vec<&'static dyn CipherAlgorithm>,
    /// MACs, used with ciphers that are not AEAD.
    pub mac: Vec<&'static dyn MacAlgorithm>,
}

impl Default for CryptoProvider {
    /// The pure-Rust algorithms (RustCrypto and dalek crates).
    fn default() -> Self {
        CryptoProvider {
            kex: vec![
                &crate::kex::CURVE25519_SHA256,
                &crate::kex::CURVE25519_SHA256_LIBSSH,
            ],
            signature: vec![&SSH_ED25519],
            cipher: vec![&crate::cipher::AES128_GCM, &crate::cipher::AES256_GCM],
            mac: vec![],
        }
    }
}

impl CryptoProvider {
    /// Names of the algorithms enabled by default, most preferred first.
    pub fn default_preferences(&self) -> AlgorithmPreferences {
        AlgorithmPreferences {
            kex: self.kex.iter().map(|a| a.name().to_string()).collect(),
            host_key: self
                .signature
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            cipher: self.cipher.iter().map(|a| a.name().to_string()).collect(),
            mac: self.mac.iter().map(|a| a.name().to_string()).collect(),
        }
    }

    /// The key exchange method called `name`.
    pub fn find_kex(&self, name: &str) -> Option<&'static dyn KexAlgorithm> {
        self.kex.iter().copied().find(|a| a.name() == name)
    }

    /// The signature algorithm called `name`.
    pub fn find_signature(&self, name: &str) -> Option<&'static dyn SignatureAlgorithm> {
        self.signature.iter().copied().find(|a| a.name() == name)
    }

    /// The cipher called `name`.
    pub fn find_cipher(&self, name: &str) -> Option<&'static dyn CipherAlgorithm> {
        self.cipher.iter().copied().find(|a| a.name() == name)
    }

    /// The MAC called `name`.
    pub fn find_mac(&self, name: &str) -> Option<&'static dyn MacAlgorithm> {
        self.mac.iter().copied().find(|a| a.name() == name)
    }
}

// ---------------------------------------------------------------------------
// Key exchange
// ---------------------------------------------------------------------------

/// A key exchange method with one round trip: each side sends a public value,
/// the server signs the exchange hash (RFC 5656 section 4, RFC 8731 section 3).
///
/// The public values travel and are hashed as `string`s. Methods whose values
/// are `mpint`s (the DH groups of RFC 4253 section 8) give and take the mpint
/// *contents* (big-endian two's complement, leading zero byte when the top bit
/// is set), which makes the `string` encoding identical to the `mpint` one.
pub trait KexAlgorithm: Send + Sync + fmt::Debug {
    /// The name in KEXINIT, e.g. `curve25519-sha256`.
    fn name(&self) -> &'static str;
    /// The hash of the exchange hash and key derivation.
    fn hash(&self) -> HashAlgorithm;
    /// Makes our ephemeral key pair.
    fn start(&self, rng: &mut dyn CryptoRngCore) -> Box<dyn KexEphemeral>;
}

/// Our half of one key exchange.
pub trait KexEphemeral: Send + fmt::Debug {
    /// Our public value (Q_C / Q_S, or e / f).
    fn public_value(&self) -> &[u8];
    /// Combines our secret with the peer's public value into the shared
    /// secret K. Fails on values the method must reject (wrong length, a
    /// low-order point giving an all-zero secret, ...).
    fn agree(self: Box<Self>, peer_public: &[u8]) -> Result<SharedSecret, KexError>;
}

/// The key exchange failed because of the peer's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KexError {
    /// The peer's public value is malformed or gives a degenerate secret.
    #[error("invalid peer public value")]
    InvalidPeerValue,
}

/// The shared secret K, kept in the exact encoding that goes into the
/// exchange hash and the key derivation (RFC 4253 sections 7.2 and 8): an
/// `mpint` for (EC)DH methods, a `string` for the post-quantum hybrids.
/// Zeroized on drop.
#[derive(Clone)]
pub struct SharedSecret {
    encoded: Zeroizing<Vec<u8>>,
}

impl SharedSecret {
    /// K given as an unsigned big-endian number, encoded as `mpint`
    /// (RFC 8731 section 3.1 for X25519 results, RFC 5656 section 4).
    pub fn from_unsigned_be(magnitude: &[u8]) -> Self {
        let mut encoded = Zeroizing::new(Vec::with_capacity(magnitude.len() + 5));
        encoded.put_mpint(magnitude);
        SharedSecret { encoded }
    }

    /// K encoded as a `string` (the hybrid methods hash K that way).
    pub fn from_string(bytes: &[u8]) -> Self {
        let mut encoded = Zeroizing::new(Vec::with_capacity(bytes.len() + 4));
        encoded.put_string(bytes);
        SharedSecret { encoded }
    }

    /// K in its hashed encoding, length prefix included.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

// ---------------------------------------------------------------------------
// Host key signatures
// ---------------------------------------------------------------------------

/// A public key signature algorithm as named in KEXINIT's host key list and
/// in signature blobs (RFC 4253 section 6.6).
pub trait SignatureAlgorithm: Send + Sync + fmt::Debug {
    /// The algorithm name, e.g. `ssh-ed25519` or `rsa-sha2-256`.
    fn name(&self) -> &'static str;
    /// Whether `key` can make signatures of this algorithm.
    fn supports_key(&self, key: &crate::keys::PublicKey) -> bool;
    /// Signs `data`, returning the SSH signature blob.
    fn sign(
        &self,
        key: &crate::keys::PrivateKey,
        data: &[u8],
    ) -> Result<Vec<u8>, crate::keys::KeyError>;
    /// Verifies an SSH signature blob over `data`; the blob's algorithm must
    /// be this one.
    fn verify(&self, key: &crate::keys::PublicKey, data: &[u8], signature_blob: &[u8]) -> bool;
}

// ---------------------------------------------------------------------------
// Packet protection
// ---------------------------------------------------------------------------

/// How a cipher lays out a binary packet (RFC 4253 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketLayout {
    /// Padding aligns to a multiple of this (at least 8, RFC 4253 section 6).
    pub block_len: usize,
    /// Bytes of MAC or AEAD tag after the packet.
    pub tag_len: usize,
    /// Whether the 4-byte length field stays out of the aligned region: true
    /// for AEAD and encrypt-then-MAC modes, whose length is authenticated
    /// data rather than part of the first cipher block (what OpenSSH calls
    /// `aadlen`, RFC 5647 section 7.2).
    pub length_outside_alignment: bool,
    /// Bytes an opener needs to learn the packet length: 4 when the length
    /// can be read alone, a whole cipher block when it is encrypted with the
    /// first block (CBC/CTR with encrypt-and-MAC).
    pub first_block_len: usize,
}

impl PacketLayout {
    /// The layout before the first NEWKEYS: no cipher, no MAC, block size 8.
    pub const NONE: PacketLayout = PacketLayout {
        block_len: 8,
        tag_len: 0,
        length_outside_alignment: false,
        first_block_len: 4,
    };
}

/// A packet cipher as named in KEXINIT.
pub trait CipherAlgorithm: Send + Sync + fmt::Debug {
    /// The name, e.g. `aes128-gcm@openssh.com`.
    fn name(&self) -> &'static str;
    /// Key bytes to derive (RFC 4253 section 7.2, letters C/D).
    fn key_len(&self) -> usize;
    /// IV bytes to derive (letters A/B); 0 if the cipher takes none.
    fn iv_len(&self) -> usize;
    /// Whether integrity is built in, so MAC negotiation is skipped
    /// (RFC 5647 section 5.1 as OpenSSH does it).
    fn is_aead(&self) -> bool;
    /// The sending half, keyed. `mac` is `None` for AEAD ciphers.
    fn sealer(&self, key: &[u8], iv: &[u8], mac: Option<Box<dyn MacKey>>) -> Box<dyn PacketSealer>;
    /// The receiving half, keyed. `mac` is `None` for AEAD ciphers.
    fn opener(&self, key: &[u8], iv: &[u8], mac: Option<Box<dyn MacKey>>) -> Box<dyn PacketOpener>;
}

/// Encrypts and authenticates outgoing packets in place.
pub trait PacketSealer: Send + fmt::Debug {
    /// The packet layout this sealer wants.
    fn layout(&self) -> PacketLayout;
    /// `packet` is `uint32 packet_length, byte padding_length, payload,
    /// padding`, followed by `layout().tag_len` bytes to hold the tag. Seals
    /// it in place with sequence number `seq`.
    fn seal(&mut self, seq: u32, packet: &mut [u8]);
}

/// Authenticates and decrypts incoming packets in place.
pub trait PacketOpener: Send + fmt::Debug {
    /// The packet layout this opener expects.
    fn layout(&self) -> PacketLayout;
    /// Reads the packet length from the first `layout().first_block_len`
    /// bytes of packet `seq`, decrypting them in place if the cipher needs to
    /// (called once per packet; the bytes stay as left for [`Self::open`]).
    fn decrypt_length(&mut self, seq: u32, first_block: &mut [u8]) -> u32;
    /// Verifies and decrypts the whole packet `seq` in place: `packet` is the
    /// length field, the rest of the packet and the tag, with the first
    /// block as [`Self::decrypt_length`] left it. Afterwards the packet
    /// (without tag) is plaintext.
    fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<(), OpenError>;
}

/// The packet failed authentication (RFC 4253 section 6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message authentication failed")]
pub struct OpenError;

/// A MAC as named in KEXINIT (RFC 4253 section 6.4).
pub trait MacAlgorithm: Send + Sync + fmt::Debug {
    /// The name, e.g. `hmac-sha2-256-etm@openssh.com`.
    fn name(&self) -> &'static str;
    /// Key bytes to derive (letters E/F).
    fn key_len(&self) -> usize;
    /// Tag bytes on the wire.
    fn tag_len(&self) -> usize;
    /// Whether the MAC covers the ciphertext (OpenSSH `-etm` forms) rather
    /// than the plaintext.
    fn encrypt_then_mac(&self) -> bool;
    /// A keyed instance.
    fn key(&self, key: &[u8]) -> Box<dyn MacKey>;
}

/// A keyed MAC. The MAC input starts with the sequence number
/// (RFC 4253 section 6.4).
pub trait MacKey: Send + fmt::Debug {
    /// Tag bytes produced.
    fn tag_len(&self) -> usize;
    /// Computes the tag of `uint32 seq || data` into `tag`.
    fn sign(&mut self, seq: u32, data: &[u8], tag: &mut [u8]);
    /// Checks `tag` against `uint32 seq || data` in constant time.
    fn verify(&mut self, seq: u32, data: &[u8], tag: &[u8]) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_preferences_name_every_default_algorithm_in_order() {
        let p = CryptoProvider::default();
        let prefs = p.default_preferences();
        assert_eq!(
            prefs.kex,
            ["curve25519-sha256", "curve25519-sha256@libssh.org"]
        );
        assert_eq!(prefs.host_key, ["ssh-ed25519"]);
        assert_eq!(
            prefs.cipher,
            ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
        );
        assert!(prefs.mac.is_empty());
        assert!(p.find_cipher("aes256-gcm@openssh.com").is_some());
        assert!(p.find_cipher("aes256-cbc").is_none());
    }

    #[test]
    fn shared_secret_is_encoded_as_mpint() {
        // A top bit set gets a leading zero (RFC 4251 section 5).
        let k = SharedSecret::from_unsigned_be(&[0, 0x80, 1]);
        assert_eq!(k.encoded(), &[0, 0, 0, 3, 0, 0x80, 1]);
        assert_eq!(format!("{k:?}"), "SharedSecret(..)");
    }
}
