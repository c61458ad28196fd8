//! The per-worker transaction table: joins queries with their responses.
//!
//! A transaction is keyed by the client and server endpoints, the transport, the
//! message ID and the question (name without case, type, class without the mDNS
//! top bit). Orientation comes from the QR bit, not from the caller: the sender of a
//! query (the receiver of a response) is the client.
//! - a query question is kept pending until its response, its timeout (packet time,
//!   [`DnsConfig::timeout`]) or its eviction by the cap ([`DnsConfig::max_pending`],
//!   oldest first), and then emitted once;
//! - a retransmitted query (same key while pending) is counted and ignored;
//! - a response with no pending query still gives a transaction (as Zeek does);
//! - a message with several questions gives one transaction per question;
//! - a query sent to a multicast group (LLMNR, mDNS) is joined with a unicast answer
//!   from any host on the same port.
//!
//! Not done: a response retransmitted after its transaction finished gives a second,
//! response-only transaction (the table keeps no memory of finished transactions).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hashbrown::HashMap;

use super::counters::DnsCounters;
use super::parse::{Message, ParseError, Section};
use super::tcp::{FramingError, TcpDnsFramer};
use super::transaction::{Answer, DnsResponse, DnsTransaction, MAX_ANSWERS, OwnerText};
use crate::flow::Transport;
use crate::proto::Progress;
use crate::time::{Duration, Timestamp};

/// How long a query waits for its response, in packet time. Stub resolvers retry after
/// 1–5 s (Windows: 1 s then doubling; glibc: 5 s), so an answer later than 5 s is not
/// one the client waited for.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pending questions per worker: 5 s of ~1600 unanswered queries per second. At the
/// longest name text (1025 bytes) this is under 10 MiB per worker.
pub const DEFAULT_MAX_PENDING: usize = 8192;
/// The order queue holds stale entries of answered queries until they reach its front;
/// it is compacted when it grows past this many times the table cap.
const ORDER_SLACK: usize = 2;

/// Settings of the table (from `RuntimeConfig`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    pub timeout: Duration,
    pub max_pending: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            timeout: DEFAULT_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}

/// Where one message was seen: the packet's own addresses, as captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsPacket {
    /// The caller's flow id; carried into the transactions.
    pub flow_id: u64,
    pub transport: Transport,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

#[derive(Debug)]
struct TxKey {
    client: SocketAddr,
    server: SocketAddr,
    transport: Transport,
    id: u16,
    qtype: u16,
    /// Without the mDNS unicast-response / cache-flush bit.
    qclass: u16,
    /// As the client sent it; compared and hashed without ASCII case (RFC 4343).
    /// Shared with the transactions made from this key.
    name: Arc<str>,
}

impl PartialEq for TxKey {
    fn eq(&self, o: &TxKey) -> bool {
        self.id == o.id
            && self.qtype == o.qtype
            && self.qclass == o.qclass
            && self.client == o.client
            && self.server == o.server
            && self.transport == o.transport
            && self.name.eq_ignore_ascii_case(&o.name)
    }
}

impl Eq for TxKey {}

impl Hash for TxKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.client.hash(h);
        self.server.hash(h);
        self.transport.hash(h);
        self.id.hash(h);
        self.qtype.hash(h);
        self.qclass.hash(h);
        h.write_usize(self.name.len());
        // Lower-cased a chunk at a time: one `write` per chunk rather than one per byte
        // (a third of the cost of a DNS message went to this loop). Equal names have
        // equal lengths, so they are cut into the same chunks and hash the same.
        let mut lower = [0u8; 32];
        for chunk in self.name.as_bytes().chunks(lower.len()) {
            if let Some(buf) = lower.get_mut(..chunk.len()) {
                buf.copy_from_slice(chunk);
                buf.make_ascii_lowercase();
                h.write(buf);
            }
        }
    }
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    query_ts: Timestamp,
    flow_id: u64,
    /// The query's destination (a multicast group for LLMNR/mDNS).
    server: SocketAddr,
    qclass: u16,
    name_truncated: bool,
    /// The query's header flags (the transaction's last message until a response).
    flags: u16,
}

/// The transaction table of one worker; see the module doc.
pub struct DnsState {
    cfg: DnsConfig,
    pending: HashMap<Arc<TxKey>, Pending>,
    /// Insertion order: (seq, deadline, key). Entries whose seq no longer matches the
    /// table are stale and skipped.
    order: VecDeque<(u64, Timestamp, Arc<TxKey>)>,
    next_seq: u64,
    counters: DnsCounters,
    /// Reused per message: the questions read, and the text of one name.
    questions: Vec<OwnedQuestion>,
    name_buf: String,
    /// Reused per response: the owner text of its answers.
    owner_buf: OwnerText,
}

/// A question read from a message, owned.
struct OwnedQuestion {
    name: Arc<str>,
    /// [`Name::label_start`] of the question in its message.
    label_start: usize,
    truncated: bool,
    qtype: u16,
    qclass: u16,
}

impl DnsState {
    pub fn new(cfg: DnsConfig) -> DnsState {
        let cfg = DnsConfig {
            max_pending: cfg.max_pending.max(1),
            ..cfg
        };
        DnsState {
            cfg,
            pending: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
            counters: DnsCounters::default(),
            questions: Vec::new(),
            name_buf: String::new(),
            owner_buf: OwnerText::default(),
        }
    }

    pub fn counters(&self) -> &DnsCounters {
        &self.counters
    }

    /// Questions waiting for a response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Handles one DNS message (a UDP payload or a TCP-framed message) seen at `ts`,
    /// pushing finished transactions to `out`. Also expires pending queries older than
    /// the timeout. Returns the first parse error met (already counted); what parsed
    /// before it has been used.
    pub fn on_message(
        &mut self,
        pkt: &DnsPacket,
        ts: Timestamp,
        bytes: &[u8],
        out: &mut Vec<DnsTransaction>,
    ) -> Result<(), ParseError> {
        self.expire(ts, out);
        let msg = Message::parse(bytes).inspect_err(|e| self.counters.parse_error(*e))?;
        self.counters.messages_parsed = self.counters.messages_parsed.saturating_add(1);
        let mut first_err = None;
        let mut questions = std::mem::take(&mut self.questions);
        self.read_questions(&msg, &mut first_err, &mut questions);
        let res = if msg.header.is_response() {
            self.on_response(pkt, ts, &msg, &mut questions, &mut first_err, out);
            first_err
        } else {
            self.on_query(
                pkt,
                ts,
                msg.header.id,
                msg.header.flags,
                &mut questions,
                out,
            );
            first_err
        };
        questions.clear();
        self.questions = questions;
        match res {
            Some(e) => {
                self.counters.parse_error(e);
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Feeds in-order TCP stream bytes of one direction through its `framer` and
    /// handles every complete message. A bad length prefix stops the framer for good
    /// and is counted: the answer is then `Invalid` (this once) and `Stopped` after, as
    /// it is for a framer stopped at a gap; otherwise `NeedMore` (DNS over TCP carries
    /// messages until the connection ends).
    pub fn on_tcp_data(
        &mut self,
        framer: &mut TcpDnsFramer,
        pkt: &DnsPacket,
        ts: Timestamp,
        bytes: &[u8],
        out: &mut Vec<DnsTransaction>,
    ) -> Progress<(), FramingError> {
        if framer.is_stopped() {
            return Progress::Stopped;
        }
        let res = framer.feed(bytes, &mut |m: &[u8]| {
            self.counters.tcp_messages = self.counters.tcp_messages.saturating_add(1);
            // Errors are counted by on_message; the next message may be fine.
            let _ = self.on_message(pkt, ts, m, out);
        });
        match res {
            Ok(()) => Progress::NeedMore,
            Err(e) => {
                self.counters.tcp_framing_errors =
                    self.counters.tcp_framing_errors.saturating_add(1);
                Progress::Invalid(e)
            }
        }
    }

    fn read_questions(
        &mut self,
        msg: &Message<'_>,
        first_err: &mut Option<ParseError>,
        qs: &mut Vec<OwnedQuestion>,
    ) {
        qs.clear();
        for q in msg.questions() {
            match q {
                Ok(q) => {
                    self.name_buf.clear();
                    let truncated = q.name.push_text(&mut self.name_buf);
                    let name = Arc::<str>::from(self.name_buf.as_str());
                    if truncated {
                        self.counters.names_truncated =
                            self.counters.names_truncated.saturating_add(1);
                    }
                    qs.push(OwnedQuestion {
                        name,
                        label_start: q.name.label_start(),
                        truncated,
                        qtype: q.qtype,
                        qclass: q.qclass,
                    });
                }
                Err(e) => *first_err = Some(e),
            }
        }
    }

    fn on_query(
        &mut self,
        pkt: &DnsPacket,
        ts: Timestamp,
        id: u16,
        flags: u16,
        questions: &mut Vec<OwnedQuestion>,
        out: &mut Vec<DnsTransaction>,
    ) {
        for q in questions.drain(..) {
            let key = TxKey {
                client: pkt.src,
                server: server_key(pkt.dst),
                transport: pkt.transport,
                id,
                qtype: q.qtype,
                qclass: q.qclass & 0x7FFF,
                name: q.name,
            };
            if self.pending.contains_key(&key) {
                self.counters.duplicate_queries = self.counters.duplicate_queries.saturating_add(1);
                continue;
            }
            self.counters.queries = self.counters.queries.saturating_add(1);
            self.make_room(out);
            let key = Arc::new(key);
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            let pending = Pending {
                seq,
                query_ts: ts,
                flow_id: pkt.flow_id,
                server: pkt.dst,
                qclass: q.qclass,
                name_truncated: q.truncated,
                flags,
            };
            self.order
                .push_back((seq, ts.saturating_add(self.cfg.timeout), Arc::clone(&key)));
            self.pending.insert(key, pending);
        }
    }

    /// Evicts the oldest pending question when the table is full, and compacts the
    /// order queue when stale entries dominate it.
    fn make_room(&mut self, out: &mut Vec<DnsTransaction>) {
        if self.pending.len() >= self.cfg.max_pending && self.pop_oldest(None, out) {
            self.counters.evictions = self.counters.evictions.saturating_add(1);
        }
        if self.order.len() > self.cfg.max_pending.saturating_mul(ORDER_SLACK) {
            let pending = &self.pending;
            self.order
                .retain(|(seq, _, k)| pending.get(k).is_some_and(|p| p.seq == *seq));
        }
    }

    /// Removes the oldest live pending question (only when its deadline is at or
    /// before `until`, if given) and pushes it as a no-response transaction. Returns
    /// false when there was none.
    fn pop_oldest(&mut self, until: Option<Timestamp>, out: &mut Vec<DnsTransaction>) -> bool {
        while let Some((seq, deadline, _)) = self.order.front() {
            if until.is_some_and(|u| *deadline > u) {
                return false;
            }
            let seq = *seq;
            let Some((_, _, key)) = self.order.pop_front() else {
                return false;
            };
            if self.pending.get(&key).is_some_and(|p| p.seq == seq)
                && let Some((key, p)) = self.pending.remove_entry(&key)
            {
                out.push(no_response(&key, &p));
                self.counters.transactions = self.counters.transactions.saturating_add(1);
                return true;
            }
        }
        false
    }

    fn on_response(
        &mut self,
        pkt: &DnsPacket,
        ts: Timestamp,
        msg: &Message<'_>,
        questions: &mut Vec<OwnedQuestion>,
        first_err: &mut Option<ParseError>,
        out: &mut Vec<DnsTransaction>,
    ) {
        self.counters.responses = self.counters.responses.saturating_add(1);
        if questions.is_empty() {
            self.counters.responses_without_question =
                self.counters.responses_without_question.saturating_add(1);
            return;
        }
        // Answers name the question first: its text is the first owner's.
        let mut owner = std::mem::take(&mut self.owner_buf);
        owner.start = questions.first().map(|q| q.label_start);
        owner.text.clear();
        if let Some(q) = questions.first() {
            owner.text.push_str(&q.name);
            owner.cut = q.truncated;
        }
        let response = Arc::new(self.read_response(msg, ts, first_err, &mut owner));
        self.owner_buf = owner;
        for q in questions.drain(..) {
            let mut key = TxKey {
                client: pkt.dst,
                server: pkt.src,
                transport: pkt.transport,
                id: msg.header.id,
                qtype: q.qtype,
                qclass: q.qclass & 0x7FFF,
                name: q.name,
            };
            let mut hit = self.pending.remove_entry(&key);
            if hit.is_none() {
                // Perhaps the answer to a multicast query (LLMNR, mDNS with the QU bit).
                key.server = multicast_server_key(pkt.src);
                hit = self.pending.remove_entry(&key);
                key.server = pkt.src;
            }
            let (key, server, query_ts, flow_id, qclass, truncated) = match hit {
                // The order queue still holds the key: copy it (the name is shared).
                Some((k, p)) => (
                    clone_key(&k),
                    p.server,
                    Some(p.query_ts),
                    p.flow_id,
                    p.qclass,
                    p.name_truncated,
                ),
                None => {
                    self.counters.unmatched_responses =
                        self.counters.unmatched_responses.saturating_add(1);
                    (key, pkt.src, None, pkt.flow_id, q.qclass, q.truncated)
                }
            };
            self.counters.transactions = self.counters.transactions.saturating_add(1);
            out.push(DnsTransaction {
                flow_id,
                transport: key.transport,
                client: key.client,
                server,
                id: key.id,
                qname: key.name,
                qname_truncated: truncated,
                qtype: key.qtype,
                qclass,
                flags: response.flags,
                query_ts,
                response: Some(Arc::clone(&response)),
            });
        }
    }

    /// Reads the answers (and the OPT record's extended RCODE) of a response.
    fn read_response(
        &mut self,
        msg: &Message<'_>,
        ts: Timestamp,
        first_err: &mut Option<ParseError>,
        owner: &mut OwnerText,
    ) -> DnsResponse {
        let mut resp = DnsResponse {
            ts,
            rcode: u16::from(msg.header.rcode()),
            tc: msg.header.truncated(),
            flags: msg.header.flags,
            // Sized from the header (capped): pushing would regrow it per answer.
            answers: Vec::with_capacity(usize::from(msg.header.ancount).min(MAX_ANSWERS)),
            answers_incomplete: false,
            min_ttl: None,
        };
        let mut records = msg.records();
        for r in records.by_ref() {
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    // A question error was already noted; keep the first.
                    first_err.get_or_insert(e);
                    resp.answers_incomplete = true;
                    break;
                }
            };
            match r.section {
                Section::Answer => {
                    resp.min_ttl = Some(resp.min_ttl.map_or(r.ttl, |t| t.min(r.ttl)));
                    if let Err(e) = r.data() {
                        self.counters.parse_error(e);
                    }
                    if resp.answers.len() >= MAX_ANSWERS {
                        resp.answers_incomplete = true;
                        continue;
                    }
                    let (answer, cut) = Answer::from_record(&r, &mut self.name_buf, owner);
                    if cut {
                        self.counters.names_truncated =
                            self.counters.names_truncated.saturating_add(1);
                    }
                    resp.answers.push(answer);
                }
                Section::Additional => {
                    if let Some(ext) = r.ext_rcode() {
                        resp.rcode |= u16::from(ext) << 4;
                    }
                }
                Section::Authority => {}
            }
        }
        if records.capped() {
            resp.answers_incomplete = true;
        }
        if resp.answers.len() >= MAX_ANSWERS && resp.answers_incomplete {
            self.counters.answers_capped = self.counters.answers_capped.saturating_add(1);
        }
        resp
    }

    /// Emits, as no-response (`1460`) transactions, the pending questions whose
    /// timeout passed at packet time `now`. Call it once per batch so that idle
    /// periods still expire queries; [`DnsState::on_message`] calls it too.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<DnsTransaction>) {
        while self.pop_oldest(Some(now), out) {
            self.counters.timeouts = self.counters.timeouts.saturating_add(1);
        }
    }

    /// Emits every pending question as a no-response transaction (end of input).
    pub fn flush_all(&mut self, out: &mut Vec<DnsTransaction>) {
        while self.pop_oldest(None, out) {
            self.counters.flushed = self.counters.flushed.saturating_add(1);
        }
        self.order.clear();
        self.pending.clear();
    }
}

/// The server part of a query's key: a multicast destination is replaced by the
/// unspecified address of its family (same port), since the answer comes from
/// whichever host responds.
fn server_key(dst: SocketAddr) -> SocketAddr {
    if dst.ip().is_multicast() {
        multicast_server_key(dst)
    } else {
        dst
    }
}

fn multicast_server_key(addr: SocketAddr) -> SocketAddr {
    let any = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(any, addr.port())
}

fn clone_key(k: &TxKey) -> TxKey {
    TxKey {
        client: k.client,
        server: k.server,
        transport: k.transport,
        id: k.id,
        qtype: k.qtype,
        qclass: k.qclass,
        name: k.name.clone(),
    }
}

fn no_response(key: &TxKey, p: &Pending) -> DnsTransaction {
    DnsTransaction {
        flow_id: p.flow_id,
        transport: key.transport,
        client: key.client,
        server: p.server,
        id: key.id,
        qname: key.name.clone(),
        qname_truncated: p.name_truncated,
        qtype: key.qtype,
        qclass: p.qclass,
        flags: p.flags,
        query_ts: Some(p.query_ts),
        response: None,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
pub(crate) mod tests;
