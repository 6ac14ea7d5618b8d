//! End-to-end sessions between a client and a server `Connection` in
//! memory: the handshake, the client's host-key decision, and the deadlines
//! on an unfinished handshake and an unauthenticated login.

mod common;

use common::*;
use conch_core::{ApiMisuse, DisconnectReason, Error, Event, TimeoutKind};

// ----------------------------------------------------------------------
// Handshake and host key
// ----------------------------------------------------------------------

#[test]
fn full_handshake_and_password_login() {
    let mut pair = Pair::new();
    pair.handshake();

    // The client was shown exactly the server's host key, once.
    assert_eq!(
        pair.client_app.host_keys_seen,
        vec![host_key().public_key().clone()]
    );
    assert_eq!(
        pair.client.conn.server_host_key(),
        Some(host_key().public_key())
    );

    // Both sides finished the first exchange with the same algorithms, and
    // the defaults include strict kex.
    let done = |log: &[Event]| {
        log.iter()
            .find_map(|e| match e {
                Event::KeyExchangeDone { algorithms, rekey } => Some((algorithms.clone(), *rekey)),
                _ => None,
            })
            .expect("KeyExchangeDone")
    };
    let (client_algs, client_rekey) = done(&pair.client.log);
    let (server_algs, server_rekey) = done(&pair.server.log);
    assert!(!client_rekey && !server_rekey);
    assert_eq!(client_algs, server_algs);
    assert!(client_algs.strict_kex);
    assert_eq!(client_algs.host_key, "ssh-ed25519");
    // Both sides run the default lists, so the client's first choice wins
    // in every slot (RFC 4253 section 7.1).
    let prefs = conch_core::AlgorithmPreferences::defaults_for(
        &conch_core::crypto::CryptoProvider::default(),
    );
    assert_eq!(client_algs.kex, prefs.kex[0]);
    assert_eq!(client_algs.cipher_c2s, prefs.cipher[0]);
    assert_eq!(client_algs.cipher_s2c, prefs.cipher[0]);

    // Same session id on both ends: 32 bytes of SHA-256 exchange hash.
    let sid = pair.client.conn.session_id().expect("client session id");
    assert_eq!(sid.len(), 32);
    assert_eq!(Some(sid), pair.server.conn.session_id());

    // Order on the client: HostKey, then KeyExchangeDone, then UserauthReady.
    let pos = |f: &dyn Fn(&Event) -> bool| pair.client.log.iter().position(f).unwrap();
    let hk = pos(&|e| matches!(e, Event::HostKey { .. }));
    let kd = pos(&|e| matches!(e, Event::KeyExchangeDone { .. }));
    let ur = pos(&|e| matches!(e, Event::UserauthReady));
    assert!(hk < kd && kd < ur, "event order: {:#?}", pair.client.log);

    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    pair.drive();
    pair.assert_authenticated();
    pair.assert_alive();
    pair.assert_no_app_errors();

    // The server saw exactly one attempt, the password, for ssh-connection.
    let requests: Vec<_> = pair
        .server
        .log
        .iter()
        .filter(|e| matches!(e, Event::AuthRequest { .. }))
        .collect();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(matches!(
        requests[0],
        Event::AuthRequest { user, service, attempt: conch_core::AuthAttempt::Password { password, new_password: None } }
            if user == USER && service == "ssh-connection" && password == PASSWORD
    ));
}

#[test]
fn unanswered_host_key_sends_no_credential_and_rejection_disconnects() {
    let mut pair = Pair::new();
    pair.client_app.host_key_policy = HostKeyPolicy::Ignore;
    pair.drive();
    assert_eq!(
        pair.client_app.host_keys_seen.len(),
        1,
        "{:#?}",
        pair.client.log
    );
    assert!(!pair.client.saw(|e| matches!(e, Event::UserauthReady)));
    let sent_when_asked = pair.c2s.sent;

    // Credentials cannot be handed over before UserauthReady.
    let not_ready = Err(ApiMisuse::UserauthNotReady);
    assert_eq!(pair.client.conn.auth_password(USER, PASSWORD), not_ready);
    assert_eq!(pair.client.conn.auth_none(USER), not_ready);
    assert_eq!(
        pair.client
            .conn
            .auth_publickey(USER, ed25519_key(9).public_key()),
        not_ready
    );
    assert_eq!(
        pair.client.conn.auth_keyboard_interactive(USER, ""),
        not_ready
    );
    assert_eq!(
        pair.client.conn.open_session(),
        Err(ApiMisuse::NotAuthenticated)
    );
    pair.drive();

    // Nothing at all left the client while the decision was pending (not
    // even NEWKEYS), and the server never saw an authentication request.
    assert_eq!(pair.c2s.sent, sent_when_asked);
    assert!(!pair.server.saw(|e| matches!(e, Event::AuthRequest { .. })));
    pair.assert_alive();

    pair.client.conn.reject_host_key().unwrap();
    pair.drive();
    assert_eq!(pair.client.conn.error(), Some(&Error::HostKeyRejected));
    assert_eq!(pair.client.disconnected(), Some(&Error::HostKeyRejected));
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::HostKeyNotVerifiable,
                ..
            })
        ),
        "server: {:#?}",
        pair.server.log
    );
    assert!(pair.client.conn.is_closed());
    assert!(pair.server.conn.is_closed());
    assert!(!pair.server.saw(|e| matches!(e, Event::AuthRequest { .. })));
    // A decision after the end is refused without a panic.
    assert_eq!(pair.client.conn.accept_host_key(), Err(ApiMisuse::Closed));
}

#[test]
fn host_key_accepted_late_resumes_the_handshake() {
    let mut pair = Pair::new();
    pair.client_app.host_key_policy = HostKeyPolicy::Ignore;
    pair.drive();
    assert_eq!(pair.client_app.host_keys_seen.len(), 1);
    // Time passes while the user reads the fingerprint (less than the
    // handshake timeout).
    pair.advance(std::time::Duration::from_secs(30));
    pair.drive();
    pair.assert_alive();
    pair.client.conn.accept_host_key().unwrap();
    pair.connect();
    pair.assert_no_app_errors();
}

#[test]
fn rejected_host_key_with_policy_ends_both_sides() {
    let mut pair = Pair::new();
    pair.client_app.host_key_policy = HostKeyPolicy::Reject;
    pair.drive();
    assert_eq!(pair.client.disconnected(), Some(&Error::HostKeyRejected));
    assert_eq!(
        pair.server.conn.error().map(Error::disconnect_reason),
        Some(DisconnectReason::HostKeyNotVerifiable)
    );
    assert!(!pair.client.saw(|e| matches!(e, Event::UserauthReady)));
}

// ----------------------------------------------------------------------
// Deadlines
// ----------------------------------------------------------------------

#[test]
fn handshake_timeout_ends_a_stalled_key_exchange() {
    let mut pair = Pair::new();
    pair.client_app.host_key_policy = HostKeyPolicy::Ignore;
    pair.drive();
    pair.advance(std::time::Duration::from_secs(119));
    pair.drive();
    pair.assert_alive();
    pair.advance(std::time::Duration::from_secs(2));
    pair.drive();
    assert!(
        matches!(
            pair.client.disconnected(),
            Some(Error::Timeout(TimeoutKind::Handshake))
        ),
        "client: {:#?}",
        pair.client.log
    );
    // The server's own deadline fires at the same instant, or the client's
    // DISCONNECT arrives first.
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::Timeout(_))
                | Some(Error::PeerDisconnected {
                    reason: DisconnectReason::ConnectionLost,
                    ..
                })
        ),
        "server: {:#?}",
        pair.server.log
    );
}

/// OpenSSH's LoginGraceTime: `handshake_timeout` covers, on the server,
/// the time until the client is authenticated (see `TransportConfig`).
#[test]
fn login_grace_time_ends_an_unauthenticated_session() {
    let mut pair = Pair::new();
    pair.handshake();
    pair.advance(std::time::Duration::from_secs(119));
    pair.drive();
    pair.assert_alive();
    pair.advance(std::time::Duration::from_secs(2));
    pair.drive();
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::Timeout(TimeoutKind::LoginGrace))
        ),
        "server still waiting for a login after 121 s: {:?}",
        pair.server.conn.error()
    );
    assert!(
        matches!(
            pair.client.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::ConnectionLost,
                ..
            })
        ),
        "client: {:#?}",
        pair.client.log
    );
}

/// On a client, `handshake_timeout` runs until the server accepts the user
/// authentication service (RFC 4253 section 10), past the key exchange:
/// a server that completes the exchange and then falls silent is noticed
/// with the handshake timer, not left to wait forever.
#[test]
fn handshake_timeout_covers_the_service_request_on_a_client() {
    let mut server = server_config();
    server.transport.handshake_timeout = None;
    let mut pair = Pair::with_configs(client_config(), server);
    pair.client_app.host_key_policy = HostKeyPolicy::Ignore;
    pair.drive();
    // Everything the server sends before the client's NEWKEYS has arrived;
    // from now on nothing more does (its SERVICE_ACCEPT included).
    pair.s2c.blocked = true;
    pair.client.conn.accept_host_key().unwrap();
    pair.drive();
    assert!(pair
        .client
        .saw(|e| matches!(e, Event::KeyExchangeDone { rekey: false, .. })));
    assert!(!pair.client.saw(|e| matches!(e, Event::UserauthReady)));
    let due = pair.client.conn.poll_timeout();
    assert_eq!(due, Some(pair.now() + std::time::Duration::from_secs(120)));
    pair.advance(std::time::Duration::from_secs(119));
    pair.drive();
    pair.assert_alive();
    pair.advance(std::time::Duration::from_secs(1));
    pair.drive();
    assert_eq!(
        pair.client.disconnected(),
        Some(&Error::Timeout(TimeoutKind::Handshake))
    );
    // It told the server so.
    assert!(
        matches!(
            pair.server.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::ConnectionLost,
                ..
            })
        ),
        "server: {:?}",
        pair.server.disconnected()
    );
}

#[test]
fn authenticated_session_outlives_the_login_grace_time() {
    let mut pair = connected();
    pair.advance(std::time::Duration::from_secs(600));
    pair.drive();
    pair.assert_alive();
    let ch = pair.exec("echo later");
    pair.drive();
    assert_eq!(pair.client_app.channel(ch).stdout, b"later\n");
}
