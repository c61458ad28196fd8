//! Field names across vendors: which event kind a rule's logsource selects, and which
//! event field each name a rule (or a JSON event) uses denotes.
//!
//! One table serves both directions: rules compile their field names through
//! [`resolve`], and `rules test` maps the keys of JSON events through the same function,
//! so a Zeek-named event matches a Sysmon-named rule and the other way round.

use crate::event::Field;

/// The event kinds c2tap produces, which are also the routes of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// EventID 22.
    Dns,
    /// EventID 3.
    Connect,
    /// EventID 100.
    Http,
    /// EventID 101 (logsource `product: c2tap`, `category: connection_end`).
    ConnEnd,
    /// EventID 110 (`category: beacon`).
    Beacon,
    /// EventID 111 (`category: dns_tunnel`).
    DnsTunnel,
    /// EventID 120 (`category: correlation`).
    Correlation,
}

impl EventKind {
    pub const COUNT: usize = 7;
    pub const ALL: [EventKind; EventKind::COUNT] = [
        EventKind::Dns,
        EventKind::Connect,
        EventKind::Http,
        EventKind::ConnEnd,
        EventKind::Beacon,
        EventKind::DnsTunnel,
        EventKind::Correlation,
    ];

    pub fn event_id(self) -> u32 {
        match self {
            EventKind::Dns => 22,
            EventKind::Connect => 3,
            EventKind::Http => 100,
            EventKind::ConnEnd => 101,
            EventKind::Beacon => 110,
            EventKind::DnsTunnel => 111,
            EventKind::Correlation => 120,
        }
    }

    pub fn from_event_id(id: i64) -> Option<EventKind> {
        match id {
            22 => Some(EventKind::Dns),
            3 => Some(EventKind::Connect),
            100 => Some(EventKind::Http),
            101 => Some(EventKind::ConnEnd),
            110 => Some(EventKind::Beacon),
            111 => Some(EventKind::DnsTunnel),
            120 => Some(EventKind::Correlation),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        match self {
            EventKind::Dns => 0,
            EventKind::Connect => 1,
            EventKind::Http => 2,
            EventKind::ConnEnd => 3,
            EventKind::Beacon => 4,
            EventKind::DnsTunnel => 5,
            EventKind::Correlation => 6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Dns => "dns",
            EventKind::Connect => "network_connection",
            EventKind::Http => "proxy",
            EventKind::ConnEnd => "connection_end",
            EventKind::Beacon => "beacon",
            EventKind::DnsTunnel => "dns_tunnel",
            EventKind::Correlation => "correlation",
        }
    }
}

/// Fields computed from `HttpUri` by the field-source layer: proxy logs split the URI,
/// c2tap's events keep it whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Virtual {
    /// `c-uri-stem`: the path, without the query.
    UriStem,
    /// `c-uri-query`: the query, without the `?`.
    UriQuery,
    /// `c-uri-extension`: the extension of the path's last segment, without the dot.
    UriExtension,
}

impl Virtual {
    pub fn name(self) -> &'static str {
        match self {
            Virtual::UriStem => "c-uri-stem",
            Virtual::UriQuery => "c-uri-query",
            Virtual::UriExtension => "c-uri-extension",
        }
    }

    /// Computes the virtual field from a request target (origin or absolute form).
    pub fn compute(self, uri: &str) -> Option<&str> {
        // An absolute-form target (proxy requests) starts with a scheme; its path starts
        // at the first `/` after `://`.
        let path_and_query = match uri.find("://") {
            Some(i) => {
                let rest = uri.get(i + 3..).unwrap_or("");
                rest.find('/').and_then(|j| rest.get(j..)).unwrap_or("/")
            }
            None => uri,
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let path = path.split('#').next().unwrap_or(path);
        match self {
            Virtual::UriStem => Some(path),
            Virtual::UriQuery => query,
            Virtual::UriExtension => {
                let last = path.rsplit('/').next().unwrap_or(path);
                last.rsplit_once('.').map(|(_, ext)| ext)
            }
        }
    }
}

/// What a field name denotes once mapped.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldKey {
    /// A field of c2tap's events.
    Event(Field),
    /// A field computed from `HttpUri`.
    Virtual(Virtual),
    /// A host-only field (process, user, firewall verdict): never on a network event.
    HostOnly(String),
    /// A network field c2tap does not produce (Zeek's `resp_mime_types`, the DNS
    /// taxonomy's `answer` text): absent on every event c2tap makes, so classified as
    /// host-only fields are; JSON events may still carry it.
    Unproduced(String),
    /// Any other name: a network field c2tap does not produce (Zeek's `Z`, proxies'
    /// `cs-cookie`); JSON events may carry it under that literal name.
    Other(String),
}

impl FieldKey {
    /// The canonical display name (normalized across vendors).
    pub fn name(&self) -> &str {
        match self {
            FieldKey::Event(f) => f.name(),
            FieldKey::Virtual(v) => v.name(),
            FieldKey::HostOnly(s) | FieldKey::Unproduced(s) | FieldKey::Other(s) => s,
        }
    }

    /// True when c2tap's events can carry this field at all.
    pub fn observable(&self) -> bool {
        !matches!(self, FieldKey::HostOnly(_) | FieldKey::Unproduced(_))
    }
}

/// Names that denote event fields (vendor name → field), besides the canonical names.
/// Lower-case: lookups are case-insensitive because vendors disagree on case.
const ALIASES: &[(&str, Field)] = &[
    // Proxy (W3C extended log format, as Sigma's proxy taxonomy uses it).
    ("c-uri", Field::HttpUri),
    ("cs-uri", Field::HttpUri),
    ("c-useragent", Field::HttpUserAgent),
    ("cs-user-agent", Field::HttpUserAgent),
    ("cs(user-agent)", Field::HttpUserAgent),
    ("cs-host", Field::HttpHost),
    ("cs-method", Field::HttpMethod),
    ("cs-referrer", Field::HttpReferer),
    ("cs(referer)", Field::HttpReferer),
    ("cs-cookie", Field::HttpCookie),
    ("cs(cookie)", Field::HttpCookie),
    ("cs-version", Field::HttpVersion),
    ("r-dns", Field::DestinationHostname),
    ("sc-status", Field::HttpStatus),
    ("src_ip", Field::SourceIp),
    ("c-ip", Field::SourceIp),
    ("dst_ip", Field::DestinationIp),
    ("r-ip", Field::DestinationIp),
    ("src_port", Field::SourcePort),
    ("dst_port", Field::DestinationPort),
    ("r-port", Field::DestinationPort),
    // Zeek dns / http / ssl / conn.
    ("query", Field::QueryName),
    ("qtype_name", Field::QueryType),
    ("answers", Field::QueryResults),
    ("rcode", Field::Rcode),
    ("rcode_name", Field::RcodeName),
    ("qclass", Field::QueryClass),
    ("ttls", Field::Ttl),
    ("id.orig_h", Field::SourceIp),
    ("id.orig_p", Field::SourcePort),
    ("id.resp_h", Field::DestinationIp),
    ("id.resp_p", Field::DestinationPort),
    ("proto", Field::Protocol),
    ("service", Field::AppProtocol),
    // Zeek conn.log, on the connection summary (EventID 101).
    ("duration", Field::Duration),
    ("orig_pkts", Field::SourcePackets),
    ("resp_pkts", Field::DestinationPackets),
    ("orig_bytes", Field::SourceBytes),
    ("resp_bytes", Field::DestinationBytes),
    ("conn_state", Field::ConnState),
    ("history", Field::History),
    ("event.duration", Field::Duration),
    ("source.packets", Field::SourcePackets),
    ("destination.packets", Field::DestinationPackets),
    ("source.bytes", Field::SourceBytes),
    ("destination.bytes", Field::DestinationBytes),
    ("uid", Field::FlowId),
    ("host", Field::HttpHost),
    ("uri", Field::HttpUri),
    ("user_agent", Field::HttpUserAgent),
    ("method", Field::HttpMethod),
    ("status_code", Field::HttpStatus),
    ("referrer", Field::HttpReferer),
    ("version", Field::HttpVersion),
    ("request_body_len", Field::HttpContentLength),
    ("server_name", Field::TlsSni),
    ("ja3", Field::Ja3Hash),
    ("ja4", Field::Ja4),
    ("next_protocol", Field::TlsAlpn),
    // ECS.
    ("dns.question.name", Field::QueryName),
    ("dns.question.type", Field::QueryType),
    ("dns.answers.data", Field::QueryResults),
    ("source.ip", Field::SourceIp),
    ("source.port", Field::SourcePort),
    ("destination.ip", Field::DestinationIp),
    ("destination.port", Field::DestinationPort),
    ("destination.domain", Field::DestinationHostname),
    ("network.transport", Field::Protocol),
    ("network.protocol", Field::AppProtocol),
    ("network.community_id", Field::CommunityId),
    ("url.original", Field::HttpUri),
    ("url.full", Field::HttpUri),
    ("url.domain", Field::HttpHost),
    ("user_agent.original", Field::HttpUserAgent),
    ("http.request.method", Field::HttpMethod),
    ("http.request.referrer", Field::HttpReferer),
    ("http.request.body.bytes", Field::HttpContentLength),
    ("http.response.status_code", Field::HttpStatus),
    ("http.version", Field::HttpVersion),
    ("tls.client.server_name", Field::TlsSni),
    ("tls.client.ja3", Field::Ja3Hash),
    ("tls.client.ja4", Field::Ja4),
    ("tls.version", Field::TlsVersion),
    ("event.code", Field::EventId),
    ("host.name", Field::Computer),
    ("eventid", Field::EventId),
];

const VIRTUAL_ALIASES: &[(&str, Virtual)] = &[
    ("c-uri-stem", Virtual::UriStem),
    ("cs-uri-stem", Virtual::UriStem),
    ("url.path", Virtual::UriStem),
    ("c-uri-query", Virtual::UriQuery),
    ("cs-uri-query", Virtual::UriQuery),
    ("url.query", Virtual::UriQuery),
    ("c-uri-extension", Virtual::UriExtension),
    ("url.extension", Virtual::UriExtension),
];

/// Fields only the host sees: the process, its user, files, registry, script text, and
/// a firewall's verdict. Normalized names (first column) group vendor spellings.
const HOST_ONLY: &[(&str, &str)] = &[
    ("image", "Image"),
    ("process.executable", "Image"),
    ("process.name", "Image"),
    ("process_name", "Image"),
    ("process_path", "Image"),
    ("parentimage", "ParentImage"),
    ("process.parent.executable", "ParentImage"),
    ("parent_process_name", "ParentImage"),
    ("commandline", "CommandLine"),
    ("process.command_line", "CommandLine"),
    ("parentcommandline", "ParentCommandLine"),
    ("process.parent.command_line", "ParentCommandLine"),
    ("user", "User"),
    ("user.name", "User"),
    ("originalfilename", "OriginalFileName"),
    ("hashes", "Hashes"),
    ("product", "Product"),
    ("company", "Company"),
    ("description", "Description"),
    ("integritylevel", "IntegrityLevel"),
    ("currentdirectory", "CurrentDirectory"),
    ("processid", "ProcessId"),
    ("processguid", "ProcessGuid"),
    ("parentprocessid", "ParentProcessId"),
    ("parentprocessguid", "ParentProcessGuid"),
    ("logonid", "LogonId"),
    ("sourcehostname", "SourceHostname"),
    ("targetfilename", "TargetFilename"),
    ("targetobject", "TargetObject"),
    ("scriptblocktext", "ScriptBlockText"),
    ("contents", "Contents"),
    ("newprocessname", "Image"),
    ("parentprocessname", "ParentImage"),
    ("subjectusername", "User"),
    ("action", "action"),
    ("blocked", "blocked"),
];

/// Network fields of SigmaHQ's rules that no c2tap event carries (see
/// [`FieldKey::Unproduced`]): the DNS taxonomy's answer text and record type (c2tap
/// writes answers as Sysmon does, in `QueryResults`, without TXT contents), Zeek's
/// http.log MIME types and header-name list, and Zeek's dns.log `rejected`.
const UNPRODUCED: &[&str] = &[
    "answer",
    "record_type",
    "resp_mime_types",
    "orig_mime_types",
    "client_header_names",
    "server_header_names",
    "rejected",
];

/// Maps a field name as a rule or a JSON event writes it onto what it denotes.
pub fn resolve(name: &str) -> FieldKey {
    if let Some(f) = Field::from_name(name) {
        return FieldKey::Event(f);
    }
    let lower = name.to_ascii_lowercase();
    if let Some(f) = Field::ALL
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    {
        return FieldKey::Event(*f);
    }
    if let Some((_, f)) = ALIASES.iter().find(|(n, _)| *n == lower) {
        return FieldKey::Event(*f);
    }
    if let Some((_, v)) = VIRTUAL_ALIASES.iter().find(|(n, _)| *n == lower) {
        return FieldKey::Virtual(*v);
    }
    if let Some((_, canon)) = HOST_ONLY.iter().find(|(n, _)| *n == lower) {
        return FieldKey::HostOnly((*canon).to_string());
    }
    if UNPRODUCED.contains(&lower.as_str()) {
        return FieldKey::Unproduced(name.to_string());
    }
    FieldKey::Other(name.to_string())
}

/// [`resolve`] for a rule of one event kind: the few names whose meaning depends on
/// the log (Zeek's `version` is the HTTP version in http.log, the TLS version in
/// ssl.log).
pub fn resolve_in(name: &str, kind: Option<EventKind>) -> FieldKey {
    if kind == Some(EventKind::Connect) && name.eq_ignore_ascii_case("version") {
        return FieldKey::Event(Field::TlsVersion);
    }
    resolve(name)
}

/// A rule's `logsource`, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl LogSource {
    /// The event kind this logsource describes, or `None` when a network sensor does not
    /// produce it (process creation, Zeek smb_files, ...).
    pub fn kind(&self) -> Option<EventKind> {
        let cat = self.category.as_deref().map(str::to_ascii_lowercase);
        let product = self.product.as_deref().map(str::to_ascii_lowercase);
        let service = self.service.as_deref().map(str::to_ascii_lowercase);
        if product.as_deref() == Some("zeek") {
            return match service.as_deref().or(cat.as_deref()) {
                Some("dns") => Some(EventKind::Dns),
                Some("http") => Some(EventKind::Http),
                Some("ssl") | Some("conn") => Some(EventKind::Connect),
                _ => None,
            };
        }
        match cat.as_deref() {
            // c2tap's own events (DESIGN §3), whatever the product says.
            Some("connection_end") => Some(EventKind::ConnEnd),
            Some("beacon") => Some(EventKind::Beacon),
            Some("dns_tunnel") => Some(EventKind::DnsTunnel),
            Some("correlation") => Some(EventKind::Correlation),
            Some("dns_query") | Some("dns") => Some(EventKind::Dns),
            Some("network_connection") | Some("firewall") => Some(EventKind::Connect),
            Some("proxy") => Some(EventKind::Http),
            _ => None,
        }
    }

    /// A short label: `category` or `product/service`.
    pub fn label(&self) -> String {
        let parts: Vec<&str> = [
            self.product.as_deref(),
            self.category.as_deref(),
            self.service.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_across_vendors_meet() {
        assert_eq!(resolve("QueryName"), FieldKey::Event(Field::QueryName));
        assert_eq!(resolve("query"), FieldKey::Event(Field::QueryName));
        assert_eq!(
            resolve("dns.question.name"),
            FieldKey::Event(Field::QueryName)
        );
        assert_eq!(resolve("cs-host"), FieldKey::Event(Field::HttpHost));
        assert_eq!(resolve("c-uri-stem"), FieldKey::Virtual(Virtual::UriStem));
        assert_eq!(resolve("Image"), FieldKey::HostOnly("Image".into()));
        assert_eq!(resolve("process.name"), FieldKey::HostOnly("Image".into()));
        assert_eq!(resolve("Z"), FieldKey::Event(Field::Z));
        assert_eq!(resolve("cs-cookie"), FieldKey::Event(Field::HttpCookie));
        assert_eq!(
            resolve("resp_mime_types"),
            FieldKey::Unproduced("resp_mime_types".into())
        );
        assert_eq!(resolve("x-vendor"), FieldKey::Other("x-vendor".into()));
        assert_eq!(
            resolve_in("version", Some(EventKind::Connect)),
            FieldKey::Event(Field::TlsVersion)
        );
        assert_eq!(
            resolve_in("version", Some(EventKind::Http)),
            FieldKey::Event(Field::HttpVersion)
        );
    }

    #[test]
    fn virtual_uri_parts() {
        let u = "/a/b/file.tar.gz?x=1&y=2";
        assert_eq!(Virtual::UriStem.compute(u), Some("/a/b/file.tar.gz"));
        assert_eq!(Virtual::UriQuery.compute(u), Some("x=1&y=2"));
        assert_eq!(Virtual::UriExtension.compute(u), Some("gz"));
        assert_eq!(Virtual::UriExtension.compute("/dir.d/file"), None);
        assert_eq!(Virtual::UriQuery.compute("/x"), None);
        let abs = "http://h.example/p/q.php?z";
        assert_eq!(Virtual::UriStem.compute(abs), Some("/p/q.php"));
        assert_eq!(Virtual::UriExtension.compute(abs), Some("php"));
    }

    #[test]
    fn logsources_route_to_kinds() {
        let ls = |c: Option<&str>, p: Option<&str>, s: Option<&str>| LogSource {
            category: c.map(Into::into),
            product: p.map(Into::into),
            service: s.map(Into::into),
        };
        assert_eq!(
            ls(Some("dns_query"), Some("windows"), None).kind(),
            Some(EventKind::Dns)
        );
        assert_eq!(ls(Some("proxy"), None, None).kind(), Some(EventKind::Http));
        assert_eq!(
            ls(None, Some("zeek"), Some("ssl")).kind(),
            Some(EventKind::Connect)
        );
        assert_eq!(ls(None, Some("zeek"), Some("smb_files")).kind(), None);
        assert_eq!(
            ls(Some("process_creation"), Some("windows"), None).kind(),
            None
        );
    }
}
