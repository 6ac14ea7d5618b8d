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

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::config::AlgorithmPreferences;
use crate::wire::Encode;

pub use hash::{HashAlgorithm, Hasher};
pub use signature::{
    KeysSignature, ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP384, ECDSA_SHA2_NISTP521, RSA_SHA2_256,
    RSA_SHA2_512, SSH_ED25519, SSH_RSA,
};
pub use signature::{
    ECDSA_SHA2_NISTP256_CERT, ECDSA_SHA2_NISTP384_CERT, ECDSA_SHA2_NISTP521_CERT,
    RSA_SHA2_256_CERT, RSA_SHA2_512_CERT, SSH_ED25519_CERT,
};

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

/// Algorithms the provider implements for old servers and network gear but
/// leaves out of [`CryptoProvider::default_preferences`], because they rest
/// on SHA-1: `ssh-rsa` signatures (RFC 8332 section 5 deprecates them),
/// `diffie-hellman-group14-sha1` (RFC 9142 section 4) and `hmac-sha1`.
/// Enable one by adding its name to [`crate::TransportConfig::algorithms`].
pub const LEGACY_ALGORITHMS: &[&str] = &[
    "ssh-rsa",
    "diffie-hellman-group14-sha1",
    "hmac-sha1",
    "hmac-sha1-etm@openssh.com",
];

/// Whether `name` is one of [`LEGACY_ALGORITHMS`].
pub fn is_legacy(name: &str) -> bool {
    LEGACY_ALGORITHMS.contains(&name)
}

impl Default for CryptoProvider {
    /// The pure-Rust algorithms (RustCrypto and dalek crates), each list in
    /// OpenSSH's current default order (OpenSSH 9.9/10 `ssh_config(5)`),
    /// the legacy ones last:
    ///
    /// - key exchange: the post-quantum hybrid first (OpenSSH's default
    ///   since 10.0, so traffic recorded today stays safe from a future
    ///   quantum computer) and sntrup761 (the hybrid of OpenSSH 8.5 to
    ///   9.8, so those servers get post-quantum protection too), then
    ///   curve25519 (fast, hard to get wrong), the
    ///   NIST ECDH curves, then finite-field DH, largest cost last;
    /// - host keys: the certificate types first (PROTOCOL.certkeys; a
    ///   server offers them only with a certificate, and a client falls
    ///   back to the plain key when no `@cert-authority` matches, as
    ///   OpenSSH's default `HostKeyAlgorithms` does), then Ed25519, ECDSA,
    ///   then RSA with SHA-512 before SHA-256;
    /// - ciphers: AES-GCM, then chacha20-poly1305, then AES-CTR. OpenSSH
    ///   puts chacha20-poly1305 first because AES done in software with
    ///   lookup tables leaks its key through cache timing; the `aes` crate
    ///   here uses AES-NI (or ARMv8's AES instructions) when the CPU has
    ///   them and a constant-time bitsliced AES when not, so that reason
    ///   does not apply, and with the instructions AES-GCM is about 1.3x
    ///   faster than chacha20-poly1305 (BENCHMARKS.md). The client's order
    ///   decides (RFC 4253 section 7.1), so this is also what `conch`
    ///   gets from OpenSSH's sshd. On a CPU without AES instructions
    ///   chacha20-poly1305 is the faster one: put it first in
    ///   [`crate::TransportConfig::algorithms`];
    /// - MACs: encrypt-then-MAC forms first (the MAC is checked before
    ///   anything is decrypted), SHA-256 before SHA-512.
    fn default() -> Self {
        CryptoProvider {
            kex: vec![
                &crate::kex::MLKEM768X25519_SHA256,
                &crate::kex::SNTRUP761X25519_SHA512,
                &crate::kex::SNTRUP761X25519_SHA512_OPENSSH,
                &crate::kex::CURVE25519_SHA256,
                &crate::kex::CURVE25519_SHA256_LIBSSH,
                &crate::kex::ECDH_SHA2_NISTP256,
                &crate::kex::ECDH_SHA2_NISTP384,
                &crate::kex::ECDH_SHA2_NISTP521,
                &crate::kex::DH_GEX_SHA256,
                &crate::kex::DH_GROUP16_SHA512,
                &crate::kex::DH_GROUP18_SHA512,
                &crate::kex::DH_GROUP14_SHA256,
                &crate::kex::DH_GROUP14_SHA1,
            ],
            signature: vec![
                &SSH_ED25519_CERT,
                &ECDSA_SHA2_NISTP256_CERT,
                &ECDSA_SHA2_NISTP384_CERT,
                &ECDSA_SHA2_NISTP521_CERT,
                &RSA_SHA2_512_CERT,
                &RSA_SHA2_256_CERT,
                &SSH_ED25519,
                &ECDSA_SHA2_NISTP256,
                &ECDSA_SHA2_NISTP384,
                &ECDSA_SHA2_NISTP521,
                &RSA_SHA2_512,
                &RSA_SHA2_256,
                &SSH_RSA,
            ],
            cipher: vec![
                &crate::cipher::AES128_GCM,
                &crate::cipher::AES256_GCM,
                &crate::cipher::CHACHA20_POLY1305,
                &crate::cipher::AES128_CTR,
                &crate::cipher::AES192_CTR,
                &crate::cipher::AES256_CTR,
            ],
            mac: vec![
                &crate::cipher::HMAC_SHA2_256_ETM,
                &crate::cipher::HMAC_SHA2_512_ETM,
                &crate::cipher::HMAC_SHA2_256,
                &crate::cipher::HMAC_SHA2_512,
                &crate::cipher::HMAC_SHA1_ETM,
                &crate::cipher::HMAC_SHA1,
            ],
        }
    }
}

impl CryptoProvider {
    /// Names of the algorithms enabled by default, most preferred first:
    /// every algorithm of the provider but the [`LEGACY_ALGORITHMS`].
    pub fn default_preferences(&self) -> AlgorithmPreferences {
        fn names<T: ?Sized + Named>(list: &[&'static T]) -> Vec<String> {
            list.iter()
                .map(|a| a.algorithm_name())
                .filter(|n| !is_legacy(n))
                .map(str::to_string)
                .collect()
        }
        AlgorithmPreferences {
            kex: names(&self.kex),
            host_key: names(&self.signature),
            cipher: names(&self.cipher),
            mac: names(&self.mac),
            // Compression is not the provider's: off unless asked for.
            compression: vec![crate::config::COMPRESSION_NONE.to_string()],
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

/// Anything with a KEXINIT name (for [`CryptoProvider::default_preferences`]).
trait Named {
    fn algorithm_name(&self) -> &'static str;
}

impl Named for dyn KexAlgorithm {
    fn algorithm_name(&self) -> &'static str {
        self.name()
    }
}

impl Named for dyn SignatureAlgorithm {
    fn algorithm_name(&self) -> &'static str {
        self.name()
    }
}

impl Named for dyn CipherAlgorithm {
    fn algorithm_name(&self) -> &'static str {
        self.name()
    }
}

impl Named for dyn MacAlgorithm {
    fn algorithm_name(&self) -> &'static str {
        self.name()
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
    /// Makes our ephemeral key pair (the client's half, or for methods where
    /// both halves are alike, either side's).
    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral>;

    /// The server's half: answers the client's public value with ours and
    /// the shared secret. The default makes a key pair with
    /// [`Self::start`] and agrees; key encapsulation methods (the
    /// post-quantum hybrids), whose reply depends on the client's value,
    /// override it.
    fn respond(
        &self,
        rng: &mut dyn CryptoRng,
        client_public: &[u8],
    ) -> Result<(Vec<u8>, SharedSecret), KexError> {
        let ours = self.start(rng);
        let public = ours.public_value().to_vec();
        Ok((public, ours.agree(client_public)?))
    }

    /// For group exchange methods (RFC 4419), how the group is chosen;
    /// `None` for the single round trip methods.
    fn group_exchange(&self) -> Option<&dyn GroupExchange> {
        None
    }
}

/// The group sizes, in bits, a client asks for in SSH_MSG_KEX_DH_GEX_REQUEST
/// (RFC 4419 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRequest {
    /// Smallest acceptable.
    pub min: u32,
    /// Preferred.
    pub preferred: u32,
    /// Largest acceptable.
    pub max: u32,
}

/// How a group exchange method (RFC 4419) picks and checks its group.
pub trait GroupExchange: Send + Sync + fmt::Debug {
    /// Client: the sizes to ask for, given the most key material (in bytes)
    /// one of the negotiated ciphers and MACs needs.
    fn request(&self, need_bytes: usize) -> GroupRequest;
    /// Server: the group to use for a request, or `None` if none fits.
    fn choose_group(&self, request: &GroupRequest) -> Option<crate::kex::DhGroup>;
    /// Client: the server's group (`p`, `g` as mpint magnitudes) if it is
    /// usable and within what we asked for.
    fn check_group(
        &self,
        request: &GroupRequest,
        p: &[u8],
        g: &[u8],
    ) -> Result<crate::kex::DhGroup, KexError>;
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
    /// Whether the MAC covers the ciphertext (the `-etm@openssh.com` forms,
    /// OpenSSH PROTOCOL section 1.5), so the cipher keeps the length in
    /// clear and checks the tag before decrypting.
    fn encrypt_then_mac(&self) -> bool {
        false
    }
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
            [
                "mlkem768x25519-sha256",
                "sntrup761x25519-sha512",
                "sntrup761x25519-sha512@openssh.com",
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                "ecdh-sha2-nistp256",
                "ecdh-sha2-nistp384",
                "ecdh-sha2-nistp521",
                "diffie-hellman-group-exchange-sha256",
                "diffie-hellman-group16-sha512",
                "diffie-hellman-group18-sha512",
                "diffie-hellman-group14-sha256",
            ]
        );
        assert_eq!(
            prefs.host_key,
            [
                "ssh-ed25519-cert-v01@openssh.com",
                "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                "ecdsa-sha2-nistp521-cert-v01@openssh.com",
                "rsa-sha2-512-cert-v01@openssh.com",
                "rsa-sha2-256-cert-v01@openssh.com",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
                "rsa-sha2-512",
                "rsa-sha2-256",
            ]
        );
        assert_eq!(
            prefs.cipher,
            [
                "aes128-gcm@openssh.com",
                "aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com",
                "aes128-ctr",
                "aes192-ctr",
                "aes256-ctr",
            ]
        );
        assert_eq!(
            prefs.mac,
            [
                "hmac-sha2-256-etm@openssh.com",
                "hmac-sha2-512-etm@openssh.com",
                "hmac-sha2-256",
                "hmac-sha2-512",
            ]
        );
        assert!(p.find_cipher("aes256-gcm@openssh.com").is_some());
        assert!(p.find_cipher("aes256-cbc").is_none());
    }

    #[test]
    fn legacy_algorithms_are_implemented_but_off_by_default() {
        let p = CryptoProvider::default();
        let prefs = p.default_preferences();
        assert!(p.find_signature("ssh-rsa").is_some());
        assert!(p.find_kex("diffie-hellman-group14-sha1").is_some());
        assert!(p.find_mac("hmac-sha1").is_some());
        for name in LEGACY_ALGORITHMS {
            assert!(is_legacy(name));
            assert!(!prefs.kex.iter().any(|n| n == name));
            assert!(!prefs.host_key.iter().any(|n| n == name));
            assert!(!prefs.mac.iter().any(|n| n == name));
        }
    }

    #[test]
    fn shared_secret_is_encoded_as_mpint() {
        // A top bit set gets a leading zero (RFC 4251 section 5).
        let k = SharedSecret::from_unsigned_be(&[0, 0x80, 1]);
        assert_eq!(k.encoded(), &[0, 0, 0, 3, 0, 0x80, 1]);
        assert_eq!(format!("{k:?}"), "SharedSecret(..)");
    }
}
