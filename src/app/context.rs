//! What a parser of one flow works with besides its own state: the flow it belongs to
//! ([`FlowMeta`], copied from the flow table's entry), what is known of the connection
//! ([`ConnSlot`]), and what the worker's stage shares across flows ([`Shared`]: the DNS
//! transaction table, the counters, the reassembly budget, the facts found).

use std::net::SocketAddr;

use super::facts::{ConnFacts, Fact, FlowRef};
use crate::flow::{Direction, FlowKey, ReassemblyBudget, ReassemblyCounters};
use crate::proto::dns::{DnsPacket, DnsState, DnsTransaction};
use crate::proto::http::HttpCounters;
use crate::proto::quic::QuicCounters;
use crate::proto::tls::TlsCounters;
use crate::time::Timestamp;

/// The parsers' counters of one worker (published into `telemetry`).
#[derive(Clone, Debug, Default)]
pub struct ParserCounters {
    pub tls: TlsCounters,
    pub http: HttpCounters,
    pub quic: QuicCounters,
    pub reassembly: ReassemblyCounters,
}

/// The stage's state that outlives one flow.
pub(super) struct Shared {
    pub(super) dns: DnsState,
    pub(super) counters: ParserCounters,
    pub(super) budget: ReassemblyBudget,
    /// Facts found and not yet taken, in the order found.
    pub(super) facts: Vec<Fact>,
    /// A flow's end is a fact (a connection summary, EventID 101).
    pub(super) summaries: bool,
    /// Client silence that ends an exchange (`None`: exchanges are not tracked).
    pub(super) exchange_gap: Option<crate::time::Duration>,
    /// Scratch for the DNS state's finished transactions (moved to `facts` at once).
    pub(super) dns_done: Vec<DnsTransaction>,
}

impl Shared {
    /// Moves the DNS state's finished transactions to the facts, keeping their order
    /// among the other facts.
    pub(super) fn take_dns(&mut self) {
        self.facts.extend(self.dns_done.drain(..).map(Fact::Dns));
    }
}

/// The flow a parser works for, as the flow table knows it when the packet arrives.
#[derive(Clone, Copy, Debug)]
pub(super) struct FlowMeta {
    pub(super) key: FlowKey,
    pub(super) flow_id: u64,
    /// The direction the client's packets travel.
    pub(super) client: Direction,
    pub(super) last_seen: Timestamp,
}

impl FlowMeta {
    pub(super) fn is_from_client(&self, d: Direction) -> bool {
        d == self.client
    }

    /// A DNS message of this flow travelling in `d`, as the DNS state files it.
    pub(super) fn dns_packet(&self, d: Direction) -> DnsPacket {
        let (src, dst) = (self.key.sender(d), self.key.receiver(d));
        DnsPacket {
            flow_id: self.flow_id,
            transport: self.key.proto,
            src: SocketAddr::new(src.ip, src.port),
            dst: SocketAddr::new(dst.ip, dst.port),
        }
    }

    /// The flow as facts name it, at `time`: the client is the source.
    pub(super) fn at(&self, time: Timestamp) -> FlowRef {
        let c = self.key.sender(self.client);
        let s = self.key.receiver(self.client);
        FlowRef {
            time,
            flow_id: self.flow_id,
            transport: self.key.proto,
            client: SocketAddr::new(c.ip, c.port),
            server: SocketAddr::new(s.ip, s.port),
        }
    }
}

/// What is known of a connection until its one NetworkConnect is due.
#[derive(Default)]
pub(super) struct ConnSlot {
    /// The NetworkConnect fact was handed on.
    pub(super) emitted: bool,
    pub(super) facts: Option<Box<ConnFacts>>,
    /// HTTP requests handed on (for the connection summary).
    pub(super) http_requests: u32,
}

impl ConnSlot {
    pub(super) fn facts_mut(&mut self) -> &mut ConnFacts {
        self.facts.get_or_insert_with(Default::default)
    }

    /// The flow's NetworkConnect is due now (once): its application is identified, or
    /// the flow ended.
    pub(super) fn due(&mut self, flow: &FlowMeta, shared: &mut Shared) {
        if self.emitted {
            return;
        }
        self.emitted = true;
        let conn = self.facts.take();
        shared
            .facts
            .push(Fact::Connect(flow.at(flow.last_seen), conn));
    }
}

/// A parser's context for one packet (or the flow's end).
pub(super) struct Cx<'a> {
    pub(super) flow: FlowMeta,
    pub(super) conn: &'a mut ConnSlot,
    pub(super) shared: &'a mut Shared,
    /// The packet's time; `None` at flow end (the flow's last packet time is used).
    pub(super) ts: Option<Timestamp>,
}

impl Cx<'_> {
    pub(super) fn time(&self) -> Timestamp {
        self.ts.unwrap_or(self.flow.last_seen)
    }

    pub(super) fn connect_due(&mut self) {
        self.conn.due(&self.flow, self.shared);
    }
}
