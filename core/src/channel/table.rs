//! Local channel numbers (RFC 4254 section 5.1): a slab indexed by id.
//!
//! Slots are handed out lowest-free-first, so a long-lived connection that
//! opens and closes many channels keeps a compact table, and every lookup is
//! one vector index. The id of a reused slot carries the slot's generation
//! (`id = generation * stride + slot`), so a number comes back only after
//! the slot has been reused `2^32 / stride` times. Events are queued: an
//! application can still be handling `ChannelEvent::Data` for a channel
//! whose CLOSE the core has already processed, and may open a new channel
//! before it sees `ChannelEvent::Closed`; with plain lowest-free numbers
//! that new channel would get the old one's id, and the application would
//! mix the two up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One slot and how many times it has been freed.
#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Values indexed by the id they were given at insertion.
#[derive(Debug)]
pub(super) struct IdTable<T> {
    slots: Vec<Slot<T>>,
    /// Indices below `slots.len()` whose slot is empty, smallest on top.
    free: BinaryHeap<Reverse<u32>>,
    len: usize,
    /// A power of two at least the largest number of slots.
    stride: u64,
    /// Generations that fit in a `u32` id: `2^32 / stride`.
    generations: u64,
}

impl<T> IdTable<T> {
    /// A table that will hold at most `max_len` values at once.
    pub(super) fn new(max_len: u32) -> Self {
        let stride = u64::from(max_len.max(1)).next_power_of_two();
        IdTable {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            len: 0,
            stride,
            generations: (1u64 << 32) / stride,
        }
    }

    /// Stores `value` in the lowest free slot. `None` when all `max_len`
    /// slots are taken (the caller's channel limit stops earlier).
    pub(super) fn insert(&mut self, value: T) -> Option<u32> {
        let index = match self.free.pop() {
            Some(Reverse(index)) => index as usize,
            None if (self.slots.len() as u64) < self.stride => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                self.slots.len() - 1
            }
            None => return None,
        };
        let slot = self.slots.get_mut(index)?;
        slot.value = Some(value);
        self.len += 1;
        // generation < generations and index < stride, so this fits a u32.
        u32::try_from(u64::from(slot.generation) * self.stride + index as u64).ok()
    }

    /// The slot and generation an id names.
    fn locate(&self, id: u32) -> (usize, u32) {
        let id = u64::from(id);
        // Both parts are below 2^32 by construction.
        ((id % self.stride) as usize, (id / self.stride) as u32)
    }

    /// The value under `id`, if any.
    pub(super) fn get(&self, id: u32) -> Option<&T> {
        let (index, generation) = self.locate(id);
        let slot = self.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_ref()
    }

    /// The value under `id`, if any, mutably.
    pub(super) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let (index, generation) = self.locate(id);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// Takes the value out and frees its slot for reuse under a new id.
    pub(super) fn remove(&mut self, id: u32) -> Option<T> {
        let (index, generation) = self.locate(id);
        let generations = self.generations;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        slot.generation = ((u64::from(slot.generation) + 1) % generations) as u32;
        self.free.push(Reverse(index as u32));
        self.len -= 1;
        Some(value)
    }

    /// Number of values stored.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Number of slots ever used (the table's footprint).
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_lowest_first_under_new_ids() {
        let mut t = IdTable::new(6);
        for i in 0..5u32 {
            assert_eq!(t.insert(i * 10), Some(i));
        }
        assert_eq!(t.remove(3), Some(30));
        assert_eq!(t.remove(1), Some(10));
        assert_eq!(t.remove(1), None);
        assert_eq!(t.len(), 3);
        // Stride 8: slot 1 in its second generation is id 9.
        assert_eq!(t.insert(100), Some(9));
        assert_eq!(t.insert(300), Some(11));
        assert_eq!(t.insert(500), Some(5));
        assert_eq!(t.slots(), 6);
        // The old ids name nothing any more.
        assert_eq!(t.get(1), None);
        assert_eq!(t.get(3), None);
        assert_eq!(t.get(11), Some(&300));
        assert_eq!(t.remove(3), None);
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn table_is_bounded_and_generations_wrap() {
        let mut t = IdTable::new(1 << 31);
        assert_eq!(t.insert(()), Some(0));
        assert_eq!(t.remove(0), Some(()));
        // Stride 2^31 leaves two generations.
        assert_eq!(t.insert(()), Some(1 << 31));
        assert_eq!(t.remove(1 << 31), Some(()));
        assert_eq!(t.insert(()), Some(0));

        let mut t = IdTable::new(2);
        assert!(t.insert(()).is_some());
        assert!(t.insert(()).is_some());
        assert_eq!(t.insert(()), None);
    }
}
