//! Per (client, registered domain): the sub-window sums, the window they add up to, and
//! the rules that classify it (tunnel, exfiltration) with the reason a finding gives.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct DomainBucket {
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) entropy_sum: f64,
    pub(super) queries: u32,
    /// Queries with a subdomain (the entropy's denominator).
    pub(super) with_sub: u32,
    pub(super) long: u32,
    pub(super) name_len_sum: u32,
    pub(super) sub_bytes: u32,
    pub(super) txt: u32,
    pub(super) null: u32,
    pub(super) cname: u32,
    pub(super) mx: u32,
    pub(super) noerror: u32,
    pub(super) nx: u32,
    pub(super) max_len: u16,
    pub(super) hll: [u8; HLL_M],
}

impl SubWindow for DomainBucket {
    fn queries(&self) -> u32 {
        self.queries
    }
    fn span(&self) -> (i64, i64) {
        (self.first, self.last)
    }
    fn sketch(&self) -> &[u8; HLL_M] {
        &self.hll
    }
}

impl DomainBucket {
    pub(super) const EMPTY: DomainBucket = DomainBucket {
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

    pub(super) fn add(
        &mut self,
        obs: &DnsObservation,
        name: &NameFigures,
        t: i64,
        cfg: &TunnelConfig,
    ) {
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

pub(super) struct DomainEntry {
    pub(super) client: IpAddr,
    /// Lowercase.
    pub(super) domain: Box<str>,
    /// Latest time seen (the entry's clock) and its sub-window.
    pub(super) last: i64,
    pub(super) epoch: i64,
    pub(super) buckets: [DomainBucket; BUCKETS],
    /// Last alert per kind: tunnel, exfil.
    pub(super) alerted: [Option<Alerted>; 2],
}

impl DomainEntry {
    pub(super) fn new(client: IpAddr, domain: &str, t: i64, epoch: i64) -> DomainEntry {
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
pub(super) struct DomainWindow {
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) queries: u64,
    pub(super) with_sub: u64,
    pub(super) long: u64,
    pub(super) name_len_sum: u64,
    pub(super) sub_bytes: u64,
    pub(super) max_len: usize,
    pub(super) qtypes: QtypeCounts,
    pub(super) noerror: u64,
    pub(super) nx: u64,
    pub(super) entropy_sum: f64,
    pub(super) distinct: u64,
}

impl DomainWindow {
    pub(super) fn of(buckets: &[DomainBucket; BUCKETS]) -> DomainWindow {
        let mut w = DomainWindow {
            first: 0,
            last: 0,
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
        let add = |a: &mut u64, b: u32| *a = a.saturating_add(u64::from(b));
        for b in buckets.iter().filter(|b| b.queries > 0) {
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
        }
        w.qtypes.other = w.queries.saturating_sub(w.qtypes.odd());
        (w.first, w.last, w.distinct) = merged(buckets);
        w
    }

    pub(super) fn mean_entropy(&self) -> f64 {
        if self.with_sub == 0 {
            0.0
        } else {
            self.entropy_sum / self.with_sub as f64
        }
    }

    pub(super) fn queries_per_min(&self) -> f64 {
        self.queries as f64 / active_minutes(self.first, self.last)
    }

    pub(super) fn finding(
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
            histogram: [0; BUCKETS],
        }
    }
}

/// Which rule fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
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
pub(super) fn classify(w: &DomainWindow, cfg: &TunnelConfig) -> Option<(TunnelKind, Why)> {
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
pub(super) fn reason(w: &DomainWindow, cfg: &TunnelConfig, why: Why) -> String {
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
