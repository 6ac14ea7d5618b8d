//! Each method succeeding and failing, client and server talking to each other.

use super::*;
use crate::error::{ApiMisuse, PeerMisbehaved};
use crate::event::{AuthAttempt, Prompt};

const ALL: &[&str] = &["publickey", "password", "keyboard-interactive"];

#[test]
fn none_accepted_logs_in() {
    let mut p = Pair::ready(config());
    p.client.none("alice", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_request("alice", AuthAttempt::None);
    assert!(!p.client.is_authenticated());
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("alice");
    p.assert_quiet();
}

#[test]
fn none_rejected_lists_methods_and_never_counts() {
    let mut p = Pair::ready(ServerAuthConfig {
        max_attempts: 1,
        ..config()
    });
    for _ in 0..5 {
        p.client.none("alice", &mut p.to_server).unwrap();
        p.pump().unwrap();
        p.expect_request("alice", AuthAttempt::None);
        p.decide(AuthDecision::Reject).unwrap();
        p.expect_failure(ALL, false);
    }
    p.assert_quiet();
}

#[test]
fn password_accepted_and_rejected() {
    let mut p = Pair::ready(config());
    p.client
        .password("alice", "wrong", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "alice",
        AuthAttempt::Password {
            password: "wrong".into(),
            new_password: None,
        },
    );
    p.decide(AuthDecision::Reject).unwrap();
    p.expect_failure(ALL, false);
    assert!(!p.client.is_authenticated());

    p.client
        .password("alice", "s3cret", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "alice",
        AuthAttempt::Password {
            password: "s3cret".into(),
            new_password: None,
        },
    );
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("alice");
    p.assert_quiet();
}

#[test]
fn password_change_requested_then_new_password_accepted() {
    let mut p = Pair::ready(config());
    p.client.password("bob", "old", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::ChangePassword {
        prompt: "Password expired\x07".into(),
    })
    .unwrap();
    // The bell is a control character: stripped before the user sees it.
    assert_eq!(
        p.client_event(),
        Event::AuthPasswordChange {
            prompt: "Password expired".into()
        }
    );
    p.client
        .change_password("old", "new", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "bob",
        AuthAttempt::Password {
            password: "old".into(),
            new_password: Some("new".into()),
        },
    );
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("bob");
}

#[test]
fn password_change_rejected_is_a_failure() {
    let mut p = Pair::ready(config());
    p.client.password("bob", "old", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::ChangePassword {
        prompt: "change".into(),
    })
    .unwrap();
    p.client_event();
    p.client
        .change_password("old", "weak", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Reject).unwrap();
    p.expect_failure(ALL, false);
    // The change request was consumed: no second change without a new request.
    assert!(matches!(
        p.client.change_password("old", "weak", &mut p.to_server),
        Err(ApiMisuse::NoPasswordChangeRequested)
    ));
}

/// The bytes RFC 4252 section 7 says are signed, written out field by field.
fn expected_signed_data(user: &str, algorithm: &str, blob: &[u8]) -> Vec<u8> {
    let string = |s: &[u8]| [&(s.len() as u32).to_be_bytes()[..], s].concat();
    [
        string(&SESSION_ID),
        vec![50],
        string(user.as_bytes()),
        string(b"ssh-connection"),
        string(b"publickey"),
        vec![1],
        string(algorithm.as_bytes()),
        string(blob),
    ]
    .concat()
}

#[test]
fn publickey_query_pk_ok_signature_success() {
    let key = ed25519_key(1);
    let mut p = Pair::ready(config());
    p.client
        .publickey(
            "carol",
            key.public_key(),
            AuthContext {
                session_id: &SESSION_ID,
                server_sig_algs: None,
            },
            &mut p.to_server,
        )
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "carol",
        AuthAttempt::PublicKey {
            key: key.public_key().clone(),
            signed: false,
        },
    );
    // A query accepted is not a login.
    p.decide(AuthDecision::Accept).unwrap();
    assert!(!p.server.is_authenticated());
    let Event::AuthSignatureNeeded {
        key: asked_key,
        algorithm,
        data,
    } = p.client_event()
    else {
        panic!("expected AuthSignatureNeeded");
    };
    assert_eq!(&asked_key, key.public_key());
    assert_eq!(algorithm, "ssh-ed25519");
    assert_eq!(
        data,
        expected_signed_data("carol", "ssh-ed25519", key.public_key().blob())
    );
    let signature = key.sign(&algorithm, &data).unwrap();
    p.client.signature(&signature, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_request(
        "carol",
        AuthAttempt::PublicKey {
            key: key.public_key().clone(),
            signed: true,
        },
    );
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("carol");
    p.assert_quiet();
}

#[test]
fn publickey_query_rejected_is_a_failure_that_does_not_count() {
    let key = ed25519_key(2);
    let mut p = Pair::ready(ServerAuthConfig {
        max_attempts: 1,
        ..config()
    });
    for _ in 0..3 {
        let ctx = AuthContext {
            session_id: &SESSION_ID,
            server_sig_algs: None,
        };
        p.client
            .publickey("carol", key.public_key(), ctx, &mut p.to_server)
            .unwrap();
        p.pump().unwrap();
        p.server_event();
        p.decide(AuthDecision::Reject).unwrap();
        p.expect_failure(ALL, false);
    }
    p.assert_quiet();
}

/// Runs the query and PK_OK; returns the data to sign.
fn query_accepted(p: &mut Pair, user: &str, key: &PrivateKey) -> Vec<u8> {
    let ctx = AuthContext {
        session_id: &SESSION_ID,
        server_sig_algs: None,
    };
    p.client
        .publickey(user, key.public_key(), ctx, &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Accept).unwrap();
    let Event::AuthSignatureNeeded { data, .. } = p.client_event() else {
        panic!("expected AuthSignatureNeeded");
    };
    data
}

#[test]
fn bad_signatures_are_refused_without_asking_the_application() {
    let key = ed25519_key(3);
    let other = ed25519_key(4);
    let mut p = Pair::ready(config());
    let data = query_accepted(&mut p, "carol", &key);

    // Over the right data, but made by another key.
    let forged = other.sign("ssh-ed25519", &data).unwrap();
    p.client.signature(&forged, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_failure(ALL, false);
    assert_eq!(p.server_events.len(), 0, "the application is not asked");

    // By the right key, over another session id (a replayed signature).
    let data = query_accepted(&mut p, "carol", &key);
    let mut replayed = data.clone();
    replayed[4] ^= 0xff;
    let sig = key.sign("ssh-ed25519", &replayed).unwrap();
    p.client.signature(&sig, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_failure(ALL, false);
    assert!(!p.server.is_authenticated());
    p.assert_quiet();
}

#[test]
fn bad_signatures_count_towards_the_limit() {
    let key = ed25519_key(5);
    let mut p = Pair::ready(ServerAuthConfig {
        max_attempts: 2,
        ..config()
    });
    let data = query_accepted(&mut p, "carol", &key);
    let mut sig = key.sign("ssh-ed25519", &data).unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    p.client.signature(&sig, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_failure(ALL, false);
    query_accepted(&mut p, "carol", &key);
    p.client.signature(&sig, &mut p.to_server).unwrap();
    assert_eq!(
        p.pump(),
        Err(Failed::Server(PeerMisbehaved::TooManyAuthAttempts.into()))
    );
}

#[test]
fn signature_algorithm_follows_server_sig_algs() {
    let key = ed25519_key(6);
    for listed in [
        Some(strings(&["rsa-sha2-512", "ssh-ed25519"])),
        // A server that lists only RSA still gets the key's own algorithm,
        // as OpenSSH's client assumes for non-RSA keys.
        Some(strings(&["rsa-sha2-256"])),
        None,
    ] {
        let mut p = Pair::ready(config());
        p.server_sig_algs = listed;
        let ctx = AuthContext {
            session_id: &SESSION_ID,
            server_sig_algs: p.server_sig_algs.as_deref(),
        };
        p.client
            .publickey("carol", key.public_key(), ctx, &mut p.to_server)
            .unwrap();
        p.pump().unwrap();
        p.server_event();
        p.decide(AuthDecision::Accept).unwrap();
        assert!(matches!(
            p.client_event(),
            Event::AuthSignatureNeeded { algorithm, .. } if algorithm == "ssh-ed25519"
        ));
    }
}

#[test]
fn keyboard_interactive_two_prompts() {
    let mut p = Pair::ready(config());
    p.client
        .keyboard_interactive("dave", "pam", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "dave",
        AuthAttempt::KeyboardInteractive {
            submethods: "pam".into(),
            responses: vec![],
        },
    );
    let prompts = vec![
        Prompt {
            prompt: "Password: ".into(),
            echo: false,
        },
        Prompt {
            prompt: "Token: ".into(),
            echo: true,
        },
    ];
    p.decide(AuthDecision::InfoRequest {
        name: "Login".into(),
        instruction: "Two factors".into(),
        prompts: prompts.clone(),
    })
    .unwrap();
    assert_eq!(
        p.client_event(),
        Event::AuthInfoRequest {
            name: "Login".into(),
            instruction: "Two factors".into(),
            prompts,
        }
    );
    // One answer for two prompts is the application's mistake: nothing sent.
    assert!(matches!(
        p.client.info_response(&strings(&["pw"]), &mut p.to_server),
        Err(ApiMisuse::InvalidArgument(_))
    ));
    assert!(p.to_server.is_empty());
    p.client
        .info_response(&strings(&["pw", "123456"]), &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.expect_request(
        "dave",
        AuthAttempt::KeyboardInteractive {
            submethods: "pam".into(),
            responses: strings(&["pw", "123456"]),
        },
    );
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("dave");
    p.assert_quiet();
}

#[test]
fn keyboard_interactive_zero_prompts_then_prompt_then_reject() {
    let mut p = Pair::ready(config());
    p.client
        .keyboard_interactive("dave", "", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    // OpenSSH servers send an info request with no prompts (e.g. to show an
    // instruction); the application answers with no responses.
    p.decide(AuthDecision::InfoRequest {
        name: String::new(),
        instruction: "Read this".into(),
        prompts: vec![],
    })
    .unwrap();
    assert_eq!(
        p.client_event(),
        Event::AuthInfoRequest {
            name: String::new(),
            instruction: "Read this".into(),
            prompts: vec![],
        }
    );
    p.client.info_response(&[], &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_request(
        "dave",
        AuthAttempt::KeyboardInteractive {
            submethods: String::new(),
            responses: vec![],
        },
    );
    p.decide(AuthDecision::InfoRequest {
        name: String::new(),
        instruction: String::new(),
        prompts: vec![Prompt {
            prompt: "Password: ".into(),
            echo: false,
        }],
    })
    .unwrap();
    p.client_event();
    p.client
        .info_response(&strings(&["nope"]), &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Reject).unwrap();
    p.expect_failure(ALL, false);
    p.assert_quiet();
}

#[test]
fn banner_comes_first_once_and_sanitized() {
    let mut p = Pair::ready(ServerAuthConfig {
        banner: Some("Authorized use only\x1b[2J\r\n".into()),
        ..config()
    });
    p.client.none("alice", &mut p.to_server).unwrap();
    p.pump().unwrap();
    // The escape (and the CR) are control characters: gone, newline kept.
    assert_eq!(
        p.client_event(),
        Event::AuthBanner {
            message: "Authorized use only[2J\n".into()
        }
    );
    p.server_event();
    p.decide(AuthDecision::Reject).unwrap();
    p.expect_failure(ALL, false);
    p.client.none("alice", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Reject).unwrap();
    // No second banner.
    p.expect_failure(ALL, false);
    p.assert_quiet();
}

#[test]
fn partial_success_narrows_the_methods() {
    let key = ed25519_key(7);
    let mut p = Pair::ready(config());
    let data = query_accepted(&mut p, "erin", &key);
    let sig = key.sign("ssh-ed25519", &data).unwrap();
    p.client.signature(&sig, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Partial {
        methods: strings(&["keyboard-interactive"]),
    })
    .unwrap();
    p.expect_failure(&["keyboard-interactive"], true);
    assert!(!p.server.is_authenticated());

    // A method no longer listed is refused without asking the application.
    p.client.password("erin", "pw", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_failure(&["keyboard-interactive"], false);
    assert!(p.server_events.is_empty());

    p.client
        .keyboard_interactive("erin", "", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("erin");
}

#[test]
fn another_user_after_partial_success_is_a_protocol_error() {
    let mut p = Pair::ready(config());
    p.client.password("erin", "pw", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Partial {
        methods: strings(&["password"]),
    })
    .unwrap();
    p.client_event();
    p.client
        .password("mallory", "pw", &mut p.to_server)
        .unwrap();
    assert!(matches!(
        p.pump(),
        Err(Failed::Server(Error::PeerMisbehaved(
            PeerMisbehaved::UserChangedAfterPartialSuccess
        )))
    ));
}

#[test]
fn attempt_limit_ends_with_too_many_auth_attempts() {
    let mut p = Pair::ready(ServerAuthConfig {
        max_attempts: 3,
        ..config()
    });
    // As OpenSSH's MaxAuthTries: the attempt that reaches the limit is
    // answered by DISCONNECT instead of FAILURE.
    for _ in 0..2 {
        p.client.password("alice", "x", &mut p.to_server).unwrap();
        p.pump().unwrap();
        p.server_event();
        p.decide(AuthDecision::Reject).unwrap();
        p.expect_failure(ALL, false);
    }
    p.client.password("alice", "x", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    assert_eq!(
        p.decide(AuthDecision::Reject),
        Err(Failed::Server(PeerMisbehaved::TooManyAuthAttempts.into()))
    );
    assert!(p.to_client.is_empty(), "no FAILURE before the DISCONNECT");
}

#[test]
fn client_api_misuse_sends_nothing() {
    let mut p = Pair::new(config());
    assert!(matches!(
        p.client.none("alice", &mut p.to_server),
        Err(ApiMisuse::UserauthNotReady)
    ));
    p.client.start(&mut p.to_server);
    // SERVICE_ACCEPT not seen yet.
    assert!(matches!(
        p.client.password("alice", "pw", &mut p.to_server),
        Err(ApiMisuse::UserauthNotReady)
    ));
    assert_eq!(p.to_server.len(), 1, "only the service request");
    p.pump().unwrap();
    assert_eq!(p.client_event(), Event::UserauthReady);

    assert_eq!(
        p.client.signature(b"sig", &mut p.to_server),
        Err(ApiMisuse::NoSignatureRequested)
    );
    assert_eq!(
        p.client.info_response(&[], &mut p.to_server),
        Err(ApiMisuse::NoPromptsPending)
    );
    assert_eq!(
        p.client.change_password("a", "b", &mut p.to_server),
        Err(ApiMisuse::NoPasswordChangeRequested)
    );
    assert!(p.to_server.is_empty());

    // One attempt at a time.
    p.client.none("alice", &mut p.to_server).unwrap();
    assert!(matches!(
        p.client.password("alice", "pw", &mut p.to_server),
        Err(ApiMisuse::AuthInProgress)
    ));
    assert_eq!(p.to_server.len(), 1);
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("alice");
    assert!(matches!(
        p.client.none("alice", &mut p.to_server),
        Err(ApiMisuse::AlreadyAuthenticated)
    ));
    assert!(p.to_server.is_empty());
}

#[test]
fn client_refuses_a_malformed_signature_blob() {
    let key = ed25519_key(8);
    let mut p = Pair::ready(config());
    let data = query_accepted(&mut p, "carol", &key);
    // Raw signature bytes without the SSH framing.
    assert!(matches!(
        p.client.signature(&[7; 64], &mut p.to_server),
        Err(ApiMisuse::InvalidArgument(_))
    ));
    assert!(p.to_server.is_empty());
    // Still waiting for a good one.
    let sig = key.sign("ssh-ed25519", &data).unwrap();
    p.client.signature(&sig, &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("carol");
}

#[test]
fn server_decide_misuse() {
    let mut p = Pair::ready(config());
    assert_eq!(
        p.decide(AuthDecision::Accept),
        Err(Failed::Server(ApiMisuse::NoAuthRequestPending.into()))
    );
    p.client.none("alice", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.server_event();
    // A decision that does not fit `none` leaves the request pending.
    for wrong in [
        AuthDecision::ChangePassword { prompt: "x".into() },
        AuthDecision::InfoRequest {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![],
        },
        AuthDecision::Partial { methods: vec![] },
    ] {
        assert!(matches!(
            p.decide(wrong),
            Err(Failed::Server(Error::ApiMisuse(
                ApiMisuse::InvalidArgument(_)
            )))
        ));
    }
    assert!(p.to_client.is_empty());
    p.decide(AuthDecision::Accept).unwrap();
    p.expect_success("alice");
}

#[test]
fn client_may_leave_a_method_the_server_waits_on() {
    // RFC 4252 section 5: a new request abandons the previous attempt.
    let mut p = Pair::ready(config());
    p.client
        .keyboard_interactive("dave", "", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_event();
    p.decide(AuthDecision::InfoRequest {
        name: String::new(),
        instruction: String::new(),
        prompts: vec![Prompt {
            prompt: "OTP: ".into(),
            echo: true,
        }],
    })
    .unwrap();
    p.client_event();
    p.client.password("dave", "pw", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.expect_request(
        "dave",
        AuthAttempt::Password {
            password: "pw".into(),
            new_password: None,
        },
    );
    p.decide(AuthDecision::Reject).unwrap();
    p.expect_failure(ALL, false);
    // The server dropped the abandoned prompts: a late answer is out of place.
    let late_answer = raw(crate::msg::USERAUTH_INFO_RESPONSE, |v| {
        v.put_u32(1);
        v.put_str("123456");
    });
    assert!(matches!(
        p.deliver_to_server(late_answer),
        Err(Error::PeerMisbehaved(PeerMisbehaved::UnexpectedMessage {
            msg: 61,
            ..
        }))
    ));
}
