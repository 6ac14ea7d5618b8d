//! The deterministic RNG signing uses where an algorithm wants randomness
//! (P-521 ECDSA nonces, RSA blinding): seeded from the private key and the
//! message, so the same key and message give the same signature and the
//! state machine stays deterministic.
//!
//! Its state is key-equivalent for ECDSA (the nonce and the signature give
//! the private key), so it is wiped when dropped: this is the ChaCha20
//! keystream (the `chacha20` crate, whose state is zeroized on drop) read
//! exactly as `rand_chacha`'s `ChaCha20Rng` reads it, which does not wipe
//! itself. Signatures are the same as with `ChaCha20Rng` seeded alike.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20Legacy;
use rand_core::{Infallible, TryCryptoRng, TryRng};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// ChaCha20 with a 32-byte seed as key, stream (nonce) 0, from block 0.
pub(super) struct SeededRng {
    stream: ChaCha20Legacy,
}

impl SeededRng {
    /// The generator for `seed`.
    pub(super) fn from_seed(seed: &[u8; 32]) -> Self {
        SeededRng {
            stream: ChaCha20Legacy::new(seed.into(), &[0u8; 8].into()),
        }
    }
}

impl SeededRng {
    fn fill(&mut self, dest: &mut [u8]) {
        dest.fill(0);
        self.stream.apply_keystream(dest);
        // `ChaCha20Rng` hands out whole 32-bit words: the rest of a word a
        // request used part of is skipped.
        let mut rest = [0u8; 3];
        let skip = (4 - dest.len() % 4) % 4;
        self.stream.apply_keystream(&mut rest[..skip]);
        rest.zeroize();
    }
}

/// Infallible (`rand_core::Rng` and `CryptoRng` come with it): a keystream
/// cannot run dry before 2^70 bytes.
impl TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut word = [0u8; 4];
        self.fill(&mut word);
        Ok(u32::from_le_bytes(word))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        // Two words, the first the low half (rand_core's block generators).
        let mut words = [0u8; 8];
        self.fill(&mut words);
        Ok(u64::from_le_bytes(words))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dest);
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}

/// Its one field, the ChaCha20 state, zeroizes itself on drop.
impl ZeroizeOnDrop for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    #[test]
    fn the_stream_is_rand_chachas_for_any_mix_of_calls() {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
        let mut ours = SeededRng::from_seed(&seed);
        let mut theirs = rand_chacha::ChaCha20Rng::from_seed(seed);
        // Odd lengths, word reads, and enough to cross the 256-byte refills.
        for round in 0..40usize {
            let n = (round * 13) % 70;
            let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
            ours.fill_bytes(&mut a);
            theirs.fill_bytes(&mut b);
            assert_eq!(a, b, "fill_bytes({n}) in round {round}");
            assert_eq!(ours.next_u32(), theirs.next_u32(), "round {round}");
            if round % 3 == 0 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "round {round}");
            }
        }
    }

    #[test]
    fn the_state_is_wiped_on_drop() {
        // Compile-time: the cipher state zeroizes on drop (chacha20's
        // `zeroize` feature); without it this does not build.
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<ChaCha20Legacy>();
        zeroized_on_drop::<SeededRng>();
    }
}
