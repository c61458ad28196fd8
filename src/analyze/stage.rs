//! The behavioural stage of one worker: it reads the events the worker built and the
//! exchanges the application stage found, feeds what they say to the trackers (beacon
//! pairs, DNS-tunnel domains), and returns the events of what the trackers found
//! (EventID 110 Beacon, 111 DnsTunnel), which the worker then matches and writes like
//! any other.
//!
//! State is per worker, and that is enough: the dispatch hash is the IP pair, so every
//! connection and every query of a client to one server lands on the same worker.
//!
//! Check-ins (what the beacon score times):
//! - an HTTP request (EventID 100): every request is one, on a new connection or on a
//!   kept-alive one (Go's and curl's clients reuse connections, so an implant checks in
//!   inside one connection, where RITA, reading conn.log, sees one connection);
//! - an exchange ([`ExchangeSeen`]): client data after a quiet gap on any other
//!   connection (TLS, QUIC, a WebSocket or CONNECT tunnel after its HTTP request,
//!   unknown protocols), the first one opening the connection; the application stage
//!   leaves out the exchanges that HTTP requests and DNS queries already time;
//! - the end of a connection on which the client sent nothing (EventID 101 with no
//!   source bytes, no HTTP request, not DNS): a connection attempt, at its start.
//!   DNS flows go to the tunnel tracker, query by query.

use std::sync::Arc;

use super::allow::AllowList;
use super::beacon::{BeaconFinding, BeaconTracker, PairKey, Server, TrackerConfig};
use super::dns_tunnel::{DnsObservation, DnsTunnelFinding, DnsTunnelTracker, TunnelConfig};
use crate::event::text::Short;
use crate::event::{AppProtocol, BeaconAlert, Body, DnsTunnelAlert, Event, Header, Transport};
use crate::telemetry::{Counter, Counts};
use crate::time::{Duration, Timestamp};
use std::net::IpAddr;

/// HTTP flows remembered with their first request's time (a direct-mapped cache by
/// flow id): decides whether a request opened its connection and how long that
/// connection has been open, so a collision merely counts one connection too many, or
/// a held connection as younger than it is. 4096 covers the connections one worker has
/// open at once on a busy link many times over, at 64 KiB.
const SEEN_FLOWS: usize = 4096;

/// An HTTP flow's slot in the cache: its id and its first request's time.
#[derive(Clone, Copy)]
struct SeenFlow {
    flow_id: u64,
    first: Timestamp,
}

const NO_FLOW: SeenFlow = SeenFlow {
    flow_id: u64::MAX,
    first: Timestamp::ZERO,
};

/// How the behavioural stage runs.
#[derive(Clone, Debug, Default)]
pub struct AnalyticsConfig {
    /// `None`: no beacon detection.
    pub beacons: Option<TrackerConfig>,
    /// `None`: no DNS tunnel detection.
    pub dns_tunnels: Option<TunnelConfig>,
    /// Pairs never tracked: known periodic services (update checks, telemetry).
    pub allow: AllowList,
}

/// One exchange inside a connection, named as the connection's events name it.
#[derive(Clone, Debug)]
pub struct ExchangeSeen {
    pub at: Timestamp,
    pub client: IpAddr,
    pub server: IpAddr,
    pub port: u16,
    pub transport: Transport,
    /// The server's name (the NetworkConnect's, or the one its address resolved from).
    pub name: Option<Arc<str>>,
    pub client_bytes: u64,
    /// It opened the connection.
    pub first: bool,
    /// How long the connection had been open when it started.
    pub open_for: Duration,
}

pub struct Analytics {
    beacons: Option<BeaconTracker>,
    tunnels: Option<DnsTunnelTracker>,
    allow: AllowList,
    http_flows: Box<[SeenFlow; SEEN_FLOWS]>,
    /// Check-ins skipped by the allow-list.
    allowed: u64,
}

impl Analytics {
    pub fn new(cfg: AnalyticsConfig) -> Analytics {
        Analytics {
            beacons: cfg.beacons.map(BeaconTracker::new),
            tunnels: cfg.dns_tunnels.map(DnsTunnelTracker::new),
            allow: cfg.allow,
            http_flows: Box::new([NO_FLOW; SEEN_FLOWS]),
            allowed: 0,
        }
    }

    /// Reads one event; what it completed goes to `found`.
    pub fn observe(&mut self, ev: &Event, found: &mut Vec<Event>) {
        if let Body::Dns(d) = &ev.body {
            self.observe_query(ev, d, found);
            return;
        }
        if self.beacons.is_none() {
            return;
        }
        let h = &ev.header;
        let (name, at, bytes, new_connection, open_for) = match &ev.body {
            Body::Http(r) => {
                let (new, first) = self.http_flow(h.flow_id, h.time);
                let name = r.destination_hostname.as_deref();
                let bytes = r.content_length.unwrap_or(0);
                (name, h.time, bytes, new, h.time.since(first))
            }
            // A connection attempt: the client sent nothing, so no exchange timed it.
            Body::End(e)
                if e.source_bytes == 0
                    && e.http_requests == 0
                    && e.names.app_protocol != AppProtocol::Dns =>
            {
                let name = e.names.destination_hostname.as_deref();
                (name, e.start_time, 0, true, Duration(0))
            }
            _ => return,
        };
        let check_in = CheckIn {
            client: h.src_ip,
            server: h.dst_ip,
            port: h.dst_port,
            transport: h.protocol,
            name,
            held: None,
            at,
            bytes,
            new_connection,
            open_for,
        };
        if let Some(finding) = self.check_in(&check_in) {
            found.push(beacon_event(h.clone(), &finding));
        }
    }

    /// An exchange inside a connection: a check-in. Returns the finding it completed;
    /// the caller builds its event (on the exchange's flow, see [`beacon_event`]).
    pub fn exchange(&mut self, x: &ExchangeSeen) -> Option<BeaconFinding> {
        self.beacons.as_ref()?;
        self.check_in(&CheckIn {
            client: x.client,
            server: x.server,
            port: x.port,
            transport: x.transport,
            name: x.name.as_deref(),
            held: x.name.as_ref(),
            at: x.at,
            bytes: x.client_bytes,
            new_connection: x.first,
            open_for: x.open_for,
        })
    }

    /// One check-in of a pair, unless the allow-list knows its server.
    fn check_in(&mut self, c: &CheckIn<'_>) -> Option<BeaconFinding> {
        let tracker = self.beacons.as_mut()?;
        if self.allow.allows(c.server, c.name) {
            self.allowed = self.allowed.saturating_add(1);
            return None;
        }
        let server = match c.name {
            Some(n) if !n.is_empty() && n != "-" => Server::Name(match c.held {
                // An exchange's name is already an `Arc`: shared, not copied again.
                Some(a) if !n.bytes().any(|b| b.is_ascii_uppercase()) => Arc::clone(a),
                _ => lowercase(n),
            }),
            _ => Server::Ip(c.server),
        };
        let key = PairKey {
            client: c.client,
            server,
            port: c.port,
            transport: c.transport,
        };
        tracker.check_in_after(&key, c.at, c.bytes, c.new_connection, c.open_for)
    }

    /// Whether an HTTP request at `at` opened its flow (the first request the cache
    /// holds for it), and the time of the flow's first request.
    fn http_flow(&mut self, flow_id: u64, at: Timestamp) -> (bool, Timestamp) {
        let i = usize::try_from(flow_id.checked_rem(SEEN_FLOWS as u64).unwrap_or(0)).unwrap_or(0);
        match self.http_flows.get_mut(i) {
            Some(slot) if slot.flow_id == flow_id => (false, slot.first),
            Some(slot) => {
                *slot = SeenFlow { flow_id, first: at };
                (true, at)
            }
            None => (true, at),
        }
    }

    /// A DNS query (with its answer, when one came) of the event's client.
    fn observe_query(&mut self, ev: &Event, d: &crate::event::DnsQuery, found: &mut Vec<Event>) {
        let Some(tracker) = &mut self.tunnels else {
            return;
        };
        if self.allow.allows(ev.header.src_ip, None) {
            self.allowed = self.allowed.saturating_add(1);
            return;
        }
        let obs = DnsObservation {
            time: ev.header.time,
            client: ev.header.src_ip,
            qname: &d.query_name,
            qtype: qtype_number(&d.query_type),
            rcode: d.rcode,
        };
        if let Some(finding) = tracker.observe(&obs) {
            if !self.allow.allows(ev.header.dst_ip, Some(&finding.domain)) {
                found.push(tunnel_event(ev, &finding));
            } else {
                self.allowed = self.allowed.saturating_add(1);
            }
        }
    }

    /// Writes this stage's counters into the worker's.
    pub fn publish(&self, c: &mut Counts) {
        if let Some(t) = &self.beacons {
            let t = t.counters();
            c.set(Counter::BeaconPairs, t.pairs as u64);
            c.set(
                Counter::BeaconEvictions,
                t.evictions.saturating_add(t.memory_evictions),
            );
        }
        if let Some(t) = &self.tunnels {
            let t = t.counters();
            c.set(Counter::DnsTunnelDomains, t.domains);
            c.set(Counter::DnsTunnelEvictions, t.evictions);
        }
        c.set(Counter::AnalyticsAllowed, self.allowed);
    }
}

/// The name as pairs are keyed (names are compared byte for byte), copied once.
fn lowercase(name: &str) -> Arc<str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Arc::from(name.to_ascii_lowercase().as_str())
    } else {
        Arc::from(name)
    }
}

/// What a check-in says, from an event or an exchange.
struct CheckIn<'a> {
    client: IpAddr,
    server: IpAddr,
    port: u16,
    transport: Transport,
    name: Option<&'a str>,
    /// `name` as an `Arc` the caller already holds (an exchange's), if any.
    held: Option<&'a Arc<str>>,
    at: Timestamp,
    bytes: u64,
    new_connection: bool,
    open_for: Duration,
}

/// The Beacon event of a finding, on the header of the check-in that completed it.
pub fn beacon_event(header: Header, f: &BeaconFinding) -> Event {
    let s = &f.score;
    let name = match &f.key.server {
        Server::Name(n) => Some(n.to_string()),
        Server::Ip(_) => None,
    };
    let alert = BeaconAlert {
        kind: f.kind.as_str(),
        destination_hostname: name,
        score: Short::fixed(s.total, 3),
        timing_score: Short::fixed(s.timing, 3),
        size_score: Short::fixed(s.size, 3),
        histogram_score: Short::fixed(s.histogram, 3),
        duration_score: Short::fixed(s.duration, 3),
        check_ins: f.checkins,
        connections: f.connections,
        median_interval: Short::fixed(s.median_interval_secs, 3),
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        reason: f.reason.clone(),
        check_in_histogram: f.histogram,
        histogram_bin_seconds: Short::fixed(f.bin_secs, 1),
    };
    Event::new(header, Body::Beacon(Box::new(alert)))
}

/// The DnsTunnel event of a finding, on the header of the query that completed it.
fn tunnel_event(ev: &Event, f: &DnsTunnelFinding) -> Event {
    let alert = DnsTunnelAlert {
        kind: f.kind.as_str(),
        domain: f.domain.clone(),
        queries: f.queries,
        distinct_subdomains: f.distinct_subdomains,
        mean_name_length: Short::fixed(f.mean_name_len, 1),
        max_name_length: f.max_name_len as u64,
        label_entropy: Short::fixed(f.mean_label_entropy, 3),
        name_bytes_per_minute: Short::fixed(f.name_bytes_per_min, 1),
        odd_type_share: Short::fixed(f.qtype_share_txt_null_cname_mx, 3),
        nxdomain: f.nxdomain,
        nxdomain_domains: f.distinct_nx_domains,
        first_seen: f.first_seen,
        last_seen: f.last_seen,
        reason: f.reason.clone(),
        query_histogram: f.histogram,
    };
    Event::new(ev.header.clone(), Body::DnsTunnel(Box::new(alert)))
}

/// The number of a query type as the event names it, for the types the tunnel tracker
/// tells apart (TXT, NULL, CNAME, MX carry data; A, AAAA, HTTPS are the common ones);
/// `TYPE<n>` gives n; any other mnemonic is 0 ("another type").
fn qtype_number(text: &str) -> u16 {
    match text {
        "A" => 1,
        "CNAME" => 5,
        "NULL" => 10,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "HTTPS" => 65,
        _ => text
            .strip_prefix("TYPE")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::analyze::beacon::BeaconKind;
    use crate::event::{ConnNames, ConnectionEnd, HttpRequest};

    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));

    fn header(flow_id: u64, secs: i64) -> Header {
        Header {
            time: Timestamp::from_secs(secs),
            computer: Arc::from("t"),
            source: Arc::from("t"),
            flow_id,
            community_id: String::new(),
            protocol: Transport::Tcp,
            src_ip: CLIENT,
            src_port: 40000,
            dst_ip: SERVER,
            dst_port: 443,
        }
    }

    fn end(flow_id: u64, secs: i64, app: AppProtocol, source_bytes: u64) -> Event {
        let body = ConnectionEnd {
            start_time: Timestamp::from_secs(secs),
            source_bytes,
            names: ConnNames {
                app_protocol: app,
                destination_hostname: Some("C2.Example.test".into()),
                ..ConnNames::default()
            },
            ..ConnectionEnd::default()
        };
        Event::new(header(flow_id, secs + 1), Body::End(Box::new(body)))
    }

    fn request(flow_id: u64, secs: i64, bytes: u64) -> Event {
        let body = HttpRequest {
            destination_hostname: Some("c2.example.test".into()),
            content_length: Some(bytes),
            ..HttpRequest::default()
        };
        Event::new(header(flow_id, secs), Body::Http(body))
    }

    fn exchange(secs: i64, first: bool, open_for: i64) -> ExchangeSeen {
        ExchangeSeen {
            at: Timestamp::from_secs(secs),
            client: CLIENT,
            server: SERVER,
            port: 443,
            transport: Transport::Tcp,
            name: Some(Arc::from("C2.example.TEST")),
            client_bytes: 90,
            first,
            open_for: Duration::from_secs(open_for),
        }
    }

    fn key() -> PairKey {
        PairKey {
            client: CLIENT,
            server: Server::Name(Arc::from("c2.example.test")),
            port: 443,
            transport: Transport::Tcp,
        }
    }

    fn checkins(a: &Analytics) -> u64 {
        a.beacons
            .as_ref()
            .and_then(|t| t.window_checkins(&key()))
            .unwrap_or(0)
    }

    fn beacons() -> Analytics {
        Analytics::new(AnalyticsConfig {
            beacons: Some(TrackerConfig::default()),
            ..AnalyticsConfig::default()
        })
    }

    #[test]
    fn what_counts_as_a_check_in() {
        let mut a = beacons();
        let mut found = Vec::new();
        // An exchange is one, by its server's name in lowercase; the end of a TLS
        // connection whose client sent data is not (its exchanges were).
        assert_eq!(a.exchange(&exchange(0, true, 0)), None);
        a.observe(&end(1, 0, AppProtocol::Tls, 230), &mut found);
        assert_eq!(checkins(&a), 1);
        // A connection attempt (nothing sent) is one, at its start.
        a.observe(&end(4, 30, AppProtocol::Tls, 0), &mut found);
        assert_eq!(checkins(&a), 2);
        // An HTTP connection's requests are, not its end; DNS flows never are.
        a.observe(&request(2, 60, 230), &mut found);
        a.observe(&request(2, 120, 230), &mut found);
        a.observe(&end(2, 60, AppProtocol::Http, 460), &mut found);
        a.observe(&end(3, 130, AppProtocol::Dns, 0), &mut found);
        assert_eq!(checkins(&a), 4);
        // An exchange whose name is already lowercase shares its `Arc`: the same pair.
        let lower = ExchangeSeen {
            name: Some(Arc::from("c2.example.test")),
            ..exchange(190, false, 190)
        };
        assert_eq!(a.exchange(&lower), None);
        assert_eq!(checkins(&a), 5);
        assert!(found.is_empty());
        assert_eq!(a.beacons.as_ref().map(|t| t.counters().pairs), Some(1));
    }

    #[test]
    fn allowed_servers_are_never_tracked() {
        let mut a = Analytics::new(AnalyticsConfig {
            beacons: Some(TrackerConfig::default()),
            allow: AllowList::parse(["*.example.test"]).unwrap_or_default(),
            ..AnalyticsConfig::default()
        });
        let mut found = Vec::new();
        a.observe(&end(1, 0, AppProtocol::Tls, 0), &mut found);
        a.observe(&request(2, 60, 230), &mut found);
        assert_eq!(a.exchange(&exchange(90, true, 0)), None);
        assert_eq!(checkins(&a), 0);
        assert_eq!(a.allowed, 3);
    }

    /// Heartbeats every 60 s on one connection: a beacon once the window's bins fill,
    /// then, once the connection is an hour old, a long connection (once).
    #[test]
    fn heartbeats_on_one_held_connection_become_a_long_connection() {
        let mut a = beacons();
        let mut kinds = Vec::new();
        for i in 0..100 {
            let at = i * 60 + (i * 7) % 5;
            if let Some(f) = a.exchange(&exchange(at, i == 0, at)) {
                kinds.push((f.kind, i, f.connections));
            }
        }
        assert_eq!(kinds.len(), 2, "{kinds:?}");
        assert_eq!((kinds[0].0, kinds[0].2), (BeaconKind::Beacon, 1));
        assert_eq!((kinds[1].0, kinds[1].2), (BeaconKind::LongConnection, 1));
        assert!(kinds[1].1 >= 60, "{kinds:?}");
    }

    /// The same on an HTTP keep-alive connection: its requests are timed from its first.
    #[test]
    fn requests_on_one_kept_alive_connection_are_held_for_as_long() {
        let mut a = beacons();
        let mut found = Vec::new();
        for i in 0..100 {
            a.observe(&request(7, i * 60 + (i * 7) % 5, 230), &mut found);
        }
        let kinds: Vec<&str> = found
            .iter()
            .filter_map(|e| match &e.body {
                Body::Beacon(b) => Some(b.kind),
                _ => None,
            })
            .collect();
        assert_eq!(kinds, ["beacon", "long_connection"]);
    }

    /// Large check-ins are not heartbeats: a held connection with big regular uploads
    /// stays a beacon.
    #[test]
    fn large_check_ins_on_a_held_connection_stay_a_beacon() {
        let mut a = beacons();
        let mut kinds = Vec::new();
        for i in 0..100 {
            let at = i * 60 + (i * 7) % 5;
            let x = ExchangeSeen {
                client_bytes: 50_000 + (i as u64 % 3) * 100,
                ..exchange(at, i == 0, at)
            };
            if let Some(f) = a.exchange(&x) {
                kinds.push(f.kind);
            }
        }
        assert_eq!(kinds, [BeaconKind::Beacon]);
    }

    #[test]
    fn query_types_by_name() {
        assert_eq!(qtype_number("TXT"), 16);
        assert_eq!(qtype_number("NULL"), 10);
        assert_eq!(qtype_number("TYPE65280"), 65280);
        assert_eq!(qtype_number("SRV"), 0);
        assert_eq!(qtype_number("TYPEx"), 0);
    }
}
