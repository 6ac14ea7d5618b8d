//! One end: its connection, what it reported, and the steps of the loop
//! contract written on [`Connection`] (input, drain the events into the
//! application, move the transmit buffer), written once for the pair, the
//! hostile peer's victim and the fuzz driver.

use std::time::Instant;

use conch_core::{BytesMut, ChannelEvent, Connection, Error, Event, NegotiatedAlgorithms};

use crate::pipe::{Direction, Pipe, Tap};

/// One side: its connection and everything it reported.
#[derive(Debug)]
pub struct Endpoint {
    /// The state machine.
    pub conn: Connection,
    /// Every event in order (data events only while `log_data` is set,
    /// none unless `log_events` is).
    pub log: Vec<Event>,
    /// Whether events go to `log` at all (off where a copy of every event
    /// would cost what a benchmark measures, or keep a received buffer
    /// shared that zero-copy input wants back).
    pub log_events: bool,
    /// Whether `Data`/`ExtendedData` events go to `log` (off for bulk runs).
    pub log_data: bool,
    /// Position of [`Endpoint::new_events`] in `log`.
    read: usize,
    /// Errors returned by input and timeout calls, consecutive repeats folded.
    pub input_errors: Vec<Error>,
    /// How many input/timeout calls returned an error.
    pub input_error_calls: usize,
    /// While set, `poll_transmit` is not drained (the socket is not writable).
    pub stall_transmit: bool,
    /// Output is moved with `take_transmit` (into a reused buffer) instead
    /// of `poll_transmit` + `consume_transmit`.
    pub take_transmit: bool,
    /// The buffer `take_transmit` fills (kept, as an adapter keeps it).
    pub taken: Vec<u8>,
    /// `handle_eof` was called (the peer closed its socket).
    pub eof_delivered: bool,
    /// Events returned after `Disconnected` (must stay 0).
    pub events_after_disconnect: usize,
    /// Largest `poll_transmit` length seen.
    pub max_transmit_len: usize,
    /// `handle_timeout` calls made.
    pub timeouts_fired: usize,
    /// `handle_input` calls made by the pipes.
    pub input_calls: usize,
}

impl Endpoint {
    /// `conn`, logging every event, moving output with `poll_transmit`.
    pub fn new(conn: impl Into<Connection>) -> Self {
        Endpoint {
            conn: conn.into(),
            log: Vec::new(),
            log_events: true,
            log_data: true,
            read: 0,
            input_errors: Vec::new(),
            input_error_calls: 0,
            stall_transmit: false,
            take_transmit: false,
            taken: Vec::new(),
            eof_delivered: false,
            events_after_disconnect: 0,
            max_transmit_len: 0,
            timeouts_fired: 0,
            input_calls: 0,
        }
    }

    fn record_event(&mut self, event: &Event) {
        if !self.log_events {
            return;
        }
        if self.disconnected().is_some() {
            self.events_after_disconnect += 1;
        }
        let is_data = matches!(
            event,
            Event::Channel {
                event: ChannelEvent::Data { .. } | ChannelEvent::ExtendedData { .. },
                ..
            }
        );
        if self.log_data || !is_data {
            self.log.push(event.clone());
        }
    }

    fn record_error(&mut self, error: Error) {
        self.input_error_calls += 1;
        if self.input_errors.last() != Some(&error) {
            self.input_errors.push(error);
        }
    }

    /// Records the connection's fatal error, if it has one, after an input
    /// or timeout call.
    fn note_error(&mut self) {
        if let Some(e) = self.conn.error() {
            let e = e.clone();
            self.record_error(e);
        }
    }

    /// `handle_input` with `bytes` (counted in `input_calls`).
    pub fn input(&mut self, now: Instant, bytes: &[u8]) {
        self.input_calls += 1;
        self.conn.handle_input(now, bytes);
        self.note_error();
    }

    /// `handle_input_buf` with `buf`, which the connection empties and may
    /// take the memory of (counted in `input_calls`).
    pub fn input_buf(&mut self, now: Instant, buf: &mut BytesMut) {
        self.input_calls += 1;
        self.conn.handle_input_buf(now, buf);
        self.note_error();
    }

    /// `handle_timeout`, if the connection's timer is due at `now`.
    pub fn fire_timer(&mut self, now: Instant) {
        if matches!(self.conn.poll_timeout(), Some(t) if t <= now) {
            self.timeouts_fired += 1;
            self.conn.handle_timeout(now);
            self.note_error();
        }
    }

    /// `handle_eof`: the peer closed its socket.
    pub fn eof(&mut self, now: Instant) {
        self.eof_delivered = true;
        self.conn.handle_eof(now);
    }

    /// Hands every pending event to `app` (logging it first); the app's
    /// answers may raise more, which are handed on too. Returns whether
    /// there was one.
    pub fn drain_events(&mut self, app: &mut dyn App) -> bool {
        let mut any = false;
        while let Some(event) = self.conn.poll_event() {
            any = true;
            self.record_event(&event);
            app.on_event(&mut self.conn, event);
        }
        any
    }

    /// Moves the transmit buffer into `out` (through `tap`, going `dir`),
    /// unless `stall_transmit` is set. With `take_transmit`, and neither a
    /// tap nor a transcript to feed, the bytes are taken straight into the
    /// pipe: no copy. Returns whether a byte moved.
    pub fn transmit(
        &mut self,
        out: &mut Pipe,
        dir: Direction,
        tap: &mut Option<Box<dyn Tap>>,
    ) -> bool {
        if self.stall_transmit {
            return false;
        }
        if self.take_transmit && tap.is_none() && !out.keeps_transcript() {
            let n = out.take_from(&mut self.conn);
            self.max_transmit_len = self.max_transmit_len.max(n);
            return n > 0;
        }
        let mut any = false;
        if self.take_transmit {
            self.taken.clear();
            self.conn.take_transmit(&mut self.taken);
            if !self.taken.is_empty() {
                self.max_transmit_len = self.max_transmit_len.max(self.taken.len());
                out.push(dir, &self.taken, tap);
                any = true;
            }
        } else {
            while let Some(bytes) = self.conn.poll_transmit() {
                let n = bytes.len();
                assert!(n > 0, "poll_transmit returned an empty slice");
                self.max_transmit_len = self.max_transmit_len.max(n);
                out.push(dir, bytes, tap);
                self.conn.consume_transmit(n);
                any = true;
            }
        }
        any
    }

    /// Drains events (into `app`) and the transmit buffer (into `out`)
    /// until both are empty. Returns whether anything came out.
    pub fn pump(
        &mut self,
        app: &mut dyn App,
        out: &mut Pipe,
        dir: Direction,
        tap: &mut Option<Box<dyn Tap>>,
    ) -> bool {
        let mut progress = false;
        loop {
            let mut any = self.drain_events(app);
            any |= self.transmit(out, dir, tap);
            if !any {
                return progress;
            }
            progress = true;
        }
    }

    /// Events logged since the previous call.
    pub fn new_events(&mut self) -> Vec<Event> {
        let v = self.log[self.read..].to_vec();
        self.read = self.log.len();
        v
    }

    /// The error of the `Disconnected` event, if one was returned.
    pub fn disconnected(&self) -> Option<&Error> {
        self.log.iter().find_map(|e| match e {
            Event::Disconnected { error } => Some(error),
            _ => None,
        })
    }

    /// Whether an event matching `f` was logged.
    pub fn saw(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.log.iter().any(f)
    }

    /// How many logged events match `f`.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.log.iter().filter(|e| f(e)).count()
    }

    /// Number of completed re-exchanges.
    pub fn rekeys(&self) -> usize {
        self.count(|e| matches!(e, Event::KeyExchangeDone { rekey: true, .. }))
    }

    /// What the first key exchange negotiated, if one completed.
    pub fn negotiated(&self) -> Option<NegotiatedAlgorithms> {
        self.log.iter().find_map(|e| match e {
            Event::KeyExchangeDone { algorithms, .. } => Some(algorithms.clone()),
            _ => None,
        })
    }

    /// The first request to sign for public key authentication, if one
    /// came: the signature algorithm and the data to sign.
    pub fn signature_request(&self) -> Option<(String, Vec<u8>)> {
        self.log.iter().find_map(|e| match e {
            Event::AuthSignatureNeeded {
                algorithm, data, ..
            } => Some((algorithm.clone(), data.clone())),
            _ => None,
        })
    }
}

/// What an application does with each event of its connection.
pub trait App {
    /// Reacts to one event (answers are mutator calls on `conn`). The
    /// event is the app's: dropping its payloads lets zero-copy input
    /// have its buffer back.
    fn on_event(&mut self, conn: &mut Connection, event: Event);
}

/// An application that answers nothing.
impl App for () {
    fn on_event(&mut self, _conn: &mut Connection, _event: Event) {}
}
