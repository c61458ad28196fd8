//! Turning protocol facts into events: the common header (with Community ID), rule
//! matching, the `--events` filter, and JSON serialization into the worker's buffer.

use std::net::SocketAddr;
use std::sync::Arc;

use super::super::Mode;
use crate::config::{EventsMode, RuntimeConfig};
use crate::detect::Engine;
use crate::event::{self, Alert, Body, Event, Header, NetworkConnect, Transport};
use crate::flow::{PROTO_TCP, PROTO_UDP, ReassemblyCounters, community_id_v1};
use crate::proto::dns::{DnsCache, DnsTransaction, DnsTransport};
use crate::proto::http::HttpCounters;
use crate::proto::quic::QuicCounters;
use crate::proto::tls::TlsCounters;
use crate::telemetry::{Counter, CounterSlot, Counts};
use crate::time::Timestamp;

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
            out: Vec::with_capacity(64 * 1024),
            out_events: 0,
            alerts: Vec::new(),
            tls: TlsCounters::default(),
            http: HttpCounters::default(),
            reassembly: ReassemblyCounters::default(),
            quic: QuicCounters::default(),
            reassembly_bytes: 0,
        }
    }

    pub fn header(
        &self,
        time: Timestamp,
        flow_id: u64,
        protocol: Transport,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Header {
        let proto = match protocol {
            Transport::Tcp => PROTO_TCP,
            Transport::Udp => PROTO_UDP,
        };
        let cid = community_id_v1(0, proto, src.ip(), dst.ip(), Some((src.port(), dst.port())));
        Header {
            time,
            computer: self.computer.clone(),
            source: self.source.clone(),
            flow_id,
            community_id: cid.as_str().to_owned(),
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
            event::json::write_event(&mut self.out, &ev);
            self.out_events += 1;
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
            let body = Body::Dns(event::dns::dns_query_body(&tx));
            self.emit(header, body);
        }
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
            conn.destination_hostname = Some(name.to_string());
            conn.hostname_source = Some(event::HostnameSource::Dns);
        }
        let header = self.header(time, flow_id, protocol, client, server);
        self.emit(header, Body::Connect(conn));
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
