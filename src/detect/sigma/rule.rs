//! A Sigma rule document → [`Rule`]: metadata, logsource, named selections with their
//! compiled values, and the parsed condition.

use super::RuleError;
use super::condition::{self, Expr};
use super::value::{self, Mods, ValueSpec};
use super::yaml::Node;
use crate::detect::fields::{self, EventKind, FieldKey, LogSource};

/// Most values in one rule: SigmaHQ's largest network rule has about 1,500; a rule
/// with more is generated data that belongs in a lookup, not a rule.
pub const MAX_VALUES_PER_RULE: usize = 100_000;

/// One `field|mods: values` entry, or a field-less keyword list (`field` is `None`).
#[derive(Clone, Debug)]
pub struct Item {
    /// The field name as written (`None` for keywords).
    pub raw_field: Option<String>,
    pub field: Option<FieldKey>,
    /// `|all`: every written value must match (otherwise any).
    pub all: bool,
    /// One entry per written value; its variants (windash, base64offset) are ORed.
    pub values: Vec<Vec<ValueSpec>>,
    /// The values as written (`None` for null), for reports.
    pub raw_values: Vec<Option<String>>,
}

/// A named selection: OR over groups, AND over the items of a group (a map is one
/// group, a list of maps is several).
#[derive(Clone, Debug)]
pub struct Selection {
    pub name: String,
    pub groups: Vec<Vec<Item>>,
}

/// Test events shipped inside a built-in rule (`tests:` key, ignored by other tools).
#[derive(Clone, Debug, Default)]
pub struct RuleTests {
    pub matching: Vec<serde_json::Map<String, serde_json::Value>>,
    pub near_misses: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    /// `name`: how correlation rules may refer to it (empty when absent).
    pub name: String,
    pub title: String,
    pub status: String,
    pub level: String,
    pub description: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
    pub selections: Vec<Selection>,
    pub condition: Expr,
    /// Where it came from: a file path (with `#N` for the Nth document) or `builtin:NAME`.
    pub origin: String,
    /// A grouping label for reports: `builtin`, or the rule folder's top directory.
    pub source: String,
    pub tests: RuleTests,
}

impl Rule {
    pub fn kind(&self) -> Option<EventKind> {
        self.logsource.kind()
    }

    pub fn is_deprecated(&self) -> bool {
        matches!(self.status.as_str(), "deprecated" | "unsupported")
    }

    /// ATT&CK technique ids of the tags, upper-cased (`T1071.001`).
    pub fn techniques(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| {
                t.strip_prefix("attack.")
                    .filter(|r| r.starts_with('t') || r.starts_with('T'))
            })
            .filter(|r| {
                r.get(1..2)
                    .is_some_and(|c| c.chars().all(|c| c.is_ascii_digit()))
            })
            .map(str::to_ascii_uppercase)
            .collect()
    }
}

pub(crate) fn text(n: Option<&Node>) -> String {
    n.and_then(Node::as_str).unwrap_or("").to_string()
}

pub(crate) fn strings(n: Option<&Node>) -> Vec<String> {
    match n {
        Some(Node::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Some(Node::Str(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub(crate) fn json_events(n: Option<&Node>) -> Vec<serde_json::Map<String, serde_json::Value>> {
    fn to_json(n: &Node) -> serde_json::Value {
        match n {
            Node::Null => serde_json::Value::Null,
            Node::Str(s) => match s.parse::<i64>() {
                Ok(i) => serde_json::Value::from(i),
                Err(_) => serde_json::Value::from(s.as_str()),
            },
            Node::Seq(v) => serde_json::Value::Array(v.iter().map(to_json).collect()),
            Node::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
            }
        }
    }
    match n {
        Some(Node::Seq(items)) => items
            .iter()
            .filter_map(|i| match to_json(i) {
                serde_json::Value::Object(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Builds a rule from one YAML document.
pub fn from_node(doc: &Node, origin: &str, source: &str) -> Result<Rule, RuleError> {
    if !matches!(doc, Node::Map(_)) {
        return Err(RuleError::Missing("a rule must be a YAML mapping"));
    }
    if doc.get("filter").is_some() && doc.get("detection").is_none() {
        return Err(RuleError::Unsupported("filter documents"));
    }
    let title = text(doc.get("title"));
    if title.is_empty() {
        return Err(RuleError::Missing("title"));
    }
    let ls = doc
        .get("logsource")
        .ok_or(RuleError::Missing("logsource"))?;
    let logsource = LogSource {
        category: ls.get("category").and_then(Node::as_str).map(String::from),
        product: ls.get("product").and_then(Node::as_str).map(String::from),
        service: ls.get("service").and_then(Node::as_str).map(String::from),
    };
    let det = doc
        .get("detection")
        .ok_or(RuleError::Missing("detection"))?;
    let Node::Map(entries) = det else {
        return Err(RuleError::Missing("detection must be a mapping"));
    };
    let mut selections = Vec::new();
    let mut budget = MAX_VALUES_PER_RULE;
    let mut cond_node = None;
    for (name, body) in entries {
        match name.as_str() {
            "condition" => cond_node = Some(body),
            "timeframe" => {}
            _ => {
                let groups = selection(body, logsource.kind(), &mut budget)
                    .map_err(|e| RuleError::InSelection(name.clone(), Box::new(e)))?;
                selections.push(Selection {
                    name: name.clone(),
                    groups,
                });
            }
        }
    }
    let names: Vec<String> = selections.iter().map(|s| s.name.clone()).collect();
    let condition = match cond_node {
        Some(Node::Str(c)) => condition::parse(c, &names)?,
        Some(Node::Seq(list)) if !list.is_empty() => {
            let mut parts = Vec::new();
            for c in list {
                let c = c
                    .as_str()
                    .ok_or(RuleError::Missing("condition must be text"))?;
                parts.push(condition::parse(c, &names)?);
            }
            if parts.len() == 1 {
                parts.remove(0)
            } else {
                Expr::Or(parts)
            }
        }
        _ => return Err(RuleError::Missing("detection.condition")),
    };
    let tests = match doc.get("tests") {
        Some(t) => RuleTests {
            matching: json_events(t.get("match")),
            near_misses: json_events(t.get("no_match")),
        },
        None => RuleTests::default(),
    };
    Ok(Rule {
        id: text(doc.get("id")),
        name: text(doc.get("name")),
        title,
        status: text(doc.get("status")),
        level: text(doc.get("level")),
        description: text(doc.get("description")),
        tags: strings(doc.get("tags")),
        references: strings(doc.get("references")),
        falsepositives: strings(doc.get("falsepositives")),
        logsource,
        selections,
        condition,
        origin: origin.to_string(),
        source: source.to_string(),
        tests,
    })
}

fn selection(
    body: &Node,
    kind: Option<EventKind>,
    budget: &mut usize,
) -> Result<Vec<Vec<Item>>, RuleError> {
    match body {
        Node::Map(entries) => Ok(vec![group(entries, kind, budget)?]),
        Node::Seq(items)
            if items.iter().all(|i| matches!(i, Node::Map(_))) && !items.is_empty() =>
        {
            items
                .iter()
                .map(|i| match i {
                    Node::Map(e) => group(e, kind, budget),
                    _ => Err(RuleError::Value("mixed list".into())),
                })
                .collect()
        }
        Node::Seq(_) | Node::Str(_) => Ok(vec![vec![item(None, kind, &[], body, budget)?]]),
        Node::Null => Err(RuleError::Value("empty selection".into())),
    }
}

fn group(
    entries: &[(String, Node)],
    kind: Option<EventKind>,
    budget: &mut usize,
) -> Result<Vec<Item>, RuleError> {
    entries
        .iter()
        .map(|(spec, v)| {
            let mut parts = spec.split('|');
            let field = parts.next().unwrap_or("").trim();
            let mods: Vec<&str> = parts.collect();
            let field = if field.is_empty() { None } else { Some(field) };
            item(field, kind, &mods, v, budget)
        })
        .collect()
}

fn item(
    field: Option<&str>,
    kind: Option<EventKind>,
    mods: &[&str],
    v: &Node,
    budget: &mut usize,
) -> Result<Item, RuleError> {
    let mut m = Mods::parse(mods)?;
    // A keyword is searched anywhere in the event, as full-text search does.
    if field.is_none() && !(m.contains || m.startswith || m.endswith || m.re) {
        m.contains = true;
    }
    let raw: Vec<Option<&str>> = match v {
        Node::Null => vec![None],
        Node::Str(s) => vec![Some(s.as_str())],
        Node::Seq(items) => items
            .iter()
            .map(|i| match i {
                Node::Null => Ok(None),
                Node::Str(s) => Ok(Some(s.as_str())),
                _ => Err(RuleError::Value(
                    "a value list may hold only scalars".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Node::Map(_) => {
            return Err(RuleError::Value(
                "a field's value cannot be a mapping".into(),
            ));
        }
    };
    if raw.is_empty() {
        return Err(RuleError::Value("empty value list".into()));
    }
    if raw.len() > *budget {
        return Err(RuleError::TooManyValues(MAX_VALUES_PER_RULE));
    }
    *budget -= raw.len();
    if field.is_none() && raw.iter().any(Option::is_none) {
        return Err(RuleError::Value("a keyword cannot be null".into()));
    }
    let raw_values = raw.iter().map(|r| r.map(String::from)).collect();
    let values = raw
        .into_iter()
        .map(|r| value::compile(r, &m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Item {
        raw_field: field.map(String::from),
        field: field.map(|f| fields::resolve_in(f, kind)),
        all: m.all,
        values,
        raw_values,
    })
}
