//! The coverage section: `rules coverage`'s data ([`Coverage`]) for every loaded
//! rule, as tables.

use super::super::html::{Cell, end_section, h3, note, section, table};
use super::{COVERAGE_ROWS, LIST_ROWS};
use crate::detect::tools::coverage::Coverage;

pub(super) fn coverage(s: &mut String, c: &Coverage) {
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
    mappings(s, c);
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

/// A cloud capability as one cell line: `AWS Network Firewall (protect, significant)`,
/// with GuardDuty's finding types when the data names them.
fn capability(c: &crate::detect::mappings::Capability) -> String {
    let mut s = format!("{} ({}, {})", c.capability, c.category, c.value);
    if !c.finding_types.is_empty() {
        s.push_str(": ");
        s.push_str(&c.finding_types.join(", "));
    }
    s
}

/// The coverage view's "Mappings": per technique of the loaded rules, the shipped
/// data in full (what the alerts' compact `Mappings` objects are drawn from).
pub(super) fn mappings(s: &mut String, c: &Coverage) {
    h3(s, "Mappings");
    if c.mappings.is_empty() {
        note(
            s,
            "No technique of the loaded rules has mappings in the shipped data.",
        );
        return;
    }
    note(s, &format!("Source: {}.", c.mappings_source));
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join("; ")
        }
    };
    let rows = c
        .mappings
        .iter()
        .map(|m| {
            vec![
                Cell::text(&m.technique),
                Cell::text(&m.name),
                Cell::num(m.rules),
                Cell::text(join(m.veris.iter().map(|v| v.id.clone()).collect())),
                Cell::text(join(
                    m.nist_800_53
                        .iter()
                        .map(|n| format!("{} {}", n.id, n.name))
                        .collect(),
                )),
                Cell::text(join(m.aws.iter().map(capability).collect())),
                Cell::text(join(m.azure.iter().map(capability).collect())),
                Cell::text(join(m.gcp.iter().map(capability).collect())),
            ]
        })
        .collect();
    table(
        s,
        "coverage-mappings",
        &[
            "technique",
            "name",
            "rules",
            "VERIS",
            "NIST 800-53 rev 5",
            "AWS",
            "Azure",
            "GCP",
        ],
        rows,
    );
}
