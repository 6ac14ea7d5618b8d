//! In-memory pair throughput: 256 MiB downloaded through one session
//! channel, for every cipher of the default provider (each pinned in turn,
//! non-AEAD ciphers with the preferred MAC), and through 16 channels at once
//! (16 MiB each) with the cipher two default peers negotiate. Client and
//! server `Connection` run in this one thread; the client consumes data as
//! it reads it, the server sends as fast as windows and its send buffer
//! allow. The handshake and the execs happen in the untimed setup.

mod common;

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
    let protections = Protection::all(&CryptoProvider::default());
    for (i, protection) in protections.into_iter().enumerate() {
        let fixture = Fixture::pinned(protection);
        // The provider's first cipher is what default peers negotiate.
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

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = pair
}
criterion_main!(benches);
