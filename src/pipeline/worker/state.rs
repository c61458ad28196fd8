//! What a worker keeps per flow, and what happens when a flow ends.
//!
//! A flow's state stays small (a few words) until a parser needs more: TCP buffers,
//! parser states and the connection facts are boxed and allocated only for flows that
//! carry data, so a SYN flood costs one table slot per flow and nothing else.

use std::net::SocketAddr;

use super::emit::Emitter;
use super::tcp::TcpFlow;
use super::udp::UdpApp;
use crate::event::{NetworkConnect, Transport};
use crate::flow::{Entry, PROTO_TCP};
use crate::proto::dns::{DnsState, DnsTransaction};

#[derive(Default)]
pub struct FlowState {
    /// The NetworkConnect (EventID 3) of this flow was written.
    pub connect_emitted: bool,
    /// Facts gathered for the NetworkConnect before it is written.
    pub facts: Option<Box<NetworkConnect>>,
    pub udp: UdpApp,
    pub tcp: Option<Box<TcpFlow>>,
    /// Every parser of this TCP flow is done: a later segment needs nothing but its
    /// table hit. Kept here, in the table node, so that the bulk of a connection never
    /// reads the boxed `TcpFlow` (a second cache miss per packet).
    pub tcp_done: bool,
}

impl FlowState {
    pub fn facts(&mut self) -> &mut NetworkConnect {
        self.facts.get_or_insert_with(Default::default)
    }
}

/// Writes the flow's NetworkConnect now (once): its application is identified.
pub fn emit_connect(entry: &mut Entry<FlowState>, emit: &mut Emitter) {
    if entry.state.connect_emitted {
        return;
    }
    entry.state.connect_emitted = true;
    let facts = entry.state.facts.take().map(|b| *b).unwrap_or_default();
    let (client, server) = endpoints(entry);
    let protocol = if entry.key.proto == PROTO_TCP {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    emit.connect(
        entry.last_seen,
        entry.flow_id,
        protocol,
        client,
        server,
        facts,
    );
}

pub fn endpoints<S>(entry: &Entry<S>) -> (SocketAddr, SocketAddr) {
    let c = entry.client();
    let s = entry.server();
    (SocketAddr::new(c.ip, c.port), SocketAddr::new(s.ip, s.port))
}

/// A flow ended (expired, evicted, or end of input): parsers deliver what they hold,
/// and a flow that was never identified still gets its NetworkConnect.
pub fn finish_flow(
    entry: &mut Entry<FlowState>,
    dns: &mut DnsState,
    emit: &mut Emitter,
    dns_done: &mut Vec<DnsTransaction>,
) {
    if let Some(mut tcp) = entry.state.tcp.take() {
        tcp.finish_flow(entry, dns, emit, dns_done);
        entry.state.tcp = Some(tcp);
    }
    emit_connect(entry, emit);
    emit.flow_ended(entry.flow_id);
}
