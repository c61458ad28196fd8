//! The page: one self-contained HTML document (inline CSS and SVG, no script, no
//! external reference) drawn from an [`Aggregator`] and the coverage of the loaded
//! rules. Each section has an id (`input`, `alerts`, `timeline`, `destinations`,
//! `beacons`, `dns-tunnels`, `fingerprints`, `coverage`, `limits`) and each table
//! too, so that tests and scripts find them.

use std::fmt::Write as _;

use super::aggregate::{Aggregator, Candidates};
use super::html::{Cell, end_section, esc, esc_into, h3, note, section, table};
use super::line::{MappingItem, MappingSet};
use super::svg;
use super::topn::TopCounter;
use crate::detect::tools::coverage::Coverage;

/// Rows shown per destination and fingerprint table; the rest is the "other" row.
pub const TOP_ROWS: usize = 25;
/// Sources (capture files) listed; the rest are one "(other)" row.
pub const SOURCE_ROWS: usize = 12;
/// Rules shown in "alerts by rule" (a SigmaHQ run can fire hundreds).
pub const RULE_ROWS: usize = 100;
/// Inputs, sensors and rules per coverage source listed one by one.
pub const LIST_ROWS: usize = 50;
/// Rows of the coverage view's field and indicator tables.
pub const COVERAGE_ROWS: usize = 15;

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
        esc(&origin.command),
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
    beacons(&mut s, &agg.beacons);
    tunnels(&mut s, &agg.tunnels);
    fingerprints(&mut s, agg);
    coverage(&mut s, cov);
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
                Cell::text(titles.join("; ")),
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

fn facts(c: &super::aggregate::Candidate, name: &str) -> String {
    c.facts
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("-".to_string(), |(_, v)| v.clone())
}

fn histogram_cell(c: &super::aggregate::Candidate, what: &str) -> Cell {
    match &c.histogram {
        Some(h) => {
            let mut html = svg::histogram(h, what);
            if c.histogram_truncated {
                html.push_str("<br>(first bins only)");
            }
            Cell::Html(html)
        }
        None => Cell::text("-"),
    }
}

fn dropped_note(s: &mut String, c: &Candidates, what: &str) {
    if c.dropped > 0 {
        note(
            s,
            &format!(
                "{} {what} alerts in all; the {} highest are shown, {} were left out.",
                c.seen,
                c.rows.len(),
                c.dropped
            ),
        );
    }
}

fn beacons(s: &mut String, b: &Candidates) {
    section(s, "beacons", "Beacon candidates (EventID 110)");
    if b.rows.is_empty() {
        note(s, "No Beacon event in the input.");
    } else {
        note(
            s,
            "Subscores in [0, 1], averaged into the score; the red mark on the score bar is the \
             alert threshold (0.9 by default).",
        );
        let rows = b
            .sorted()
            .into_iter()
            .map(|c| {
                vec![
                    Cell::text(&c.client),
                    Cell::text(&c.server),
                    Cell::text(&c.server_ip),
                    Cell::text(c.port.map_or("-".into(), |p| p.to_string())),
                    Cell::text(&c.kind),
                    Cell::num(svg::format_value(c.rank)),
                    Cell::Html(svg::bars(&c.figures, false)),
                    Cell::num(facts(c, "check-ins")),
                    Cell::num(facts(c, "connections")),
                    Cell::num(facts(c, "median interval s")),
                    histogram_cell(c, "check-ins"),
                    Cell::text(&c.first_seen),
                    Cell::text(&c.last_seen),
                    Cell::text(&c.reason),
                ]
            })
            .collect();
        table(
            s,
            "beacon-rows",
            &[
                "client",
                "server",
                "server IP",
                "port",
                "kind",
                "score",
                "subscores",
                "check-ins",
                "connections",
                "median interval s",
                "check-in histogram",
                "first seen",
                "last seen",
                "reason",
            ],
            rows,
        );
        dropped_note(s, b, "Beacon");
    }
    end_section(s);
}

fn tunnels(s: &mut String, t: &Candidates) {
    section(s, "dns-tunnels", "DNS tunnel candidates (EventID 111)");
    if t.rows.is_empty() {
        note(s, "No DnsTunnel event in the input.");
    } else {
        note(
            s,
            "Each bar is a figure over the threshold that makes a tunnel (the red mark: 50 \
             distinct subdomains, 3.2 bits/byte of label entropy, 20 NXDOMAIN domains for a DGA; \
             odd types is the share of TXT, NULL, CNAME and MX queries, a fraction); a bar ends \
             at twice its threshold, the number beside it is exact.",
        );
        let rows = t
            .sorted()
            .into_iter()
            .map(|c| {
                let figure = |name: &str| {
                    c.figures
                        .iter()
                        .find(|f| f.0 == name)
                        .map_or("-".to_string(), |f| svg::format_value(f.1))
                };
                vec![
                    Cell::text(&c.client),
                    Cell::text(&c.server),
                    Cell::text(&c.kind),
                    Cell::num(figure("subdomains")),
                    Cell::Html(svg::bars(&c.figures, true)),
                    Cell::num(facts(c, "queries")),
                    Cell::num(facts(c, "mean name length")),
                    Cell::num(facts(c, "name bytes/min")),
                    histogram_cell(c, "queries"),
                    Cell::text(&c.first_seen),
                    Cell::text(&c.last_seen),
                    Cell::text(&c.reason),
                ]
            })
            .collect();
        table(
            s,
            "tunnel-rows",
            &[
                "client",
                "domain",
                "kind",
                "distinct subdomains",
                "figures",
                "queries",
                "mean name length",
                "name bytes/min",
                "query histogram",
                "first seen",
                "last seen",
                "reason",
            ],
            rows,
        );
        dropped_note(s, t, "DnsTunnel");
    }
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

fn coverage(s: &mut String, c: &Coverage) {
    section(s, "coverage", "Coverage of the loaded rules");
    let obs: Vec<String> = c
        .observability
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    note(
        s,
        &format!(
            "{} rules loaded ({}){}; the same data as `c2tap rules coverage`.",
            c.rules_loaded,
            obs.join(", "),
            if c.load_failures > 0 {
                format!(", {} failed to load", c.load_failures)
            } else {
                String::new()
            }
        ),
    );
    h3(s, "Events covered");
    let rows = c
        .events
        .iter()
        .map(|e| {
            vec![
                Cell::text(&e.provider),
                Cell::text(&e.event_id),
                Cell::text(&e.title),
                Cell::num(e.rules),
                Cell::text(if e.c2tap { "yes" } else { "no (host)" }),
            ]
        })
        .collect();
    table(
        s,
        "coverage-events",
        &["provider", "EventID", "title", "rules", "c2tap"],
        rows,
    );
    h3(s, "Fields filtered most");
    let rows = c
        .fields
        .iter()
        .take(COVERAGE_ROWS)
        .map(|f| {
            let ops: Vec<String> = f
                .operators
                .iter()
                .map(|(o, n)| format!("{o}:{n}"))
                .collect();
            vec![
                Cell::text(if f.observable {
                    f.field.clone()
                } else {
                    format!("{} (host)", f.field)
                }),
                Cell::num(f.rules),
                Cell::text(ops.join(" ")),
                Cell::text(f.samples.join(", ")),
            ]
        })
        .collect();
    table(
        s,
        "coverage-fields",
        &["field", "rules", "operators", "sample values"],
        rows,
    );
    h3(s, "Top indicator values");
    let rows = c
        .indicators
        .iter()
        .take(COVERAGE_ROWS)
        .map(|i| {
            vec![
                Cell::text(&i.field),
                Cell::text(&i.operator),
                Cell::text(&i.value),
                Cell::num(i.rules),
                Cell::num(i.corpus_reach),
            ]
        })
        .collect();
    table(
        s,
        "coverage-indicators",
        &["field", "operator", "value", "rules", "corpus reach"],
        rows,
    );
    h3(s, "Rules");
    let mut rows = Vec::new();
    for g in &c.sources {
        for r in g.rules.iter().take(LIST_ROWS) {
            rows.push(vec![
                Cell::text(&g.source),
                Cell::text(&r.observability),
                Cell::text(&r.level),
                Cell::text(&r.title),
            ]);
        }
        if g.rules.len() > LIST_ROWS {
            rows.push(vec![
                Cell::text(&g.source),
                Cell::text(""),
                Cell::text(""),
                Cell::text(format!("and {} more", g.rules.len() - LIST_ROWS)),
            ]);
        }
    }
    table(
        s,
        "coverage-rules",
        &["source", "observability", "level", "title"],
        rows,
    );
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
mod tests {
    use super::super::aggregate::Caps;
    use super::*;
    use crate::detect::tools::coverage;

    fn page_of(lines: &[String], caps: Caps) -> String {
        let mut a = Aggregator::new(caps);
        for l in lines {
            assert_eq!(a.feed(l.as_bytes()), None, "{l}");
        }
        let set = crate::detect::sigma::builtin();
        let cov = coverage::compute(&set.rules, None, 0);
        let origin = Origin {
            command: "c2tap report <script>".into(),
            generated: "now".into(),
            captures: &[],
        };
        render(&a, &cov, &origin)
    }

    /// No script, and nothing the page would fetch: no element that loads, no `src`,
    /// no address in an attribute, no `url(…)` or `@import` in the style. Checked on
    /// the markup (the tags and the style), since a hostile name shown as text may
    /// well read `src=http://…`, which is fine.
    fn assert_self_contained(html: &str) {
        let mut tags = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => {
                    in_tag = true;
                    tags.push('<');
                }
                '>' if in_tag => {
                    in_tag = false;
                    tags.push_str(">\n");
                }
                c if in_tag => tags.push(c.to_ascii_lowercase()),
                _ => {}
            }
        }
        for bad in [
            "<script",
            "<img",
            "<link",
            "<iframe",
            "<object",
            "<embed",
            " src=",
            "http:",
            "https:",
            "url(",
            "javascript:",
        ] {
            assert!(!tags.contains(bad), "markup contains {bad:?}: {tags}");
        }
        let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
        assert!(
            !style.contains("url(") && !style.contains("@import"),
            "{style}"
        );
    }

    #[test]
    fn hostile_values_are_text_and_the_page_fetches_nothing() {
        let evil = r#"\"><img src=http://evil.example/x.png onerror=alert(1)><script src=https://evil.example/a.js></script>'"#;
        let lines = vec![
            format!(
                r#"{{"EventID":3,"UtcTime":"2026-11-22 11:21:40.608","Computer":"{evil}","Source":"{evil}","DestinationHostname":"{evil}","TlsSni":"{evil}","Ja4":"{evil}","Ja3Hash":"{evil}","AppProtocol":"{evil}","Alerts":[{{"RuleId":"{evil}","RuleTitle":"{evil}","RuleLevel":"{evil}","RuleTags":["attack.t1071.001"],"Mappings":{{"T1071.001":{{"veris":["{evil}"],"aws":[{{"capability":"{evil}","category":"detect","value":"partial"}}]}}}}}}]}}"#
            ),
            format!(r#"{{"EventID":22,"QueryName":"{evil}","UtcTime":"{evil}"}}"#),
            format!(
                r#"{{"EventID":110,"SourceIp":"{evil}","DestinationHostname":"{evil}","BeaconKind":"{evil}","Score":0.95,"Reason":"{evil}","CheckInHistogram":[1,2,3]}}"#
            ),
            format!(
                r#"{{"EventID":111,"Domain":"{evil}","TunnelKind":"{evil}","DistinctSubdomains":60}}"#
            ),
            format!(
                r#"{{"EventID":4,"Computer":"{evil}","State":"{evil}","Counters":{{"{evil}":1}}}}"#
            ),
            format!(r#"{{"EventID":"{evil}","EventType":"{evil}"}}"#),
        ];
        let html = page_of(&lines, Caps::default());
        assert_self_contained(&html);
        assert!(
            html.contains("&lt;img src=http://evil.example/x.png"),
            "shown as text"
        );
        assert!(html.contains("c2tap report &lt;script&gt;"));
        // The beacon's CheckInHistogram is drawn (three bins, three bars).
        let hist = &html[html.find("<svg class=\"hist\"").unwrap()..];
        let hist = &hist[..hist.find("</svg>").unwrap()];
        assert_eq!(hist.matches("class=\"fill\"").count(), 3, "{hist}");
    }

    #[test]
    fn an_overflowing_table_says_so() {
        let caps = Caps {
            names: 4,
            ..Caps::default()
        };
        let lines: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"EventID":22,"QueryName":"n{i}.test"}}"#))
            .collect();
        let html = page_of(&lines, caps);
        // 20 names through a table of 4: the rows shown plus (other) sum to 20.
        assert!(html.contains("<td>(other)</td>"), "{html}");
        let limits = &html[html.find("id=\"caps\"").unwrap()..];
        let row = &limits[limits.find("<td>QueryName</td>").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.starts_with("<td>QueryName</td><td class=\"n\">4</td>"),
            "{row}"
        );
        assert!(
            !row.contains("<td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td>"),
            "{row}"
        );
    }

    #[test]
    fn technique_rows_show_the_alerts_mappings() {
        let line = r#"{"EventID":3,"UtcTime":"2026-11-22 11:21:40.608","Alerts":[{"RuleId":"r1","RuleTitle":"Tunnel","RuleLevel":"medium","RuleTags":["attack.t1071.001"],"Mappings":{"T1071.001":{"veris":["action.malware.variety.C2"],"nist_800_53":["SI-4","SC-7"],"aws":[{"capability":"Amazon GuardDuty","category":"detect","value":"partial"}],"azure":[],"gcp":[]}}}]}"#;
        let html = page_of(&[line.to_string()], Caps::default());
        let t = &html[html.find("id=\"alerts-by-technique\"").unwrap()..];
        let row = &t[t.find("<td>T1071.001</td>").unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert_eq!(
            row,
            "<td>T1071.001</td><td class=\"n\">1</td><td>Tunnel</td>\
             <td>action.malware.variety.C2</td><td>SI-4; SC-7</td>\
             <td>Amazon GuardDuty (detect, partial)</td><td>-</td><td>-</td>"
        );
        assert!(!html.contains("No alert carried technique mappings"));
    }
}
