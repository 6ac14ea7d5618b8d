//! The key exchange phases (`key_exchange::Phase`): messages the peer
//! sends in a phase that has no place for them, and the phase the
//! exchange is in when they come. Each case names the error and the
//! DISCONNECT reason (RFC 4253 section 11.1) the connection sends for it.

use super::*;

/// One plaintext packet (before the first NEWKEYS) framing `payload`.
fn plain(payload: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut s = packet::Sender::new();
    s.send(payload, Some(rng));
    s.transmit().to_vec()
}

/// Length of the first packet in clear at the start of `wire`.
fn first_plain_packet_len(wire: &[u8]) -> usize {
    4 + u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize
}

#[test]
fn a_kexinit_from_the_peer_during_our_host_key_pause_fails_after_the_decision() {
    let mut p = Pair::new(40);
    p.client.auto_accept = false;
    // Both KEXINITs, then the client's ECDH_INIT to the server, which
    // answers with REPLY, NEWKEYS (and EXT_INFO, sealed).
    p.step().unwrap();
    p.step().unwrap();
    let reply = p.server.take_transmit();
    // A KEXINIT from the server between its REPLY and its NEWKEYS: a new
    // exchange before this one ended (RFC 4253 section 7.1).
    let at = first_plain_packet_len(&reply);
    let kexinit = p
        .server
        .t
        .offer
        .kexinit(Side::Server, false, true, &mut p.server.rng);
    let mut wire = reply[..at].to_vec();
    wire.extend_from_slice(&plain(&kexinit, &mut p.server.rng));
    wire.extend_from_slice(&reply[at..]);
    let now = p.now;
    p.client.input(now, &wire).unwrap();
    // Paused: the KEXINIT is not looked at and nothing goes out, not even
    // our NEWKEYS.
    assert!(p.client.t.awaiting_host_key());
    assert!(p.client.take_transmit().is_empty());
    p.client.t.accept_host_key(now, &mut p.client.rng).unwrap();
    let e = p.client.input(now, &[]).unwrap_err();
    assert_eq!(
        e,
        PeerMisbehaved::UnexpectedMessage {
            msg: msg::KEXINIT,
            state: "key exchange in progress",
        }
        .into()
    );
    assert_eq!(e.disconnect_reason(), DisconnectReason::ProtocolError);
}

#[test]
fn newkeys_before_the_reply_of_a_re_exchange() {
    let mut p = Pair::established(42);
    let now = p.now;
    p.server.t.start_rekey(now, &mut p.server.rng).unwrap();
    // The server's KEXINIT reaches the client, which answers with its own
    // and its ECDH_INIT; the server then sends NEWKEYS without its REPLY.
    p.server.flush();
    let kexinit = p.server.take_transmit();
    p.client.input(now, &kexinit).unwrap();
    assert!(p.client.t.in_key_exchange());
    p.server.t.tx.send(&[msg::NEWKEYS], Some(&mut p.server.rng));
    let wire = p.server.take_transmit();
    let e = p.client.input(now, &wire).unwrap_err();
    assert_eq!(
        e,
        PeerMisbehaved::UnexpectedMessage {
            msg: msg::NEWKEYS,
            state: "before the key exchange reply",
        }
        .into()
    );
    assert_eq!(e.disconnect_reason(), DisconnectReason::ProtocolError);
}

#[test]
fn a_kex_method_message_after_our_newkeys_is_out_of_place() {
    // The server replied and sent NEWKEYS; a second ECDH_INIT from the
    // client belongs to no step of this exchange.
    let mut p = Pair::new(43);
    p.step().unwrap();
    p.step().unwrap();
    assert!(p.server.t.in_key_exchange());
    let mut init = vec![msg::KEX_ECDH_INIT];
    init.put_string(&[9u8; 32]);
    let wire = plain(&init, &mut p.client.rng);
    let now = p.now;
    let e = p.server.input(now, &wire).unwrap_err();
    assert_eq!(
        e,
        PeerMisbehaved::UnexpectedMessage {
            msg: msg::KEX_ECDH_INIT,
            state: "in this key exchange state",
        }
        .into()
    );
    assert_eq!(e.disconnect_reason(), DisconnectReason::ProtocolError);
}

#[test]
fn a_rekey_asked_for_during_an_exchange_does_not_start_a_second_one() {
    // A request while an exchange runs is covered by that exchange: one
    // KEXINIT from each side, one KeyExchangeDone.
    let mut p = Pair::established(44);
    let now = p.now;
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.client.flush();
    assert!(p.client.t.in_key_exchange());
    p.client.t.start_rekey(now, &mut p.client.rng).unwrap();
    p.run().unwrap();
    assert_eq!(p.client.kex_done_events(), [false, true]);
    assert_eq!(p.server.kex_done_events(), [false, true]);
    assert!(!p.client.t.in_key_exchange() && !p.server.t.in_key_exchange());
    // And the time-based rekey counts from the end of that exchange.
    assert_eq!(
        p.client.t.poll_timeout(),
        Some(now + Duration::from_secs(3600))
    );
}

#[test]
fn input_flooding_the_host_key_pause_names_its_own_error() {
    let mut p = Pair::new(45);
    p.client.auto_accept = false;
    p.run().unwrap();
    let now = p.now;
    let junk = vec![0u8; 256 * 1024];
    let e = (0..8)
        .find_map(|_| p.client.input(now, &junk).err())
        .expect("the client gives up");
    assert_eq!(e, PeerMisbehaved::InputDuringHostKeyDecision.into());
    assert_eq!(e.disconnect_reason(), DisconnectReason::ProtocolError);
    assert_eq!(
        e.to_string(),
        "peer misbehaved: too much data while the host key awaits a decision"
    );
}
