//! The client's deadline for the server's answer to each authentication
//! request (`ClientConfig::auth_timeout`), on the virtual clock: it ends
//! the connection at exactly the deadline with a DISCONNECT, counts only
//! time the server owes an answer (never the application's), is disarmed
//! by the answer, and a session it ended replays.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use conch_core::record::{Replayer, Transcript};
use conch_core::{ClientConfig, Connection, DisconnectReason, Error, Event, TimeoutKind};

const AUTH_TIMEOUT: Duration = Duration::from_secs(120);

/// A client with the default auth timeout (120 s), and a server with no
/// login grace time, so that only the client's deadline can end a login
/// that takes long.
fn patient_server_pair(client: ClientConfig) -> Pair {
    let mut server = server_config();
    server.transport.handshake_timeout = None;
    Pair::with_configs(client, server)
}

/// The client gave up on the server with the authentication timeout and
/// told it so with a DISCONNECT.
#[track_caller]
fn assert_auth_timed_out(pair: &Pair) {
    assert_eq!(
        pair.client.disconnected(),
        Some(&Error::Timeout(TimeoutKind::Authentication)),
        "client: {:#?}",
        pair.client.log
    );
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::ConnectionLost,
                description,
            }) if description.contains("authentication")
        ),
        "the server got no DISCONNECT naming the timer: {:?}",
        pair.server.disconnected()
    );
}

/// Sends a password request at the pair's current time to a server whose
/// answers no longer arrive; returns when the answer is due.
fn password_to_a_silent_server(pair: &mut Pair) -> Instant {
    pair.s2c.blocked = true;
    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    let sent_at = pair.now();
    pair.drive();
    assert_eq!(
        pair.client.conn.poll_timeout(),
        Some(sent_at + AUTH_TIMEOUT)
    );
    sent_at + AUTH_TIMEOUT
}

#[test]
fn a_server_that_never_answers_ends_the_client_at_exactly_the_deadline() {
    let mut pair = patient_server_pair(client_config());
    pair.handshake();
    pair.advance(Duration::from_secs(30));
    pair.drive();
    let due = password_to_a_silent_server(&mut pair);

    pair.advance(due - pair.now() - Duration::from_nanos(1));
    pair.drive();
    pair.assert_alive();
    pair.advance(Duration::from_nanos(1));
    pair.drive();
    assert_auth_timed_out(&pair);
    let now = pair.now();
    pair.client.conn.handle_timeout(now);
    assert_eq!(
        pair.client.conn.error(),
        Some(&Error::Timeout(TimeoutKind::Authentication)),
        "the error is sticky"
    );
    assert!(pair.client.conn.poll_event().is_none(), "and reported once");
    assert_eq!(pair.client.conn.poll_timeout(), None);
}

#[test]
fn no_auth_timeout_waits_for_the_answer_as_long_as_it_takes() {
    let mut client = client_config();
    client.auth_timeout = None;
    let mut pair = patient_server_pair(client);
    pair.handshake();
    pair.s2c.blocked = true;
    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    pair.drive();
    pair.advance(Duration::from_secs(24 * 3600));
    pair.drive();
    pair.assert_alive();
    pair.s2c.blocked = false;
    pair.drive();
    pair.assert_authenticated();
}

/// The host key decision, the signature and prompt answers are the
/// application's time: the deadline only runs while the server owes an
/// answer, and each request starts it afresh.
#[test]
fn time_the_application_takes_does_not_count() {
    let user_key = ed25519_key(42);
    let mut client = client_config();
    // The handshake deadline does count the host key decision; this test
    // is about the authentication deadline alone.
    client.transport.handshake_timeout = None;
    let mut pair = patient_server_pair(client);
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.client_app.host_key_policy = HostKeyPolicy::Ignore;
    pair.drive();
    assert!(pair.client.saw(|e| matches!(e, Event::HostKey { .. })));
    // A user ponders the host key for 200 s.
    pair.advance(Duration::from_secs(200));
    pair.drive();
    pair.assert_alive();
    pair.client.conn.accept_host_key().unwrap();
    pair.handshake();

    // The query is answered with PK_OK; signing then takes 300 s, far
    // past the 120 s the answer had.
    pair.client.new_events();
    pair.client
        .conn
        .auth_publickey(USER, user_key.public_key())
        .unwrap();
    pair.drive();
    let events = pair.client.new_events();
    let Some((algorithm, data)) = events.iter().find_map(|e| match e {
        Event::AuthSignatureNeeded {
            algorithm, data, ..
        } => Some((algorithm.clone(), data.clone())),
        _ => None,
    }) else {
        panic!("no signature asked for: {events:#?}");
    };
    let next = pair.client.conn.poll_timeout();
    assert!(
        next.is_none_or(|t| t > pair.now() + Duration::from_secs(3000)),
        "a deadline runs while the application signs: {next:?}"
    );
    pair.advance(Duration::from_secs(300));
    pair.drive();
    pair.assert_alive();

    // The signed request gets a fresh 120 s, which a silent server uses up.
    pair.s2c.blocked = true;
    let sig = user_key.sign(&algorithm, &data).unwrap();
    pair.client.conn.auth_signature(&sig).unwrap();
    let sent_at = pair.now();
    pair.drive();
    assert_eq!(
        pair.client.conn.poll_timeout(),
        Some(sent_at + AUTH_TIMEOUT)
    );
    pair.advance(AUTH_TIMEOUT);
    pair.drive();
    assert_auth_timed_out(&pair);
}

#[test]
fn the_answer_disarms_the_deadline() {
    let mut pair = patient_server_pair(client_config());
    pair.server_app.kbd_prompts = vec![(
        conch_core::Prompt {
            prompt: "Code: ".into(),
            echo: true,
        },
        "42".into(),
    )];
    pair.handshake();

    // A failure is an answer: nothing is due any more.
    pair.client.conn.auth_password(USER, "wrong").unwrap();
    pair.drive();
    assert!(pair.client.saw(|e| matches!(e, Event::AuthFailure { .. })));
    pair.advance(Duration::from_secs(500));
    pair.drive();
    pair.assert_alive();

    // So is INFO_REQUEST: the user takes 500 s to read the prompt.
    pair.client
        .conn
        .auth_keyboard_interactive(USER, "")
        .unwrap();
    pair.drive();
    assert!(pair
        .client
        .saw(|e| matches!(e, Event::AuthInfoRequest { .. })));
    pair.advance(Duration::from_secs(500));
    pair.drive();
    pair.assert_alive();
    pair.client
        .conn
        .auth_info_response(&["42".to_string()])
        .unwrap();
    pair.drive();
    pair.assert_authenticated();
    // After authentication no authentication deadline is left: only the
    // re-exchange timer (1 hour) remains.
    pair.advance(Duration::from_secs(600));
    pair.drive();
    pair.assert_alive();
}

#[test]
fn a_session_ended_by_the_auth_timeout_replays() {
    let mut pair = patient_server_pair(client_config());
    let now = pair.now();
    pair.client = Endpoint::new(Connection::client_recorded(
        Arc::new(client_config()),
        [1; 32],
        now,
    ));
    pair.handshake();
    let due = password_to_a_silent_server(&mut pair);
    pair.advance(due - pair.now());
    pair.drive();
    assert_auth_timed_out(&pair);

    let bytes = pair.client.conn.take_transcript();
    let mut replayer = Replayer::new(Transcript::decode(&bytes).unwrap(), pair.now());
    let mut events = Vec::new();
    while let Some(step) = replayer.step() {
        events.extend(step.unwrap().event);
    }
    assert_eq!(events, pair.client.log);
    assert_eq!(
        events.last(),
        Some(&Event::Disconnected {
            error: Error::Timeout(TimeoutKind::Authentication)
        })
    );
}
