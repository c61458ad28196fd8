//! A UDP flow's application side: DNS (by port or by content) and QUIC (by content,
//! on any port), decided on the flow's first datagram with a payload. Once a flow is
//! identified and its parser is done, each datagram costs a table lookup.

use super::facts::{AppProtocol, Hello};
use super::select::{self, Parser};
use super::{AppFlow, AppStage, connect_due};
use crate::flow::{Direction, Entry};
use crate::proto::Progress;
use crate::proto::dns::DnsPacket;
use crate::proto::quic::{QuicHello, QuicState};
use crate::time::Timestamp;

/// What a UDP flow carries.
#[derive(Default)]
pub(super) enum UdpApp {
    #[default]
    Undecided,
    Dns,
    /// Client Initials being decrypted until the ClientHello is complete.
    Quic(Box<QuicState>),
    /// Not a protocol c2tap parses, or one whose parser is done: later datagrams cost a
    /// lookup only.
    Other,
}

impl UdpApp {
    /// Nothing more will be read on this flow.
    pub(super) fn is_done(&self) -> bool {
        matches!(self, UdpApp::Other)
    }
}

/// Reads one datagram travelling in `dir`.
pub(super) fn on_datagram(
    entry: &mut Entry<AppFlow>,
    dir: Direction,
    payload: &[u8],
    ts: Timestamp,
    stage: &mut AppStage,
) {
    if let UdpApp::Undecided = entry.state.udp {
        decide(entry, payload);
    }
    let from_client = entry.is_from_client(dir);
    match entry.state.udp {
        UdpApp::Dns => {
            let pkt = DnsPacket {
                flow_id: entry.flow_id,
                transport: entry.key.proto,
                src: endpoint(entry.key.sender(dir)),
                dst: endpoint(entry.key.receiver(dir)),
            };
            // A parse error is counted by the DNS state; the flow stays DNS.
            let _ = stage.dns.on_message(&pkt, ts, payload, &mut stage.dns_done);
            stage.take_dns();
            if !entry.state.connect_emitted {
                entry.state.conn_facts().protocol = AppProtocol::Dns;
                connect_due(entry, stage);
            }
        }
        UdpApp::Quic(ref mut quic) => {
            match quic.on_datagram(payload, from_client, &mut stage.counters.quic) {
                Progress::NeedMore => {}
                Progress::Done(QuicHello { facts, version }) => {
                    entry.state.udp = UdpApp::Other;
                    let conn = entry.state.conn_facts();
                    conn.hello = Some(Hello { facts, quic: true });
                    conn.quic_version = Some(version);
                    connect_due(entry, stage);
                }
                Progress::Handoff | Progress::Invalid(_) | Progress::Stopped => {
                    entry.state.udp = UdpApp::Other;
                }
            }
        }
        UdpApp::Undecided | UdpApp::Other => {}
    }
}

/// Chooses the flow's parser from its ports and first datagram.
fn decide(entry: &mut Entry<AppFlow>, payload: &[u8]) {
    let key = entry.key;
    entry.state.udp = match select::udp(key.a.port, key.b.port, payload) {
        Some(Parser::Dns) => UdpApp::Dns,
        Some(Parser::Quic) => {
            // Known as QUIC from its long header even if its ClientHello never
            // completes (lost or corrupted Initials): the flow's event says so.
            let conn = entry.state.conn_facts();
            conn.protocol = AppProtocol::Quic;
            conn.quic_version = payload
                .get(1..5)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes);
            UdpApp::Quic(Box::default())
        }
        Some(Parser::Tls | Parser::Http) | None => UdpApp::Other,
    };
}

fn endpoint(e: crate::flow::Endpoint) -> std::net::SocketAddr {
    std::net::SocketAddr::new(e.ip, e.port)
}
