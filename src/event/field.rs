//! Field access by name: the one door through which detection reads an event.
//!
//! [`Field`] lists every field an event can carry, under its canonical (Sysmon-style)
//! name. Detection maps the names rules use (Sysmon, proxy, Zeek, ECS) onto these once,
//! when rules compile, so matching an event is a `match`, not a string lookup.

use std::net::IpAddr;

use super::{Body, Event, RULE_NAME};

/// A field value as detection sees it. Numbers and addresses keep their type so that
/// `cidr` needs no parsing; string matching formats them on demand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Int(i64),
    Ip(IpAddr),
}

macro_rules! fields {
    ($($variant:ident => $name:literal,)*) => {
        /// Every field of every event kind, named as in the JSON output.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field { $($variant,)* }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant,)*];

            /// The name used in the JSON output (and by Sysmon where Sysmon has it).
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name,)* }
            }

            /// The field of that exact (case-sensitive) canonical name.
            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)* _ => None }
            }
        }
    };
}

fields! {
    EventId => "EventID",
    EventType => "EventType",
    UtcTime => "UtcTime",
    Computer => "Computer",
    Source => "Source",
    FlowId => "FlowId",
    CommunityId => "CommunityId",
    Protocol => "Protocol",
    SourceIp => "SourceIp",
    SourcePort => "SourcePort",
    DestinationIp => "DestinationIp",
    DestinationPort => "DestinationPort",
    SourceIsIpv6 => "SourceIsIpv6",
    DestinationIsIpv6 => "DestinationIsIpv6",
    RuleName => "RuleName",
    QueryName => "QueryName",
    QueryType => "QueryType",
    QueryStatus => "QueryStatus",
    QueryResults => "QueryResults",
    Rcode => "Rcode",
    RcodeName => "RcodeName",
    Ttl => "Ttl",
    QueryClass => "QueryClass",
    Aa => "AA",
    Tc => "TC",
    Rd => "RD",
    Ra => "RA",
    Z => "Z",
    Initiated => "Initiated",
    DestinationHostname => "DestinationHostname",
    HostnameSource => "HostnameSource",
    DestinationPortName => "DestinationPortName",
    AppProtocol => "AppProtocol",
    TlsSni => "TlsSni",
    TlsAlpn => "TlsAlpn",
    TlsVersion => "TlsVersion",
    TlsEch => "TlsEch",
    Ja3 => "Ja3",
    Ja3Hash => "Ja3Hash",
    Ja4 => "Ja4",
    QuicVersion => "QuicVersion",
    HttpHost => "HttpHost",
    HttpMethod => "HttpMethod",
    HttpUri => "HttpUri",
    HttpVersion => "HttpVersion",
    HttpUserAgent => "HttpUserAgent",
    HttpReferer => "HttpReferer",
    HttpCookie => "HttpCookie",
    HttpContentLength => "HttpContentLength",
    HttpStatus => "HttpStatus",
    Truncated => "Truncated",
    StartTime => "StartTime",
    Duration => "Duration",
    SourcePackets => "SourcePackets",
    DestinationPackets => "DestinationPackets",
    SourceBytes => "SourceBytes",
    DestinationBytes => "DestinationBytes",
    SourceWireBytes => "SourceWireBytes",
    DestinationWireBytes => "DestinationWireBytes",
    ConnState => "ConnState",
    History => "History",
    HttpRequests => "HttpRequests",
    EndReason => "EndReason",
    BeaconKind => "BeaconKind",
    Score => "Score",
    TimingScore => "TimingScore",
    SizeScore => "SizeScore",
    HistogramScore => "HistogramScore",
    DurationScore => "DurationScore",
    CheckIns => "CheckIns",
    Connections => "Connections",
    MedianInterval => "MedianInterval",
    FirstSeen => "FirstSeen",
    LastSeen => "LastSeen",
    Reason => "Reason",
    TunnelKind => "TunnelKind",
    Domain => "Domain",
    Queries => "Queries",
    DistinctSubdomains => "DistinctSubdomains",
    MeanNameLength => "MeanNameLength",
    MaxNameLength => "MaxNameLength",
    LabelEntropy => "LabelEntropy",
    NameBytesPerMinute => "NameBytesPerMinute",
    OddTypeShare => "OddTypeShare",
    Nxdomain => "Nxdomain",
    NxdomainDomains => "NxdomainDomains",
    CorrelationId => "CorrelationId",
    CorrelationTitle => "CorrelationTitle",
    CorrelationType => "CorrelationType",
    GroupBy => "GroupBy",
    Value => "Value",
    Timespan => "Timespan",
    Events => "Events",
    ContributingRules => "ContributingRules",
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

impl Event {
    /// The value of `field`, or `None` when this event does not have it (a field of
    /// another event kind, or one whose value is unknown). Detection treats `None` as null.
    pub fn get(&self, field: Field) -> Option<FieldValue<'_>> {
        use FieldValue::{Int, Ip, Str};
        let h = &self.header;
        let common = match field {
            Field::EventId => Some(Int(i64::from(self.body.event_id()))),
            Field::EventType => Some(Str(self.body.event_type())),
            Field::Computer => Some(Str(&h.computer)),
            Field::Source => Some(Str(&h.source)),
            Field::FlowId => Some(Int(h.flow_id as i64)),
            Field::CommunityId => Some(Str(&h.community_id)),
            Field::Protocol => Some(Str(h.protocol.as_str())),
            Field::SourceIp => Some(Ip(h.src_ip)),
            Field::SourcePort => Some(Int(i64::from(h.src_port))),
            Field::DestinationIp => Some(Ip(h.dst_ip)),
            Field::DestinationPort => Some(Int(i64::from(h.dst_port))),
            Field::SourceIsIpv6 => Some(Str(bool_str(h.src_ip.is_ipv6()))),
            Field::DestinationIsIpv6 => Some(Str(bool_str(h.dst_ip.is_ipv6()))),
            Field::RuleName if !self.alerts.is_empty() => Some(Str(RULE_NAME)),
            // UtcTime is formatted only for output; rules do not match on it.
            _ => None,
        };
        if common.is_some() {
            return common;
        }
        match &self.body {
            Body::Dns(d) => match field {
                Field::QueryName => Some(Str(&d.query_name)),
                Field::QueryType => Some(Str(&d.query_type)),
                Field::QueryStatus => Some(Str(&d.query_status)),
                Field::QueryResults => Some(Str(&d.query_results)),
                Field::Rcode => d.rcode.map(|r| Int(i64::from(r))),
                Field::Ttl => d.ttl.map(|t| Int(i64::from(t))),
                Field::RcodeName => d.rcode.and_then(super::dns::rcode_name).map(Str),
                Field::QueryClass => Some(Int(i64::from(d.qclass))),
                Field::Aa => Some(Str(bool_str(d.flags & super::dns::flag::AA != 0))),
                Field::Tc => Some(Str(bool_str(d.flags & super::dns::flag::TC != 0))),
                Field::Rd => Some(Str(bool_str(d.flags & super::dns::flag::RD != 0))),
                Field::Ra => Some(Str(bool_str(d.flags & super::dns::flag::RA != 0))),
                Field::Z => Some(Int(i64::from(super::dns::flag::z(d.flags)))),
                Field::Truncated => Some(Str(bool_str(d.truncated))),
                _ => None,
            },
            Body::Connect(c) => match field {
                Field::Initiated => Some(Str("true")),
                Field::DestinationHostname => {
                    Some(Str(c.destination_hostname.as_deref().unwrap_or("-")))
                }
                Field::HostnameSource => c.hostname_source.map(|s| Str(s.as_str())),
                Field::DestinationPortName => {
                    Some(Str(super::ports::port_name(h.dst_port).unwrap_or("-")))
                }
                Field::AppProtocol => Some(Str(c.app_protocol.as_str())),
                Field::TlsSni => opt(&c.tls_sni),
                Field::TlsAlpn => opt(&c.tls_alpn),
                Field::TlsVersion => opt(&c.tls_version),
                Field::TlsEch => c.tls_ech.map(|b| Str(bool_str(b))),
                Field::Ja3 => opt(&c.ja3),
                Field::Ja3Hash => opt(&c.ja3_hash),
                Field::Ja4 => opt(&c.ja4),
                Field::QuicVersion => opt(&c.quic_version),
                Field::HttpHost => opt(&c.http_host),
                Field::HttpMethod => opt(&c.http_method),
                Field::HttpUri => opt(&c.http_uri),
                Field::HttpUserAgent => opt(&c.http_user_agent),
                Field::Truncated => Some(Str(bool_str(c.truncated))),
                _ => None,
            },
            Body::Http(r) => match field {
                Field::HttpMethod => Some(Str(&r.method)),
                Field::HttpHost => opt(&r.host),
                Field::HttpUri => Some(Str(&r.uri)),
                Field::HttpVersion => Some(Str(&r.version)),
                Field::HttpUserAgent => Some(Str(&r.user_agent)),
                Field::HttpReferer => opt(&r.referer),
                Field::HttpCookie => opt(&r.cookie),
                Field::HttpContentLength => r.content_length.map(|n| Int(n as i64)),
                Field::HttpStatus => r.status.map(|s| Int(i64::from(s))),
                Field::DestinationHostname => {
                    Some(Str(r.destination_hostname.as_deref().unwrap_or("-")))
                }
                Field::Truncated => Some(Str(bool_str(r.truncated))),
                _ => None,
            },
            Body::End(e) => {
                let n = &e.names;
                let count = |v: u64| Some(Int(i64::try_from(v).unwrap_or(i64::MAX)));
                match field {
                    // Text, as `UtcTime`: rules compare it as a string if at all.
                    Field::Duration => Some(Str(e.duration.as_str())),
                    Field::SourcePackets => count(e.source_packets),
                    Field::DestinationPackets => count(e.destination_packets),
                    Field::SourceBytes => count(e.source_bytes),
                    Field::DestinationBytes => count(e.destination_bytes),
                    Field::SourceWireBytes => count(e.source_wire_bytes),
                    Field::DestinationWireBytes => count(e.destination_wire_bytes),
                    Field::ConnState => Some(Str(e.conn_state)),
                    Field::History => Some(Str(e.history.as_str())),
                    Field::AppProtocol => Some(Str(n.app_protocol.as_str())),
                    Field::DestinationHostname => {
                        Some(Str(n.destination_hostname.as_deref().unwrap_or("-")))
                    }
                    Field::HostnameSource => n.hostname_source.map(|s| Str(s.as_str())),
                    Field::TlsSni => opt(&n.tls_sni),
                    Field::Ja4 => opt(&n.ja4),
                    Field::HttpRequests => count(e.http_requests),
                    Field::QuicVersion => opt(&n.quic_version),
                    Field::EndReason => Some(Str(e.end_reason)),
                    _ => None,
                }
            }
            Body::Beacon(b) => match field {
                Field::BeaconKind => Some(Str(b.kind)),
                Field::DestinationHostname => {
                    Some(Str(b.destination_hostname.as_deref().unwrap_or("-")))
                }
                Field::Score => Some(Str(b.score.as_str())),
                Field::TimingScore => Some(Str(b.timing_score.as_str())),
                Field::SizeScore => Some(Str(b.size_score.as_str())),
                Field::HistogramScore => Some(Str(b.histogram_score.as_str())),
                Field::DurationScore => Some(Str(b.duration_score.as_str())),
                Field::CheckIns => Some(Int(i64::try_from(b.check_ins).unwrap_or(i64::MAX))),
                Field::Connections => Some(Int(i64::try_from(b.connections).unwrap_or(i64::MAX))),
                Field::MedianInterval => Some(Str(b.median_interval.as_str())),
                Field::Reason => Some(Str(&b.reason)),
                _ => None,
            },
            Body::DnsTunnel(t) => {
                let count = |v: u64| Some(Int(i64::try_from(v).unwrap_or(i64::MAX)));
                match field {
                    Field::TunnelKind => Some(Str(t.kind)),
                    Field::Domain => Some(Str(&t.domain)),
                    Field::Queries => count(t.queries),
                    Field::DistinctSubdomains => count(t.distinct_subdomains),
                    Field::MeanNameLength => Some(Str(t.mean_name_length.as_str())),
                    Field::MaxNameLength => count(t.max_name_length),
                    Field::LabelEntropy => Some(Str(t.label_entropy.as_str())),
                    Field::NameBytesPerMinute => Some(Str(t.name_bytes_per_minute.as_str())),
                    Field::OddTypeShare => Some(Str(t.odd_type_share.as_str())),
                    Field::Nxdomain => count(t.nxdomain),
                    Field::NxdomainDomains => count(t.nxdomain_domains),
                    Field::Reason => Some(Str(&t.reason)),
                    _ => None,
                }
            }
            Body::Correlation(c) => {
                let count = |v: u64| Some(Int(i64::try_from(v).unwrap_or(i64::MAX)));
                match field {
                    Field::CorrelationId => Some(Str(&c.rule_id)),
                    Field::CorrelationTitle => Some(Str(&c.rule_title)),
                    Field::CorrelationType => Some(Str(c.kind)),
                    Field::GroupBy => Some(Str(&c.group_by)),
                    Field::Value => Some(Str(&c.value)),
                    Field::Timespan => count(c.timespan),
                    Field::Events => count(c.events),
                    Field::ContributingRules => Some(Str(&c.contributing_rules)),
                    Field::Truncated => Some(Str(bool_str(c.truncated))),
                    _ => None,
                }
            }
        }
    }
}

fn opt(s: &Option<String>) -> Option<FieldValue<'_>> {
    s.as_deref().map(FieldValue::Str)
}
