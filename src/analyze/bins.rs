//! The observation window cut into 24 equal bins, and the two beacon subscores read
//! from the bin counts: histogram (are check-ins spread evenly over time?) and
//! duration (how much of the window does the pair span?).
//!
//! RITA works on one day of logs in hourly bins; we keep its 24 bins but let the
//! caller choose the window, so a bin is `window / 24` long (an hour for a day).
//!
//! The counts cover *every* check-in of the window, not only the capped sample the
//! timing and size scores read (see `beacon_score::CHECKIN_CAP`): 24 counters, a total
//! and the first and last times cost about 130 bytes per pair whatever the rate.

use crate::time::{Duration, Timestamp};

use super::stats::clamp01;

/// Number of equal bins in the window: RITA's 24 hours of a day.
pub const BINS: usize = 24;

/// The observation period `[start, end]` (both ends included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub const fn new(start: Timestamp, end: Timestamp) -> Window {
        Window { start, end }
    }

    /// Length of the window; zero when `end <= start`.
    pub const fn len(self) -> Duration {
        self.end.since(self.start)
    }

    /// Index of the bin holding `t`, `None` outside the window or when the window has
    /// no length. The end instant falls in the last bin.
    pub fn bin(self, t: Timestamp) -> Option<usize> {
        let len = i128::from(self.len().as_nanos());
        if len <= 0 || t < self.start || t > self.end {
            return None;
        }
        let off = i128::from(t.since(self.start).as_nanos());
        let idx = off.checked_mul(BINS as i128)?.checked_div(len)?;
        Some(
            usize::try_from(idx)
                .unwrap_or(BINS)
                .min(BINS.saturating_sub(1)),
        )
    }
}

/// Check-in counts of one pair over one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bins {
    window: Window,
    counts: [u32; BINS],
    total: u64,
    outside: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

impl Bins {
    pub fn new(window: Window) -> Bins {
        Bins {
            window,
            counts: [0; BINS],
            total: 0,
            outside: 0,
            first: None,
            last: None,
        }
    }

    /// Counts a check-in started at `t`. One outside the window is only counted in
    /// [`Bins::outside`] (the caller's window and its clock disagree: worth a counter).
    pub fn add(&mut self, t: Timestamp) {
        let Some(slot) = self.window.bin(t).and_then(|i| self.counts.get_mut(i)) else {
            self.outside = self.outside.saturating_add(1);
            return;
        };
        *slot = slot.saturating_add(1);
        self.total = self.total.saturating_add(1);
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    /// Counts `n` check-ins started at `t` at once (a caller that keeps older check-ins
    /// as counts per time slot, not one by one). Same rules as [`Bins::add`].
    pub fn add_many(&mut self, t: Timestamp, n: u32) {
        if n == 0 {
            return;
        }
        let Some(slot) = self.window.bin(t).and_then(|i| self.counts.get_mut(i)) else {
            self.outside = self.outside.saturating_add(u64::from(n));
            return;
        };
        *slot = slot.saturating_add(n);
        self.total = self.total.saturating_add(u64::from(n));
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    /// Counts every start of `starts`.
    pub fn from_starts(window: Window, starts: impl IntoIterator<Item = Timestamp>) -> Bins {
        let mut bins = Bins::new(window);
        for t in starts {
            bins.add(t);
        }
        bins
    }

    pub fn window(&self) -> Window {
        self.window
    }

    pub fn counts(&self) -> &[u32; BINS] {
        &self.counts
    }

    /// Check-ins inside the window.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Check-ins offered outside the window (not in any bin).
    pub fn outside(&self) -> u64 {
        self.outside
    }

    /// From the first to the last check-in inside the window.
    pub fn span(&self) -> Duration {
        match (self.first, self.last) {
            (Some(f), Some(l)) => l.since(f),
            _ => Duration(0),
        }
    }

    pub fn non_empty(&self) -> usize {
        self.counts.iter().filter(|&&c| c > 0).count()
    }
}

/// `1 − coefficient of variation` of the 24 counts (population standard deviation over
/// the mean, empty bins included, as rita-legacy PR #742 computes it), clamped to
/// `[0, 1]`: 1 for an even spread, 0 when the counts vary as much as their mean.
pub fn cv_score(counts: &[u32; BINS]) -> f64 {
    let n = BINS as f64;
    let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let positive = mean > 0.0;
    if !positive {
        return 0.0;
    }
    let var = counts
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / n;
    clamp01(1.0 - var.sqrt() / mean)
}

/// RITA's bimodal fit (rita-legacy PR #794, RITA v5 `histogram_mode_sensitivity`,
/// `histogram_bimodal_outlier_removal`, `histogram_bimodal_min_hours_seen`): a beacon
/// that alternates between two rates (busy hours, quiet hours) has a poor CV but its
/// non-empty bins fall in two count values.
///
/// - Only non-empty bins count; fewer than `min_bins` of them score 0.
/// - Counts are grouped with a jitter tolerance: bucket width
///   `ceil(max count × bucket_share)` (at least 1), a bin's bucket is
///   `count / width` (rounded down).
/// - Score = (bins in the largest bucket + bins in the second largest) /
///   (non-empty bins − `outliers`), clamped to `[0, 1]`: `outliers` stray bins may sit
///   outside the two groups and still score 1.
pub fn bimodal_score(
    counts: &[u32; BINS],
    bucket_share: f64,
    outliers: usize,
    min_bins: usize,
) -> f64 {
    let max = counts.iter().copied().max().unwrap_or(0);
    // NaN, negative or tiny shares all mean "no tolerance": width 1.
    let width = (f64::from(max) * bucket_share).ceil();
    let width = if width >= 1.0 {
        // Saturating float-to-int cast: a huge share gives one bucket for everything.
        width as u32
    } else {
        1
    };
    let mut keys = [0u32; BINS];
    let mut n = 0usize;
    for &c in counts.iter().filter(|&&c| c > 0) {
        if let Some(k) = keys.get_mut(n) {
            *k = c.checked_div(width).unwrap_or(0);
            n = n.saturating_add(1);
        }
    }
    if n == 0 || n < min_bins {
        return 0.0;
    }
    let Some(keys) = keys.get_mut(..n) else {
        return 0.0;
    };
    keys.sort_unstable();
    let (mut top1, mut top2) = (0usize, 0usize);
    for group in keys.chunk_by(|a, b| a == b) {
        let len = group.len();
        if len > top1 {
            top2 = top1;
            top1 = len;
        } else if len > top2 {
            top2 = len;
        }
    }
    let denom = n.saturating_sub(outliers);
    if denom == 0 {
        return 0.0;
    }
    clamp01(top1.saturating_add(top2) as f64 / denom as f64)
}

/// The histogram subscore: the better of the CV score and the bimodal fit.
pub fn histogram_score(bins: &Bins, bucket_share: f64, outliers: usize, min_bins: usize) -> f64 {
    let counts = bins.counts();
    cv_score(counts).max(bimodal_score(counts, bucket_share, outliers, min_bins))
}

/// The longest run of consecutive non-empty bins, wrapping from the last bin to the
/// first (rita-legacy PR #793: a pair busy from 22:00 to 03:00 ran for 5 hours).
pub fn longest_run(counts: &[u32; BINS]) -> usize {
    if counts.iter().all(|&c| c > 0) {
        return BINS;
    }
    // Walking the bins twice sees every run that wraps; as at least one bin is empty,
    // no run found this way is longer than BINS − 1.
    let (mut best, mut run) = (0usize, 0usize);
    for &c in counts.iter().chain(counts.iter()) {
        if c > 0 {
            run = run.saturating_add(1);
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best.min(BINS)
}

/// The duration subscore (rita-legacy PR #793): the better of
/// - coverage: (last − first check-in) / window length, and
/// - consistency: [`longest_run`] / `ideal_run` (RITA: 12 bins, half the day),
///
/// clamped to `[0, 1]`. A window without length scores 0.
pub fn duration_score(bins: &Bins, ideal_run: usize) -> f64 {
    let len = bins.window().len().as_nanos();
    if len <= 0 {
        return 0.0;
    }
    let coverage = bins.span().as_nanos() as f64 / len as f64;
    let run = longest_run(bins.counts());
    let consistency = run as f64 / ideal_run.max(1) as f64;
    clamp01(coverage.max(consistency))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::float_cmp,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000;

    fn day() -> Window {
        Window::new(Timestamp::from_secs(T), Timestamp::from_secs(T + 86_400))
    }

    fn at_hours(hours: &[f64]) -> Bins {
        Bins::from_starts(
            day(),
            hours
                .iter()
                .map(|h| Timestamp::from_millis(T * 1000 + (h * 3_600_000.0) as i64)),
        )
    }

    #[test]
    fn bins_split_the_window_evenly() {
        let w = day();
        assert_eq!(w.bin(w.start), Some(0));
        assert_eq!(w.bin(Timestamp::from_secs(T + 3599)), Some(0));
        assert_eq!(w.bin(Timestamp::from_secs(T + 3600)), Some(1));
        assert_eq!(w.bin(w.end), Some(23));
        assert_eq!(w.bin(Timestamp::from_secs(T - 1)), None);
        assert_eq!(w.bin(Timestamp::from_secs(T + 86_401)), None);
        let zero = Window::new(w.start, w.start);
        assert_eq!(zero.bin(w.start), None);
        let backwards = Window::new(w.end, w.start);
        assert_eq!(backwards.bin(w.start), None);
    }

    #[test]
    fn cv_score_by_hand() {
        assert_eq!(cv_score(&[5; BINS]), 1.0);
        assert_eq!(cv_score(&[0; BINS]), 0.0);
        // 12 bins of 2 and 12 empty: mean 1, sd 1, CV 1 → 0.
        let mut c = [0u32; BINS];
        for i in (0..BINS).step_by(2) {
            c[i] = 2;
        }
        assert_eq!(cv_score(&c), 0.0);
        // Alternating 10 and 30: mean 20, sd 10, CV 0.5 → 0.5.
        let alt: [u32; BINS] = std::array::from_fn(|i| if i % 2 == 0 { 10 } else { 30 });
        assert_eq!(cv_score(&alt), 0.5);
    }

    #[test]
    fn bimodal_histogram() {
        // Alternating 10 and 30: width ceil(30 × 0.05) = 2, buckets 5 and 15 with 12
        // bins each: (12 + 12) / (24 − 1) > 1 → 1. The CV score alone is only 0.5.
        let alt: [u32; BINS] = std::array::from_fn(|i| if i % 2 == 0 { 10 } else { 30 });
        assert_eq!(bimodal_score(&alt, 0.05, 1, 11), 1.0);
        let bins = Bins {
            counts: alt,
            ..Bins::new(day())
        };
        assert_eq!(histogram_score(&bins, 0.05, 1, 11), 1.0);
    }

    #[test]
    fn bimodal_histogram_tolerates_jitter_and_one_outlier() {
        // Lows of 10/11, highs of 30/31, one stray 20. Max 31 → width ceil(1.55) = 2:
        // 10, 11 → bucket 5 (12 bins); 30, 31 → 15 (11 bins); 20 → 10 (1 bin).
        // (12 + 11) / (24 − 1) = 1.
        let mut c: [u32; BINS] = std::array::from_fn(|i| match (i % 2, (i / 2) % 2) {
            (0, 0) => 10,
            (0, _) => 11,
            (_, 0) => 30,
            _ => 31,
        });
        c[23] = 20;
        assert_eq!(bimodal_score(&c, 0.05, 1, 11), 1.0);
        // With no tolerance (width 1) the values 10, 11, 30 hold 6 bins each, 31 holds
        // 5 and 20 holds 1: (6 + 6) / 23.
        assert_eq!(bimodal_score(&c, 0.0, 1, 11), 12.0 / 23.0);
        assert_eq!(bimodal_score(&c, f64::NAN, 1, 11), 12.0 / 23.0);
    }

    #[test]
    fn bimodal_needs_enough_non_empty_bins() {
        let mut c = [0u32; BINS];
        for slot in c.iter_mut().take(10) {
            *slot = 7;
        }
        assert_eq!(bimodal_score(&c, 0.05, 1, 11), 0.0);
        c[10] = 7;
        assert_eq!(bimodal_score(&c, 0.05, 1, 11), 1.0);
        assert_eq!(bimodal_score(&[0; BINS], 0.05, 1, 0), 0.0);
        assert_eq!(bimodal_score(&c, 0.05, 99, 0), 0.0);
    }

    #[test]
    fn wrap_around_run() {
        // Bins 22, 23, 0, 1, 2 → one run of 5.
        let b = at_hours(&[22.5, 23.5, 0.5, 1.5, 2.5]);
        assert_eq!(b.non_empty(), 5);
        assert_eq!(longest_run(b.counts()), 5);
        // Its coverage (23.5 h − 0.5 h) / 24 h = 23/24 beats the consistency 5/12.
        assert!((duration_score(&b, 12) - 23.0 / 24.0).abs() < 1e-12);
        assert_eq!(longest_run(&[1; BINS]), BINS);
        assert_eq!(longest_run(&[0; BINS]), 0);
    }

    #[test]
    fn duration_consistency_beats_coverage() {
        // Bins 3..=10 (8 h of office hours): coverage (10.5 − 3.5) / 24 = 7/24,
        // consistency 8/12.
        let hours: Vec<f64> = (3..=10).map(|h| f64::from(h) + 0.5).collect();
        let b = at_hours(&hours);
        assert!((duration_score(&b, 12) - 8.0 / 12.0).abs() < 1e-12);
        // 12 consecutive bins or more → 1.
        let hours: Vec<f64> = (0..14).map(|h| f64::from(h) + 0.5).collect();
        assert_eq!(duration_score(&at_hours(&hours), 12), 1.0);
        assert_eq!(duration_score(&at_hours(&[]), 12), 0.0);
    }

    #[test]
    fn add_many_is_add_repeated() {
        let t = Timestamp::from_secs(T + 7200);
        let mut one = Bins::new(day());
        for _ in 0..5 {
            one.add(t);
        }
        let mut many = Bins::new(day());
        many.add_many(t, 5);
        many.add_many(t, 0);
        many.add_many(Timestamp::from_secs(T - 1), 3);
        assert_eq!(many.outside(), 3);
        assert_eq!(
            (many.counts(), many.total(), many.span()),
            (one.counts(), one.total(), one.span())
        );
    }

    #[test]
    fn zero_window_counts_nothing() {
        let t = Timestamp::from_secs(T);
        let b = Bins::from_starts(Window::new(t, t), [t, t]);
        assert_eq!((b.total(), b.outside()), (0, 2));
        assert_eq!(duration_score(&b, 12), 0.0);
        assert_eq!(histogram_score(&b, 0.05, 1, 11), 0.0);
    }
}
