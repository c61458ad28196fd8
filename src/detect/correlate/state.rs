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
use crate::event::Header;

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
    /// temporal_ordered: per input, its recent times in the window, oldest first.
    Stages(Vec<VecDeque<i64>>),
}

/// Times kept per input of a temporal_ordered correlation: enough to find an ordered
/// match among bursts; past it the oldest go (a match needs only the latest ones).
pub const MAX_STAGE_TIMES: usize = 16;

#[derive(Debug)]
struct Group {
    values: Vec<String>,
    newest: i64,
    /// The header of the group's newest event by time: a Correlation event shows it
    /// whatever order the events arrived in (workers race for shared tables).
    latest: Option<Header>,
    window: Window,
}

impl Group {
    fn new(c: &Compiled, values: &[String]) -> Group {
        let n = c.inputs.len();
        Group {
            values: values.to_vec(),
            newest: i64::MIN,
            latest: None,
            window: match c.kind {
                Kind::Temporal => Window::Seen(vec![i64::MIN; n]),
                Kind::TemporalOrdered => Window::Stages(vec![VecDeque::new(); n]),
                _ => Window::Entries(VecDeque::new()),
            },
        }
    }

    fn reset(&mut self) {
        match &mut self.window {
            Window::Entries(e) => e.clear(),
            Window::Seen(s) => s.fill(i64::MIN),
            Window::Stages(st) => st.iter_mut().for_each(VecDeque::clear),
        }
        self.latest = None;
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
    /// The header of the window's newest event, when the caller gave headers.
    pub header: Option<Header>,
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
        header: Option<&Header>,
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
        if t >= g.newest {
            g.latest = header.cloned();
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
                    header: None,
                })
            }
            Window::Stages(stages) => ordered_match(c, stages, input, t, start),
        };
        let mut firing = firing?;
        firing.header = g.latest.take();
        g.reset();
        Some(firing)
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
        header: None,
    })
}

/// temporal_ordered: files the time in its input's stage, then looks for times
/// t0 <= t1 <= ... (one per input, in the rules' order) spanning at most the timespan.
/// For each start in the first stage (newest first) the earliest feasible time of each
/// next stage is the best choice, so the search is a greedy walk per start. Arrival
/// order does not matter: a lookup that arrives after the connection it preceded still
/// completes the match.
fn ordered_match(
    c: &Compiled,
    stages: &mut [VecDeque<i64>],
    input: u16,
    t: i64,
    start: i64,
) -> Option<Firing> {
    for st in stages.iter_mut() {
        while st.front().is_some_and(|&x| x < start) {
            st.pop_front();
        }
    }
    let st = stages.get_mut(usize::from(input))?;
    let at = st.iter().rposition(|&x| x <= t).map_or(0, |i| i + 1);
    st.insert(at, t);
    if st.len() > MAX_STAGE_TIMES {
        st.pop_front();
    }
    let (first, rest) = stages.split_first()?;
    for &t0 in first.iter().rev() {
        let mut cur = t0;
        let complete = rest
            .iter()
            .all(|stage| match stage.iter().find(|&&x| x >= cur) {
                Some(&x) => {
                    cur = x;
                    true
                }
                None => false,
            });
        if complete && cur.saturating_sub(t0) <= c.span {
            let n = stages.len();
            return Some(Firing {
                value: n as f64,
                first: t0,
                last: cur,
                events: n as u64,
                inputs: if n >= 64 { u64::MAX } else { (1u64 << n) - 1 },
                header: None,
            });
        }
    }
    None
}
