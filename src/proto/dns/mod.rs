//! DNS (RFC 1035 §4, RFC 3597, RFC 6891 §6, RFC 7766 §8, RFC 9460): a total, zero-copy,
//! loop-proof message parser; content probing; DNS-over-TCP framing; the per-worker
//! query/response join; and the shared answer cache.
//!
//! Where it sits: the worker hands UDP payloads (ports 53/5353/5355, or any port where
//! [`probe`] says yes) to [`DnsState::on_message`], and in-order TCP stream bytes of
//! port-53 connections to [`DnsState::on_tcp_data`] with one [`TcpDnsFramer`] per
//! direction. Finished [`DnsTransaction`]s come back in a `Vec` the caller owns; the
//! caller turns each into an EventID 22 body with `event::dns::dns_query_body` and feeds
//! it to [`DnsCache::learn`]; new flows ask [`DnsCache::lookup`] for a hostname.
//! Time is always the packet's: call [`DnsState::expire`] once per batch and
//! [`DnsState::flush_all`] at end of input.
//!
//! It imports only `time` and `flow` (for [`Transport`](crate::flow::Transport); and std, hashbrown, foldhash, thiserror). Why our own parser
//! and not a crate: DESIGN §7. Nothing here can panic on traffic, and every table or
//! loop has a named cap (see `parse`, `state`, `tcp`, `cache`).

pub mod cache;
pub mod counters;
pub mod parse;
pub mod probe;
pub mod state;
pub mod tcp;
pub mod transaction;
pub mod types;

#[cfg(test)]
mod fuzz_tests;

pub use cache::DnsCache;
pub use counters::DnsCounters;
pub use parse::{Message, ParseError, TypeName, type_mnemonic};
pub use probe::probe;
pub use state::{DnsConfig, DnsPacket, DnsState};
pub use tcp::{FramingError, TcpDnsFramer};
pub use transaction::{Answer, AnswerData, DnsResponse, DnsTransaction, status};

use crate::flow::Transport;
use crate::proto::Probe;

/// UDP ports where DNS is parsed without probing: DNS, mDNS (RFC 6762), LLMNR (RFC 4795).
pub const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// DNS offers itself on UDP by its ports, and on any other port by content ([`probe`]).
pub const PROBE_UDP: Probe = Probe {
    name: "dns",
    transport: Transport::Udp,
    ports: &DNS_PORTS,
    content: Some(probe),
};

/// DNS over TCP (RFC 7766) is taken on port 53 only: a TCP stream has no message
/// boundary to probe, and a two-byte length prefix fits most binary protocols.
pub const PROBE_TCP: Probe = Probe {
    name: "dns-tcp",
    transport: Transport::Tcp,
    ports: &[53],
    content: None,
};
