//! The table's storage mechanics: a slab of nodes threaded on one intrusive doubly
//! linked list per timeout class. No allocation per packet; every index is checked
//! (`get`), so a broken invariant degrades to a missed lookup, never a panic.

use super::{ALL_CLASSES, Entry, FlowTable, TimeoutClass};
use crate::flow::key::FlowKey;
use crate::time::Timestamp;

/// "No node" in the intrusive lists.
pub(super) const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(super) struct Node<S> {
    pub(super) entry: Entry<S>,
    /// `entry.last_seen` when the node was last linked at its list's tail: the
    /// lists are ordered by it.
    pub(super) linked: Timestamp,
    pub(super) prev: u32,
    pub(super) next: u32,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct List {
    pub(super) head: u32,
    pub(super) tail: u32,
}

pub(super) const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

impl<S> FlowTable<S> {
    pub(super) fn node(&self, idx: u32) -> Option<&Node<S>> {
        self.slots.get(usize::try_from(idx).ok()?)?.as_ref()
    }

    pub(super) fn node_mut(&mut self, idx: u32) -> Option<&mut Node<S>> {
        self.slots.get_mut(usize::try_from(idx).ok()?)?.as_mut()
    }

    pub(super) fn list(&self, class: TimeoutClass) -> Option<&List> {
        self.lists.get(class.index())
    }

    /// The flow with the oldest `last_seen`: each list's head is first given its
    /// second chance (moved to the tail while it was touched since it was linked), so
    /// that it is the oldest of its list; then the oldest head wins (ties: the lower
    /// class). Each move answers one earlier hit, so the cost is amortized O(1).
    pub(super) fn oldest(&mut self) -> Option<u32> {
        let mut best: Option<(Timestamp, u32)> = None;
        for class in ALL_CLASSES {
            // Bounded by the list's length: a moved node has `linked == last_seen`.
            let mut head = self.list(class)?.head;
            for _ in 0..self.index.len() {
                match self.node(head) {
                    Some(n) if n.entry.last_seen != n.linked => {
                        self.relink(head, class);
                        head = self.list(class)?.head;
                    }
                    _ => break,
                }
            }
            if let Some(n) = self.node(head)
                && best.is_none_or(|(t, _)| n.entry.last_seen < t)
            {
                best = Some((n.entry.last_seen, head));
            }
        }
        best.map(|(_, i)| i)
    }

    pub(super) fn remove_oldest(&mut self) -> Option<Entry<S>> {
        let idx = self.oldest()?;
        self.remove_idx(idx)
    }

    pub(super) fn remove_idx(&mut self, idx: u32) -> Option<Entry<S>> {
        let class = self.node(idx)?.entry.class;
        let hash = self.hasher.hash(&self.node(idx)?.entry.key);
        self.unlink(idx, class);
        if let Ok(occ) = self.index.find_entry(hash, |&i| i == idx) {
            occ.remove();
        }
        let node = self.slots.get_mut(usize::try_from(idx).ok()?)?.take()?;
        self.free.push(idx);
        Some(node.entry)
    }

    pub(super) fn alloc(&mut self, node: Node<S>) -> Option<u32> {
        if let Some(idx) = self.free.pop() {
            *self.slots.get_mut(usize::try_from(idx).ok()?)? = Some(node);
            return Some(idx);
        }
        let idx = u32::try_from(self.slots.len()).ok().filter(|&i| i != NIL)?;
        if self.slots.len() == self.slots.capacity() {
            // Double, but never past the cap: the slab is the table's largest block.
            let room = self.cap.saturating_sub(self.slots.len());
            self.slots
                .reserve_exact(self.slots.len().max(64).min(room).max(1));
        }
        self.slots.push(Some(node));
        Some(idx)
    }

    pub(super) fn unlink(&mut self, idx: u32, class: TimeoutClass) {
        let Some((prev, next)) = self.node(idx).map(|n| (n.prev, n.next)) else {
            return;
        };
        match self.node_mut(prev) {
            Some(p) => p.next = next,
            None => {
                if let Some(l) = self.lists.get_mut(class.index()) {
                    l.head = next;
                }
            }
        }
        match self.node_mut(next) {
            Some(n) => n.prev = prev,
            None => {
                if let Some(l) = self.lists.get_mut(class.index()) {
                    l.tail = prev;
                }
            }
        }
        if let Some(n) = self.node_mut(idx) {
            (n.prev, n.next) = (NIL, NIL);
        }
    }

    /// Moves a node to the tail of its list (it stays in `class`).
    pub(super) fn relink(&mut self, idx: u32, class: TimeoutClass) {
        self.unlink(idx, class);
        self.link_tail(idx, class);
    }

    /// Links an unlinked node at the tail of `class`'s list, stamping `linked`.
    pub(super) fn link_tail(&mut self, idx: u32, class: TimeoutClass) {
        let Some(tail) = self.list(class).map(|l| l.tail) else {
            return;
        };
        if let Some(n) = self.node_mut(idx) {
            (n.prev, n.next) = (tail, NIL);
            n.linked = n.entry.last_seen;
        }
        match self.node_mut(tail) {
            Some(t) => t.next = idx,
            None => {
                if let Some(l) = self.lists.get_mut(class.index()) {
                    l.head = idx;
                }
            }
        }
        if let Some(l) = self.lists.get_mut(class.index()) {
            l.tail = idx;
        }
    }
}

pub(super) fn slot_key<S>(slots: &[Option<Node<S>>], i: u32) -> Option<&FlowKey> {
    slots
        .get(usize::try_from(i).ok()?)?
        .as_ref()
        .map(|n| &n.entry.key)
}
