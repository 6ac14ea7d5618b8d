//! Agent forwarding's protocol in memory (OpenSSH PROTOCOL.agent): the
//! client asks with `auth-agent-req@openssh.com` on a session, and only
//! then is offered the `auth-agent@openssh.com` channels the server opens;
//! before, its connection refuses them without asking the application.

mod common;

use common::*;
use conch_core::{
    forward::AUTH_AGENT, ApiMisuse, ChannelEvent, ChannelId, ChannelOpenFailure, ChannelRequest,
    Event,
};

/// The open requests the client's application was asked to decide.
fn client_open_requests(pair: &Pair) -> Vec<(ChannelId, String)> {
    pair.client
        .log
        .iter()
        .filter_map(|e| match e {
            Event::Channel {
                id,
                event: ChannelEvent::OpenRequest { kind, .. },
            } => Some((*id, kind.clone())),
            _ => None,
        })
        .collect()
}

/// The server's outcome for a channel it opened.
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

fn open_session(pair: &mut Pair) -> ChannelId {
    let ch = pair.client.conn.open_session().unwrap();
    pair.drive();
    ch
}

#[test]
fn an_agent_channel_the_client_did_not_ask_for_is_refused_by_its_connection() {
    let mut pair = connected();
    let _session = open_session(&mut pair);
    let ch = pair.server.conn.open_channel(AUTH_AGENT, &[]).unwrap();
    pair.drive();
    assert_eq!(
        server_open_outcome(&pair, ch),
        Some(Err(ChannelOpenFailure::AdministrativelyProhibited))
    );
    assert!(client_open_requests(&pair).is_empty());
    pair.assert_alive();
}

#[test]
fn after_auth_agent_req_the_server_sees_the_request_and_its_agent_channels_reach_the_client() {
    let mut pair = connected();
    let session = open_session(&mut pair);
    pair.client
        .conn
        .channel_request(session, &ChannelRequest::AuthAgentReq, false)
        .unwrap();
    pair.drive();
    // The server decodes the request by name, with no reply wanted, as
    // OpenSSH's client sends it.
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    assert_eq!(
        pair.server_app.channels[&server_ch].log.requests,
        vec![(ChannelRequest::AuthAgentReq, false)]
    );

    let agent = pair.server.conn.open_channel(AUTH_AGENT, &[]).unwrap();
    pair.drive();
    let asked = client_open_requests(&pair);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1, "auth-agent@openssh.com");
    pair.client.conn.accept_channel(asked[0].0).unwrap();
    pair.drive();
    assert_eq!(server_open_outcome(&pair, agent), Some(Ok(())));

    // Agent bytes flow over it like any channel's.
    pair.server
        .conn
        .send_data(agent, b"\0\0\0\x01\x0b")
        .unwrap();
    pair.drive();
    let got: Vec<u8> = pair
        .client
        .log
        .iter()
        .filter_map(|e| match e {
            Event::Channel {
                id,
                event: ChannelEvent::Data { data, .. },
            } if *id == asked[0].0 => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(got, b"\0\0\0\x01\x0b");
    pair.assert_alive();
}

#[test]
fn only_a_client_may_ask_for_agent_forwarding() {
    let mut pair = connected();
    let _session = open_session(&mut pair);
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    assert_eq!(
        pair.server
            .conn
            .channel_request(server_ch, &ChannelRequest::AuthAgentReq, false),
        Err(ApiMisuse::WrongRole("channel_request", "client"))
    );
    // Nor does the server's own (refused) call make it accept agent
    // channels from the client.
    let ch = pair.client.conn.open_channel(AUTH_AGENT, &[]).unwrap();
    pair.drive();
    let refused = pair.client.log.iter().any(|e| {
        matches!(e, Event::Channel { id, event: ChannelEvent::OpenFailed { reason, .. } }
            if *id == ch && *reason == ChannelOpenFailure::AdministrativelyProhibited)
    });
    assert!(refused);
    pair.assert_alive();
}
