//! The application stage (DESIGN §1–2): the one place where flows meet protocols.
//!
//! ```text
//!  flow table entry ──▶ AppStage::on_segment / on_datagram / end_flow
//!                        │  select   which parser reads a stream or a flow (the
//!                        │           probes each `proto` module offers)
//!                        │  tcp      reassembler ⇄ parsers: bytes in, consumed counts
//!                        │           and follow / drop-ahead / stop hints out
//!                        │  stream   the parsers of a TCP connection's two directions
//!                        │  udp      DNS and QUIC datagrams
//!                        ▼
//!                      facts (connection facts, HTTP and DNS transactions), in order
//! ```
//!
//! Per worker, an [`AppStage`] owns what outlives one flow: the DNS transaction table
//! (a query and its answer are joined across packets), the parsers' counters, the
//! reassembly budget, and the facts found since the worker last took them. Per flow,
//! an [`AppFlow`] (the flow table's per-flow state) owns the parser choice of each
//! direction, each protocol's state, and what is known of the connection until its
//! NetworkConnect is due.
//!
//! Where it sits: after `flow` (the worker files each packet in its flow table first)
//! and before `event`, which builds one event from each [`Fact`]. It may import `time`,
//! `decode`, `flow`, `proto` and `telemetry`, nothing later.
//!
//! What it does not do: decode packets, keep the flow table, build events, or know the
//! event schema.

mod facts;
mod select;
mod stream;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;

pub use facts::{AppProtocol, ConnFacts, Fact, FlowRef, Hello};

use crate::decode::TcpSegment;
use crate::flow::{Direction, Entry, ReassemblyBudget, ReassemblyCounters};
use crate::proto::dns::{DnsConfig, DnsState, DnsTransaction};
use crate::proto::http::HttpCounters;
use crate::proto::quic::QuicCounters;
use crate::proto::tls::TlsCounters;
use crate::telemetry::{Counter, Counts};
use crate::time::Timestamp;
use tcp::TcpFlow;
use udp::UdpApp;

/// The application side of one flow, kept in the flow table.
///
/// It stays small (a few words) until a parser needs more: TCP buffers, parser states
/// and the connection facts are boxed and allocated only for flows that carry them.
#[derive(Default)]
pub struct AppFlow {
    /// The flow's NetworkConnect fact was handed on.
    connect_emitted: bool,
    /// What is known of the connection before its NetworkConnect is due.
    conn: Option<Box<ConnFacts>>,
    udp: UdpApp,
    tcp: Option<Box<TcpFlow>>,
    /// Every parser of this TCP flow is done: a later segment needs nothing but its
    /// table hit. Kept here, in the table node, so that the bulk of a connection never
    /// reads the boxed `TcpFlow` (a second cache miss per packet).
    tcp_done: bool,
}

impl AppFlow {
    fn conn_facts(&mut self) -> &mut ConnFacts {
        self.conn.get_or_insert_with(Default::default)
    }

    /// Nothing more will be parsed on this TCP flow: its later segments can be skipped
    /// right after the table lookup.
    pub fn is_tcp_done(&self) -> bool {
        self.tcp_done
    }
}

/// The parsers' counters of one worker (published into `telemetry`).
#[derive(Clone, Debug, Default)]
pub struct ParserCounters {
    pub tls: TlsCounters,
    pub http: HttpCounters,
    pub quic: QuicCounters,
    pub reassembly: ReassemblyCounters,
}

/// The application stage of one worker.
pub struct AppStage {
    dns: DnsState,
    counters: ParserCounters,
    budget: ReassemblyBudget,
    /// Facts found and not yet taken, in the order found.
    facts: Vec<Fact>,
    /// Scratch for the DNS state's finished transactions (moved to `facts` at once).
    dns_done: Vec<DnsTransaction>,
}

impl AppStage {
    /// `reassembly_budget`: bytes of TCP reassembly buffers this worker's flows may
    /// hold together (see [`crate::flow::REASSEMBLY_BUDGET`]).
    pub fn new(dns: DnsConfig, reassembly_budget: usize) -> AppStage {
        AppStage {
            dns: DnsState::new(dns),
            counters: ParserCounters::default(),
            budget: ReassemblyBudget::new(reassembly_budget),
            facts: Vec::new(),
            dns_done: Vec::new(),
        }
    }

    /// A TCP segment of the flow, travelling in `dir`, seen at `ts`: reassembled,
    /// and read by the parsers of its direction (and of the other one, whose held bytes
    /// its ACK may release).
    #[inline]
    pub fn on_segment(
        &mut self,
        entry: &mut Entry<AppFlow>,
        dir: Direction,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
    ) {
        // Inlined into the worker: the bulk of a connection stops here.
        if !entry.state.tcp_done {
            self.parse_segment(entry, dir, seg, ts);
        }
    }

    fn parse_segment(
        &mut self,
        entry: &mut Entry<AppFlow>,
        dir: Direction,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
    ) {
        let mut tcp = entry
            .state
            .tcp
            .take()
            .unwrap_or_else(|| Box::new(TcpFlow::new()));
        let mut cx = Cx {
            entry,
            stage: self,
            ts: Some(ts),
        };
        tcp.on_segment(dir, seg, &mut cx);
        entry.state.tcp_done = tcp.all_done();
        entry.state.tcp = Some(tcp);
    }

    /// A UDP datagram of the flow, travelling in `dir`, seen at `ts`.
    #[inline]
    pub fn on_datagram(
        &mut self,
        entry: &mut Entry<AppFlow>,
        dir: Direction,
        payload: &[u8],
        ts: Timestamp,
    ) {
        // Inlined into the worker: a flow whose parser is done stops here.
        if !payload.is_empty() && !entry.state.udp.is_done() {
            udp::on_datagram(entry, dir, payload, ts, self);
        }
    }

    /// The flow ended (expired, evicted, end of input): its parsers deliver what they
    /// hold, and a flow that was never identified still gets its NetworkConnect.
    pub fn end_flow(&mut self, entry: &mut Entry<AppFlow>) {
        if let Some(mut tcp) = entry.state.tcp.take() {
            let mut cx = Cx {
                entry,
                stage: self,
                ts: None,
            };
            tcp.end(&mut cx);
            entry.state.tcp = Some(tcp);
        }
        connect_due(entry, self);
    }

    /// DNS queries unanswered past their timeout at `now` are finished.
    pub fn expire(&mut self, now: Timestamp) {
        self.dns.expire(now, &mut self.dns_done);
        self.take_dns();
    }

    /// End of input: every pending DNS query is finished.
    pub fn flush(&mut self) {
        self.dns.flush_all(&mut self.dns_done);
        self.take_dns();
    }

    /// Facts are waiting to be taken.
    pub fn has_facts(&self) -> bool {
        !self.facts.is_empty()
    }

    /// The facts found since the last call, in the order found.
    pub fn take_facts(&mut self) -> std::vec::Drain<'_, Fact> {
        self.facts.drain(..)
    }

    pub fn counters(&self) -> &ParserCounters {
        &self.counters
    }

    /// Writes this stage's counters into the worker's.
    pub fn publish(&self, c: &mut Counts) {
        let r = &self.counters.reassembly;
        c.set(Counter::ReassemblyGaps, r.gaps);
        c.set(Counter::ReassemblyOverlapConflicts, r.overlap_conflicts);
        c.set(Counter::ReassemblyCapped, r.truncated_segments);
        c.set(Counter::ReassemblyBudgetStops, self.budget.stops());
        let t = &self.counters.tls;
        c.set(
            Counter::TlsParseErrors,
            t.invalid_record_type
                + t.invalid_record_version
                + t.invalid_record_length
                + t.invalid_hello_truncated
                + t.invalid_hello_malformed,
        );
        c.set(
            Counter::HttpParseErrors,
            self.counters.http.invalid.iter().sum(),
        );
        let q = &self.counters.quic;
        c.set(
            Counter::QuicParseErrors,
            q.auth_failures + q.frame_violations + q.malformed_frames + q.hello_errors,
        );
        let dns = self.dns.counters();
        c.set(Counter::DnsMessages, dns.messages_parsed);
        c.set(Counter::DnsParseErrors, dns.parse_errors_total());
        c.set(Counter::DnsTimeouts, dns.timeouts);
        c.set(Counter::DnsEvictions, dns.evictions);
    }

    /// Moves the DNS state's finished transactions to the facts, keeping their order
    /// among the other facts.
    fn take_dns(&mut self) {
        self.facts.extend(self.dns_done.drain(..).map(Fact::Dns));
    }
}

/// What a parser of one flow needs besides its own state.
struct Cx<'a> {
    entry: &'a mut Entry<AppFlow>,
    stage: &'a mut AppStage,
    /// The packet's time; `None` at flow end (the flow's last packet time is used).
    ts: Option<Timestamp>,
}

impl Cx<'_> {
    fn time(&self) -> Timestamp {
        self.ts.unwrap_or(self.entry.last_seen)
    }
}

/// The flow's NetworkConnect is due now (once): its application is identified, or
/// the flow ended.
fn connect_due(entry: &mut Entry<AppFlow>, stage: &mut AppStage) {
    if entry.state.connect_emitted {
        return;
    }
    entry.state.connect_emitted = true;
    let conn = entry.state.conn.take();
    let flow = flow_ref(entry, entry.last_seen);
    stage.facts.push(Fact::Connect(flow, conn));
}

fn flow_ref(entry: &Entry<AppFlow>, time: Timestamp) -> FlowRef {
    let c = entry.client();
    let s = entry.server();
    FlowRef {
        time,
        flow_id: entry.flow_id,
        transport: entry.key.proto,
        client: SocketAddr::new(c.ip, c.port),
        server: SocketAddr::new(s.ip, s.port),
    }
}
