//! Rules → routes: slots, literal automata, bits, necessary sets.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, StartKind};
use hashbrown::HashMap;

use super::{Anchor, CExpr, CGroup, CItem, CRule, CVal, Route, RouteRule, Slot, SlotKey};
use crate::detect::fields::FieldKey;
use crate::detect::sigma::condition::Expr;
use crate::detect::sigma::rule::{Item, Rule};
use crate::detect::sigma::value::{CidrSet, GlobTok, StrPat, ValueSpec};
use crate::event::Alert;

/// Removes one-child `and`/`or` nodes (every single-map selection makes two), so the
/// evaluator recurses less.
fn simplify(e: CExpr) -> CExpr {
    match e {
        CExpr::And(v) | CExpr::Or(v) if v.len() == 1 => {
            v.into_iter().next().map_or(CExpr::Or(Vec::new()), simplify)
        }
        CExpr::And(v) => CExpr::And(v.into_iter().map(simplify).collect()),
        CExpr::Or(v) => CExpr::Or(v.into_iter().map(simplify).collect()),
        CExpr::Not(x) => CExpr::Not(Box::new(simplify(*x))),
        CExpr::AtLeast(n, v) => CExpr::AtLeast(n, v.into_iter().map(simplify).collect()),
        e @ CExpr::Item(_) => e,
    }
}

/// The longest run of literal characters of a wildcard pattern (its prefilter).
fn longest_literal(g: &[GlobTok]) -> Option<String> {
    let mut best = String::new();
    let mut cur = String::new();
    for t in g {
        match t {
            GlobTok::Lit(c) => cur.push(*c),
            _ => {
                if cur.len() > best.len() {
                    best = std::mem::take(&mut cur);
                }
                cur.clear();
            }
        }
    }
    if cur.len() > best.len() {
        best = cur;
    }
    if best.is_empty() { None } else { Some(best) }
}

/// A necessary condition: literal bits of which at least one must be set for `e` to
/// hold, if there is such a set (rules are evaluated only when one is set). Items whose every value is a literal give their bit; `and` takes its smallest
/// child set; `or` needs a set from every child; `not` gives none.
fn need(e: &CExpr, minlen: &[usize]) -> Option<Vec<u32>> {
    match e {
        CExpr::Item(it) => {
            let literal_only = it
                .groups
                .iter()
                .all(|g| g.rest.is_empty() && g.bit.is_some());
            if !literal_only {
                return None;
            }
            it.groups.first().and_then(|g| g.bit).map(|b| vec![b])
        }
        // Of the children's sets, the most selective: the one whose shortest literal
        // is longest (`cs-method: GET` is set on most events, a URI fragment is not).
        CExpr::And(v) => v.iter().filter_map(|x| need(x, minlen)).max_by_key(|set| {
            let shortest = set
                .iter()
                .map(|&b| minlen.get(b as usize).copied().unwrap_or(0))
                .min()
                .unwrap_or(0);
            (shortest, std::cmp::Reverse(set.len()))
        }),
        CExpr::Or(v) | CExpr::AtLeast(_, v) => {
            let mut u = Vec::new();
            for x in v {
                u.extend(need(x, minlen)?);
            }
            u.sort_unstable();
            u.dedup();
            Some(u)
        }
        CExpr::Not(_) => None,
    }
}

struct Builder<'a> {
    route: &'a mut Route,
    /// Fields named by an alias get their own slot (see `EngineOptions::own_names`).
    own_names: bool,
    /// Per slot, per pattern string: the automaton pattern index.
    /// Per slot, per anchor: pattern bytes → automaton pattern index.
    pats: Vec<[HashMap<Vec<u8>, usize>; 3]>,
    pat_list: Vec<[Vec<Vec<u8>>; 3]>,
}

impl Builder<'_> {
    fn slot(&mut self, key: SlotKey) -> u32 {
        if let Some(i) = self.route.keys.iter().position(|k| *k == key) {
            return i as u32;
        }
        self.route.keys.push(key);
        self.route.slots.push(Slot::default());
        self.pats.push(Default::default());
        self.pat_list.push(Default::default());
        (self.route.keys.len() - 1) as u32
    }

    fn bit(&mut self, slot: u32) -> u32 {
        let b = self.route.n_bits;
        self.route.n_bits += 1;
        self.route.bit_slot.push(slot);
        self.route.bit_minlen.push(usize::MAX);
        b
    }

    /// Registers a literal pattern answering bit `b` on `slot`.
    fn literal(&mut self, slot: u32, pat: &StrPat, b: u32) {
        let s = slot as usize;
        if let (
            Some(m),
            StrPat::Eq(t) | StrPat::Contains(t) | StrPat::Starts(t) | StrPat::Ends(t),
        ) = (self.route.bit_minlen.get_mut(b as usize), pat)
        {
            *m = (*m).min(t.len());
        }
        let (text, anchor) = match pat {
            StrPat::Eq(t) => {
                if let Some(sl) = self.route.slots.get_mut(s) {
                    let bits = sl.eq.entry(t.clone()).or_default();
                    if !bits.contains(&b) {
                        bits.push(b);
                    }
                }
                return;
            }
            StrPat::Contains(t) => (t, Anchor::Contains),
            StrPat::Starts(t) => (t, Anchor::Starts),
            StrPat::Ends(t) => (t, Anchor::Ends),
            StrPat::Glob(_) => return,
        };
        if text.is_empty() {
            if let Some(sl) = self.route.slots.get_mut(s) {
                sl.empty.push(b);
            }
            return;
        }
        // One-byte substrings (`_`, `x`, `@` in SigmaHQ's lists) occur in most values;
        // in the automaton they would be reported at every occurrence. A byte search
        // answers them once.
        if let (Anchor::Contains, &[byte]) = (anchor, text.as_bytes())
            && let Some(sl) = self.route.slots.get_mut(s)
        {
            if !sl.bytes.contains(&(byte, b)) {
                sl.bytes.push((byte, b));
            }
            return;
        }
        let a = anchor as usize;
        let bytes: Vec<u8> = match anchor {
            Anchor::Ends => text.bytes().rev().collect(),
            _ => text.as_bytes().to_vec(),
        };
        let (Some(pats), Some(list), Some(sl)) = (
            self.pats.get_mut(s).and_then(|p| p.get_mut(a)),
            self.pat_list.get_mut(s).and_then(|p| p.get_mut(a)),
            self.route
                .slots
                .get_mut(s)
                .and_then(|sl| sl.autos.get_mut(a)),
        ) else {
            return;
        };
        let idx = *pats.entry(bytes.clone()).or_insert_with(|| {
            list.push(bytes);
            sl.lits.push(Vec::new());
            list.len() - 1
        });
        if let Some(l) = sl.lits.get_mut(idx)
            && !l.contains(&b)
        {
            l.push(b);
        }
    }

    /// Values matched as OR: all their literals share one bit (so an item with a list
    /// of a thousand names costs one bit test), the rest are tested one by one.
    fn group<'v>(&mut self, slot: u32, vals: impl Iterator<Item = &'v ValueSpec>) -> CGroup {
        let mut bit = None;
        let mut rest = Vec::new();
        let mut nets = Vec::new();
        for v in vals {
            match v {
                ValueSpec::Str {
                    pat: StrPat::Glob(g),
                    cased: false,
                } => {
                    let gate = longest_literal(g).map(|lit| {
                        let b = self.bit(slot);
                        self.literal(slot, &StrPat::Contains(lit), b);
                        b
                    });
                    rest.push(CVal::Glob(g.clone(), gate));
                }
                ValueSpec::Str { pat, cased: false } => {
                    let b = match bit {
                        Some(b) => b,
                        None => {
                            let b = self.bit(slot);
                            bit = Some(b);
                            b
                        }
                    };
                    self.literal(slot, pat, b);
                }
                ValueSpec::Null => rest.push(CVal::Null),
                ValueSpec::Exists(b) => rest.push(CVal::Exists(*b)),
                ValueSpec::Str { pat, cased: true } => rest.push(CVal::Cased(pat.clone())),
                ValueSpec::Re(r) => rest.push(CVal::Re(r.clone())),
                ValueSpec::Cidr(n) => nets.push(*n),
                ValueSpec::Cmp(op, n) => rest.push(CVal::Cmp(*op, *n)),
                ValueSpec::FieldRef(k) => {
                    rest.push(CVal::FieldRef(self.slot(SlotKey::Field(k.clone()))))
                }
            }
        }
        if !nets.is_empty() {
            rest.push(CVal::Cidr(CidrSet::new(&nets)));
        }
        if rest.iter().any(|v| {
            matches!(
                v,
                CVal::Cased(_) | CVal::Re(_) | CVal::Cidr(_) | CVal::Cmp(..)
            )
        }) && let Some(sl) = self.route.slots.get_mut(slot as usize)
        {
            sl.needs_orig = true;
        }
        CGroup { bit, rest }
    }

    fn item(&mut self, it: &Item) -> CItem {
        let key = match (&it.field, &it.raw_field) {
            (Some(k @ FieldKey::Event(f)), Some(raw))
                if self.own_names && !raw.eq_ignore_ascii_case(f.name()) =>
            {
                SlotKey::Named(k.clone(), raw.to_ascii_lowercase().into())
            }
            (Some(k), _) => SlotKey::Field(k.clone()),
            (None, _) => SlotKey::Keywords,
        };
        let slot = self.slot(key);
        let groups = if it.all {
            it.values
                .iter()
                .map(|variants| self.group(slot, variants.iter()))
                .collect()
        } else {
            vec![self.group(slot, it.values.iter().flatten())]
        };
        CItem {
            slot,
            all: it.all,
            groups,
        }
    }

    fn expr(&mut self, e: &Expr, rule: &Rule) -> CExpr {
        match e {
            Expr::And(v) => CExpr::And(v.iter().map(|x| self.expr(x, rule)).collect()),
            Expr::Or(v) => CExpr::Or(v.iter().map(|x| self.expr(x, rule)).collect()),
            Expr::Not(x) => CExpr::Not(Box::new(self.expr(x, rule))),
            Expr::AtLeast(n, v) => {
                CExpr::AtLeast(*n, v.iter().map(|x| self.expr(x, rule)).collect())
            }
            Expr::Sel(i) => match rule.selections.get(*i) {
                Some(sel) => CExpr::Or(
                    sel.groups
                        .iter()
                        .map(|g| {
                            CExpr::And(g.iter().map(|it| CExpr::Item(self.item(it))).collect())
                        })
                        .collect(),
                ),
                None => CExpr::Or(Vec::new()),
            },
        }
    }

    fn finish(self) {
        for (slot, lists) in self.route.slots.iter_mut().zip(self.pat_list) {
            for (k, (auto, list)) in slot.autos.iter_mut().zip(lists).enumerate() {
                if list.is_empty() {
                    continue;
                }
                // A DFA is the fastest automaton for overlapping search; past a few
                // thousand patterns its memory grows large, so the builder picks there.
                const DFA_MAX_PATTERNS: usize = 4096;
                let kind = (list.len() <= DFA_MAX_PATTERNS).then_some(AhoCorasickKind::DFA);
                let start = if k == Anchor::Contains as usize {
                    StartKind::Unanchored
                } else {
                    StartKind::Anchored
                };
                // Patterns are plain bytes; a build failure (size limits) leaves the
                // slot without these literals rather than failing the rule set.
                auto.max_len = list.iter().map(Vec::len).max().unwrap_or(0);
                auto.ac = AhoCorasick::builder()
                    .kind(kind)
                    .start_kind(start)
                    .build(&list)
                    .ok();
            }
        }
    }
}

/// Compiles the rules of one route.
pub(super) fn build_route(route: &mut Route, rules: &[RouteRule<'_>], own_names: bool) {
    let mut b = Builder {
        route,
        own_names,
        pats: Vec::new(),
        pat_list: Vec::new(),
    };
    for rr in rules {
        let r = rr.rule;
        let expr = simplify(b.expr(&r.condition, r));
        let tags: Vec<Arc<str>> = r.tags.iter().map(|t| Arc::from(t.as_str())).collect();
        let alert = Alert {
            rule_id: Arc::from(r.id.as_str()),
            rule_title: Arc::from(r.title.as_str()),
            rule_level: Arc::from(r.level.as_str()),
            rule_tags: Arc::from(tags),
            // Filled by `Engine::build` for the whole rule set (shared renderings).
            mappings: None,
        };
        let need = need(&expr, &b.route.bit_minlen);
        let idx = b.route.rules.len() as u32;
        match &need {
            Some(bits) => {
                for &bit in bits {
                    let slot = b.route.bit_slot.get(bit as usize).copied().unwrap_or(0);
                    if !b.route.prefill.contains(&slot) {
                        b.route.prefill.push(slot);
                    }
                    let n = bit as usize + 1;
                    if b.route.bit_rules.len() < n {
                        b.route.bit_rules.resize_with(n, Vec::new);
                    }
                    if let Some(list) = b.route.bit_rules.get_mut(bit as usize) {
                        list.push(idx);
                    }
                }
            }
            None => b.route.always.push(idx),
        }
        b.route.rules.push(CRule {
            alert,
            expr,
            index: rr.index,
            feeds: rr.feeds,
            standalone: rr.standalone,
        });
    }
    b.finish();
}
