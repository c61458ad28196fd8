//! Pure HTTP/1.x head parsing: the probe, request and response heads.
//!
//! The fast path is `httparse` (strict, zero-copy); any head it refuses is handed to the
//! lenient line parser (`lenient.rs`), which unfolds obsolete line folding, skips
//! header lines it cannot read and keeps raw bytes that are not UTF-8. Nothing here
//! buffers: callers pass the bytes of one head and get an owned head back.

use crate::proto::Verdict;

use super::fields::HeadBuilder;
pub use super::head::{Framing, RequestHead, ResponseHead};
use super::lenient::{self, is_tchar};
use super::{InvalidKind, MAX_HEAD_BYTES};

/// Headers the fast path can hold. httparse needs a fixed array; 96 is well above what
/// browsers send (20–30) and keeps the array at 3 KiB of stack. A head with more
/// headers is not lost: it goes to the lenient parser, which has no count cap (the
/// head itself is capped at [`MAX_HEAD_BYTES`]).
pub const MAX_HEADERS: usize = 96;

/// Request methods c2tap recognises: RFC 9110 §9 and the IANA HTTP Method Registry
/// (WebDAV RFC 4918, DeltaV RFC 3253, CalDAV RFC 4791, ACL RFC 3744, BIND RFC 5842,
/// RFC 5323 SEARCH, RFC 4437 redirect refs, RFC 5789 PATCH). Case-sensitive, as servers
/// treat them (RFC 9110 §9.1). A closed list keeps the probe from claiming any
/// "WORD " stream on any port.
pub const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"CHECKIN",
    b"UNCHECKOUT",
    b"MERGE",
    b"MKWORKSPACE",
    b"UPDATE",
    b"LABEL",
    b"VERSION-CONTROL",
    b"BASELINE-CONTROL",
    b"MKCALENDAR",
    b"ACL",
    b"BIND",
    b"UNBIND",
    b"REBIND",
    b"MKREDIRECTREF",
    b"UPDATEREDIRECTREF",
    b"ORDERPATCH",
];

/// Longest entry of [`METHODS`] plus its space: the most bytes a probe waits for before
/// it knows a registered method.
pub const MAX_PROBE_BYTES: usize = 18;

/// Longest extension method the probe takes (RFC 9110 §9.1: any token is a method).
/// RFC 9110 sets no limit; the registry's longest is 17 bytes (UPDATEREDIRECTREF), and the
/// verbs met beyond it — RPC over HTTP's `RPC_IN_DATA`/`RPC_OUT_DATA`, a C2 framework's
/// own word — are words: 32 keeps them and bounds the scan.
pub const MAX_EXTENSION_METHOD: usize = 32;

/// Does `first` start like an HTTP/1.x request line? Used on any port. A registered
/// method ([`METHODS`]) and a space are enough; any other token is a method only in a
/// whole request line that ends in `HTTP/1.x` (so "WORD " streams of other protocols,
/// SMTP's `EHLO host` or FTP's `USER name`, are not taken for HTTP).
pub fn probe(first: &[u8]) -> Verdict {
    match first.first() {
        None => return Verdict::NeedMore,
        Some(b) if !is_tchar(b) => return Verdict::NoMatch,
        Some(_) => {}
    }
    let mut maybe = false;
    for method in METHODS {
        match first.split_at_checked(method.len()) {
            Some((m, rest)) => {
                if m == *method {
                    match rest.first() {
                        Some(b' ') => return Verdict::Match,
                        Some(_) => {}
                        None => maybe = true,
                    }
                }
            }
            None => maybe |= method.starts_with(first),
        }
    }
    if maybe {
        Verdict::NeedMore
    } else {
        probe_extension(first)
    }
}

/// An extension method: `token SP request-target SP HTTP/1.x` up to the line's end,
/// waited for while every byte so far could belong to such a line (up to
/// [`MAX_HEAD_BYTES`], past which there is no head to read anyway).
fn probe_extension(first: &[u8]) -> Verdict {
    let scan = first.get(..=MAX_EXTENSION_METHOD).unwrap_or(first);
    let Some(method_len) = scan.iter().position(|b| !is_tchar(b)) else {
        return if first.len() > MAX_EXTENSION_METHOD {
            Verdict::NoMatch
        } else {
            Verdict::NeedMore
        };
    };
    if method_len == 0 || first.get(method_len) != Some(&b' ') {
        return Verdict::NoMatch;
    }
    let window = first.get(..MAX_HEAD_BYTES).unwrap_or(first);
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        // A request line holds no control bytes but HTAB (and CR before its LF).
        let binary = window
            .iter()
            .any(|&b| b < 0x20 && b != b'\t' && b != b'\r' || b == 0x7F);
        return if binary || window.len() >= MAX_HEAD_BYTES {
            Verdict::NoMatch
        } else {
            Verdict::NeedMore
        };
    };
    let line = window.get(..nl).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(v_start) = line.iter().rposition(|&b| b == b' ') else {
        return Verdict::NoMatch;
    };
    let version = line.get(v_start.saturating_add(1)..).unwrap_or_default();
    let target = line
        .get(method_len.saturating_add(1)..v_start)
        .unwrap_or_default();
    let target_ok =
        !target.is_empty() && target.iter().all(|&b| b > 0x20 && b != 0x7F || b == b' ');
    Verdict::from_bool(
        target_ok
            && matches!(
                version,
                [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0'..=b'9']
            ),
    )
}

/// An HTTP/0.9 simple request (RFC 1945 §4.1, `GET SP Request-URI CRLF`): the first line of
/// `buf`, when it is one, and the bytes it takes with its line end. No version, no
/// headers: the server answers with the raw document and closes.
pub fn simple_request(buf: &[u8]) -> Option<(RequestHead, usize)> {
    const GET: &[u8] = b"GET ";
    let window = buf.get(..MAX_HEAD_BYTES).unwrap_or(buf);
    let nl = window.iter().position(|&b| b == b'\n')?;
    let line = window.get(..nl)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let target = line.strip_prefix(GET)?;
    if target.is_empty() || !target.iter().all(|&b| b > 0x20 && b != 0x7F) {
        return None;
    }
    let head = RequestHead {
        method: b"GET".to_vec(),
        uri: target.to_vec(),
        simple: true,
        ..RequestHead::default()
    };
    Some((head, nl.checked_add(1)?))
}

/// Does `first` start like a status line (`HTTP/`)? Case-insensitive: some servers send
/// `http/1.1 200 OK` and clients accept it (Zeek's lower-case test capture).
pub fn probe_response(first: &[u8]) -> Verdict {
    const PREFIX: &[u8] = b"HTTP/";
    match first.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => Verdict::Match,
        Some(_) => Verdict::NoMatch,
        None if PREFIX
            .get(..first.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(first)) =>
        {
            Verdict::NeedMore
        }
        None => Verdict::NoMatch,
    }
}

/// Where a head ends: the index just past its empty line (`\n\n` or `\n\r\n`, the forms
/// httparse accepts), searched from `from` within `buf`. `from` lets a caller that saw
/// a prefix before resume without rescanning it (it backs up 2 bytes itself).
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(rest) = buf.get(i..) {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let at = i.checked_add(nl)?;
        match (buf.get(at.wrapping_add(1)), buf.get(at.wrapping_add(2))) {
            (Some(b'\n'), _) => return at.checked_add(2),
            (Some(b'\r'), Some(b'\n')) => return at.checked_add(3),
            _ => i = at.checked_add(1)?,
        }
    }
    None
}

/// Parses a complete request head (`head` ends with its empty line).
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, InvalidKind> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let fast = httparse::ParserConfig::default()
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .parse_request(&mut req, head);
    if let Ok(httparse::Status::Complete(_)) = fast {
        let mut b = HeadBuilder::default();
        b.head.method = req.method.unwrap_or_default().as_bytes().to_vec();
        b.head.uri = req.path.unwrap_or_default().as_bytes().to_vec();
        b.head.version_minor = req.version.unwrap_or(1);
        for h in req.headers.iter() {
            b.header(h.name.as_bytes(), h.value);
        }
        return Ok(b.finish());
    }
    lenient::request(head, false)
}

/// Parses the first [`MAX_HEAD_BYTES`] of a head that is longer than that: fields from
/// the complete lines in `prefix`, flagged truncated.
pub fn parse_truncated_request_head(prefix: &[u8]) -> Result<RequestHead, InvalidKind> {
    lenient::request(complete_lines(prefix), true)
}

/// Parses a complete response head (`head` ends with its empty line).
pub fn parse_response_head(head: &[u8]) -> Result<ResponseHead, InvalidKind> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let fast = httparse::ParserConfig::default()
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .parse_response(&mut resp, head);
    if let Ok(httparse::Status::Complete(_)) = fast {
        let mut b = HeadBuilder::default();
        for h in resp.headers.iter() {
            b.header(h.name.as_bytes(), h.value);
        }
        return Ok(ResponseHead {
            status: resp.code.unwrap_or_default(),
            version_minor: resp.version.unwrap_or(1),
            framing: b.finish_framing(),
            truncated: false,
            lenient: false,
        });
    }
    lenient::response(head, false)
}

/// Like [`parse_truncated_request_head`], for a response.
pub fn parse_truncated_response_head(prefix: &[u8]) -> Result<ResponseHead, InvalidKind> {
    lenient::response(complete_lines(prefix), true)
}

/// `prefix` cut after its last `\n`, so a header cut in the middle is not half-read.
fn complete_lines(prefix: &[u8]) -> &[u8] {
    let prefix = prefix.get(..MAX_HEAD_BYTES).unwrap_or(prefix);
    match prefix.iter().rposition(|&b| b == b'\n') {
        Some(i) => prefix.get(..=i).unwrap_or(prefix),
        // Not even the request line fits: keep it whole-but-cut rather than nothing.
        None => prefix,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn probe_knows_methods_and_waits_on_prefixes() {
        assert_eq!(probe(b"GET / HTTP/1.1\r\n"), Verdict::Match);
        assert_eq!(probe(b"PROPFIND /x"), Verdict::Match);
        assert_eq!(probe(b"CONNECT h:443 HTTP/1.1"), Verdict::Match);
        assert_eq!(probe(b"GE"), Verdict::NeedMore);
        assert_eq!(probe(b"GET"), Verdict::NeedMore);
        assert_eq!(probe(b""), Verdict::NeedMore);
        // any token is a method, in a whole request line that names HTTP/1.x
        assert_eq!(probe(b"get / HTTP/1.1\r\n"), Verdict::Match);
        assert_eq!(probe(b"GETX / HTTP/1.1\n"), Verdict::Match);
        assert_eq!(
            probe(b"RPC_IN_DATA /rpc/rpcproxy.dll?h:6004 HTTP/1.1\r\n"),
            Verdict::Match
        );
        assert_eq!(probe(b"RPC_IN_DATA /rpc/rpcpr"), Verdict::NeedMore);
        assert_eq!(probe(b"RPC_IN_DATA"), Verdict::NeedMore);
        assert_eq!(probe(b"EHLO mail.example\r\n"), Verdict::NoMatch);
        assert_eq!(probe(b"USER anonymous\r\n"), Verdict::NoMatch);
        assert_eq!(probe(b"BEACON /x HTTP/2.0\r\n"), Verdict::NoMatch);
        assert_eq!(probe(b"BEACON /x\x00\x01"), Verdict::NoMatch);
        assert_eq!(probe(b"BEACON  HTTP/1.1\r\n"), Verdict::NoMatch);
        assert_eq!(probe(b"BE:CON / HTTP/1.1\r\n"), Verdict::NoMatch);
        assert_eq!(probe(&[b'X'; MAX_EXTENSION_METHOD + 1]), Verdict::NoMatch);
        assert_eq!(probe(&[b'X'; MAX_EXTENSION_METHOD]), Verdict::NeedMore);
        let mut long = b"BEACON /".to_vec();
        long.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(probe(&long), Verdict::NoMatch);
        assert_eq!(probe(b"\x16\x03\x01\x02\x00"), Verdict::NoMatch);
        // a banner of tchars waits for its line, which then is not a request line
        assert_eq!(probe(b"SSH-2.0-OpenSSH"), Verdict::NeedMore);
        assert_eq!(
            probe(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"),
            Verdict::NoMatch
        );
        for m in METHODS {
            assert_eq!(probe(&[*m, &b" /"[..]].concat()), Verdict::Match);
            assert_eq!(probe(&m[..1]), Verdict::NeedMore);
            assert!(m.len() < MAX_PROBE_BYTES);
        }
    }

    #[test]
    fn simple_requests_of_http_0_9() {
        let (h, used) = simple_request(b"GET /\r\nrest").unwrap();
        assert_eq!(
            (h.method.as_slice(), h.uri.as_slice(), used),
            (&b"GET"[..], &b"/"[..], 7)
        );
        assert!(h.simple);
        assert_eq!(h.version(), "HTTP/0.9");
        assert_eq!(simple_request(b"GET /index.html\n").unwrap().1, 16);
        // a full request line, another method, no line end yet, an empty target: not 0.9
        assert!(simple_request(b"GET / HTTP/1.0\r\n").is_none());
        assert!(simple_request(b"POST /\r\n").is_none());
        assert!(simple_request(b"GET /").is_none());
        assert!(simple_request(b"GET \r\n").is_none());
    }

    #[test]
    fn response_probe_is_case_insensitive() {
        assert_eq!(probe_response(b"HTTP/1.1 200 OK"), Verdict::Match);
        assert_eq!(probe_response(b"http/1.1 200 OK"), Verdict::Match);
        assert_eq!(probe_response(b"HTT"), Verdict::NeedMore);
        assert_eq!(probe_response(b"HTX"), Verdict::NoMatch);
    }

    #[test]
    fn head_end_forms() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nX", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nX", 0), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r", 0), None);
    }

    #[test]
    fn browser_get() {
        let h = parse_request_head(
            b"GET /a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: UA/1\r\n\
              Referer: http://r/\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.method, b"GET");
        assert_eq!(h.uri, b"/a?b=1");
        assert_eq!(h.version(), "HTTP/1.1");
        assert_eq!(h.host.as_deref(), Some(&b"example.com:8080"[..]));
        assert_eq!(h.user_agent.as_deref(), Some(&b"UA/1"[..]));
        assert_eq!(h.referer.as_deref(), Some(&b"http://r/"[..]));
        assert_eq!(h.cookie.as_deref(), Some(&b"a=1; b=2"[..]));
        assert!(!h.lenient && !h.truncated);
    }

    #[test]
    fn first_host_wins() {
        let h = parse_request_head(b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n").unwrap();
        assert_eq!(h.host.as_deref(), Some(&b"a"[..]));
        assert_eq!(h.version_minor, 0);
    }

    #[test]
    fn framing() {
        let h = parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n").unwrap();
        assert_eq!(h.content_length(), Some(12));
        let h = parse_request_head(
            b"POST / HTTP/1.1\r\nContent-Length: 12\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        )
        .unwrap();
        assert!(h.transfer_encoding_chunked());
        let h = parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n").unwrap();
        assert_eq!(h.framing.invalid, Some(InvalidKind::ContentLength));
        let h = parse_request_head(
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.framing.invalid, Some(InvalidKind::ContentLength));
        let h =
            parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")
                .unwrap();
        assert_eq!(h.framing.invalid, Some(InvalidKind::ContentLength));
        let h = parse_request_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap();
        assert_eq!(h.framing.invalid, Some(InvalidKind::TransferEncoding));
    }

    #[test]
    fn absolute_form() {
        let h =
            parse_request_head(b"GET http://user@proxy.test:3128/p?q=1 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(h.path(), b"/p?q=1");
        assert_eq!(h.target_authority(), Some(&b"proxy.test:3128"[..]));
        assert_eq!(h.effective_host(), Some(&b"proxy.test:3128"[..]));
        let h = parse_request_head(b"GET http://h.test HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(h.path(), b"/");
        assert_eq!(h.effective_host(), Some(&b"other"[..]));
        let h = parse_request_head(b"GET /x://y HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(h.path(), b"/x://y");
        assert_eq!(h.target_authority(), None);
    }

    #[test]
    fn obs_fold_is_unfolded() {
        let h = parse_request_head(
            b"GET / HTTP/1.1\r\nUser-Agent: Long\r\n  Agent/2\r\nHost: h\r\n\r\n",
        )
        .unwrap();
        assert!(h.lenient);
        assert_eq!(h.user_agent.as_deref(), Some(&b"Long Agent/2"[..]));
        assert_eq!(h.host.as_deref(), Some(&b"h"[..]));
    }

    #[test]
    fn invalid_header_bytes_keep_the_request() {
        let h = parse_request_head(
            b"GET /\xff\xfe HTTP/1.1\r\nBad Name: x\r\nno colon line\r\nHost: h\x01st\r\nUser-Agent: \xc3\x28\r\n\r\n",
        )
        .unwrap();
        assert!(h.lenient);
        assert_eq!(h.uri, b"/\xff\xfe");
        assert_eq!(h.host.as_deref(), Some(&b"h\x01st"[..]));
        assert_eq!(h.user_agent.as_deref(), Some(&b"\xc3\x28"[..]));
    }

    #[test]
    fn many_headers_go_lenient() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..200 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"User-Agent: late\r\n\r\n");
        let h = parse_request_head(&head).unwrap();
        assert!(h.lenient);
        assert_eq!(h.user_agent.as_deref(), Some(&b"late"[..]));
    }

    #[test]
    fn bad_request_lines() {
        assert_eq!(
            parse_request_head(b"GET /\r\n\r\n"),
            Err(InvalidKind::RequestLine)
        );
        assert_eq!(
            parse_request_head(b"GET / HTTP/2.0\r\n\r\n"),
            Err(InvalidKind::RequestLine)
        );
        assert_eq!(
            parse_request_head(b"\r\n\r\n"),
            Err(InvalidKind::RequestLine)
        );
    }

    #[test]
    fn truncated_head_keeps_complete_lines() {
        let h = parse_truncated_request_head(b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: cut he")
            .unwrap();
        assert!(h.truncated);
        assert_eq!(h.host.as_deref(), Some(&b"h"[..]));
        assert_eq!(h.user_agent, None);
    }

    #[test]
    fn responses() {
        let r = parse_response_head(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!(r.status, 204);
        let r =
            parse_response_head(b"http/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(r.status, 200);
        assert!(r.framing.chunked && r.lenient);
        let r = parse_response_head(b"HTTP/1.0 200\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!((r.status, r.framing.content_length), (200, Some(5)));
        assert_eq!(
            parse_response_head(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Err(InvalidKind::StatusLine)
        );
    }

    proptest::proptest! {
        #[test]
        fn random_heads_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = probe(&bytes);
            let _ = probe_response(&bytes);
            if let Some(end) = find_head_end(&bytes, 0) {
                proptest::prop_assert!(end <= bytes.len());
            }
            let _ = parse_request_head(&bytes);
            let _ = parse_response_head(&bytes);
            let _ = parse_truncated_request_head(&bytes);
            let _ = parse_truncated_response_head(&bytes);
            let mut line = b"GET / HTTP/1.1\r\n".to_vec();
            line.extend_from_slice(&bytes);
            if let Ok(h) = parse_request_head(&line) {
                let _ = (h.path(), h.effective_host(), h.heap_bytes());
            }
        }
    }
}
