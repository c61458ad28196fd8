//! Behaviour across flows (DESIGN §1): beacons and DNS tunnels, found on the wire, in
//! bounded memory, on packet time.
//!
//! Where it sits: after `event`, before `detect`. The worker hands each event it built
//! to its [`stage::Analytics`], which turns what the event says into check-ins and DNS
//! observations for the trackers and returns the events of what they found (110 Beacon,
//! 111 DnsTunnel); `detect` then matches those like any other event.
//!
//! Layers, from the stage down:
//! - [`stage`]: events in, behavioural events out; the allow-list ([`allow`]).
//! - [`beacon`], [`dns_tunnel`]: the bounded per-pair and per-domain state (named caps,
//!   least recently seen evicted and counted, sliding windows), both on the slab and
//!   recency list of [`lru`].
//! - [`beacon_score`], [`bins`], [`stats`], [`dns_score`]: pure scoring, numbers in and
//!   scores out, testable on hand-made numbers: RITA v5's four-part beacon score
//!   (timing, data size, histogram, duration) and strobe test; the window in 24 bins;
//!   quartiles, MAD, Bowley skew; per-name figures (entropy, the registered domain by the
//!   Public Suffix List, the subdomain and the bytes it carries).
//!
//! What it may import: `time`, `flow` (for [`Transport`](crate::flow::Transport)) and,
//! in `stage` only, `event` and `telemetry`; std, hashbrown, foldhash, and the `psl`
//! crate. No I/O, no clock, no logging, no global state.
//!
//! The promise: every public function is total. Empty slices, zero-length windows,
//! NaN or infinite configuration values and hostile names give a defined answer
//! (a score in `[0, 1]`, `None`, or a kind saying why), never a panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod allow;
pub mod beacon;
pub mod beacon_score;
pub mod bins;
pub mod dns_score;
pub mod dns_tunnel;
pub mod lru;
pub mod stage;
pub mod stats;
