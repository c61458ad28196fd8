//! Alerts over time in fixed memory: counts per time bin and level, whose bins widen
//! (1 s, 2 s, 4 s, …) whenever the input spans more than [`MAX_BINS`] of them, so one
//! pass needs no idea of the time range up front. Merging two neighbouring bins into
//! one loses nothing the page draws: it draws at most [`MAX_BINS`] / 32 columns.

use std::collections::BTreeMap;

use crate::time::Timestamp;

/// Bins held at most: 4096 × 6 counts is 200 KiB, and a one-day capture keeps
/// 32-second bins, finer than any column of the drawing.
pub const MAX_BINS: usize = 4096;

/// Alert levels in the order drawn (bottom to top), Sigma's five and one for
/// anything else a foreign line carries.
pub const LEVELS: [&str; 6] = [
    "informational",
    "low",
    "medium",
    "high",
    "critical",
    "other",
];

/// The index of a level in [`LEVELS`] (case-insensitive; unknown ones are `other`).
pub fn level_index(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(LEVELS.len() - 1)
}

#[derive(Clone, Debug)]
pub struct Timeline {
    /// Bin width in nanoseconds; doubles when the bins would pass [`MAX_BINS`].
    width: i64,
    bins: BTreeMap<i64, [u64; LEVELS.len()]>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width: 1_000_000_000,
            bins: BTreeMap::new(),
        }
    }
}

impl Timeline {
    /// Counts one alerting event at `t` under its highest level.
    pub fn add(&mut self, t: Timestamp, level: usize) {
        let level = level.min(LEVELS.len() - 1);
        let mut idx = t.as_nanos().div_euclid(self.width);
        while !self.bins.contains_key(&idx) && self.bins.len() >= MAX_BINS {
            self.widen();
            idx = t.as_nanos().div_euclid(self.width);
        }
        if let Some(c) = self.bins.entry(idx).or_default().get_mut(level) {
            *c += 1;
        }
    }

    /// Doubles the bin width, merging neighbours.
    fn widen(&mut self) {
        let old = std::mem::take(&mut self.bins);
        self.width = self.width.saturating_mul(2);
        for (idx, counts) in old {
            let merged = self.bins.entry(idx.div_euclid(2)).or_default();
            for (m, c) in merged.iter_mut().zip(counts) {
                *m += c;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Bin width in nanoseconds.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// (bin start, counts per level), in time order.
    pub fn bins(&self) -> impl Iterator<Item = (Timestamp, &[u64; LEVELS.len()])> {
        self.bins
            .iter()
            .map(|(i, c)| (Timestamp(i.saturating_mul(self.width)), c))
    }

    /// Counts regrouped into `columns` equal spans from the first bin to the end of
    /// the last, with the span's width in nanoseconds (empty when there is nothing).
    pub fn columns(&self, columns: usize) -> (Vec<[u64; LEVELS.len()]>, Timestamp, i64) {
        let (Some((&first, _)), Some((&last, _))) =
            (self.bins.first_key_value(), self.bins.last_key_value())
        else {
            return (Vec::new(), Timestamp::ZERO, 0);
        };
        // Bins spanned, first to last (at most 2^64: the indexes are i64).
        let bins = (last.abs_diff(first)).saturating_add(1);
        let columns = (columns.max(1) as u64).min(bins);
        // Whole bins per column, rounded up so that the last bin lands in the last column.
        let per = bins.div_ceil(columns);
        let columns = bins.div_ceil(per);
        let mut out = vec![[0u64; LEVELS.len()]; columns as usize];
        for (&idx, counts) in &self.bins {
            let col = (idx.abs_diff(first) / per) as usize;
            if let Some(o) = out.get_mut(col) {
                for (a, c) in o.iter_mut().zip(counts) {
                    *a += c;
                }
            }
        }
        let per = i64::try_from(per).unwrap_or(i64::MAX);
        (
            out,
            Timestamp(first.saturating_mul(self.width)),
            per.saturating_mul(self.width),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_past_the_cap_and_keeps_every_count() {
        let mut t = Timeline::default();
        for s in 0..(MAX_BINS as i64 * 3) {
            t.add(Timestamp::from_secs(1_800_000_000 + s), 3);
        }
        assert!(t.bins().count() <= MAX_BINS);
        assert_eq!(t.width(), 4_000_000_000);
        let total: u64 = t.bins().map(|(_, c)| c[3]).sum();
        assert_eq!(total, MAX_BINS as u64 * 3);
        let (cols, _, _) = t.columns(100);
        assert!(cols.len() <= 100);
        assert_eq!(cols.iter().map(|c| c[3]).sum::<u64>(), MAX_BINS as u64 * 3);
    }

    #[test]
    fn hostile_times_stay_bounded() {
        let mut t = Timeline::default();
        t.add(Timestamp(i64::MIN), level_index("HIGH"));
        t.add(Timestamp(i64::MAX), level_index("whatever"));
        t.add(Timestamp(0), 0);
        let (cols, _, _) = t.columns(120);
        assert!(cols.len() <= 120);
        assert_eq!(cols.iter().flatten().sum::<u64>(), 3);
    }
}
