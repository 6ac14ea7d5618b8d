//! Errors (the peer's, and the caller's misuse), and the edge cases next
//! to them: DEBUG and IGNORE, unknown message numbers, sequence numbers
//! wrapping around, what the `Debug` output shows.

use super::*;

#[test]
fn a_flipped_ciphertext_bit_is_a_mac_error() {
    let mut p = Pair::established(14);
    p.client.queue(&data_msg(1));
    p.client.flush();
    let mut wire = p.client.take_transmit();
    wire[10] ^= 0x80;
    let now = p.now;
    assert_eq!(
        p.server.input(now, &wire),
        Err(PeerMisbehaved::BadMac.into())
    );
}

#[test]
fn a_bad_host_key_signature_is_refused() {
    let mut p = Pair::new(15);
    // Change the client's record of its own KEXINIT: its exchange hash no
    // longer matches the one the server signs.
    p.step().unwrap();
    p.client.t.kex.our_kexinit_mut().unwrap()[1] ^= 1;
    assert_eq!(p.run(), Err(PeerMisbehaved::BadHostKeySignature.into()));
}

#[test]
fn a_changed_host_key_on_rekey_is_refused() {
    let mut p = Pair::established(16);
    p.server.t.host_keys = vec![host_key(99)];
    let now = p.now;
    p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
    assert_eq!(p.run(), Err(PeerMisbehaved::HostKeyChangedOnRekey.into()));
}

#[test]
fn no_common_cipher_names_both_lists() {
    let mut c = TransportConfig::default();
    c.algorithms.cipher = vec!["aes256-gcm@openssh.com".into()];
    let mut s = TransportConfig::default();
    s.algorithms.cipher = vec!["aes128-gcm@openssh.com".into()];
    let mut p = Pair::with(c, s, 17);
    let e = p.run().unwrap_err();
    assert_eq!(
        e,
        PeerIncompatible::NoCommonAlgorithm {
            kind: "cipher c->s",
            ours: "aes128-gcm@openssh.com".into(),
            theirs: "aes256-gcm@openssh.com".into(),
        }
        .into()
    );
}

#[test]
fn a_server_without_a_usable_host_key_has_no_common_algorithm() {
    let now = epoch();
    let mut client = Peer::new(Transport::new_client(TransportConfig::default(), now), 1);
    let mut server = Peer::new(
        Transport::new_server(TransportConfig::default(), vec![], now),
        2,
    );
    client.flush();
    server.flush();
    let c = client.take_transmit();
    assert!(matches!(
        server.input(now, &c),
        Err(Error::PeerIncompatible(
            PeerIncompatible::NoCommonAlgorithm {
                kind: "host key",
                ..
            }
        ))
    ));
}

#[test]
fn upper_layer_message_before_newkeys_is_unexpected() {
    let mut p = Pair::new(18);
    p.step().unwrap();
    // Server speaks userauth in clear, mid key exchange.
    let mut stream = Vec::new();
    p.server
        .t
        .tx
        .send(&[msg::USERAUTH_SUCCESS], Some(&mut p.server.rng));
    stream.extend_from_slice(&p.server.take_transmit());
    let now = p.now;
    assert!(matches!(
        p.client.input(now, &stream),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::UnexpectedMessage {
                msg: msg::USERAUTH_SUCCESS,
                ..
            } | PeerMisbehaved::StrictKexViolation(msg::USERAUTH_SUCCESS)
        ))
    ));
}

#[test]
fn disconnect_from_the_peer_is_reported_and_ends_processing() {
    let mut p = Pair::established(19);
    p.server
        .t
        .send_disconnect(DisconnectReason::ByApplication, "bye\x1b[31m");
    assert!(p.server.t.is_closed());
    // Nothing more is sent by the closed side.
    p.server.queue(&data_msg(1));
    p.server.flush();
    let wire = p.server.take_transmit();
    assert!(!wire.is_empty());
    p.server.flush();
    assert!(p.server.t.transmit().is_empty());
    let now = p.now;
    assert_eq!(
        p.client.input(now, &wire),
        Err(Error::PeerDisconnected {
            reason: DisconnectReason::ByApplication,
            description: "bye[31m".into(),
        })
    );
    assert!(p.client.t.is_closed());
    assert!(p.client.received.is_empty());
}

#[test]
fn debug_with_always_display_becomes_an_event_and_ignore_is_dropped() {
    let mut p = Pair::established(20);
    let mut debug = vec![msg::DEBUG, 1];
    debug.put_str("look\x07 here");
    debug.put_str("");
    let mut quiet = vec![msg::DEBUG, 0];
    quiet.put_str("not shown");
    quiet.put_str("");
    let now = p.now;
    for payload in [debug, quiet, vec![msg::IGNORE, 0, 0, 0, 1, 9]] {
        p.server.t.tx.send(&payload, Some(&mut p.server.rng));
    }
    let wire = p.server.take_transmit();
    p.client.events.clear();
    p.client.input(now, &wire).unwrap();
    assert_eq!(
        p.client.events.iter().collect::<Vec<_>>(),
        [&Event::Debug {
            message: "look here".into()
        }]
    );
    assert!(p.client.received.is_empty());
}

#[test]
fn unknown_transport_message_gets_unimplemented_and_reserved_ones_go_up() {
    let mut p = Pair::established(21);
    let now = p.now;
    p.server.t.tx.send(&[15, 1, 2], Some(&mut p.server.rng));
    p.server.t.tx.send(&[200, 1], Some(&mut p.server.rng));
    let wire = p.server.take_transmit();
    p.client.input(now, &wire).unwrap();
    // 200 is handed up for the glue to answer; 15 is answered here.
    assert_eq!(p.client.received, [Bytes::from_static(&[200, 1])]);
    let answer = p.client.take_transmit();
    assert!(!answer.is_empty(), "UNIMPLEMENTED went out");
    // The server takes the UNIMPLEMENTED silently.
    p.server.input(now, &answer).unwrap();
    assert!(p.server.received.is_empty());
}

#[test]
fn handshake_deadline_is_reported_through_the_timeout() {
    let mut p = Pair::new(22);
    let deadline = p.client.t.poll_timeout().unwrap();
    assert_eq!(deadline, p.now + Duration::from_secs(120));
    assert_eq!(
        p.client
            .t
            .handle_timeout(deadline - Duration::from_secs(1), &mut p.client.rng),
        Ok(())
    );
    assert_eq!(
        p.client.t.handle_timeout(deadline, &mut p.client.rng),
        Err(Error::Timeout(crate::TimeoutKind::Handshake))
    );
    p.run().unwrap();
    // After the first exchange the deadline no longer applies; the rekey
    // timer (1 hour by default) does.
    assert_eq!(
        p.client.t.poll_timeout(),
        Some(p.now + Duration::from_secs(3600))
    );
}

#[test]
fn start_rekey_before_the_first_exchange_is_misuse() {
    let mut p = Pair::new(23);
    let now = p.now;
    assert!(matches!(
        p.client.t.start_rekey(now, &mut p.client.rng),
        Err(ApiMisuse::NotEstablished)
    ));
}

#[test]
fn wrongly_guessed_kex_packet_is_skipped() {
    // The client prefers the libssh name, the server the RFC name: a guess
    // by the client would be wrong (RFC 4253 section 7.1).
    let mut c = TransportConfig::default();
    c.algorithms.kex.reverse();
    let mut p = Pair::with(c, TransportConfig::default(), 24);
    let now = p.now;
    p.client.flush();
    let mut wire = p.client.take_transmit();
    // Set first_kex_packet_follows in the client's KEXINIT (in clear, the
    // byte before the reserved uint32 at its end) and in its own record.
    let ours = p.client.t.kex.our_kexinit_mut().unwrap();
    let at = ours.len() - 5;
    ours[at] = 1;
    let ident_len = wire.iter().position(|&b| b == b'\n').unwrap() + 1;
    let packet_len =
        u32::from_be_bytes(wire[ident_len..ident_len + 4].try_into().unwrap()) as usize;
    let padding = wire[ident_len + 4] as usize;
    let flag_at = ident_len + 4 + packet_len - padding - 5;
    assert_eq!(wire[flag_at], 0);
    wire[flag_at] = 1;
    // The guessed packet: garbage that would fail as a real ECDH_INIT.
    let mut guess = packet::Sender::new();
    guess.send(
        &[msg::KEX_ECDH_INIT, 0, 0, 0, 1, 7],
        Some(&mut p.client.rng),
    );
    wire.extend_from_slice(guess.transmit());
    Pair::feed(&mut p.server, now, &wire, None).unwrap();
    p.run().unwrap();
    assert!(p.client.t.is_established() && p.server.t.is_established());
    assert_eq!(p.client.t.session_id(), p.server.t.session_id());
}

#[test]
fn version_mismatch_and_banner_lines() {
    let now = epoch();
    let mut client = Peer::new(Transport::new_client(TransportConfig::default(), now), 1);
    assert_eq!(
        client.input(now, b"SSH-1.5-ancient\r\n"),
        Err(PeerIncompatible::Version("1.5".into()).into())
    );
    let mut client = Peer::new(Transport::new_client(TransportConfig::default(), now), 1);
    client
        .input(now, b"Welcome!\r\nPlease behave.\r\n")
        .unwrap();
    assert!(client.t.peer_ident.is_none());
    client.input(now, b"SSH-2.0-OpenSSH_9.6\r\n").unwrap();
    assert_eq!(
        client.t.peer_ident.as_deref(),
        Some(&b"SSH-2.0-OpenSSH_9.6"[..])
    );
}

#[test]
fn over_long_packet_from_the_peer_is_refused() {
    let now = epoch();
    let mut client = Peer::new(Transport::new_client(TransportConfig::default(), now), 1);
    let mut wire = b"SSH-2.0-x\r\n".to_vec();
    wire.extend_from_slice(&(300 * 1024u32).to_be_bytes());
    wire.extend_from_slice(&[4, 0, 0, 0]);
    assert_eq!(
        client.input(now, &wire),
        Err(PeerMisbehaved::BadPacketLength(300 * 1024).into())
    );
}

#[test]
fn sequence_numbers_wrap_around() {
    // RFC 4253 section 6.4: the sequence number wraps at 2^32.
    let mut p = Pair::established(25);
    p.client.t.tx.seq = u32::MAX;
    p.server.t.rx.seq = u32::MAX;
    p.client.queue(&data_msg(1));
    p.client.queue(&data_msg(2));
    p.run().unwrap();
    assert_eq!(p.server.received, [data_msg(1), data_msg(2)]);
    assert_eq!(p.client.t.tx.seq, 1);
    assert_eq!(p.server.t.rx.seq, 1);
}

#[test]
fn input_while_the_host_key_waits_is_bounded() {
    let mut p = Pair::new(26);
    p.client.auto_accept = false;
    p.run().unwrap();
    assert!(p.client.t.awaiting_host_key());
    let now = p.now;
    let junk = vec![0u8; 64 * 1024];
    let mut result = Ok(());
    for _ in 0..(5 * 256 / 64) {
        result = p.client.input(now, &junk);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result,
        Err(PeerMisbehaved::InputDuringHostKeyDecision.into())
    );
}

#[test]
fn a_low_order_client_point_is_a_bad_kex_value() {
    let now = epoch();
    let mut client = Peer::new(Transport::new_client(TransportConfig::default(), now), 27);
    let mut server = Peer::new(
        Transport::new_server(TransportConfig::default(), vec![host_key(27)], now),
        28,
    );
    client.flush();
    // The client's identification and KEXINIT, then a forged ECDH_INIT
    // whose point (u = 0) makes the X25519 result all zeros (RFC 8731 section 3).
    let mut wire = client.take_transmit();
    let mut forged = packet::Sender::new();
    let mut init = vec![msg::KEX_ECDH_INIT];
    init.put_string(&[0u8; 32]);
    forged.send(&init, Some(&mut client.rng));
    wire.extend_from_slice(forged.transmit());
    assert_eq!(
        server.input(now, &wire),
        Err(PeerMisbehaved::BadKexValue.into())
    );
}

#[test]
fn ext_info_before_newkeys_is_unexpected() {
    let cfg = TransportConfig {
        strict_kex: false,
        ..TransportConfig::default()
    };
    let mut p = Pair::with(cfg, TransportConfig::default(), 29);
    p.step().unwrap();
    let mut ext = vec![msg::EXT_INFO];
    ext.put_u32(0);
    p.server.t.tx.send(&ext, Some(&mut p.server.rng));
    let wire = p.server.take_transmit();
    let now = p.now;
    assert_eq!(
        p.client.input(now, &wire),
        Err(PeerMisbehaved::UnexpectedMessage {
            msg: msg::EXT_INFO,
            state: "before the first key exchange"
        }
        .into())
    );
}

#[test]
fn debug_output_shows_no_buffer_contents() {
    let mut p = Pair::established(30);
    p.client.queue(b"\x5esecret password");
    p.client.flush();
    let shown = format!("{:?}", p.client.t);
    assert!(!shown.contains("secret"));
    assert!(shown.contains("pending"));
}

#[test]
fn a_host_key_of_another_type_is_refused() {
    let mut p = Pair::new(31);
    // Both KEXINITs are through; the client's ECDH_INIT waits to go out.
    p.step().unwrap();
    // A forged reply offering an RSA key (RFC 4253 section 6.6) where
    // ssh-ed25519 was negotiated.
    let mut rsa = Vec::new();
    rsa.put_str("ssh-rsa");
    rsa.put_mpint(&[1, 0, 1]);
    let mut modulus = vec![0xc5u8; 256];
    modulus[255] |= 1;
    rsa.put_mpint(&modulus);
    let mut reply = vec![msg::KEX_ECDH_REPLY];
    reply.put_string(&rsa);
    reply.put_string(&[9u8; 32]);
    reply.put_string(b"no signature");
    let mut forged = packet::Sender::new();
    forged.send(&reply, Some(&mut p.server.rng));
    let now = p.now;
    assert_eq!(
        p.client.input(now, forged.transmit()),
        Err(PeerMisbehaved::WrongHostKeyType("ssh-rsa".into()).into())
    );
}
