//! Per-connection HTTP/1.x state: both directions of one TCP connection.
//!
//! The client→server stream is a sequence of request heads, each followed by a body
//! skipped by Content-Length or chunked coding (RFC 9112 §6.3); many requests may come
//! in one feed (keep-alive, pipelining). The server→client stream is a sequence of
//! response heads matched in order to a FIFO of pending requests (RFC 9112 §9.3.2),
//! bodies skipped by Content-Length, chunked or connection close; HEAD, 1xx, 204 and 304
//! responses have none.
//!
//! **When a request becomes an event.** Each request is held in the pending FIFO and
//! emitted with its status when its final (non-1xx) response head arrives. It is emitted
//! without a status when: the FIFO is over [`MAX_PENDING`] requests or
//! [`MAX_PENDING_BYTES`] (the oldest goes); the server stream can no longer answer it
//! (a close-delimited body, a 101 upgrade, a tunnel, invalid data there); or at
//! [`HttpState::flush`] (flow end). Deterministic on the bytes alone: no timers.
//!
//! **CONNECT.** After a CONNECT head the client stream waits (consumes nothing) for the
//! proxy's answer. A 2xx starts the tunnel in both directions: `Outcome::Handoff` and
//! [`HttpState::tunnel_start`] give the stream offsets where it begins, and the caller
//! re-probes from there (a TLS ClientHello inside). Any other status lets the client
//! stream go on with the next request (a retry with Proxy-Authorization). If the client
//! sends bytes that are not a request before an answer is seen (the answer was lost, or
//! a client that does not wait), its side of the tunnel starts there.
//!
//! **Invalid data** is counted by kind, then skipped up to the start of a line that
//! begins like a message (a known method and a space; `HTTP/` on the server side) —
//! searched for at most [`MAX_RESYNC_BYTES`], after which the direction is dropped.

use std::collections::VecDeque;

use super::body::{BodySkip, Chunk};
pub use super::feed::{Feed, MAX_RESYNC_BYTES, Outcome};
use super::parse::{
    RequestHead, find_head_end, parse_request_head, parse_truncated_request_head, probe,
    simple_request,
};
use super::stream::{
    After, Dir, after_body, after_gap, fed, leading_crlf, nl_state, start_resync, step_common,
};
use super::{HttpCounters, InvalidKind, MAX_HEAD_BYTES};
use crate::proto::Verdict;
use crate::time::Timestamp;

/// Requests awaiting a response. Browsers never pipeline and keep one request in flight
/// per connection; scanners and scripts pipeline a few dozen at most (suricata-verify's
/// nodup capture: 9 in one segment). 32 keeps the status for those.
pub const MAX_PENDING: usize = 32;

/// Heap bytes of pending request heads per connection: 64 KiB, four maximal heads, so a
/// flood of unanswered requests costs little per connection.
pub const MAX_PENDING_BYTES: usize = 64 * 1024;

/// Finished transactions held until the caller drains them. The caller drains after
/// every feed; 256 covers the requests one feed of a reassembly buffer can hold (at
/// ~16 bytes the smallest request) only partly, so the oldest are dropped and counted.
pub const MAX_READY: usize = 256;

/// One request and what was learned of its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTransaction {
    pub request: RequestHead,
    /// The final response's status code, when it was seen.
    pub status: Option<u16>,
    /// Time of the packet that completed the request head.
    pub time: Timestamp,
}

/// Stream offsets (bytes fed and consumed since the state began) where a tunnel starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelStart {
    /// Client→server offset just past the CONNECT head.
    pub to_server: Option<u64>,
    /// Server→client offset just past the 2xx response head.
    pub to_client: Option<u64>,
}

#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) request: RequestHead,
    pub(super) time: Timestamp,
}

/// Both directions of one HTTP/1.x connection.
#[derive(Clone, Debug)]
pub struct HttpState {
    pub(super) req: Dir,
    pub(super) resp: Dir,
    /// Bytes consumed so far in each direction (stream offsets of the next feed).
    pub(super) req_offset: u64,
    pub(super) resp_offset: u64,
    pub(super) pending: VecDeque<Pending>,
    pub(super) pending_bytes: usize,
    /// Responses still owed to requests evicted from `pending` unanswered: the next
    /// responses belong to them, not to the requests now pending.
    pub(super) owed: u64,
    pub(super) ready: VecDeque<HttpTransaction>,
    pub(super) first: Option<RequestHead>,
    /// Client stream offset just past the latest CONNECT head.
    pub(super) connect_offset: Option<u64>,
    pub(super) tunnel: TunnelStart,
}

impl Default for HttpState {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpState {
    pub fn new() -> Self {
        HttpState {
            req: Dir::Head { scanned: 0 },
            resp: Dir::Head { scanned: 0 },
            req_offset: 0,
            resp_offset: 0,
            pending: VecDeque::new(),
            pending_bytes: 0,
            owed: 0,
            ready: VecDeque::new(),
            first: None,
            connect_offset: None,
            tunnel: TunnelStart::default(),
        }
    }

    /// The first request of the connection (for the NetworkConnect event).
    pub fn first_request(&self) -> Option<&RequestHead> {
        self.first.as_ref()
    }

    /// True once the proxy answered a CONNECT with 2xx.
    pub fn tunnel_established(&self) -> bool {
        self.tunnel.to_client.is_some()
    }

    pub fn tunnel_start(&self) -> TunnelStart {
        self.tunnel
    }

    /// Finished transactions, oldest first.
    pub fn take_events(&mut self) -> impl Iterator<Item = HttpTransaction> + '_ {
        self.ready.drain(..)
    }

    /// Body bytes the request (`from_client`) or response stream is certain to skip
    /// unread from its current position: the rest of a Content-Length body or of a
    /// chunk's data, or everything of a body that runs to the connection's end. One
    /// byte less than what remains, so that the parser still reads the body's last
    /// byte itself and moves on. The caller may drop up to this many of the next bytes
    /// without buffering or feeding them, and then reports them with
    /// [`HttpState::body_dropped`].
    pub fn body_ahead(&self, from_client: bool) -> u64 {
        let dir = if from_client { self.req } else { self.resp };
        match dir {
            Dir::Body(BodySkip::Length(left) | BodySkip::Chunked(Chunk::Data(left))) => {
                left.saturating_sub(1)
            }
            Dir::Body(BodySkip::UntilClose) => u64::MAX,
            _ => 0,
        }
    }

    /// The caller dropped `n` body bytes of a direction unread, within what
    /// [`HttpState::body_ahead`] allowed: the state is as if they had been fed. Bytes
    /// the state did not expect (it cannot happen when the caller keeps to
    /// `body_ahead`) are taken as a hole in the stream.
    pub fn body_dropped(&mut self, from_client: bool, n: u64, counters: &mut HttpCounters) {
        let (dir, offset) = if from_client {
            (&mut self.req, &mut self.req_offset)
        } else {
            (&mut self.resp, &mut self.resp_offset)
        };
        let fits = match dir {
            Dir::Body(BodySkip::Length(left) | BodySkip::Chunked(Chunk::Data(left)))
                if n < *left =>
            {
                *left = left.saturating_sub(n);
                true
            }
            Dir::Body(BodySkip::UntilClose) => true,
            _ => false,
        };
        if fits {
            *offset = offset.saturating_add(n);
            counters.bodies_skipped_bytes = counters.bodies_skipped_bytes.saturating_add(n);
        } else if from_client {
            self.request_gap(n, counters);
        } else {
            self.response_gap(n, counters);
        }
    }

    /// The client→server stream has a hole of `len` bytes (lost segments) at the
    /// current position. The caller drops the unread bytes it holds for that direction
    /// (they end at the hole) and feeds what follows the hole. Stream offsets count
    /// the hole, so tunnel offsets stay in the caller's stream coordinates.
    pub fn request_gap(&mut self, len: u64, counters: &mut HttpCounters) {
        counters.gaps = counters.gaps.saturating_add(1);
        self.req_offset = self.req_offset.saturating_add(len);
        self.req = after_gap(self.req, len, counters).0;
    }

    /// Like [`HttpState::request_gap`], for the server→client stream. A hole that
    /// loses the place there also loses the order of responses: every pending request
    /// is emitted without a status.
    pub fn response_gap(&mut self, len: u64, counters: &mut HttpCounters) {
        counters.gaps = counters.gaps.saturating_add(1);
        self.resp_offset = self.resp_offset.saturating_add(len);
        let (dir, lost) = after_gap(self.resp, len, counters);
        self.resp = dir;
        if lost {
            self.flush(counters);
            self.owed = 0;
        }
    }

    /// Flow end: every pending request becomes an event without a status.
    pub fn flush(&mut self, counters: &mut HttpCounters) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(p, None, counters);
        }
        self.pending_bytes = 0;
    }

    pub(super) fn emit(&mut self, p: Pending, status: Option<u16>, counters: &mut HttpCounters) {
        if self.ready.len() >= MAX_READY {
            self.ready.pop_front();
            counters.events_dropped = counters.events_dropped.saturating_add(1);
        }
        self.ready.push_back(HttpTransaction {
            request: p.request,
            status,
            time: p.time,
        });
    }

    /// Can the server stream still deliver a status for a request parsed now?
    pub(super) fn server_can_answer(&self) -> bool {
        !matches!(
            self.resp,
            Dir::Body(BodySkip::UntilClose) | Dir::Tunnel | Dir::Stopped
        )
    }

    fn on_request(&mut self, head: RequestHead, time: Timestamp, counters: &mut HttpCounters) {
        counters.requests = counters.requests.saturating_add(1);
        if head.truncated {
            counters.truncated_heads = counters.truncated_heads.saturating_add(1);
        }
        if head.lenient {
            counters.lenient_heads = counters.lenient_heads.saturating_add(1);
        }
        if self.first.is_none() {
            self.first = Some(head.clone());
        }
        let p = Pending {
            request: head,
            time,
        };
        if !self.server_can_answer() {
            self.emit(p, None, counters);
            return;
        }
        self.pending_bytes = self.pending_bytes.saturating_add(p.request.heap_bytes());
        self.pending.push_back(p);
        while self.pending.len() > MAX_PENDING || self.pending_bytes > MAX_PENDING_BYTES {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes = self.pending_bytes.saturating_sub(old.request.heap_bytes());
            self.owed = self.owed.saturating_add(1);
            counters.pending_overflow = counters.pending_overflow.saturating_add(1);
            self.emit(old, None, counters);
        }
    }

    /// Feeds client→server bytes: `data` is every unread byte of that stream, `time` the
    /// packet time that completed it.
    pub fn feed_request(
        &mut self,
        data: &[u8],
        time: Timestamp,
        counters: &mut HttpCounters,
    ) -> Feed {
        let feed = self.run_request(data, time, counters);
        self.req_offset = self
            .req_offset
            .saturating_add(u64::try_from(feed.consumed).unwrap_or(u64::MAX));
        feed
    }

    fn run_request(&mut self, data: &[u8], time: Timestamp, counters: &mut HttpCounters) -> Feed {
        let mut pos = 0usize;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            match self.req {
                Dir::Head { scanned } => {
                    let crlf = leading_crlf(rest);
                    if crlf > 0 {
                        pos = pos.saturating_add(crlf);
                        self.req = Dir::Head { scanned: 0 };
                        continue;
                    }
                    match probe(rest) {
                        Verdict::NeedMore => return fed(pos, Outcome::NeedMore),
                        Verdict::NoMatch => {
                            self.req = start_resync(InvalidKind::NotRequestLine, false, counters);
                            continue;
                        }
                        Verdict::Match => {}
                    }
                    let window = rest.get(..MAX_HEAD_BYTES).unwrap_or(rest);
                    if let Some((h, used)) = simple_request(window) {
                        pos = pos.saturating_add(used);
                        // HTTP/0.9: the answer is the raw document up to the close, with
                        // no status line to wait for.
                        if self.pending.is_empty() && matches!(self.resp, Dir::Head { .. }) {
                            self.resp = Dir::Body(BodySkip::UntilClose);
                        }
                        self.on_request(h, time, counters);
                        self.req = Dir::Head { scanned: 0 };
                        continue;
                    }
                    if let Some(end) = find_head_end(window, scanned.saturating_sub(2)) {
                        let head = window.get(..end).unwrap_or_default();
                        pos = pos.saturating_add(end);
                        self.req = match parse_request_head(head) {
                            Ok(h) => {
                                let next = self.request_next(&h, pos, counters);
                                self.on_request(h, time, counters);
                                next.dir()
                            }
                            Err(kind) => start_resync(kind, true, counters),
                        };
                    } else if rest.len() >= MAX_HEAD_BYTES {
                        pos = pos.saturating_add(window.len());
                        self.req = match parse_truncated_request_head(window) {
                            Ok(h) => {
                                let then = self.request_next(&h, pos, counters);
                                self.on_request(h, time, counters);
                                Dir::SkipHeadRest {
                                    nl: nl_state(window),
                                    then,
                                }
                            }
                            Err(kind) => start_resync(kind, nl_state(window) != 0, counters),
                        };
                    } else {
                        self.req = Dir::Head {
                            scanned: rest.len(),
                        };
                        return fed(pos, Outcome::NeedMore);
                    }
                }
                Dir::SkipHeadRest {
                    then: After::AwaitConnect,
                    ..
                } => {
                    let (used, dir, outcome) = step_common(self.req, rest, counters, probe);
                    pos = pos.saturating_add(used);
                    if dir == Dir::AwaitConnect {
                        // The tunnel starts after the whole head, not its first 16 KiB.
                        self.connect_offset = Some(self.req_offset.saturating_add(pos as u64));
                    }
                    self.req = dir;
                    if let Some(outcome) = outcome {
                        return fed(pos, outcome);
                    }
                }
                Dir::AwaitConnect => {
                    if self.tunnel.to_client.is_some() {
                        self.req = Dir::Tunnel;
                        continue;
                    }
                    match probe(rest) {
                        Verdict::NoMatch if !rest.is_empty() => {
                            // Not a request: the client is already talking through the
                            // tunnel (its answer was not seen or not awaited).
                            self.tunnel.to_server =
                                Some(self.req_offset.saturating_add(pos as u64));
                            self.req = Dir::Tunnel;
                        }
                        Verdict::Match if rest.len() >= MAX_HEAD_BYTES => {
                            // A whole head waits and no answer came: stop waiting.
                            self.req = Dir::Head { scanned: 0 };
                        }
                        _ => return fed(pos, Outcome::NeedMore),
                    }
                }
                Dir::SkipHeadRest { .. }
                | Dir::Body(_)
                | Dir::Resync { .. }
                | Dir::Tunnel
                | Dir::Stopped => {
                    let (used, dir, outcome) = step_common(self.req, rest, counters, probe);
                    pos = pos.saturating_add(used);
                    self.req = dir;
                    if let Some(outcome) = outcome {
                        return fed(pos, outcome);
                    }
                }
            }
        }
    }

    /// Where the client stream goes after request head `h`, whose end is at `pos`.
    fn request_next(&mut self, h: &RequestHead, pos: usize, counters: &mut HttpCounters) -> After {
        if h.is_connect() {
            self.connect_offset = Some(self.req_offset.saturating_add(pos as u64));
            return After::AwaitConnect;
        }
        after_body(&h.framing, counters)
    }
}
