//! Two [`Channels`] wired to each other through their outboxes, one playing
//! the client, one the server.

use super::*;
use crate::event::WindowSize;

/// One end: its channel layer, what it queued to send, what it reported.
struct End {
    ch: Channels,
    out: Outbox,
    events: VecDeque<Event>,
}

impl End {
    fn new(config: ChannelConfig) -> Self {
        End {
            ch: Channels::new(config),
            out: Outbox::default(),
            events: VecDeque::new(),
        }
    }

    fn events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Takes the queued messages without delivering them.
    fn take_sent(&mut self) -> Vec<Bytes> {
        let mut sent = Vec::new();
        while let Some(p) = self.out.front() {
            sent.push(Bytes::copy_from_slice(p));
            self.out.pop_front();
        }
        sent
    }

    /// Message numbers queued, without taking them.
    fn queued_numbers(&mut self) -> Vec<u8> {
        let sent = self.take_sent();
        for m in &sent {
            let mut w = self.out.message(m[0]);
            w.put_raw(&m[1..]);
        }
        sent.iter().map(|m| m[0]).collect()
    }

    fn handle(&mut self, payload: Bytes) -> Result<bool, Error> {
        self.ch.handle(payload, &mut self.out, &mut self.events)
    }
}

struct Pair {
    client: End,
    server: End,
}

impl Pair {
    fn new() -> Self {
        Self::with(ChannelConfig::default(), ChannelConfig::default())
    }

    fn with(client: ChannelConfig, server: ChannelConfig) -> Self {
        Pair {
            client: End::new(client),
            server: End::new(server),
        }
    }

    /// Delivers messages both ways until neither side has anything queued.
    fn try_run(&mut self) -> Result<(), Error> {
        loop {
            let a = deliver(&mut self.client, &mut self.server)?;
            let b = deliver(&mut self.server, &mut self.client)?;
            if a + b == 0 {
                return Ok(());
            }
        }
    }

    fn run(&mut self) {
        self.try_run().expect("no protocol error");
    }

    /// Client opens a session, server accepts. Returns (client id, server id).
    fn open_session(&mut self) -> (ChannelId, ChannelId) {
        let c = self
            .client
            .ch
            .open("session", &[], &mut self.client.out)
            .unwrap();
        self.run();
        let s = match self.server.events().as_slice() {
            [Event::ChannelOpenRequest { channel, kind, .. }] if kind == "session" => *channel,
            other => panic!("expected an open request, got {other:?}"),
        };
        self.server.ch.accept(s, &mut self.server.out).unwrap();
        self.run();
        assert_eq!(self.client.events(), [Event::ChannelOpened { channel: c }]);
        (c, s)
    }
}

fn deliver(from: &mut End, to: &mut End) -> Result<usize, Error> {
    let sent = from.take_sent();
    let n = sent.len();
    for payload in sent {
        assert!(to.handle(payload)?, "message not implemented");
    }
    Ok(n)
}

/// A message built by hand, as a hostile or buggy peer would send it.
fn raw(number: u8, fields: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut v = vec![number];
    fields(&mut v);
    Bytes::from(v)
}

fn data(payload: &[u8]) -> Bytes {
    Bytes::copy_from_slice(payload)
}

fn small_window(window: u32, max_packet: u32) -> ChannelConfig {
    ChannelConfig {
        window_size: window,
        max_packet_size: max_packet,
        ..ChannelConfig::default()
    }
}

// ----------------------------------------------------------------------
// Opening
// ----------------------------------------------------------------------

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
    let [Event::ChannelOpenRequest {
        channel,
        kind,
        data,
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(kind, "direct-tcpip");
    assert_eq!(&data[..], b"\0\0\0\x01h");
    p.server.ch.accept(*channel, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(p.client.events(), [Event::ChannelOpened { channel: c }]);
    assert_eq!((p.client.ch.len(), p.server.ch.len()), (1, 1));
    // A second accept is a mistake.
    assert!(matches!(
        p.server.ch.accept(*channel, &mut p.server.out),
        Err(ApiMisuse::WrongState(_))
    ));
}

#[test]
fn open_rejected_with_reason_and_sanitized_text() {
    let mut p = Pair::new();
    let c = p.client.ch.open("session", &[], &mut p.client.out).unwrap();
    p.run();
    let Some(Event::ChannelOpenRequest { channel, .. }) = p.server.events().pop() else {
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
        [Event::ChannelOpenFailed {
            channel: c,
            reason: ChannelOpenFailure::ConnectFailed,
            description: "no [31mroute".into(),
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
        [Event::ChannelOpenFailed {
            channel: c,
            reason: ChannelOpenFailure::ConnectFailed,
            description: String::new(),
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
        Err(ApiMisuse::WrongState(_))
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
        Err(ApiMisuse::WrongState(_))
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
        let Event::Data { channel, data } = e else {
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
        assert!(events
            .iter()
            .all(|e| matches!(e, Event::ChannelClosed { .. })));
    }
    // The lowest slot is reused, under an id none of the old channels had.
    let (c, s) = p.open_session();
    assert!(ids.iter().all(|(old_c, old_s)| *old_c != c && *old_s != s));
    assert_eq!(p.client.ch.table.slots(), 1000);
    assert_eq!(p.client.ch.table.get(c.0).map(|_| ()), Some(()));
}

// ----------------------------------------------------------------------
// Requests
// ----------------------------------------------------------------------

#[test]
fn exec_with_want_reply_gets_success() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let exec = ChannelRequest::Exec {
        command: b"echo hi".to_vec(),
    };
    p.client
        .ch
        .request(c, &exec, true, &mut p.client.out)
        .unwrap();
    p.run();
    assert_eq!(
        p.server.events(),
        [Event::ChannelRequest {
            channel: s,
            request: exec,
            want_reply: true,
        }]
    );
    p.server.ch.reply(s, true, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::ChannelRequestReply {
            channel: c,
            success: true,
        }]
    );
    // Nothing is pending any more.
    assert_eq!(
        p.server.ch.reply(s, true, &mut p.server.out),
        Err(ApiMisuse::WrongState("no channel request awaits a reply"))
    );
}

#[test]
fn requests_of_every_kind_arrive_decoded_and_replies_match_in_order() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let requests = [
        ChannelRequest::PtyReq {
            term: "xterm".into(),
            size: WindowSize {
                cols: 80,
                rows: 24,
                width_px: 0,
                height_px: 0,
            },
            modes: encode_terminal_modes(&[(modes::ECHO, 1)]),
        },
        ChannelRequest::Env {
            name: "LANG".into(),
            value: "C".into(),
        },
        ChannelRequest::Shell,
        ChannelRequest::Subsystem {
            name: "sftp".into(),
        },
    ];
    for r in &requests {
        p.client.ch.request(c, r, true, &mut p.client.out).unwrap();
    }
    // Without want-reply: no reply expected, none owed.
    let signal = ChannelRequest::Signal { name: "INT".into() };
    p.client
        .ch
        .request(c, &signal, false, &mut p.client.out)
        .unwrap();
    p.run();
    let got: Vec<_> = p
        .server
        .events()
        .into_iter()
        .map(|e| match e {
            Event::ChannelRequest {
                request,
                want_reply,
                ..
            } => (request, want_reply),
            other => panic!("{other:?}"),
        })
        .collect();
    let mut want: Vec<_> = requests.iter().cloned().map(|r| (r, true)).collect();
    want.push((signal, false));
    assert_eq!(got, want);
    for success in [false, true, true, false] {
        p.server.ch.reply(s, success, &mut p.server.out).unwrap();
    }
    assert!(p.server.ch.reply(s, true, &mut p.server.out).is_err());
    p.run();
    let replies: Vec<_> = p
        .client
        .events()
        .into_iter()
        .map(|e| match e {
            Event::ChannelRequestReply { success, .. } => success,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(replies, [false, true, true, false]);
}

#[test]
fn exit_status_and_exit_signal_become_their_own_events() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let out = &mut p.server.out;
    p.server
        .ch
        .request(s, &ChannelRequest::ExitStatus { code: 3 }, false, out)
        .unwrap();
    p.server
        .ch
        .request(
            s,
            &ChannelRequest::ExitSignal {
                signal: "SEGV".into(),
                core_dumped: true,
                message: "bad\x07 things".into(),
            },
            false,
            out,
        )
        .unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::ExitStatus {
                channel: c,
                code: 3
            },
            Event::ExitSignal {
                channel: c,
                signal: "SEGV".into(),
                core_dumped: true,
                message: "bad things".into(),
            }
        ]
    );
}

#[test]
fn keepalive_requests_are_answered_with_failure_in_order() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let keepalive = ChannelRequest::Other {
        name: "keepalive@openssh.com".into(),
        data: Bytes::new(),
    };
    // Alone: answered at once, no event on the server.
    p.client
        .ch
        .request(c, &keepalive, true, &mut p.client.out)
        .unwrap();
    p.run();
    assert!(p.server.events().is_empty());
    assert_eq!(
        p.client.events(),
        [Event::ChannelRequestReply {
            channel: c,
            success: false
        }]
    );
    // Behind a request the application has not answered: the automatic
    // failure waits, so replies stay in order.
    p.client
        .ch
        .request(c, &ChannelRequest::Shell, true, &mut p.client.out)
        .unwrap();
    p.client
        .ch
        .request(c, &keepalive, true, &mut p.client.out)
        .unwrap();
    p.run();
    assert_eq!(p.server.events().len(), 1);
    assert!(p.client.events().is_empty());
    p.server.ch.reply(s, true, &mut p.server.out).unwrap();
    p.run();
    let replies: Vec<_> = p
        .client
        .events()
        .into_iter()
        .map(|e| match e {
            Event::ChannelRequestReply { success, .. } => success,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(replies, [true, false]);
    // eow@openssh.com is ignored outright.
    let eow = ChannelRequest::Other {
        name: "eow@openssh.com".into(),
        data: Bytes::new(),
    };
    p.client
        .ch
        .request(c, &eow, false, &mut p.client.out)
        .unwrap();
    p.run();
    assert!(p.server.events().is_empty());
    assert!(p.client.events().is_empty());
}

#[test]
fn unsolicited_channel_reply_is_an_error() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    assert_eq!(
        p.client
            .handle(raw(msg::CHANNEL_SUCCESS, |v| v.put_u32(c.0))),
        Err(PeerMisbehaved::UnsolicitedReply.into())
    );
}

#[test]
fn too_many_unanswered_requests_is_an_error() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let req = || {
        raw(msg::CHANNEL_REQUEST, |v| {
            v.put_u32(s.0);
            v.put_str("shell");
            v.put_bool(true);
        })
    };
    for _ in 0..replies::MAX_PENDING_REPLIES {
        p.server.handle(req()).unwrap();
    }
    assert!(matches!(
        p.server.handle(req()),
        Err(Error::PeerMisbehaved(PeerMisbehaved::Other(_)))
    ));
    let _ = c;
}

#[test]
fn invalid_utf8_in_request_text_is_malformed() {
    let mut p = Pair::new();
    let (_, s) = p.open_session();
    let r = p.server.handle(raw(msg::CHANNEL_REQUEST, |v| {
        v.put_u32(s.0);
        v.put_str("env");
        v.put_bool(false);
        v.put_str("LANG");
        v.put_string(b"\xff\xfe");
    }));
    assert!(matches!(
        r,
        Err(Error::PeerMisbehaved(PeerMisbehaved::Malformed(_)))
    ));
}

// ----------------------------------------------------------------------
// Data and windows
// ----------------------------------------------------------------------

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
        [Event::Data {
            channel: s,
            data: data(b"stdin")
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
            Event::Data {
                channel: c,
                data: data(b"stdout")
            },
            Event::ExtendedData {
                channel: c,
                code: 1,
                data: data(b"stderr")
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
    let Some(Event::Data { data, .. }) = p.client.events().pop() else {
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
            Event::Data { data, .. } => data.to_vec(),
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
    assert_eq!(p.server.events(), [Event::ChannelWritable { channel: s }]);
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
    assert_eq!(p.client.events(), [Event::ChannelWritable { channel: c }]);
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
    assert_eq!(p.client.events(), [Event::ChannelWritable { channel: c }]);
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
            Event::ExtendedData {
                channel,
                code: 1,
                data,
            } if *channel == s => data.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
}

// ----------------------------------------------------------------------
// EOF and close
// ----------------------------------------------------------------------

#[test]
fn eof_each_way_is_a_half_close() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.client.ch.eof(c, &mut p.client.out).unwrap();
    p.run();
    assert_eq!(p.server.events(), [Event::Eof { channel: s }]);
    assert!(matches!(
        p.client
            .ch
            .send(c, None, b"late", usize::MAX, &mut p.client.out),
        Err(ApiMisuse::WrongState(_))
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
            Event::Data {
                channel: c,
                data: data(b"reply")
            },
            Event::Eof { channel: c }
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
    assert_eq!(server_events[2], Event::ChannelClosed { channel: s });
    assert_eq!(
        p.client.events(),
        [
            Event::ChannelRequestReply {
                channel: c,
                success: false
            },
            Event::ChannelRequestReply {
                channel: c,
                success: false
            },
            Event::ChannelClosed { channel: c }
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
            Event::ChannelRequestReply {
                channel: c,
                success: false
            },
            Event::ChannelRequestReply {
                channel: c,
                success: false
            },
            Event::ChannelClosed { channel: c }
        ]
    );
    assert_eq!(p.server.events(), [Event::ChannelClosed { channel: s }]);
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
    assert_eq!(p.client.events(), [Event::ChannelClosed { channel: c }]);
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
    let Some(Event::ChannelOpenRequest { channel: s, .. }) = p.server.events().pop() else {
        panic!()
    };
    p.server.ch.accept(s, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [
            Event::ChannelOpened { channel: c },
            Event::ChannelClosed { channel: c }
        ]
    );
    assert_eq!(p.server.events(), [Event::ChannelClosed { channel: s }]);
}

// ----------------------------------------------------------------------
// Global requests
// ----------------------------------------------------------------------

#[test]
fn global_requests_and_replies_match_in_order() {
    let mut p = Pair::new();
    let out = &mut p.client.out;
    p.client
        .ch
        .global_request("tcpip-forward", b"\0\0\0\0", true, out);
    p.client.ch.send_keepalive(out);
    p.client
        .ch
        .global_request("no-reply@example.com", b"", false, out);
    p.client
        .ch
        .global_request("second@example.com", b"xy", true, out);
    p.run();
    // The keepalive is answered automatically, but only after the first
    // request, which the application has not answered yet.
    let events = p.server.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        Event::GlobalRequest {
            name: "tcpip-forward".into(),
            data: data(b"\0\0\0\0"),
            want_reply: true
        }
    );
    assert!(matches!(
        &events[1],
        Event::GlobalRequest {
            want_reply: false,
            ..
        }
    ));
    assert!(p.server.queued_numbers().is_empty());
    p.server
        .ch
        .global_reply(true, b"\0\0\x1f\x90", &mut p.server.out)
        .unwrap();
    assert_eq!(
        p.server.queued_numbers(),
        [msg::REQUEST_SUCCESS, msg::REQUEST_FAILURE]
    );
    p.server
        .ch
        .global_reply(false, b"", &mut p.server.out)
        .unwrap();
    assert!(matches!(
        p.server.ch.global_reply(true, b"", &mut p.server.out),
        Err(ApiMisuse::WrongState(_))
    ));
    p.run();
    // The keepalive's reply is swallowed.
    assert_eq!(
        p.client.events(),
        [
            Event::GlobalReply {
                success: true,
                data: data(b"\0\0\x1f\x90")
            },
            Event::GlobalReply {
                success: false,
                data: Bytes::new()
            }
        ]
    );
    assert_eq!(
        p.client.handle(raw(msg::REQUEST_FAILURE, |_| {})),
        Err(PeerMisbehaved::UnsolicitedReply.into())
    );
}

#[test]
fn peer_keepalive_and_hostkeys_are_answered_without_events() {
    let mut p = Pair::new();
    for (name, want_reply) in [
        ("keepalive@openssh.com", true),
        ("hostkeys-00@openssh.com", false),
        ("hostkeys-prove-00@openssh.com", true),
    ] {
        p.server
            .handle(raw(msg::GLOBAL_REQUEST, |v| {
                v.put_str(name);
                v.put_bool(want_reply);
            }))
            .unwrap();
    }
    assert!(p.server.events().is_empty());
    assert_eq!(
        p.server.queued_numbers(),
        [msg::REQUEST_FAILURE, msg::REQUEST_FAILURE]
    );
}

#[test]
fn unimplemented_numbers_in_the_range_are_reported() {
    let mut p = Pair::new();
    assert_eq!(p.client.handle(raw(85, |_| {})), Ok(false));
    assert_eq!(p.client.handle(raw(127, |_| {})), Ok(false));
}
