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
