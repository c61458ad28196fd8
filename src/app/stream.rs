//! The parsers of a TCP connection's two byte streams: which parser reads each
//! direction, and what each parser does with the bytes it is given. The bytes come from
//! the reassembler (`app::tcp`, which owns it); this file only reads them and answers
//! how many it consumed.
//!
//! Recognition is by content (`app::select`): the client's first bytes choose; the
//! server's bytes are read only by the parser the client's chose (an HTTP response
//! after a request). A direction found to be none of ours is looked at again at every
//! new chunk (STARTTLS, a SOCKS handshake); an HTTP CONNECT hands the bytes after it to
//! a fresh probe (the tunnel's ClientHello).

use super::context::{Cx, FlowMeta};
use super::facts::{AppProtocol, Fact, Hello};
use super::select::{self, Choice, Parser};
use crate::flow::Direction;
use crate::proto::Progress;
use crate::proto::dns::TcpDnsFramer;
use crate::proto::handshake::HandshakeFacts;
use crate::proto::http::HttpState;
use crate::proto::tls::ClientHelloStream;

/// What reads one direction of a connection.
pub(super) enum StreamParser {
    /// Nothing recognized yet: the first bytes decide.
    Probe,
    Dns(Box<TcpDnsFramer>),
    Tls(Box<ClientHelloStream>),
    /// The connection's [`HttpState`] reads this direction.
    Http,
    /// Not a protocol c2tap parses. Each new chunk of the client is still probed for
    /// the start of a TLS ClientHello or an HTTP request.
    Unknown,
    Done,
}

/// What reading one direction's bytes did.
pub(super) enum Step {
    /// This many bytes were consumed; read the rest (if any) again.
    Consumed(usize),
    /// The direction's parser changed without consuming: read the same bytes again.
    Switched,
    /// Nothing more can be done until more bytes arrive.
    Wait,
}

/// The parser choice and protocol states of both directions of one TCP connection.
pub(super) struct StreamParsers {
    /// Indexed by canonical [`Direction`].
    parsers: [StreamParser; 2],
    http: Option<Box<HttpState>>,
    /// The first request was a CONNECT: the NetworkConnect waits for the tunnel's
    /// ClientHello so that it carries both the proxy request and the TLS facts.
    awaiting_tunnel: bool,
    /// Inside an established CONNECT tunnel (only TLS is looked for).
    tunneled: [bool; 2],
}

impl StreamParsers {
    pub(super) fn new() -> StreamParsers {
        StreamParsers {
            parsers: [StreamParser::Probe, StreamParser::Probe],
            http: None,
            awaiting_tunnel: false,
            tunneled: [false, false],
        }
    }

    pub(super) fn all_done(&self) -> bool {
        self.parsers.iter().all(|p| matches!(p, StreamParser::Done))
    }

    pub(super) fn is_done(&self, d: Direction) -> bool {
        matches!(self.parsers[d.index()], StreamParser::Done)
    }

    /// HTTP and DNS read every message of a connection (keep-alive beacons, many
    /// queries on one TCP connection): their streams follow the connection past the
    /// reassembler's prefix.
    pub(super) fn follows(&self, d: Direction) -> bool {
        matches!(
            self.parsers[d.index()],
            StreamParser::Http | StreamParser::Dns(_)
        )
    }

    /// Body bytes of `d` the HTTP parser would only skip: the reassembler may drop them
    /// unread (a bulk download then costs a counter per segment, not a copy).
    pub(super) fn body_ahead(&self, d: Direction, from_client: bool) -> u64 {
        match (&self.parsers[d.index()], &self.http) {
            (StreamParser::Http, Some(http)) => http.body_ahead(from_client),
            _ => 0,
        }
    }

    /// The reassembler of `d` dropped `n` body bytes under [`Self::body_ahead`].
    pub(super) fn body_dropped(&mut self, d: Direction, n: u32, cx: &mut Cx<'_>) {
        if let Some(http) = &mut self.http {
            let from_client = cx.flow.is_from_client(d);
            http.body_dropped(from_client, u64::from(n), &mut cx.shared.counters.http);
        }
    }

    /// Reads `data`, the readable bytes of direction `d`.
    pub(super) fn read(&mut self, d: Direction, data: &[u8], cx: &mut Cx<'_>) -> Step {
        let i = d.index();
        let from_client = cx.flow.is_from_client(d);
        match &mut self.parsers[i] {
            StreamParser::Probe => {
                if self.decide(d, from_client, data, cx) {
                    Step::Switched
                } else {
                    Step::Wait
                }
            }
            StreamParser::Unknown => self.reprobe(d, from_client, data),
            StreamParser::Dns(framer) => {
                let pkt = cx.flow.dns_packet(d);
                let time = cx.time();
                let shared = &mut *cx.shared;
                let progress =
                    shared
                        .dns
                        .on_tcp_data(framer, &pkt, time, data, &mut shared.dns_done);
                if progress.is_final() {
                    self.parsers[i] = StreamParser::Done;
                }
                shared.take_dns();
                Step::Consumed(data.len())
            }
            StreamParser::Tls(st) => {
                match st.feed(data, &mut cx.shared.counters.tls) {
                    Progress::NeedMore => {}
                    Progress::Done(facts) => {
                        self.parsers[i] = StreamParser::Done;
                        self.on_hello(facts, cx);
                    }
                    Progress::Handoff => self.parsers[i] = StreamParser::Unknown,
                    Progress::Invalid(_) | Progress::Stopped => {
                        self.parsers[i] = StreamParser::Done
                    }
                }
                Step::Consumed(data.len())
            }
            StreamParser::Http => self.read_http(d, from_client, data, cx),
            StreamParser::Done => Step::Consumed(data.len()),
        }
    }

    fn read_http(&mut self, d: Direction, from_client: bool, data: &[u8], cx: &mut Cx<'_>) -> Step {
        let i = d.index();
        let http = self.http.get_or_insert_with(Box::default);
        let time = cx.time();
        let counters = &mut cx.shared.counters.http;
        let feed = if from_client {
            http.feed_request(data, time, counters)
        } else {
            http.feed_response(data, counters)
        };
        match feed.outcome {
            Progress::NeedMore => {}
            Progress::Handoff => {
                self.parsers[i] = StreamParser::Probe;
                self.tunneled[i] = true;
            }
            Progress::Stopped | Progress::Done(()) => self.parsers[i] = StreamParser::Done,
        }
        self.http_facts(cx);
        if feed.consumed == 0 && feed.outcome == Progress::NeedMore {
            Step::Wait
        } else {
            Step::Consumed(feed.consumed)
        }
    }

    /// A direction that is none of ours: a new chunk after a plain-text or binary
    /// preamble (STARTTLS, a SOCKS handshake) may start a ClientHello or a request.
    fn reprobe(&mut self, d: Direction, from_client: bool, data: &[u8]) -> Step {
        let i = d.index();
        if !from_client {
            return Step::Consumed(data.len());
        }
        match select::tcp_reprobe(data, self.tunneled[i]) {
            Some(Parser::Tls) => {
                self.parsers[i] = StreamParser::Tls(Box::default());
                Step::Switched
            }
            Some(Parser::Http) => {
                self.parsers[i] = StreamParser::Http;
                self.parsers[d.reverse().index()] = StreamParser::Http;
                Step::Switched
            }
            Some(Parser::Dns | Parser::Quic) | None => Step::Consumed(data.len()),
        }
    }

    /// Picks the parser of a direction from its first bytes. Returns false when more
    /// bytes are needed to tell.
    fn decide(&mut self, d: Direction, from_client: bool, data: &[u8], cx: &mut Cx<'_>) -> bool {
        let i = d.index();
        let o = d.reverse().index();
        let key = cx.flow.key;
        if !self.tunneled[i] && select::tcp_by_port(key.a.port, key.b.port) == Some(Parser::Dns) {
            self.parsers[i] = StreamParser::Dns(Box::default());
            if !cx.conn.emitted {
                cx.conn.facts_mut().protocol = AppProtocol::Dns;
                cx.connect_due();
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
        match select::tcp_client(data, self.tunneled[i]) {
            Choice::NeedMore => false,
            Choice::Chosen(Parser::Tls) => {
                self.parsers[i] = StreamParser::Tls(Box::default());
                true
            }
            Choice::Chosen(Parser::Http) => {
                self.parsers[i] = StreamParser::Http;
                if matches!(self.parsers[o], StreamParser::Probe) {
                    self.parsers[o] = StreamParser::Http;
                }
                true
            }
            Choice::Chosen(Parser::Dns | Parser::Quic) | Choice::Unknown => {
                self.parsers[i] = StreamParser::Unknown;
                // In a tunnel the server side keeps its probe (it may still carry the
                // tunnel's TLS); elsewhere it has nothing to read.
                if !self.tunneled[i] && matches!(self.parsers[o], StreamParser::Probe) {
                    self.parsers[o] = StreamParser::Done;
                }
                true
            }
        }
    }

    /// The server's bytes are read only by the parser the client's bytes chose (see
    /// `decide`): once the client's parser is chosen and is not HTTP, a server
    /// direction still probing is done at once — as `decide` would make it on its first
    /// bytes — so that the flow stops reassembling as soon as the client's parser is
    /// done, instead of buffering the server's first flight (a TLS ServerHello and
    /// certificate chain) to throw it away.
    pub(super) fn settle_server(&mut self, flow: &FlowMeta) {
        let c = flow.client;
        let s = c.reverse();
        let key = flow.key;
        // Outside a tunnel, ports that choose a parser (DNS on 53) give each direction
        // its own parser instead.
        let by_port =
            select::tcp_by_port(key.a.port, key.b.port).is_some() && !self.tunneled[s.index()];
        let client_chosen = !matches!(
            self.parsers[c.index()],
            StreamParser::Probe | StreamParser::Http
        );
        if matches!(self.parsers[s.index()], StreamParser::Probe) && client_chosen && !by_port {
            self.parsers[s.index()] = StreamParser::Done;
        }
    }

    /// A hole of `len` bytes was skipped in `d`: the parser resynchronises after it
    /// (HTTP), or gives the direction up (a ClientHello reports what it has; DNS framing
    /// is lost for good).
    pub(super) fn on_gap(&mut self, d: Direction, len: u64, cx: &mut Cx<'_>) {
        let i = d.index();
        let from_client = cx.flow.is_from_client(d);
        match &mut self.parsers[i] {
            StreamParser::Tls(st) => {
                if let Some(facts) = st.finish(&mut cx.shared.counters.tls) {
                    self.on_hello(Box::new(facts), cx);
                }
                self.parsers[i] = StreamParser::Done;
            }
            StreamParser::Dns(framer) => framer.stop(),
            StreamParser::Http => {
                if let Some(http) = &mut self.http {
                    let counters = &mut cx.shared.counters.http;
                    if from_client {
                        http.request_gap(len, counters);
                    } else {
                        http.response_gap(len, counters);
                    }
                }
            }
            StreamParser::Probe | StreamParser::Unknown | StreamParser::Done => {}
        }
    }

    /// The connection ends: a ClientHello still incomplete reports what it has, HTTP
    /// delivers the requests it holds, and every direction is done.
    pub(super) fn finish(&mut self, cx: &mut Cx<'_>) {
        for d in [Direction::FromA, Direction::FromB] {
            if let StreamParser::Tls(st) = &mut self.parsers[d.index()]
                && let Some(facts) = st.finish(&mut cx.shared.counters.tls)
            {
                self.on_hello(Box::new(facts), cx);
            }
        }
        if let Some(http) = &mut self.http {
            http.flush(&mut cx.shared.counters.http);
            self.http_facts(cx);
        }
        self.parsers = [StreamParser::Done, StreamParser::Done];
    }

    /// A ClientHello was read (complete, or partial at a hole or flow end).
    fn on_hello(&mut self, facts: Box<HandshakeFacts>, cx: &mut Cx<'_>) {
        cx.conn.facts_mut().hello = Some(Hello { facts, quic: false });
        self.awaiting_tunnel = false;
        cx.connect_due();
    }

    /// Hands on the HTTP requests the HTTP state finished; the first one identifies the
    /// flow (unless it is a CONNECT: then the tunnel's ClientHello is awaited).
    fn http_facts(&mut self, cx: &mut Cx<'_>) {
        let Some(http) = &mut self.http else {
            return;
        };
        if !cx.conn.emitted
            && !self.awaiting_tunnel
            && cx
                .conn
                .facts
                .as_ref()
                .is_none_or(|f| f.first_request.is_none())
            && let Some(first) = http.first_request()
        {
            let connect = first.is_connect();
            cx.conn.facts_mut().first_request = Some(first.clone());
            if connect {
                self.awaiting_tunnel = true;
            } else {
                cx.connect_due();
            }
        }
        for tx in http.take_events() {
            cx.conn.http_requests = cx.conn.http_requests.saturating_add(1);
            let flow = cx.flow.at(tx.time);
            cx.shared.facts.push(Fact::Http(flow, tx));
        }
    }
}
