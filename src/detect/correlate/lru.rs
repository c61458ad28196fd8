//! A fixed-capacity map from a 64-bit key to a value, evicting the least recently
//! used entry when full: a slab of nodes on a doubly linked list, found through a hash
//! map of slab indexes. Every operation is O(1); nothing grows past the capacity given
//! at construction.
//!
//! (`analyze` has its own LRU slab; `detect` may not import `analyze`, and the two
//! differ in what they key by.)

use hashbrown::HashMap;

const NIL: u32 = u32::MAX;

struct Node<T> {
    key: u64,
    prev: u32,
    next: u32,
    val: T,
}

pub struct Lru<T> {
    map: HashMap<u64, u32, foldhash::fast::FixedState>,
    nodes: Vec<Node<T>>,
    /// Most recently used.
    head: u32,
    /// Least recently used: the next to go.
    tail: u32,
    cap: usize,
}

impl<T> Lru<T> {
    /// `cap` is at least 1.
    pub fn new(cap: usize) -> Lru<T> {
        Lru {
            map: HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0)),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.clamp(1, NIL as usize - 1),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn unlink(&mut self, i: u32) {
        let Some(n) = self.nodes.get(i as usize) else {
            return;
        };
        let (prev, next) = (n.prev, n.next);
        match self.nodes.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.prev = NIL;
            n.next = old;
        }
        match self.nodes.get_mut(old as usize) {
            Some(h) => h.prev = i,
            None => self.tail = i,
        }
        self.head = i;
    }

    /// The value under `key`, made the most recent; when absent, `make()` is stored,
    /// taking the least recently used entry's place when full. The flag tells whether
    /// an entry was evicted for it. (`None` cannot happen: the index is always live.)
    pub fn get_or_insert_with(
        &mut self,
        key: u64,
        make: impl FnOnce() -> T,
    ) -> Option<(&mut T, bool)> {
        let mut evicted = false;
        let i = match self.map.get(&key) {
            Some(&i) => {
                self.unlink(i);
                i
            }
            None if self.nodes.len() < self.cap => {
                let i = self.nodes.len() as u32;
                self.nodes.push(Node {
                    key,
                    prev: NIL,
                    next: NIL,
                    val: make(),
                });
                self.map.insert(key, i);
                i
            }
            None => {
                let i = self.tail;
                self.unlink(i);
                if let Some(n) = self.nodes.get_mut(i as usize) {
                    self.map.remove(&n.key);
                    n.key = key;
                    n.val = make();
                }
                self.map.insert(key, i);
                evicted = true;
                i
            }
        };
        self.push_front(i);
        // `i` is a live slab index: found in the map, just pushed, or the tail.
        self.nodes
            .get_mut(i as usize)
            .map(|n| (&mut n.val, evicted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut l = Lru::new(2);
        *l.get_or_insert_with(1, || 10).unwrap().0 += 1;
        l.get_or_insert_with(2, || 20);
        // 1 is used again: 2 is now the oldest.
        assert_eq!(*l.get_or_insert_with(1, || 0).unwrap().0, 11);
        let (v, evicted) = l.get_or_insert_with(3, || 30).unwrap();
        assert_eq!((*v, evicted), (30, true));
        assert_eq!(l.len(), 2);
        // 2 was evicted: it comes back fresh, evicting 1.
        let (v, evicted) = l.get_or_insert_with(2, || 21).unwrap();
        assert_eq!((*v, evicted), (21, true));
        assert_eq!(*l.get_or_insert_with(3, || 0).unwrap().0, 30);
    }

    #[test]
    fn capacity_one() {
        let mut l = Lru::new(0);
        l.get_or_insert_with(7, || 1);
        assert!(l.get_or_insert_with(8, || 2).unwrap().1);
        assert_eq!(l.len(), 1);
        assert!(!l.is_empty());
    }
}
