//! cargo-fuzz target: see `conch_fuzz::harness::known_hosts`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| conch_fuzz::harness::known_hosts(data));
