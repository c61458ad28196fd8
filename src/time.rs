//! Packet time. Every clock in c2tap (flow expiry, DNS timeouts, event times) is the
//! timestamp of the packet being processed, never the wall clock, so that a replay
//! gives the same output as the live capture it was recorded from.
//!
//! A leaf module: it imports nothing from the crate and anything may import it.

use std::fmt;

/// Nanoseconds since the Unix epoch, as carried by the capture (pcap micro- or
/// nanosecond resolution, pcapng any resolution). Signed so that arithmetic on
/// odd captures (timestamps before 1970, clocks going backwards) cannot overflow
/// in the ordinary range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub const fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }

    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    pub const fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms.saturating_mul(1_000_000))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub const fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// `self + d`, saturating: a timeout added to a hostile timestamp never wraps.
    pub const fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }

    /// Time elapsed from `earlier` to `self`; zero when the clock went backwards.
    pub const fn since(self, earlier: Timestamp) -> Duration {
        let d = self.0.saturating_sub(earlier.0);
        Duration(if d < 0 { 0 } else { d })
    }

    /// Sysmon's `UtcTime` form: `2026-11-22 09:31:03.722` (UTC, milliseconds).
    pub fn sysmon(self) -> SysmonTime {
        SysmonTime(self)
    }
}

/// A span of packet time in nanoseconds (never negative when built through the API).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    pub const fn from_secs(s: i64) -> Duration {
        Duration(s.saturating_mul(1_000_000_000))
    }
    pub const fn from_millis(ms: i64) -> Duration {
        Duration(ms.saturating_mul(1_000_000))
    }
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
}

/// Displays a timestamp as Sysmon does; see [`Timestamp::sysmon`].
pub struct SysmonTime(Timestamp);

impl SysmonTime {
    /// Appends the 23 characters of the Sysmon form to `out` without going through
    /// `core::fmt` (this runs once per event; the formatter machinery cost more than the
    /// rest of the JSON line). Years outside 0..=9999 fall back to `Display`.
    pub fn push_to(&self, out: &mut Vec<u8>) {
        let ts = self.0;
        let (y, mo, d) = civil_from_days(ts.secs().div_euclid(86_400));
        if !(0..=9999).contains(&y) {
            use std::io::Write as _;
            let _ = write!(out, "{self}");
            return;
        }
        let sod = ts.secs().rem_euclid(86_400) as u32;
        let ms = ts.subsec_nanos() / 1_000_000;
        let y = y as u32;
        let digits = |n: u32| b'0' + (n % 10) as u8;
        out.extend_from_slice(&[
            digits(y / 1000),
            digits(y / 100),
            digits(y / 10),
            digits(y),
            b'-',
            digits(mo / 10),
            digits(mo),
            b'-',
            digits(d / 10),
            digits(d),
            b' ',
            digits(sod / 36_000),
            digits(sod / 3600),
            b':',
            digits(sod / 600 % 6),
            digits(sod / 60),
            b':',
            digits(sod % 60 / 10),
            digits(sod % 60),
            b'.',
            digits(ms / 100),
            digits(ms / 10),
            digits(ms),
        ]);
    }
}

impl fmt::Display for SysmonTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ts = self.0;
        let (y, mo, d) = civil_from_days(ts.secs().div_euclid(86_400));
        let sod = ts.secs().rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            ts.subsec_nanos() / 1_000_000
        )
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, valid for the whole i64 day range we can reach.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// `civil_from_days`, after Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a UTC time as events write it: Sysmon's `2026-11-22 09:31:03.722`, or ISO
/// 8601 `2026-11-22T09:31:03.722Z` (a trailing `Z` or `+00:00`; other offsets are
/// refused rather than misread). Fractions of any length up to nanoseconds.
pub fn parse_utc(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let sep = |i: usize, want: &[u8]| s.as_bytes().get(i).is_some_and(|c| want.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b" T") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut nanos: i64 = 0;
    match s.get(19..) {
        Some("") => {}
        Some(frac) => {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
        }
        None => return None,
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(Timestamp::from_secs_nanos(secs, nanos as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let ts = Timestamp::from_secs_nanos(1_795_339_863, 722_000_000);
        let text = ts.sysmon().to_string();
        assert_eq!(parse_utc(&text), Some(ts));
        assert_eq!(parse_utc("2026-11-22T09:31:03.722Z"), Some(ts));
        assert_eq!(parse_utc("2026-11-22T09:31:03.722+00:00"), Some(ts));
        assert_eq!(
            parse_utc("2026-11-22 09:31:03"),
            Some(Timestamp::from_secs(1_795_339_863))
        );
        assert_eq!(
            parse_utc("1970-01-01 00:00:00.000000001"),
            Some(Timestamp(1))
        );
        assert_eq!(
            parse_utc("2024-02-29 00:00:00").map(|t| t.secs()),
            Some(1_709_164_800)
        );
        for bad in [
            "2026-11-22 09:31",
            "2026-13-22 09:31:03",
            "2026-11-22 09:31:03+02:00",
            "2026-11-22 09:31:03.",
            "22/11/2026 09:31:03",
            "2026-11-22 09:31:03.7220000001",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn sysmon_form() {
        // 2026-11-22 09:31:03.722 UTC
        let ts = Timestamp::from_secs_nanos(1_795_339_863, 722_999_999);
        assert_eq!(ts.sysmon().to_string(), "2026-11-22 09:31:03.722");
        assert_eq!(
            Timestamp::ZERO.sysmon().to_string(),
            "1970-01-01 00:00:00.000"
        );
        assert_eq!(
            Timestamp::from_secs(951_782_400).sysmon().to_string(),
            "2000-02-29 00:00:00.000"
        );
    }

    #[test]
    fn fast_form_equals_display() {
        for secs in [
            0i64,
            951_782_400,
            1_795_339_863,
            4_102_444_799,
            86_399,
            253_402_300_799,
        ] {
            for nanos in [0u32, 722_999_999, 999_999_999, 5_000_000] {
                let t = Timestamp::from_secs_nanos(secs, nanos).sysmon();
                let mut out = Vec::new();
                t.push_to(&mut out);
                assert_eq!(String::from_utf8(out).unwrap(), t.to_string());
            }
        }
        let far = Timestamp::from_secs(300_000_000_000).sysmon();
        let mut out = Vec::new();
        far.push_to(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), far.to_string());
    }

    #[test]
    fn since_never_negative() {
        let a = Timestamp::from_secs(10);
        let b = Timestamp::from_secs(5);
        assert_eq!(b.since(a), Duration(0));
        assert_eq!(a.since(b), Duration::from_secs(5));
    }
}
