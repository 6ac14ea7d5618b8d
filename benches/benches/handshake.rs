//! In-memory handshake: one whole session per iteration (identification,
//! curve25519 key exchange, Ed25519 host key, login, one session channel
//! exec'ing a command that answers and exits, close, disconnect), both ends
//! in this thread, so the time is the CPU of client and server together.
//!
//! `handshake-crypto` times the public-key operations such a session cannot
//! avoid, through the same provider traits, so the protocol's own overhead
//! can be read off: a session does one key exchange (two key pairs, two
//! agreements), one host key signature and its verification, and for
//! publickey login one more signature and verification.

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use conch_benches::{whole_session, Fixture, LoginKind};
use conch_core::crypto::CryptoProvider;
use conch_core::PrivateKey;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn sessions(c: &mut Criterion<ThreadCpuTime>) {
    let fixture = Fixture::default();
    let mut group = c.benchmark_group("handshake");
    for login in [LoginKind::Password, LoginKind::PublicKey] {
        let mut seed = 0u64;
        group.bench_function(BenchmarkId::new("session", login.label()), |b| {
            b.iter(|| {
                seed += 2;
                whole_session(&fixture, login, seed)
            })
        });
    }
    group.finish();
}

fn crypto(c: &mut Criterion<ThreadCpuTime>) {
    let provider = CryptoProvider::default();
    let mut group = c.benchmark_group("handshake-crypto");
    let mut rng = ChaCha20Rng::seed_from_u64(99);

    let kex = provider.kex[0];
    group.bench_function(BenchmarkId::new("kex-both-sides", kex.name()), |b| {
        b.iter(|| {
            let client = kex.start(&mut rng);
            let server = kex.start(&mut rng);
            // Each public value travels to the other side before it agrees.
            let client_public = client.public_value().to_vec();
            let server_public = server.public_value().to_vec();
            let k_server = server.agree(black_box(&client_public));
            let k_client = client.agree(black_box(&server_public));
            black_box((k_server.is_ok(), k_client.is_ok()))
        })
    });

    let sig = provider.signature[0];
    let key = PrivateKey::generate_ed25519(&mut rng);
    let data = [0x17u8; 32];
    let blob = sig.sign(&key, &data).expect("signs");
    group.bench_function(BenchmarkId::new("sign", sig.name()), |b| {
        b.iter(|| sig.sign(&key, black_box(&data)).expect("signs"))
    });
    group.bench_function(BenchmarkId::new("verify", sig.name()), |b| {
        b.iter(|| assert!(sig.verify(key.public_key(), black_box(&data), &blob)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = sessions, crypto
}
criterion_main!(benches);
