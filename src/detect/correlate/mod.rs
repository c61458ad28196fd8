//! Sigma correlation rules (specification v2.1) on the stream.
//!
//! Where it sits: inside `detect`, after the rule engine. The engine tells which rules
//! an event matched; the [`Correlator`] files the event in the groups of the
//! correlations those rules feed, and returns the correlations that fired, which the
//! caller turns into Correlation events (EventID 120). It reads events only through
//! [`FieldSource`], so `rules test` runs the same code on JSON events.
//!
//! - [`rule`]: the correlation document → [`Correlation`].
//! - [`compile`]: references, aliases, placement (local or shared) → [`CorrelationSet`].
//! - [`state`]: groups and sliding windows on event time.
//! - [`lru`]: the bounded group table.
//!
//! Placement: state lives in the worker when every referenced rule's group-by holds
//! the flow's IP pair (or the flow id, or the Community ID), since the dispatch hash
//! sends every packet of an IP pair to one worker; a correlation grouped otherwise (by
//! the client alone, say) keeps one table for all workers behind a mutex, locked only
//! by events that matched one of its rules. Events of different workers then reach it
//! slightly out of time order, which the windows absorb (see [`state`]).

pub mod compile;
pub mod lru;
pub mod rule;
pub mod state;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

pub use compile::{CorrelationSet, Input};
pub use rule::{Correlation, Kind};

use crate::detect::fields::{EventKind, FieldKey, Virtual};
use crate::detect::source::{FieldSource, lookup};
use crate::event::{Alert, CorrelationAlert, Field, FieldValue, Header};
use crate::time::Timestamp;
use state::{Drops, Obs, Table};

/// Longest group-by value kept for the alert (a DNS name is at most 253 bytes); the
/// group is told apart by the whole value, the alert shows this much and says so.
pub const MAX_GROUP_VALUE_BYTES: usize = 512;

/// A correlation that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    /// Index in [`CorrelationSet::corrs`].
    pub corr: u32,
    /// `group-by` names and the group's values.
    pub group: Vec<(String, String)>,
    /// A group value was longer than [`MAX_GROUP_VALUE_BYTES`] and is shown cut.
    pub truncated: bool,
    /// The count, distinct count, sum, average or percentile that met the condition.
    pub value: f64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// Events in the window (for temporal types: the rules seen).
    pub events: u64,
    /// Ids of the rules (or correlations) whose events were in the window.
    pub contributing: Vec<Arc<str>>,
    /// The header of the window's newest event (when headers were given).
    pub header: Option<Header>,
}

/// Counters of a correlator, for SensorState.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorrCounts {
    pub fired: u64,
    /// Groups evicted at a table's cap.
    pub evicted: u64,
    /// Events older than their group's window, and metric values past a group's cap.
    pub dropped: u64,
    /// Events that lacked a group-by field or a numeric `field`, so were not counted.
    pub ungrouped: u64,
}

/// One worker's correlation state (and its handle on the shared tables).
pub struct Correlator {
    set: Arc<CorrelationSet>,
    local: Vec<Option<Table>>,
    counts: CorrCounts,
    scratch: Vec<f64>,
    values: Vec<String>,
    scratch_text: String,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field("correlations", &self.set.corrs.len())
            .field("counts", &self.counts)
            .finish()
    }
}

/// Renders a field value as group-by text (addresses in their usual form).
fn render(v: FieldValue<'_>, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        FieldValue::Str(s) => out.push_str(s),
        FieldValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        FieldValue::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

fn number(v: FieldValue<'_>) -> Option<f64> {
    match v {
        FieldValue::Int(i) => Some(i as f64),
        FieldValue::Str(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        FieldValue::Ip(_) => None,
    }
}

fn hasher() -> impl Hasher {
    foldhash::fast::FixedState::with_seed(0x5167_6d61).build_hasher()
}

impl Correlator {
    pub fn new(set: Arc<CorrelationSet>) -> Correlator {
        let local = set
            .corrs
            .iter()
            .map(|c| c.local.then(|| Table::new(compile::MAX_GROUPS)))
            .collect();
        Correlator {
            set,
            local,
            counts: CorrCounts::default(),
            scratch: Vec::new(),
            values: Vec::new(),
            scratch_text: String::new(),
        }
    }

    pub fn set(&self) -> &CorrelationSet {
        &self.set
    }

    pub fn counts(&self) -> CorrCounts {
        self.counts
    }

    /// Groups this worker holds in its local tables now.
    pub fn local_groups(&self) -> usize {
        self.local.iter().flatten().map(Table::groups).sum()
    }

    /// Files an event that matched rules `hits` (indexes as the engine reports them),
    /// at time `time`, and appends what fired and writes an event of its own to `out`.
    /// `header` (the sensor's events have one) is kept for the group's newest event and
    /// returned with a firing.
    pub fn observe(
        &mut self,
        ev: &dyn FieldSource,
        time: Timestamp,
        header: Option<&Header>,
        hits: &[u32],
        out: &mut Vec<Fired>,
    ) {
        let set = self.set.clone();
        for &r in hits {
            let Some(feeds) = set.rule_feeds.get(&r) else {
                continue;
            };
            for &(c, pos) in feeds {
                self.feed(&set, c, pos, ev, time, header, out, 0);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn feed(
        &mut self,
        set: &CorrelationSet,
        ci: u32,
        pos: u16,
        ev: &dyn FieldSource,
        time: Timestamp,
        header: Option<&Header>,
        out: &mut Vec<Fired>,
        depth: usize,
    ) {
        // Correlations form a DAG (compile refuses cycles), so depth is at most its
        // length; the test makes that bound visible here.
        if depth > set.corrs.len() {
            return;
        }
        let Some(c) = set.corrs.get(ci as usize) else {
            return;
        };
        let p = usize::from(pos);
        let (Some(gkeys), Some(vkeys)) = (c.group_keys.get(p), c.value_keys.get(p)) else {
            return;
        };
        // Group values (their buffers reused from event to event), and the group's
        // hash over the full values.
        self.values.resize_with(gkeys.len(), String::new);
        let mut h = hasher();
        let mut truncated = false;
        for (k, s) in gkeys.iter().zip(self.values.iter_mut()) {
            s.clear();
            match lookup(ev, k) {
                Some(v) => render(v, s),
                None => {
                    self.counts.ungrouped += 1;
                    return;
                }
            }
            h.write(s.as_bytes());
            h.write_u8(0xff);
            if s.len() > MAX_GROUP_VALUE_BYTES {
                let mut cut = MAX_GROUP_VALUE_BYTES;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                truncated = true;
            }
        }
        let key = h.finish();
        let obs = match c.kind {
            Kind::EventCount | Kind::Temporal | Kind::TemporalOrdered => Obs::Event,
            Kind::ValueCount => {
                let mut vh = hasher();
                for k in vkeys {
                    let s = &mut self.scratch_text;
                    s.clear();
                    match lookup(ev, k) {
                        Some(v) => render(v, s),
                        None => {
                            self.counts.ungrouped += 1;
                            return;
                        }
                    }
                    vh.write(s.as_bytes());
                    vh.write_u8(0xff);
                }
                Obs::Distinct(vh.finish())
            }
            Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile => {
                match vkeys.first().and_then(|k| lookup(ev, k)).and_then(number) {
                    Some(x) => Obs::Number(x),
                    None => {
                        self.counts.ungrouped += 1;
                        return;
                    }
                }
            }
        };
        let mut drops = Drops::default();
        let t = time.as_nanos();
        let firing = match self.local.get_mut(ci as usize) {
            Some(Some(table)) => table.observe(
                c,
                pos,
                t,
                key,
                &self.values,
                obs,
                header,
                &mut self.scratch,
                &mut drops,
            ),
            _ => match set.shared.get(ci as usize) {
                Some(Some(m)) => {
                    let mut table = m.lock().unwrap_or_else(|e| e.into_inner());
                    table.observe(
                        c,
                        pos,
                        t,
                        key,
                        &self.values,
                        obs,
                        header,
                        &mut self.scratch,
                        &mut drops,
                    )
                }
                _ => None,
            },
        };
        self.counts.evicted += drops.evicted;
        self.counts.dropped += drops.late + drops.capped;
        let Some(f) = firing else {
            return;
        };
        self.counts.fired += 1;
        let contributing = c
            .input_ids
            .iter()
            .enumerate()
            .filter(|(i, _)| f.inputs & (1u64.checked_shl(*i as u32).unwrap_or(0)) != 0)
            .map(|(_, id)| id.clone())
            .collect();
        let fired = Fired {
            corr: ci,
            group: c
                .group_names
                .iter()
                .cloned()
                .zip(self.values.iter().cloned())
                .collect(),
            truncated,
            value: f.value,
            first: Timestamp(f.first),
            last: Timestamp(f.last),
            events: f.events,
            contributing,
            header: f.header,
        };
        for &(next, npos) in &c.consumers {
            let src = FiredSource {
                set,
                fired: &fired,
                trigger: ev,
            };
            let h = fired.header.as_ref().or(header);
            self.feed(set, next, npos, &src, time, h, out, depth + 1);
        }
        if c.standalone {
            out.push(fired);
        }
    }
}

/// A metric as JSON number text: integral values without decimals, others with three;
/// a value that is not finite (no metric) is `0`.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

impl CorrelationSet {
    /// The body of the Correlation event (EventID 120) for a firing.
    pub fn alert_body(&self, f: &Fired) -> Option<CorrelationAlert> {
        let c = self.corrs.get(f.corr as usize)?;
        let group_by = f
            .group
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let contributing_rules = f
            .contributing
            .iter()
            .map(|s| &**s)
            .collect::<Vec<_>>()
            .join(",");
        Some(CorrelationAlert {
            rule_id: c.alert.rule_id.clone(),
            rule_title: c.alert.rule_title.clone(),
            kind: c.kind.name(),
            group_by,
            value: format_value(f.value),
            timespan: u64::try_from(c.timespan_secs).unwrap_or(0),
            events: f.events,
            first_seen: f.first,
            last_seen: f.last,
            contributing_rules,
            truncated: f.truncated,
        })
    }

    /// The correlation's own alert (first of a Correlation event's `Alerts`).
    pub fn alert(&self, f: &Fired) -> Option<&Alert> {
        self.corrs.get(f.corr as usize).map(|c| &c.alert)
    }
}

/// A correlation's firing seen as an event, for the correlations that count it: its
/// group values under their group-by names, its own fields, then the fields of the
/// event that completed it.
pub struct FiredSource<'a> {
    pub set: &'a CorrelationSet,
    pub fired: &'a Fired,
    pub trigger: &'a dyn FieldSource,
}

impl FiredSource<'_> {
    fn group_value(&self, key: &FieldKey) -> Option<FieldValue<'_>> {
        self.fired
            .group
            .iter()
            .find(|(name, _)| crate::detect::fields::resolve(name) == *key)
            .map(|(_, v)| FieldValue::Str(v.as_str()))
    }
}

impl FieldSource for FiredSource<'_> {
    fn get(&self, f: Field) -> Option<FieldValue<'_>> {
        if let Some(v) = self.group_value(&FieldKey::Event(f)) {
            return Some(v);
        }
        let c = self.set.corrs.get(self.fired.corr as usize)?;
        match f {
            Field::EventId => Some(FieldValue::Int(120)),
            Field::EventType => Some(FieldValue::Str("Correlation")),
            Field::CorrelationType => Some(FieldValue::Str(c.kind.name())),
            Field::CorrelationId => Some(FieldValue::Str(&c.alert.rule_id)),
            Field::CorrelationTitle => Some(FieldValue::Str(&c.alert.rule_title)),
            Field::Events => Some(FieldValue::Int(
                i64::try_from(self.fired.events).unwrap_or(i64::MAX),
            )),
            _ => self.trigger.get(f),
        }
    }

    fn get_other(&self, name: &str) -> Option<FieldValue<'_>> {
        self.group_value(&FieldKey::Other(name.to_string()))
            .or_else(|| self.trigger.get_other(name))
    }

    fn get_virtual(&self, v: Virtual) -> Option<FieldValue<'_>> {
        self.trigger.get_virtual(v)
    }

    fn kind(&self) -> Option<EventKind> {
        Some(EventKind::Correlation)
    }
}
