//! A UDP flow's application side: DNS (by port or by content) and QUIC (by content,
//! on any port), decided on the flow's first datagram with a payload. Once a flow is
//! identified and its parser is done, each datagram costs a table lookup.

use super::context::{ConnSlot, Cx, FlowMeta};
use super::facts::{AppProtocol, Hello};
use super::select::{self, Parser};
use crate::flow::Direction;
use crate::proto::Progress;
use crate::proto::quic::{ClientHello, QuicHello, QuicState};

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

    pub(super) fn is_dns(&self) -> bool {
        matches!(self, UdpApp::Dns)
    }
}

/// Reads one datagram travelling in `dir` (not empty: the stage checked).
pub(super) fn on_datagram(udp: &mut UdpApp, dir: Direction, payload: &[u8], cx: &mut Cx<'_>) {
    if let UdpApp::Undecided = udp {
        *udp = decide(&cx.flow, payload, cx.conn);
    }
    let from_client = cx.flow.is_from_client(dir);
    match udp {
        UdpApp::Dns => {
            let pkt = cx.flow.dns_packet(dir);
            let ts = cx.time();
            let shared = &mut *cx.shared;
            // A parse error is counted by the DNS state; the flow stays DNS.
            let _ = shared
                .dns
                .on_message(&pkt, ts, payload, &mut shared.dns_done);
            shared.take_dns();
            if !cx.conn.emitted {
                cx.conn.facts_mut().protocol = AppProtocol::Dns;
                cx.connect_due();
            }
        }
        UdpApp::Quic(quic) => {
            match quic.on_datagram(payload, from_client, &mut cx.shared.counters.quic) {
                Progress::NeedMore => {}
                Progress::Done(QuicHello { hello, version }) => {
                    *udp = UdpApp::Other;
                    let conn = cx.conn.facts_mut();
                    match hello {
                        ClientHello::Tls(facts) => conn.hello = Some(Hello { facts, quic: true }),
                        ClientHello::Chlo(chlo) => conn.chlo = Some(chlo),
                    }
                    conn.quic_version = Some(version);
                    cx.connect_due();
                }
                Progress::Handoff | Progress::Invalid(_) | Progress::Stopped => {
                    *udp = UdpApp::Other;
                }
            }
        }
        UdpApp::Undecided | UdpApp::Other => {}
    }
}

/// Chooses the flow's parser from its ports and first datagram.
fn decide(flow: &FlowMeta, payload: &[u8], conn: &mut ConnSlot) -> UdpApp {
    match select::udp(flow.key.a.port, flow.key.b.port, payload) {
        Some(Parser::Dns) => UdpApp::Dns,
        Some(Parser::Quic) => {
            // Known as QUIC from its long header even if its ClientHello never
            // completes (lost or corrupted Initials): the flow's event says so.
            let facts = conn.facts_mut();
            facts.protocol = AppProtocol::Quic;
            facts.quic_version = payload
                .get(1..5)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(u32::from_be_bytes);
            UdpApp::Quic(Box::default())
        }
        Some(Parser::Tls | Parser::Http) | None => UdpApp::Other,
    }
}
