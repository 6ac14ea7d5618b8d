//! Reproducibility: the same seeds and inputs give byte-identical output,
//! different seeds give different output, and how input is split into
//! `handle_input` calls changes nothing.

mod common;

use common::*;
use conch_core::{Event, PrivateKey};

/// Everything observable about a run.
#[derive(Debug, PartialEq)]
struct Run {
    transcript: Transcript,
    client_log: Vec<Event>,
    server_log: Vec<Event>,
}

/// A session touching every layer: handshake, failed and successful
/// logins with two methods, several commands, a re-exchange, data both
/// ways, EOF and close, and a disconnect.
fn standard_session(
    client_seed: u64,
    server_seed: u64,
    chunk: Option<usize>,
    user_key: &PrivateKey,
) -> Run {
    let mut pair = Pair::with_seeds(client_config(), server_config(), client_seed, server_seed);
    pair.chunk = chunk;
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.handshake();

    pair.client.conn.auth_password(USER, "wrong").unwrap();
    pair.drive();
    pair.client
        .conn
        .auth_publickey(USER, user_key.public_key())
        .unwrap();
    pair.drive();
    let (algorithm, data) = pair
        .client
        .log
        .iter()
        .find_map(|e| match e {
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => Some((algorithm.clone(), data.clone())),
            _ => None,
        })
        .expect("signature request");
    let sig = user_key.sign(&algorithm, &data).unwrap();
    pair.client.conn.auth_signature(&sig).unwrap();
    pair.drive();
    pair.assert_authenticated();

    let echo = pair.exec("echo deterministic");
    let err = pair.exec("err to stderr");
    let cat = pair.exec("cat");
    let input = pattern(77, 300_000);
    let mut off = 0;
    let mut rounds = 0;
    while off < input.len() {
        off += pair.client.conn.send_data(cat, &input[off..]).unwrap();
        if rounds == 2 {
            pair.client.conn.rekey().unwrap();
        }
        rounds += 1;
        pair.drive();
    }
    pair.client.conn.send_eof(cat).unwrap();
    pair.drive();
    for ch in [echo, err, cat] {
        assert!(pair.client_app.channel(ch).closed, "{ch} not closed");
    }
    assert!(pair.client_app.channel(cat).stdout == input);
    assert_eq!(pair.client.rekeys(), 1);
    pair.client.conn.disconnect("done");
    pair.drive();
    assert!(pair.client.conn.is_closed() && pair.server.conn.is_closed());
    Run {
        transcript: pair.transcript(),
        client_log: pair.client.log,
        server_log: pair.server.log,
    }
}

#[test]
fn same_seeds_give_identical_transcripts() {
    let key = ed25519_key(42);
    let a = standard_session(1, 2, None, &key);
    let b = standard_session(1, 2, None, &key);
    assert!(a.transcript.c2s_len > 600_000 && a.transcript.s2c_len > 300_000);
    assert_eq!(a.transcript, b.transcript);
    assert_eq!(a.client_log, b.client_log);
    assert_eq!(a.server_log, b.server_log);
}

#[test]
fn different_seeds_give_different_transcripts() {
    let key = ed25519_key(42);
    let base = standard_session(1, 2, None, &key);
    let other_client = standard_session(3, 2, None, &key);
    let other_server = standard_session(1, 4, None, &key);
    for other in [&other_client, &other_server] {
        assert_ne!(base.transcript.c2s, other.transcript.c2s);
        assert_ne!(base.transcript.s2c, other.transcript.s2c);
    }
    assert_ne!(other_client.transcript, other_server.transcript);
}

#[test]
fn input_split_anywhere_gives_the_same_transcript_and_events() {
    let key = ed25519_key(42);
    let whole = standard_session(1, 2, None, &key);
    for chunk in [1, 7, 4096] {
        let split = standard_session(1, 2, Some(chunk), &key);
        assert_eq!(
            whole.transcript, split.transcript,
            "transcript differs with {chunk}-byte input"
        );
        assert!(
            whole.client_log == split.client_log,
            "client events differ with {chunk}-byte input"
        );
        assert!(
            whole.server_log == split.server_log,
            "server events differ with {chunk}-byte input"
        );
    }
}
