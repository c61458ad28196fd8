//! Beacon detection over time: the bounded per-pair state that feeds the pure scorer
//! ([`beacon_score`]) and decides when a pair becomes a finding (event 110).
//!
//! Where it sits (DESIGN §1): in the worker that owns the IP pair, after `app` has
//! turned packets into check-ins. The caller says what a check-in is: a new connection
//! (`new_connection = true`) or a new exchange inside one (an HTTP request on a
//! keep-alive connection, a burst of client data after a quiet gap). It builds the
//! event from the [`BeaconFinding`] it gets back; this module builds no events, does no
//! I/O, reads no clock (time is the check-in's packet time) and logs nothing. It
//! imports `crate::time`, `crate::flow::Transport`, its siblings, hashbrown and
//! foldhash. It does not lowercase names or pick the server name: [`Server::Name`] is
//! compared byte for byte, so the caller normalises it.
//!
//! # The window, and how it slides
//!
//! Every pair is judged on its check-ins of the last [`TrackerConfig::window`] of packet
//! time (24 h by default) before the tracker's clock, `now` (the newest check-in time
//! seen; it never goes back). Older check-ins stop counting:
//! - the newest [`CHECKIN_CAP`] check-ins of a pair are kept one by one in a ring in
//!   arrival order (timing and size are scored on them, as `beacon_score` explains);
//!   those older than `now − window` are dropped from its front at every check-in;
//! - a check-in pushed out of a full ring while still in the window goes to the pair's
//!   *spill*: [`SPILL_SLOTS`] counters on a fixed grid of packet time (slots of
//!   `window / 192`, 7.5 min for a day, aligned on the Unix epoch, each tagged with its
//!   slot number so a stale counter can never be mistaken for a live one). A slot stops
//!   counting once it lies wholly before the window start.
//!
//! The 24 bins are rebuilt from these at every rescore, over the *observation period*
//! `[now − L, now]`, `L = clamp(now − first check-in the tracker saw, min_observation,
//! window)`. This is RITA's choice (its bins split the dataset's time range, not the
//! pair's), so the duration subscore keeps its meaning — how much of the observed time
//! the pair spans — and a pair that starts late in a long run is compared with the whole
//! window. The floor `min_observation` (1 h, a twenty-fourth of the day) keeps the bins
//! at least 2.5 min wide when the sensor has just started: over a few minutes, bins of a
//! few seconds would hold 0 or 1 check-in each, and RITA's bimodal fit scores such a
//! histogram 1 whatever the timing, so every chatty pair would alert in the first minutes
//! of a run. The cost: a beacon seen from the start needs about 10 bins (25 min) before
//! its duration subscore lets it reach the medium band; a pcap of a 60-minute beacon is
//! flagged, one of 10 minutes is not.
//!
//! Exact: the ring part, the count of check-ins in the window as long as a pair keeps
//! at most [`CHECKIN_CAP`] of them (one every 84 s over a day), the strobe test.
//! Approximate, only for pairs with more check-ins in the window than the ring holds:
//! their spilled check-ins sit at the middle of their 7.5-minute slot when binned; the
//! slot that straddles the window start counts whole in the thresholds (min check-ins,
//! strobe: an excess of at most one slot, 0.5 % of a steady pair's day) and pro rata in
//! the bins and the finding; the first check-in of a spilled window is known to within
//! its slot (exact when it is the pair's first). While the observation period is
//! shorter than a few hours, a slot is wide next to a bin, so the spilled part of such a
//! pair's histogram is lumpier than its traffic; lumping lowers the histogram score, so
//! the error misses beacons rather than inventing them. Timestamps that go backwards
//! within the window are kept (the scorer sorts), a ring is then only nearly ordered and
//! an old check-in behind a newer one leaves a little late; a check-in older than the
//! window when it comes is dropped and counted ([`TrackerCounters::stale_checkins`]).
//!
//! # When a pair alerts
//!
//! A pair is scored once it has [`TrackerConfig::min_checkins`] check-ins in the window.
//! It alerts (returns a finding) the first time its total reaches
//! [`TrackerConfig::alert_score`], then again only when its [`Band`] rises, or in a new
//! window (a window's length after its first alert). With the default threshold (0.9,
//! RITA's high band) a pair is in the top band when it first alerts, so it alerts once a
//! window; a lower threshold gives the medium-then-high sequence. A check-in made inside
//! a connection open past [`TrackerConfig::long_connection_after`] on a pair of small
//! check-ins makes the finding a [`BeaconKind::LongConnection`] (see there for its
//! score); a pair that alerted as a beacon alerts once more, in the same window, when it
//! turns out to be held in such a connection. A strobe
//! ([`beacon_score::is_strobe_count`], scaled to the observation period) is not
//! beacon-scored (as RITA skips them) and alerts once per window, as [`Band::High`]
//! by default (RITA's `strobe_impact`).
//!
//! # Cost
//!
//! A check-in costs a hash probe, an O(1) move in the LRU list, a push on the ring and
//! at most two idle-pair removals: O(1), no allocation once the ring has grown. A rescore
//! costs O(n log n) for the n ≤ [`CHECKIN_CAP`] check-ins of the ring (five sorts in
//! the reused [`Scratch`], about 50 000 comparisons at the cap) plus O(n + 192) to
//! rebuild the bins, without allocating. It runs only when it can change the answer
//! quickly enough to matter: the first time the pair has enough check-ins, then when a
//! quarter of the ring is new since the last one ([`RESCORE_SHARE`]) or a bin width of
//! packet time has passed. Growing rings thus rescore geometrically (amortized
//! O(log n) per check-in), a full ring at most every 256 check-ins or once a bin
//! width (an hour for the day), so a steady pair with a check-in every 2 s (just under
//! the strobe rate, past which it is not scored at all) costs one rescore per 8.5 min. The price is latency: a score that crosses a band edge
//! is seen at the next rescore, at most a quarter of the ring or a bin width later.
//! Whether this stays within DESIGN §6's 10 % is for the benchmarks to say.
//!
//! # Memory
//!
//! Every pair lives in one slab node (its key, a few times and counters, list links)
//! indexed by a `hashbrown::HashTable<u32>`; the least recently seen pair is the
//! oldest end of the intrusive doubly linked list over the slab ([`super::lru`], exact
//! LRU: a check-in moves its node to the newest end in O(1)). Rings grow lazily, doubling from [`RING_MIN`] to
//! [`CHECKIN_CAP`]; a spill (3 KiB) is allocated only by a pair that overflows its ring.
//! [`BeaconTracker::memory_bytes`] is an estimate (capacities times element sizes, the
//! hash index as hashbrown lays it out, names counted as if owned) of everything the
//! tracker holds; before anything grows, least recently seen pairs are evicted until
//! the growth fits under [`TrackerConfig::max_memory_bytes`], and a growth that cannot
//! fit is refused (the ring stops growing, the spill is not made, the pair is not
//! tracked), each refusal counted. Pairs silent for a whole window are removed.
//!
//! # Files
//!
//! This file holds the public face (keys, configuration, findings, counters) and the
//! check-in path; `beacon/pair.rs` a pair's ring and spill and how a check-in lands in
//! them; `beacon/judge.rs` when a pair is rescored and alerts; `beacon/table.rs` the
//! slab, its hash index, growth and eviction.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::flow::Transport;
use crate::time::{Duration, Timestamp};

use super::beacon_score::{self, BeaconConfig, BeaconScore, CHECKIN_CAP, CheckIn, Scratch};
use super::bins::BINS;
use super::lru::LruSlab;

mod judge;
mod pair;
mod table;

use self::{pair::*, table::*};

/// RITA works on a day of logs; a day also covers every beacon period worth the name
/// (an hour-period beacon has 24 check-ins in it).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(86_400);

/// The shortest observation period the bins are spread over (see the module doc): one
/// bin of the default day, so bins are never narrower than 2.5 min.
pub const DEFAULT_MIN_OBSERVATION: Duration = Duration::from_secs(3600);

/// Client silence that separates two check-ins inside one connection (the application
/// stage finds the exchanges; the worker passes it [`TrackerConfig::exchange_gap`]).
/// Interactive and bulk traffic pauses for less; implants sleep for seconds to hours
/// (Cobalt Strike's and Sliver's default is 60 s). A beacon faster than this inside one
/// connection is seen as one long exchange.
pub const DEFAULT_EXCHANGE_GAP: Duration = Duration::from_secs(5);

/// A connection open this long whose check-ins are small and regular is a
/// `long_connection` (DESIGN §3): RITA's long-connection threshold is an hour too.
pub const DEFAULT_LONG_CONNECTION_AFTER: Duration = Duration::from_secs(3600);

/// "Small" client data per check-in of a long connection: a heartbeat or an implant's
/// task poll (tens to hundreds of bytes, a few KiB with its metadata), not an upload.
pub const DEFAULT_LONG_CONNECTION_MAX_BYTES: u64 = 4096;

/// RITA v5's `unique_connection_threshold`: 4 check-ins give the 3 gaps timing needs.
pub const DEFAULT_MIN_CHECKINS: usize = 4;

/// The total from which a pair alerts: RITA v5's high band (see
/// [`TrackerConfig::alert_score`] for why not its medium band).
pub const DEFAULT_ALERT_SCORE: f64 = 0.9;

/// Pairs per worker. A small pair (≤ 8 check-ins) costs about 350 bytes (slab node,
/// ring, hash index, name), so 65 536 of them take about 22 MiB, under the default
/// memory cap; an office of a few hundred hosts talks to a few thousand servers a day,
/// and a scan or a flood of one-off pairs beyond this evicts the least recently seen
/// ones instead of growing.
pub const DEFAULT_MAX_PAIRS: usize = 1 << 16;

/// Memory per worker: DESIGN §6 allows 256 MiB for the whole process whatever the
/// traffic, with the flow tables at 34 MiB per worker; 24 MiB per worker (48 MiB for
/// the two of the 2-core target) leaves room for the DNS-tunnel state, reassembly and
/// output. 24 MiB holds ~1 500 pairs with a full ring (16 KiB each) or 65 536 small ones.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 24 << 20;

/// Hard ceiling on `max_pairs`: slab indices are `u32` (with `u32::MAX` as the nil
/// link), and 16 M pairs would be 5 GiB, far past any memory cap.
pub const MAX_PAIRS_LIMIT: usize = 1 << 24;

/// A new pair's ring: four check-ins, the minimum a score needs, 64 bytes.
pub const RING_MIN: usize = 4;

/// Spill slots per window: 192 slots of 7.5 min over a day, 8 per hourly bin, so a
/// spilled check-in lands at most a sixteenth of a bin from where it happened; 16 bytes
/// each, 3 KiB per spilling pair (a fifth of its full ring).
pub const SPILL_SLOTS: usize = 192;

/// A pair is rescored when the check-ins since its last score reach `1 / RESCORE_SHARE`
/// of its ring (or a bin width of time has passed): a quarter bounds the amortized cost
/// at a few times one check-in's share of a sort, and moves the quartiles and the MAD by
/// at most a quarter of the sample.
pub const RESCORE_SHARE: usize = 4;

/// The server side of a pair: its name where known (TLS SNI, HTTP Host, a DNS answer),
/// else its address. A pair by name and a pair by address are different pairs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    Name(Arc<str>),
    Ip(IpAddr),
}

/// What a beacon is counted by: one client, one server, one port, one transport.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PairKey {
    pub client: IpAddr,
    pub server: Server,
    pub port: u16,
    pub transport: Transport,
}

/// A finding's severity, RITA v5's categories for a beacon score (from low to high).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    Low,
    Medium,
    High,
}

impl Band {
    /// The form events carry.
    pub const fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
        }
    }
}

/// Lower edges of the bands on the total score.
///
/// Defaults from RITA v5 (activecm/rita `default_config.hjson`, `scoring.beacon.
/// score_thresholds`: base 50, low 70, medium 90, high 100, in percent). RITA maps a
/// beacon score below `base` to no threat, and interpolates from `base`, `low` and
/// `medium` into its low, medium and high threat categories (`calculateBucketedScore`
/// in its analysis code; categories 0.2/0.4/0.6/0.8 in `config.go`). So a total of
/// 0.5 is low, 0.7 medium, 0.9 high.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bands {
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands {
            low: 0.5,
            medium: 0.7,
            high: 0.9,
        }
    }
}

impl Bands {
    /// The band of a total; `None` below `low` (and for NaN).
    pub fn of(&self, total: f64) -> Option<Band> {
        if total >= self.high {
            Some(Band::High)
        } else if total >= self.medium {
            Some(Band::Medium)
        } else if total >= self.low {
            Some(Band::Low)
        } else {
            None
        }
    }
}

/// The tracker's knobs; [`Default`] is what the sensor runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Sliding window of packet time a pair is judged on (24 h).
    pub window: Duration,
    /// Floor of the observation period the bins span (1 h, see the module doc). Clamped
    /// to `[0, window]`.
    pub min_observation: Duration,
    /// Check-ins in the window before a pair is scored (4, RITA's threshold; at least 1).
    pub min_checkins: usize,
    /// Total from which a pair alerts: 0.9, the lower edge of RITA's high band.
    ///
    /// RITA lists pairs from 0.5 (its `base`) for an analyst to triage; a sensor that
    /// raises events needs an edge that random traffic does not reach. Measured on this
    /// tracker with its defaults (the tests' generators, several seeds each): pairs with
    /// exponential gaps (mean 20 s to 15 min) and log-uniform sizes (200 B–100 KB) settle
    /// at 0.62–0.71 once hundreds of check-ins are in, and peak at 0.77 with 24–47 and
    /// 0.86 with 12–23 (when few check-ins per bin make the bimodal fit easy); with
    /// exponential sizes instead they settle at 0.72–0.76. Beacons with uniform jitter of
    /// ±20 %, ±50 % or ±80 % and sizes varying by 30 % to 10× settle at 0.90–0.98 and
    /// cross 0.9 within 24–62 check-ins (one seed of ±80 %: 248). So 0.7, RITA's medium
    /// edge, would flag chatty random pairs; 0.9 does not, and the band a finding
    /// carries still says low/medium/high for a lower setting. NaN never alerts.
    pub alert_score: f64,
    /// Band edges (RITA v5).
    pub bands: Bands,
    /// The band strobes alert at: RITA's `strobe_impact` category, high.
    pub strobe_band: Band,
    /// The scorer's knobs (RITA v5), including the strobe rate (`strobe_per_day`).
    pub score: BeaconConfig,
    /// Client silence that ends an exchange inside a connection.
    pub exchange_gap: Duration,
    /// A check-in from inside a connection open at least this long, on a pair whose
    /// median check-in is at most [`TrackerConfig::long_connection_max_bytes`], makes
    /// the pair a `long_connection` (see [`BeaconKind::LongConnection`]).
    pub long_connection_after: Duration,
    pub long_connection_max_bytes: u64,
    /// Cap on pairs held (clamped to `[1, MAX_PAIRS_LIMIT]`).
    pub max_pairs: usize,
    /// Cap on the tracker's estimated memory ([`BeaconTracker::memory_bytes`]).
    pub max_memory_bytes: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            window: DEFAULT_WINDOW,
            min_observation: DEFAULT_MIN_OBSERVATION,
            min_checkins: DEFAULT_MIN_CHECKINS,
            alert_score: DEFAULT_ALERT_SCORE,
            bands: Bands::default(),
            strobe_band: Band::High,
            score: BeaconConfig::default(),
            exchange_gap: DEFAULT_EXCHANGE_GAP,
            long_connection_after: DEFAULT_LONG_CONNECTION_AFTER,
            long_connection_max_bytes: DEFAULT_LONG_CONNECTION_MAX_BYTES,
            max_pairs: DEFAULT_MAX_PAIRS,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
        }
    }
}

impl TrackerConfig {
    /// The same configuration with every value in its range (a window of at least 1 s).
    fn sanitized(mut self) -> TrackerConfig {
        self.window = Duration(self.window.as_nanos().max(1_000_000_000));
        self.min_observation = Duration(self.min_observation.as_nanos().max(0).min(self.window.0));
        self.min_checkins = self.min_checkins.max(1);
        self.max_pairs = self.max_pairs.clamp(1, MAX_PAIRS_LIMIT);
        self
    }
}

/// What made a pair a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BeaconKind {
    /// Regular timing and sizes: the score reached the alert threshold.
    Beacon,
    /// So many check-ins that the pair is flagged whatever its score.
    Strobe,
    /// Small, regular check-ins inside a connection held open past
    /// [`TrackerConfig::long_connection_after`]: flagged when the beacon total reaches
    /// the threshold, or when the mean of the timing and size subscores does (the
    /// histogram and duration subscores measure how a pair spreads over the window,
    /// which the connection's age already says; a connection an hour old on a sensor
    /// that has run for a day fills one bin of 24). The finding's total is then that
    /// mean.
    LongConnection,
}

impl BeaconKind {
    /// The form events carry (DESIGN §3: kinds `beacon`, `strobe`).
    pub const fn as_str(self) -> &'static str {
        match self {
            BeaconKind::Beacon => "beacon",
            BeaconKind::Strobe => "strobe",
            BeaconKind::LongConnection => "long_connection",
        }
    }
}

/// A pair that alerted: what the caller turns into an event 110.
#[derive(Clone, Debug, PartialEq)]
pub struct BeaconFinding {
    pub key: PairKey,
    pub kind: BeaconKind,
    /// The score the finding rests on. A strobe is scored once, when it alerts; a strobe
    /// whose check-ins leave fewer than 3 non-zero gaps (all at a few instants) has all
    /// subscores and medians 0.
    pub score: BeaconScore,
    /// Check-ins in the window.
    pub checkins: u64,
    /// The check-ins of the window that opened a connection.
    pub connections: u64,
    /// First check-in in the window (within a spill slot for pairs past the ring).
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub band: Band,
    /// One line for people: `every 60 s ±4 s, 230 B ±12 B, 58 check-ins over 57 min`,
    /// prefixed `strobe: ` for strobes and `connection held 89 min: ` for long
    /// connections.
    pub reason: String,
    /// Check-ins per 24th of the observation period (oldest first): what the histogram
    /// and duration subscores read, for people to see.
    pub histogram: [u32; BINS],
    /// Length of one bin of `histogram`, in seconds.
    pub bin_secs: f64,
}

/// The tracker's counters (DESIGN §6: evictions and drops are counted, never silent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerCounters {
    /// Pairs held now.
    pub pairs: usize,
    /// [`BeaconTracker::memory_bytes`] now.
    pub memory_bytes: usize,
    pub checkins: u64,
    /// Check-ins older than the window when they came (packet time went far back).
    pub stale_checkins: u64,
    /// Check-ins of new pairs that could not be tracked: even with every other pair
    /// evicted, one pair would not fit in `max_memory_bytes`.
    pub untracked_checkins: u64,
    /// Pairs removed to make room, least recently seen first (both caps).
    pub evictions: u64,
    /// The part of `evictions` forced by `max_memory_bytes` rather than `max_pairs`.
    pub memory_evictions: u64,
    /// Pairs removed after a whole window without a check-in.
    pub expired: u64,
    /// Ring growths refused because they would not fit in memory (the ring then keeps
    /// its size and spills earlier).
    pub ring_growth_refused: u64,
    /// Check-ins pushed out of a ring but lost: no memory for a spill, or older than the
    /// spill's horizon (time went back).
    pub spill_dropped: u64,
    /// Rescores run (the expensive step; see the module doc).
    pub rescores: u64,
    /// Findings returned, both kinds.
    pub findings: u64,
    /// The part of `findings` that are strobes.
    pub strobes: u64,
}

/// The per-worker beacon state: every pair's recent check-ins, bounded in pairs and
/// bytes, judged on packet time.
#[derive(Debug)]
pub struct BeaconTracker {
    cfg: TrackerConfig,
    /// Spill slot width in nanoseconds: `ceil(window / SPILL_SLOTS)`, so the slots of
    /// one spill always cover a whole window.
    slot_ns: i64,
    /// Slab indices, found by the pair's key.
    table: HashTable<u32>,
    slab: LruSlab<Entry>,
    hasher: foldhash::fast::RandomState,
    scratch: Scratch,
    checkins: Vec<CheckIn>,
    now: Option<Timestamp>,
    /// The earliest check-in the tracker has accepted: the start of its observation.
    epoch: Timestamp,
    /// Σ of the pairs' `heap`.
    heap_bytes: usize,
    counters: TrackerCounters,
}

impl BeaconTracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        let cfg = cfg.sanitized();
        let slots = SPILL_SLOTS as i64;
        let slot_ns = cfg
            .window
            .as_nanos()
            .saturating_add(slots.saturating_sub(1))
            .checked_div(slots)
            .unwrap_or(1)
            .max(1);
        BeaconTracker {
            cfg,
            slot_ns,
            table: HashTable::new(),
            slab: LruSlab::new(),
            hasher: foldhash::fast::RandomState::default(),
            scratch: Scratch::new(),
            checkins: Vec::with_capacity(CHECKIN_CAP),
            now: None,
            epoch: Timestamp::ZERO,
            heap_bytes: 0,
            counters: TrackerCounters::default(),
        }
    }

    /// The configuration in force (after clamping).
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// One check-in of a pair: a new connection (`new_connection = true`) or a new
    /// exchange inside one (an HTTP request on a keep-alive connection, a burst of
    /// client data after a quiet gap). `client_bytes` is what the client sent in it.
    /// Returns a finding when the pair alerts (see the module doc for when).
    pub fn check_in(
        &mut self,
        key: &PairKey,
        at: Timestamp,
        client_bytes: u64,
        new_connection: bool,
    ) -> Option<BeaconFinding> {
        self.check_in_after(key, at, client_bytes, new_connection, Duration(0))
    }

    /// [`BeaconTracker::check_in`] of a check-in made `open_for` after its connection
    /// opened (what makes a [`BeaconKind::LongConnection`]).
    pub fn check_in_after(
        &mut self,
        key: &PairKey,
        at: Timestamp,
        client_bytes: u64,
        new_connection: bool,
        open_for: Duration,
    ) -> Option<BeaconFinding> {
        self.counters.checkins = self.counters.checkins.saturating_add(1);
        let now = self.now.map_or(at, |n| n.max(at));
        let window_start = Timestamp(now.0.saturating_sub(self.cfg.window.0));
        if at < window_start {
            self.counters.stale_checkins = self.counters.stale_checkins.saturating_add(1);
            return None;
        }
        self.epoch = if self.now.is_some() {
            self.epoch.min(at)
        } else {
            at
        };
        self.now = Some(now);
        self.expire_idle(window_start);

        let hash = self.hasher.hash_one(key);
        let idx = match self.find(hash, key) {
            Some(idx) => {
                self.slab.touch(idx);
                idx
            }
            None => {
                let Some(idx) = self.insert(key, hash) else {
                    self.counters.untracked_checkins =
                        self.counters.untracked_checkins.saturating_add(1);
                    return None;
                };
                idx
            }
        };
        let hit = Hit {
            at,
            bytes: u32::try_from(client_bytes).unwrap_or(u32::MAX),
            new_connection,
        };
        self.record(idx, hit, window_start);
        let finding = self.judge(idx, now, open_for);
        if let Some(f) = &finding {
            self.counters.findings = self.counters.findings.saturating_add(1);
            if f.kind == BeaconKind::Strobe {
                self.counters.strobes = self.counters.strobes.saturating_add(1);
            }
        }
        finding
    }

    pub fn counters(&self) -> TrackerCounters {
        TrackerCounters {
            pairs: self.table.len(),
            memory_bytes: self.memory_bytes(),
            ..self.counters
        }
    }

    /// Check-ins of a pair in the window, as of its last check-in; `None` for a pair
    /// not held.
    pub fn window_checkins(&self, key: &PairKey) -> Option<u64> {
        let idx = self.find(self.hasher.hash_one(key), key)?;
        self.slab.get(idx).map(|n| n.pair.in_window())
    }

    /// Estimated bytes held: the tracker itself, its scratch buffers, the slab and free
    /// list (by capacity), the hash index (4-byte slots and a control byte per bucket,
    /// buckets as hashbrown sizes them) and every pair's heap (ring and spill by
    /// capacity, server name as if owned). Allocator overhead is not counted.
    pub fn memory_bytes(&self) -> usize {
        let fixed = size_of::<Self>()
            .saturating_add(self.scratch.heap_bytes())
            .saturating_add(bytes_of::<CheckIn>(self.checkins.capacity()));
        fixed
            .saturating_add(
                LruSlab::<Entry>::slot_bytes().saturating_mul(self.slab.slots_capacity()),
            )
            .saturating_add(bytes_of::<u32>(self.slab.free_capacity()))
            .saturating_add(index_bytes(self.table.capacity()))
            .saturating_add(self.heap_bytes)
    }
}

#[cfg(test)]
#[path = "beacon_tests.rs"]
mod tests;
