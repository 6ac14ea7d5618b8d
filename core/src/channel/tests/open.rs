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
    let mut p = Pair::new();
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
