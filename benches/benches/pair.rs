//! In-memory pair throughput: 256 MiB downloaded through one session
//! channel, for every cipher of the default provider (each pinned in turn,
//! non-AEAD ciphers with the preferred MAC), and through 16 channels at once
//! (16 MiB each) with the cipher two default peers negotiate. Client and
//! server `Connection` run in this one thread; the client consumes data as
//! it reads it, the server sends as fast as windows and its send buffer
//! allow, 64 KiB per `send_data` (as a server copying a pipe would). The
//! transmitted bytes reach the other end with `handle_input_buf`, without
//! a copy. The handshake and the execs happen in the untimed setup.
//!
//! With `--features ring`, the ring provider's ciphers too (both peers on
//! the ring provider), as `<cipher>[ring]`, its first cipher (what two
//! default ring peers negotiate) also through 16 channels.

mod common;

use std::sync::Arc;

use common::ThreadCpuTime;
use conch_benches::packet::Protection;
use conch_benches::{Connected, Fixture};
use conch_core::crypto::CryptoProvider;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const TOTAL: u64 = 256 * 1024 * 1024;

fn pair(c: &mut Criterion<ThreadCpuTime>) {
    // One MiB of varied bytes, sent again and again.
    let source: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("pair");
    // Each iteration moves 256 MiB: few samples, one iteration each.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(TOTAL));
    let pure = Protection::all(&CryptoProvider::default());
    #[cfg(feature = "ring")]
    let ring = Protection::ring();
    #[cfg(not(feature = "ring"))]
    let ring = Vec::new();
    // Each provider's first cipher is what its default peers negotiate.
    let cases = [pure, ring]
        .into_iter()
        .flat_map(|list| list.into_iter().enumerate());
    for (i, protection) in cases {
        let fixture = fixture(protection);
        let channel_counts: &[usize] = if i == 0 { &[1, 16] } else { &[1] };
        for &channels in channel_counts {
            let id = BenchmarkId::new(
                format!("download-256MiB/{}", protection.label()),
                format!("{channels}ch"),
            );
            let mut seed = 0u64;
            group.bench_function(id, |b| {
                b.iter_batched(
                    || {
                        seed += 2;
                        Connected::new(&fixture, channels, seed)
                    },
                    |mut connected| {
                        connected.download(TOTAL / channels as u64, &source);
                        // Dropped after the timing.
                        connected
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

/// Both peers offer only `protection`, on a provider that implements it
/// (the ring provider for a ring cipher).
fn fixture(protection: Protection) -> Fixture {
    let mut fixture = Fixture::pinned(protection);
    let provider = Arc::new(protection.provider());
    let mut client = (*fixture.client).clone();
    let mut server = (*fixture.server).clone();
    client.transport.crypto = provider.clone();
    server.transport.crypto = provider;
    fixture.client = Arc::new(client);
    fixture.server = Arc::new(server);
    fixture
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = pair
}
criterion_main!(benches);
