//! The `ring` crypto provider (cargo feature `ring`) against the pure-Rust
//! one: for each of the three ciphers ring implements, both seal the same
//! bytes and open each other's packets, a corrupted packet fails to open
//! with the same error, and whole sessions with one side on each provider
//! move data both ways. Run with `cargo test -p conch-core --features ring`
//! (`scripts/test` runs this file alone, with the feature, in release).
#![cfg(feature = "ring")]

mod common;

use std::sync::Arc;

use common::*;
use conch_core::cipher::ring::ring_cipher;
use conch_core::crypto::{
    CipherAlgorithm, CryptoProvider, OpenError, PacketLayout, PacketOpener, PacketSealer,
};
use conch_core::{
    AlgorithmPreferences, Connection, DisconnectReason, Error, PeerMisbehaved, TransportConfig,
};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The ciphers the `ring` module implements (the provider uses the two
/// AES-GCM ones; ring's ChaCha20 is still tested here, for whoever builds a
/// provider with it).
const RING_CIPHERS: [&str; 3] = [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
];

/// The pure-Rust and the ring implementation of `name`.
fn both(name: &str) -> (&'static dyn CipherAlgorithm, &'static dyn CipherAlgorithm) {
    let pure = CryptoProvider::default()
        .find_cipher(name)
        .unwrap_or_else(|| panic!("default provider lacks {name}"));
    let ring = ring_everywhere()
        .find_cipher(name)
        .unwrap_or_else(|| panic!("ring provider lacks {name}"));
    assert!(
        std::ptr::addr_eq(ring, ring_cipher(name).unwrap()),
        "ring_everywhere() does not use ring's {name}"
    );
    (pure, ring)
}

/// [`CryptoProvider::ring`] with ring's ChaCha20-Poly1305 too.
fn ring_everywhere() -> CryptoProvider {
    let mut provider = CryptoProvider::ring();
    for cipher in &mut provider.cipher {
        if let Some(ring) = ring_cipher(cipher.name()) {
            *cipher = ring;
        }
    }
    provider
}

/// Key and IV bytes as the key derivation would give them, from `seed`.
/// `counter_near_wrap` puts AES-GCM's 64-bit invocation counter (the IV's
/// last 8 bytes, RFC 5647 section 7.1) two steps before it wraps.
fn key_and_iv(
    cipher: &dyn CipherAlgorithm,
    seed: u64,
    counter_near_wrap: bool,
) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut key = vec![0u8; cipher.key_len()];
    let mut iv = vec![0u8; cipher.iv_len()];
    rng.fill_bytes(&mut key);
    rng.fill_bytes(&mut iv);
    if counter_near_wrap && iv.len() == 12 {
        iv[4..].copy_from_slice(&(u64::MAX - 1).to_be_bytes());
    }
    (key, iv)
}

/// A plaintext packet as the transport frames it (RFC 4253 section 6):
/// length, padding length, `payload_len` bytes of payload, padding to the
/// cipher's block, room for the tag.
fn plaintext_packet(layout: PacketLayout, payload_len: usize, seed: u64) -> Vec<u8> {
    let block = layout.block_len.max(8);
    let unpadded = 1
        + payload_len
        + if layout.length_outside_alignment {
            0
        } else {
            4
        };
    let mut padding = block - unpadded % block;
    if padding < 4 {
        padding += block;
    }
    let packet_len = 1 + payload_len + padding;
    let mut p = (packet_len as u32).to_be_bytes().to_vec();
    p.push(padding as u8);
    p.extend(pattern(seed, payload_len + padding));
    p.resize(4 + packet_len + layout.tag_len, 0);
    p
}

/// Opens packet `seq` as the transport does: the length first, then the
/// whole packet; returns the length `decrypt_length` gave.
fn open(opener: &mut dyn PacketOpener, seq: u32, packet: &mut [u8]) -> Result<u32, OpenError> {
    let n = opener.layout().first_block_len.min(packet.len());
    let length = opener.decrypt_length(seq, &mut packet[..n]);
    opener.open(seq, packet).map(|()| length)
}

struct Keyed {
    sealer: Box<dyn PacketSealer>,
    opener: Box<dyn PacketOpener>,
}

fn keyed(cipher: &dyn CipherAlgorithm, key: &[u8], iv: &[u8]) -> Keyed {
    Keyed {
        sealer: cipher.sealer(key, iv, None),
        opener: cipher.opener(key, iv, None),
    }
}

/// Sequence numbers a session may use, the wrap of the 32-bit counter
/// included (RFC 4253 section 6.4).
const SEQS: [u32; 6] = [0, 1, 2, 1000, u32::MAX, 0];
/// Payload sizes: empty, odd, one data packet, the largest packet.
const PAYLOADS: [usize; 6] = [0, 1, 17, 1000, 32 * 1024, 256 * 1024 - 64];

#[test]
fn ring_provider_swaps_in_ring_aes_gcm_in_place_and_changes_nothing_else() {
    let default = CryptoProvider::default();
    let ring = CryptoProvider::ring();
    // Nothing a peer or a configuration sees changes.
    assert_eq!(ring.default_preferences(), default.default_preferences());
    let same = |a: &dyn CipherAlgorithm, b: &dyn CipherAlgorithm| std::ptr::addr_eq(a, b);
    let mut swapped = Vec::new();
    assert_eq!(ring.cipher.len(), default.cipher.len());
    for (r, d) in ring.cipher.iter().zip(&default.cipher) {
        assert_eq!(r.name(), d.name());
        if same(*r, *d) {
            continue;
        }
        assert!(same(*r, ring_cipher(r.name()).unwrap()), "{}", r.name());
        swapped.push(r.name());
    }
    // ring's ChaCha20-Poly1305 is slower than the pure-Rust one: not used.
    assert_eq!(
        swapped,
        ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
    );
    assert_eq!(ring.cipher[0].name(), "aes128-gcm@openssh.com");
    let kex = |p: &CryptoProvider| p.kex.iter().map(|a| a.name()).collect::<Vec<_>>();
    let sig = |p: &CryptoProvider| p.signature.iter().map(|a| a.name()).collect::<Vec<_>>();
    let mac = |p: &CryptoProvider| p.mac.iter().map(|a| a.name()).collect::<Vec<_>>();
    assert_eq!(kex(&ring), kex(&default));
    assert_eq!(sig(&ring), sig(&default));
    assert_eq!(mac(&ring), mac(&default));
}

#[test]
fn ring_provider_seals_the_bytes_pure_rust_does_and_each_opens_the_others_packets() {
    for name in RING_CIPHERS {
        let (pure_cipher, ring_cipher) = both(name);
        for near_wrap in [false, true] {
            let (key, iv) = key_and_iv(pure_cipher, 7, near_wrap);
            let mut pure = keyed(pure_cipher, &key, &iv);
            let mut ring = keyed(ring_cipher, &key, &iv);
            assert_eq!(pure.sealer.layout(), ring.sealer.layout(), "{name}");
            assert_eq!(pure.opener.layout(), ring.opener.layout(), "{name}");
            for (i, (&seq, &payload)) in SEQS.iter().zip(&PAYLOADS).enumerate() {
                let what = format!("{name} near_wrap={near_wrap} packet {i} seq {seq}");
                let plain = plaintext_packet(pure.sealer.layout(), payload, i as u64);
                let body = plain.len() - 16;
                let mut by_pure = plain.clone();
                let mut by_ring = plain.clone();
                pure.sealer.seal(seq, &mut by_pure);
                ring.sealer.seal(seq, &mut by_ring);
                assert!(by_ring == by_pure, "{what}: sealed bytes differ");
                assert!(by_ring[4..body] != plain[4..body], "{what}: not encrypted");

                // Each opens the other's packet, back to the whole plaintext
                // (length included) and with the same length read first.
                let length = u32::from_be_bytes(plain[..4].try_into().unwrap());
                assert_eq!(
                    open(&mut *ring.opener, seq, &mut by_pure),
                    Ok(length),
                    "{what}"
                );
                assert_eq!(
                    open(&mut *pure.opener, seq, &mut by_ring),
                    Ok(length),
                    "{what}"
                );
                assert!(
                    by_pure[..body] == plain[..body],
                    "{what}: ring opened wrong"
                );
                assert!(
                    by_ring[..body] == plain[..body],
                    "{what}: pure opened wrong"
                );
            }
        }
    }
}

#[test]
fn ring_provider_fails_a_flipped_bit_with_the_pure_rust_error() {
    for name in RING_CIPHERS {
        let (pure_cipher, ring_cipher) = both(name);
        let (key, iv) = key_and_iv(pure_cipher, 11, false);
        let mut sealer = ring_cipher.sealer(&key, &iv, None);
        let mut sealed = plaintext_packet(sealer.layout(), 100, 5);
        sealer.seal(3, &mut sealed);
        // In the length, the first and last ciphertext bytes, and the tag.
        let last = sealed.len() - 1;
        for at in [0, 3, 4, last - 16, last - 15, last] {
            for cipher in [ring_cipher, pure_cipher] {
                let mut opener = cipher.opener(&key, &iv, None);
                let mut p = sealed.clone();
                p[at] ^= 0x01;
                let n = opener.layout().first_block_len;
                opener.decrypt_length(3, &mut p[..n]);
                assert_eq!(
                    opener.open(3, &mut p),
                    Err(OpenError),
                    "{name}: bit flipped at {at}, opened by {cipher:?}"
                );
            }
        }
        // The wrong sequence number fails too (the nonce binds the position).
        let mut opener = ring_cipher.opener(&key, &iv, None);
        let mut p = sealed.clone();
        if ring_cipher.iv_len() == 0 {
            assert_eq!(opener.open(4, &mut p), Err(OpenError), "{name}");
        } else {
            // AES-GCM counts packets itself: a second packet under the first
            // nonce position fails.
            assert_eq!(open(&mut *opener, 3, &mut p).map(|_| ()), Ok(()), "{name}");
            let mut again = sealed.clone();
            assert_eq!(opener.open(4, &mut again), Err(OpenError), "{name}");
        }
    }
}

#[test]
fn ring_provider_refuses_packets_too_short_for_a_tag_without_panicking() {
    for name in RING_CIPHERS {
        let (pure_cipher, ring_cipher) = both(name);
        let (key, iv) = key_and_iv(pure_cipher, 13, false);
        for len in [0usize, 1, 4, 19] {
            for cipher in [ring_cipher, pure_cipher] {
                let mut opener = cipher.opener(&key, &iv, None);
                let mut p = vec![0xa5; len];
                // decrypt_length may see fewer bytes than it asks for.
                opener.decrypt_length(0, &mut p[..len.min(4)]);
                assert_eq!(opener.open(0, &mut p), Err(OpenError), "{name} len {len}");
            }
        }
        // The smallest packet with a tag: a bad tag, not a panic.
        let mut opener = ring_cipher.opener(&key, &iv, None);
        assert_eq!(opener.open(0, &mut [0u8; 20]), Err(OpenError), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Whole sessions, one side on each provider
// ---------------------------------------------------------------------------

/// Which side uses the ring provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingSide {
    Client,
    Server,
}

/// `transport` switched to `provider`, offering only `cipher`.
fn use_provider(transport: &mut TransportConfig, provider: &CryptoProvider, cipher: &str) {
    transport.algorithms = AlgorithmPreferences::defaults_for(provider);
    transport.algorithms.cipher = vec![cipher.to_string()];
    transport.crypto = Arc::new(provider.clone());
}

fn mixed_pair(ring_side: RingSide, cipher: &str) -> Pair {
    let ring = ring_everywhere();
    let pure = CryptoProvider::default();
    let (client_provider, server_provider) = match ring_side {
        RingSide::Client => (&ring, &pure),
        RingSide::Server => (&pure, &ring),
    };
    let mut client = client_config();
    let mut server = server_config();
    use_provider(&mut client.transport, client_provider, cipher);
    use_provider(&mut server.transport, server_provider, cipher);
    Pair::with_configs(client, server)
}

#[test]
fn ring_provider_sessions_with_a_pure_rust_peer_move_data_both_ways() {
    for name in RING_CIPHERS {
        for ring_side in [RingSide::Client, RingSide::Server] {
            let what = format!("{name}, ring on the {ring_side:?}");
            let mut pair = mixed_pair(ring_side, name);
            pair.connect();
            let negotiated = pair
                .client
                .negotiated()
                .unwrap_or_else(|| panic!("{what}: no KeyExchangeDone"));
            assert_eq!(
                (
                    negotiated.cipher_c2s.as_str(),
                    negotiated.cipher_s2c.as_str()
                ),
                (name, name),
                "{what}"
            );

            // `cat` echoes: data goes up sealed by one provider and comes
            // back sealed by the other, across a re-exchange (new keys, and
            // AES-GCM's counters restart from the new IVs).
            pair.echo_across_a_rekey(&what, &pattern(21, 300_000), 123_457);
            pair.assert_no_app_errors();
            pair.assert_alive();
        }
    }
}

#[test]
fn ring_provider_and_pure_rust_both_report_a_corrupted_packet_as_a_mac_error() {
    for name in RING_CIPHERS {
        for ring_side in [RingSide::Client, RingSide::Server] {
            // The side that receives the corrupted packet, and the direction
            // into it: first the ring side receives, then the pure-Rust side.
            for ring_receives in [true, false] {
                let what =
                    format!("{name}, ring on the {ring_side:?}, ring receives: {ring_receives}");
                let mut pair = mixed_pair(ring_side, name);
                pair.connect();
                let client_receives = (ring_side == RingSide::Client) == ring_receives;
                let dir = if client_receives {
                    Direction::ServerToClient
                } else {
                    Direction::ClientToServer
                };
                // Past the length field of the next packet (a KEXINIT
                // sealed with the current keys).
                pair.tap = Some(Box::new(FlipByte::new(dir, 12, 0x80)));
                if client_receives {
                    pair.server.conn.rekey().unwrap();
                } else {
                    pair.client.conn.rekey().unwrap();
                }
                pair.drive();
                let (receiver, sender) = if client_receives {
                    (&pair.client, &pair.server)
                } else {
                    (&pair.server, &pair.client)
                };
                assert_eq!(
                    receiver.conn.error(),
                    Some(&Error::PeerMisbehaved(PeerMisbehaved::BadMac)),
                    "{what}"
                );
                assert!(
                    matches!(
                        sender.disconnected(),
                        Some(Error::PeerDisconnected {
                            reason: DisconnectReason::MacError,
                            ..
                        })
                    ),
                    "{what}: sender saw {:?}",
                    sender.disconnected()
                );
            }
        }
    }
}

#[test]
fn ring_provider_sessions_replay_byte_for_byte_on_the_pure_rust_provider() {
    // A transcript records no provider, and a replay runs on the default
    // one (`conch_core::record`): a session recorded on ring must replay
    // without divergence, since every byte it sent is compared.
    for name in RING_CIPHERS {
        let mut pair = mixed_pair(RingSide::Client, name);
        let config = {
            let mut c = client_config();
            use_provider(&mut c.transport, &ring_everywhere(), name);
            Arc::new(c)
        };
        let start = pair.now();
        pair.client.conn = Connection::client_recorded(config, [9; 32], start).into();
        pair.connect();
        let ch = pair.exec("cat");
        let input = pattern(5, 100_000);
        pair.client_send_all(ch, &input);
        pair.client.conn.rekey().unwrap();
        pair.client.conn.send_eof(ch).unwrap();
        pair.drive();
        assert!(pair.client_app.channel(ch).stdout == input, "{name}");
        let transcript = pair.client.conn.take_transcript();
        let summary = conch_core::record::replay(&transcript, start)
            .unwrap_or_else(|e| panic!("{name}: the replay on pure Rust diverged: {e}"));
        assert_eq!(summary.transmitted_bytes, pair.c2s.sent, "{name}");
        assert!(summary.transmitted_bytes > input.len() as u64, "{name}");
    }
}
