//! Driving Conch's tokio client from a plain `#[test]`: a runtime, a bound
//! on the whole future, and the harness's key files as Conch's key types.

use std::future::Future;
use std::time::Duration;

use conch_interop::KeyPair;
use conch_tokio::{load_private_key, PrivateKey, PublicKey};

/// A two-thread tokio runtime, as a client embedded in a service would run
/// on (the multi-thread scheduler, so wake-ups cross threads).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `f` on a fresh [`runtime`], failing the test (naming `what`) if it
/// takes longer than `limit`: no test waits forever on a peer.
#[track_caller]
pub fn block_on_bounded<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(limit, f)
            .await
            .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
    })
}

/// The public key of `pair`, as Conch's type.
pub fn public_of(pair: &KeyPair) -> PublicKey {
    PublicKey::from_openssh(&pair.public_line).expect("public key line")
}

/// The private key of `pair`, decrypted with its passphrase if it has one.
pub fn load_key(pair: &KeyPair) -> PrivateKey {
    let passphrase = pair.passphrase.clone();
    load_private_key(&pair.private_path, &mut |_| passphrase.clone())
        .unwrap_or_else(|e| panic!("load {}: {e}", pair.private_path.display()))
}
