//! Port forwarding's protocol in memory (RFC 4254 section 7, OpenSSH
//! PROTOCOL section 2.4): the client asks the server to listen, learns the
//! allocated port, and is offered only the `forwarded-*` channels of the
//! forwards the server agreed to; the server decides `direct-*` opens.

mod common;

use common::*;
use conch_core::{ChannelEvent, ChannelId, ChannelOpenFailure, Event, Forward, ForwardChannel};

fn forwarded(port: u32) -> ForwardChannel {
    ForwardChannel::ForwardedTcpip {
        address: "localhost".into(),
        port,
        originator: "192.0.2.7".into(),
        originator_port: 51_000,
    }
}

/// The open requests the client's application was asked to decide.
fn client_open_requests(pair: &Pair) -> Vec<(ChannelId, String, Option<ForwardChannel>)> {
    pair.client
        .log
        .iter()
        .filter_map(|e| match e {
            Event::Channel {
                id,
                event: ChannelEvent::OpenRequest { kind, data },
            } => Some((
                *id,
                kind.clone(),
                ForwardChannel::decode(kind, data).and_then(Result::ok),
            )),
            _ => None,
        })
        .collect()
}

/// The server's answers to the channels it opened, by channel.
fn server_open_outcome(pair: &Pair, ch: ChannelId) -> Option<Result<(), ChannelOpenFailure>> {
    pair.server.log.iter().find_map(|e| match e {
        Event::Channel { id, event } if *id == ch => match event {
            ChannelEvent::Opened => Some(Ok(())),
            ChannelEvent::OpenFailed { reason, .. } => Some(Err(*reason)),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn port_zero_forward_reports_the_allocated_port_and_admits_only_its_channels() {
    let mut pair = connected();
    // Before any forward, a forwarded-tcpip channel is refused by the
    // client's connection without asking its application.
    let early = pair
        .server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT))
        .unwrap();
    pair.drive();
    assert_eq!(
        server_open_outcome(&pair, early),
        Some(Err(ChannelOpenFailure::AdministrativelyProhibited))
    );
    assert!(client_open_requests(&pair).is_empty());

    let forward = Forward::Tcpip {
        address: "localhost".into(),
        port: 0,
    };
    pair.client.conn.request_forward(&forward).unwrap();
    pair.drive();
    // RFC 4254 section 7.1: the reply to a port-0 request is the port.
    let reply = pair.client.log.iter().find_map(|e| match e {
        Event::GlobalReply { success, data } => Some((*success, data.clone())),
        _ => None,
    });
    assert_eq!(
        reply,
        Some((true, ALLOCATED_PORT.to_be_bytes().to_vec().into()))
    );

    let good = pair
        .server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT))
        .unwrap();
    let other_port = pair
        .server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT + 1))
        .unwrap();
    let unix = pair
        .server
        .conn
        .open_forward_channel(&ForwardChannel::ForwardedStreamlocal {
            path: "/tmp/never-asked".into(),
        })
        .unwrap();
    pair.drive();
    let asked = client_open_requests(&pair);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1, "forwarded-tcpip");
    assert_eq!(asked[0].2, Some(forwarded(ALLOCATED_PORT)));
    for ch in [other_port, unix] {
        assert_eq!(
            server_open_outcome(&pair, ch),
            Some(Err(ChannelOpenFailure::AdministrativelyProhibited))
        );
    }
    // The client's application decides the one it was asked about.
    pair.client.conn.accept_channel(asked[0].0).unwrap();
    pair.drive();
    assert_eq!(server_open_outcome(&pair, good), Some(Ok(())));

    // Once cancelled (named by its allocated port, as ssh does), the
    // forward's channels are refused again.
    pair.client
        .conn
        .cancel_forward(&Forward::Tcpip {
            address: "localhost".into(),
            port: ALLOCATED_PORT,
        })
        .unwrap();
    pair.drive();
    let late = pair
        .server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT))
        .unwrap();
    pair.drive();
    assert_eq!(
        server_open_outcome(&pair, late),
        Some(Err(ChannelOpenFailure::AdministrativelyProhibited))
    );
    assert_eq!(client_open_requests(&pair).len(), 1);
    pair.assert_alive();
}

#[test]
fn streamlocal_forward_admits_channels_for_its_path() {
    let mut pair = connected();
    let path = "/tmp/conch-test.sock";
    pair.client
        .conn
        .request_forward(&Forward::Streamlocal { path: path.into() })
        .unwrap();
    pair.drive();
    // No port in the reply of a streamlocal forward.
    assert!(pair.client.saw(|e| matches!(
        e,
        Event::GlobalReply { success: true, data } if data.is_empty()
    )));
    let ch = ForwardChannel::ForwardedStreamlocal { path: path.into() };
    pair.server.conn.open_forward_channel(&ch).unwrap();
    pair.drive();
    let asked = client_open_requests(&pair);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].1, "forwarded-streamlocal@openssh.com");
    assert_eq!(asked[0].2, Some(ch));
    pair.assert_alive();
}

#[test]
fn a_fixed_port_forward_admits_the_channels_of_that_port() {
    let mut pair = connected();
    // A fixed port is granted with no data in the reply; the port matters.
    pair.client
        .conn
        .request_forward(&Forward::Tcpip {
            address: "".into(),
            port: 8022,
        })
        .unwrap();
    pair.drive();
    assert!(pair.client.saw(|e| matches!(
        e,
        Event::GlobalReply { success: true, data } if data.is_empty()
    )));
    pair.server
        .conn
        .open_forward_channel(&forwarded(8022))
        .unwrap();
    pair.drive();
    assert_eq!(client_open_requests(&pair).len(), 1);
}

#[test]
fn the_server_decides_direct_streamlocal_with_its_path() {
    let mut pair = connected();
    let ch = pair
        .client
        .conn
        .open_forward_channel(&ForwardChannel::DirectStreamlocal {
            path: "/run/db.sock".into(),
        })
        .unwrap();
    pair.drive();
    let seen = pair.server.log.iter().find_map(|e| match e {
        Event::Channel {
            event: ChannelEvent::OpenRequest { kind, data },
            ..
        } => ForwardChannel::decode(kind, data),
        _ => None,
    });
    assert_eq!(
        seen,
        Some(Ok(ForwardChannel::DirectStreamlocal {
            path: "/run/db.sock".into()
        }))
    );
    // The test server refuses every non-session channel.
    assert_eq!(
        pair.client_app
            .channel(ch)
            .open_failed
            .as_ref()
            .map(|f| f.0),
        Some(ChannelOpenFailure::UnknownChannelType)
    );
}

#[test]
fn a_forwarding_session_replays_on_both_sides() {
    // Forwarding is made of ordinary commands (GlobalRequest, OpenChannel,
    // AcceptChannel, GlobalReply with the port), so a transcript carries it
    // and replays with the same refusals and the same allocated port.
    use std::sync::Arc;

    use conch_core::{record, Connection};

    let mut pair = Pair::new();
    let now = pair.now();
    pair.client = Endpoint::new(Connection::client_recorded(
        Arc::new(client_config()),
        [3; 32],
        now,
    ));
    pair.server = Endpoint::new(
        Connection::server_recorded(Arc::new(server_config()), [4; 32], now).unwrap(),
    );
    pair.connect();
    pair.client
        .conn
        .request_forward(&Forward::Tcpip {
            address: "".into(),
            port: 0,
        })
        .unwrap();
    pair.drive();
    let unasked = pair
        .server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT + 7))
        .unwrap();
    pair.server
        .conn
        .open_forward_channel(&forwarded(ALLOCATED_PORT))
        .unwrap();
    pair.drive();
    let asked = client_open_requests(&pair);
    assert_eq!(asked.len(), 1);
    pair.client.conn.accept_channel(asked[0].0).unwrap();
    pair.drive();
    assert_eq!(
        server_open_outcome(&pair, unasked),
        Some(Err(ChannelOpenFailure::AdministrativelyProhibited))
    );
    let client = pair.client.conn.take_transcript();
    let server = pair.server.conn.take_transcript();
    let c = record::replay(&client, now).unwrap();
    let s = record::replay(&server, now).unwrap();
    assert_eq!(c.events, pair.client.log.len());
    assert_eq!(s.events, pair.server.log.len());
}
