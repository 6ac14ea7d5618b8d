//! Finite-field Diffie-Hellman (RFC 4253 section 8): the fixed groups of
//! RFC 8268 (`diffie-hellman-group14-sha256`, `diffie-hellman-group16-sha512`,
//! `diffie-hellman-group18-sha512`, and the legacy `diffie-hellman-group14-sha1`), and the group arithmetic
//! the group exchange of RFC 4419 ([`gex`]) shares with them.
//!
//! Public values travel as `mpint`s; through the [`KexEphemeral`] interface
//! they are the mpint *contents* (see [`crate::crypto::KexAlgorithm`]).
//! Modular exponentiation is constant time (crypto-bigint's Montgomery
//! form), with a 1024-bit private exponent: twice the 512 bits of the
//! strongest symmetric keys negotiated, as OpenSSH sizes it.

pub mod gex;
pub mod groups;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, Uint, Word};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{HashAlgorithm, KexAlgorithm, KexEphemeral, KexError, SharedSecret};

/// Bits of our private exponent x (also the bound fed to the exponentiation).
const EXPONENT_BITS: usize = 1024;
const EXPONENT_BYTES: usize = EXPONENT_BITS / 8;
/// The largest modulus we compute with: 8192 bits, OpenSSH's `DH_GRP_MAX`.
pub const MAX_MODULUS_BITS: u32 = 8192;

/// A Diffie-Hellman group: a prime modulus `p` and generator `g`, as
/// unsigned big-endian bytes without leading zeros.
#[derive(Clone, PartialEq, Eq)]
pub struct DhGroup {
    p: Vec<u8>,
    g: Vec<u8>,
}

impl std::fmt::Debug for DhGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DhGroup({} bits, g = {:02x?})", self.bits(), self.g)
    }
}

/// Strips leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

impl DhGroup {
    /// One of the RFC 3526 groups, generator 2.
    pub fn rfc3526(p: &[u8]) -> Self {
        DhGroup {
            p: trim(p).to_vec(),
            g: vec![2],
        }
    }

    /// A group received from a peer (RFC 4419 section 3, KEX_DH_GEX_GROUP):
    /// `p` and `g` as mpint magnitudes. Refuses what cannot be a usable
    /// group: an oversized `p`, one that does not look like a safe prime
    /// (p = 3 mod 4, no factor below 1000 in p or (p-1)/2), or `g` outside
    /// 1 < g < p-1. (A full primality test is not made, as OpenSSH's client
    /// makes none: it would cost more than the exchange, and the group is
    /// authenticated by the host key signature over the exchange hash.)
    pub fn from_peer(p: &[u8], g: &[u8]) -> Result<Self, KexError> {
        let p = trim(p);
        let g = trim(g);
        if p.is_empty() || p.len() * 8 > MAX_MODULUS_BITS as usize || !looks_like_safe_prime(p) {
            return Err(KexError::InvalidPeerValue);
        }
        let group = DhGroup {
            p: p.to_vec(),
            g: g.to_vec(),
        };
        if !group.in_open_range(g) {
            return Err(KexError::InvalidPeerValue);
        }
        Ok(group)
    }

    /// The modulus, unsigned big-endian.
    pub fn p(&self) -> &[u8] {
        &self.p
    }

    /// The generator, unsigned big-endian.
    pub fn g(&self) -> &[u8] {
        &self.g
    }

    /// Size of the modulus in bits.
    pub fn bits(&self) -> u32 {
        let lead = self.p.first().map_or(0, |b| 8 - b.leading_zeros());
        (self.p.len().saturating_sub(1) * 8) as u32 + lead
    }

    /// Whether `1 < v < p-1` (RFC 8268 section 4, RFC 4253 section 8: a
    /// peer value outside it gives a secret an attacker can predict).
    fn in_open_range(&self, v: &[u8]) -> bool {
        let v = trim(v);
        if v.len() > self.p.len() {
            return false;
        }
        let mut padded = vec![0u8; self.p.len()];
        padded[self.p.len() - v.len()..].copy_from_slice(v);
        // p is odd, so p-1 only changes the last byte.
        let mut p_minus_1 = self.p.clone();
        if let Some(last) = p_minus_1.last_mut() {
            *last -= 1;
        }
        let greater_than_one = v.len() > 1 || v.first().is_some_and(|&b| b > 1);
        greater_than_one && padded < p_minus_1
    }

    /// Our key pair in this group, from `rng`.
    pub fn start(&self, rng: &mut dyn CryptoRng) -> DhEphemeral {
        let mut x = Zeroizing::new([0u8; EXPONENT_BYTES]);
        rng.fill_bytes(&mut x[..]);
        // A full-size exponent: 2^1023 <= x < 2^1024, far below q = (p-1)/2
        // for every group we accept (at least 2048 bits).
        x[0] |= 0x80;
        let e = mod_pow(&self.g, &x[..], &self.p);
        DhEphemeral {
            group: self.clone(),
            x,
            public: mpint_contents(&e),
        }
    }
}

/// The odd primes below 1000, for [`looks_like_safe_prime`].
fn small_primes() -> impl Iterator<Item = u32> {
    (3u32..1000).step_by(2).filter(|&n| {
        (3..)
            .step_by(2)
            .take_while(|d| d * d <= n)
            .all(|d| n % d != 0)
    })
}

/// `value mod m`, for a big-endian magnitude.
fn rem_small(value: &[u8], m: u32) -> u32 {
    value
        .iter()
        .fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % m)
}

/// Whether `p` (big-endian, no leading zeros) passes the cheap tests a
/// safe prime p = 2q + 1 passes: p is 3 mod 4 (q odd), and neither p nor q
/// has a prime factor below 1000. Every group a server should send is a
/// safe prime (RFC 3526's, and OpenSSH's moduli file, whose "type 2" entries
/// are safe primes); a modulus made of small factors, which would let the
/// server (or whoever made it) read the shared secret from the small
/// subgroups, fails here at the cost of a few thousand byte operations.
fn looks_like_safe_prime(p: &[u8]) -> bool {
    if p.len() < 2 || rem_small(p, 4) != 3 {
        return false;
    }
    // q = (p - 1) / 2 mod r is (p mod r - 1) / 2 mod r; test p and q
    // together: r divides q exactly when p = 1 (mod r).
    small_primes().all(|r| {
        let m = rem_small(p, r);
        m != 0 && m != 1
    })
}

/// The mpint contents of an unsigned magnitude: no leading zeros, one zero
/// byte in front when the top bit is set (RFC 4251 section 5).
fn mpint_contents(magnitude: &[u8]) -> Vec<u8> {
    let m = trim(magnitude);
    let mut out = Vec::with_capacity(m.len() + 1);
    if m.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(m);
    out
}

/// Our half of one Diffie-Hellman exchange: x and e = g^x mod p.
pub struct DhEphemeral {
    group: DhGroup,
    x: Zeroizing<[u8; EXPONENT_BYTES]>,
    public: Vec<u8>,
}

impl std::fmt::Debug for DhEphemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhEphemeral")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl KexEphemeral for DhEphemeral {
    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn agree(self: Box<Self>, peer_public: &[u8]) -> Result<SharedSecret, KexError> {
        // The mpint contents: a set top bit would be a negative number, and
        // a zero byte is only allowed before one (RFC 4251 section 5). Being
        // canonical, the bytes hash exactly as the peer's mpint does.
        let negative = peer_public.first().is_some_and(|b| b & 0x80 != 0);
        let padded =
            peer_public.first() == Some(&0) && peer_public.get(1).is_none_or(|b| b & 0x80 == 0);
        if negative || padded || !self.group.in_open_range(peer_public) {
            return Err(KexError::InvalidPeerValue);
        }
        let k = mod_pow(peer_public, &self.x[..], &self.group.p);
        // K is hashed as an mpint (RFC 4253 section 8).
        Ok(SharedSecret::from_unsigned_be(&k))
    }
}

/// `base^exp mod p` for unsigned big-endian numbers, in constant time for a
/// given size of `p` (odd, at most [`MAX_MODULUS_BITS`]). `base` must be
/// below `p`; `exp` at most [`EXPONENT_BITS`] bits. The exponent (our x)
/// and the result (K, when `base` is the peer's value) are secrets: every
/// copy made here is wiped on drop.
fn mod_pow(base: &[u8], exp: &[u8], p: &[u8]) -> Zeroizing<Vec<u8>> {
    // One instantiation per size class (in 64-bit words), the smallest that
    // holds p: each costs code size, and the MODP sizes are these.
    match p.len() {
        0..=256 => mod_pow_sized::<{ 2048 / Word::BITS as usize }>(base, exp, p),
        257..=384 => mod_pow_sized::<{ 3072 / Word::BITS as usize }>(base, exp, p),
        385..=512 => mod_pow_sized::<{ 4096 / Word::BITS as usize }>(base, exp, p),
        513..=768 => mod_pow_sized::<{ 6144 / Word::BITS as usize }>(base, exp, p),
        _ => mod_pow_sized::<{ 8192 / Word::BITS as usize }>(base, exp, p),
    }
}

fn uint_from_be<const L: usize>(bytes: &[u8]) -> Uint<L> {
    let bytes = trim(bytes);
    let size = L * (Word::BITS as usize / 8);
    let mut padded = Zeroizing::new(vec![0u8; size]);
    // Callers pass values no longer than the modulus, which fits.
    let n = bytes.len().min(size);
    padded[size - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    Uint::from_be_slice(&padded)
}

/// Big-endian bytes, built at their final size (no reallocation leaves a
/// copy behind).
fn uint_to_be<const L: usize>(v: &Uint<L>) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(L * (Word::BITS as usize / 8)));
    for w in v.as_words().iter().rev() {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out
}

fn mod_pow_sized<const L: usize>(base: &[u8], exp: &[u8], p: &[u8]) -> Zeroizing<Vec<u8>> {
    // Callers only pass odd moduli (checked in `DhGroup::from_peer`, and the
    // RFC 3526 primes are odd); an even one gives no value rather than a
    // panic in Montgomery setup.
    let Some(p) = Odd::new(uint_from_be::<L>(p)).into_option() else {
        return Zeroizing::new(Vec::new());
    };
    // The modulus is public (a fixed group, or the server's): setting up
    // Montgomery form need not be constant-time in it.
    let params = FixedMontyParams::new_vartime(p);
    let base = FixedMontyForm::new(&uint_from_be::<L>(base), &params);
    let exp = Zeroizing::new(uint_from_be::<L>(exp));
    let bits = EXPONENT_BITS.min(L * Word::BITS as usize) as u32;
    let power = Zeroizing::new(base.pow_bounded_exp(&exp, bits));
    uint_to_be(&Zeroizing::new(power.retrieve()))
}

/// A Diffie-Hellman method over one fixed group (RFC 8268).
#[derive(Debug)]
pub struct FixedGroupDh {
    name: &'static str,
    hash: HashAlgorithm,
    prime: &'static [u8],
}

/// `diffie-hellman-group14-sha256` (RFC 8268 section 3): the 2048-bit MODP
/// group with SHA-256.
pub static DH_GROUP14_SHA256: FixedGroupDh = FixedGroupDh {
    name: "diffie-hellman-group14-sha256",
    hash: HashAlgorithm::Sha256,
    prime: groups::GROUP14_P,
};

/// `diffie-hellman-group16-sha512` (RFC 8268 section 3): the 4096-bit MODP
/// group with SHA-512.
pub static DH_GROUP16_SHA512: FixedGroupDh = FixedGroupDh {
    name: "diffie-hellman-group16-sha512",
    hash: HashAlgorithm::Sha512,
    prime: groups::GROUP16_P,
};

/// `diffie-hellman-group18-sha512` (RFC 8268 section 3): the 8192-bit MODP
/// group with SHA-512.
pub static DH_GROUP18_SHA512: FixedGroupDh = FixedGroupDh {
    name: "diffie-hellman-group18-sha512",
    hash: HashAlgorithm::Sha512,
    prime: groups::GROUP18_P,
};

/// `diffie-hellman-group14-sha1` (RFC 4253 section 8.2). Legacy: SHA-1,
/// not enabled by default.
pub static DH_GROUP14_SHA1: FixedGroupDh = FixedGroupDh {
    name: "diffie-hellman-group14-sha1",
    hash: HashAlgorithm::Sha1,
    prime: groups::GROUP14_P,
};

impl KexAlgorithm for FixedGroupDh {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        Box::new(DhGroup::rfc3526(self.prime).start(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(seed)
    }

    #[test]
    fn groups_that_are_not_safe_prime_looking_are_refused() {
        // Every group we offer passes.
        let offered: [&[u8]; 5] = [
            groups::GROUP14_P,
            groups::GROUP15_P,
            groups::GROUP16_P,
            groups::GROUP17_P,
            groups::GROUP18_P,
        ];
        for p in offered {
            assert!(DhGroup::from_peer(p, &[2]).is_ok());
        }
        // 2^2048 - 1: odd and the right size, but divisible by 3 (the
        // hostile battery's input; accepted before this check).
        let all_ones = [0xffu8; 256];
        assert_eq!(
            DhGroup::from_peer(&all_ones, &[2]),
            Err(KexError::InvalidPeerValue)
        );
        // The group 14 prime times 3 is the size of a 2050-bit group and
        // odd, but composite.
        let mut tripled = vec![0u8; 257];
        let mut carry = 0u32;
        for (i, &b) in groups::GROUP14_P.iter().enumerate().rev() {
            let v = u32::from(b) * 3 + carry;
            tripled[i + 1] = v as u8;
            carry = v >> 8;
        }
        tripled[0] = carry as u8;
        assert_eq!(
            DhGroup::from_peer(&tripled, &[2]),
            Err(KexError::InvalidPeerValue)
        );
        // p = 1 mod 4: (p - 1) / 2 is even, so p is not a safe prime.
        let mut one_mod_4 = groups::GROUP14_P.to_vec();
        *one_mod_4.last_mut().unwrap() ^= 0x02;
        assert_eq!(
            DhGroup::from_peer(&one_mod_4, &[2]),
            Err(KexError::InvalidPeerValue)
        );
    }

    #[test]
    fn mod_pow_matches_small_known_values() {
        // 4^13 mod 497 = 445 (a textbook example).
        assert_eq!(trim(&mod_pow(&[4], &[13], &[0x01, 0xf1])), [0x01, 0xbd]);
        // 2 is a quadratic residue mod the group 14 prime (p = 7 mod 8),
        // so it is in the subgroup of order q: 2^0 = 1, 2^1 = 2.
        assert_eq!(trim(&mod_pow(&[2], &[0], groups::GROUP14_P)), [1]);
        assert_eq!(trim(&mod_pow(&[2], &[1], groups::GROUP14_P)), [2]);
    }

    #[test]
    fn both_sides_agree_in_each_fixed_group() {
        for alg in [
            &DH_GROUP14_SHA256,
            &DH_GROUP16_SHA512,
            &DH_GROUP18_SHA512,
            &DH_GROUP14_SHA1,
        ] {
            let mut r = rng(1);
            let a = alg.start(&mut r);
            let b = alg.start(&mut r);
            // e is a canonical mpint body no longer than p (+1 zero byte).
            assert!(a.public_value().len() <= alg.prime.len() + 1);
            assert!(a.public_value()[0] != 0 || a.public_value()[1] & 0x80 != 0);
            let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
            let ka = a.agree(&pb).unwrap();
            let kb = b.agree(&pa).unwrap();
            assert_eq!(ka.encoded(), kb.encoded(), "{}", alg.name);
        }
    }

    #[test]
    fn public_value_is_g_to_the_x_checked_with_python() {
        // x = 0x81 followed by 127 bytes of 0x01 (what `start` makes of a
        // fill of 0x01 bytes: the top bit is forced), in group 14. Expected prefix computed with
        // Python: pow(2, int('81'+'01'*127, 16), p14).
        struct Ones;
        impl rand_core::TryRng for Ones {
            type Error = rand_core::Infallible;
            fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
                Ok(0x0101_0101)
            }
            fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
                Ok(0x0101_0101_0101_0101)
            }
            fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
                d.fill(1);
                Ok(())
            }
        }
        impl rand_core::TryCryptoRng for Ones {}
        let e = DhGroup::rfc3526(groups::GROUP14_P).start(&mut Ones);
        let hex: String = e.public_value()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, PY_G14_PUBLIC_PREFIX);
    }

    /// `python3 -c "p=int.from_bytes(bytes.fromhex(P14),'big');print(pow(2,int('81'+'01'*127,16),p).to_bytes(256,'big').hex()[:32])"`
    /// with P14 the group 14 prime, the result as mpint contents (a leading
    /// zero byte only if the top bit is set).
    const PY_G14_PUBLIC_PREFIX: &str = "009d7c91deb1f6ce1a7b2e519aafdb90";

    #[test]
    fn peer_values_outside_the_open_range_are_refused() {
        let group = DhGroup::rfc3526(groups::GROUP14_P);
        let mut p_minus_1 = groups::GROUP14_P.to_vec();
        *p_minus_1.last_mut().unwrap() -= 1;
        let with_zero = |v: &[u8]| mpint_contents(v);
        for bad in [
            vec![],
            vec![0],
            vec![1],
            with_zero(&p_minus_1),
            with_zero(groups::GROUP14_P),
            // Negative (top bit set without the zero byte).
            groups::GROUP14_P.to_vec(),
            // Longer than p.
            vec![1; 300],
            // A needless zero byte (not canonical).
            vec![0, 2],
        ] {
            let e = Box::new(group.start(&mut rng(2)));
            assert_eq!(
                e.agree(&bad).unwrap_err(),
                KexError::InvalidPeerValue,
                "{bad:02x?}"
            );
        }
        // 2 is fine.
        assert!(Box::new(group.start(&mut rng(2))).agree(&[2]).is_ok());
    }

    #[test]
    fn groups_from_a_peer_are_checked() {
        let p = groups::GROUP14_P;
        assert!(DhGroup::from_peer(p, &[2]).is_ok());
        assert_eq!(DhGroup::from_peer(p, &[2]).unwrap().bits(), 2048);
        assert!(DhGroup::from_peer(p, &[1]).is_err());
        assert!(DhGroup::from_peer(p, &[]).is_err());
        let mut even = p.to_vec();
        *even.last_mut().unwrap() ^= 1;
        assert!(DhGroup::from_peer(&even, &[2]).is_err());
        assert!(DhGroup::from_peer(&vec![0xff; 1025], &[2]).is_err());
    }
}
