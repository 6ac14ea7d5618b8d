//! Pieces the interop test files share (each file is its own crate, so a
//! file declares `mod common;` to use them, and each uses a subset).
#![allow(dead_code)]

pub mod client;

use std::io::Read;

use conch_interop::PatternReader;
use conch_tokio::Channel;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Streams `len` pattern bytes (seed `seed`) into `channel` while reading
/// what comes back; returns (bytes back, their SHA-256).
pub async fn stream_through(channel: &Channel, len: u64, seed: u64) -> (u64, String) {
    // `&Channel` is a stream too: one reference writes, the other reads.
    let (mut reader, mut writer) = (channel, channel);
    let send = async {
        let mut pattern = PatternReader::new(len, seed);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = pattern.read(&mut buffer).expect("pattern");
            if n == 0 {
                break;
            }
            writer.write_all(&buffer[..n]).await.expect("write");
        }
        writer.shutdown().await.expect("send eof");
    };
    let receive = async {
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader.read(&mut buffer).await.expect("read");
            if n == 0 {
                break;
            }
            total += n as u64;
            hasher.update(&buffer[..n]);
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (total, hex)
    };
    let ((), received) = tokio::join!(send, receive);
    received
}
