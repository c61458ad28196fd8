//! The run summary for people: what a replay (or a stopped live capture) read, made and
//! lost, printed on stderr after the progress bar. Machines read the SensorState event;
//! this is its human face, with the events by type and the alerts by rule, which the
//! counters do not break down.
//!
//! [`Tally`] is kept by each worker (an event kind or a rule is a few words; the table
//! holds one entry per event kind and one per rule that fired, so it is bounded by the
//! schema and the rules loaded, never by traffic) and merged when the workers end.

use std::collections::HashMap;
use std::fmt::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use super::{Counter, Counts};

/// Rules listed one by one in the summary; the rest are counted in one line (a run
/// with the SigmaHQ set loaded can fire hundreds).
pub const MAX_RULES_SHOWN: usize = 20;

/// Events by kind and alerts by rule, as one worker (or a whole run) produced them.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// (EventID, EventType, produced, written), in first-seen order.
    events: Vec<(u32, &'static str, u64, u64)>,
    /// Rule id → title, level and how many events it matched.
    rules: HashMap<Arc<str>, RuleTally>,
}

#[derive(Clone, Debug)]
struct RuleTally {
    title: Arc<str>,
    level: Arc<str>,
    count: u64,
}

impl Tally {
    /// One event produced (`written`: it passed `--events`).
    #[inline]
    pub fn event(&mut self, id: u32, kind: &'static str, written: bool) {
        let w = u64::from(written);
        match self.events.iter_mut().find(|e| e.0 == id) {
            Some(e) => {
                e.2 += 1;
                e.3 += w;
            }
            None => self.events.push((id, kind, 1, w)),
        }
    }

    /// One event matched rule `id`.
    pub fn alert(&mut self, id: &Arc<str>, title: &Arc<str>, level: &Arc<str>) {
        match self.rules.get_mut(id) {
            Some(r) => r.count += 1,
            None => {
                self.rules.insert(
                    id.clone(),
                    RuleTally {
                        title: title.clone(),
                        level: level.clone(),
                        count: 1,
                    },
                );
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (id, kind, n, w) in other.events {
            match self.events.iter_mut().find(|e| e.0 == id) {
                Some(e) => {
                    e.2 += n;
                    e.3 += w;
                }
                None => self.events.push((id, kind, n, w)),
            }
        }
        for (id, r) in other.rules {
            match self.rules.get_mut(&id) {
                Some(mine) => mine.count += r.count,
                None => {
                    self.rules.insert(id, r);
                }
            }
        }
    }

    /// Events written (those `--events` kept).
    pub fn written(&self) -> u64 {
        self.events.iter().map(|e| e.3).sum()
    }
}

/// Everything the summary shows.
pub struct Summary<'a> {
    /// The run's name (the inputs of a replay, or the interface).
    pub run: &'a str,
    pub wall: Duration,
    pub totals: &'a Counts,
    pub tally: &'a Tally,
    /// Replay: files opened; 0 for live.
    pub files: u64,
    /// Bytes of input read (replay), before decompression.
    pub input_bytes: u64,
    pub failed_inputs: u64,
}

/// Sigma's levels, most severe first: the order alerts are listed in.
const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];

fn level_rank(level: &str) -> usize {
    LEVELS
        .iter()
        .position(|l| l.eq_ignore_ascii_case(level))
        .unwrap_or(LEVELS.len())
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |k: Counter| self.totals.get(k);
        let secs = self.wall.as_secs_f64();
        writeln!(f, "c2tap: summary of {}", self.run)?;
        let mut read = String::new();
        if self.files > 0 {
            let _ = write!(
                read,
                "{} file{}, {}, ",
                self.files,
                plural(self.files),
                megabytes(self.input_bytes)
            );
        }
        let _ = write!(read, "{} packets in {secs:.2} s", c(Counter::Packets));
        if self.input_bytes > 0 && secs > 0.0 {
            let _ = write!(read, " ({:.0} MB/s)", self.input_bytes as f64 / secs / 1e6);
        }
        writeln!(f, "  read     {read}")?;
        writeln!(
            f,
            "  flows    {} ({} ended by timeout, {} evicted from a full table)",
            c(Counter::FlowsCreated),
            c(Counter::FlowsExpired),
            c(Counter::FlowsEvicted)
        )?;
        let mut kinds = self.tally.events.clone();
        kinds.sort_by_key(|e| e.0);
        let by_kind = if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds
                .iter()
                .map(|(_, kind, n, _)| format!("{n} {kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "  events   {} produced, {} written: {by_kind}",
            c(Counter::Events),
            self.tally.written()
        )?;
        self.fmt_alerts(f)?;
        writeln!(
            f,
            "  errors   {} frames not decoded; parse errors: dns {}, http {}, tls {}, quic {}{}",
            c(Counter::DecodeErrors),
            c(Counter::DnsParseErrors),
            c(Counter::HttpParseErrors),
            c(Counter::TlsParseErrors),
            c(Counter::QuicParseErrors),
            if self.failed_inputs > 0 {
                format!(
                    "; {} input{} failed (see above)",
                    self.failed_inputs,
                    plural(self.failed_inputs)
                )
            } else {
                String::new()
            }
        )?;
        let drops = [
            (Counter::KernelDrops, "kernel"),
            (Counter::InterfaceDrops, "interface"),
            (Counter::QueueDrops, "queue"),
            (Counter::OutputDrops, "output"),
            (Counter::FragmentsDropped, "fragments"),
            (Counter::ReassemblyGaps, "reassembly gaps"),
        ];
        let lost: Vec<String> = drops
            .iter()
            .filter(|(k, _)| c(*k) > 0)
            .map(|(k, name)| format!("{name} {}", c(*k)))
            .collect();
        writeln!(
            f,
            "  drops    {}",
            if lost.is_empty() {
                "none".to_string()
            } else {
                lost.join(", ")
            }
        )
    }
}

impl Summary<'_> {
    fn fmt_alerts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alerts = self.totals.get(Counter::Alerts);
        if alerts == 0 {
            return writeln!(f, "  alerts   none");
        }
        let mut rules: Vec<(&Arc<str>, &RuleTally)> = self.tally.rules.iter().collect();
        rules.sort_by(|a, b| {
            (level_rank(&a.1.level), std::cmp::Reverse(a.1.count), a.0).cmp(&(
                level_rank(&b.1.level),
                std::cmp::Reverse(b.1.count),
                b.0,
            ))
        });
        let mut by_level: Vec<(&str, u64)> = Vec::new();
        for (_, r) in &rules {
            match by_level.iter_mut().find(|l| l.0 == &*r.level) {
                Some(l) => l.1 += r.count,
                None => by_level.push((&r.level, r.count)),
            }
        }
        let levels = by_level
            .iter()
            .map(|(l, n)| format!("{n} {l}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            f,
            "  alerts   {alerts} event{} matched rules (rule matches: {levels}):",
            plural(alerts)
        )?;
        for (id, r) in rules.iter().take(MAX_RULES_SHOWN) {
            writeln!(f, "  {:>8}  {:<13} {} ({id})", r.count, r.level, r.title)?;
        }
        if rules.len() > MAX_RULES_SHOWN {
            writeln!(f, "  … and {} more rules", rules.len() - MAX_RULES_SHOWN)?;
        }
        Ok(())
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_merge_and_the_summary_shows_every_part() {
        let (high, low): (Arc<str>, Arc<str>) = (Arc::from("high"), Arc::from("low"));
        let mut a = Tally::default();
        a.event(22, "DnsQuery", true);
        a.event(3, "NetworkConnect", false);
        a.alert(&Arc::from("r1"), &Arc::from("Low rule"), &low);
        let mut b = Tally::default();
        b.event(22, "DnsQuery", false);
        b.alert(&Arc::from("r2"), &Arc::from("High rule"), &high);
        b.alert(&Arc::from("r1"), &Arc::from("Low rule"), &low);
        a.merge(b);
        assert_eq!(a.written(), 1);
        let mut totals = Counts::default();
        totals.add(Counter::Packets, 10);
        totals.add(Counter::Events, 3);
        totals.add(Counter::Alerts, 2);
        totals.add(Counter::QueueDrops, 4);
        let text = Summary {
            run: "x.pcap",
            wall: Duration::from_millis(1500),
            totals: &totals,
            tally: &a,
            files: 1,
            input_bytes: 3_000_000,
            failed_inputs: 0,
        }
        .to_string();
        assert!(
            text.contains("1 file, 3.0 MB, 10 packets in 1.50 s (2 MB/s)"),
            "{text}"
        );
        assert!(
            text.contains("3 produced, 1 written: 1 NetworkConnect, 2 DnsQuery"),
            "{text}"
        );
        assert!(
            text.contains("2 events matched rules (rule matches: 1 high, 2 low)"),
            "{text}"
        );
        let high_at = text.find("High rule (r2)").unwrap();
        assert!(high_at < text.find("Low rule (r1)").unwrap(), "{text}");
        assert!(text.contains("drops    queue 4"), "{text}");
    }
}
