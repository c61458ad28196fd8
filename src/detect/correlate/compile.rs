//! Correlations → [`CorrelationSet`]: references resolved (by `id` or `name`, to a
//! rule or to another correlation), cycles refused, `group-by` and `field` names
//! mapped per referenced rule (through `aliases`), and each correlation's placement:
//! *local* (state in the worker) when every referenced rule's group-by reads the
//! flow's IP pair (or the flow itself), which the dispatch hash keeps on one worker;
//! *shared* (one table behind a lock for all workers) otherwise.

use std::sync::{Arc, Mutex};

use hashbrown::HashMap;

use super::rule::{Correlation, Kind, MAX_CONDITION_COUNT};
use super::state::Table;
use crate::detect::fields::{self, FieldKey};
use crate::detect::sigma::{LoadFailure, Rule};
use crate::event::{Alert, Field};

/// Most values kept per group for value_sum, value_avg and value_percentile: the
/// metric is computed over at most this many most recent values in the window (older
/// ones are dropped, and counted).
pub const MAX_VALUES_PER_GROUP: usize = 1024;
/// Most groups one correlation tracks at once; past it the least recently seen group
/// is evicted (and counted). 8192 clients or pairs per correlation cover a large site's
/// active hosts within one window.
pub const MAX_GROUPS: usize = 8192;

/// What a correlation counts: the events of a rule, or the firings of a correlation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Index of the rule in the slice the engine was built from.
    Rule(u32),
    Corr(u32),
}

/// One compiled correlation.
#[derive(Debug)]
pub struct Compiled {
    /// The correlation's own alert (its id, title, level, tags).
    pub alert: Alert,
    pub kind: Kind,
    /// Nanoseconds.
    pub span: i64,
    pub timespan_secs: i64,
    pub condition: super::rule::Condition,
    pub inputs: Vec<Input>,
    /// The id (or the title, when it has none) of each input, for `ContributingRules`.
    pub input_ids: Vec<Arc<str>>,
    pub group_names: Vec<String>,
    /// `[input][group field]`: where each input's events keep each group-by value.
    pub group_keys: Vec<Vec<FieldKey>>,
    /// `[input][condition field]`.
    pub value_keys: Vec<Vec<FieldKey>>,
    /// It writes a Correlation event when it fires (no correlation refers to it, or
    /// one that does says `generate: true`).
    pub standalone: bool,
    /// State per worker (see the module doc); otherwise shared.
    pub local: bool,
    /// Entries one group keeps: counts are exact up to the largest bound and saturate
    /// past it, which decides every comparison the condition can make.
    pub entry_cap: usize,
    /// The correlations that count this one's firings, and at which input.
    pub consumers: Vec<(u32, u16)>,
    /// Some input can never be seen by the sensor (a *never* or other-logsource rule).
    pub unobservable_inputs: usize,
}

/// Every correlation of a rule set, compiled, with the links from rules to them.
#[derive(Debug, Default)]
pub struct CorrelationSet {
    pub corrs: Vec<Compiled>,
    /// Rule index → the correlations (and input positions) its matches feed.
    pub rule_feeds: HashMap<u32, Vec<(u32, u16)>>,
    /// Rule index → true when its matches only feed correlations (no alert of its own).
    pub feed_only: HashMap<u32, bool>,
    /// The tables of shared correlations (`None` for local ones).
    pub(super) shared: Vec<Option<Mutex<Table>>>,
}

impl CorrelationSet {
    pub fn is_empty(&self) -> bool {
        self.corrs.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Rule(u32),
    Corr(usize),
}

fn resolve_ref(r: &str, rules: &[Rule], corrs: &[Correlation]) -> Result<Target, String> {
    let mut found = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if (!rule.id.is_empty() && rule.id == r) || (!rule.name.is_empty() && rule.name == r) {
            found.push(Target::Rule(i as u32));
        }
    }
    for (j, c) in corrs.iter().enumerate() {
        if (!c.id.is_empty() && c.id == r) || (!c.name.is_empty() && c.name == r) {
            found.push(Target::Corr(j));
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "refers to '{r}', which no loaded rule has as id or name"
        )),
        _ => Err(format!(
            "refers to '{r}', which {} rules share",
            found.len()
        )),
    }
}

/// Does a set of group keys pin a group to one worker? The dispatch hash is the flow's
/// IP pair, symmetric: the pair, the flow id or the Community ID each name one worker.
fn pins_worker(keys: &[FieldKey]) -> bool {
    let has = |f: Field| keys.contains(&FieldKey::Event(f));
    (has(Field::SourceIp) && has(Field::DestinationIp))
        || has(Field::CommunityId)
        || has(Field::FlowId)
}

/// The field `name` denotes in the events of input `ident` (its reference as written,
/// its id and its name), through `aliases`.
fn key_for(c: &Correlation, name: &str, idents: &[&str]) -> FieldKey {
    for (alias, per_rule) in &c.aliases {
        if alias == name
            && let Some((_, field)) = per_rule
                .iter()
                .find(|(r, _)| idents.iter().any(|i| !i.is_empty() && i == r))
        {
            return fields::resolve(field);
        }
    }
    fields::resolve(name)
}

/// Compiles `corrs` against `rules`. `observable(i)` tells whether the engine runs rule
/// `i` at all (for `rules check` and the unobservable count). A correlation that does
/// not resolve, or sits on a cycle, fails with its reason; the others compile.
pub fn compile(
    rules: &[Rule],
    corrs: &[Correlation],
    observable: &dyn Fn(u32) -> bool,
) -> (CorrelationSet, Vec<LoadFailure>) {
    let mut failures = Vec::new();
    let n = corrs.len();
    // Targets per correlation, or why it failed.
    let mut targets: Vec<Option<Vec<Target>>> = Vec::with_capacity(n);
    for c in corrs {
        let t: Result<Vec<Target>, String> = c
            .rules
            .iter()
            .map(|r| resolve_ref(r, rules, corrs))
            .collect();
        match t {
            Ok(t) => targets.push(Some(t)),
            Err(e) => {
                failures.push(LoadFailure {
                    path: c.origin.clone(),
                    reason: e,
                });
                targets.push(None);
            }
        }
    }
    // Keep only correlations whose correlation inputs are kept, in dependency order
    // (Kahn's algorithm; what is left over sits on a cycle or on a failed one).
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    loop {
        let before = order.len();
        for j in 0..n {
            if placed[j] {
                continue;
            }
            let Some(t) = &targets[j] else { continue };
            let ready = t.iter().all(|x| match x {
                Target::Rule(_) => true,
                Target::Corr(k) => placed[*k],
            });
            if ready {
                placed[j] = true;
                order.push(j);
            }
        }
        if order.len() == before {
            break;
        }
    }
    for j in 0..n {
        if !placed[j] && targets[j].is_some() {
            failures.push(LoadFailure {
                path: corrs[j].origin.clone(),
                reason:
                    "refers to itself, or to a correlation that failed to load, through its rules"
                        .into(),
            });
        }
    }
    let mut new_index = vec![u32::MAX; n];
    for (k, &j) in order.iter().enumerate() {
        new_index[j] = k as u32;
    }
    let mut set = CorrelationSet::default();
    // Who refers to each rule and correlation, and whether any of those generates.
    let mut corr_refs: Vec<(bool, bool)> = vec![(false, false); order.len()];
    for &j in &order {
        let c = &corrs[j];
        let t = targets[j].as_deref().unwrap_or(&[]);
        let k = new_index[j];
        let mut inputs = Vec::with_capacity(t.len());
        let mut input_ids = Vec::with_capacity(t.len());
        let mut group_keys = Vec::with_capacity(t.len());
        let mut value_keys = Vec::with_capacity(t.len());
        let mut unobservable = 0;
        for (pos, (target, written)) in t.iter().zip(&c.rules).enumerate() {
            let (input, id, name, title) = match *target {
                Target::Rule(i) => {
                    let r = &rules[i as usize];
                    if !observable(i) {
                        unobservable += 1;
                    }
                    let feeds = set.rule_feeds.entry(i).or_default();
                    feeds.push((k, pos as u16));
                    let fo = set.feed_only.entry(i).or_insert(true);
                    *fo &= !c.generate;
                    (Input::Rule(i), &r.id, &r.name, &r.title)
                }
                Target::Corr(jj) => {
                    let inner = &corrs[jj];
                    let ik = new_index[jj];
                    if let Some(flags) = corr_refs.get_mut(ik as usize) {
                        flags.0 = true;
                        flags.1 |= c.generate;
                    }
                    if let Some(ic) = set.corrs.get_mut(ik as usize) {
                        ic.consumers.push((k, pos as u16));
                        if ic.unobservable_inputs == ic.inputs.len() {
                            unobservable += 1;
                        }
                    }
                    (Input::Corr(ik), &inner.id, &inner.name, &inner.title)
                }
            };
            let idents = [written.as_str(), id.as_str(), name.as_str()];
            inputs.push(input);
            input_ids.push(Arc::from(if id.is_empty() { title } else { id }.as_str()));
            group_keys.push(
                c.group_by
                    .iter()
                    .map(|g| key_for(c, g, &idents))
                    .collect::<Vec<_>>(),
            );
            value_keys.push(
                c.condition
                    .fields
                    .iter()
                    .map(|f| key_for(c, f, &idents))
                    .collect::<Vec<_>>(),
            );
        }
        let local = group_keys.iter().all(|g| pins_worker(g));
        let max_bound = c
            .condition
            .bounds
            .iter()
            .map(|b| b.limit())
            .fold(0.0_f64, f64::max)
            .min(MAX_CONDITION_COUNT);
        let entry_cap = match c.kind {
            Kind::EventCount | Kind::ValueCount => max_bound.floor() as usize + 1,
            Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile => MAX_VALUES_PER_GROUP,
            Kind::Temporal | Kind::TemporalOrdered => inputs.len(),
        };
        let tags: Vec<Arc<str>> = c.tags.iter().map(|t| Arc::from(t.as_str())).collect();
        set.corrs.push(Compiled {
            alert: Alert {
                rule_id: Arc::from(c.id.as_str()),
                rule_title: Arc::from(c.title.as_str()),
                rule_level: Arc::from(c.level.as_str()),
                rule_tags: Arc::from(tags),
                // Filled by `Engine::build` (see `detect::mappings`).
                mappings: None,
            },
            kind: c.kind,
            span: c.timespan_secs.saturating_mul(1_000_000_000),
            timespan_secs: c.timespan_secs,
            condition: c.condition.clone(),
            inputs,
            input_ids,
            group_names: c.group_by.clone(),
            group_keys,
            value_keys,
            standalone: true,
            local,
            entry_cap: entry_cap.max(1),
            consumers: Vec::new(),
            unobservable_inputs: unobservable,
        });
    }
    for (c, (referred, generated)) in set.corrs.iter_mut().zip(&corr_refs) {
        c.standalone = !referred || *generated;
    }
    set.shared = set
        .corrs
        .iter()
        .map(|c| (!c.local).then(|| Mutex::new(Table::new(MAX_GROUPS))))
        .collect();
    (set, failures)
}
