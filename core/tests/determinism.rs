//! Reproducibility: the same seeds and inputs give byte-identical output,
//! different seeds give different output, and how input is split into
//! `handle_input` calls changes nothing.

mod common;

use common::*;
use conch_core::{Event, PrivateKey};

/// Everything observable about a run.
#[derive(Debug)]
struct Run {
    transcript: Transcript,
    /// `handle_input` calls on each side (client, server).
    input_calls: (usize, usize),
    client_log: Vec<Event>,
    server_log: Vec<Event>,
}

/// How a run feeds input and where its re-exchange starts.
#[derive(Debug, Clone, Copy)]
struct Feed {
    /// Input pieces of this many bytes (`None`: all at once).
    chunk: Option<usize>,
    /// Drain after every piece (the adapter contract) or after the last.
    drain_between: bool,
    /// Start the re-exchange right after queueing data, so that it races
    /// the data (otherwise at a quiet moment, the data queued behind it).
    rekey_mid_stream: bool,
}

const WHOLE: Feed = Feed {
    chunk: None,
    drain_between: true,
    rekey_mid_stream: true,
};

/// A session touching every layer: handshake, failed and successful
/// logins with two methods, several commands, a re-exchange, data both
/// ways, EOF and close, and a disconnect.
fn standard_session(client_seed: u64, server_seed: u64, feed: Feed, user_key: &PrivateKey) -> Run {
    let mut pair = Pair::with_seeds(client_config(), server_config(), client_seed, server_seed);
    pair.chunk = feed.chunk;
    pair.drain_between_chunks = feed.drain_between;
    pair.server_app.authorized_keys = vec![user_key.public_key().clone()];
    pair.handshake();

    pair.client.conn.auth_password(USER, "wrong").unwrap();
    pair.drive();
    pair.client
        .conn
        .auth_publickey(USER, user_key.public_key())
        .unwrap();
    pair.drive();
    let (algorithm, data) = pair.client.signature_request().expect("signature request");
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
        assert!(rounds < 10_000, "no progress at {off} bytes");
        // Small writes, so that the re-exchange starts mid-stream.
        if rounds == 2 && !feed.rekey_mid_stream {
            pair.client.conn.rekey().unwrap();
        }
        let end = (off + 64 * 1024).min(input.len());
        off += pair.client.conn.send_data(cat, &input[off..end]).unwrap();
        if rounds == 2 && feed.rekey_mid_stream {
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
    pair.assert_echoed_then_disconnect(cat, &input);
    Run {
        transcript: pair.transcript(),
        input_calls: (pair.client.input_calls, pair.server.input_calls),
        client_log: pair.client.log,
        server_log: pair.server.log,
    }
}

#[test]
fn same_seeds_give_identical_transcripts() {
    let key = ed25519_key(42);
    let a = standard_session(1, 2, WHOLE, &key);
    let b = standard_session(1, 2, WHOLE, &key);
    assert!(a.transcript.c2s_len > 300_000 && a.transcript.s2c_len > 300_000);
    assert_eq!(a.transcript, b.transcript);
    assert_eq!(a.client_log, b.client_log);
    assert_eq!(a.server_log, b.server_log);
}

#[test]
fn different_seeds_give_different_transcripts() {
    let key = ed25519_key(42);
    let base = standard_session(1, 2, WHOLE, &key);
    let other_client = standard_session(3, 2, WHOLE, &key);
    let other_server = standard_session(1, 4, WHOLE, &key);
    for other in [&other_client, &other_server] {
        assert_ne!(base.transcript.c2s, other.transcript.c2s);
        assert_ne!(base.transcript.s2c, other.transcript.s2c);
    }
    assert_ne!(other_client.transcript, other_server.transcript);
}

fn assert_same_run(a: &Run, b: &Run, chunk: usize, what: &str) {
    // The input really was cut up.
    let t = &b.transcript;
    assert!(b.input_calls.0 as u64 >= t.s2c_len / chunk as u64, "{what}");
    assert!(b.input_calls.1 as u64 >= t.c2s_len / chunk as u64, "{what}");
    assert_eq!(a.transcript, b.transcript, "transcript differs with {what}");
    assert!(
        a.client_log == b.client_log,
        "client events differ with {what}"
    );
    assert!(
        a.server_log == b.server_log,
        "server events differ with {what}"
    );
}

/// Input split anywhere, each piece drained as the adapter contract says.
/// The re-exchange starts at a quiet moment: when it races data already
/// in flight, where the peer's KEXINIT falls among its answers to that
/// data legitimately depends on how much input each call carried.
#[test]
fn input_split_anywhere_gives_the_same_transcript_and_events() {
    let key = ed25519_key(42);
    let quiet = Feed {
        rekey_mid_stream: false,
        ..WHOLE
    };
    let whole = standard_session(1, 2, quiet, &key);
    for chunk in [1, 7, 4096] {
        let split = standard_session(
            1,
            2,
            Feed {
                chunk: Some(chunk),
                ..quiet
            },
            &key,
        );
        assert_same_run(&whole, &split, chunk, &format!("{chunk}-byte input"));
    }
}

/// The parser alone: the same deliveries cut into pieces and drained once
/// at the end give identical results even with a re-exchange racing data.
#[test]
fn input_split_anywhere_parses_identically_with_rekey_racing_data() {
    let key = ed25519_key(42);
    let whole = standard_session(1, 2, WHOLE, &key);
    for chunk in [1, 5, 1000] {
        let split = standard_session(
            1,
            2,
            Feed {
                chunk: Some(chunk),
                drain_between: false,
                ..WHOLE
            },
            &key,
        );
        assert_same_run(
            &whole,
            &split,
            chunk,
            &format!("{chunk}-byte pieces, one drain"),
        );
    }
}
