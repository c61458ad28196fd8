//! Aggregation: counts by rule, level and technique; malformed lines; caps.

use super::*;

fn feed(a: &mut Aggregator, s: &str) {
    assert_eq!(a.feed(s.as_bytes()), None, "{s}");
}

#[test]
fn counts_alerts_by_rule_level_and_technique() {
    let mut a = Aggregator::default();
    let alert = |id: &str, level: &str| {
        format!(
            r#"{{"RuleId":"{id}","RuleTitle":"t-{id}","RuleLevel":"{level}","RuleTags":["attack.command-and-control","attack.t1071.001"]}}"#
        )
    };
    feed(
        &mut a,
        &format!(
            r#"{{"EventID":22,"UtcTime":"2026-11-22 11:21:40.608","QueryName":"x.test","Alerts":[{},{}]}}"#,
            alert("r1", "high"),
            alert("r2", "medium")
        ),
    );
    feed(
        &mut a,
        &format!(
            r#"{{"EventID":3,"UtcTime":"2026-11-22 11:21:41.608","DestinationHostname":"x.test","TlsSni":"x.test","Ja4":"t13d","AppProtocol":"tls","Alerts":[{}]}}"#,
            alert("r1", "high")
        ),
    );
    assert_eq!(a.rules.get("r1").map(|e| e.count), Some(2));
    assert_eq!(a.alert_matches(), 3);
    assert_eq!(a.alert_events, 2);
    assert_eq!(
        a.levels_ordered(),
        [("high".to_string(), 2), ("medium".to_string(), 1)]
    );
    assert_eq!(a.techniques.get("T1071.001").map(|e| e.count), Some(3));
    assert_eq!(a.hostnames.get("x.test").map(|e| e.count), Some(1));
    assert_eq!(a.queries.get("x.test").map(|e| e.count), Some(1));
    let ja4 = a.ja4.get("t13d").unwrap();
    assert_eq!(
        (ja4.count, ja4.extra.snis.as_slice()),
        (1, ["x.test".to_string()].as_slice())
    );
    let total: u64 = a.timeline.bins().map(|(_, c)| c.iter().sum::<u64>()).sum();
    assert_eq!(total, 2);
}

#[test]
fn malformed_lines_are_counted_not_fatal() {
    let mut a = Aggregator::default();
    a.begin_input("f.jsonl");
    assert!(a.feed(b"not json").is_some());
    feed(&mut a, r#"{"EventID":22,"QueryName":"ok.test"}"#);
    assert!(a.feed(b"{\"EventID\":").is_some());
    assert_eq!(a.feed(b"   "), None);
    assert_eq!((a.lines, a.malformed), (3, 2));
    assert_eq!(a.malformed_samples[1].line, 3);
    assert_eq!(a.inputs[0].malformed, 2);
    assert_eq!(a.queries.total(), 1);
}

#[test]
fn candidate_rows_keep_the_highest_scores() {
    let caps = Caps {
        candidates: 3,
        ..Caps::default()
    };
    let mut a = Aggregator::new(caps);
    for i in 0..10 {
        feed(
            &mut a,
            &format!(r#"{{"EventID":110,"Score":0.{i}5,"DestinationHostname":"b{i}.test"}}"#),
        );
    }
    let rows: Vec<&str> = a
        .beacons
        .sorted()
        .iter()
        .map(|c| c.server.as_str())
        .collect();
    assert_eq!(rows, ["b9.test", "b8.test", "b7.test"]);
    assert_eq!((a.beacons.seen, a.beacons.dropped), (10, 7));
}

#[test]
fn technique_ids_from_tags() {
    assert_eq!(
        technique_of("attack.t1071.001").as_deref(),
        Some("T1071.001")
    );
    assert_eq!(technique_of("attack.T1572").as_deref(), Some("T1572"));
    assert_eq!(technique_of("attack.command-and-control"), None);
    assert_eq!(technique_of("attack.t10x1"), None);
    assert_eq!(technique_of("cve.2021-1"), None);
}

#[test]
fn mappings_are_read_once_per_rule() {
    let mut a = Aggregator::default();
    let line = r#"{"EventID":3,"Alerts":[{"RuleId":"r","RuleLevel":"low","RuleTags":["attack.t1071.001"],
        "Mappings":{"T1071.001":{"veris":["action.malware.variety.C2"],"aws":[{"capability":"Amazon GuardDuty","category":"detect","value":"partial"}]}}}]}"#;
    let line = line.replace('\n', "");
    feed(&mut a, &line);
    feed(&mut a, &line.replace("variety.C2", "variety.Other"));
    let m = a.techniques.get("T1071.001").unwrap();
    assert_eq!(m.count, 2);
    let set = m.extra.mappings.as_ref().unwrap();
    assert_eq!(
        set.veris,
        [line::MappingItem::Name("action.malware.variety.C2".into())]
    );
    assert_eq!(set.aws.len(), 1);
}
