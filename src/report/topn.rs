//! Bounded counting tables: the top of a stream of names in fixed memory, as a Zeek
//! summary gives it (the heaviest keys exactly, the tail as one "other" count).
//!
//! A [`TopCounter`] counts every key exactly until it holds `cap` keys. A new key past
//! the cap first prunes the table to its heavier half: the lighter keys leave, their
//! counts move into the "other" share and are counted ([`TopCounter::dropped_keys`]),
//! and the largest count dropped is kept as the error bound: a key that comes back
//! after being dropped restarts from zero, so its shown count can be low by at most
//! [`TopCounter::max_dropped`]. Pruning sorts the table once per `cap / 2` new keys,
//! so a key costs O(log cap) amortized however many distinct names the input has.
//! Until the first prune every count is exact; the page says which case it is.
//!
//! Keys are cut at [`KEY_MAX`] bytes (with `…` appended and the cut counted): a name
//! from the wire can be 16 KiB, and the table's memory is `cap × KEY_MAX` at most.

use hashbrown::HashMap;

/// Longest key kept, in bytes: longer than any DNS name (253 characters in
/// presentation form, 1025 with escapes is rare) that an analyst reads in a table;
/// an HTTP Host or URI past it is cut, marked and counted.
pub const KEY_MAX: usize = 512;

/// One key's count and what the caller keeps beside it (example names, a title).
#[derive(Clone, Debug, Default)]
pub struct Entry<V> {
    pub count: u64,
    pub extra: V,
}

#[derive(Clone, Debug)]
pub struct TopCounter<V> {
    entries: HashMap<Box<str>, Entry<V>>,
    cap: usize,
    total: u64,
    dropped_keys: u64,
    max_dropped: u64,
    truncated_keys: u64,
}

impl<V: Default> TopCounter<V> {
    /// A table of at most `cap` keys (at least 2, so that a prune keeps one).
    pub fn new(cap: usize) -> Self {
        TopCounter {
            entries: HashMap::new(),
            cap: cap.max(2),
            total: 0,
            dropped_keys: 0,
            max_dropped: 0,
            truncated_keys: 0,
        }
    }

    /// Counts `n` for `key` and returns its entry, for the caller's extras.
    pub fn add(&mut self, key: &str, n: u64) -> &mut Entry<V> {
        self.total = self.total.saturating_add(n);
        let key = self.clip(key);
        if !self.entries.contains_key(key.as_ref()) && self.entries.len() >= self.cap {
            self.prune();
        }
        let e = self.entries.entry_ref(key.as_ref()).or_default();
        e.count = e.count.saturating_add(n);
        e
    }

    /// The key as stored: cut at [`KEY_MAX`] on a character boundary, marked with `…`.
    fn clip<'k>(&mut self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if key.len() <= KEY_MAX {
            return key.into();
        }
        self.truncated_keys += 1;
        let mut end = KEY_MAX;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &key[..end]).into()
    }

    /// Keeps the heavier half (ties broken by key, so a run is reproducible).
    fn prune(&mut self) {
        let mut all: Vec<(Box<str>, Entry<V>)> = self.entries.drain().collect();
        all.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
        let keep = self.cap / 2;
        for (_, e) in all.iter().skip(keep) {
            self.dropped_keys += 1;
            self.max_dropped = self.max_dropped.max(e.count);
        }
        self.entries.extend(all.into_iter().take(keep));
    }

    /// The `n` heaviest keys, heaviest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<(&str, &Entry<V>)> {
        let mut v: Vec<(&str, &Entry<V>)> =
            self.entries.iter().map(|(k, e)| (k.as_ref(), e)).collect();
        v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Every count added, kept keys or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// What `top(n)` does not show: the total minus the shown counts.
    pub fn other(&self, n: usize) -> u64 {
        let shown: u64 = self.top(n).iter().map(|(_, e)| e.count).sum();
        self.total.saturating_sub(shown)
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Keys dropped by prunes (a key dropped twice counts twice).
    pub fn dropped_keys(&self) -> u64 {
        self.dropped_keys
    }

    /// The largest count a prune dropped: how low a shown count can be.
    pub fn max_dropped(&self) -> u64 {
        self.max_dropped
    }

    /// Keys cut at [`KEY_MAX`].
    pub fn truncated_keys(&self) -> u64 {
        self.truncated_keys
    }

    pub fn get(&self, key: &str) -> Option<&Entry<V>> {
        self.entries.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_until_the_cap() {
        let mut t: TopCounter<()> = TopCounter::new(4);
        for k in ["a", "b", "a", "c", "a", "b", "d"] {
            t.add(k, 1);
        }
        let top: Vec<(&str, u64)> = t.top(2).iter().map(|(k, e)| (*k, e.count)).collect();
        assert_eq!(top, [("a", 3), ("b", 2)]);
        assert_eq!(t.other(2), 2);
        assert_eq!((t.total(), t.dropped_keys(), t.max_dropped()), (7, 0, 0));
    }

    #[test]
    fn past_the_cap_keeps_the_heavy_keys_and_counts_the_rest() {
        let mut t: TopCounter<()> = TopCounter::new(10);
        for _ in 0..100 {
            t.add("heavy", 1);
        }
        for i in 0..10_000 {
            t.add(&format!("once-{i}"), 1);
        }
        assert!(t.len() <= 10);
        assert_eq!(t.get("heavy").map(|e| e.count), Some(100));
        assert_eq!(t.top(1)[0].0, "heavy");
        assert_eq!(t.total(), 10_100);
        // The table was pruned; every dropped key had been seen once.
        assert!(t.dropped_keys() >= 10_000 - 10, "{}", t.dropped_keys());
        assert_eq!(t.max_dropped(), 1);
        assert_eq!(t.other(1), 10_000);
    }

    #[test]
    fn a_late_heavy_key_is_low_by_at_most_the_bound() {
        let mut t: TopCounter<()> = TopCounter::new(4);
        t.add("late", 2);
        for i in 0..50 {
            t.add(&format!("k{i}"), 3);
        }
        t.add("late", 10);
        let shown = t.get("late").map_or(0, |e| e.count);
        assert!(
            shown + t.max_dropped() >= 12,
            "{shown} + {}",
            t.max_dropped()
        );
    }

    #[test]
    fn long_keys_are_cut_marked_and_counted() {
        let mut t: TopCounter<()> = TopCounter::new(4);
        let long = "é".repeat(KEY_MAX);
        t.add(&long, 1);
        t.add(&long, 1);
        let (k, e) = t.top(1)[0];
        assert!(k.ends_with('…') && k.len() <= KEY_MAX + '…'.len_utf8());
        assert_eq!((e.count, t.truncated_keys()), (2, 2));
    }
}
