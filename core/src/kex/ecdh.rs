//! `ecdh-sha2-nistp256`, `ecdh-sha2-nistp384` and `ecdh-sha2-nistp521`
//! (RFC 5656 sections 4 and 6): ECDH over the NIST curves, each with the
//! SHA-2 of matching strength (section 6.2.1).
//!
//! Public values are SEC1 uncompressed points (section 4: `string Q_C`,
//! `string Q_S`); a peer point that is not on the curve, or the identity, is
//! refused (section 4: "MUST verify"), which the curve crates' SEC1 decoding
//! does. K is the x-coordinate of the shared point as an `mpint`
//! (section 4).

use p256::elliptic_curve::Generate;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, SharedSecret};

/// The curve of an ECDH method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
}

/// ECDH on one of the NIST curves.
#[derive(Debug)]
pub struct EcdhNist {
    name: &'static str,
    curve: Curve,
}

/// `ecdh-sha2-nistp256` (RFC 5656 section 6.3): P-256 with SHA-256.
pub static ECDH_SHA2_NISTP256: EcdhNist = EcdhNist {
    name: "ecdh-sha2-nistp256",
    curve: Curve::P256,
};

/// `ecdh-sha2-nistp384`: P-384 with SHA-384.
pub static ECDH_SHA2_NISTP384: EcdhNist = EcdhNist {
    name: "ecdh-sha2-nistp384",
    curve: Curve::P384,
};

/// `ecdh-sha2-nistp521`: P-521 with SHA-512.
pub static ECDH_SHA2_NISTP521: EcdhNist = EcdhNist {
    name: "ecdh-sha2-nistp521",
    curve: Curve::P521,
};

impl KexAlgorithm for EcdhNist {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hash(&self) -> HashAlgorithm {
        // RFC 5656 section 6.2.1: the hash for the curve size.
        match self.curve {
            Curve::P256 => HashAlgorithm::Sha256,
            Curve::P384 => HashAlgorithm::Sha384,
            Curve::P521 => HashAlgorithm::Sha512,
        }
    }

    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        let mut rng = rng;
        let secret = match self.curve {
            Curve::P256 => Secret::P256(p256::ecdh::EphemeralSecret::generate_from_rng(&mut rng)),
            Curve::P384 => Secret::P384(p384::ecdh::EphemeralSecret::generate_from_rng(&mut rng)),
            Curve::P521 => Secret::P521(p521::ecdh::EphemeralSecret::generate_from_rng(&mut rng)),
        };
        let public = secret.public_sec1();
        Box::new(EcdhEphemeral { secret, public })
    }
}

/// An ephemeral scalar on one of the curves (zeroized on drop by the crates).
enum Secret {
    P256(p256::ecdh::EphemeralSecret),
    P384(p384::ecdh::EphemeralSecret),
    P521(p521::ecdh::EphemeralSecret),
}

impl Secret {
    /// Our public point, SEC1 uncompressed (RFC 5656 section 4).
    fn public_sec1(&self) -> Vec<u8> {
        use p256::elliptic_curve::sec1::ToSec1Point;
        match self {
            Secret::P256(s) => s.public_key().to_sec1_point(false).as_bytes().to_vec(),
            Secret::P384(s) => s.public_key().to_sec1_point(false).as_bytes().to_vec(),
            Secret::P521(s) => s.public_key().to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// The x-coordinate of our scalar times the peer's point (the shared
    /// secret: the crates' `SharedSecret` wipes itself, this copy too).
    fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KexError> {
        let bad = |_| KexError::InvalidPeerValue;
        // `from_sec1_bytes` refuses points off the curve and the identity.
        let x = match self {
            Secret::P256(s) => {
                let peer = p256::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                Zeroizing::new(s.diffie_hellman(&peer).raw_secret_bytes().to_vec())
            }
            Secret::P384(s) => {
                let peer = p384::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                Zeroizing::new(s.diffie_hellman(&peer).raw_secret_bytes().to_vec())
            }
            Secret::P521(s) => {
                let peer = p521::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                Zeroizing::new(s.diffie_hellman(&peer).raw_secret_bytes().to_vec())
            }
        };
        Ok(x)
    }
}

/// Our ECDH key pair for one exchange.
pub struct EcdhEphemeral {
    secret: Secret,
    public: Vec<u8>,
}

impl std::fmt::Debug for EcdhEphemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcdhEphemeral")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KexEphemeral for EcdhEphemeral {
    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn agree(self: Box<Self>, peer_public: &[u8]) -> Result<SharedSecret, KexError> {
        // RFC 5656 section 4: only uncompressed points are sent.
        if peer_public.first() != Some(&0x04) {
            return Err(KexError::InvalidPeerValue);
        }
        let x = self.secret.agree(peer_public)?;
        Ok(SharedSecret::from_unsigned_be(&x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn both_sides_agree_on_each_curve_with_uncompressed_points() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(21);
        for (alg, point_len) in [
            (&ECDH_SHA2_NISTP256, 65),
            (&ECDH_SHA2_NISTP384, 97),
            (&ECDH_SHA2_NISTP521, 133),
        ] {
            let a = alg.start(&mut rng);
            let b = alg.start(&mut rng);
            assert_eq!(a.public_value().len(), point_len, "{}", alg.name);
            assert_eq!(a.public_value()[0], 4);
            let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
            assert_eq!(
                a.agree(&pb).unwrap().encoded(),
                b.agree(&pa).unwrap().encoded()
            );
        }
    }

    #[test]
    fn hash_follows_the_curve_size() {
        assert_eq!(ECDH_SHA2_NISTP256.hash(), HashAlgorithm::Sha256);
        assert_eq!(ECDH_SHA2_NISTP384.hash(), HashAlgorithm::Sha384);
        assert_eq!(ECDH_SHA2_NISTP521.hash(), HashAlgorithm::Sha512);
    }

    #[test]
    fn points_off_the_curve_compressed_or_of_another_curve_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(22);
        let other = ECDH_SHA2_NISTP384.start(&mut rng).public_value().to_vec();
        let ours = ECDH_SHA2_NISTP256.start(&mut rng).public_value().to_vec();
        let mut off_curve = ours.clone();
        off_curve[64] ^= 1;
        let mut compressed = vec![0x02 | (ours[64] & 1)];
        compressed.extend_from_slice(&ours[1..33]);
        for bad in [vec![], vec![0], other, off_curve, compressed] {
            let e = ECDH_SHA2_NISTP256.start(&mut rng);
            assert_eq!(e.agree(&bad).unwrap_err(), KexError::InvalidPeerValue);
        }
    }

    /// RFC 5903 section 8.1 (ECDH on P-256): with the initiator's and the
    /// responder's key pairs given there, the shared x-coordinate is the
    /// stated value; encoded as SSH's mpint it keeps its 32 bytes (top bit
    /// clear) behind the length.
    #[test]
    fn rfc5903_p256_shared_secret_as_mpint() {
        fn hex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }
        let i = hex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433");
        let gr = hex(
            "04D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63\
             56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
        );
        let secret = p256::NonZeroScalar::try_from(i.as_slice()).unwrap();
        let peer = p256::PublicKey::from_sec1_bytes(&gr).unwrap();
        let shared = p256::ecdh::diffie_hellman(secret, peer.as_affine());
        let k = SharedSecret::from_unsigned_be(shared.raw_secret_bytes());
        let want = hex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE");
        assert_eq!(k.encoded()[..4], [0, 0, 0, 33]);
        assert_eq!(k.encoded()[4], 0);
        assert_eq!(k.encoded()[5..], want[..]);
    }
}
