//! Runs `proto::http` over the shared corpus captures and compares its requests with
//! tshark's (`http_request` lines of NAME.expected.jsonl: method, host, uri, user_agent).
//!
//! The test decodes plain captures itself (Ethernet with VLAN tags, Linux cooked v1/v2,
//! null/loopback, raw IP, IP-in-IP) with pcap-parser + etherparse, concatenates each
//! TCP direction's payloads in sequence order (retransmitted bytes dropped), and feeds
//! the streams to `HttpState` segment by segment. Captures whose requests sit behind
//! encapsulations this small decoder does not open (PPPoE, MPLS, GRE/ERSPAN, Geneve,
//! NFLOG) or inside IPv4 fragments are reported as "not decoded" — the pipeline's own
//! decoder covers those; this test is about the HTTP parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::IpAddr;
use std::path::PathBuf;

use c2tap::proto::Verdict;
use c2tap::proto::http::{HttpCounters, HttpState, probe};
use c2tap::time::Timestamp;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use pcap_parser::{Block, Linktype, PcapBlockOwned, PcapError};

fn shared_dir() -> Option<PathBuf> {
    let near = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    [near, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.join("corpus/public").is_dir())
}

type Key = (IpAddr, u16, IpAddr, u16);

#[derive(Default)]
struct Direction {
    /// (frame index, seq, payload) in capture order.
    segs: Vec<(usize, u32, Vec<u8>)>,
    isn: Option<u32>,
}

/// Decodes one frame down to its TCP segment.
fn tcp_of(linktype: i32, data: &[u8]) -> Option<(Key, u32, bool, Vec<u8>)> {
    let pkt = match Linktype(linktype) {
        Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok()?,
        Linktype::NULL | Linktype::LOOP => LaxSlicedPacket::from_ip(data.get(4..)?).ok()?,
        Linktype::LINUX_SLL => {
            let et = u16::from_be_bytes([*data.get(14)?, *data.get(15)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), data.get(16..)?)
        }
        Linktype::LINUX_SLL2 => {
            let et = u16::from_be_bytes([*data.first()?, *data.get(1)?]);
            LaxSlicedPacket::from_ether_type(EtherType(et), data.get(20..)?)
        }
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok()?,
        _ => return None,
    };
    let mut pkt = pkt;
    // IP-in-IP / 6in4: open one more IP layer.
    if pkt.transport.is_none()
        && let Some(net) = &pkt.net
        && let Some(p) = net.ip_payload_ref()
        && matches!(p.ip_number.0, 4 | 41)
        && !p.fragmented
    {
        pkt = LaxSlicedPacket::from_ip(p.payload).ok()?;
    }
    let (src, dst) = match pkt.net.as_ref()? {
        LaxNetSlice::Ipv4(ip) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        LaxNetSlice::Ipv6(ip) => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        _ => return None,
    };
    let Some(TransportSlice::Tcp(tcp)) = &pkt.transport else {
        return None;
    };
    Some((
        (src, tcp.source_port(), dst, tcp.destination_port()),
        tcp.sequence_number(),
        tcp.syn(),
        tcp.payload().to_vec(),
    ))
}

fn read_directions(path: &PathBuf) -> HashMap<Key, Direction> {
    let file = File::open(path).unwrap();
    let mut reader = pcap_parser::create_reader(1 << 20, file).unwrap();
    let mut legacy_linktype = 1;
    let mut if_linktypes: Vec<i32> = Vec::new();
    let mut dirs: HashMap<Key, Direction> = HashMap::new();
    let mut frame = 0usize;
    let mut on_frame = |lt: i32, data: &[u8]| {
        frame += 1;
        if let Some((key, seq, syn, payload)) = tcp_of(lt, data) {
            let d = dirs.entry(key).or_default();
            if syn {
                d.isn = Some(seq.wrapping_add(1));
            } else if !payload.is_empty() {
                d.segs.push((frame, seq, payload));
            }
        }
    };
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_linktype = h.network.0,
                    PcapBlockOwned::Legacy(b) => on_frame(legacy_linktype, b.data),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_linktypes.push(idb.linktype.0)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = if_linktypes.get(epb.if_id as usize).copied().unwrap_or(1);
                        on_frame(lt, epb.data);
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        on_frame(if_linktypes.first().copied().unwrap_or(1), spb.data)
                    }
                    _ => {}
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
    dirs
}

/// The direction's segments in sequence order with retransmitted bytes removed; each
/// element is what one segment adds to the stream, with its frame index.
fn in_order(d: &Direction) -> Vec<(usize, Vec<u8>)> {
    let Some(first) = d.segs.first() else {
        return Vec::new();
    };
    let base = d.isn.unwrap_or(first.1);
    let mut segs: Vec<(u64, usize, &[u8])> = d
        .segs
        .iter()
        .map(|(frame, seq, p)| (u64::from(seq.wrapping_sub(base)), *frame, p.as_slice()))
        .collect();
    segs.sort_by_key(|s| (s.0, s.1));
    let mut next = 0u64;
    let mut out = Vec::new();
    for (off, frame, p) in segs {
        let end = off + p.len() as u64;
        if end <= next {
            continue;
        }
        let skip = next.saturating_sub(off) as usize;
        out.push((frame, p[skip..].to_vec()));
        next = end;
    }
    out
}

type Req = (String, Option<String>, String, Option<String>);

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Feeds one direction's new bytes, as the flow module would.
fn feed(st: &mut HttpState, c: &mut HttpCounters, buf: &mut Vec<u8>, seg: &[u8], up: bool) {
    buf.extend_from_slice(seg);
    let f = if up {
        st.feed_request(buf, Timestamp(0), c)
    } else {
        st.feed_response(buf, c)
    };
    assert!(f.consumed <= buf.len());
    buf.drain(..f.consumed);
}

fn run_capture(path: &PathBuf, c: &mut HttpCounters) -> Vec<(Req, Option<u16>)> {
    let dirs = read_directions(path);
    let mut out = Vec::new();
    for (key, d) in &dirs {
        let up = in_order(d);
        let first: Vec<u8> = up
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .take(32)
            .collect();
        if probe(&first) != Verdict::Match {
            continue;
        }
        let rev = (key.2, key.3, key.0, key.1);
        let down = dirs.get(&rev).map(in_order).unwrap_or_default();
        let mut st = HttpState::new();
        let (mut ub, mut db) = (Vec::new(), Vec::new());
        // Both directions in capture order (by the frame that brought each segment).
        let (mut u, mut dn) = (up.iter().peekable(), down.iter().peekable());
        loop {
            let take_up = match (u.peek(), dn.peek()) {
                (Some(a), Some(b)) => a.0 <= b.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_up {
                feed(&mut st, c, &mut ub, &u.next().unwrap().1, true);
            } else {
                feed(&mut st, c, &mut db, &dn.next().unwrap().1, false);
            }
        }
        st.flush(c);
        for t in st.take_events() {
            let r = &t.request;
            out.push((
                (
                    lossy(&r.method),
                    r.host.as_deref().map(lossy),
                    lossy(&r.uri),
                    r.user_agent.as_deref().map(lossy),
                ),
                t.status,
            ));
        }
    }
    out
}

fn expected(path: &PathBuf) -> Vec<Req> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "http_request")
        .map(|v| {
            let s = |k: &str| v[k].as_str().map(str::to_owned);
            (
                s("method").unwrap_or_default(),
                s("host"),
                s("uri").unwrap_or_default(),
                s("user_agent"),
            )
        })
        .collect()
}

#[test]
fn corpus_requests_match_tshark() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let corpus = shared.join("corpus/public");
    let mut names: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    names.sort();
    let mut counters = HttpCounters::default();
    let (mut want_total, mut matched_total, mut extra_total, mut with_status) = (0, 0, 0, 0);
    let mut report = Vec::new();
    for pcap in &names {
        let stem = pcap.file_stem().unwrap().to_string_lossy().into_owned();
        let want = expected(&corpus.join(format!("{stem}.expected.jsonl")));
        let mut c = HttpCounters::default();
        let got = run_capture(pcap, &mut c);
        counters.merge(&c);
        with_status += got.iter().filter(|g| g.1.is_some()).count();
        let mut pool: BTreeMap<Req, usize> = BTreeMap::new();
        for (g, _) in &got {
            *pool.entry(g.clone()).or_default() += 1;
        }
        let mut missed = Vec::new();
        for w in &want {
            match pool.get_mut(w) {
                Some(n) if *n > 0 => *n -= 1,
                _ => missed.push(w.clone()),
            }
        }
        let extra: usize = pool.values().sum();
        let matched = want.len() - missed.len();
        want_total += want.len();
        matched_total += matched;
        extra_total += extra;
        if !want.is_empty() || extra > 0 {
            report.push(format!(
                "{stem}: expected {} matched {matched} extra {extra}; responses {} \
                 invalid {:?} resyncs {} pending_overflow {}",
                want.len(),
                c.responses,
                c.invalid,
                c.resyncs,
                c.pending_overflow
            ));
            for m in missed.iter().take(3) {
                report.push(format!("    missed {m:?}"));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    eprintln!(
        "http corpus: {matched_total}/{want_total} tshark requests matched, {extra_total} extra, \
         {with_status} with a status; counters {counters:?}"
    );
    // Floors: raise them when the decoder above learns more encapsulations.
    assert!(matched_total >= 170, "matched {matched_total}");
    assert_eq!(extra_total, 0, "requests tshark did not report");
}
