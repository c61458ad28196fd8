//! ATT&CK technique mappings: the committed data is what `scripts/gen-mappings.py` makes
//! of `../shared/mappings`; the coverage view shows them (T1071.001 exactly as the CTID
//! maps it); alerts carry them in the fixed shape, and `--no-mappings` /
//! `mappings = false` take them off.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn data_dir() -> std::path::PathBuf {
    repo().join("src/detect/mappings")
}

fn committed() -> Value {
    let text = std::fs::read_to_string(data_dir().join("attack-mappings.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn committed_data_is_what_the_script_generates() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipped: ../shared is absent (the mappings and SigmaHQ's rules live there)");
        return;
    };
    if !shared.join("mappings").is_dir() || !shared.join("sigma").is_dir() {
        eprintln!("skipped: ../shared/mappings or ../shared/sigma is absent");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("attack-mappings.json");
    let status = Command::new("python3")
        .arg(repo().join("scripts/gen-mappings.py"))
        .arg("--data")
        .arg(shared.join("mappings"))
        .arg("--rules")
        .arg(repo().join("rules"))
        .arg("--rules")
        .arg(shared.join("sigma"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("python3 runs (scripts/install-deps.sh test installs it)");
    assert!(status.success(), "gen-mappings.py failed: {status}");
    let fresh = std::fs::read(&out).unwrap();
    let kept = std::fs::read(data_dir().join("attack-mappings.json")).unwrap();
    assert!(
        fresh == kept,
        "src/detect/mappings/attack-mappings.json is stale: run scripts/gen-mappings.py \
         and commit the result"
    );
    // The NOTICE names the rule folders relative to the repository: comparable when
    // ../shared is beside it (as the script's defaults assume).
    if shared == repo().join("../shared") {
        let fresh = std::fs::read_to_string(tmp.path().join("NOTICE")).unwrap();
        let kept = std::fs::read_to_string(data_dir().join("NOTICE")).unwrap();
        assert_eq!(fresh, kept, "src/detect/mappings/NOTICE is stale");
    }
}

#[test]
fn every_technique_of_the_built_in_rules_that_the_data_maps_is_shipped() {
    // The built-in rules' techniques are all in the CTID data; a technique shipped
    // without any entry would be a generator defect (it leaves those out).
    let data = committed();
    let techniques = data["techniques"].as_object().unwrap();
    for id in [
        "T1071.001",
        "T1071.004",
        "T1572",
        "T1090",
        "T1219",
        "T1568.002",
    ] {
        assert!(techniques.contains_key(id), "{id} missing");
    }
    for (id, t) in techniques {
        let o = t.as_object().unwrap();
        assert!(
            o.keys().any(|k| k != "name"),
            "{id} is shipped with no entry"
        );
        for list in ["veris", "nist_800_53", "aws", "azure", "gcp"] {
            if let Some(l) = o.get(list) {
                assert!(!l.as_array().unwrap().is_empty(), "{id}.{list} is empty");
            }
        }
    }
    // Every control listed has a name.
    for (id, t) in techniques {
        for c in t["nist_800_53"].as_array().into_iter().flatten() {
            let c = c.as_str().unwrap();
            assert!(
                data["nist_controls"][c]["name"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty()),
                "{id}: control {c} has no name"
            );
        }
    }
}

/// What CTID's files map to T1071.001 (checked by hand against ../shared/mappings).
const T1071_001_NIST: [(&str, &str); 15] = [
    ("AC-4", "Information Flow Enforcement"),
    ("CA-7", "Continuous Monitoring"),
    ("CM-2", "Baseline Configuration"),
    ("CM-6", "Configuration Settings"),
    ("CM-7", "Least Functionality"),
    ("SC-7", "Boundary Protection"),
    ("SC-10", "Network Disconnect"),
    (
        "SC-20",
        "Secure Name/Address Resolution Service (Authoritative Source)",
    ),
    (
        "SC-21",
        "Secure Name/Address Resolution Service (Recursive or Caching Resolver)",
    ),
    (
        "SC-22",
        "Architecture and Provisioning for Name/Address Resolution Service",
    ),
    ("SC-23", "Session Authenticity"),
    ("SC-31", "Covert Channel Analysis"),
    ("SC-37", "Out-of-band Channels"),
    ("SI-3", "Malicious Code Protection"),
    ("SI-4", "System Monitoring"),
];

const GUARDDUTY_T1071_001: [&str; 9] = [
    "Backdoor:EC2/C&CActivity.B",
    "Backdoor:EC2/C&CActivity.B!DNS",
    "Impact:EC2/MaliciousDomainRequest.Reputation",
    "Impact:EC2/SuspiciousDomainRequest.Reputation",
    "Trojan:EC2/BlackholeTraffic",
    "Trojan:EC2/BlackholeTraffic!DNS",
    "Trojan:EC2/DropPoint",
    "Trojan:EC2/DropPoint!DNS",
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
];

fn coverage(args: &[&str]) -> std::process::Output {
    let out = run(c2tap().arg("rules").arg("coverage").args(args));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn coverage_json_lists_what_the_ctid_maps_to_t1071_001() {
    let out = coverage(&["--technique", "T1071.001", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let maps = v["mappings"].as_array().unwrap();
    // Only the technique asked for (the rules' other tags have their own pages).
    assert_eq!(maps.len(), 1, "{maps:?}");
    let t = &maps[0];
    assert_eq!(t["technique"], "T1071.001");
    assert_eq!(t["name"], "Web Protocols");
    assert_eq!(t["rules"], v["rules_matched"]);
    let c2 = t["veris"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "action.malware.variety.C2")
        .expect("VERIS action.malware.variety.C2");
    assert_eq!(c2["description"], "Command and control (C2)");
    assert_eq!(c2["versions"], json!(["1.3.5"]));
    let nist: Vec<(&str, &str)> = t["nist_800_53"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(nist, T1071_001_NIST);
    assert!(
        t["nist_800_53"][5]["summary"]
            .as_str()
            .unwrap()
            .starts_with("Managed interfaces include gateways, routers, firewalls")
    );
    let aws: Vec<(&str, &str, &str)> = t["aws"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["capability"].as_str().unwrap(),
                c["category"].as_str().unwrap(),
                c["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        aws,
        [
            ("AWS Network Firewall", "protect", "significant"),
            ("AWS Web Application Firewall", "protect", "minimal"),
            ("Amazon GuardDuty", "detect", "partial"),
        ]
    );
    let gd = &t["aws"][2];
    assert_eq!(gd["finding_types"], json!(GUARDDUTY_T1071_001));
    assert!(
        gd["comments"]
            .as_str()
            .unwrap()
            .starts_with("GuardDuty flags events matching the following finding types")
    );
    assert!(!t["azure"].as_array().unwrap().is_empty());
    assert!(!t["gcp"].as_array().unwrap().is_empty());
    assert!(
        t.get("parent").is_none(),
        "T1071.001 has entries of its own"
    );
    assert!(
        v["mappings_source"]
            .as_str()
            .unwrap()
            .contains("Center for Threat-Informed Defense")
    );
}

#[test]
fn coverage_text_shows_the_mappings_section() {
    let out = coverage(&["--technique", "T1071.001"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let at = text.find("\nMappings (").expect("a Mappings section");
    let m = &text[at..];
    assert!(m.contains(" T1071.001 Web Protocols ("), "{m}");
    assert!(m.contains("action.malware.variety.C2"), "{m}");
    for (id, name) in T1071_001_NIST {
        assert!(
            m.lines()
                .any(|l| l.split_whitespace().next() == Some(id) && l.contains(name)),
            "{id} {name} not in:\n{m}"
        );
    }
    // A row with its cells joined by one space.
    let row = |start: &str| {
        m.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} row in:\n{m}"))
    };
    assert_eq!(
        row("AWS Amazon GuardDuty"),
        "AWS Amazon GuardDuty detect partial"
    );
    assert_eq!(
        row("AWS AWS Network Firewall"),
        "AWS AWS Network Firewall protect significant"
    );
    assert_eq!(
        row("AWS AWS Web Application Firewall"),
        "AWS AWS Web Application Firewall protect minimal"
    );
    assert_eq!(
        row("AWS Amazon GuardDuty detect/partial finding types:"),
        format!(
            "AWS Amazon GuardDuty detect/partial finding types: {}",
            GUARDDUTY_T1071_001.join(", ")
        )
    );
}

#[test]
fn coverage_names_a_parents_entries_without_inheriting_them() {
    // T1048.003 (Exfiltration Over Unencrypted Non-C2 Protocol, built-in
    // dns_tunnels.yml): the data has no GCP entry of its own; its parent T1048 has. The
    // view says so, and the sub-technique's own list stays empty.
    let data = committed();
    let own = &data["techniques"]["T1048.003"];
    let parent = &data["techniques"]["T1048"];
    let missing: Vec<&str> = ["veris", "nist_800_53", "aws", "azure", "gcp"]
        .into_iter()
        .filter(|k| own.get(*k).is_none() && parent.get(*k).is_some())
        .collect();
    assert_eq!(missing, ["gcp"]);
    let out = coverage(&["--technique", "T1048.003", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["mappings"][0];
    assert_eq!(t["technique"], "T1048.003");
    assert_eq!(
        t["parent"],
        json!({"technique": "T1048", "frameworks": ["gcp"]})
    );
    assert_eq!(t["gcp"], json!([]), "gcp inherited");
    assert!(!t["aws"].as_array().unwrap().is_empty());
    let out = coverage(&["--technique", "T1048.003"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("none of its own for GCP; its parent T1048 has some (not inherited"),
        "{text}"
    );
}

/// The `Mappings` object the data gives for these techniques, built here from the
/// committed file by the README's rules (independently of c2tap's renderer).
fn expected_mappings(techniques: &[&str]) -> Value {
    let data = committed();
    let mut out = serde_json::Map::new();
    for id in techniques {
        let t = &data["techniques"][*id];
        if t.is_null() {
            continue;
        }
        let mut o = serde_json::Map::new();
        if let Some(v) = t["veris"].as_array() {
            o.insert("veris".into(), v.iter().map(|x| x["id"].clone()).collect());
        }
        if let Some(n) = t["nist_800_53"].as_array() {
            o.insert("nist_800_53".into(), Value::Array(n.clone()));
        }
        for k in ["aws", "azure", "gcp"] {
            if let Some(list) = t[k].as_array() {
                let caps = list
                    .iter()
                    .map(|c| {
                        json!({"capability": c["capability"], "category": c["category"],
                               "value": c["value"]})
                    })
                    .collect();
                o.insert(k.into(), caps);
            }
        }
        out.insert((*id).to_string(), Value::Object(o));
    }
    Value::Object(out)
}

/// A list of an alert's `Mappings` is sorted (NIST ids by family then number, cloud
/// entries by capability, category, value) and holds no entry twice.
fn assert_sorted_unique(framework: &str, list: &Value) {
    let keys: Vec<(String, u32, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| match framework {
            "nist_800_53" => {
                let (fam, num) = x.as_str().unwrap().split_once('-').unwrap();
                (fam.to_string(), num.parse().unwrap(), String::new())
            }
            "veris" => (x.as_str().unwrap().to_string(), 0, String::new()),
            _ => (
                x["capability"].as_str().unwrap().to_string(),
                0,
                format!("{}/{}", x["category"], x["value"]),
            ),
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "{framework} not sorted or repeated: {list}"
    );
}

fn replay(pcap: &Path, extra: &[&str]) -> Vec<Value> {
    let out = run(c2tap().arg("replay").arg(pcap).args(extra));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

#[test]
fn alerts_carry_their_rules_mappings_and_the_switch_takes_them_off() {
    let pcap = repo().join("pcaps/tls-curl.pcap");
    let evs = replay(&pcap, &[]);
    let alerts: Vec<&Value> = evs
        .iter()
        .flat_map(|e| e["Alerts"].as_array().into_iter().flatten())
        .collect();
    assert!(!alerts.is_empty(), "tls-curl.pcap gives alerts");
    for a in &alerts {
        let techniques: BTreeMap<String, ()> = a["RuleTags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str()?.strip_prefix("attack.t"))
            .map(|t| (format!("T{}", t.to_ascii_uppercase()), ()))
            .collect();
        let ids: Vec<&str> = techniques.keys().map(String::as_str).collect();
        assert!(ids.contains(&"T1071.001"), "{a}");
        assert_eq!(a["Mappings"], expected_mappings(&ids), "{}", a["RuleTitle"]);
        let m = &a["Mappings"]["T1071.001"];
        assert!(
            m["veris"]
                .as_array()
                .unwrap()
                .contains(&json!("action.malware.variety.C2"))
        );
        for (framework, list) in m.as_object().unwrap() {
            assert_sorted_unique(framework, list);
        }
    }
    // The written order: Mappings right after RuleTags, in the raw line.
    let out = run(c2tap().arg("replay").arg(&pcap));
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("\"Alerts\""))
        .unwrap()
        .to_string();
    assert!(
        line.contains("],\"Mappings\":{\"T1071.001\":{\"veris\":["),
        "{line}"
    );

    for off in [vec!["--no-mappings"], vec!["--set", "mappings=false"]] {
        let evs = replay(&pcap, &off);
        let alerts: Vec<&Value> = evs
            .iter()
            .flat_map(|e| e["Alerts"].as_array().into_iter().flatten())
            .collect();
        assert!(!alerts.is_empty());
        assert!(
            alerts.iter().all(|a| a.get("Mappings").is_none()),
            "{off:?} left Mappings on"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c2tap.toml");
    std::fs::write(&cfg, "mappings = false\n").unwrap();
    let evs = replay(&pcap, &["-c", cfg.to_str().unwrap()]);
    assert!(
        evs.iter()
            .flat_map(|e| e["Alerts"].as_array().into_iter().flatten())
            .all(|a| a.get("Mappings").is_none())
    );
}

#[test]
fn rules_test_adds_mappings_only_where_the_data_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "title: mapped\nid: 6f0c5c6e-0000-4000-8000-000000000001\nlevel: high\n\
         tags: [attack.command-and-control, attack.t1071.001]\n\
         logsource: {category: dns_query}\n\
         detection: {s: {QueryName|endswith: .example.test}, condition: s}\n\
         ---\n\
         title: unmapped\nid: 6f0c5c6e-0000-4000-8000-000000000002\nlevel: low\n\
         tags: [attack.t1001]\n\
         logsource: {category: dns_query}\n\
         detection: {s: {QueryName|endswith: .example.test}, condition: s}\n",
    )
    .unwrap();
    let events = dir.path().join("e.jsonl");
    std::fs::write(
        &events,
        "{\"EventID\":22,\"QueryName\":\"a.example.test\"}\n",
    )
    .unwrap();
    let test = |extra: &[&str]| -> Value {
        let out = run(c2tap()
            .args(["rules", "test", "-r"])
            .arg(&rules)
            .arg(&events)
            .args(extra));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = test(&[]);
    let alerts = v["Alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["Mappings"], expected_mappings(&["T1071.001"]));
    // T1001 is in no shipped rule's tags: nothing shipped, so no key at all.
    assert!(alerts[1].get("Mappings").is_none(), "{}", alerts[1]);
    let v = test(&["--no-mappings"]);
    assert!(
        v["Alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("Mappings").is_none())
    );
}

#[test]
fn correlation_alerts_carry_their_own_mappings() {
    // The built-in tunnel-service correlations fire on dns-tunnels.pcap; their alert
    // (the Correlation event's first) is rendered like a rule's.
    let evs = replay(&repo().join("pcaps/dns-tunnels.pcap"), &[]);
    let corr: Vec<&Value> = evs.iter().filter(|e| e["EventID"] == 120).collect();
    assert!(!corr.is_empty(), "no Correlation event");
    for c in corr {
        let a = &c["Alerts"][0];
        assert_eq!(a["RuleId"], c["CorrelationId"]);
        let ids: Vec<String> = a["RuleTags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str()?.strip_prefix("attack.t"))
            .map(|t| format!("T{}", t.to_ascii_uppercase()))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert!(!ids.is_empty());
        assert_eq!(a["Mappings"], expected_mappings(&ids), "{}", a["RuleTitle"]);
    }
}
