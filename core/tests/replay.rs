//! Record and replay (`conch_core::record`): sessions recorded in memory
//! replay on both sides, a corrupted transcript is caught at the record that
//! was changed, and every transcript committed under `tests/transcripts/`
//! (recorded against real OpenSSH and dropbear peers by
//! `tests/transcripts/record.sh`) replays with no network and no peer.
// Reading the committed fixtures is I/O the test does, not the core.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use conch_core::record::{self, Call, Outcome, RecordedConfig, ReplayError, Replayer, Transcript};
use conch_core::{ChannelEvent, ChannelRequest, Command, Connection, Event, Side};

/// A pair whose two connections record, with the seeds given.
fn recording_pair() -> Pair {
    let mut pair = Pair::new();
    let now = pair.now();
    pair.client = Endpoint::new(Connection::client_recorded(
        Arc::new(client_config()),
        [1; 32],
        now,
    ));
    pair.server = Endpoint::new(
        Connection::server_recorded(Arc::new(server_config()), [2; 32], now).unwrap(),
    );
    pair
}

/// A session touching every layer: password login, exec with stdin,
/// stdout, stderr and exit status, a re-exchange, a keepalive-style global
/// request, time passing, and a clean disconnect.
fn run_session(pair: &mut Pair) {
    pair.connect();
    let cat = pair.exec("cat");
    pair.client_send_all(cat, &pattern(7, 40_000));
    pair.client.conn.send_eof(cat).unwrap();
    pair.drive();
    let err = pair.exec("err oops");
    pair.client.conn.rekey().unwrap();
    pair.drive();
    pair.client
        .conn
        .global_request(ECHO_GLOBAL_REQUEST, b"ping", true)
        .unwrap();
    pair.advance(Duration::from_secs(5));
    pair.drive();
    let exit = pair.exec("exit 3");
    pair.drive();
    assert!(pair
        .client
        .saw(|e| matches!(e, Event::Channel { id: channel, event: ChannelEvent::ExtendedData { .. } } if *channel == err)));
    assert!(pair
        .client
        .saw(|e| matches!(e, Event::Channel { id: channel, event: ChannelEvent::ExitStatus { code: 3 } } if *channel == exit)));
    assert!(pair.client.rekeys() >= 1);
    pair.client.conn.disconnect("done");
    pair.drive();
    pair.assert_no_app_errors();
}

fn divergence(bytes: &[u8]) -> record::Divergence {
    match record::replay(bytes, Instant::now()) {
        Err(ReplayError::Divergence(d)) => d,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn an_in_memory_session_replays_on_both_sides() {
    let mut pair = recording_pair();
    run_session(&mut pair);
    let client = pair.client.conn.take_transcript();
    let server = pair.server.conn.take_transcript();
    let sent = pair.transcript();

    let c = record::replay(&client, Instant::now()).unwrap();
    let s = record::replay(&server, Instant::now()).unwrap();
    // What each side transmitted is what the other received.
    assert_eq!(c.transmitted_bytes, sent.c2s_len);
    assert_eq!(s.input_bytes, sent.c2s_len);
    assert_eq!(s.transmitted_bytes, sent.s2c_len);
    assert_eq!(c.input_bytes, sent.s2c_len);
    assert_eq!(c.events, pair.client.log.len());
    assert_eq!(s.events, pair.server.log.len());
    assert!(!c.truncated && !s.truncated);

    let header = Transcript::decode(&server).unwrap().header;
    assert_eq!(header.config.side(), Side::Server);
    let RecordedConfig::Server(config) = &header.config else {
        unreachable!()
    };
    assert_eq!(config.host_keys[0].public_key(), host_key().public_key());
}

#[test]
fn the_replayer_hands_back_every_event_in_order() {
    let mut pair = recording_pair();
    run_session(&mut pair);
    let bytes = pair.client.conn.take_transcript();
    let mut replayer = Replayer::new(Transcript::decode(&bytes).unwrap(), Instant::now());
    let mut events = Vec::new();
    while let Some(step) = replayer.step() {
        events.extend(step.unwrap().event);
    }
    assert_eq!(events, pair.client.log);
}

/// Recording a replay again gives the very same transcript: nothing the
/// connection does escapes the record.
#[test]
fn a_replay_recorded_again_is_the_same_transcript() {
    let mut pair = recording_pair();
    run_session(&mut pair);
    let bytes = pair.client.conn.take_transcript();
    let t = Transcript::decode(&bytes).unwrap();
    assert_eq!(t.encode().unwrap(), bytes);
}

/// Index of the last `handle_input` that carried data, in a transcript.
fn last_input(t: &Transcript<'_>) -> usize {
    t.records
        .iter()
        .rposition(|r| matches!(&r.call, Call::HandleInput { data, .. } if data.len() > 40))
        .expect("an input record")
}

#[test]
fn a_flipped_byte_in_a_recorded_input_chunk_is_the_divergence() {
    let mut pair = recording_pair();
    run_session(&mut pair);
    for (side, bytes) in [
        ("client", pair.client.conn.take_transcript()),
        ("server", pair.server.conn.take_transcript()),
    ] {
        let mut t = Transcript::decode(&bytes).unwrap();
        let index = last_input(&t);
        if let Call::HandleInput { data, .. } = &mut t.records[index].call {
            // Inside the first packet's sealed body (a chunk starts at a
            // packet boundary here), so the MAC check must fail.
            data.to_mut()[8] ^= 0x01;
        }
        let d = divergence(&t.encode().unwrap());
        assert_eq!(d.index, index, "{side}: {d}");
        assert!(d.call.contains("handle_input"), "{side}: {d}");
        assert!(
            d.actual.contains("message authentication code incorrect"),
            "{side}: {d}"
        );
    }
}

#[test]
fn an_edited_event_or_transmit_digest_is_the_divergence() {
    let mut pair = recording_pair();
    run_session(&mut pair);
    let bytes = pair.client.conn.take_transcript();
    let t = Transcript::decode(&bytes).unwrap();

    // An event in the middle: the replay shows the event it polled instead.
    let event_at = t
        .records
        .iter()
        .position(|r| matches!(r.outcome, Outcome::Event(_)) && r.call == Call::PollEvent)
        .map(|first| first + t.records.len() / 2)
        .and_then(|from| {
            (from..t.records.len()).find(|&i| matches!(t.records[i].outcome, Outcome::Event(_)))
        })
        .unwrap();
    let mut edited = t.clone();
    edited.records[event_at].outcome = Outcome::Event([0xab; 32]);
    let d = divergence(&edited.encode().unwrap());
    assert_eq!(d.index, event_at, "{d}");
    assert_eq!(d.call, "poll_event()");
    assert!(d.expected.contains("abababab"), "{d}");

    // A transmitted chunk.
    let sent_at = t
        .records
        .iter()
        .rposition(|r| matches!(r.outcome, Outcome::Transmitted(_)))
        .unwrap();
    let mut edited = t.clone();
    edited.records[sent_at].outcome = Outcome::Transmitted([0; 32]);
    assert_eq!(divergence(&edited.encode().unwrap()).index, sent_at);

    // An application call made differently: a different command.
    let exec_at = t
        .records
        .iter()
        .position(|r| matches!(&r.call, Call::Command(Command::ChannelRequest { request, .. }) if matches!(&**request, ChannelRequest::Exec { command } if command == b"exit 3")))
        .unwrap();
    let mut edited = t.clone();
    if let Call::Command(Command::ChannelRequest { request, .. }) =
        &mut edited.records[exec_at].call
    {
        *request = Cow::Owned(ChannelRequest::Exec {
            command: b"exit 4".to_vec(),
        });
    }
    // The call itself succeeds as before; the bytes it made differ.
    let next_sent = (exec_at..t.records.len())
        .find(|&i| matches!(t.records[i].call, Call::ConsumeTransmit { .. }))
        .unwrap();
    let d = divergence(&edited.encode().unwrap());
    assert_eq!(d.index, next_sent, "{d}");
    assert!(d.call.starts_with("consume_transmit"), "{d}");
}

// ----------------------------------------------------------------------
// Fixtures recorded against real peers
// ----------------------------------------------------------------------

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/transcripts")
}

/// The fixtures `tests/transcripts/record.sh` makes, with their role.
const FIXTURES: &[(&str, Side)] = &[
    ("openssh-exec-password.bin", Side::Client),
    ("openssh-publickey-stdio-rekey.bin", Side::Client),
    ("openssh-50-channels.bin", Side::Client),
    ("dropbear-exec.bin", Side::Client),
    ("ssh-to-conchd.bin", Side::Server),
];

#[test]
fn every_committed_transcript_replays_without_a_peer() {
    let dir = transcripts_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    found.sort();
    for (name, _) in FIXTURES {
        assert!(found.iter().any(|f| f == name), "missing fixture {name}");
    }
    for name in &found {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let transcript = Transcript::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some((_, side)) = FIXTURES.iter().find(|(n, _)| n == name) {
            assert_eq!(transcript.header.config.side(), *side, "{name}");
        }
        let summary = Replayer::new(transcript, Instant::now())
            .run()
            .unwrap_or_else(|d| panic!("{name}: {d}"));
        assert!(!summary.truncated, "{name} is truncated");
        assert!(
            summary.events > 0 && summary.input_bytes > 0,
            "{name}: {summary:?}"
        );
    }
}

/// The same corruption in the recordings of real sessions: the last byte of
/// an encrypted input chunk (a MAC byte: the peers write whole packets) is
/// caught at that very record.
#[test]
fn a_flipped_byte_in_a_committed_transcript_is_the_divergence() {
    for (name, _) in FIXTURES {
        let bytes = std::fs::read(transcripts_dir().join(name)).unwrap();
        let mut t = Transcript::decode(&bytes).unwrap();
        let index = last_input(&t);
        if let Call::HandleInput { data, .. } = &mut t.records[index].call {
            let last = data.len() - 1;
            data.to_mut()[last] ^= 0x80;
        }
        let d = divergence(&t.encode().unwrap());
        assert_eq!(d.index, index, "{name}: {d}");
        assert!(
            d.actual.contains("message authentication code incorrect"),
            "{name}: {d}"
        );
    }
}

/// A transcript may come from anywhere (a bug report): damaged ones are
/// errors or divergences, never a panic.
#[test]
fn damaged_transcripts_never_panic() {
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let bytes = std::fs::read(transcripts_dir().join("dropbear-exec.bin")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    for round in 0..300 {
        let mut damaged = bytes.clone();
        match round % 3 {
            0 => damaged.truncate(rng.next_u32() as usize % bytes.len()),
            1 => {
                for _ in 0..1 + rng.next_u32() % 4 {
                    let at = rng.next_u32() as usize % damaged.len();
                    damaged[at] = rng.next_u32() as u8;
                }
            }
            _ => {
                let at = rng.next_u32() as usize % damaged.len();
                damaged.insert(at, 0xff);
            }
        }
        let _ = record::replay(&damaged, Instant::now());
    }
}
