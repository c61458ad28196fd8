//! Names cut for grouping: the registered domain and the subdomain below it, which names
//! are skipped before any state, and the figures of one name (length, entropy, the
//! fingerprint the sketch counts) that the sub-windows sum. Pure: text in, figures out.

use super::*;

/// A name cut for grouping.
pub(super) struct Group<'a> {
    /// The registered domain (or the first label, for a name without a real TLD).
    pub(super) domain: &'a str,
    /// What lies below it (or after the first label).
    pub(super) subdomain: &'a str,
    /// The name ends in a real top-level domain (DGA counts only those).
    pub(super) real_tld: bool,
}

/// Cuts `qname` for grouping, or `None` when it is skipped (see the module doc).
pub(super) fn group(qname: &str) -> Option<Group<'_>> {
    let s = dns_score::split(qname);
    let NameKind::Registered(kind) = s.kind else {
        return None;
    };
    let registered = s.registered?;
    let tld = s.suffix.rsplit('.').next().unwrap_or(s.suffix);
    if SKIPPED_TLDS.iter().any(|z| tld.eq_ignore_ascii_case(z))
        || registered.eq_ignore_ascii_case("ip6.int")
    {
        return None;
    }
    let g = if kind == SuffixKind::Unlisted && !plausible_tld(tld) {
        let (first, rest) = s.name.split_once('.')?;
        Group {
            domain: first,
            subdomain: rest,
            real_tld: false,
        }
    } else {
        Group {
            domain: registered,
            subdomain: s.subdomain,
            real_tld: true,
        }
    };
    if g.subdomain.split('.').any(|l| l.starts_with('_')) || g.domain.starts_with('_') {
        return None;
    }
    Some(g)
}

/// Top-level labels whose names never reach a public authoritative server, or that name
/// infrastructure rather than hosts: `arpa` (reverse zones, `_dns.resolver.arpa`,
/// `home.arpa`), `local` (mDNS, RFC 6762), and RFC 6761/7686's special-use names.
pub(super) const SKIPPED_TLDS: &[&str] = &["arpa", "local", "localhost", "invalid", "onion"];

pub(super) fn plausible_tld(tld: &str) -> bool {
    let b = tld.as_bytes();
    if b.is_empty() || b.len() > MAX_TLD_LEN {
        return false;
    }
    let idn = b.len() > 4 && b.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"));
    if idn {
        b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    } else {
        b.iter().all(u8::is_ascii_alphabetic)
    }
}

pub(super) fn first_label(domain: &str) -> &str {
    domain.split('.').next().unwrap_or(domain)
}

/// `text` lowercased into `buf`; `None` when it does not fit.
pub(super) fn lowercase<'b>(text: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let out = buf.get_mut(..text.len())?;
    out.copy_from_slice(text.as_bytes());
    out.make_ascii_lowercase();
    // ASCII lowercasing keeps UTF-8 valid.
    std::str::from_utf8(out).ok()
}

/// The figures of one name that the buckets sum.
#[derive(Clone, Copy)]
pub(super) struct NameFigures {
    /// Length of the whole name on the wire (escapes undone, dots counted).
    pub(super) wire_len: usize,
    /// Bytes in the subdomain's labels, escapes undone, dots between labels not counted.
    pub(super) sub_bytes: usize,
    /// Entropy of those bytes (0 without a subdomain).
    pub(super) entropy: f64,
    /// Fingerprint of the lowercased subdomain, for the distinct-count sketch.
    pub(super) fingerprint: u64,
}

impl NameFigures {
    pub(super) fn of(qname: &str, subdomain: &str) -> NameFigures {
        let name = qname.strip_suffix('.').unwrap_or(qname);
        let mut buf = [0u8; MAX_NAME];
        let mut sub_bytes = 0usize;
        for b in Unescaped::new(subdomain).flatten() {
            let Some(slot) = buf.get_mut(sub_bytes) else {
                break;
            };
            *slot = b;
            sub_bytes = sub_bytes.saturating_add(1);
        }
        NameFigures {
            wire_len: Unescaped::new(name).count(),
            sub_bytes,
            entropy: dns_score::entropy(buf.get(..sub_bytes).unwrap_or_default()),
            fingerprint: fingerprint(subdomain),
        }
    }
}

/// The bytes of a name in presentation form with its escapes (`\DDD`, `\X`, RFC 4343
/// §2.1) undone: `Some(byte)` for a label byte, `None` for a dot between labels.
pub(super) struct Unescaped<'a> {
    pub(super) text: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Unescaped<'a> {
    pub(super) fn new(text: &'a str) -> Unescaped<'a> {
        Unescaped {
            text: text.as_bytes(),
            at: 0,
        }
    }
}

impl Iterator for Unescaped<'_> {
    type Item = Option<u8>;

    fn next(&mut self) -> Option<Option<u8>> {
        let c = *self.text.get(self.at)?;
        let next = self.at.saturating_add(1);
        let (item, width) = match c {
            b'.' => (None, 1),
            b'\\' => match (decimal3(self.text, next), self.text.get(next)) {
                (Some(v), _) => (Some(v), 4),
                (None, Some(&x)) => (Some(x), 2),
                (None, None) => (Some(c), 1),
            },
            _ => (Some(c), 1),
        };
        self.at = self.at.saturating_add(width);
        Some(item)
    }
}

/// The byte of three decimal digits at `at` (`\DDD`), if they are there and <= 255.
pub(super) fn decimal3(b: &[u8], at: usize) -> Option<u8> {
    let d = b.get(at..at.checked_add(3)?)?;
    let mut v: u32 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v
            .saturating_mul(10)
            .saturating_add(u32::from(c.saturating_sub(b'0')));
    }
    u8::try_from(v).ok()
}

/// FNV-1a over the lowercased bytes, then MurmurHash3's 64-bit finalizer so that the
/// top bits (the sketch's register index) and the leading zeros are well mixed. Fixed,
/// not keyed: a replay gives the same estimates every run. (A keyed hash would stop a
/// tool that crafts names to collide; such a tool can as well send fewer names.)
pub(super) fn fingerprint(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub(super) fn is_vowel(c: u8) -> bool {
    matches!(c.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Recent names and how [`group`] cut them: clients ask the same names again and again
/// (a browser asks A, AAAA and HTTPS for each; a resolver's cache expires), and cutting
/// a name at its registered domain is most of a query's cost. Direct-mapped by a 64-bit
/// hash of the name (seeded per process): a slot holds the hash, the length and the
/// cut as offsets into the name, so a hit reads no list and copies nothing.
pub(super) struct CutCache {
    slots: Box<[CachedCut]>,
    keys: RandomState,
}

/// Most slots of a [`CutCache`]: 16 bytes each, 64 KiB per worker (a 128th of the
/// default memory cap), about the distinct names a busy office asks in a few minutes.
pub const CUT_CACHE_SLOTS: usize = 1 << 12;
/// Fewest slots, for a tracker given very little memory.
pub const MIN_CUT_CACHE_SLOTS: usize = 16;

/// `sub_end`'s flag: the name ends in a real top-level domain.
const REAL_TLD: u16 = 1 << 15;

#[derive(Clone, Copy, Default)]
struct CachedCut {
    /// 0: empty (a name hashing to 0 is simply never cached).
    hash: u64,
    len: u16,
    /// Offsets into the name: the domain's start and end (`end == 0` marks a skipped
    /// name), and the subdomain's end (it starts at 0) with the [`REAL_TLD`] flag.
    domain_start: u16,
    domain_end: u16,
    sub_end: u16,
}

impl CutCache {
    /// A cache of at most `bytes` (rounded down to a power of two of slots).
    pub(super) fn new(bytes: usize) -> CutCache {
        let slots = bytes
            .checked_div(size_of::<CachedCut>())
            .unwrap_or(0)
            .clamp(MIN_CUT_CACHE_SLOTS, CUT_CACHE_SLOTS);
        CutCache {
            slots: vec![CachedCut::default(); 1usize << slots.ilog2()].into_boxed_slice(),
            keys: RandomState::default(),
        }
    }

    pub(super) fn memory_bytes(&self) -> usize {
        size_of_val(&*self.slots)
    }

    /// [`group`], from the cache when the name was cut recently.
    pub(super) fn group<'a>(&mut self, qname: &'a str) -> Option<Group<'a>> {
        let len = match u16::try_from(qname.len()) {
            Ok(len) if len < REAL_TLD => len,
            _ => return group(qname),
        };
        let hash = self.keys.hash_one(qname.as_bytes());
        let mask = self.slots.len().saturating_sub(1);
        let at = (hash as usize) & mask;
        if let Some(slot) = self.slots.get(at)
            && hash != 0
            && slot.hash == hash
            && slot.len == len
        {
            return slot.apply(qname);
        }
        let g = group(qname);
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = CachedCut::of(hash, len, qname, g.as_ref());
        }
        g
    }
}

impl CachedCut {
    fn of(hash: u64, len: u16, qname: &str, g: Option<&Group<'_>>) -> CachedCut {
        let Some(g) = g else {
            return CachedCut {
                hash,
                len,
                ..CachedCut::default()
            };
        };
        match (span(qname, g.domain), span(qname, g.subdomain)) {
            (Some((start, end)), Some((0, sub_end))) if end > 0 => CachedCut {
                hash,
                len,
                domain_start: start,
                domain_end: end,
                sub_end: sub_end | if g.real_tld { REAL_TLD } else { 0 },
            },
            // Not a prefix and a part of the name (not a cut `group` makes): not cached.
            _ => CachedCut::default(),
        }
    }

    fn apply<'a>(&self, qname: &'a str) -> Option<Group<'a>> {
        if self.domain_end == 0 {
            return None;
        }
        let domain = usize::from(self.domain_start)..usize::from(self.domain_end);
        Some(Group {
            domain: qname.get(domain)?,
            subdomain: qname.get(..usize::from(self.sub_end & !REAL_TLD))?,
            real_tld: self.sub_end & REAL_TLD != 0,
        })
    }
}

/// Where `part` lies in `whole`, as offsets, when it is a slice of it; an empty part is
/// `(0, 0)` wherever it points.
fn span(whole: &str, part: &str) -> Option<(u16, u16)> {
    if part.is_empty() {
        return Some((0, 0));
    }
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    if end > whole.len() {
        return None;
    }
    Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?))
}
