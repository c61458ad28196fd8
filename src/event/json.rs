//! The JSON-lines form of events, written straight into a byte buffer.
//!
//! Field order is fixed (common fields, then the kind's fields, then `RuleName` and
//! `Alerts`) so that output diffs well. Absent optional fields are left out rather than
//! written as `null`, except names, which are `-` when unknown, as Sysmon writes them.
//! No intermediate `serde_json::Value`: this runs once per event on the worker.

use std::io::Write as _;

use super::{Alert, Body, Event, RULE_NAME};

/// Appends one event as a JSON object followed by `\n`.
pub fn write_event(out: &mut Vec<u8>, ev: &Event) {
    let h = &ev.header;
    let mut o = Obj::start(out);
    o.num("EventID", u64::from(ev.body.event_id()));
    o.str("EventType", ev.body.event_type());
    o.key("UtcTime");
    o.out.push(b'"');
    h.time.sysmon().push_to(o.out);
    o.out.push(b'"');
    o.str("Computer", &h.computer);
    o.str("Source", &h.source);
    o.num("FlowId", h.flow_id);
    o.str("CommunityId", &h.community_id);
    o.str("Protocol", h.protocol.as_str());
    o.ip("SourceIp", h.src_ip);
    o.num("SourcePort", u64::from(h.src_port));
    o.str("SourceIsIpv6", bool_str(h.src_ip.is_ipv6()));
    o.ip("DestinationIp", h.dst_ip);
    o.num("DestinationPort", u64::from(h.dst_port));
    o.str("DestinationIsIpv6", bool_str(h.dst_ip.is_ipv6()));
    match &ev.body {
        Body::Dns(d) => {
            o.str("QueryName", &d.query_name);
            o.str("QueryType", &d.query_type);
            o.str("QueryStatus", &d.query_status);
            o.str("QueryResults", &d.query_results);
            o.opt_num("Rcode", d.rcode.map(u64::from));
            o.opt_num("Ttl", d.ttl.map(u64::from));
            o.flag("Truncated", d.truncated);
        }
        Body::Connect(c) => {
            o.str("Initiated", "true");
            o.str(
                "DestinationHostname",
                c.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.opt_str("HostnameSource", c.hostname_source.map(|s| s.as_str()));
            o.str(
                "DestinationPortName",
                super::ports::port_name(h.dst_port).unwrap_or("-"),
            );
            o.str("AppProtocol", c.app_protocol.as_str());
            o.opt_str("TlsSni", c.tls_sni.as_deref());
            o.opt_str("TlsAlpn", c.tls_alpn.as_deref());
            o.opt_str("TlsVersion", c.tls_version.as_deref());
            o.opt_str("TlsEch", c.tls_ech.map(bool_str));
            o.opt_str("Ja3", c.ja3.as_deref());
            o.opt_str("Ja3Hash", c.ja3_hash.as_deref());
            o.opt_str("Ja4", c.ja4.as_deref());
            o.opt_str("QuicVersion", c.quic_version.as_deref());
            o.opt_str("HttpHost", c.http_host.as_deref());
            o.opt_str("HttpMethod", c.http_method.as_deref());
            o.opt_str("HttpUri", c.http_uri.as_deref());
            o.opt_str("HttpUserAgent", c.http_user_agent.as_deref());
            o.flag("Truncated", c.truncated);
        }
        Body::Http(r) => {
            o.str("HttpMethod", &r.method);
            o.opt_str("HttpHost", r.host.as_deref());
            o.str("HttpUri", &r.uri);
            o.str("HttpVersion", &r.version);
            o.str("HttpUserAgent", &r.user_agent);
            o.opt_str("HttpReferer", r.referer.as_deref());
            o.opt_num("HttpContentLength", r.content_length);
            o.opt_num("HttpStatus", r.status.map(u64::from));
            o.str(
                "DestinationHostname",
                r.destination_hostname.as_deref().unwrap_or("-"),
            );
            o.flag("Truncated", r.truncated);
        }
    }
    if !ev.alerts.is_empty() {
        o.str("RuleName", RULE_NAME);
        o.key("Alerts");
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
        o.str("RuleTitle", &a.rule_title);
        o.str("RuleLevel", &a.rule_level);
        o.key("RuleTags");
        o.out.push(b'[');
        for (j, t) in a.rule_tags.iter().enumerate() {
            if j > 0 {
                o.out.push(b',');
            }
            write_str(o.out, t);
        }
        o.out.push(b']');
        o.out.push(b'}');
    }
    out.push(b']');
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A JSON object being written; keys are trusted ASCII literals.
pub struct Obj<'a> {
    pub out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn start(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, first: true }
    }

    pub fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        write_str(self.out, v);
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    pub fn num(&mut self, k: &str, v: u64) {
        self.key(k);
        push_u64(self.out, v);
    }

    /// An address as a JSON string: IPv4 written digit by digit, IPv6 in Rust's
    /// `Display` form (RFC 5952).
    pub fn ip(&mut self, k: &str, ip: std::net::IpAddr) {
        self.key(k);
        self.out.push(b'"');
        match ip {
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(b'.');
                    }
                    push_u64(self.out, u64::from(octet));
                }
            }
            std::net::IpAddr::V6(v6) => {
                let _ = write!(self.out, "{v6}");
            }
        }
        self.out.push(b'"');
    }

    pub fn opt_num(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.num(k, v);
        }
    }

    /// A boolean JSON value (used for c2tap's own flags, not Sysmon's string booleans).
    pub fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A flag that is written only when set, so ordinary events stay short.
    pub fn flag(&mut self, k: &str, v: bool) {
        if v {
            self.bool(k, true);
        }
    }

    pub fn display(&mut self, k: &str, v: impl std::fmt::Display) {
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

/// Appends the decimal digits of `v`.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes `s` as a JSON string: `"`, `\` and control characters escaped.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
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
    out.push(b'"');
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
    fn strings_are_escaped_into_valid_json() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\u{1}\n\u{7f}é\\xff");
        let s = String::from_utf8(out).unwrap();
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\u{1}\n\u{7f}é\\xff");
        assert!(s.contains("\\u0001"));
    }
}
