//! Messages the upper layers (user auth, connection) have built and want sent.
//!
//! The layers append whole payloads here; the transport frames and seals them
//! into its transmit buffer. While a key exchange is in progress the transport
//! leaves them here untouched, because after sending KEXINIT only key exchange
//! messages may go out until NEWKEYS (RFC 4253 section 7.1). The buffer is
//! reused, so the steady state allocates nothing per message.

use std::collections::VecDeque;

use crate::wire::Encode;

/// Queued payloads, in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Payload bytes, back to back, starting at `head`.
    data: Vec<u8>,
    /// Offset of the first unsent byte in `data`.
    head: usize,
    /// Length of each queued payload, oldest first.
    lens: VecDeque<usize>,
    /// Whether a queued payload carries a secret (a password, prompt
    /// answers), so the buffer is wiped once it has been sealed.
    holds_secret: bool,
}

impl Outbox {
    /// Starts a message with message number `msg`. Fields are appended with the
    /// [`Encode`] methods of the returned writer; the message is queued when
    /// the writer is dropped.
    pub(crate) fn message(&mut self, msg: u8) -> MessageWriter<'_> {
        let start = self.data.len();
        self.data.push(msg);
        MessageWriter {
            outbox: self,
            start,
        }
    }

    /// Starts a message that carries a secret: the buffer is zeroed once the
    /// transport has taken it, so the plaintext does not linger in memory.
    pub(crate) fn sensitive_message(&mut self, msg: u8) -> MessageWriter<'_> {
        self.holds_secret = true;
        self.message(msg)
    }

    /// Number of queued messages.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether nothing is queued.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Bytes of payload queued (used for back-pressure).
    pub(crate) fn pending_bytes(&self) -> usize {
        self.data.len() - self.head
    }

    /// The oldest queued payload.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        let len = *self.lens.front()?;
        Some(&self.data[self.head..self.head + len])
    }

    /// Drops the oldest queued payload (after the transport has sealed it).
    pub(crate) fn pop_front(&mut self) {
        if let Some(len) = self.lens.pop_front() {
            self.head += len;
            if self.lens.is_empty() {
                if std::mem::take(&mut self.holds_secret) {
                    zeroize::Zeroize::zeroize(self.data.as_mut_slice());
                }
                self.data.clear();
                self.head = 0;
            }
        }
    }
}

/// Builds one message in an [`Outbox`]; queued on drop.
#[derive(Debug)]
pub(crate) struct MessageWriter<'a> {
    outbox: &'a mut Outbox,
    start: usize,
}

impl Encode for MessageWriter<'_> {
    fn put_raw(&mut self, bytes: &[u8]) {
        self.outbox.data.extend_from_slice(bytes);
    }
}

impl Drop for MessageWriter<'_> {
    fn drop(&mut self) {
        let len = self.outbox.data.len() - self.start;
        self.outbox.lens.push_back(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_in_order_and_buffer_resets() {
        let mut o = Outbox::default();
        o.message(94).put_u32(7);
        {
            let mut w = o.message(96);
            w.put_u32(8);
        }
        assert_eq!(o.len(), 2);
        assert_eq!(o.front().unwrap(), &[94, 0, 0, 0, 7]);
        o.pop_front();
        assert_eq!(o.front().unwrap(), &[96, 0, 0, 0, 8]);
        o.pop_front();
        assert!(o.is_empty());
        assert_eq!(o.pending_bytes(), 0);
    }
}
