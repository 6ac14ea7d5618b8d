//! Hostile peers against the connection protocol (RFC 4254), after a real
//! key exchange and login: windows, channel numbers, floods of opens and
//! requests, huge and non-UTF-8 strings. Each test checks the error, the
//! DISCONNECT reason the peer decrypted, and that what the victim holds
//! stays within a bound set by its configuration.

mod hostile;

use conch_core::msg;
use conch_core::wire::Encode;
use conch_core::{
    ChannelConfig, ChannelEvent, ChannelId, ClientConfig, DisconnectReason, Error, Event,
    PeerMisbehaved, ServerConfig,
};
use hostile::*;

/// The peer's number for the channel it confirms.
const PEER_CHANNEL: u32 = 5;

/// A logged-in client victim with `channels` settings and a session
/// channel the scripted server confirmed with `window` and `max_packet`.
fn client_with_channel(
    channels: ChannelConfig,
    window: u32,
    max_packet: u32,
) -> (Peer, Victim, ChannelId) {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig {
        channels,
        ..ClientConfig::default()
    });
    let id = victim.call(|c| c.open_session()).unwrap();
    peer.pump(&mut victim).unwrap();
    let open = peer.received_msgs(msg::CHANNEL_OPEN);
    let open = open.last().expect("CHANNEL_OPEN sent");
    // string "session", then the sender's channel number.
    let sender = u32::from_be_bytes(open.payload[12..16].try_into().unwrap());
    assert_eq!(sender, id.0);
    let mut p = vec![msg::CHANNEL_OPEN_CONFIRMATION];
    p.put_u32(id.0);
    p.put_u32(PEER_CHANNEL);
    p.put_u32(window);
    p.put_u32(max_packet);
    peer.inject(&mut victim, &p).unwrap();
    assert!(victim.saw(|e| matches!(e, Event::Channel { id: channel, event: ChannelEvent::Opened } if *channel == id)));
    (peer, victim, id)
}

fn data(channel: u32, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![msg::CHANNEL_DATA];
    p.put_u32(channel);
    p.put_string(bytes);
    p
}

fn extended_data(channel: u32, bytes: &[u8]) -> Vec<u8> {
    let mut p = vec![msg::CHANNEL_EXTENDED_DATA];
    p.put_u32(channel);
    p.put_u32(1);
    p.put_string(bytes);
    p
}

fn received_data(victim: &Victim) -> usize {
    victim
        .log
        .iter()
        .map(|e| match e {
            Event::Channel {
                event: ChannelEvent::Data { data, .. },
                ..
            }
            | Event::Channel {
                event: ChannelEvent::ExtendedData { data, .. },
                ..
            } => data.len(),
            _ => 0,
        })
        .sum()
}

fn small_window(window: u32) -> ChannelConfig {
    ChannelConfig {
        window_size: window,
        max_packet_size: 1024,
        ..ChannelConfig::default()
    }
}

// ----------------------------------------------------------------------
// Windows (RFC 4254 section 5.2)
// ----------------------------------------------------------------------

#[test]
fn channel_data_past_the_window() {
    let (mut peer, mut victim, id) = client_with_channel(small_window(4096), 1 << 20, 32768);
    // The application reads nothing: the window never reopens.
    victim.policy.consume_data = false;
    for _ in 0..4 {
        peer.inject(&mut victim, &data(id.0, &[b'd'; 1000]))
            .unwrap();
    }
    // Stderr counts against the same window.
    peer.inject(&mut victim, &extended_data(id.0, &[b'e'; 96]))
        .unwrap();
    peer.inject_fails(
        &mut victim,
        &data(id.0, &[b'!'; 1]),
        misbehaved(PeerMisbehaved::WindowExceeded(id.0)),
        DisconnectReason::ProtocolError,
    );
    // What the victim handed up (and holds for the application) is exactly
    // the window.
    assert_eq!(received_data(&victim), 4096);
}

#[test]
fn a_window_consumed_and_adjusted_admits_more_and_no_more() {
    // The control: consuming reopens the window by WINDOW_ADJUST, and the
    // peer may then send what was returned, not a byte beyond.
    let (mut peer, mut victim, id) = client_with_channel(small_window(4096), 1 << 20, 32768);
    for _ in 0..8 {
        peer.inject(&mut victim, &data(id.0, &[b'd'; 1024]))
            .unwrap();
    }
    assert_eq!(received_data(&victim), 8192);
    let adjusts: u32 = peer
        .received_msgs(msg::CHANNEL_WINDOW_ADJUST)
        .iter()
        .map(|p| u32::from_be_bytes(p.payload[5..9].try_into().unwrap()))
        .sum();
    let room = (4096 + adjusts - 8192) as usize;
    assert!(room > 0);
    for piece in vec![b'x'; room].chunks(1024) {
        peer.send(&data(id.0, piece));
    }
    // All of it at once: the adjusts the victim sends meanwhile are not
    // seen by the peer before the last byte.
    victim.policy.consume_data = false;
    peer.pump(&mut victim).unwrap();
    let got = peer.inject(&mut victim, &data(id.0, b"y"));
    assert_eq!(got, Err(misbehaved(PeerMisbehaved::WindowExceeded(id.0))));
}

#[test]
fn channel_data_over_the_maximum_packet_size() {
    let (mut peer, mut victim, id) = client_with_channel(small_window(1 << 20), 1 << 20, 32768);
    peer.inject_fails(
        &mut victim,
        &data(id.0, &[0; 1025]),
        misbehaved(PeerMisbehaved::ChannelPacketTooLarge(id.0)),
        DisconnectReason::ProtocolError,
    );
    assert_eq!(received_data(&victim), 0);
}

#[test]
fn a_window_adjust_that_overflows_two_to_the_32() {
    let (mut peer, mut victim, id) =
        client_with_channel(ChannelConfig::default(), u32::MAX - 10, 32768);
    let adjust = |n: u32| {
        let mut p = vec![msg::CHANNEL_WINDOW_ADJUST];
        p.put_u32(id.0);
        p.put_u32(n);
        p
    };
    // Up to exactly 2^32-1 is fine.
    peer.inject(&mut victim, &adjust(10)).unwrap();
    assert_eq!(
        victim.conn.send_capacity(id).unwrap(),
        (u32::MAX as usize).min(ChannelConfig::default().send_buffer_limit)
    );
    peer.inject_fails(
        &mut victim,
        &adjust(1),
        misbehaved(PeerMisbehaved::WindowOverflow(id.0)),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Channel numbers
// ----------------------------------------------------------------------

#[test]
fn data_for_a_channel_that_does_not_exist() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    peer.inject_fails(
        &mut victim,
        &data(77, b"hello"),
        misbehaved(PeerMisbehaved::UnknownChannel(77)),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::Data { .. },
            ..
        }
    )));
}

#[test]
fn data_for_a_channel_after_it_closed() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut close = vec![msg::CHANNEL_CLOSE];
    close.put_u32(id.0);
    peer.inject(&mut victim, &close).unwrap();
    assert!(victim.saw(|e| matches!(e, Event::Channel { id: channel, event: ChannelEvent::Closed } if *channel == id)));
    assert_eq!(peer.received_msgs(msg::CHANNEL_CLOSE).len(), 1);
    peer.inject_fails(
        &mut victim,
        &data(id.0, b"late"),
        misbehaved(PeerMisbehaved::UnknownChannel(id.0)),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn data_for_a_channel_not_confirmed_yet() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let id = victim.call(|c| c.open_session()).unwrap();
    peer.pump(&mut victim).unwrap();
    peer.inject_fails(
        &mut victim,
        &data(id.0, b"early"),
        misbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: msg::CHANNEL_DATA,
            state: "before the channel open was confirmed",
        }),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_confirmation_for_a_channel_never_opened() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let mut p = vec![msg::CHANNEL_OPEN_CONFIRMATION];
    p.put_u32(3);
    p.put_u32(0);
    p.put_u32(1000);
    p.put_u32(1000);
    peer.inject_fails(
        &mut victim,
        &p,
        misbehaved(PeerMisbehaved::UnknownChannel(3)),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn data_after_the_peers_eof() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut eof = vec![msg::CHANNEL_EOF];
    eof.put_u32(id.0);
    peer.inject(&mut victim, &eof).unwrap();
    peer.inject_fails(
        &mut victim,
        &data(id.0, b"more"),
        misbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: msg::CHANNEL_DATA,
            state: "after the peer's channel EOF",
        }),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn replies_nobody_asked_for() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut p = vec![msg::CHANNEL_SUCCESS];
    p.put_u32(id.0);
    peer.inject_fails(
        &mut victim,
        &p,
        misbehaved(PeerMisbehaved::UnsolicitedReply),
        DisconnectReason::ProtocolError,
    );

    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    peer.inject_fails(
        &mut victim,
        &[msg::REQUEST_SUCCESS],
        misbehaved(PeerMisbehaved::UnsolicitedReply),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Floods
// ----------------------------------------------------------------------

fn session_open(sender: u32) -> Vec<u8> {
    let mut p = vec![msg::CHANNEL_OPEN];
    p.put_str("session");
    p.put_u32(sender);
    p.put_u32(1 << 20);
    p.put_u32(32768);
    p
}

/// Opens sent per delivery: the victim's output per delivery is bounded by
/// this many answers.
const OPENS_PER_BATCH: u32 = 500;

/// An OPEN_FAILURE or OPEN_CONFIRMATION with its framing is well under
/// this many bytes on the wire.
const ANSWER_BOUND: usize = 128;

#[test]
fn tens_of_thousands_of_channel_opens() {
    const OPENS: u32 = 30_000;
    let max_channels = ChannelConfig::default().max_channels;
    for accept in [true, false] {
        // The count is what is tested here: no session limit, and a
        // budget that holds `max_channels` windows (both have their own
        // tests in hostile_limits.rs).
        let mut config = ServerConfig::new(vec![ed25519(7)]);
        config.channels.max_sessions = u32::MAX;
        config.channels.memory_budget = usize::MAX;
        let (mut peer, mut victim) = Peer::logged_in_server(config);
        victim.policy.accept_channels = accept;
        for batch in 0..OPENS / OPENS_PER_BATCH {
            for i in 0..OPENS_PER_BATCH {
                peer.send(&session_open(batch * OPENS_PER_BATCH + i));
            }
            peer.pump(&mut victim)
                .expect("opens are refused, not fatal");
        }
        // The application was asked about at most `max_channels`; the rest
        // were refused at once with `resource shortage` (RFC 4254 section 5.1).
        let asked = victim.count(|e| {
            matches!(
                e,
                Event::Channel {
                    event: ChannelEvent::OpenRequest { .. },
                    ..
                }
            )
        });
        assert_eq!(asked, max_channels as usize);
        let failures = peer.received_msgs(msg::CHANNEL_OPEN_FAILURE);
        assert_eq!(failures.len(), (OPENS - max_channels) as usize);
        assert!(failures
            .iter()
            .all(|p| p.payload[5..9] == 4u32.to_be_bytes()));
        let confirmed = peer.received_msgs(msg::CHANNEL_OPEN_CONFIRMATION).len();
        assert_eq!(confirmed, if accept { max_channels as usize } else { 0 });
        // The victim never held more output than one batch's answers.
        assert!(
            victim.max_transmit <= OPENS_PER_BATCH as usize * ANSWER_BOUND,
            "transmit buffer reached {}",
            victim.max_transmit
        );
        assert!(victim.conn.error().is_none());
    }
}

#[test]
fn a_flood_of_global_requests_awaiting_the_application() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    // The application does not answer `GlobalRequest` events.
    let mut got = Ok(());
    let mut sent = 0;
    while got.is_ok() && sent < 10_000 {
        sent += 1;
        let mut p = vec![msg::GLOBAL_REQUEST];
        p.put_str("tcpip-forward");
        p.put_bool(true);
        p.put_str("0.0.0.0");
        p.put_u32(sent);
        got = peer.inject(&mut victim, &p);
    }
    assert_eq!(sent, 65, "64 pending replies are allowed");
    assert_eq!(
        victim.count(|e| matches!(e, Event::GlobalRequest { .. })),
        64
    );
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        got,
        misbehaved(PeerMisbehaved::TooManyPendingReplies),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_flood_of_keepalives_is_answered_without_piling_up() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    for _ in 0..20 {
        for _ in 0..500 {
            let mut p = vec![msg::GLOBAL_REQUEST];
            p.put_str("keepalive@openssh.com");
            p.put_bool(true);
            peer.send(&p);
        }
        peer.pump(&mut victim).unwrap();
    }
    assert_eq!(peer.received_msgs(msg::REQUEST_FAILURE).len(), 10_000);
    assert!(victim.max_transmit <= 500 * ANSWER_BOUND);
    assert!(!victim.saw(|e| matches!(e, Event::GlobalRequest { .. })));
}

#[test]
fn a_flood_of_channel_requests_awaiting_the_application() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut got = Ok(());
    let mut sent = 0;
    while got.is_ok() && sent < 10_000 {
        sent += 1;
        let mut p = vec![msg::CHANNEL_REQUEST];
        p.put_u32(id.0);
        p.put_str("x-custom@example.com");
        p.put_bool(true);
        got = peer.inject(&mut victim, &p);
    }
    assert_eq!(sent, 65);
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        got,
        misbehaved(PeerMisbehaved::TooManyPendingReplies),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Huge strings and invalid text
// ----------------------------------------------------------------------

#[test]
fn channel_data_claiming_four_gib() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut p = vec![msg::CHANNEL_DATA];
    p.put_u32(id.0);
    p.put_u32(u32::MAX);
    p.put_raw(b"short");
    peer.inject_malformed(&mut victim, &p, "string");
}

#[test]
fn a_channel_type_that_is_not_ascii() {
    let (mut peer, mut victim) = Peer::logged_in_server(ServerConfig::new(vec![ed25519(7)]));
    let mut p = vec![msg::CHANNEL_OPEN];
    p.put_string("s\u{e9}ssion".as_bytes());
    p.put_u32(0);
    p.put_u32(1000);
    p.put_u32(1000);
    peer.inject_malformed(&mut victim, &p, "ASCII name");
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::OpenRequest { .. },
            ..
        }
    )));
}

#[test]
fn an_env_request_that_is_not_utf8() {
    let (mut peer, mut victim) = Peer::logged_in_server(ServerConfig::new(vec![ed25519(7)]));
    peer.inject(&mut victim, &session_open(0)).unwrap();
    let id = victim
        .log
        .iter()
        .find_map(|e| match e {
            Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { .. },
            } => Some(*channel),
            _ => None,
        })
        .unwrap();
    let mut p = vec![msg::CHANNEL_REQUEST];
    p.put_u32(id.0);
    p.put_str("env");
    p.put_bool(false);
    p.put_string(b"LANG\xc0");
    p.put_str("C");
    peer.inject_malformed(&mut victim, &p, "UTF-8 string");
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::Request { .. },
            ..
        }
    )));
}

#[test]
fn an_open_failure_description_that_is_not_utf8() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let id = victim.call(|c| c.open_session()).unwrap();
    peer.pump(&mut victim).unwrap();
    let mut p = vec![msg::CHANNEL_OPEN_FAILURE];
    p.put_u32(id.0);
    p.put_u32(2);
    p.put_string(b"no \xff way");
    p.put_str("");
    peer.inject_malformed(&mut victim, &p, "UTF-8 string");
}

#[test]
fn an_exit_signal_that_is_not_utf8() {
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut p = vec![msg::CHANNEL_REQUEST];
    p.put_u32(id.0);
    p.put_str("exit-signal");
    p.put_bool(false);
    p.put_string(b"KILL\xfe");
    p.put_bool(false);
    p.put_str("");
    p.put_str("");
    peer.inject_malformed(&mut victim, &p, "UTF-8 string");
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::ExitSignal { .. },
            ..
        }
    )));
}

#[test]
fn a_disconnect_with_a_description_that_is_not_utf8_still_ends_cleanly() {
    // The peer's reason is reported whatever its text: lossily decoded and
    // stripped of control characters.
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let mut p = vec![msg::DISCONNECT];
    p.put_u32(11);
    p.put_string(b"bye \xff\x1b[2J");
    p.put_str("");
    let got = peer.inject(&mut victim, &p);
    let want = Error::PeerDisconnected {
        reason: DisconnectReason::ByApplication,
        description: "bye \u{fffd}[2J".into(),
    };
    assert_eq!(got, Err(want.clone()));
    assert_eq!(victim.disconnected(), Some(&want));
    // Nothing is sent back after a DISCONNECT (RFC 4253 section 11.1).
    assert!(peer.received_msgs(msg::DISCONNECT).is_empty());
}

/// The send buffer limit of [`client_with_a_small_send_buffer`].
const SMALL_SEND_BUFFER: usize = 64 * 1024;

/// A logged-in client victim whose send buffer holds [`SMALL_SEND_BUFFER`].
fn client_with_a_small_send_buffer() -> (Peer, Victim) {
    let channels = ChannelConfig {
        send_buffer_limit: SMALL_SEND_BUFFER,
        ..ChannelConfig::default()
    };
    Peer::logged_in_client(ClientConfig {
        channels,
        ..ClientConfig::default()
    })
}

/// Sends keepalive requests that want an answer, 500 at a time, each batch
/// handed over by `deliver`, until the victim fails (or a million were
/// sent); how many were sent, and the verdict on the last batch.
fn ask_without_end(
    peer: &mut Peer,
    victim: &mut Victim,
    mut deliver: impl FnMut(&mut Peer, &mut Victim) -> Result<(), Error>,
) -> (usize, Result<(), Error>) {
    let mut keepalive = vec![msg::GLOBAL_REQUEST];
    keepalive.put_str("keepalive@openssh.com");
    keepalive.put_bool(true);
    let mut result = Ok(());
    let mut asked = 0;
    while result.is_ok() && asked < 1_000_000 {
        for _ in 0..500 {
            peer.send(&keepalive);
        }
        asked += 500;
        result = deliver(peer, victim);
    }
    (asked, result)
}

/// The victim cut the peer off for answers it does not take, soon enough,
/// and raised that as its last event.
#[track_caller]
fn assert_cut_off_for_unread_answers(victim: &Victim, asked: usize, result: Result<(), Error>) {
    assert!(asked < 100_000, "cut off only after {asked} requests");
    let want = misbehaved(PeerMisbehaved::UnreadAnswers);
    assert_eq!(result, Err(want.clone()));
    assert_eq!(victim.disconnected(), Some(&want));
}

#[test]
fn a_peer_that_asks_and_never_reads_the_answers_is_cut_off() {
    // Each keepalive gets an answer. A peer that keeps asking while never
    // reading (its TCP window closed, so nothing we transmit leaves) must
    // not make the victim's transmit buffer grow without bound: adapters
    // keep reading while a write is blocked.
    let (mut peer, mut victim) = client_with_a_small_send_buffer();
    // Fed, but the victim's output is never taken.
    let (asked, result) = ask_without_end(&mut peer, &mut victim, |peer, victim| {
        victim.feed(&peer.take_outgoing())
    });
    let queued = victim.conn.poll_transmit().map_or(0, <[u8]>::len);
    let limit = SMALL_SEND_BUFFER + (1 << 20);
    // Bounded by the limit plus the answers to one delivery.
    assert!(
        queued <= limit + 500 * ANSWER_BOUND,
        "{queued} bytes queued"
    );
    assert_cut_off_for_unread_answers(&victim, asked, result);
    // The DISCONNECT is the last thing queued, after the unread answers.
    let out = victim.take_output();
    peer.absorb(&out);
    assert_eq!(
        peer.disconnect_reason(),
        Some(DisconnectReason::ProtocolError)
    );
    assert!(victim.conn.is_closed());
}

#[test]
fn a_peer_that_stalls_our_rekey_and_keeps_asking_is_cut_off() {
    // We start a re-exchange; the peer never answers our KEXINIT (it has
    // not sent its own, so it may still send requests, RFC 4253 section
    // 7.1) and keeps asking. The answers cannot leave before NEWKEYS, so
    // they queue: up to the same limit.
    let (mut peer, mut victim) = client_with_a_small_send_buffer();
    peer.manual = true;
    victim.call(|c| c.rekey()).unwrap();
    let (asked, result) = ask_without_end(&mut peer, &mut victim, |peer, victim| peer.pump(victim));
    // Nothing but the KEXINIT and, at the end, the DISCONNECT went out.
    assert!(peer.received_msgs(msg::REQUEST_FAILURE).is_empty());
    assert_eq!(peer.received_msgs(msg::KEXINIT).len(), 2);
    assert_cut_off_for_unread_answers(&victim, asked, result);
    assert_eq!(
        peer.disconnect_reason(),
        Some(DisconnectReason::ProtocolError)
    );
}

#[test]
fn channel_messages_repeated_out_of_order() {
    // A second confirmation for a channel already open.
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut p = vec![msg::CHANNEL_OPEN_CONFIRMATION];
    p.put_u32(id.0);
    p.put_u32(PEER_CHANNEL);
    p.put_u32(1000);
    p.put_u32(1000);
    peer.inject_fails(
        &mut victim,
        &p,
        misbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: msg::CHANNEL_OPEN_CONFIRMATION,
            state: "for a channel not being opened by us",
        }),
        DisconnectReason::ProtocolError,
    );

    // An open failure for a channel already open.
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut p = vec![msg::CHANNEL_OPEN_FAILURE];
    p.put_u32(id.0);
    p.put_u32(1);
    p.put_str("");
    p.put_str("");
    peer.inject_fails(
        &mut victim,
        &p,
        misbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: msg::CHANNEL_OPEN_FAILURE,
            state: "for a channel not being opened by us",
        }),
        DisconnectReason::ProtocolError,
    );

    // A second CLOSE: the first completed the close and freed the number.
    let (mut peer, mut victim, id) = client_with_channel(ChannelConfig::default(), 1 << 20, 32768);
    let mut close = vec![msg::CHANNEL_CLOSE];
    close.put_u32(id.0);
    peer.inject(&mut victim, &close).unwrap();
    peer.inject_fails(
        &mut victim,
        &close,
        misbehaved(PeerMisbehaved::UnknownChannel(id.0)),
        DisconnectReason::ProtocolError,
    );
    assert_eq!(
        victim.count(|e| matches!(
            e,
            Event::Channel {
                event: ChannelEvent::Closed,
                ..
            }
        )),
        1
    );
}
