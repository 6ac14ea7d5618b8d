//! Messages out of place and crafted by a hostile or broken peer: each
//! becomes an error or a refusal, never a panic or unbounded allocation.

use super::*;
use crate::error::{PeerIncompatible, PeerMisbehaved};
use crate::event::AuthAttempt;
use crate::msg;

fn is_unexpected(result: Result<(), Error>, msg_no: u8) -> bool {
    matches!(
        result,
        Err(Error::PeerMisbehaved(PeerMisbehaved::UnexpectedMessage { msg, .. })) if msg == msg_no
    )
}

fn service_request(name: &str) -> Bytes {
    raw(msg::SERVICE_REQUEST, |v| v.put_str(name))
}

fn password_request(user: &str, password: &str) -> Bytes {
    raw_request(user, "ssh-connection", "password", |v| {
        v.put_bool(false);
        v.put_str(password);
    })
}

/// A server that has accepted the service, fed by hand.
fn running_server(config: ServerAuthConfig) -> Pair {
    let mut p = Pair::new(config);
    p.deliver_to_server(service_request("ssh-userauth"))
        .unwrap();
    let accept = pop(&mut p.to_client).unwrap();
    assert_eq!(
        &accept[..],
        &raw(msg::SERVICE_ACCEPT, |v| v.put_str("ssh-userauth"))[..]
    );
    p
}

#[test]
fn server_refuses_other_services() {
    let mut p = Pair::new(config());
    assert_eq!(
        p.deliver_to_server(service_request("ssh-connection")),
        Err(PeerIncompatible::ServiceNotAvailable("ssh-connection".into()).into())
    );
    assert!(p.to_client.is_empty());
}

#[test]
fn server_wants_the_service_request_first_and_once() {
    let mut p = Pair::new(config());
    assert!(is_unexpected(
        p.deliver_to_server(password_request("alice", "pw")),
        msg::USERAUTH_REQUEST
    ));
    let mut p = running_server(config());
    assert!(is_unexpected(
        p.deliver_to_server(service_request("ssh-userauth")),
        msg::SERVICE_REQUEST
    ));
    // Server-to-client messages from a client.
    let mut p = running_server(config());
    assert!(is_unexpected(
        p.deliver_to_server(raw(msg::USERAUTH_SUCCESS, |_| {})),
        msg::USERAUTH_SUCCESS
    ));
}

#[test]
fn client_rejects_replies_out_of_place() {
    // SUCCESS before anything was asked.
    let mut p = Pair::ready(config());
    assert!(is_unexpected(
        p.deliver_to_client(raw(msg::USERAUTH_SUCCESS, |_| {})),
        msg::USERAUTH_SUCCESS
    ));
    // FAILURE with no request outstanding.
    let mut p = Pair::ready(config());
    let failure = raw(msg::USERAUTH_FAILURE, |v| {
        v.put_str("password");
        v.put_bool(false);
    });
    assert!(is_unexpected(
        p.deliver_to_client(failure),
        msg::USERAUTH_FAILURE
    ));
    // Message 60 in answer to `none`, which has no method-specific reply.
    let mut p = Pair::ready(config());
    p.client.none("alice", &mut p.to_server).unwrap();
    let pk_ok = raw(60, |v| {
        v.put_str("ssh-ed25519");
        v.put_string(b"blob");
    });
    assert!(is_unexpected(p.deliver_to_client(pk_ok), 60));
    // SERVICE_ACCEPT that was never asked for.
    let mut p = Pair::ready(config());
    let accept = raw(msg::SERVICE_ACCEPT, |v| v.put_str("ssh-userauth"));
    assert!(is_unexpected(
        p.deliver_to_client(accept),
        msg::SERVICE_ACCEPT
    ));
    // A request sent to the client.
    let mut p = Pair::ready(config());
    assert!(is_unexpected(
        p.deliver_to_client(password_request("a", "b")),
        msg::USERAUTH_REQUEST
    ));
}

#[test]
fn client_rejects_banner_and_success_after_success() {
    let mut p = Pair::ready(config());
    p.client.none("alice", &mut p.to_server).unwrap();
    p.pump().unwrap();
    p.decide(AuthDecision::Accept).unwrap();
    let banner = raw(msg::USERAUTH_BANNER, |v| {
        v.put_str("late");
        v.put_str("");
    });
    assert!(is_unexpected(
        p.deliver_to_client(banner),
        msg::USERAUTH_BANNER
    ));
    assert!(is_unexpected(
        p.deliver_to_client(raw(msg::USERAUTH_SUCCESS, |_| {})),
        msg::USERAUTH_SUCCESS
    ));
}

#[test]
fn client_checks_pk_ok_names_the_offered_key() {
    let key = ed25519_key(10);
    let other = ed25519_key(11);
    let mut p = Pair::ready(config());
    let ctx = AuthContext {
        session_id: &SESSION_ID,
        server_sig_algs: None,
    };
    p.client
        .publickey("carol", key.public_key(), ctx, &mut p.to_server)
        .unwrap();
    let pk_ok = raw(60, |v| {
        v.put_str("ssh-ed25519");
        v.put_string(other.public_key().blob());
    });
    assert!(matches!(
        p.deliver_to_client(pk_ok),
        Err(Error::PeerMisbehaved(PeerMisbehaved::PkOkForKeyNotOffered))
    ));
    assert!(p.client_events.is_empty(), "nothing to sign");
}

#[test]
fn client_bounds_the_prompts_a_server_can_send() {
    let mut p = Pair::ready(config());
    p.client
        .keyboard_interactive("dave", "", &mut p.to_server)
        .unwrap();
    // Claims four billion prompts in a tiny message.
    let info = raw(60, |v| {
        v.put_str("");
        v.put_str("");
        v.put_str("");
        v.put_u32(u32::MAX);
    });
    assert!(matches!(
        p.deliver_to_client(info),
        Err(Error::PeerMisbehaved(PeerMisbehaved::TooManyPrompts))
    ));
    // Claims more prompts than it carries.
    let mut p = Pair::ready(config());
    p.client
        .keyboard_interactive("dave", "", &mut p.to_server)
        .unwrap();
    let info = raw(60, |v| {
        v.put_str("");
        v.put_str("");
        v.put_str("");
        v.put_u32(3);
        v.put_str("one");
        v.put_bool(false);
    });
    assert!(matches!(
        p.deliver_to_client(info),
        Err(Error::PeerMisbehaved(PeerMisbehaved::Malformed(_)))
    ));
}

#[test]
fn client_reads_truncated_failure_as_malformed() {
    let mut p = Pair::ready(config());
    p.client.none("alice", &mut p.to_server).unwrap();
    let failure = raw(msg::USERAUTH_FAILURE, |v| v.put_u32(100));
    assert!(matches!(
        p.deliver_to_client(failure),
        Err(Error::PeerMisbehaved(PeerMisbehaved::Malformed(_)))
    ));
}

#[test]
fn server_refuses_at_once_what_it_can_judge() {
    let mut p = running_server(config());
    let failure_all = raw(msg::USERAUTH_FAILURE, |v| {
        v.put_str("publickey,password,keyboard-interactive");
        v.put_bool(false);
    });
    let requests = [
        // Not offered.
        raw_request("alice", "ssh-connection", "hostbased", |v| v.put_str("x")),
        // Another service than ssh-connection.
        raw_request("alice", "sftp", "password", |v| {
            v.put_bool(false);
            v.put_str("pw");
        }),
        // A key blob that does not parse.
        raw_request("alice", "ssh-connection", "publickey", |v| {
            v.put_bool(false);
            v.put_str("ssh-ed25519");
            v.put_string(b"not a key");
        }),
        // A signature algorithm the key cannot make.
        raw_request("alice", "ssh-connection", "publickey", |v| {
            v.put_bool(false);
            v.put_str("rsa-sha2-256");
            v.put_string(ed25519_key(12).public_key().blob());
        }),
    ];
    for request in requests {
        p.deliver_to_server(request).unwrap();
        assert_eq!(pop(&mut p.to_client).as_deref(), Some(&failure_all[..]));
        assert!(p.server_events.is_empty());
    }
}

#[test]
fn server_queues_requests_while_the_application_decides() {
    let mut p = running_server(config());
    p.deliver_to_server(password_request("alice", "one"))
        .unwrap();
    p.deliver_to_server(password_request("alice", "two"))
        .unwrap();
    assert_eq!(p.server_events.len(), 1, "the second waits its turn");
    p.expect_request(
        "alice",
        AuthAttempt::Password {
            password: "one".into(),
            new_password: None,
        },
    );
    p.server
        .decide(AuthDecision::Reject, &mut p.to_client, &mut p.server_events)
        .unwrap();
    p.expect_request(
        "alice",
        AuthAttempt::Password {
            password: "two".into(),
            new_password: None,
        },
    );
    p.server
        .decide(AuthDecision::Accept, &mut p.to_client, &mut p.server_events)
        .unwrap();
    assert_eq!(pop(&mut p.to_client).unwrap()[0], msg::USERAUTH_FAILURE);
    assert_eq!(
        &pop(&mut p.to_client).unwrap()[..],
        &[msg::USERAUTH_SUCCESS]
    );
    // RFC 4252 section 5.1: requests after success are ignored silently.
    p.deliver_to_server(password_request("alice", "three"))
        .unwrap();
    assert!(p.to_client.is_empty());
    assert_eq!(
        p.server_event(),
        Event::Authenticated {
            user: "alice".into()
        }
    );
    assert!(p.server_events.is_empty());
}

#[test]
fn server_bounds_the_request_queue() {
    let mut p = running_server(config());
    p.deliver_to_server(password_request("alice", "pending"))
        .unwrap();
    for i in 0..16 {
        p.deliver_to_server(password_request("alice", &i.to_string()))
            .unwrap();
    }
    assert!(matches!(
        p.deliver_to_server(password_request("alice", "one too many")),
        Err(Error::PeerMisbehaved(
            PeerMisbehaved::TooManyQueuedAuthRequests
        ))
    ));
}

#[test]
fn server_info_response_must_follow_an_info_request_and_match_it() {
    let response = |answers: &[&str]| {
        raw(msg::USERAUTH_INFO_RESPONSE, |v| {
            v.put_u32(answers.len() as u32);
            for a in answers {
                v.put_str(a);
            }
        })
    };
    let mut p = running_server(config());
    assert!(is_unexpected(
        p.deliver_to_server(response(&[])),
        msg::USERAUTH_INFO_RESPONSE
    ));

    let mut p = running_server(config());
    p.deliver_to_server(raw_request(
        "dave",
        "ssh-connection",
        "keyboard-interactive",
        |v| {
            v.put_str("");
            v.put_str("");
        },
    ))
    .unwrap();
    p.server_event();
    p.server
        .decide(
            AuthDecision::InfoRequest {
                name: String::new(),
                instruction: String::new(),
                prompts: vec![crate::event::Prompt {
                    prompt: "PIN: ".into(),
                    echo: false,
                }],
            },
            &mut p.to_client,
            &mut p.server_events,
        )
        .unwrap();
    assert_eq!(pop(&mut p.to_client).unwrap()[0], 60);
    // RFC 4256 section 3.4: a count that does not match gets a FAILURE.
    p.deliver_to_server(response(&["1", "2"])).unwrap();
    assert_eq!(pop(&mut p.to_client).unwrap()[0], msg::USERAUTH_FAILURE);
    assert!(p.server_events.is_empty());
    // The exchange is over: a late response is out of place.
    assert!(is_unexpected(
        p.deliver_to_server(response(&["1"])),
        msg::USERAUTH_INFO_RESPONSE
    ));
}

#[test]
fn server_reads_a_truncated_request_as_malformed() {
    let mut p = running_server(config());
    let truncated = raw_request("alice", "ssh-connection", "password", |v| {
        v.put_bool(false);
        v.put_u32(1000);
    });
    assert!(matches!(
        p.deliver_to_server(truncated),
        Err(Error::PeerMisbehaved(PeerMisbehaved::Malformed(_)))
    ));
}
