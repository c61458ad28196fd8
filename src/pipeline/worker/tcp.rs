//! TCP flows: stream-prefix reassembly of both directions, protocol recognition by
//! content (ports are only hints), and the stream parsers: DNS over TCP, TLS
//! ClientHello, HTTP/1.x requests and responses, and CONNECT tunnels re-probed for the
//! TLS inside them.
//!
//! Once every parser of a flow is done, its buffers are freed and each later segment
//! costs a table lookup and one comparison.

use std::net::{IpAddr, SocketAddr};

use super::emit::Emitter;
use super::state::{FlowState, emit_connect};
use crate::decode::TcpSegment;
use crate::event::{self, AppProtocol, Body, Transport};
use crate::flow::{Direction, Entry, FlowKey, FlowTable, PROTO_TCP, PacketSeen, TcpConn};
use crate::proto::dns::{DnsPacket, DnsState, DnsTransaction, DnsTransport, TcpDnsFramer};
use crate::proto::http::{self, HttpState, Outcome};
use crate::proto::tls::{self, ClientHelloStream, Progress};
use crate::telemetry::Counter;
use crate::time::Timestamp;

/// State changes one direction may go through for one segment (probe → HTTP →
/// tunnel → probe → TLS → done): a bound on the parser loop, with room to spare.
const MAX_PARSER_STEPS: usize = 8;

/// What parses one direction of a connection.
enum StreamParser {
    /// Nothing recognized yet: the first bytes decide.
    Probe,
    Dns(Box<TcpDnsFramer>),
    Tls(Box<ClientHelloStream>),
    /// The flow's [`HttpState`] parses this direction.
    Http,
    /// Not a protocol c2tap parses. Each new chunk of the client is still checked for
    /// the start of a TLS ClientHello or an HTTP request, so a STARTTLS upgrade or HTTP
    /// after a SOCKS handshake is seen.
    Unknown,
    Done,
}

pub struct TcpFlow {
    conn: TcpConn,
    /// Indexed by canonical [`Direction`].
    parsers: [StreamParser; 2],
    http: Option<Box<HttpState>>,
    /// The first request was a CONNECT: the NetworkConnect waits for the tunnel's
    /// ClientHello so that it carries both the proxy request and the TLS facts.
    awaiting_tunnel: bool,
    /// Inside an established CONNECT tunnel (only TLS is looked for).
    tunneled: [bool; 2],
    /// The last hole each direction's parser was told about (stream offset after it).
    gap_seen: [Option<u64>; 2],
}

impl TcpFlow {
    fn new() -> TcpFlow {
        TcpFlow {
            conn: TcpConn::new(),
            parsers: [StreamParser::Probe, StreamParser::Probe],
            http: None,
            awaiting_tunnel: false,
            tunneled: [false, false],
            gap_seen: [None, None],
        }
    }

    fn all_done(&self) -> bool {
        self.parsers.iter().all(|p| matches!(p, StreamParser::Done))
    }

    /// The flow ends (expired, evicted, end of input): deliver held data, let the
    /// parsers report what they have, free the buffers.
    pub fn finish_flow(
        &mut self,
        entry: &mut Entry<FlowState>,
        dns: &mut DnsState,
        emit: &mut Emitter,
        dns_done: &mut Vec<DnsTransaction>,
    ) {
        let held = self.conn.memory_bytes();
        emit.reassembly_bytes = emit.reassembly_bytes.saturating_sub(held);
        let mut cx = Cx {
            entry,
            dns,
            emit,
            dns_done,
            ts: None,
        };
        self.finish(&mut cx);
    }

    /// Held data is delivered (holes skipped), parsers report what they have, and the
    /// buffers are freed; later segments of the flow are ignored.
    fn finish(&mut self, cx: &mut Cx<'_>) {
        let out = self.conn.flush();
        cx.emit.reassembly.record(&out);
        for d in [Direction::FromA, Direction::FromB] {
            self.drive(d, cx);
        }
        for d in [Direction::FromA, Direction::FromB] {
            if let StreamParser::Tls(st) = &mut self.parsers[d.index()]
                && let Some(facts) = st.finish(&mut cx.emit.tls)
            {
                self.on_hello(&facts, cx);
            }
        }
        if let Some(http) = &mut self.http {
            http.flush(&mut cx.emit.http);
            self.http_events(cx);
        }
        self.conn.stop();
        self.parsers = [StreamParser::Done, StreamParser::Done];
    }

    /// Runs the parser of direction `d` over its readable bytes.
    fn drive(&mut self, d: Direction, cx: &mut Cx<'_>) {
        let i = d.index();
        for _ in 0..MAX_PARSER_STEPS {
            self.check_gap(d, cx);
            let data = self.conn.stream(d).readable();
            if data.is_empty() || matches!(self.parsers[i], StreamParser::Done) {
                if matches!(self.parsers[i], StreamParser::Done) && !data.is_empty() {
                    let n = data.len();
                    self.conn.stream_mut(d).consume(n);
                }
                return;
            }
            let from_client = cx.entry.is_from_client(d);
            let consumed = match &mut self.parsers[i] {
                StreamParser::Probe => {
                    if !self.decide(d, from_client, cx) {
                        return; // need more bytes to decide
                    }
                    self.follow_whole_streams();
                    continue;
                }
                StreamParser::Unknown => {
                    // A new chunk after a plain-text or binary preamble (STARTTLS, a
                    // SOCKS handshake) may start a ClientHello or a request.
                    if from_client && tls::probe(data) == tls::Probe::Tls {
                        self.parsers[i] = StreamParser::Tls(Box::default());
                        continue;
                    }
                    if from_client && !self.tunneled[i] && http::probe(data) == http::Probe::Http {
                        self.parsers[i] = StreamParser::Http;
                        let o = d.reverse().index();
                        self.parsers[o] = StreamParser::Http;
                        self.follow_whole_streams();
                        continue;
                    }
                    data.len()
                }
                StreamParser::Dns(framer) => {
                    let pkt = DnsPacket {
                        flow_id: cx.entry.flow_id,
                        transport: DnsTransport::Tcp,
                        src: sockaddr(cx.entry.key.sender(d)),
                        dst: sockaddr(cx.entry.key.receiver(d)),
                    };
                    cx.dns
                        .on_tcp_data(framer, &pkt, cx.time(), data, cx.dns_done);
                    if framer.is_stopped() {
                        self.parsers[i] = StreamParser::Done;
                    }
                    cx.emit.dns_transactions(cx.dns_done);
                    data.len()
                }
                StreamParser::Tls(st) => {
                    let n = data.len();
                    match st.feed(data, &mut cx.emit.tls) {
                        Progress::NeedMore => {}
                        Progress::Done(facts) => {
                            self.parsers[i] = StreamParser::Done;
                            self.on_hello(&facts, cx);
                        }
                        Progress::NotTls => self.parsers[i] = StreamParser::Unknown,
                        Progress::Invalid(_) | Progress::Finished => {
                            self.parsers[i] = StreamParser::Done
                        }
                    }
                    n
                }
                StreamParser::Http => {
                    let http = self.http.get_or_insert_with(Box::default);
                    let feed = if from_client {
                        http.feed_request(data, cx.time(), &mut cx.emit.http)
                    } else {
                        http.feed_response(data, &mut cx.emit.http)
                    };
                    match feed.outcome {
                        Outcome::NeedMore => {}
                        Outcome::Tunnel => {
                            self.parsers[i] = StreamParser::Probe;
                            self.tunneled[i] = true;
                        }
                        Outcome::Stopped => self.parsers[i] = StreamParser::Done,
                    }
                    self.http_events(cx);
                    if feed.consumed == 0 && feed.outcome == Outcome::NeedMore {
                        return;
                    }
                    feed.consumed
                }
                StreamParser::Done => 0,
            };
            self.conn.stream_mut(d).consume(consumed);
        }
    }

    /// The server's bytes are read only by the parser the client's bytes chose (see
    /// `decide`): once the client's parser is chosen and is not HTTP, a server
    /// direction still probing is done at once — as `decide` would make it on its first
    /// bytes — so that the flow stops reassembling as soon as the client's parser is
    /// done, instead of buffering the server's first flight (a TLS ServerHello and
    /// certificate chain) to throw it away.
    fn settle_server(&mut self, entry: &Entry<FlowState>) {
        let c = entry.client_dir();
        let s = c.reverse();
        let key = entry.key;
        // On port 53 (outside a tunnel), `decide` gives each direction its own DNS
        // framer instead.
        let dns_framer = (key.a.port == 53 || key.b.port == 53) && !self.tunneled[s.index()];
        let client_chosen = !matches!(
            self.parsers[c.index()],
            StreamParser::Probe | StreamParser::Http
        );
        if matches!(self.parsers[s.index()], StreamParser::Probe) && client_chosen && !dns_framer {
            self.parsers[s.index()] = StreamParser::Done;
        }
    }

    /// Lets each direction's reassembler drop the body bytes its HTTP parser would
    /// only skip (Content-Length and chunk data, bodies to the connection's end): a
    /// bulk download then costs a counter per segment instead of a copy into the
    /// buffer and a parser call. Called after every parser step.
    fn plan_drops(&mut self, entry: &Entry<FlowState>) {
        for d in [Direction::FromA, Direction::FromB] {
            let ahead = match (&self.parsers[d.index()], &self.http) {
                (StreamParser::Http, Some(http)) => http.body_ahead(entry.is_from_client(d)),
                _ => 0,
            };
            self.conn.stream_mut(d).drop_ahead(ahead);
        }
    }

    /// The reassembler of `d` dropped `n` body bytes under [`TcpFlow::plan_drops`].
    fn body_dropped(&mut self, d: Direction, n: u32, cx: &mut Cx<'_>) {
        if let Some(http) = &mut self.http {
            let from_client = cx.entry.is_from_client(d);
            http.body_dropped(from_client, u64::from(n), &mut cx.emit.http);
        }
    }

    /// HTTP and DNS read every message of a connection (keep-alive beacons, many
    /// queries on one TCP connection): their directions follow the stream past the
    /// 64 KiB prefix, buffering at most that much unread.
    fn follow_whole_streams(&mut self) {
        for d in [Direction::FromA, Direction::FromB] {
            if matches!(
                self.parsers[d.index()],
                StreamParser::Http | StreamParser::Dns(_)
            ) {
                self.conn.stream_mut(d).follow();
            }
        }
    }

    /// Picks the parser of a direction from its first bytes. Returns false when more
    /// bytes are needed to tell.
    fn decide(&mut self, d: Direction, from_client: bool, cx: &mut Cx<'_>) -> bool {
        let i = d.index();
        let o = d.reverse().index();
        let data = self.conn.stream(d).readable();
        let key = cx.entry.key;
        if !self.tunneled[i] && (key.a.port == 53 || key.b.port == 53) {
            self.parsers[i] = StreamParser::Dns(Box::default());
            if !cx.entry.state.connect_emitted {
                cx.entry.state.facts().app_protocol = AppProtocol::Dns;
                emit_connect(cx.entry, cx.emit);
            }
            return true;
        }
        if !from_client {
            // The server's bytes are read by the parser the client's bytes chose: an
            // HTTP response once a request was seen, nothing otherwise.
            self.parsers[i] = match self.parsers[o] {
                StreamParser::Http => StreamParser::Http,
                StreamParser::Probe if !self.tunneled[i] => return false,
                _ => StreamParser::Done,
            };
            return true;
        }
        match tls::probe(data) {
            tls::Probe::Tls => {
                self.parsers[i] = StreamParser::Tls(Box::default());
                return true;
            }
            tls::Probe::NeedMore => return false,
            tls::Probe::NotTls => {}
        }
        if self.tunneled[i] {
            self.parsers[i] = StreamParser::Unknown;
            return true;
        }
        match http::probe(data) {
            http::Probe::Http => {
                self.parsers[i] = StreamParser::Http;
                if matches!(self.parsers[o], StreamParser::Probe) {
                    self.parsers[o] = StreamParser::Http;
                }
                true
            }
            http::Probe::NeedMore => false,
            http::Probe::NotHttp => {
                self.parsers[i] = StreamParser::Unknown;
                if matches!(self.parsers[o], StreamParser::Probe) {
                    self.parsers[o] = StreamParser::Done;
                }
                true
            }
        }
    }

    /// Tells the parser of `d` about a hole skipped since it last looked: the bytes
    /// before it are dropped and the parser resynchronises after it.
    fn check_gap(&mut self, d: Direction, cx: &mut Cx<'_>) {
        let i = d.index();
        let stream = self.conn.stream(d);
        let Some(hole) = stream.last_hole() else {
            return;
        };
        if self.gap_seen[i] == Some(hole.end) {
            return;
        }
        self.gap_seen[i] = Some(hole.end);
        let before =
            usize::try_from(hole.end.saturating_sub(stream.stream_offset())).unwrap_or(usize::MAX);
        let before = before.min(stream.readable().len());
        self.conn.stream_mut(d).consume(before);
        let from_client = cx.entry.is_from_client(d);
        match &mut self.parsers[d.index()] {
            StreamParser::Tls(st) => {
                if let Some(facts) = st.finish(&mut cx.emit.tls) {
                    self.on_hello(&facts, cx);
                }
                self.parsers[i] = StreamParser::Done;
            }
            StreamParser::Dns(framer) => framer.stop(),
            StreamParser::Http => {
                if let Some(http) = &mut self.http {
                    if from_client {
                        http.request_gap(hole.len, &mut cx.emit.http);
                    } else {
                        http.response_gap(hole.len, &mut cx.emit.http);
                    }
                }
            }
            StreamParser::Probe | StreamParser::Unknown | StreamParser::Done => {}
        }
    }

    /// A ClientHello was read (complete, or partial at a hole or flow end).
    fn on_hello(&mut self, facts: &crate::proto::handshake::HandshakeFacts, cx: &mut Cx<'_>) {
        let conn = cx.entry.state.facts();
        event::tls::apply_tls(facts, false, conn);
        self.awaiting_tunnel = false;
        emit_connect(cx.entry, cx.emit);
    }

    /// Writes the HTTP requests the HTTP state finished; the first one identifies the
    /// flow (unless it is a CONNECT: then the tunnel's ClientHello is awaited).
    fn http_events(&mut self, cx: &mut Cx<'_>) {
        let Some(http) = &mut self.http else {
            return;
        };
        if !cx.entry.state.connect_emitted
            && !self.awaiting_tunnel
            && cx
                .entry
                .state
                .facts
                .as_ref()
                .is_none_or(|f| f.http_method.is_none())
            && let Some(first) = http.first_request()
        {
            let connect = first.is_connect();
            event::http::apply_http(first, cx.entry.state.facts());
            if connect {
                self.awaiting_tunnel = true;
            } else {
                emit_connect(cx.entry, cx.emit);
            }
        }
        let (client, server) = super::state::endpoints(cx.entry);
        for tx in http.take_events() {
            let header = cx
                .emit
                .header(tx.time, cx.entry.flow_id, Transport::Tcp, client, server);
            let mut body = cx.emit.spare_http();
            event::http::fill_http_request(&tx.request, tx.status, &mut body);
            cx.emit.emit(header, Body::Http(body));
        }
    }
}

/// What the parsers of one segment need besides the flow's TCP state.
struct Cx<'a> {
    entry: &'a mut Entry<FlowState>,
    dns: &'a mut DnsState,
    emit: &'a mut Emitter,
    dns_done: &'a mut Vec<DnsTransaction>,
    /// The segment's time; `None` at flow end (the flow's last packet time is used).
    ts: Option<Timestamp>,
}

impl Cx<'_> {
    fn time(&self) -> Timestamp {
        self.ts.unwrap_or(self.entry.last_seen)
    }
}

fn sockaddr(e: crate::flow::Endpoint) -> SocketAddr {
    SocketAddr::new(e.ip, e.port)
}

#[allow(clippy::too_many_arguments)]
pub fn on_segment(
    flows: &mut FlowTable<FlowState>,
    dns: &mut DnsState,
    emit: &mut Emitter,
    ts: Timestamp,
    src: IpAddr,
    dst: IpAddr,
    seg: &TcpSegment<'_>,
    ended: &mut Vec<Entry<FlowState>>,
    dns_done: &mut Vec<DnsTransaction>,
) {
    let (key, dir) = FlowKey::new(PROTO_TCP, src, seg.src_port, dst, seg.dst_port);
    let flags = seg.flags;
    let seen = PacketSeen {
        now: ts,
        dir,
        bytes: u32::try_from(seg.payload.len()).unwrap_or(u32::MAX),
        tcp_flags: Some(flags),
    };
    let Some((entry, _new)) = flows.get_or_insert(key, seen, FlowState::default, ended) else {
        return;
    };
    if entry.state.tcp_done {
        return;
    }
    let mut tcp = entry
        .state
        .tcp
        .take()
        .unwrap_or_else(|| Box::new(TcpFlow::new()));
    if !tcp.all_done() {
        let before = tcp.conn.memory_bytes();
        let out = tcp
            .conn
            .on_segment(dir, seg.seq, seg.ack, flags, seg.payload);
        emit.reassembly.record(&out);
        let mut cx = Cx {
            entry,
            dns,
            emit,
            dns_done,
            ts: Some(ts),
        };
        if out.dropped > 0 {
            tcp.body_dropped(dir, out.dropped, &mut cx);
        }
        if out.readable_added > 0 || out.gaps > 0 {
            // An ACK can release held data of the other direction too.
            tcp.drive(dir, &mut cx);
            tcp.drive(dir.reverse(), &mut cx);
            tcp.settle_server(cx.entry);
            if tcp.all_done() {
                tcp.conn.stop();
            }
        }
        if out.readable_added > 0 || out.gaps > 0 || out.dropped > 0 {
            tcp.plan_drops(cx.entry);
        }
        let after = tcp.conn.memory_bytes();
        let total = &mut cx.emit.reassembly_bytes;
        *total = total.saturating_sub(before).saturating_add(after);
        if *total > REASSEMBLY_BUDGET && after > 0 {
            // Over the worker's budget: this flow's parsers report what they have and
            // its buffers go, as Suricata does when its stream memcap is reached.
            cx.emit.counts.incr(Counter::ReassemblyBudgetStops);
            cx.emit.reassembly_bytes = cx.emit.reassembly_bytes.saturating_sub(after);
            tcp.finish(&mut cx);
        }
    }
    entry.state.tcp_done = tcp.all_done();
    entry.state.tcp = Some(tcp);
}

/// Bytes of TCP reassembly buffers one worker may hold across all its flows. Each
/// direction is capped at ~82 KiB by the reassembler; this bounds the sum, so that a
/// crowd of flows that each keep an unparsed prefix cannot exhaust memory. 48 MiB per
/// worker keeps two workers well inside DESIGN §6's 256 MiB together with the flow
/// tables, while ordinary traffic (parsers consume bytes as they arrive and stop once
/// they have their facts) stays far below it.
pub const REASSEMBLY_BUDGET: usize = 48 << 20;
