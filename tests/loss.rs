//! Issue 14: every packet decoded or counted. Each frame read ends as decoded (filed in a
//! TCP/UDP flow), held (an IP fragment waiting for the rest of its datagram), dropped at a
//! full queue (live), or under one `undecoded_*` reason of the final SensorState; a replay
//! that could not decode a noticeable share of its input says so on stderr. The tunnel
//! captures of `pcaps/` (made by `scripts/derive-pcaps.py` from real captures) must give
//! exactly the events of the capture they were made from; `make conformance` holds them
//! against tshark.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// The `undecoded_*` counters of the SensorState event (telemetry `Counter::UNDECODED`).
const UNDECODED: &[&str] = &[
    "undecoded_not_ip",
    "undecoded_truncated",
    "undecoded_malformed",
    "undecoded_unsupported",
    "undecoded_too_deep",
    "undecoded_wlan_not_data",
    "undecoded_wlan_protected",
    "undecoded_wlan_amsdu",
    "undecoded_fragment_dropped",
    "undecoded_other_transport",
];

struct Replayed {
    events: Vec<Value>,
    counters: Value,
    stderr: String,
}

fn replay(path: &Path) -> Replayed {
    let out = run(c2tap()
        .current_dir(repo())
        .args(["replay", "--events", "all", "-w", "2"])
        .arg(path));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: {stderr}", path.display());
    let stop = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["EventID"] == 4 && v["State"] == "stop")
        .expect("a final SensorState");
    Replayed {
        events: events(&out.stdout),
        counters: stop["Counters"].clone(),
        stderr,
    }
}

fn n(c: &Value, name: &str) -> u64 {
    c[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name} in {c:#}"))
}

fn undecoded(c: &Value) -> u64 {
    UNDECODED.iter().map(|k| n(c, k)).sum()
}

/// packets (a split A-MSDU counting as its subframes) = decoded + held fragments + queue
/// drops + every undecoded reason, and the
/// decode errors are the undecoded reasons but "other transport" (which did decode, to
/// an IP packet that is neither TCP nor UDP).
fn assert_accounted(what: &str, c: &Value) {
    let accounted =
        n(c, "packets_decoded") + n(c, "fragments_held") + n(c, "queue_drops") + undecoded(c);
    // A split A-MSDU is not decoded itself: each of its subframes is, as a frame.
    let units = n(c, "packets") - n(c, "wlan_amsdus_split") + n(c, "wlan_amsdu_subframes");
    assert_eq!(units, accounted, "{what}: {c:#}");
    assert_eq!(
        n(c, "decode_errors"),
        undecoded(c) - n(c, "undecoded_other_transport"),
        "{what}: {c:#}"
    );
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "cap")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_packet_of_pcaps_is_decoded_or_counted() {
    let files = captures_in(&repo().join("pcaps"));
    assert!(files.len() > 30, "{files:?}");
    for f in &files {
        assert_accounted(&f.display().to_string(), &replay(f).counters);
    }
}

#[test]
fn every_packet_of_the_shared_corpus_is_decoded_or_counted() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipped: ../shared (the shared corpus) is absent");
        return;
    };
    let files = captures_in(&shared.join("corpus/public"));
    assert!(!files.is_empty());
    let mut some_undecoded = false;
    for f in &files {
        let r = replay(f);
        assert_accounted(&f.display().to_string(), &r.counters);
        some_undecoded |= undecoded(&r.counters) > 0;
    }
    // Real captures have ARP, ICMP, STP...: a corpus where nothing is undecoded would
    // mean the counters are not wired.
    assert!(some_undecoded);
}

/// Events of a replay without what names the file or the worker, and without the wire
/// bytes (the frames' lengths, tunnel headers included).
fn comparable(events: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            for k in [
                "Source",
                "FlowId",
                "SourceWireBytes",
                "DestinationWireBytes",
            ] {
                o.remove(k);
            }
            serde_json::to_string(&e).unwrap()
        })
        .collect();
    out.sort();
    out
}

fn assert_same_events_as_source(tunnel: &str, source: &str) -> Replayed {
    let t = replay(Path::new(&format!("pcaps/{tunnel}.pcap")));
    let s = replay(Path::new(&format!("pcaps/{source}.pcap")));
    assert!(!s.events.is_empty(), "{source}");
    assert_eq!(
        comparable(&t.events),
        comparable(&s.events),
        "{tunnel} vs {source}"
    );
    assert_accounted(tunnel, &t.counters);
    // The wire bytes of each ConnectionEnd count the tunnel headers too.
    let wire = |r: &Replayed| -> u64 {
        r.events
            .iter()
            .filter(|e| e["EventID"] == 101)
            .map(|e| e["SourceWireBytes"].as_u64().unwrap())
            .sum()
    };
    assert!(wire(&t) > wire(&s), "{tunnel}");
    assert_eq!(
        n(&t.counters, "packets_decoded"),
        n(&s.counters, "packets_decoded"),
        "{tunnel}"
    );
    // One tunnel layer per decoded frame.
    assert_eq!(
        n(&t.counters, "tunnels_decapsulated"),
        n(&t.counters, "packets_decoded"),
        "{tunnel}"
    );
    t
}

#[test]
fn erspan_type_1_gives_the_events_of_its_source() {
    let t = assert_same_events_as_source("tunnel-erspan1", "dns-benign");
    assert_eq!(undecoded(&t.counters), 0);
}

#[test]
fn erspan_type_2_gives_the_events_of_its_source() {
    let t = assert_same_events_as_source("tunnel-erspan2", "tls-curl");
    assert_eq!(undecoded(&t.counters), 0);
}

#[test]
fn erspan_type_3_with_and_without_sequence_gives_the_events_of_its_source() {
    let t = assert_same_events_as_source("tunnel-erspan3", "http-keepalive");
    assert_eq!(undecoded(&t.counters), 0);
    assert_eq!(
        t.events.iter().filter(|e| e["EventID"] == 100).count(),
        4,
        "{:#?}",
        t.events
    );
}

#[test]
fn transparent_ethernet_bridging_gives_the_events_of_its_source() {
    let t = assert_same_events_as_source("tunnel-gre-teb", "chromium-quic");
    assert_eq!(undecoded(&t.counters), 0);
    assert!(t.events.iter().any(|e| e["AppProtocol"] == "quic"));
}

#[test]
fn wlan_in_gre_decodes_data_frames_and_counts_the_rest() {
    let t = assert_same_events_as_source("tunnel-gre-wlan", "http-curl");
    let c = &t.counters;
    // The null-data and management frames, and the protected one, are each counted.
    assert_eq!(n(c, "undecoded_wlan_not_data"), 2, "{c:#}");
    assert_eq!(n(c, "undecoded_wlan_protected"), 1, "{c:#}");
    assert_eq!(undecoded(c), 3, "{c:#}");
    assert_eq!(n(c, "tunnels_undecodable"), 3, "{c:#}");
    // 3 of 20 frames: past the notice's 1%.
    assert!(
        t.stderr.contains(
            "c2tap: 3 of 20 packets (15.0%) were not decoded: \
             undecoded_wlan_not_data 2, undecoded_wlan_protected 1"
        ),
        "{}",
        t.stderr
    );
}

#[test]
fn a_source_capture_decodes_everything_and_says_nothing() {
    let s = replay(Path::new("pcaps/http-curl.pcap"));
    assert_eq!(undecoded(&s.counters), 0);
    assert!(!s.stderr.contains("not decoded"), "{}", s.stderr);
}

/// Ethernet + IPv4 (protocol 47) + GRE of protocol type `proto` around `inner`.
fn gre_frame(proto: u16, inner: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 4 + inner.len()) as u16;
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend([0, 1, 0x40, 0, 64, 47, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend([0, 0]);
    f.extend(proto.to_be_bytes());
    f.extend(inner);
    f
}

/// The issue's symptom: GRE carrying something c2tap does not walk gave no event, no
/// decode error, no count. Now each frame is counted under its reason, and the replay
/// says on stderr that nothing was decoded.
#[test]
fn unknown_gre_payload_is_counted_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gre-unknown.pcap");
    // 0x88B5: the IEEE local experimental EtherType, which nothing decodes.
    let unknown = gre_frame(0x88B5, &[0u8; 40]);
    let frames: Vec<(u32, &[u8])> = (0..50).map(|i| (1_000 + i, unknown.as_slice())).collect();
    std::fs::write(&path, pcap(1, &frames)).unwrap();
    let r = replay(&path);
    assert!(r.events.is_empty(), "{:#?}", r.events);
    assert_eq!(n(&r.counters, "undecoded_not_ip"), 50, "{:#}", r.counters);
    assert_eq!(n(&r.counters, "decode_errors"), 50);
    assert_accounted("gre-unknown", &r.counters);
    assert!(
        r.stderr
            .contains("c2tap: 50 of 50 packets (100.0%) were not decoded: undecoded_not_ip 50"),
        "{}",
        r.stderr
    );
}

/// An IP packet that is neither TCP nor UDP is counted, not silently skipped.
#[test]
fn other_transports_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("icmp.pcap");
    let mut icmp = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    icmp.extend([
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    icmp.extend([8, 0, 0xF7, 0xFF, 0, 0, 0, 0]);
    let dns = udp_frame(
        [10, 0, 0, 1],
        40000,
        [10, 0, 0, 2],
        53,
        &dns_query(7, "a.test", 1),
    );
    std::fs::write(&path, pcap(1, &[(1_000, &icmp), (1_001, &dns)])).unwrap();
    let r = replay(&path);
    assert_eq!(n(&r.counters, "undecoded_other_transport"), 1);
    assert_eq!(n(&r.counters, "packets_decoded"), 1);
    assert_eq!(n(&r.counters, "decode_errors"), 0);
    assert_accounted("icmp", &r.counters);
}

/// `pcaps/tunnel-gre-amsdu.pcap`: dns-benign's frames aggregated (up to 3 a frame) into
/// 802.11 A-MSDUs in GRE 0x8200. Every subframe is decoded: the same events as the source,
/// but for the times (an A-MSDU carries its last frame's time) and the wire bytes (each
/// subframe has its LLC/SNAP header, not the source's Ethernet frame).
#[test]
fn amsdus_in_gre_give_the_events_of_their_source() {
    let t = replay(Path::new("pcaps/tunnel-gre-amsdu.pcap"));
    let s = replay(Path::new("pcaps/dns-benign.pcap"));
    let timeless = |events: &[Value]| -> Vec<String> {
        let mut out: Vec<String> = events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                let o = e.as_object_mut().unwrap();
                for k in [
                    "Source",
                    "FlowId",
                    "UtcTime",
                    "StartTime",
                    "Duration",
                    "SourceWireBytes",
                    "DestinationWireBytes",
                ] {
                    o.remove(k);
                }
                serde_json::to_string(&e).unwrap()
            })
            .collect();
        out.sort();
        out
    };
    assert!(!s.events.is_empty());
    assert_eq!(timeless(&t.events), timeless(&s.events));
    let (tc, sc) = (&t.counters, &s.counters);
    assert_eq!(n(tc, "packets"), 8, "{tc:#}");
    assert_eq!(n(tc, "wlan_amsdus_split"), 8, "{tc:#}");
    assert_eq!(n(tc, "wlan_amsdu_subframes"), n(sc, "packets"), "{tc:#}");
    assert_eq!(n(tc, "packets_decoded"), n(sc, "packets_decoded"));
    assert_eq!(undecoded(tc), 0, "{tc:#}");
    assert_accounted("tunnel-gre-amsdu", tc);
    assert!(!t.stderr.contains("not decoded"), "{}", t.stderr);
}

/// An 802.11 QoS data frame to the AP whose body is an A-MSDU (QoS control bit 7) of
/// `msdus` (each an IP packet, put behind LLC/SNAP), padded to 4 bytes but the last.
fn amsdu_frame(msdus: &[&[u8]]) -> Vec<u8> {
    let mut f = vec![0x88, 0x01, 0, 0];
    f.extend([0x02, 0xaa, 0, 0, 0, 1]); // BSSID
    f.extend([0x02, 0xbb, 0, 0, 0, 2]); // SA
    f.extend([0x02, 0xcc, 0, 0, 0, 3]); // DA
    f.extend([0x10, 0x00]); // sequence control
    f.extend([0x80, 0x00]); // QoS control: A-MSDU present, TID 0
    let body_at = f.len();
    for (i, ip) in msdus.iter().enumerate() {
        if i > 0 {
            while !(f.len() - body_at).is_multiple_of(4) {
                f.push(0);
            }
        }
        f.extend([0x02, 0xcc, 0, 0, 0, 3, 0x02, 0xbb, 0, 0, 0, 2]);
        f.extend(((ip.len() + 8) as u16).to_be_bytes());
        f.extend([0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend_from_slice(ip);
    }
    f
}

/// The IP packet of a UDP DNS query from 10.0.0.`host`.
fn dns_ip(host: u8, id: u16, name: &str) -> Vec<u8> {
    udp_frame(
        [10, 0, 0, host],
        40000 + id,
        [10, 0, 0, 53],
        53,
        &dns_query(id, name, 1),
    )[14..]
        .to_vec()
}

/// Issue 14: an A-MSDU's subframes are split and each is decoded, under radiotap and in a
/// WLAN-controller GRE tunnel; one that cannot be split is still counted. tshark, which
/// dissects A-MSDUs, names the same queries.
#[test]
fn amsdu_subframes_are_split_and_decoded() {
    let names = ["one.amsdu.test", "two.amsdu.test", "three.amsdu.test"];
    let ips: Vec<Vec<u8>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| dns_ip(10 + i as u8, i as u16 + 1, n))
        .collect();
    let refs: Vec<&[u8]> = ips.iter().map(Vec::as_slice).collect();
    let good = amsdu_frame(&refs);
    // The second subframe's length runs past the frame: nothing of it can be split.
    let mut bad = amsdu_frame(&refs[..2]);
    let second = 26 + ((14 + refs[0].len() + 8 + 3) & !3);
    bad[second + 12..second + 14].copy_from_slice(&2000u16.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let radiotap = |f: &[u8]| {
        let mut r = vec![0, 0, 8, 0, 0, 0, 0, 0];
        r.extend_from_slice(f);
        r
    };
    let (rt_good, rt_bad) = (radiotap(&good), radiotap(&bad));
    let (gre_good, gre_bad) = (gre_frame(0x8200, &good), gre_frame(0x8200, &bad));
    for (name, linktype, frames) in [
        ("radiotap", 127u32, [rt_good.as_slice(), rt_bad.as_slice()]),
        ("gre-wlan", 1, [gre_good.as_slice(), gre_bad.as_slice()]),
    ] {
        let path = dir.path().join(format!("amsdu-{name}.pcap"));
        let timed: Vec<(u32, &[u8])> = frames.iter().map(|f| (1_000, *f)).collect();
        std::fs::write(&path, pcap(linktype, &timed)).unwrap();
        let r = replay(&path);
        let mut seen: Vec<String> = r
            .events
            .iter()
            .filter(|e| e["EventID"] == 22)
            .map(|e| e["QueryName"].as_str().unwrap().to_string())
            .collect();
        seen.sort();
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(seen, want, "{name}: {:#?}", r.events);
        let c = &r.counters;
        assert_eq!(n(c, "wlan_amsdus_split"), 1, "{name}: {c:#}");
        assert_eq!(n(c, "wlan_amsdu_subframes"), 3, "{name}: {c:#}");
        assert_eq!(n(c, "undecoded_wlan_amsdu"), 1, "{name}: {c:#}");
        assert_eq!(n(c, "packets_decoded"), 3, "{name}: {c:#}");
        assert_accounted(name, c);
        if have("tshark") {
            // The well-formed A-MSDU only: tshark reads on into a subframe whose length
            // runs past the frame, which c2tap refuses to split (and counts).
            let t = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args([
                    "-Y",
                    "frame.number == 1",
                    "-T",
                    "fields",
                    "-e",
                    "dns.qry.name",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&t.stdout);
            let mut oracle: Vec<String> = text
                .split([',', '\n'])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            oracle.sort();
            assert_eq!(oracle, want, "{name}: tshark {text:?}");
        } else {
            eprintln!("tshark not installed: its values are not compared");
        }
    }
}
