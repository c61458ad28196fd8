//! Connection summaries (EventID 101) against tshark: on every capture the project made
//! (`pcaps/`), the packets and on-the-wire bytes each way that c2tap's ConnectionEnd
//! events give for a 5-tuple add up to what tshark counts for it, frame by frame.
//! Skipped, saying so, where tshark is not installed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{c2tap, events, repo, run};

/// (protocol, source, destination) → (packets, wire bytes) sent that way.
type Counts = BTreeMap<(String, String, String), (u64, u64)>;

fn tshark_counts(pcap: &Path) -> Option<Counts> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-Y",
            "(tcp or udp) and not icmp and not icmpv6 and not ip.flags.mf == 1",
        ])
        .args(["-T", "fields", "-E", "separator=|"])
        .args([
            "-e",
            "frame.len",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "ip.dst",
        ])
        .args(["-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport"])
        .args(["-e", "udp.srcport", "-e", "udp.dstport"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut counts = Counts::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        let [len, s4, s6, d4, d6, ts, td, us, ud] = f[..] else {
            continue;
        };
        // The innermost header where there are several (tunnels): tshark lists them all.
        let last = |v: &str| v.rsplit(',').next().unwrap_or("").to_string();
        let (src, dst) = if s4.is_empty() {
            (last(s6), last(d6))
        } else {
            (last(s4), last(d4))
        };
        let (proto, sp, dp) = if ts.is_empty() {
            ("udp", us, ud)
        } else {
            ("tcp", ts, td)
        };
        let key = (
            proto.to_string(),
            format!("{src}:{}", last(sp)),
            format!("{dst}:{}", last(dp)),
        );
        let e = counts.entry(key).or_default();
        e.0 += 1;
        e.1 += len.parse::<u64>().unwrap_or(0);
    }
    Some(counts)
}

fn c2tap_counts(pcap: &Path) -> Counts {
    let out = run(c2tap()
        .args(["replay", "--events", "all", "--workers", "1"])
        .arg(pcap));
    let mut counts = Counts::new();
    for ev in events(&out.stdout).iter().filter(|e| e["EventID"] == 101) {
        let proto = ev["Protocol"].as_str().unwrap_or("").to_string();
        let src = format!(
            "{}:{}",
            ev["SourceIp"].as_str().unwrap_or(""),
            ev["SourcePort"]
        );
        let dst = format!(
            "{}:{}",
            ev["DestinationIp"].as_str().unwrap_or(""),
            ev["DestinationPort"]
        );
        let n = |k: &str| ev[k].as_u64().unwrap_or(0);
        let fwd = counts
            .entry((proto.clone(), src.clone(), dst.clone()))
            .or_default();
        fwd.0 += n("SourcePackets");
        fwd.1 += n("SourceWireBytes");
        if n("DestinationPackets") > 0 {
            let back = counts.entry((proto, dst, src)).or_default();
            back.0 += n("DestinationPackets");
            back.1 += n("DestinationWireBytes");
        }
    }
    counts
}

#[test]
fn packets_and_wire_bytes_match_tshark_on_the_projects_captures() {
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("SKIPPED: tshark not installed");
        return;
    }
    let mut pcaps: Vec<_> = std::fs::read_dir(repo().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    pcaps.sort();
    assert!(pcaps.len() >= 20);
    let mut compared = 0;
    for pcap in &pcaps {
        // tshark counts an 802.11 A-MSDU frame once, with all its bytes, in the
        // conversation of its first subframe; c2tap counts each subframe in its own flow,
        // with the subframe's bytes. tests/loss.rs holds that capture's per-flow packets
        // and payload bytes to those of its source (dns-benign), which is compared here.
        if pcap
            .file_name()
            .is_some_and(|n| n == "tunnel-gre-amsdu.pcap")
        {
            continue;
        }
        let Some(want) = tshark_counts(pcap) else {
            panic!("tshark failed on {}", pcap.display());
        };
        let got = c2tap_counts(pcap);
        assert_eq!(got, want, "{}", pcap.display());
        compared += want.len();
    }
    assert!(compared > 100, "only {compared} directions compared");
}

#[test]
fn summaries_can_be_turned_off() {
    let pcap = repo().join("pcaps/http-curl.pcap");
    let on = run(c2tap().args(["replay", "--events", "all"]).arg(&pcap));
    let off = run(c2tap()
        .args(["replay", "--events", "all", "--no-connection-summaries"])
        .arg(&pcap));
    let count = |out: &[u8]| events(out).iter().filter(|e| e["EventID"] == 101).count();
    assert_eq!(count(&on.stdout), 2);
    assert_eq!(count(&off.stdout), 0);
    // Everything else is the same.
    let others = |out: &[u8]| {
        events(out)
            .into_iter()
            .filter(|e| e["EventID"] != 101 && e["EventID"] != 4)
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&on.stdout), others(&off.stdout));
}

#[test]
fn rules_match_summaries_by_c2tap_and_zeek_names() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("long.yml");
    std::fs::write(
        &rule,
        "title: Closed HTTP connection with data both ways\n\
         id: 6f1d3c0e-5b7a-4f0e-9a51-101c0de00001\n\
         status: test\nlevel: low\n\
         logsource:\n  product: c2tap\n  category: connection_end\n\
         detection:\n  sel:\n    conn_state: SF\n    history|contains: 'D'\n    AppProtocol: http\n    HttpRequests: 1\n\
         \x20 condition: sel\n",
    )
    .unwrap();
    let out = run(c2tap()
        .args(["replay", "-r"])
        .arg(&rule)
        .arg(repo().join("pcaps/http-curl.pcap")));
    let alerts = events(&out.stdout);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["EventID"], 101);
    assert_eq!(alerts[0]["DestinationPort"], 8080);
    assert_eq!(
        alerts[0]["Alerts"][0]["RuleTitle"],
        "Closed HTTP connection with data both ways"
    );
}
