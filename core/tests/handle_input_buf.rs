//! `Connection::handle_input_buf`: the same effect as `handle_input` of the
//! buffer's bytes (output, events, transcript), appending behind a partial
//! packet, adopting the caller's memory when nothing is buffered, and
//! handing back a spare buffer that the next read fits in.

mod common;

use std::ops::Range;
use std::sync::Arc;

use common::*;
use conch_core::config::AlgorithmPreferences;
use conch_core::crypto::CryptoProvider;
use conch_core::{record, BytesMut, ChannelEvent, ChannelId, Connection, Event};

/// How received bytes reach the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// `handle_input(&piece)`.
    Slice,
    /// The piece read into a kept `BytesMut`, then `handle_input_buf`.
    Buf,
}

/// Read sizes cycled through, chosen to cut packets everywhere: inside
/// the length field, inside the first block, just before the tag.
const AWKWARD_READS: &[usize] = &[1, 2, 3, 5, 700, 4, 16, 33, 9000, 11];

/// A [`Pair`] whose pipes this driver empties itself, by `feed`, in reads
/// of the sizes in `reads` (cycled; empty: all that is in flight at once),
/// draining both sides after every read as an adapter does.
struct Driver {
    pair: Pair,
    feed: Feed,
    reads: &'static [usize],
    next_read: usize,
    /// The read buffers (`Feed::Buf`), kept as an adapter keeps its own.
    to_server: BytesMut,
    to_client: BytesMut,
    /// `handle_input_buf` calls that took the buffer's memory ...
    adopted: usize,
    /// ... and those that copied its bytes.
    appended: usize,
}

impl Driver {
    /// Both sides record their transcript.
    fn new(feed: Feed, reads: &'static [usize]) -> Self {
        let mut pair = Pair::new();
        let now = pair.now();
        pair.client.conn =
            Connection::client_recorded(Arc::new(client_config()), [5; 32], now).into();
        pair.server.conn = Connection::server_recorded(Arc::new(server_config()), [6; 32], now)
            .unwrap()
            .into();
        // The pair's own delivery (by `handle_input`) is off: `deliver` does it.
        pair.c2s.blocked = true;
        pair.s2c.blocked = true;
        Driver {
            pair,
            feed,
            reads,
            next_read: 0,
            to_server: BytesMut::new(),
            to_client: BytesMut::new(),
            adopted: 0,
            appended: 0,
        }
    }

    fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            let mut moved = self.pair.step();
            moved |= self.deliver(Direction::ClientToServer);
            moved |= self.deliver(Direction::ServerToClient);
            if !moved {
                return;
            }
        }
        panic!("no quiescence: {:?}", self.pair);
    }

    /// Feeds what is in flight going `dir` to its receiver.
    fn deliver(&mut self, dir: Direction) -> bool {
        let pipe = match dir {
            Direction::ClientToServer => &mut self.pair.c2s,
            Direction::ServerToClient => &mut self.pair.s2c,
        };
        let data = pipe.take();
        let mut off = 0;
        while off < data.len() {
            let n = match self.reads {
                [] => data.len(),
                sizes => sizes[self.next_read % sizes.len()],
            };
            self.next_read += 1;
            let piece = &data[off..(off + n).min(data.len())];
            off += piece.len();
            let now = self.pair.now();
            let (rx, buf) = match dir {
                Direction::ClientToServer => (&mut self.pair.server, &mut self.to_server),
                Direction::ServerToClient => (&mut self.pair.client, &mut self.to_client),
            };
            match self.feed {
                Feed::Slice => rx.input(now, piece),
                Feed::Buf => {
                    buf.extend_from_slice(piece);
                    let given = buf.as_ptr();
                    rx.input_buf(now, buf);
                    assert!(buf.is_empty(), "handle_input_buf left bytes in the buffer");
                    if buf.as_ptr() == given {
                        self.appended += 1;
                    } else {
                        self.adopted += 1;
                    }
                }
            }
            // Drain both sides, as after every input call.
            self.pair.step();
        }
        !data.is_empty()
    }
}

/// Everything observable about a run.
#[derive(Debug, PartialEq)]
struct Run {
    transcript: Transcript,
    client_log: Vec<Event>,
    server_log: Vec<Event>,
    client_recording: Vec<u8>,
    server_recording: Vec<u8>,
}

/// Handshake, a wrong then the right password (password packets are
/// wiped after reading), 200 kB echoed through `cat` with a re-exchange
/// racing the data, EOF, and a disconnect.
fn session(driver: &mut Driver) -> Run {
    driver.drive();
    driver
        .pair
        .client
        .conn
        .auth_password(USER, "wrong")
        .unwrap();
    driver.drive();
    driver
        .pair
        .client
        .conn
        .auth_password(USER, PASSWORD)
        .unwrap();
    driver.drive();
    driver.pair.assert_authenticated();
    let cat = driver.pair.client.conn.open_session().unwrap();
    driver.drive();
    driver.pair.client.conn.exec(cat, b"cat").unwrap();
    driver.drive();
    let input = pattern(9, 200_000);
    let mut off = 0;
    for round in 0..10_000 {
        if off == input.len() {
            break;
        }
        let end = (off + 48 * 1024).min(input.len());
        off += driver
            .pair
            .client
            .conn
            .send_data(cat, &input[off..end])
            .unwrap();
        if round == 1 {
            driver.pair.client.conn.rekey().unwrap();
        }
        driver.drive();
    }
    driver.pair.client.conn.send_eof(cat).unwrap();
    driver.drive();
    assert!(
        driver.pair.client_app.channel(cat).stdout == input,
        "echo differs"
    );
    assert!(driver.pair.client_app.channel(cat).closed);
    assert_eq!(driver.pair.client.rekeys(), 1);
    driver.pair.client.conn.disconnect("done");
    driver.drive();
    let pair = &mut driver.pair;
    assert!(pair.client.conn.is_closed() && pair.server.conn.is_closed());
    pair.assert_no_app_errors();
    Run {
        transcript: pair.transcript(),
        client_recording: pair.client.conn.take_transcript(),
        server_recording: pair.server.conn.take_transcript(),
        client_log: std::mem::take(&mut pair.client.log),
        server_log: std::mem::take(&mut pair.server.log),
    }
}

#[test]
fn a_session_fed_by_handle_input_buf_matches_one_fed_by_handle_input() {
    for reads in [&[][..], AWKWARD_READS] {
        let mut by_slice = Driver::new(Feed::Slice, reads);
        let expected = session(&mut by_slice);
        let mut by_buf = Driver::new(Feed::Buf, reads);
        let got = session(&mut by_buf);
        // Both paths were taken: whole packets adopted, the rest of a
        // packet cut by the read before appended.
        assert!(by_buf.adopted > 10, "{reads:?}: adopted {}", by_buf.adopted);
        if !reads.is_empty() {
            assert!(
                by_buf.appended > 10,
                "{reads:?}: appended {}",
                by_buf.appended
            );
        }
        assert_eq!(
            expected.transcript, got.transcript,
            "{reads:?}: bytes sent differ"
        );
        assert!(
            expected.client_log == got.client_log,
            "{reads:?}: client events differ"
        );
        assert!(
            expected.server_log == got.server_log,
            "{reads:?}: server events differ"
        );
        assert!(
            expected.client_recording == got.client_recording,
            "{reads:?}: client transcripts differ"
        );
        assert!(
            expected.server_recording == got.server_recording,
            "{reads:?}: server transcripts differ"
        );
        for recording in [&got.client_recording, &got.server_recording] {
            let summary = record::replay(recording, Pair::new().now()).unwrap();
            assert!(summary.events > 10, "{summary:?}");
        }
    }
}

fn defaults() -> AlgorithmPreferences {
    AlgorithmPreferences::defaults_for(&CryptoProvider::default())
}

/// A connected pair with `cipher` pinned on both sides and `cat` running.
fn connected_with(cipher: &str) -> (Pair, ChannelId) {
    let mut client = client_config();
    let mut server = server_config();
    client.transport.algorithms.cipher = vec![cipher.to_string()];
    server.transport.algorithms.cipher = vec![cipher.to_string()];
    let mut pair = Pair::with_configs(client, server);
    pair.connect();
    let cat = pair.exec("cat");
    (pair, cat)
}

/// The sealed packet carrying `data` on `channel`, taken from the client
/// before the pair moves it.
fn client_packet(pair: &mut Pair, channel: ChannelId, data: &[u8]) -> Vec<u8> {
    assert_eq!(
        pair.client.conn.send_data(channel, data).unwrap(),
        data.len()
    );
    let mut wire = Vec::new();
    pair.client.conn.take_transmit(&mut wire);
    wire
}

#[test]
fn reads_cutting_packets_anywhere_are_appended_to_the_partial_packet_with_every_cipher() {
    for cipher in defaults().cipher {
        let (mut pair, cat) = connected_with(&cipher);
        let mut echoed = Vec::new();
        // Cut points in two back-to-back packets, the first `a` bytes
        // long: inside the length field, around the end of the first
        // block, just before its end, and into the second packet.
        let cuts = |a: usize| -> Vec<Vec<usize>> {
            vec![
                vec![1],
                vec![3],
                vec![4],
                vec![5],
                vec![15],
                vec![16],
                vec![17],
                vec![a - 1],
                vec![a + 2],
                vec![1, 2, 3],
                vec![2, a - 1, a + 1],
            ]
        };
        for case in 0..cuts(100).len() {
            let a = format!("{case}: first message");
            let b = format!("{case}: second");
            let mut wire = client_packet(&mut pair, cat, a.as_bytes());
            let a_len = wire.len();
            wire.extend(client_packet(&mut pair, cat, b.as_bytes()));
            echoed.extend_from_slice(a.as_bytes());
            echoed.extend_from_slice(b.as_bytes());
            let cut = &cuts(a_len)[case];
            let mut bounds = vec![0];
            bounds.extend(cut.iter().map(|&c| c.min(wire.len() - 1)));
            bounds.push(wire.len());
            let now = pair.now();
            for (i, piece) in bounds.windows(2).enumerate() {
                let mut read = BytesMut::with_capacity(4096);
                read.extend_from_slice(&wire[piece[0]..piece[1]]);
                let (given, capacity) = (read.as_ptr(), read.capacity());
                pair.server.conn.handle_input_buf(now, &mut read);
                if let Some(e) = pair.server.conn.error() {
                    panic!("{cipher}, cuts {cut:?}, read {i}: {e}");
                }
                assert!(read.is_empty());
                // A read behind a partial packet is copied: the buffer
                // keeps its memory. The first read found nothing buffered.
                let partial_before = piece[0] != 0 && piece[0] != a_len;
                assert_eq!(
                    (read.as_ptr() == given && read.capacity() == capacity),
                    partial_before,
                    "{cipher}, cuts {cut:?}, read {i}: adopted or not"
                );
            }
            pair.drive();
        }
        pair.assert_alive();
        // Every message came through intact and in order.
        let stdout = &pair.client_app.channel(cat).stdout;
        assert!(stdout[..] == echoed[..], "{cipher}: echo differs");
    }
}

/// The address range of `buf`'s memory from its first byte on.
fn memory(buf: &BytesMut) -> Range<usize> {
    let start = buf.as_ptr() as usize;
    start..start + buf.capacity()
}

/// The payload of the first `Data` event on the server, with the server's
/// channel number; other events are dropped.
fn server_data(pair: &mut Pair) -> (ChannelId, conch_core::Bytes) {
    while let Some(event) = pair.server.conn.poll_event() {
        if let Event::Channel {
            id: channel,
            event: ChannelEvent::Data { data },
        } = event
        {
            return (channel, data);
        }
    }
    panic!("no data event on the server");
}

#[test]
fn an_adopted_buffer_carries_the_payload_without_a_copy() {
    let (mut pair, cat) = connected_with(&defaults().cipher[0]);
    let message = pattern(4, 20_000);
    let now = pair.now();

    // Nothing buffered: the payload is decrypted in the buffer handed in.
    let mut read = BytesMut::with_capacity(64 * 1024);
    read.extend_from_slice(&client_packet(&mut pair, cat, &message));
    let given = memory(&read);
    pair.server.conn.handle_input_buf(now, &mut read);
    assert_eq!(pair.server.conn.error(), None);
    let (_, data) = server_data(&mut pair);
    assert!(data == message);
    let at = data.as_ptr() as usize;
    assert!(given.contains(&at), "payload at {at:#x}, buffer {given:x?}");
    // The buffer handed back is other memory (the connection's spare).
    assert!(read.is_empty() && !given.contains(&(read.as_ptr() as usize)));

    // `handle_input` copies: the payload is not in the caller's slice.
    let wire = client_packet(&mut pair, cat, &message);
    let slice = wire.as_ptr() as usize..wire.as_ptr() as usize + wire.len();
    pair.server.conn.handle_input(now, &wire);
    assert_eq!(pair.server.conn.error(), None);
    let (_, data) = server_data(&mut pair);
    assert!(data == message);
    assert!(!slice.contains(&(data.as_ptr() as usize)));
}

#[test]
fn the_spare_buffer_handed_back_takes_the_next_read_in_place() {
    let (mut pair, cat) = connected_with(&defaults().cipher[0]);
    let now = pair.now();
    let mut read = BytesMut::with_capacity(64 * 1024);
    let mut previous: Option<Range<usize>> = None;
    let mut wire = Vec::new();
    for round in 0..40u8 {
        assert_eq!(
            pair.client.conn.send_data(cat, &[round; 20_000]).unwrap(),
            20_000
        );
        wire.clear();
        pair.client.conn.take_transmit(&mut wire);
        if round >= 2 {
            // From the third round on, the spare is memory handed in
            // before, big enough and no longer shared with any payload.
            assert!(
                read.try_reclaim(wire.len()),
                "round {round}: the spare cannot take {} bytes without allocating",
                wire.len()
            );
        }
        read.extend_from_slice(&wire);
        let given = memory(&read);
        pair.server.conn.handle_input_buf(now, &mut read);
        assert_eq!(pair.server.conn.error(), None);
        let (channel, data) = server_data(&mut pair);
        assert!(data[..] == [round; 20_000]);
        drop(data);
        pair.server.conn.consume(channel, 20_000).unwrap();
        // What comes back is not the buffer handed in (adopted) but the
        // one of the round before: two buffers take turns.
        let at = read.as_ptr() as usize;
        assert!(!given.contains(&at), "round {round}: not adopted");
        if let Some(previous) = &previous {
            assert!(
                previous.contains(&at),
                "round {round}: spare at {at:#x}, not in the buffer handed in before, {previous:x?}"
            );
        }
        previous = Some(given);
    }
}
