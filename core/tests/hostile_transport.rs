//! Hostile peers against the transport layer (RFC 4253): framing,
//! identification, algorithm negotiation, key exchange state, strict kex
//! (the Terrapin counter-measure), host key proofs and MACs.
//!
//! Every test checks three things: the specific [`Error`], the DISCONNECT
//! reason the victim sent (read in the clear before NEWKEYS, or decrypted by
//! the scripted peer after it), and that the victim gave up after a bounded
//! amount of input.

mod hostile;

use conch_core::msg;
use conch_core::wire::Encode;
use conch_core::{
    ChannelEvent, ClientConfig, DisconnectReason, Error, Event, PeerIncompatible, PeerMisbehaved,
};
use hostile::*;

/// Our limit on a packet (RFC 4253 section 6.1 lets an implementation choose;
/// OpenSSH and the default config use 256 KiB).
const MAX_PACKET: u32 = 256 * 1024;

/// A client victim that has sent its identification and KEXINIT.
fn client_victim() -> Victim {
    Victim::client(ClientConfig::default())
}

// ----------------------------------------------------------------------
// The harness itself
// ----------------------------------------------------------------------

#[test]
fn the_scripted_peer_completes_an_honest_handshake_in_both_roles() {
    let (peer, victim) = Peer::logged_in_client(ClientConfig::default());
    assert!(victim.conn.is_authenticated());
    assert!(peer.strict, "strict kex negotiated");
    assert!(victim
        .saw(|e| matches!(e, Event::KeyExchangeDone { algorithms, .. } if algorithms.strict_kex)));
    let (_, victim) = Peer::logged_in_server(conch_core::ServerConfig::new(vec![ed25519(7)]));
    assert!(victim.conn.is_authenticated());
    assert!(victim.saw(|e| matches!(e, Event::Authenticated { user } if user == USER)));
}

// ----------------------------------------------------------------------
// Binary packet framing (RFC 4253 section 6)
// ----------------------------------------------------------------------

/// Identification line followed by a packet header with these fields.
fn header(length: u32, padding: u8) -> Vec<u8> {
    let mut b = Peer::ident_line();
    b.extend_from_slice(&length.to_be_bytes());
    b.push(padding);
    b
}

/// A client victim fed a packet header with these fields and `body_len`
/// zero bytes, in the clear, fails with `want`, a protocol error.
fn plain_frame_fails(length: u32, padding: u8, body_len: usize, want: PeerMisbehaved) {
    let mut bytes = header(length, padding);
    bytes.resize(bytes.len() + body_len, 0);
    client_victim().feed_fails(&bytes, misbehaved(want), DisconnectReason::ProtocolError);
}

/// A logged-in client victim sent a packet sealed with the session keys
/// and these fields fails with `want`, a protocol error.
fn sealed_frame_fails(length: u32, padding: u8, body: &[u8], want: Error) {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let sealed = peer.seal_fields(length, padding, body);
    peer.send_raw(&sealed);
    peer.pump_fails(&mut victim, want, DisconnectReason::ProtocolError);
}

#[test]
fn packet_length_over_the_limit_is_refused_from_the_length_field_alone() {
    let mut victim = client_victim();
    // 16 MiB announced; only the five header bytes are ever sent, so the
    // victim must decide on the length field without waiting for the body.
    victim.feed_fails(
        &header(16 << 20, 4),
        misbehaved(PeerMisbehaved::BadPacketLength(16 << 20)),
        DisconnectReason::ProtocolError,
    );
    // Just over the limit is refused too (the limit counts the length field).
    let mut victim = client_victim();
    let got = victim.feed(&header(MAX_PACKET - 3, 4));
    assert_eq!(
        got,
        Err(misbehaved(PeerMisbehaved::BadPacketLength(MAX_PACKET - 3)))
    );
}

#[test]
fn packet_length_over_the_limit_after_the_key_exchange() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    // AES-GCM keeps the length in clear (RFC 5647 section 7.3).
    peer.send_raw(&u32::MAX.to_be_bytes());
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::BadPacketLength(u32::MAX)),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn packet_length_not_a_multiple_of_the_block_size() {
    // Before NEWKEYS the block is 8 and covers the length field: 13 + 4 = 17.
    plain_frame_fails(13, 4, 12, PeerMisbehaved::BadPacketLength(13));
    // After it, AES-GCM aligns everything but the length to 16 bytes.
    let bad_length = misbehaved(PeerMisbehaved::BadPacketLength(24));
    sealed_frame_fails(24, 4, &[msg::IGNORE; 23], bad_length);
}

#[test]
fn padding_under_four_bytes() {
    plain_frame_fails(12, 3, 11, PeerMisbehaved::BadPadding(3));
    // Sealed with the real keys, so the MAC passes and the padding length
    // (trusted only once authenticated) is what is wrong.
    let mut body = vec![msg::IGNORE, 0, 0, 0, 0];
    body.resize(15, 0);
    sealed_frame_fails(16, 3, &body, misbehaved(PeerMisbehaved::BadPadding(3)));
}

#[test]
fn padding_as_long_as_the_packet_or_an_empty_payload() {
    sealed_frame_fails(
        16,
        16,
        &[0u8; 15],
        misbehaved(PeerMisbehaved::BadPadding(16)),
    );
    // Padding that leaves zero payload bytes: no message number to read.
    let no_payload = malformed("message number (empty payload)");
    sealed_frame_fails(16, 15, &[0u8; 15], no_payload);
}

#[test]
fn a_flipped_bit_after_the_key_exchange_is_a_mac_error() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let mut sealed = peer.seal(&[msg::IGNORE, 0, 0, 0, 0]);
    sealed[6] ^= 0x20;
    peer.send_raw(&sealed);
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::BadMac),
        DisconnectReason::MacError,
    );
}

// ----------------------------------------------------------------------
// Identification (RFC 4253 section 4.2)
// ----------------------------------------------------------------------

/// 10 MiB: far more than any limit, so a victim that buffered it all would
/// be caught by the bound on bytes fed before the error.
const TEN_MIB: usize = 10 << 20;

/// The victim's limit on text before the version line, plus one feed.
const BANNER_BOUND: usize = 64 * 1024 + 4096;

#[test]
fn an_endless_stream_of_banner_lines_fails_quickly() {
    let mut victim = client_victim();
    let lines = b"Welcome to the machine\r\n".repeat(TEN_MIB / 24);
    let (e, fed) = victim
        .feed_until_error(&lines, 4096)
        .expect("the victim gives up");
    assert!(fed <= BANNER_BOUND, "gave up only after {fed} bytes");
    assert_plain_failure(
        &mut victim,
        Err(e),
        misbehaved(PeerMisbehaved::TooManyBannerLines),
        DisconnectReason::ProtocolError,
    );

    // Many short lines hit the line count first.
    let mut victim = client_victim();
    let (e, fed) = victim
        .feed_until_error(&b"\n".repeat(TEN_MIB), 4096)
        .expect("the victim gives up");
    assert_eq!(e, misbehaved(PeerMisbehaved::TooManyBannerLines));
    assert!(fed <= 8192, "gave up only after {fed} bytes");
}

#[test]
fn an_endless_banner_line_without_a_newline_fails_quickly() {
    let mut victim = client_victim();
    let (e, fed) = victim
        .feed_until_error(&vec![b'x'; TEN_MIB], 4096)
        .expect("the victim gives up");
    assert!(fed <= BANNER_BOUND, "gave up only after {fed} bytes");
    assert_plain_failure(
        &mut victim,
        Err(e),
        misbehaved(PeerMisbehaved::TooManyBannerLines),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_version_line_over_255_bytes_is_refused() {
    for mut victim in [client_victim(), Victim::default_server()] {
        // RFC 4253 section 4.2: 255 bytes at most, CR LF included.
        let mut line = b"SSH-2.0-".to_vec();
        line.resize(TEN_MIB, b'a');
        let (e, fed) = victim
            .feed_until_error(&line, 64)
            .expect("the victim gives up");
        assert!(fed <= 255 + 64, "gave up only after {fed} bytes");
        assert_plain_failure(
            &mut victim,
            Err(e),
            misbehaved(PeerMisbehaved::BadIdentification("version line too long")),
            DisconnectReason::ProtocolError,
        );
    }
    // 256 bytes with CR LF: one over.
    let mut line = b"SSH-2.0-".to_vec();
    line.resize(254, b'b');
    line.extend_from_slice(b"\r\n");
    let mut victim = client_victim();
    assert!(victim.feed(&line).is_err());
}

#[test]
fn another_protocol_version_is_incompatible() {
    let mut victim = Victim::default_server();
    victim.feed_fails(
        b"SSH-1.5-OldSSH\r\n",
        Error::PeerIncompatible(PeerIncompatible::Version("1.5".into())),
        DisconnectReason::ProtocolVersionNotSupported,
    );
}

#[test]
fn control_characters_in_the_version_line_are_refused() {
    let mut victim = client_victim();
    victim.feed_fails(
        b"SSH-2.0-evil\x1b[2J\r\n",
        misbehaved(PeerMisbehaved::BadIdentification(
            "control character in version line",
        )),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Algorithm negotiation (RFC 4253 section 7.1)
// ----------------------------------------------------------------------

#[test]
fn a_kexinit_with_no_algorithm_in_common_names_the_slot() {
    type Change = fn(&mut KexLists);
    let cases: [(&str, Change); 4] = [
        ("kex", |l| l.kex = vec!["diffie-hellman-group1-sha1".into()]),
        ("host key", |l| l.host_key = vec!["ssh-dss".into()]),
        ("cipher c->s", |l| l.cipher = vec!["3des-cbc".into()]),
        ("compression c->s", |l| l.compression = vec!["zlib".into()]),
    ];
    for (slot, change) in cases {
        let mut peer = Peer::server();
        change(&mut peer.lists);
        let mut victim = client_victim();
        peer.start();
        let got = peer.pump(&mut victim);
        let Err(Error::PeerIncompatible(PeerIncompatible::NoCommonAlgorithm {
            kind,
            ours,
            theirs,
        })) = got.clone()
        else {
            panic!("{slot}: {got:?}");
        };
        assert_eq!(kind, slot);
        assert!(
            !ours.is_empty() && !theirs.is_empty(),
            "{slot}: both lists named"
        );
        let want = got.clone().unwrap_err();
        assert_peer_saw_failure(
            &peer,
            &mut victim,
            got,
            want,
            DisconnectReason::KeyExchangeFailed,
        );
        assert!(!victim.saw(|e| matches!(e, Event::HostKey { .. })));
    }
}

#[test]
fn mac_lists_do_not_matter_with_an_aead_cipher() {
    // RFC 5647 section 5.1 as OpenSSH does it: the MAC slot is ignored when
    // the cipher is AEAD, so a MAC list with nothing in common is fine.
    let mut peer = Peer::server();
    peer.lists.mac = vec!["umac-64@openssh.com".into()];
    let mut victim = client_victim();
    peer.establish(&mut victim, Stage::Authenticated);
}

#[test]
fn huge_name_lists_are_refused_without_allocating_them() {
    // One list of 100 KiB (over the 64 KiB a list may take) in a packet
    // under the 256 KiB limit.
    let mut peer = Peer::server();
    peer.lists.kex = vec!["x".repeat(100 * 1024)];
    let mut victim = client_victim();
    peer.start();
    let want = malformed("name-list (too long)");
    peer.pump_fails(&mut victim, want, DisconnectReason::ProtocolError);

    // Many tiny names: 5000 of them in 24 KiB (over the 1024 items a list
    // may hold).
    let mut peer = Peer::server();
    peer.lists.host_key = (0..5_000).map(|i| format!("k{i}")).collect();
    let mut victim = client_victim();
    peer.start();
    let want = malformed("name-list");
    peer.pump_fails(&mut victim, want, DisconnectReason::ProtocolError);
}

#[test]
fn a_string_claiming_four_gib_is_a_decode_error() {
    // A KEXINIT whose first name-list claims 2^32-1 bytes.
    let mut kexinit = vec![msg::KEXINIT];
    kexinit.extend_from_slice(&[0u8; 16]);
    kexinit.put_u32(u32::MAX);
    kexinit.extend_from_slice(b"curve25519-sha256");
    let bytes = ident_then_packet(&kexinit);
    let mut victim = client_victim();
    victim.feed_fails(&bytes, malformed("string"), DisconnectReason::ProtocolError);
}

#[test]
fn a_name_list_that_is_not_ascii_is_refused() {
    let mut peer = Peer::server();
    peer.lists.cipher = vec!["aes128-gcm@openssh.com".into(), "caf\u{e9}".into()];
    let mut victim = client_victim();
    peer.start();
    let want = malformed("name-list");
    peer.pump_fails(&mut victim, want, DisconnectReason::ProtocolError);

    // Not even UTF-8.
    let mut kexinit = vec![msg::KEXINIT];
    kexinit.extend_from_slice(&[0u8; 16]);
    kexinit.put_string(b"curve25519-sha256,\xff\xfe");
    let bytes = ident_then_packet(&kexinit);
    let mut victim = client_victim();
    victim.feed_fails(
        &bytes,
        malformed("name-list"),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Messages out of place (RFC 4253 sections 7 and 11)
// ----------------------------------------------------------------------

#[test]
fn newkeys_without_a_key_exchange() {
    // Before any KEXINIT from the peer: nothing was agreed, there are no keys.
    let mut victim = client_victim();
    let bytes = ident_then_packet(&[msg::NEWKEYS]);
    victim.feed_fails(
        &bytes,
        unexpected(msg::NEWKEYS, "before the key exchange reply"),
        DisconnectReason::ProtocolError,
    );

    // After KEXINIT but before the reply (a server victim that never got
    // our ECDH_INIT).
    let mut peer = Peer::client();
    peer.manual = true;
    let mut victim = Victim::default_server();
    peer.start();
    peer.send(&[msg::NEWKEYS]);
    peer.pump_fails(
        &mut victim,
        unexpected(msg::NEWKEYS, "before the key exchange reply"),
        DisconnectReason::ProtocolError,
    );

    // Long after the exchange is over.
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    peer.inject_fails(
        &mut victim,
        &[msg::NEWKEYS],
        unexpected(msg::NEWKEYS, "no key exchange in progress"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_kex_reply_sent_to_a_server() {
    let mut peer = Peer::client();
    peer.manual = true;
    let mut victim = Victim::default_server();
    peer.start();
    let mut reply = vec![msg::KEX_ECDH_REPLY];
    reply.put_string(ed25519(1).public_key().blob());
    reply.put_string(&[9; 32]);
    reply.put_string(b"sig");
    peer.send(&reply);
    peer.pump_fails(
        &mut victim,
        unexpected(msg::KEX_ECDH_REPLY, "in this key exchange state"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_kex_method_message_before_kexinit() {
    let mut victim = Victim::default_server();
    let mut init = vec![msg::KEX_ECDH_INIT];
    init.put_string(&[9; 32]);
    let bytes = ident_then_packet(&init);
    victim.feed_fails(
        &bytes,
        unexpected(msg::KEX_ECDH_INIT, "before KEXINIT"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_second_kexinit_during_the_key_exchange() {
    let mut peer = Peer::server();
    peer.manual = true;
    let mut victim = client_victim();
    peer.start();
    let lists = peer.lists.clone();
    let again = peer.kexinit_payload(&lists, false);
    peer.send(&again);
    peer.pump_fails(
        &mut victim,
        unexpected(msg::KEXINIT, "key exchange in progress"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_kexinit_during_the_host_key_pause_is_refused_once_the_key_is_accepted() {
    // The client processes nothing after the server's reply, and sends
    // nothing (not even NEWKEYS), until its application accepts the host
    // key; the server's second KEXINIT of the exchange is refused then.
    let mut peer = Peer::server();
    peer.kexinit_before_newkeys = true;
    let mut victim = client_victim();
    victim.policy.accept_host_key = false;
    peer.start();
    peer.pump(&mut victim).unwrap();
    assert!(victim.saw(|e| matches!(e, Event::HostKey { .. })));
    assert!(victim.conn.error().is_none());
    assert!(peer.received_msgs(msg::NEWKEYS).is_empty());
    // The decision itself is fine; the packet it lets through ends the
    // connection, reported as the event.
    assert_eq!(victim.call(|c| c.accept_host_key()), Ok(()));
    let got = victim.conn.error().map_or(Ok(()), |e| Err(e.clone()));
    let out = victim.take_output();
    peer.absorb(&out);
    assert_eq!(peer.received_msgs(msg::NEWKEYS).len(), 1);
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        got,
        unexpected(msg::KEXINIT, "key exchange in progress"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn user_authentication_before_the_key_exchange() {
    let mut victim = Victim::default_server();
    let mut request = vec![msg::USERAUTH_REQUEST];
    request.put_str("root");
    request.put_str("ssh-connection");
    request.put_str("none");
    let bytes = ident_then_packet(&request);
    victim.feed_fails(
        &bytes,
        unexpected(msg::USERAUTH_REQUEST, "before the first key exchange"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(e, Event::AuthRequest { .. })));
}

#[test]
fn ext_info_before_newkeys() {
    // RFC 8308 section 2.4: only right after NEWKEYS.
    let mut peer = Peer::server();
    peer.strict_kex = false;
    peer.manual = true;
    let mut victim = client_victim();
    peer.start();
    let mut ext = vec![msg::EXT_INFO];
    ext.put_u32(1);
    ext.put_str("server-sig-algs");
    ext.put_str("ssh-ed25519");
    peer.send(&ext);
    peer.pump_fails(
        &mut victim,
        unexpected(msg::EXT_INFO, "before the first key exchange"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn unknown_messages_get_unimplemented_with_the_right_sequence_number() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    // Strict kex restarted our numbering at NEWKEYS; the victim must name
    // the packet by the number it had.
    let seq = peer.tx_seq;
    for m in [15u8, 200] {
        peer.inject(&mut victim, &[m, 1, 2, 3]).unwrap();
    }
    let unimplemented: Vec<u32> = peer
        .received_msgs(msg::UNIMPLEMENTED)
        .iter()
        .map(|p| u32::from_be_bytes(p.payload[1..5].try_into().unwrap()))
        .collect();
    assert_eq!(unimplemented, [seq, seq + 1]);
    assert!(victim.conn.error().is_none());
}

// ----------------------------------------------------------------------
// Strict key exchange: the Terrapin attack (CVE-2023-48795)
// ----------------------------------------------------------------------

#[test]
fn terrapin_ignore_injected_during_the_initial_exchange_is_refused() {
    // A man in the middle inserts an IGNORE after the server's KEXINIT, to
    // shift the client's receive sequence number and later delete a packet
    // (EXT_INFO) without a MAC failure. Strict kex forbids any message but
    // the exchange's own until NEWKEYS.
    let mut peer = Peer::server();
    let mut victim = client_victim();
    peer.start();
    let mut ignore = vec![msg::IGNORE];
    ignore.put_string(b"shift");
    peer.send(&ignore);
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::StrictKexViolation(msg::IGNORE)),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(e, Event::HostKey { .. })));
}

#[test]
fn terrapin_ignore_before_kexinit_shifts_its_sequence_number_and_is_refused() {
    // Injected before the KEXINIT, the IGNORE cannot be judged yet (strict
    // kex is not known), but it moves the KEXINIT to sequence number 1,
    // which strict kex forbids.
    let mut peer = Peer::server();
    peer.manual = true;
    let mut victim = client_victim();
    peer.send_raw(&Peer::ident_line());
    let mut ignore = vec![msg::IGNORE];
    ignore.put_string(b"");
    peer.send(&ignore);
    let lists = peer.lists.clone();
    let kexinit = peer.kexinit_payload(&lists, true);
    assert_eq!(peer.tx_seq, 1, "the KEXINIT goes out as packet 1");
    peer.send(&kexinit);
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::StrictKexViolation(msg::KEXINIT)),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn terrapin_debug_and_unimplemented_are_refused_too() {
    for injected in [
        vec![msg::DEBUG, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![msg::UNIMPLEMENTED, 0, 0, 0, 1],
    ] {
        let mut peer = Peer::client();
        let mut victim = Victim::default_server();
        peer.start();
        peer.send(&injected);
        peer.pump_fails(
            &mut victim,
            misbehaved(PeerMisbehaved::StrictKexViolation(injected[0])),
            DisconnectReason::ProtocolError,
        );
    }
}

#[test]
fn without_strict_kex_an_injected_ignore_breaks_the_next_chacha20_packet() {
    // chacha20-poly1305@openssh.com takes its nonce from the sequence
    // number (OpenSSH PROTOCOL.chacha20poly1305): a man in the middle who
    // inserts one plaintext IGNORE shifts the client's count, and the first
    // encrypted packet then fails to decrypt. (The full Terrapin attack also deletes a
    // packet to set the count right again, which only strict kex catches;
    // see the tests above.)
    let mut peer = Peer::server().with_cipher(&conch_core::cipher::CHACHA20_POLY1305);
    peer.strict_kex = false;
    let mut victim = client_victim();
    peer.start();
    // Inserted by the man in the middle: not counted by the real server.
    peer.send_raw(&plain_packet(&[msg::IGNORE, 0, 0, 0, 0]));
    let got = peer.pump(&mut victim);
    // The length is encrypted under the sequence number too, so it is the
    // first thing to come out wrong: a random length, refused before its
    // MAC could even be checked (or the MAC, should the length fit).
    let want = match &got {
        Err(Error::PeerMisbehaved(e @ PeerMisbehaved::BadPacketLength(_)))
        | Err(Error::PeerMisbehaved(e @ PeerMisbehaved::BadMac)) => misbehaved(e.clone()),
        other => panic!("{other:?}"),
    };
    let reason = want.disconnect_reason();
    assert_peer_saw_failure(&peer, &mut victim, got, want, reason);
    assert!(victim.saw(|e| matches!(
        e,
        Event::KeyExchangeDone { algorithms, .. }
            if !algorithms.strict_kex && algorithms.cipher_s2c == "chacha20-poly1305@openssh.com"
    )));
}

#[test]
fn strict_kex_with_chacha20_refuses_the_injected_ignore_before_any_harm() {
    let mut peer = Peer::server().with_cipher(&conch_core::cipher::CHACHA20_POLY1305);
    let mut victim = client_victim();
    peer.start();
    peer.send_raw(&plain_packet(&[msg::IGNORE, 0, 0, 0, 0]));
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::StrictKexViolation(msg::IGNORE)),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn without_strict_kex_on_the_peer_an_injected_ignore_is_tolerated() {
    // Both must offer strict kex for it to apply (OpenSSH PROTOCOL); with
    // AES-GCM, whose nonce does not involve the sequence number, the shift
    // is harmless, and the connection works.
    let mut peer = Peer::server();
    peer.strict_kex = false;
    let mut victim = client_victim();
    peer.start();
    peer.send(&[msg::IGNORE, 0, 0, 0, 0]);
    peer.pump(&mut victim).unwrap();
    assert!(victim.conn.is_authenticated());
    assert!(victim
        .saw(|e| matches!(e, Event::KeyExchangeDone { algorithms, .. } if !algorithms.strict_kex)));
}

// ----------------------------------------------------------------------
// Host key proof (RFC 4253 section 8, RFC 8709)
// ----------------------------------------------------------------------

#[test]
fn a_bad_host_key_signature_is_refused_before_the_application_sees_the_key() {
    let mut peer = Peer::server();
    peer.corrupt_signature = true;
    let mut victim = client_victim();
    peer.start();
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::BadHostKeySignature),
        DisconnectReason::KeyExchangeFailed,
    );
    assert!(!victim.saw(|e| matches!(e, Event::HostKey { .. })));
    assert!(peer.received_msgs(msg::NEWKEYS).is_empty());
}

/// An `ssh-rsa` public key blob (RFC 4253 section 6.6).
fn rsa_blob() -> Vec<u8> {
    let mut blob = Vec::new();
    blob.put_str("ssh-rsa");
    blob.put_mpint(&[1, 0, 1]);
    let mut modulus = vec![0xc5u8; 256];
    modulus[255] |= 1;
    blob.put_mpint(&modulus);
    blob
}

#[test]
fn a_host_key_of_the_wrong_type_is_refused() {
    // ssh-ed25519 was negotiated; the reply carries an RSA key.
    let mut peer = Peer::server();
    peer.host_key_blob_override = Some(rsa_blob());
    let mut victim = client_victim();
    peer.start();
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::WrongHostKeyType("ssh-rsa".into())),
        DisconnectReason::KeyExchangeFailed,
    );
    assert!(!victim.saw(|e| matches!(e, Event::HostKey { .. })));
}

#[test]
fn a_host_key_blob_that_does_not_parse_is_malformed() {
    let mut peer = Peer::server();
    let mut blob = Vec::new();
    blob.put_str("ssh-ed25519");
    blob.put_string(&[1, 2, 3]);
    peer.host_key_blob_override = Some(blob);
    let mut victim = client_victim();
    peer.start();
    let want = malformed("host key");
    peer.pump_fails(&mut victim, want, DisconnectReason::ProtocolError);
}

#[test]
fn a_host_key_swapped_on_rekey_is_refused() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    // A valid proof for another key: the one the user accepted is gone.
    peer.host_key = ed25519(0xd1ff);
    peer.start_rekey();
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::HostKeyChangedOnRekey),
        DisconnectReason::KeyExchangeFailed,
    );
    assert_eq!(victim.count(|e| matches!(e, Event::HostKey { .. })), 1);
}

#[test]
fn an_honest_rekey_from_the_peer_works_and_keeps_the_session() {
    // The control for the test above.
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    peer.start_rekey();
    peer.pump(&mut victim).unwrap();
    assert!(victim.saw(|e| matches!(e, Event::KeyExchangeDone { rekey: true, .. })));
    peer.inject(&mut victim, &[200]).unwrap();
    assert_eq!(peer.received_msgs(msg::UNIMPLEMENTED).len(), 1);
}

#[test]
fn a_low_order_curve25519_point_is_a_bad_kex_value() {
    // All zeros is a point of small order: the shared secret would be zero
    // (RFC 7748 section 6.1, RFC 8731 section 3).
    let mut peer = Peer::client();
    peer.manual = true;
    let mut victim = Victim::default_server();
    peer.start();
    let mut init = vec![msg::KEX_ECDH_INIT];
    init.put_string(&[0u8; 32]);
    peer.send(&init);
    peer.pump_fails(
        &mut victim,
        misbehaved(PeerMisbehaved::BadKexValue),
        DisconnectReason::KeyExchangeFailed,
    );
}

#[test]
fn connection_messages_between_the_peers_kexinit_and_its_newkeys() {
    // RFC 4253 section 7.1: once a party has sent KEXINIT, it sends nothing
    // but transport and key exchange messages until its NEWKEYS. A peer
    // that does anyway could make us queue answers that cannot go out
    // before the exchange ends, for as long as it stalls the exchange.
    let (mut peer, mut victim) =
        Peer::logged_in_server(conch_core::ServerConfig::new(vec![ed25519(7)]));
    peer.manual = true;
    peer.start_rekey();
    let mut open = vec![msg::CHANNEL_OPEN];
    open.put_str("session");
    open.put_u32(0);
    open.put_u32(1 << 20);
    open.put_u32(32768);
    peer.send(&open);
    peer.pump_fails(
        &mut victim,
        unexpected(msg::CHANNEL_OPEN, "during key exchange"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::OpenRequest { .. },
            ..
        }
    )));
}

#[test]
fn input_while_the_host_key_awaits_the_application_is_bounded() {
    // Nothing is processed until the application accepts or rejects the
    // key; a server that keeps sending meanwhile is cut off rather than
    // buffered without end.
    let mut peer = Peer::server();
    let mut victim = client_victim();
    victim.policy.accept_host_key = false;
    peer.start();
    peer.pump(&mut victim).unwrap();
    assert!(victim.saw(|e| matches!(e, Event::HostKey { .. })));
    let filler = peer.seal(&[&[msg::IGNORE, 0, 0, 0xff, 0xf0][..], &[0; 0xfff0]].concat());
    let flood: Vec<u8> = filler.iter().copied().cycle().take(TEN_MIB).collect();
    let (e, fed) = victim
        .feed_until_error(&flood, 64 * 1024)
        .expect("the victim gives up");
    // Four packets of the largest size, plus one read.
    assert!(fed <= 4 * MAX_PACKET as usize + 64 * 1024, "fed {fed}");
    let want = misbehaved(PeerMisbehaved::InputDuringHostKeyDecision);
    assert_eq!(e, want);
    let out = victim.take_output();
    peer.absorb(&out);
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        Err(e),
        want,
        DisconnectReason::ProtocolError,
    );
}
