//! Fuzzing harnesses for `conch-core`, kept apart from the `cargo-fuzz`
//! entry points (`fuzz_targets/`) so the same code replays crash inputs in
//! `core/tests/hostile_regressions.rs`, which includes `harness.rs` by path.

pub mod harness;
