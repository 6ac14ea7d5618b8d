//! Legacy algorithms (enabled only by name) and Diffie-Hellman group
//! exchange (RFC 4419).

use super::*;

fn rsa_host_key() -> PrivateKey {
    PrivateKey::from_openssh(include_bytes!("../../keys/testdata/rsa2048"), None).unwrap()
}

/// Both ends with only these names enabled (RSA host key on the server).
fn pinned_pair(kex: &str, host_key: &str, cipher: &str, mac: &str, seed: u64) -> Pair {
    let mut cfg = TransportConfig::default();
    cfg.algorithms.kex = vec![kex.into()];
    cfg.algorithms.host_key = vec![host_key.into()];
    cfg.algorithms.cipher = vec![cipher.into()];
    cfg.algorithms.mac = vec![mac.into()];
    let mut p = Pair::with(cfg.clone(), cfg.clone(), seed);
    p.server.t = Transport::new_server(cfg, vec![rsa_host_key()], p.now);
    p
}

#[test]
fn legacy_algorithms_work_when_both_ends_enable_them_by_name() {
    let mut p = pinned_pair(
        "diffie-hellman-group14-sha1",
        "ssh-rsa",
        "aes128-ctr",
        "hmac-sha1",
        40,
    );
    p.run().unwrap();
    let names = p
        .client
        .events
        .iter()
        .find_map(|e| match e {
            Event::KeyExchangeDone { algorithms, .. } => Some(algorithms.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(names.kex, "diffie-hellman-group14-sha1");
    assert_eq!(names.host_key, "ssh-rsa");
    assert_eq!(names.mac_s2c, "hmac-sha1");
    // SHA-1 exchange hash: a 20-byte session id.
    assert_eq!(p.client.t.session_id().unwrap().len(), 20);
    // Data and a re-exchange under them.
    p.client.queue(&data_msg(1));
    let now = p.now;
    p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
    p.run().unwrap();
    p.client.queue(&data_msg(2));
    p.run().unwrap();
    assert_eq!(p.server.received, [data_msg(1), data_msg(2)]);
    assert_eq!(p.client.kex_done_events(), [false, true]);
}

#[test]
fn legacy_algorithms_are_off_unless_named() {
    // The client asks for SHA-1 only; the server has its defaults.
    let mut c = TransportConfig::default();
    c.algorithms.kex = vec!["diffie-hellman-group14-sha1".into()];
    let mut p = Pair::with(c, TransportConfig::default(), 41);
    assert!(matches!(
        p.run(),
        Err(Error::PeerIncompatible(
            PeerIncompatible::NoCommonAlgorithm { kind: "kex", .. }
        ))
    ));
    let mut c = TransportConfig::default();
    c.algorithms.host_key = vec!["ssh-rsa".into()];
    let mut p = Pair::with(c, TransportConfig::default(), 42);
    p.server.t = Transport::new_server(TransportConfig::default(), vec![rsa_host_key()], p.now);
    assert!(matches!(
        p.run(),
        Err(Error::PeerIncompatible(
            PeerIncompatible::NoCommonAlgorithm {
                kind: "host key",
                ..
            }
        ))
    ));
}

#[test]
fn group_exchange_runs_its_four_messages_and_rekeys() {
    let mut p = pinned_pair(
        "diffie-hellman-group-exchange-sha256",
        "rsa-sha2-256",
        "aes128-ctr",
        "hmac-sha2-256-etm@openssh.com",
        43,
    );
    // Client: KEXINIT; then REQUEST after the server's KEXINIT.
    p.step().unwrap();
    p.client.flush();
    let request = p.client.take_transmit();
    // The REQUEST is in clear: 34, min 2048, n, max 8192, where n follows
    // the most key material needed: the 32-byte HMAC-SHA-256 key asks for
    // 256-bit strength, so 8192 bits, as OpenSSH asks.
    let want: Vec<u8> = [
        &[34u8][..],
        &2048u32.to_be_bytes(),
        &8192u32.to_be_bytes(),
        &8192u32.to_be_bytes(),
    ]
    .concat();
    assert!(
        request.windows(want.len()).any(|w| w == want),
        "no KEX_DH_GEX_REQUEST(2048, 8192, 8192) in {request:02x?}"
    );
    Pair::feed(&mut p.server, p.now, &request, None).unwrap();
    p.run().unwrap();
    assert!(p.client.t.is_established() && p.server.t.is_established());
    let now = p.now;
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.client.queue(&data_msg(7));
    p.run().unwrap();
    assert_eq!(p.server.received, [data_msg(7)]);
    assert_eq!(p.server.kex_done_events(), [false, true]);
}

#[test]
fn a_group_exchange_request_no_group_fits_is_refused() {
    let mut p = pinned_pair(
        "diffie-hellman-group-exchange-sha256",
        "rsa-sha2-256",
        "aes128-ctr",
        "hmac-sha2-256",
        44,
    );
    p.step().unwrap();
    p.client.flush();
    let _ = p.client.take_transmit();
    // A client asking for 1024-1536 bits: below what we serve.
    let mut request = vec![msg::KEX_DH_GEX_REQUEST];
    request.put_u32(1024);
    request.put_u32(1024);
    request.put_u32(1536);
    let mut forged = Transport::new_client(TransportConfig::default(), p.now);
    forged.tx.consume(forged.tx.transmit().len());
    forged.tx.send(&request, Some(&mut p.client.rng));
    let bytes = forged.transmit().to_vec();
    assert!(matches!(
        Pair::feed(&mut p.server, p.now, &bytes, None),
        Err(Error::PeerIncompatible(
            PeerIncompatible::NoCommonAlgorithm { .. }
        ))
    ));
}
