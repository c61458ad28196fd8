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
//!                        │  exchange the client's bursts after a quiet gap (check-ins)
//!                        ▼
//!                      facts (connection facts, HTTP and DNS transactions, exchanges,
//!                      ends), in order
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

mod context;
mod exchange;
mod facts;
mod select;
mod stream;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

pub use context::ParserCounters;
pub use facts::{AppProtocol, ConnEnd, ConnFacts, EndReason, Exchange, Fact, FlowRef, Hello};

use crate::decode::TcpSegment;
use crate::flow::{Direction, Entry, ReassemblyBudget};
use crate::proto::dns::{DnsConfig, DnsState};
use crate::telemetry::{Counter, Counts};
use crate::time::{Duration, Timestamp};
use context::{ConnSlot, Cx, FlowMeta, Shared};
use exchange::{Burst, ExchangeClock};
use tcp::TcpFlow;
use udp::UdpApp;

/// The application side of one flow, kept in the flow table.
///
/// It stays small (a few words) until a parser needs more: TCP buffers, parser states
/// and the connection facts are boxed and allocated only for flows that carry them.
#[derive(Default)]
pub struct AppFlow {
    conn: ConnSlot,
    udp: UdpApp,
    tcp: Option<Box<TcpFlow>>,
    /// Every parser of this TCP flow is done: a later segment needs nothing but its
    /// table hit. Kept here, in the table node, so that the bulk of a connection never
    /// reads the boxed `TcpFlow` (a second cache miss per packet).
    tcp_done: bool,
    /// The client's exchanges (bursts after a quiet gap): beacon check-ins.
    exchange: ExchangeClock,
}

impl AppFlow {
    /// Nothing more will be parsed on this TCP flow: its later segments can be skipped
    /// right after the table lookup.
    pub fn is_tcp_done(&self) -> bool {
        self.tcp_done
    }

    /// The flow's own messages are its check-ins: the client's bytes are read as HTTP
    /// or DNS (every request and query is an event).
    fn times_itself(&self, client: Direction) -> bool {
        match &self.tcp {
            Some(tcp) => tcp.times_itself(client),
            None => self.udp.is_dns(),
        }
    }
}

/// How the application stage of a worker runs.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub dns: DnsConfig,
    /// Bytes of TCP reassembly buffers this worker's flows may hold together (see
    /// [`crate::flow::REASSEMBLY_BUDGET`]).
    pub reassembly_budget: usize,
    /// Every flow's end is a fact (EventID 101).
    pub connection_summaries: bool,
    /// Client silence that ends an exchange inside a connection ([`Fact::Exchange`]);
    /// `None`: exchanges are not tracked.
    pub exchange_gap: Option<Duration>,
}

impl Default for AppConfig {
    fn default() -> AppConfig {
        AppConfig {
            dns: DnsConfig::default(),
            reassembly_budget: crate::flow::REASSEMBLY_BUDGET,
            connection_summaries: true,
            exchange_gap: None,
        }
    }
}

/// The application stage of one worker.
pub struct AppStage {
    shared: Shared,
}

impl AppStage {
    pub fn new(cfg: AppConfig) -> AppStage {
        AppStage {
            shared: Shared {
                dns: DnsState::new(cfg.dns),
                counters: ParserCounters::default(),
                budget: ReassemblyBudget::new(cfg.reassembly_budget),
                facts: Vec::new(),
                summaries: cfg.connection_summaries,
                exchange_gap: cfg.exchange_gap,
                dns_done: Vec::new(),
            },
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
        if let Some(gap) = self.shared.exchange_gap
            && !seg.payload.is_empty()
            && entry.is_from_client(dir)
        {
            let len = seg.payload.len();
            let end = seg.seq.wrapping_add(u32::try_from(len).unwrap_or(u32::MAX));
            self.client_payload(entry, ts, len, Some(end), gap);
        }
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
        let flow = meta(entry);
        let state = &mut entry.state;
        let tcp = state.tcp.get_or_insert_with(|| Box::new(TcpFlow::new()));
        let mut cx = Cx {
            flow,
            conn: &mut state.conn,
            shared: &mut self.shared,
            ts: Some(ts),
        };
        tcp.on_segment(dir, seg, &mut cx);
        state.tcp_done = tcp.all_done();
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
        if let Some(gap) = self.shared.exchange_gap
            && !payload.is_empty()
            && entry.is_from_client(dir)
        {
            self.client_payload(entry, ts, payload.len(), None, gap);
        }
        // Inlined into the worker: a flow whose parser is done stops here.
        if !payload.is_empty() && !entry.state.udp.is_done() {
            let flow = meta(entry);
            let state = &mut entry.state;
            let mut cx = Cx {
                flow,
                conn: &mut state.conn,
                shared: &mut self.shared,
                ts: Some(ts),
            };
            udp::on_datagram(&mut state.udp, dir, payload, &mut cx);
        }
    }

    /// The flow ended (expired, evicted, end of input): its parsers deliver what they
    /// hold, a flow that was never identified still gets its NetworkConnect, and then
    /// its summary. `why`: how it left the table; a TCP flow that saw its RST or both
    /// FINs ended by those.
    pub fn end_flow(&mut self, entry: &mut Entry<AppFlow>, why: EndReason) {
        // Asked before the parsers finish (they are all done after).
        let self_timed = entry.state.times_itself(entry.client_dir());
        let flow = meta(entry);
        let state = &mut entry.state;
        let mut cx = Cx {
            flow,
            conn: &mut state.conn,
            shared: &mut self.shared,
            ts: None,
        };
        if let Some(tcp) = &mut state.tcp {
            tcp.end(&mut cx);
        }
        cx.connect_due();
        if let Some(burst) = state.exchange.take() {
            let http = state.conn.http_requests;
            self.hand_on(entry, burst, self_timed, http);
        }
        if self.shared.summaries {
            let end = summary(entry, why);
            let flow = meta(entry).at(entry.last_seen);
            self.shared.facts.push(Fact::End(flow, Box::new(end)));
        }
    }

    /// Client payload of `len` bytes at `ts`: it may end the client's previous exchange.
    #[inline]
    fn client_payload(
        &mut self,
        entry: &mut Entry<AppFlow>,
        ts: Timestamp,
        len: usize,
        seq_end: Option<u32>,
        gap: Duration,
    ) {
        let client = entry.client_dir();
        let state = &mut entry.state;
        let http = state.conn.http_requests;
        if let Some(burst) = state.exchange.on_payload(ts, len, seq_end, gap, http) {
            let self_timed = state.times_itself(client);
            self.hand_on(entry, burst, self_timed, http);
        }
    }

    /// An exchange ended: it is a fact unless the flow's own messages time it (an HTTP
    /// request was handed on in it, or the client's parser reads HTTP or DNS).
    #[cold]
    fn hand_on(&mut self, entry: &Entry<AppFlow>, burst: Burst, self_timed: bool, http: u32) {
        if self_timed || http != burst.http_before {
            return;
        }
        let flow = meta(entry).at(burst.start);
        let exchange = Exchange {
            client_bytes: burst.bytes,
            first: burst.index == 0,
            open_for: burst.start.since(entry.first_seen),
        };
        self.shared.facts.push(Fact::Exchange(flow, exchange));
    }

    /// DNS queries unanswered past their timeout at `now` are finished.
    pub fn expire(&mut self, now: Timestamp) {
        let shared = &mut self.shared;
        shared.dns.expire(now, &mut shared.dns_done);
        shared.take_dns();
    }

    /// End of input: every pending DNS query is finished.
    pub fn flush(&mut self) {
        let shared = &mut self.shared;
        shared.dns.flush_all(&mut shared.dns_done);
        shared.take_dns();
    }

    /// Facts are waiting to be taken.
    pub fn has_facts(&self) -> bool {
        !self.shared.facts.is_empty()
    }

    /// The facts found since the last call, in the order found.
    pub fn take_facts(&mut self) -> std::vec::Drain<'_, Fact> {
        self.shared.facts.drain(..)
    }

    pub fn counters(&self) -> &ParserCounters {
        &self.shared.counters
    }

    /// Writes this stage's counters into the worker's.
    pub fn publish(&self, c: &mut Counts) {
        let counters = &self.shared.counters;
        let r = &counters.reassembly;
        c.set(Counter::ReassemblyGaps, r.gaps);
        c.set(Counter::ReassemblyOverlapConflicts, r.overlap_conflicts);
        c.set(Counter::ReassemblyCapped, r.truncated_segments);
        c.set(Counter::ReassemblyBudgetStops, self.shared.budget.stops());
        let t = &counters.tls;
        c.set(
            Counter::TlsParseErrors,
            t.invalid_record_type
                + t.invalid_record_version
                + t.invalid_record_length
                + t.invalid_hello_truncated
                + t.invalid_hello_malformed,
        );
        c.set(Counter::HttpParseErrors, counters.http.invalid.iter().sum());
        let q = &counters.quic;
        c.set(
            Counter::QuicParseErrors,
            q.auth_failures + q.frame_violations + q.malformed_frames + q.hello_errors,
        );
        let dns = self.shared.dns.counters();
        c.set(Counter::DnsMessages, dns.messages_parsed);
        c.set(Counter::DnsParseErrors, dns.parse_errors_total());
        c.set(Counter::DnsTimeouts, dns.timeouts);
        c.set(Counter::DnsEvictions, dns.evictions);
    }
}

/// The summary of a flow that ended.
fn summary(entry: &Entry<AppFlow>, why: EndReason) -> ConnEnd {
    let tcp = entry.tcp();
    let reason = if tcp.rst_seen() {
        EndReason::Rst
    } else if tcp.is_closed() {
        EndReason::Fin
    } else {
        why
    };
    let c = entry.client_dir();
    let s = c.reverse();
    ConnEnd {
        start: entry.first_seen,
        client_packets: entry.packets(c),
        server_packets: entry.packets(s),
        client_bytes: entry.bytes(c),
        server_bytes: entry.bytes(s),
        client_wire_bytes: entry.wire_bytes(c),
        server_wire_bytes: entry.wire_bytes(s),
        conn_state: entry.conn_state(),
        history: entry.history(),
        reason,
        http_requests: entry.state.conn.http_requests,
    }
}

/// The flow as its parsers see it while one packet is read.
fn meta(entry: &Entry<AppFlow>) -> FlowMeta {
    FlowMeta {
        key: entry.key,
        flow_id: entry.flow_id,
        client: entry.client_dir(),
        last_seen: entry.last_seen,
    }
}
