//! A pair's state: the ring of its newest check-ins, the spill of those pushed out of a
//! full ring while still in the window, its alert memory; and how one check-in lands in
//! them (growing the ring within the memory cap, or spilling its oldest).

use std::collections::VecDeque;

use super::*;

/// One check-in as the ring keeps it (16 bytes).
#[derive(Clone, Copy, Debug)]
pub(super) struct Hit {
    pub(super) at: Timestamp,
    /// Client bytes, saturated at 4 GiB (beyond that the size score has nothing to say).
    pub(super) bytes: u32,
    pub(super) new_connection: bool,
}

/// One spill slot: the check-ins of one slot of the grid, tagged with the slot number.
#[derive(Clone, Copy, Debug)]
pub(super) struct SpillSlot {
    pub(super) slot: i64,
    pub(super) checkins: u32,
    pub(super) connections: u32,
}

pub(super) const EMPTY_SLOT: SpillSlot = SpillSlot {
    slot: i64::MIN,
    checkins: 0,
    connections: 0,
};

/// The check-ins of a pair pushed out of its full ring while still in the window.
#[derive(Debug)]
pub(super) struct Spill {
    pub(super) slots: [SpillSlot; SPILL_SLOTS],
    /// Slots numbered below this have been subtracted from the totals.
    pub(super) oldest: i64,
    pub(super) checkins: u64,
    pub(super) connections: u64,
}

impl Spill {
    pub(super) fn new(oldest: i64) -> Box<Spill> {
        Box::new(Spill {
            slots: [EMPTY_SLOT; SPILL_SLOTS],
            oldest,
            checkins: 0,
            connections: 0,
        })
    }

    pub(super) fn position(slot: i64) -> usize {
        // rem_euclid by a positive constant is in 0..SPILL_SLOTS.
        usize::try_from(slot.rem_euclid(SPILL_SLOTS as i64)).unwrap_or(0)
    }

    pub(super) fn subtract(&mut self, pos: usize) {
        if let Some(s) = self.slots.get_mut(pos) {
            self.checkins = self.checkins.saturating_sub(u64::from(s.checkins));
            self.connections = self.connections.saturating_sub(u64::from(s.connections));
            *s = EMPTY_SLOT;
        }
    }

    /// Forgets every slot numbered below `start` (the window's first slot).
    pub(super) fn expire(&mut self, start: i64) {
        if start <= self.oldest {
            return;
        }
        let behind = start.saturating_sub(self.oldest);
        let steps = usize::try_from(behind)
            .unwrap_or(SPILL_SLOTS)
            .min(SPILL_SLOTS);
        let mut slot = self.oldest;
        for _ in 0..steps {
            let pos = Spill::position(slot);
            if self.slots.get(pos).is_some_and(|s| s.slot < start) {
                self.subtract(pos);
            }
            slot = slot.saturating_add(1);
        }
        self.oldest = start;
    }

    /// Counts one check-in in its slot; false when it is older than what the spill holds.
    pub(super) fn add(&mut self, slot: i64, new_connection: bool) -> bool {
        if slot < self.oldest {
            return false;
        }
        let pos = Spill::position(slot);
        let Some(tag) = self.slots.get(pos).map(|s| s.slot) else {
            return false;
        };
        if tag > slot {
            return false;
        }
        if tag < slot {
            self.subtract(pos);
        }
        let Some(s) = self.slots.get_mut(pos) else {
            return false;
        };
        s.slot = slot;
        s.checkins = s.checkins.saturating_add(1);
        self.checkins = self.checkins.saturating_add(1);
        if new_connection {
            s.connections = s.connections.saturating_add(1);
            self.connections = self.connections.saturating_add(1);
        }
        true
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Alert {
    pub(super) band: Band,
    /// First alert of the current window.
    pub(super) at: Timestamp,
    /// A long-connection alert was given in this window.
    pub(super) long: bool,
}

/// A pair's state.
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) ring: VecDeque<Hit>,
    pub(super) spill: Option<Box<Spill>>,
    /// The pair's first and last check-in (since it was created).
    pub(super) first: Timestamp,
    pub(super) last_seen: Timestamp,
    pub(super) since_score: usize,
    pub(super) scored_at: Option<Timestamp>,
    pub(super) alert: Option<Alert>,
    pub(super) strobe_at: Option<Timestamp>,
    /// Heap bytes accounted to this pair (ring, spill, name).
    pub(super) heap: usize,
}

impl Pair {
    pub(super) fn in_window(&self) -> u64 {
        let spilled = self.spill.as_ref().map_or(0, |s| s.checkins);
        u64::try_from(self.ring.len())
            .unwrap_or(u64::MAX)
            .saturating_add(spilled)
    }
}

impl BeaconTracker {
    /// Adds a check-in to a pair's ring, growing the ring or spilling its oldest
    /// check-in when it is full.
    pub(super) fn record(&mut self, idx: u32, hit: Hit, window_start: Timestamp) {
        let start_slot = self.slot_of(window_start);
        let Some(pair) = self.pair_mut(idx) else {
            return;
        };
        pair.first = pair.first.min(hit.at);
        pair.last_seen = pair.last_seen.max(hit.at);
        while pair.ring.front().is_some_and(|h| h.at < window_start) {
            pair.ring.pop_front();
        }
        if let Some(spill) = pair.spill.as_mut() {
            spill.expire(start_slot);
        }
        let (len, cap) = (pair.ring.len(), pair.ring.capacity());
        if len >= cap && cap < CHECKIN_CAP {
            self.grow_ring(idx, cap);
        }
        let full = self
            .pair_mut(idx)
            .is_some_and(|p| p.ring.len() >= p.ring.capacity());
        if full {
            self.spill_oldest(idx, start_slot);
        }
        if let Some(pair) = self.pair_mut(idx) {
            // Never reallocates: the ring had room, grew, or was just emptied by one.
            if pair.ring.len() < pair.ring.capacity() {
                pair.ring.push_back(hit);
                pair.since_score = pair.since_score.saturating_add(1);
            }
        }
    }

    pub(super) fn grow_ring(&mut self, idx: u32, cap: usize) {
        let new_cap = cap.saturating_mul(2).clamp(RING_MIN, CHECKIN_CAP);
        let delta = bytes_of::<Hit>(new_cap.saturating_sub(cap));
        if !self.ensure_room(delta, Some(idx)) {
            self.counters.ring_growth_refused = self.counters.ring_growth_refused.saturating_add(1);
            return;
        }
        let Some(pair) = self.pair_mut(idx) else {
            return;
        };
        let old = pair.ring.capacity();
        pair.ring
            .reserve_exact(new_cap.saturating_sub(pair.ring.len()));
        let grown = bytes_of::<Hit>(pair.ring.capacity().saturating_sub(old));
        pair.heap = pair.heap.saturating_add(grown);
        self.heap_bytes = self.heap_bytes.saturating_add(grown);
    }

    /// Moves the ring's oldest check-in into the spill (made on first use).
    pub(super) fn spill_oldest(&mut self, idx: u32, start_slot: i64) {
        let has_spill = self.pair_mut(idx).is_some_and(|p| p.spill.is_some());
        if !has_spill && self.ensure_room(size_of::<Spill>(), Some(idx)) {
            if let Some(pair) = self.pair_mut(idx) {
                pair.spill = Some(Spill::new(start_slot));
                pair.heap = pair.heap.saturating_add(size_of::<Spill>());
            }
            self.heap_bytes = self.heap_bytes.saturating_add(size_of::<Spill>());
        }
        let slot_ns = self.slot_ns;
        let Some(pair) = self.pair_mut(idx) else {
            return;
        };
        let Some(hit) = pair.ring.pop_front() else {
            return;
        };
        let kept = pair
            .spill
            .as_mut()
            .is_some_and(|s| s.add(hit.at.as_nanos().div_euclid(slot_ns), hit.new_connection));
        if !kept {
            self.counters.spill_dropped = self.counters.spill_dropped.saturating_add(1);
        }
    }

    pub(super) fn slot_of(&self, t: Timestamp) -> i64 {
        t.as_nanos().div_euclid(self.slot_ns)
    }
}
