//! Rule author's tools behind `c2tap rules check|test|coverage` (DESIGN §5). Each takes
//! rule paths (empty: the built-in set) and writes its report to `out`; the binary maps
//! the returned [`ExitStatus`] to the process exit code.

pub mod coverage;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use super::correlate::{Correlator, Fired, Kind};
use super::sigma::classify::{self, Observability};
use super::sigma::{self, LoadFailure, RuleSet};
use super::source::JsonEvent;
use super::{Engine, EngineOptions};
use crate::event::{Alert, RULE_NAME};
use crate::time::{Timestamp, parse_utc};

pub use coverage::{Format, coverage};

/// What a tool concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exit code 0.
    Success,
    /// Exit code 1: some rule failed to load.
    Failure,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {reason}")]
    Input { line: usize, reason: String },
    #[error("{} rule(s) failed to load:\n{}", .0.len(), failures_text(.0))]
    RuleLoad(Vec<LoadFailure>),
    /// The request cannot be answered as asked (an unknown technique); exit 2.
    #[error("{0}")]
    Usage(String),
}

fn failures_text(f: &[LoadFailure]) -> String {
    f.iter()
        .map(|x| format!("  {}: {}", x.path, x.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `rules check`: loads the rules, reports each failure (path and reason), each rule's
/// observability class and the totals. Exit 1 when any rule failed to load.
pub fn check(rule_paths: &[PathBuf], out: &mut dyn Write) -> Result<ExitStatus, ToolError> {
    let mut set = sigma::load_or_builtin(rule_paths);
    let (engine, mut failures) =
        Engine::build(&set.rules, &set.correlations, EngineOptions::default());
    set.failures.append(&mut failures);
    write_check(&set, out)?;
    write_correlations(&engine, out)?;
    Ok(if set.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// A correlation's row in the check report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelationRow {
    pub title: String,
    pub kind: &'static str,
    /// `local` (state per worker) or `shared` (one table for all workers).
    pub placement: &'static str,
    /// `full`, or `never` when the rules it needs cannot be observed by the sensor.
    pub class: &'static str,
    /// It writes Correlation events itself (not only feeds another correlation).
    pub standalone: bool,
}

/// Classifies every compiled correlation as `check` reports it.
pub fn correlation_rows(engine: &Engine) -> Vec<CorrelationRow> {
    engine
        .correlations()
        .corrs
        .iter()
        .map(|c| {
            // Temporal types need every rule; the others any one of them.
            let needs_all = matches!(c.kind, Kind::Temporal | Kind::TemporalOrdered);
            let never = if needs_all {
                c.unobservable_inputs > 0
            } else {
                c.unobservable_inputs == c.inputs.len()
            };
            CorrelationRow {
                title: c.alert.rule_title.to_string(),
                kind: c.kind.name(),
                placement: if c.local { "local" } else { "shared" },
                class: if never { "never" } else { "full" },
                standalone: c.standalone,
            }
        })
        .collect()
}

fn write_correlations(engine: &Engine, out: &mut dyn Write) -> std::io::Result<()> {
    let rows = correlation_rows(engine);
    if rows.is_empty() {
        return Ok(());
    }
    for (r, c) in rows.iter().zip(&engine.correlations().corrs) {
        let group = if c.group_names.is_empty() {
            "no group-by".to_string()
        } else {
            format!("group-by {}", c.group_names.join(", "))
        };
        writeln!(
            out,
            "correlation      {}  [{} over {} rule(s), {group}, {} s, {}, {}{}]",
            r.title,
            r.kind,
            c.inputs.len(),
            c.timespan_secs,
            r.placement,
            r.class,
            if r.standalone {
                ""
            } else {
                ", feeds another correlation only"
            },
        )?;
    }
    let count = |f: &dyn Fn(&CorrelationRow) -> bool| rows.iter().filter(|r| f(r)).count();
    writeln!(
        out,
        "{} correlations: {} local, {} shared, {} never (their rules are not observable)",
        rows.len(),
        count(&|r| r.placement == "local"),
        count(&|r| r.placement == "shared"),
        count(&|r| r.class == "never"),
    )
}

/// One rule's row in the check report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRow {
    pub origin: String,
    pub title: String,
    /// `full`, `partial`, `never`, `other-logsource`, `deprecated`.
    pub class: &'static str,
    pub host_fields: Vec<String>,
}

/// Classifies every loaded rule as `check` reports it.
pub fn check_rows(set: &RuleSet) -> Vec<CheckRow> {
    set.rules
        .iter()
        .map(|r| {
            let class = if r.is_deprecated() {
                "deprecated"
            } else if r.kind().is_none() {
                "other-logsource"
            } else {
                classify::classify(r).name()
            };
            CheckRow {
                origin: r.origin.clone(),
                title: r.title.clone(),
                class,
                host_fields: classify::host_fields(r),
            }
        })
        .collect()
}

fn write_check(set: &RuleSet, out: &mut dyn Write) -> std::io::Result<()> {
    for f in &set.failures {
        writeln!(out, "error    {}: {}", f.path, f.reason)?;
    }
    let rows = check_rows(set);
    for r in &rows {
        let hf = if r.host_fields.is_empty() {
            String::new()
        } else {
            format!("  [host-only: {}]", r.host_fields.join(", "))
        };
        writeln!(out, "{:<16} {}  ({}){hf}", r.class, r.title, r.origin)?;
    }
    let count = |c: &str| rows.iter().filter(|r| r.class == c).count();
    writeln!(
        out,
        "\n{} rules loaded, {} failed: {} full, {} partial, {} never (skipped), {} other logsource (skipped), {} deprecated (skipped)",
        rows.len(),
        set.failures.len(),
        count(Observability::Full.name()),
        count(Observability::Partial.name()),
        count(Observability::Never.name()),
        count("other-logsource"),
        count("deprecated"),
    )?;
    Ok(())
}

/// Most bytes of one input line for `rules test` (an event is a few kilobytes; this
/// bounds memory on a file that is not JSON lines).
pub const MAX_TEST_LINE_BYTES: usize = 1 << 20;

/// `rules test`: evaluates the rules on JSON events (one object per line, any field
/// naming) and writes one line per event, in order: the input object, with `RuleName`
/// and `Alerts` added when a rule matched, followed by a Correlation line for each
/// correlation it completed. Every rule is evaluated, *never*-observable ones too (the
/// input may be a host's own events). Correlation windows run on the events' own times
/// (`UtcTime`, `@timestamp`, `timestamp` or Zeek's `ts`; an event without one takes the
/// time of the event before it). Blank lines are skipped. A line that is not a JSON
/// object stops with its line number.
pub fn test(
    rule_paths: &[PathBuf],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitStatus, ToolError> {
    test_with(rule_paths, true, input, out)
}

/// [`test`], with alerts carrying their technique `Mappings` or not (`--no-mappings`).
pub fn test_with(
    rule_paths: &[PathBuf],
    mappings: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitStatus, ToolError> {
    let set = sigma::load_or_builtin(rule_paths);
    if !set.failures.is_empty() {
        return Err(ToolError::RuleLoad(set.failures));
    }
    let opts = EngineOptions {
        mappings,
        ..TEST_OPTIONS
    };
    let (engine, failures) = Engine::build(&set.rules, &set.correlations, opts);
    if !failures.is_empty() {
        return Err(ToolError::RuleLoad(failures));
    }
    let mut stream = Stream::new(&engine);
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        n += 1;
        let read =
            <&mut dyn BufRead as std::io::Read>::take(&mut *input, MAX_TEST_LINE_BYTES as u64 + 1)
                .read_line(&mut line)?;
        if read == 0 {
            break;
        }
        if line.len() > MAX_TEST_LINE_BYTES {
            return Err(ToolError::Input {
                line: n,
                reason: format!("longer than {MAX_TEST_LINE_BYTES} bytes"),
            });
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let map = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => {
                return Err(ToolError::Input {
                    line: n,
                    reason: "not a JSON object".into(),
                });
            }
            Err(e) => {
                return Err(ToolError::Input {
                    line: n,
                    reason: format!("not JSON: {e}"),
                });
            }
        };
        let step = stream.push(&map);
        writeln!(out, "{}", annotate(text, &map, &step.alerts))?;
        for c in &step.correlations {
            writeln!(out, "{}", serde_json::Value::Object(c.clone()))?;
        }
    }
    Ok(ExitStatus::Success)
}

/// How `rules test` (and the built-in rules' own tests) build the engine.
pub const TEST_OPTIONS: EngineOptions = EngineOptions {
    include_never: true,
    own_names: true,
    mappings: true,
};

/// What one input event gave.
#[derive(Debug, Default)]
pub struct Step {
    /// The rules it matched (those with an alert of their own).
    pub alerts: Vec<Alert>,
    /// The Correlation events it completed, as JSON objects.
    pub correlations: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The same firings, as the correlator reported them.
    pub fired: Vec<Fired>,
}

/// JSON events through an engine and its correlations, in order, on their own times.
pub struct Stream<'a> {
    engine: &'a Engine,
    correlator: Correlator,
    clock: Timestamp,
    hits: Vec<u32>,
}

/// The common fields a Correlation line copies from the event that completed it.
const HEADER_FIELDS: &[&str] = &[
    "Computer",
    "Source",
    "FlowId",
    "CommunityId",
    "Protocol",
    "SourceIp",
    "SourcePort",
    "SourceIsIpv6",
    "DestinationIp",
    "DestinationPort",
    "DestinationIsIpv6",
];

/// An event's own time: `UtcTime` (Sysmon), `@timestamp` or `timestamp` (ISO 8601),
/// or `ts` (Zeek: seconds since the epoch).
pub fn event_time(map: &serde_json::Map<String, serde_json::Value>) -> Option<Timestamp> {
    for key in ["UtcTime", "@timestamp", "timestamp"] {
        if let Some(t) = map.get(key).and_then(|v| v.as_str()).and_then(parse_utc) {
            return Some(t);
        }
    }
    let ts = map.get("ts")?;
    let secs = ts
        .as_f64()
        .or_else(|| ts.as_str().and_then(|s| s.trim().parse::<f64>().ok()))?;
    // Up to year 9999; beyond it the value is not a time.
    if !(0.0..253_402_300_800.0).contains(&secs) {
        return None;
    }
    Some(Timestamp((secs * 1e9).round() as i64))
}

impl<'a> Stream<'a> {
    pub fn new(engine: &'a Engine) -> Stream<'a> {
        Stream {
            engine,
            correlator: engine.correlator(),
            clock: Timestamp::ZERO,
            hits: Vec::new(),
        }
    }

    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    pub fn push(&mut self, map: &serde_json::Map<String, serde_json::Value>) -> Step {
        let ev = JsonEvent::from_map(map);
        if let Some(t) = event_time(map) {
            self.clock = t;
        }
        let mut step = Step::default();
        self.hits.clear();
        self.engine
            .evaluate_hits(&ev, &mut step.alerts, Some(&mut self.hits));
        if !self.hits.is_empty() {
            self.correlator
                .observe(&ev, self.clock, None, &self.hits, &mut step.fired);
        }
        for f in &step.fired {
            if let Some(line) = self.correlation_line(f, map) {
                step.correlations.push(line);
            }
        }
        step
    }

    fn correlation_line(
        &self,
        f: &Fired,
        trigger: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let set = self.engine.correlations();
        let body = set.alert_body(f)?;
        let own = set.alert(f)?;
        let mut m = serde_json::Map::new();
        m.insert("EventID".into(), 120.into());
        m.insert("EventType".into(), "Correlation".into());
        m.insert("UtcTime".into(), self.clock.sysmon().to_string().into());
        for k in HEADER_FIELDS {
            if let Some(v) = trigger.get(*k) {
                m.insert((*k).into(), v.clone());
            }
        }
        m.insert("CorrelationId".into(), (*body.rule_id).into());
        m.insert("CorrelationTitle".into(), (*body.rule_title).into());
        m.insert("CorrelationType".into(), body.kind.into());
        m.insert("GroupBy".into(), body.group_by.into());
        let value = serde_json::from_str::<serde_json::Value>(&body.value)
            .unwrap_or(serde_json::Value::from(0));
        m.insert("Value".into(), value);
        m.insert("Timespan".into(), body.timespan.into());
        m.insert("Events".into(), body.events.into());
        m.insert(
            "FirstSeen".into(),
            body.first_seen.sysmon().to_string().into(),
        );
        m.insert(
            "LastSeen".into(),
            body.last_seen.sysmon().to_string().into(),
        );
        m.insert("ContributingRules".into(), body.contributing_rules.into());
        if body.truncated {
            m.insert("Truncated".into(), true.into());
        }
        let mut alerts = vec![own.clone()];
        self.engine.evaluate(&JsonEvent::from_map(&m), &mut alerts);
        m.insert("RuleName".into(), RULE_NAME.into());
        m.insert(
            "Alerts".into(),
            serde_json::Value::Array(alerts.iter().map(alert_json).collect()),
        );
        Some(m)
    }
}

fn alert_json(a: &Alert) -> serde_json::Value {
    let mut v = serde_json::json!({
        "RuleId": &*a.rule_id,
        "RuleTitle": &*a.rule_title,
        "RuleLevel": &*a.rule_level,
        "RuleTags": a.rule_tags.iter().map(|t| &**t).collect::<Vec<&str>>(),
    });
    // Rendered by c2tap at rule load, so it parses.
    if let Some(m) = a
        .mappings
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        && let Some(o) = v.as_object_mut()
    {
        o.insert("Mappings".into(), m);
    }
    v
}

/// An alert as events carry it, keys in the schema's order (`event::json` writes the
/// same).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlertJson<'a> {
    rule_id: &'a str,
    rule_title: &'a str,
    rule_level: &'a str,
    rule_tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mappings: Option<&'a serde_json::value::RawValue>,
}

fn alerts_json(alerts: &[Alert]) -> String {
    let list: Vec<AlertJson<'_>> = alerts
        .iter()
        .map(|a| AlertJson {
            rule_id: &a.rule_id,
            rule_title: &a.rule_title,
            rule_level: &a.rule_level,
            rule_tags: a.rule_tags.iter().map(|t| &**t).collect(),
            mappings: a
                .mappings
                .as_deref()
                .and_then(|m| serde_json::from_str::<&serde_json::value::RawValue>(m).ok()),
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// A JSON object's members in the order written, each value as its own text.
struct Members(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Members, A::Error> {
                // As many members as the line holds, and the line is capped
                // (MAX_TEST_LINE_BYTES).
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The input line with `RuleName` and `Alerts` added. Every key stays where the input
/// had it: appended when new, replaced in place when the input already carried them
/// (c2tap's own output, tested again).
fn annotate(
    text: &str,
    map: &serde_json::Map<String, serde_json::Value>,
    alerts: &[Alert],
) -> String {
    if alerts.is_empty() {
        return text.to_string();
    }
    let rule_name = serde_json::Value::from(RULE_NAME).to_string();
    let list = alerts_json(alerts);
    if !map.contains_key("RuleName") && !map.contains_key("Alerts") {
        let body = text.strip_suffix('}').unwrap_or(text).trim_end();
        let sep = if body.ends_with('{') { "" } else { "," };
        return format!("{body}{sep}\"RuleName\":{rule_name},\"Alerts\":{list}}}");
    }
    // The line parsed as an object already, so this parse succeeds too.
    let members = serde_json::from_str::<Members>(text).map_or_else(|_| Vec::new(), |m| m.0);
    let (mut rule_done, mut alerts_done) = (false, false);
    let mut out = String::with_capacity(text.len() + list.len() + 64);
    out.push('{');
    let push = |out: &mut String, key: &str, value: &str| {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(key).to_string());
        out.push(':');
        out.push_str(value);
    };
    for (key, value) in &members {
        match key.as_str() {
            "RuleName" if !rule_done => {
                rule_done = true;
                push(&mut out, key, &rule_name);
            }
            "Alerts" if !alerts_done => {
                alerts_done = true;
                push(&mut out, key, &list);
            }
            // A repeated key: JSON readers keep one; so does this.
            "RuleName" | "Alerts" => {}
            _ => push(&mut out, key, value.get()),
        }
    }
    if !rule_done {
        push(&mut out, "RuleName", &rule_name);
    }
    if !alerts_done {
        push(&mut out, "Alerts", &list);
    }
    out.push('}');
    out
}
