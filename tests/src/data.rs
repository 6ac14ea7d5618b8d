//! Large, reproducible payloads for bulk-transfer tests (e.g. 100 MiB
//! through `cat`), streamed rather than held in memory, and their SHA-256.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Yields `len` pseudo-random bytes, the same for the same `(len, seed)`:
/// incompressible enough that a transfer cannot cheat, and fast.
#[derive(Clone, Debug)]
pub struct PatternReader {
    remaining: u64,
    state: u64,
}

impl PatternReader {
    /// `len` bytes from `seed`.
    pub fn new(len: u64, seed: u64) -> Self {
        PatternReader {
            remaining: len,
            // xorshift must not start at zero.
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_word(&mut self) -> u64 {
        // xorshift64*: statistically good enough for test payloads.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        for chunk in buf[..len].chunks_mut(8) {
            let word = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.remaining -= len as u64;
        Ok(len)
    }
}

/// The SHA-256 (hex) of everything `PatternReader::new(len, seed)` yields.
pub fn pattern_sha256(len: u64, seed: u64) -> String {
    let mut reader = PatternReader::new(len, seed);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = reader.read(&mut buffer).unwrap_or(0);
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    hex(&hasher.finalize())
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_reproducible_and_has_the_requested_length() {
        let mut first = Vec::new();
        PatternReader::new(100_003, 7)
            .read_to_end(&mut first)
            .unwrap();
        assert_eq!(first.len(), 100_003);
        assert_eq!(sha256_hex(&first), pattern_sha256(100_003, 7));
        let mut other_seed = Vec::new();
        PatternReader::new(100_003, 8)
            .read_to_end(&mut other_seed)
            .unwrap();
        assert_ne!(first, other_seed);
    }
}
