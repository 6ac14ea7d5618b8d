//! `diffie-hellman-group-exchange-sha256` (RFC 4419): the client asks for
//! a group size, the server picks a safe-prime group, then Diffie-Hellman
//! runs in it (the messages are in the transport; this module chooses and
//! checks groups).
//!
//! Sizes follow OpenSSH: the client asks for at least 2048 and at most 8192
//! bits, preferring a size matched to the strength of the negotiated
//! ciphers (RFC 4419 section 3 and OpenSSH's `dh_estimate`). The server
//! answers with an RFC 3526 MODP group, the smallest that meets the
//! preferred size within the bounds, else the largest within them.

use rand_core::CryptoRng;

use super::{groups, DhGroup, MAX_MODULUS_BITS};
use crate::crypto::{
    GroupExchange, GroupRequest, HashAlgorithm, KexAlgorithm, KexEphemeral, KexError,
};

/// The smallest group we ask for or accept (OpenSSH `DH_GRP_MIN`; RFC 8270
/// raised the floor to 2048 bits).
pub const MIN_GROUP_BITS: u32 = 2048;

/// The group exchange method.
#[derive(Debug)]
pub struct GroupExchangeDh {
    name: &'static str,
    hash: HashAlgorithm,
}

/// `diffie-hellman-group-exchange-sha256` (RFC 4419 section 4.2).
pub static DH_GEX_SHA256: GroupExchangeDh = GroupExchangeDh {
    name: "diffie-hellman-group-exchange-sha256",
    hash: HashAlgorithm::Sha256,
};

/// The RFC 3526 groups a server offers, smallest first.
const OFFERED: [(u32, &[u8]); 5] = [
    (2048, groups::GROUP14_P),
    (3072, groups::GROUP15_P),
    (4096, groups::GROUP16_P),
    (6144, groups::GROUP17_P),
    (8192, groups::GROUP18_P),
];

/// The group size for a symmetric strength of `bits` (OpenSSH's
/// `dh_estimate`, after NIST SP 800-57 part 1 table 2).
fn estimate_group_bits(bits: usize) -> u32 {
    match bits {
        0..=112 => 2048,
        113..=128 => 3072,
        129..=192 => 7680,
        _ => 8192,
    }
}

impl KexAlgorithm for GroupExchangeDh {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The exchange runs in the group the server picks (see
    /// [`Self::group_exchange`]); outside of it, the 2048-bit group.
    fn start(&self, rng: &mut dyn CryptoRng) -> Box<dyn KexEphemeral> {
        Box::new(DhGroup::rfc3526(groups::GROUP14_P).start(rng))
    }

    fn group_exchange(&self) -> Option<&dyn GroupExchange> {
        Some(self)
    }
}

impl GroupExchange for GroupExchangeDh {
    fn request(&self, need_bytes: usize) -> GroupRequest {
        GroupRequest {
            min: MIN_GROUP_BITS,
            preferred: estimate_group_bits(need_bytes.saturating_mul(8)).min(MAX_MODULUS_BITS),
            max: MAX_MODULUS_BITS,
        }
    }

    fn choose_group(&self, request: &GroupRequest) -> Option<DhGroup> {
        // Clamp to what we compute with, as OpenSSH's server does; the
        // exchange hash still uses the values as received.
        let min = request.min.max(MIN_GROUP_BITS);
        let max = request.max.min(MAX_MODULUS_BITS);
        let preferred = request.preferred.clamp(MIN_GROUP_BITS, MAX_MODULUS_BITS);
        if max < min || preferred < min || max < preferred {
            return None;
        }
        let fits = |bits: u32| (min..=max).contains(&bits);
        OFFERED
            .iter()
            .find(|(bits, _)| *bits >= preferred && fits(*bits))
            .or_else(|| OFFERED.iter().rev().find(|(bits, _)| fits(*bits)))
            .map(|(_, p)| DhGroup::rfc3526(p))
    }

    fn check_group(&self, request: &GroupRequest, p: &[u8], g: &[u8]) -> Result<DhGroup, KexError> {
        let group = DhGroup::from_peer(p, g)?;
        // RFC 4419 section 3: the group must be within what we asked for.
        let bits = group.bits();
        if bits < request.min.max(MIN_GROUP_BITS) || bits > request.max {
            return Err(KexError::InvalidPeerValue);
        }
        Ok(group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn req(min: u32, preferred: u32, max: u32) -> GroupRequest {
        GroupRequest {
            min,
            preferred,
            max,
        }
    }

    #[test]
    fn requests_follow_the_cipher_strength_like_openssh() {
        assert_eq!(DH_GEX_SHA256.request(16), req(2048, 3072, 8192));
        assert_eq!(DH_GEX_SHA256.request(14), req(2048, 2048, 8192));
        assert_eq!(DH_GEX_SHA256.request(24), req(2048, 7680, 8192));
        // chacha20-poly1305 derives 64 key bytes.
        assert_eq!(DH_GEX_SHA256.request(64), req(2048, 8192, 8192));
    }

    #[test]
    fn the_server_picks_the_smallest_group_meeting_the_preferred_size() {
        let bits = |r| DH_GEX_SHA256.choose_group(&r).map(|g| g.bits());
        assert_eq!(bits(req(2048, 2048, 8192)), Some(2048));
        assert_eq!(bits(req(2048, 3072, 8192)), Some(3072));
        assert_eq!(bits(req(2048, 7680, 8192)), Some(8192));
        assert_eq!(bits(req(2048, 8192, 8192)), Some(8192));
        // Preferred above max after clamping: refused as inconsistent.
        assert_eq!(bits(req(1024, 4000, 3500)), None);
        // Only what fits the bounds: nothing above 7000, nothing below 2048.
        assert_eq!(bits(req(1024, 7000, 7000)), Some(6144));
        assert_eq!(bits(req(1024, 1024, 1536)), None);
        // min > max.
        assert_eq!(bits(req(4096, 4096, 2048)), None);
        // Huge values are clamped, not trusted.
        assert_eq!(bits(req(0, u32::MAX, u32::MAX)), Some(8192));
    }

    #[test]
    fn the_client_accepts_only_groups_within_its_request() {
        let r = req(2048, 3072, 4096);
        assert!(DH_GEX_SHA256
            .check_group(&r, groups::GROUP15_P, &[2])
            .is_ok());
        assert!(DH_GEX_SHA256
            .check_group(&r, groups::GROUP17_P, &[2])
            .is_err());
        // 1024 bits is too small whatever was asked.
        let small = [0xffu8; 128];
        assert!(DH_GEX_SHA256
            .check_group(&req(1024, 1024, 4096), &small, &[2])
            .is_err());
    }

    #[test]
    fn both_sides_agree_in_a_chosen_group() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let group = DH_GEX_SHA256.choose_group(&req(2048, 3072, 8192)).unwrap();
        let checked = DH_GEX_SHA256
            .check_group(&req(2048, 3072, 8192), group.p(), group.g())
            .unwrap();
        let a = Box::new(checked.start(&mut rng));
        let b = Box::new(group.start(&mut rng));
        let (pa, pb) = (a.public_value().to_vec(), b.public_value().to_vec());
        assert_eq!(
            a.agree(&pb).unwrap().encoded(),
            b.agree(&pa).unwrap().encoded()
        );
    }
}
