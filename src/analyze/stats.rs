//! Robust order statistics on a *sorted* sample: median, quartiles, median absolute
//! deviation (MAD), Bowley's quartile skew, and the two regularity subscores RITA
//! builds from them (skew score and dispersion score).
//!
//! # The quartile method: median of halves
//!
//! For a sorted sample `x` of `n` values:
//! - the median is `x[n/2]` for odd `n`, the mean of `x[n/2 - 1]` and `x[n/2]` for even;
//! - Q1 is the median of the lower half and Q3 the median of the upper half, each half
//!   holding `n/2` (rounded down) values, so for odd `n` the median itself belongs to
//!   neither half (Tukey's hinges without the median; "method 1" of the Wikipedia
//!   article *Quartile*);
//! - `n = 1`: Q1 = median = Q3 = `x[0]`; `n = 0`: no quartiles.
//!
//! Worked example, odd: `[1, 2, 3, 4, 5, 6, 7]` → median 4, lower half `[1, 2, 3]` →
//! Q1 = 2, upper half `[5, 6, 7]` → Q3 = 6. Even: `[1, 2, 3, 4, 5, 6, 7, 8]` → median
//! 4.5, lower `[1, 2, 3, 4]` → Q1 = 2.5, upper `[5, 6, 7, 8]` → Q3 = 6.5.
//!
//! This is our method, chosen because it is exact on small samples and easy to check
//! by hand; it is not claimed to be bit-for-bit RITA's (RITA's descriptions do not say
//! which quantile rule it uses). On the samples that matter (tens to hundreds of
//! gaps) the usual quantile rules differ by less than one gap of jitter.
//!
//! Every function here is total: an empty sample gives `None`, NaN inputs give NaN
//! statistics, and the scores clamp NaN to 0.

/// The three quartiles of a sample (see the module doc for the method).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quartiles {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
}

impl Quartiles {
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// How regular one series is (gaps between check-ins, or bytes per check-in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularity {
    pub quartiles: Quartiles,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// Bowley skew after RITA's two exceptions (see [`bowley_skew`]).
    pub skew: f64,
    /// `1 − |skew|`, in `[0, 1]`.
    pub skew_score: f64,
    /// `(median − MAD) / median`, in `[0, 1]`.
    pub dispersion_score: f64,
    /// The mean of the two scores.
    pub score: f64,
}

/// Median of a sorted sample; `None` when empty.
pub fn median_sorted(x: &[f64]) -> Option<f64> {
    let n = x.len();
    let mid = n / 2;
    if n == 0 {
        None
    } else if n % 2 == 1 {
        x.get(mid).copied()
    } else {
        let a = *x.get(mid.checked_sub(1)?)?;
        let b = *x.get(mid)?;
        Some(a + (b - a) / 2.0)
    }
}

/// Quartiles of a sorted sample by the median of halves; `None` when empty.
pub fn quartiles_sorted(x: &[f64]) -> Option<Quartiles> {
    let n = x.len();
    let median = median_sorted(x)?;
    if n == 1 {
        return Some(Quartiles {
            q1: median,
            median,
            q3: median,
        });
    }
    let half = n / 2;
    let lower = x.get(..half)?;
    let upper = x.get(n.checked_sub(half)?..)?;
    Some(Quartiles {
        q1: median_sorted(lower)?,
        median,
        q3: median_sorted(upper)?,
    })
}

/// Median absolute deviation of a sample around `median`. `scratch` is overwritten
/// (it is the caller's reused buffer, so this allocates only while it grows).
pub fn mad(x: &[f64], median: f64, scratch: &mut Vec<f64>) -> Option<f64> {
    scratch.clear();
    scratch.extend(x.iter().map(|v| (v - median).abs()));
    scratch.sort_unstable_by(f64::total_cmp);
    median_sorted(scratch)
}

/// Bowley's quartile skew `(Q1 + Q3 − 2·median) / (Q3 − Q1)`, in `[−1, 1]`, with RITA's
/// two exceptions, both giving 0 (a symmetric, perfectly beacon-like series):
/// - the interquartile range is below `min_iqr` (jitter of a few seconds is still a
///   beacon, and on a tiny IQR the ratio swings wildly);
/// - the median equals a quartile: the formula then returns ±1 exactly when a large
///   share of the values are identical, which is the most beacon-like case there is
///   (rita-legacy PR #69).
pub fn bowley_skew(q: Quartiles, min_iqr: f64) -> f64 {
    let iqr = q.iqr();
    // Written so that every comparison with a NaN (IQR or threshold) is false: no score.
    let scored = iqr >= min_iqr && iqr > 0.0 && q.median != q.q1 && q.median != q.q3;
    if !scored {
        return 0.0;
    }
    clamp_signed((q.q1 + q.q3 - 2.0 * q.median) / iqr)
}

/// `(median − MAD) / median`, clamped to `[0, 1]`: 1 when the values do not spread,
/// 0 when they spread as wide as the median. A median of 0 (only for sizes: check-ins
/// that carry nothing) scores 1 if nothing spreads (MAD 0), else 0.
pub fn dispersion_score(median: f64, mad: f64) -> f64 {
    if median > 0.0 {
        clamp01((median - mad) / median)
    } else if mad == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// The skew and dispersion scores of a sorted series, and their mean. `None` when the
/// series is empty.
pub fn regularity(sorted: &[f64], min_iqr: f64, scratch: &mut Vec<f64>) -> Option<Regularity> {
    let quartiles = quartiles_sorted(sorted)?;
    let mad = mad(sorted, quartiles.median, scratch)?;
    let skew = bowley_skew(quartiles, min_iqr);
    let skew_score = clamp01(1.0 - skew.abs());
    let dispersion_score = dispersion_score(quartiles.median, mad);
    Some(Regularity {
        quartiles,
        mad,
        skew,
        skew_score,
        dispersion_score,
        score: clamp01((skew_score + dispersion_score) / 2.0),
    })
}

/// Clamps to `[0, 1]`; NaN becomes 0 (a score we cannot compute is no evidence).
pub fn clamp01(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

fn clamp_signed(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(-1.0, 1.0) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;

    fn q(x: &[f64]) -> Quartiles {
        quartiles_sorted(x).unwrap()
    }

    #[test]
    fn quartiles_odd_count() {
        let got = q(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!((got.q1, got.median, got.q3), (2.0, 4.0, 6.0));
        // Halves of 2 values each: [1, 2] and [4, 5].
        let got = q(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((got.q1, got.median, got.q3), (1.5, 3.0, 4.5));
    }

    #[test]
    fn quartiles_even_count() {
        let got = q(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!((got.q1, got.median, got.q3), (2.5, 4.5, 6.5));
        let got = q(&[10.0, 20.0]);
        assert_eq!((got.q1, got.median, got.q3), (10.0, 15.0, 20.0));
    }

    #[test]
    fn quartiles_tiny_and_empty() {
        assert_eq!(quartiles_sorted(&[]), None);
        let got = q(&[7.0]);
        assert_eq!((got.q1, got.median, got.q3), (7.0, 7.0, 7.0));
        let got = q(&[1.0, 2.0, 3.0]);
        assert_eq!((got.q1, got.median, got.q3), (1.0, 2.0, 3.0));
    }

    #[test]
    fn mad_by_hand() {
        // Median 60; deviations 2, 1, 0, 1, 30 → sorted 0, 1, 1, 2, 30 → MAD 1.
        let x = [58.0, 59.0, 60.0, 61.0, 90.0];
        let mut s = Vec::new();
        assert_eq!(mad(&x, 60.0, &mut s), Some(1.0));
        // Even: [1, 2, 3, 4], median 2.5, deviations 1.5, 0.5, 0.5, 1.5 → MAD 1.0.
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0], 2.5, &mut s), Some(1.0));
        assert_eq!(mad(&[], 0.0, &mut s), None);
    }

    #[test]
    fn bowley_skew_by_hand() {
        // Q1 = 10, median = 20, Q3 = 50: (10 + 50 − 40) / 40 = 0.5.
        let quart = Quartiles {
            q1: 10.0,
            median: 20.0,
            q3: 50.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), 0.5);
        // Mirror image: −0.5.
        let quart = Quartiles {
            q1: 10.0,
            median: 40.0,
            q3: 50.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), -0.5);
    }

    #[test]
    fn bowley_skew_is_zero_below_min_iqr() {
        // Q1 = 58, median = 59, Q3 = 66: the raw skew would be (58 + 66 − 118) / 8 = 0.75,
        // but the IQR of 8 s is under 10 s.
        let quart = Quartiles {
            q1: 58.0,
            median: 59.0,
            q3: 66.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), 0.0);
        // The same shape at IQR exactly 10 is scored: (58 + 68 − 2·60.5) / 10 = 0.5.
        let quart = Quartiles {
            q1: 58.0,
            median: 60.5,
            q3: 68.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), 0.5);
    }

    #[test]
    fn bowley_skew_is_zero_when_median_equals_a_quartile() {
        // [60, 60, 60, 60, 60, 120, 300]: lower half [60, 60, 60] → Q1 = 60 = median;
        // upper half [60, 120, 300] → Q3 = 120; IQR 60 ≥ 10, yet the skew is 0.
        let quart = q(&[60.0, 60.0, 60.0, 60.0, 60.0, 120.0, 300.0]);
        assert_eq!((quart.q1, quart.median, quart.q3), (60.0, 60.0, 120.0));
        assert_eq!(bowley_skew(quart, 10.0), 0.0);
        let quart = Quartiles {
            q1: 0.0,
            median: 100.0,
            q3: 100.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), 0.0);
    }

    #[test]
    fn dispersion_score_by_hand() {
        assert_eq!(dispersion_score(60.0, 0.0), 1.0);
        assert_eq!(dispersion_score(60.0, 15.0), 0.75);
        assert_eq!(dispersion_score(60.0, 90.0), 0.0);
        assert_eq!(dispersion_score(0.0, 0.0), 1.0);
        assert_eq!(dispersion_score(0.0, 3.0), 0.0);
        assert_eq!(dispersion_score(f64::NAN, 1.0), 0.0);
    }

    #[test]
    fn nan_is_never_a_score() {
        assert_eq!(clamp01(f64::NAN), 0.0);
        let quart = Quartiles {
            q1: f64::NAN,
            median: 1.0,
            q3: 2.0,
        };
        assert_eq!(bowley_skew(quart, 10.0), 0.0);
        let mut s = Vec::new();
        let r = regularity(&[1.0, f64::NAN, 3.0], 10.0, &mut s).unwrap();
        assert!((0.0..=1.0).contains(&r.score));
    }
}
