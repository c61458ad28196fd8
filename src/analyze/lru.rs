//! The slab under both trackers' tables: entries in a `Vec` of slots, on an intrusive
//! doubly linked list from the least to the most recently seen, so that a touch, an
//! insert, a removal and finding the eviction victim are all O(1) without allocating.
//!
//! Where it sits: below [`super::beacon`] and [`super::dns_tunnel`], which each keep
//! their own hash index over the slot numbers this hands out (the beacon tracker finds
//! a pair by its key, the DNS tracker by a keyed hash) and their own policy for when to
//! grow and when to evict. What it does not do: no hashing, no caps, no memory budget.
//! It never grows on its own: a slot comes from the free list or from capacity already
//! reserved ([`LruSlab::take_vacant`]), and the caller reserves more when its caps allow
//! ([`LruSlab::reserve_slots`], [`LruSlab::reserve_free`]). Every method is total: a
//! slot number that is out of range or vacant is a no-op or `None`.

use std::mem::size_of;

/// The nil link. Slot numbers are `u32`, so a table holds fewer than `u32::MAX` entries
/// (the trackers' caps are far below).
pub const NIL: u32 = u32::MAX;

/// One occupied slot: the value and its two links.
#[derive(Debug)]
pub struct Node<T> {
    /// Towards the least recently seen end (NIL at it).
    older: u32,
    /// Towards the most recently seen end (NIL at it).
    newer: u32,
    value: T,
}

/// A bounded slab on a least-recently-seen list. See the module doc.
#[derive(Debug)]
pub struct LruSlab<T> {
    slots: Vec<Option<Node<T>>>,
    /// Vacant slot numbers below `slots.len()`.
    free: Vec<u32>,
    oldest: u32,
    newest: u32,
    len: usize,
}

impl<T> Default for LruSlab<T> {
    fn default() -> Self {
        LruSlab::new()
    }
}

impl<T> LruSlab<T> {
    pub const fn new() -> Self {
        LruSlab {
            slots: Vec::new(),
            free: Vec::new(),
            oldest: NIL,
            newest: NIL,
            len: 0,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots made so far, occupied or vacant.
    pub fn slots_len(&self) -> usize {
        self.slots.len()
    }

    /// Slots allocated (what the slab costs in memory, with [`Self::free_capacity`]).
    pub fn slots_capacity(&self) -> usize {
        self.slots.capacity()
    }

    pub fn free_capacity(&self) -> usize {
        self.free.capacity()
    }

    /// Bytes one slot costs.
    pub const fn slot_bytes() -> usize {
        size_of::<Option<Node<T>>>()
    }

    /// Reserves exactly `more` slots beyond those made.
    pub fn reserve_slots(&mut self, more: usize) {
        self.slots.reserve_exact(more);
    }

    /// Reserves the free list to hold `total` slot numbers, so that removals never
    /// allocate.
    pub fn reserve_free(&mut self, total: usize) {
        self.free
            .reserve_exact(total.saturating_sub(self.free.len()));
    }

    /// A vacant slot to [`Self::fill`] or [`Self::release`]: a freed one first, else a
    /// new one within the capacity already reserved. `None` when neither exists: this
    /// never allocates the slab.
    pub fn take_vacant(&mut self) -> Option<u32> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        if self.slots.len() < self.slots.capacity() {
            let i = u32::try_from(self.slots.len()).ok().filter(|&i| i != NIL)?;
            self.slots.push(None);
            return Some(i);
        }
        None
    }

    /// Puts `value` in the vacant slot `i` as the most recently seen entry. False (and
    /// `value` dropped) when `i` is not a vacant slot.
    pub fn fill(&mut self, i: u32, value: T) -> bool {
        let Some(slot) = usize::try_from(i).ok().and_then(|u| self.slots.get_mut(u)) else {
            return false;
        };
        if slot.is_some() {
            return false;
        }
        *slot = Some(Node {
            older: NIL,
            newer: NIL,
            value,
        });
        self.len = self.len.saturating_add(1);
        self.push_newest(i);
        true
    }

    /// Gives back a slot from [`Self::take_vacant`] that was not filled.
    pub fn release(&mut self, i: u32) {
        if self.slots.get(to_usize(i)).is_some_and(Option::is_none) {
            self.free.push(i);
        }
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        self.node(i).map(|n| &n.value)
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.node_mut(i).map(|n| &mut n.value)
    }

    /// The least recently seen entry's slot (the eviction victim).
    pub fn least_recent(&self) -> Option<u32> {
        (self.oldest != NIL).then_some(self.oldest)
    }

    /// Makes `i` the most recently seen entry.
    pub fn touch(&mut self, i: u32) {
        if self.node(i).is_some() {
            self.unlink(i);
            self.push_newest(i);
        }
    }

    /// Takes the entry out of slot `i`, which becomes vacant.
    pub fn remove(&mut self, i: u32) -> Option<T> {
        self.node(i)?;
        self.unlink(i);
        let node = self.slots.get_mut(to_usize(i))?.take()?;
        self.free.push(i);
        self.len = self.len.saturating_sub(1);
        Some(node.value)
    }

    /// Removes the least recently seen entry.
    pub fn pop_least_recent(&mut self) -> Option<T> {
        self.remove(self.least_recent()?)
    }

    /// The values held, in slot order (not recency order).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten().map(|n| &n.value)
    }

    fn node(&self, i: u32) -> Option<&Node<T>> {
        self.slots.get(to_usize(i))?.as_ref()
    }

    fn node_mut(&mut self, i: u32) -> Option<&mut Node<T>> {
        self.slots.get_mut(to_usize(i))?.as_mut()
    }

    fn unlink(&mut self, i: u32) {
        let Some((older, newer)) = self.node(i).map(|n| (n.older, n.newer)) else {
            return;
        };
        match self.node_mut(older) {
            Some(o) => o.newer = newer,
            None => self.oldest = newer,
        }
        match self.node_mut(newer) {
            Some(n) => n.older = older,
            None => self.newest = older,
        }
        if let Some(n) = self.node_mut(i) {
            n.older = NIL;
            n.newer = NIL;
        }
    }

    fn push_newest(&mut self, i: u32) {
        let newest = self.newest;
        if let Some(n) = self.node_mut(i) {
            n.older = newest;
            n.newer = NIL;
        } else {
            return;
        }
        match self.node_mut(newest) {
            Some(n) => n.newer = i,
            None => self.oldest = i,
        }
        self.newest = i;
    }
}

fn to_usize(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]

    use super::*;

    fn slab(cap: usize) -> LruSlab<u32> {
        let mut s = LruSlab::new();
        s.reserve_slots(cap);
        s.reserve_free(cap);
        s
    }

    fn insert(s: &mut LruSlab<u32>, v: u32) -> u32 {
        let i = s.take_vacant().unwrap();
        assert!(s.fill(i, v));
        i
    }

    /// Values from the least to the most recently seen, by the links.
    fn order(s: &LruSlab<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = s.oldest;
        while let Some(n) = s.node(i) {
            out.push(n.value);
            i = n.newer;
        }
        let mut back = Vec::new();
        let mut i = s.newest;
        while let Some(n) = s.node(i) {
            back.push(n.value);
            i = n.older;
        }
        back.reverse();
        assert_eq!(out, back, "links disagree");
        assert_eq!(out.len(), s.len());
        out
    }

    #[test]
    fn insert_touch_and_evict_in_recency_order() {
        let mut s = slab(4);
        let a = insert(&mut s, 1);
        let _b = insert(&mut s, 2);
        let c = insert(&mut s, 3);
        assert_eq!(order(&s), [1, 2, 3]);
        s.touch(a);
        assert_eq!(order(&s), [2, 3, 1]);
        s.touch(a);
        assert_eq!(order(&s), [2, 3, 1]);
        assert_eq!(s.pop_least_recent(), Some(2));
        assert_eq!(order(&s), [3, 1]);
        assert_eq!(s.remove(c), Some(3));
        assert_eq!(s.remove(c), None);
        assert_eq!(order(&s), [1]);
        assert_eq!(s.least_recent(), Some(a));
        assert_eq!(s.pop_least_recent(), Some(1));
        assert!(s.is_empty());
        assert_eq!(s.least_recent(), None);
        assert_eq!(s.pop_least_recent(), None);
    }

    #[test]
    fn never_grows_past_what_was_reserved() {
        let mut s = slab(2);
        let cap = s.slots_capacity();
        for v in 0..u32::try_from(cap).unwrap() {
            insert(&mut s, v);
        }
        assert_eq!(s.take_vacant(), None);
        assert_eq!(s.slots_capacity(), cap);
        // A removal frees a slot, reused before any new one.
        let victim = s.least_recent().unwrap();
        s.pop_least_recent();
        assert_eq!(s.take_vacant(), Some(victim));
        s.release(victim);
        assert_eq!(s.take_vacant(), Some(victim));
        assert!(s.fill(victim, 99));
        assert_eq!(*order(&s).last().unwrap(), 99);
        assert_eq!(s.free_capacity(), cap);
    }

    #[test]
    fn bad_slot_numbers_are_no_ops() {
        let mut s = slab(2);
        let a = insert(&mut s, 7);
        assert!(!s.fill(a, 8), "an occupied slot is not refilled");
        assert!(!s.fill(NIL, 8));
        assert!(!s.fill(5, 8));
        s.touch(NIL);
        s.touch(5);
        s.release(a);
        s.release(NIL);
        assert_eq!(s.get(NIL), None);
        assert_eq!(s.get_mut(5), None);
        assert_eq!(s.remove(NIL), None);
        assert_eq!(order(&s), [7]);
        *s.get_mut(a).unwrap() = 9;
        assert_eq!(s.get(a), Some(&9));
        assert_eq!(s.iter().collect::<Vec<_>>(), [&9]);
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        // splitmix64: a fixed stream of operations against a Vec kept in recency order.
        let mut x = 0x5eed_u64;
        let mut next = move || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut s = slab(8);
        let cap = s.slots_capacity();
        let mut model: Vec<(u32, u32)> = Vec::new();
        for v in 0..5000u32 {
            match next() % 4 {
                0 | 1 => match s.take_vacant() {
                    Some(i) => {
                        assert!(s.fill(i, v));
                        model.push((i, v));
                    }
                    None => assert_eq!(model.len(), cap),
                },
                2 if !model.is_empty() => {
                    let k = usize::try_from(next() % model.len() as u64).unwrap();
                    let (i, val) = model.remove(k);
                    s.touch(i);
                    model.push((i, val));
                }
                _ if !model.is_empty() => {
                    if next() % 2 == 0 {
                        let (_, val) = model.remove(0);
                        assert_eq!(s.pop_least_recent(), Some(val));
                    } else {
                        let k = usize::try_from(next() % model.len() as u64).unwrap();
                        let (i, val) = model.remove(k);
                        assert_eq!(s.remove(i), Some(val));
                    }
                }
                _ => {}
            }
            let want: Vec<u32> = model.iter().map(|&(_, v)| v).collect();
            assert_eq!(order(&s), want);
        }
        assert_eq!(s.slots_capacity(), cap);
    }
}
