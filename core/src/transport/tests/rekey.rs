//! Payloads in order both ways, and key re-exchange (RFC 4253 section 9)
//! started by either side, by bytes and by time.

use super::*;

#[test]
fn payloads_flow_both_ways_in_order() {
    let mut p = Pair::established(3);
    for i in 0..50 {
        p.client.queue(&data_msg(i));
        p.server.queue(&data_msg(1000 + i));
    }
    p.run().unwrap();
    let want_s: Vec<Vec<u8>> = (0..50).map(data_msg).collect();
    let want_c: Vec<Vec<u8>> = (0..50).map(|i| data_msg(1000 + i)).collect();
    assert_eq!(p.server.received, want_s);
    assert_eq!(p.client.received, want_c);
}

#[test]
fn rekey_started_by_either_side_keeps_data_in_order() {
    let mut p = Pair::established(4);
    let sid = p.client.t.session_id().unwrap().to_vec();
    flow_with(&mut p, 60, |p, i| {
        let now = p.now;
        if i == 10 {
            p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
        }
        if i == 30 {
            p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
        }
        if i == 45 {
            // Both at once.
            p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
            p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
        }
    });
    assert_eq!(p.client.kex_done_events(), [false, true, true, true]);
    assert_eq!(p.server.kex_done_events(), [false, true, true, true]);
    // The session id is the first exchange hash forever (RFC 4253 section 7.2).
    assert_eq!(p.client.t.session_id().unwrap(), sid);
    assert_eq!(p.server.t.session_id().unwrap(), sid);
    // No host key event on re-exchange.
    let host_key_events = p
        .client
        .events
        .iter()
        .filter(|e| matches!(e, Event::HostKey { .. }))
        .count();
    assert_eq!(host_key_events, 1);
}

#[test]
fn outbox_is_held_while_our_kexinit_is_out() {
    let mut p = Pair::established(5);
    let now = p.now;
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.client.queue(&data_msg(1));
    p.client.flush();
    // The queued message was flushed before the KEXINIT.
    assert!(p.client.outbox.is_empty());
    assert!(p.client.t.in_key_exchange());
    p.client.queue(&data_msg(2));
    p.client.flush();
    assert_eq!(p.client.outbox.len(), 1, "held during the exchange");
    p.run().unwrap();
    assert!(p.client.outbox.is_empty());
    assert_eq!(p.server.received, [data_msg(1), data_msg(2)]);
}

#[test]
fn rekey_by_bytes_in_each_direction() {
    const LIMIT: u64 = 4096;
    for client_sends in [true, false] {
        let cfg = TransportConfig {
            rekey_bytes: LIMIT,
            ..TransportConfig::default()
        };
        let mut p = Pair::with(cfg.clone(), cfg, 6);
        p.run().unwrap();
        fn sender(p: &mut Pair, client_sends: bool) -> &mut Peer {
            if client_sends {
                &mut p.client
            } else {
                &mut p.server
            }
        }
        // Everything queued at once: the transport must still stop at the limit.
        for i in 0..400 {
            sender(&mut p, client_sends).queue(&data_msg(i));
        }
        let mut most_under_one_key = 0;
        while p.step().unwrap() {
            most_under_one_key =
                most_under_one_key.max(sender(&mut p, client_sends).t.tx.bytes_since_kex);
        }
        // One packet may cross the limit, plus the KEXINIT (1 KiB with
        // every default algorithm named) and the hybrid's INIT or REPLY
        // (1.2 KiB, more with the host key and signature) that still go
        // out under the old keys (RFC 4253 section 9). Before the limit was
        // applied after our NEWKEYS, the whole outbox went.
        assert!(
            most_under_one_key < LIMIT + 3072,
            "{most_under_one_key} bytes under one key"
        );
        let sent = sender(&mut p, client_sends).sent.len() as u64;
        let rekeys = p.client.kex_done_events().iter().filter(|r| **r).count() as u64;
        assert!(
            rekeys >= sent / (LIMIT + 3072),
            "{rekeys} rekeys for {sent} bytes"
        );
        assert_eq!(p.server.kex_done_events(), p.client.kex_done_events());
        let receiver = if client_sends { &p.server } else { &p.client };
        let want: Vec<Vec<u8>> = (0..400).map(data_msg).collect();
        assert_eq!(receiver.received, want);
    }
}

#[test]
fn rekey_by_time_through_the_timeout() {
    let cfg = TransportConfig {
        rekey_interval: Some(Duration::from_secs(60)),
        ..TransportConfig::default()
    };
    let mut p = Pair::with(cfg.clone(), TransportConfig::default(), 7);
    p.run().unwrap();
    let due = p.client.t.poll_timeout().unwrap();
    assert_eq!(due, p.now + Duration::from_secs(60));
    p.now = due;
    let now = p.now;
    p.client.t.handle_timeout(now, &mut p.client.rng).unwrap();
    p.run().unwrap();
    assert_eq!(p.client.kex_done_events(), [false, true]);
    // The timer restarts from the re-exchange.
    assert_eq!(
        p.client.t.poll_timeout(),
        Some(now + Duration::from_secs(60))
    );
}
