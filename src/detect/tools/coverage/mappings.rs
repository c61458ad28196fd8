//! The coverage view's "Mappings" section (`c2tap rules coverage`): per technique of
//! the chosen rules, what the shipped data maps to it, in full (VERIS descriptions and
//! versions, NIST control names, cloud comments and GuardDuty finding types).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{clip, table};
use crate::detect::mappings::{Capability, Veris, lookup, nist_control};

/// A NIST control as the view shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ControlRow {
    pub id: String,
    pub name: String,
    pub summary: String,
}

/// What a sub-technique's parent has where the sub-technique has nothing of its own.
/// Not inherited: the data scores a parent and its sub-techniques separately.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ParentNote {
    pub technique: String,
    /// Frameworks (`veris`, `nist_800_53`, `aws`, `azure`, `gcp`) empty here but not
    /// on the parent.
    pub frameworks: Vec<String>,
}

/// One technique's mappings.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TechniqueMappings {
    pub technique: String,
    /// ATT&CK's name (`Web Protocols`); empty when the data does not know the id.
    pub name: String,
    /// Chosen rules that tag it.
    pub rules: usize,
    pub veris: Vec<Veris>,
    pub nist_800_53: Vec<ControlRow>,
    pub aws: Vec<Capability>,
    pub azure: Vec<Capability>,
    pub gcp: Vec<Capability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentNote>,
}

/// The section for techniques and how many chosen rules tag each, most rules first.
pub fn rows(techniques: &BTreeMap<String, usize>) -> Vec<TechniqueMappings> {
    let mut out: Vec<TechniqueMappings> = techniques
        .iter()
        .map(|(id, &rules)| row(id, rules))
        .collect();
    out.sort_by(|a, b| b.rules.cmp(&a.rules).then(a.technique.cmp(&b.technique)));
    out
}

fn row(id: &str, rules: usize) -> TechniqueMappings {
    let own = lookup(id).cloned().unwrap_or_default();
    let parent = id.split_once('.').and_then(|(p, _)| {
        let pt = lookup(p)?;
        let mine = own.frameworks();
        let frameworks: Vec<String> = pt
            .frameworks()
            .into_iter()
            .filter(|f| !mine.contains(f))
            .map(String::from)
            .collect();
        (!frameworks.is_empty()).then(|| ParentNote {
            technique: p.to_string(),
            frameworks,
        })
    });
    let controls = own
        .nist_800_53
        .iter()
        .map(|c| {
            let n = nist_control(c).cloned().unwrap_or_default();
            ControlRow {
                id: c.clone(),
                name: n.name,
                summary: n.summary,
            }
        })
        .collect();
    TechniqueMappings {
        technique: id.to_string(),
        name: own.name.clone(),
        rules,
        veris: own.veris,
        nist_800_53: controls,
        aws: own.aws,
        azure: own.azure,
        gcp: own.gcp,
        parent,
    }
}

/// How a framework key reads in the text view.
fn label(framework: &str) -> &str {
    match framework {
        "veris" => "VERIS",
        "nist_800_53" => "NIST 800-53 rev 5",
        "aws" => "AWS",
        "azure" => "Azure",
        "gcp" => "GCP",
        other => other,
    }
}

/// The text form: up to `top` techniques; comments stay in the JSON form.
pub fn write_text(
    rows: &[TechniqueMappings],
    top: usize,
    attribution: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(out, "\nMappings ({attribution})")?;
    if rows.is_empty() {
        writeln!(out, " no ATT&CK technique tags on these rules")?;
    }
    for t in rows.iter().take(top) {
        let name = if t.name.is_empty() {
            String::new()
        } else {
            format!(" {}", t.name)
        };
        let plural = if t.rules == 1 { "" } else { "s" };
        writeln!(out, "\n {}{name} ({} rule{plural})", t.technique, t.rules)?;
        let empty = t.veris.is_empty()
            && t.nist_800_53.is_empty()
            && t.aws.is_empty()
            && t.azure.is_empty()
            && t.gcp.is_empty();
        if empty {
            writeln!(out, "  no mappings of its own in the data")?;
        }
        if !t.veris.is_empty() {
            writeln!(out, "  VERIS")?;
            let rows: Vec<Vec<String>> = t
                .veris
                .iter()
                .map(|v| {
                    vec![
                        v.id.clone(),
                        v.versions.join(", "),
                        clip(&v.description, 60),
                    ]
                })
                .collect();
            table(out, &["enumeration", "versions", "description"], &rows)?;
        }
        if !t.nist_800_53.is_empty() {
            writeln!(out, "  NIST 800-53 rev 5")?;
            let rows: Vec<Vec<String>> = t
                .nist_800_53
                .iter()
                .map(|c| vec![c.id.clone(), c.name.clone()])
                .collect();
            table(out, &["control", "name"], &rows)?;
        }
        let clouds = [("aws", &t.aws), ("azure", &t.azure), ("gcp", &t.gcp)];
        if clouds.iter().any(|(_, l)| !l.is_empty()) {
            writeln!(out, "  Cloud capabilities")?;
            let rows: Vec<Vec<String>> = clouds
                .iter()
                .flat_map(|(key, list)| {
                    list.iter().map(move |c| {
                        vec![
                            label(key).to_string(),
                            c.capability.clone(),
                            c.category.clone(),
                            c.value.clone(),
                        ]
                    })
                })
                .collect();
            table(out, &["cloud", "capability", "category", "value"], &rows)?;
            for (key, list) in clouds {
                for c in list.iter().filter(|c| !c.finding_types.is_empty()) {
                    writeln!(
                        out,
                        "  {} {} {}/{} finding types: {}",
                        label(key),
                        c.capability,
                        c.category,
                        c.value,
                        c.finding_types.join(", ")
                    )?;
                }
            }
        }
        if let Some(p) = &t.parent {
            let names: Vec<&str> = p.frameworks.iter().map(|f| label(f)).collect();
            writeln!(
                out,
                "  none of its own for {}; its parent {} has some (not inherited: the data scores them separately)",
                names.join(", "),
                p.technique
            )?;
        }
    }
    if rows.len() > top {
        writeln!(
            out,
            "\n ({} more techniques: --technique ID, or --format json for all, with comments)",
            rows.len() - top
        )?;
    }
    Ok(())
}
