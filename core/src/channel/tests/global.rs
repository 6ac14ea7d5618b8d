//! Global requests (RFC 4254 section 4) and unimplemented message numbers
//! in the connection range.

use super::*;

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
        Err(ApiMisuse::NoGlobalRequestPending)
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
