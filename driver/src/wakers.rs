//! Small synchronisation pieces: a set of wakers and in-order reply tickets.

use std::collections::{HashMap, HashSet};
use std::task::Waker;

/// Tasks waiting for a change of some state; all are woken at once.
///
/// Each waiter registers on every poll that returns `Pending`; a waker that
/// would wake the same task is stored once, so the set stays as small as the
/// number of distinct waiting tasks.
#[derive(Debug, Default)]
pub(crate) struct WakerSet {
    wakers: Vec<Waker>,
}

impl WakerSet {
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }
}

/// Replies to requests sent with want-reply, which the peer answers in the
/// order they were sent (RFC 4254 sections 4 and 5.4). Each request gets a
/// ticket; the n-th reply answers ticket n.
#[derive(Debug)]
pub(crate) struct Replies<T> {
    sent: u64,
    answered: u64,
    results: HashMap<u64, T>,
    /// Tickets whose waiter went away: their reply is dropped on arrival.
    abandoned: HashSet<u64>,
}

impl<T> Default for Replies<T> {
    fn default() -> Self {
        Replies {
            sent: 0,
            answered: 0,
            results: HashMap::new(),
            abandoned: HashSet::new(),
        }
    }
}

impl<T> Replies<T> {
    /// A ticket for a request just sent.
    pub(crate) fn ticket(&mut self) -> u64 {
        let t = self.sent;
        self.sent += 1;
        t
    }

    /// The next reply arrived.
    pub(crate) fn answer(&mut self, value: T) {
        if self.answered >= self.sent {
            // The core rejects unsolicited replies; nothing to match anyway.
            return;
        }
        let t = self.answered;
        self.answered += 1;
        if !self.abandoned.remove(&t) {
            self.results.insert(t, value);
        }
    }

    /// The reply for `ticket`, if it has arrived (taken once).
    pub(crate) fn take(&mut self, ticket: u64) -> Option<T> {
        self.results.remove(&ticket)
    }

    /// The waiter for `ticket` is gone.
    pub(crate) fn abandon(&mut self, ticket: u64) {
        if ticket >= self.answered {
            self.abandoned.insert(ticket);
        } else {
            self.results.remove(&ticket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_match_tickets_in_order_and_abandoned_ones_are_dropped() {
        let mut r = Replies::default();
        let a = r.ticket();
        let b = r.ticket();
        let c = r.ticket();
        r.abandon(b);
        r.answer(1);
        r.answer(2);
        assert_eq!(r.take(a), Some(1));
        assert_eq!(r.take(b), None);
        assert_eq!(r.take(c), None);
        r.answer(3);
        assert_eq!(r.take(c), Some(3));
        // More replies than requests are ignored.
        r.answer(4);
        assert!(r.results.is_empty() && r.abandoned.is_empty());
    }
}
