//! In-memory handshake: one whole session per iteration (identification,
//! curve25519 key exchange, Ed25519 host key, login, one session channel
//! exec'ing a command that answers and exits, close, disconnect), both ends
//! in this thread, so the time is the CPU of client and server together.
//!
//! `handshake-crypto` times the public-key operations such a session cannot
//! avoid, through the same provider traits, so the protocol's own overhead
//! can be read off: a session does one key exchange (the client's key pair,
//! the server's answer, the client's agreement), one host key signature and
//! its verification, and for publickey login one more signature and
//! verification.

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
    // The crypto benchmarks below time the provider's first kex and
    // signature algorithms: the sessions must be using those.
    let provider = CryptoProvider::default();
    let negotiated = whole_session(&fixture, LoginKind::Password, 0)
        .negotiated
        .expect("a key exchange happened");
    assert_eq!(negotiated.kex, provider.kex[0].name());
    assert_eq!(negotiated.host_key, provider.signature[0].name());
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

    // What two default peers negotiate: the provider's first method (the
    // sessions above check it).
    let kex = provider.kex[0];
    group.bench_function(BenchmarkId::new("kex-both-sides", kex.name()), |b| {
        b.iter(|| {
            let client = kex.start(&mut rng);
            let (server_public, k_server) = kex
                .respond(&mut rng, black_box(client.public_value()))
                .expect("server half");
            let k_client = client
                .agree(black_box(&server_public))
                .expect("client half");
            assert_eq!(k_client.encoded(), k_server.encoded());
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
