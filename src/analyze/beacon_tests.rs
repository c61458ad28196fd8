//! Tests of the beacon tracker: hand-computed alerts of a perfect beacon, jitter,
//! irregular traffic, strobes, the sliding window, both caps, odd time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::float_cmp,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

const T0: i64 = 1_700_000_000;

fn client(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n))
}

fn pair(n: u32) -> PairKey {
    PairKey {
        client: client(n),
        server: Server::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        port: 443,
        transport: Transport::Tcp,
    }
}

fn ms(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 * 1000 + ms)
}

fn secs(s: i64) -> Timestamp {
    Timestamp::from_secs(T0 + s)
}

/// splitmix64: a fixed-seed generator, so every run sees the same traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Feeds `(time, bytes)` check-ins of one pair; returns the findings with the 1-based
/// number of the check-in that raised each.
fn feed(
    t: &mut BeaconTracker,
    key: &PairKey,
    checkins: impl IntoIterator<Item = (Timestamp, u64)>,
) -> Vec<(usize, BeaconFinding)> {
    let mut out = Vec::new();
    for (i, (at, bytes)) in checkins.into_iter().enumerate() {
        if let Some(f) = t.check_in(key, at, bytes, true) {
            out.push((i + 1, f));
        }
    }
    out
}

fn perfect(count: i64, period_secs: i64) -> impl Iterator<Item = (Timestamp, u64)> {
    (0..count).map(move |k| (secs(k * period_secs), 230))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn perfect_beacon_alerts_at_medium_then_high_then_once_a_window() {
    // A check-in every 60 s from the tracker's first packet. For the first hour the
    // observation period is its 1 h floor, so the bins are 150 s wide and end at `now`:
    // check-in j of n sits at offset 3600 − 60·(n − 1 − j) s, in bin
    // floor(24 − 0.4·(n − 1 − j)) (the newest, at the end instant, in bin 23).
    // Timing and size are 1 from the start. Rescores (module doc: the first time, then
    // when a quarter of the ring is new or 150 s have passed): check-ins 4, 6, 8, 11,
    // then every third (180 s ≥ 150 s): 14, 17, 20, 23, 26, 29, …
    // - n = 23: oldest in bin floor(24 − 8.8) = 15 → bins 15..=23, 9 of them: histogram
    //   0 (CV > 1; bimodal needs 11 bins), duration max(1320/3600, 9/12) = 3/4:
    //   total (1 + 1 + 0 + 3/4)/4 = 0.6875, under 0.7.
    // - n = 26: oldest in bin 14 → 10 bins: duration 10/12, total 17/24 ≈ 0.708: the
    //   first alert, medium.
    // - n = 29: oldest in bin 12 → 12 bins: one of 1 check-in, five of 2, six of 3;
    //   bimodal (6 + 5)/(12 − 1) = 1 → histogram 1, duration 12/12: total 1, high.
    // Then nothing until a window (24 h) after the first alert: steady state, total ≈ 1.
    // (With the default threshold, 0.9, only the high alert comes: see the next test.)
    let medium_up = TrackerConfig {
        alert_score: 0.7,
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(medium_up);
    let k = pair(1);
    let found = feed(&mut t, &k, perfect(26 * 60, 60));
    let at: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
    assert_eq!(at[..2], [26, 29], "{at:?}");
    let (_, medium) = &found[0];
    assert_eq!(
        (medium.kind, medium.band),
        (BeaconKind::Beacon, Band::Medium)
    );
    assert!(
        close(medium.score.total, 17.0 / 24.0),
        "{}",
        medium.score.total
    );
    assert_eq!(
        (
            medium.checkins,
            medium.connections,
            medium.first_seen,
            medium.last_seen
        ),
        (26, 26, secs(0), secs(25 * 60))
    );
    assert_eq!(
        medium.reason,
        "every 60 s ±0 s, 230 B ±0 B, 26 check-ins over 25 min"
    );
    let (_, high) = &found[1];
    assert_eq!(high.band, Band::High);
    assert_eq!(high.score.total, 1.0);
    // The third: the first rescore at or after 24 h past the first alert (rescores come
    // at most a bin width, 1 h, apart by then).
    assert_eq!(found.len(), 3, "{at:?}");
    let (i, again) = &found[2];
    let first_alert_min = 25;
    assert!((first_alert_min + 1440 + 1..=first_alert_min + 1440 + 61).contains(&(*i as i64 - 1)));
    assert_eq!(again.band, Band::High);
    // The window holds the last 24 h: 1441 check-ins (both ends count); past the ring
    // they are counted per 7.5-min slot, the one across the window start pro rata.
    assert!(
        (1440..=1442).contains(&again.checkins),
        "{}",
        again.checkins
    );
    assert!(again.first_seen.0 - (again.last_seen.0 - 86_400_000_000_000) < 450_000_000_000);
    let c = t.counters();
    assert_eq!((c.findings, c.strobes, c.pairs), (3, 0, 1));
    // Rescores stay few: every third check-in in the first hour, then less and less.
    assert!(c.rescores < 150, "{}", c.rescores);
}

#[test]
fn by_default_a_perfect_beacon_alerts_once_at_high() {
    // The same beacon as above with the default threshold: one alert, at 29 (total 1).
    let mut t = BeaconTracker::new(TrackerConfig::default());
    let found = feed(&mut t, &pair(1), perfect(120, 60));
    assert_eq!(found.len(), 1);
    let (i, f) = &found[0];
    assert_eq!((*i, f.band, f.score.total), (29, Band::High, 1.0));
}

#[test]
fn without_the_observation_floor_a_perfect_beacon_alerts_at_the_fourth() {
    // min_observation 0: at the 4th check-in the bins split the 180 s seen so far
    // (7.5 s each); offsets 0, 60, 120, 180 fall in bins 0, 8, 16, 23. Timing 1, size 1,
    // histogram 0 (4 of 24 bins: CV √5 > 1; too few bins for the bimodal fit), duration
    // 180/180 = 1: total 3/4, medium.
    let cfg = TrackerConfig {
        min_observation: Duration(0),
        alert_score: 0.7,
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(cfg);
    let found = feed(&mut t, &pair(1), perfect(4, 60));
    assert_eq!(found.len(), 1);
    let (i, f) = &found[0];
    assert_eq!((*i, f.band, f.score.total), (4, Band::Medium, 0.75));
    assert_eq!(
        (
            f.score.timing,
            f.score.size,
            f.score.histogram,
            f.score.duration
        ),
        (1.0, 1.0, 0.0, 1.0)
    );
}

#[test]
fn jittered_beacon_still_alerts() {
    // Like pcaps/beacon-http: gaps uniform in 48–72 s (60 s ±20 %), bodies 200–260 B.
    let mut rng = Rng(1);
    let mut now = 0i64;
    let checkins: Vec<(Timestamp, u64)> = (0..180)
        .map(|_| {
            let c = (ms(now), 200 + (rng.unit() * 61.0) as u64);
            now += 48_000 + (rng.unit() * 24_000.0) as i64;
            c
        })
        .collect();
    let mut t = BeaconTracker::new(TrackerConfig::default());
    let found = feed(&mut t, &pair(2), checkins);
    let (i, first) = found.first().expect("a jittered beacon alerts");
    assert!(*i <= 60, "alerted only at check-in {i}");
    assert_eq!(first.kind, BeaconKind::Beacon);
    assert_eq!(first.band, Band::High);
    assert!(first.reason.starts_with("every 6"), "{}", first.reason);
    // Once in the window (3 h of a 24 h window).
    assert_eq!(found.len(), 1);
}

#[test]
fn irregular_pairs_never_alert() {
    // Exponential gaps and sizes log-uniform in 200 B–100 KB, as browsing fetches
    // objects: a mean gap of 60 s over 26 h (a full window and a slide), and of 5 min
    // over 33 h. Timing scores about 0.52 (Bowley skew of the exponential 0.26,
    // MAD/median 0.69), size about 0.2-0.4; see `TrackerConfig::alert_score` for the
    // totals they reach.
    for (seeds, mean_ms, count) in [(0..6, 60_000.0, 1560), (6..12, 300_000.0, 400)] {
        for seed in seeds {
            let mut t = BeaconTracker::new(TrackerConfig::default());
            let mut rng = Rng(100 + seed);
            let mut now = 0f64;
            let checkins: Vec<(Timestamp, u64)> = (0..count)
                .map(|_| {
                    let c = (ms(now as i64), (200.0 * 500f64.powf(rng.unit())) as u64);
                    now += -mean_ms * (1.0 - rng.unit()).ln();
                    c
                })
                .collect();
            let found = feed(&mut t, &pair(10), checkins);
            assert!(found.is_empty(), "seed {seed}: {:?}", found[0]);
            assert_eq!(t.counters().findings, 0);
        }
    }
}

#[test]
fn strobe_alerts_once_per_window() {
    // Two check-ins a second for 2 h. The observation floor is 1 h, so the strobe
    // threshold (86 400 a day, scaled) is 3600 check-ins in it: the 3600th, at 1799.5 s.
    // Before that the pair is a perfect beacon; from then on it is only a strobe, and
    // alerts once. 3600 > CHECKIN_CAP: the oldest 2576 sit in the spill.
    let mut t = BeaconTracker::new(TrackerConfig::default());
    let checkins = (0..14_400).map(|k| (ms(k * 500), 230));
    let found = feed(&mut t, &pair(3), checkins);
    let strobes: Vec<&(usize, BeaconFinding)> = found
        .iter()
        .filter(|(_, f)| f.kind == BeaconKind::Strobe)
        .collect();
    assert_eq!(strobes.len(), 1);
    let (i, s) = strobes[0];
    assert_eq!(*i, 3600);
    assert_eq!(
        (s.band, s.checkins, s.connections),
        (Band::High, 3600, 3600)
    );
    assert_eq!(s.first_seen, ms(0));
    assert!(
        s.reason
            .starts_with("strobe: every 0.5 s ±0 s, 230 B ±0 B, 3600 check-ins over"),
        "{}",
        s.reason
    );
    // No beacon finding once it is a strobe.
    assert!(
        found
            .iter()
            .all(|(j, f)| f.kind == BeaconKind::Strobe || *j < 3600)
    );
    assert_eq!(t.counters().strobes, 1);
    assert_eq!(t.window_checkins(&pair(3)), Some(14_400));
}

#[test]
fn window_slides_old_checkins_stop_counting() {
    // A 1 h window (and so a 1 h observation period, bins of 150 s), a perfect 60 s
    // beacon for 3 h. Alerts at 29 (high) as in the first test; the window of alerts
    // reopens an hour after (28 min → 88 min), at check-in 89, a rescore (29 + 3·20);
    // again at 149. Each later finding holds exactly the 61 check-ins of the last hour
    // (both ends), from 60 min back.
    let cfg = TrackerConfig {
        window: Duration::from_secs(3600),
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(cfg);
    let k = pair(4);
    let found = feed(&mut t, &k, perfect(181, 60));
    let at: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
    assert_eq!(at, [29, 89, 149]);
    for (i, f) in &found[1..] {
        assert_eq!(f.checkins, 61, "at {i}");
        assert_eq!(f.first_seen, Timestamp(f.last_seen.0 - 3_600_000_000_000));
        assert_eq!(f.band, Band::High);
    }
    assert_eq!(t.window_checkins(&k), Some(61));
    // Silent for more than the window, the pair is dropped and starts over.
    t.check_in(&pair(5), secs(180 * 60 + 3601), 1, true);
    t.check_in(&k, secs(180 * 60 + 3602), 1, true);
    assert_eq!(t.window_checkins(&k), Some(1));
    assert_eq!(t.counters().expired, 1);
}

#[test]
fn eviction_at_max_pairs_takes_the_least_recently_seen() {
    let cfg = TrackerConfig {
        max_pairs: 3,
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(cfg);
    let (a, b, c, d) = (pair(1), pair(2), pair(3), pair(4));
    for (n, k) in [&a, &b, &c].into_iter().enumerate() {
        t.check_in(k, secs(n as i64), 100, true);
        t.check_in(k, secs(10 + n as i64), 100, true);
    }
    t.check_in(&a, secs(20), 100, false); // a is now the most recently seen
    t.check_in(&d, secs(21), 100, true); // b goes
    assert_eq!(t.window_checkins(&b), None);
    assert_eq!(t.window_checkins(&a), Some(3));
    let c0 = t.counters();
    assert_eq!((c0.pairs, c0.evictions, c0.memory_evictions), (3, 1, 0));
    // b comes back: c is now the least recently seen, and b starts over.
    t.check_in(&b, secs(22), 100, true);
    assert_eq!(t.window_checkins(&b), Some(1));
    assert_eq!(t.window_checkins(&c), None);
    assert_eq!(t.counters().evictions, 2);
}

/// 200 000 pairs of 5 check-ins each, one pair after the other.
fn fill(t: &mut BeaconTracker) -> usize {
    let cap = t.config().max_memory_bytes;
    let mut peak = 0;
    for n in 0..200_000u32 {
        let k = pair(n);
        for j in 0..5 {
            t.check_in(&k, secs(i64::from(j) * 60), 230, true);
        }
        peak = peak.max(t.memory_bytes());
        assert!(t.memory_bytes() <= cap, "pair {n}: {}", t.memory_bytes());
    }
    peak
}

#[test]
fn memory_cap_holds_under_200k_pairs() {
    // Defaults: the pair cap binds first (65 536 pairs of 5 check-ins, each with an
    // 8-slot ring, fit in 24 MiB), so every pair past it evicts exactly one.
    let mut t = BeaconTracker::new(TrackerConfig::default());
    fill(&mut t);
    let c = t.counters();
    assert_eq!(c.pairs, DEFAULT_MAX_PAIRS);
    assert_eq!(c.evictions, 200_000 - DEFAULT_MAX_PAIRS as u64);
    assert_eq!((c.memory_evictions, c.untracked_checkins), (0, 0));
    assert!(c.memory_bytes <= DEFAULT_MAX_MEMORY_BYTES);
    let per_pair = c.memory_bytes / c.pairs;
    assert!((200..=400).contains(&per_pair), "{per_pair} bytes per pair");

    // A 4 MiB cap binds before the pair cap: pairs are evicted for memory only, every
    // pair seen is either held or evicted, and the estimate never passes the cap.
    let cfg = TrackerConfig {
        max_memory_bytes: 4 << 20,
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(cfg);
    fill(&mut t);
    let c = t.counters();
    assert!(c.pairs < DEFAULT_MAX_PAIRS);
    assert_eq!(c.pairs as u64 + c.evictions, 200_000);
    assert_eq!(c.memory_evictions, c.evictions);
    assert!(c.memory_bytes <= 4 << 20);
    // The cap is filled, not just a power of two of it: under 400 bytes a pair.
    assert!(c.pairs >= (4 << 20) / 400, "{} pairs", c.pairs);
}

#[test]
fn a_memory_cap_below_one_pair_tracks_nothing() {
    let cfg = TrackerConfig {
        max_memory_bytes: 1024,
        ..TrackerConfig::default()
    };
    let mut t = BeaconTracker::new(cfg);
    for j in 0..10 {
        assert_eq!(t.check_in(&pair(1), secs(j * 60), 230, true), None);
    }
    let c = t.counters();
    assert_eq!((c.pairs, c.untracked_checkins), (0, 10));
}

#[test]
fn timestamps_going_backwards_are_harmless() {
    let mut t = BeaconTracker::new(TrackerConfig::default());
    let k = pair(6);
    // A beacon, with one check-in 10 min back in the middle: kept (it is in the window).
    for j in 0..40 {
        t.check_in(&k, secs(j * 60), 230, true);
    }
    t.check_in(&k, secs(39 * 60 - 600), 230, true);
    assert_eq!(t.window_checkins(&k), Some(41));
    // One from before the window: dropped and counted, the clock does not go back.
    t.check_in(&k, secs(39 * 60 - 86_401), 230, true);
    assert_eq!(t.counters().stale_checkins, 1);
    assert_eq!(t.window_checkins(&k), Some(41));

    // The extremes of packet time, in any order: no panic, nothing counted twice.
    let mut t = BeaconTracker::new(TrackerConfig::default());
    for at in [0, i64::MIN, i64::MAX, i64::MIN, 0, i64::MAX - 1, i64::MAX] {
        for n in 0..3 {
            let _ = t.check_in(&pair(n), Timestamp(at), u64::MAX, n == 0);
        }
    }
    let c = t.counters();
    assert_eq!(c.checkins, 21);
    assert!(c.pairs <= 3);
}

#[test]
fn pairs_by_name_and_by_ip_are_different() {
    let mut t = BeaconTracker::new(TrackerConfig::default());
    let by_ip = pair(7);
    let by_name = PairKey {
        server: Server::Name(Arc::from("update.c2-example.test")),
        ..by_ip.clone()
    };
    let by_port = PairKey {
        port: 80,
        ..by_ip.clone()
    };
    t.check_in(&by_ip, secs(0), 1, true);
    t.check_in(&by_name, secs(1), 1, true);
    t.check_in(&by_name, secs(2), 1, true);
    t.check_in(&by_port, secs(3), 1, true);
    assert_eq!(t.counters().pairs, 3);
    assert_eq!(t.window_checkins(&by_ip), Some(1));
    assert_eq!(t.window_checkins(&by_name), Some(2));
    assert_eq!(t.window_checkins(&by_port), Some(1));
}

#[test]
fn bands_by_rita_edges() {
    let b = Bands::default();
    assert_eq!(b.of(0.49), None);
    assert_eq!(b.of(0.5), Some(Band::Low));
    assert_eq!(b.of(0.7), Some(Band::Medium));
    assert_eq!(b.of(0.9), Some(Band::High));
    assert_eq!(b.of(f64::NAN), None);
    assert!(Band::Low < Band::Medium && Band::Medium < Band::High);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_input_is_safe_and_bounded(
        ops in proptest::collection::vec(
            (0u32..8, prop_oneof![any::<i64>(), -100_000i64..100_000], any::<u64>(), any::<bool>()),
            0..300,
        ),
        window in any::<i64>(),
        alert in any::<f64>(),
    ) {
        let cfg = TrackerConfig {
            window: Duration(window),
            alert_score: alert,
            max_pairs: 4,
            max_memory_bytes: 128 << 10,
            ..TrackerConfig::default()
        };
        let mut t = BeaconTracker::new(cfg);
        for (n, at, bytes, conn) in ops {
            // Small offsets are seconds around T0, large ones raw nanoseconds.
            let at = if (-100_000..100_000).contains(&at) { secs(at) } else { Timestamp(at) };
            if let Some(f) = t.check_in(&pair(n), at, bytes, conn) {
                prop_assert!(f.connections <= f.checkins);
                prop_assert!((0.0..=1.0).contains(&f.score.total));
            }
            let c = t.counters();
            prop_assert!(c.pairs <= 4);
            prop_assert!(c.memory_bytes <= 128 << 10, "{}", c.memory_bytes);
        }
    }
}
