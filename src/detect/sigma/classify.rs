//! Observability (DESIGN §4): can a network sensor ever fire this rule?
//!
//! Host-only fields are always absent on network events, and an absent field is null.
//! So every item on a host-only field has a fixed truth value (`Image: null` is true,
//! `Image|endswith: x` is false), and the condition is folded in three-valued logic:
//! - *never*: the condition folds to false (no event can match);
//! - *full*: no host-only field is used at all;
//! - *partial*: host-only fields are used but the rule can still match (in practice:
//!   they sit inside `not` filters, which are then always passed).

use super::condition::Expr;
use super::rule::{Item, Rule, Selection};
use super::value::ValueSpec;
use crate::detect::fields::FieldKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Observability {
    Full,
    Partial,
    Never,
}

impl Observability {
    pub fn name(self) -> &'static str {
        match self {
            Observability::Full => "full",
            Observability::Partial => "partial",
            Observability::Never => "never",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

fn all(it: impl Iterator<Item = Tri>) -> Tri {
    let mut r = Tri::True;
    for t in it {
        match t {
            Tri::False => return Tri::False,
            Tri::Unknown => r = Tri::Unknown,
            Tri::True => {}
        }
    }
    r
}

fn any(it: impl Iterator<Item = Tri>) -> Tri {
    let mut r = Tri::False;
    for t in it {
        match t {
            Tri::True => return Tri::True,
            Tri::Unknown => r = Tri::Unknown,
            Tri::False => {}
        }
    }
    r
}

/// The truth of one value on an absent field.
fn on_absent(v: &ValueSpec) -> bool {
    match v {
        ValueSpec::Null => true,
        ValueSpec::Exists(want) => !*want,
        _ => false,
    }
}

/// The fixed truth of an item when its field is host-only, else unknown.
pub fn item_truth(item: &Item) -> Tri {
    match &item.field {
        Some(FieldKey::HostOnly(_) | FieldKey::Unproduced(_)) => {
            let value = |variants: &Vec<ValueSpec>| variants.iter().any(on_absent);
            let t = if item.all {
                item.values.iter().all(value)
            } else {
                item.values.iter().any(value)
            };
            if t { Tri::True } else { Tri::False }
        }
        _ => Tri::Unknown,
    }
}

fn selection_truth(s: &Selection) -> Tri {
    any(s.groups.iter().map(|g| all(g.iter().map(item_truth))))
}

fn fold(e: &Expr, sels: &[Selection]) -> Tri {
    match e {
        Expr::And(v) => all(v.iter().map(|x| fold(x, sels))),
        Expr::Or(v) => any(v.iter().map(|x| fold(x, sels))),
        Expr::Not(x) => fold(x, sels).not(),
        Expr::Sel(i) => sels.get(*i).map_or(Tri::False, selection_truth),
        Expr::AtLeast(n, v) => {
            let ts: Vec<Tri> = v.iter().map(|x| fold(x, sels)).collect();
            let yes = ts.iter().filter(|t| **t == Tri::True).count();
            let maybe = ts.iter().filter(|t| **t == Tri::Unknown).count();
            if yes >= *n {
                Tri::True
            } else if yes + maybe < *n {
                Tri::False
            } else {
                Tri::Unknown
            }
        }
    }
}

fn used(e: &Expr, out: &mut Vec<usize>) {
    match e {
        Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => v.iter().for_each(|x| used(x, out)),
        Expr::Not(x) => used(x, out),
        Expr::Sel(i) => out.push(*i),
    }
}

/// Indexes of the selections the condition uses.
pub fn used_selections(rule: &Rule) -> Vec<usize> {
    let mut v = Vec::new();
    used(&rule.condition, &mut v);
    v.sort_unstable();
    v.dedup();
    v
}

/// Host-only field names the rule's used selections mention, sorted, deduplicated.
pub fn host_fields(rule: &Rule) -> Vec<String> {
    let mut names: Vec<String> = used_selections(rule)
        .into_iter()
        .filter_map(|i| rule.selections.get(i))
        .flat_map(|s| s.groups.iter().flatten())
        .filter_map(|it| match &it.field {
            Some(FieldKey::HostOnly(_) | FieldKey::Unproduced(_)) => it.raw_field.clone(),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The rule's observability class.
pub fn classify(rule: &Rule) -> Observability {
    if fold(&rule.condition, &rule.selections) == Tri::False {
        Observability::Never
    } else if host_fields(rule).is_empty() {
        Observability::Full
    } else {
        Observability::Partial
    }
}

/// True when the rule's logsource is one c2tap produces.
pub fn supported(rule: &Rule) -> bool {
    rule.kind().is_some()
}
