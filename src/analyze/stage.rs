//! The behavioural stage of one worker: it reads the events the worker built, feeds
//! what they say to the trackers (beacon pairs, DNS-tunnel domains), and returns the
//! events of what the trackers found (EventID 110 Beacon, 111 DnsTunnel), which the
//! worker then matches and writes like any other.
//!
//! State is per worker, and that is enough: the dispatch hash is the IP pair, so every
//! connection and every query of a client to one server lands on the same worker.
//!
//! Check-ins (what the beacon score times):
//! - an HTTP request (EventID 100): every request is one, on a new connection or on a
//!   kept-alive one (Go's and curl's clients reuse connections, so an implant checks in
//!   inside one connection, where RITA, reading conn.log, sees one connection);
//! - the end of any other connection (EventID 101: TLS, QUIC, unknown): its start and
//!   the client's payload bytes. HTTP connections are timed by their requests instead,
//!   so that no connection is counted twice; DNS flows go to the tunnel tracker.

use std::sync::Arc;

use super::allow::AllowList;
use super::beacon::{BeaconFinding, BeaconTracker, PairKey, Server, TrackerConfig};
use super::dns_tunnel::{DnsObservation, DnsTunnelFinding, DnsTunnelTracker, TunnelConfig};
use crate::event::text::Short;
use crate::event::{AppProtocol, BeaconAlert, Body, DnsTunnelAlert, Event};
use crate::telemetry::{Counter, Counts};

/// HTTP flows remembered as "already checked in" (a direct-mapped cache by flow id):
/// only decides whether a request opened its connection, so a collision merely counts
/// one connection too many. 4096 covers the connections one worker has open at once
/// on a busy link many times over, at 32 KiB.
const SEEN_FLOWS: usize = 4096;

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

pub struct Analytics {
    beacons: Option<BeaconTracker>,
    tunnels: Option<DnsTunnelTracker>,
    allow: AllowList,
    http_flows: Box<[u64; SEEN_FLOWS]>,
    /// Check-ins skipped by the allow-list.
    allowed: u64,
}

impl Analytics {
    pub fn new(cfg: AnalyticsConfig) -> Analytics {
        Analytics {
            beacons: cfg.beacons.map(BeaconTracker::new),
            tunnels: cfg.dns_tunnels.map(DnsTunnelTracker::new),
            allow: cfg.allow,
            http_flows: Box::new([u64::MAX; SEEN_FLOWS]),
            allowed: 0,
        }
    }

    /// Reads one event; what it completed goes to `found`.
    pub fn observe(&mut self, ev: &Event, found: &mut Vec<Event>) {
        if let Body::Dns(d) = &ev.body {
            self.observe_query(ev, d, found);
            return;
        }
        let Some(tracker) = &mut self.beacons else {
            return;
        };
        let h = &ev.header;
        let (name, at, bytes, new_connection) = match &ev.body {
            Body::Http(r) => {
                let slot = self.http_flows.get_mut(
                    usize::try_from(h.flow_id.checked_rem(SEEN_FLOWS as u64).unwrap_or(0))
                        .unwrap_or(0),
                );
                let new = match slot {
                    Some(s) => std::mem::replace(s, h.flow_id) != h.flow_id,
                    None => true,
                };
                let name = r.destination_hostname.as_deref();
                (name, h.time, r.content_length.unwrap_or(0), new)
            }
            // DNS flows are the resolver's: the tunnel tracker reads them, query by query.
            Body::End(e)
                if !matches!(e.names.app_protocol, AppProtocol::Http | AppProtocol::Dns) =>
            {
                let name = e.names.destination_hostname.as_deref();
                (name, e.start_time, e.source_bytes, true)
            }
            _ => return,
        };
        if self.allow.allows(h.dst_ip, name) {
            self.allowed = self.allowed.saturating_add(1);
            return;
        }
        let server = match name {
            Some(n) if !n.is_empty() && n != "-" => Server::Name(lowercase(n)),
            _ => Server::Ip(h.dst_ip),
        };
        let key = PairKey {
            client: h.src_ip,
            server,
            port: h.dst_port,
            transport: h.protocol,
        };
        if let Some(finding) = tracker.check_in(&key, at, bytes, new_connection) {
            found.push(beacon_event(ev, &finding));
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

/// The Beacon event of a finding, on the header of the check-in that completed it.
fn beacon_event(ev: &Event, f: &BeaconFinding) -> Event {
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
    };
    Event::new(ev.header.clone(), Body::Beacon(Box::new(alert)))
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
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::event::{ConnNames, ConnectionEnd, Header, HttpRequest, Transport};
    use crate::time::Timestamp;

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

    fn end(flow_id: u64, secs: i64, app: AppProtocol) -> Event {
        let body = ConnectionEnd {
            start_time: Timestamp::from_secs(secs),
            source_bytes: 230,
            names: ConnNames {
                app_protocol: app,
                destination_hostname: Some("C2.Example.test".into()),
                ..ConnNames::default()
            },
            ..ConnectionEnd::default()
        };
        Event::new(header(flow_id, secs + 1), Body::End(Box::new(body)))
    }

    fn request(flow_id: u64, secs: i64) -> Event {
        let body = HttpRequest {
            destination_hostname: Some("c2.example.test".into()),
            content_length: Some(230),
            ..HttpRequest::default()
        };
        Event::new(header(flow_id, secs), Body::Http(body))
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

    #[test]
    fn what_counts_as_a_check_in() {
        let mut a = Analytics::new(AnalyticsConfig {
            beacons: Some(TrackerConfig::default()),
            ..AnalyticsConfig::default()
        });
        let mut found = Vec::new();
        // The end of a TLS connection is one, by its server's name in lowercase.
        a.observe(&end(1, 0, AppProtocol::Tls), &mut found);
        assert_eq!(checkins(&a), 1);
        // An HTTP connection's requests are, not its end; DNS flows never are.
        a.observe(&request(2, 60), &mut found);
        a.observe(&request(2, 120), &mut found);
        a.observe(&end(2, 60, AppProtocol::Http), &mut found);
        a.observe(&end(3, 130, AppProtocol::Dns), &mut found);
        assert_eq!(checkins(&a), 3);
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
        a.observe(&end(1, 0, AppProtocol::Tls), &mut found);
        a.observe(&request(2, 60), &mut found);
        assert_eq!(checkins(&a), 0);
        assert_eq!(a.allowed, 2);
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
