//! `rules coverage` (DESIGN §4 "Coverage view"): the rule author's page for one ATT&CK
//! technique, computed from whatever rules are loaded.
//!
//! Its "Mappings" section (VERIS, NIST 800-53, cloud capabilities per technique) is in
//! [`mappings`].

pub mod mappings;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::{ExitStatus, ToolError};
use crate::detect::sigma::classify::{self, used_selections};
use crate::detect::sigma::value::ValueSpec;
use crate::detect::sigma::{self, Rule};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Rows shown in text tables (JSON carries everything).
const TEXT_TOP: usize = 15;
/// Indicator rows in the report (both forms): the long tail is one rule each.
const MAX_INDICATORS: usize = 50;
/// Sample values kept per field.
const MAX_SAMPLES: usize = 5;

#[derive(Debug, Serialize, PartialEq)]
pub struct EventRow {
    pub provider: String,
    pub event_id: String,
    pub title: String,
    pub rules: usize,
    /// c2tap produces this event.
    pub c2tap: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct FieldRow {
    /// Normalized name (Sysmon's where it has one).
    pub field: String,
    /// Names the rules used for it.
    pub names: Vec<String>,
    pub rules: usize,
    pub operators: BTreeMap<String, usize>,
    pub samples: Vec<String>,
    /// A network sensor can observe it.
    pub observable: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct IndicatorRow {
    pub field: String,
    pub operator: String,
    pub value: String,
    /// Rules of this technique that check it.
    pub rules: usize,
    /// Loaded rules of any technique that check it.
    pub corpus_reach: usize,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct RuleRow {
    pub title: String,
    pub level: String,
    pub observability: String,
    pub id: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SourceGroup {
    pub source: String,
    pub rules: Vec<RuleRow>,
}

/// The whole coverage page.
#[derive(Debug, Serialize, PartialEq)]
pub struct Coverage {
    pub technique: Option<String>,
    /// Active (not deprecated) rules loaded, any technique.
    pub rules_loaded: usize,
    /// Rules of this technique.
    pub rules_matched: usize,
    pub observability: BTreeMap<String, usize>,
    pub events: Vec<EventRow>,
    pub fields: Vec<FieldRow>,
    pub indicators: Vec<IndicatorRow>,
    pub sources: Vec<SourceGroup>,
    pub load_failures: usize,
    /// Per technique of the chosen rules (only the asked one and its sub-techniques
    /// with `--technique`), what the shipped data maps to it, most rules first.
    pub mappings: Vec<mappings::TechniqueMappings>,
    /// Where the mappings come from.
    pub mappings_source: String,
}

/// (provider, EventID, title, produced by c2tap) rows for a logsource.
fn event_kinds(r: &Rule) -> Vec<(&'static str, &'static str, String, bool)> {
    let ls = &r.logsource;
    let cat = ls.category.as_deref().unwrap_or("");
    let product = ls.product.as_deref().unwrap_or("");
    let service = ls.service.as_deref().unwrap_or("");
    let t = |s: &str| s.to_string();
    match (product, cat, service) {
        ("zeek", _, "dns") => vec![("Zeek", "dns.log", t("DNS"), true)],
        ("zeek", _, "http") => vec![("Zeek", "http.log", t("HTTP"), true)],
        ("zeek", _, "ssl") => vec![("Zeek", "ssl.log", t("TLS"), true)],
        ("zeek", _, "conn") => vec![("Zeek", "conn.log", t("Connection"), true)],
        ("zeek", _, s) => vec![("Zeek", "-", format!("{s}.log"), false)],
        ("windows", "process_creation", _) => vec![
            (
                "Microsoft-Windows-Sysmon",
                "1",
                t("Process creation"),
                false,
            ),
            (
                "Microsoft-Windows-Security-Auditing",
                "4688",
                t("A new process has been created"),
                false,
            ),
        ],
        (_, "connection_end", _) => vec![("c2tap", "101", t("Connection summary"), true)],
        (_, "beacon", _) => vec![("c2tap", "110", t("Beacon"), true)],
        (_, "dns_tunnel", _) => vec![("c2tap", "111", t("DNS tunnel"), true)],
        (_, "dns_query", _) => vec![("Microsoft-Windows-Sysmon", "22", t("DNS query"), true)],
        (_, "network_connection", _) => vec![(
            "Microsoft-Windows-Sysmon",
            "3",
            t("Network connection"),
            true,
        )],
        (_, "proxy", _) => vec![("proxy", "-", t("Web proxy request"), true)],
        (_, "dns", _) => vec![("dns", "-", t("DNS server / sensor log"), true)],
        (_, "firewall", _) => vec![("firewall", "-", t("Firewall connection log"), true)],
        (_, "process_creation", _) => vec![(
            "Microsoft-Windows-Sysmon",
            "1",
            t("Process creation"),
            false,
        )],
        (_, "file_event", _) => vec![("Microsoft-Windows-Sysmon", "11", t("File created"), false)],
        (_, "create_stream_hash", _) => vec![(
            "Microsoft-Windows-Sysmon",
            "15",
            t("File stream created"),
            false,
        )],
        (_, "ps_script", _) => vec![(
            "Microsoft-Windows-PowerShell",
            "4104",
            t("Script block logging"),
            false,
        )],
        _ => vec![("other", "-", ls.label(), false)],
    }
}

fn op_and_value(v: &ValueSpec) -> (String, String) {
    match v {
        ValueSpec::Null => ("is_null".into(), "null".into()),
        ValueSpec::Exists(true) => ("is_not_null".into(), "exists".into()),
        ValueSpec::Exists(false) => ("is_null".into(), "not exists".into()),
        ValueSpec::Str { pat, .. } => (pat.op_name().into(), pat.display()),
        ValueSpec::Re(r) => ("regex_match".into(), r.as_str().into()),
        ValueSpec::Cidr(n) => ("cidr_match".into(), format!("{}/{}", n.addr, n.prefix)),
        ValueSpec::Cmp(op, n) => (format!("{op:?}").to_ascii_lowercase(), n.to_string()),
        ValueSpec::FieldRef(k) => ("fieldref".into(), k.name().into()),
    }
}

/// (normalized field, raw name, operator, value) of every value the rule's used
/// selections test; keyword lists count as field `keywords`.
fn indicators(r: &Rule) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for i in used_selections(r) {
        let Some(sel) = r.selections.get(i) else {
            continue;
        };
        for it in sel.groups.iter().flatten() {
            let (norm, raw) = match (&it.field, &it.raw_field) {
                (Some(k), Some(raw)) => (k.name().to_string(), raw.clone()),
                _ => ("keywords".to_string(), "keywords".to_string()),
            };
            for (variants, written) in it.values.iter().zip(&it.raw_values) {
                // Expanded variants (windash, base64offset) are one indicator: the first,
                // shown as the rule wrote it.
                if let Some(v) = variants.first() {
                    let (op, val) = op_and_value(v);
                    let val = match (v, written) {
                        (ValueSpec::Str { .. }, Some(w)) => w.clone(),
                        _ => val,
                    };
                    out.push((norm.clone(), raw.clone(), op, val));
                }
            }
        }
    }
    out
}

fn has_technique(r: &Rule, t: &str) -> bool {
    let t = t.to_ascii_uppercase();
    let t = t.strip_prefix("ATTACK.").unwrap_or(&t).to_string();
    r.techniques()
        .iter()
        .any(|x| *x == t || (!t.contains('.') && x.starts_with(&format!("{t}."))))
}

/// Most techniques named in the "unknown technique" message.
const TECHNIQUES_SUGGESTED: usize = 12;

/// A technique that is not an ATT&CK id, or that no loaded rule carries, is an error:
/// empty tables would read as "nothing covers it" when the id is mistyped.
fn check_technique(rules: &[Rule], t: &str) -> Result<(), ToolError> {
    let id = t.to_ascii_uppercase();
    let id = id.strip_prefix("ATTACK.").unwrap_or(&id);
    if !is_technique_id(id) {
        return Err(ToolError::Usage(format!(
            "--technique {t:?} is not an ATT&CK technique id (like T1071 or T1071.001)"
        )));
    }
    if rules
        .iter()
        .any(|r| !r.is_deprecated() && has_technique(r, id))
    {
        return Ok(());
    }
    let mut known: BTreeMap<String, usize> = BTreeMap::new();
    for r in rules.iter().filter(|r| !r.is_deprecated()) {
        for x in r.techniques() {
            *known.entry(x.to_string()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = known.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let list = ranked
        .iter()
        .take(TECHNIQUES_SUGGESTED)
        .map(|(t, n)| format!("{t} ({n})"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(ToolError::Usage(format!(
        "no loaded rule is tagged with technique {id} (tag attack.{}); techniques of the \
         loaded rules: {}",
        id.to_ascii_lowercase(),
        if list.is_empty() { "none".into() } else { list }
    )))
}

/// `T` and four digits, optionally `.` and three (ATT&CK's technique and sub-technique).
fn is_technique_id(id: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    match rest.split_once('.') {
        Some((main, sub)) => digits(main, 4) && digits(sub, 3),
        None => digits(rest, 4),
    }
}

fn observability(r: &Rule) -> String {
    if r.kind().is_none() {
        "never".into()
    } else {
        classify::classify(r).name().into()
    }
}

/// Computes the coverage page for the loaded rules.
pub fn compute(rules: &[Rule], technique: Option<&str>, load_failures: usize) -> Coverage {
    let active: Vec<&Rule> = rules.iter().filter(|r| !r.is_deprecated()).collect();
    let chosen: Vec<&Rule> = active
        .iter()
        .copied()
        .filter(|r| technique.is_none_or(|t| has_technique(r, t)))
        .collect();
    Coverage {
        technique: technique.map(str::to_ascii_uppercase),
        rules_loaded: active.len(),
        rules_matched: chosen.len(),
        observability: observability_counts(&chosen),
        events: event_rows(&chosen),
        fields: field_rows(&chosen),
        indicators: indicator_rows(&chosen, &active),
        sources: rule_groups(&chosen),
        load_failures,
        mappings: mappings::rows(&technique_counts(&chosen, technique)),
        mappings_source: crate::detect::mappings::ATTRIBUTION.to_string(),
    }
}

/// Each technique the chosen rules tag (with `technique`, only it and its
/// sub-techniques) and how many of them tag it.
fn technique_counts(chosen: &[&Rule], technique: Option<&str>) -> BTreeMap<String, usize> {
    let want = technique.map(|t| {
        let t = t.to_ascii_uppercase();
        t.strip_prefix("ATTACK.").unwrap_or(&t).to_string()
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in chosen {
        let mut ids = r.techniques();
        ids.sort();
        ids.dedup();
        for id in ids {
            let keep = want.as_deref().is_none_or(|w| {
                id == w
                    || (!w.contains('.') && id.strip_prefix(w).is_some_and(|s| s.starts_with('.')))
            });
            if keep {
                *counts.entry(id).or_default() += 1;
            }
        }
    }
    counts
}

/// Rules per observability class (full, partial, never).
fn observability_counts(chosen: &[&Rule]) -> BTreeMap<String, usize> {
    let mut obs: BTreeMap<String, usize> = BTreeMap::new();
    for r in chosen {
        *obs.entry(observability(r)).or_default() += 1;
    }
    obs
}

/// "Events covered": the events the rules' logsources stand for, most rules first.
fn event_rows(chosen: &[&Rule]) -> Vec<EventRow> {
    let mut events: BTreeMap<(String, String, String), (usize, bool)> = BTreeMap::new();
    for r in chosen {
        for (p, id, title, c2) in event_kinds(r) {
            let e = events
                .entry((p.to_string(), id.to_string(), title))
                .or_insert((0, c2));
            e.0 += 1;
        }
    }
    let mut events: Vec<EventRow> = events
        .into_iter()
        .map(|((provider, event_id, title), (rules, c2tap))| EventRow {
            provider,
            event_id,
            title,
            rules,
            c2tap,
        })
        .collect();
    events.sort_by(|a, b| {
        b.rules
            .cmp(&a.rules)
            .then(a.provider.cmp(&b.provider))
            .then(a.event_id.cmp(&b.event_id))
    });
    events
}

/// "Fields filtered most": per normalized field, the names, operators and sample
/// values the rules use, most rules first.
fn field_rows(chosen: &[&Rule]) -> Vec<FieldRow> {
    struct Acc {
        names: Vec<String>,
        rules: usize,
        ops: BTreeMap<String, usize>,
        samples: Vec<String>,
        observable: bool,
    }
    let mut fields: BTreeMap<String, Acc> = BTreeMap::new();
    for r in chosen {
        let mut seen_fields = Vec::new();
        for (norm, raw, op, val) in &indicators(r) {
            let acc = fields.entry(norm.clone()).or_insert_with(|| Acc {
                names: Vec::new(),
                rules: 0,
                ops: BTreeMap::new(),
                samples: Vec::new(),
                observable: norm == "keywords" || crate::detect::fields::resolve(raw).observable(),
            });
            if !acc.names.contains(raw) {
                acc.names.push(raw.clone());
            }
            *acc.ops.entry(op.clone()).or_default() += 1;
            if acc.samples.len() < MAX_SAMPLES && !acc.samples.contains(val) {
                acc.samples.push(val.clone());
            }
            if !seen_fields.contains(norm) {
                seen_fields.push(norm.clone());
                acc.rules += 1;
            }
        }
    }
    let mut fields: Vec<FieldRow> = fields
        .into_iter()
        .map(|(field, a)| FieldRow {
            field,
            names: a.names,
            rules: a.rules,
            operators: a.ops,
            samples: a.samples,
            observable: a.observable,
        })
        .collect();
    fields.sort_by(|a, b| b.rules.cmp(&a.rules).then(a.field.cmp(&b.field)));
    fields
}

/// (normalized field, operator, lowercased value): indicators group
/// case-insensitively, as they match.
type IndicatorKey = (String, String, String);

/// Each indicator key of `r`, once.
fn indicator_keys(r: &Rule) -> Vec<(IndicatorKey, String)> {
    let mut seen: Vec<(IndicatorKey, String)> = Vec::new();
    for (norm, _, op, val) in indicators(r) {
        let key = (norm, op, val.to_lowercase());
        if !seen.iter().any(|(k, _)| *k == key) {
            seen.push((key, val));
        }
    }
    seen
}

/// "Top indicator values": the values the chosen rules check, with how many loaded
/// rules of any technique check the same, capped at [`MAX_INDICATORS`].
fn indicator_rows(chosen: &[&Rule], active: &[&Rule]) -> Vec<IndicatorRow> {
    let mut ind_here: BTreeMap<IndicatorKey, usize> = BTreeMap::new();
    // Shown as first written.
    let mut shown: BTreeMap<IndicatorKey, String> = BTreeMap::new();
    for r in chosen {
        for (key, val) in indicator_keys(r) {
            shown.entry(key.clone()).or_insert(val);
            *ind_here.entry(key).or_default() += 1;
        }
    }
    // Corpus reach: the same (field, operator, value) in any loaded rule.
    let mut reach: BTreeMap<IndicatorKey, usize> = BTreeMap::new();
    for r in active {
        for (key, _) in indicator_keys(r) {
            *reach.entry(key).or_default() += 1;
        }
    }
    let mut inds: Vec<IndicatorRow> = ind_here
        .into_iter()
        .map(|((field, operator, value), rules)| {
            let key = (field.clone(), operator.clone(), value.clone());
            let corpus_reach = reach.get(&key).copied().unwrap_or(rules);
            let value = shown.get(&key).cloned().unwrap_or(value);
            IndicatorRow {
                field,
                operator,
                value,
                rules,
                corpus_reach,
            }
        })
        .collect();
    inds.sort_by(|a, b| {
        b.rules
            .cmp(&a.rules)
            .then(b.corpus_reach.cmp(&a.corpus_reach))
            .then(a.field.cmp(&b.field))
            .then(a.value.cmp(&b.value))
    });
    inds.truncate(MAX_INDICATORS);
    inds
}

/// "Rules": the chosen rules by source file, by title.
fn rule_groups(chosen: &[&Rule]) -> Vec<SourceGroup> {
    let mut groups: BTreeMap<String, Vec<RuleRow>> = BTreeMap::new();
    for r in chosen {
        groups.entry(r.source.clone()).or_default().push(RuleRow {
            title: r.title.clone(),
            level: r.level.clone(),
            observability: observability(r),
            id: r.id.clone(),
        });
    }
    groups
        .into_iter()
        .map(|(source, mut rules)| {
            rules.sort_by(|a, b| a.title.cmp(&b.title));
            SourceGroup { source, rules }
        })
        .collect()
}

/// `rules coverage`: loads the rules (built-in set when `rule_paths` is empty) and
/// writes the page as text tables or one JSON document.
pub fn coverage(
    rule_paths: &[PathBuf],
    technique: Option<&str>,
    format: Format,
    out: &mut dyn Write,
) -> Result<ExitStatus, ToolError> {
    let set = sigma::load_or_builtin(rule_paths);
    if let Some(t) = technique {
        check_technique(&set.rules, t)?;
    }
    let cov = compute(&set.rules, technique, set.failures.len());
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &cov).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Text => write_text(&cov, out)?,
    }
    Ok(if set.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn table(out: &mut dyn Write, head: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let width = w.get(i).copied().unwrap_or(0);
            let last = i + 1 == cells.len();
            if last {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(
        out,
        "{}",
        line(head.iter().map(|h| h.to_string()).collect())
    )?;
    writeln!(out, "{}", line(w.iter().map(|n| "-".repeat(*n)).collect()))?;
    for r in rows {
        writeln!(out, "{}", line(r.clone()))?;
    }
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn write_text(c: &Coverage, out: &mut dyn Write) -> std::io::Result<()> {
    let t = c.technique.as_deref().unwrap_or("all techniques");
    let obs: Vec<String> = c
        .observability
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    writeln!(
        out,
        "Coverage of {t}: {} of {} loaded rules ({})",
        c.rules_matched,
        c.rules_loaded,
        obs.join(", ")
    )?;
    if c.load_failures > 0 {
        writeln!(
            out,
            "({} rule(s) failed to load; see `c2tap rules check`)",
            c.load_failures
        )?;
    }
    writeln!(out, "\nEvents covered")?;
    let rows: Vec<Vec<String>> = c
        .events
        .iter()
        .map(|e| {
            vec![
                e.provider.clone(),
                e.event_id.clone(),
                e.title.clone(),
                e.rules.to_string(),
                if e.c2tap {
                    "yes".into()
                } else {
                    "no (host)".into()
                },
            ]
        })
        .collect();
    table(
        out,
        &["provider", "EventID", "title", "rules", "c2tap"],
        &rows,
    )?;
    writeln!(out, "\nFields filtered most")?;
    let rows: Vec<Vec<String>> = c
        .fields
        .iter()
        .take(TEXT_TOP)
        .map(|f| {
            let ops: Vec<String> = f
                .operators
                .iter()
                .map(|(o, n)| format!("{o}:{n}"))
                .collect();
            let name = if f.observable {
                f.field.clone()
            } else {
                format!("{} (host)", f.field)
            };
            vec![
                name,
                f.rules.to_string(),
                ops.join(" "),
                clip(&f.samples.join(", "), 60),
            ]
        })
        .collect();
    table(
        out,
        &["field", "rules", "operators", "sample values"],
        &rows,
    )?;
    writeln!(out, "\nTop indicator values")?;
    let rows: Vec<Vec<String>> = c
        .indicators
        .iter()
        .take(TEXT_TOP)
        .map(|i| {
            vec![
                i.field.clone(),
                i.operator.clone(),
                clip(&i.value, 50),
                i.rules.to_string(),
                i.corpus_reach.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &["field", "operator", "value", "rules", "corpus reach"],
        &rows,
    )?;
    writeln!(out, "\nRules")?;
    for g in &c.sources {
        writeln!(out, "  {} ({})", g.source, g.rules.len())?;
        let rows: Vec<Vec<String>> = g
            .rules
            .iter()
            .map(|r| vec![r.observability.clone(), r.level.clone(), r.title.clone()])
            .collect();
        table(out, &["observability", "level", "title"], &rows)?;
    }
    mappings::write_text(&c.mappings, TEXT_TOP, &c.mappings_source, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_vendor_names_into_one_row() {
        let text = "title: a\ntags: [attack.t1071.001]\nlogsource: {category: dns_query}\ndetection: {s: {QueryName|endswith: .x.com}, condition: s}\n---\n\
                    title: b\ntags: [attack.t1071.001]\nlogsource: {product: zeek, service: dns}\ndetection: {s: {query|endswith: .x.com}, condition: s}\n---\n\
                    title: c\ntags: [attack.t1071.001]\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {Image|endswith: \\x.exe}, condition: s}\n---\n\
                    title: d\ntags: [attack.t1059]\nlogsource: {category: dns}\ndetection: {s: {dns.question.name|endswith: .x.com}, condition: s}\n";
        let set = sigma::load_str(text, "t", "t");
        assert!(set.failures.is_empty(), "{:?}", set.failures);
        let c = compute(&set.rules, Some("t1071.001"), 0);
        assert_eq!(c.rules_matched, 3);
        let q = c.fields.iter().find(|f| f.field == "QueryName").unwrap();
        assert_eq!(q.rules, 2);
        assert_eq!(q.names, ["QueryName", "query"]);
        assert_eq!(q.operators.get("ends_with"), Some(&2));
        let top = &c.indicators[0];
        assert_eq!(
            (
                top.field.as_str(),
                top.value.as_str(),
                top.rules,
                top.corpus_reach
            ),
            ("QueryName", ".x.com", 2, 3)
        );
        assert!(c.events.iter().any(|e| e.event_id == "4688" && !e.c2tap));
        assert_eq!(c.observability.get("never"), Some(&1));
        let mut buf = Vec::new();
        write_text(&c, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains("Events covered") && text.contains("Top indicator values"),
            "{text}"
        );
    }
}
