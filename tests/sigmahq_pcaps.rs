//! SigmaHQ's own tunnel and T1071.001 rules, unmodified, over the project's captures: the
//! alerts listed in `tests/sigmahq-pcaps.expected` fire, and nothing else does.
//!
//! The rules are the network-logsource rules of `../shared/sigma` that carry
//! `attack.t1071.001` or name a tunnel or remote-access service. Skipped, saying so, when
//! `../shared` is absent. After an intended change: `UPDATE_EXPECTED=1 cargo test --test
//! sigmahq_pcaps`, then review the file like code.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;

/// Logsources c2tap produces events for (DESIGN §4).
fn network_logsource(text: &str) -> bool {
    let Some(start) = text.find("\nlogsource:") else {
        return false;
    };
    let block: String = text[start + 1..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    [
        "dns_query",
        "network_connection",
        "proxy",
        "firewall",
        "category: dns",
        "product: zeek",
    ]
    .iter()
    .any(|k| block.contains(k))
}

fn selected_rules(sigma: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![sigma.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "deprecated") {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "yml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap().to_lowercase();
            let topical = text.contains("attack.t1071.001")
                || [
                    "tunnel",
                    "ngrok",
                    "quickassist",
                    "localtonet",
                    "cloudflared",
                ]
                .iter()
                .any(|k| text.contains(k));
            if topical && network_logsource(&text) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn sigmahq_tunnel_rules_fire_on_the_tunnel_traffic_and_nothing_else() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let rules = selected_rules(&shared.join("sigma"));
    assert!(rules.len() >= 30, "only {} rules selected", rules.len());
    let dir = tempfile::tempdir().unwrap();
    for (i, r) in rules.iter().enumerate() {
        std::fs::copy(r, dir.path().join(format!("{i:03}.yml"))).unwrap();
    }
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(repo().join("pcaps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    pcaps.sort();
    let mut got = BTreeSet::new();
    for pcap in &pcaps {
        let out = run(c2tap()
            .args(["replay", "-w", "1", "-r"])
            .arg(dir.path())
            .arg(pcap));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for ev in events(&out.stdout) {
            let what = ev["QueryName"]
                .as_str()
                .or(ev["TlsSni"].as_str())
                .or(ev["DestinationHostname"].as_str())
                .unwrap_or("-")
                .to_owned();
            for a in ev["Alerts"].as_array().unwrap() {
                got.insert(format!(
                    "{}\t{}\t{}\t{}",
                    pcap.file_name().unwrap().to_string_lossy(),
                    ev["EventID"],
                    what,
                    a["RuleTitle"].as_str().unwrap()
                ));
            }
        }
    }
    let expected_path = repo().join("tests/sigmahq-pcaps.expected");
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        let text: String = got.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&expected_path, text).unwrap();
        return;
    }
    let want: BTreeSet<String> = std::fs::read_to_string(&expected_path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing alerts {missing:#?}\nunexpected alerts {extra:#?}"
    );
}
