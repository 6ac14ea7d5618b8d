//! A client and a server [`Transport`] wired to each other in memory, driven
//! the way the connection glue drives them.

mod compression;
mod determinism;
mod errors;
mod handshake;
mod legacy;
mod phases;
mod rekey;
mod strict_kex;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::*;
use crate::error::PeerIncompatible;
use crate::wire::Encode;

/// One end: a transport plus what the glue keeps around it.
struct Peer {
    t: Transport,
    outbox: Outbox,
    events: VecDeque<Event>,
    /// Upper-layer payloads handed up, in order.
    received: Vec<Bytes>,
    rng: ChaCha20Rng,
    /// Everything this end transmitted.
    sent: Vec<u8>,
    auto_accept: bool,
}

impl Peer {
    fn new(t: Transport, seed: u64) -> Self {
        Peer {
            t,
            outbox: Outbox::default(),
            events: VecDeque::new(),
            received: Vec::new(),
            rng: ChaCha20Rng::seed_from_u64(seed),
            sent: Vec::new(),
            auto_accept: true,
        }
    }

    fn flush(&mut self) {
        self.t.flush_outbox(&mut self.outbox, &mut self.rng);
    }

    fn take_transmit(&mut self) -> Vec<u8> {
        let bytes = self.t.transmit().to_vec();
        self.t.consume_transmit(bytes.len());
        self.sent.extend_from_slice(&bytes);
        bytes
    }

    /// As `Connection::handle_input`: buffer, process, then flush.
    fn input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.t.handle_input(data);
        loop {
            match self.t.poll_incoming(now, &mut self.rng, &mut self.events)? {
                Some(incoming) => self.received.push(incoming.payload),
                None if self.auto_accept && self.t.awaiting_host_key() => {
                    self.t.accept_host_key(now, &mut self.rng).unwrap();
                }
                None => break,
            }
        }
        self.flush();
        Ok(())
    }

    fn queue(&mut self, payload: &[u8]) {
        self.outbox.message(payload[0]).put_raw(&payload[1..]);
    }

    fn kex_done_events(&self) -> Vec<bool> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::KeyExchangeDone { rekey, .. } => Some(*rekey),
                _ => None,
            })
            .collect()
    }
}

struct Pair {
    client: Peer,
    server: Peer,
    now: Instant,
    /// Feed input in chunks of this size (None: whole).
    chunk: Option<usize>,
}

/// The virtual clock's start.
fn epoch() -> Instant {
    crate::test_epoch()
}

fn host_key(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&mut ChaCha20Rng::seed_from_u64(seed))
}

impl Pair {
    fn with(client: TransportConfig, server: TransportConfig, seed: u64) -> Self {
        let now = epoch();
        Pair {
            client: Peer::new(Transport::new_client(client, now), seed),
            server: Peer::new(
                Transport::new_server(server, vec![host_key(seed + 1000)], now),
                seed + 1,
            ),
            now,
            chunk: None,
        }
    }

    fn new(seed: u64) -> Self {
        Self::with(TransportConfig::default(), TransportConfig::default(), seed)
    }

    fn feed(peer: &mut Peer, now: Instant, data: &[u8], chunk: Option<usize>) -> Result<(), Error> {
        if data.is_empty() {
            return Ok(());
        }
        match chunk {
            None => peer.input(now, data),
            Some(n) => data.chunks(n).try_for_each(|c| peer.input(now, c)),
        }
    }

    /// One round: each side flushes, then gets what the other sent.
    /// Returns whether anything moved.
    fn step(&mut self) -> Result<bool, Error> {
        self.client.flush();
        self.server.flush();
        let c = self.client.take_transmit();
        let s = self.server.take_transmit();
        Self::feed(&mut self.server, self.now, &c, self.chunk)?;
        Self::feed(&mut self.client, self.now, &s, self.chunk)?;
        Ok(!c.is_empty() || !s.is_empty())
    }

    /// Moves bytes until both sides are quiet.
    fn run(&mut self) -> Result<(), Error> {
        for _ in 0..1000 {
            if !self.step()? {
                return Ok(());
            }
        }
        panic!("the pair never went quiet");
    }

    fn established(seed: u64) -> Self {
        let mut p = Self::new(seed);
        p.run().unwrap();
        assert!(p.client.t.is_established() && p.server.t.is_established());
        p
    }
}

fn data_msg(i: u32) -> Vec<u8> {
    let mut m = vec![msg::CHANNEL_DATA];
    m.put_u32(0);
    m.put_string(format!("payload number {i}").as_bytes());
    m
}

/// Sends `rounds` payloads each way, one per step, calling `during` at each
/// step; checks every payload arrived once, in order.
fn flow_with(p: &mut Pair, rounds: u32, mut during: impl FnMut(&mut Pair, u32)) {
    let (c0, s0) = (p.client.received.len(), p.server.received.len());
    for i in 0..rounds {
        p.client.queue(&data_msg(i));
        p.server.queue(&data_msg(100_000 + i));
        during(p, i);
        p.step().unwrap();
    }
    p.run().unwrap();
    let want_s: Vec<Vec<u8>> = (0..rounds).map(data_msg).collect();
    let want_c: Vec<Vec<u8>> = (0..rounds).map(|i| data_msg(100_000 + i)).collect();
    assert_eq!(p.server.received[s0..], want_s[..]);
    assert_eq!(p.client.received[c0..], want_c[..]);
}
