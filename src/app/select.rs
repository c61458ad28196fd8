//! Which parser reads a stream or a datagram: the probes each protocol offers
//! (`proto::Probe`), tried in a fixed order. Ports decide first, where a protocol owns
//! them (DNS on 53); then content, and the first probe that does not say `NoMatch`
//! decides (a TLS probe still waiting for its sixth byte keeps HTTP from being tried:
//! a ClientHello is never taken for a request).

use crate::proto::{Probe, Verdict, dns, http, quic, tls};

/// A parser the application stage can put on a stream or a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    Dns,
    Tls,
    Http,
    Quic,
}

/// What the probes said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Chosen(Parser),
    /// A probe needs more bytes before anything can be decided.
    NeedMore,
    /// No probe recognized the bytes.
    Unknown,
}

/// A TCP client stream, outside a CONNECT tunnel: a ClientHello, else a request.
const TCP_CLIENT: &[(Parser, Probe)] = &[(Parser::Tls, tls::PROBE), (Parser::Http, http::PROBE)];
/// Inside a CONNECT tunnel only TLS is looked for (a proxied plain-HTTP request would
/// be the proxy's business, and its bytes are often the origin's binary protocol).
const TCP_TUNNEL: &[(Parser, Probe)] = &[(Parser::Tls, tls::PROBE)];
/// TCP protocols known by their ports.
const TCP_PORTS: &[(Parser, Probe)] = &[(Parser::Dns, dns::PROBE_TCP)];
/// UDP: DNS on its ports, else QUIC or DNS by content (QUIC first: its probe is the
/// stricter one, and a QUIC Initial can pass a lax DNS header check).
const UDP_PORTS: &[(Parser, Probe)] = &[(Parser::Dns, dns::PROBE_UDP)];
const UDP_CONTENT: &[(Parser, Probe)] =
    &[(Parser::Quic, quic::PROBE), (Parser::Dns, dns::PROBE_UDP)];

/// The TCP parser a flow's ports choose for both directions (outside a tunnel).
pub fn tcp_by_port(a: u16, b: u16) -> Option<Parser> {
    by_port(TCP_PORTS, a, b)
}

/// The parser of a TCP client stream's first bytes.
pub fn tcp_client(first: &[u8], tunneled: bool) -> Choice {
    by_content(if tunneled { TCP_TUNNEL } else { TCP_CLIENT }, first)
}

/// A stream already found to be none of ours (a STARTTLS preamble, a SOCKS handshake)
/// is looked at again at each new chunk: only a clear `Match` switches it, since the
/// chunk may start anywhere.
pub fn tcp_reprobe(chunk: &[u8], tunneled: bool) -> Option<Parser> {
    let probes = if tunneled { TCP_TUNNEL } else { TCP_CLIENT };
    probes
        .iter()
        .find(|(_, probe)| probe.content(chunk) == Verdict::Match)
        .map(|&(parser, _)| parser)
}

/// The parser of a UDP flow, from its ports and its first datagram with a payload.
pub fn udp(a: u16, b: u16, payload: &[u8]) -> Option<Parser> {
    by_port(UDP_PORTS, a, b).or(match by_content(UDP_CONTENT, payload) {
        Choice::Chosen(parser) => Some(parser),
        // Datagram probes never wait: a datagram is whole.
        Choice::NeedMore | Choice::Unknown => None,
    })
}

fn by_port(probes: &[(Parser, Probe)], a: u16, b: u16) -> Option<Parser> {
    probes
        .iter()
        .find(|(_, probe)| probe.owns_port(a, b))
        .map(|&(parser, _)| parser)
}

fn by_content(probes: &[(Parser, Probe)], bytes: &[u8]) -> Choice {
    for &(parser, probe) in probes {
        match probe.content(bytes) {
            Verdict::Match => return Choice::Chosen(parser),
            Verdict::NeedMore => return Choice::NeedMore,
            Verdict::NoMatch => {}
        }
    }
    Choice::Unknown
}
