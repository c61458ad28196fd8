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
//!   so that no connection is counted twice.

use std::sync::Arc;

use super::allow::AllowList;
use super::beacon::{BeaconFinding, BeaconTracker, PairKey, Server, TrackerConfig};
use crate::event::text::Short;
use crate::event::{AppProtocol, BeaconAlert, Body, Event};
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
    /// Pairs never tracked: known periodic services (update checks, telemetry).
    pub allow: AllowList,
}

pub struct Analytics {
    beacons: Option<BeaconTracker>,
    allow: AllowList,
    http_flows: Box<[u64; SEEN_FLOWS]>,
    /// Check-ins skipped by the allow-list.
    allowed: u64,
}

impl Analytics {
    pub fn new(cfg: AnalyticsConfig) -> Analytics {
        Analytics {
            beacons: cfg.beacons.map(BeaconTracker::new),
            allow: cfg.allow,
            http_flows: Box::new([u64::MAX; SEEN_FLOWS]),
            allowed: 0,
        }
    }

    /// Reads one event; what it completed goes to `found`.
    pub fn observe(&mut self, ev: &Event, found: &mut Vec<Event>) {
        let Some(tracker) = &mut self.beacons else {
            return;
        };
        let h = &ev.header;
        let (name, at, bytes, new_connection) = match &ev.body {
            Body::Http(r) => {
                let slot = self
                    .http_flows
                    .get_mut(usize::try_from(h.flow_id % SEEN_FLOWS as u64).unwrap_or(0));
                let new = match slot {
                    Some(s) => std::mem::replace(s, h.flow_id) != h.flow_id,
                    None => true,
                };
                let name = r.destination_hostname.as_deref();
                (name, h.time, r.content_length.unwrap_or(0), new)
            }
            Body::End(e) if e.names.app_protocol != AppProtocol::Http => {
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
            Some(n) if !n.is_empty() && n != "-" => Server::Name(Arc::from(lowercase(n).as_str())),
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
        c.set(Counter::AnalyticsAllowed, self.allowed);
    }
}

fn lowercase(name: &str) -> String {
    name.to_ascii_lowercase()
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
