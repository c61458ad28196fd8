//! Rules as a rule author reads them (issue 13, "Fidelity"): `rules test` evaluates
//! *never*-observable rules on the events it is given; an event's own field values win
//! over mapped names; DNS events carry Zeek's header flags, so SigmaHQ's Z-bit rule
//! fires exactly where Zeek's Z is not 0; `rules test` runs correlations on the events'
//! own times.

mod common;

use std::io::Cursor;

use c2tap::detect::sigma;
use c2tap::detect::tools;
use c2tap::detect::{Engine, JsonEvent};
use common::*;

fn rules_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("rules.yml");
    std::fs::write(&p, text).unwrap();
    p
}

fn test_tool(rules: &std::path::Path, input: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    tools::test(&[rules.to_path_buf()], &mut Cursor::new(input), &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const IMAGE_AND_QUERY: &str = "
title: PowerShell resolves a quick tunnel
id: 00000000-0000-4000-8000-00000000f001
logsource:
    category: dns_query
    product: windows
detection:
    selection:
        Image|endswith: '\\powershell.exe'
        QueryName|endswith: '.trycloudflare.com'
    condition: selection
level: high
";

#[test]
fn rules_test_evaluates_never_rules_on_host_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path(), IMAGE_AND_QUERY);
    let host = r#"{"EventID":22,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","QueryName":"x.trycloudflare.com"}"#;
    let other_image = r#"{"EventID":22,"Image":"C:\\Program Files\\App\\app.exe","QueryName":"x.trycloudflare.com"}"#;
    let sensor = r#"{"EventID":22,"QueryName":"x.trycloudflare.com","SourceIp":"10.0.0.5"}"#;
    let out = test_tool(&rules, &format!("{host}\n{other_image}\n{sensor}\n"));
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0]["Alerts"][0]["RuleId"],
        "00000000-0000-4000-8000-00000000f001"
    );
    assert!(out[1].get("Alerts").is_none(), "{}", out[1]);
    assert!(out[2].get("Alerts").is_none(), "{}", out[2]);
    // The sensor still skips the rule: no network event has Image.
    let (engine, failures) = Engine::load(&[rules]);
    assert!(failures.is_empty());
    assert_eq!((engine.stats().never, engine.stats().active), (1, 0));
}

#[test]
fn an_events_own_value_wins_over_a_mapped_name() {
    let set = sigma::load_str(
        "
title: full URL
id: 00000000-0000-4000-8000-00000000f002
logsource: {category: proxy}
detection:
    selection:
        c-uri|startswith: 'http://full.example/'
    condition: selection
---
title: path
id: 00000000-0000-4000-8000-00000000f003
logsource: {category: proxy}
detection:
    selection:
        cs-uri: '/path'
    condition: selection
---
title: path holding the host (must not match)
id: 00000000-0000-4000-8000-00000000f004
logsource: {category: proxy}
detection:
    selection:
        cs-uri|contains: 'full.example'
    condition: selection
",
        "t.yml",
        "t",
    );
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    // As `rules test` builds it (the sensor's events have only canonical names).
    let (engine, _) = Engine::build(&set.rules, &[], tools::TEST_OPTIONS);
    let ids = |ev: serde_json::Value| {
        let mut out = Vec::new();
        engine.evaluate(&JsonEvent::from_map(ev.as_object().unwrap()), &mut out);
        let mut v: Vec<String> = out.iter().map(|a| a.rule_id.to_string()).collect();
        v.sort();
        v
    };
    // Both names present with different values: each rule reads its own.
    assert_eq!(
        ids(
            serde_json::json!({"EventID": 100, "c-uri": "http://full.example/path", "cs-uri": "/path"})
        ),
        vec![
            "00000000-0000-4000-8000-00000000f002",
            "00000000-0000-4000-8000-00000000f003"
        ]
    );
    // In the other order too.
    assert_eq!(
        ids(
            serde_json::json!({"EventID": 100, "cs-uri": "/path", "c-uri": "http://full.example/path"})
        ),
        vec![
            "00000000-0000-4000-8000-00000000f002",
            "00000000-0000-4000-8000-00000000f003"
        ]
    );
    // One name only: the other maps onto it (c2tap's own events have HttpUri).
    assert_eq!(
        ids(serde_json::json!({"EventID": 100, "HttpUri": "/path"})),
        vec!["00000000-0000-4000-8000-00000000f003"]
    );
}

fn golden_dns_events() -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("tests/golden")).unwrap() {
        let path = entry.unwrap().path();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(line)
                && m["EventID"] == 22
            {
                out.push(m);
            }
        }
    }
    out
}

#[test]
fn sigmahq_z_flag_rule_fires_exactly_where_z_is_not_zero() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let path = shared.join("sigma/rules/network/zeek/zeek_dns_susp_zbit_flag.yml");
    let set = sigma::load_paths(&[path]);
    assert!(set.failures.is_empty() && set.rules.len() == 1);
    let engine = Engine::new(&set.rules);
    let events = golden_dns_events();
    assert!(events.len() > 100, "{}", events.len());
    let mut nonzero = 0;
    for ev in &events {
        let mut out = Vec::new();
        engine.evaluate(&JsonEvent::from_map(ev), &mut out);
        let z = ev["Z"].as_u64().expect("every DNS event has Z");
        nonzero += usize::from(z != 0);
        assert_eq!(!out.is_empty(), z != 0, "{ev:?}");
    }
    assert_eq!(nonzero, 1, "dns-zbits has one transaction with Z set");
}

/// Zeek's header flags of each answered transaction (`AA`, `TC`, `RD`, `RA`, `Z`),
/// against tshark's bits of its response (the oracle), on the DNS captures.
#[test]
fn dns_flags_agree_with_tshark() {
    for pcap in [
        "pcaps/dns-zbits.pcap",
        "pcaps/dns-benign.pcap",
        "pcaps/dns-tcp.pcap",
    ] {
        let tshark = std::process::Command::new("tshark")
            .args(["-r", pcap, "-Y", "dns.flags.response == 1", "-T", "fields"])
            .args(["-e", "dns.qry.name", "-e", "dns.flags.authoritative"])
            .args(["-e", "dns.flags.truncated", "-e", "dns.flags.recdesired"])
            .args(["-e", "dns.flags.recavail", "-e", "dns.flags.z"])
            .args([
                "-e",
                "dns.flags.authenticated",
                "-e",
                "dns.flags.checkdisable",
            ])
            .current_dir(repo())
            .output();
        let Some(tshark) = tshark.ok().filter(|o| o.status.success()) else {
            eprintln!("skipping: tshark not installed");
            return;
        };
        let out = run(c2tap()
            .current_dir(repo())
            .args(["replay", "--events", "all", pcap]));
        let b = |v: &serde_json::Value| v.as_str() == Some("true");
        let mut ours: Vec<(String, bool, bool, bool, bool, u64)> = events(&out.stdout)
            .iter()
            .filter(|e| e["EventID"] == 22 && e.get("Rcode").is_some())
            .map(|e| {
                (
                    e["QueryName"].as_str().unwrap().to_string(),
                    b(&e["AA"]),
                    b(&e["TC"]),
                    b(&e["RD"]),
                    b(&e["RA"]),
                    e["Z"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut theirs: Vec<(String, bool, bool, bool, bool, u64)> =
            String::from_utf8(tshark.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    let n = |i: usize| f[i].parse::<u64>().unwrap();
                    (
                        f[0].to_string(),
                        n(1) == 1,
                        n(2) == 1,
                        n(3) == 1,
                        n(4) == 1,
                        n(5) * 4 + n(6) * 2 + n(7),
                    )
                })
                .collect();
        ours.sort();
        theirs.sort();
        assert!(!ours.is_empty(), "{pcap}");
        assert_eq!(ours, theirs, "{pcap}");
        if pcap.ends_with("dns-zbits.pcap") {
            assert_eq!(ours.iter().filter(|t| t.5 == 3).count(), 1);
        }
    }
}

#[test]
fn the_cookie_header_is_cs_cookie() {
    let out = run(c2tap().current_dir(repo()).args([
        "replay",
        "--events",
        "all",
        "pcaps/http-cookie.pcap",
    ]));
    let reqs: Vec<serde_json::Value> = events(&out.stdout)
        .into_iter()
        .filter(|e| e["EventID"] == 100)
        .collect();
    assert_eq!(reqs.len(), 4);
    let cookies: Vec<&serde_json::Value> = reqs.iter().map(|r| &r["HttpCookie"]).collect();
    assert_eq!(cookies.iter().filter(|c| c.is_string()).count(), 1);
    let set = sigma::load_str(
        "
title: cookie
id: 00000000-0000-4000-8000-00000000f005
logsource: {category: proxy}
detection:
    selection:
        cs-cookie|contains: 'session=c2tap-derived'
    condition: selection
",
        "t.yml",
        "t",
    );
    let engine = Engine::new(&set.rules);
    let hits = reqs
        .iter()
        .filter(|r| {
            let mut out = Vec::new();
            engine.evaluate(&JsonEvent::from_map(r.as_object().unwrap()), &mut out);
            !out.is_empty()
        })
        .count();
    assert_eq!(hits, 1);
}

#[test]
fn rules_test_writes_correlations_after_the_completing_event() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(
        dir.path(),
        "
title: Tunnel lookup
id: 00000000-0000-4000-8000-00000000f006
name: lookup
logsource: {category: dns_query}
detection:
    selection:
        QueryName|endswith: '.trycloudflare.com'
    condition: selection
---
title: Three lookups in a minute
id: 00000000-0000-4000-8000-00000000f007
correlation:
    type: event_count
    rules: [lookup]
    group-by: [SourceIp]
    timespan: 1m
    condition: {gte: 3}
level: high
",
    );
    let line = |t: &str, name: &str| {
        format!(
            r#"{{"EventID":22,"UtcTime":"2026-11-22 10:00:{t}","SourceIp":"10.0.0.5","QueryName":"{name}"}}"#
        )
    };
    let input = [
        line("00.000", "a.trycloudflare.com"),
        line("10.000", "www.example.com"),
        line("20.000", "b.trycloudflare.com"),
        line("59.999", "c.trycloudflare.com"),
        line("59.999", "d.trycloudflare.com"),
    ]
    .join("\n");
    // The binary, as a rule author runs it.
    let events_path = dir.path().join("events.jsonl");
    std::fs::write(&events_path, &input).unwrap();
    let out = run(c2tap()
        .args(["rules", "test", "-r"])
        .arg(&rules)
        .arg(&events_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = events(&out.stdout);
    assert_eq!(lines.len(), 6, "five events and one correlation");
    // a, www, b, c: the third lookup completes it; its line comes right after c's.
    assert_eq!(lines[3]["QueryName"], "c.trycloudflare.com");
    assert_eq!(lines[5]["QueryName"], "d.trycloudflare.com");
    let c = &lines[4];
    assert_eq!(c["EventID"], 120);
    assert_eq!(c["CorrelationId"], "00000000-0000-4000-8000-00000000f007");
    assert_eq!(c["Value"], 3);
    assert_eq!(c["FirstSeen"], "2026-11-22 10:00:00.000");
    assert_eq!(c["LastSeen"], "2026-11-22 10:00:59.999");
    assert_eq!(c["SourceIp"], "10.0.0.5");
    assert_eq!(c["Alerts"][0]["RuleLevel"], "high");
    // The lookups feed the correlation only (generate defaults to false).
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| (i == 4) == l.get("Alerts").is_some())
    );
}
