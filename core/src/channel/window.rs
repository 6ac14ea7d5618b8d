//! Flow control windows (RFC 4254 section 5.2), one per direction.
//!
//! All arithmetic is checked: a window is a `uint32` on the wire and a peer
//! must not be able to wrap it.

/// How much we may still send on a channel, and in what pieces.
#[derive(Debug, Clone)]
pub(super) struct SendWindow {
    /// Bytes the peer will still accept.
    available: u32,
    /// Largest data length of one packet the peer accepts.
    max_packet: u32,
}

/// A WINDOW_ADJUST would take the window past 2^32-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Overflow;

impl SendWindow {
    /// The peer's initial window and maximum packet size from OPEN or
    /// OPEN_CONFIRMATION.
    pub(super) fn new(initial: u32, max_packet: u32) -> Self {
        SendWindow {
            available: initial,
            max_packet,
        }
    }

    /// Bytes that may be sent now.
    pub(super) fn available(&self) -> u32 {
        self.available
    }

    /// The peer's maximum packet size.
    pub(super) fn max_packet(&self) -> u32 {
        self.max_packet
    }

    /// `n` bytes were sent; `n` never exceeds [`Self::available`].
    pub(super) fn take(&mut self, n: u32) {
        self.available = self.available.saturating_sub(n);
    }

    /// SSH_MSG_CHANNEL_WINDOW_ADJUST: "the window MUST NOT be increased above
    /// 2^32 - 1 bytes" (RFC 4254 section 5.2).
    pub(super) fn adjust(&mut self, n: u32) -> Result<(), Overflow> {
        self.available = self.available.checked_add(n).ok_or(Overflow)?;
        Ok(())
    }
}

/// What the peer may still send us, and what the application holds.
///
/// Invariant: `remaining + unconsumed + unreturned <= size`. The window is
/// only reopened for bytes the application has consumed, so the data
/// buffered on our side never exceeds `size`, however slowly it reads.
#[derive(Debug, Clone)]
pub(super) struct RecvWindow {
    /// The window we grant when everything has been consumed.
    size: u32,
    /// Bytes the peer may still send before it must wait for an adjust.
    remaining: u32,
    /// Delivered to the application, not yet consumed.
    unconsumed: u32,
    /// Consumed, not yet returned to the peer with WINDOW_ADJUST.
    unreturned: u32,
}

/// The peer sent more than the window allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exceeded;

/// The application consumed more than was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OverConsumed;

impl RecvWindow {
    /// A fresh window of `size` bytes, all of it granted.
    pub(super) fn new(size: u32) -> Self {
        RecvWindow {
            size,
            remaining: size,
            unconsumed: 0,
            unreturned: 0,
        }
    }

    /// `n` bytes of data arrived; they must fit the window.
    pub(super) fn receive(&mut self, n: u32) -> Result<(), Exceeded> {
        self.remaining = self.remaining.checked_sub(n).ok_or(Exceeded)?;
        Ok(())
    }

    /// `n` received bytes went to the application (after [`Self::receive`]).
    pub(super) fn deliver(&mut self, n: u32) {
        // Cannot overflow: the invariant bounds the sum by `size`.
        self.unconsumed = self.unconsumed.saturating_add(n);
    }

    /// The application processed `n` delivered bytes.
    pub(super) fn consume(&mut self, n: u32) -> Result<(), OverConsumed> {
        self.unconsumed = self.unconsumed.checked_sub(n).ok_or(OverConsumed)?;
        self.unreturned = self.unreturned.saturating_add(n);
        Ok(())
    }

    /// The amount to send in a WINDOW_ADJUST, once the consumed bytes not yet
    /// returned reach half the window. Adjusting in large steps rather than
    /// per read keeps the number of adjust messages small (OpenSSH does the
    /// same), while a reader that stops consuming stops its sender.
    pub(super) fn adjustment_due(&mut self) -> Option<u32> {
        let threshold = (self.size / 2).max(1);
        if self.unreturned < threshold {
            return None;
        }
        let n = self.unreturned;
        self.remaining = self.remaining.checked_add(n)?;
        self.unreturned = 0;
        Some(n)
    }

    /// The window granted when everything has been consumed.
    pub(super) fn size(&self) -> u32 {
        self.size
    }

    /// Bytes delivered and not yet consumed.
    pub(super) fn unconsumed(&self) -> u32 {
        self.unconsumed
    }

    /// Bytes the peer may still send before it must wait for an adjust.
    pub(super) fn remaining(&self) -> u32 {
        self.remaining
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_refuses_overflow() {
        let mut w = SendWindow::new(u32::MAX - 5, 100);
        assert_eq!(w.adjust(5), Ok(()));
        assert_eq!(w.adjust(1), Err(Overflow));
        assert_eq!(w.available(), u32::MAX);
        w.take(10);
        assert_eq!(w.available(), u32::MAX - 10);
    }

    #[test]
    fn receive_window_reopens_only_as_consumed() {
        let mut w = RecvWindow::new(100);
        assert_eq!(w.receive(60), Ok(()));
        w.deliver(60);
        assert_eq!(w.receive(41), Err(Exceeded));
        assert_eq!(w.consume(49), Ok(()));
        assert_eq!(w.adjustment_due(), None);
        assert_eq!(w.consume(1), Ok(()));
        assert_eq!(w.adjustment_due(), Some(50));
        assert_eq!(w.receive(90), Ok(()));
        assert_eq!(w.receive(1), Err(Exceeded));
        assert_eq!(w.consume(11), Err(OverConsumed));
    }
}
