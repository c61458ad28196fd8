//! Rule author's tools behind `c2tap rules check|test|coverage` (DESIGN §5). Each takes
//! rule paths (empty: the built-in set) and writes its report to `out`; the binary maps
//! the returned [`ExitStatus`] to the process exit code.

pub mod coverage;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use super::Engine;
use super::sigma::classify::{self, Observability};
use super::sigma::{self, LoadFailure, RuleSet};
use super::source::JsonEvent;
use crate::event::{Alert, RULE_NAME};

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
    let set = sigma::load_or_builtin(rule_paths);
    write_check(&set, out)?;
    Ok(if set.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
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
/// and `Alerts` added when a rule matched. Blank lines are skipped. A line that is not a
/// JSON object stops with its line number.
pub fn test(
    rule_paths: &[PathBuf],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<ExitStatus, ToolError> {
    let set = sigma::load_or_builtin(rule_paths);
    if !set.failures.is_empty() {
        return Err(ToolError::RuleLoad(set.failures));
    }
    let engine = Engine::new(&set.rules);
    let mut line = String::new();
    let mut alerts = Vec::new();
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
        alerts.clear();
        engine.evaluate(&JsonEvent::from_map(&map), &mut alerts);
        writeln!(out, "{}", annotate(text, &map, &alerts))?;
    }
    Ok(ExitStatus::Success)
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
}

fn alerts_json(alerts: &[Alert]) -> String {
    let list: Vec<AlertJson<'_>> = alerts
        .iter()
        .map(|a| AlertJson {
            rule_id: &a.rule_id,
            rule_title: &a.rule_title,
            rule_level: &a.rule_level,
            rule_tags: a.rule_tags.iter().map(|t| &**t).collect(),
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
