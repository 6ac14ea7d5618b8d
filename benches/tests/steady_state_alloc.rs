//! No allocation per packet in the steady state: after a warm-up, moving
//! data through an in-memory pair allocates a bounded number of times, not
//! once (or more) per packet.
//!
//! The pair itself allocates once per read (`conch_benches::pair`: the
//! `Vec` it moves becomes a `BytesMut` that `bytes` gives a shared header
//! when the first packet is split off it); those are counted out, and
//! everything else must stay under the per-packet bound. A read carries
//! every packet one end sent since the last, 32 of them here, so the bound
//! alone could not tell the two apart.
//!
//! The whole pair runs on the test thread and the counting allocator counts
//! only that thread, so other tests running in parallel do not disturb it.
//! Set `CONCH_ALLOC_TRACE=1` to print where each counted allocation came
//! from (grouped backtraces; slow).

use conch_benches::alloc_counter::{count, count_traced, AllocCounts};
use conch_benches::packet::Protection;
use conch_benches::{Connected, CountingAllocator, Fixture};
use conch_core::crypto::CryptoProvider;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const MIB: u64 = 1024 * 1024;
/// Data bytes per packet: the peer's default maximum packet size.
const PACKET_DATA: u64 = 32 * 1024;
/// Allocations allowed per data packet in the steady state, beyond the
/// pair's one per read. A per-packet allocation anywhere on the path gives
/// at least 1.
const MAX_ALLOCS_PER_PACKET: f64 = 0.01;

/// Downloads `warm_up` then `measured` bytes per channel on a fresh pair
/// with `channels` sessions, counting the allocations of the measured part;
/// also returns the reads it took.
fn measure(fixture: &Fixture, channels: usize, warm_up: u64, measured: u64) -> (AllocCounts, u64) {
    let source: Vec<u8> = (0..MIB as u32).map(|i| (i % 251) as u8).collect();
    let mut connected = Connected::new(fixture, channels, 11);
    connected.download(warm_up, &source);
    let reads_before = connected.pair.reads();
    let counts = if std::env::var_os("CONCH_ALLOC_TRACE").is_some() {
        let ((), counts, traces) = count_traced(|| connected.download(measured, &source));
        print_traces(&traces);
        counts
    } else {
        count(|| connected.download(measured, &source)).1
    };
    (counts, connected.pair.reads() - reads_before)
}

/// Prints each distinct backtrace once, with how often it was seen, keeping
/// only the frames of this workspace's crates.
fn print_traces(traces: &[std::backtrace::Backtrace]) {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for t in traces {
        let text = t.to_string();
        let frames: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("conch") && !l.starts_with("at "))
            .collect();
        let key = frames.join("\n    ");
        match seen.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => seen.push((key, 1)),
        }
    }
    for (frames, n) in seen {
        println!("{n} allocation(s) from:\n    {frames}\n");
    }
}

/// Allocations per data packet after warm-up, with `protection` pinned
/// (`None`: what default peers negotiate).
fn per_packet(protection: Option<Protection>, channels: usize) -> f64 {
    let fixture = protection.map_or_else(Fixture::default, Fixture::pinned);
    let label = protection.map_or("default".to_string(), |p| p.label());
    let measured = 32 * MIB / channels as u64;
    let (counts, reads) = measure(&fixture, channels, 8 * MIB / channels as u64, measured);
    let packets = (measured / PACKET_DATA) * channels as u64;
    let per_packet = counts.total().saturating_sub(reads) as f64 / packets as f64;
    println!(
        "{label}, {channels} channel(s): {packets} data packets, {reads} reads, {} allocations, \
         {} reallocations, {} bytes: {per_packet:.4} per packet beyond one per read",
        counts.allocs, counts.reallocs, counts.bytes
    );
    per_packet
}

#[test]
fn one_channel_allocates_nothing_per_packet_after_warm_up_with_every_cipher() {
    let mut over = Vec::new();
    for protection in Protection::all(&CryptoProvider::default()) {
        let n = per_packet(Some(protection), 1);
        if n > MAX_ALLOCS_PER_PACKET {
            over.push((protection.label(), n));
        }
    }
    assert!(
        over.is_empty(),
        "allocations per packet over {MAX_ALLOCS_PER_PACKET}: {over:?}; \
         run with CONCH_ALLOC_TRACE=1 --nocapture to see where"
    );
}

// Several channels waiting for send-buffer room: the waiters' list is
// drained in place (core/src/channel/mod.rs `on_send_budget`), so refilling
// the buffer allocates nothing.
#[test]
fn sixteen_channels_allocate_nothing_per_packet_after_warm_up() {
    let n = per_packet(None, 16);
    assert!(
        n <= MAX_ALLOCS_PER_PACKET,
        "{n} allocations per packet (at most {MAX_ALLOCS_PER_PACKET}); \
         run with CONCH_ALLOC_TRACE=1 --nocapture to see where"
    );
}

#[test]
fn the_counter_sees_an_allocation() {
    // Guards the test above against a counter that always says zero.
    let (v, counts) = count(|| vec![1u8; 1000]);
    assert_eq!(v.len(), 1000);
    assert_eq!(counts.allocs, 1);
    assert!(counts.bytes >= 1000);
}
