//! Streaming behaviour of [`HttpState`] on byte arrays: keep-alive, pipelining, splits,
//! caps, resynchronisation, CONNECT, response matching.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::state::MAX_PENDING;
use super::*;
use crate::time::Timestamp;
use proptest::prelude::*;

/// A caller like the flow module: keeps unread bytes per direction.
#[derive(Default)]
struct Conn {
    st: HttpState,
    c: HttpCounters,
    up: Vec<u8>,
    down: Vec<u8>,
    events: Vec<HttpTransaction>,
}

impl Conn {
    fn client(&mut self, bytes: &[u8]) -> Feed {
        self.up.extend_from_slice(bytes);
        let f = self.st.feed_request(&self.up, Timestamp(1), &mut self.c);
        assert!(f.consumed <= self.up.len());
        self.up.drain(..f.consumed);
        self.events.extend(self.st.take_events());
        f
    }

    fn server(&mut self, bytes: &[u8]) -> Feed {
        self.down.extend_from_slice(bytes);
        let f = self.st.feed_response(&self.down, &mut self.c);
        assert!(f.consumed <= self.down.len());
        self.down.drain(..f.consumed);
        self.events.extend(self.st.take_events());
        f
    }

    fn end(&mut self) {
        self.st.flush(&mut self.c);
        self.events.extend(self.st.take_events());
    }

    fn uris(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| String::from_utf8_lossy(&e.request.uri).into_owned())
            .collect()
    }

    fn statuses(&self) -> Vec<Option<u16>> {
        self.events.iter().map(|e| e.status).collect()
    }
}

const GET: &[u8] =
    b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n";

#[test]
fn single_get_then_response() {
    let mut k = Conn::default();
    assert_eq!(k.client(GET).outcome, Outcome::NeedMore);
    assert!(k.up.is_empty());
    assert!(k.events.is_empty(), "held until its response");
    assert_eq!(
        k.st.first_request().unwrap().host.as_deref(),
        Some(&b"example.com"[..])
    );
    k.server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(k.uris(), ["/index.html"]);
    assert_eq!(k.statuses(), [Some(200)]);
    assert_eq!(
        (k.c.requests, k.c.responses, k.c.bodies_skipped_bytes),
        (1, 1, 5)
    );
}

#[test]
fn flush_emits_unanswered() {
    let mut k = Conn::default();
    k.client(GET);
    k.end();
    assert_eq!(k.statuses(), [None]);
}

#[test]
fn keep_alive_mix_of_bodies() {
    let mut k = Conn::default();
    k.client(GET);
    k.client(b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello=world");
    k.client(
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6 ; a=\"b\"\r\n world\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
    );
    k.client(b"GET /last HTTP/1.1\r\nHost: h\r\n\r\n");
    k.end();
    assert_eq!(k.uris(), ["/index.html", "/form", "/up", "/last"]);
    assert_eq!(k.c.bodies_skipped_bytes, 11 + 5 + 6);
    assert_eq!(k.c.invalid, [0; 8]);
}

#[test]
fn pipelined_in_one_chunk_matched_in_order() {
    let mut k = Conn::default();
    let three = [
        &b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    .concat();
    k.client(&three);
    assert!(k.up.is_empty());
    k.server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\
          HTTP/1.1 404 Not Found\r\nContent-Length: 99\r\n\r\n\
          HTTP/1.1 301 Moved\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    // The HEAD response's Content-Length announces no body (RFC 9112 §6.3).
    assert_eq!(k.uris(), ["/1", "/2", "/3"]);
    assert_eq!(k.statuses(), [Some(200), Some(404), Some(301)]);
    assert!(k.down.is_empty());
}

#[test]
fn head_split_byte_by_byte() {
    let mut k = Conn::default();
    for b in GET.iter().chain(b"GET /2 HTTP/1.0\r\n\r\n") {
        k.client(std::slice::from_ref(b));
    }
    k.end();
    assert_eq!(k.uris(), ["/index.html", "/2"]);
    assert_eq!(
        k.events[0].request.user_agent.as_deref(),
        Some(&b"curl/8.0"[..])
    );
}

#[test]
fn interim_and_bodiless_statuses() {
    let mut k = Conn::default();
    k.client(b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx");
    k.client(b"GET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
    k.server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    k.server(
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
    );
    assert_eq!(k.statuses(), [Some(201), Some(204), Some(304)]);
    assert_eq!(k.c.responses, 4);
    assert!(k.down.is_empty());
}

#[test]
fn close_delimited_response_emits_later_requests_at_once() {
    let mut k = Conn::default();
    k.client(b"GET /a HTTP/1.0\r\n\r\n");
    k.server(b"HTTP/1.0 200 OK\r\n\r\nbody until close");
    k.client(b"GET /b HTTP/1.0\r\n\r\n");
    assert_eq!(k.statuses(), [Some(200), None]);
    assert_eq!(k.server(b"more body").outcome, Outcome::NeedMore);
    assert!(k.down.is_empty());
}

#[test]
fn long_head_is_truncated_and_next_request_found() {
    let mut k = Conn::default();
    let mut head = b"GET /big HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\n".to_vec();
    while head.len() < MAX_HEAD_BYTES + 5000 {
        head.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
    }
    head.extend_from_slice(b"\r\nGET /next HTTP/1.1\r\nHost: n\r\n\r\n");
    for chunk in head.chunks(1460) {
        k.client(chunk);
        assert!(k.up.len() < MAX_HEAD_BYTES + 1460);
    }
    k.end();
    assert_eq!(k.uris(), ["/big", "/next"]);
    assert!(k.events[0].request.truncated);
    assert_eq!(k.events[0].request.host.as_deref(), Some(&b"h"[..]));
    assert!(!k.events[1].request.truncated);
    assert_eq!(k.c.truncated_heads, 1);
}

#[test]
fn ten_megabytes_of_headers_stay_within_caps() {
    let mut k = Conn::default();
    k.client(b"GET /endless HTTP/1.1\r\nHost: h\r\n");
    let line = b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let block: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 1000)
        .collect();
    for _ in 0..160 {
        k.client(&block);
        assert!(k.up.len() <= MAX_HEAD_BYTES + block.len());
    }
    k.client(b"\r\nGET /after HTTP/1.1\r\n\r\n");
    k.end();
    assert_eq!(k.uris(), ["/endless", "/after"]);
    assert!(k.events[0].request.truncated);
}

#[test]
fn obs_fold_and_invalid_bytes_keep_the_request() {
    let mut k = Conn::default();
    k.client(b"GET /f HTTP/1.1\r\nHost: h\r\nUser-Agent: A\r\n\tB\r\n\r\n");
    k.client(b"GET /\xff HTTP/1.1\r\nHost: h\x7f\r\nBad\x01Header: x\r\n\r\n");
    k.end();
    assert_eq!(k.events[0].request.user_agent.as_deref(), Some(&b"A B"[..]));
    assert_eq!(k.events[1].request.uri, b"/\xff");
    assert_eq!(k.events[1].request.host.as_deref(), Some(&b"h\x7f"[..]));
    assert_eq!(k.c.lenient_heads, 2);
}

#[test]
fn absolute_form_target() {
    let mut k = Conn::default();
    k.client(b"GET http://proxy.example:8080/a?b HTTP/1.1\r\nUser-Agent: x\r\n\r\n");
    k.end();
    let r = &k.events[0].request;
    assert_eq!(r.path(), b"/a?b");
    assert_eq!(r.effective_host(), Some(&b"proxy.example:8080"[..]));
}

#[test]
fn lower_case_method_is_an_extension_method() {
    // RFC 9110 §9.1: methods are case-sensitive tokens; `get` is not GET, but a method.
    let mut k = Conn::default();
    k.client(b"get / HTTP/1.1\r\nHost: h\r\n\r\n");
    k.end();
    assert_eq!(k.events.len(), 1);
    assert_eq!(k.events[0].request.method, b"get");
    assert_eq!(k.c.invalid(InvalidKind::NotRequestLine), 0);
}

#[test]
fn extension_methods_keep_alive_with_their_statuses() {
    let mut k = Conn::default();
    k.client(
        b"RPC_IN_DATA /rpc/rpcproxy.dll?ex.local:6001 HTTP/1.1\r\nHost: ex\r\n\
          Content-Length: 3\r\n\r\nabcBEACON /c2/checkin HTTP/1.1\r\nHost: c2\r\n\r\n",
    );
    k.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    k.end();
    let methods: Vec<&[u8]> = k
        .events
        .iter()
        .map(|e| e.request.method.as_slice())
        .collect();
    assert_eq!(methods, [&b"RPC_IN_DATA"[..], &b"BEACON"[..]]);
    assert_eq!(k.statuses(), [Some(200), Some(204)]);
}

#[test]
fn http_0_9_simple_request_is_a_request() {
    let mut k = Conn::default();
    k.client(b"GET /index.html\r\n");
    // The answer is the document itself, no status line: nothing there is invalid.
    k.server(b"<html>hello</html>");
    k.end();
    assert_eq!(k.uris(), ["/index.html"]);
    assert_eq!(k.statuses(), [None]);
    assert!(k.events[0].request.simple);
    assert_eq!(k.c.invalid(InvalidKind::StatusLine), 0);
    assert_eq!(k.c.invalid(InvalidKind::NotRequestLine), 0);
}

#[test]
fn lower_case_response_version_is_read() {
    // Zeek's http-lower-case-nonstandard-port capture: the server answers `http/1.1`.
    let mut k = Conn::default();
    k.client(GET);
    k.server(b"http/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
    assert_eq!(k.statuses(), [Some(200)]);
    assert!(k.down.is_empty());
}

#[test]
fn garbage_then_resync() {
    let mut k = Conn::default();
    k.client(b"\x00\x01binary junk\nmore GET junk\r\nGE");
    assert_eq!(
        k.up, b"GE",
        "a possible method prefix at a line start is kept"
    );
    k.client(b"T /ok HTTP/1.1\r\n\r\n");
    k.end();
    assert_eq!(k.uris(), ["/ok"]);
    assert_eq!(
        (k.c.resyncs, k.c.invalid(InvalidKind::NotRequestLine)),
        (1, 1)
    );
}

#[test]
fn resync_gives_up() {
    let mut k = Conn::default();
    let junk = vec![b'x'; 64 * 1024];
    let mut last = Outcome::NeedMore;
    for _ in 0..20 {
        last = k.client(&junk).outcome;
    }
    assert_eq!(last, Outcome::Stopped);
    assert_eq!(k.c.resyncs_abandoned, 1);
    assert!(k.up.is_empty());
}

#[test]
fn bad_chunk_resyncs_to_next_request() {
    let mut k = Conn::default();
    k.client(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
    );
    k.end();
    assert_eq!(k.uris(), ["/", "/n"]);
    assert_eq!(k.c.invalid(InvalidKind::ChunkSize), 1);
}

#[test]
fn connect_tunnel_offsets() {
    let mut k = Conn::default();
    let connect =
        b"CONNECT apache.org:443 HTTP/1.1\r\nHost: apache.org:443\r\nUser-Agent: ff\r\n\r\n";
    assert_eq!(k.client(connect).outcome, Outcome::NeedMore);
    assert!(!k.st.tunnel_established());
    let hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    // A request prefix after a CONNECT is held, not consumed, until the answer.
    let f = k.client(b"GE");
    assert_eq!((f.consumed, f.outcome), (0, Outcome::NeedMore));
    k.up.clear(); // (the caller's buffer; dropped here to keep the offsets simple)
    let answer = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let f = k.server(&[&answer[..], b"\x16\x03\x03"].concat());
    assert_eq!((f.consumed, f.outcome), (answer.len(), Outcome::Handoff));
    assert!(k.st.tunnel_established());
    let t = k.st.tunnel_start();
    assert_eq!(t.to_server, Some(connect.len() as u64));
    assert_eq!(t.to_client, Some(answer.len() as u64));
    let f = k.client(hello);
    assert_eq!((f.consumed, f.outcome), (0, Outcome::Handoff));
    assert_eq!(k.up, hello);
    assert_eq!(k.statuses(), [Some(200)]);
    assert_eq!(k.uris(), ["apache.org:443"]);
    assert_eq!(k.c.tunnels, 1);
}

#[test]
fn connect_refused_then_retried() {
    let mut k = Conn::default();
    k.client(b"CONNECT h:443 HTTP/1.1\r\n\r\n");
    k.server(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 4\r\n\r\ndeny");
    let retry = b"CONNECT h:443 HTTP/1.1\r\nProxy-Authorization: Basic eA==\r\n\r\n";
    k.client(retry);
    k.server(b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(k.statuses(), [Some(407), Some(200)]);
    let first_len = b"CONNECT h:443 HTTP/1.1\r\n\r\n".len() + retry.len();
    assert_eq!(k.st.tunnel_start().to_server, Some(first_len as u64));
}

#[test]
fn connect_answer_unseen_client_starts_tunnel() {
    let mut k = Conn::default();
    k.client(b"CONNECT h:443 HTTP/1.1\r\n\r\n");
    let f = k.client(b"\x16\x03\x01\x00\x05");
    assert_eq!((f.consumed, f.outcome), (0, Outcome::Handoff));
    assert_eq!(k.st.tunnel_start().to_server, Some(26));
    assert!(!k.st.tunnel_established());
}

#[test]
fn upgrade_stops_both_directions() {
    let mut k = Conn::default();
    k.client(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    let f = k.server(b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello");
    assert_eq!(f.outcome, Outcome::Stopped);
    assert_eq!(k.client(b"\x81\x85mask").outcome, Outcome::Stopped);
    assert_eq!(k.statuses(), [Some(101)]);
    assert_eq!(k.c.upgrades, 1);
}

#[test]
fn pending_overflow_keeps_order() {
    let mut k = Conn::default();
    let n = MAX_PENDING + 8;
    let mut reqs = Vec::new();
    for i in 0..n {
        reqs.extend_from_slice(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes());
    }
    k.client(&reqs);
    assert_eq!(k.events.len(), 8);
    let mut resps = Vec::new();
    for i in 0..n {
        resps.extend_from_slice(
            format!("HTTP/1.1 {} X\r\nContent-Length: 0\r\n\r\n", 200 + i).as_bytes(),
        );
    }
    k.server(&resps);
    assert_eq!(k.events.len(), n);
    for (i, e) in k.events.iter().enumerate() {
        let want = if i < 8 { None } else { Some(200 + i as u16) };
        assert_eq!((k.uris()[i].clone(), e.status), (format!("/{i}"), want));
    }
    assert_eq!(k.c.pending_overflow, 8);
}

#[test]
fn unmatched_response_is_counted() {
    let mut k = Conn::default();
    k.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(k.c.responses_unmatched, 1);
    k.server(b"garbage\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        (k.c.responses, k.c.invalid(InvalidKind::StatusLine)),
        (2, 1)
    );
}

#[test]
fn gap_inside_a_body_keeps_step() {
    let mut k = Conn::default();
    k.client(b"POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789");
    k.st.request_gap(50, &mut k.c);
    k.client(&[b'x'; 40]);
    k.client(b"GET /b HTTP/1.1\r\n\r\n");
    k.end();
    assert_eq!(k.uris(), ["/a", "/b"]);
    assert_eq!((k.c.gaps, k.c.resyncs), (1, 0));
}

#[test]
fn gap_in_a_head_resyncs() {
    let mut k = Conn::default();
    k.client(b"GET /a HTTP/1.1\r\nHost: h\r\n");
    k.up.clear();
    k.st.request_gap(100, &mut k.c);
    k.client(b"ader: tail\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    k.end();
    assert_eq!(k.uris(), ["/b"]);
    assert_eq!((k.c.gaps, k.c.resyncs), (1, 1));
}

#[test]
fn response_gap_drops_the_order() {
    let mut k = Conn::default();
    k.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    k.server(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
    k.st.response_gap(10, &mut k.c);
    k.server(b"xyzHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(k.statuses(), [Some(200), None]);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(
        up in proptest::collection::vec(any::<u8>(), 0..4096),
        down in proptest::collection::vec(any::<u8>(), 0..4096),
        split in 1usize..512,
    ) {
        let mut k = Conn::default();
        for (a, b) in up.chunks(split).zip(down.chunks(split)) {
            k.client(a);
            k.server(b);
        }
        k.end();
        prop_assert!(k.up.len() <= up.len() && k.down.len() <= down.len());
    }

    #[test]
    fn http_shaped_bytes_never_panic(
        parts in proptest::collection::vec(prop_oneof![
            Just(&b"GET / HTTP/1.1\r\n"[..]),
            Just(&b"CONNECT a:1 HTTP/1.1\r\n"[..]),
            Just(&b"HTTP/1.1 200 OK\r\n"[..]),
            Just(&b"Content-Length: 3\r\n"[..]),
            Just(&b"Transfer-Encoding: chunked\r\n"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"3;x\r\nabc\r\n0\r\n"[..]),
            Just(&b" folded\r\n"[..]),
            Just(&b"\xff\x00"[..]),
        ], 0..64),
        split in 1usize..64,
    ) {
        let data = parts.concat();
        let mut k = Conn::default();
        for chunk in data.chunks(split) {
            k.client(chunk);
            k.server(chunk);
        }
        k.end();
        prop_assert!(k.c.requests >= k.events.len() as u64 - k.c.events_dropped);
    }
}

/// Feeds a connection the way the TCP worker does with body dropping on: bytes of
/// a chunk that the state promised to skip are dropped (`body_dropped`) while
/// nothing unread is buffered; the rest is buffered and fed.
fn feed_dropping(k: &mut Conn, from_client: bool, bytes: &[u8]) -> usize {
    let buffered = if from_client { &k.up } else { &k.down };
    let mut rest = bytes;
    if buffered.is_empty() {
        let ahead = usize::try_from(k.st.body_ahead(from_client)).unwrap_or(usize::MAX);
        let n = ahead.min(rest.len());
        if n > 0 {
            k.st.body_dropped(from_client, n as u64, &mut k.c);
            rest = &rest[n..];
        }
    }
    if from_client {
        k.client(rest);
    } else {
        k.server(rest);
    }
    bytes.len() - rest.len()
}

proptest! {
    /// Dropping the body bytes `body_ahead` allows gives the same transactions and
    /// counters as feeding them, however the streams are cut into segments.
    #[test]
    fn dropping_promised_body_bytes_changes_nothing(
        cuts in proptest::collection::vec(1usize..40, 1..60),
        server_first in proptest::bool::ANY,
    ) {
        let up: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 25\r\n\r\n0123456789012345678901234\
            POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            a\r\n0123456789\r\n11;x=y\r\n01234567890123456\r\n0\r\nT: 1\r\n\r\n\
            GET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
        let down: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n012345678901234567890123456789\
            HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n\
            HTTP/1.1 204 No Content\r\n\r\n\
            HTTP/1.0 200 OK\r\n\r\nuntil the connection closes, any bytes at all";
        let mut plain = Conn::default();
        let mut dropping = Conn::default();
        let (mut u, mut d, mut dropped) = (0usize, 0usize, 0usize);
        // Every turn moves an unfinished stream on by at least one byte.
        for (i, cut) in cuts.iter().cycle().enumerate() {
            if u == up.len() && d == down.len() {
                break;
            }
            let client_turn = (i % 2 == 0) != server_first;
            let (stream, at, from_client) = if client_turn { (up, &mut u, true) } else { (down, &mut d, false) };
            let end = (*at + cut).min(stream.len());
            let seg = &stream[*at..end];
            *at = end;
            if seg.is_empty() {
                continue;
            }
            if from_client { plain.client(seg); } else { plain.server(seg); }
            dropped += feed_dropping(&mut dropping, from_client, seg);
        }
        plain.end();
        dropping.end();
        prop_assert_eq!(&plain.events, &dropping.events);
        prop_assert_eq!(&plain.c, &dropping.c);
        prop_assert_eq!(plain.uris(), ["/a", "/b", "/c", "/d"]);
        prop_assert!(dropped > 0);
    }
}
