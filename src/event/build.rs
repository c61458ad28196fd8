//! Building events from the application stage's facts: the common header (with its
//! Community ID), one body per fact, and the DNS answer cache that lets a connection
//! carry the name its server's address was resolved from.
//!
//! Events are built and matched one at a time, so one set of buffers goes round: the
//! worker hands each event back ([`EventBuilder::recycle`]) once it is written, and the
//! next event of its kind fills the same strings.

use std::net::SocketAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use super::community_id::{CommunityId, community_id_v1};
use super::text::Short;
use super::{
    Body, ConnNames, ConnectionEnd, DnsQuery, Event, Header, HostnameSource, HttpRequest,
    NetworkConnect, Transport,
};
use crate::app::{ConnEnd, ConnFacts, Fact, FlowRef};
use crate::proto::dns::{DnsCache, DnsTransaction};
use crate::proto::http::HttpTransaction;
use crate::time::Duration;

/// Builds the events of one worker.
pub struct EventBuilder {
    computer: Arc<str>,
    /// The `Source` of the frames being processed.
    source: Arc<str>,
    dns_cache: Arc<DnsCache>,
    /// Community IDs of live flows (see [`CidCache`]).
    cids: CidCache,
    /// Buffers of the last event written, reused by the next (see [`Spare`]).
    spare: Spare,
    /// A flow's NetworkConnect names are kept for its ConnectionEnd.
    keep_names: bool,
}

impl EventBuilder {
    /// `summaries`: connection summaries (EventID 101) will be built.
    pub fn new(computer: Arc<str>, dns_cache: Arc<DnsCache>, summaries: bool) -> EventBuilder {
        EventBuilder {
            computer,
            source: Arc::from(""),
            dns_cache,
            cids: CidCache::default(),
            spare: Spare::default(),
            keep_names: summaries,
        }
    }

    /// The frames now processed come from `source` (an interface or a file).
    pub fn set_source(&mut self, source: &Arc<str>) {
        if !Arc::ptr_eq(&self.source, source) {
            self.source = Arc::clone(source);
        }
    }

    /// The event of one fact; `None` for an exchange, which is no event (the
    /// behavioural stage reads it with [`EventBuilder::server_of`]).
    pub fn build(&mut self, fact: Fact) -> Option<Event> {
        Some(match fact {
            Fact::Connect(flow, conn) => self.connect(&flow, conn.as_deref()),
            Fact::Http(flow, tx) => self.http(&flow, &tx),
            Fact::Dns(tx) => self.dns(&tx),
            Fact::End(flow, end) => self.end(&flow, &end),
            Fact::Exchange(..) => return None,
        })
    }

    /// The server of a flow as its events name it, for a check-in inside the flow: the
    /// NetworkConnect's name once that was built, else the name the server's address
    /// was resolved from.
    pub fn server_of(&self, flow: &FlowRef) -> Option<Arc<str>> {
        match self
            .cids
            .by_flow
            .get(&flow.flow_id)
            .and_then(|kept| kept.names.as_deref())
        {
            Some(names) => names.destination_hostname.as_deref().map(Arc::from),
            None => self.dns_cache.lookup(flow.server.ip(), flow.time),
        }
    }

    /// The header of an event about `flow` that no fact carried (a behavioural
    /// finding on an exchange).
    pub fn header_of(&mut self, flow: &FlowRef) -> Header {
        self.header(flow, false)
    }

    /// An event that was written: its buffers serve the next one.
    pub fn recycle(&mut self, ev: Event) {
        let Event { header, body, .. } = ev;
        self.spare.community_id = header.community_id;
        match body {
            Body::Dns(d) => self.spare.dns = d,
            Body::Http(r) => self.spare.http = r,
            Body::Connect(_)
            | Body::End(_)
            | Body::Beacon(_)
            | Body::DnsTunnel(_)
            | Body::Correlation(_) => {}
        }
    }

    /// The flow left the table: its kept Community ID goes too.
    pub fn flow_ended(&mut self, flow_id: u64) {
        self.cids.by_flow.remove(&flow_id);
    }

    /// EventID 3. `DestinationHostname` falls back to the DNS cache: the name the
    /// client resolved the server's address from.
    fn connect(&mut self, flow: &FlowRef, facts: Option<&ConnFacts>) -> Event {
        let mut conn = facts.map(NetworkConnect::from_facts).unwrap_or_default();
        if conn.destination_hostname.is_none()
            && let Some(name) = self.dns_cache.lookup(flow.server.ip(), flow.time)
        {
            // Not `to_string`: on an `Arc<str>` that goes through `Display`.
            conn.destination_hostname = Some(String::from(&*name));
            conn.hostname_source = Some(HostnameSource::Dns);
        }
        // The flow's first event in most cases: its ID is kept for the others.
        let header = self.header(flow, true);
        if self.keep_names
            && let Some(kept) = self.cids.by_flow.get_mut(&flow.flow_id)
        {
            kept.names = Some(Box::new(ConnNames::of(&conn)));
        }
        Event::new(header, Body::Connect(conn))
    }

    /// EventID 101, with the names of the flow's NetworkConnect.
    fn end(&mut self, flow: &FlowRef, end: &ConnEnd) -> Event {
        let names = self
            .cids
            .by_flow
            .get_mut(&flow.flow_id)
            .and_then(|kept| kept.names.take())
            .map(|names| *names)
            .unwrap_or_default();
        let body = ConnectionEnd {
            start_time: end.start,
            duration: duration_text(flow.time.since(end.start)),
            source_packets: end.client_packets,
            destination_packets: end.server_packets,
            source_bytes: end.client_bytes,
            destination_bytes: end.server_bytes,
            source_wire_bytes: end.client_wire_bytes,
            destination_wire_bytes: end.server_wire_bytes,
            conn_state: end.conn_state,
            history: end.history,
            end_reason: end.reason.as_str(),
            http_requests: u64::from(end.http_requests),
            names,
        };
        let header = self.header(flow, false);
        Event::new(header, Body::End(Box::new(body)))
    }

    /// EventID 100.
    fn http(&mut self, flow: &FlowRef, tx: &HttpTransaction) -> Event {
        let header = self.header(
            &FlowRef {
                time: tx.time,
                ..*flow
            },
            false,
        );
        let mut body = std::mem::take(&mut self.spare.http);
        super::http::fill_http_request(&tx.request, tx.status, &mut body);
        Event::new(header, Body::Http(body))
    }

    /// EventID 22; a transaction's answers teach the cache.
    fn dns(&mut self, tx: &DnsTransaction) -> Event {
        if tx.response.is_some() {
            self.dns_cache.learn(tx);
        }
        let flow = FlowRef {
            time: tx.time(),
            flow_id: tx.flow_id,
            transport: tx.transport,
            client: tx.client,
            server: tx.server,
        };
        let header = self.header(&flow, false);
        let mut body = std::mem::take(&mut self.spare.dns);
        super::dns::fill_dns_query(tx, &mut body);
        Event::new(header, Body::Dns(body))
    }

    /// The header of an event about `flow`. `keep_id`: the flow's Community ID is
    /// stored for its later events (the NetworkConnect, a flow's first event).
    fn header(&mut self, flow: &FlowRef, keep_id: bool) -> Header {
        let cid = self.cids.get(flow, keep_id);
        let mut community_id = std::mem::take(&mut self.spare.community_id);
        community_id.clear();
        community_id.push_str(cid.as_str());
        Header {
            time: flow.time,
            computer: self.computer.clone(),
            source: self.source.clone(),
            flow_id: flow.flow_id,
            community_id,
            protocol: flow.transport,
            src_ip: flow.client.ip(),
            src_port: flow.client.port(),
            dst_ip: flow.server.ip(),
            dst_port: flow.server.port(),
        }
    }
}

/// Seconds with six decimals, `12.000250` (a negative duration, from packets out of
/// order, is 0).
fn duration_text(d: Duration) -> Short {
    use super::ascii::AsciiSink;
    let ns = u64::try_from(d.as_nanos()).unwrap_or(0);
    let mut s = Short::default();
    super::ascii::push_u64(&mut s, ns / 1_000_000_000);
    s.push_ascii(b'.');
    let micros = (ns % 1_000_000_000) / 1000;
    for place in [100_000, 10_000, 1000, 100, 10, 1] {
        s.push_ascii(b'0' + (micros / place % 10) as u8);
    }
    s
}

/// Strings of the event just written, kept for the next one: events are built and
/// written one at a time, so one set of buffers goes round instead of an allocation
/// and a free per string per event.
#[derive(Default)]
struct Spare {
    community_id: String,
    dns: DnsQuery,
    http: HttpRequest,
}

/// The Community IDs of live flows that have had their NetworkConnect, by flow id.
/// A flow's other events (DNS transactions, HTTP requests) come later, often hundreds
/// of events apart, and share its ID: SHA-1 was a tenth of the cost of an event.
/// Entries are added by the NetworkConnect (once per flow) and removed by
/// [`EventBuilder::flow_ended`] when the flow leaves the table, so this holds at most
/// one entry per flow of the flow table and needs no cap of its own.
#[derive(Default)]
struct CidCache {
    by_flow: HashMap<u64, CidEntry, foldhash::fast::RandomState>,
}

struct CidEntry {
    protocol: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    cid: CommunityId,
    /// The NetworkConnect's names, for the ConnectionEnd.
    names: Option<Box<ConnNames>>,
}

impl CidCache {
    /// The ID of this tuple: the flow's stored one when the tuple is the flow's (a DNS
    /// transaction's server can differ from its flow's: a multicast query answered by
    /// unicast), else computed. `keep`: store it for the flow's later events.
    fn get(&mut self, flow: &FlowRef, keep: bool) -> CommunityId {
        let (flow_id, protocol, src, dst) =
            (flow.flow_id, flow.transport, flow.client, flow.server);
        if let Some(e) = self.by_flow.get(&flow_id)
            && e.protocol == protocol
            && e.src == src
            && e.dst == dst
        {
            return e.cid;
        }
        let ports = Some((src.port(), dst.port()));
        let cid = community_id_v1(0, protocol.ip_proto(), src.ip(), dst.ip(), ports);
        if keep {
            let entry = CidEntry {
                protocol,
                src,
                dst,
                cid,
                names: None,
            };
            self.by_flow.insert(flow_id, entry);
        }
        cid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn addr(s: &str) -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    fn computed(src: SocketAddr, dst: SocketAddr) -> CommunityId {
        community_id_v1(
            0,
            Transport::Udp.ip_proto(),
            src.ip(),
            dst.ip(),
            Some((src.port(), dst.port())),
        )
    }

    fn flow(id: u64, transport: Transport, client: SocketAddr, server: SocketAddr) -> FlowRef {
        FlowRef {
            time: Timestamp::from_secs(1),
            flow_id: id,
            transport,
            client,
            server,
        }
    }

    #[test]
    fn kept_ids_serve_their_flow_only() {
        let mut cids = CidCache::default();
        let (c, s) = (addr("10.0.0.1:5353"), addr("10.0.0.53:53"));
        let other = addr("10.0.0.54:53");
        let udp = flow(1, Transport::Udp, c, s);
        // Not kept: later lookups compute again (and still agree).
        assert_eq!(cids.get(&udp, false), computed(c, s));
        assert!(cids.by_flow.is_empty());
        assert_eq!(cids.get(&udp, true), computed(c, s));
        assert_eq!(cids.get(&udp, false), computed(c, s));
        // Same flow id, another server (a multicast query's answer): its own ID.
        let answer = flow(1, Transport::Udp, c, other);
        assert_eq!(cids.get(&answer, false), computed(c, other));
        // Another protocol on the same tuple is another ID.
        let tcp = flow(1, Transport::Tcp, c, s);
        assert_ne!(cids.get(&tcp, false), cids.get(&udp, false));
        assert_eq!(cids.by_flow.len(), 1);
        cids.by_flow.remove(&1);
        assert!(cids.by_flow.is_empty());
    }
}
