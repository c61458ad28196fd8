//! Turning protocol facts into events: the common header (with Community ID), rule
//! matching, the `--events` filter, and JSON serialization into the worker's buffer.

use std::net::SocketAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use super::super::Mode;
use crate::config::{EventsMode, RuntimeConfig};
use crate::detect::Engine;
use crate::event::{
    self, Alert, Body, DnsQuery, Event, Header, HttpRequest, NetworkConnect, Transport,
};
use crate::flow::{CommunityId, PROTO_TCP, PROTO_UDP, ReassemblyCounters, community_id_v1};
use crate::proto::dns::{DnsCache, DnsTransaction, DnsTransport};
use crate::proto::http::HttpCounters;
use crate::proto::quic::QuicCounters;
use crate::proto::tls::TlsCounters;
use crate::telemetry::{Counter, CounterSlot, Counts};
use crate::time::Timestamp;

/// Room reserved for serialized events: the worker sends them on at 256 KiB
/// (`OUT_FLUSH_BYTES`), plus room for the event that crosses that mark.
const OUT_CAPACITY: usize = 272 * 1024;

/// Everything a worker needs to emit events, kept apart from its flow table so that a
/// flow's state and the emitter can be borrowed at the same time.
pub struct Emitter {
    pub mode: Mode,
    events: EventsMode,
    computer: Arc<str>,
    /// The `Source` of the frames being processed.
    pub source: Arc<str>,
    engine: Arc<Engine>,
    pub dns_cache: Arc<DnsCache>,
    pub counts: Counts,
    slot: Arc<CounterSlot>,
    /// Serialized events not yet handed to the writer, and how many.
    pub out: Vec<u8>,
    pub out_events: u64,
    alerts: Vec<Alert>,
    /// Community IDs of live flows (see [`CidCache`]).
    cids: CidCache,
    /// Buffers of the last event written, reused by the next (see [`Spare`]).
    spare: Spare,
    writer: event::json::EventWriter,
    /// Parser counters of this worker, summed into `counts` on publish.
    pub tls: TlsCounters,
    pub http: HttpCounters,
    pub reassembly: ReassemblyCounters,
    pub quic: QuicCounters,
    /// Bytes of TCP reassembly buffers held by this worker's flows (see
    /// `tcp::REASSEMBLY_BUDGET`).
    pub reassembly_bytes: usize,
}

impl Emitter {
    pub fn new(
        mode: Mode,
        cfg: &RuntimeConfig,
        engine: Arc<Engine>,
        dns_cache: Arc<DnsCache>,
        slot: Arc<CounterSlot>,
    ) -> Emitter {
        Emitter {
            mode,
            events: cfg.events,
            computer: cfg.sensor_name.clone(),
            source: Arc::from(""),
            engine,
            dns_cache,
            counts: Counts::default(),
            slot,
            out: Vec::with_capacity(OUT_CAPACITY),
            out_events: 0,
            alerts: Vec::new(),
            cids: CidCache::default(),
            spare: Spare::default(),
            writer: event::json::EventWriter::default(),
            tls: TlsCounters::default(),
            http: HttpCounters::default(),
            reassembly: ReassemblyCounters::default(),
            quic: QuicCounters::default(),
            reassembly_bytes: 0,
        }
    }

    pub fn header(
        &mut self,
        time: Timestamp,
        flow_id: u64,
        protocol: Transport,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Header {
        let cid = self.cids.get(flow_id, protocol, src, dst, false);
        self.header_with(time, flow_id, protocol, src, dst, cid)
    }

    fn header_with(
        &mut self,
        time: Timestamp,
        flow_id: u64,
        protocol: Transport,
        src: SocketAddr,
        dst: SocketAddr,
        cid: CommunityId,
    ) -> Header {
        Header {
            time,
            computer: self.computer.clone(),
            source: self.source.clone(),
            flow_id,
            community_id: {
                let mut text = std::mem::take(&mut self.spare.community_id);
                text.clear();
                text.push_str(cid.as_str());
                text
            },
            protocol,
            src_ip: src.ip(),
            src_port: src.port(),
            dst_ip: dst.ip(),
            dst_port: dst.port(),
        }
    }

    /// Matches the event against the rules and writes it if `--events` wants it.
    pub fn emit(&mut self, header: Header, body: Body) {
        let mut ev = Event {
            header,
            body,
            alerts: Vec::new(),
        };
        self.alerts.clear();
        self.engine.evaluate(&ev, &mut self.alerts);
        self.counts.incr(Counter::Events);
        if !self.alerts.is_empty() {
            self.counts.incr(Counter::Alerts);
            ev.alerts = std::mem::take(&mut self.alerts);
        }
        if self.events == EventsMode::All || !ev.alerts.is_empty() {
            if self.out.capacity() == 0 {
                // The worker hands `out` to the writer and leaves an empty Vec: size it
                // once rather than grow it by doubling (and copying) from nothing.
                self.out.reserve(OUT_CAPACITY);
            }
            self.writer.write(&mut self.out, &ev);
            self.out_events += 1;
        }
        // The event's buffers serve the next one.
        let Event {
            header,
            body,
            mut alerts,
        } = ev;
        self.spare.community_id = header.community_id;
        match body {
            Body::Dns(d) => self.spare.dns = d,
            Body::Http(r) => self.spare.http = r,
            Body::Connect(_) => {}
        }
        if alerts.capacity() > self.alerts.capacity() {
            alerts.clear();
            self.alerts = alerts;
        }
    }

    /// EventID 22 for each finished DNS transaction; their answers teach the cache.
    pub fn dns_transactions(&mut self, done: &mut Vec<DnsTransaction>) {
        for tx in done.drain(..) {
            if tx.response.is_some() {
                self.dns_cache.learn(&tx);
            }
            let protocol = match tx.transport {
                DnsTransport::Udp => Transport::Udp,
                DnsTransport::Tcp => Transport::Tcp,
            };
            let header = self.header(tx.time(), tx.flow_id, protocol, tx.client, tx.server);
            let mut body = std::mem::take(&mut self.spare.dns);
            event::dns::fill_dns_query(&tx, &mut body);
            let body = Body::Dns(body);
            self.emit(header, body);
        }
    }

    /// An EventID 100 body to fill (with `event::http::fill_http_request`) and emit:
    /// the buffers of the last one written.
    pub fn spare_http(&mut self) -> HttpRequest {
        std::mem::take(&mut self.spare.http)
    }

    /// EventID 3 for a flow. `DestinationHostname` falls back to the DNS cache: the
    /// name the client resolved the server's address from.
    pub fn connect(
        &mut self,
        time: Timestamp,
        flow_id: u64,
        protocol: Transport,
        client: SocketAddr,
        server: SocketAddr,
        mut conn: NetworkConnect,
    ) {
        if conn.destination_hostname.is_none()
            && let Some(name) = self.dns_cache.lookup(server.ip(), time)
        {
            // Not `to_string`: on an `Arc<str>` that goes through `Display`.
            conn.destination_hostname = Some(String::from(&*name));
            conn.hostname_source = Some(event::HostnameSource::Dns);
        }
        // The flow's first event in most cases: its ID is kept for the others.
        let cid = self.cids.get(flow_id, protocol, client, server, true);
        let header = self.header_with(time, flow_id, protocol, client, server, cid);
        self.emit(header, Body::Connect(conn));
    }

    /// The flow left the table: its kept Community ID goes too.
    pub fn flow_ended(&mut self, flow_id: u64) {
        self.cids.by_flow.remove(&flow_id);
    }

    pub fn publish(&mut self) {
        let c = &mut self.counts;
        c.set(Counter::ReassemblyGaps, self.reassembly.gaps);
        c.set(
            Counter::ReassemblyOverlapConflicts,
            self.reassembly.overlap_conflicts,
        );
        c.set(
            Counter::ReassemblyCapped,
            self.reassembly.truncated_segments,
        );
        let t = &self.tls;
        c.set(
            Counter::TlsParseErrors,
            t.invalid_record_type
                + t.invalid_record_version
                + t.invalid_record_length
                + t.invalid_hello_truncated
                + t.invalid_hello_malformed,
        );
        c.set(Counter::HttpParseErrors, self.http.invalid.iter().sum());
        let q = &self.quic;
        c.set(
            Counter::QuicParseErrors,
            q.auth_failures + q.frame_violations + q.malformed_frames + q.hello_errors,
        );
        self.slot.publish(&self.counts);
    }
}

/// Strings of the event just written, kept for the next one: events are built and
/// written one at a time, so one set of buffers goes round instead of an allocation
/// and a free per string per event.
#[derive(Default)]
struct Spare {
    community_id: String,
    dns: DnsQuery,
    http: HttpRequest,
}

/// The Community IDs of live flows that have had their NetworkConnect, by flow id.
/// A flow's other events (DNS transactions, HTTP requests) come later, often hundreds
/// of events apart, and share its ID: SHA-1 was a tenth of the cost of an event.
/// Entries are added by [`Emitter::connect`] (once per flow) and removed by
/// [`Emitter::flow_ended`] when the flow leaves the table, so this holds at most one
/// entry per flow of the flow table and needs no cap of its own.
#[derive(Default)]
struct CidCache {
    by_flow: HashMap<u64, CidEntry, foldhash::fast::RandomState>,
}

struct CidEntry {
    protocol: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    cid: CommunityId,
}

impl CidCache {
    /// The ID of this tuple: the flow's stored one when the tuple is the flow's (a DNS
    /// transaction's server can differ from its flow's: a multicast query answered by
    /// unicast), else computed. `keep`: store it for the flow's later events.
    fn get(
        &mut self,
        flow_id: u64,
        protocol: Transport,
        src: SocketAddr,
        dst: SocketAddr,
        keep: bool,
    ) -> CommunityId {
        if let Some(e) = self.by_flow.get(&flow_id)
            && e.protocol == protocol
            && e.src == src
            && e.dst == dst
        {
            return e.cid;
        }
        let proto = match protocol {
            Transport::Tcp => PROTO_TCP,
            Transport::Udp => PROTO_UDP,
        };
        let cid = community_id_v1(0, proto, src.ip(), dst.ip(), Some((src.port(), dst.port())));
        if keep {
            self.by_flow.insert(
                flow_id,
                CidEntry {
                    protocol,
                    src,
                    dst,
                    cid,
                },
            );
        }
        cid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    fn computed(src: SocketAddr, dst: SocketAddr) -> CommunityId {
        community_id_v1(
            0,
            PROTO_UDP,
            src.ip(),
            dst.ip(),
            Some((src.port(), dst.port())),
        )
    }

    #[test]
    fn kept_ids_serve_their_flow_only() {
        let mut cids = CidCache::default();
        let (c, s) = (addr("10.0.0.1:5353"), addr("10.0.0.53:53"));
        let other = addr("10.0.0.54:53");
        // Not kept: later lookups compute again (and still agree).
        assert_eq!(cids.get(1, Transport::Udp, c, s, false), computed(c, s));
        assert!(cids.by_flow.is_empty());
        assert_eq!(cids.get(1, Transport::Udp, c, s, true), computed(c, s));
        assert_eq!(cids.get(1, Transport::Udp, c, s, false), computed(c, s));
        // Same flow id, another server (a multicast query's answer): its own ID.
        assert_eq!(
            cids.get(1, Transport::Udp, c, other, false),
            computed(c, other)
        );
        // Another protocol on the same tuple is another ID.
        assert_ne!(
            cids.get(1, Transport::Tcp, c, s, false),
            cids.get(1, Transport::Udp, c, s, false)
        );
        assert_eq!(cids.by_flow.len(), 1);
        cids.by_flow.remove(&1);
        assert!(cids.by_flow.is_empty());
    }
}
