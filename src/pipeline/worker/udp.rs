//! UDP flows: DNS (by port or by content) and QUIC (by content, on any port). Once a
//! flow is identified and its parser is done, each datagram costs a table lookup.

use std::net::{IpAddr, SocketAddr};

use super::emit::Emitter;
use super::state::{FlowState, emit_connect};
use crate::decode::UdpDatagram;
use crate::event::{self, AppProtocol};
use crate::flow::{Entry, FlowKey, FlowTable, PROTO_UDP, PacketSeen};
use crate::proto::dns::{self, DnsPacket, DnsState, DnsTransaction, DnsTransport};
use crate::proto::quic::{self, QuicProgress, QuicState};
use crate::time::Timestamp;

/// What a UDP flow carries, decided on its first datagram with a payload.
#[derive(Default)]
pub enum UdpApp {
    #[default]
    Undecided,
    Dns,
    /// Client Initials being decrypted until the ClientHello is complete.
    Quic(Box<QuicState>),
    /// Not a protocol c2tap parses, or one whose parser is done: later datagrams cost a
    /// lookup only.
    Other,
}

#[allow(clippy::too_many_arguments)]
pub fn on_datagram(
    flows: &mut FlowTable<FlowState>,
    dns: &mut DnsState,
    emit: &mut Emitter,
    ts: Timestamp,
    src: IpAddr,
    dst: IpAddr,
    dgram: &UdpDatagram<'_>,
    ended: &mut Vec<Entry<FlowState>>,
    dns_done: &mut Vec<DnsTransaction>,
) {
    let (key, dir) = FlowKey::new(PROTO_UDP, src, dgram.src_port, dst, dgram.dst_port);
    let seen = PacketSeen {
        now: ts,
        dir,
        bytes: u32::try_from(dgram.payload.len()).unwrap_or(u32::MAX),
        tcp_flags: None,
    };
    let Some((entry, _new)) = flows.get_or_insert(key, seen, FlowState::default, ended) else {
        return;
    };
    if dgram.payload.is_empty() {
        return;
    }
    if let UdpApp::Undecided = entry.state.udp {
        entry.state.udp = classify(dgram);
        if let UdpApp::Quic(_) = entry.state.udp {
            // Known as QUIC from its long header even if its ClientHello never
            // completes (lost or corrupted Initials): the flow's event says so.
            let facts = entry.state.facts();
            facts.app_protocol = AppProtocol::Quic;
            let version = dgram
                .payload
                .get(1..5)
                .and_then(|v| <[u8; 4]>::try_from(v).ok());
            if let Some(v) = version {
                facts.quic_version = Some(event::quic::version_text(u32::from_be_bytes(v)));
            }
        }
    }
    let from_client = entry.is_from_client(dir);
    match entry.state.udp {
        UdpApp::Dns => {
            let pkt = DnsPacket {
                flow_id: entry.flow_id,
                transport: DnsTransport::Udp,
                src: SocketAddr::new(src, dgram.src_port),
                dst: SocketAddr::new(dst, dgram.dst_port),
            };
            // A parse error is counted by the DNS state; the flow stays DNS.
            let _ = dns.on_message(&pkt, ts, dgram.payload, dns_done);
            emit.dns_transactions(dns_done);
            if !entry.state.connect_emitted {
                entry.state.facts().app_protocol = AppProtocol::Dns;
                emit_connect(entry, emit);
            }
        }
        UdpApp::Quic(ref mut quic) => {
            match quic.on_datagram(dgram.payload, from_client, &mut emit.quic) {
                QuicProgress::NeedMore => {}
                QuicProgress::Done { facts, version } => {
                    entry.state.udp = UdpApp::Other;
                    event::quic::apply_quic(&facts, version, entry.state.facts());
                    emit_connect(entry, emit);
                }
                QuicProgress::NotQuic | QuicProgress::Failed | QuicProgress::Finished => {
                    entry.state.udp = UdpApp::Other;
                }
            }
        }
        UdpApp::Undecided | UdpApp::Other => {}
    }
}

/// DNS on its ports (DNS, mDNS, LLMNR); elsewhere QUIC or DNS by their content.
fn classify(dgram: &UdpDatagram<'_>) -> UdpApp {
    let on_dns_port =
        dns::DNS_PORTS.contains(&dgram.src_port) || dns::DNS_PORTS.contains(&dgram.dst_port);
    if on_dns_port {
        UdpApp::Dns
    } else if quic::probe(dgram.payload) {
        UdpApp::Quic(Box::default())
    } else if dns::probe(dgram.payload) {
        UdpApp::Dns
    } else {
        UdpApp::Other
    }
}
