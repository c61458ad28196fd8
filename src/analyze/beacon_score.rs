//! RITA v5's beacon score, written from its published description (not its code):
//! four subscores in `[0, 1]`, averaged with weights (0.25 each by default).
//!
//! - **Timing**: the gaps between consecutive connection starts, sorted (zero gaps,
//!   simultaneous connections, are dropped; at least [`MIN_GAPS`] must remain, else
//!   there is no score). Skew score `1 − |Bowley skew|` (skew 0 when Q3 − Q1 < 10 s or
//!   the median equals a quartile) and dispersion score `(median − MAD) / median`, averaged.
//! - **Data size**: the same two scores on the client's bytes per check-in. The skew
//!   exception applies with its own threshold (`size_min_iqr_bytes`, 10 B by default).
//! - **Histogram**: check-in starts in 24 equal bins of the window; the better of
//!   `1 − CV` of the counts and the bimodal fit ([`bins::bimodal_score`]).
//! - **Duration**: the better of the share of the window the pair spans and the longest
//!   run of non-empty bins (wrapping) over 12, clamped to 1 ([`bins::duration_score`]).
//!
//! Quartiles are the median of halves ([`stats`] has the method and a worked example).
//!
//! Sources read (descriptions, config comments and review threads only):
//! activecm/rita `default_config.hjson` (v5: weights, `duration_consistency_ideal_hours_seen`
//! 12, `histogram_mode_sensitivity` 0.05, `histogram_bimodal_outlier_removal` 1,
//! `histogram_bimodal_min_hours_seen` 11); rita-legacy PRs #69 (median = quartile),
//! #742 (CV of the hourly counts), #792 (connection-count part removed, skew adjusted),
//! #793 (duration = max of coverage and consistency, wrap-around), #794 (bimodal fit),
//! #697 (strobe at 86 400 connections a day), issue #751 (what each subscore means).
//! Where we differ: RITA v5 also zeroes the duration score of a pair seen in 6 hours
//! or fewer (`duration_min_hours_seen`); the contract does not, so neither do
//! we (a caller that wants it has [`Bins::non_empty`]).
//!
//! # Bounded input
//!
//! Timing and size read at most [`CHECKIN_CAP`] check-ins: the caller keeps the newest
//! ones per pair (a ring in arrival order), because gaps are only meaningful between
//! *consecutive* check-ins; a reservoir sample over the window would keep the window's
//! shape but turn every gap into a random multiple of the interval. The window's shape
//! (histogram, duration, strobe) comes instead from [`Bins`], which counts every
//! check-in in 24 counters at a fixed cost. So a 1-per-minute beacon over a day (1440
//! check-ins) is timed on its last 17 hours and binned on all 24.
//!
//! The scorer allocates nothing once its [`Scratch`] has grown to the cap.

use std::fmt;

use crate::time::{Duration, Timestamp};

use super::bins::{self, Bins};
use super::stats::{self, clamp01};

/// Check-ins per pair that the timing and size scores read. 1024 gaps put the quartiles
/// and the MAD within a fraction of a jitter step of their values on the whole series,
/// cover 17 hours of a 1-per-minute beacon, and cost 16 KiB per pair (16-byte check-ins)
/// plus 24 KiB of scratch per worker. A longer slice is read from its tail only.
pub const CHECKIN_CAP: usize = 1024;

/// Non-zero gaps needed for a timing score (RITA's `unique_connection_threshold` of 4
/// connections gives 3 gaps); fewer say nothing about regularity.
pub const MIN_GAPS: usize = 3;

const NANOS_PER_SEC: f64 = 1e9;
const NANOS_PER_DAY: u128 = 86_400 * 1_000_000_000;

/// One connection of a pair, as the caller records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckIn {
    pub start: Timestamp,
    /// Bytes sent by the client (Zeek's `orig_bytes`): what a beacon's check-in carries.
    pub client_bytes: u64,
}

/// Weights of the four subscores. They need not sum to 1: the total divides by their
/// sum. A negative, NaN or infinite weight counts as 0; all-zero weights give a total of 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub timing: f64,
    pub size: f64,
    pub histogram: f64,
    pub duration: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            timing: 0.25,
            size: 0.25,
            histogram: 0.25,
            duration: 0.25,
        }
    }
}

/// The scorer's knobs; [`Default`] is RITA v5's configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeaconConfig {
    pub weights: Weights,
    /// Below this interquartile range of the gaps (seconds), the timing skew is 0.
    pub timing_min_iqr_secs: f64,
    /// Below this interquartile range of the sizes (bytes), the size skew is 0.
    pub size_min_iqr_bytes: f64,
    /// Bimodal jitter tolerance, as a share of the largest bin count.
    pub bimodal_bucket_share: f64,
    /// Non-empty bins that may fall outside the two groups of the bimodal fit.
    pub bimodal_outliers: usize,
    /// Non-empty bins needed before the bimodal fit is tried.
    pub bimodal_min_bins: usize,
    /// A run of this many consecutive non-empty bins gives a duration score of 1.
    pub consistency_ideal_bins: usize,
    /// Check-ins per 24 hours from which a pair is a strobe (scaled to the window).
    pub strobe_per_day: u64,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            weights: Weights::default(),
            timing_min_iqr_secs: 10.0,
            size_min_iqr_bytes: 10.0,
            bimodal_bucket_share: 0.05,
            bimodal_outliers: 1,
            bimodal_min_bins: 11,
            consistency_ideal_bins: 12,
            strobe_per_day: 86_400,
        }
    }
}

/// A pair's beacon score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeaconScore {
    pub timing: f64,
    pub size: f64,
    pub histogram: f64,
    pub duration: f64,
    /// Weighted mean of the four, in `[0, 1]`.
    pub total: f64,
    pub median_interval_secs: f64,
    /// Median absolute deviation of the gaps: the jitter.
    pub interval_mad_secs: f64,
    pub median_bytes: f64,
    pub bytes_mad: f64,
    /// Check-ins in the window (all of them, from the bins).
    pub checkins: u64,
    /// First to last check-in of the window, in seconds.
    pub span_secs: f64,
    /// Check-ins the timing and size scores were computed on (≤ [`CHECKIN_CAP`]).
    pub samples: usize,
}

/// Reused buffers: one per worker, passed to every [`score`] call.
#[derive(Debug, Default)]
pub struct Scratch {
    order: Vec<CheckIn>,
    values: Vec<f64>,
    deviations: Vec<f64>,
}

impl Scratch {
    /// Buffers sized for [`CHECKIN_CAP`], so that scoring never allocates.
    pub fn new() -> Scratch {
        Scratch {
            order: Vec::with_capacity(CHECKIN_CAP),
            values: Vec::with_capacity(CHECKIN_CAP),
            deviations: Vec::with_capacity(CHECKIN_CAP),
        }
    }
}

impl Scratch {
    /// Heap bytes the buffers hold (for a caller that accounts its memory).
    pub fn heap_bytes(&self) -> usize {
        let cap = |n: usize, size: usize| n.saturating_mul(size);
        cap(self.order.capacity(), size_of::<CheckIn>())
            .saturating_add(cap(self.values.capacity(), size_of::<f64>()))
            .saturating_add(cap(self.deviations.capacity(), size_of::<f64>()))
    }
}

/// Scores a pair: `recent` are its newest check-ins (any order; only the last
/// [`CHECKIN_CAP`] of the slice are read), `bins` counts all of its check-ins in the
/// window. `None` when fewer than [`MIN_GAPS`] non-zero gaps remain.
pub fn score(
    recent: &[CheckIn],
    bins: &Bins,
    cfg: &BeaconConfig,
    scratch: &mut Scratch,
) -> Option<BeaconScore> {
    let tail = recent
        .get(recent.len().saturating_sub(CHECKIN_CAP)..)
        .unwrap_or_default();
    let Scratch {
        order,
        values,
        deviations,
    } = scratch;
    order.clear();
    order.extend_from_slice(tail);
    order.sort_unstable_by_key(|c| c.start);

    values.clear();
    for pair in order.windows(2) {
        if let [a, b] = pair {
            let gap = b.start.since(a.start).as_nanos();
            if gap > 0 {
                values.push(gap as f64 / NANOS_PER_SEC);
            }
        }
    }
    if values.len() < MIN_GAPS {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let timing = stats::regularity(values, cfg.timing_min_iqr_secs, deviations)?;

    values.clear();
    values.extend(order.iter().map(|c| c.client_bytes as f64));
    values.sort_unstable_by(f64::total_cmp);
    let size = stats::regularity(values, cfg.size_min_iqr_bytes, deviations)?;

    let histogram = bins::histogram_score(
        bins,
        cfg.bimodal_bucket_share,
        cfg.bimodal_outliers,
        cfg.bimodal_min_bins,
    );
    let duration = bins::duration_score(bins, cfg.consistency_ideal_bins);
    let subscores = [timing.score, size.score, histogram, duration];
    Some(BeaconScore {
        timing: timing.score,
        size: size.score,
        histogram,
        duration,
        total: weighted_total(subscores, &cfg.weights),
        median_interval_secs: timing.quartiles.median,
        interval_mad_secs: timing.mad,
        median_bytes: size.quartiles.median,
        bytes_mad: size.mad,
        checkins: bins.total(),
        span_secs: bins.span().as_nanos() as f64 / NANOS_PER_SEC,
        samples: order.len(),
    })
}

/// A strobe: so many check-ins that the pair is flagged whatever its score (RITA: one a
/// second over the day, 86 400, and it skips the beacon analysis of such pairs). The
/// threshold scales with the window: `total × 1 day / window ≥ strobe_per_day`.
/// A window without length holds no check-in and is never a strobe.
pub fn is_strobe(bins: &Bins, cfg: &BeaconConfig) -> bool {
    is_strobe_count(bins.total(), bins.window().len(), cfg)
}

/// [`is_strobe`] on a count of check-ins in a window of length `window`, for a caller
/// that keeps the count without building the bins.
pub fn is_strobe_count(checkins: u64, window: Duration, cfg: &BeaconConfig) -> bool {
    let len = u128::try_from(window.as_nanos()).unwrap_or(0);
    if len == 0 {
        return false;
    }
    let lhs = u128::from(checkins).saturating_mul(NANOS_PER_DAY);
    let rhs = u128::from(cfg.strobe_per_day).saturating_mul(len);
    lhs >= rhs
}

fn weighted_total(scores: [f64; 4], w: &Weights) -> f64 {
    let sane = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
    let ws = [w.timing, w.size, w.histogram, w.duration].map(sane);
    let sum: f64 = ws.iter().sum();
    let usable = sum > 0.0 && sum.is_finite();
    if !usable {
        return 0.0;
    }
    let dot: f64 = ws.iter().zip(scores).map(|(w, s)| w * s).sum();
    clamp01(dot / sum)
}

impl BeaconScore {
    /// A one-line explanation for people, e.g.
    /// `every 60 s ±4 s, 230 B ±12 B, 58 check-ins over 57 min`.
    pub fn reason(&self) -> Reason<'_> {
        Reason(self)
    }
}

/// The [`BeaconScore::reason`] text, written through `Display` (no allocation).
pub struct Reason<'a>(&'a BeaconScore);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        f.write_str("every ")?;
        secs(f, s.median_interval_secs)?;
        f.write_str(" ±")?;
        secs(f, s.interval_mad_secs)?;
        f.write_str(", ")?;
        num(f, s.median_bytes)?;
        f.write_str(" B ±")?;
        num(f, s.bytes_mad)?;
        let noun = if s.checkins == 1 {
            "check-in"
        } else {
            "check-ins"
        };
        write!(f, " B, {} {noun} over ", s.checkins)?;
        secs(f, s.span_secs)
    }
}

/// Seconds written as [`secs`] writes them (`45 s`, `12 min`, `1.5 h`).
pub struct Seconds(pub f64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        secs(f, self.0)
    }
}

/// Seconds in the unit a person would say: `45 s`, `12 min`, `1.5 h`.
fn secs(f: &mut fmt::Formatter<'_>, s: f64) -> fmt::Result {
    // NaN falls through to seconds, where `num` writes `?`.
    if s >= 7200.0 {
        num(f, s / 3600.0)?;
        f.write_str(" h")
    } else if s >= 120.0 {
        num(f, s / 60.0)?;
        f.write_str(" min")
    } else {
        num(f, s)?;
        f.write_str(" s")
    }
}

/// Whole numbers from 10 up or when the fraction is negligible, else one decimal.
fn num(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if !x.is_finite() {
        return f.write_str("?");
    }
    let r = x.round();
    if x.abs() >= 10.0 || (x - r).abs() < 0.05 {
        write!(f, "{r:.0}")
    } else {
        write!(f, "{x:.1}")
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::float_cmp,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::super::bins::Window;
    use super::*;
    use proptest::prelude::*;

    const T: i64 = 1_700_000_000;

    fn at(secs: i64, bytes: u64) -> CheckIn {
        CheckIn {
            start: Timestamp::from_secs(T + secs),
            client_bytes: bytes,
        }
    }

    fn window(secs: i64) -> Window {
        Window::new(Timestamp::from_secs(T), Timestamp::from_secs(T + secs))
    }

    fn run(checkins: &[CheckIn], w: Window) -> Option<BeaconScore> {
        let bins = Bins::from_starts(w, checkins.iter().map(|c| c.start));
        score(
            checkins,
            &bins,
            &BeaconConfig::default(),
            &mut Scratch::new(),
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_beacon() {
        // 24 check-ins every 60 s at offsets 30, 90, …, 1410 of a 24-minute window: one
        // per bin. Gaps all 60 → Q1 = median = Q3, skew 0, MAD 0 → timing 1. Sizes all
        // 230 → size 1. Equal bins → CV 0 → histogram 1. Run of 24 ≥ 12 → duration 1.
        let c: Vec<CheckIn> = (0..24).map(|k| at(30 + 60 * k, 230)).collect();
        let s = run(&c, window(1440)).unwrap();
        assert_eq!(
            (s.timing, s.size, s.histogram, s.duration, s.total),
            (1.0, 1.0, 1.0, 1.0, 1.0)
        );
        assert_eq!((s.median_interval_secs, s.interval_mad_secs), (60.0, 0.0));
        assert_eq!((s.checkins, s.samples, s.span_secs), (24, 24, 1380.0));
        assert_eq!(
            s.reason().to_string(),
            "every 60 s ±0 s, 230 B ±0 B, 24 check-ins over 23 min"
        );
    }

    #[test]
    fn jittered_beacon() {
        // Gaps 50, 55, 60, 60, 65, 70, 90 (sorted, n = 7): median 60, Q1 = median of
        // [50, 55, 60] = 55, Q3 = median of [65, 70, 90] = 70. IQR 15 ≥ 10, so Bowley
        // = (55 + 70 − 120) / 15 = 1/3 → skew score 2/3. Deviations from 60: 10, 5, 0,
        // 0, 5, 10, 30 → MAD 5 → dispersion (60 − 5) / 60 = 11/12.
        // Timing = (2/3 + 11/12) / 2 = 19/24.
        //
        // Sizes 200, 210, 220, 230, 230, 240, 250, 300 (n = 8): median 230, Q1 = 215,
        // Q3 = 245, Bowley (215 + 245 − 460) / 30 = 0 → 1. Deviations 30, 20, 10, 0, 0,
        // 10, 20, 70 → sorted middle pair 10, 20 → MAD 15 → dispersion 215/230 = 43/46.
        // Size = (1 + 43/46) / 2 = 89/92.
        //
        // Window = the 450 s the check-ins span: coverage 1 → duration 1. The 8
        // check-ins (offsets 0, 60, 110, 200, 255, 320, 380, 450) sit one each in bins
        // 0, 3, 5, 10, 13, 17, 20, 23 (width 18.75 s):
        // mean 1/3, sd √2/3, CV √2 → 0; 8 non-empty bins < 11 → no bimodal: histogram 0.
        // Total = (19/24 + 89/92 + 0 + 1) / 4 = 1523/2208.
        let gaps = [60, 50, 90, 55, 65, 60, 70];
        let sizes = [230, 200, 250, 210, 300, 220, 240, 230];
        let mut t = 0;
        let mut c = vec![at(0, sizes[0])];
        for (g, b) in gaps.iter().zip(&sizes[1..]) {
            t += g;
            c.push(at(t, *b));
        }
        let s = run(&c, window(450)).unwrap();
        assert!(close(s.timing, 19.0 / 24.0), "{}", s.timing);
        assert!(close(s.size, 89.0 / 92.0), "{}", s.size);
        assert_eq!((s.histogram, s.duration), (0.0, 1.0));
        assert!(close(s.total, 1523.0 / 2208.0), "{}", s.total);
        assert_eq!((s.median_interval_secs, s.interval_mad_secs), (60.0, 5.0));
        assert_eq!((s.median_bytes, s.bytes_mad), (230.0, 15.0));
        assert_eq!(
            s.reason().to_string(),
            "every 60 s ±5 s, 230 B ±15 B, 8 check-ins over 7.5 min"
        );
    }

    #[test]
    fn too_few_gaps_is_no_score() {
        let w = window(3600);
        assert_eq!(run(&[], w), None);
        assert_eq!(run(&[at(0, 1), at(60, 1), at(120, 1)], w), None);
        // Four check-ins but two start together: only 2 non-zero gaps.
        assert_eq!(run(&[at(0, 1), at(60, 1), at(60, 1), at(120, 1)], w), None);
        // Five with one duplicate: 3 non-zero gaps are enough.
        let five = [at(0, 1), at(60, 1), at(60, 1), at(120, 1), at(180, 1)];
        assert_eq!(run(&five, w).map(|s| s.timing), Some(1.0));
    }

    #[test]
    fn unsorted_input_is_sorted_first() {
        let c = [at(180, 9), at(0, 9), at(120, 9), at(60, 9)];
        assert_eq!(run(&c, window(180)).unwrap().timing, 1.0);
    }

    #[test]
    fn only_the_newest_cap_are_read() {
        // 500 erratic check-ins, then CHECKIN_CAP regular ones: the tail alone is timed.
        let mut c: Vec<CheckIn> = (0..500).map(|k| at(k * k, 7)).collect();
        let base = 500 * 500;
        c.extend((0..CHECKIN_CAP as i64).map(|k| at(base + 30 * k, 7)));
        let w = window(base + 30 * CHECKIN_CAP as i64);
        let s = run(&c, w).unwrap();
        assert_eq!(
            (s.samples, s.timing, s.median_interval_secs),
            (CHECKIN_CAP, 1.0, 30.0)
        );
        assert_eq!(s.checkins, 500 + CHECKIN_CAP as u64);
    }

    #[test]
    fn zero_window_still_times() {
        let c = [at(0, 5), at(60, 5), at(120, 5), at(180, 5)];
        let bins = Bins::from_starts(window(0), c.iter().map(|c| c.start));
        let s = score(&c, &bins, &BeaconConfig::default(), &mut Scratch::new()).unwrap();
        assert_eq!(
            (s.timing, s.size, s.histogram, s.duration),
            (1.0, 1.0, 0.0, 0.0)
        );
        assert_eq!(s.total, 0.5);
        assert_eq!(
            s.reason().to_string(),
            "every 60 s ±0 s, 5 B ±0 B, 0 check-ins over 0 s"
        );
        assert!(!is_strobe(&bins, &BeaconConfig::default()));
    }

    #[test]
    fn weights_are_normalised_and_sanitised() {
        let s = [1.0, 0.5, 0.0, 0.0];
        let only_timing = Weights {
            timing: 2.0,
            size: 0.0,
            histogram: f64::NAN,
            duration: -1.0,
        };
        assert_eq!(weighted_total(s, &only_timing), 1.0);
        assert_eq!(weighted_total(s, &Weights::default()), 0.375);
        let none = Weights {
            timing: 0.0,
            size: f64::INFINITY,
            histogram: 0.0,
            duration: 0.0,
        };
        assert_eq!(weighted_total(s, &none), 0.0);
    }

    #[test]
    fn strobe_threshold() {
        let cfg = BeaconConfig::default();
        let day = window(86_400);
        let mut bins = Bins::new(day);
        for k in 0..86_399 {
            bins.add(Timestamp::from_secs(T + k));
        }
        assert!(!is_strobe(&bins, &cfg));
        bins.add(Timestamp::from_secs(T + 86_400));
        assert!(is_strobe(&bins, &cfg));
        // Scaled to the window: 3600 in one hour is the same rate.
        let hour = Bins::from_starts(window(3600), (0..3600).map(|k| Timestamp::from_secs(T + k)));
        assert!(is_strobe(&hour, &cfg));
        let lax = BeaconConfig {
            strobe_per_day: u64::MAX,
            ..cfg
        };
        assert!(!is_strobe(&hour, &lax));
    }

    #[test]
    fn reason_units() {
        let s = BeaconScore {
            timing: 0.0,
            size: 0.0,
            histogram: 0.0,
            duration: 0.0,
            total: 0.0,
            median_interval_secs: 0.5,
            interval_mad_secs: f64::NAN,
            median_bytes: 1.5,
            bytes_mad: 0.0,
            checkins: 1,
            span_secs: 5400.0,
            samples: 4,
        };
        assert_eq!(
            s.reason().to_string(),
            "every 0.5 s ±? s, 1.5 B ±0 B, 1 check-in over 90 min"
        );
        let s = BeaconScore {
            median_interval_secs: 3600.0,
            span_secs: 86_400.0,
            ..s
        };
        assert!(s.reason().to_string().starts_with("every 60 min"));
        assert!(s.reason().to_string().ends_with("over 24 h"));
    }

    proptest! {
        #[test]
        fn scores_are_total_and_bounded(
            raw in proptest::collection::vec((any::<i64>(), any::<u64>()), 0..40),
            start in any::<i64>(),
            end in any::<i64>(),
            w in proptest::array::uniform4(any::<f64>()),
            iqr in any::<f64>(),
            share in any::<f64>(),
        ) {
            let checkins: Vec<CheckIn> = raw
                .iter()
                .map(|&(t, b)| CheckIn { start: Timestamp(t), client_bytes: b })
                .collect();
            let window = Window::new(Timestamp(start), Timestamp(end));
            let bins = Bins::from_starts(window, checkins.iter().map(|c| c.start));
            let cfg = BeaconConfig {
                weights: Weights { timing: w[0], size: w[1], histogram: w[2], duration: w[3] },
                timing_min_iqr_secs: iqr,
                size_min_iqr_bytes: iqr,
                bimodal_bucket_share: share,
                ..BeaconConfig::default()
            };
            let _ = is_strobe(&bins, &cfg);
            if let Some(s) = score(&checkins, &bins, &cfg, &mut Scratch::default()) {
                for v in [s.timing, s.size, s.histogram, s.duration, s.total] {
                    prop_assert!((0.0..=1.0).contains(&v), "{:?}", s);
                }
                let _ = s.reason().to_string();
            }
        }
    }
}
