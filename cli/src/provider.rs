//! Which crypto provider `conch` and `conchd` use: by default (the crate's
//! `ring` cargo feature, on unless built with `--no-default-features`)
//! `CryptoProvider::ring`, whose AES-GCM is the `ring` crate's assembly;
//! otherwise conch-core's pure-Rust default. Same algorithm names and
//! preferences either way: only the speed differs.
//!
//! Why the programs differ from the library here: a library leaves the
//! choice to the application (pure Rust builds anywhere, wasm and embedded
//! targets included, and wipes its key schedules on drop), but the
//! programs are what users compare with `ssh` and `sshd`, which take their
//! AES-GCM from OpenSSL's assembly. The pure-Rust AES-GCM costs several
//! times ring's per byte (BENCHMARKS.md), the largest share of `conch`'s CPU
//! in a bulk transfer; ring is constant-time with and without AES-NI, is
//! widely deployed (rustls' provider for years), and builds with the C
//! compiler Rust toolchains already need. The other algorithms
//! (chacha20-poly1305, key exchange, signatures) stay pure Rust either way.

use std::sync::Arc;

use conch_core::crypto::CryptoProvider;
use conch_core::{AlgorithmPreferences, TransportConfig};

/// A short name of the provider in use, for `conch -v` and conchd's log.
pub const PROVIDER_NAME: &str = if cfg!(feature = "ring") {
    "ring (AES-GCM from the ring crate, the rest pure Rust)"
} else {
    "pure Rust (RustCrypto and dalek crates)"
};

/// The provider this build uses.
pub fn crypto_provider() -> CryptoProvider {
    #[cfg(feature = "ring")]
    {
        CryptoProvider::ring()
    }
    #[cfg(not(feature = "ring"))]
    {
        CryptoProvider::default()
    }
}

/// The default transport settings, on [`crypto_provider`].
pub fn transport_config() -> TransportConfig {
    let crypto = crypto_provider();
    TransportConfig {
        algorithms: AlgorithmPreferences::defaults_for(&crypto),
        crypto: Arc::new(crypto),
        ..TransportConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_changes_no_algorithm_name() {
        let config = transport_config();
        assert_eq!(config.algorithms, TransportConfig::default().algorithms);
        assert_eq!(
            PROVIDER_NAME.starts_with("ring"),
            cfg!(feature = "ring"),
            "{PROVIDER_NAME}"
        );
    }
}
