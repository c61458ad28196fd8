//! Per client (DGA): the sub-window sums of NXDOMAIN answers and the window they add up
//! to.

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) struct ClientBucket {
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) entropy_sum: f64,
    pub(super) queries: u32,
    pub(super) nx: u32,
    /// NXDOMAIN for a real registered domain with a first label long enough.
    pub(super) counted: u32,
    pub(super) name_len_sum: u32,
    pub(super) label_bytes: u32,
    pub(super) vowels: u32,
    pub(super) chars: u32,
    pub(super) max_len: u16,
    pub(super) hll: [u8; HLL_M],
}

impl SubWindow for ClientBucket {
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

impl ClientBucket {
    pub(super) const EMPTY: ClientBucket = ClientBucket {
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

    pub(super) fn add(
        &mut self,
        obs: &DnsObservation,
        nx_domain: Option<&str>,
        name: &NameFigures,
        t: i64,
    ) {
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

pub(super) struct ClientEntry {
    pub(super) client: IpAddr,
    pub(super) last: i64,
    pub(super) epoch: i64,
    pub(super) buckets: [ClientBucket; BUCKETS],
    pub(super) alerted: Option<Alerted>,
}

impl ClientEntry {
    pub(super) fn new(client: IpAddr, t: i64, epoch: i64) -> ClientEntry {
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

pub(super) struct ClientWindow {
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) queries: u64,
    pub(super) nx: u64,
    pub(super) counted: u64,
    pub(super) name_len_sum: u64,
    pub(super) label_bytes: u64,
    pub(super) vowels: u64,
    pub(super) chars: u64,
    pub(super) max_len: usize,
    pub(super) entropy_sum: f64,
    pub(super) distinct_nx: u64,
}

impl ClientWindow {
    pub(super) fn of(buckets: &[ClientBucket; BUCKETS]) -> ClientWindow {
        let mut w = ClientWindow {
            first: 0,
            last: 0,
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
        let add = |a: &mut u64, b: u32| *a = a.saturating_add(u64::from(b));
        for b in buckets.iter().filter(|b| b.queries > 0) {
            add(&mut w.queries, b.queries);
            add(&mut w.nx, b.nx);
            add(&mut w.counted, b.counted);
            add(&mut w.name_len_sum, b.name_len_sum);
            add(&mut w.label_bytes, b.label_bytes);
            add(&mut w.vowels, b.vowels);
            add(&mut w.chars, b.chars);
            w.max_len = w.max_len.max(usize::from(b.max_len));
            w.entropy_sum += b.entropy_sum;
        }
        (w.first, w.last, w.distinct_nx) = merged(buckets);
        w
    }

    pub(super) fn finding(
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
            histogram: [0; BUCKETS],
        }
    }
}
