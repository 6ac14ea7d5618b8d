//! Two [`Channels`] wired to each other through their outboxes, one playing
//! the client, one the server.

mod close;
mod global;
mod open;
mod requests;
mod windows;

use super::*;
use crate::event::WindowSize;

/// One end: its channel layer, what it queued to send, what it reported.
struct End {
    ch: Channels,
    out: Outbox,
    events: VecDeque<Event>,
}

impl End {
    fn new(config: ChannelConfig) -> Self {
        End {
            ch: Channels::new(config),
            out: Outbox::default(),
            events: VecDeque::new(),
        }
    }

    fn events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Takes the queued messages without delivering them.
    fn take_sent(&mut self) -> Vec<Bytes> {
        let mut sent = Vec::new();
        while let Some(p) = self.out.front() {
            sent.push(Bytes::copy_from_slice(p));
            self.out.pop_front();
        }
        sent
    }

    /// Message numbers queued, without taking them.
    fn queued_numbers(&mut self) -> Vec<u8> {
        let sent = self.take_sent();
        for m in &sent {
            let mut w = self.out.message(m[0]);
            w.put_raw(&m[1..]);
        }
        sent.iter().map(|m| m[0]).collect()
    }

    fn handle(&mut self, payload: Bytes) -> Result<bool, Error> {
        self.ch.handle(payload, &mut self.out, &mut self.events)
    }
}

struct Pair {
    client: End,
    server: End,
}

impl Pair {
    fn new() -> Self {
        Self::with(ChannelConfig::default(), ChannelConfig::default())
    }

    fn with(client: ChannelConfig, server: ChannelConfig) -> Self {
        Pair {
            client: End::new(client),
            server: End::new(server),
        }
    }

    /// Delivers messages both ways until neither side has anything queued.
    fn try_run(&mut self) -> Result<(), Error> {
        loop {
            let a = deliver(&mut self.client, &mut self.server)?;
            let b = deliver(&mut self.server, &mut self.client)?;
            if a + b == 0 {
                return Ok(());
            }
        }
    }

    fn run(&mut self) {
        self.try_run().expect("no protocol error");
    }

    /// Client opens a session, server accepts. Returns (client id, server id).
    fn open_session(&mut self) -> (ChannelId, ChannelId) {
        let c = self
            .client
            .ch
            .open("session", &[], &mut self.client.out)
            .unwrap();
        self.run();
        let s = match self.server.events().as_slice() {
            [Event::Channel {
                id: channel,
                event: ChannelEvent::OpenRequest { kind, .. },
            }] if kind == "session" => *channel,
            other => panic!("expected an open request, got {other:?}"),
        };
        self.server.ch.accept(s, &mut self.server.out).unwrap();
        self.run();
        assert_eq!(
            self.client.events(),
            [Event::Channel {
                id: c,
                event: ChannelEvent::Opened
            }]
        );
        (c, s)
    }
}

fn deliver(from: &mut End, to: &mut End) -> Result<usize, Error> {
    let sent = from.take_sent();
    let n = sent.len();
    for payload in sent {
        assert!(to.handle(payload)?, "message not implemented");
    }
    Ok(n)
}

/// A message built by hand, as a hostile or buggy peer would send it.
fn raw(number: u8, fields: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut v = vec![number];
    fields(&mut v);
    Bytes::from(v)
}

fn data(payload: &[u8]) -> Bytes {
    Bytes::copy_from_slice(payload)
}

fn small_window(window: u32, max_packet: u32) -> ChannelConfig {
    ChannelConfig {
        window_size: window,
        max_packet_size: max_packet,
        ..ChannelConfig::default()
    }
}
