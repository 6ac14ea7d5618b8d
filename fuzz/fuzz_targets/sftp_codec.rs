//! cargo-fuzz target: see `conch_fuzz::sftp::sftp_codec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| conch_fuzz::sftp::sftp_codec(data));
