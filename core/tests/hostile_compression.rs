//! Hostile peers against compression (RFC 4253 section 6.2): a packet of a
//! few hundred bytes that would inflate to a megabyte (a "decompression
//! bomb") ends the connection with COMPRESSION_ERROR, in both roles,
//! without the victim's memory following the peer's claim; and with
//! `zlib@openssh.com` nothing reaches the inflater before authentication.

mod hostile;

use conch_core::msg;
use conch_core::wire::Encode;
use conch_core::{ClientConfig, DisconnectReason, Error, PeerMisbehaved, ServerConfig};
use hostile::*;

fn zlib_only() -> Vec<String> {
    vec!["zlib".to_string()]
}

/// An IGNORE message carrying `len` zero bytes: about a thousandth of that
/// once deflated.
fn ignore_of(len: usize) -> Vec<u8> {
    let mut p = vec![msg::IGNORE];
    p.put_string(&vec![0u8; len]);
    p
}

fn bomb_fails(peer: &mut Peer, victim: &mut Victim) {
    // Compressed data keeps flowing while it stays under the limit.
    peer.inject(victim, &ignore_of(200 * 1024)).unwrap();
    assert!(!victim.conn.is_closed());
    peer.inject_fails(
        victim,
        &ignore_of(1 << 20),
        Error::PeerMisbehaved(PeerMisbehaved::Compression(
            "payload inflates past the maximum packet size",
        )),
        DisconnectReason::CompressionError,
    );
}

#[test]
fn a_decompression_bomb_ends_a_server_with_compression_error() {
    let mut config = ServerConfig::new(vec![ed25519(7)]);
    config.transport.algorithms.compression = zlib_only();
    let mut victim = Victim::server(config);
    let mut peer = Peer::client();
    peer.lists.compression = zlib_only();
    peer.establish(&mut victim, Stage::Authenticated);
    assert!(victim.conn.is_authenticated());
    bomb_fails(&mut peer, &mut victim);
}

#[test]
fn a_decompression_bomb_ends_a_client_with_compression_error() {
    let mut config = ClientConfig::default();
    config.transport.algorithms.compression = zlib_only();
    let mut victim = Victim::client(config);
    let mut peer = Peer::server();
    peer.lists.compression = zlib_only();
    peer.establish(&mut victim, Stage::Authenticated);
    bomb_fails(&mut peer, &mut victim);
}

#[test]
fn delayed_compression_never_inflates_before_authentication() {
    // A client compressing from NEWKEYS although zlib@openssh.com was
    // agreed: the server reads its first compressed packet as it is (a
    // zlib header byte where the message number goes), so the inflater is
    // not reached before USERAUTH_SUCCESS, and the connection ends.
    let mut config = ServerConfig::new(vec![ed25519(7)]);
    config.transport.algorithms.compression = vec!["zlib@openssh.com".to_string()];
    let mut victim = Victim::server(config);
    let mut peer = Peer::client();
    peer.lists.compression = vec!["zlib@openssh.com".to_string()];
    peer.zlib_from_newkeys = true;
    peer.start();
    let got = peer.pump(&mut victim);
    let error = got.expect_err("the server refuses the compressed request");
    // 0x78: the zlib header's first byte (deflate, 32 KiB window).
    assert_eq!(error, unexpected(0x78, "before authentication"));
    assert_eq!(error.disconnect_reason(), DisconnectReason::ProtocolError);
    assert!(!victim.conn.is_authenticated());
}
