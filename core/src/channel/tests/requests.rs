//! Channel requests (RFC 4254 section 6): decoding, want-reply answers in
//! order, and the limits on them.

use super::*;

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
        [Event::Channel {
            id: s,
            event: ChannelEvent::Request {
                request: exec,
                want_reply: true
            }
        }]
    );
    p.server.ch.reply(s, true, &mut p.server.out).unwrap();
    p.run();
    assert_eq!(
        p.client.events(),
        [Event::Channel {
            id: c,
            event: ChannelEvent::RequestReply { success: true }
        }]
    );
    // Nothing is pending any more.
    assert_eq!(
        p.server.ch.reply(s, true, &mut p.server.out),
        Err(ApiMisuse::NoChannelRequestPending)
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
            Event::Channel {
                event:
                    ChannelEvent::Request {
                        request,
                        want_reply,
                        ..
                    },
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
            Event::Channel {
                event: ChannelEvent::RequestReply { success, .. },
                ..
            } => success,
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
            Event::Channel {
                id: c,
                event: ChannelEvent::ExitStatus { code: 3 }
            },
            Event::Channel {
                id: c,
                event: ChannelEvent::ExitSignal {
                    signal: "SEGV".into(),
                    core_dumped: true,
                    message: "bad things".into()
                }
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
        [Event::Channel {
            id: c,
            event: ChannelEvent::RequestReply { success: false }
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
            Event::Channel {
                event: ChannelEvent::RequestReply { success, .. },
                ..
            } => success,
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
        Err(Error::PeerMisbehaved(PeerMisbehaved::TooManyPendingReplies))
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
