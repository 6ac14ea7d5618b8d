//! Packet hot path: seal and open of one packet through the provider's
//! cipher traits, for every cipher the default provider offers (each
//! non-AEAD cipher with the preferred MAC), at 1 KiB, 32 KiB and 256 KiB of
//! payload, and for the AES-GCM ciphers the raw `aes-gcm` call on the same
//! buffer. `roundtrip` (seal then open) is the baseline the in-memory pair's
//! throughput is compared with: a pair does exactly one of each per packet.
//!
//! With `--features ring`, the ring provider's ciphers too, as
//! `<cipher>[ring]`, their AES-GCM baseline being ring's own call.

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use conch_benches::packet::{open_packet, plaintext_packet, Protection, RawAead};
use conch_core::crypto::CryptoProvider;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 3] = [1024, 32 * 1024, 256 * 1024];
/// The nonce of every raw call: fixed, since only the time matters here.
const NONCE: [u8; 12] = [0x24; 12];

fn protection(c: &mut Criterion<ThreadCpuTime>, protection: Protection) {
    let name = protection.label();
    let raw = RawAead::for_protection(&protection);
    let mut group = c.benchmark_group("packet");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let (mut sealer, mut opener) = protection.keyed();
        let plain = plaintext_packet(sealer.layout(), size);

        // Seal in place over and over: each pass encrypts the last one's
        // output, which costs the same.
        let mut buf = plain.clone();
        let mut seq = 0u32;
        group.bench_function(BenchmarkId::new(format!("{name}/seal"), size), |b| {
            b.iter(|| {
                sealer.seal(seq, black_box(&mut buf));
                seq = seq.wrapping_add(1);
            })
        });

        // Open needs a packet sealed for the opener's next sequence number: a
        // second sealer keyed alike stays in step with it, outside the timing.
        let (mut feeder, _) = protection.keyed();
        let (mut feed_seq, mut open_seq) = (0u32, 0u32);
        group.bench_function(BenchmarkId::new(format!("{name}/open"), size), |b| {
            b.iter_batched_ref(
                || {
                    let mut p = plain.clone();
                    feeder.seal(feed_seq, &mut p);
                    feed_seq = feed_seq.wrapping_add(1);
                    p
                },
                |p| {
                    open_packet(&mut *opener, open_seq, black_box(p))
                        .expect("a packet sealed in step opens");
                    open_seq = open_seq.wrapping_add(1);
                },
                BatchSize::LargeInput,
            )
        });

        // Seal then open the same buffer: back to plaintext each time.
        let (mut sealer, mut opener) = protection.keyed();
        let mut buf = plain.clone();
        let mut seq = 0u32;
        group.bench_function(BenchmarkId::new(format!("{name}/roundtrip"), size), |b| {
            b.iter(|| {
                sealer.seal(seq, black_box(&mut buf));
                open_packet(&mut *opener, seq, black_box(&mut buf)).expect("opens");
                seq = seq.wrapping_add(1);
            })
        });

        let Some(raw) = &raw else { continue };
        let mut buf = plain.clone();
        group.bench_function(BenchmarkId::new(format!("{name}/raw-seal"), size), |b| {
            b.iter(|| raw.seal(&NONCE, black_box(&mut buf)))
        });
        group.bench_function(BenchmarkId::new(format!("{name}/raw-open"), size), |b| {
            b.iter_batched_ref(
                || {
                    let mut p = plain.clone();
                    raw.seal(&NONCE, &mut p);
                    p
                },
                |p| assert!(raw.open(&NONCE, black_box(p))),
                BatchSize::LargeInput,
            )
        });
        let mut buf = plain.clone();
        group.bench_function(
            BenchmarkId::new(format!("{name}/raw-roundtrip"), size),
            |b| {
                b.iter(|| {
                    raw.seal(&NONCE, black_box(&mut buf));
                    assert!(raw.open(&NONCE, black_box(&mut buf)));
                })
            },
        );
    }
    group.finish();
}

fn packet(c: &mut Criterion<ThreadCpuTime>) {
    for p in Protection::all(&CryptoProvider::default()) {
        protection(c, p);
    }
    #[cfg(feature = "ring")]
    for p in Protection::ring() {
        protection(c, p);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = packet
}
criterion_main!(benches);
