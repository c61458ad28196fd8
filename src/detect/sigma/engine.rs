//! The compiled rule set and its per-event evaluation.
//!
//! Compile once: rules are split by route (event kind); within a route every field that
//! any rule reads gets one *slot* holding all literal patterns of all rules on that
//! field — equality in a hash map, contains/startswith/endswith in one Aho-Corasick
//! automaton — so one pass over a field's value answers every literal of every rule at
//! once, as bits. Rules then evaluate their condition trees over those bits, touching a
//! field's value again only for wildcards, regexes, CIDR and numeric tests.
//!
//! Slots are filled lazily: a field is read, case-folded and scanned the first time a
//! rule needs it for this event, so short-circuited rules cost nothing.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::automaton::OverlappingState;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, StartKind};
use hashbrown::HashMap;

use super::classify::{self, Observability};
use super::condition::Expr;
use super::rule::{Item, Rule};
use super::value::{CidrSet, CmpOp, GlobTok, StrPat, ValueSpec, glob};
use crate::detect::fields::{EventKind, FieldKey};
use crate::detect::source::{self, FieldSource};
use crate::event::{Alert, FieldValue};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SlotKey {
    Field(FieldKey),
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
}

/// Values of an item matched as OR: a shared literal bit, then the other tests.
#[cfg(test)]
mod tests {
    use super::push_value;
    use crate::event::FieldValue;

    #[test]
    fn hand_formatting_matches_display() {
        for n in [0i64, 7, 10, 443, 65535, -1, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_value(&mut s, FieldValue::Int(n));
            assert_eq!(s, n.to_string());
        }
        for ip in ["0.0.0.0", "10.200.3.4", "255.255.255.255", "2001:db8::1"] {
            let mut s = String::new();
            push_value(&mut s, FieldValue::Ip(ip.parse().unwrap()));
            assert_eq!(s, ip);
        }
    }
}

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
}

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
}

/// The compiled rule set.
pub struct Engine {
    routes: [Route; 3],
    stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats)
            .finish()
    }
}

struct Builder<'a> {
    route: &'a mut Route,
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
        CGroup { bit, rest }
    }

    fn item(&mut self, it: &Item) -> CItem {
        let key = match &it.field {
            Some(k) => SlotKey::Field(k.clone()),
            None => SlotKey::Keywords,
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
                auto.ac = AhoCorasick::builder()
                    .kind(kind)
                    .start_kind(start)
                    .build(&list)
                    .ok();
            }
        }
    }
}

impl Engine {
    /// Compiles the rules a network sensor can fire (full and partial) and counts the rest.
    pub fn new(rules: &[Rule]) -> Engine {
        let mut routes: [Route; 3] = Default::default();
        let mut stats = EngineStats::default();
        #[allow(clippy::type_complexity)]
        let mut builders: Vec<(Vec<[HashMap<Vec<u8>, usize>; 3]>, Vec<[Vec<Vec<u8>>; 3]>)> =
            (0..3).map(|_| (Vec::new(), Vec::new())).collect();
        let mut per_route: [Vec<&Rule>; 3] = Default::default();
        for r in rules {
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
                    continue;
                }
                Observability::Full => stats.full += 1,
                Observability::Partial => stats.partial += 1,
            }
            stats.active += 1;
            if let Some(v) = per_route.get_mut(kind.index()) {
                v.push(r);
            }
        }
        for ((route, (pats, list)), rs) in routes.iter_mut().zip(builders.iter_mut()).zip(per_route)
        {
            let mut b = Builder {
                route,
                pats: std::mem::take(pats),
                pat_list: std::mem::take(list),
            };
            for r in rs {
                let expr = b.expr(&r.condition, r);
                let tags: Vec<Arc<str>> = r.tags.iter().map(|t| Arc::from(t.as_str())).collect();
                let alert = Alert {
                    rule_id: Arc::from(r.id.as_str()),
                    rule_title: Arc::from(r.title.as_str()),
                    rule_level: Arc::from(r.level.as_str()),
                    rule_tags: Arc::from(tags),
                };
                let expr = simplify(expr);
                let need = need(&expr, &b.route.bit_minlen);
                if let Some(bits) = &need {
                    for &bit in bits {
                        let slot = b.route.bit_slot.get(bit as usize).copied().unwrap_or(0);
                        if !b.route.prefill.contains(&slot) {
                            b.route.prefill.push(slot);
                        }
                    }
                }
                let idx = b.route.rules.len() as u32;
                match &need {
                    Some(bits) => {
                        for &bit in bits {
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
                b.route.rules.push(CRule { alert, expr });
            }
            b.finish();
        }
        Engine { routes, stats }
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
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            match ev.kind() {
                Some(k) => {
                    if let Some(r) = self.routes.get(k.index()) {
                        r.evaluate(ev, &mut s, out);
                    }
                }
                None => {
                    for r in &self.routes {
                        r.evaluate(ev, &mut s, out);
                    }
                }
            }
        });
    }
}

/// Per-thread working memory, reused across events so evaluation does not allocate.
#[derive(Default)]
struct Scratch {
    /// Per slot: 0 not read yet, 1 absent, 2 present.
    state: Vec<u8>,
    orig: Vec<String>,
    lower: Vec<String>,
    ip: Vec<Option<IpAddr>>,
    int: Vec<Option<i64>>,
    bits: Vec<u64>,
    /// Candidate rules of the current event.
    cand: Vec<u64>,
    /// The reversed bytes of the slot being scanned for suffixes.
    rev: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

/// Sets the bits of every pattern of `auto` found in `input` (overlapping). The
/// crate's overlapping iterator refuses anchored input, so this drives the overlapping
/// state by hand; anchored, it reports exactly the patterns that start at offset 0.
fn scan(auto: &Auto, input: Input<'_>, bits: &mut [u64]) {
    let Some(ac) = &auto.ac else { return };
    let mut state = OverlappingState::start();
    loop {
        if ac.try_find_overlapping(input.clone(), &mut state).is_err() {
            return;
        }
        let Some(m) = state.get_match() else { return };
        for &b in auto
            .lits
            .get(m.pattern().as_usize())
            .map_or(&[][..], Vec::as_slice)
        {
            set_bit(bits, b);
        }
    }
}

fn set_bit(bits: &mut [u64], b: u32) {
    if let Some(w) = bits.get_mut((b / 64) as usize) {
        *w |= 1u64 << (b % 64);
    }
}

fn get_bit(bits: &[u64], b: u32) -> bool {
    bits.get((b / 64) as usize)
        .is_some_and(|w| w & (1u64 << (b % 64)) != 0)
}

fn push_value(out: &mut String, v: FieldValue<'_>) {
    match v {
        FieldValue::Str(s) => out.push_str(s),
        FieldValue::Int(i) => push_int(out, i),
        // Addresses and numbers are formatted by hand: `fmt` costs more than the
        // rest of a field's matching on the hot path.
        FieldValue::Ip(IpAddr::V4(a)) => {
            for (k, octet) in a.octets().into_iter().enumerate() {
                if k > 0 {
                    out.push('.');
                }
                push_int(out, i64::from(octet));
            }
        }
        FieldValue::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut v = n.unsigned_abs();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    for &d in buf.get(i..).unwrap_or(&[]) {
        out.push(char::from(d));
    }
}

impl Route {
    fn evaluate(&self, ev: &dyn FieldSource, s: &mut Scratch, out: &mut Vec<Alert>) {
        if self.rules.is_empty() {
            return;
        }
        let n = self.keys.len();
        if s.state.len() < n {
            s.state.resize(n, 0);
            s.orig.resize_with(n, String::new);
            s.lower.resize_with(n, String::new);
            s.ip.resize(n, None);
            s.int.resize(n, None);
        }
        if let Some(st) = s.state.get_mut(..n) {
            st.fill(0);
        }
        let words = (self.n_bits as usize).div_ceil(64);
        s.bits.clear();
        s.bits.resize(words, 0);
        for &slot in &self.prefill {
            self.fill(slot as usize, ev, s);
        }
        // Candidates: rules with a necessary bit set, plus those without a set; in
        // rule order, as a bitset over rule indexes.
        let rule_words = self.rules.len().div_ceil(64);
        s.cand.clear();
        s.cand.resize(rule_words, 0);
        for (w, &word) in s.bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let b = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                for &r in self.bit_rules.get(b).map_or(&[][..], Vec::as_slice) {
                    set_bit(&mut s.cand, r);
                }
            }
        }
        for &r in &self.always {
            set_bit(&mut s.cand, r);
        }
        for w in 0..rule_words {
            let mut word = s.cand.get(w).copied().unwrap_or(0);
            while word != 0 {
                let r = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                if let Some(rule) = self.rules.get(r)
                    && self.eval(&rule.expr, ev, s)
                {
                    out.push(rule.alert.clone());
                }
            }
        }
    }

    /// Reads, folds and scans slot `i` for this event (once).
    fn fill(&self, i: usize, ev: &dyn FieldSource, s: &mut Scratch) -> bool {
        match s.state.get(i) {
            Some(&PRESENT) => return true,
            Some(&ABSENT) => return false,
            _ => {}
        }
        let (Some(key), Some(slot)) = (self.keys.get(i), self.slots.get(i)) else {
            return false;
        };
        let (Some(orig), Some(lower)) = (s.orig.get_mut(i), s.lower.get_mut(i)) else {
            return false;
        };
        orig.clear();
        let mut ip = None;
        let mut int = None;
        let present = match key {
            SlotKey::Field(k) => match source::lookup(ev, k) {
                Some(v) => {
                    match v {
                        FieldValue::Ip(a) => ip = Some(a),
                        FieldValue::Int(n) => int = Some(n),
                        FieldValue::Str(_) => {}
                    }
                    push_value(orig, v);
                    true
                }
                None => false,
            },
            SlotKey::Keywords => {
                ev.for_each_value(&mut |v| {
                    if !orig.is_empty() {
                        orig.push('\n');
                    }
                    push_value(orig, v);
                });
                true
            }
        };
        if let Some(st) = s.state.get_mut(i) {
            *st = if present { PRESENT } else { ABSENT };
        }
        if !present {
            return false;
        }
        lower.clear();
        if orig.is_ascii() {
            lower.push_str(orig);
            lower.make_ascii_lowercase();
        } else {
            lower.push_str(&orig.to_lowercase());
        }
        if let Some(x) = s.ip.get_mut(i) {
            *x = ip;
        }
        if let Some(x) = s.int.get_mut(i) {
            *x = int;
        }
        let bits = &mut s.bits;
        for &b in &slot.empty {
            set_bit(bits, b);
        }
        if let Some(eqs) = slot.eq.get(lower.as_str()) {
            for &b in eqs {
                set_bit(bits, b);
            }
        }
        let [contains, starts, ends] = &slot.autos;
        scan(contains, Input::new(lower.as_bytes()), bits);
        scan(
            starts,
            Input::new(lower.as_bytes()).anchored(Anchored::Yes),
            bits,
        );
        if ends.ac.is_some() {
            s.rev.clear();
            s.rev.extend(lower.bytes().rev());
            scan(ends, Input::new(&s.rev[..]).anchored(Anchored::Yes), bits);
        }
        true
    }

    fn eval(&self, e: &CExpr, ev: &dyn FieldSource, s: &mut Scratch) -> bool {
        match e {
            CExpr::And(v) => v.iter().all(|x| self.eval(x, ev, s)),
            CExpr::Or(v) => v.iter().any(|x| self.eval(x, ev, s)),
            CExpr::Not(x) => !self.eval(x, ev, s),
            CExpr::AtLeast(n, v) => v.iter().filter(|x| self.eval(x, ev, s)).take(*n).count() >= *n,
            CExpr::Item(it) => self.item(it, ev, s),
        }
    }

    fn item(&self, it: &CItem, ev: &dyn FieldSource, s: &mut Scratch) -> bool {
        let i = it.slot as usize;
        let present = self.fill(i, ev, s);
        let one = |g: &CGroup, s: &mut Scratch| {
            (present && g.bit.is_some_and(|b| get_bit(&s.bits, b)))
                || g.rest.iter().any(|v| self.value(v, i, present, ev, s))
        };
        if it.all {
            it.groups.iter().all(|g| one(g, s))
        } else {
            it.groups.iter().any(|g| one(g, s))
        }
    }

    fn value(
        &self,
        v: &CVal,
        i: usize,
        present: bool,
        ev: &dyn FieldSource,
        s: &mut Scratch,
    ) -> bool {
        match v {
            CVal::Null => !present,
            CVal::Exists(want) => present == *want,
            _ if !present => false,
            CVal::Glob(g, gate) => {
                gate.is_none_or(|b| get_bit(&s.bits, b))
                    && s.lower.get(i).is_some_and(|l| glob(g, l))
            }
            CVal::Cased(p) => s.orig.get(i).is_some_and(|o| p.matches(o)),
            CVal::Re(r) => s.orig.get(i).is_some_and(|o| r.is_match(o)),
            CVal::Cidr(n) => {
                let ip = match s.ip.get(i).copied().flatten() {
                    Some(ip) => Some(ip),
                    None => s.orig.get(i).and_then(|o| source::parse_ip(o)),
                };
                ip.is_some_and(|ip| n.contains(ip))
            }
            CVal::Cmp(op, want) => {
                let have = match s.int.get(i).copied().flatten() {
                    Some(n) => Some(n as f64),
                    None => s.orig.get(i).and_then(|o| o.trim().parse::<f64>().ok()),
                };
                have.is_some_and(|h| match op {
                    CmpOp::Gt => h > *want,
                    CmpOp::Gte => h >= *want,
                    CmpOp::Lt => h < *want,
                    CmpOp::Lte => h <= *want,
                })
            }
            CVal::FieldRef(j) => {
                let j = *j as usize;
                self.fill(j, ev, s) && s.lower.get(i) == s.lower.get(j)
            }
        }
    }
}
