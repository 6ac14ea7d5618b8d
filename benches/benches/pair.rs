//! In-memory pair throughput: 256 MiB downloaded through one session
//! channel, and through 16 at once (16 MiB each), the client and the server
//! `Connection` in this one thread. The client consumes data as it reads it;
//! the server sends as fast as windows and its send buffer allow. The
//! handshake and the exec happen in the untimed setup.

mod common;

use common::ThreadCpuTime;
use conch_benches::{Connected, Fixture};
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const TOTAL: u64 = 256 * 1024 * 1024;

fn pair(c: &mut Criterion<ThreadCpuTime>) {
    let fixture = Fixture::default();
    // One MiB of varied bytes, sent again and again.
    let source: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("pair");
    // Each iteration moves 256 MiB: few samples, one iteration each.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Bytes(TOTAL));
    for channels in [1usize, 16] {
        let mut seed = 0u64;
        group.bench_function(
            BenchmarkId::new("download-256MiB", format!("{channels}ch")),
            |b| {
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
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = pair
}
criterion_main!(benches);
