//! HyperLogLog (Flajolet, Fusy, Gandouet, Meunier 2007), 64 registers of a byte each:
//! the distinct counts of a sub-window, which cannot grow with the names it has seen.

/// HyperLogLog registers per sketch (2^6; the index is the hash's top 6 bits).
pub(super) const HLL_M: usize = 64;
pub(super) const HLL_INDEX_BITS: u32 = 6;
/// `alpha_64` of Flajolet et al. (2007), the bias correction for 64 registers.
pub(super) const HLL_ALPHA: f64 = 0.709;

pub(super) fn hll_add(regs: &mut [u8; HLL_M], h: u64) {
    let idx = usize::try_from(h.wrapping_shr(64 - HLL_INDEX_BITS)).unwrap_or(0);
    let rest = h.wrapping_shl(HLL_INDEX_BITS);
    // Rank: leading zeros of the remaining 58 bits, plus one (59 when all are zero).
    let rank = rest
        .leading_zeros()
        .min(64 - HLL_INDEX_BITS)
        .saturating_add(1);
    let rank = u8::try_from(rank).unwrap_or(u8::MAX);
    if let Some(r) = regs.get_mut(idx) {
        *r = (*r).max(rank);
    }
}

pub(super) fn hll_estimate(regs: &[u8; HLL_M]) -> u64 {
    let m = HLL_M as f64;
    let zeros = regs.iter().filter(|&&r| r == 0).count();
    let sum: f64 = regs.iter().map(|&r| 0.5f64.powi(i32::from(r))).sum();
    let raw = HLL_ALPHA * m * m / sum;
    // Small-range correction (linear counting) while registers are still empty; with a
    // 64-bit hash no large-range correction is needed.
    let est = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    if est.is_finite() && est > 0.0 {
        est.round() as u64
    } else {
        0
    }
}
