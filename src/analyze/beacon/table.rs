//! The tracker's table: pairs in an [`LruSlab`] found through a `HashTable<u32>` by
//! their key, the slab grown within both caps, and the least recently seen pairs
//! evicted (or expired when idle) to make room, each removal counted.

use std::collections::VecDeque;

use super::*;

/// Idle pairs (silent for a whole window) removed per check-in, from the least recently seen end: more
/// than the one pair a check-in can add, so the idle backlog never grows.
pub(super) const EXPIRE_PER_CALL: usize = 2;

/// Slab size reserved when it first grows.
pub(super) const SLAB_MIN: usize = 64;

/// A pair in the slab: its key, the hash the index files it under, its state.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) key: PairKey,
    pub(super) hash: u64,
    pub(super) pair: Pair,
}

impl BeaconTracker {
    pub(super) fn pair_mut(&mut self, idx: u32) -> Option<&mut Pair> {
        self.slab.get_mut(idx).map(|n| &mut n.pair)
    }

    pub(super) fn find(&self, hash: u64, key: &PairRef<'_>) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(hash, |&i| slab.get(i).is_some_and(|n| key.is(&n.key)))
            .copied()
    }

    /// Makes a node for a new pair: a free slot, a new one while the slab may grow within
    /// both caps, else the least recently seen pair's. `None` when one pair cannot fit.
    pub(super) fn insert(&mut self, key: PairRef<'_>, hash: u64) -> Option<u32> {
        let idx = self.take_slot()?;
        let name = match key.server {
            // The Arc's two counters and the bytes, as if this pair owned the name.
            ServerRef::Name(n, _) => n.len().saturating_add(size_of::<[usize; 2]>()),
            ServerRef::Ip(_) => 0,
        };
        let heap = name.saturating_add(bytes_of::<Hit>(RING_MIN));
        if !self.ensure_room(heap, None) {
            self.slab.release(idx);
            return None;
        }
        let mut ring = VecDeque::<Hit>::new();
        ring.reserve_exact(RING_MIN);
        let heap = name.saturating_add(bytes_of::<Hit>(ring.capacity()));
        let entry = Entry {
            key: key.to_key(),
            hash,
            pair: Pair {
                ring,
                spill: None,
                first: Timestamp(i64::MAX),
                last_seen: Timestamp(i64::MIN),
                since_score: 0,
                scored_at: None,
                alert: None,
                strobe_at: None,
                heap,
            },
        };
        if !self.slab.fill(idx, entry) {
            return None;
        }
        self.heap_bytes = self.heap_bytes.saturating_add(heap);
        let slab = &self.slab;
        self.table.insert_unique(hash, idx, |&i| hash_at(slab, i));
        Some(idx)
    }

    pub(super) fn take_slot(&mut self) -> Option<u32> {
        loop {
            if let Some(idx) = self.slab.take_vacant() {
                return Some(idx);
            }
            let (len, cap) = (self.slab.slots_len(), self.slab.slots_capacity());
            if len < cap {
                return None;
            }
            let at_pair_cap = len >= self.cfg.max_pairs;
            if !at_pair_cap && self.grow_slab(cap) {
                continue;
            }
            // Full (or no memory to grow): the least recently seen pair makes room.
            let victim = self.slab.least_recent()?;
            self.evict(victim, !at_pair_cap);
        }
    }

    /// Grows the slab, free list and hash index together, only if that fits in memory
    /// as it is (growing by evicting would trade many pairs for empty slots): by
    /// doubling, or by the largest halving of that step (down to [`SLAB_MIN`]) that fits,
    /// so a tight memory cap is filled to within a small step instead of a doubling.
    pub(super) fn grow_slab(&mut self, cap: usize) -> bool {
        let room = self.cfg.max_pairs.saturating_sub(cap);
        let mut more = cap.max(SLAB_MIN).min(room);
        while more > 0 {
            let new_cap = cap.saturating_add(more);
            let delta = LruSlab::<Entry>::slot_bytes()
                .saturating_mul(more)
                .saturating_add(bytes_of::<u32>(more))
                .saturating_add(
                    index_bytes(new_cap).saturating_sub(index_bytes(self.table.capacity())),
                );
            if self.memory_bytes().saturating_add(delta) <= self.cfg.max_memory_bytes {
                self.slab.reserve_slots(more);
                self.slab.reserve_free(new_cap);
                let slab = &self.slab;
                self.table
                    .reserve(new_cap.saturating_sub(self.table.len()), |&i| {
                        hash_at(slab, i)
                    });
                return true;
            }
            if more <= SLAB_MIN {
                return false;
            }
            more = more.checked_div(2).unwrap_or(0).max(SLAB_MIN.min(room));
        }
        false
    }

    /// Evicts least recently seen pairs (never `keep`) until `delta` more bytes fit.
    pub(super) fn ensure_room(&mut self, delta: usize, keep: Option<u32>) -> bool {
        loop {
            if self.memory_bytes().saturating_add(delta) <= self.cfg.max_memory_bytes {
                return true;
            }
            let Some(victim) = self.slab.least_recent() else {
                return false;
            };
            if Some(victim) == keep {
                return false;
            }
            self.evict(victim, true);
        }
    }

    pub(super) fn evict(&mut self, idx: u32, for_memory: bool) {
        self.remove(idx);
        self.counters.evictions = self.counters.evictions.saturating_add(1);
        if for_memory {
            self.counters.memory_evictions = self.counters.memory_evictions.saturating_add(1);
        }
    }

    /// Removes silent pairs from the least recently seen end: those whose last check-in left the window.
    pub(super) fn expire_idle(&mut self, window_start: Timestamp) {
        for _ in 0..EXPIRE_PER_CALL {
            let Some(head) = self.slab.least_recent() else {
                return;
            };
            let idle = self
                .slab
                .get(head)
                .is_some_and(|n| n.pair.last_seen < window_start);
            if !idle {
                return;
            }
            self.remove(head);
            self.counters.expired = self.counters.expired.saturating_add(1);
        }
    }

    pub(super) fn remove(&mut self, idx: u32) {
        // The free list was reserved to the slab's capacity: this never allocates.
        let Some(node) = self.slab.remove(idx) else {
            return;
        };
        if let Ok(entry) = self.table.find_entry(node.hash, |&i| i == idx) {
            entry.remove();
        }
        self.heap_bytes = self.heap_bytes.saturating_sub(node.pair.heap);
    }
}

pub(super) fn hash_at(slab: &LruSlab<Entry>, idx: u32) -> u64 {
    slab.get(idx).map_or(0, |n| n.hash)
}

pub(super) fn bytes_of<T>(n: usize) -> usize {
    n.saturating_mul(size_of::<T>())
}

/// Bytes of a `HashTable<u32>` of this capacity: hashbrown keeps buckets a power of two
/// at most 7/8 full (4 or 8 buckets below 8 entries), one 4-byte slot and one control
/// byte per bucket, plus a group of 16 control bytes. 0 for a table never allocated.
pub(super) fn index_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 4 {
        4
    } else if capacity < 8 {
        8
    } else {
        capacity
            .saturating_mul(8)
            .checked_div(7)
            .unwrap_or(usize::MAX)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX)
    };
    buckets
        .saturating_mul(size_of::<u32>().saturating_add(1))
        .saturating_add(16)
}
