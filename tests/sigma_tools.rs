//! `rules check`, `rules test`: exit statuses, output shape, errors with line numbers;
//! and random input never panics the loader or the condition parser.

use std::io::Cursor;
use std::path::PathBuf;

use c2tap::detect::sigma;
use c2tap::detect::tools::{self, ExitStatus, ToolError};
use proptest::prelude::*;

fn write_rules(dir: &std::path::Path) -> PathBuf {
    let good = "title: Good\nid: 11111111-1111-4111-8111-111111111111\nlevel: high\ntags: [attack.t1071.001]\n\
                logsource: {category: proxy}\ndetection: {s: {cs-host|endswith: .bad.example}, condition: s}\n";
    let bad = "title: Bad\nlogsource: {category: proxy}\ndetection: {s: {cs-host|nope: x}, condition: s}\n";
    let sub = dir.join("rules");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("good.yml"), good).unwrap();
    std::fs::write(sub.join("bad.yaml"), bad).unwrap();
    std::fs::write(sub.join("notes.txt"), "not a rule").unwrap();
    sub
}

#[test]
fn check_reports_failures_with_path_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path());
    let mut out = Vec::new();
    let st = tools::check(std::slice::from_ref(&rules), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(st, ExitStatus::Failure);
    assert_eq!(st.code(), 1);
    assert!(
        text.contains("bad.yaml: selection 's': unknown modifier 'nope'"),
        "{text}"
    );
    assert!(text.contains("full") && text.contains("Good"), "{text}");
    assert!(text.contains("1 rules loaded, 1 failed: 1 full"), "{text}");
    // The built-in set checks clean.
    let mut out = Vec::new();
    assert_eq!(tools::check(&[], &mut out).unwrap(), ExitStatus::Success);
}

#[test]
fn test_tool_echoes_events_in_order_with_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path()).join("good.yml");
    let input =
        "{\"cs-host\":\"x.bad.example\",\"c-uri\":\"/\"}\n\n{\"cs-host\":\"good.example\"}\n{}\n";
    let mut out = Vec::new();
    let st = tools::test(
        std::slice::from_ref(&rules),
        &mut Cursor::new(input),
        &mut out,
    )
    .unwrap();
    assert_eq!(st, ExitStatus::Success);
    let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert!(
        lines[0].starts_with("{\"cs-host\":\"x.bad.example\",\"c-uri\":\"/\","),
        "{}",
        lines[0]
    );
    assert_eq!(
        first["RuleName"],
        "technique_id=T1071.001,technique_name=Web Protocols"
    );
    assert_eq!(first["Alerts"][0]["RuleTitle"], "Good");
    assert_eq!(
        first["Alerts"][0]["RuleId"],
        "11111111-1111-4111-8111-111111111111"
    );
    assert_eq!(first["Alerts"][0]["RuleTags"][0], "attack.t1071.001");
    assert_eq!(lines[1], "{\"cs-host\":\"good.example\"}");
    assert_eq!(lines[2], "{}");

    let mut out = Vec::new();
    let err = tools::test(
        &[rules],
        &mut Cursor::new("{\"a\":1}\nnot json\n"),
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(err, ToolError::Input { line: 2, .. }), "{err}");
    assert!(err.to_string().starts_with("line 2: not JSON"), "{err}");
    assert_eq!(std::str::from_utf8(&out).unwrap().lines().count(), 1);
}

#[test]
fn test_tool_refuses_rules_that_fail_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path());
    let err = tools::test(&[rules], &mut Cursor::new("{}\n"), &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("bad.yaml"), "{err}");
}

#[test]
fn coverage_of_the_builtin_set() {
    let mut out = Vec::new();
    tools::coverage(&[], Some("T1071.001"), tools::Format::Text, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        // The three DNS tunnel rules and the NXDOMAIN one carry attack.t1071.004 instead.
        text.starts_with("Coverage of T1071.001: 24 of 28 loaded rules (24 full)"),
        "{text}"
    );
    assert!(text.contains("builtin (24)"), "{text}");
    let mut out = Vec::new();
    tools::coverage(&[], Some("T1219"), tools::Format::Json, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["rules_matched"], 6); // Quick Assist and dev tunnels, three kinds each
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_yaml_never_panics(text in "\\PC{0,300}") {
        let _ = sigma::load_str(&text, "fuzz", "fuzz");
    }

    #[test]
    fn random_rule_bodies_never_panic(
        field in "[a-zA-Z|.-]{0,20}",
        value in "[ -~]{0,20}",
        cond in "[a-z_* ()|0-9]{0,40}",
    ) {
        let text = format!(
            "title: t\nlogsource: {{category: proxy}}\ndetection:\n  sel_a:\n    '{}': '{}'\n  condition: '{}'\n",
            field.replace('\'', "''"), value.replace('\'', "''"), cond
        );
        let set = sigma::load_str(&text, "fuzz", "fuzz");
        let engine = c2tap::detect::Engine::new(&set.rules);
        let ev = serde_json::json!({"EventID": 100, "c-uri": value, "cs-host": "h"});
        let mut out = Vec::new();
        engine.evaluate(&c2tap::detect::JsonEvent::from_map(ev.as_object().unwrap()), &mut out);
    }

    #[test]
    fn wildcards_agree_with_a_regex(pat in "[ab*?]{0,8}", hay in "[ab]{0,10}") {
        let text = format!(
            "title: t\nlogsource: {{category: proxy}}\ndetection:\n  s:\n    c-uri: '{pat}'\n  condition: s\n"
        );
        let set = sigma::load_str(&text, "p", "p");
        let engine = c2tap::detect::Engine::new(&set.rules);
        let ev = serde_json::json!({"EventID": 100, "c-uri": hay});
        let mut out = Vec::new();
        engine.evaluate(&c2tap::detect::JsonEvent::from_map(ev.as_object().unwrap()), &mut out);
        let re = format!("^(?s){}$", pat.replace('?', ".").replace('*', ".*"));
        let want = regex::Regex::new(&re).unwrap().is_match(&hay);
        prop_assert_eq!(!out.is_empty(), want, "pattern {} on {}", pat, hay);
    }

    #[test]
    fn literal_scans_find_every_overlapping_pattern(
        pats in proptest::collection::vec("[ab]{1,3}", 1..4),
        hay in "[ab]{0,12}",
        modifier in prop_oneof![Just("contains"), Just("startswith"), Just("endswith")],
    ) {
        let list: String = pats.iter().map(|p| format!("      - '{p}'\n")).collect();
        let text = format!(
            "title: t\nlogsource: {{category: proxy}}\ndetection:\n  s:\n    c-uri|{modifier}|all:\n{list}  condition: s\n"
        );
        let set = sigma::load_str(&text, "p", "p");
        prop_assert!(set.failures.is_empty(), "{:?}", set.failures);
        let engine = c2tap::detect::Engine::new(&set.rules);
        let ev = serde_json::json!({"EventID": 100, "c-uri": hay});
        let mut out = Vec::new();
        engine.evaluate(&c2tap::detect::JsonEvent::from_map(ev.as_object().unwrap()), &mut out);
        let want = pats.iter().all(|p| match modifier {
            "contains" => hay.contains(p.as_str()),
            "startswith" => hay.starts_with(p.as_str()),
            _ => hay.ends_with(p.as_str()),
        });
        prop_assert_eq!(!out.is_empty(), want, "{} {:?} on {}", modifier, pats, hay);
    }
}
