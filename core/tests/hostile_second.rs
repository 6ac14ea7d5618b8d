//! The second hostile battery: the classes of bug found in SSH libraries
//! in 2023-2026, each through the public
//! [`Connection`](conch_core::Connection) after a real key exchange:
//! counts that claim more than the packet holds, authentication state
//! carried from one user, key or method to another, a key exchange in the
//! middle of authentication, channel messages for channels still opening,
//! window adjustments that add up past 2^32. Each test checks the error and
//! the DISCONNECT reason the peer decrypted, and what stays bounded. (A
//! group exchange group that is not a safe prime is refused in
//! `kex::dh`'s unit tests; the floods of global requests and keepalives
//! nobody reads are in hostile_channels.rs.)

mod hostile;

use std::time::Instant;

use conch_core::msg;
use conch_core::wire::Encode;
use conch_core::{
    AuthAttempt, AuthDecision, ChannelEvent, ClientConfig, DisconnectReason, Event, PeerMisbehaved,
    PrivateKey, Prompt, ServerConfig,
};
use hostile::*;

/// The real clock, to bound the CPU time a count costs (the connection
/// itself only ever sees the virtual time the tests hand in).
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Instant {
    Instant::now()
}

// ----------------------------------------------------------------------
// A server victim in user authentication
// ----------------------------------------------------------------------

/// A server victim with the userauth service accepted, whose application
/// decides nothing by itself; failures are answered at once.
fn userauth_server() -> (Peer, Victim) {
    let mut config = ServerConfig::new(vec![ed25519(7)]);
    config.auth_failure_delay = None;
    let mut peer = Peer::client();
    peer.auto_auth = false;
    let mut victim = Victim::server(config);
    victim.policy.accept_auth = false;
    peer.establish(&mut victim, Stage::Encrypted);
    let mut p = vec![msg::SERVICE_REQUEST];
    p.put_str("ssh-userauth");
    peer.inject(&mut victim, &p).unwrap();
    (peer, victim)
}

fn request(user: &str, method: &str, fields: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_str(user);
    p.put_str("ssh-connection");
    p.put_str(method);
    fields(&mut p);
    p
}

fn keyboard_request(user: &str) -> Vec<u8> {
    request(user, "keyboard-interactive", |p| {
        p.put_str("");
        p.put_str("");
    })
}

fn decide(victim: &mut Victim, decision: AuthDecision) {
    victim.call(|c| c.auth_decision(decision)).unwrap();
}

/// The AuthRequest events the application was asked, as (user, attempt).
fn asked(victim: &Victim) -> Vec<(String, AuthAttempt)> {
    victim
        .log
        .iter()
        .filter_map(|e| match e {
            Event::AuthRequest { user, attempt, .. } => Some((user.clone(), attempt.clone())),
            _ => None,
        })
        .collect()
}

/// Prompts one password prompt for the pending keyboard-interactive
/// attempt.
fn one_prompt(victim: &mut Victim) {
    decide(
        victim,
        AuthDecision::InfoRequest {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![Prompt {
                prompt: "Password: ".into(),
                echo: false,
            }],
        },
    );
}

#[test]
fn keyboard_interactive_responses_claiming_four_billion_answers() {
    let (mut peer, mut victim) = userauth_server();
    peer.inject(&mut victim, &keyboard_request("alice"))
        .unwrap();
    one_prompt(&mut victim);
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_INFO_REQUEST).len(), 1);
    // The count claims 2^32-1 answers to one prompt, and a few follow.
    let mut p = vec![msg::USERAUTH_INFO_RESPONSE];
    p.put_u32(u32::MAX);
    for _ in 0..3 {
        p.put_str("guess");
    }
    let started = wall_clock();
    peer.inject(&mut victim, &p)
        .expect("a count that does not match the prompts is a failure, not fatal");
    // RFC 4256 section 3.4: answered with USERAUTH_FAILURE, nothing
    // allocated for the count and the application not asked.
    assert!(started.elapsed().as_secs() < 2);
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
    assert_eq!(asked(&victim).len(), 1);

    // A count that matches with the answer missing is malformed.
    peer.inject(&mut victim, &keyboard_request("alice"))
        .unwrap();
    one_prompt(&mut victim);
    peer.pump(&mut victim).unwrap();
    let mut p = vec![msg::USERAUTH_INFO_RESPONSE];
    p.put_u32(1);
    p.put_u32(u32::MAX);
    peer.inject_malformed(&mut victim, &p, "string");
}

#[test]
fn a_user_change_after_partial_success_ends_the_connection() {
    let (mut peer, mut victim) = userauth_server();
    peer.inject(
        &mut victim,
        &request("alice", "password", |p| {
            p.put_bool(false);
            p.put_str("first factor");
        }),
    )
    .unwrap();
    decide(
        &mut victim,
        AuthDecision::Partial {
            methods: vec!["keyboard-interactive".into()],
        },
    );
    peer.pump(&mut victim).unwrap();
    // The second factor for another user: not asked, and the end.
    peer.inject_fails(
        &mut victim,
        &keyboard_request("root"),
        misbehaved(PeerMisbehaved::UserChangedAfterPartialSuccess),
        DisconnectReason::ProtocolError,
    );
    assert_eq!(asked(&victim).len(), 1);
}

#[test]
fn answers_to_prompts_shown_to_one_user_do_not_log_in_another() {
    let (mut peer, mut victim) = userauth_server();
    peer.inject(&mut victim, &keyboard_request("alice"))
        .unwrap();
    one_prompt(&mut victim);
    peer.pump(&mut victim).unwrap();
    // Before answering, a new request for another user: it abandons the
    // prompts (RFC 4252 section 5), and is answered on its own.
    peer.inject(
        &mut victim,
        &request("bob", "password", |p| {
            p.put_bool(false);
            p.put_str("pw");
        }),
    )
    .unwrap();
    decide(&mut victim, AuthDecision::Reject);
    peer.pump(&mut victim).unwrap();
    // The answer to alice's prompt now has no prompt to answer.
    let mut p = vec![msg::USERAUTH_INFO_RESPONSE];
    p.put_u32(1);
    p.put_str("alice's password");
    peer.inject_fails(
        &mut victim,
        &p,
        unexpected(
            msg::USERAUTH_INFO_RESPONSE,
            "with no keyboard-interactive prompts outstanding",
        ),
        DisconnectReason::ProtocolError,
    );
    let users: Vec<String> = asked(&victim).into_iter().map(|(u, _)| u).collect();
    assert_eq!(users, ["alice", "bob"]);
    assert!(!victim.conn.is_authenticated());
}

/// A publickey request (RFC 4252 section 7): a query without `signed`,
/// or the signature over the session's data for `user`.
fn publickey_request(victim: &Victim, user: &str, key: &PrivateKey, signed: bool) -> Vec<u8> {
    let algorithm = "ssh-ed25519";
    let blob = key.public_key().blob().to_vec();
    request(user, "publickey", |p| {
        p.put_bool(signed);
        p.put_str(algorithm);
        p.put_string(&blob);
        if signed {
            let mut data = Vec::new();
            data.put_string(victim.conn.session_id().unwrap());
            data.put_u8(msg::USERAUTH_REQUEST);
            data.put_str(user);
            data.put_str("ssh-connection");
            data.put_str("publickey");
            data.put_bool(true);
            data.put_str(algorithm);
            data.put_string(&blob);
            p.put_string(&key.sign(algorithm, &data).unwrap());
        }
    })
}

#[test]
fn a_key_approved_for_one_user_is_asked_about_again_for_another() {
    let key = ed25519(21);
    let (mut peer, mut victim) = userauth_server();
    let query = publickey_request(&victim, "alice", &key, false);
    peer.inject(&mut victim, &query).unwrap();
    decide(&mut victim, AuthDecision::Accept);
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_PK_OK).len(), 1);
    // Signed, but for root: a new decision, about root.
    let signed = publickey_request(&victim, "root", &key, true);
    peer.inject(&mut victim, &signed).unwrap();
    let last = asked(&victim).pop().unwrap();
    assert_eq!(last.0, "root");
    assert!(matches!(
        last.1,
        AuthAttempt::PublicKey { signed: true, .. }
    ));
    assert!(!victim.conn.is_authenticated());
    decide(&mut victim, AuthDecision::Reject);
    peer.pump(&mut victim).unwrap();
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
    assert!(!victim.conn.is_authenticated());
}

#[test]
fn a_query_approved_for_key_a_does_not_pass_a_signature_by_key_b() {
    let (a, b) = (ed25519(21), ed25519(22));
    let (mut peer, mut victim) = userauth_server();
    let query = publickey_request(&victim, "alice", &a, false);
    peer.inject(&mut victim, &query).unwrap();
    decide(&mut victim, AuthDecision::Accept);
    // Signed with B: the application is asked about B, not told A.
    let signed = publickey_request(&victim, "alice", &b, true);
    peer.inject(&mut victim, &signed).unwrap();
    let (user, attempt) = asked(&victim).pop().unwrap();
    assert_eq!(user, "alice");
    match attempt {
        AuthAttempt::PublicKey { key, signed } => {
            assert!(signed);
            assert_eq!(&key, b.public_key());
        }
        other => panic!("{other:?}"),
    }
    assert!(!victim.conn.is_authenticated());
    // And B signing as if it were A (A's blob, B's signature) fails
    // without asking.
    let before = asked(&victim).len();
    decide(&mut victim, AuthDecision::Reject);
    let mut forged = publickey_request(&victim, "alice", &a, false);
    let signature = {
        let own = publickey_request(&victim, "alice", &b, true);
        // The signature is the last string of B's own request.
        let at = own.len() - (4 + 4 + 11 + 4 + 64);
        own[at..].to_vec()
    };
    // Turn the query into a signed request carrying B's signature.
    let flag = 1 + 4 + 5 + 4 + 14 + 4 + 9;
    forged[flag] = 1;
    forged.extend_from_slice(&signature);
    peer.inject(&mut victim, &forged).unwrap();
    assert_eq!(asked(&victim).len(), before);
    assert!(!victim.conn.is_authenticated());
}

#[test]
fn a_service_other_than_ssh_connection_is_refused_without_asking() {
    let (mut peer, mut victim) = userauth_server();
    let mut p = vec![msg::USERAUTH_REQUEST];
    p.put_str("alice");
    p.put_str("ssh-forward-everything");
    p.put_str("password");
    p.put_bool(false);
    p.put_str("pw");
    peer.inject(&mut victim, &p).unwrap();
    assert!(asked(&victim).is_empty());
    assert_eq!(peer.received_msgs(msg::USERAUTH_FAILURE).len(), 1);
}

#[test]
fn a_key_exchange_in_the_middle_of_authentication_keeps_its_state() {
    // RFC 4253 section 9: either side may re-exchange keys at any time,
    // also while a request waits for the application's decision.
    let (mut peer, mut victim) = userauth_server();
    peer.inject(
        &mut victim,
        &request("alice", "password", |p| {
            p.put_bool(false);
            p.put_str("pw");
        }),
    )
    .unwrap();
    peer.start_rekey();
    peer.pump(&mut victim).unwrap();
    let kexinits = peer.received_msgs(msg::KEXINIT).len();
    assert!(kexinits >= 2, "the victim took part in the re-exchange");
    decide(&mut victim, AuthDecision::Accept);
    peer.pump(&mut victim).unwrap();
    assert!(victim.conn.is_authenticated());
    assert_eq!(peer.received_msgs(msg::USERAUTH_SUCCESS).len(), 1);
    assert_eq!(asked(&victim).len(), 1);
}

// ----------------------------------------------------------------------
// A client victim
// ----------------------------------------------------------------------

/// A client victim after NEWKEYS, which tries no method by itself.
fn encrypted_client() -> (Peer, Victim) {
    let mut peer = Peer::server();
    peer.auto_auth = false;
    let mut victim = Victim::client(ClientConfig::default());
    victim.policy.try_password = false;
    peer.establish(&mut victim, Stage::Encrypted);
    (peer, victim)
}

#[test]
fn ext_info_claiming_four_billion_extensions() {
    let (mut peer, mut victim) = encrypted_client();
    // RFC 8308 section 2.3: the count, then name/value pairs; this packet
    // holds 20 000 empty pairs and claims 2^32-1.
    let mut p = vec![msg::EXT_INFO];
    p.put_u32(u32::MAX);
    for _ in 0..20_000 {
        p.put_str("");
        p.put_str("");
    }
    let started = wall_clock();
    peer.inject_malformed(&mut victim, &p, "uint32");
    // The work is bounded by the packet, not the count.
    assert!(started.elapsed().as_secs() < 2);
}

#[test]
fn ext_info_with_a_huge_server_sig_algs_keeps_a_bounded_list() {
    let (mut peer, mut victim) = encrypted_client();
    let mut names = String::new();
    // About 100 KiB of names (a packet is at most 256 KiB).
    for i in 0..10_000 {
        names.push_str(&format!("alg-{i},"));
    }
    let mut p = vec![msg::EXT_INFO];
    p.put_u32(2);
    for _ in 0..2 {
        p.put_str("server-sig-algs");
        p.put_str(&names);
    }
    peer.inject(&mut victim, &p).unwrap();
    assert!(victim.conn.error().is_none());
}

const PEER_CHANNEL: u32 = 9;

fn channel_request(recipient: u32) -> Vec<u8> {
    let mut p = vec![msg::CHANNEL_REQUEST];
    p.put_u32(recipient);
    p.put_str("exit-status");
    p.put_bool(false);
    p.put_u32(0);
    p
}

#[test]
fn a_channel_request_for_a_channel_we_are_still_opening() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let id = victim.call(|c| c.open_session()).unwrap();
    peer.pump(&mut victim).unwrap();
    peer.inject_fails(
        &mut victim,
        &channel_request(id.0),
        unexpected(
            msg::CHANNEL_REQUEST,
            "before the channel open was confirmed",
        ),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::ExitStatus { .. },
            ..
        }
    )));
}

#[test]
fn a_channel_request_for_a_channel_the_application_has_not_accepted() {
    let (mut peer, mut victim) = Peer::logged_in_server(ServerConfig::new(vec![ed25519(7)]));
    victim.policy.accept_channels = false;
    let mut p = vec![msg::CHANNEL_OPEN];
    p.put_str("session");
    p.put_u32(PEER_CHANNEL);
    p.put_u32(1 << 20);
    p.put_u32(32768);
    peer.inject(&mut victim, &p).unwrap();
    // The peer guesses the number we would give it (the first, 0).
    let mut p = vec![msg::CHANNEL_REQUEST];
    p.put_u32(0);
    p.put_str("exec");
    p.put_bool(true);
    p.put_str("id");
    peer.inject_fails(
        &mut victim,
        &p,
        misbehaved(PeerMisbehaved::UnknownChannel(0)),
        DisconnectReason::ProtocolError,
    );
    assert!(!victim.saw(|e| matches!(
        e,
        Event::Channel {
            event: ChannelEvent::Request { .. },
            ..
        }
    )));
}

#[test]
fn window_adjustments_that_add_up_past_two_to_the_32() {
    let (mut peer, mut victim) = Peer::logged_in_client(ClientConfig::default());
    let id = victim.call(|c| c.open_session()).unwrap();
    peer.pump(&mut victim).unwrap();
    let mut p = vec![msg::CHANNEL_OPEN_CONFIRMATION];
    p.put_u32(id.0);
    p.put_u32(PEER_CHANNEL);
    p.put_u32(1000);
    p.put_u32(32768);
    peer.inject(&mut victim, &p).unwrap();
    // Spend some of the window, so what is left is not what was granted.
    assert_eq!(victim.call(|c| c.send_data(id, &[7; 600])).unwrap(), 600);
    peer.pump(&mut victim).unwrap();
    let adjust = |n: u32| {
        let mut p = vec![msg::CHANNEL_WINDOW_ADJUST];
        p.put_u32(id.0);
        p.put_u32(n);
        p
    };
    // Two halves of 2^32: each fits alone, the sum wraps a u32.
    peer.inject(&mut victim, &adjust(1 << 31)).unwrap();
    peer.inject(&mut victim, &adjust((1 << 31) - 401)).unwrap();
    assert_eq!(victim.conn.channel(id).unwrap().send_window(), u32::MAX);
    peer.inject_fails(
        &mut victim,
        &adjust(1),
        misbehaved(PeerMisbehaved::WindowOverflow(id.0)),
        DisconnectReason::ProtocolError,
    );
}
