//! Compressed sessions end to end (RFC 4253 section 6.2, OpenSSH PROTOCOL
//! section 1.2) between a client and a server `Connection` in memory:
//! `zlib` compresses from the first NEWKEYS, `zlib@openssh.com` only after
//! USERAUTH_SUCCESS, and both carry a session intact through re-exchanges
//! and any split of the input.

mod common;

use common::*;
use conch_core::config::{COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED};
use conch_core::{ChannelId, ClientConfig, ServerConfig};

/// The banner the server sends before authentication: 20,000 bytes of text.
fn banner() -> String {
    "Authorized uses only. All activity may be monitored.\n".repeat(380)
}

fn configs(client: &[&str], server: &[&str]) -> (ClientConfig, ServerConfig) {
    let mut c = client_config();
    c.transport.algorithms.set_compression(client);
    let mut s = server_config();
    s.transport.algorithms.set_compression(server);
    s.auth_banner = Some(banner());
    (c, s)
}

/// Text that compresses well, `len` bytes of it.
fn text(len: usize) -> Vec<u8> {
    let line = b"2026-12-07T15:00:00Z conchd[4242]: session opened for user alice\n";
    line.iter().copied().cycle().take(len).collect()
}

/// Logs in (the banner on the way) and returns the bytes the server sent
/// until then; then echoes 1 MB of text through `cat` and returns the
/// bytes each way for it.
fn session(client: &[&str], server: &[&str]) -> (Pair, u64, (u64, u64)) {
    let (c, s) = configs(client, server);
    let mut pair = Pair::with_configs(c, s);
    pair.connect();
    let before_auth_s2c = pair.s2c.sent;
    let input = text(1_000_000);
    let (c0, s0) = (pair.c2s.sent, pair.s2c.sent);
    let ch: ChannelId = pair.exec("cat");
    pair.client_send_all(ch, &input);
    pair.client.conn.send_eof(ch).unwrap();
    pair.drive();
    let log = pair.client_app.channel(ch);
    assert!(log.stdout == input, "echo differs");
    assert!(log.closed);
    pair.assert_no_app_errors();
    pair.assert_alive();
    let bulk = (pair.c2s.sent - c0, pair.s2c.sent - s0);
    (pair, before_auth_s2c, bulk)
}

#[test]
fn without_compression_every_byte_crosses() {
    let (pair, before_auth, (c2s, s2c)) = session(&["none"], COMPRESSION_SERVER_ALLOWED);
    let names = pair.client.negotiated().unwrap();
    assert_eq!(
        (
            names.compression_c2s.as_str(),
            names.compression_s2c.as_str()
        ),
        ("none", "none")
    );
    assert!(before_auth > 20_000, "{before_auth}");
    assert!(c2s > 1_000_000 && s2c > 1_000_000, "{c2s} {s2c}");
}

#[test]
fn delayed_zlib_leaves_authentication_alone_and_compresses_the_session() {
    let (pair, before_auth, (c2s, s2c)) =
        session(COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED);
    let names = pair.server.negotiated().unwrap();
    assert_eq!(names.compression_c2s, "zlib@openssh.com");
    assert_eq!(names.compression_s2c, "zlib@openssh.com");
    // The banner went before USERAUTH_SUCCESS: not compressed.
    assert!(before_auth > 20_000, "{before_auth}");
    // The session after it was, both ways.
    assert!(c2s < 50_000 && s2c < 50_000, "{c2s} {s2c}");
}

#[test]
fn zlib_compresses_from_the_first_newkeys() {
    let (pair, before_auth, (c2s, s2c)) = session(&["zlib"], &["none", "zlib"]);
    assert_eq!(pair.client.negotiated().unwrap().compression_s2c, "zlib");
    // The banner was compressed too.
    assert!(before_auth < 10_000, "{before_auth}");
    assert!(c2s < 50_000 && s2c < 50_000, "{c2s} {s2c}");
}

#[test]
fn compressed_sessions_survive_rekeys_and_any_input_split() {
    for (client, server) in [
        (COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED),
        (&["zlib"][..], &["zlib"][..]),
    ] {
        let (c, s) = configs(client, server);
        let mut pair = Pair::with_configs(c, s);
        // Input in 7-byte pieces: packets split anywhere, compressed or not.
        pair.chunk = Some(7);
        pair.connect();
        let mut input = text(150_000);
        input.extend_from_slice(&pattern(9, 50_000));
        pair.echo_across_a_rekey(client[0], &input, 70_001);
        // A server-started re-exchange too, then more data.
        let ch = pair.exec("cat");
        pair.server.conn.rekey().unwrap();
        pair.client_send_all(ch, &input[..30_000]);
        pair.client.conn.send_eof(ch).unwrap();
        pair.drive();
        assert!(pair.client_app.channel(ch).stdout == input[..30_000]);
        assert_eq!(pair.client.rekeys(), 2, "{}", client[0]);
        pair.assert_no_app_errors();
        pair.assert_alive();
    }
}

#[test]
fn compressed_sessions_record_and_replay_on_both_sides() {
    use std::sync::Arc;

    use conch_core::{record, Connection};
    use conch_test_support::Endpoint;

    for (client, server) in [
        (COMPRESSION_CLIENT_ON, COMPRESSION_SERVER_ALLOWED),
        (&["zlib"][..], &["zlib"][..]),
    ] {
        let (c, s) = configs(client, server);
        let mut pair = Pair::new();
        let now = pair.now();
        pair.client = Endpoint::new(Connection::client_recorded(Arc::new(c), [3; 32], now));
        pair.server =
            Endpoint::new(Connection::server_recorded(Arc::new(s), [4; 32], now).unwrap());
        pair.connect();
        let ch = pair.exec("cat");
        let input = text(200_000);
        pair.client_send_all(ch, &input);
        pair.client.conn.send_eof(ch).unwrap();
        pair.drive();
        assert!(pair.client_app.channel(ch).stdout == input);
        let client_bytes = pair.client.conn.take_transcript();
        let server_bytes = pair.server.conn.take_transcript();
        // The compression list is in the recorded configuration.
        let t = record::Transcript::decode(&client_bytes).unwrap();
        assert_eq!(t.header.config.transport().algorithms.compression, client);
        let c = record::replay(&client_bytes, now).unwrap();
        let s = record::replay(&server_bytes, now).unwrap();
        assert_eq!(c.events, pair.client.log.len());
        assert_eq!(s.events, pair.server.log.len());
    }
}
