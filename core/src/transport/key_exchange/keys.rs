//! The session keys (RFC 4253 section 7.2): each direction's IV, key and
//! MAC key from K, H and the session identifier, built into the packet
//! ciphers that wait for the NEWKEYS of their direction.

use crate::crypto::{CipherAlgorithm, MacAlgorithm, MacKey, SharedSecret};
use crate::kex::derive_key;
use crate::transport::{Side, Transport};

use super::kexinit::Negotiated;
use super::NewKeys;

/// Keys for one direction.
struct DirectionKeys {
    iv: zeroize::Zeroizing<Vec<u8>>,
    key: zeroize::Zeroizing<Vec<u8>>,
    mac: Option<Box<dyn MacKey>>,
}

impl Transport {
    /// Both directions' ciphers from K and H; the first H becomes the
    /// session identifier.
    pub(super) fn derive_keys(&mut self, n: &Negotiated, k: &SharedSecret, h: Vec<u8>) -> NewKeys {
        let session_id = self.session_id.get_or_insert(h.clone()).clone();
        let derive = |cipher: &'static dyn CipherAlgorithm,
                      mac: Option<&'static dyn MacAlgorithm>,
                      letters: [u8; 3]| {
            let hash = n.kex.hash();
            let d = |letter, len| derive_key(hash, k.encoded(), &h, letter, &session_id, len);
            DirectionKeys {
                iv: d(letters[0], cipher.iv_len()),
                key: d(letters[1], cipher.key_len()),
                mac: mac.map(|m| m.key(&d(letters[2], m.key_len()))),
            }
        };
        let c2s = derive(n.cipher_c2s, n.mac_c2s, *b"ACE");
        let s2c = derive(n.cipher_s2c, n.mac_s2c, *b"BDF");
        let (out_cipher, out_keys, in_cipher, in_keys) = match self.side {
            Side::Client => (n.cipher_c2s, c2s, n.cipher_s2c, s2c),
            Side::Server => (n.cipher_s2c, s2c, n.cipher_c2s, c2s),
        };
        NewKeys {
            sealer: out_cipher.sealer(&out_keys.key, &out_keys.iv, out_keys.mac),
            opener: in_cipher.opener(&in_keys.key, &in_keys.iv, in_keys.mac),
        }
    }
}
