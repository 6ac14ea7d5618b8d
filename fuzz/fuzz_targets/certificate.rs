//! cargo-fuzz target: see `conch_fuzz::harness::certificate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| conch_fuzz::harness::certificate(data));
