//! End-to-end sessions between a client and a server `Connection` in
//! memory: handshake, host-key decision, every authentication method, exec
//! with its streams and exit reports, many channels at once.

mod common;

use common::*;
use conch_core::{
    ApiMisuse, ChannelId, ChannelOpenFailure, DisconnectReason, Error, Event, Prompt,
};

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
    assert!(pair.client.conn.auth_password(USER, PASSWORD).is_err());
    assert!(pair.client.conn.auth_none(USER).is_err());
    assert!(pair
        .client
        .conn
        .auth_publickey(USER, ed25519_key(9).public_key())
        .is_err());
    assert!(pair
        .client
        .conn
        .auth_keyboard_interactive(USER, "")
        .is_err());
    assert!(pair.client.conn.open_session().is_err());
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
    assert!(pair.client.conn.accept_host_key().is_err());
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
// Authentication
// ----------------------------------------------------------------------

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
        Err(Error::ApiMisuse(_))
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

// ----------------------------------------------------------------------
// Exec and channels
// ----------------------------------------------------------------------

fn connected() -> Pair {
    let mut pair = Pair::new();
    pair.connect();
    pair
}

/// Drives until `ch` is closed on the client, panicking if it does not.
fn wait_closed(pair: &mut Pair, ch: ChannelId) {
    pair.drive();
    assert!(
        pair.client_app.channel(ch).closed,
        "channel {ch} not closed: {:#?}",
        pair.client.log
    );
}

#[test]
fn cat_echoes_stdin_and_half_close_still_receives_output() {
    let mut pair = connected();
    let ch = pair.exec("cat");
    let input = pattern(7, 100_000);
    // Data then EOF before the server has seen any of it: all the output
    // arrives after the client half-closed.
    let n = pair.client.conn.send_data(ch, &input).unwrap();
    assert_eq!(n, input.len(), "a fresh 2 MiB window takes 100 kB at once");
    pair.client.conn.send_eof(ch).unwrap();
    let stdout_at_eof = pair.client_app.channel(ch).stdout.len();
    // No data after our own EOF (RFC 4254 section 5.3).
    assert!(pair.client.conn.send_data(ch, b"late").is_err());
    wait_closed(&mut pair, ch);
    let log = pair.client_app.channel(ch);
    assert!(
        log.stdout.len() > stdout_at_eof,
        "output kept flowing after EOF"
    );
    assert_eq!(log.stdout.len(), input.len());
    assert!(log.stdout == input, "echo differs");
    assert!(log.stderr.is_empty());
    assert_eq!(log.exit_status, Some(0));
    assert!(log.eof);
    assert_eq!(log.data_after_eof, 0);
    pair.drive();
    assert!(pair
        .server
        .saw(|e| matches!(e, Event::ChannelClosed { .. })));
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn echo_stdout_and_err_stderr_are_kept_apart() {
    let mut pair = connected();
    let out = pair.exec("echo hello world");
    let err = pair.exec("err something broke");
    wait_closed(&mut pair, out);
    wait_closed(&mut pair, err);
    let o = pair.client_app.channel(out);
    assert_eq!(o.stdout, b"hello world\n");
    assert!(o.stderr.is_empty());
    assert_eq!(o.exit_status, Some(0));
    let e = pair.client_app.channel(err);
    assert!(e.stdout.is_empty());
    assert_eq!(e.stderr, b"something broke");
    assert!(e.other_extended.is_empty());
    assert_eq!(e.exit_status, Some(0));
    pair.assert_no_app_errors();
}

#[test]
fn exit_status_and_exit_signal_are_reported() {
    let mut pair = connected();
    let status = pair.exec("exit 3");
    let signal = pair.exec("kill KILL");
    wait_closed(&mut pair, status);
    wait_closed(&mut pair, signal);
    let s = pair.client_app.channel(status);
    assert_eq!(s.exit_status, Some(3));
    assert_eq!(s.exit_signal, None);
    let k = pair.client_app.channel(signal);
    assert_eq!(k.exit_status, None);
    assert_eq!(
        k.exit_signal,
        Some(("KILL".to_string(), true, "killed by SIGKILL".to_string()))
    );
    // exit-status/exit-signal come as their own events, not as requests.
    assert!(!pair
        .client
        .saw(|e| matches!(e, Event::ChannelRequest { .. })));
    pair.assert_no_app_errors();
}

#[test]
fn server_eof_first_then_client_input_still_read() {
    let mut pair = connected();
    let ch = pair.exec("wc");
    pair.drive();
    assert!(pair.client_app.channel(ch).eof, "server EOF did not arrive");
    assert!(!pair.client_app.channel(ch).closed);
    // The client keeps writing after the server's EOF.
    let input = pattern(3, 54_321);
    pair.client_send_all(ch, &input);
    pair.client.conn.send_eof(ch).unwrap();
    wait_closed(&mut pair, ch);
    assert_eq!(pair.client_app.channel(ch).exit_status, Some(54_321));
    assert!(pair.client_app.channel(ch).stdout.is_empty());
    pair.assert_no_app_errors();
}

#[test]
fn refused_exec_and_refused_channel_are_reported() {
    let mut pair = connected();
    let ch = pair.client.conn.open_session().unwrap();
    pair.drive();
    pair.client.conn.exec(ch, b"no-such-command").unwrap();
    pair.drive();
    assert_eq!(pair.client_app.channel(ch).replies, vec![false]);

    pair.server_app.accept_channels = false;
    let refused = pair.client.conn.open_session().unwrap();
    pair.drive();
    let log = pair.client_app.channel(refused);
    assert!(!log.opened);
    assert_eq!(
        log.open_failed,
        Some((
            ChannelOpenFailure::AdministrativelyProhibited,
            "no sessions today".to_string()
        ))
    );
    // A refused channel cannot carry data.
    assert!(matches!(
        pair.client.conn.send_data(refused, b"x"),
        Err(Error::ApiMisuse(ApiMisuse::UnknownChannel(_)) | Error::ApiMisuse(_))
    ));
    pair.assert_alive();
}

#[test]
fn a_thousand_concurrent_channels_each_carry_their_own_data() {
    const N: usize = 1000;
    let mut pair = connected();
    pair.client.log_data = false;
    pair.server.log_data = false;
    let channels: Vec<ChannelId> = (0..N)
        .map(|_| pair.client.conn.open_session().unwrap())
        .collect();
    pair.drive();
    for ch in &channels {
        pair.client.conn.exec(*ch, b"cat").unwrap();
    }
    pair.drive();
    let inputs: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut v = format!("channel {i}:").into_bytes();
            v.extend(pattern(i as u64, 1000 + (i * 37) % 3000));
            v
        })
        .collect();
    // All channels write at once; the shared send buffer takes what it can
    // and the rest goes after a drive.
    let mut offsets = vec![0usize; N];
    let mut rounds = 0;
    while offsets.iter().zip(&inputs).any(|(o, i)| *o < i.len()) {
        rounds += 1;
        assert!(rounds < 1000, "sending stalled");
        for ((ch, input), off) in channels.iter().zip(&inputs).zip(offsets.iter_mut()) {
            if *off < input.len() {
                *off += pair.client.conn.send_data(*ch, &input[*off..]).unwrap();
                if *off == input.len() {
                    pair.client.conn.send_eof(*ch).unwrap();
                }
            }
        }
        pair.drive();
    }
    pair.drive();
    let mut ids = std::collections::HashSet::new();
    for (ch, input) in channels.iter().zip(&inputs) {
        assert!(ids.insert(*ch), "channel id {ch} handed out twice");
        let log = pair.client_app.channel(*ch);
        assert!(log.opened && log.replies == vec![true], "{ch}");
        assert!(log.stdout == *input, "channel {ch}: output differs");
        assert_eq!(log.exit_status, Some(0), "{ch}");
        assert!(log.closed, "{ch}");
    }
    assert_eq!(
        pair.server
            .count(|e| matches!(e, Event::ChannelClosed { .. })),
        N
    );
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn global_requests_resolve_to_reply_data_or_failure_in_order() {
    let mut pair = connected();
    pair.client.new_events();
    pair.client
        .conn
        .global_request("unknown@conch.test", b"", true)
        .unwrap();
    pair.client
        .conn
        .global_request(ECHO_GLOBAL_REQUEST, b"\x00\x00\x00\x05hello", true)
        .unwrap();
    // Without want-reply, nothing comes back.
    pair.client
        .conn
        .global_request(ECHO_GLOBAL_REQUEST, b"quiet", false)
        .unwrap();
    pair.drive();
    let replies: Vec<(bool, Vec<u8>)> = pair
        .client
        .new_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::GlobalReply { success, data } => Some((success, data.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        vec![
            (false, Vec::new()),
            (true, b"\x00\x00\x00\x05hello".to_vec())
        ]
    );
    assert_eq!(
        pair.server
            .count(|e| matches!(e, Event::GlobalRequest { .. })),
        3
    );
    pair.assert_no_app_errors();
    pair.assert_alive();
}

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
        matches!(pair.client.disconnected(), Some(Error::Timeout(_))),
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
        matches!(pair.server.disconnected(), Some(Error::Timeout(_))),
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

#[test]
fn session_requests_are_decoded_and_answered_in_order() {
    use conch_core::{ChannelRequest, WindowSize};
    let mut pair = connected();
    let ch = pair.client.conn.open_session().unwrap();
    pair.drive();
    let size = WindowSize {
        cols: 132,
        rows: 43,
        width_px: 0,
        height_px: 0,
    };
    let requests = [
        ChannelRequest::PtyReq {
            term: "xterm-256color".into(),
            size,
            modes: vec![53, 0, 0, 0, 1, 0],
        },
        ChannelRequest::Env {
            name: "LANG".into(),
            value: "C.UTF-8".into(),
        },
        ChannelRequest::Shell,
        ChannelRequest::Exec {
            command: b"echo ok".to_vec(),
        },
    ];
    // All sent before any answer comes back.
    for r in &requests {
        pair.client.conn.channel_request(ch, r, true).unwrap();
    }
    pair.client
        .conn
        .channel_request(
            ch,
            &ChannelRequest::WindowChange {
                size: WindowSize { cols: 80, ..size },
            },
            false,
        )
        .unwrap();
    pair.drive();
    let log = pair.client_app.channel(ch);
    assert_eq!(log.replies, vec![true, true, false, true]);
    assert_eq!(log.stdout, b"ok\n");
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    let seen: Vec<(ChannelRequest, bool)> =
        pair.server_app.channels[&server_ch].log.requests.clone();
    let mut expected: Vec<(ChannelRequest, bool)> =
        requests.iter().cloned().map(|r| (r, true)).collect();
    expected.push((
        ChannelRequest::WindowChange {
            size: WindowSize { cols: 80, ..size },
        },
        false,
    ));
    assert_eq!(seen, expected);
    pair.assert_no_app_errors();
}

#[test]
fn direct_tcpip_open_carries_its_endpoints_and_its_refusal_reason() {
    let mut pair = connected();
    let ch = pair
        .client
        .conn
        .open_direct_tcpip("example.org", 443, "127.0.0.1", 50_000)
        .unwrap();
    pair.drive();
    let (kind, data) = pair
        .server
        .log
        .iter()
        .find_map(|e| match e {
            Event::ChannelOpenRequest { kind, data, .. } => Some((kind.clone(), data.clone())),
            _ => None,
        })
        .expect("open request on the server");
    assert_eq!(kind, "direct-tcpip");
    // RFC 4254 section 7.2: host, port, originator address, originator port.
    let mut expected = Vec::new();
    for (s, n) in [("example.org", 443u32), ("127.0.0.1", 50_000)] {
        expected.extend((s.len() as u32).to_be_bytes());
        expected.extend(s.as_bytes());
        expected.extend(n.to_be_bytes());
    }
    assert_eq!(&data[..], &expected[..]);
    let log = pair.client_app.channel(ch);
    assert_eq!(
        log.open_failed,
        Some((
            ChannelOpenFailure::UnknownChannelType,
            "unknown channel type".into()
        ))
    );
    pair.assert_alive();
}

#[test]
fn tiny_windows_and_packets_still_move_data_intact() {
    let mut client = client_config();
    client.channels.window_size = 1024;
    client.channels.max_packet_size = 256;
    let mut server = server_config();
    server.channels.window_size = 700;
    server.channels.max_packet_size = 100;
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    let ch = pair.exec("cat");
    let input = pattern(21, 100_000);
    pair.client_send_all(ch, &input);
    pair.client.conn.send_eof(ch).unwrap();
    pair.drive();
    let log = pair.client_app.channel(ch);
    assert!(log.closed);
    assert!(log.stdout == input, "echo differs");
    // Never more in the receiver's hands than the window it granted.
    assert!(log.max_unconsumed <= 1024, "{}", log.max_unconsumed);
    let server_ch = *pair.server_app.channels.keys().next().unwrap();
    assert!(pair.server_app.channels[&server_ch].log.max_unconsumed <= 700);
    pair.assert_no_app_errors();
    pair.assert_alive();
}
