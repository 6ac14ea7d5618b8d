//! Determinism and input splitting: same seed, same bytes; any split of
//! the input, same result.

use super::*;

/// Handshake, payloads both ways, a rekey, more payloads; returns both
/// transcripts and what each side received.
fn scenario(seed: u64, chunk: Option<usize>) -> (Vec<u8>, Vec<u8>, Vec<Bytes>, Vec<Bytes>) {
    let mut p = Pair::new(seed);
    p.chunk = chunk;
    p.run().unwrap();
    flow_with(&mut p, 20, |p, i| {
        if i == 5 {
            let now = p.now;
            p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
        }
    });
    (
        p.client.sent,
        p.server.sent,
        p.client.received,
        p.server.received,
    )
}

#[test]
fn byte_at_a_time_input_gives_the_same_result() {
    let whole = scenario(11, None);
    let bytewise = scenario(11, Some(1));
    let odd = scenario(11, Some(7));
    assert_eq!(whole.2, bytewise.2);
    assert_eq!(whole.3, bytewise.3);
    assert_eq!(whole.2, odd.2);
    assert_eq!(whole.3, odd.3);
    assert_eq!(whole.0, bytewise.0, "client transcript");
    assert_eq!(whole.1, bytewise.1, "server transcript");
}

#[test]
fn same_seed_gives_byte_identical_transmit_streams() {
    let a = scenario(12, None);
    let b = scenario(12, None);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = scenario(13, None);
    assert_ne!(a.0, c.0, "a different seed changes the bytes");
}
