//! Replies we owe the peer, in order.
//!
//! Replies to want-reply requests must go out in the order the requests
//! arrived (RFC 4254 sections 4 and 5.4). Some requests we answer ourselves
//! (e.g. `keepalive@openssh.com`), others wait for the application; an
//! automatic answer queued behind an application's pending one waits too, so
//! the order holds.

use std::collections::VecDeque;

use crate::error::PeerMisbehaved;

/// Most want-reply requests from the peer awaiting an answer, per channel and
/// for global requests. A peer that sends more without waiting is flooding
/// us; real clients send one or two at a time.
pub(super) const MAX_PENDING_REPLIES: usize = 64;

/// One reply owed, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// The application answers.
    Application,
    /// Already decided; goes out once everything before it has.
    Automatic { success: bool },
}

/// The queue of replies owed for one channel, or for global requests.
#[derive(Debug, Default)]
pub(super) struct ReplyQueue {
    owed: VecDeque<Owed>,
}

/// The application answered when nothing was waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NothingPending;

impl ReplyQueue {
    /// A request the application will answer.
    pub(super) fn push_application(&mut self) -> Result<(), PeerMisbehaved> {
        self.check_room()?;
        self.owed.push_back(Owed::Application);
        Ok(())
    }

    /// A request we answer ourselves with `success`: `send` is called now
    /// if nothing is owed before it, or later by [`Self::answer`].
    pub(super) fn push_automatic(
        &mut self,
        success: bool,
        send: impl FnOnce(bool),
    ) -> Result<(), PeerMisbehaved> {
        if self.owed.is_empty() {
            send(success);
            return Ok(());
        }
        self.check_room()?;
        self.owed.push_back(Owed::Automatic { success });
        Ok(())
    }

    /// The application answers the oldest request waiting for it: `send` is
    /// called for that answer, then for every automatic one queued behind it.
    pub(super) fn answer(
        &mut self,
        success: bool,
        mut send: impl FnMut(bool),
    ) -> Result<(), NothingPending> {
        // The front is always an application entry: automatic ones at the
        // front are sent at once.
        match self.owed.front() {
            Some(Owed::Application) => {}
            _ => return Err(NothingPending),
        }
        self.owed.pop_front();
        send(success);
        while let Some(&Owed::Automatic { success }) = self.owed.front() {
            self.owed.pop_front();
            send(success);
        }
        Ok(())
    }

    /// Forgets every reply owed (the channel is closing; the peer fails its
    /// own pending requests when the close completes).
    pub(super) fn clear(&mut self) {
        self.owed.clear();
    }

    fn check_room(&self) -> Result<(), PeerMisbehaved> {
        if self.owed.len() >= MAX_PENDING_REPLIES {
            return Err(PeerMisbehaved::TooManyPendingReplies);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_replies_wait_behind_the_application() {
        let mut q = ReplyQueue::default();
        let mut sent = Vec::new();
        q.push_automatic(false, |s| sent.push(s)).unwrap();
        assert_eq!(sent, [false]);
        q.push_application().unwrap();
        q.push_automatic(false, |s| sent.push(s)).unwrap();
        q.push_application().unwrap();
        assert_eq!(sent, [false]);
        q.answer(true, |s| sent.push(s)).unwrap();
        assert_eq!(sent, [false, true, false]);
        q.answer(true, |s| sent.push(s)).unwrap();
        assert_eq!(sent, [false, true, false, true]);
        assert_eq!(q.answer(true, |s| sent.push(s)), Err(NothingPending));
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut q = ReplyQueue::default();
        for _ in 0..MAX_PENDING_REPLIES {
            q.push_application().unwrap();
        }
        assert!(q.push_application().is_err());
        assert!(q.push_automatic(false, |_| {}).is_err());
    }
}
