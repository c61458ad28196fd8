//! The report's one pass over event lines: every figure the page shows is updated
//! here, line by line, in tables with named caps ([`Caps`]); whatever a cap turns away
//! is counted and the page says so.
//!
//! What is counted where (the page repeats it):
//! - alerts by rule and by level count *rule matches* (an event that matched two rules
//!   counts for each), as the run summary does; the timeline counts alerting *events*,
//!   each under the highest level among its matches;
//! - destinations by name come from NetworkConnect (EventID 3: one per flow) for
//!   `DestinationHostname` and `TlsSni`, and from DnsQuery (22) for `QueryName`;
//!   unknown names (`-`) are not counted;
//! - fingerprints (JA4, JA3 hash) come from NetworkConnect too, with the protocols
//!   they were seen on and a few example SNIs;
//! - SensorState (4) lines are the sensor's counters: the last one per `Computer` is
//!   kept; their `UtcTime` is the wall clock, so they are left out of the time range.

use super::candidates;
pub use super::candidates::{Candidate, Candidates, MAX_HISTOGRAM_BINS, MAX_TEXT};
pub use super::line::clip;
use super::line::{self, AlertIn, Line, MappingSet, known, text};
use super::timeline::{self, Timeline};
use super::topn::TopCounter;
use crate::time::{Timestamp, parse_utc};

/// Each table's cap, with the reason for its default.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Distinct names per destination table. A day of an office network resolves a
    /// few thousand names; ten thousand keeps those exact at about 5 MiB per table.
    pub names: usize,
    /// Distinct rules with alerts. SigmaHQ's whole rule set is about 3,000 rules.
    pub rules: usize,
    /// Distinct ATT&CK techniques: Enterprise ATT&CK has about 800 with its
    /// sub-techniques.
    pub techniques: usize,
    /// Distinct JA4 / JA3 fingerprints per table: software on a network is a few
    /// hundred client builds; randomised extensions (Chrome) do not change JA4.
    pub fingerprints: usize,
    /// Beacon (110) and DNS tunnel (111) rows each, the highest scores kept: more
    /// than an analyst reads on one page.
    pub candidates: usize,
    /// Sensors (distinct `Computer` of SensorState lines): a fleet's export.
    pub sensors: usize,
    /// Distinct `Source` values (capture files, interfaces).
    pub sources: usize,
    /// Distinct (EventID, EventType) kinds: c2tap has eight; foreign lines more.
    pub kinds: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            names: 10_000,
            rules: 4096,
            techniques: 1024,
            fingerprints: 4096,
            candidates: 200,
            sensors: 64,
            sources: 1024,
            kinds: 64,
        }
    }
}

/// Example SNIs kept per fingerprint.
pub const EXAMPLES: usize = 3;
/// Tags kept per rule (Sigma rules carry a handful).
pub const MAX_TAGS: usize = 32;
/// Items kept per mapping list (T1071.001's NIST list is about 30 controls).
pub const MAX_MAPPING_ITEMS: usize = 64;
/// Counters kept per sensor (c2tap writes about 60).
pub const MAX_COUNTERS: usize = 256;
/// Malformed lines remembered with their reason (the rest are only counted).
pub const MALFORMED_SAMPLES: usize = 10;

/// One rule that alerted.
#[derive(Clone, Debug, Default)]
pub struct RuleInfo {
    pub title: String,
    pub level: String,
    pub techniques: Vec<String>,
    pub mappings_read: bool,
}

/// One technique alerts were tagged with.
#[derive(Clone, Debug, Default)]
pub struct TechniqueInfo {
    /// Rules (ids) that carried it, at most [`MAX_TAGS`].
    pub rules: Vec<String>,
    pub mappings: Option<MappingSet>,
}

/// Protocols and example SNIs of one fingerprint.
#[derive(Clone, Debug, Default)]
pub struct FingerprintInfo {
    pub protocols: Vec<String>,
    pub snis: Vec<String>,
}

/// A sensor's last SensorState.
#[derive(Clone, Debug, Default)]
pub struct SensorInfo {
    pub time: String,
    pub state: String,
    pub source: String,
    pub counters: Vec<(String, u64)>,
    pub counters_dropped: usize,
}

/// One input (a file, stdin, or a replay's output) and its line counts.
#[derive(Clone, Debug, Default)]
pub struct InputStat {
    pub name: String,
    pub lines: u64,
    pub malformed: u64,
}

/// A malformed line: where and why.
#[derive(Clone, Debug)]
pub struct Malformed {
    pub input: String,
    pub line: u64,
    pub reason: String,
}

/// Everything the page is drawn from.
#[derive(Debug)]
pub struct Aggregator {
    pub caps: Caps,
    pub inputs: Vec<InputStat>,
    pub lines: u64,
    pub malformed: u64,
    pub malformed_samples: Vec<Malformed>,
    pub kinds: TopCounter<()>,
    pub sources: TopCounter<()>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Events whose `UtcTime` could not be read.
    pub untimed: u64,
    pub sensors: TopCounter<SensorInfo>,
    pub alert_events: u64,
    pub rules: TopCounter<RuleInfo>,
    pub levels: TopCounter<()>,
    pub techniques: TopCounter<TechniqueInfo>,
    /// Alert `Mappings` that could not be read (the alert still counts).
    pub mappings_unreadable: u64,
    pub timeline: Timeline,
    pub hostnames: TopCounter<()>,
    pub queries: TopCounter<()>,
    pub snis: TopCounter<()>,
    pub ja4: TopCounter<FingerprintInfo>,
    pub ja3: TopCounter<FingerprintInfo>,
    pub beacons: Candidates,
    pub tunnels: Candidates,
}

impl Default for Aggregator {
    fn default() -> Self {
        Aggregator::new(Caps::default())
    }
}

/// Longest mapping name kept (a capability's name, a control id), in bytes.
pub const MAX_MAPPING_TEXT: usize = 256;

/// Cuts a mapping item's texts at [`MAX_MAPPING_TEXT`]: the lists are kept for the
/// whole run, one per technique, so their size must not follow the input's.
fn clip_item(item: &mut line::MappingItem) {
    match item {
        line::MappingItem::Name(n) => *n = clip(n, MAX_MAPPING_TEXT),
        line::MappingItem::Capability {
            capability,
            category,
            value,
        } => {
            for t in [capability, category, value] {
                *t = clip(t, MAX_MAPPING_TEXT);
            }
        }
        line::MappingItem::Other(_) => {}
    }
}

/// The ATT&CK technique of a Sigma tag (`attack.t1071.001` → `T1071.001`).
pub fn technique_of(tag: &str) -> Option<String> {
    let t = tag.strip_prefix("attack.")?;
    let rest = t.strip_prefix(['t', 'T'])?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(format!("T{}", &t[1..]).to_ascii_uppercase())
}

impl Aggregator {
    pub fn new(caps: Caps) -> Self {
        Aggregator {
            caps,
            inputs: Vec::new(),
            lines: 0,
            malformed: 0,
            malformed_samples: Vec::new(),
            kinds: TopCounter::new(caps.kinds),
            sources: TopCounter::new(caps.sources),
            first: None,
            last: None,
            untimed: 0,
            sensors: TopCounter::new(caps.sensors),
            alert_events: 0,
            rules: TopCounter::new(caps.rules),
            levels: TopCounter::new(timeline::LEVELS.len() * 4),
            techniques: TopCounter::new(caps.techniques),
            mappings_unreadable: 0,
            timeline: Timeline::default(),
            hostnames: TopCounter::new(caps.names),
            queries: TopCounter::new(caps.names),
            snis: TopCounter::new(caps.names),
            ja4: TopCounter::new(caps.fingerprints),
            ja3: TopCounter::new(caps.fingerprints),
            beacons: Candidates::default(),
            tunnels: Candidates::default(),
        }
    }

    /// Starts counting lines for a new input.
    pub fn begin_input(&mut self, name: &str) {
        self.inputs.push(InputStat {
            name: name.to_string(),
            ..InputStat::default()
        });
    }

    fn input(&mut self) -> &mut InputStat {
        if self.inputs.is_empty() {
            self.begin_input("-");
        }
        let last = self.inputs.len() - 1;
        &mut self.inputs[last]
    }

    /// Feeds a buffer of whole lines (the writer's buffers); blank lines are skipped.
    pub fn feed_lines(&mut self, buf: &[u8]) {
        for l in buf.split(|&b| b == b'\n') {
            self.feed(l);
        }
    }

    /// Feeds one line (without its newline). Returns the reason when it is malformed.
    pub fn feed(&mut self, raw: &[u8]) -> Option<String> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        self.lines += 1;
        let input = self.input();
        input.lines += 1;
        let n = input.lines;
        match line::parse(raw) {
            Ok(l) => {
                self.event(&l);
                None
            }
            Err(reason) => {
                self.malformed_line(n, reason.clone());
                Some(reason)
            }
        }
    }

    /// Counts a line that could not be read (not JSON, too long).
    pub fn malformed_line(&mut self, line: u64, reason: String) {
        self.malformed += 1;
        let input = self.input();
        input.malformed += 1;
        let name = input.name.clone();
        if self.malformed_samples.len() < MALFORMED_SAMPLES {
            self.malformed_samples.push(Malformed {
                input: name,
                line,
                reason: clip(&reason, 200),
            });
        }
    }

    fn event(&mut self, l: &Line) {
        let id = l.EventID.count();
        let kind = match id {
            Some(id) => format!("{id} {}", known(&l.EventType).unwrap_or("-")),
            None => "- (no EventID)".to_string(),
        };
        self.kinds.add(&kind, 1);
        if id == Some(4) {
            self.sensor_state(l);
            return;
        }
        let time = l.UtcTime.as_str().and_then(parse_utc);
        match time {
            Some(t) => {
                self.first = Some(self.first.map_or(t, |f| f.min(t)));
                self.last = Some(self.last.map_or(t, |x| x.max(t)));
            }
            None => self.untimed += 1,
        }
        if let Some(s) = known(&l.Source) {
            self.sources.add(s, 1);
        }
        if let Some(alerts) = l.Alerts.as_deref().filter(|a| !a.is_empty()) {
            self.alerts(alerts, time);
        }
        match id {
            Some(3) => self.connection(l),
            Some(22) => {
                if let Some(q) = known(&l.QueryName) {
                    self.queries.add(q, 1);
                }
            }
            Some(110) => self
                .beacons
                .push(candidates::beacon(l), self.caps.candidates),
            Some(111) => self
                .tunnels
                .push(candidates::tunnel(l), self.caps.candidates),
            _ => {}
        }
    }

    fn sensor_state(&mut self, l: &Line) {
        let name = known(&l.Computer).unwrap_or("-");
        let e = self.sensors.add(name, 1);
        let s = &mut e.extra;
        s.time = clip(text(&l.UtcTime), 64);
        s.state = clip(text(&l.State), 64);
        s.source = clip(text(&l.Source), MAX_TEXT);
        s.counters.clear();
        s.counters_dropped = 0;
        for (k, v) in l.Counters.iter().flatten() {
            if s.counters.len() < MAX_COUNTERS {
                s.counters.push((clip(k, 128), v.count().unwrap_or(0)));
            } else {
                s.counters_dropped += 1;
            }
        }
    }

    fn alerts(&mut self, alerts: &[AlertIn], time: Option<Timestamp>) {
        self.alert_events += 1;
        let mut highest: Option<usize> = None;
        for a in alerts {
            let level = known(&a.RuleLevel).unwrap_or("-").to_ascii_lowercase();
            let li = timeline::level_index(&level);
            // "other" ranks below the Sigma levels for the timeline's colour.
            let rank = |i: usize| {
                if i == timeline::LEVELS.len() - 1 {
                    0
                } else {
                    i + 1
                }
            };
            if highest.is_none_or(|h| rank(li) > rank(h)) {
                highest = Some(li);
            }
            self.levels.add(&level, 1);
            let id = known(&a.RuleId)
                .or(known(&a.RuleTitle))
                .unwrap_or("-")
                .to_string();
            let entry = self.rules.add(&id, 1);
            let info = &mut entry.extra;
            let fresh = info.title.is_empty();
            if fresh {
                info.title = clip(known(&a.RuleTitle).unwrap_or("-"), MAX_TEXT);
                info.level = clip(&level, 64);
                for tag in a.RuleTags.iter().flatten().take(MAX_TAGS) {
                    if let Some(t) = tag.as_str().and_then(technique_of)
                        && !info.techniques.contains(&t)
                    {
                        info.techniques.push(t);
                    }
                }
            }
            let techniques = info.techniques.clone();
            let read_mappings = !info.mappings_read && a.Mappings.is_some();
            if read_mappings {
                info.mappings_read = true;
            }
            for t in &techniques {
                let te = self.techniques.add(t, 1);
                if te.extra.rules.len() < MAX_TAGS && !te.extra.rules.contains(&id) {
                    te.extra.rules.push(id.clone());
                }
            }
            if read_mappings && let Some(raw) = a.Mappings {
                self.mappings(raw);
            }
        }
        if let (Some(t), Some(level)) = (time, highest) {
            self.timeline.add(t, level);
        }
    }

    /// Files a rule's mappings under each technique they name (once per technique).
    fn mappings(&mut self, raw: &serde_json::value::RawValue) {
        let Ok(map) = line::parse_mappings(raw) else {
            self.mappings_unreadable += 1;
            return;
        };
        for (t, mut set) in map {
            let Some(t) = technique_of(&format!("attack.{t}")) else {
                continue;
            };
            // A technique seen only in a mapping, not in the rule's tags, still gets a
            // row (with no alert counted): add(…, 0) files it.
            let te = self.techniques.add(&t, 0);
            if te.extra.mappings.is_none() {
                for list in [
                    &mut set.veris,
                    &mut set.nist_800_53,
                    &mut set.aws,
                    &mut set.azure,
                    &mut set.gcp,
                ] {
                    list.truncate(MAX_MAPPING_ITEMS);
                    for item in list.iter_mut() {
                        clip_item(item);
                    }
                }
                te.extra.mappings = Some(set);
            }
        }
    }

    fn connection(&mut self, l: &Line) {
        if let Some(h) = known(&l.DestinationHostname) {
            self.hostnames.add(h, 1);
        }
        let sni = known(&l.TlsSni);
        if let Some(s) = sni {
            self.snis.add(s, 1);
        }
        let proto = known(&l.AppProtocol).unwrap_or("-");
        for (table, fp) in [
            (&mut self.ja4, known(&l.Ja4)),
            (&mut self.ja3, known(&l.Ja3Hash)),
        ] {
            let Some(fp) = fp else { continue };
            let info = &mut table.add(fp, 1).extra;
            if info.protocols.len() < 4 && !info.protocols.iter().any(|p| p == proto) {
                info.protocols.push(clip(proto, 32));
            }
            if let Some(s) = sni
                && info.snis.len() < EXAMPLES
                && !info.snis.iter().any(|x| x == s)
            {
                info.snis.push(clip(s, 256));
            }
        }
    }

    /// Rule matches in all.
    pub fn alert_matches(&self) -> u64 {
        self.rules.total()
    }

    /// Levels in Sigma's order (most severe first), then any others.
    pub fn levels_ordered(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self
            .levels
            .top(self.levels.cap())
            .into_iter()
            .map(|(k, e)| (k.to_string(), e.count))
            .collect();
        let order = |k: &str| {
            timeline::LEVELS
                .iter()
                .position(|l| *l == k)
                .map_or(0, |i| if i == 5 { 0 } else { i + 1 })
        };
        v.sort_by(|a, b| order(&b.0).cmp(&order(&a.0)).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
