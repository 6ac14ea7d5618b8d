//! `Connection::take_transmit`: the same bytes and the same transcript as
//! `poll_transmit` + `consume_transmit`, without a copy when the caller's
//! buffer is empty, and the send buffer reopens once bytes are taken.

mod common;

use std::sync::Arc;

use common::*;
use conch_core::{record, ChannelConfig, ChannelEvent, ClientConfig, Connection, Event};

/// How each side moves its output.
#[derive(Debug, Clone, Copy)]
struct Moves {
    client_takes: bool,
    server_takes: bool,
}

/// Everything observable about a run.
#[derive(Debug)]
struct Run {
    transcript: Transcript,
    client_log: Vec<Event>,
    server_log: Vec<Event>,
    /// The client's recorded transcript (`conch_core::record`).
    recording: Vec<u8>,
}

/// Login, a command echoing 300 kB with a re-exchange racing the data,
/// EOF, and a disconnect; the client records.
fn session(moves: Moves) -> Run {
    let mut pair = Pair::new();
    pair.client.conn =
        Connection::client_recorded(Arc::new(client_config()), [5; 32], pair.now()).into();
    pair.client.take_transmit = moves.client_takes;
    pair.server.take_transmit = moves.server_takes;
    pair.connect();
    let cat = pair.exec("cat");
    let input = pattern(7, 300_000);
    let mut off = 0;
    for round in 0..10_000 {
        if off == input.len() {
            break;
        }
        let end = (off + 64 * 1024).min(input.len());
        off += pair.client.conn.send_data(cat, &input[off..end]).unwrap();
        if round == 1 {
            pair.client.conn.rekey().unwrap();
        }
        pair.drive();
    }
    pair.client.conn.send_eof(cat).unwrap();
    pair.drive();
    pair.assert_echoed_then_disconnect(cat, &input);
    Run {
        transcript: pair.transcript(),
        recording: pair.client.conn.take_transcript(),
        client_log: pair.client.log,
        server_log: pair.server.log,
    }
}

#[test]
fn taking_sends_the_same_bytes_and_records_the_same_transcript() {
    let polled = session(Moves {
        client_takes: false,
        server_takes: false,
    });
    assert!(polled.transcript.c2s_len > 300_000 && polled.transcript.s2c_len > 300_000);
    for moves in [
        Moves {
            client_takes: true,
            server_takes: true,
        },
        Moves {
            client_takes: true,
            server_takes: false,
        },
        Moves {
            client_takes: false,
            server_takes: true,
        },
    ] {
        let taken = session(moves);
        assert_eq!(polled.transcript, taken.transcript, "{moves:?}");
        assert!(polled.client_log == taken.client_log, "{moves:?}");
        assert!(polled.server_log == taken.server_log, "{moves:?}");
        assert!(polled.recording == taken.recording, "{moves:?}");
    }
    // And the transcript of a taking client replays.
    let taken = session(Moves {
        client_takes: true,
        server_takes: true,
    });
    let summary = record::replay(&taken.recording, Pair::new().now()).unwrap();
    assert!(summary.events > 4, "{summary:?}");
}

#[test]
fn taking_into_an_empty_buffer_swaps_instead_of_copying() {
    let mut pair = Pair::new();
    pair.connect();
    let cat = pair.exec("cat");
    pair.client.stall_transmit = true;
    pair.client.conn.send_data(cat, &[1; 5000]).unwrap();

    let waiting = pair.client.conn.poll_transmit().unwrap();
    let (inside, len) = (waiting.as_ptr(), waiting.len());
    let mut out = Vec::with_capacity(1 << 20);
    let given = out.as_ptr();
    pair.client.conn.take_transmit(&mut out);
    // `out` now holds the connection's buffer itself ...
    assert_eq!((out.as_ptr(), out.len()), (inside, len));
    assert!(pair.client.conn.poll_transmit().is_none());
    // ... and the connection seals the next packets into `out`'s old one.
    pair.client.conn.send_data(cat, &[2; 5000]).unwrap();
    let next = pair.client.conn.poll_transmit().unwrap();
    assert_eq!(next.as_ptr(), given);
    let next = next.to_vec();

    // Into a buffer that is not empty: appended.
    let first = out.clone();
    pair.client.conn.take_transmit(&mut out);
    assert_eq!(out, [first, next].concat());
    assert!(pair.client.conn.poll_transmit().is_none());
    // Nothing waiting: `out` is left alone.
    let before = out.clone();
    pair.client.conn.take_transmit(&mut out);
    assert_eq!(out, before);
}

#[test]
fn taking_reopens_the_send_buffer() {
    const LIMIT: usize = 64 * 1024;
    let client = ClientConfig {
        channels: ChannelConfig {
            send_buffer_limit: LIMIT,
            ..ChannelConfig::default()
        },
        ..ClientConfig::default()
    };
    let mut pair = Pair::with_configs(client, server_config());
    pair.connect();
    let cat = pair.exec("cat");
    pair.client.stall_transmit = true;
    let data = vec![3; 4 * LIMIT];
    let sent = pair.client.conn.send_data(cat, &data).unwrap();
    assert!(sent < data.len() && sent >= LIMIT / 2, "{sent}");
    assert_eq!(pair.client.conn.send_capacity(cat).unwrap(), 0);
    while pair.client.conn.poll_event().is_some() {}

    let mut out = Vec::new();
    pair.client.conn.take_transmit(&mut out);
    assert!(out.len() > sent, "{}", out.len());
    // Taken bytes no longer count: the channel may send again, and says so.
    assert!(pair.client.conn.send_capacity(cat).unwrap() >= LIMIT / 2);
    let mut writable = false;
    while let Some(e) = pair.client.conn.poll_event() {
        writable |= matches!(e, Event::Channel { id: channel, event: ChannelEvent::Writable } if channel == cat);
    }
    assert!(writable);
    // A second buffer's worth can be queued while `out` is being written.
    let again = pair.client.conn.send_data(cat, &data[sent..]).unwrap();
    assert!(again >= LIMIT / 2, "{again}");

    // Delivered in order, everything arrives.
    pair.client.stall_transmit = false;
    pair.c2s.push(Direction::ClientToServer, &out, &mut None);
    pair.drive();
    let mut off = sent + again;
    for _ in 0..1000 {
        if off == data.len() {
            break;
        }
        off += pair.client.conn.send_data(cat, &data[off..]).unwrap();
        pair.drive();
    }
    pair.client.conn.send_eof(cat).unwrap();
    pair.drive();
    assert!(pair.client_app.channel(cat).stdout == data);
}
