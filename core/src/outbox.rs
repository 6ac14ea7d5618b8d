//! Messages the upper layers (user auth, connection) have built and want sent.
//!
//! The layers append whole payloads here; the transport frames and seals them
//! into its transmit buffer. While a key exchange is in progress the transport
//! leaves them here untouched, because after sending KEXINIT only key exchange
//! messages may go out until NEWKEYS (RFC 4253 section 7.1). The buffer is
//! reused, so the steady state allocates nothing per message.
//!
//! Messages that carry a secret (a password, prompt answers) mark the
//! buffer: it is zeroed once everything in it has been sealed, and when the
//! outbox is dropped with it still queued. While a secret is queued the
//! buffer grows by hand, copying into a larger buffer and zeroing the old
//! one, so a reallocation never frees memory with the secret in it.

use std::collections::VecDeque;

use zeroize::Zeroize;

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
    /// Tests only: the buffers given up by growing while a secret was
    /// queued, kept (after wiping) so a test can check what they hold.
    #[cfg(test)]
    retired: Vec<Vec<u8>>,
}

impl Outbox {
    /// Starts a message with message number `msg`. Fields are appended with the
    /// [`Encode`] methods of the returned writer; the message is queued when
    /// the writer is dropped.
    pub(crate) fn message(&mut self, msg: u8) -> MessageWriter<'_> {
        let start = self.data.len();
        self.append(&[msg]);
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

    /// Queues one message given as consecutive parts (the first byte of the
    /// first part is the message number).
    pub(crate) fn queue_parts(&mut self, parts: &[&[u8]]) {
        let start = self.data.len();
        for part in parts {
            self.append(part);
        }
        if self.data.len() > start {
            self.lens.push_back(self.data.len() - start);
        }
    }

    /// Number of queued messages.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether nothing is queued.
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
                    self.data.as_mut_slice().zeroize();
                }
                self.data.clear();
                self.head = 0;
            }
        }
    }

    /// Appends payload bytes. With a secret queued, growth copies into a
    /// new buffer and zeroes the old one before freeing it (`Vec`'s own
    /// reallocation would free it as it is). Growth at least doubles, so
    /// appending stays amortised linear.
    fn append(&mut self, bytes: &[u8]) {
        let spare = self.data.capacity() - self.data.len();
        if self.holds_secret && !self.data.is_empty() && spare < bytes.len() {
            let needed = self.data.len() + bytes.len();
            let mut grown = Vec::with_capacity(needed.max(self.data.capacity() * 2));
            grown.extend_from_slice(&self.data);
            let mut old = std::mem::replace(&mut self.data, grown);
            // Bytes past `len` never hold an unwiped secret (`pop_front`
            // wipes before it clears), so the used part is what counts.
            old.as_mut_slice().zeroize();
            #[cfg(test)]
            self.retired.push(old);
        }
        self.data.extend_from_slice(bytes);
    }
}

impl Drop for Outbox {
    /// A connection dropped with a password still queued (e.g. during a key
    /// exchange) leaves no copy of it behind.
    fn drop(&mut self) {
        if self.holds_secret {
            self.data.zeroize();
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
        self.outbox.append(bytes);
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

    /// A USERAUTH_REQUEST-like message carrying `password`.
    fn queue_password(o: &mut Outbox, password: &str) {
        let mut m = o.sensitive_message(50);
        m.put_str("alice");
        m.put_str("ssh-connection");
        m.put_str("password");
        m.put_bool(false);
        m.put_str(password);
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn growing_while_a_password_is_queued_leaves_no_copy_in_the_old_buffer() {
        const PASSWORD: &str = "correct horse battery staple";
        let mut o = Outbox::default();
        queue_password(&mut o, PASSWORD);
        let first = o.front().unwrap().to_vec();
        assert!(contains(&first, PASSWORD.as_bytes()));
        // Messages queued behind it (channel data during a key exchange)
        // make the buffer grow several times.
        for i in 0..64u8 {
            o.message(94).put_string(&[i; 1000]);
        }
        assert!(!o.retired.is_empty(), "the buffer should have grown");
        for old in &o.retired {
            assert!(!old.is_empty());
            assert!(old.iter().all(|&b| b == 0), "a stale copy was left");
        }
        // What is queued is intact, in order.
        assert_eq!(o.front().unwrap(), &first[..]);
        assert_eq!(o.len(), 65);
    }

    #[test]
    fn a_change_of_password_growing_between_old_and_new_leaves_no_copy() {
        // The old password is in the buffer when the new one makes it grow.
        let mut o = Outbox::default();
        let old_password = "o".repeat(100);
        let new_password = "n".repeat(10_000);
        {
            let mut m = o.sensitive_message(50);
            m.put_str("alice");
            m.put_bool(true);
            m.put_str(&old_password);
            m.put_str(&new_password);
        }
        assert!(!o.retired.is_empty());
        for old in &o.retired {
            assert!(!contains(old, old_password.as_bytes()));
            assert!(old.iter().all(|&b| b == 0));
        }
        assert!(contains(o.front().unwrap(), old_password.as_bytes()));
        assert!(contains(o.front().unwrap(), new_password.as_bytes()));
    }

    #[test]
    fn without_a_secret_the_buffer_grows_as_any_vec() {
        let mut o = Outbox::default();
        for i in 0..64u8 {
            o.message(94).put_string(&[i; 1000]);
        }
        assert!(o.retired.is_empty());
        while !o.is_empty() {
            o.pop_front();
        }
        // Once a password went out and everything queued was sealed, the
        // next messages are ordinary again.
        queue_password(&mut o, "pw");
        while !o.is_empty() {
            o.pop_front();
        }
        assert!(o.retired.is_empty());
        assert!(!o.holds_secret);
        for i in 0..64u8 {
            o.message(94).put_string(&[i; 4000]);
        }
        assert!(o.retired.is_empty());
    }
}
