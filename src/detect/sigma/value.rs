//! Values and modifiers: how one `field|mod|mod: value` becomes matchers.
//!
//! Strings follow the specification's escapes (`\*`, `\?`, `\\`; any other backslash is
//! literal) and wildcards (`*` any run, `?` one character). Matching is case-insensitive
//! unless `cased`: patterns are lower-cased here, values once per event.

use std::net::IpAddr;

use base64::Engine as _;

use super::RuleError;
use crate::detect::fields::{self, FieldKey};

/// Longest regex program accepted (bytes of compiled program); bounds compile time and
/// memory for hostile rules while leaving SigmaHQ's regexes far below it.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most `-`/`/` flag positions `windash` expands (5 variants each, so 5^4 = 625 strings).
const MAX_WINDASH_POSITIONS: usize = 4;

/// A string pattern after wildcard analysis.
#[derive(Clone, Debug, PartialEq)]
pub enum StrPat {
    Eq(String),
    Contains(String),
    Starts(String),
    Ends(String),
    /// Inner wildcards: matched by [`glob`].
    Glob(Vec<GlobTok>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum GlobTok {
    Lit(char),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// An IP network for `cidr`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let keep = u32::from(prefix).min(width);
            if keep == 0 { 0 } else { bits >> (width - keep) }
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u128::from(u32::from(n)), 32, self.prefix)
                    == masked(u128::from(u32::from(a)), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            _ => false,
        }
    }

    fn parse(s: &str) -> Option<Net> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&n| n <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }
}

/// The `cidr` values of one item as sorted, merged address ranges: a lookup is a
/// binary search, whatever the number of networks (a flattened prefix tree).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CidrSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

fn merge<T: Ord + Copy>(mut r: Vec<(T, T)>, succ: impl Fn(T) -> Option<T>) -> Vec<(T, T)> {
    r.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            // Overlapping or adjacent ranges merge.
            Some(last) if succ(last.1).is_none_or(|n| a <= n) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn within<T: Ord + Copy>(r: &[(T, T)], x: T) -> bool {
    let i = r.partition_point(|&(a, _)| a <= x);
    i > 0 && r.get(i - 1).is_some_and(|&(_, b)| x <= b)
}

impl CidrSet {
    pub fn new(nets: &[Net]) -> CidrSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for n in nets {
            match n.addr {
                IpAddr::V4(a) => {
                    let host_bits = 32 - u32::from(n.prefix.min(32));
                    let mask = u32::MAX.checked_shl(host_bits).unwrap_or(0);
                    let start = u32::from(a) & mask;
                    v4.push((start, start | !mask));
                }
                IpAddr::V6(a) => {
                    let host_bits = 128 - u32::from(n.prefix.min(128));
                    let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
                    let start = u128::from(a) & mask;
                    v6.push((start, start | !mask));
                }
            }
        }
        CidrSet {
            v4: merge(v4, |x| x.checked_add(1)),
            v6: merge(v6, |x| x.checked_add(1)),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => within(&self.v4, u32::from(a)),
            IpAddr::V6(a) => {
                within(&self.v6, u128::from(a))
                    || a.to_ipv4_mapped()
                        .is_some_and(|v4| within(&self.v4, u32::from(v4)))
            }
        }
    }
}

/// One value of a detection item, compiled.
#[derive(Clone, Debug)]
pub enum ValueSpec {
    /// `null`: the field is absent.
    Null,
    /// `exists: true/false`.
    Exists(bool),
    /// A string pattern; `cased` keeps case (pattern not lower-cased).
    Str {
        pat: StrPat,
        cased: bool,
    },
    Re(regex::Regex),
    Cidr(Net),
    Cmp(CmpOp, f64),
    /// `fieldref`: equal (case-insensitively) to another field of the same event.
    FieldRef(FieldKey),
}

/// The modifiers of one item, parsed.
#[derive(Clone, Debug, Default)]
pub struct Mods {
    pub contains: bool,
    pub startswith: bool,
    pub endswith: bool,
    pub all: bool,
    pub cased: bool,
    pub re: bool,
    pub re_flags: String,
    pub cidr: bool,
    pub exists: bool,
    pub windash: bool,
    pub fieldref: bool,
    pub cmp: Option<CmpOp>,
    /// Encodings in the order written (`utf16le`, `base64`, ...).
    pub encodings: Vec<Encoding>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Encoding {
    Utf16Le,
    Utf16Be,
    Utf16,
    Base64,
    Base64Offset,
}

impl Mods {
    pub fn parse(list: &[&str]) -> Result<Mods, RuleError> {
        let mut m = Mods::default();
        for raw in list {
            match raw.to_ascii_lowercase().as_str() {
                "contains" => m.contains = true,
                "startswith" => m.startswith = true,
                "endswith" => m.endswith = true,
                "all" => m.all = true,
                "cased" => m.cased = true,
                "re" => m.re = true,
                "i" | "ignorecase" => m.re_flags.push('i'),
                "m" | "multiline" => m.re_flags.push('m'),
                "s" | "dotall" => m.re_flags.push('s'),
                "cidr" => m.cidr = true,
                "exists" => m.exists = true,
                "windash" => m.windash = true,
                "fieldref" => m.fieldref = true,
                "gt" => m.cmp = Some(CmpOp::Gt),
                "gte" => m.cmp = Some(CmpOp::Gte),
                "lt" => m.cmp = Some(CmpOp::Lt),
                "lte" => m.cmp = Some(CmpOp::Lte),
                "base64" => m.encodings.push(Encoding::Base64),
                "base64offset" => m.encodings.push(Encoding::Base64Offset),
                "utf16le" | "wide" => m.encodings.push(Encoding::Utf16Le),
                "utf16be" => m.encodings.push(Encoding::Utf16Be),
                "utf16" => m.encodings.push(Encoding::Utf16),
                "expand" => {
                    return Err(RuleError::Modifier(
                        "expand (placeholders need a site configuration, which c2tap does not have)".into(),
                    ));
                }
                other => return Err(RuleError::Modifier(other.to_string())),
            }
        }
        if !m.re && !m.re_flags.is_empty() {
            return Err(RuleError::Value(
                "regex flags i/m/s need the 're' modifier".into(),
            ));
        }
        let n_utf16 = m
            .encodings
            .iter()
            .filter(|e| !matches!(e, Encoding::Base64 | Encoding::Base64Offset))
            .count();
        let n_b64 = m.encodings.len() - n_utf16;
        if n_utf16 > 0 && n_b64 == 0 {
            return Err(RuleError::Value(
                "utf16le/utf16be/utf16/wide must be combined with base64 or base64offset".into(),
            ));
        }
        Ok(m)
    }
}

/// Compiles one YAML value (`None` is null) under the item's modifiers into one or more
/// value specs (windash and base64offset expand into several, matched as OR).
pub fn compile(value: Option<&str>, m: &Mods) -> Result<Vec<ValueSpec>, RuleError> {
    if m.exists {
        return match value.map(str::to_ascii_lowercase).as_deref() {
            Some("true") | Some("yes") => Ok(vec![ValueSpec::Exists(true)]),
            Some("false") | Some("no") => Ok(vec![ValueSpec::Exists(false)]),
            _ => Err(RuleError::Value("'exists' takes true or false".into())),
        };
    }
    let Some(v) = value else {
        return Ok(vec![ValueSpec::Null]);
    };
    if m.fieldref {
        return Ok(vec![ValueSpec::FieldRef(fields::resolve(v))]);
    }
    if m.re {
        let mut b = regex::RegexBuilder::new(v);
        b.size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT);
        b.case_insensitive(m.re_flags.contains('i'));
        b.multi_line(m.re_flags.contains('m'));
        b.dot_matches_new_line(m.re_flags.contains('s'));
        let re = b
            .build()
            .map_err(|e| RuleError::Regex(v.to_string(), e.to_string()))?;
        return Ok(vec![ValueSpec::Re(re)]);
    }
    if m.cidr {
        let net = Net::parse(v)
            .ok_or_else(|| RuleError::Value(format!("'{v}' is not a CIDR network")))?;
        return Ok(vec![ValueSpec::Cidr(net)]);
    }
    if let Some(op) = m.cmp {
        let n: f64 = v
            .trim()
            .parse()
            .map_err(|_| RuleError::Value(format!("'{v}' is not a number")))?;
        return Ok(vec![ValueSpec::Cmp(op, n)]);
    }
    let mut variants: Vec<Vec<GlobTok>> = vec![unescape(v)];
    if m.windash {
        variants = windash(&variants[0])?;
    }
    if !m.encodings.is_empty() {
        variants = variants
            .iter()
            .map(|t| encode(&plain(t), &m.encodings))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
    }
    Ok(variants
        .into_iter()
        .map(|mut toks| {
            if m.contains || m.endswith {
                toks.insert(0, GlobTok::Any);
            }
            if m.contains || m.startswith {
                toks.push(GlobTok::Any);
            }
            ValueSpec::Str {
                pat: classify(toks, !m.cased),
                cased: m.cased,
            }
        })
        .collect())
}

/// Sigma escapes: `\*`, `\?`, `\\` are literal; other backslashes are literal too.
fn unescape(s: &str) -> Vec<GlobTok> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    out.push(GlobTok::Lit(n));
                    it.next();
                }
                _ => out.push(GlobTok::Lit('\\')),
            },
            '*' => out.push(GlobTok::Any),
            '?' => out.push(GlobTok::One),
            c => out.push(GlobTok::Lit(c)),
        }
    }
    out
}

fn plain(toks: &[GlobTok]) -> String {
    toks.iter()
        .map(|t| match t {
            GlobTok::Lit(c) => *c,
            GlobTok::One => '?',
            GlobTok::Any => '*',
        })
        .collect()
}

fn lits(s: &str) -> Vec<GlobTok> {
    s.chars().map(GlobTok::Lit).collect()
}

/// `windash`: each `-` or `/` that starts a flag becomes each of `-`, `/`, en dash, em
/// dash and horizontal bar.
fn windash(toks: &[GlobTok]) -> Result<Vec<Vec<GlobTok>>, RuleError> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let positions: Vec<usize> = (0..toks.len())
        .filter(|&i| {
            let is_dash = matches!(toks.get(i), Some(GlobTok::Lit('-' | '/')));
            let prev_ok =
                i == 0 || !matches!(toks.get(i - 1), Some(GlobTok::Lit(c)) if c.is_alphanumeric());
            is_dash && prev_ok
        })
        .collect();
    if positions.len() > MAX_WINDASH_POSITIONS {
        return Err(RuleError::Value(format!(
            "windash: more than {MAX_WINDASH_POSITIONS} flag dashes in one value"
        )));
    }
    let mut out = vec![toks.to_vec()];
    for &p in &positions {
        let mut next = Vec::with_capacity(out.len() * DASHES.len());
        for v in &out {
            for d in DASHES {
                let mut w = v.clone();
                if let Some(t) = w.get_mut(p) {
                    *t = GlobTok::Lit(d);
                }
                next.push(w);
            }
        }
        out = next;
    }
    Ok(out)
}

fn encode(s: &str, encs: &[Encoding]) -> Result<Vec<Vec<GlobTok>>, RuleError> {
    let mut bytes: Vec<Vec<u8>> = vec![s.as_bytes().to_vec()];
    let b64 = base64::engine::general_purpose::STANDARD;
    for e in encs {
        bytes = bytes
            .into_iter()
            .flat_map(|b| -> Vec<Vec<u8>> {
                let text = String::from_utf8_lossy(&b).into_owned();
                match e {
                    Encoding::Utf16Le => {
                        vec![text.encode_utf16().flat_map(u16::to_le_bytes).collect()]
                    }
                    Encoding::Utf16Be => {
                        vec![text.encode_utf16().flat_map(u16::to_be_bytes).collect()]
                    }
                    Encoding::Utf16 => {
                        let mut v = vec![0xff, 0xfe];
                        v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                        vec![v]
                    }
                    Encoding::Base64 => vec![b64.encode(&b).into_bytes()],
                    Encoding::Base64Offset => base64_offsets(&b),
                }
            })
            .collect();
    }
    bytes
        .into_iter()
        .map(|b| {
            String::from_utf8(b)
                .map(|s| lits(&s))
                .map_err(|_| RuleError::Value("encoded value is not text (add base64)".into()))
        })
        .collect()
}

/// The three encodings of `v` at byte offsets 0, 1 and 2 of a base64 stream, trimmed to
/// the characters that do not depend on the neighbouring bytes (as pySigma does).
fn base64_offsets(v: &[u8]) -> Vec<Vec<u8>> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let b64 = base64::engine::general_purpose::STANDARD;
    (0..3)
        .map(|i| {
            let mut input = vec![b' '; i];
            input.extend_from_slice(v);
            let enc = b64.encode(&input).into_bytes();
            let trim = END_TRIM.get((v.len() + i) % 3).copied().unwrap_or(0);
            let start = START.get(i).copied().unwrap_or(0);
            let end = enc.len().saturating_sub(trim);
            enc.get(start..end.max(start)).unwrap_or(&[]).to_vec()
        })
        .collect()
}

/// Turns wildcard tokens into the cheapest pattern form.
fn classify(toks: Vec<GlobTok>, lower: bool) -> StrPat {
    let lead = matches!(toks.first(), Some(GlobTok::Any));
    let trail = toks.len() > 1 && matches!(toks.last(), Some(GlobTok::Any));
    let inner = toks
        .get(usize::from(lead)..toks.len() - usize::from(trail))
        .unwrap_or(&[]);
    let simple = inner.iter().all(|t| matches!(t, GlobTok::Lit(_)));
    let fold = |c: char| -> String {
        if lower {
            c.to_lowercase().collect()
        } else {
            c.to_string()
        }
    };
    if simple {
        let s: String = inner
            .iter()
            .map(|t| match t {
                GlobTok::Lit(c) => fold(*c),
                _ => String::new(),
            })
            .collect();
        return match (lead, trail) {
            (false, false) => StrPat::Eq(s),
            (true, true) => StrPat::Contains(s),
            (false, true) => StrPat::Starts(s),
            (true, false) => StrPat::Ends(s),
        };
    }
    let mut out: Vec<GlobTok> = Vec::with_capacity(toks.len());
    for t in toks {
        match t {
            GlobTok::Lit(c) => out.extend(fold(c).chars().map(GlobTok::Lit)),
            GlobTok::Any if matches!(out.last(), Some(GlobTok::Any)) => {}
            t => out.push(t),
        }
    }
    StrPat::Glob(out)
}

/// Wildcard match of `pat` against `s` (already case-folded as needed). Iterative with
/// one backtrack point: linear in practice, O(n·m) at worst, never exponential.
pub fn glob(pat: &[GlobTok], s: &str) -> bool {
    let next = |i: usize| s.get(i..).and_then(|r| r.chars().next());
    let (mut p, mut i) = (0usize, 0usize);
    // The last `*` seen and the byte offset it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = next(i) {
        match pat.get(p) {
            Some(GlobTok::Any) => {
                star = Some((p, i));
                p += 1;
            }
            Some(GlobTok::One) => {
                p += 1;
                i += c.len_utf8();
            }
            Some(GlobTok::Lit(l)) if *l == c => {
                p += 1;
                i += c.len_utf8();
            }
            _ => match star {
                Some((sp, si)) => {
                    let skip = next(si).map_or(1, char::len_utf8);
                    p = sp + 1;
                    i = si + skip;
                    star = Some((sp, si + skip));
                }
                None => return false,
            },
        }
    }
    pat.get(p..)
        .unwrap_or(&[])
        .iter()
        .all(|t| matches!(t, GlobTok::Any))
}

impl StrPat {
    /// Matches an already case-folded value.
    pub fn matches(&self, v: &str) -> bool {
        match self {
            StrPat::Eq(s) => v == s,
            StrPat::Contains(s) => v.contains(s.as_str()),
            StrPat::Starts(s) => v.starts_with(s.as_str()),
            StrPat::Ends(s) => v.ends_with(s.as_str()),
            StrPat::Glob(t) => glob(t, v),
        }
    }

    /// The operator name used by the coverage view.
    pub fn op_name(&self) -> &'static str {
        match self {
            StrPat::Eq(_) => "eq",
            StrPat::Contains(_) => "match",
            StrPat::Starts(_) => "starts_with",
            StrPat::Ends(_) => "ends_with",
            StrPat::Glob(_) => "wildcard",
        }
    }

    /// The value as a rule author would read it.
    pub fn display(&self) -> String {
        match self {
            StrPat::Eq(s) | StrPat::Contains(s) | StrPat::Starts(s) | StrPat::Ends(s) => s.clone(),
            StrPat::Glob(t) => plain(t),
        }
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
