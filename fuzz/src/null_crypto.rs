//! Algorithms that do nothing, for fuzzing only (see the harness's
//! documentation: random bytes never get past a real key exchange). Both
//! ends must offer them by name, so no real peer can select them.

use conch_core::cipher::{NoneOpener, NoneSealer};
use conch_core::crypto::{
    CipherAlgorithm, CryptoProvider, HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, MacKey,
    PacketOpener, PacketSealer, SharedSecret, SignatureAlgorithm,
};
use conch_core::keys::{KeyError, PrivateKey, PublicKey};
use conch_core::wire::Encode;
use rand_core::CryptoRng;

/// A key exchange whose public values are constant and whose shared
/// secret is 1, whatever the peer sends.
#[derive(Debug)]
pub struct NullKex;

/// Our half of a [`NullKex`].
#[derive(Debug)]
pub struct NullEphemeral;

/// The public value every null exchange sends.
pub const PUBLIC_VALUE: [u8; 32] = [0x42; 32];

impl KexAlgorithm for NullKex {
    fn name(&self) -> &'static str {
        "null-kex@fuzz.conch"
    }
    fn hash(&self) -> HashAlgorithm {
        HashAlgorithm::Sha256
    }
    fn start(&self, _rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        Box::new(NullEphemeral)
    }
}

impl KexEphemeral for NullEphemeral {
    fn public_value(&self) -> &[u8] {
        &PUBLIC_VALUE
    }
    fn agree(self: Box<Self>, _peer_public: &[u8]) -> Result<SharedSecret, KexError> {
        Ok(SharedSecret::from_unsigned_be(&[1]))
    }
}

/// A host key "signature" that is empty and always verifies.
#[derive(Debug)]
pub struct NullSignature;

impl SignatureAlgorithm for NullSignature {
    fn name(&self) -> &'static str {
        "null-sig@fuzz.conch"
    }
    fn supports_key(&self, _key: &PublicKey) -> bool {
        true
    }
    fn sign(&self, _key: &PrivateKey, _data: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut blob = Vec::new();
        blob.put_str(self.name());
        blob.put_string(b"");
        Ok(blob)
    }
    fn verify(&self, _key: &PublicKey, _data: &[u8], _signature_blob: &[u8]) -> bool {
        true
    }
}

/// Packets in the clear, no MAC, block size 8 (the pre-NEWKEYS layout),
/// after NEWKEYS too.
#[derive(Debug)]
pub struct NullCipher;

impl CipherAlgorithm for NullCipher {
    fn name(&self) -> &'static str {
        "null-cipher@fuzz.conch"
    }
    fn key_len(&self) -> usize {
        0
    }
    fn iv_len(&self) -> usize {
        0
    }
    fn is_aead(&self) -> bool {
        // No MAC to negotiate.
        true
    }
    fn sealer(
        &self,
        _key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketSealer> {
        Box::new(NoneSealer)
    }
    fn opener(
        &self,
        _key: &[u8],
        _iv: &[u8],
        _mac: Option<Box<dyn MacKey>>,
    ) -> Box<dyn PacketOpener> {
        Box::new(NoneOpener)
    }
}

/// The null algorithms.
pub static NULL_KEX: NullKex = NullKex;
/// The null signature.
pub static NULL_SIGNATURE: NullSignature = NullSignature;
/// The null cipher.
pub static NULL_CIPHER: NullCipher = NullCipher;

/// A provider with nothing but the null algorithms.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        kex: vec![&NULL_KEX],
        signature: vec![&NULL_SIGNATURE],
        cipher: vec![&NULL_CIPHER],
        mac: vec![],
    }
}
