//! Data and windows (RFC 4254 section 5.2): flow control, the send budget,
//! packet sizes.

use super::*;

#[test]
fn data_both_ways_and_stderr() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    assert_eq!(
        p.client
            .ch
            .send(c, None, b"stdin", usize::MAX, &mut p.client.out),
        Ok(5)
    );
    p.run();
    assert_eq!(
        p.server.events(),
        [Event::Channel {
            id: s,
            event: ChannelEvent::Data {
                data: data(b"stdin")
            }
        }]
    );
    let out = &mut p.server.out;
    assert_eq!(p.server.ch.send(s, None, b"stdout", usize::MAX, out), Ok(6));
    assert_eq!(
        p.server.ch.send(s, Some(1), b"stderr", usize::MAX, out),
        Ok(6)
    );
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::Channel {
                id: c,
                event: ChannelEvent::Data {
                    data: data(b"stdout")
                }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::ExtendedData {
                    code: 1,
                    data: data(b"stderr")
                }
            }
        ]
    );
}

#[test]
fn received_data_is_a_slice_of_the_packet() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    let packet = raw(msg::CHANNEL_DATA, |v| {
        v.put_u32(c.0);
        v.put_string(b"zero-copy");
    });
    let range = packet.as_ptr_range();
    p.client.handle(packet.clone()).unwrap();
    let Some(Event::Channel {
        event: ChannelEvent::Data { data, .. },
        ..
    }) = p.client.events().pop()
    else {
        panic!()
    };
    assert_eq!(&data[..], b"zero-copy");
    assert!(range.contains(&data.as_ptr()), "data was copied");
}

#[test]
fn a_full_window_stalls_the_sender_until_the_reader_consumes() {
    // The client grants a 1000-byte window in packets of at most 400.
    let mut p = Pair::with(small_window(1000, 400), ChannelConfig::default());
    let (c, s) = p.open_session();
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let out = &mut p.server.out;
    assert_eq!(
        p.server.ch.send(s, None, &payload, usize::MAX, out),
        Ok(1000)
    );
    assert_eq!(p.server.ch.send_window(s), Ok(0));
    assert_eq!(
        p.server
            .ch
            .send(s, None, &payload[1000..], usize::MAX, &mut p.server.out),
        Ok(0)
    );
    let sent = p.server.take_sent();
    let sizes: Vec<usize> = sent.iter().map(|m| m.len() - 9).collect();
    assert_eq!(sizes, [400, 400, 200]);
    for m in sent {
        p.client.handle(m).unwrap();
    }
    let received: Vec<u8> = p
        .client
        .events()
        .into_iter()
        .flat_map(|e| match e {
            Event::Channel {
                event: ChannelEvent::Data { data, .. },
                ..
            } => data.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(received, payload[..1000]);
    assert_eq!(p.client.ch.table.get(c.0).unwrap().recv.unconsumed(), 1000);

    // Consuming less than half the window sends nothing: the sender stays stalled.
    p.client.ch.consume(c, 499, &mut p.client.out).unwrap();
    assert!(p.client.queued_numbers().is_empty());
    // Reaching half sends one WINDOW_ADJUST, and the sender hears it can write.
    p.client.ch.consume(c, 1, &mut p.client.out).unwrap();
    assert_eq!(p.client.queued_numbers(), [msg::CHANNEL_WINDOW_ADJUST]);
    p.run();
    assert_eq!(
        p.server.events(),
        [Event::Channel {
            id: s,
            event: ChannelEvent::Writable
        }]
    );
    assert_eq!(p.server.ch.send_window(s), Ok(500));
    assert_eq!(
        p.server
            .ch
            .send(s, None, &payload[1000..], usize::MAX, &mut p.server.out),
        Ok(500)
    );
    // Consuming more than was delivered is a mistake.
    assert_eq!(
        p.client.ch.consume(c, 501, &mut p.client.out),
        Err(ApiMisuse::InvalidArgument(
            "consumed more than was received"
        ))
    );
}

#[test]
fn data_past_the_window_is_an_error() {
    let mut p = Pair::with(small_window(100, 100), ChannelConfig::default());
    let (c, _) = p.open_session();
    let send = |n: usize| {
        raw(msg::CHANNEL_EXTENDED_DATA, |v| {
            v.put_u32(c.0);
            v.put_u32(1);
            v.put_string(&vec![b'x'; n]);
        })
    };
    p.client.handle(send(60)).unwrap();
    assert_eq!(
        p.client.handle(send(41)),
        Err(PeerMisbehaved::WindowExceeded(c.0).into())
    );
}

#[test]
fn packet_over_our_maximum_is_an_error() {
    let mut p = Pair::with(small_window(10_000, 100), ChannelConfig::default());
    let (c, _) = p.open_session();
    let r = p.client.handle(raw(msg::CHANNEL_DATA, |v| {
        v.put_u32(c.0);
        v.put_string(&[0; 101]);
    }));
    assert_eq!(r, Err(PeerMisbehaved::ChannelPacketTooLarge(c.0).into()));
}

#[test]
fn window_adjust_past_u32_max_is_an_error() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    let adjust = |n: u32| {
        raw(msg::CHANNEL_WINDOW_ADJUST, |v| {
            v.put_u32(c.0);
            v.put_u32(n);
        })
    };
    let window = p.client.ch.send_window(c).unwrap() as u32;
    p.client.handle(adjust(u32::MAX - window)).unwrap();
    assert_eq!(p.client.ch.send_window(c), Ok(u32::MAX as usize));
    assert_eq!(
        p.client.handle(adjust(1)),
        Err(PeerMisbehaved::WindowOverflow(c.0).into())
    );
}

#[test]
fn send_buffer_budget_holds_back_and_reports_room() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    let out = &mut p.client.out;
    assert_eq!(p.client.ch.send(c, None, &[7; 1000], 300, out), Ok(300));
    // The budget is used exactly, so the connection sees it exhausted.
    assert_eq!(p.client.out.pending_bytes(), 300 + 9);
    p.client.ch.on_send_budget(5000, &mut p.client.events);
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::Writable
        }]
    );
    // Reported once only.
    p.client.ch.on_send_budget(5000, &mut p.client.events);
    assert!(p.client.events().is_empty());
}

#[test]
fn budget_room_is_not_reported_while_the_window_is_shut() {
    let mut p = Pair::with(ChannelConfig::default(), small_window(100, 100));
    let (c, s) = p.open_session();
    assert_eq!(
        p.client.ch.send(c, None, &[1; 80], 50, &mut p.client.out),
        Ok(50)
    );
    assert_eq!(
        p.client.ch.send(c, None, &[1; 80], 1000, &mut p.client.out),
        Ok(50)
    );
    p.client.ch.on_send_budget(1000, &mut p.client.events);
    assert!(p.client.events().is_empty());
    p.run();
    p.server.events();
    p.server.ch.consume(s, 100, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::Writable
        }]
    );
}

#[test]
fn peer_max_packet_size_splits_our_sends() {
    let mut p = Pair::with(ChannelConfig::default(), small_window(1 << 20, 1000));
    let (c, s) = p.open_session();
    assert_eq!(
        p.client
            .ch
            .send(c, Some(1), &[9; 2500], usize::MAX, &mut p.client.out),
        Ok(2500)
    );
    p.run();
    let sizes: Vec<usize> = p
        .server
        .events()
        .iter()
        .map(|e| match e {
            Event::Channel {
                id: channel,
                event: ChannelEvent::ExtendedData { code: 1, data },
            } if *channel == s => data.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
}
