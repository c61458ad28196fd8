//! One correlation's groups and their sliding windows on event (packet) time.
//!
//! A group's window ends at the newest event time the group has seen and reaches back
//! `timespan` (both ends included). An event older than its group's window is late and
//! dropped (counted); one inside it is filed in time order, so input that is slightly
//! out of order (events of different flows complete in a different order than their
//! packets came) counts as if it had come in order. When the condition holds, the
//! correlation fires and the group starts over: a burst of 25 events under `gte: 10`
//! fires twice, not sixteen times.
//!
//! Bounds: a table holds at most its cap of groups (least recently seen evicted); a
//! group holds at most the correlation's `entry_cap` entries (see [`Compiled`]).

use std::collections::VecDeque;

use super::compile::Compiled;
use super::lru::Lru;
use super::rule::Kind;

/// What one event brings to a group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Obs {
    /// Counted only (event_count, temporal).
    Event,
    /// A value to count distinct (its hash).
    Distinct(u64),
    /// A number to sum, average or rank.
    Number(f64),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    t: i64,
    input: u16,
    /// The hash (Distinct) or the f64 bits (Number); 0 for counted events.
    v: u64,
}

#[derive(Debug)]
enum Window {
    Entries(VecDeque<Entry>),
    /// temporal: per input, the newest time it was seen (`i64::MIN`: not yet).
    Seen(Vec<i64>),
    /// temporal_ordered: per input, the latest-starting chain that reached it in
    /// order, as (start, end).
    Chain(Vec<Option<(i64, i64)>>),
}

#[derive(Debug)]
struct Group {
    values: Vec<String>,
    newest: i64,
    window: Window,
}

impl Group {
    fn new(c: &Compiled, values: &[String]) -> Group {
        let n = c.inputs.len();
        Group {
            values: values.to_vec(),
            newest: i64::MIN,
            window: match c.kind {
                Kind::Temporal => Window::Seen(vec![i64::MIN; n]),
                Kind::TemporalOrdered => Window::Chain(vec![None; n]),
                _ => Window::Entries(VecDeque::new()),
            },
        }
    }

    fn reset(&mut self) {
        match &mut self.window {
            Window::Entries(e) => e.clear(),
            Window::Seen(s) => s.fill(i64::MIN),
            Window::Chain(c) => c.fill(None),
        }
    }
}

/// What a firing reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub value: f64,
    pub first: i64,
    pub last: i64,
    pub events: u64,
    /// Bit per input that contributed to the window.
    pub inputs: u64,
}

/// Drops a table reports to the correlator's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    pub evicted: u64,
    pub late: u64,
    pub capped: u64,
}

/// The groups of one correlation.
pub struct Table {
    groups: Lru<Group>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("groups", &self.groups.len())
            .finish()
    }
}

fn bit(input: u16) -> u64 {
    1u64.checked_shl(u32::from(input)).unwrap_or(0)
}

impl Table {
    pub fn new(cap: usize) -> Table {
        Table {
            groups: Lru::new(cap),
        }
    }

    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Files one event of input `input`, at time `t`, in the group `values` (whose hash
    /// is `key`), and returns the firing when the condition now holds.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        c: &Compiled,
        input: u16,
        t: i64,
        key: u64,
        values: &[String],
        obs: Obs,
        scratch: &mut Vec<f64>,
        drops: &mut Drops,
    ) -> Option<Firing> {
        let (g, evicted) = self
            .groups
            .get_or_insert_with(key, || Group::new(c, values))?;
        if evicted {
            drops.evicted += 1;
        }
        if g.values != values {
            // Two groups with one 64-bit hash: the newer takes the slot.
            *g = Group::new(c, values);
            drops.evicted += 1;
        }
        g.newest = g.newest.max(t);
        let start = g.newest.saturating_sub(c.span);
        if t < start {
            drops.late += 1;
            return None;
        }
        let firing = match &mut g.window {
            Window::Entries(entries) => {
                file_entry(c, entries, input, t, obs, start, drops);
                measure(c, entries, g.newest, scratch)
            }
            Window::Seen(seen) => {
                if let Some(s) = seen.get_mut(usize::from(input)) {
                    *s = (*s).max(t);
                }
                let mut inputs = 0u64;
                let mut first = i64::MAX;
                let mut n = 0u64;
                for (i, &s) in seen.iter().enumerate() {
                    if s != i64::MIN && s >= start {
                        inputs |= bit(i as u16);
                        first = first.min(s);
                        n += 1;
                    }
                }
                let needed = seen.len() as f64;
                let value = n as f64;
                let holds = if c.condition.bounds.is_empty() {
                    value >= needed
                } else {
                    c.condition.holds(value)
                };
                holds.then_some(Firing {
                    value,
                    first,
                    last: g.newest,
                    events: n,
                    inputs,
                })
            }
            Window::Chain(chain) => extend_chain(c, chain, input, t, g.newest),
        };
        if firing.is_some() {
            g.reset();
        }
        firing
    }
}

/// Inserts an entry in time order, after dropping those that left the window.
fn file_entry(
    c: &Compiled,
    entries: &mut VecDeque<Entry>,
    input: u16,
    t: i64,
    obs: Obs,
    start: i64,
    drops: &mut Drops,
) {
    while entries.front().is_some_and(|e| e.t < start) {
        entries.pop_front();
    }
    let v = match obs {
        Obs::Event => 0,
        Obs::Distinct(h) => h,
        Obs::Number(x) => x.to_bits(),
    };
    let mut t = t;
    if let Obs::Distinct(h) = obs
        && let Some(i) = entries.iter().position(|e| e.v == h)
    {
        // One entry per distinct value, at the newest time it was seen.
        if let Some(old) = entries.remove(i) {
            t = t.max(old.t);
        }
    }
    let at = entries.iter().rposition(|e| e.t <= t).map_or(0, |i| i + 1);
    entries.insert(at, Entry { t, input, v });
    while entries.len() > c.entry_cap {
        entries.pop_front();
        // Counts saturate at the cap by design; only metric values are lost.
        if matches!(obs, Obs::Number(_)) {
            drops.capped += 1;
        }
    }
}

/// The window's value, and a firing when the condition holds for it.
fn measure(
    c: &Compiled,
    entries: &VecDeque<Entry>,
    newest: i64,
    scratch: &mut Vec<f64>,
) -> Option<Firing> {
    let n = entries.len();
    if n == 0 {
        return None;
    }
    let number = |e: &Entry| f64::from_bits(e.v);
    let value = match c.kind {
        Kind::EventCount | Kind::ValueCount => n as f64,
        Kind::ValueSum => entries.iter().map(number).sum(),
        Kind::ValueAvg => entries.iter().map(number).sum::<f64>() / n as f64,
        Kind::ValuePercentile => {
            scratch.clear();
            scratch.extend(entries.iter().map(number));
            scratch.sort_unstable_by(f64::total_cmp);
            // Nearest rank: the smallest value with at least p% of the values at or below it.
            let p = c.condition.percentile.unwrap_or(95.0);
            let rank = ((p / 100.0) * n as f64).ceil() as usize;
            scratch
                .get(rank.clamp(1, n) - 1)
                .copied()
                .unwrap_or(f64::NAN)
        }
        Kind::Temporal | Kind::TemporalOrdered => return None,
    };
    if !c.condition.holds(value) {
        return None;
    }
    Some(Firing {
        value,
        first: entries.front().map_or(newest, |e| e.t),
        last: newest,
        events: n as u64,
        inputs: entries.iter().fold(0, |acc, e| acc | bit(e.input)),
    })
}

/// temporal_ordered: an event of input `i` extends the latest-starting chain that has
/// reached input `i - 1` no later than it and starts within the window. The
/// correlation fires when a chain reaches the last input.
fn extend_chain(
    c: &Compiled,
    chain: &mut [Option<(i64, i64)>],
    input: u16,
    t: i64,
    newest: i64,
) -> Option<Firing> {
    let i = usize::from(input);
    let start_bound = newest.saturating_sub(c.span);
    let candidate = if i == 0 {
        Some((t, t))
    } else {
        match chain.get(i - 1).copied().flatten() {
            Some((s, e)) if e <= t && s >= start_bound && t.saturating_sub(s) <= c.span => {
                Some((s, t))
            }
            _ => None,
        }
    };
    let cand = candidate?;
    if let Some(slot) = chain.get_mut(i) {
        let better = match slot {
            Some((s, _)) => cand.0 >= *s || *s < start_bound,
            None => true,
        };
        if better {
            *slot = Some(cand);
        }
    }
    let n = chain.len();
    if i + 1 == n {
        let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        return Some(Firing {
            value: n as f64,
            first: cand.0,
            last: cand.1,
            events: n as u64,
            inputs: all,
        });
    }
    None
}
