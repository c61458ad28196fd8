//! HTTP facts → event fields: EventID 100 bodies and the HTTP part of EventID 3.
//!
//! Wire bytes become text through [`wire_text`] (lossless, capped, flagged). `HttpUri` is
//! the request target as the client sent it, as tshark and Zeek report it: an
//! absolute-form target (`GET http://h:8080/p?q`, sent to a proxy) is kept whole, and
//! its authority stands in for `HttpHost` when the client sent no Host header; a
//! CONNECT's target is `host:port`. `DestinationHostname` is the host without its port.

use super::ascii::push_u64;
use super::text::{push_wire_text, wire_text};
use super::{AppProtocol, HostnameSource, HttpRequest, NetworkConnect};
use crate::proto::http::RequestHead;

/// Text of `bytes`, or-ing the cut flag into `truncated`.
fn text(bytes: &[u8], truncated: &mut bool) -> String {
    let (s, cut) = wire_text(bytes);
    *truncated |= cut;
    s
}

/// `host[:port]` → `host`; `[v6]:port` → `v6`. A value with several colons and no
/// brackets (a bare IPv6 literal) is kept whole.
pub fn host_without_port(host: &[u8]) -> &[u8] {
    if let Some(inner) = host.strip_prefix(b"[") {
        return match inner.iter().position(|&b| b == b']') {
            Some(end) => inner.get(..end).unwrap_or(inner),
            None => inner,
        };
    }
    match host.iter().position(|&b| b == b':') {
        Some(colon) if host.iter().filter(|&&b| b == b':').count() == 1 => {
            host.get(..colon).unwrap_or(host)
        }
        _ => host,
    }
}

/// The event's `HttpUri`: the request target as sent (see the module doc).
fn uri(req: &RequestHead) -> &[u8] {
    &req.uri
}

/// EventID 100's specific fields for one request and its status, when seen.
pub fn http_request_body(req: &RequestHead, status: Option<u16>) -> HttpRequest {
    let mut body = HttpRequest::default();
    fill_http_request(req, status, &mut body);
    body
}

/// Writes EventID 100's fields over `body`, reusing its strings' buffers (the worker
/// recycles one body from event to event).
pub fn fill_http_request(req: &RequestHead, status: Option<u16>, body: &mut HttpRequest) {
    let mut truncated = req.truncated;
    let host_bytes = req.effective_host();
    set_opt_text(&mut body.host, host_bytes, &mut truncated);
    let hostname = host_bytes.map(host_without_port).filter(|h| !h.is_empty());
    set_opt_text(&mut body.destination_hostname, hostname, &mut truncated);
    set_text(&mut body.method, &req.method, &mut truncated);
    set_text(&mut body.uri, uri(req), &mut truncated);
    body.version.clear();
    if req.simple {
        body.version.push_str("HTTP/0.9");
    } else {
        body.version.push_str("HTTP/1.");
        push_u64(&mut body.version, u64::from(req.version_minor));
    }
    set_text(
        &mut body.user_agent,
        req.user_agent.as_deref().unwrap_or_default(),
        &mut truncated,
    );
    set_opt_text(&mut body.referer, req.referer.as_deref(), &mut truncated);
    set_opt_text(&mut body.cookie, req.cookie.as_deref(), &mut truncated);
    body.content_length = req.content_length();
    body.status = status;
    body.truncated = truncated;
}

/// `out` becomes the text of `bytes`, in its own buffer.
fn set_text(out: &mut String, bytes: &[u8], truncated: &mut bool) {
    out.clear();
    *truncated |= push_wire_text(out, bytes);
}

fn set_opt_text(out: &mut Option<String>, bytes: Option<&[u8]>, truncated: &mut bool) {
    match bytes {
        Some(b) => set_text(out.get_or_insert_default(), b, truncated),
        None => *out = None,
    }
}

/// Fills the HTTP fields of a connection's EventID 3 from its first request. The HTTP
/// host becomes `DestinationHostname` only when no TLS/QUIC SNI named it (an SNI is
/// what the client asked the network for; a DNS-cache name is a guess and yields).
pub fn apply_http(req: &RequestHead, conn: &mut NetworkConnect) {
    let mut truncated = false;
    let host_bytes = req.effective_host();
    conn.http_host = host_bytes.map(|h| text(h, &mut truncated));
    conn.http_method = Some(text(&req.method, &mut truncated));
    conn.http_uri = Some(text(uri(req), &mut truncated));
    conn.http_user_agent = Some(
        req.user_agent
            .as_deref()
            .map(|ua| text(ua, &mut truncated))
            .unwrap_or_default(),
    );
    if conn.app_protocol == AppProtocol::Unknown {
        conn.app_protocol = AppProtocol::Http;
    }
    let named_by_sni = matches!(
        conn.hostname_source,
        Some(HostnameSource::TlsSni | HostnameSource::QuicSni)
    ) || conn.tls_sni.is_some();
    if !named_by_sni && let Some(h) = host_bytes.map(host_without_port).filter(|h| !h.is_empty()) {
        conn.destination_hostname = Some(text(h, &mut truncated));
        conn.hostname_source = Some(HostnameSource::HttpHost);
    }
    conn.truncated |= truncated || req.truncated;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::http::parse::parse_request_head;

    fn head(bytes: &[u8]) -> RequestHead {
        parse_request_head(bytes).unwrap_or_default()
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(host_without_port(b"example.com:8080"), b"example.com");
        assert_eq!(host_without_port(b"example.com"), b"example.com");
        assert_eq!(host_without_port(b"[2001:db8::1]:443"), b"2001:db8::1");
        assert_eq!(host_without_port(b"2001:db8::1"), b"2001:db8::1");
    }

    #[test]
    fn request_event_fields() {
        let r = head(
            b"POST /a?b HTTP/1.1\r\nHost: c2.example:8080\r\nReferer: http://r/\r\nContent-Length: 3\r\n\r\n",
        );
        let e = http_request_body(&r, Some(200));
        assert_eq!(e.method, "POST");
        assert_eq!(e.host.as_deref(), Some("c2.example:8080"));
        assert_eq!(e.uri, "/a?b");
        assert_eq!(e.version, "HTTP/1.1");
        assert_eq!(e.user_agent, "");
        assert_eq!(e.referer.as_deref(), Some("http://r/"));
        assert_eq!(e.content_length, Some(3));
        assert_eq!(e.status, Some(200));
        assert_eq!(e.destination_hostname.as_deref(), Some("c2.example"));
        assert!(!e.truncated);
    }

    #[test]
    fn absolute_form_and_connect() {
        let e = http_request_body(&head(b"GET http://p.example:3128/x HTTP/1.1\r\n\r\n"), None);
        assert_eq!(
            (e.host.as_deref(), e.uri.as_str()),
            (Some("p.example:3128"), "http://p.example:3128/x")
        );
        assert_eq!(e.destination_hostname.as_deref(), Some("p.example"));
        let e = http_request_body(&head(b"CONNECT t.example:443 HTTP/1.1\r\n\r\n"), Some(200));
        assert_eq!(
            (e.host.as_deref(), e.uri.as_str()),
            (Some("t.example:443"), "t.example:443")
        );
    }

    #[test]
    fn a_reused_body_is_overwritten_whole() {
        let first = head(
            b"POST /a?b HTTP/1.1\r\nHost: c2.example:8080\r\nReferer: http://r/\r\nUser-Agent: x\r\n\r\n",
        );
        let second = head(b"GET /\xff HTTP/1.0\r\n\r\n");
        let mut body = http_request_body(&first, Some(200));
        fill_http_request(&second, None, &mut body);
        assert_eq!(body, http_request_body(&second, None));
        assert_eq!(
            (body.host, body.referer, body.version.as_str()),
            (None, None, "HTTP/1.0")
        );
    }

    #[test]
    fn wire_bytes_are_escaped() {
        let e = http_request_body(
            &head(b"GET /\xff HTTP/1.1\r\nUser-Agent: a\x01\r\n\r\n"),
            None,
        );
        assert_eq!(e.uri, "/\\xff");
        assert_eq!(e.user_agent, "a\u{1}");
    }

    #[test]
    fn connect_event_prefers_sni() {
        let r = head(b"GET / HTTP/1.1\r\nHost: h.example:80\r\nUser-Agent: ua\r\n\r\n");
        let mut c = NetworkConnect::default();
        apply_http(&r, &mut c);
        assert_eq!(c.destination_hostname.as_deref(), Some("h.example"));
        assert_eq!(c.hostname_source, Some(HostnameSource::HttpHost));
        assert_eq!(c.app_protocol, AppProtocol::Http);
        assert_eq!(c.http_user_agent.as_deref(), Some("ua"));
        let mut c = NetworkConnect {
            destination_hostname: Some("sni.example".into()),
            hostname_source: Some(HostnameSource::TlsSni),
            tls_sni: Some("sni.example".into()),
            app_protocol: AppProtocol::Tls,
            ..Default::default()
        };
        apply_http(&r, &mut c);
        assert_eq!(c.destination_hostname.as_deref(), Some("sni.example"));
        assert_eq!(c.app_protocol, AppProtocol::Tls);
        assert_eq!(c.http_host.as_deref(), Some("h.example:80"));
        let mut c = NetworkConnect {
            destination_hostname: Some("from.dns".into()),
            hostname_source: Some(HostnameSource::Dns),
            ..Default::default()
        };
        apply_http(&r, &mut c);
        assert_eq!(c.hostname_source, Some(HostnameSource::HttpHost));
    }
}
