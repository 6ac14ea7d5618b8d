//! Hostile peers against user authentication (RFC 4252, RFC 4256), through
//! the public [`Connection`](conch_core::Connection) after a real key
//! exchange: invalid UTF-8 where text is expected, messages out of place,
//! and floods that must stay bounded. Each test checks the error, the
//! DISCONNECT reason the peer decrypted, and the bound.

mod hostile;

use conch_core::msg;
use conch_core::wire::Encode;
use conch_core::{
    ChannelEvent, ClientConfig, DisconnectReason, Error, Event, PeerIncompatible, PeerMisbehaved,
    ServerConfig,
};
use hostile::*;

/// Failed authentication answered at once (see `Peer::default_server`).
fn server_config() -> ServerConfig {
    let mut config = ServerConfig::new(vec![ed25519(7)]);
    config.auth_failure_delay = None;
    config
}

/// A server victim after NEWKEYS, before any authentication message.
fn encrypted_server(config: ServerConfig) -> (Peer, Victim) {
    let mut peer = Peer::client();
    peer.auto_auth = false;
    let mut victim = Victim::server(config);
    peer.establish(&mut victim, Stage::Encrypted);
    (peer, victim)
}

/// Same, with the `ssh-userauth` service accepted.
fn userauth_server(config: ServerConfig) -> (Peer, Victim) {
    let (mut peer, mut victim) = encrypted_server(config);
    let mut p = vec![msg::SERVICE_REQUEST];
    p.put_str("ssh-userauth");
    peer.inject(&mut victim, &p).unwrap();
    assert_eq!(peer.received_msgs(msg::SERVICE_ACCEPT).len(), 1);
    (peer, victim)
}

fn request(user: &[u8], method: &str, fields: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_string(user);
    p.put_str("ssh-connection");
    p.put_str(method);
    fields(&mut p);
    p
}

fn password_request(user: &[u8], password: &[u8]) -> Vec<u8> {
    request(user, "password", |p| {
        p.put_bool(false);
        p.put_string(password);
    })
}

/// A client victim whose userauth service is ready but which has not tried
/// any method yet.
fn idle_client() -> (Peer, Victim) {
    let mut peer = Peer::server();
    let mut victim = Victim::client(ClientConfig::default());
    victim.policy.try_password = false;
    peer.establish(&mut victim, Stage::Encrypted);
    assert!(victim.saw(|e| matches!(e, Event::UserauthReady)));
    (peer, victim)
}

// ----------------------------------------------------------------------
// Invalid UTF-8 where text is expected (RFC 4251 section 5)
// ----------------------------------------------------------------------

#[test]
fn a_user_name_that_is_not_utf8_is_malformed() {
    let (mut peer, mut victim) = userauth_server(server_config());
    peer.inject_fails(
        &mut victim,
        &password_request(b"r\xc3\x28t", b"pw"),
        malformed("UTF-8 string"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(e, Event::AuthRequest { .. })));
}

#[test]
fn a_password_that_is_not_utf8_is_malformed() {
    // RFC 4252 section 8: the password is ISO-10646 UTF-8.
    let (mut peer, mut victim) = userauth_server(server_config());
    peer.inject_fails(
        &mut victim,
        &password_request(b"alice", b"\xff\xfe\xfd"),
        malformed("UTF-8 string"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(e, Event::AuthRequest { .. })));
}

#[test]
fn a_method_name_that_is_not_utf8_is_malformed() {
    let (mut peer, mut victim) = userauth_server(server_config());
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_str("alice");
    p.put_str("ssh-connection");
    p.put_string(b"pass\x80word");
    peer.inject_malformed(&mut victim, &p, "UTF-8 string");
}

#[test]
fn banners_and_prompts_that_are_not_utf8_are_shown_safely_not_refused() {
    // RFC 4252 section 5.4 wants UTF-8, but old servers send Latin-1
    // banners; a client shows them (with replacement characters and no
    // control characters) rather than dropping the connection.
    let (mut peer, mut victim) = idle_client();
    let mut banner = vec![msg::USERAUTH_BANNER];
    banner.put_string(b"Willkommen \xfc\x1b[31m!\n");
    banner.put_str("");
    peer.inject(&mut victim, &banner).unwrap();
    let shown = victim
        .log
        .iter()
        .find_map(|e| match e {
            Event::AuthBanner { message } => Some(message.clone()),
            _ => None,
        })
        .expect("banner shown");
    assert_eq!(shown, "Willkommen \u{fffd}[31m!\n");
    assert!(victim.conn.error().is_none());
}

// ----------------------------------------------------------------------
// Messages out of place
// ----------------------------------------------------------------------

#[test]
fn authentication_before_the_service_request() {
    let (mut peer, mut victim) = encrypted_server(server_config());
    peer.inject_fails(
        &mut victim,
        &password_request(b"alice", b"pw"),
        unexpected(
            msg::USERAUTH_REQUEST,
            "before the ssh-userauth service request",
        ),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_service_we_do_not_run() {
    let (mut peer, mut victim) = encrypted_server(server_config());
    let mut p = vec![msg::SERVICE_REQUEST];
    p.put_str("ssh-connection");
    peer.inject_fails(
        &mut victim,
        &p,
        Error::PeerIncompatible(PeerIncompatible::ServiceNotAvailable(
            "ssh-connection".into(),
        )),
        DisconnectReason::ServiceNotAvailable,
    );
}

#[test]
fn a_channel_open_before_authentication() {
    // RFC 4252 section 5: the connection protocol only after success.
    let (mut peer, mut victim) = userauth_server(server_config());
    let mut open = vec![msg::CHANNEL_OPEN];
    open.put_str("session");
    open.put_u32(0);
    open.put_u32(1 << 20);
    open.put_u32(32768);
    peer.inject_fails(
        &mut victim,
        &open,
        unexpected(msg::CHANNEL_OPEN, "before authentication"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::OpenRequest { .. },
            ..
        }
    )));
}

#[test]
fn server_messages_sent_by_a_client() {
    let (mut peer, mut victim) = userauth_server(server_config());
    peer.inject_fails(
        &mut victim,
        &[msg::USERAUTH_SUCCESS],
        unexpected(msg::USERAUTH_SUCCESS, "during user authentication"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn success_with_no_request_outstanding() {
    let (mut peer, mut victim) = idle_client();
    peer.inject_fails(
        &mut victim,
        &[msg::USERAUTH_SUCCESS],
        unexpected(msg::USERAUTH_SUCCESS, "with no request outstanding"),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.conn.is_authenticated());
}

#[test]
fn a_second_service_accept() {
    let (mut peer, mut victim) = idle_client();
    let mut p = vec![msg::SERVICE_ACCEPT];
    p.put_str("ssh-userauth");
    peer.inject_fails(
        &mut victim,
        &p,
        unexpected(msg::SERVICE_ACCEPT, "with no service request"),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn an_info_request_with_no_request_outstanding() {
    let (mut peer, mut victim) = idle_client();
    let mut p = vec![msg::USERAUTH_INFO_REQUEST];
    p.put_str("");
    p.put_str("");
    p.put_str("");
    p.put_u32(0);
    peer.inject_fails(
        &mut victim,
        &p,
        unexpected(60, "with no request outstanding"),
        DisconnectReason::ProtocolError,
    );
}

// ----------------------------------------------------------------------
// Floods and limits
// ----------------------------------------------------------------------

#[test]
fn a_keyboard_interactive_request_with_a_million_prompts() {
    let mut peer = Peer::server();
    peer.auto_auth = false;
    let mut victim = Victim::client(ClientConfig::default());
    victim.policy.try_password = false;
    peer.establish(&mut victim, Stage::Encrypted);
    let mut p = vec![msg::SERVICE_ACCEPT];
    p.put_str("ssh-userauth");
    peer.inject(&mut victim, &p).unwrap();
    victim
        .call(|c| c.auth_keyboard_interactive(USER, ""))
        .expect("service ready");
    peer.pump(&mut victim).unwrap();
    // The count claims a million prompts; the packet holds a few.
    let mut p = vec![msg::USERAUTH_INFO_REQUEST];
    p.put_str("name");
    p.put_str("instruction");
    p.put_str("");
    p.put_u32(1_000_000);
    for _ in 0..3 {
        p.put_str("Password: ");
        p.put_bool(false);
    }
    peer.inject_fails(
        &mut victim,
        &p,
        Error::PeerMisbehaved(PeerMisbehaved::TooManyPrompts),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(e, Event::AuthInfoRequest { .. })));
}

#[test]
fn too_many_failed_attempts_end_the_connection() {
    let (mut peer, mut victim) = userauth_server(server_config());
    victim.policy.accept_auth = false;
    // The application rejects each attempt.
    let mut got = Ok(());
    let mut attempts = 0;
    while got.is_ok() && attempts < 100 {
        attempts += 1;
        peer.send(&password_request(b"alice", b"guess"));
        got = peer.pump(&mut victim);
        if victim.conn.error().is_none() {
            // The decision that reaches the limit fails the connection:
            // the decision itself is fine, the end is reported as an event.
            let decided = victim.call(|c| c.auth_decision(conch_core::AuthDecision::Reject));
            assert_eq!(decided, Ok(()));
            got = peer.pump(&mut victim);
        }
    }
    // OpenSSH's MaxAuthTries default: the sixth failure disconnects.
    assert_eq!(attempts, 6);
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 5);
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        got,
        Error::PeerMisbehaved(PeerMisbehaved::TooManyAuthAttempts),
        DisconnectReason::NoMoreAuthMethodsAvailable,
    );
}

#[test]
fn pipelined_requests_while_the_application_decides_are_bounded() {
    let (mut peer, mut victim) = userauth_server(server_config());
    victim.policy.accept_auth = false;
    // The application sits on the first request; the client keeps sending.
    let mut result = Ok(());
    let mut sent = 0;
    for _ in 0..10_000 {
        sent += 1;
        result = peer.inject(&mut victim, &password_request(b"alice", b"pw"));
        if result.is_err() {
            break;
        }
    }
    // One pending and 16 queued; the next is refused.
    assert_eq!(sent, 18);
    assert_eq!(victim.count(|e| matches!(e, Event::AuthRequest { .. })), 1);
    assert_peer_saw_failure(
        &peer,
        &mut victim,
        result,
        Error::PeerMisbehaved(PeerMisbehaved::TooManyQueuedAuthRequests),
        DisconnectReason::ProtocolError,
    );
}

#[test]
fn a_huge_user_name_string_is_bounded_by_the_packet() {
    // A string that claims more than the packet holds is malformed; a real
    // one is at most a packet (256 KiB) long, which bounds what is kept.
    let (mut peer, mut victim) = userauth_server(server_config());
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_u32(u32::MAX);
    p.put_raw(b"alice");
    peer.inject_malformed(&mut victim, &p, "string");
}
