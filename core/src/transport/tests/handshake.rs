//! The first key exchange, and the client waiting for its host key
//! decision.

use super::*;

#[test]
fn initial_exchange_completes_with_matching_session_ids() {
    let p = Pair::established(1);
    let (c, s) = (&p.client, &p.server);
    assert_eq!(c.t.session_id().unwrap(), s.t.session_id().unwrap());
    assert_eq!(c.t.session_id().unwrap().len(), 32);
    assert_eq!(c.t.host_key(), Some(s.t.host_keys[0].public_key()));
    assert!(
        matches!(c.events.front(), Some(Event::HostKey { key }) if key == s.t.host_keys[0].public_key())
    );
    let done = c.events.iter().find_map(|e| match e {
        Event::KeyExchangeDone { algorithms, rekey } => Some((algorithms.clone(), *rekey)),
        _ => None,
    });
    let (algs, rekey) = done.unwrap();
    assert!(!rekey);
    // The defaults: the post-quantum hybrid and AES-128-GCM.
    assert_eq!(algs.kex, "mlkem768x25519-sha256");
    assert_eq!(algs.host_key, "ssh-ed25519");
    assert_eq!(algs.cipher_c2s, "aes128-gcm@openssh.com");
    assert_eq!(algs.cipher_s2c, "aes128-gcm@openssh.com");
    assert!(algs.strict_kex);
    assert_eq!(s.kex_done_events(), [false]);
    // EXT_INFO: the server announced what it verifies.
    // Every non-legacy signature algorithm the provider verifies; the
    // certificates by the plain names they sign with, as sshd lists them.
    assert_eq!(
        c.t.server_sig_algs().unwrap(),
        [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521",
            "rsa-sha2-512",
            "rsa-sha2-256",
        ]
    );
    assert!(s.t.server_sig_algs().is_none());
    assert!(!c.t.in_key_exchange() && !s.t.in_key_exchange());
    // Identification lines went first.
    assert!(c.sent.starts_with(b"SSH-2.0-Conch_"));
    assert!(s.sent.starts_with(b"SSH-2.0-Conch_"));
}

#[test]
fn client_waits_for_the_host_key_decision() {
    let mut p = Pair::new(2);
    p.client.auto_accept = false;
    p.client.queue(&data_msg(0));
    p.run().unwrap();
    // The client saw the key and stopped: no NEWKEYS, nothing established.
    assert!(matches!(
        p.client.events.back(),
        Some(Event::HostKey { .. })
    ));
    assert!(p.client.t.awaiting_host_key());
    assert!(!p.client.t.is_established());
    assert!(!p.server.t.is_established());
    assert_eq!(p.client.outbox.len(), 1);
    // Input keeps being buffered, not processed.
    let before = p.client.t.rx.buf.len();
    assert!(before > 0, "the server's NEWKEYS waits in the buffer");
    p.client.input(p.now, &[]).unwrap();
    assert!(p.client.t.transmit().is_empty());
    // Accepting sends NEWKEYS and lets everything through.
    let now = p.now;
    p.client.t.accept_host_key(now, &mut p.client.rng).unwrap();
    p.client.input(now, &[]).unwrap();
    p.run().unwrap();
    assert!(p.client.t.is_established() && p.server.t.is_established());
    assert_eq!(p.server.received, [data_msg(0)]);
    // A second decision is a misuse.
    assert_eq!(
        p.client.t.accept_host_key(now, &mut p.client.rng),
        Err(ApiMisuse::NoHostKeyPending)
    );
}
