//! DNS tunnels, exfiltration in query names and DGA bursts, found in the queries one
//! worker sees: bounded state, on packet time, over a sliding window, per (client,
//! registered domain) and per client. What it returns becomes event 111 (`DnsTunnel`).
//!
//! Where it sits (DESIGN §1): the worker that owns a client's IP pairs joins each DNS
//! query with its response (or gives up on one) and hands the result here as a
//! [`DnsObservation`]; [`DnsTunnelTracker::observe`] answers with at most one
//! [`DnsTunnelFinding`], which the caller turns into an event. It imports `crate::time`,
//! std, hashbrown, foldhash, [`super::dns_score`] (the Public Suffix List split, entropy)
//! and [`super::lru`] (the tables' slab), and nothing else.
//!
//! What it does not do: no I/O, no clock (time is the observation's), no logging, no
//! event building, no user allow-list file (the caller filters, or passes names in
//! [`TunnelConfig::allow_domains`]). It does not look at answers' contents (TXT sizes,
//! NULL payloads): only the question and the rcode. It never panics, whatever the names
//! and whatever the configuration (NaN thresholds simply never fire).
//!
//! # The three kinds
//!
//! A tunnel or exfiltration needs a zone whose authoritative server the operator runs,
//! so the data lies in the labels *below the registered domain* (see `dns_score`); the
//! unit is the pair (client, registered domain). Over the window, per pair:
//!
//! - **data in names**: at least [`TunnelConfig::min_distinct`] distinct subdomains, at
//!   least [`TunnelConfig::min_long_share`] of the queries with a subdomain of
//!   [`TunnelConfig::long_subdomain_bytes`] bytes or more, and a mean subdomain entropy
//!   of [`TunnelConfig::min_entropy`] bits per byte or more.
//! - [`TunnelKind::Tunnel`]: data in names *and* answers come back (at least
//!   [`TunnelConfig::min_noerror_share`] NOERROR: a tunnel is a two-way channel) *and*
//!   it is busy ([`TunnelConfig::tunnel_min_queries_per_min`]) or uses the odd query
//!   types (TXT, NULL, CNAME, MX: [`TunnelConfig::odd_type_share`]). Or, whatever the
//!   names look like, a high-volume stream of odd types with answers
//!   ([`TunnelConfig::types_only_share`], [`TunnelConfig::types_only_min_distinct`]):
//!   iodine's short polls in lazy mode.
//! - [`TunnelKind::Exfil`]: data in names without the rest: one-way (NXDOMAIN, REFUSED
//!   or no answer) or slow. Data leaves; nothing needs to come back.
//! - [`TunnelKind::Dga`], per client: NXDOMAIN for at least
//!   [`TunnelConfig::dga_min_distinct_nx`] distinct registered domains whose first
//!   label is [`TunnelConfig::dga_min_label_len`] characters or longer, with a mean
//!   vowel share of those labels at most [`TunnelConfig::dga_max_vowel_share`].
//!
//! # Where the numbers come from
//!
//! Published heuristics agree on the signals, not on one set of numbers; each default
//! says its source on its field of [`TunnelConfig`]. In short: distinct subdomains per
//! domain (RITA's "C2 over DNS" counts them, `c2_subdomain_threshold` 10 in its v5
//! config, as a score modifier; the Zeek/Splunk hunting guides flag more than 50–100 an
//! hour), name length (Farnham, *Detecting DNS Tunneling*, SANS 2013, and the Zeek
//! scripts derived from it flag names over 52 characters; guides flag labels over 30),
//! entropy (3.5 bits/char in most guides, 3.2 here: base32 tops out at 5, hex at 4, and a
//! sample of 30–60 characters falls short of its alphabet's maximum), query types
//! (TXT, NULL, CNAME, MX: iodine, dnscat2, dns2tcp), and NXDOMAIN bursts for DGA
//! (Microsoft Sentinel's DGA hunting query: 20 NXDOMAIN, 15 distinct, second-level
//! label of 7+ characters, vowel ratio: 35–45% for human-made names, under 20% for
//! random ones). Tuned on `pcaps/` (iodine, base32 TXT exfil, benign CDN and browsing)
//! and on the public corpus (dnscat2's `ndpi_dns_exfiltration`).
//!
//! # What is left out, and why
//!
//! Skipped before any state: names with no registered domain (single labels such as
//! Chrome's three random intranet-redirect probes, IPs, public suffixes, malformed
//! names); reverse and infrastructure zones (`*.arpa`: `in-addr`, `ip6`,
//! `_dns.resolver.arpa`, `home.arpa`; the old `ip6.int`); names that never leave the
//! site (`.local` mDNS, `.localhost`, `.invalid`, `.onion`); names with a label that
//! starts with `_` (DNS-SD `_services._dns-sd._udp`, SRV `_ldap._tcp`, DKIM
//! `_domainkey`, `_dmarc`, ESNI `_esni`, `_acme-challenge`): service names, not data.
//! A small built-in allow-list ([`BUILTIN_ALLOW`]) covers the services that put hashes
//! in names by design (antivirus reputation, DNS block lists, ad frames).
//!
//! A name whose top-level label cannot be a TLD (digits, or longer than any TLD: 24) is
//! sent straight to a server that is not a resolver, as dnscat2 does without a domain
//! (`dnscat.<hex>`): such names are grouped by their *first* label instead.
//!
//! # Bounded memory
//!
//! Two tables, each a hash index over a slab with a least-recently-seen list
//! ([`super::lru`]): domains
//! ([`TunnelConfig::max_domains`]) and clients ([`TunnelConfig::max_clients`], only
//! clients that had an NXDOMAIN). [`TunnelConfig::max_memory_bytes`] caps both together
//! (7/8 for domains, 1/8 for clients): the caps on entries are derived from it too, so
//! the estimate in [`TunnelCounters::memory_bytes`] never passes it. A new entry evicts
//! the least recently seen one when a cap is reached (counted in
//! [`TunnelCounters::evictions`]); entries idle for a whole window are dropped first
//! (counted in [`TunnelCounters::expired`]). Distinct counts are HyperLogLog sketches of
//! 64 six-bit registers (a byte each) per sub-window: exact enough where it matters
//! (linear counting below 160 distinct values, a few percent), 13% standard error
//! (1.04/√64) above. A sketch has no memory of names, so it cannot grow.
//!
//! # Window
//!
//! [`TunnelConfig::window`] (10 minutes) in [`BUCKETS`] sub-windows (2 minutes each):
//! figures cover the current sub-window and the four before it, so 8 to 10 minutes.
//! Ten minutes hold a whole burst of any tool seen here (iodine moved 2.5 MiB in 16 s)
//! and a slow exfiltration at one query every 10 s (60 queries); longer windows cost no
//! memory per entry but let a busy benign domain pile up distinct names. Each entry
//! keeps its own clock, the latest time it saw: an observation older than that counts
//! in the current sub-window (time going backwards is harmless), and one bogus future
//! timestamp only stalls the window of the one entry it hit.
//!
//! # Alerts
//!
//! Once per (client, domain, kind) per window; again within the window only when it got
//! [`TunnelConfig::worse_factor`] times worse (distinct subdomains, or distinct NXDOMAIN
//! domains for DGA) than at the last alert.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::mem::size_of;
use std::net::IpAddr;

use crate::time::{Duration, Timestamp};

use super::dns_score::{self, MAX_NAME, NameKind, SuffixKind};
use super::lru::{self, LruSlab, NIL};

/// Query types that carry data back in their answers (RFC 1035 §3.2.2).
pub const QTYPE_CNAME: u16 = 5;
pub const QTYPE_NULL: u16 = 10;
pub const QTYPE_MX: u16 = 15;
pub const QTYPE_TXT: u16 = 16;
pub const RCODE_NOERROR: u16 = 0;
pub const RCODE_NXDOMAIN: u16 = 3;

/// Sub-windows of the window: the window slides by a fifth of its length. More would
/// slide more smoothly at 136 bytes per domain each (the sketch is most of it).
pub const BUCKETS: usize = 5;

/// Services that put hashes or encoded data in names by design, as a feature: never
/// flagged. Registered domains (the Public Suffix List's cut), matched with any name
/// below them. Kept short on purpose: each entry is a blind spot.
pub const BUILTIN_ALLOW: &[&str] = &[
    // Antivirus file/URL reputation over DNS: McAfee GTI (`*.avqs.mcafee.com`,
    // `*.avts.mcafee.com`), Sophos Live Protection (`*.sophosxl.net`).
    "mcafee.com",
    "sophosxl.net",
    // Team Cymru's malware hash registry (`<md5>.malware.hash.cymru.com`) and IP-to-ASN.
    "cymru.com",
    // DNS block and allow lists queried by mail servers (reversed IPs, hashed domains).
    "spamhaus.org",
    "spamhaus.net",
    "surbl.org",
    "uribl.com",
    "sorbs.net",
    "spamcop.net",
    "barracudacentral.org",
    "dnswl.org",
    "mailspike.net",
    "senderscore.com",
    // Google SafeFrame ad containers: one `<32 hex>.safeframe.googlesyndication.com` per ad.
    "googlesyndication.com",
];

/// HyperLogLog registers per sketch (2^6; the index is the hash's top 6 bits).
const HLL_M: usize = 64;
const HLL_INDEX_BITS: u32 = 6;
/// `alpha_64` of Flajolet et al. (2007), the bias correction for 64 registers.
const HLL_ALPHA: f64 = 0.709;

/// Longest top-level label: `xn--vermgensberatung-pwb` (24). Longer, or with a digit
/// outside the `xn--` form, and it is no TLD.
const MAX_TLD_LEN: usize = 24;

/// Entries idle for a window dropped per insert: bounds the work of one observation.
const EXPIRE_PER_INSERT: usize = 4;

/// Bytes the hash index costs per unit of its `capacity()`: hashbrown fills at most 7/8
/// of its buckets, each a `(u64, u32)` (16 bytes with padding) and a control byte:
/// 17 × 8/7 ≈ 20. Its capacity is the cap rounded up to a power of two's 7/8, so at
/// most twice the cap: the budget reserves 40 per entry.
const INDEX_BYTES_PER_SLOT: usize = 20;

/// Heap bytes reserved per domain entry for its name (the mean registered domain is
/// 12–20 bytes; the rest is slack). Names beyond it on average evict entries.
const DOMAIN_HEAP_PER_ENTRY: usize = 32;

const NANOS_PER_MIN: f64 = 60e9;

/// One DNS question and what became of it.
#[derive(Clone, Copy, Debug)]
pub struct DnsObservation<'a> {
    /// The query's packet time.
    pub time: Timestamp,
    pub client: IpAddr,
    /// Presentation form (DESIGN §3 `QueryName`): `\DDD` escapes count as one byte.
    pub qname: &'a str,
    pub qtype: u16,
    /// The response's rcode; `None`: no response seen.
    pub rcode: Option<u16>,
}

/// Thresholds and caps. `Default` holds the shipped values and says where each comes from.
#[derive(Clone, Debug)]
pub struct TunnelConfig {
    /// Length of the sliding window (10 min: see the module doc).
    pub window: Duration,
    /// Distinct subdomains of one domain for "data in names" (50). Hunting guides for
    /// Zeek dns.log flag more than 50 unique subdomains per parent; DKTrace's rule pairs
    /// 50 with a TXT rate and 100 with entropy. Benign: `benign-cdn` has 7–9 names per
    /// domain; a page of ads a few dozen across many domains.
    pub min_distinct: u64,
    /// A subdomain this long (bytes on the wire, dots not counted) carries data (30):
    /// the usual "label over 30 characters" rule; CDN hashes are shorter
    /// (`d1a2b3c4d5e6f7.cloudfront.net` 14, `r3---sn-abc1def.googlevideo.com` 15).
    pub long_subdomain_bytes: usize,
    /// Share of the queries that must carry a long subdomain (0.5).
    pub min_long_share: f64,
    /// Mean Shannon entropy of the subdomains, bits per byte (3.2). The guides use 3.5
    /// for base32/base64, but a sample's entropy falls short of its alphabet's: random
    /// hex over 34 characters averages about 3.7 of its 4 bits, and dnscat2's fixed
    /// header bytes bring its names to 3.5 (`ndpi_dns_exfiltration`: 3.52). Long words
    /// reach 3.5–4 as well, so this only screens out repetitive or structured names;
    /// the count of distinct long names decides.
    pub min_entropy: f64,
    /// Share of NOERROR answers for a two-way channel, i.e. a tunnel (0.5): iodine and
    /// dnscat2 have all answered; the base32 TXT exfiltration got only NXDOMAIN.
    pub min_noerror_share: f64,
    /// Queries a minute that make a channel busy (30: one every 2 s; dnscat2 polls about
    /// once a second, iodine ran at ~20,000 a minute).
    pub tunnel_min_queries_per_min: f64,
    /// Share of TXT/NULL/CNAME/MX that marks a tunnel's query mix (0.5; the guides: "TXT
    /// query ratio over 50% to a domain"; browsers ask A, AAAA and HTTPS only).
    pub odd_type_share: f64,
    /// Odd-type share for a tunnel whatever its names look like (0.8).
    pub types_only_share: f64,
    /// Distinct subdomains for that odd-type path (100: hunting guides, "over 100
    /// unique subdomains an hour"; we ask it within the window).
    pub types_only_min_distinct: u64,
    /// Distinct NXDOMAIN registered domains of one client for a DGA burst (20; Sentinel's
    /// DGA hunt asks 20 NXDOMAIN and 15 distinct names an hour; we ask 20 distinct in a
    /// window, so Chrome's 3 probes, typos and a dead ad domain or two stay far below).
    pub dga_min_distinct_nx: u64,
    /// First label of the registered domain at least this long to count (7, Sentinel).
    pub dga_min_label_len: usize,
    /// Mean share of vowels in those labels at most this (0.28: Sentinel gives 35–45% for
    /// human-made names and under 20% for random ones; random `[a-z]` has 5/26 = 19%,
    /// hex 2/16; blocked ad domains such as `doubleclick`, `scorecardresearch` ≥ 0.27).
    pub dga_max_vowel_share: f64,
    /// How much worse before another alert within the window (10: an order of magnitude
    /// more distinct names; iodine's 2.5 MiB in 16 s then alerts twice, at 58 and 1030).
    pub worse_factor: f64,
    /// Domain entries per tracker, i.e. per worker (8192).
    pub max_domains: usize,
    /// Client entries (1024; only clients with an NXDOMAIN in the window get one).
    pub max_clients: usize,
    /// Everything this tracker holds (8 MiB per worker: the default caps fit in it, and
    /// four workers stay well inside DESIGN §6's 128 MiB).
    pub max_memory_bytes: usize,
    /// Apply [`BUILTIN_ALLOW`] (true).
    pub builtin_allow_list: bool,
    /// More domains never to flag (lowercase or not, with or without the trailing dot);
    /// a name matches when it is one of them or below one.
    pub allow_domains: Vec<String>,
}

impl Default for TunnelConfig {
    fn default() -> TunnelConfig {
        TunnelConfig {
            window: Duration::from_secs(600),
            min_distinct: 50,
            long_subdomain_bytes: 30,
            min_long_share: 0.5,
            min_entropy: 3.2,
            min_noerror_share: 0.5,
            tunnel_min_queries_per_min: 30.0,
            odd_type_share: 0.5,
            types_only_share: 0.8,
            types_only_min_distinct: 100,
            dga_min_distinct_nx: 20,
            dga_min_label_len: 7,
            dga_max_vowel_share: 0.28,
            worse_factor: 10.0,
            max_domains: 8192,
            max_clients: 1024,
            max_memory_bytes: 8 << 20,
            builtin_allow_list: true,
            allow_domains: Vec::new(),
        }
    }
}

/// What was found. Serialized in snake_case (`tunnel`, `exfil`, `dga`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    Tunnel,
    Exfil,
    Dga,
}

impl TunnelKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Tunnel => "tunnel",
            TunnelKind::Exfil => "exfil",
            TunnelKind::Dga => "dga",
        }
    }
}

/// Queries by type over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QtypeCounts {
    pub txt: u64,
    pub null: u64,
    pub cname: u64,
    pub mx: u64,
    /// Every other type (A, AAAA, HTTPS, ...).
    pub other: u64,
}

impl QtypeCounts {
    /// TXT + NULL + CNAME + MX.
    pub fn odd(&self) -> u64 {
        self.txt
            .saturating_add(self.null)
            .saturating_add(self.cname)
            .saturating_add(self.mx)
    }

    /// Share of TXT/NULL/CNAME/MX among all queries; 0 when there are none.
    pub fn odd_share(&self) -> f64 {
        ratio(self.odd(), self.odd().saturating_add(self.other))
    }
}

/// One alert's figures, over the window as it stood at the observation that raised it.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsTunnelFinding {
    pub client: IpAddr,
    /// The registered domain, lowercase (for a name without a real TLD, its first
    /// label). For [`TunnelKind::Dga`]: the most recent NXDOMAIN registered domain.
    pub domain: String,
    pub kind: TunnelKind,
    /// Queries in the window (for DGA: all the client's queries since its first
    /// NXDOMAIN of the window).
    pub queries: u64,
    /// Distinct subdomains (estimated; 0 for DGA).
    pub distinct_subdomains: u64,
    /// Mean length of the names on the wire (for DGA: of the NXDOMAIN names).
    pub mean_name_len: f64,
    pub max_name_len: usize,
    /// Mean entropy of the subdomains in bits per byte (for DGA: of the first labels of
    /// the NXDOMAIN registered domains).
    pub mean_label_entropy: f64,
    /// Bytes carried in subdomain labels per minute of activity (a minute at least).
    pub name_bytes_per_min: f64,
    pub queries_per_min: f64,
    pub qtypes: QtypeCounts,
    /// `qtypes.odd_share()`.
    pub qtype_share_txt_null_cname_mx: f64,
    pub noerror: u64,
    pub nxdomain: u64,
    /// Distinct NXDOMAIN registered domains (estimated; DGA only, else 0).
    pub distinct_nx_domains: u64,
    /// Length of the window the figures cover (the configured window).
    pub window_secs: f64,
    /// First and last query of the window.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// For people: the figures that crossed which threshold.
    pub reason: String,
}

/// The tracker's state, for SensorState (DESIGN §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelCounters {
    /// Domain and client entries held now.
    pub domains: u64,
    pub clients: u64,
    /// Entries dropped to make room (a cap was reached).
    pub evictions: u64,
    /// Entries dropped because they had been idle for a whole window.
    pub expired: u64,
    /// Findings returned.
    pub findings: u64,
    /// Observations not counted: no registered domain, reverse, local or service names.
    pub skipped: u64,
    /// Observations of allow-listed names.
    pub allowed: u64,
    /// Estimate of the memory held (never above `max_memory_bytes`).
    pub memory_bytes: u64,
}

/// Per-worker state. See the module doc.
pub struct DnsTunnelTracker {
    cfg: TunnelConfig,
    /// Window and sub-window in nanoseconds (both > 0).
    window: i64,
    width: i64,
    allow: hashbrown::HashSet<Box<str>, RandomState>,
    /// Some allow-list entry lies below a registered domain: check every suffix.
    allow_deep: bool,
    keys: RandomState,
    domains: Table<DomainEntry>,
    clients: Table<ClientEntry>,
    counters: TunnelCounters,
}

impl DnsTunnelTracker {
    pub fn new(cfg: TunnelConfig) -> DnsTunnelTracker {
        let buckets = BUCKETS as i64;
        let window = cfg.window.as_nanos().max(buckets);
        let width = window.checked_div(buckets).unwrap_or(1).max(1);
        let mut allow = hashbrown::HashSet::with_hasher(RandomState::default());
        let builtin = if cfg.builtin_allow_list {
            BUILTIN_ALLOW
        } else {
            &[]
        };
        for d in builtin
            .iter()
            .copied()
            .chain(cfg.allow_domains.iter().map(String::as_str))
        {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if !d.is_empty() {
                allow.insert(d.into_boxed_str());
            }
        }
        let allow_deep = allow.iter().any(|d| {
            dns_score::split(d)
                .registered
                .is_none_or(|r| r.len() != d.len())
        });
        let client_budget = cfg.max_memory_bytes / 8;
        let domain_budget = cfg.max_memory_bytes.saturating_sub(client_budget);
        DnsTunnelTracker {
            domains: Table::new(cfg.max_domains, domain_budget, DOMAIN_HEAP_PER_ENTRY),
            clients: Table::new(cfg.max_clients, client_budget, 0),
            window,
            width,
            allow,
            allow_deep,
            keys: RandomState::default(),
            counters: TunnelCounters::default(),
            cfg,
        }
    }

    pub fn config(&self) -> &TunnelConfig {
        &self.cfg
    }

    pub fn counters(&self) -> TunnelCounters {
        TunnelCounters {
            domains: self.domains.len() as u64,
            clients: self.clients.len() as u64,
            memory_bytes: self
                .domains
                .memory_bytes()
                .saturating_add(self.clients.memory_bytes()) as u64,
            ..self.counters
        }
    }

    /// Counts one question; returns a finding when this one made a pair or a client
    /// cross a threshold (or get [`TunnelConfig::worse_factor`] worse).
    pub fn observe(&mut self, obs: &DnsObservation) -> Option<DnsTunnelFinding> {
        let Some(group) = group(obs.qname) else {
            self.counters.skipped = self.counters.skipped.saturating_add(1);
            return None;
        };
        let mut buf = [0u8; MAX_NAME];
        let Some(domain) = lowercase(group.domain, &mut buf) else {
            self.counters.skipped = self.counters.skipped.saturating_add(1);
            return None;
        };
        if self.is_allowed(obs.qname, domain) {
            self.counters.allowed = self.counters.allowed.saturating_add(1);
            return None;
        }
        let name = NameFigures::of(obs.qname, group.subdomain);
        let t = obs.time.as_nanos();

        let finding = self.observe_domain(obs, domain, &name, t);
        // Every query of a client that has a DGA entry counts in it; an NXDOMAIN for a
        // real registered domain creates one.
        let nx_domain = (obs.rcode == Some(RCODE_NXDOMAIN)
            && group.real_tld
            && first_label(domain).len() >= self.cfg.dga_min_label_len)
            .then_some(domain);
        let dga = self.observe_client(obs, nx_domain, &name, t, finding.is_none());
        let finding = finding.or(dga);
        if finding.is_some() {
            self.counters.findings = self.counters.findings.saturating_add(1);
        }
        finding
    }

    fn is_allowed(&self, qname: &str, domain: &str) -> bool {
        if self.allow.is_empty() {
            return false;
        }
        if self.allow.contains(domain) {
            return true;
        }
        if !self.allow_deep {
            return false;
        }
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = lowercase(qname.strip_suffix('.').unwrap_or(qname), &mut buf) else {
            return false;
        };
        let mut rest = name;
        loop {
            if self.allow.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, tail)) => rest = tail,
                None => return false,
            }
        }
    }

    fn observe_domain(
        &mut self,
        obs: &DnsObservation,
        domain: &str,
        name: &NameFigures,
        t: i64,
    ) -> Option<DnsTunnelFinding> {
        let hash = self.keys.hash_one((obs.client, domain));
        let matches = |e: &DomainEntry| e.client == obs.client && *e.domain == *domain;
        let idx = match self.domains.find(hash, matches) {
            Some(idx) => idx,
            None => {
                self.make_room_domain(t, domain.len());
                let entry = DomainEntry::new(obs.client, domain, t, self.epoch(t));
                self.domains.insert(hash, entry)?
            }
        };
        let epoch_of = |t: i64| epoch(t, self.width);
        let entry = self.domains.get_mut(idx)?;
        let t = t.max(entry.last);
        entry.last = t;
        let slot = advance(
            &mut entry.buckets,
            &mut entry.epoch,
            epoch_of(t),
            DomainBucket::EMPTY,
        );
        entry.buckets.get_mut(slot)?.add(obs, name, t, &self.cfg);

        // Cheap gate before the sketch is merged (a busy benign domain, all short A and
        // AAAA names, stops here): no rule fires without enough queries, and without
        // long names or odd types in the share the rules ask.
        let (mut queries, mut long, mut odd) = (0u64, 0u64, 0u64);
        for b in &entry.buckets {
            queries = queries.saturating_add(u64::from(b.queries));
            long = long.saturating_add(u64::from(b.long));
            let b_odd = [b.txt, b.null, b.cname, b.mx]
                .iter()
                .map(|&c| u64::from(c))
                .sum();
            odd = odd.saturating_add(b_odd);
        }
        let enough = queries >= self.cfg.min_distinct.min(self.cfg.types_only_min_distinct);
        let long_enough = ratio(long, queries) >= self.cfg.min_long_share;
        let odd_enough = ratio(odd, queries) >= self.cfg.types_only_share;
        if !enough || !(long_enough || odd_enough) {
            return None;
        }
        let w = DomainWindow::of(&entry.buckets);
        let (kind, why) = classify(&w, &self.cfg)?;
        let slot = match kind {
            TunnelKind::Tunnel => 0,
            _ => 1,
        };
        let prev = entry.alerted.get(slot).copied().flatten();
        if !should_alert(prev, t, w.distinct, self.window, self.cfg.worse_factor) {
            return None;
        }
        if let Some(a) = entry.alerted.get_mut(slot) {
            *a = Some(Alerted {
                at: t,
                distinct: w.distinct,
            });
        }
        let reason = reason(&w, &self.cfg, why);
        Some(w.finding(obs.client, &entry.domain, kind, reason, self.window))
    }

    fn observe_client(
        &mut self,
        obs: &DnsObservation,
        nx_domain: Option<&str>,
        name: &NameFigures,
        t: i64,
        may_alert: bool,
    ) -> Option<DnsTunnelFinding> {
        let hash = self.keys.hash_one(obs.client);
        let matches = |e: &ClientEntry| e.client == obs.client;
        let idx = match (self.clients.find(hash, matches), nx_domain) {
            (Some(idx), _) => idx,
            (None, Some(_)) => {
                self.make_room_client(t);
                let entry = ClientEntry::new(obs.client, t, self.epoch(t));
                self.clients.insert(hash, entry)?
            }
            (None, None) => return None,
        };
        let epoch_of = |t: i64| epoch(t, self.width);
        let entry = self.clients.get_mut(idx)?;
        let t = t.max(entry.last);
        entry.last = t;
        let slot = advance(
            &mut entry.buckets,
            &mut entry.epoch,
            epoch_of(t),
            ClientBucket::EMPTY,
        );
        let bucket = entry.buckets.get_mut(slot)?;
        bucket.add(obs, nx_domain, name, t);
        let domain = nx_domain?;
        if !may_alert {
            return None;
        }
        let nx: u64 = entry.buckets.iter().map(|b| u64::from(b.counted)).sum();
        if nx < self.cfg.dga_min_distinct_nx {
            return None;
        }
        let w = ClientWindow::of(&entry.buckets);
        let vowel_share = ratio(w.vowels, w.chars);
        // Written so that a NaN threshold never fires.
        let random_looking = vowel_share <= self.cfg.dga_max_vowel_share;
        if w.distinct_nx < self.cfg.dga_min_distinct_nx
            || !random_looking
            || !should_alert(
                entry.alerted,
                t,
                w.distinct_nx,
                self.window,
                self.cfg.worse_factor,
            )
        {
            return None;
        }
        entry.alerted = Some(Alerted {
            at: t,
            distinct: w.distinct_nx,
        });
        let reason = format!(
            "NXDOMAIN for {} distinct registered domains (>= {}) in {:.0} s, mean vowel share \
             of their first labels {:.2} (<= {:.2}); last {domain}",
            w.distinct_nx,
            self.cfg.dga_min_distinct_nx,
            nanos_secs(self.window),
            vowel_share,
            self.cfg.dga_max_vowel_share,
        );
        Some(w.finding(obs.client, domain, reason, self.window))
    }

    fn epoch(&self, t: i64) -> i64 {
        epoch(t, self.width)
    }

    /// Drops idle entries at the tail, then evicts until one of `heap` bytes fits.
    fn make_room_domain(&mut self, t: i64, heap: usize) {
        let (expired, evicted) = self.domains.make_room(t, self.window, heap);
        self.count_dropped(expired, evicted);
    }

    fn make_room_client(&mut self, t: i64) {
        let (expired, evicted) = self.clients.make_room(t, self.window, 0);
        self.count_dropped(expired, evicted);
    }

    fn count_dropped(&mut self, expired: u64, evicted: u64) {
        self.counters.expired = self.counters.expired.saturating_add(expired);
        self.counters.evictions = self.counters.evictions.saturating_add(evicted);
    }
}

// ---------------------------------------------------------------------------------------
// Names

/// A name cut for grouping.
struct Group<'a> {
    /// The registered domain (or the first label, for a name without a real TLD).
    domain: &'a str,
    /// What lies below it (or after the first label).
    subdomain: &'a str,
    /// The name ends in a real top-level domain (DGA counts only those).
    real_tld: bool,
}

/// Cuts `qname` for grouping, or `None` when it is skipped (see the module doc).
fn group(qname: &str) -> Option<Group<'_>> {
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
const SKIPPED_TLDS: &[&str] = &["arpa", "local", "localhost", "invalid", "onion"];

fn plausible_tld(tld: &str) -> bool {
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

fn first_label(domain: &str) -> &str {
    domain.split('.').next().unwrap_or(domain)
}

/// `text` lowercased into `buf`; `None` when it does not fit.
fn lowercase<'b>(text: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let out = buf.get_mut(..text.len())?;
    out.copy_from_slice(text.as_bytes());
    out.make_ascii_lowercase();
    // ASCII lowercasing keeps UTF-8 valid.
    std::str::from_utf8(out).ok()
}

/// The figures of one name that the buckets sum.
struct NameFigures {
    /// Length of the whole name on the wire (escapes undone, dots counted).
    wire_len: usize,
    /// Bytes in the subdomain's labels, escapes undone, dots between labels not counted.
    sub_bytes: usize,
    /// Entropy of those bytes (0 without a subdomain).
    entropy: f64,
    /// Fingerprint of the lowercased subdomain, for the distinct-count sketch.
    fingerprint: u64,
}

impl NameFigures {
    fn of(qname: &str, subdomain: &str) -> NameFigures {
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
struct Unescaped<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Unescaped<'a> {
    fn new(text: &'a str) -> Unescaped<'a> {
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
fn decimal3(b: &[u8], at: usize) -> Option<u8> {
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
fn fingerprint(text: &str) -> u64 {
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

fn is_vowel(c: u8) -> bool {
    matches!(c.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u')
}

// ---------------------------------------------------------------------------------------
// HyperLogLog (Flajolet, Fusy, Gandouet, Meunier 2007), 64 registers

fn hll_add(regs: &mut [u8; HLL_M], h: u64) {
    let idx = usize::try_from(h.wrapping_shr(64 - HLL_INDEX_BITS)).unwrap_or(0);
    let rest = h.wrapping_shl(HLL_INDEX_BITS);
    // Rank: leading zeros of the remaining 58 bits, plus one (59 when all are zero).
    let rank = rest
        .leading_zeros()
        .min(64 - HLL_INDEX_BITS)
        .saturating_add(1);
    let rank = u8::try_from(rank).unwrap_or(u8::MAX);
    if let Some(r) = regs.get_mut(idx) {
        *r = (*r).max(rank);
    }
}

fn hll_estimate(regs: &[u8; HLL_M]) -> u64 {
    let m = HLL_M as f64;
    let zeros = regs.iter().filter(|&&r| r == 0).count();
    let sum: f64 = regs.iter().map(|&r| 0.5f64.powi(i32::from(r))).sum();
    let raw = HLL_ALPHA * m * m / sum;
    // Small-range correction (linear counting) while registers are still empty; with a
    // 64-bit hash no large-range correction is needed.
    let est = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    if est.is_finite() && est > 0.0 {
        est.round() as u64
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------
// Sub-windows

/// The sub-window index holding `t`.
fn epoch(t: i64, width: i64) -> i64 {
    t.checked_div_euclid(width).unwrap_or(0)
}

fn slot_of(epoch: i64) -> usize {
    usize::try_from(epoch.rem_euclid(BUCKETS as i64)).unwrap_or(0)
}

/// Moves the ring to sub-window `e` (never back), clearing the sub-windows it passes;
/// returns the slot of the current one.
fn advance<B: Copy>(buckets: &mut [B; BUCKETS], current: &mut i64, e: i64, empty: B) -> usize {
    if e > *current {
        let steps = e.saturating_sub(*current).min(BUCKETS as i64);
        let mut k = 0i64;
        while k < steps {
            if let Some(b) = buckets.get_mut(slot_of(e.saturating_sub(k))) {
                *b = empty;
            }
            k = k.saturating_add(1);
        }
        *current = e;
    }
    slot_of(*current)
}

#[derive(Clone, Copy, Debug)]
struct Alerted {
    at: i64,
    distinct: u64,
}

fn should_alert(prev: Option<Alerted>, now: i64, distinct: u64, window: i64, worse: f64) -> bool {
    match prev {
        None => true,
        Some(p) => {
            now.saturating_sub(p.at) >= window || distinct as f64 >= p.distinct as f64 * worse
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn nanos_secs(n: i64) -> f64 {
    n as f64 / 1e9
}

/// Minutes of activity between `first` and `last`, at least one: a burst of 300 names in
/// 40 ms is 300 a minute, not 450,000.
fn active_minutes(first: i64, last: i64) -> f64 {
    (last.saturating_sub(first) as f64).max(NANOS_PER_MIN) / NANOS_PER_MIN
}

// ---------------------------------------------------------------------------------------
// Per (client, domain)

#[derive(Clone, Copy, Debug)]
struct DomainBucket {
    first: i64,
    last: i64,
    entropy_sum: f64,
    queries: u32,
    /// Queries with a subdomain (the entropy's denominator).
    with_sub: u32,
    long: u32,
    name_len_sum: u32,
    sub_bytes: u32,
    txt: u32,
    null: u32,
    cname: u32,
    mx: u32,
    noerror: u32,
    nx: u32,
    max_len: u16,
    hll: [u8; HLL_M],
}

impl DomainBucket {
    const EMPTY: DomainBucket = DomainBucket {
        first: 0,
        last: 0,
        entropy_sum: 0.0,
        queries: 0,
        with_sub: 0,
        long: 0,
        name_len_sum: 0,
        sub_bytes: 0,
        txt: 0,
        null: 0,
        cname: 0,
        mx: 0,
        noerror: 0,
        nx: 0,
        max_len: 0,
        hll: [0; HLL_M],
    };

    fn add(&mut self, obs: &DnsObservation, name: &NameFigures, t: i64, cfg: &TunnelConfig) {
        if self.queries == 0 {
            self.first = t;
        }
        self.last = t;
        let inc = |c: &mut u32| *c = c.saturating_add(1);
        inc(&mut self.queries);
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.name_len_sum = self.name_len_sum.saturating_add(clamp(name.wire_len));
        self.max_len = self
            .max_len
            .max(u16::try_from(name.wire_len).unwrap_or(u16::MAX));
        if name.sub_bytes > 0 {
            inc(&mut self.with_sub);
            self.entropy_sum += name.entropy;
            self.sub_bytes = self.sub_bytes.saturating_add(clamp(name.sub_bytes));
            hll_add(&mut self.hll, name.fingerprint);
        }
        if name.sub_bytes >= cfg.long_subdomain_bytes {
            inc(&mut self.long);
        }
        match obs.qtype {
            QTYPE_TXT => inc(&mut self.txt),
            QTYPE_NULL => inc(&mut self.null),
            QTYPE_CNAME => inc(&mut self.cname),
            QTYPE_MX => inc(&mut self.mx),
            _ => {}
        }
        match obs.rcode {
            Some(RCODE_NOERROR) => inc(&mut self.noerror),
            Some(RCODE_NXDOMAIN) => inc(&mut self.nx),
            _ => {}
        }
    }
}

struct DomainEntry {
    client: IpAddr,
    /// Lowercase.
    domain: Box<str>,
    /// Latest time seen (the entry's clock) and its sub-window.
    last: i64,
    epoch: i64,
    buckets: [DomainBucket; BUCKETS],
    /// Last alert per kind: tunnel, exfil.
    alerted: [Option<Alerted>; 2],
}

impl DomainEntry {
    fn new(client: IpAddr, domain: &str, t: i64, epoch: i64) -> DomainEntry {
        DomainEntry {
            client,
            domain: domain.into(),
            last: t,
            epoch,
            buckets: [DomainBucket::EMPTY; BUCKETS],
            alerted: [None; 2],
        }
    }
}

impl Entry for DomainEntry {
    fn last_seen(&self) -> i64 {
        self.last
    }
    fn heap_bytes(&self) -> usize {
        self.domain.len()
    }
}

/// The window's sums for one pair.
struct DomainWindow {
    first: i64,
    last: i64,
    queries: u64,
    with_sub: u64,
    long: u64,
    name_len_sum: u64,
    sub_bytes: u64,
    max_len: usize,
    qtypes: QtypeCounts,
    noerror: u64,
    nx: u64,
    entropy_sum: f64,
    distinct: u64,
}

impl DomainWindow {
    fn of(buckets: &[DomainBucket; BUCKETS]) -> DomainWindow {
        let mut w = DomainWindow {
            first: i64::MAX,
            last: i64::MIN,
            queries: 0,
            with_sub: 0,
            long: 0,
            name_len_sum: 0,
            sub_bytes: 0,
            max_len: 0,
            qtypes: QtypeCounts::default(),
            noerror: 0,
            nx: 0,
            entropy_sum: 0.0,
            distinct: 0,
        };
        let mut hll = [0u8; HLL_M];
        let add = |a: &mut u64, b: u32| *a = a.saturating_add(u64::from(b));
        for b in buckets.iter().filter(|b| b.queries > 0) {
            w.first = w.first.min(b.first);
            w.last = w.last.max(b.last);
            add(&mut w.queries, b.queries);
            add(&mut w.with_sub, b.with_sub);
            add(&mut w.long, b.long);
            add(&mut w.name_len_sum, b.name_len_sum);
            add(&mut w.sub_bytes, b.sub_bytes);
            w.max_len = w.max_len.max(usize::from(b.max_len));
            add(&mut w.qtypes.txt, b.txt);
            add(&mut w.qtypes.null, b.null);
            add(&mut w.qtypes.cname, b.cname);
            add(&mut w.qtypes.mx, b.mx);
            add(&mut w.noerror, b.noerror);
            add(&mut w.nx, b.nx);
            w.entropy_sum += b.entropy_sum;
            for (acc, r) in hll.iter_mut().zip(b.hll.iter()) {
                *acc = (*acc).max(*r);
            }
        }
        w.qtypes.other = w.queries.saturating_sub(w.qtypes.odd());
        if w.queries == 0 {
            (w.first, w.last) = (0, 0);
        }
        w.distinct = hll_estimate(&hll);
        w
    }

    fn mean_entropy(&self) -> f64 {
        if self.with_sub == 0 {
            0.0
        } else {
            self.entropy_sum / self.with_sub as f64
        }
    }

    fn queries_per_min(&self) -> f64 {
        self.queries as f64 / active_minutes(self.first, self.last)
    }

    fn finding(
        &self,
        client: IpAddr,
        domain: &str,
        kind: TunnelKind,
        reason: String,
        window: i64,
    ) -> DnsTunnelFinding {
        DnsTunnelFinding {
            client,
            domain: domain.to_owned(),
            kind,
            queries: self.queries,
            distinct_subdomains: self.distinct,
            mean_name_len: ratio(self.name_len_sum, self.queries),
            max_name_len: self.max_len,
            mean_label_entropy: self.mean_entropy(),
            name_bytes_per_min: self.sub_bytes as f64 / active_minutes(self.first, self.last),
            queries_per_min: self.queries_per_min(),
            qtypes: self.qtypes,
            qtype_share_txt_null_cname_mx: self.qtypes.odd_share(),
            noerror: self.noerror,
            nxdomain: self.nx,
            distinct_nx_domains: 0,
            window_secs: nanos_secs(window),
            first_seen: Timestamp(self.first),
            last_seen: Timestamp(self.last),
            reason,
        }
    }
}

/// Which rule fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// Data in names, answers coming back, busy or odd types.
    TwoWay,
    /// Odd types at volume with answers, whatever the names.
    TypesOnly,
    /// Data in names, answers not coming back.
    OneWay,
    /// Data in names, answered, but neither busy nor odd types.
    Slow,
}

/// The kind a pair's window shows, and the rule, or `None`.
fn classify(w: &DomainWindow, cfg: &TunnelConfig) -> Option<(TunnelKind, Why)> {
    let long_share = ratio(w.long, w.queries);
    let entropy = w.mean_entropy();
    let noerror_share = ratio(w.noerror, w.queries);
    let odd_share = w.qtypes.odd_share();
    let qpm = w.queries_per_min();
    let data_in_names = w.distinct >= cfg.min_distinct
        && long_share >= cfg.min_long_share
        && entropy >= cfg.min_entropy;
    let two_way = noerror_share >= cfg.min_noerror_share;
    let busy = qpm >= cfg.tunnel_min_queries_per_min;
    let odd = odd_share >= cfg.odd_type_share;
    let types_only = w.distinct >= cfg.types_only_min_distinct
        && odd_share >= cfg.types_only_share
        && busy
        && two_way;
    if data_in_names && two_way && (busy || odd) {
        Some((TunnelKind::Tunnel, Why::TwoWay))
    } else if types_only {
        Some((TunnelKind::Tunnel, Why::TypesOnly))
    } else if data_in_names && two_way {
        Some((TunnelKind::Exfil, Why::Slow))
    } else if data_in_names {
        Some((TunnelKind::Exfil, Why::OneWay))
    } else {
        None
    }
}

/// The finding's `Reason`: the rule and the figures it read.
fn reason(w: &DomainWindow, cfg: &TunnelConfig, why: Why) -> String {
    let lead = match why {
        Why::TwoWay => "data in names, answers coming back",
        Why::TypesOnly => "sustained TXT/NULL/CNAME/MX queries with answers",
        Why::OneWay => "data in names, nothing coming back (one-way)",
        Why::Slow => "data in names at a low rate",
    };
    format!(
        "{lead}: {} distinct subdomains (>= {}), {:.0}% of {} queries with {}+ bytes below \
         the domain, mean entropy {:.2} bits/byte; {:.0} queries/min, {:.0}% TXT/NULL/CNAME/MX, \
         {:.0}% NOERROR, {} NXDOMAIN",
        w.distinct,
        if why == Why::TypesOnly {
            cfg.types_only_min_distinct
        } else {
            cfg.min_distinct
        },
        ratio(w.long, w.queries) * 100.0,
        w.queries,
        cfg.long_subdomain_bytes,
        w.mean_entropy(),
        w.queries_per_min(),
        w.qtypes.odd_share() * 100.0,
        ratio(w.noerror, w.queries) * 100.0,
        w.nx,
    )
}

// ---------------------------------------------------------------------------------------
// Per client (DGA)

#[derive(Clone, Copy, Debug)]
struct ClientBucket {
    first: i64,
    last: i64,
    entropy_sum: f64,
    queries: u32,
    nx: u32,
    /// NXDOMAIN for a real registered domain with a first label long enough.
    counted: u32,
    name_len_sum: u32,
    label_bytes: u32,
    vowels: u32,
    chars: u32,
    max_len: u16,
    hll: [u8; HLL_M],
}

impl ClientBucket {
    const EMPTY: ClientBucket = ClientBucket {
        first: 0,
        last: 0,
        entropy_sum: 0.0,
        queries: 0,
        nx: 0,
        counted: 0,
        name_len_sum: 0,
        label_bytes: 0,
        vowels: 0,
        chars: 0,
        max_len: 0,
        hll: [0; HLL_M],
    };

    fn add(&mut self, obs: &DnsObservation, nx_domain: Option<&str>, name: &NameFigures, t: i64) {
        if self.queries == 0 {
            self.first = t;
        }
        self.last = t;
        self.queries = self.queries.saturating_add(1);
        if obs.rcode == Some(RCODE_NXDOMAIN) {
            self.nx = self.nx.saturating_add(1);
        }
        let Some(domain) = nx_domain else {
            return;
        };
        let label = first_label(domain);
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.counted = self.counted.saturating_add(1);
        self.name_len_sum = self.name_len_sum.saturating_add(clamp(name.wire_len));
        self.max_len = self
            .max_len
            .max(u16::try_from(name.wire_len).unwrap_or(u16::MAX));
        self.label_bytes = self.label_bytes.saturating_add(clamp(label.len()));
        self.chars = self.chars.saturating_add(clamp(label.len()));
        self.vowels = self
            .vowels
            .saturating_add(clamp(label.bytes().filter(|&c| is_vowel(c)).count()));
        self.entropy_sum += dns_score::entropy(label.as_bytes());
        // The sketch counts registered domains: the label alone would merge
        // `abcdefg.com` and `abcdefg.net`, which DGAs that rotate TLDs produce.
        hll_add(&mut self.hll, fingerprint(domain));
    }
}

struct ClientEntry {
    client: IpAddr,
    last: i64,
    epoch: i64,
    buckets: [ClientBucket; BUCKETS],
    alerted: Option<Alerted>,
}

impl ClientEntry {
    fn new(client: IpAddr, t: i64, epoch: i64) -> ClientEntry {
        ClientEntry {
            client,
            last: t,
            epoch,
            buckets: [ClientBucket::EMPTY; BUCKETS],
            alerted: None,
        }
    }
}

impl Entry for ClientEntry {
    fn last_seen(&self) -> i64 {
        self.last
    }
    fn heap_bytes(&self) -> usize {
        0
    }
}

struct ClientWindow {
    first: i64,
    last: i64,
    queries: u64,
    nx: u64,
    counted: u64,
    name_len_sum: u64,
    label_bytes: u64,
    vowels: u64,
    chars: u64,
    max_len: usize,
    entropy_sum: f64,
    distinct_nx: u64,
}

impl ClientWindow {
    fn of(buckets: &[ClientBucket; BUCKETS]) -> ClientWindow {
        let mut w = ClientWindow {
            first: i64::MAX,
            last: i64::MIN,
            queries: 0,
            nx: 0,
            counted: 0,
            name_len_sum: 0,
            label_bytes: 0,
            vowels: 0,
            chars: 0,
            max_len: 0,
            entropy_sum: 0.0,
            distinct_nx: 0,
        };
        let mut hll = [0u8; HLL_M];
        let add = |a: &mut u64, b: u32| *a = a.saturating_add(u64::from(b));
        for b in buckets.iter().filter(|b| b.queries > 0) {
            w.first = w.first.min(b.first);
            w.last = w.last.max(b.last);
            add(&mut w.queries, b.queries);
            add(&mut w.nx, b.nx);
            add(&mut w.counted, b.counted);
            add(&mut w.name_len_sum, b.name_len_sum);
            add(&mut w.label_bytes, b.label_bytes);
            add(&mut w.vowels, b.vowels);
            add(&mut w.chars, b.chars);
            w.max_len = w.max_len.max(usize::from(b.max_len));
            w.entropy_sum += b.entropy_sum;
            for (acc, r) in hll.iter_mut().zip(b.hll.iter()) {
                *acc = (*acc).max(*r);
            }
        }
        if w.queries == 0 {
            (w.first, w.last) = (0, 0);
        }
        w.distinct_nx = hll_estimate(&hll);
        w
    }

    fn finding(
        &self,
        client: IpAddr,
        domain: &str,
        reason: String,
        window: i64,
    ) -> DnsTunnelFinding {
        let minutes = active_minutes(self.first, self.last);
        DnsTunnelFinding {
            client,
            domain: domain.to_owned(),
            kind: TunnelKind::Dga,
            queries: self.queries,
            distinct_subdomains: 0,
            mean_name_len: ratio(self.name_len_sum, self.counted),
            max_name_len: self.max_len,
            mean_label_entropy: if self.counted == 0 {
                0.0
            } else {
                self.entropy_sum / self.counted as f64
            },
            name_bytes_per_min: self.label_bytes as f64 / minutes,
            queries_per_min: self.queries as f64 / minutes,
            qtypes: QtypeCounts::default(),
            qtype_share_txt_null_cname_mx: 0.0,
            noerror: 0,
            nxdomain: self.nx,
            distinct_nx_domains: self.distinct_nx,
            window_secs: nanos_secs(window),
            first_seen: Timestamp(self.first),
            last_seen: Timestamp(self.last),
            reason,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A bounded table with least-recently-seen eviction

trait Entry {
    /// The entry's clock, for expiry.
    fn last_seen(&self) -> i64;
    /// Heap bytes the entry owns.
    fn heap_bytes(&self) -> usize;
}

/// An entry as the slab holds it, with the keyed hash the index files it under.
struct Keyed<E> {
    hash: u64,
    e: E,
}

/// A slot of a table's slab.
type Node<E> = lru::Node<Keyed<E>>;

/// A slab of entries on a recency list ([`LruSlab`]), indexed by a keyed 64-bit hash of
/// the key. A node is checked against the key on lookup; two keys with the same keyed
/// hash (1 in 2^64, and not forceable: the key is random) would share a slot, the newer
/// replacing the older.
struct Table<E> {
    index: hashbrown::HashMap<u64, u32, RandomState>,
    slab: LruSlab<Keyed<E>>,
    /// Most entries held: the configured cap, lowered to what the byte budget pays for.
    cap: usize,
    heap_used: usize,
    heap_budget: usize,
}

impl<E: Entry> Table<E> {
    fn new(max_entries: usize, budget: usize, heap_per_entry: usize) -> Table<E> {
        let per_entry = size_of::<Option<Node<E>>>()
            .saturating_add(INDEX_BYTES_PER_SLOT.saturating_mul(2))
            .saturating_add(heap_per_entry)
            .max(1);
        let cap = max_entries
            .min(budget.checked_div(per_entry).unwrap_or(0))
            .clamp(
                1,
                usize::try_from(NIL).unwrap_or(usize::MAX).saturating_sub(1),
            );
        Table {
            index: hashbrown::HashMap::with_capacity_and_hasher(cap, RandomState::default()),
            slab: LruSlab::new(),
            cap,
            heap_used: 0,
            heap_budget: cap.saturating_mul(heap_per_entry),
        }
    }

    fn len(&self) -> usize {
        self.slab.len()
    }

    fn memory_bytes(&self) -> usize {
        self.slab
            .slots_capacity()
            .saturating_mul(size_of::<Option<Node<E>>>())
            .saturating_add(self.index.capacity().saturating_mul(INDEX_BYTES_PER_SLOT))
            .saturating_add(self.slab.free_capacity().saturating_mul(size_of::<u32>()))
            .saturating_add(self.heap_used)
    }

    /// The entry of `hash` if it matches, moved to the most recent end.
    fn find(&mut self, hash: u64, matches: impl Fn(&E) -> bool) -> Option<u32> {
        let i = *self.index.get(&hash)?;
        if !self.slab.get(i).is_some_and(|n| matches(&n.e)) {
            self.remove(i);
            return None;
        }
        self.slab.touch(i);
        Some(i)
    }

    fn get_mut(&mut self, i: u32) -> Option<&mut E> {
        self.slab.get_mut(i).map(|n| &mut n.e)
    }

    /// Drops entries idle for `window` at the least recent end (a few), then evicts until
    /// an entry with `heap` bytes fits. Returns (expired, evicted).
    fn make_room(&mut self, now: i64, window: i64, heap: usize) -> (u64, u64) {
        let mut expired = 0u64;
        let mut dropped = 0usize;
        while dropped < EXPIRE_PER_INSERT {
            let Some(oldest) = self.slab.least_recent() else {
                break;
            };
            let idle = self
                .slab
                .get(oldest)
                .is_some_and(|n| now.saturating_sub(n.e.last_seen()) >= window);
            if !idle {
                break;
            }
            self.remove(oldest);
            expired = expired.saturating_add(1);
            dropped = dropped.saturating_add(1);
        }
        let mut evicted = 0u64;
        while self.len() > 0
            && (self.len() >= self.cap || self.heap_used.saturating_add(heap) > self.heap_budget)
        {
            let victim = self.slab.least_recent();
            if victim.and_then(|i| self.remove(i)).is_none() {
                break;
            }
            evicted = evicted.saturating_add(1);
        }
        (expired, evicted)
    }

    /// Adds `e` as the most recent; `None` when there is no room (call `make_room` first).
    fn insert(&mut self, hash: u64, e: E) -> Option<u32> {
        if self.len() >= self.cap {
            return None;
        }
        if let Some(&old) = self.index.get(&hash) {
            self.remove(old);
        }
        let heap = e.heap_bytes();
        let i = match self.slab.take_vacant() {
            Some(i) => i,
            None => {
                // Double, but never past the cap: capacity is memory.
                let made = self.slab.slots_len();
                let room = self.cap.saturating_sub(made);
                self.slab.reserve_slots(made.max(16).min(room).max(1));
                self.slab.take_vacant()?
            }
        };
        if !self.slab.fill(i, Keyed { hash, e }) {
            return None;
        }
        self.index.insert(hash, i);
        self.heap_used = self.heap_used.saturating_add(heap);
        Some(i)
    }

    fn remove(&mut self, i: u32) -> Option<E> {
        let node = self.slab.remove(i)?;
        self.index.remove(&node.hash);
        self.heap_used = self.heap_used.saturating_sub(node.e.heap_bytes());
        Some(node.e)
    }
}

#[cfg(test)]
#[path = "dns_tunnel_tests.rs"]
mod tests;
