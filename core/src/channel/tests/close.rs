//! EOF and close (RFC 4254 section 5.3): half-closes, pending requests at
//! close, reuse of channel ids.

use super::*;

#[test]
fn eof_each_way_is_a_half_close() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.client.ch.eof(c, &mut p.client.out).unwrap();
    p.run();
    assert_eq!(
        p.server.events(),
        [Event::Channel {
            id: s,
            event: ChannelEvent::Eof
        }]
    );
    assert!(matches!(
        p.client
            .ch
            .send(c, None, b"late", usize::MAX, &mut p.client.out),
        Err(ApiMisuse::EofAlreadySent)
    ));
    // The other direction still flows.
    assert_eq!(
        p.server
            .ch
            .send(s, None, b"reply", usize::MAX, &mut p.server.out),
        Ok(5)
    );
    p.server.ch.eof(s, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::Channel {
                id: c,
                event: ChannelEvent::Data {
                    data: data(b"reply")
                }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::Eof
            }
        ]
    );
    // Data after the peer's EOF breaks the protocol.
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
}

#[test]
fn close_from_client_fails_its_pending_requests() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let out = &mut p.client.out;
    p.client
        .ch
        .request(c, &ChannelRequest::Shell, true, out)
        .unwrap();
    p.client
        .ch
        .request(
            c,
            &ChannelRequest::Exec {
                command: b"x".to_vec(),
            },
            true,
            out,
        )
        .unwrap();
    p.client.ch.close(c, &mut p.client.out).unwrap();
    // A second close sends nothing more.
    p.client.ch.close(c, &mut p.client.out).unwrap();
    assert_eq!(
        p.client.queued_numbers(),
        [
            msg::CHANNEL_REQUEST,
            msg::CHANNEL_REQUEST,
            msg::CHANNEL_CLOSE
        ]
    );
    p.run();
    let server_events = p.server.events();
    assert_eq!(server_events.len(), 3);
    assert_eq!(
        server_events[2],
        Event::Channel {
            id: s,
            event: ChannelEvent::Closed
        }
    );
    assert_eq!(
        p.client.events(),
        [
            Event::Channel {
                id: c,
                event: ChannelEvent::RequestReply { success: false }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::RequestReply { success: false }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::Closed
            }
        ]
    );
    assert_eq!((p.client.ch.len(), p.server.ch.len()), (0, 0));
    assert_eq!(
        p.server.ch.reply(s, true, &mut p.server.out),
        Err(ApiMisuse::UnknownChannel(s.0))
    );
}

#[test]
fn close_from_server_answers_nothing_after_its_close() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.client
        .ch
        .request(c, &ChannelRequest::Shell, true, &mut p.client.out)
        .unwrap();
    p.run();
    assert_eq!(p.server.events().len(), 1);
    p.server.ch.close(s, &mut p.server.out).unwrap();
    // Replying after our close is a no-op: the close settled the request.
    p.server.ch.reply(s, true, &mut p.server.out).unwrap();
    // A request and data crossing the server's CLOSE get no reply and no
    // event; the data still counts against the window.
    p.client
        .ch
        .request(
            c,
            &ChannelRequest::Signal { name: "HUP".into() },
            true,
            &mut p.client.out,
        )
        .unwrap();
    p.client
        .ch
        .send(c, None, b"crossing", usize::MAX, &mut p.client.out)
        .unwrap();
    assert_eq!(p.server.queued_numbers(), [msg::CHANNEL_CLOSE]);
    deliver(&mut p.client, &mut p.server).unwrap();
    assert!(p.server.events().is_empty());
    assert_eq!(p.server.queued_numbers(), [msg::CHANNEL_CLOSE]);
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::Channel {
                id: c,
                event: ChannelEvent::RequestReply { success: false }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::RequestReply { success: false }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::Closed
            }
        ]
    );
    assert_eq!(
        p.server.events(),
        [Event::Channel {
            id: s,
            event: ChannelEvent::Closed
        }]
    );
}

#[test]
fn ids_are_reused_only_after_both_closes_and_then_renamed() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    p.client.ch.close(c, &mut p.client.out).unwrap();
    // The peer's CLOSE has not arrived: the slot is still taken.
    let next = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    assert_eq!(next, ChannelId(1));
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::Closed
        }]
    );
    // Now the slot is free, but its new channel has a different id, so an
    // application still holding `c` cannot mistake one for the other.
    let again = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    assert!(again != c && again != next);
    assert_eq!(p.client.ch.table.slots(), 2);
    assert_eq!(
        p.client.ch.send(c, None, b"x", 10, &mut p.client.out),
        Err(ApiMisuse::UnknownChannel(c.0))
    );
    // Consuming data of the closed channel, delivered before it closed, is harmless.
    assert_eq!(p.client.ch.consume(c, 10, &mut p.client.out), Ok(()));
    // A message for the old id is an error.
    p.client.take_sent();
    assert_eq!(
        p.client.handle(raw(msg::CHANNEL_EOF, |v| v.put_u32(c.0))),
        Err(PeerMisbehaved::UnknownChannel(c.0).into())
    );
}

#[test]
fn close_while_opening_is_sent_after_the_confirmation() {
    let mut p = Pair::new();
    let c = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    p.client.ch.close(c, &mut p.client.out).unwrap();
    p.run();
    let Some(Event::Channel {
        id: s,
        event: ChannelEvent::OpenRequest { .. },
    }) = p.server.events().pop()
    else {
        panic!()
    };
    p.server.ch.accept(s, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::Channel {
                id: c,
                event: ChannelEvent::Opened
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::Closed
            }
        ]
    );
    assert_eq!(
        p.server.events(),
        [Event::Channel {
            id: s,
            event: ChannelEvent::Closed
        }]
    );
}
