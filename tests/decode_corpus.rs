//! The decoder against real captures: every frame of every capture in the shared corpus
//! (`../shared/corpus/public`, read with pcap-parser directly) is decoded, and every
//! observation tshark made (`NAME.expected.jsonl`) must find its frame decoded to the same
//! innermost addresses, ports and protocol — on that very frame, so an observation that
//! needed IP reassembly proves the datagram completed where tshark completed it.
//! `dispatch_hash` must give one value for both directions of every decoded flow.
//!
//! Run with `--nocapture` to see the per-file figures.

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use c2tap::decode::{DecodeError, Decoder, DefragLimits, L4, dispatch_hash};
use c2tap::time::Timestamp;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

fn shared_dir() -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    [local, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir())
}

struct Frame {
    linktype: u32,
    ts: Timestamp,
    data: Vec<u8>,
}

/// Every packet of a pcap or pcapng file, numbered as tshark numbers them (from 1).
fn read_frames(path: &Path) -> Vec<Frame> {
    let file = File::open(path).expect("open capture");
    // Larger than any record in the corpus (the largest snaplen is 262144).
    let mut reader = create_reader(1 << 20, file).expect("pcap reader");
    let mut frames = Vec::new();
    let mut legacy_linktype = 0u32;
    let mut legacy_nanos = false;
    // Per section: (linktype, ticks per second, offset seconds) of each interface.
    let mut ifaces: Vec<(u32, u64, u64)> = Vec::new();
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0 as u32;
                        legacy_nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let sub = if legacy_nanos {
                            b.ts_usec
                        } else {
                            b.ts_usec.saturating_mul(1000)
                        };
                        frames.push(Frame {
                            linktype: legacy_linktype,
                            ts: Timestamp::from_secs_nanos(i64::from(b.ts_sec), sub),
                            data: b.data.to_vec(),
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let resol = idb.ts_resolution().unwrap_or(1_000_000);
                        ifaces.push((idb.linktype.0 as u32, resol, idb.ts_offset() as u64));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let (lt, resol, off) = ifaces
                            .get(epb.if_id as usize)
                            .copied()
                            .expect("EPB for a known interface");
                        let (secs, frac) = epb.decode_ts(off, resol);
                        let nanos =
                            (u128::from(frac) * 1_000_000_000 / u128::from(resol.max(1))) as u32;
                        frames.push(Frame {
                            linktype: lt,
                            ts: Timestamp::from_secs_nanos(i64::from(secs), nanos),
                            data: epb.packet_data().to_vec(),
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let lt = ifaces.first().map_or(1, |i| i.0);
                        let ts = frames.last().map_or(Timestamp::ZERO, |f: &Frame| f.ts);
                        frames.push(Frame {
                            linktype: lt,
                            ts,
                            data: spb.packet_data().to_vec(),
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    frames
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Obs {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: &'static str,
}

impl std::fmt::Display for Obs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}:{} -> {}:{}",
            self.proto, self.src, self.sport, self.dst, self.dport
        )
    }
}

fn unordered(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The outer IP pair of an Ethernet frame, read by etherparse.
fn ether_ip_pair(linktype: u32, data: &[u8]) -> Option<(IpAddr, IpAddr)> {
    if linktype != 1 {
        return None;
    }
    let p = etherparse::LaxSlicedPacket::from_ethernet(data).ok()?;
    match p.net? {
        etherparse::LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            Some(unordered(
                h.source_addr().into(),
                h.destination_addr().into(),
            ))
        }
        etherparse::LaxNetSlice::Ipv6(ip) => {
            let h = ip.header();
            Some(unordered(
                h.source_addr().into(),
                h.destination_addr().into(),
            ))
        }
        _ => None,
    }
}

#[test]
fn corpus_frames_decode_to_tsharks_innermost_headers() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let dir = shared.join("corpus/public");
    let mut captures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    captures.sort();
    assert!(!captures.is_empty(), "no captures in {}", dir.display());

    let (mut total, mut matched) = (0usize, 0usize);
    let mut misses: Vec<String> = Vec::new();
    let (mut flows_checked, mut asymmetric) = (0usize, Vec::<String>::new());
    let mut frames_total = 0usize;
    let mut fragments_checked = 0usize;
    let mut error_kinds: HashMap<&'static str, usize> = HashMap::new();

    for path in &captures {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let frames = read_frames(path);
        frames_total += frames.len();
        let mut decoder = Decoder::new(DefragLimits::default());
        // Per frame: the decoded 5-tuple, or the error kind.
        let mut decoded: Vec<Result<Obs, String>> = Vec::with_capacity(frames.len());
        // Canonical flow -> dispatch hashes seen.
        let mut flow_hashes: HashMap<(IpAddr, u16, IpAddr, u16, &'static str), Vec<u64>> =
            HashMap::new();
        // Unordered IP pair -> dispatch hash of decoded frames, and held fragments
        // (pair read by etherparse, an independent parser) with their hash.
        let mut pair_hash: HashMap<(IpAddr, IpAddr), u64> = HashMap::new();
        let mut held: Vec<(usize, (IpAddr, IpAddr), u64)> = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let hash = dispatch_hash(f.linktype, &f.data);
            match decoder.decode(f.linktype, f.ts, &f.data) {
                Ok(p) => {
                    let (sport, dport, proto) = match p.l4 {
                        L4::Udp(u) => (u.src_port, u.dst_port, "udp"),
                        L4::Tcp(t) => (t.src_port, t.dst_port, "tcp"),
                        L4::Other { .. } => (0, 0, "other"),
                    };
                    let o = Obs {
                        src: p.src,
                        dst: p.dst,
                        sport,
                        dport,
                        proto,
                    };
                    let key = if (o.src, o.sport) <= (o.dst, o.dport) {
                        (o.src, o.sport, o.dst, o.dport, proto)
                    } else {
                        (o.dst, o.dport, o.src, o.sport, proto)
                    };
                    flow_hashes.entry(key).or_default().push(hash);
                    pair_hash.insert(unordered(o.src, o.dst), hash);
                    decoded.push(Ok(o));
                }
                Err(e) => {
                    if e == DecodeError::FragmentHeld
                        && let Some(pair) = ether_ip_pair(f.linktype, &f.data)
                    {
                        held.push((i + 1, pair, hash));
                    }
                    *error_kinds.entry(e.kind()).or_default() += 1;
                    decoded.push(Err(e.to_string()));
                }
            }
        }
        for (frame, pair, hash) in &held {
            if let Some(h) = pair_hash.get(pair) {
                fragments_checked += 1;
                if h != hash {
                    asymmetric.push(format!(
                        "{name}: fragment frame {frame} of {pair:?} hashes apart"
                    ));
                }
            }
        }
        for (key, hashes) in &flow_hashes {
            flows_checked += 1;
            if hashes.iter().any(|h| *h != hashes[0]) {
                asymmetric.push(format!("{name}: flow {key:?} has hashes {hashes:?}"));
            }
        }

        let expected_path = path.with_file_name(format!(
            "{}.expected.jsonl",
            name.trim_end_matches(".pcapng").trim_end_matches(".pcap")
        ));
        let text = std::fs::read_to_string(&expected_path).unwrap_or_default();
        let (mut file_total, mut file_matched) = (0usize, 0usize);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("expected line is JSON");
            let frame = v["frame"].as_u64().expect("frame") as usize;
            let want = Obs {
                src: v["src"].as_str().unwrap().parse().unwrap(),
                dst: v["dst"].as_str().unwrap().parse().unwrap(),
                sport: v["sport"].as_u64().unwrap() as u16,
                dport: v["dport"].as_u64().unwrap() as u16,
                proto: if v["proto"] == "tcp" { "tcp" } else { "udp" },
            };
            file_total += 1;
            match decoded.get(frame.wrapping_sub(1)) {
                Some(Ok(got)) if *got == want => file_matched += 1,
                Some(Ok(got)) => {
                    misses.push(format!("{name} frame {frame}: got {got}, want {want}"))
                }
                Some(Err(e)) => misses.push(format!("{name} frame {frame}: {e}, want {want}")),
                None => misses.push(format!(
                    "{name} frame {frame}: no such frame ({} read)",
                    frames.len()
                )),
            }
        }
        total += file_total;
        matched += file_matched;
        let c = decoder.counters();
        println!(
            "{name}: {} frames, {file_matched}/{file_total} observations; fragments {} -> {} \
             datagrams ({} overlapping, {} dropped, {} still held); tunnels {}",
            frames.len(),
            c.fragments_received,
            c.datagrams_reassembled,
            c.fragments_overlapping,
            c.fragments_dropped(),
            decoder.fragments_in_flight(),
            c.tunnels_decapsulated
        );
    }
    let mut kinds: Vec<_> = error_kinds.into_iter().collect();
    kinds.sort();
    println!("frames: {frames_total}; decode errors by kind: {kinds:?}");
    println!("observations matched: {matched} of {total}");
    println!(
        "dispatch_hash: {flows_checked} flows and {fragments_checked} held fragments checked, {} mismatches",
        asymmetric.len()
    );
    for m in &misses {
        println!("MISS {m}");
    }
    for a in &asymmetric {
        println!("ASYMMETRIC {a}");
    }
    assert!(
        misses.is_empty(),
        "{} of {total} observations missed",
        misses.len()
    );
    assert!(
        asymmetric.is_empty(),
        "{} flows hash asymmetrically",
        asymmetric.len()
    );
}

/// Every corpus frame cut at every length up to 192 bytes (where the headers are) and at
/// every 61st byte past that: decoding and hashing never panic.
#[test]
fn corpus_frames_cut_short_never_panic() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let dir = shared.join("corpus/public");
    let mut cuts = 0usize;
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("dir entry").path();
        if !path
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng")
        {
            continue;
        }
        let mut decoder = Decoder::new(DefragLimits::default());
        for f in read_frames(&path) {
            let lens = (0..f.data.len().min(192)).chain((192..f.data.len()).step_by(61));
            for len in lens {
                let cut = &f.data[..len];
                let _ = dispatch_hash(f.linktype, cut);
                let _ = decoder.decode(f.linktype, f.ts, cut);
                cuts += 1;
            }
        }
    }
    println!("decoded {cuts} cut frames");
}
