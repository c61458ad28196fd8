//! ATT&CK technique mappings (DESIGN §4): for a technique, the VERIS actions, NIST SP
//! 800-53 rev 5 controls and AWS/Azure/GCP capabilities that the Center for
//! Threat-Informed Defense maps to it (Mappings Explorer, Apache-2.0; see `NOTICE`
//! beside the data).
//!
//! Where it sits: part of `detect`, read at rule load (each alert's `Mappings` object is
//! rendered once per rule, [`AlertMappings`]) and by the coverage view
//! (`tools::coverage::mappings`). No
//! lookup ever runs per event: the sensor copies the rendered bytes into each alert.
//!
//! The data is `attack-mappings.json`, written by `scripts/gen-mappings.py` from
//! `../shared/mappings/` for every technique the rules of `rules/` and SigmaHQ's network
//! rules (`../shared/sigma`) tag, compiled into the binary and parsed once, on first use.
//! A technique outside that set has no mappings here (regenerate with `--rules` to add a
//! team's own rules). Entries are per exact id: a sub-technique does not inherit its
//! parent's (the data scores them separately); the coverage view names what the parent
//! has instead.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

/// The generated data, compiled in.
const DATA_JSON: &str = include_str!("attack-mappings.json");

/// Where the data comes from, for people (the coverage view's heading, README).
pub const ATTRIBUTION: &str = "Center for Threat-Informed Defense Mappings Explorer, \
     Apache-2.0: VERIS 1.4.0, NIST SP 800-53 rev 5, AWS, Azure, GCP against ATT&CK 16.1; \
     VERIS 1.3.5 against ATT&CK 9.0";

/// One file the data was generated from.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct SourceFile {
    pub file: String,
    pub framework: String,
    pub framework_version: String,
    pub attack_version: String,
    pub last_update: String,
}

/// A NIST SP 800-53 rev 5 control: its name, and the first sentence of its discussion.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct NistControl {
    pub name: String,
    pub summary: String,
}

/// A VERIS enumeration related to a technique, with the VERIS versions that map it
/// (`1.4.0` against ATT&CK 16.1, `1.3.5` against ATT&CK 9.0).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Veris {
    pub id: String,
    pub description: String,
    pub versions: Vec<String>,
}

/// A cloud capability's score for a technique.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Capability {
    /// `Amazon GuardDuty`, `Azure Firewall`, ...
    pub capability: String,
    /// `protect`, `detect` or `respond`.
    pub category: String,
    /// `minimal`, `partial` or `significant`.
    pub value: String,
    /// The mapping's reasoning, as the CTID wrote it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comments: String,
    /// GuardDuty's finding types named in the comments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finding_types: Vec<String>,
}

/// Everything mapped to one technique id. Lists are sorted and without duplicates.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Technique {
    pub name: String,
    #[serde(default)]
    pub veris: Vec<Veris>,
    /// Control ids as NIST writes them (`SC-7`), by family then number.
    #[serde(default)]
    pub nist_800_53: Vec<String>,
    #[serde(default)]
    pub aws: Vec<Capability>,
    #[serde(default)]
    pub azure: Vec<Capability>,
    #[serde(default)]
    pub gcp: Vec<Capability>,
}

impl Technique {
    /// The frameworks with at least one entry, by key (`veris`, `nist_800_53`, `aws`,
    /// `azure`, `gcp`).
    pub fn frameworks(&self) -> Vec<&'static str> {
        [
            ("veris", self.veris.is_empty()),
            ("nist_800_53", self.nist_800_53.is_empty()),
            ("aws", self.aws.is_empty()),
            ("azure", self.azure.is_empty()),
            ("gcp", self.gcp.is_empty()),
        ]
        .into_iter()
        .filter(|(_, empty)| !empty)
        .map(|(k, _)| k)
        .collect()
    }
}

/// The whole data file.
#[derive(Debug, Default, Deserialize)]
pub struct Data {
    pub format: u32,
    pub sources: Vec<SourceFile>,
    pub nist_controls: BTreeMap<String, NistControl>,
    pub techniques: BTreeMap<String, Technique>,
}

/// Parsed on first use. The file is generated and tested (`tests/mappings.rs`, and the
/// unit test below), so it parses; were it ever not to, c2tap runs without mappings
/// rather than stopping.
static DATA: LazyLock<Data> = LazyLock::new(|| serde_json::from_str(DATA_JSON).unwrap_or_default());

/// The shipped mappings.
pub fn data() -> &'static Data {
    &DATA
}

/// The mappings of a technique id (`T1071.001`, any case), when the data has any.
pub fn lookup(technique: &str) -> Option<&'static Technique> {
    DATA.techniques.get(technique.to_ascii_uppercase().as_str())
}

/// The name and summary of a NIST control (`SC-7`).
pub fn nist_control(id: &str) -> Option<&'static NistControl> {
    DATA.nist_controls.get(id)
}

/// `T` and four digits, optionally `.` and three (ATT&CK's technique and sub-technique).
pub fn is_technique_id(id: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let Some(rest) = id.strip_prefix('T') else {
        return false;
    };
    match rest.split_once('.') {
        Some((main, sub)) => digits(main, 4) && digits(sub, 3),
        None => digits(rest, 4),
    }
}

/// The technique id of a Sigma tag (`attack.t1071.001` → `T1071.001`), if it is one.
pub fn technique_of_tag(tag: &str) -> Option<String> {
    let rest = tag.get(..7).filter(|p| p.eq_ignore_ascii_case("attack."))?;
    let id = tag.get(rest.len()..)?.to_ascii_uppercase();
    is_technique_id(&id).then_some(id)
}

/// The techniques of a rule's tags, upper-case, sorted, each once.
pub fn techniques_of_tags<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut ids: Vec<String> = tags
        .iter()
        .filter_map(|t| technique_of_tag(t.as_ref()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// An alert's `Mappings` object, as events carry it (the shape the README fixes):
/// technique → framework → entries; cloud entries as capability, category and value.
#[derive(Serialize)]
struct AlertTechnique<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    veris: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nist_800_53: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aws: Vec<AlertCapability<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    azure: Vec<AlertCapability<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gcp: Vec<AlertCapability<'a>>,
}

#[derive(Serialize)]
struct AlertCapability<'a> {
    capability: &'a str,
    category: &'a str,
    value: &'a str,
}

fn alert_capabilities(list: &[Capability]) -> Vec<AlertCapability<'_>> {
    list.iter()
        .map(|c| AlertCapability {
            capability: &c.capability,
            category: &c.category,
            value: &c.value,
        })
        .collect()
}

/// The compact JSON of the `Mappings` object for these tags, or `None` when none of
/// their techniques has a mapping (the alert then has no `Mappings` key).
pub fn render_alert_mappings<S: AsRef<str>>(tags: &[S]) -> Option<String> {
    render_techniques(&techniques_of_tags(tags))
}

/// [`render_alert_mappings`] of technique ids (upper-case, sorted, each once).
fn render_techniques(ids: &[String]) -> Option<String> {
    let mut map: BTreeMap<&str, AlertTechnique<'static>> = BTreeMap::new();
    for id in ids {
        let Some(t) = lookup(id) else { continue };
        if t.frameworks().is_empty() {
            continue;
        }
        map.insert(
            id,
            AlertTechnique {
                veris: t.veris.iter().map(|v| v.id.as_str()).collect(),
                nist_800_53: t.nist_800_53.iter().map(String::as_str).collect(),
                aws: alert_capabilities(&t.aws),
                azure: alert_capabilities(&t.azure),
                gcp: alert_capabilities(&t.gcp),
            },
        );
    }
    if map.is_empty() {
        return None;
    }
    serde_json::to_string(&map).ok()
}

/// Renders alert `Mappings` while rules load, once per distinct technique set: rules
/// that tag the same techniques share one copy of the bytes.
#[derive(Default)]
pub struct AlertMappings {
    rendered: HashMap<Vec<String>, Option<Arc<str>>>,
}

impl AlertMappings {
    pub fn new() -> AlertMappings {
        AlertMappings::default()
    }

    /// The `Mappings` object of an alert of a rule with these tags.
    pub fn for_tags<S: AsRef<str>>(&mut self, tags: &[S]) -> Option<Arc<str>> {
        let ids = techniques_of_tags(tags);
        if ids.is_empty() {
            return None;
        }
        // At most one entry per distinct technique set of the loaded rules (bounded by
        // the rule count).
        self.rendered
            .entry(ids)
            .or_insert_with_key(|ids| render_techniques(ids).map(Arc::from))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_data_parses_and_holds_the_rules_techniques() {
        let d: Data = serde_json::from_str(DATA_JSON).expect("attack-mappings.json parses");
        assert_eq!(d.format, 1);
        assert!(d.techniques.len() > 50, "{}", d.techniques.len());
        // Every technique the built-in rules tag that the data maps is there.
        let t = lookup("t1071.001").expect("T1071.001");
        assert_eq!(t.name, "Web Protocols");
        for c in &t.nist_800_53 {
            assert!(nist_control(c).is_some_and(|n| !n.name.is_empty()), "{c}");
        }
    }

    #[test]
    fn tags_name_techniques_only_in_attack_form() {
        assert_eq!(
            technique_of_tag("attack.t1071.001").as_deref(),
            Some("T1071.001")
        );
        assert_eq!(technique_of_tag("ATTACK.T1572").as_deref(), Some("T1572"));
        for not in [
            "attack.command-and-control",
            "attack.t1071.01",
            "attack.g0016",
            "cve.2021-44228",
            "attack.",
            "t1071",
        ] {
            assert_eq!(technique_of_tag(not), None, "{not}");
        }
        assert_eq!(
            techniques_of_tags(&["attack.t1572", "attack.t1071.001", "attack.T1572"]),
            ["T1071.001", "T1572"]
        );
    }

    #[test]
    fn alert_mappings_have_the_fixed_shape_and_leave_out_empty_parts() {
        let json = render_alert_mappings(&["attack.t1071.001", "attack.command-and-control"])
            .expect("T1071.001 is mapped");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let t = &v["T1071.001"];
        assert!(
            t["veris"]
                .as_array()
                .unwrap()
                .contains(&"action.malware.variety.C2".into())
        );
        assert!(
            t["nist_800_53"]
                .as_array()
                .unwrap()
                .contains(&"SC-7".into())
        );
        assert_eq!(
            t["aws"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["capability"] == "Amazon GuardDuty"),
            Some(&serde_json::json!({
                "capability": "Amazon GuardDuty", "category": "detect", "value": "partial"
            }))
        );
        // The written order is the README's: veris, nist_800_53, aws, azure, gcp.
        let at = |k: &str| json.find(&format!("\"{k}\":")).unwrap();
        assert!(at("veris") < at("nist_800_53") && at("nist_800_53") < at("aws"));
        assert!(at("aws") < at("azure") && at("azure") < at("gcp"));
        assert_eq!(render_alert_mappings(&["attack.command-and-control"]), None);
        // An id the data does not map is left out, not written empty.
        assert_eq!(render_alert_mappings(&["attack.t9999"]), None);
    }

    #[test]
    fn rules_with_the_same_techniques_share_one_rendering() {
        let mut m = AlertMappings::new();
        let a = m.for_tags(&["attack.t1071.001", "attack.t1572"]).unwrap();
        let b = m
            .for_tags(&["attack.T1572", "attack.t1071.001", "x"])
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(m.for_tags(&["attack.command-and-control"]), None);
    }
}
