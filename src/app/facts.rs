//! What the application stage hands on: typed facts, in the order they were found.
//! `event` builds one event from each (EventID 3 from [`Fact::Connect`], 100 from
//! [`Fact::Http`], 22 from [`Fact::Dns`], 101 from [`Fact::End`]); a [`Fact::Exchange`]
//! is no event, the behavioural stage reads it. Nothing here knows the event schema.

use std::net::SocketAddr;

use crate::flow::Transport;
use crate::flow::history::HistoryText;
use crate::proto::dns::DnsTransaction;
use crate::proto::handshake::HandshakeFacts;
use crate::proto::http::{HttpTransaction, RequestHead};
use crate::proto::quic::chlo::ChloFacts;
use crate::time::{Duration, Timestamp};

/// One finding of the application stage.
#[derive(Debug)]
pub enum Fact {
    /// The flow's application is identified, or the flow ended unidentified: its one
    /// NetworkConnect is due, with what is known of the connection (`None`: nothing).
    Connect(FlowRef, Option<Box<ConnFacts>>),
    /// An HTTP/1.x request (and its response status, when seen) of the flow.
    Http(FlowRef, HttpTransaction),
    /// A finished DNS transaction (it names its own endpoints and time).
    Dns(DnsTransaction),
    /// The flow ended: its summary (the flow's last packet time is the fact's time).
    End(FlowRef, Box<ConnEnd>),
    /// The client ended an exchange inside the flow (the fact's time is its start): a
    /// beacon check-in, for the behavioural stage only (no event is written for it).
    Exchange(FlowRef, Exchange),
}

/// One exchange of a connection: client payload after a quiet gap, until the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Client payload bytes in it.
    pub client_bytes: u64,
    /// The connection's first exchange.
    pub first: bool,
    /// How long the connection had been open when it started.
    pub open_for: Duration,
}

/// Why a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Both sides sent a FIN.
    Fin,
    /// A RST was seen.
    Rst,
    /// No packet for longer than the flow's idle timeout.
    IdleTimeout,
    /// The flow table was full and this was its least recently seen flow.
    Eviction,
    /// The capture files ended.
    EndOfInput,
    /// The sensor was stopped (SIGINT, SIGTERM).
    Shutdown,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::Eviction => "eviction",
            EndReason::EndOfInput => "end_of_input",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// What a connection summary (EventID 101) needs that only the flow knows, seen from
/// the client. The names (SNI, JA4, the destination) are the NetworkConnect's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnEnd {
    pub start: Timestamp,
    pub client_packets: u64,
    pub server_packets: u64,
    /// Transport payload bytes (Zeek's `orig_bytes`, `resp_bytes`).
    pub client_bytes: u64,
    pub server_bytes: u64,
    /// Frame bytes on the wire.
    pub client_wire_bytes: u64,
    pub server_wire_bytes: u64,
    /// Zeek's `conn_state` and `history`.
    pub conn_state: &'static str,
    pub history: HistoryText,
    pub reason: EndReason,
    /// HTTP requests seen on the connection.
    pub http_requests: u32,
}

/// The flow a fact is about, as events name it: the client is the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRef {
    /// The packet time the fact belongs to.
    pub time: Timestamp,
    pub flow_id: u64,
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// The application protocol a flow was recognized as (`AppProtocol` of its events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AppProtocol {
    Tls,
    Quic,
    Http,
    Dns,
    #[default]
    Unknown,
}

impl AppProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocol::Tls => "tls",
            AppProtocol::Quic => "quic",
            AppProtocol::Http => "http",
            AppProtocol::Dns => "dns",
            AppProtocol::Unknown => "unknown",
        }
    }
}

/// What is known of a connection when its NetworkConnect is due. Filled as the parsers
/// find things: the protocol, the first HTTP request (a CONNECT waits here for the
/// tunnel's ClientHello), the ClientHello, the QUIC version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnFacts {
    /// The protocol recognized before any parser delivered (DNS by port or content,
    /// QUIC by its long header); the HTTP request and the ClientHello say theirs.
    pub protocol: AppProtocol,
    /// The connection's first HTTP request.
    pub first_request: Option<RequestHead>,
    /// The ClientHello (over TLS, or in QUIC Initials).
    pub hello: Option<Hello>,
    /// Google QUIC's client hello (a `Q050` Initial's CRYPTO stream), in place of `hello`.
    pub chlo: Option<Box<ChloFacts>>,
    /// Version of the QUIC long header that completed the ClientHello, else of the
    /// first one seen.
    pub quic_version: Option<u32>,
}

/// A ClientHello and what carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub facts: Box<HandshakeFacts>,
    /// In QUIC Initials (else in TLS records over TCP).
    pub quic: bool,
}
