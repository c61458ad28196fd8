//! Corpus test for the DNS parser: every `dns_query` observation tshark made on the
//! shared public captures (`NAME.expected.jsonl`) must be found by our parser.
//!
//! Reads the captures itself (pcap-parser + etherparse) because the decode module is
//! someone else's: plain Ethernet (VLAN included), raw IP, null/loopback and Linux
//! cooked v1 captures are read; tunnelled files and other link types are skipped and
//! listed. UDP and TCP port-53 payloads are parsed; TCP is put in order per direction
//! by sequence number (enough for these captures) and framed by `TcpDnsFramer`.

use std::collections::HashMap;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use c2tap::flow::Transport;
use c2tap::proto::dns::{DnsConfig, DnsPacket, DnsState, Message, TcpDnsFramer};
use c2tap::time::Timestamp;
use etherparse::{LaxNetSlice, LaxSlicedPacket, SlicedPacket, TransportSlice};
use pcap_parser::{Block, PcapBlockOwned, PcapError};

fn shared_dir() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    [local, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.join("corpus/public").is_dir())
}

/// One transport payload with its addresses.
struct Seg<'a> {
    ts: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    tcp: Option<(u32, bool)>,
    payload: &'a [u8],
}

type Sliced<'a> = (IpAddr, IpAddr, Option<TransportSlice<'a>>);

fn lax(p: LaxSlicedPacket<'_>) -> Option<Sliced<'_>> {
    let (s, d) = match p.net? {
        LaxNetSlice::Ipv4(ip) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        LaxNetSlice::Ipv6(ip) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        LaxNetSlice::Arp(_) => return None,
    };
    Some((s, d, p.transport))
}

fn slice_packet(linktype: i32, data: &[u8]) -> Option<Sliced<'_>> {
    match linktype {
        1 => lax(LaxSlicedPacket::from_ethernet(data).ok()?),
        101 | 228 | 229 => lax(LaxSlicedPacket::from_ip(data).ok()?),
        0 => lax(LaxSlicedPacket::from_ip(data.get(4..)?).ok()?),
        113 => {
            let p = SlicedPacket::from_linux_sll(data).ok()?;
            let (s, d) = match p.net? {
                etherparse::NetSlice::Ipv4(ip) => (
                    IpAddr::V4(ip.header().source_addr()),
                    IpAddr::V4(ip.header().destination_addr()),
                ),
                etherparse::NetSlice::Ipv6(ip) => (
                    IpAddr::V6(ip.header().source_addr()),
                    IpAddr::V6(ip.header().destination_addr()),
                ),
                etherparse::NetSlice::Arp(_) => return None,
            };
            Some((s, d, p.transport))
        }
        _ => None,
    }
}

/// Calls `f` with every UDP/TCP segment of the capture. Returns false when the link
/// type is not one this test reads.
fn for_each_segment(path: &Path, mut f: impl FnMut(Seg<'_>)) -> bool {
    let file = File::open(path).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut linktypes: Vec<i32> = Vec::new();
    let mut legacy_linktype = -1;
    let mut supported = true;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let pkt = match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0;
                        None
                    }
                    PcapBlockOwned::Legacy(b) => Some((
                        legacy_linktype,
                        Timestamp::from_secs_nanos(
                            i64::from(b.ts_sec),
                            b.ts_usec.saturating_mul(1000),
                        ),
                        b.data,
                    )),
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                        linktypes.clear();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        linktypes.push(idb.linktype.0);
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = linktypes.get(epb.if_id as usize).copied().unwrap_or(-1);
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        // Microseconds (the default resolution; enough for this test).
                        let ts = Timestamp((raw as i64).saturating_mul(1000));
                        let len = (epb.caplen as usize).min(epb.data.len());
                        Some((lt, ts, &epb.data[..len]))
                    }
                    _ => None,
                };
                if let Some((lt, ts, data)) = pkt {
                    if !matches!(lt, 0 | 1 | 101 | 113 | 228 | 229) {
                        supported = false;
                    } else if let Some((s, d, Some(t))) = slice_packet(lt, data) {
                        match t {
                            TransportSlice::Udp(u) => f(Seg {
                                ts,
                                src: SocketAddr::new(s, u.source_port()),
                                dst: SocketAddr::new(d, u.destination_port()),
                                tcp: None,
                                payload: u.payload(),
                            }),
                            TransportSlice::Tcp(t) => f(Seg {
                                ts,
                                src: SocketAddr::new(s, t.source_port()),
                                dst: SocketAddr::new(d, t.destination_port()),
                                tcp: Some((t.sequence_number(), t.syn())),
                                payload: t.payload(),
                            }),
                            _ => {}
                        }
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    supported
}

/// Per-direction TCP ordering: expected next sequence number and the framer.
#[derive(Default)]
struct TcpDir {
    next: Option<u32>,
    framer: TcpDnsFramer,
}

#[derive(Default)]
struct FileResult {
    ours: HashMap<(String, u16), usize>,
    transactions: usize,
    joined: usize,
}

fn parse_file(path: &Path) -> Option<FileResult> {
    let mut res = FileResult::default();
    let mut state = DnsState::new(DnsConfig::default());
    let mut tcp: HashMap<(SocketAddr, SocketAddr), TcpDir> = HashMap::new();
    let mut txs = Vec::new();
    let record = |m: &[u8], res: &mut FileResult| {
        let Ok(msg) = Message::parse(m) else { return };
        if msg.header.is_response() {
            return;
        }
        for q in msg.questions().flatten() {
            *res.ours.entry((q.name.text().0, q.qtype)).or_default() += 1;
        }
    };
    let supported = for_each_segment(path, |seg| {
        if seg.src.port() != 53 && seg.dst.port() != 53 {
            return;
        }
        let transport = if seg.tcp.is_some() {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let pkt = DnsPacket {
            flow_id: 0,
            transport,
            src: seg.src,
            dst: seg.dst,
        };
        match seg.tcp {
            None => {
                record(seg.payload, &mut res);
                let _ = state.on_message(&pkt, seg.ts, seg.payload, &mut txs);
            }
            Some((seq, syn)) => {
                let dir = tcp.entry((seg.src, seg.dst)).or_default();
                if syn {
                    dir.next = Some(seq.wrapping_add(1));
                    return;
                }
                let next = *dir.next.get_or_insert(seq);
                let offset = next.wrapping_sub(seq) as usize;
                if seg.payload.is_empty() || offset >= seg.payload.len() && offset < (1 << 30) {
                    return; // retransmission of bytes already fed
                }
                let data = if offset < (1 << 30) {
                    &seg.payload[offset..]
                } else {
                    seg.payload
                };
                dir.next = Some(seq.wrapping_add(seg.payload.len() as u32));
                let mut msgs = Vec::new();
                let _ = dir.framer.feed(data, &mut |m: &[u8]| msgs.push(m.to_vec()));
                for m in msgs {
                    record(&m, &mut res);
                    let _ = state.on_message(&pkt, seg.ts, &m, &mut txs);
                }
            }
        }
    });
    state.flush_all(&mut txs);
    if std::env::var("DNS_DEBUG").is_ok() {
        for t in txs
            .iter()
            .filter(|t| t.query_ts.is_none() || t.response.is_none())
        {
            eprintln!(
                "  unjoined {} {} {:?} id={} q={:?} r={}",
                t.client,
                t.server,
                t.qname,
                t.id,
                t.query_ts,
                t.response.is_some()
            );
        }
    }
    res.transactions = txs.len();
    res.joined = txs
        .iter()
        .filter(|t| t.query_ts.is_some() && t.response.is_some())
        .count();
    supported.then_some(res)
}

/// Files whose DNS rides in a tunnel (left to the decode module's own tests).
fn tunnelled(note: &str) -> bool {
    ["tunnel", "GRE", "VXLAN", "Geneve", "GTP", "6in4"]
        .iter()
        .any(|k| note.contains(k))
}

#[test]
fn every_tshark_dns_query_is_found() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let corpus = shared.join("corpus");
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let (mut expected_total, mut found_total, mut files) = (0, 0, 0);
    let mut skipped = Vec::new();
    let mut missing = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, n_dns, note) = (cols[1], cols[7], cols[11]);
        if n_dns == "0" {
            continue;
        }
        if tunnelled(note) {
            skipped.push(format!("{name} (tunnel)"));
            continue;
        }
        let pcap = corpus.join("public").join(name);
        let stem = name.rsplit_once('.').unwrap().0;
        let expected_path = corpus.join("public").join(format!("{stem}.expected.jsonl"));
        let Some(mut res) = parse_file(&pcap) else {
            skipped.push(format!("{name} (link type)"));
            continue;
        };
        files += 1;
        let (mut exp, mut found) = (0, 0);
        for l in std::fs::read_to_string(&expected_path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["kind"] != "dns_query" {
                continue;
            }
            exp += 1;
            let key = (
                v["qname"].as_str().unwrap().to_owned(),
                v["qtype"].as_u64().unwrap() as u16,
            );
            match res.ours.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    found += 1;
                }
                _ => missing.push(format!("{name}: frame {} {key:?}", v["frame"])),
            }
        }
        eprintln!(
            "{name}: {found}/{exp} tshark queries found; {} transactions ({} joined)",
            res.transactions, res.joined
        );
        expected_total += exp;
        found_total += found;
    }
    eprintln!("files read: {files}; skipped: {skipped:?}");
    eprintln!("DNS corpus: {found_total}/{expected_total} tshark dns_query observations found");
    assert!(files > 0);
    assert!(missing.is_empty(), "missing: {missing:#?}");
}
