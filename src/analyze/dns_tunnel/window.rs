//! The sliding window in sub-windows: which sub-window a time falls in, moving a ring of
//! them forward, when an alert may repeat, and the rates read over the window.

use super::*;

/// The sub-window index holding `t`.
pub(super) fn epoch(t: i64, width: i64) -> i64 {
    t.checked_div_euclid(width).unwrap_or(0)
}

pub(super) fn slot_of(epoch: i64) -> usize {
    usize::try_from(epoch.rem_euclid(BUCKETS as i64)).unwrap_or(0)
}

/// Moves the ring to sub-window `e` (never back), clearing the sub-windows it passes;
/// returns the slot of the current one.
pub(super) fn advance<B: Copy>(
    buckets: &mut [B; BUCKETS],
    current: &mut i64,
    e: i64,
    empty: B,
) -> usize {
    if e > *current {
        let steps = e.saturating_sub(*current).min(BUCKETS as i64);
        let mut k = 0i64;
        while k < steps {
            if let Some(b) = buckets.get_mut(slot_of(e.saturating_sub(k))) {
                *b = empty;
            }
            k = k.saturating_add(1);
        }
        *current = e;
    }
    slot_of(*current)
}

/// Files a query seen at `t` in an entry's ring of sub-windows. An entry's time never
/// goes back (an older packet counts in the current sub-window); returns that time and
/// the slot of its sub-window.
pub(super) fn file<B: Copy>(ring: Ring<'_, B>, t: i64, width: i64, empty: B) -> (i64, usize) {
    let t = t.max(*ring.last);
    *ring.last = t;
    (t, advance(ring.buckets, ring.epoch, epoch(t, width), empty))
}

/// Queries per sub-window of a ring at sub-window `current`, oldest first (the ring
/// clears the sub-windows it passes, so every slot holds its own sub-window's count).
pub(super) fn queries_by_age<B: SubWindow>(buckets: &[B; BUCKETS], current: i64) -> [u32; BUCKETS] {
    let mut out = [0u32; BUCKETS];
    for (age, q) in out.iter_mut().rev().enumerate() {
        let e = current.saturating_sub(age as i64);
        *q = buckets.get(slot_of(e)).map_or(0, SubWindow::queries);
    }
    out
}

/// An entry's ring of sub-windows, the sub-window it is at, and its last time.
pub(super) struct Ring<'a, B> {
    pub(super) buckets: &'a mut [B; BUCKETS],
    pub(super) epoch: &'a mut i64,
    pub(super) last: &'a mut i64,
}

/// What every sub-window keeps besides its own sums: its queries, when they came, and
/// the sketch of the names it counts.
pub(super) trait SubWindow {
    fn queries(&self) -> u32;
    fn span(&self) -> (i64, i64);
    fn sketch(&self) -> &[u8; HLL_M];
}

/// The window's first and last query times and the distinct count of its sketches'
/// union, over the sub-windows that saw a query; `(0, 0, 0)` when none did.
pub(super) fn merged<B: SubWindow>(buckets: &[B; BUCKETS]) -> (i64, i64, u64) {
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut hll = [0u8; HLL_M];
    let mut any = false;
    for b in buckets.iter().filter(|b| b.queries() > 0) {
        any = true;
        let (f, l) = b.span();
        first = first.min(f);
        last = last.max(l);
        for (acc, r) in hll.iter_mut().zip(b.sketch().iter()) {
            *acc = (*acc).max(*r);
        }
    }
    if !any {
        return (0, 0, 0);
    }
    (first, last, hll_estimate(&hll))
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Alerted {
    pub(super) at: i64,
    pub(super) distinct: u64,
}

pub(super) fn should_alert(
    prev: Option<Alerted>,
    now: i64,
    distinct: u64,
    window: i64,
    worse: f64,
) -> bool {
    match prev {
        None => true,
        Some(p) => {
            now.saturating_sub(p.at) >= window || distinct as f64 >= p.distinct as f64 * worse
        }
    }
}

pub(super) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub(super) fn nanos_secs(n: i64) -> f64 {
    n as f64 / 1e9
}

/// Minutes of activity between `first` and `last`, at least one: a burst of 300 names in
/// 40 ms is 300 a minute, not 450,000.
pub(super) fn active_minutes(first: i64, last: i64) -> f64 {
    (last.saturating_sub(first) as f64).max(NANOS_PER_MIN) / NANOS_PER_MIN
}
