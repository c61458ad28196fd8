//! Behaviour across flows: the pure scoring core of beacon and DNS-tunnel detection.
//!
//! Where it sits (DESIGN §1): after `event`, before `detect`. A worker that owns an IP
//! pair keeps, per pair, the few numbers this module needs (the newest check-ins and a
//! 24-bin count of the window) and asks it for a score; the score becomes an event 110
//! (Beacon) or 111 (DnsTunnel), which `detect` then matches like any other event.
//!
//! What it is not: no flows, no events, no I/O, no clock, no logging, no global state.
//! Numbers in, scores out. Keeping per-pair state, choosing the window, thresholds and
//! event building are the caller's job.
//!
//! What it may import: `crate::time` and std, plus the `psl` crate for the Public
//! Suffix List. Nothing else of the crate: it must stay testable on hand-made numbers.
//!
//! The promise: every public function is total. Empty slices, zero-length windows,
//! NaN or infinite configuration values and hostile names give a defined answer
//! (a score in `[0, 1]`, `None`, or a kind saying why), never a panic.
//!
//! - [`beacon_score`]: RITA v5's four-part beacon score (timing, data size, histogram,
//!   duration) and the strobe test.
//! - [`bins`]: the window in 24 bins, and the histogram and duration subscores.
//! - [`stats`]: the order statistics it is built on (quartiles, MAD, Bowley skew).
//! - [`dns_score`]: per-name figures for tunnel detection (entropy, the registered
//!   domain by the Public Suffix List, the subdomain and the bytes it carries).
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
pub mod stage;
pub mod stats;
