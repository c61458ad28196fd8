//! The JSON-lines form of events, written straight into a byte buffer.
//!
//! Field order is fixed (common fields, then the kind's fields, then `RuleName` and
//! `Alerts`) so that output diffs well. Absent optional fields are left out rather than
//! written as `null`, except names, which are `-` when unknown, as Sysmon writes them.
//! No intermediate `serde_json::Value`: this runs once per event on the worker.

use std::io::Write as _;
use std::sync::Arc;

pub use super::ascii::push_u64;
use super::ascii::{push_ipv4, push_ipv6};
use super::{Alert, Body, Event, RULE_NAME};

/// `key!("Name")` is the [`Punctuated`] key `,"Name":`.
macro_rules! key {
    ($name:literal) => {
        Punctuated(concat!(",\"", $name, "\":"))
    };
}

/// Appends one event as a JSON object followed by `\n`.
pub fn write_event(out: &mut Vec<u8>, ev: &Event) {
    write_event_with(out, ev, None);
}

/// Writes events like [`write_event`], with their `Computer` and `Source` (the same
/// for every event of a run, or of a capture source) escaped once and then copied.
#[derive(Default)]
pub struct EventWriter {
    /// The names the rendered fields are of; compared by pointer (the worker hands
    /// out clones of one `Arc` per name).
    names: Option<(Arc<str>, Arc<str>)>,
    /// `,"Computer":"…","Source":"…"`.
    rendered: Vec<u8>,
}

impl EventWriter {
    pub fn write(&mut self, out: &mut Vec<u8>, ev: &Event) {
        let h = &ev.header;
        let same = self
            .names
            .as_ref()
            .is_some_and(|(c, s)| Arc::ptr_eq(c, &h.computer) && Arc::ptr_eq(s, &h.source));
        if !same {
            self.rendered.clear();
            self.rendered.extend_from_slice(b",\"Computer\":");
            write_str(&mut self.rendered, &h.computer);
            self.rendered.extend_from_slice(b",\"Source\":");
            write_str(&mut self.rendered, &h.source);
            self.names = Some((h.computer.clone(), h.source.clone()));
        }
        write_event_with(out, ev, Some(&self.rendered));
    }
}

/// `names`: the `Computer` and `Source` fields already rendered, or `None` to write
/// them here.
fn write_event_with(out: &mut Vec<u8>, ev: &Event, names: Option<&[u8]>) {
    let h = &ev.header;
    let mut o = Obj::start(out);
    o.num("EventID", u64::from(ev.body.event_id()));
    o.plain(key!("EventType"), ev.body.event_type());
    o.key(key!("UtcTime"));
    o.out.push(b'"');
    h.time.sysmon().push_to(o.out);
    o.out.push(b'"');
    match names {
        // Not the first field, so the rendered text starts with its comma.
        Some(names) => o.out.extend_from_slice(names),
        None => {
            o.str(key!("Computer"), &h.computer);
            o.str(key!("Source"), &h.source);
        }
    }
    o.num(key!("FlowId"), h.flow_id);
    o.plain(key!("CommunityId"), &h.community_id);
    o.plain(key!("Protocol"), h.protocol.as_str());
    o.ip(key!("SourceIp"), h.src_ip);
    o.num(key!("SourcePort"), u64::from(h.src_port));
    o.plain(key!("SourceIsIpv6"), bool_str(h.src_ip.is_ipv6()));
    o.ip(key!("DestinationIp"), h.dst_ip);
    o.num(key!("DestinationPort"), u64::from(h.dst_port));
    o.plain(key!("DestinationIsIpv6"), bool_str(h.dst_ip.is_ipv6()));
    match &ev.body {
        Body::Dns(d) => {
            o.str(key!("QueryName"), &d.query_name);
            o.plain(key!("QueryType"), &d.query_type);
            o.plain(key!("QueryStatus"), &d.query_status);
            o.str(key!("QueryResults"), &d.query_results);
            o.opt_num(key!("Rcode"), d.rcode.map(u64::from));
            o.opt_num(key!("Ttl"), d.ttl.map(u64::from));
            o.opt_plain(key!("RcodeName"), d.rcode.and_then(super::dns::rcode_name));
            o.num(key!("QueryClass"), u64::from(d.qclass));
            use super::dns::flag;
            o.plain(key!("AA"), bool_str(d.flags & flag::AA != 0));
            o.plain(key!("TC"), bool_str(d.flags & flag::TC != 0));
            o.plain(key!("RD"), bool_str(d.flags & flag::RD != 0));
            o.plain(key!("RA"), bool_str(d.flags & flag::RA != 0));
            o.num(key!("Z"), u64::from(flag::z(d.flags)));
            o.flag(key!("Truncated"), d.truncated);
        }
        Body::Connect(c) => {
            o.plain(key!("Initiated"), "true");
            o.str(
                key!("DestinationHostname"),
                c.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.opt_plain(
                key!("HostnameSource"),
                c.hostname_source.map(|s| s.as_str()),
            );
            o.plain(
                key!("DestinationPortName"),
                super::ports::port_name(h.dst_port).unwrap_or("-"),
            );
            o.plain(key!("AppProtocol"), c.app_protocol.as_str());
            o.opt_str(key!("TlsSni"), c.tls_sni.as_deref());
            o.opt_str(key!("TlsAlpn"), c.tls_alpn.as_deref());
            o.opt_plain(key!("TlsVersion"), c.tls_version.as_deref());
            o.opt_plain(key!("TlsEch"), c.tls_ech.map(bool_str));
            o.opt_plain(key!("Ja3"), c.ja3.as_deref());
            o.opt_plain(key!("Ja3Hash"), c.ja3_hash.as_deref());
            o.opt_plain(key!("Ja4"), c.ja4.as_deref());
            o.opt_plain(key!("QuicVersion"), c.quic_version.as_deref());
            o.opt_str(key!("HttpHost"), c.http_host.as_deref());
            o.opt_str(key!("HttpMethod"), c.http_method.as_deref());
            o.opt_str(key!("HttpUri"), c.http_uri.as_deref());
            o.opt_str(key!("HttpUserAgent"), c.http_user_agent.as_deref());
            o.flag(key!("Truncated"), c.truncated);
        }
        Body::Http(r) => {
            o.str(key!("HttpMethod"), &r.method);
            o.opt_str(key!("HttpHost"), r.host.as_deref());
            o.str(key!("HttpUri"), &r.uri);
            o.str(key!("HttpVersion"), &r.version);
            o.str(key!("HttpUserAgent"), &r.user_agent);
            o.opt_str(key!("HttpReferer"), r.referer.as_deref());
            o.opt_str(key!("HttpCookie"), r.cookie.as_deref());
            o.opt_num(key!("HttpContentLength"), r.content_length);
            o.opt_num(key!("HttpStatus"), r.status.map(u64::from));
            o.str(
                key!("DestinationHostname"),
                r.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.flag(key!("Truncated"), r.truncated);
        }
        Body::End(e) => {
            o.time(key!("StartTime"), e.start_time);
            // A number, as Zeek's `duration`.
            o.raw(key!("Duration"), e.duration.as_str());
            o.num(key!("SourcePackets"), e.source_packets);
            o.num(key!("DestinationPackets"), e.destination_packets);
            o.num(key!("SourceBytes"), e.source_bytes);
            o.num(key!("DestinationBytes"), e.destination_bytes);
            o.num(key!("SourceWireBytes"), e.source_wire_bytes);
            o.num(key!("DestinationWireBytes"), e.destination_wire_bytes);
            o.plain(key!("ConnState"), e.conn_state);
            o.plain(key!("History"), e.history.as_str());
            let n = &e.names;
            o.plain(key!("AppProtocol"), n.app_protocol.as_str());
            o.str(
                key!("DestinationHostname"),
                n.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.opt_plain(
                key!("HostnameSource"),
                n.hostname_source.map(|s| s.as_str()),
            );
            o.opt_str(key!("TlsSni"), n.tls_sni.as_deref());
            o.opt_plain(key!("Ja4"), n.ja4.as_deref());
            o.num(key!("HttpRequests"), e.http_requests);
            o.opt_plain(key!("QuicVersion"), n.quic_version.as_deref());
            o.plain(key!("EndReason"), e.end_reason);
        }
        Body::Beacon(b) => {
            o.plain(key!("BeaconKind"), b.kind);
            o.str(
                key!("DestinationHostname"),
                b.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.raw(key!("Score"), b.score.as_str());
            o.raw(key!("TimingScore"), b.timing_score.as_str());
            o.raw(key!("SizeScore"), b.size_score.as_str());
            o.raw(key!("HistogramScore"), b.histogram_score.as_str());
            o.raw(key!("DurationScore"), b.duration_score.as_str());
            o.num(key!("CheckIns"), b.check_ins);
            o.num(key!("Connections"), b.connections);
            o.raw(key!("MedianInterval"), b.median_interval.as_str());
            o.time(key!("FirstSeen"), b.first_seen);
            o.time(key!("LastSeen"), b.last_seen);
            o.str(key!("Reason"), &b.reason);
            o.counts(key!("CheckInHistogram"), &b.check_in_histogram);
            o.raw(
                key!("HistogramBinSeconds"),
                b.histogram_bin_seconds.as_str(),
            );
        }
        Body::DnsTunnel(t) => {
            o.plain(key!("TunnelKind"), t.kind);
            o.str(key!("Domain"), &t.domain);
            o.num(key!("Queries"), t.queries);
            o.num(key!("DistinctSubdomains"), t.distinct_subdomains);
            o.raw(key!("MeanNameLength"), t.mean_name_length.as_str());
            o.num(key!("MaxNameLength"), t.max_name_length);
            o.raw(key!("LabelEntropy"), t.label_entropy.as_str());
            o.raw(key!("NameBytesPerMinute"), t.name_bytes_per_minute.as_str());
            o.raw(key!("OddTypeShare"), t.odd_type_share.as_str());
            o.num(key!("Nxdomain"), t.nxdomain);
            o.num(key!("NxdomainDomains"), t.nxdomain_domains);
            o.time(key!("FirstSeen"), t.first_seen);
            o.time(key!("LastSeen"), t.last_seen);
            o.str(key!("Reason"), &t.reason);
            o.counts(key!("QueryHistogram"), &t.query_histogram);
        }
        Body::Correlation(c) => {
            o.str(key!("CorrelationId"), &c.rule_id);
            o.str(key!("CorrelationTitle"), &c.rule_title);
            o.plain(key!("CorrelationType"), c.kind);
            o.str(key!("GroupBy"), &c.group_by);
            o.raw(key!("Value"), &c.value);
            o.num(key!("Timespan"), c.timespan);
            o.num(key!("Events"), c.events);
            o.time(key!("FirstSeen"), c.first_seen);
            o.time(key!("LastSeen"), c.last_seen);
            o.str(key!("ContributingRules"), &c.contributing_rules);
            o.flag(key!("Truncated"), c.truncated);
        }
    }
    if !ev.alerts.is_empty() {
        o.plain(key!("RuleName"), RULE_NAME);
        o.key(key!("Alerts"));
        write_alerts(o.out, &ev.alerts);
    }
    o.end();
}

fn write_alerts(out: &mut Vec<u8>, alerts: &[Alert]) {
    out.push(b'[');
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = Obj::start(out);
        o.str("RuleId", &a.rule_id);
        o.str(key!("RuleTitle"), &a.rule_title);
        o.str(key!("RuleLevel"), &a.rule_level);
        o.key(key!("RuleTags"));
        o.out.push(b'[');
        for (j, t) in a.rule_tags.iter().enumerate() {
            if j > 0 {
                o.out.push(b',');
            }
            write_str(o.out, t);
        }
        o.out.push(b']');
        // Rendered (and checked to be JSON) at rule load: one copy per alert.
        if let Some(m) = &a.mappings {
            o.raw(key!("Mappings"), m);
        }
        o.out.push(b'}');
    }
    out.push(b']');
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A field name as [`Obj`] writes it: a plain name (`"Name"`, with the comma added when
/// it is not the first field) or a [`Punctuated`] one from [`key!`].
pub trait Key {
    fn write_to(self, o: &mut Obj<'_>);
}

impl Key for &str {
    #[inline(always)]
    fn write_to(self, o: &mut Obj<'_>) {
        o.out.reserve(self.len() + 4);
        if !o.first {
            o.out.push(b',');
        }
        o.first = false;
        o.out.push(b'"');
        o.out.extend_from_slice(self.as_bytes());
        o.out.extend_from_slice(b"\":");
    }
}

/// A field name with its punctuation, `,"Name":`, built at compile time by [`key!`]:
/// one copy per field instead of four pushes (an event has about twenty fields).
/// Never the first field of an object.
#[derive(Clone, Copy)]
pub struct Punctuated(pub &'static str);

impl Key for Punctuated {
    #[inline(always)]
    fn write_to(self, o: &mut Obj<'_>) {
        debug_assert!(!o.first, "a punctuated key cannot open an object");
        o.first = false;
        o.out.extend_from_slice(self.0.as_bytes());
    }
}

/// A JSON object being written; keys are trusted ASCII literals. The small writers are
/// inlined so that a literal key is copied with its length known (a few moves rather
/// than a call to `memcpy`): per field, the call had cost as much as the writing.
pub struct Obj<'a> {
    pub out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn start(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    #[inline(always)]
    pub fn key(&mut self, k: impl Key) {
        k.write_to(self);
    }

    #[inline(always)]
    pub fn str(&mut self, k: impl Key, v: &str) {
        self.key(k);
        write_str(self.out, v);
    }

    /// A value c2tap wrote itself, never wire text (an enum's name, a table entry, a
    /// fingerprint, a Community ID): ASCII with nothing to escape, so it is copied
    /// without the escape scan.
    #[inline(always)]
    pub fn plain(&mut self, k: impl Key, v: &str) {
        debug_assert_eq!(clean_prefix_len(v.as_bytes()), v.len());
        self.key(k);
        self.out.reserve(v.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(v.as_bytes());
        self.out.push(b'"');
    }

    #[inline(always)]
    pub fn opt_plain(&mut self, k: impl Key, v: Option<&str>) {
        if let Some(v) = v {
            self.plain(k, v);
        }
    }

    #[inline(always)]
    pub fn opt_str(&mut self, k: impl Key, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    #[inline(always)]
    /// A number already written as text (digits and one dot: `Short::fixed`).
    pub fn raw(&mut self, k: impl Key, v: &str) {
        self.key(k);
        self.out.extend_from_slice(v.as_bytes());
    }

    /// A time in Sysmon's form, `2026-11-22 09:31:03.722`.
    pub fn time(&mut self, k: impl Key, t: crate::time::Timestamp) {
        self.key(k);
        self.out.push(b'"');
        t.sysmon().push_to(self.out);
        self.out.push(b'"');
    }

    pub fn num(&mut self, k: impl Key, v: u64) {
        self.key(k);
        push_u64(self.out, v);
    }

    /// A JSON array of counts.
    pub fn counts(&mut self, k: impl Key, v: &[u32]) {
        self.key(k);
        self.out.push(b'[');
        for (i, &n) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            push_u64(self.out, u64::from(n));
        }
        self.out.push(b']');
    }

    /// An address as a JSON string, in `Display` form (RFC 5952 for IPv6).
    #[inline(always)]
    pub fn ip(&mut self, k: impl Key, ip: std::net::IpAddr) {
        self.key(k);
        self.out.push(b'"');
        match ip {
            std::net::IpAddr::V4(v4) => push_ipv4(self.out, v4),
            std::net::IpAddr::V6(v6) => push_ipv6(self.out, v6),
        }
        self.out.push(b'"');
    }

    #[inline(always)]
    pub fn opt_num(&mut self, k: impl Key, v: Option<u64>) {
        if let Some(v) = v {
            self.num(k, v);
        }
    }

    /// A boolean JSON value (used for c2tap's own flags, not Sysmon's string booleans).
    #[inline(always)]
    pub fn bool(&mut self, k: impl Key, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A flag that is written only when set, so ordinary events stay short.
    #[inline(always)]
    pub fn flag(&mut self, k: impl Key, v: bool) {
        if v {
            self.bool(k, true);
        }
    }

    pub fn display(&mut self, k: impl Key, v: impl std::fmt::Display) {
        self.key(k);
        self.out.push(b'"');
        let _ = write!(self.out, "{v}");
        self.out.push(b'"');
    }

    /// Closes the object and ends the line.
    pub fn end(self) {
        self.out.extend_from_slice(b"}\n");
    }
}

/// Writes `s` as a JSON string: `"`, `\` and control characters escaped.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len().saturating_add(2));
    out.push(b'"');
    // Almost every value needs no escape: copy the clean prefix in one go.
    let clean = clean_prefix_len(bytes);
    let (head, rest) = bytes.split_at(clean);
    out.extend_from_slice(head);
    if !rest.is_empty() {
        write_escaped(out, rest);
    }
    out.push(b'"');
}

/// Whether JSON needs `b` escaped (as written by [`write_escaped`]).
fn needs_escape(b: u8) -> bool {
    matches!(b, b'"' | b'\\' | 0..=0x1f | 0x7f)
}

/// Length of the longest prefix of `bytes` with nothing to escape. Eight bytes are
/// tested at once, and a string whose last eight bytes are clean too needs no byte
/// loop at all; the byte loop only finds where the first escape is.
fn clean_prefix_len(bytes: &[u8]) -> usize {
    let mut n = 0;
    for chunk in bytes.chunks_exact(8) {
        if word_needs_escape(chunk) {
            break;
        }
        n += 8;
    }
    if n == bytes.len() {
        return n;
    }
    // Every whole word was clean: the tail (under 8 bytes) is covered by the last,
    // overlapping, word.
    let tail = bytes.len() - n;
    if n >= 8 && tail < 8 && !word_needs_escape(&bytes[bytes.len() - 8..]) {
        return bytes.len();
    }
    n + bytes[n..].iter().take_while(|&&b| !needs_escape(b)).count()
}

/// Whether one of these 8 bytes needs an escape: the classic "has a zero byte" and
/// "has a byte less than" bit tricks, exact as a yes/no answer for the whole word.
fn word_needs_escape(chunk: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    let w = u64::from_le_bytes(word);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    // Some byte below 0x20 (bytes ≥ 0x80 are excluded by the `!w` term).
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
    control
        || has_zero(w ^ (ONES * u64::from(b'"')))
        || has_zero(w ^ (ONES * u64::from(b'\\')))
        || has_zero(w ^ (ONES * 0x7f))
}

/// The escaping loop, from the first byte that may need it.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses() {
        for v in [0u64, 7, 10, 99, 100, 65535, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
        for ip in [
            "0.0.0.0",
            "192.0.2.255",
            "10.20.3.4",
            "::1",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = Vec::new();
            let mut o = Obj::start(&mut out);
            o.ip("a", ip);
            o.end();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{{\"a\":\"{ip}\"}}\n")
            );
        }
    }

    #[test]
    fn event_writer_matches_write_event() {
        use crate::event::{Body, DnsQuery, Event, Header, Transport};
        let header = |computer: &Arc<str>, source: &Arc<str>| Header {
            time: crate::time::Timestamp::from_secs(1),
            computer: computer.clone(),
            source: source.clone(),
            flow_id: 7,
            community_id: "1:x".into(),
            protocol: Transport::Udp,
            src_ip: "10.0.0.1".parse().unwrap(),
            src_port: 5353,
            dst_ip: "2001:db8::1".parse().unwrap(),
            dst_port: 53,
        };
        let mut writer = EventWriter::default();
        let a: Arc<str> = Arc::from("host \"a\"");
        let b: Arc<str> = Arc::from("/tmp/x.pcap");
        let c: Arc<str> = Arc::from("eth0");
        for (computer, source) in [(&a, &b), (&a, &b), (&a, &c), (&b, &c)] {
            let ev = Event {
                header: header(computer, source),
                body: Body::Dns(DnsQuery::default()),
                alerts: Vec::new(),
            };
            let (mut plain, mut cached) = (Vec::new(), Vec::new());
            write_event(&mut plain, &ev);
            writer.write(&mut cached, &ev);
            assert_eq!(
                String::from_utf8(cached).unwrap(),
                String::from_utf8(plain).unwrap()
            );
        }
    }

    #[test]
    fn strings_are_escaped_into_valid_json() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\u{1}\n\u{7f}é\\xff");
        let s = String::from_utf8(out).unwrap();
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\u{1}\n\u{7f}é\\xff");
        assert!(s.contains("\\u0001"));
    }

    #[test]
    fn escapes_found_at_every_position() {
        let specials = [b'"', b'\\', 0u8, 0x1f, 0x7f, b'\n'];
        for len in 0..20 {
            for pos in 0..len {
                for &sp in &specials {
                    let mut bytes = vec![b'a'; len];
                    // Bytes ≥ 0x80 and just above 0x20 must not be taken for escapes.
                    if len > 1 {
                        bytes[(pos + 1) % len] = 0xc3;
                    }
                    bytes[pos] = sp;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let mut out = Vec::new();
                    write_str(&mut out, &text);
                    let back: String = serde_json::from_slice(&out).unwrap();
                    assert_eq!(back, text);
                    assert_eq!(
                        clean_prefix_len(text.as_bytes()),
                        text.find(|c: char| {
                            (c as u32) < 0x20 || c == '"' || c == '\\' || c == '\u{7f}'
                        })
                        .unwrap_or(text.len())
                    );
                }
            }
        }
        let clean = " !#$%&~\u{80}é€".repeat(5);
        assert_eq!(clean_prefix_len(clean.as_bytes()), clean.len());
    }
}
