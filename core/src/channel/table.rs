//! Local channel numbers (RFC 4254 section 5.1): a slab indexed by id.
//!
//! Ids are small integers handed out lowest-free-first, so a long-lived
//! connection that opens and closes many channels keeps reusing a compact
//! range, and every lookup is one vector index.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Values indexed by the id they were given at insertion.
#[derive(Debug)]
pub(super) struct IdTable<T> {
    slots: Vec<Option<T>>,
    /// Ids below `slots.len()` whose slot is empty, smallest on top.
    free: BinaryHeap<Reverse<u32>>,
    len: usize,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            len: 0,
        }
    }
}

impl<T> IdTable<T> {
    /// Stores `value` under the lowest free id. `None` when all 2^32 ids are
    /// taken (the caller's channel limit stops far earlier).
    pub(super) fn insert(&mut self, value: T) -> Option<u32> {
        let id = match self.free.pop() {
            Some(Reverse(id)) => id,
            None => u32::try_from(self.slots.len()).ok()?,
        };
        let index = id as usize;
        if index == self.slots.len() {
            self.slots.push(Some(value));
        } else {
            // Only ids below `slots.len()` ever go into `free`.
            self.slots[index] = Some(value);
        }
        self.len += 1;
        Some(id)
    }

    /// The value under `id`, if any.
    pub(super) fn get(&self, id: u32) -> Option<&T> {
        self.slots.get(id as usize)?.as_ref()
    }

    /// The value under `id`, if any, mutably.
    pub(super) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.slots.get_mut(id as usize)?.as_mut()
    }

    /// Takes the value out and frees `id` for reuse.
    pub(super) fn remove(&mut self, id: u32) -> Option<T> {
        let value = self.slots.get_mut(id as usize)?.take()?;
        self.free.push(Reverse(id));
        self.len -= 1;
        Some(value)
    }

    /// Number of values stored.
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_lowest_first() {
        let mut t = IdTable::default();
        for i in 0..5u32 {
            assert_eq!(t.insert(i * 10), Some(i));
        }
        assert_eq!(t.remove(3), Some(30));
        assert_eq!(t.remove(1), Some(10));
        assert_eq!(t.remove(1), None);
        assert_eq!(t.len(), 3);
        assert_eq!(t.insert(100), Some(1));
        assert_eq!(t.insert(300), Some(3));
        assert_eq!(t.insert(500), Some(5));
        assert_eq!(t.get(3), Some(&300));
        assert_eq!(t.get(6), None);
        assert_eq!(t.len(), 6);
    }
}
