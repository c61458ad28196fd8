//! The application stage on bytes: which parser each probe picks, and what a whole
//! connection (handshake, data both ways, end) hands on as facts.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr};

use super::select::{self, Choice, Parser};
use super::*;
use crate::decode::{TcpFlags, TcpSegment};
use crate::flow::{FlowKey, FlowTable, PacketSeen, Timeouts, Transport};
use crate::proto::tls::testdata::{HelloBuilder, sni_ext};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80));

/// A TLS handshake record holding a ClientHello for `sni` (about 330 bytes: padded,
/// as browsers pad theirs).
fn client_hello(sni: &str) -> Vec<u8> {
    let msg = HelloBuilder::default()
        .ext(0x0000, sni_ext(sni.as_bytes()))
        .ext(0x0015, vec![0; 200])
        .message();
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    rec.extend_from_slice(&msg);
    rec
}

/// A DNS query for `example.com` A (id 0x1234), or its answer (192.0.2.1).
fn dns_message(response: bool) -> Vec<u8> {
    let flags: u16 = if response { 0x8180 } else { 0x0100 };
    let mut m = vec![0x12, 0x34];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, u8::from(response), 0, 0, 0, 0]);
    m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    if response {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    }
    m
}

/// Length-prefixed, as DNS over TCP frames it (RFC 1035 §4.2.2).
fn framed(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

// ---- the probes -------------------------------------------------------------------

#[test]
fn tcp_client_streams_are_chosen_by_content() {
    let hello = client_hello("example.com");
    assert_eq!(
        select::tcp_client(&hello, false),
        Choice::Chosen(Parser::Tls)
    );
    assert_eq!(
        select::tcp_client(b"GET / HTTP/1.1\r\n", false),
        Choice::Chosen(Parser::Http)
    );
    // Any token is a method in a whole request line (issue 14); until the line ends
    // the probe waits.
    assert_eq!(
        select::tcp_client(b"RPC_IN_DATA /rpc/rpcproxy.dll HTTP/1.1\r\n", false),
        Choice::Chosen(Parser::Http)
    );
    assert_eq!(select::tcp_client(b"RPC_IN_DATA", false), Choice::NeedMore);
    assert_eq!(
        select::tcp_client(b"SSH-2.0-OpenSSH_9.2\r\n", false),
        Choice::Unknown
    );
    // Five bytes of a TLS record header: TLS is still possible, so HTTP is not tried.
    assert_eq!(select::tcp_client(&hello[..5], false), Choice::NeedMore);
    assert_eq!(select::tcp_client(b"GE", false), Choice::NeedMore);
    // Inside a CONNECT tunnel only TLS is looked for.
    assert_eq!(
        select::tcp_client(b"GET / HTTP/1.1\r\n", true),
        Choice::Unknown
    );
    assert_eq!(
        select::tcp_client(&hello, true),
        Choice::Chosen(Parser::Tls)
    );
}

#[test]
fn reprobes_switch_only_on_a_clear_match() {
    let hello = client_hello("example.com");
    assert_eq!(select::tcp_reprobe(&hello, false), Some(Parser::Tls));
    assert_eq!(
        select::tcp_reprobe(b"GET / HTTP/1.1\r\n", false),
        Some(Parser::Http)
    );
    assert_eq!(select::tcp_reprobe(b"GET / HTTP/1.1\r\n", true), None);
    // A chunk that could still become either is no reason to switch.
    assert_eq!(select::tcp_reprobe(&hello[..5], false), None);
    assert_eq!(select::tcp_reprobe(b"220 mail ESMTP\r\n", false), None);
}

#[test]
fn ports_choose_only_dns() {
    assert_eq!(select::tcp_by_port(53, 40000), Some(Parser::Dns));
    assert_eq!(select::tcp_by_port(40000, 53), Some(Parser::Dns));
    assert_eq!(select::tcp_by_port(5353, 40000), None, "mDNS is UDP only");
    assert_eq!(select::tcp_by_port(443, 40000), None);
}

#[test]
fn udp_flows_by_port_then_content() {
    let query = dns_message(false);
    assert_eq!(select::udp(40000, 53, b"\0"), Some(Parser::Dns));
    assert_eq!(select::udp(5353, 5353, b"\0"), Some(Parser::Dns));
    assert_eq!(select::udp(40000, 5355, b"\0"), Some(Parser::Dns));
    assert_eq!(select::udp(40000, 9999, &query), Some(Parser::Dns));
    let initial =
        crate::proto::quic::testdata::unhex(crate::proto::quic::testdata::RFC9001_A2_PACKET);
    assert_eq!(select::udp(40000, 443, &initial), Some(Parser::Quic));
    assert_eq!(select::udp(40000, 9999, &initial), Some(Parser::Quic));
    assert_eq!(select::udp(40000, 9999, b"hello, world"), None);
}

#[test]
fn every_probe_is_offered_for_its_transport() {
    use crate::proto::{dns, http, quic, tls};
    for probe in [tls::PROBE, http::PROBE, dns::PROBE_TCP] {
        assert_eq!(probe.transport, Transport::Tcp, "{}", probe.name);
    }
    for probe in [quic::PROBE, dns::PROBE_UDP] {
        assert_eq!(probe.transport, Transport::Udp, "{}", probe.name);
    }
    // DNS over TCP is known by port 53 alone.
    assert!(dns::PROBE_TCP.content.is_none() && dns::PROBE_TCP.owns_port(53, 1));
}

// ---- whole connections ------------------------------------------------------------

/// One TCP connection driven through the stage: a real flow table entry, segments
/// with sequence numbers, one packet a millisecond.
struct Conn {
    flows: FlowTable<AppFlow>,
    stage: AppStage,
    ended: Vec<Entry<AppFlow>>,
    cport: u16,
    sport: u16,
    /// Next sequence number of the client and of the server.
    seq: [u32; 2],
    ms: i64,
    facts: Vec<Fact>,
}

impl Conn {
    fn new(sport: u16) -> Conn {
        Conn::with_budget(sport, crate::flow::REASSEMBLY_BUDGET)
    }

    fn with_budget(sport: u16, budget: usize) -> Conn {
        let mut c = Conn {
            flows: FlowTable::new(0, 64, Timeouts::default()),
            stage: AppStage::new(AppConfig {
                reassembly_budget: budget,
                ..AppConfig::default()
            }),
            ended: Vec::new(),
            cport: 40000,
            sport,
            seq: [1000, 5000],
            ms: 0,
            facts: Vec::new(),
        };
        c.send(true, TcpFlags::SYN, b"");
        c.send(false, TcpFlags::SYN | TcpFlags::ACK, b"");
        c.send(true, TcpFlags::ACK, b"");
        c
    }

    fn client(&mut self, data: &[u8]) {
        self.send(true, TcpFlags::PSH | TcpFlags::ACK, data);
    }

    fn server(&mut self, data: &[u8]) {
        self.send(false, TcpFlags::PSH | TcpFlags::ACK, data);
    }

    /// A client segment `skip` bytes past the next expected one (a hole before it).
    fn client_after_hole(&mut self, skip: u32, data: &[u8]) {
        self.seq[0] = self.seq[0].wrapping_add(skip);
        self.client(data);
    }

    fn send(&mut self, from_client: bool, flags: u8, data: &[u8]) {
        let (src, sport, dst, dport) = if from_client {
            (CLIENT, self.cport, SERVER, self.sport)
        } else {
            (SERVER, self.sport, CLIENT, self.cport)
        };
        let me = usize::from(!from_client);
        let seq = self.seq[me];
        let ack = self.seq[1 - me];
        let flags = TcpFlags(flags);
        let advance = data.len() as u32 + u32::from(flags.syn());
        self.seq[me] = seq.wrapping_add(advance);
        let seg = TcpSegment {
            src_port: sport,
            dst_port: dport,
            seq,
            ack,
            flags,
            window: 65535,
            payload: data,
        };
        self.ms += 1;
        let ts = crate::time::Timestamp::from_millis(self.ms);
        let (key, dir) = FlowKey::new(Transport::Tcp, src, sport, dst, dport);
        let seen = PacketSeen {
            wire: 0,
            now: ts,
            dir,
            bytes: data.len() as u32,
            tcp_flags: Some(flags),
        };
        let (entry, _) = self
            .flows
            .get_or_insert(key, seen, AppFlow::default, &mut self.ended)
            .unwrap();
        self.stage.on_segment(entry, dir, &seg, ts);
        self.facts.extend(self.stage.take_facts());
    }

    /// No packet for `ms` milliseconds.
    fn wait(&mut self, ms: i64) {
        self.ms += ms;
    }

    /// The client sends `data` again (same sequence numbers): a retransmission.
    fn client_again(&mut self, data: &[u8]) {
        self.seq[0] = self.seq[0].wrapping_sub(data.len() as u32);
        self.client(data);
    }

    fn tcp_done(&mut self) -> bool {
        let (key, _) = FlowKey::new(Transport::Tcp, CLIENT, self.cport, SERVER, self.sport);
        self.flows.get_mut(&key).unwrap().state.is_tcp_done()
    }

    /// Ends the flow (as at end of input) and returns every fact it gave.
    fn end(mut self) -> (Vec<Fact>, AppStage) {
        self.flows.drain_all(&mut self.ended);
        for mut entry in self.ended.drain(..) {
            self.stage.end_flow(&mut entry, EndReason::EndOfInput);
        }
        self.stage.flush();
        self.facts.extend(self.stage.take_facts());
        (self.facts, self.stage)
    }
}

/// The one NetworkConnect fact of a connection (and that there is exactly one).
fn connect(facts: &[Fact]) -> &ConnFacts {
    let mut found = facts.iter().filter_map(|f| match f {
        Fact::Connect(_, c) => Some(c.as_deref().unwrap_or(&NOTHING)),
        _ => None,
    });
    let first = found.next().expect("a NetworkConnect fact");
    assert!(found.next().is_none(), "one NetworkConnect per flow");
    first
}

static NOTHING: ConnFacts = ConnFacts {
    protocol: AppProtocol::Unknown,
    first_request: None,
    hello: None,
    chlo: None,
    quic_version: None,
};

fn sni(conn: &ConnFacts) -> Option<&[u8]> {
    conn.hello.as_ref()?.facts.sni.as_deref()
}

fn http_requests(facts: &[Fact]) -> Vec<String> {
    facts
        .iter()
        .filter_map(|f| match f {
            Fact::Http(_, tx) => Some(String::from_utf8_lossy(&tx.request.method).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn tls_on_any_port_names_the_connection_once_the_hello_is_read() {
    let mut c = Conn::new(8443);
    let hello = client_hello("c2.example.net");
    c.client(&hello[..40]);
    assert!(c.facts.is_empty(), "the ClientHello is not whole yet");
    c.client(&hello[40..]);
    assert_eq!(sni(connect(&c.facts)), Some(&b"c2.example.net"[..]));
    c.server(&[0x16, 3, 3, 0, 4, 2, 0, 0, 0]);
    // Both parsers are done: later segments cost a table lookup only.
    assert!(c.tcp_done());
    c.send(true, TcpFlags::FIN | TcpFlags::ACK, b"");
    c.send(false, TcpFlags::FIN | TcpFlags::ACK, b"");
    let (facts, _) = c.end();
    // The NetworkConnect, then the summary.
    assert_eq!(facts.len(), 2);
    let Fact::End(flow, end) = &facts[1] else {
        panic!("the last fact is the flow's end: {facts:?}");
    };
    let hello_len = client_hello("c2.example.net").len() as u64;
    assert_eq!((end.client_packets, end.server_packets), (5, 3));
    assert_eq!((end.client_bytes, end.server_bytes), (hello_len, 9));
    assert_eq!((end.conn_state, end.history.as_str()), ("SF", "ShADdFf"));
    assert_eq!(
        end.reason,
        EndReason::Fin,
        "closed by FINs before the input ended"
    );
    assert_eq!(end.start, crate::time::Timestamp::from_millis(1));
    assert_eq!(
        (flow.time, flow.client.port()),
        (crate::time::Timestamp::from_millis(8), 40000)
    );
}

/// The exchanges a connection handed on: (start in ms, client bytes, first, open for ms).
fn exchanges(facts: &[Fact]) -> Vec<(i64, u64, bool, i64)> {
    facts
        .iter()
        .filter_map(|f| match f {
            Fact::Exchange(flow, x) => Some((
                flow.time.as_nanos() / 1_000_000,
                x.client_bytes,
                x.first,
                x.open_for.as_nanos() / 1_000_000,
            )),
            _ => None,
        })
        .collect()
}

fn with_exchanges(sport: u16) -> Conn {
    let mut c = Conn::new(sport);
    c.stage.shared.exchange_gap = Some(crate::time::Duration::from_secs(5));
    c
}

#[test]
fn client_bursts_after_a_quiet_gap_are_exchanges_even_on_done_flows() {
    let mut c = with_exchanges(8443);
    let hello = client_hello("c2.example.net");
    c.client(&hello);
    c.server(&[0x16, 3, 3, 0, 4, 2, 0, 0, 0]);
    c.client(&[0x17; 64]);
    assert!(c.tcp_done());
    // The server pushes: no exchange. Then two heartbeats a minute apart, the second
    // retransmitted 6 s later (a backed-off timer, not a check-in).
    c.wait(30_000);
    c.server(&[0x17; 500]);
    c.wait(30_000);
    c.client(&[0x17; 90]);
    c.server(&[0x17; 90]);
    c.wait(60_000);
    c.client(&[0x17; 80]);
    c.wait(6_000);
    c.client_again(&[0x17; 80]);
    assert_eq!(
        exchanges(&c.facts).len(),
        2,
        "each handed on when the next began"
    );
    let (facts, _) = c.end();
    let hello_len = hello.len() as u64;
    assert_eq!(
        exchanges(&facts),
        [
            (4, hello_len + 64, true, 3),
            (60_008, 90, false, 60_007),
            (120_010, 80, false, 120_009),
        ]
    );
    // The NetworkConnect comes first (exchanges are named by it), the summary last.
    assert!(matches!(facts.first(), Some(Fact::Connect(..))));
    assert!(matches!(facts.last(), Some(Fact::End(..))));
}

#[test]
fn http_and_dns_connections_time_themselves() {
    let request = b"POST /beacon HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0\r\n\r\n";
    let mut c = with_exchanges(80);
    for _ in 0..3 {
        c.client(request);
        c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        c.wait(60_000);
    }
    let (facts, _) = c.end();
    assert_eq!(http_requests(&facts).len(), 3);
    assert_eq!(exchanges(&facts), []);

    let mut c = with_exchanges(53);
    for _ in 0..3 {
        c.client(&framed(&dns_message(false)));
        c.server(&framed(&dns_message(true)));
        c.wait(60_000);
    }
    let (facts, _) = c.end();
    assert_eq!(exchanges(&facts), []);
}

#[test]
fn a_websocket_checks_in_with_its_frames_after_the_upgrade() {
    let mut c = with_exchanges(80);
    c.client(
        b"GET /ws HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    c.server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    for _ in 0..2 {
        c.wait(60_000);
        c.client(&[0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    let (facts, _) = c.end();
    assert_eq!(http_requests(&facts), ["GET"]);
    // The upgrade request is the HTTP check-in; each frame after it an exchange.
    assert_eq!(
        exchanges(&facts)
            .iter()
            .map(|&(_, bytes, first, _)| (bytes, first))
            .collect::<Vec<_>>(),
        [(11, false), (11, false)]
    );
}

#[test]
fn http_requests_are_counted_in_the_summary_and_summaries_can_be_off() {
    let request = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let mut c = Conn::new(80);
    c.client(request);
    c.client(request);
    let (facts, _) = c.end();
    let ends: Vec<_> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::End(_, e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].http_requests, 2);
    assert_eq!(ends[0].reason, EndReason::EndOfInput);
    assert_eq!(ends[0].conn_state, "S1");

    let mut c = Conn::new(80);
    c.stage.shared.summaries = false;
    c.client(request);
    let (facts, _) = c.end();
    assert!(facts.iter().all(|f| !matches!(f, Fact::End(..))));
}

#[test]
fn http_requests_are_facts_and_the_first_names_the_connection() {
    let mut c = Conn::new(8080);
    c.client(b"POST /beacon HTTP/1.1\r\nHost: update.example\r\nContent-Length: 3\r\n\r\nabc");
    let first = connect(&c.facts).first_request.clone().unwrap();
    assert_eq!(first.host.as_deref(), Some(&b"update.example"[..]));
    assert_eq!(
        connect(&c.facts).protocol,
        AppProtocol::Unknown,
        "HTTP says its own"
    );
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    c.client(b"GET /task HTTP/1.1\r\nHost: update.example\r\n\r\n");
    let (facts, _) = c.end();
    assert_eq!(http_requests(&facts), ["POST", "GET"]);
}

/// A ClientHello after a preamble of another protocol, which leaves the client's
/// direction "unknown" and is probed again at every chunk.
fn hello_after(port: u16, preamble: &[(bool, &[u8])], name: &str) -> Option<Vec<u8>> {
    let mut c = Conn::new(port);
    for &(from_client, bytes) in preamble {
        if from_client {
            c.client(bytes);
        } else {
            c.server(bytes);
        }
    }
    assert!(c.facts.is_empty(), "nothing of ours yet");
    c.client(&client_hello(name));
    let (facts, _) = c.end();
    sni(connect(&facts)).map(<[u8]>::to_vec)
}

#[test]
fn a_hello_after_starttls_is_still_read() {
    let smtp: &[(bool, &[u8])] = &[
        (false, b"220 mail.example ESMTP\r\n"),
        (true, b"EHLO client.example\r\n"),
        (false, b"250-mail.example\r\n250 STARTTLS\r\n"),
        (true, b"STARTTLS\r\n"),
        (false, b"220 go ahead\r\n"),
    ];
    assert_eq!(
        hello_after(25, smtp, "mail.example").as_deref(),
        Some(&b"mail.example"[..])
    );
}

#[test]
fn a_hello_after_a_socks5_handshake_is_still_read() {
    let connect_request = [&[5, 1, 0, 3, 11][..], b"example.org", &443u16.to_be_bytes()].concat();
    let socks: &[(bool, &[u8])] = &[
        (true, &[5, 1, 0]),
        (false, &[5, 0]),
        (true, &connect_request),
        (false, &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ];
    assert_eq!(
        hello_after(1080, socks, "example.org").as_deref(),
        Some(&b"example.org"[..])
    );
}

#[test]
fn a_connect_tunnel_waits_for_its_hello() {
    let mut c = Conn::new(3128);
    c.client(b"CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n");
    assert!(
        c.facts.is_empty(),
        "the NetworkConnect waits for the tunnel's hello"
    );
    c.server(b"HTTP/1.1 200 Connection established\r\n\r\n");
    c.client(&client_hello("api.example"));
    let conn = connect(&c.facts).clone();
    assert_eq!(conn.first_request.as_ref().unwrap().method, b"CONNECT");
    assert_eq!(sni(&conn), Some(&b"api.example"[..]));
    // A plain request inside the tunnel is not read as HTTP.
    let (facts, _) = c.end();
    assert_eq!(http_requests(&facts), ["CONNECT"]);
}

#[test]
fn dns_over_tcp_on_port_53() {
    let mut c = Conn::new(53);
    c.client(&framed(&dns_message(false)));
    assert_eq!(connect(&c.facts).protocol, AppProtocol::Dns);
    c.server(&framed(&dns_message(true)));
    let (facts, stage) = c.end();
    let dns: Vec<_> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Dns(tx) => Some(tx),
            _ => None,
        })
        .collect();
    assert_eq!(dns.len(), 1);
    assert_eq!(&*dns[0].qname, "example.com");
    assert!(dns[0].response.is_some());
    assert_eq!(dns[0].transport, Transport::Tcp);
    assert_eq!(stage.shared.dns.counters().tcp_messages, 2);
}

#[test]
fn dns_over_tcp_off_port_53_is_not_read() {
    let mut c = Conn::new(5300);
    c.client(&framed(&dns_message(false)));
    c.server(&framed(&dns_message(true)));
    let (facts, stage) = c.end();
    assert!(facts.iter().all(|f| !matches!(f, Fact::Dns(_))));
    assert_eq!(connect(&facts).protocol, AppProtocol::Unknown);
    assert_eq!(stage.shared.dns.counters().tcp_messages, 0);
}

#[test]
fn a_gap_ends_a_hello_with_what_arrived() {
    let mut c = Conn::new(443);
    let hello = client_hello("gap.example");
    // The fixed fields and the SNI arrive; 40 bytes of padding are lost, and what
    // follows them waits behind the hole until the flow end skips it.
    c.client(&hello[..120]);
    c.client_after_hole(40, &hello[160..]);
    let (facts, stage) = c.end();
    let conn = connect(&facts);
    assert!(conn.hello.as_ref().unwrap().facts.partial);
    assert_eq!(stage.counters().reassembly.gaps, 1);
}

#[test]
fn the_reassembly_budget_stops_the_flow_that_crosses_it() {
    // 1 KiB for the whole worker: a client that sends 3 KiB past a hole (held out of
    // order, unreadable) crosses it.
    let mut c = Conn::with_budget(8443, 1024);
    let hello = client_hello("budget.example");
    c.client(&hello[..10]);
    c.client_after_hole(100, &[0u8; 3000]);
    assert!(c.tcp_done(), "its reassembly stopped");
    assert_eq!(c.stage.shared.budget.stops(), 1);
    assert_eq!(
        c.stage.shared.budget.held(),
        0,
        "its buffers are no longer counted"
    );
    let mut counts = Counts::default();
    c.stage.publish(&mut counts);
    assert_eq!(counts.get(Counter::ReassemblyBudgetStops), 1);
    let (facts, _) = c.end();
    // The flow still gets its one NetworkConnect.
    assert!(connect(&facts).hello.is_none());
}
