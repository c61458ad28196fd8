//! The analyst's report end to end: `pcaps/` replayed with `--events all` (and
//! `--report`), `c2tap report` on the lines, and both pages loaded in headless
//! Chromium with scripts disabled; the DOM's sections and figures are checked against
//! figures this test computes from the JSON lines itself. Also: hostile names stay
//! text, malformed lines are counted (exit 1, page still written), bad usage exits 2.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{c2tap, repo, run};
use serde_json::Value;

/// The project's captures, sorted (as `make demo` lists them).
fn pcaps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// Whether Chromium can run here (installed by `scripts/install-deps.sh test`); the
/// reason when it cannot.
fn chromium_runs() -> Result<(), String> {
    match Command::new("chromium").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("chromium --version exited {}", o.status)),
        Err(e) => Err(format!("chromium: {e}")),
    }
}

/// Loads `page` in headless Chromium and returns the DOM it built. (Chromium's
/// headless `--dump-dom` itself needs JavaScript, so scripts stay on; the page has
/// none, which the tests check on the file.)
fn dump_dom(page: &Path, profile: &Path) -> String {
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium exited {} with no DOM: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dom
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

/// The text of an element's markup: tags removed, entities decoded.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(out.trim())
}

/// The body rows of table `id` as cell texts (SVG cells give their titles' text).
fn rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + dom[start..].find("</table>").unwrap();
    let body = &dom[start..end];
    let body = &body[body.find("<tbody>").map_or(0, |i| i + 7)..];
    body.split("<tr>")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| {
                    let inner = &td[td.find('>').unwrap() + 1..];
                    let inner = &inner[..inner.find("</td>").unwrap_or(inner.len())];
                    text_of(inner)
                })
                .collect()
        })
        .collect()
}

/// Figures computed from the lines, the way the report's page says it counts them.
struct Expected {
    by_rule: BTreeMap<String, u64>,
    by_level: BTreeMap<String, u64>,
    hostnames: Vec<(String, u64)>,
    queries: Vec<(String, u64)>,
    beacon_scores: Vec<f64>,
    tunnels: usize,
    ja4: usize,
    /// Technique → its VERIS and AWS cells, from the first alert whose `Mappings` has it.
    mappings: BTreeMap<String, (String, String)>,
    /// Beacon and DnsTunnel events that carry a histogram.
    histograms: (usize, usize),
}

/// (name, count) ranked as the page ranks them: count down, then name up.
fn ranked(counts: BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn expected(lines: &str) -> Expected {
    let mut by_rule = BTreeMap::new();
    let mut by_level = BTreeMap::new();
    let mut hostnames = BTreeMap::new();
    let mut queries = BTreeMap::new();
    let mut ja4 = BTreeMap::new();
    let mut beacon_scores = Vec::new();
    let mut tunnels = 0;
    let mut mappings = BTreeMap::new();
    let mut histograms = (0, 0);
    for l in lines.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l).unwrap();
        for a in v["Alerts"].as_array().into_iter().flatten() {
            *by_rule
                .entry(a["RuleId"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            *by_level
                .entry(a["RuleLevel"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            for (t, m) in a["Mappings"].as_object().into_iter().flatten() {
                let names = |k: &str| {
                    let v: Vec<String> = m[k]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|i| match i.as_str() {
                            Some(n) => n.to_string(),
                            None => format!(
                                "{} ({}, {})",
                                i["capability"].as_str().unwrap(),
                                i["category"].as_str().unwrap(),
                                i["value"].as_str().unwrap()
                            ),
                        })
                        .collect();
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        v.join("; ")
                    }
                };
                mappings
                    .entry(t.clone())
                    .or_insert_with(|| (names("veris"), names("aws")));
            }
        }
        let name = |k: &str| v[k].as_str().filter(|s| *s != "-" && !s.is_empty());
        match v["EventID"].as_u64() {
            Some(3) => {
                if let Some(h) = name("DestinationHostname") {
                    *hostnames.entry(h.to_string()).or_insert(0) += 1;
                }
                if let Some(j) = name("Ja4") {
                    *ja4.entry(j.to_string()).or_insert(0) += 1;
                }
            }
            Some(22) => {
                if let Some(q) = name("QueryName") {
                    *queries.entry(q.to_string()).or_insert(0) += 1;
                }
            }
            Some(110) => {
                beacon_scores.push(v["Score"].as_f64().unwrap());
                histograms.0 += usize::from(v["CheckInHistogram"].is_array());
            }
            Some(111) => {
                tunnels += 1;
                histograms.1 += usize::from(v["QueryHistogram"].is_array());
            }
            _ => {}
        }
    }
    beacon_scores.sort_by(|a, b| b.total_cmp(a));
    Expected {
        by_rule,
        by_level,
        hostnames: ranked(hostnames),
        queries: ranked(queries),
        beacon_scores,
        tunnels,
        ja4: ja4.len(),
        mappings,
        histograms,
    }
}

/// The page's top rows of a destination table against the expected ranking, with
/// the "(other)" row holding the rest.
fn check_top(dom: &str, id: &str, want: &[(String, u64)]) {
    let got = rows(dom, id);
    let shown = want.len().min(25);
    for (i, (name, n)) in want.iter().take(shown).enumerate() {
        assert_eq!(got[i], [name.clone(), n.to_string()], "{id} row {i}");
    }
    let rest: u64 = want.iter().skip(shown).map(|x| x.1).sum();
    if rest > 0 {
        assert_eq!(
            got[shown],
            ["(other)".to_string(), rest.to_string()],
            "{id}"
        );
    }
    assert_eq!(got.len(), shown + usize::from(rest > 0), "{id}");
}

fn check_page(dom: &str, want: &Expected) {
    for id in [
        "input",
        "alerts",
        "timeline",
        "destinations",
        "beacons",
        "dns-tunnels",
        "fingerprints",
        "coverage",
        "limits",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "section {id}"
        );
    }
    // Alerts by rule: the count beside each rule id.
    let got: BTreeMap<String, u64> = rows(dom, "alerts-by-rule")
        .into_iter()
        .map(|r| (r[4].clone(), r[3].parse().unwrap()))
        .collect();
    assert_eq!(got, want.by_rule, "alerts by rule");
    let got: BTreeMap<String, u64> = rows(dom, "alerts-by-level")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(got, want.by_level, "alerts by level");
    check_top(dom, "top-hostnames", &want.hostnames);
    check_top(dom, "top-queries", &want.queries);
    // Beacon rows: one per Beacon event, highest score first, with the subscore bars.
    let beacons = rows(dom, "beacon-rows");
    let scores: Vec<f64> = beacons.iter().map(|r| r[5].parse().unwrap()).collect();
    assert_eq!(scores.len(), want.beacon_scores.len());
    for (g, w) in scores.iter().zip(&want.beacon_scores) {
        assert!((g - w).abs() < 1e-9, "beacon score {g} vs {w}");
    }
    assert_eq!(rows(dom, "tunnel-rows").len(), want.tunnels);
    assert_eq!(
        rows(dom, "ja4").len(),
        want.ja4.min(25) + usize::from(want.ja4 > 25)
    );
    let section = |id: &str| {
        let s = dom.find(&format!("<section id=\"{id}\">")).unwrap();
        &dom[s..s + dom[s..].find("</section>").unwrap()]
    };
    assert!(section("timeline").contains("<svg"), "timeline figure");
    assert_eq!(
        section("beacons").matches("<svg class=\"bars\"").count(),
        want.beacon_scores.len(),
        "one subscore figure per beacon row"
    );
    assert!(
        !rows(dom, "coverage-rules").is_empty(),
        "coverage of the built-in rules"
    );
    // Each technique's mapping cells are the alerts' Mappings.
    let techniques = rows(dom, "alerts-by-technique");
    for (t, (veris, aws)) in &want.mappings {
        let row = techniques
            .iter()
            .find(|r| &r[0] == t)
            .unwrap_or_else(|| panic!("technique {t}"));
        assert_eq!((&row[3], &row[5]), (veris, aws), "mappings of {t}");
    }
    // The coverage view's Mappings: T1071.001 with GuardDuty and its finding types.
    let cov = rows(dom, "coverage-mappings");
    let web = cov
        .iter()
        .find(|r| r[0] == "T1071.001")
        .expect("T1071.001 mappings");
    assert!(
        web[5].contains("Amazon GuardDuty (detect, partial): "),
        "{web:?}"
    );
    // Histograms are drawn where the events carry them.
    assert_eq!(
        section("beacons").matches("<svg class=\"hist\"").count(),
        want.histograms.0
    );
    assert_eq!(
        section("dns-tunnels")
            .matches("<svg class=\"hist\"")
            .count(),
        want.histograms.1
    );
}

#[test]
fn report_of_the_demo_captures_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let replay_page = dir.path().join("replay.html");
    let out = run(c2tap()
        .args(["replay", "--events", "all", "-o"])
        .arg(&events)
        .arg("--report")
        .arg(&replay_page)
        .args(pcaps()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = dir.path().join("report.html");
    let out = run(c2tap().arg("report").arg(&events).arg("-o").arg(&page));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&events).unwrap();
    let want = expected(&lines);
    assert!(
        !want.beacon_scores.is_empty() && want.tunnels > 0 && !want.by_rule.is_empty(),
        "the demo captures carry beacons, tunnels and alerts"
    );
    // With technique mappings and histograms on (the defaults), the page must show them.
    assert!(
        want.mappings["T1071.001"]
            .0
            .contains("action.malware.variety.C2")
            && want.histograms.0 == want.beacon_scores.len(),
        "alerts carry Mappings and beacons their histograms"
    );
    for p in [&page, &replay_page] {
        let html = std::fs::read_to_string(p).unwrap();
        assert!(!html.contains("<script"), "{}: no script", p.display());
        if let Err(why) = chromium_runs() {
            eprintln!("SKIPPED the Chromium part: {why}");
            return;
        }
        let dom = dump_dom(p, &dir.path().join("chromium"));
        check_page(&dom, &want);
    }
}

#[test]
fn hostile_names_stay_text_in_the_rendered_page() {
    let dir = tempfile::tempdir().unwrap();
    let evil = r#"\"><img src=x onerror=alert(1)><script>alert(2)</script>"#;
    let lines = format!(
        "{{\"EventID\":3,\"UtcTime\":\"2026-11-22 11:21:40.608\",\"DestinationHostname\":\"{evil}\",\"TlsSni\":\"{evil}\",\"Ja4\":\"{evil}\",\
          \"Alerts\":[{{\"RuleId\":\"{evil}\",\"RuleTitle\":\"{evil}\",\"RuleLevel\":\"high\",\"RuleTags\":[\"attack.t1071.001\"]}}]}}\n\
         {{\"EventID\":110,\"DestinationHostname\":\"{evil}\",\"Score\":0.95,\"Reason\":\"{evil}\"}}\n"
    );
    let events = dir.path().join("evil.jsonl");
    std::fs::write(&events, lines).unwrap();
    let page = dir.path().join("evil.html");
    let out = run(c2tap().arg("report").arg(&events).arg("-o").arg(&page));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    if let Err(why) = chromium_runs() {
        eprintln!("SKIPPED the Chromium part: {why}");
        return;
    }
    let dom = dump_dom(&page, &dir.path().join("chromium"));
    assert!(!dom.contains("<img") && !dom.contains("<script"), "{dom}");
    let name = evil.replace("\\\"", "\"");
    assert_eq!(
        rows(&dom, "top-hostnames"),
        [[name.clone(), "1".to_string()]]
    );
    assert_eq!(rows(&dom, "beacon-rows")[0][1], name);
}

#[test]
fn malformed_lines_are_counted_and_the_page_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("mixed.jsonl");
    std::fs::write(
        &events,
        "{\"EventID\":22,\"QueryName\":\"a.test\"}\nnot json\n{\"EventID\":22,\"QueryName\":\"a.test\"}\n[1]\n",
    )
    .unwrap();
    let page = dir.path().join("mixed.html");
    let out = run(c2tap().arg("report").arg(&events).arg("-o").arg(&page));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2:") && stderr.contains("line 4:"),
        "{stderr}"
    );
    assert!(stderr.contains("2 of 4 lines were malformed"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<table id=\"malformed\">"), "{html}");
    assert!(
        html.contains("4 lines read from 1 input(s), 2 malformed"),
        "{html}"
    );
    assert!(
        html.contains("<td>a.test</td><td class=\"n\">2</td>"),
        "{html}"
    );
}

#[test]
fn bad_usage_exits_2_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, "{\"EventID\":22}\n").unwrap();
    let out = run(c2tap()
        .arg("report")
        .arg(dir.path().join("nosuch.jsonl"))
        .arg("-o")
        .arg(dir.path().join("r.html")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch.jsonl"));
    let out = run(c2tap()
        .arg("report")
        .arg(&events)
        .arg("-o")
        .arg(dir.path().join("nodir/r.html")));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = run(c2tap()
        .args(["replay", "--report"])
        .arg(dir.path().join("nodir/r.html"))
        .arg(repo().join("pcaps/dns-tcp.pcap")));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing replayed");
}
