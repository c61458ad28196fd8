//! Per-name figures for DNS tunnel detection: the Shannon entropy of a label, the
//! registered domain of a name by the Public Suffix List, the subdomain part below
//! it, and the bytes that subdomain carries.
//!
//! A tunnel (iodine, dnscat2, DNS-over-C2 frameworks) needs a zone whose
//! authoritative server the operator runs, and puts its data in the labels below it:
//! `<data>.<data>.t.example.com`. So the figures are grouped by *registered domain*
//! (the zone a party registered: `example.com`, `example.co.uk`), and the data is what
//! lies below it.
//!
//! # Names
//!
//! The input is the presentation form of the query name (DESIGN §3 `QueryName`). One
//! trailing dot is dropped. Case is ignored for the lookup (DNS is case-insensitive,
//! RFC 4343, and resolvers randomise case, "0x20"), but the returned slices keep the
//! input's case: lowercase them (`to_ascii_lowercase`) before using one as a key.
//! [`NameKind`] says what a name that has no registered domain is instead: the root or
//! an empty string, a single label (`localhost`, `wpad`), itself a public suffix
//! (`co.uk`, `github.io`), an IP address (`192.0.2.1`, `::1`, or anything whose last
//! label is all digits: no top-level domain is numeric, RFC 3696 §2), malformed (an
//! empty label) or over [`MAX_NAME`] bytes. Internationalised names are looked up as
//! given (the list holds both the `xn--` and the Unicode forms of its suffixes).
//!
//! # Private suffixes are used
//!
//! The list has an ICANN section (`com`, `co.uk`) and a private one (`github.io`,
//! `trycloudflare.com`, `duckdns.org`: domains whose owner hands out subdomains to
//! other people). We apply both, so `foo.github.io` is its own registered domain and
//! `a.b.trycloudflare.com` groups under `b.trycloudflare.com`: the unit is the party
//! that controls the names. Grouping by the ICANN section alone would pool every
//! customer of a tunnel or dynamic-DNS service into one "domain" with thousands of
//! distinct subdomains, which is exactly the tunnel signature, on benign traffic.
//! [`SuffixKind`] tells the caller which section matched.
//!
//! # The crate: `psl` 2.1.247
//!
//! `psl` (MIT/Apache-2.0, the addr-rs project) compiles the list into a generated
//! `match` over labels: no list file to ship, nothing to parse or allocate at start-up,
//! `no_std`, `forbid(unsafe_code)`, two crates (`psl`, `psl-types`). A lookup walks
//! the labels right to left, about 20 ns a name on this machine (release build). Its
//! releases track the list (the patch number counts list updates): `cargo update -p
//! psl` refreshes the suffixes. The cost is build time: 2.5 MB of generated source,
//! about 7 s in the dev profile and 45 s in a release build on 2 cores. It reports
//! whether the match was an ICANN, private or unlisted (default `*` rule) suffix.
//! The alternatives: `publicsuffix` 2.3.0 (same author) parses a list supplied at run
//! time, so the list would have to be shipped or embedded and parsed into maps at
//! start-up, and it pulls in `idna` by default; `addr` 0.15.6 wraps `psl` with name
//! validation, which our DNS parser already does, and refusing an odd name would drop
//! the names a tunnel detector most wants to see.

use std::net::Ipv6Addr;

use psl::{List, Psl, Type};

/// Longest name looked up, in bytes: the DNS parser's own cap on a name's text form
/// (`proto::dns::parse::MAX_NAME_TEXT`, what dnsmasq uses). The lowercase copy made for
/// the lookup lives on the stack in a buffer of this size.
pub const MAX_NAME: usize = 1025;

/// Which section of the Public Suffix List matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SuffixKind {
    Icann,
    Private,
    /// Not in the list: the default rule takes the last label (`corp`, `local`).
    Unlisted,
}

/// What a name is, for grouping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// It has a registered domain under a suffix of this kind.
    Registered(SuffixKind),
    /// The name is a listed public suffix itself: nothing is registered.
    PublicSuffix(SuffixKind),
    /// One unlisted label (`localhost`, `wpad`).
    SingleLabel,
    /// An IP address, or a numeric last label.
    IpAddress,
    /// Empty, or the root.
    Empty,
    /// An empty label (`a..b`, `.a`).
    Malformed,
    /// Longer than [`MAX_NAME`].
    TooLong,
}

/// A name cut at its registered domain. All slices borrow the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The input without its trailing dot.
    pub name: &'a str,
    pub kind: NameKind,
    /// The public suffix (`co.uk`); empty when the name has none.
    pub suffix: &'a str,
    /// The registered domain (`example.co.uk`), when [`NameKind::Registered`].
    pub registered: Option<&'a str>,
    /// What lies below the registered domain (`a.b`); empty when nothing does.
    pub subdomain: &'a str,
}

impl<'a> Split<'a> {
    fn whole(name: &'a str, kind: NameKind) -> Split<'a> {
        Split {
            name,
            kind,
            suffix: "",
            registered: None,
            subdomain: "",
        }
    }

    /// Bytes carried in the subdomain labels (the dots between them not counted).
    pub fn subdomain_bytes(&self) -> usize {
        label_bytes(self.subdomain)
    }

    /// Number of labels in the subdomain.
    pub fn subdomain_labels(&self) -> usize {
        if self.subdomain.is_empty() {
            0
        } else {
            self.subdomain.split('.').count()
        }
    }

    /// Entropy of the subdomain's label bytes, dots left out (see [`entropy`]).
    pub fn subdomain_entropy(&self) -> f64 {
        // A split name is at most MAX_NAME bytes, so its labels fit the buffer.
        let mut buf = [0u8; MAX_NAME];
        let mut n = 0usize;
        for b in self.subdomain.bytes().filter(|&b| b != b'.') {
            let Some(slot) = buf.get_mut(n) else {
                break;
            };
            *slot = b;
            n = n.saturating_add(1);
        }
        entropy(buf.get(..n).unwrap_or_default())
    }
}

/// Cuts `name` at its registered domain (see the module doc for the rules).
pub fn split(name: &str) -> Split<'_> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Split::whole(name, NameKind::Empty);
    }
    if bytes.len() > MAX_NAME {
        return Split::whole(name, NameKind::TooLong);
    }
    if bytes.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return Split::whole(name, NameKind::Malformed);
    }
    if is_ip_like(name) {
        return Split::whole(name, NameKind::IpAddress);
    }

    // The list matches lowercase bytes; copy only when the name has an uppercase letter
    // (the buffer is not even zeroed otherwise: most names are lowercase).
    let mut buf: [u8; MAX_NAME];
    let lower: &[u8] = if bytes.iter().any(u8::is_ascii_uppercase) {
        buf = [0u8; MAX_NAME];
        let Some(copy) = buf.get_mut(..bytes.len()) else {
            return Split::whole(name, NameKind::TooLong);
        };
        copy.copy_from_slice(bytes);
        copy.make_ascii_lowercase();
        copy
    } else {
        bytes
    };
    let info = List.find(lower.rsplit(|&b| b == b'.'));
    let kind = match info.typ {
        Some(Type::Icann) => SuffixKind::Icann,
        Some(Type::Private) => SuffixKind::Private,
        None => SuffixKind::Unlisted,
    };

    // Lowercasing keeps every byte offset, so the lookup's lengths cut the input.
    let suffix_len = info.len.min(bytes.len());
    if suffix_len == 0 || suffix_len == bytes.len() {
        let whole = if kind == SuffixKind::Unlisted {
            NameKind::SingleLabel
        } else {
            NameKind::PublicSuffix(kind)
        };
        return Split {
            suffix: if kind == SuffixKind::Unlisted {
                ""
            } else {
                name
            },
            ..Split::whole(name, whole)
        };
    }
    let suffix_start = bytes.len().saturating_sub(suffix_len);
    // `before` ends just ahead of the dot that precedes the suffix.
    let before = bytes
        .get(..suffix_start.saturating_sub(1))
        .unwrap_or_default();
    let registered_start = before
        .iter()
        .rposition(|&b| b == b'.')
        .map_or(0, |dot| dot.saturating_add(1));
    let (Some(suffix), Some(registered)) = (name.get(suffix_start..), name.get(registered_start..))
    else {
        // Not reachable for a name the list cut at a dot; say so rather than guess.
        return Split::whole(name, NameKind::Malformed);
    };
    let subdomain = name
        .get(..registered_start.saturating_sub(1))
        .unwrap_or_default();
    Split {
        name,
        kind: NameKind::Registered(kind),
        suffix,
        registered: Some(registered),
        subdomain,
    }
}

/// The part of `name` below `registered` (`a.b` for `a.b.example.com` under
/// `example.com`), compared case-insensitively and at a label boundary. `Some("")`
/// when the name is the registered domain itself; `None` when it is not under it.
pub fn subdomain_of<'a>(name: &'a str, registered: &str) -> Option<&'a str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let registered = registered.strip_suffix('.').unwrap_or(registered);
    if registered.is_empty() {
        return None;
    }
    if name.eq_ignore_ascii_case(registered) {
        return Some("");
    }
    let start = name.len().checked_sub(registered.len())?;
    let tail = name.as_bytes().get(start..)?;
    let dot = start.checked_sub(1)?;
    if !tail.eq_ignore_ascii_case(registered.as_bytes()) || name.as_bytes().get(dot) != Some(&b'.')
    {
        return None;
    }
    name.get(..dot)
}

/// Bytes carried in the labels of `subdomain`: its length less the dots between labels.
pub fn label_bytes(subdomain: &str) -> usize {
    subdomain.bytes().filter(|&b| b != b'.').count()
}

/// Shannon entropy of `label` in bits per character (per byte: names on the wire are
/// bytes, and internationalised ones travel as `xn--` ASCII). 0 for an empty string or
/// a single repeated character, `log2(n)` at most for `n` characters.
pub fn entropy(label: &[u8]) -> f64 {
    if label.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in label {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c = c.saturating_add(1);
        }
    }
    let total = label.len() as f64;
    let log_total = total.log2();
    // Σ p·log2(1/p) with log2(1/p) = log2(n) − log2(c): every term is ≥ 0, so a single
    // repeated byte gives exactly 0, not −0. The sum walks the label (a name is short)
    // rather than the 256 counts, taking each byte's count once and clearing it.
    let mut sum = 0.0;
    for &b in label {
        let Some(c) = counts.get_mut(usize::from(b)) else {
            continue;
        };
        if *c > 0 {
            let n = f64::from(*c);
            sum += n / total * (log_total - n.log2());
            *c = 0;
        }
    }
    sum
}

fn is_ip_like(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    // A dotted IPv4 address ends in digits, so the first test covers it; only a name
    // with a colon can be an IPv6 address (parsing every name as one costs a parse).
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
        || (name.contains(':') && name.parse::<Ipv6Addr>().is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn registered(name: &str) -> Option<&str> {
        split(name).registered
    }

    #[test]
    fn entropy_by_hand() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert_eq!(entropy(b"abcd"), 2.0);
        // "aabb": two symbols at 1/2 → 1 bit.
        assert_eq!(entropy(b"aabb"), 1.0);
        // "aaab": 3/4·log2(4/3) + 1/4·log2(4) = 0.811278…
        assert!((entropy(b"aaab") - 0.811_278_124_459_132_9).abs() < 1e-12);
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"a"), 0.0);
    }

    #[test]
    fn psl_icann_split() {
        let s = split("a.b.example.co.uk");
        assert_eq!(s.registered, Some("example.co.uk"));
        assert_eq!((s.suffix, s.subdomain), ("co.uk", "a.b"));
        assert_eq!(s.kind, NameKind::Registered(SuffixKind::Icann));
        assert_eq!((s.subdomain_bytes(), s.subdomain_labels()), (2, 2));
        assert_eq!(registered("www.google.com"), Some("google.com"));
        assert_eq!(split("example.com").subdomain, "");
    }

    #[test]
    fn psl_private_section_is_used() {
        let s = split("foo.github.io");
        assert_eq!(s.registered, Some("foo.github.io"));
        assert_eq!(s.kind, NameKind::Registered(SuffixKind::Private));
        assert_eq!(s.subdomain, "");
        let s = split("x7f3a9.abcd.trycloudflare.com");
        assert_eq!(s.registered, Some("abcd.trycloudflare.com"));
        assert_eq!((s.suffix, s.subdomain), ("trycloudflare.com", "x7f3a9"));
    }

    #[test]
    fn name_that_is_a_public_suffix() {
        assert_eq!(
            split("co.uk").kind,
            NameKind::PublicSuffix(SuffixKind::Icann)
        );
        assert_eq!(
            split("github.io").kind,
            NameKind::PublicSuffix(SuffixKind::Private)
        );
        let com = split("com.");
        assert_eq!(
            (com.kind, com.suffix, com.registered),
            (NameKind::PublicSuffix(SuffixKind::Icann), "com", None)
        );
    }

    #[test]
    fn single_labels_and_unlisted_suffixes() {
        assert_eq!(split("localhost").kind, NameKind::SingleLabel);
        assert_eq!(split("WPAD").kind, NameKind::SingleLabel);
        let s = split("printer.corp");
        assert_eq!(s.kind, NameKind::Registered(SuffixKind::Unlisted));
        assert_eq!((s.registered, s.suffix), (Some("printer.corp"), "corp"));
    }

    #[test]
    fn ip_looking_names() {
        for n in [
            "192.0.2.1",
            "10.0.0.1.",
            "::1",
            "2001:db8::1",
            "1.2.3",
            "host.123",
        ] {
            assert_eq!(split(n).kind, NameKind::IpAddress, "{n}");
        }
        // Reverse names are ordinary names under in-addr.arpa.
        assert_eq!(
            registered("1.2.0.192.in-addr.arpa"),
            Some("192.in-addr.arpa")
        );
    }

    #[test]
    fn trailing_dot_and_uppercase() {
        let s = split("A.B.Example.CO.UK.");
        assert_eq!(s.name, "A.B.Example.CO.UK");
        assert_eq!(s.registered, Some("Example.CO.UK"));
        assert_eq!((s.suffix, s.subdomain), ("CO.UK", "A.B"));
        assert_eq!(registered("FOO.GitHub.IO"), Some("FOO.GitHub.IO"));
    }

    #[test]
    fn empty_malformed_too_long() {
        assert_eq!(split("").kind, NameKind::Empty);
        assert_eq!(split(".").kind, NameKind::Empty);
        for n in ["a..b", ".a", "a.b..", "..", "a..example.com"] {
            assert_eq!(split(n).kind, NameKind::Malformed, "{n}");
        }
        let long = "a.".repeat(600) + "com";
        assert_eq!(split(&long).kind, NameKind::TooLong);
        let fits = "a.".repeat(500) + "com";
        assert_eq!(split(&fits).registered, Some("a.com"));
        assert_eq!(split(&fits).subdomain_labels(), 499);
    }

    #[test]
    fn subdomain_given_the_registered_domain() {
        assert_eq!(subdomain_of("a.b.example.com", "example.com"), Some("a.b"));
        assert_eq!(subdomain_of("A.B.EXAMPLE.com.", "example.COM"), Some("A.B"));
        assert_eq!(subdomain_of("example.com", "example.com."), Some(""));
        assert_eq!(subdomain_of("badexample.com", "example.com"), None);
        assert_eq!(subdomain_of("example.org", "example.com"), None);
        assert_eq!(subdomain_of("com", "example.com"), None);
        assert_eq!(subdomain_of("a.example.com", ""), None);
        assert_eq!(label_bytes("aGVsbG8.d29ybGQ"), 14);
        assert_eq!(label_bytes(""), 0);
    }

    #[test]
    fn subdomain_entropy_skips_dots() {
        let s = split("ab.cd.example.com");
        assert_eq!(s.subdomain, "ab.cd");
        assert_eq!(s.subdomain_entropy(), 2.0);
    }

    proptest! {
        #[test]
        fn split_is_total_and_consistent(name in "[a-zA-Z0-9.\\-_:é]{0,40}") {
            let s = split(&name);
            if let Some(reg) = s.registered {
                prop_assert!(s.name.ends_with(reg));
                prop_assert!(reg.ends_with(s.suffix));
                prop_assert_eq!(subdomain_of(s.name, reg), Some(s.subdomain));
            }
            prop_assert!(s.subdomain_bytes() <= s.name.len());
            let e = entropy(name.as_bytes());
            prop_assert!(e >= 0.0 && e <= (name.len().max(1) as f64).log2() + 1e-9);
        }

        #[test]
        fn split_survives_any_string(name in any::<String>()) {
            let _ = split(&name);
            let _ = subdomain_of(&name, &name);
        }
    }
}
