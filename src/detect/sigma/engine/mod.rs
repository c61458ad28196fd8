//! The compiled rule set and its per-event evaluation.
//!
//! Compile once: rules are split by route (event kind); within a route every field that
//! any rule reads gets one *slot* holding all literal patterns of all rules on that
//! field — equality in a hash map, `contains` in one Aho-Corasick automaton, `startswith`
//! in an anchored one, `endswith` in an anchored one over the reversed value — so one
//! pass over a field's value answers every literal of every rule at once, as bits (the
//! literals of one OR-item share a bit). Each rule has a *necessary set* of bits, one of
//! which must be set for it to match; only rules whose set is hit are evaluated. Their
//! condition trees then touch a field's value again only for wildcards, regexes, CIDR
//! and numeric tests.
//!
//! Slots are filled lazily (read, case-folded, scanned the first time a rule needs them
//! for this event), except those holding necessary bits, which are filled first.
//!
//! Files: this one holds the compiled types and the public face; `build` turns rules
//! into routes; `eval` runs a route on one event.

mod build;
mod eval;

use aho_corasick::AhoCorasick;
use hashbrown::HashMap;

use super::classify::{self, Observability};
use super::rule::Rule;
use super::value::{CidrSet, CmpOp, GlobTok, StrPat};
use std::sync::Arc;

use crate::detect::LoadFailure;
use crate::detect::correlate::{self, Correlation, CorrelationSet, Correlator};
use crate::detect::fields::{EventKind, FieldKey};
use crate::detect::mappings::AlertMappings;
use crate::detect::source::FieldSource;
use crate::event::Alert;
use eval::SCRATCH;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SlotKey {
    Field(FieldKey),
    /// A field a rule names by an alias (`cs-uri`, `c-uri`): the event's own value
    /// under that name (lower-cased) when it has one, else the mapped field.
    Named(FieldKey, Box<str>),
    /// All values of the event joined by `\n`, for field-less keywords.
    Keywords,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    Contains = 0,
    Starts = 1,
    Ends = 2,
}

/// One automaton of a slot and, per pattern, the literal bits it answers.
#[derive(Default)]
struct Auto {
    ac: Option<AhoCorasick>,
    lits: Vec<Vec<u32>>,
    /// Length of the longest pattern (bounds where the first match's neighbours start).
    max_len: usize,
}

/// A field's literals. `contains` scans the whole value; `starts` is an anchored search
/// from its start, and `ends` an anchored search over the reversed value with reversed
/// patterns, so prefix and suffix lists (most domain lists) cost only as many bytes as
/// the longest pattern that still fits, not the whole value.
#[derive(Default)]
struct Slot {
    autos: [Auto; 3],
    eq: HashMap<String, Vec<u32>>,
    /// Contains/starts/ends of the empty string: true whenever the field is present.
    empty: Vec<u32>,
    /// One-byte `contains` literals (byte, bit), tested with a byte search.
    bytes: Vec<(u8, u32)>,
    /// Some test needs the value as written (regex, `cased`, CIDR or number parsing);
    /// otherwise only the case-folded copy is kept.
    needs_orig: bool,
}

/// Values of an item matched as OR: a shared literal bit, then the other tests.
#[derive(Debug)]
struct CGroup {
    bit: Option<u32>,
    rest: Vec<CVal>,
}

#[derive(Debug)]
enum CVal {
    /// A wildcard pattern, tried only when its longest literal run (gate bit) occurs.
    Glob(Vec<GlobTok>, Option<u32>),
    Cased(StrPat),
    Re(regex::Regex),
    Cidr(CidrSet),
    Null,
    Exists(bool),
    Cmp(CmpOp, f64),
    FieldRef(u32),
}

#[derive(Debug)]
struct CItem {
    slot: u32,
    /// `|all`: one group per written value, all must hold; otherwise a single group.
    all: bool,
    groups: Vec<CGroup>,
}

#[derive(Debug)]
enum CExpr {
    And(Vec<CExpr>),
    Or(Vec<CExpr>),
    Not(Box<CExpr>),
    AtLeast(usize, Vec<CExpr>),
    Item(CItem),
}

struct CRule {
    alert: Alert,
    expr: CExpr,
    /// Index of the rule in the slice the engine was built from.
    index: u32,
    /// Some correlation counts its matches.
    feeds: bool,
    /// Its matches alert on their own (false: a correlation's `generate: false` rule).
    standalone: bool,
}

/// How a rule enters a route.
pub(super) struct RouteRule<'a> {
    pub rule: &'a Rule,
    pub index: u32,
    pub feeds: bool,
    pub standalone: bool,
}

#[derive(Default)]
struct Route {
    keys: Vec<SlotKey>,
    slots: Vec<Slot>,
    rules: Vec<CRule>,
    n_bits: u32,
    /// The slot each bit belongs to.
    bit_slot: Vec<u32>,
    /// The length of each bit's shortest literal (its selectivity, roughly).
    bit_minlen: Vec<usize>,
    /// Slots read before any rule, because some rule's necessary bits live there.
    prefill: Vec<u32>,
    /// Per bit: the rules that list it in their necessary set.
    bit_rules: Vec<Vec<u32>>,
    /// Rules without a necessary set: evaluated on every event of the route.
    always: Vec<u32>,
}

/// Counts from building an engine (what `rules check` and the sensor report).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Rules compiled into the engine (full + partial).
    pub active: usize,
    pub full: usize,
    pub partial: usize,
    /// Skipped: a host-only field makes them unsatisfiable on network events.
    pub never: usize,
    /// Skipped: logsource not produced by c2tap (process creation, Zeek smb, ...).
    pub other_logsource: usize,
    /// Skipped: `status: deprecated` or `unsupported`.
    pub deprecated: usize,
    /// Correlation rules compiled.
    pub correlations: usize,
}

/// How an engine is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Compile *never*-observable rules too (`rules test`: a host's own events carry
    /// the host fields the sensor never sees).
    pub include_never: bool,
    /// A rule that names a field by an alias (`cs-uri`, `c-uri`) reads the event's own
    /// value under that name when it has one (`rules test`: JSON events from several
    /// vendors). Off for the sensor, whose events have only canonical names: every name
    /// of a field then shares one slot (one read, one scan per field).
    pub own_names: bool,
    /// Alerts carry their rule's technique mappings (`Mappings`), rendered once per
    /// rule here. On by default; `--no-mappings` and `mappings = false` turn it off.
    pub mappings: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            include_never: false,
            own_names: false,
            mappings: true,
        }
    }
}

/// The compiled rule set.
pub struct Engine {
    routes: [Route; EventKind::COUNT],
    stats: EngineStats,
    correlations: Arc<CorrelationSet>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats)
            .finish()
    }
}

impl Engine {
    /// Compiles the rules a network sensor can fire (full and partial) and counts the rest.
    pub fn new(rules: &[Rule]) -> Engine {
        Engine::build(rules, &[], EngineOptions::default()).0
    }

    /// Compiles rules and correlations. Correlations that do not resolve are returned
    /// as failures; the rest compile.
    pub fn build(
        rules: &[Rule],
        correlations: &[Correlation],
        opts: EngineOptions,
    ) -> (Engine, Vec<LoadFailure>) {
        let mut routes: [Route; EventKind::COUNT] = Default::default();
        let mut stats = EngineStats::default();
        let mut chosen: Vec<(usize, EventKind)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let Some(kind) = r.kind() else {
                stats.other_logsource += 1;
                continue;
            };
            if r.is_deprecated() {
                stats.deprecated += 1;
                continue;
            }
            match classify::classify(r) {
                Observability::Never => {
                    stats.never += 1;
                    if !opts.include_never {
                        continue;
                    }
                }
                Observability::Full => stats.full += 1,
                Observability::Partial => stats.partial += 1,
            }
            stats.active += 1;
            chosen.push((i, kind));
        }
        let live: Vec<bool> = {
            let mut v = vec![false; rules.len()];
            for &(i, _) in &chosen {
                if let Some(x) = v.get_mut(i) {
                    *x = true;
                }
            }
            v
        };
        let active_corrs: Vec<Correlation> = correlations
            .iter()
            .filter(|c| !c.is_deprecated())
            .cloned()
            .collect();
        let (mut set, failures) = correlate::compile::compile(rules, &active_corrs, &|i| {
            live.get(i as usize).copied().unwrap_or(false)
        });
        stats.correlations = set.corrs.len();
        let mut per_route: [Vec<RouteRule<'_>>; EventKind::COUNT] = Default::default();
        for (i, kind) in chosen {
            let Some(rule) = rules.get(i) else { continue };
            let index = i as u32;
            let feeds = set.rule_feeds.contains_key(&index);
            let standalone = !set.feed_only.get(&index).copied().unwrap_or(false);
            if let Some(v) = per_route.get_mut(kind.index()) {
                v.push(RouteRule {
                    rule,
                    index,
                    feeds,
                    standalone,
                });
            }
        }
        for (route, rs) in routes.iter_mut().zip(per_route) {
            build::build_route(route, &rs, opts.own_names);
        }
        if opts.mappings {
            let mut rendered = AlertMappings::new();
            let rule_alerts = routes
                .iter_mut()
                .flat_map(|r| r.rules.iter_mut())
                .map(|r| &mut r.alert);
            let corr_alerts = set.corrs.iter_mut().map(|c| &mut c.alert);
            for alert in rule_alerts.chain(corr_alerts) {
                alert.mappings = rendered.for_tags(&alert.rule_tags);
            }
        }
        (
            Engine {
                routes,
                stats,
                correlations: Arc::new(set),
            },
            failures,
        )
    }

    /// The compiled correlations.
    pub fn correlations(&self) -> &Arc<CorrelationSet> {
        &self.correlations
    }

    /// A fresh correlation state for one worker (or one `rules test` run); tables of
    /// shared correlations are the engine's, so every correlator of an engine shares them.
    pub fn correlator(&self) -> Correlator {
        Correlator::new(self.correlations.clone())
    }

    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Number of compiled rules on the route of `kind`.
    pub fn rules_for(&self, kind: EventKind) -> usize {
        self.routes.get(kind.index()).map_or(0, |r| r.rules.len())
    }

    /// Appends an alert for every rule the event matches, in rule order. Events of an
    /// unknown kind (JSON without `EventID` or telling fields) meet every route.
    pub fn evaluate(&self, ev: &dyn FieldSource, out: &mut Vec<Alert>) {
        self.evaluate_hits(ev, out, None);
    }

    /// As [`Engine::evaluate`], and appends to `hits` the index of every matched rule
    /// that feeds a correlation. Rules whose matches only feed correlations
    /// (`generate: false`) give no alert in `out`.
    pub fn evaluate_hits(
        &self,
        ev: &dyn FieldSource,
        out: &mut Vec<Alert>,
        mut hits: Option<&mut Vec<u32>>,
    ) {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            match ev.kind() {
                Some(k) => {
                    if let Some(r) = self.routes.get(k.index()) {
                        r.evaluate(ev, &mut s, out, hits.as_deref_mut());
                    }
                }
                None => {
                    for r in &self.routes {
                        r.evaluate(ev, &mut s, out, hits.as_deref_mut());
                    }
                }
            }
        });
    }
}
