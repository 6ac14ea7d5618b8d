//! The crypto provider: every algorithm the transport can negotiate, behind
//! small traits, so another implementation (a faster AEAD, a hardware key)
//! plugs in without touching the state machine.
//!
//! STUB: to be filled in by the transport work (see transport/mod.rs).

use crate::config::AlgorithmPreferences;

/// The set of algorithm implementations a connection may negotiate.
#[derive(Debug, Clone, Default)]
pub struct CryptoProvider {}

impl CryptoProvider {
    /// Names of the algorithms enabled by default, most preferred first.
    pub fn default_preferences(&self) -> AlgorithmPreferences {
        AlgorithmPreferences {
            kex: vec![],
            host_key: vec![],
            cipher: vec![],
            mac: vec![],
        }
    }
}
