//! Fuzzing harnesses for `conch-core`, kept apart from the `cargo-fuzz`
//! entry points (`fuzz_targets/`) so the same code replays crash inputs in
//! `core/tests/hostile_regressions.rs`, which includes `harness.rs` by path.

pub mod harness;

/// The SFTP codec harness (`conch-sftp`), kept out of `harness.rs`, which
/// the core's regression test includes by path.
pub mod sftp;
