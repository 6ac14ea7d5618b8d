//! Channel handles (`Connection::channel`, `Connection::channel_mut`): the
//! state an application can ask for instead of keeping it from the events,
//! and the mutators with the id filled in.

mod common;

use common::*;
use conch_core::{ChannelEvent, ChannelId, ChannelPhase, Event};

/// Drives until `ch` is closed on the client, panicking if it does not.
fn wait_closed(pair: &mut Pair, ch: ChannelId) {
    pair.drive();
    assert!(
        pair.client_app.channel(ch).closed,
        "channel {ch} not closed: {:#?}",
        pair.client.log
    );
}

/// The server's id of the last channel the client opened.
fn server_channel(pair: &Pair) -> ChannelId {
    pair.server
        .log
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Channel {
                id,
                event: ChannelEvent::OpenRequest { .. },
            } => Some(*id),
            _ => None,
        })
        .expect("the server saw the open request")
}

#[test]
fn after_the_peers_eof_the_handle_says_so_and_sending_still_works() {
    let mut pair = connected();
    // `wc` sends EOF at once, then counts stdin until our EOF.
    let ch = pair.exec("wc");
    pair.drive();
    let h = pair.client.conn.channel(ch).expect("the channel is open");
    assert_eq!(h.id(), ch);
    assert_eq!(h.kind(), "session");
    assert_eq!(h.phase(), ChannelPhase::Open);
    assert!(h.is_open() && !h.is_opening());
    assert!(h.eof_received(), "wc sent EOF");
    assert!(!h.eof_sent() && !h.close_sent() && !h.is_closing());
    assert_eq!(h.pending_replies(), 0, "the exec was answered");

    let mut h = pair.client.conn.channel_mut(ch).unwrap();
    assert_eq!(h.send_data(b"12345").unwrap(), 5, "EOF is one way only");
    h.send_eof().unwrap();
    let h = h.state().unwrap();
    assert!(h.eof_sent() && !h.close_sent());
    assert_eq!(h.send_capacity(), 0, "nothing may be sent after our EOF");
    assert!(pair.client.conn.send_data(ch, b"late").is_err());

    wait_closed(&mut pair, ch);
    assert_eq!(pair.client_app.channel(ch).exit_status, Some(5));
    pair.assert_no_app_errors();
}

#[test]
fn after_close_both_ways_the_handle_is_gone_on_both_sides() {
    let mut pair = connected();
    let ch = pair.exec("cat");
    let server_ch = server_channel(&pair);
    assert!(pair
        .server
        .conn
        .channel(server_ch)
        .is_some_and(|h| h.is_open()));

    pair.client.conn.channel_mut(ch).unwrap().close().unwrap();
    let h = pair
        .client
        .conn
        .channel(ch)
        .expect("closing, not closed yet");
    assert!(h.close_sent() && h.is_closing() && h.is_open());
    assert_eq!(h.send_capacity(), 0);
    assert!(pair.client.conn.send_data(ch, b"x").is_err());

    wait_closed(&mut pair, ch);
    assert!(pair.client.conn.channel(ch).is_none());
    assert!(pair.client.conn.channel_mut(ch).is_none());
    assert!(pair.server.conn.channel(server_ch).is_none());
    pair.assert_no_app_errors();
    pair.assert_alive();
}

#[test]
fn a_channel_being_opened_has_a_handle_that_cannot_send_yet() {
    let mut pair = connected();
    let ch = pair.client.conn.open_session().unwrap();
    let h = pair
        .client
        .conn
        .channel(ch)
        .expect("known from the open call");
    assert_eq!(h.phase(), ChannelPhase::Opening);
    assert!(h.is_opening() && !h.is_open());
    assert_eq!((h.send_capacity(), h.max_packet_size()), (0, 0));

    // A close asked for while opening waits for the confirmation.
    pair.client.conn.channel_mut(ch).unwrap().close().unwrap();
    let h = pair.client.conn.channel(ch).unwrap();
    assert!(h.is_closing() && !h.close_sent());
    pair.drive();
    assert!(pair.client_app.channel(ch).opened);
    assert!(pair.client_app.channel(ch).closed);
    assert!(pair.client.conn.channel(ch).is_none());
    pair.assert_no_app_errors();
}

#[test]
fn a_refused_open_leaves_no_handle() {
    let mut pair = connected();
    let ch = pair.client.conn.open_channel("x-unknown", &[]).unwrap();
    assert_eq!(pair.client.conn.channel(ch).unwrap().kind(), "x-unknown");
    pair.drive();
    assert!(pair.client_app.channel(ch).open_failed.is_some());
    assert!(pair.client.conn.channel(ch).is_none());
}

#[test]
fn a_handles_send_capacity_follows_the_peers_window() {
    const WINDOW: u32 = 64 * 1024;
    let mut server = server_config();
    server.channels.window_size = WINDOW;
    let mut pair = Pair::with_configs(client_config(), server);
    pair.connect();
    // `sink` keeps what it receives unconsumed until released.
    pair.server_app.consume_sink = false;
    let ch = pair.exec("sink");
    let h = pair.client.conn.channel(ch).unwrap();
    assert_eq!(h.send_window(), WINDOW);
    assert_eq!(h.send_capacity(), WINDOW as usize);
    assert_eq!(h.max_packet_size(), 32 * 1024, "the server's default");

    let sent = pair
        .client
        .conn
        .channel_mut(ch)
        .unwrap()
        .send_data(&pattern(1, 40_000))
        .unwrap();
    assert_eq!(sent, 40_000);
    let left = WINDOW as usize - 40_000;
    assert_eq!(pair.client.conn.channel(ch).unwrap().send_capacity(), left);
    pair.drive();
    // The server holds the data unconsumed: its window stays shut by as much.
    let server_ch = server_channel(&pair);
    let s = pair.server.conn.channel(server_ch).unwrap();
    assert_eq!((s.unconsumed(), s.recv_window()), (40_000, WINDOW - 40_000));
    assert_eq!(pair.client.conn.channel(ch).unwrap().send_capacity(), left);

    // A send the window cuts short leaves no capacity.
    let sent = pair.client.conn.send_data(ch, &pattern(2, 40_000)).unwrap();
    assert_eq!(sent, left);
    assert_eq!(pair.client.conn.channel(ch).unwrap().send_capacity(), 0);
    pair.drive();
    assert_eq!(pair.client.conn.channel(ch).unwrap().send_capacity(), 0);

    // Consuming on the server reopens the window with WINDOW_ADJUST.
    pair.server_app.release_sink(&mut pair.server.conn);
    pair.drive();
    assert_eq!(
        pair.client.conn.channel(ch).unwrap().send_capacity(),
        WINDOW as usize
    );
    assert!(pair.client.saw(|e| matches!(
        e,
        Event::Channel {
            id,
            event: ChannelEvent::Writable
        } if *id == ch
    )));
    let s = pair.server.conn.channel(server_ch).unwrap();
    assert_eq!((s.unconsumed(), s.recv_window()), (0, WINDOW));
    pair.assert_no_app_errors();
}
