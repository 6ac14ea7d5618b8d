//! Passwords and prompt answers still queued for the server application
//! when the connection is dropped are wiped.

use super::*;
use crate::auth::wipe_queued_secrets;
use crate::event::{AuthAttempt, Prompt};

/// The attempt of the server's queued `AuthRequest` at `index`.
fn queued_attempt(events: &VecDeque<Event>, index: usize) -> &AuthAttempt {
    match &events[index] {
        Event::AuthRequest { attempt, .. } => attempt,
        other => panic!("not an AuthRequest: {other:?}"),
    }
}

#[test]
fn queued_passwords_and_answers_are_wiped_and_other_events_kept() {
    let mut p = Pair::ready(config());
    p.client
        .password("alice", "s3cret", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    // Then a keyboard-interactive round, its answer left unpolled next to
    // the password request.
    let mut events = std::mem::take(&mut p.server_events);
    p.decide(AuthDecision::Reject).unwrap();
    p.client
        .keyboard_interactive("alice", "", &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    p.server_events.clear();
    p.decide(AuthDecision::InfoRequest {
        name: String::new(),
        instruction: String::new(),
        prompts: vec![Prompt {
            prompt: "Password: ".into(),
            echo: false,
        }],
    })
    .unwrap();
    p.client_events.clear();
    p.client
        .info_response(&strings(&["answer"]), &mut p.to_server)
        .unwrap();
    p.pump().unwrap();
    events.append(&mut p.server_events);
    events.push_back(Event::UserauthReady);
    assert_eq!(
        queued_attempt(&events, 0),
        &AuthAttempt::Password {
            password: "s3cret".into(),
            new_password: None
        }
    );
    assert_eq!(
        queued_attempt(&events, 1),
        &AuthAttempt::KeyboardInteractive {
            submethods: String::new(),
            responses: strings(&["answer"])
        }
    );

    wipe_queued_secrets(&mut events);
    assert_eq!(events.len(), 3);
    assert_eq!(
        queued_attempt(&events, 0),
        &AuthAttempt::Password {
            password: String::new(),
            new_password: None
        }
    );
    assert_eq!(
        queued_attempt(&events, 1),
        &AuthAttempt::KeyboardInteractive {
            submethods: String::new(),
            responses: Vec::new()
        }
    );
    assert_eq!(events[2], Event::UserauthReady);
}

#[test]
fn a_queued_password_change_loses_both_passwords() {
    let mut events = VecDeque::from([Event::AuthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        attempt: AuthAttempt::Password {
            password: "old".into(),
            new_password: Some("new".into()),
        },
    }]);
    wipe_queued_secrets(&mut events);
    assert_eq!(
        queued_attempt(&events, 0),
        &AuthAttempt::Password {
            password: String::new(),
            new_password: None
        }
    );
}

#[test]
fn debug_output_of_an_attempt_shows_no_password_or_answer() {
    let attempts = [
        AuthAttempt::Password {
            password: "s3cret".into(),
            new_password: Some("n3w-s3cret".into()),
        },
        AuthAttempt::KeyboardInteractive {
            submethods: "pam".into(),
            responses: strings(&["s3cret", "123456"]),
        },
    ];
    for attempt in attempts {
        let shown = format!("{attempt:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("123456"),
            "{shown}"
        );
        // Still says what kind of attempt it is.
        assert!(
            shown.contains("<password>") || shown.contains("<2 answers>"),
            "{shown}"
        );
        let event = format!(
            "{:?}",
            Event::AuthRequest {
                user: "alice".into(),
                service: "ssh-connection".into(),
                attempt,
            }
        );
        assert!(
            !event.contains("s3cret") && event.contains("alice"),
            "{event}"
        );
    }
}
