//! End-to-end sessions between a client and a server `Connection` in
//! memory: every authentication method, its failures, banners, partial
//! success and the limit on attempts.

mod common;

use common::*;
use conch_core::{ApiMisuse, DisconnectReason, Error, Event, Prompt};

fn failure_methods(pair: &mut Pair) -> (Vec<String>, bool) {
    let events = pair.client.new_events();
    events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::AuthFailure {
                methods,
                partial_success,
            } => Some((methods.clone(), *partial_success)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no AuthFailure in {events:#?}"))
}

fn assert_not_authenticated(pair: &mut Pair) {
    assert!(!pair.client.saw(|e| matches!(e, Event::AuthSuccess)));
    assert!(!pair
        .server
        .saw(|e| matches!(e, Event::Authenticated { .. })));
    assert!(!pair.client.conn.is_authenticated());
    assert!(!pair.server.conn.is_authenticated());
    assert!(matches!(
        pair.client.conn.open_session(),
        // Closed when the failure ended the connection.
        Err(ApiMisuse::NotAuthenticated | ApiMisuse::Closed)
    ));
}

#[test]
fn auth_none_fails_and_lists_methods_then_succeeds_when_allowed() {
    let mut pair = Pair::new();
    pair.handshake();
    pair.client.new_events();
    pair.client.conn.auth_none(USER).unwrap();
    pair.drive();
    let (methods, partial) = failure_methods(&mut pair);
    assert!(!partial);
    assert_eq!(
        methods,
        vec!["publickey", "password", "keyboard-interactive"],
        "methods-left list follows the server configuration"
    );
    assert_not_authenticated(&mut pair);
    pair.assert_alive();

    let mut pair = Pair::new();
    pair.server_app.allow_none = true;
    pair.handshake();
    pair.client.conn.auth_none(USER).unwrap();
    pair.drive();
    pair.assert_authenticated();
}

#[test]
fn wrong_password_fails_then_right_one_succeeds() {
    let mut pair = Pair::new();
    pair.handshake();
    pair.client.new_events();
    pair.client.conn.auth_password(USER, "hunter2").unwrap();
    pair.drive();
    let (methods, partial) = failure_methods(&mut pair);
    assert!(!partial);
    assert!(methods.contains(&"password".to_string()));
    assert_not_authenticated(&mut pair);

    // Wrong user, right password.
    pair.client.conn.auth_password("mallory", PASSWORD).unwrap();
    pair.drive();
    failure_methods(&mut pair);
    assert_not_authenticated(&mut pair);

    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    pair.drive();
    pair.assert_authenticated();
    pair.assert_no_app_errors();
}

#[test]
fn password_change_request_succeeds_and_bad_new_password_fails() {
    let old = "winter2023";
    let new = "summer2024";
    let mut pair = Pair::new();
    pair.server_app.password = None;
    pair.server_app.expired_password = Some(old.into());
    pair.handshake();
    pair.client.new_events();
    pair.client.conn.auth_password(USER, old).unwrap();
    pair.drive();
    let events = pair.client.new_events();
    assert!(
        events.iter().any(|e| matches!(e, Event::AuthPasswordChange { prompt } if prompt == "Your password has expired.")),
        "{events:#?}"
    );
    assert_not_authenticated(&mut pair);

    // Same password again as the "new" one: the server refuses.
    pair.client.conn.auth_change_password(old, old).unwrap();
    pair.drive();
    failure_methods(&mut pair);
    assert_not_authenticated(&mut pair);

    pair.client.conn.auth_password(USER, old).unwrap();
    pair.drive();
    assert!(pair
        .client
        .new_events()
        .iter()
        .any(|e| matches!(e, Event::AuthPasswordChange { .. })));
    pair.client.conn.auth_change_password(old, new).unwrap();
    pair.drive();
    pair.assert_authenticated();
    assert!(pair.server.saw(|e| matches!(
        e,
        Event::AuthRequest {
            attempt: conch_core::AuthAttempt::Password { password, new_password: Some(n) },
            ..
        } if password == old && n == new
    )));
}

/// Offers `offered`, signs with `signer` if asked; returns whether a
/// signature was asked for.
fn publickey_round(
    pair: &mut Pair,
    offered: &conch_core::PrivateKey,
    signer: &conch_core::PrivateKey,
) -> bool {
    pair.client.new_events();
    pair.client
        .conn
        .auth_publickey(USER, offered.public_key())
        .unwrap();
    pair.drive();
    let events = pair.client.new_events();
    let Some((key, algorithm, data)) = events.iter().find_map(|e| match e {
        Event::AuthSignatureNeeded {
            key,
            algorithm,
            data,
        } => Some((key.clone(), algorithm.clone(), data.clone())),
        _ => None,
    }) else {
        return false;
    };
    assert_eq!(&key, offered.public_key());
    assert_eq!(algorithm, "ssh-ed25519");
    // RFC 4252 section 7: the signed data starts with the session id as a string.
    let sid = pair.client.conn.session_id().unwrap().to_vec();
    assert_eq!(&data[..4], &(sid.len() as u32).to_be_bytes());
    assert_eq!(&data[4..4 + sid.len()], &sid[..]);
    let sig = signer.sign(&algorithm, &data).unwrap();
    pair.client.conn.auth_signature(&sig).unwrap();
    pair.drive();
    true
}

#[test]
fn publickey_query_then_signature_succeeds() {
    let user_key = ed25519_key(42);
    let mut pair = Pair::new();
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.handshake();
    assert!(publickey_round(&mut pair, &user_key, &user_key));
    pair.assert_authenticated();
    // The server saw the query first, then the verified, signed request.
    let attempts: Vec<bool> = pair
        .server
        .log
        .iter()
        .filter_map(|e| match e {
            Event::AuthRequest {
                attempt: conch_core::AuthAttempt::PublicKey { key, signed },
                ..
            } => {
                assert_eq!(key, user_key.public_key());
                Some(*signed)
            }
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![false, true]);
}

#[test]
fn publickey_unknown_key_fails_without_signature_request() {
    let user_key = ed25519_key(42);
    let stranger = ed25519_key(43);
    let mut pair = Pair::new();
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.handshake();
    pair.client.new_events();
    pair.client
        .conn
        .auth_publickey(USER, stranger.public_key())
        .unwrap();
    pair.drive();
    let events = pair.client.new_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::AuthSignatureNeeded { .. })),
        "{events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::AuthFailure { .. })));
    assert_not_authenticated(&mut pair);
    pair.assert_alive();
}

#[test]
fn publickey_signature_by_another_key_is_refused() {
    let user_key = ed25519_key(42);
    let forger = ed25519_key(44);
    let mut pair = Pair::new();
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.handshake();
    assert!(publickey_round(&mut pair, &user_key, &forger));
    assert_not_authenticated(&mut pair);
    // The bad signature never reached the application as a signed attempt.
    assert!(!pair.server.saw(|e| matches!(
        e,
        Event::AuthRequest {
            attempt: conch_core::AuthAttempt::PublicKey { signed: true, .. },
            ..
        }
    )));
    // Then the right signature works on the same connection.
    assert!(publickey_round(&mut pair, &user_key, &user_key));
    pair.assert_authenticated();
}

fn kbd_server(pair: &mut Pair) {
    pair.server_app.kbd_prompts = vec![
        (
            Prompt {
                prompt: "Password: ".into(),
                echo: false,
            },
            "sesame".into(),
        ),
        (
            Prompt {
                prompt: "Favourite colour: ".into(),
                echo: true,
            },
            "blue".into(),
        ),
    ];
}

fn kbd_round(pair: &mut Pair, answers: &[&str]) {
    pair.client.new_events();
    pair.client
        .conn
        .auth_keyboard_interactive(USER, "")
        .unwrap();
    pair.drive();
    let events = pair.client.new_events();
    let prompts = events
        .iter()
        .find_map(|e| match e {
            Event::AuthInfoRequest {
                name,
                instruction,
                prompts,
            } => {
                assert_eq!(name, "conch test");
                assert_eq!(instruction, "Answer the questions.");
                Some(prompts.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no AuthInfoRequest: {events:#?}"));
    assert_eq!(
        prompts,
        vec![
            Prompt {
                prompt: "Password: ".into(),
                echo: false
            },
            Prompt {
                prompt: "Favourite colour: ".into(),
                echo: true
            },
        ]
    );
    let answers: Vec<String> = answers.iter().map(|s| s.to_string()).collect();
    pair.client.conn.auth_info_response(&answers).unwrap();
    pair.drive();
}

#[test]
fn keyboard_interactive_fails_then_succeeds() {
    let mut pair = Pair::new();
    kbd_server(&mut pair);
    pair.handshake();
    kbd_round(&mut pair, &["sesame", "green"]);
    assert!(pair
        .client
        .log
        .iter()
        .any(|e| matches!(e, Event::AuthFailure { .. })));
    assert_not_authenticated(&mut pair);
    kbd_round(&mut pair, &["sesame", "blue"]);
    pair.assert_authenticated();
    assert!(pair.server.saw(|e| matches!(
        e,
        Event::AuthRequest {
            attempt: conch_core::AuthAttempt::KeyboardInteractive { responses, .. },
            ..
        } if responses == &["sesame".to_string(), "blue".to_string()]
    )));
}

#[test]
fn banner_arrives_before_the_auth_answer_without_control_characters() {
    let mut config = server_config();
    config.auth_banner = Some("Authorised use only.\x1b[2J\n".into());
    let mut pair = Pair::with_configs(client_config(), config);
    pair.handshake();
    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    pair.drive();
    pair.assert_authenticated();
    let banner = pair
        .client
        .log
        .iter()
        .position(|e| matches!(e, Event::AuthBanner { message } if message == "Authorised use only.[2J\n"))
        .unwrap_or_else(|| panic!("no sanitized banner: {:#?}", pair.client.log));
    let success = pair
        .client
        .log
        .iter()
        .position(|e| matches!(e, Event::AuthSuccess))
        .unwrap();
    assert!(banner < success);
    assert_eq!(
        pair.client.count(|e| matches!(e, Event::AuthBanner { .. })),
        1
    );
}

#[test]
fn partial_success_requires_a_second_method() {
    let user_key = ed25519_key(42);
    let mut pair = Pair::new();
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.server_app.required_methods = vec!["publickey".into(), "password".into()];
    pair.handshake();
    assert!(publickey_round(&mut pair, &user_key, &user_key));
    let (methods, partial) = {
        let failure = pair
            .client
            .log
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::AuthFailure {
                    methods,
                    partial_success,
                } => Some((methods.clone(), *partial_success)),
                _ => None,
            })
            .expect("AuthFailure with partial success");
        failure
    };
    assert!(partial);
    assert_eq!(methods, vec!["password".to_string()]);
    assert_not_authenticated(&mut pair);
    pair.client.conn.auth_password(USER, PASSWORD).unwrap();
    pair.drive();
    pair.assert_authenticated();
}

#[test]
fn too_many_failed_attempts_disconnect_with_no_more_auth_methods() {
    let max = 3;
    let mut config = server_config();
    config.max_auth_attempts = max;
    let mut pair = Pair::with_configs(client_config(), config);
    pair.handshake();
    let mut attempts = 0;
    while pair.client.conn.error().is_none() {
        assert!(attempts <= max, "still connected after {attempts} failures");
        pair.client
            .conn
            .auth_password(USER, &format!("guess {attempts}"))
            .unwrap();
        attempts += 1;
        pair.drive();
    }
    // OpenSSH's MaxAuthTries: the attempt that reaches the limit (or the
    // one after it) ends the connection.
    assert!(
        attempts == max || attempts == max + 1,
        "disconnected after {attempts} attempts with a limit of {max}"
    );
    assert!(
        matches!(
            pair.client.disconnected(),
            Some(Error::PeerDisconnected {
                reason: DisconnectReason::NoMoreAuthMethodsAvailable,
                ..
            })
        ),
        "client: {:#?}",
        pair.client.log
    );
    assert_eq!(
        pair.server.conn.error().map(Error::disconnect_reason),
        Some(DisconnectReason::NoMoreAuthMethodsAvailable)
    );
    assert_not_authenticated(&mut pair);
    assert!(pair.client.conn.is_closed() && pair.server.conn.is_closed());
}
