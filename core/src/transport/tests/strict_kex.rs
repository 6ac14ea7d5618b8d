//! Strict key exchange (OpenSSH PROTOCOL, `kex-strict-*-v00@openssh.com`):
//! nothing but the exchange before NEWKEYS, and sequence numbers reset.

use super::*;

/// Runs until the server has sent its KEXINIT and (optionally) more, then
/// injects `payload` as a plain packet from the server.
fn inject_from_server_during_kex(client_strict: bool, payload: &[u8]) -> Result<(), Error> {
    // AES-GCM, whose nonce is not the sequence number (see below).
    let mut server_cfg = TransportConfig::default();
    server_cfg.algorithms.cipher = vec!["aes128-gcm@openssh.com".into()];
    let cfg = TransportConfig {
        strict_kex: client_strict,
        ..server_cfg.clone()
    };
    let mut p = Pair::with(cfg, server_cfg, 8);
    // Client ident + KEXINIT to the server, server ident + KEXINIT back, and
    // the client's ECDH_INIT to the server.
    p.step()?;
    p.client.flush();
    let c = p.client.take_transmit();
    Pair::feed(&mut p.server, p.now, &c, None)?;
    // Server now sent REPLY + NEWKEYS (+ EXT_INFO, encrypted). Inject the
    // packet before them (still in clear): right after the server's KEXINIT.
    let rest = p.server.take_transmit();
    let mut injected = Transport::new_server(TransportConfig::default(), vec![], p.now);
    injected.tx.consume(injected.tx.transmit().len());
    injected.tx.send(payload, Some(&mut p.server.rng));
    let mut stream = injected.transmit().to_vec();
    stream.extend_from_slice(&rest);
    Pair::feed(&mut p.client, p.now, &stream, None)?;
    p.run()
}

#[test]
fn strict_kex_rejects_ignore_before_newkeys() {
    let ignore = [msg::IGNORE, 0, 0, 0, 0];
    assert_eq!(
        inject_from_server_during_kex(true, &ignore),
        Err(PeerMisbehaved::StrictKexViolation(msg::IGNORE).into())
    );
    // Without strict kex the same IGNORE is harmless (RFC 4253 section 11.2).
    // The injected packet shifts the sequence numbers, which AES-GCM does not use.
    assert_eq!(inject_from_server_during_kex(false, &ignore), Ok(()));
}

#[test]
fn strict_kex_rejects_debug_and_unimplemented_too() {
    let mut debug = vec![msg::DEBUG, 1];
    debug.put_str("hi");
    debug.put_str("");
    for payload in [debug, vec![msg::UNIMPLEMENTED, 0, 0, 0, 0]] {
        assert_eq!(
            inject_from_server_during_kex(true, &payload),
            Err(PeerMisbehaved::StrictKexViolation(payload[0]).into())
        );
    }
}

#[test]
fn strict_kex_requires_kexinit_first() {
    let mut p = Pair::new(9);
    // An IGNORE from the client ahead of its KEXINIT.
    let now = p.now;
    let c = p.client.take_transmit(); // identification only, so far
    let mut stream = c.clone();
    let mut extra = packet::Sender::new();
    extra.send(&[msg::IGNORE, 0, 0, 0, 0], Some(&mut p.client.rng));
    stream.extend_from_slice(extra.transmit());
    p.client.flush();
    stream.extend_from_slice(&p.client.take_transmit());
    assert_eq!(
        p.server.input(now, &stream),
        Err(PeerMisbehaved::StrictKexViolation(msg::KEXINIT).into())
    );
}

#[test]
fn strict_kex_resets_sequence_numbers_after_newkeys() {
    let p = Pair::established(10);
    // Server sent REPLY, NEWKEYS (seq reset), EXT_INFO (seq 0) -> 1.
    assert_eq!(p.server.t.tx.seq, 1);
    assert_eq!(p.client.t.rx.seq, 1);
    // Client sent NEWKEYS -> 0.
    assert_eq!(p.client.t.tx.seq, 0);
    assert_eq!(p.server.t.rx.seq, 0);
    let cfg = TransportConfig {
        strict_kex: false,
        ..TransportConfig::default()
    };
    let mut q = Pair::with(cfg, TransportConfig::default(), 10);
    q.run().unwrap();
    // KEXINIT, ECDH_INIT, NEWKEYS: numbering continues.
    assert_eq!(q.client.t.tx.seq, 3);
    assert_eq!(q.server.t.rx.seq, 3);
}

#[test]
fn strict_kex_resets_sequence_numbers_on_every_rekey() {
    let mut p = Pair::established(32);
    p.client.queue(&data_msg(1));
    p.run().unwrap();
    let now = p.now;
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.run().unwrap();
    // Each side's last packet was its NEWKEYS: numbering restarted at 0.
    assert_eq!(p.client.kex_done_events(), [false, true]);
    assert_eq!(p.client.t.tx.seq, 0);
    assert_eq!(p.server.t.rx.seq, 0);
    assert_eq!(p.server.t.tx.seq, 0);
    assert_eq!(p.client.t.rx.seq, 0);
}
