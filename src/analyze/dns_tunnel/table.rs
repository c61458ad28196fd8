//! The bounded tables: a keyed hash index over an [`LruSlab`], with a cap on entries
//! and on their heap bytes, idle entries dropped and the least recently seen evicted.

use crate::analyze::lru::{self, LruSlab, NIL};

use super::*;

pub(super) trait Entry {
    /// The entry's clock, for expiry.
    fn last_seen(&self) -> i64;
    /// Heap bytes the entry owns.
    fn heap_bytes(&self) -> usize;
}

/// An entry as the slab holds it, with the keyed hash the index files it under.
pub(super) struct Keyed<E> {
    pub(super) hash: u64,
    pub(super) e: E,
}

/// A slot of a table's slab.
pub(super) type Node<E> = lru::Node<Keyed<E>>;

/// A slab of entries on a recency list ([`LruSlab`]), indexed by a keyed 64-bit hash of
/// the key. A node is checked against the key on lookup; two keys with the same keyed
/// hash (1 in 2^64, and not forceable: the key is random) would share a slot, the newer
/// replacing the older.
pub(super) struct Table<E> {
    pub(super) index: hashbrown::HashMap<u64, u32, RandomState>,
    pub(super) slab: LruSlab<Keyed<E>>,
    /// Most entries held: the configured cap, lowered to what the byte budget pays for.
    pub(super) cap: usize,
    pub(super) heap_used: usize,
    pub(super) heap_budget: usize,
}

impl<E: Entry> Table<E> {
    pub(super) fn new(max_entries: usize, budget: usize, heap_per_entry: usize) -> Table<E> {
        let per_entry = size_of::<Option<Node<E>>>()
            .saturating_add(INDEX_BYTES_PER_SLOT.saturating_mul(2))
            .saturating_add(heap_per_entry)
            .max(1);
        let cap = max_entries
            .min(budget.checked_div(per_entry).unwrap_or(0))
            .clamp(
                1,
                usize::try_from(NIL).unwrap_or(usize::MAX).saturating_sub(1),
            );
        Table {
            index: hashbrown::HashMap::with_capacity_and_hasher(cap, RandomState::default()),
            slab: LruSlab::new(),
            cap,
            heap_used: 0,
            heap_budget: cap.saturating_mul(heap_per_entry),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.slab
            .slots_capacity()
            .saturating_mul(size_of::<Option<Node<E>>>())
            .saturating_add(self.index.capacity().saturating_mul(INDEX_BYTES_PER_SLOT))
            .saturating_add(self.slab.free_capacity().saturating_mul(size_of::<u32>()))
            .saturating_add(self.heap_used)
    }

    /// The entry of `hash` if it matches, moved to the most recent end.
    pub(super) fn find(&mut self, hash: u64, matches: impl Fn(&E) -> bool) -> Option<u32> {
        let i = *self.index.get(&hash)?;
        if !self.slab.get(i).is_some_and(|n| matches(&n.e)) {
            self.remove(i);
            return None;
        }
        self.slab.touch(i);
        Some(i)
    }

    pub(super) fn get_mut(&mut self, i: u32) -> Option<&mut E> {
        self.slab.get_mut(i).map(|n| &mut n.e)
    }

    /// Drops entries idle for `window` at the least recent end (a few), then evicts until
    /// an entry with `heap` bytes fits. Returns (expired, evicted).
    pub(super) fn make_room(&mut self, now: i64, window: i64, heap: usize) -> (u64, u64) {
        let mut expired = 0u64;
        let mut dropped = 0usize;
        while dropped < EXPIRE_PER_INSERT {
            let Some(oldest) = self.slab.least_recent() else {
                break;
            };
            let idle = self
                .slab
                .get(oldest)
                .is_some_and(|n| now.saturating_sub(n.e.last_seen()) >= window);
            if !idle {
                break;
            }
            self.remove(oldest);
            expired = expired.saturating_add(1);
            dropped = dropped.saturating_add(1);
        }
        let mut evicted = 0u64;
        while self.len() > 0
            && (self.len() >= self.cap || self.heap_used.saturating_add(heap) > self.heap_budget)
        {
            let victim = self.slab.least_recent();
            if victim.and_then(|i| self.remove(i)).is_none() {
                break;
            }
            evicted = evicted.saturating_add(1);
        }
        (expired, evicted)
    }

    /// Adds `e` as the most recent; `None` when there is no room (call `make_room` first).
    pub(super) fn insert(&mut self, hash: u64, e: E) -> Option<u32> {
        if self.len() >= self.cap {
            return None;
        }
        if let Some(&old) = self.index.get(&hash) {
            self.remove(old);
        }
        let heap = e.heap_bytes();
        let i = match self.slab.take_vacant() {
            Some(i) => i,
            None => {
                // Double, but never past the cap: capacity is memory.
                let made = self.slab.slots_len();
                let room = self.cap.saturating_sub(made);
                self.slab.reserve_slots(made.max(16).min(room).max(1));
                self.slab.take_vacant()?
            }
        };
        if !self.slab.fill(i, Keyed { hash, e }) {
            return None;
        }
        self.index.insert(hash, i);
        self.heap_used = self.heap_used.saturating_add(heap);
        Some(i)
    }

    pub(super) fn remove(&mut self, i: u32) -> Option<E> {
        let node = self.slab.remove(i)?;
        self.index.remove(&node.hash);
        self.heap_used = self.heap_used.saturating_sub(node.e.heap_bytes());
        Some(node.e)
    }
}
