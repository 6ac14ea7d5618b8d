//! Compression (RFC 4253 section 6.2; OpenSSH PROTOCOL section 1.2):
//! negotiated like the other slots, `zlib` on from NEWKEYS, `zlib@openssh.com`
//! from USERAUTH_SUCCESS, a fresh context at every NEWKEYS.

use super::*;
use crate::config::{COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED};

fn with_compression(client: &[&str], server: &[&str], seed: u64) -> Pair {
    let mut c = TransportConfig::default();
    c.algorithms.set_compression(client);
    let mut s = TransportConfig::default();
    s.algorithms.set_compression(server);
    let mut p = Pair::with(c, s, seed);
    p.run().unwrap();
    assert!(p.client.t.is_established() && p.server.t.is_established());
    p
}

fn negotiated(peer: &Peer) -> (String, String) {
    peer.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::KeyExchangeDone { algorithms, .. } => Some((
                algorithms.compression_c2s.clone(),
                algorithms.compression_s2c.clone(),
            )),
            _ => None,
        })
        .unwrap()
}

/// A channel data message of `len` compressible bytes.
fn bulk_msg(len: usize) -> Vec<u8> {
    let mut m = vec![msg::CHANNEL_DATA];
    m.put_u32(0);
    m.put_string(&b"all work and no play makes jack a dull boy\n".repeat(len / 43 + 1)[..len]);
    m
}

/// Bytes each side transmits for one 30,000-byte compressible message each way.
fn bulk_bytes(p: &mut Pair) -> (usize, usize) {
    let (c0, s0) = (p.client.sent.len(), p.server.sent.len());
    p.client.queue(&bulk_msg(30_000));
    p.server.queue(&bulk_msg(30_000));
    p.run().unwrap();
    assert_eq!(p.server.received.last().unwrap()[..], bulk_msg(30_000)[..]);
    assert_eq!(p.client.received.last().unwrap()[..], bulk_msg(30_000)[..]);
    (p.client.sent.len() - c0, p.server.sent.len() - s0)
}

#[test]
fn zlib_compresses_from_the_first_newkeys_and_survives_rekeys() {
    let mut p = with_compression(&["zlib", "none"], &["none", "zlib"], 40);
    assert_eq!(negotiated(&p.client), ("zlib".into(), "zlib".into()));
    assert_eq!(p.client.t.compressing(), (true, true));
    assert_eq!(p.server.t.compressing(), (true, true));
    let (c, s) = bulk_bytes(&mut p);
    assert!(c < 1000 && s < 1000, "sent {c} and {s} bytes");
    // Rekeys started by either side: each NEWKEYS starts a fresh context,
    // and data keeps flowing both ways in order.
    flow_with(&mut p, 40, |p, i| {
        let now = p.now;
        if i == 5 {
            p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
        }
        if i == 20 {
            p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
        }
    });
    assert_eq!(p.client.kex_done_events(), [false, true, true]);
    assert_eq!(negotiated(&p.server), ("zlib".into(), "zlib".into()));
    let (c, s) = bulk_bytes(&mut p);
    assert!(c < 1000 && s < 1000, "sent {c} and {s} bytes");
}

#[test]
fn delayed_zlib_waits_for_userauth_success_then_stays_on_across_rekeys() {
    let mut p = with_compression(COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED, 41);
    assert_eq!(
        negotiated(&p.client),
        ("zlib@openssh.com".into(), "zlib@openssh.com".into())
    );
    assert_eq!(p.client.t.compressing(), (false, false));
    assert_eq!(p.server.t.compressing(), (false, false));
    // Before authentication, payloads cross as they are.
    let (c, s) = bulk_bytes(&mut p);
    assert!(c > 30_000 && s > 30_000, "sent {c} and {s} bytes");
    // A rekey before authentication does not start it either.
    let now = p.now;
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.run().unwrap();
    assert_eq!(p.client.t.compressing(), (false, false));

    // The server's USERAUTH_SUCCESS goes out uncompressed, and everything
    // after it each way is compressed.
    p.server.queue(&[msg::USERAUTH_SUCCESS]);
    p.server.flush();
    assert_eq!(p.server.t.compressing(), (true, true));
    p.run().unwrap();
    assert_eq!(
        p.client.received.last().unwrap()[..],
        [msg::USERAUTH_SUCCESS]
    );
    assert_eq!(p.client.t.compressing(), (true, true));
    let (c, s) = bulk_bytes(&mut p);
    assert!(c < 1000 && s < 1000, "sent {c} and {s} bytes");

    // After authentication a re-exchange starts compression at its NEWKEYS.
    flow_with(&mut p, 20, |p, i| {
        if i == 3 {
            let now = p.now;
            p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
        }
    });
    assert_eq!(p.client.t.compressing(), (true, true));
    assert_eq!(p.server.t.compressing(), (true, true));
    let (c, s) = bulk_bytes(&mut p);
    assert!(c < 1000 && s < 1000, "sent {c} and {s} bytes");
}

#[test]
fn the_clients_order_wins_and_none_is_the_default() {
    // sshd's default list against a client that did not ask: none.
    let p = with_compression(&["none"], COMPRESSION_SERVER_ALLOWED, 42);
    assert_eq!(negotiated(&p.server), ("none".into(), "none".into()));
    // A client asking, against a server that does not allow it: none.
    let mut p = with_compression(COMPRESSION_CLIENT_ON, &["none"], 43);
    assert_eq!(negotiated(&p.client), ("none".into(), "none".into()));
    p.server.queue(&[msg::USERAUTH_SUCCESS]);
    p.run().unwrap();
    assert_eq!(p.client.t.compressing(), (false, false));
    // Each direction on its own slot: a client listing only zlib against a
    // server only allowing the delayed one has nothing in common.
    let mut c = TransportConfig::default();
    c.algorithms.set_compression(&["zlib"]);
    let mut s = TransportConfig::default();
    s.algorithms.set_compression(&["zlib@openssh.com"]);
    let mut p = Pair::with(c, s, 44);
    assert!(matches!(
        p.run(),
        Err(Error::PeerIncompatible(
            PeerIncompatible::NoCommonAlgorithm {
                kind: "compression c->s",
                ..
            }
        ))
    ));
}

#[test]
fn names_we_do_not_implement_are_not_offered() {
    let mut c = TransportConfig::default();
    c.algorithms.set_compression(&["lz4@example.com", "zlib"]);
    let p = with_compression(&["lz4@example.com", "zlib"], &["zlib"], 45);
    assert_eq!(negotiated(&p.client), ("zlib".into(), "zlib".into()));
    let offer = kexinit::Offer::new(&c, Side::Client, &[]);
    assert_eq!(offer.compression, ["zlib"]);
}
