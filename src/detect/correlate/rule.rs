//! A Sigma correlation document (specification v2.1) → [`Correlation`]: its type, the
//! rules it refers to, `group-by`, `timespan`, `condition`, `aliases`, `generate`, and
//! the metadata an alert carries. References are resolved later, by [`super::compile`],
//! once every document of every file is loaded.

use crate::detect::sigma::RuleError;
use crate::detect::sigma::rule::{self as sigma_rule, text};
use crate::detect::sigma::yaml::Node;

/// Most rules one correlation may refer to (temporal state holds one slot per rule;
/// the specification's examples use two or three).
pub const MAX_REFERENCES: usize = 64;
/// Most `group-by` fields (each is read and copied per contributing event).
pub const MAX_GROUP_FIELDS: usize = 8;
/// Largest count a condition may name: a count correlation keeps that many entries
/// per group to decide it, so the bound is also the memory bound of one group.
pub const MAX_CONDITION_COUNT: f64 = 10_000.0;
/// Longest timespan: a week. Windows longer than that are a batch query's job, and
/// would keep state for every group for that long.
pub const MAX_TIMESPAN_SECS: i64 = 7 * 86_400;

/// The correlation types of the specification (v2.0's four and v2.1's metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "event_count" => Kind::EventCount,
            "value_count" => Kind::ValueCount,
            "temporal" => Kind::Temporal,
            "temporal_ordered" => Kind::TemporalOrdered,
            "value_sum" => Kind::ValueSum,
            "value_avg" => Kind::ValueAvg,
            "value_percentile" => Kind::ValuePercentile,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::EventCount => "event_count",
            Kind::ValueCount => "value_count",
            Kind::Temporal => "temporal",
            Kind::TemporalOrdered => "temporal_ordered",
            Kind::ValueSum => "value_sum",
            Kind::ValueAvg => "value_avg",
            Kind::ValuePercentile => "value_percentile",
        }
    }

    /// Types whose condition reads `field`.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            Kind::ValueCount | Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile
        )
    }

    fn is_temporal(self) -> bool {
        matches!(self, Kind::Temporal | Kind::TemporalOrdered)
    }
}

/// An alias name and, per rule (id or name), the field it stands for there.
pub type Alias = (String, Vec<(String, String)>);

/// One comparison of a condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Eq(f64),
    Neq(f64),
}

impl Bound {
    pub fn holds(self, v: f64) -> bool {
        match self {
            Bound::Gt(b) => v > b,
            Bound::Gte(b) => v >= b,
            Bound::Lt(b) => v < b,
            Bound::Lte(b) => v <= b,
            Bound::Eq(b) => v == b,
            Bound::Neq(b) => v != b,
        }
    }

    pub fn limit(self) -> f64 {
        match self {
            Bound::Gt(b) | Bound::Gte(b) | Bound::Lt(b) | Bound::Lte(b) | Bound::Eq(b) => b,
            Bound::Neq(b) => b,
        }
    }
}

/// `condition`: the comparisons (ANDed: two keys make a range), and for the value
/// types the field(s) they read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition {
    pub bounds: Vec<Bound>,
    /// `field`: one name, or several (value_count then counts distinct combinations).
    pub fields: Vec<String>,
    /// `percentile` (value_percentile only): the rank, 0–100; 95 when absent.
    pub percentile: Option<f64>,
}

impl Condition {
    pub fn holds(&self, v: f64) -> bool {
        self.bounds.iter().all(|b| b.holds(v))
    }
}

/// Event streams shipped with a built-in correlation (`tests:`): each `match` stream
/// must fire it at least once, each `no_match` stream never.
#[derive(Clone, Debug, Default)]
pub struct StreamTests {
    pub matching: Vec<Vec<serde_json::Map<String, serde_json::Value>>>,
    pub near_misses: Vec<Vec<serde_json::Map<String, serde_json::Value>>>,
}

#[derive(Clone, Debug)]
pub struct Correlation {
    pub id: String,
    pub name: String,
    pub title: String,
    pub status: String,
    pub level: String,
    pub description: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub kind: Kind,
    /// `rules`: ids or names of rules or other correlations, as written.
    pub rules: Vec<String>,
    pub group_by: Vec<String>,
    /// `timespan`, in seconds.
    pub timespan_secs: i64,
    pub condition: Condition,
    /// `aliases`: alias name → (rule id or name → the field in that rule's events).
    pub aliases: Vec<Alias>,
    /// `generate`: the referred rules also alert on their own.
    pub generate: bool,
    pub origin: String,
    pub source: String,
    pub tests: StreamTests,
}

impl Correlation {
    pub fn is_deprecated(&self) -> bool {
        matches!(self.status.as_str(), "deprecated" | "unsupported")
    }
}

/// `10s`, `5m`, `1h`, `2d` → seconds.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s.get(..s.len() - unit.len_utf8())?.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let secs = n.checked_mul(mult)?;
    (secs > 0 && secs <= MAX_TIMESPAN_SECS).then_some(secs)
}

fn number(n: &Node) -> Option<f64> {
    n.as_str()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn list(n: Option<&Node>) -> Vec<String> {
    sigma_rule::strings(n)
}

fn condition(node: Option<&Node>, kind: Kind) -> Result<Condition, RuleError> {
    let mut c = Condition::default();
    let Some(node) = node else {
        if kind.is_temporal() {
            return Ok(c);
        }
        return Err(RuleError::Missing("correlation.condition"));
    };
    let Node::Map(entries) = node else {
        return Err(RuleError::Missing(
            "correlation.condition must be a mapping",
        ));
    };
    for (k, v) in entries {
        let bound = |f: fn(f64) -> Bound| {
            number(v)
                .map(f)
                .ok_or_else(|| RuleError::Value(format!("condition {k} must be a number")))
        };
        match k.as_str() {
            "gt" => c.bounds.push(bound(Bound::Gt)?),
            "gte" => c.bounds.push(bound(Bound::Gte)?),
            "lt" => c.bounds.push(bound(Bound::Lt)?),
            "lte" => c.bounds.push(bound(Bound::Lte)?),
            "eq" => c.bounds.push(bound(Bound::Eq)?),
            "neq" => c.bounds.push(bound(Bound::Neq)?),
            "field" => c.fields = list(Some(v)),
            "percentile" => {
                let p = number(v)
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        RuleError::Value("percentile must be a number from 0 to 100".into())
                    })?;
                c.percentile = Some(p);
            }
            other => {
                return Err(RuleError::Value(format!("unknown condition key '{other}'")));
            }
        }
    }
    if c.bounds.is_empty() && !kind.is_temporal() {
        return Err(RuleError::Missing(
            "a comparison (gt, gte, lt, lte, eq, neq) in correlation.condition",
        ));
    }
    if c.bounds.len() > 2 {
        return Err(RuleError::Value(
            "a condition holds one comparison, or two for a range".into(),
        ));
    }
    let counted = matches!(kind, Kind::EventCount | Kind::ValueCount) || kind.is_temporal();
    if counted
        && c.bounds
            .iter()
            .any(|b| b.limit() > MAX_CONDITION_COUNT || b.limit() < 0.0)
    {
        return Err(RuleError::Value(format!(
            "a count condition must lie within 0..={MAX_CONDITION_COUNT}"
        )));
    }
    if kind.needs_field() && c.fields.is_empty() {
        return Err(RuleError::Missing("correlation.condition.field"));
    }
    if c.fields.len() > MAX_GROUP_FIELDS {
        return Err(RuleError::Value(format!(
            "more than {MAX_GROUP_FIELDS} condition fields"
        )));
    }
    if c.percentile.is_some() && kind != Kind::ValuePercentile {
        return Err(RuleError::Value(
            "percentile belongs to value_percentile only".into(),
        ));
    }
    Ok(c)
}

fn aliases(node: Option<&Node>) -> Result<Vec<Alias>, RuleError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let Node::Map(entries) = node else {
        return Err(RuleError::Value("aliases must be a mapping".into()));
    };
    let mut out = Vec::new();
    for (alias, per_rule) in entries {
        let Node::Map(m) = per_rule else {
            return Err(RuleError::Value(format!(
                "alias '{alias}' must map rule names to fields"
            )));
        };
        let mut fields = Vec::new();
        for (rule, field) in m {
            let f = field.as_str().ok_or_else(|| {
                RuleError::Value(format!(
                    "alias '{alias}': the field for {rule} must be text"
                ))
            })?;
            fields.push((rule.clone(), f.to_string()));
        }
        out.push((alias.clone(), fields));
    }
    Ok(out)
}

fn flag(n: Option<&Node>) -> Result<Option<bool>, RuleError> {
    match n.and_then(Node::as_str) {
        None => Ok(None),
        Some("true" | "True" | "yes") => Ok(Some(true)),
        Some("false" | "False" | "no") => Ok(Some(false)),
        Some(_) => Err(RuleError::Value("generate must be true or false".into())),
    }
}

fn streams(n: Option<&Node>) -> Vec<Vec<serde_json::Map<String, serde_json::Value>>> {
    match n {
        Some(Node::Seq(items)) => items
            .iter()
            .map(|stream| sigma_rule::json_events(Some(stream)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Builds a correlation from one YAML document (one that has a `correlation` key).
pub fn from_node(doc: &Node, origin: &str, source: &str) -> Result<Correlation, RuleError> {
    let title = text(doc.get("title"));
    if title.is_empty() {
        return Err(RuleError::Missing("title"));
    }
    let corr = doc
        .get("correlation")
        .ok_or(RuleError::Missing("correlation"))?;
    let type_name = text(corr.get("type"));
    let kind = Kind::parse(&type_name)
        .ok_or_else(|| RuleError::Value(format!("unknown correlation type '{type_name}'")))?;
    let rules = list(corr.get("rules"));
    if rules.is_empty() {
        return Err(RuleError::Missing("correlation.rules"));
    }
    if rules.len() > MAX_REFERENCES {
        return Err(RuleError::Value(format!(
            "more than {MAX_REFERENCES} referenced rules"
        )));
    }
    let group_by = list(corr.get("group-by"));
    if group_by.len() > MAX_GROUP_FIELDS {
        return Err(RuleError::Value(format!(
            "more than {MAX_GROUP_FIELDS} group-by fields"
        )));
    }
    // `timeframe` is the name Sigma 1.x used.
    let span = corr
        .get("timespan")
        .or_else(|| corr.get("timeframe"))
        .and_then(Node::as_str)
        .ok_or(RuleError::Missing("correlation.timespan"))?;
    let timespan_secs = parse_timespan(span).ok_or_else(|| {
        RuleError::Value(format!(
            "timespan '{span}' is not a positive number of s, m, h or d up to {MAX_TIMESPAN_SECS} s"
        ))
    })?;
    let mut condition = condition(corr.get("condition"), kind)?;
    // v2.0 put value_count's field beside the condition; accept it there too.
    if condition.fields.is_empty() {
        condition.fields = list(corr.get("field"));
    }
    if kind.needs_field() && condition.fields.is_empty() {
        return Err(RuleError::Missing("correlation.condition.field"));
    }
    let generate = match flag(corr.get("generate"))? {
        Some(g) => g,
        None => flag(doc.get("generate"))?.unwrap_or(false),
    };
    let tests = match doc.get("tests") {
        Some(t) => StreamTests {
            matching: streams(t.get("match")),
            near_misses: streams(t.get("no_match")),
        },
        None => StreamTests::default(),
    };
    Ok(Correlation {
        id: text(doc.get("id")),
        name: text(doc.get("name")),
        title,
        status: text(doc.get("status")),
        level: text(doc.get("level")),
        description: text(doc.get("description")),
        tags: list(doc.get("tags")),
        references: list(doc.get("references")),
        falsepositives: list(doc.get("falsepositives")),
        kind,
        rules,
        group_by,
        timespan_secs,
        condition,
        aliases: aliases(corr.get("aliases"))?,
        generate,
        origin: origin.to_string(),
        source: source.to_string(),
        tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::sigma::yaml::parse_docs;

    fn parse(text: &str) -> Result<Correlation, RuleError> {
        let docs = parse_docs(text).unwrap();
        from_node(&docs[0].node, "t", "t")
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("10s"), Some(10));
        assert_eq!(parse_timespan("90m"), Some(5400));
        assert_eq!(parse_timespan("1h"), Some(3600));
        assert_eq!(parse_timespan("2d"), Some(172_800));
        assert_eq!(parse_timespan("0m"), None);
        assert_eq!(parse_timespan("5w"), None);
        assert_eq!(parse_timespan("m"), None);
        assert_eq!(parse_timespan("30d"), None);
    }

    #[test]
    fn a_range_and_a_field() {
        let c = parse(
            "title: t\ncorrelation:\n  type: value_count\n  rules: [a]\n  group-by: [SourceIp]\n  timespan: 10m\n  condition:\n    field: QueryName\n    gt: 2\n    lte: 5\n",
        )
        .unwrap();
        assert_eq!(c.kind, Kind::ValueCount);
        assert_eq!(c.condition.fields, vec!["QueryName"]);
        assert!(!c.condition.holds(2.0) && c.condition.holds(3.0) && c.condition.holds(5.0));
        assert!(!c.condition.holds(6.0));
        assert!(!c.generate);
    }

    #[test]
    fn refusals() {
        let base = "title: t\ncorrelation:\n  rules: [a]\n  group-by: [SourceIp]\n";
        let bad = [
            "  type: event_count\n  timespan: 10m\n",
            "  type: event_count\n  timespan: 10q\n  condition: {gte: 3}\n",
            "  type: nope\n  timespan: 10m\n  condition: {gte: 3}\n",
            "  type: value_count\n  timespan: 10m\n  condition: {gte: 3}\n",
            "  type: event_count\n  timespan: 10m\n  condition: {gte: 3, lt: 9, neq: 4}\n",
            "  type: event_count\n  timespan: 10m\n  condition: {gte: 100000}\n",
            "  type: event_count\n  timespan: 10m\n  condition: {gte: 3, percentile: 5}\n",
            "  type: event_count\n  timespan: 10m\n  condition: {over: 3}\n",
        ];
        for b in bad {
            assert!(parse(&format!("{base}{b}")).is_err(), "{b}");
        }
        let ok = parse(&format!("{base}  type: temporal\n  timespan: 1h\n")).unwrap();
        assert!(ok.condition.bounds.is_empty());
    }

    #[test]
    fn generate_and_aliases() {
        let c = parse(
            "title: t\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  group-by: [ip]\n  timespan: 1m\n  generate: true\n  aliases:\n    ip:\n      a: SourceIp\n      b: DestinationIp\n",
        )
        .unwrap();
        assert!(c.generate);
        assert_eq!(
            c.aliases,
            vec![(
                "ip".to_string(),
                vec![
                    ("a".to_string(), "SourceIp".to_string()),
                    ("b".to_string(), "DestinationIp".to_string())
                ]
            )]
        );
    }
}
