//! Opening channels: confirmation, refusal, messages while opening, the
//! channel limit.

use super::*;

#[test]
fn open_and_accept() {
    let mut p = Pair::new();
    let c = p
        .client
        .ch
        .open("direct-tcpip", b"\0\0\0\x01h", &mut p.client.out)
        .unwrap();
    p.run();
    let events = p.server.events();
    let [Event::Channel {
        id: channel,
        event: ChannelEvent::OpenRequest { kind, data },
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(kind, "direct-tcpip");
    assert_eq!(&data[..], b"\0\0\0\x01h");
    p.server.ch.accept(*channel, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::Opened
        }]
    );
    assert_eq!((p.client.ch.len(), p.server.ch.len()), (1, 1));
    // A second accept is a mistake.
    assert!(matches!(
        p.server.ch.accept(*channel, &mut p.server.out),
        Err(ApiMisuse::NoChannelOpenPending)
    ));
}

#[test]
fn open_rejected_with_reason_and_sanitized_text() {
    let mut p = Pair::new();
    let c = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    p.run();
    let Some(Event::Channel {
        id: channel,
        event: ChannelEvent::OpenRequest { .. },
    }) = p.server.events().pop()
    else {
        panic!()
    };
    p.server
        .ch
        .reject(
            channel,
            ChannelOpenFailure::ConnectFailed,
            "no \x1b[31mroute",
            &mut p.server.out,
        )
        .unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::OpenFailed {
                reason: ChannelOpenFailure::ConnectFailed,
                description: "no [31mroute".into(),
            }
        }]
    );
    assert_eq!((p.client.ch.len(), p.server.ch.len()), (0, 0));
    // The slot is free again, under a new id.
    let again = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    assert_ne!(again, c);
    assert_eq!(p.client.ch.table.slots(), 1);
}

#[test]
fn open_failure_without_description_is_accepted() {
    let mut p = Pair::new();
    let c = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    p.client
        .handle(raw(msg::CHANNEL_OPEN_FAILURE, |v| {
            v.put_u32(c.0);
            v.put_u32(2);
        }))
        .unwrap();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::OpenFailed {
                reason: ChannelOpenFailure::ConnectFailed,
                description: String::new()
            }
        }]
    );
}

#[test]
fn confirmation_for_unknown_or_open_channel_is_an_error() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    let confirm = |id: u32| {
        raw(msg::CHANNEL_OPEN_CONFIRMATION, |v| {
            for x in [id, 7, 100, 100] {
                v.put_u32(x);
            }
        })
    };
    assert_eq!(
        p.client.handle(confirm(5)),
        Err(PeerMisbehaved::UnknownChannel(5).into())
    );
    assert!(matches!(
        p.client.handle(confirm(c.0)),
        Err(Error::PeerMisbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: 91,
            ..
        }))
    ));
}

#[test]
fn messages_for_a_channel_still_opening_are_errors() {
    let mut p = Pair::new();
    let c = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    let r = p.client.handle(raw(msg::CHANNEL_DATA, |v| {
        v.put_u32(c.0);
        v.put_string(b"x");
    }));
    assert!(matches!(
        r,
        Err(Error::PeerMisbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: 94,
            ..
        }))
    ));
    // Nor can anything be sent on it yet.
    assert!(matches!(
        p.client.ch.send(c, None, b"x", 100, &mut p.client.out),
        Err(ApiMisuse::ChannelNotConfirmed)
    ));
}

#[test]
fn channel_limit_refuses_our_opens_and_the_peers() {
    let limited = ChannelConfig {
        max_channels: 2,
        ..ChannelConfig::default()
    };
    let mut p = Pair::with(limited.clone(), limited);
    p.open_session();
    p.open_session();
    assert!(matches!(
        p.client.ch.open("session", &[], &mut p.client.out),
        Err(ApiMisuse::ChannelLimit)
    ));
    // The peer's third open is refused with `resource shortage`, and the
    // application hears nothing of it.
    p.client
        .handle(raw(msg::CHANNEL_OPEN, |v| {
            v.put_str("session");
            for x in [9, 1000, 1000] {
                v.put_u32(x);
            }
        }))
        .unwrap();
    assert!(p.client.events().is_empty());
    let sent = p.client.take_sent();
    let mut r = Reader::new(&sent[0][1..]);
    assert_eq!(sent[0][0], msg::CHANNEL_OPEN_FAILURE);
    assert_eq!(r.u32().unwrap(), 9);
    assert_eq!(
        r.u32().unwrap(),
        ChannelOpenFailure::ResourceShortage.code()
    );
}

#[test]
fn a_thousand_concurrent_channels() {
    // Small windows, so the memory budget has room for all of them, and no
    // session limit.
    let many = ChannelConfig {
        window_size: 16 * 1024,
        max_sessions: 1000,
        ..ChannelConfig::default()
    };
    let mut p = Pair::with(many.clone(), many);
    let ids: Vec<_> = (0..1000).map(|_| p.open_session()).collect();
    assert_eq!(ids[999], (ChannelId(999), ChannelId(999)));
    for (i, (c, _)) in ids.iter().enumerate() {
        let msg = format!("channel {i}");
        assert_eq!(
            p.client
                .ch
                .send(*c, None, msg.as_bytes(), usize::MAX, &mut p.client.out),
            Ok(msg.len())
        );
    }
    p.run();
    let events = p.server.events();
    assert_eq!(events.len(), 1000);
    for (i, e) in events.iter().enumerate() {
        let Event::Channel {
            id: channel,
            event: ChannelEvent::Data { data },
        } = e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*channel, ids[i].1);
        assert_eq!(&data[..], format!("channel {i}").as_bytes());
    }
    for (c, _) in &ids {
        p.client.ch.close(*c, &mut p.client.out).unwrap();
    }
    p.run();
    assert_eq!((p.client.ch.len(), p.server.ch.len()), (0, 0));
    for end in [&mut p.client, &mut p.server] {
        let events = end.events();
        assert_eq!(events.len(), 1000);
        assert!(events.iter().all(|e| matches!(
            e,
            Event::Channel {
                event: ChannelEvent::Closed,
                ..
            }
        )));
    }
    // The lowest slot is reused, under an id none of the old channels had.
    let (c, s) = p.open_session();
    assert!(ids.iter().all(|(old_c, old_s)| *old_c != c && *old_s != s));
    assert_eq!(p.client.ch.table.slots(), 1000);
    assert_eq!(p.client.ch.table.get(c.0).map(|_| ()), Some(()));
}

/// The window a CHANNEL_OPEN or OPEN_CONFIRMATION grants (RFC 4254 section
/// 5.1: after the type or the two channel numbers).
fn granted_window(message: &Bytes) -> u32 {
    let mut r = Reader::new(&message[1..]);
    if message[0] == msg::CHANNEL_OPEN {
        r.string().unwrap();
        r.u32().unwrap();
    } else {
        r.u32().unwrap();
        r.u32().unwrap();
    }
    r.u32().unwrap()
}

/// The peer opens `n` sessions in one go; returns what was sent back once
/// the server accepted every open it was asked about.
fn peer_opens(server: &mut End, n: u32) -> Vec<Bytes> {
    for i in 0..n {
        server
            .handle(raw(msg::CHANNEL_OPEN, |v| {
                v.put_str("session");
                for x in [i, 1 << 20, 32 * 1024] {
                    v.put_u32(x);
                }
            }))
            .unwrap();
    }
    for e in server.events() {
        if let Event::Channel {
            id,
            event: ChannelEvent::OpenRequest { .. },
        } = e
        {
            server.ch.accept(id, &mut server.out).unwrap();
        }
    }
    server.take_sent()
}

#[test]
fn windows_shrink_as_the_memory_budget_fills_and_then_opens_are_refused() {
    let config = ChannelConfig {
        max_sessions: u32::MAX,
        ..ChannelConfig::default()
    };
    let mut server = End::new(config.clone());
    let replies = peer_opens(&mut server, 1200);
    let confirmed: Vec<u32> = replies
        .iter()
        .filter(|m| m[0] == msg::CHANNEL_OPEN_CONFIRMATION)
        .map(granted_window)
        .collect();
    let refused = replies
        .iter()
        .filter(|m| m[0] == msg::CHANNEL_OPEN_FAILURE)
        .count();
    // The first four channels get the whole window; later ones ever less.
    assert!(confirmed[..4].iter().all(|&w| w == config.window_size));
    assert!(confirmed[4] < config.window_size);
    assert!(confirmed.windows(2).all(|w| w[1] <= w[0]));
    assert!(*confirmed.last().unwrap() < config.window_size / 100);
    // Over a thousand channels fit (hundreds of forwarded connections on
    // one session), and the rest are refused.
    assert!(confirmed.len() > 1000, "{}", confirmed.len());
    assert_eq!(confirmed.len() + refused, 1200);
    assert!(refused > 0);
    // What the peer may send on all of them stays within the budget.
    let total: u64 = confirmed.iter().map(|&w| u64::from(w)).sum();
    assert!(total <= config.memory_budget as u64, "{total}");
    // Refusals say why, as `resource shortage`.
    let failure = replies
        .iter()
        .find(|m| m[0] == msg::CHANNEL_OPEN_FAILURE)
        .unwrap();
    let mut r = Reader::new(&failure[1..]);
    r.u32().unwrap();
    assert_eq!(
        r.u32().unwrap(),
        ChannelOpenFailure::ResourceShortage.code()
    );
    assert_eq!(r.utf8().unwrap(), "memory budget exhausted");

    // Closing channels gives their windows back: a new open gets a
    // larger window again.
    let open: Vec<u32> = (0..10).collect();
    for peer_id in open {
        // Our CLOSE, then the peer's, completes each close.
        let id = ChannelId(peer_id);
        server.ch.close(id, &mut server.out).unwrap();
        server
            .handle(raw(msg::CHANNEL_CLOSE, |v| v.put_u32(peer_id)))
            .unwrap();
    }
    server.take_sent();
    server.events();
    let again = peer_opens(&mut server, 1);
    assert_eq!(again[0][0], msg::CHANNEL_OPEN_CONFIRMATION);
    assert!(granted_window(&again[0]) > *confirmed.last().unwrap());
}

#[test]
fn our_opens_shrink_their_windows_too_and_fail_when_the_budget_is_spent() {
    let mut client = End::new(ChannelConfig::default());
    let mut windows = Vec::new();
    let error = loop {
        match client.ch.open("session", &[], &mut client.out) {
            Ok(_) => windows.push(granted_window(&client.take_sent()[0])),
            Err(e) => break e,
        }
    };
    assert_eq!(error, ApiMisuse::ChannelLimit);
    assert_eq!(windows[0], ChannelConfig::default().window_size);
    assert!(windows.len() > 1000, "{}", windows.len());
    let total: u64 = windows.iter().map(|&w| u64::from(w)).sum();
    assert!(total <= ChannelConfig::default().memory_budget as u64);
}

#[test]
fn sessions_past_max_sessions_are_refused_as_sshd_does() {
    let config = ChannelConfig {
        max_sessions: 3,
        ..ChannelConfig::default()
    };
    let mut server = End::new(config);
    let replies = peer_opens(&mut server, 5);
    let numbers: Vec<u8> = replies.iter().map(|m| m[0]).collect();
    // The refusals go out as the opens arrive, before the confirmations.
    assert_eq!(
        numbers,
        [
            msg::CHANNEL_OPEN_FAILURE,
            msg::CHANNEL_OPEN_FAILURE,
            msg::CHANNEL_OPEN_CONFIRMATION,
            msg::CHANNEL_OPEN_CONFIRMATION,
            msg::CHANNEL_OPEN_CONFIRMATION,
        ]
    );
    let mut r = Reader::new(&replies[0][1..]);
    assert_eq!(r.u32().unwrap(), 3, "the fourth open (peer's number 3)");
    assert_eq!(r.u32().unwrap(), ChannelOpenFailure::ConnectFailed.code());
    // Other channel types are not sessions.
    server
        .handle(raw(msg::CHANNEL_OPEN, |v| {
            v.put_str("direct-tcpip");
            for x in [9, 1000, 1000] {
                v.put_u32(x);
            }
        }))
        .unwrap();
    assert!(server.take_sent().is_empty());
    assert_eq!(server.events().len(), 1);
}
