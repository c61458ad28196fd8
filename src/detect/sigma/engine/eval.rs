//! One event through one route: fill slots (read, fold, scan), pick candidate rules
//! from the necessary bits, evaluate their trees.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;

use aho_corasick::automaton::OverlappingState;
use aho_corasick::{Anchored, Input};

use super::{Auto, CExpr, CGroup, CItem, CVal, Route, SlotKey};
use crate::detect::sigma::value::{CmpOp, glob};
use crate::detect::source::{self, FieldSource};
use crate::event::{Alert, FieldValue};

/// Per-thread working memory, reused across events so evaluation does not allocate.
#[derive(Default)]
pub(super) struct Scratch {
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
    pub(super) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

/// Sets the bits of every pattern of `auto` found in `input` (overlapping). The
/// crate's overlapping iterator refuses anchored input, so this drives the overlapping
/// state by hand; anchored, only matches starting at offset 0 count.
fn scan(auto: &Auto, input: Input<'_>, bits: &mut [u64]) {
    let Some(ac) = &auto.ac else { return };
    let anchored = input.get_anchored().is_anchored();
    let input = if anchored {
        input
    } else {
        // Unanchored: a plain search (which can skip ahead with the automaton's
        // prefilter) finds the earliest-ending match, or tells that there is none, as on
        // most values. No match ends before it, so none starts before its end minus the
        // longest pattern: the overlapping walk starts there.
        let Some(first) = ac.find(input.clone()) else {
            return;
        };
        let from = first.end().saturating_sub(auto.max_len).max(input.start());
        input.range(from..)
    };
    let mut state = OverlappingState::start();
    loop {
        if ac.try_find_overlapping(input.clone(), &mut state).is_err() {
            return;
        }
        let Some(m) = state.get_match() else { return };
        // An anchored state also reports the patterns that are suffixes of its path
        // (its output set includes theirs), which do not start at offset 0.
        if anchored && m.start() != 0 {
            continue;
        }
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
    pub(super) fn evaluate(
        &self,
        ev: &dyn FieldSource,
        s: &mut Scratch,
        out: &mut Vec<Alert>,
        mut hits: Option<&mut Vec<u32>>,
    ) {
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
                    if rule.standalone {
                        out.push(rule.alert.clone());
                    }
                    if rule.feeds
                        && let Some(h) = hits.as_deref_mut()
                    {
                        h.push(rule.index);
                    }
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
        let keep = slot.needs_orig;
        let buf: &mut String = if keep { &mut *orig } else { &mut *lower };
        buf.clear();
        let mut ip = None;
        let mut int = None;
        let value = match key {
            SlotKey::Field(k) => source::lookup(ev, k),
            SlotKey::Named(k, name) => ev.get_named(name).or_else(|| source::lookup(ev, k)),
            SlotKey::Keywords => None,
        };
        let present = match key {
            SlotKey::Field(_) | SlotKey::Named(..) => match value {
                Some(v) => {
                    match v {
                        FieldValue::Ip(a) => ip = Some(a),
                        FieldValue::Int(n) => int = Some(n),
                        FieldValue::Str(_) => {}
                    }
                    push_value(buf, v);
                    true
                }
                None => false,
            },
            SlotKey::Keywords => {
                ev.for_each_value(&mut |v| {
                    if !buf.is_empty() {
                        buf.push('\n');
                    }
                    push_value(buf, v);
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
        if keep {
            lower.clear();
            if orig.is_ascii() {
                lower.push_str(orig);
                lower.make_ascii_lowercase();
            } else {
                lower.push_str(&orig.to_lowercase());
            }
        } else if lower.is_ascii() {
            lower.make_ascii_lowercase();
        } else {
            *lower = lower.to_lowercase();
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
        for &(byte, b) in &slot.bytes {
            if lower.as_bytes().contains(&byte) {
                set_bit(bits, b);
            }
        }
        if let Some(eqs) = (!slot.eq.is_empty())
            .then(|| slot.eq.get(lower.as_str()))
            .flatten()
        {
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
