//! The page: one self-contained HTML document (inline CSS and SVG, no script, no
//! external reference) drawn from an [`Aggregator`] and the coverage of the loaded
//! rules. Each section has an id (`input`, `alerts`, `timeline`, `destinations`,
//! `beacons`, `dns-tunnels`, `fingerprints`, `coverage`, `limits`) and each table
//! too, so that tests and scripts find them.

mod behaviour;
mod coverage;

use std::fmt::Write as _;

use super::aggregate::Aggregator;
use super::html::{Cell, end_section, esc, esc_into, h3, note, section, table};
use super::line::{MappingItem, MappingSet};
use super::svg;
use super::topn::TopCounter;
use crate::detect::tools::coverage::Coverage;

/// Rows shown per destination and fingerprint table; the rest is the "other" row.
pub const TOP_ROWS: usize = 25;
/// Rule titles named per technique row (the rest counted).
pub const TITLES_SHOWN: usize = 3;
/// Sources (capture files) listed; the rest are one "(other)" row.
pub const SOURCE_ROWS: usize = 12;
/// Rules shown in "alerts by rule" (a SigmaHQ run can fire hundreds).
pub const RULE_ROWS: usize = 100;
/// Inputs, sensors and rules per coverage source listed one by one.
pub const LIST_ROWS: usize = 50;
/// Rows of the coverage view's field and indicator tables.
pub const COVERAGE_ROWS: usize = 15;

/// Bytes of the command line shown in the header (a replay of a folder's files lists
/// them all; the Input section lists the captures).
pub const COMMAND_SHOWN: usize = 300;

/// What produced the lines, for the page's header.
pub struct Origin<'a> {
    /// The command, as a person would type it (`c2tap report a.jsonl`).
    pub command: String,
    /// When the page was made (wall clock, UTC).
    pub generated: String,
    /// Captures a replay read (empty for `c2tap report`).
    pub captures: &'a [String],
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1250px;padding:0 16px;color:#1d232a}\
h1{font-size:22px;margin:16px 0 4px}h2{font-size:18px;border-bottom:2px solid #d0d7de;margin-top:28px}\
h3{font-size:15px;margin:16px 0 6px}nav a{margin-right:10px}\
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}\
th,td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}\
th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}\
td{overflow-wrap:break-word;max-width:420px}.note{color:#57606a;font-size:13px}\
.lbl{font-size:10px;fill:#1d232a}.axis{stroke:#57606a}.track{fill:#eef1f4}.fill{fill:#2f6fb3}\
.mark{stroke:#a40000;stroke-width:1.5}.legend span{margin-right:10px}\
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}\
code{font-size:12px;background:#f3f5f7;padding:0 3px}\
.row{display:flex;flex-wrap:wrap;gap:0 28px;align-items:flex-start}.row>div{max-width:640px}\
#beacon-rows td:last-child,#tunnel-rows td:last-child{min-width:260px}";

/// Renders the whole page.
pub fn render(agg: &Aggregator, cov: &Coverage, origin: &Origin) -> String {
    let mut s = String::with_capacity(256 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    s.push_str("<title>c2tap report</title><style>");
    s.push_str(STYLE);
    s.push_str("</style></head><body>\n<header><h1>c2tap report</h1>");
    let _ = write!(
        s,
        "<p class=\"note\">Made by <code>{}</code> at {} UTC.</p>",
        esc(&super::aggregate::clip(&origin.command, COMMAND_SHOWN)),
        esc(&origin.generated)
    );
    s.push_str("<nav>");
    for (id, t) in [
        ("input", "Input"),
        ("alerts", "Alerts"),
        ("timeline", "Timeline"),
        ("destinations", "Destinations"),
        ("beacons", "Beacons"),
        ("dns-tunnels", "DNS tunnels"),
        ("fingerprints", "Fingerprints"),
        ("coverage", "Rule coverage"),
        ("limits", "Limits"),
    ] {
        let _ = write!(s, "<a href=\"#{id}\">{t}</a>");
    }
    s.push_str("</nav></header>\n<main>\n");
    input(&mut s, agg, origin);
    alerts(&mut s, agg);
    timeline(&mut s, agg);
    destinations(&mut s, agg);
    behaviour::beacons(&mut s, &agg.beacons);
    behaviour::tunnels(&mut s, &agg.tunnels);
    fingerprints(&mut s, agg);
    coverage::coverage(&mut s, cov);
    limits(&mut s, agg);
    s.push_str("</main></body></html>\n");
    s
}

fn input(s: &mut String, a: &Aggregator, origin: &Origin) {
    section(s, "input", "Input and counters");
    let range = match (a.first, a.last) {
        (Some(f), Some(l)) => format!(
            "events from {} to {} UTC ({})",
            f.sysmon(),
            l.sysmon(),
            svg::span(l.as_nanos().saturating_sub(f.as_nanos()))
        ),
        _ => "no event carried a readable UtcTime".to_string(),
    };
    note(
        s,
        &format!(
            "{} lines read from {} input(s), {} malformed (skipped); {range}.",
            a.lines,
            a.inputs.len(),
            a.malformed
        ),
    );
    if !origin.captures.is_empty() {
        let mut list: Vec<String> = origin.captures.iter().take(LIST_ROWS).cloned().collect();
        if origin.captures.len() > LIST_ROWS {
            list.push(format!("and {} more", origin.captures.len() - LIST_ROWS));
        }
        note(s, &format!("Captures replayed: {}.", list.join(", ")));
    }
    let rows = a
        .inputs
        .iter()
        .take(LIST_ROWS)
        .map(|i| {
            vec![
                Cell::text(&i.name),
                Cell::num(i.lines),
                Cell::num(i.malformed),
            ]
        })
        .collect();
    table(s, "inputs", &["input", "lines", "malformed"], rows);
    if a.inputs.len() > LIST_ROWS {
        note(
            s,
            &format!("and {} more inputs", a.inputs.len() - LIST_ROWS),
        );
    }
    if !a.malformed_samples.is_empty() {
        h3(s, "Malformed lines");
        let rows = a
            .malformed_samples
            .iter()
            .map(|m| {
                vec![
                    Cell::text(&m.input),
                    Cell::num(m.line),
                    Cell::text(&m.reason),
                ]
            })
            .collect();
        table(s, "malformed", &["input", "line", "reason"], rows);
    }
    s.push_str("<div class=\"row\"><div>");
    h3(s, "Events by kind");
    counter_table(
        s,
        "events-by-kind",
        &["EventID and type", "events"],
        &a.kinds,
        TOP_ROWS,
    );
    s.push_str("</div><div>");
    h3(s, "Sources (captures, interfaces)");
    counter_table(s, "sources", &["Source", "events"], &a.sources, SOURCE_ROWS);
    s.push_str("</div><div>");
    h3(s, "Sensor counters (last SensorState per sensor)");
    if a.sensors.is_empty() {
        note(s, "No SensorState (EventID 4) line in the input.");
    }
    for (name, e) in a.sensors.top(LIST_ROWS) {
        let i = &e.extra;
        note(
            s,
            &format!(
                "{name}: state {} at {} (wall clock), source {}; {} SensorState lines.",
                i.state,
                i.time,
                super::aggregate::clip(&i.source, 160),
                e.count
            ),
        );
        // Two counters a row: the list is long and the values short.
        let nonzero: Vec<&(String, u64)> = i.counters.iter().filter(|(_, v)| *v > 0).collect();
        let rows = nonzero
            .chunks(2)
            .map(|pair| {
                pair.iter()
                    .flat_map(|(k, v)| [Cell::text(k), Cell::num(v)])
                    .collect()
            })
            .collect();
        table(s, "", &["counter", "value", "counter", "value"], rows);
        let zero: Vec<&str> = i
            .counters
            .iter()
            .filter(|(_, v)| *v == 0)
            .map(|(k, _)| k.as_str())
            .collect();
        if !zero.is_empty() {
            note(s, &format!("Zero: {}.", zero.join(", ")));
        }
        if i.counters_dropped > 0 {
            note(
                s,
                &format!("{} more counters not kept.", i.counters_dropped),
            );
        }
    }
    s.push_str("</div></div>");
    end_section(s);
}

/// A table of a counter's top rows, with an "(other)" row for the rest.
fn counter_table<V: Default>(s: &mut String, id: &str, head: &[&str], t: &TopCounter<V>, n: usize) {
    let mut rows: Vec<Vec<Cell>> = t
        .top(n)
        .into_iter()
        .map(|(k, e)| vec![Cell::text(k), Cell::num(e.count)])
        .collect();
    let other = t.other(n);
    if other > 0 {
        rows.push(vec![Cell::text("(other)"), Cell::num(other)]);
    }
    table(s, id, head, rows);
}

fn items(list: &[MappingItem]) -> String {
    let v: Vec<String> = list
        .iter()
        .filter_map(|i| match i {
            MappingItem::Name(n) => Some(n.clone()),
            MappingItem::Capability {
                capability,
                category,
                value,
            } => Some(format!("{capability} ({category}, {value})")),
            MappingItem::Other(_) => None,
        })
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join("; ")
    }
}

fn alerts(s: &mut String, a: &Aggregator) {
    section(s, "alerts", "Alerts");
    note(
        s,
        &format!(
            "{} events matched rules: {} rule matches (an event that matched two rules counts \
             for each in the tables below).",
            a.alert_events,
            a.alert_matches()
        ),
    );
    h3(s, "By level");
    let rows = a
        .levels_ordered()
        .into_iter()
        .map(|(l, n)| vec![Cell::text(l), Cell::num(n)])
        .collect();
    table(s, "alerts-by-level", &["level", "rule matches"], rows);
    h3(s, "By rule");
    let mut rows: Vec<Vec<Cell>> = a
        .rules
        .top(RULE_ROWS)
        .into_iter()
        .map(|(id, e)| {
            vec![
                Cell::text(&e.extra.title),
                Cell::text(&e.extra.level),
                Cell::text(e.extra.techniques.join(", ")),
                Cell::num(e.count),
                Cell::text(id),
            ]
        })
        .collect();
    let other = a.rules.other(RULE_ROWS);
    if other > 0 {
        rows.push(vec![
            Cell::text("(other rules)"),
            Cell::text(""),
            Cell::text(""),
            Cell::num(other),
            Cell::text(""),
        ]);
    }
    table(
        s,
        "alerts-by-rule",
        &["rule", "level", "techniques", "matches", "rule id"],
        rows,
    );
    h3(s, "By technique, with its mappings");
    let techniques = a.techniques.top(a.techniques.cap());
    let any_mappings = techniques.iter().any(|(_, e)| e.extra.mappings.is_some());
    let rows = techniques
        .into_iter()
        .map(|(t, e)| {
            let titles: Vec<String> = e
                .extra
                .rules
                .iter()
                .map(|id| {
                    a.rules
                        .get(id)
                        .map_or(id.clone(), |r| r.extra.title.clone())
                })
                .collect();
            let empty = MappingSet::default();
            let m = e.extra.mappings.as_ref().unwrap_or(&empty);
            vec![
                Cell::text(t),
                Cell::num(e.count),
                Cell::text(if titles.len() > TITLES_SHOWN {
                    format!(
                        "{}; and {} more",
                        titles[..TITLES_SHOWN].join("; "),
                        titles.len() - TITLES_SHOWN
                    )
                } else {
                    titles.join("; ")
                }),
                Cell::text(items(&m.veris)),
                Cell::text(items(&m.nist_800_53)),
                Cell::text(items(&m.aws)),
                Cell::text(items(&m.azure)),
                Cell::text(items(&m.gcp)),
            ]
        })
        .collect();
    table(
        s,
        "alerts-by-technique",
        &[
            "technique",
            "matches",
            "rules",
            "VERIS",
            "NIST 800-53 rev 5",
            "AWS",
            "Azure",
            "GCP",
        ],
        rows,
    );
    if !any_mappings {
        note(
            s,
            "No alert carried technique mappings (the Mappings object of an alert), so the \
             mapping columns are empty.",
        );
    }
    end_section(s);
}

fn timeline(s: &mut String, a: &Aggregator) {
    section(s, "timeline", "Alert timeline");
    if a.timeline.is_empty() {
        note(s, "No alert with a readable UtcTime.");
    } else {
        s.push_str("<figure>");
        s.push_str(&svg::timeline(&a.timeline));
        s.push_str(&svg::legend());
        s.push_str("</figure>");
        let (_, _, width) = a.timeline.columns(svg::TIMELINE_COLUMNS);
        note(
            s,
            &format!(
                "Alerting events (each under its highest level) per {}, packet time.",
                svg::span(width)
            ),
        );
    }
    end_section(s);
}

fn destinations(s: &mut String, a: &Aggregator) {
    section(s, "destinations", "Top destinations by name");
    let tables = [
        (
            "DestinationHostname (connections, EventID 3)",
            "top-hostnames",
            ["DestinationHostname", "connections"],
            &a.hostnames,
        ),
        (
            "QueryName (DNS queries, EventID 22)",
            "top-queries",
            ["QueryName", "queries"],
            &a.queries,
        ),
        (
            "TlsSni (TLS and QUIC connections, EventID 3)",
            "top-snis",
            ["TlsSni", "connections"],
            &a.snis,
        ),
    ];
    s.push_str("<div class=\"row\">");
    for (title, id, head, t) in tables {
        s.push_str("<div>");
        h3(s, title);
        counter_table(s, id, &head, t, TOP_ROWS);
        s.push_str("</div>");
    }
    s.push_str("</div>");
    end_section(s);
}

fn fingerprint_table(
    s: &mut String,
    id: &str,
    name: &str,
    t: &TopCounter<super::aggregate::FingerprintInfo>,
) {
    let mut rows: Vec<Vec<Cell>> = t
        .top(TOP_ROWS)
        .into_iter()
        .map(|(k, e)| {
            vec![
                Cell::text(k),
                Cell::num(e.count),
                Cell::text(e.extra.protocols.join(", ")),
                Cell::text(e.extra.snis.join(", ")),
            ]
        })
        .collect();
    let other = t.other(TOP_ROWS);
    if other > 0 {
        rows.push(vec![
            Cell::text("(other)"),
            Cell::num(other),
            Cell::text(""),
            Cell::text(""),
        ]);
    }
    table(
        s,
        id,
        &[name, "connections", "protocols", "example SNIs"],
        rows,
    );
}

fn fingerprints(s: &mut String, a: &Aggregator) {
    section(s, "fingerprints", "TLS and QUIC client fingerprints");
    note(
        s,
        "From NetworkConnect events (EventID 3) of TLS and QUIC connections.",
    );
    s.push_str("<div class=\"row\"><div>");
    h3(s, "JA4");
    fingerprint_table(s, "ja4", "JA4", &a.ja4);
    s.push_str("</div><div>");
    h3(s, "JA3 (hash)");
    fingerprint_table(s, "ja3", "JA3 hash", &a.ja3);
    s.push_str("</div></div>");
    end_section(s);
}

fn limits(s: &mut String, a: &Aggregator) {
    section(s, "limits", "Limits: what the caps turned away");
    note(
        s,
        "Each table holds at most its cap of keys. Past it, the table keeps its heavier half: \
         the dropped keys' events are in the (other) rows, and a key seen again after being \
         dropped can be low by at most the largest count dropped. Every count is exact when \
         nothing was dropped.",
    );
    let row = |name: &str, cap: usize, held: usize, dropped: u64, max: u64, cut: u64| {
        vec![
            Cell::text(name),
            Cell::num(cap),
            Cell::num(held),
            Cell::num(dropped),
            Cell::num(max),
            Cell::num(cut),
        ]
    };
    macro_rules! t {
        ($name:expr, $t:expr) => {
            row(
                $name,
                $t.cap(),
                $t.len(),
                $t.dropped_keys(),
                $t.max_dropped(),
                $t.truncated_keys(),
            )
        };
    }
    let rows = vec![
        t!("DestinationHostname", a.hostnames),
        t!("QueryName", a.queries),
        t!("TlsSni", a.snis),
        t!("JA4", a.ja4),
        t!("JA3 hash", a.ja3),
        t!("rules", a.rules),
        t!("techniques", a.techniques),
        t!("levels", a.levels),
        t!("sources", a.sources),
        t!("sensors", a.sensors),
        t!("event kinds", a.kinds),
    ];
    table(
        s,
        "caps",
        &[
            "table",
            "cap",
            "keys held",
            "keys dropped",
            "largest count dropped",
            "keys cut at 512 bytes",
        ],
        rows,
    );
    let mut out = String::new();
    let _ = write!(
        out,
        "Beacon rows: {} of {} kept (cap {}); DNS tunnel rows: {} of {} kept (cap {}); \
         malformed lines: {}; events without a readable UtcTime: {}; alert Mappings that \
         could not be read: {}.",
        a.beacons.rows.len(),
        a.beacons.seen,
        a.caps.candidates,
        a.tunnels.rows.len(),
        a.tunnels.seen,
        a.caps.candidates,
        a.malformed,
        a.untimed,
        a.mappings_unreadable
    );
    s.push_str("<p class=\"note\" id=\"limits-other\">");
    esc_into(s, &out);
    s.push_str("</p>\n");
    end_section(s);
}

#[cfg(test)]
mod tests;
