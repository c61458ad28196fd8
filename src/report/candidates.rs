//! Beacon (110) and DNS tunnel (111) alerts as rows of the report: their figures for
//! the bars, their facts, their histogram; a table keeps the highest-ranked rows.

use super::line::{Line, Num, clip, known, text};

/// Bins kept per histogram (c2tap writes 24).
pub const MAX_HISTOGRAM_BINS: usize = 96;
/// Longest text kept in a row's free-text field (a `Reason`), in bytes.
pub const MAX_TEXT: usize = 1024;

/// A beacon (110) or DNS tunnel (111) alert, for its row.
#[derive(Clone, Debug, Default)]
pub struct Candidate {
    pub time: String,
    pub client: String,
    pub server: String,
    pub server_ip: String,
    pub port: Option<u64>,
    pub kind: String,
    /// The score the rows are ranked by (beacons: `Score`; tunnels: distinct
    /// subdomains over the 50 that make a tunnel, so rows order by strength).
    pub rank: f64,
    /// (name, value, threshold or scale) for the bars.
    pub figures: Vec<(&'static str, f64, f64)>,
    /// Plain facts (check-ins, median interval, queries, …).
    pub facts: Vec<(&'static str, String)>,
    pub reason: String,
    pub histogram: Option<Vec<u64>>,
    pub histogram_truncated: bool,
    pub first_seen: String,
    pub last_seen: String,
}

/// A table of candidates keeping the `cap` highest ranks.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    pub rows: Vec<Candidate>,
    pub seen: u64,
    pub dropped: u64,
}

impl Candidates {
    pub(super) fn push(&mut self, c: Candidate, cap: usize) {
        self.seen += 1;
        if self.rows.len() < cap {
            self.rows.push(c);
            return;
        }
        self.dropped += 1;
        let worst = self
            .rows
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.rank.total_cmp(&b.1.rank))
            .map(|(i, r)| (i, r.rank));
        if let Some((i, rank)) = worst
            && c.rank > rank
            && let Some(slot) = self.rows.get_mut(i)
        {
            *slot = c;
        }
    }

    /// Rows by rank, highest first.
    pub fn sorted(&self) -> Vec<&Candidate> {
        let mut v: Vec<&Candidate> = self.rows.iter().collect();
        v.sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.time.cmp(&b.time)));
        v
    }
}

fn header(l: &Line, server: &str) -> Candidate {
    Candidate {
        time: clip(text(&l.UtcTime), 64),
        client: clip(text(&l.SourceIp), 64),
        server: clip(server, 256),
        server_ip: clip(text(&l.DestinationIp), 64),
        port: l.DestinationPort.count(),
        reason: clip(text(&l.Reason), MAX_TEXT),
        first_seen: clip(text(&l.FirstSeen), 64),
        last_seen: clip(text(&l.LastSeen), 64),
        ..Candidate::default()
    }
}

fn histogram(c: &mut Candidate, h: &Option<Vec<Num>>) {
    if let Some(h) = h {
        c.histogram_truncated = h.len() > MAX_HISTOGRAM_BINS;
        c.histogram = Some(
            h.iter()
                .take(MAX_HISTOGRAM_BINS)
                .map(|n| n.count().unwrap_or(0))
                .collect(),
        );
    }
}

/// A Beacon event's row.
pub fn beacon(l: &Line) -> Candidate {
    let server = known(&l.DestinationHostname).or(known(&l.DestinationIp));
    let mut c = header(l, server.unwrap_or("-"));
    c.kind = clip(known(&l.BeaconKind).unwrap_or("-"), 64);
    let score = l.Score.get().unwrap_or(0.0);
    c.rank = score;
    c.figures = vec![
        ("score", score, 0.9),
        ("timing", l.TimingScore.get().unwrap_or(0.0), 1.0),
        ("size", l.SizeScore.get().unwrap_or(0.0), 1.0),
        ("histogram", l.HistogramScore.get().unwrap_or(0.0), 1.0),
        ("duration", l.DurationScore.get().unwrap_or(0.0), 1.0),
    ];
    let num = |n: Num| n.get().map_or("-".to_string(), |v| format!("{v}"));
    c.facts = vec![
        ("check-ins", num(l.CheckIns)),
        ("connections", num(l.Connections)),
        ("median interval s", num(l.MedianInterval)),
    ];
    histogram(&mut c, &l.CheckInHistogram);
    c
}

/// A DnsTunnel event's row.
pub fn tunnel(l: &Line) -> Candidate {
    let mut c = header(l, known(&l.Domain).unwrap_or("-"));
    c.kind = clip(known(&l.TunnelKind).unwrap_or("-"), 64);
    let get = |n: Num| n.get().unwrap_or(0.0);
    let distinct = get(l.DistinctSubdomains);
    // The thresholds of README "DNS tunnels": 50 distinct subdomains, 3.2
    // bits/byte, 20 NXDOMAIN domains (dga); the odd-type share is a fraction.
    c.figures = vec![
        ("subdomains", distinct, 50.0),
        ("entropy", get(l.LabelEntropy), 3.2),
        ("odd types", get(l.OddTypeShare), 1.0),
        ("NXDOMAIN", get(l.NxdomainDomains), 20.0),
    ];
    c.rank = (distinct / 50.0).max(get(l.NxdomainDomains) / 20.0);
    let num = |n: Num| n.get().map_or("-".to_string(), |v| format!("{v}"));
    c.facts = vec![
        ("queries", num(l.Queries)),
        ("mean name length", num(l.MeanNameLength)),
        ("name bytes/min", num(l.NameBytesPerMinute)),
    ];
    histogram(&mut c, &l.QueryHistogram);
    c
}
