//! The event schema (DESIGN §3): Sysmon-shaped events built from the application
//! stage's facts ([`build`]), and their JSON-lines form ([`json`]).
//!
//! Where it sits: after `app/` (which hands over typed facts) and before `detect/`
//! (which reads events through [`Event::get`]) and `output/` (which writes the bytes
//! [`json`] makes). It may import `time`, `decode`, `flow`, `proto` and `app`, nothing
//! later.

pub mod ascii;
pub mod build;
pub mod community_id;
pub mod connect;
pub mod dns;
pub mod field;
pub mod http;
pub mod json;
pub mod ports;
pub mod quic;
pub mod text;
pub mod tls;

use std::net::IpAddr;
use std::sync::Arc;

pub use crate::app::AppProtocol;
pub use crate::flow::Transport;
pub use field::{Field, FieldValue};

use crate::time::Timestamp;

/// Fields every event has (Sysmon's names in the comments where they differ).
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// `UtcTime`: the time of the packet that completed the event.
    pub time: Timestamp,
    /// `Computer`: the sensor's name.
    pub computer: Arc<str>,
    /// `Source`: interface name or pcap path.
    pub source: Arc<str>,
    /// `FlowId`: unique per flow within a run (worker index in the top bits).
    pub flow_id: u64,
    /// `CommunityId`: Community ID v1 of the 5-tuple (`1:` + base64 of a SHA-1).
    pub community_id: String,
    pub protocol: Transport,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
}

/// One event: a common header, the body of its kind, and the rules it matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub header: Header,
    pub body: Body,
    /// Filled by `detect`; empty when no rule matched.
    pub alerts: Vec<Alert>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Dns(DnsQuery),
    Connect(NetworkConnect),
    Http(HttpRequest),
    End(Box<ConnectionEnd>),
    Beacon(Box<BeaconAlert>),
    DnsTunnel(Box<DnsTunnelAlert>),
    Correlation(Box<CorrelationAlert>),
}

impl Body {
    pub fn event_id(&self) -> u32 {
        match self {
            Body::Dns(_) => 22,
            Body::Connect(_) => 3,
            Body::Http(_) => 100,
            Body::End(_) => 101,
            Body::Beacon(_) => 110,
            Body::DnsTunnel(_) => 111,
            Body::Correlation(_) => 120,
        }
    }
    pub fn event_type(&self) -> &'static str {
        match self {
            Body::Dns(_) => "DnsQuery",
            Body::Connect(_) => "NetworkConnect",
            Body::Http(_) => "HttpRequest",
            Body::End(_) => "ConnectionEnd",
            Body::Beacon(_) => "Beacon",
            Body::DnsTunnel(_) => "DnsTunnel",
            Body::Correlation(_) => "Correlation",
        }
    }
}

/// EventID 22. String fields hold text already made safe by [`text::wire_text`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DnsQuery {
    /// Without the trailing dot; `-` for the root.
    pub query_name: String,
    /// `A`, `HTTPS`, `TYPE65280`, ...
    pub query_type: String,
    /// Sysmon's decimal string: `0`, `9003` (NXDOMAIN), `9501` (no records), `1460` (no response).
    pub query_status: String,
    /// Sysmon's form, each answer ending in `;`; `-` when none.
    pub query_results: String,
    /// The response's RCODE; `None` when no response came.
    pub rcode: Option<u16>,
    /// Smallest TTL of the answers; `None` when there were none.
    pub ttl: Option<u32>,
    /// Header flags of the transaction's last message (the response's, else the
    /// query's), for Zeek's `AA`, `TC`, `RD`, `RA` and `Z`.
    pub flags: u16,
    /// The question's class (`1`, IN), Zeek's `qclass`.
    pub qclass: u16,
    /// True when a value above was capped (see `text`).
    pub truncated: bool,
}

/// EventID 3: one per flow, once its application is identified or when it ends.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkConnect {
    pub destination_hostname: Option<String>,
    pub hostname_source: Option<HostnameSource>,
    pub app_protocol: AppProtocol,
    pub tls_sni: Option<String>,
    /// ALPN protocols offered, comma-separated, in the client's order.
    pub tls_alpn: Option<String>,
    /// Highest version offered, as `TLS 1.3`.
    pub tls_version: Option<String>,
    pub tls_ech: Option<bool>,
    pub ja3: Option<String>,
    pub ja3_hash: Option<String>,
    pub ja4: Option<String>,
    /// `0x00000001` form.
    pub quic_version: Option<String>,
    pub http_host: Option<String>,
    pub http_method: Option<String>,
    pub http_uri: Option<String>,
    pub http_user_agent: Option<String>,
    pub truncated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostnameSource {
    TlsSni,
    QuicSni,
    HttpHost,
    Dns,
}

impl HostnameSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HostnameSource::TlsSni => "tls_sni",
            HostnameSource::QuicSni => "quic_sni",
            HostnameSource::HttpHost => "http_host",
            HostnameSource::Dns => "dns",
        }
    }
}

/// EventID 100: one per HTTP/1.x request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    /// Raw Host header (port included); `None` when absent.
    pub host: Option<String>,
    pub uri: String,
    /// `HTTP/1.1`.
    pub version: String,
    /// Empty string when absent.
    pub user_agent: String,
    pub referer: Option<String>,
    /// Every Cookie header, joined with `; ` (the proxy log's `cs-cookie`).
    pub cookie: Option<String>,
    pub content_length: Option<u64>,
    pub status: Option<u16>,
    pub destination_hostname: Option<String>,
    pub truncated: bool,
}

/// EventID 101: one per flow, when it ends. The counts are seen from the client
/// (`Source*`), as the other events' endpoints are; the names are its NetworkConnect's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionEnd {
    /// `StartTime`: the flow's first packet.
    pub start_time: Timestamp,
    /// `Duration`: from the first to the last packet, in seconds with microseconds,
    /// as text (`12.000250`), which the JSON writes as a number.
    pub duration: text::Short,
    pub source_packets: u64,
    pub destination_packets: u64,
    /// Transport payload bytes (Zeek's `orig_bytes`, `resp_bytes`).
    pub source_bytes: u64,
    pub destination_bytes: u64,
    /// Frame bytes on the wire.
    pub source_wire_bytes: u64,
    pub destination_wire_bytes: u64,
    /// Zeek's `conn_state` and `history`.
    pub conn_state: &'static str,
    pub history: crate::flow::history::HistoryText,
    /// `fin`, `rst`, `idle_timeout`, `eviction`, `end_of_input`, `shutdown`.
    pub end_reason: &'static str,
    pub http_requests: u64,
    pub names: ConnNames,
}

/// What the flow's NetworkConnect named, repeated in its ConnectionEnd.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnNames {
    pub app_protocol: AppProtocol,
    pub destination_hostname: Option<String>,
    pub hostname_source: Option<HostnameSource>,
    pub tls_sni: Option<String>,
    pub ja4: Option<String>,
    pub quic_version: Option<String>,
}

impl ConnNames {
    pub fn of(c: &NetworkConnect) -> ConnNames {
        ConnNames {
            app_protocol: c.app_protocol,
            destination_hostname: c.destination_hostname.clone(),
            hostname_source: c.hostname_source,
            tls_sni: c.tls_sni.clone(),
            ja4: c.ja4.clone(),
            quic_version: c.quic_version.clone(),
        }
    }
}

/// EventID 110: a client that calls a server with the regularity of an implant. The
/// header is the latest check-in's flow; scores are in `[0, 1]`, as text with three
/// decimals (`0.934`), which the JSON writes as numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BeaconAlert {
    /// `beacon`, `strobe` or `long_connection`.
    pub kind: &'static str,
    /// The server's name when the pair is keyed by it, else `-`.
    pub destination_hostname: Option<String>,
    pub score: text::Short,
    pub timing_score: text::Short,
    pub size_score: text::Short,
    pub histogram_score: text::Short,
    pub duration_score: text::Short,
    pub check_ins: u64,
    pub connections: u64,
    /// Seconds, three decimals.
    pub median_interval: text::Short,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub reason: String,
    /// Check-ins per 24th of the observation period, oldest first.
    pub check_in_histogram: [u32; 24],
    /// Length of one bin of `check_in_histogram`, seconds, one decimal.
    pub histogram_bin_seconds: text::Short,
}

/// EventID 111: a client whose queries to one registered domain carry data in their
/// names (`tunnel`, `exfil`), or whose NXDOMAIN answers span many domains (`dga`).
/// The header is the latest query's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DnsTunnelAlert {
    /// `tunnel`, `exfil` or `dga`.
    pub kind: &'static str,
    /// The registered domain (public suffix list), `-` for `dga`.
    pub domain: String,
    pub queries: u64,
    pub distinct_subdomains: u64,
    pub mean_name_length: text::Short,
    pub max_name_length: u64,
    /// Mean Shannon entropy of the subdomain labels, bits per byte.
    pub label_entropy: text::Short,
    pub name_bytes_per_minute: text::Short,
    /// Share of the queries asking TXT, NULL, CNAME or MX.
    pub odd_type_share: text::Short,
    pub nxdomain: u64,
    /// Registered domains that answered NXDOMAIN (`dga`).
    pub nxdomain_domains: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub reason: String,
    /// Queries per fifth of the window, oldest first.
    pub query_histogram: [u32; 5],
}

/// EventID 120: a Sigma correlation rule fired. The header is the event that completed
/// it; the correlation itself is also the first of the event's `Alerts`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CorrelationAlert {
    pub rule_id: Arc<str>,
    pub rule_title: Arc<str>,
    /// `event_count`, `value_count`, `temporal`, `temporal_ordered`, `value_sum`,
    /// `value_avg`, `value_percentile`.
    pub kind: &'static str,
    /// `name=value` per group-by field, joined by `, ` (empty without group-by).
    pub group_by: String,
    /// The count, distinct count, sum, average or percentile that met the condition,
    /// as text (integral values without decimals), which the JSON writes as a number.
    pub value: String,
    /// The correlation's timespan, in seconds.
    pub timespan: u64,
    /// Events in the window (temporal types: the rules seen).
    pub events: u64,
    /// The first and the last event of the window.
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Ids of the rules whose events were in the window, comma-separated.
    pub contributing_rules: String,
    /// A group value was cut at its cap.
    pub truncated: bool,
}

/// A rule that matched an event (`Alerts` in the JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub rule_id: Arc<str>,
    pub rule_title: Arc<str>,
    pub rule_level: Arc<str>,
    pub rule_tags: Arc<[Arc<str>]>,
    /// The `Mappings` object (ATT&CK technique → VERIS, NIST 800-53, cloud
    /// capabilities) as compact JSON, rendered once per rule at load and copied into
    /// each alert; `None` when no technique of the rule is mapped or mappings are off.
    pub mappings: Option<Arc<str>>,
}

/// Sysmon-modular's `RuleName` for everything c2tap alerts on.
pub const RULE_NAME: &str = "technique_id=T1071.001,technique_name=Web Protocols";

impl Event {
    /// An event that matched no rule (yet).
    pub fn new(header: Header, body: Body) -> Event {
        Event {
            header,
            body,
            alerts: Vec::new(),
        }
    }

    pub fn event_id(&self) -> u32 {
        self.body.event_id()
    }
}
