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
//! with the doorkeeper below (7/8 of the rest for domains, 1/8 for clients): the caps on entries are derived from it too, so
//! the estimate in [`TunnelCounters::memory_bytes`] never passes it. A new entry evicts
//! the least recently seen one when a cap is reached (counted in
//! [`TunnelCounters::evictions`]); entries idle for a whole window are dropped first
//! (counted in [`TunnelCounters::expired`]). A pair gets its entry at its *second*
//! query: before that, a doorkeeper (as in TinyLFU's admission filter) of
//! [`ADMISSION_SLOTS`] tags remembers that it was asked once. Most (client, domain)
//! pairs of a network are asked once in a while; they cost a hash and a store instead of
//! an entry, a name's figures and an eviction, and a flood of one-off names cannot push
//! a tunnel's entry out of the table. The first query of a pair is thus not in its
//! figures (a tunnel's hundreds are); two pairs whose tags collide admit each other one
//! query early. The doorkeeper takes a 32nd of the memory cap. Distinct counts are HyperLogLog sketches of
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
//!
//! # Files
//!
//! This file holds the public face (observations, configuration, findings, counters)
//! and the tracker; under `dns_tunnel/`: `names.rs` (grouping and per-name figures),
//! `sketch.rs` (HyperLogLog), `window.rs` (sub-windows, repeat alerts, rates),
//! `domain.rs` (per-pair sums and classification), `client.rs` (per-client DGA sums),
//! `table.rs` (the bounded tables over [`super::lru`]).

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use std::mem::size_of;
use std::net::IpAddr;

use crate::time::{Duration, Timestamp};

use super::dns_score::{self, MAX_NAME, NameKind, SuffixKind};

mod client;
mod domain;
mod names;
mod sketch;
mod table;
mod window;

use self::{client::*, domain::*, names::*, sketch::*, table::*, window::*};

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
    /// Queries per fifth of the window ([`BUCKETS`] sub-windows, oldest first; for DGA,
    /// all of the client's queries).
    pub histogram: [u32; BUCKETS],
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
    /// First queries of a pair, remembered by the doorkeeper only (no entry yet).
    pub first_queries: u64,
    /// Estimate of the memory held (never above `max_memory_bytes`).
    pub memory_bytes: u64,
}

/// Most tags of (client, domain) pairs asked once, in a direct-mapped table (4 bytes
/// each, 256 KiB, a 32nd of the default memory cap; a smaller cap gets a smaller table,
/// down to [`MIN_ADMISSION_SLOTS`]): a pair is admitted when it is asked again before
/// another pair's tag took its slot. 65 536 slots keep a pair's tag for 65 536 other
/// one-off queries on average, a minute of a busy office's lookups, while a tunnel asks
/// every second or faster.
pub const ADMISSION_SLOTS: usize = 1 << 16;

/// The doorkeeper of the smallest memory caps.
pub const MIN_ADMISSION_SLOTS: usize = 64;

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
    /// The doorkeeper: tags of pairs asked once (0: none).
    admission: Box<[u32]>,
    cuts: CutCache,
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
        // A 32nd of the memory for the doorkeeper (4-byte slots: bytes / 128), a 128th
        // for the cut cache, the rest 1 : 7 for clients and domains.
        let slots = (cfg.max_memory_bytes >> 7).clamp(MIN_ADMISSION_SLOTS, ADMISSION_SLOTS);
        let slots = 1usize << slots.ilog2();
        // A 128th for the cache of recent names' cuts.
        let cuts = CutCache::new(cfg.max_memory_bytes >> 7);
        let tables = cfg
            .max_memory_bytes
            .saturating_sub(slots.saturating_mul(size_of::<u32>()))
            .saturating_sub(cuts.memory_bytes());
        let client_budget = tables / 8;
        let domain_budget = tables.saturating_sub(client_budget);
        DnsTunnelTracker {
            domains: Table::new(cfg.max_domains, domain_budget, DOMAIN_HEAP_PER_ENTRY),
            clients: Table::new(cfg.max_clients, client_budget, 0),
            window,
            width,
            allow,
            allow_deep,
            keys: RandomState::default(),
            admission: vec![0; slots].into_boxed_slice(),
            cuts,
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
                .saturating_add(self.clients.memory_bytes())
                .saturating_add(size_of_val(&*self.admission))
                .saturating_add(self.cuts.memory_bytes()) as u64,
            ..self.counters
        }
    }

    /// Counts one question; returns a finding when this one made a pair or a client
    /// cross a threshold (or get [`TunnelConfig::worse_factor`] worse).
    pub fn observe(&mut self, obs: &DnsObservation) -> Option<DnsTunnelFinding> {
        let Some(group) = self.cuts.group(obs.qname) else {
            self.counters.skipped = self.counters.skipped.saturating_add(1);
            return None;
        };
        // Entries are keyed by the lowercase domain; copied only when it has capitals.
        let mut buf: [u8; MAX_NAME];
        let domain = if group.domain.bytes().any(|b| b.is_ascii_uppercase()) {
            buf = [0u8; MAX_NAME];
            let Some(lower) = lowercase(group.domain, &mut buf) else {
                self.counters.skipped = self.counters.skipped.saturating_add(1);
                return None;
            };
            lower
        } else {
            group.domain
        };
        if self.is_allowed(obs.qname, domain) {
            self.counters.allowed = self.counters.allowed.saturating_add(1);
            return None;
        }
        let t = obs.time.as_nanos();
        // The name's figures are worked out once, and only for a query that some entry
        // counts (most queries of a network are a pair's first, counted by none).
        let mut figures = None;
        let mut name =
            || *figures.get_or_insert_with(|| NameFigures::of(obs.qname, group.subdomain));

        let finding = self.observe_domain(obs, domain, &mut name, t);
        // Every query of a client that has a DGA entry counts in it; an NXDOMAIN for a
        // real registered domain creates one.
        let nx_domain = (obs.rcode == Some(RCODE_NXDOMAIN)
            && group.real_tld
            && first_label(domain).len() >= self.cfg.dga_min_label_len)
            .then_some(domain);
        let dga = self.observe_client(obs, nx_domain, &mut name, t, finding.is_none());
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
        name: &mut impl FnMut() -> NameFigures,
        t: i64,
    ) -> Option<DnsTunnelFinding> {
        let hash = self.keys.hash_one((obs.client, domain));
        let matches = |e: &DomainEntry| e.client == obs.client && *e.domain == *domain;
        let idx = match self.domains.find(hash, matches) {
            Some(idx) => idx,
            None => {
                if !self.admit(obs.client, domain) {
                    self.counters.first_queries = self.counters.first_queries.saturating_add(1);
                    return None;
                }
                self.make_room_domain(t, domain.len());
                let entry = DomainEntry::new(obs.client, domain, t, self.epoch(t));
                self.domains.insert(hash, entry)?
            }
        };
        let entry = self.domains.get_mut(idx)?;
        let ring = Ring {
            buckets: &mut entry.buckets,
            epoch: &mut entry.epoch,
            last: &mut entry.last,
        };
        let (t, slot) = file(ring, t, self.width, DomainBucket::EMPTY);
        entry.buckets.get_mut(slot)?.add(obs, &name(), t, &self.cfg);

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
        let mut f = w.finding(obs.client, &entry.domain, kind, reason, self.window);
        f.histogram = queries_by_age(&entry.buckets, entry.epoch);
        Some(f)
    }

    /// The doorkeeper: whether the pair was asked before (its tag is in its slot);
    /// if not, its tag takes the slot. The tag is a fixed hash, not the tables' keyed
    /// one, so that a replay admits the same pairs every run.
    fn admit(&mut self, client: IpAddr, domain: &str) -> bool {
        let client_bits = match client {
            IpAddr::V4(a) => u64::from(a.to_bits()),
            IpAddr::V6(a) => {
                let b = a.to_bits();
                (b as u64) ^ ((b >> 64) as u64)
            }
        };
        let h = fingerprint(domain) ^ client_bits.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let h = h ^ (h >> 29);
        let slots = self.admission.len().max(1) as u64;
        let slot = usize::try_from(h.checked_rem(slots).unwrap_or(0)).unwrap_or(0);
        // Never 0, the empty slot's tag.
        let tag = ((h >> 32) as u32) | 1;
        match self.admission.get_mut(slot) {
            Some(seen) if *seen == tag => true,
            Some(seen) => {
                *seen = tag;
                false
            }
            None => true,
        }
    }

    fn observe_client(
        &mut self,
        obs: &DnsObservation,
        nx_domain: Option<&str>,
        name: &mut impl FnMut() -> NameFigures,
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
        let entry = self.clients.get_mut(idx)?;
        let ring = Ring {
            buckets: &mut entry.buckets,
            epoch: &mut entry.epoch,
            last: &mut entry.last,
        };
        let (t, slot) = file(ring, t, self.width, ClientBucket::EMPTY);
        let bucket = entry.buckets.get_mut(slot)?;
        bucket.add(obs, nx_domain, &name(), t);
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
        let mut f = w.finding(obs.client, domain, reason, self.window);
        f.histogram = queries_by_age(&entry.buckets, entry.epoch);
        Some(f)
    }

    fn epoch(&self, t: i64) -> i64 {
        epoch(t, self.width)
    }

    /// Drops idle entries at the least recently seen end, then evicts until one of `heap` bytes fits.
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

#[cfg(test)]
#[path = "dns_tunnel_tests.rs"]
mod tests;
