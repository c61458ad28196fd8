//! Sigma correlation rules over hand-written event streams: every type, window edges,
//! out-of-order and late input, group-by with absent fields, caps, `generate`,
//! references, aliases and chains (correlation specification v2.1).

use c2tap::detect::correlate::compile::MAX_GROUPS;
use c2tap::detect::sigma;
use c2tap::detect::tools::{Stream, TEST_OPTIONS};
use c2tap::detect::{Engine, EngineOptions};
use c2tap::time::Timestamp;
use serde_json::{Map, Value, json};

const BASE: &str = "
title: Tunnel lookup
id: 00000000-0000-4000-8000-000000000001
name: tunnel_lookup
logsource:
    category: dns_query
detection:
    selection:
        QueryName|endswith: '.tunnel.test'
    condition: selection
---
title: Tunnel connection
id: 00000000-0000-4000-8000-000000000002
name: tunnel_connect
logsource:
    category: network_connection
detection:
    selection:
        DestinationHostname|endswith: '.tunnel.test'
    condition: selection
";

fn engine(yaml: &str) -> Engine {
    let text = format!("{BASE}---\n{yaml}");
    let set = sigma::load_str(&text, "test.yml", "test");
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    let (e, failures) = Engine::build(&set.rules, &set.correlations, TEST_OPTIONS);
    assert!(failures.is_empty(), "{failures:?}");
    e
}

/// Seconds after 2026-11-22 10:00:00 as a Sysmon UtcTime.
fn at(secs: f64) -> String {
    Timestamp(1_795_341_600_000_000_000 + (secs * 1e9) as i64)
        .sysmon()
        .to_string()
}

fn dns(secs: f64, client: &str, name: &str) -> Value {
    json!({"EventID": 22, "UtcTime": at(secs), "SourceIp": client, "DestinationIp": "10.0.0.53",
           "QueryName": name, "QueryStatus": "0"})
}

fn conn(secs: f64, client: &str, server: &str, host: &str) -> Value {
    json!({"EventID": 3, "UtcTime": at(secs), "SourceIp": client, "DestinationIp": server,
           "DestinationHostname": host, "DestinationPort": 443})
}

/// Runs the events (on a fresh engine where state must not carry over: the tables of
/// shared correlations are the engine's); returns (index of the completing event, Correlation line).
fn run(e: &Engine, events: &[Value]) -> Vec<(usize, Map<String, Value>)> {
    let mut s = Stream::new(e);
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let step = s.push(ev.as_object().unwrap());
        out.extend(step.correlations.into_iter().map(|c| (i, c)));
    }
    out
}

fn count_rule(cond: &str, span: &str) -> String {
    format!(
        "title: Lookups
id: 00000000-0000-4000-8000-0000000000c1
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [SourceIp]
    timespan: {span}
    condition: {cond}
level: high
"
    )
}

#[test]
fn event_count_fires_at_the_threshold_and_starts_over() {
    let e = engine(&count_rule("{gte: 3}", "10m"));
    let evs: Vec<Value> = (0..7)
        .map(|i| dns(f64::from(i), "10.0.0.5", &format!("a{i}.tunnel.test")))
        .collect();
    let fired = run(&e, &evs);
    // At the 3rd and the 6th: the group starts over after firing.
    assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), vec![2, 5]);
    let c = &fired[0].1;
    assert_eq!(c["EventID"], 120);
    assert_eq!(c["EventType"], "Correlation");
    assert_eq!(c["CorrelationType"], "event_count");
    assert_eq!(c["GroupBy"], "SourceIp=10.0.0.5");
    assert_eq!(c["Value"], 3);
    assert_eq!(c["Events"], 3);
    assert_eq!(c["Timespan"], 600);
    assert_eq!(c["FirstSeen"], at(0.0));
    assert_eq!(c["LastSeen"], at(2.0));
    assert_eq!(c["UtcTime"], at(2.0));
    assert_eq!(c["SourceIp"], "10.0.0.5");
    assert_eq!(
        c["ContributingRules"],
        "00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(
        c["Alerts"][0]["RuleId"],
        "00000000-0000-4000-8000-0000000000c1"
    );
    assert_eq!(c["Alerts"][0]["RuleLevel"], "high");
    // Other clients and other names do not count.
    let fired = run(
        &engine(&count_rule("{gte: 3}", "10m")),
        &[
            dns(0.0, "10.0.0.5", "a.tunnel.test"),
            dns(1.0, "10.0.0.6", "b.tunnel.test"),
            dns(2.0, "10.0.0.5", "www.example.com"),
            dns(3.0, "10.0.0.7", "c.tunnel.test"),
        ],
    );
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn window_edges_are_inclusive() {
    let e = engine(&count_rule("{gte: 2}", "10m"));
    let exact = run(
        &e,
        &[
            dns(0.0, "10.0.0.5", "a.tunnel.test"),
            dns(600.0, "10.0.0.5", "b.tunnel.test"),
        ],
    );
    assert_eq!(
        exact.len(),
        1,
        "two events exactly one timespan apart are in one window"
    );
    let past = run(
        &engine(&count_rule("{gte: 2}", "10m")),
        &[
            dns(0.0, "10.0.0.5", "a.tunnel.test"),
            dns(600.001, "10.0.0.5", "b.tunnel.test"),
        ],
    );
    assert!(past.is_empty(), "{past:?}");
}

#[test]
fn out_of_order_input_counts_and_late_input_is_dropped() {
    let e = engine(&count_rule("{gte: 3}", "1m"));
    // Completion order differs from time order by a few seconds: counted.
    let fired = run(
        &e,
        &[
            dns(10.0, "10.0.0.5", "a.tunnel.test"),
            dns(5.0, "10.0.0.5", "b.tunnel.test"),
            dns(12.0, "10.0.0.5", "c.tunnel.test"),
        ],
    );
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1["FirstSeen"], at(5.0));
    // An event older than its group's window is late: not counted.
    let e = engine(&count_rule("{gte: 3}", "1m"));
    let mut s = Stream::new(&e);
    for ev in [
        dns(100.0, "10.0.0.5", "a.tunnel.test"),
        dns(30.0, "10.0.0.5", "b.tunnel.test"),
        dns(101.0, "10.0.0.5", "c.tunnel.test"),
    ] {
        assert!(s.push(ev.as_object().unwrap()).correlations.is_empty());
    }
    assert_eq!(s.correlator().counts().dropped, 1);
}

#[test]
fn ranges_and_upper_bounds() {
    // gt 1 and lte 2: fires when the count is 2 (not 1, and the reset keeps it from 3).
    let e = engine(&count_rule("{gt: 1, lte: 2}", "10m"));
    let evs: Vec<Value> = (0..3)
        .map(|i| dns(f64::from(i), "10.0.0.5", "a.tunnel.test"))
        .collect();
    assert_eq!(
        run(&e, &evs).iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![1]
    );
    // neq 1: any count but one.
    let e = engine(&count_rule("{neq: 1}", "10m"));
    let evs: Vec<Value> = (0..3)
        .map(|i| dns(f64::from(i), "10.0.0.6", "a.tunnel.test"))
        .collect();
    assert_eq!(
        run(&e, &evs).iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn group_by_with_an_absent_field_does_not_count() {
    let e = engine(&count_rule("{gte: 2}", "10m"));
    let mut s = Stream::new(&e);
    let no_client = json!({"EventID": 22, "UtcTime": at(0.0), "QueryName": "a.tunnel.test"});
    for ev in [no_client.clone(), no_client] {
        assert!(s.push(ev.as_object().unwrap()).correlations.is_empty());
    }
    assert_eq!(s.correlator().counts().ungrouped, 2);
    // Without group-by every event is one group.
    let e = engine(
        "title: All
correlation:
    type: event_count
    rules: [tunnel_lookup]
    timespan: 1m
    condition: {gte: 2}
",
    );
    let fired = run(
        &e,
        &[
            dns(0.0, "10.0.0.5", "a.tunnel.test"),
            dns(1.0, "10.0.0.6", "b.tunnel.test"),
        ],
    );
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1["GroupBy"], "");
}

#[test]
fn groups_are_capped_least_recently_seen_first() {
    let e = engine(&count_rule("{gte: 2}", "1h"));
    let mut s = Stream::new(&e);
    let first = dns(0.0, "10.200.0.1", "a.tunnel.test");
    s.push(first.as_object().unwrap());
    for i in 0..MAX_GROUPS {
        let ip = format!("10.{}.{}.{}", 1 + i / 65_536, (i / 256) % 256, i % 256);
        s.push(dns(1.0, &ip, "a.tunnel.test").as_object().unwrap());
    }
    assert_eq!(s.correlator().counts().evicted, 1);
    // The first client's group was the one evicted: its second lookup starts over.
    let again = s.push(dns(2.0, "10.200.0.1", "b.tunnel.test").as_object().unwrap());
    assert!(again.correlations.is_empty());
    // A recent group survived: its second lookup fires.
    let recent = s.push(dns(3.0, "10.1.0.5", "b.tunnel.test").as_object().unwrap());
    assert_eq!(recent.correlations.len(), 1);
}

const VC: &str = "title: Distinct tunnel names
correlation:
    type: value_count
    rules: [tunnel_lookup]
    group-by: [SourceIp]
    timespan: 10m
    condition:
        field: QueryName
        gte: 3
";

#[test]
fn value_count_counts_distinct_values() {
    let e = engine(VC);
    let same: Vec<Value> = (0..5)
        .map(|i| dns(f64::from(i), "10.0.0.5", "a.tunnel.test"))
        .collect();
    assert!(
        run(&e, &same).is_empty(),
        "one name five times is one value"
    );
    let fired = run(
        &engine(VC),
        &[
            dns(0.0, "10.0.0.5", "a.tunnel.test"),
            dns(1.0, "10.0.0.5", "a.tunnel.test"),
            dns(2.0, "10.0.0.5", "b.tunnel.test"),
            dns(3.0, "10.0.0.5", "c.tunnel.test"),
        ],
    );
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].0, 3);
    assert_eq!(fired[0].1["Value"], 3);
}

fn temporal(kind: &str) -> Engine {
    engine(&format!(
        "title: Lookup and connection
correlation:
    type: {kind}
    rules: [tunnel_lookup, tunnel_connect]
    group-by: [SourceIp]
    timespan: 5m
"
    ))
}

#[test]
fn temporal_in_any_order_within_the_timespan() {
    let forward = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        conn(10.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
    ];
    let backward = [
        conn(0.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
        dns(10.0, "10.0.0.5", "x.tunnel.test"),
    ];
    assert_eq!(run(&temporal("temporal"), &forward).len(), 1);
    assert_eq!(run(&temporal("temporal"), &backward).len(), 1);
    let fired = run(&temporal("temporal"), &forward);
    assert_eq!(fired[0].1["Value"], 2);
    assert_eq!(
        fired[0].1["ContributingRules"],
        "00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000002"
    );
    // Too far apart, other clients, or one rule twice: no.
    let far = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        conn(301.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
    ];
    let others = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        conn(1.0, "10.0.0.6", "192.0.2.7", "x.tunnel.test"),
    ];
    let twice = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        dns(1.0, "10.0.0.5", "y.tunnel.test"),
    ];
    assert!(run(&temporal("temporal"), &far).is_empty());
    assert!(run(&temporal("temporal"), &others).is_empty());
    assert!(run(&temporal("temporal"), &twice).is_empty());
}

#[test]
fn temporal_ordered_needs_the_order() {
    let forward = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        conn(10.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
    ];
    let backward = [
        conn(0.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
        dns(10.0, "10.0.0.5", "x.tunnel.test"),
    ];
    assert_eq!(run(&temporal("temporal_ordered"), &forward).len(), 1);
    assert!(run(&temporal("temporal_ordered"), &backward).is_empty());
    // Received out of order but in order by time: the order is the events' times.
    // The lookup that arrives after its connection still completes the match.
    let late_lookup = [
        conn(10.0, "10.0.0.5", "192.0.2.7", "x.tunnel.test"),
        dns(5.0, "10.0.0.5", "x.tunnel.test"),
    ];
    let fired = run(&temporal("temporal_ordered"), &late_lookup);
    assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1]);
    assert_eq!(fired[0].1["FirstSeen"], at(5.0));
    assert_eq!(fired[0].1["LastSeen"], at(10.0));
}

fn metric(kind: &str, cond: &str) -> Engine {
    engine(&format!(
        "title: Bytes
correlation:
    type: {kind}
    rules: [tunnel_connect]
    group-by: [SourceIp]
    timespan: 1h
    condition: {cond}
"
    ))
}

fn sized(secs: f64, bytes: u64) -> Value {
    let mut v = conn(secs, "10.0.0.5", "192.0.2.7", "x.tunnel.test");
    v["SourceBytes"] = json!(bytes);
    v
}

#[test]
fn value_sum_avg_and_percentile() {
    let evs = [sized(0.0, 100), sized(1.0, 300), sized(2.0, 800)];
    let sum = run(
        &metric("value_sum", "{field: SourceBytes, gte: 1000}"),
        &evs,
    );
    assert_eq!(sum.iter().map(|f| f.0).collect::<Vec<_>>(), vec![2]);
    assert_eq!(sum[0].1["Value"], 1200);
    let avg = run(&metric("value_avg", "{field: SourceBytes, gt: 350}"), &evs);
    assert_eq!(avg.len(), 1);
    assert_eq!(avg[0].1["Value"], 400);
    // The 50th percentile (nearest rank) of 100 and 300 is 100; of 100, 300, 800, 300.
    let p50 = run(
        &metric(
            "value_percentile",
            "{field: SourceBytes, percentile: 50, gte: 300}",
        ),
        &evs,
    );
    assert_eq!(p50.iter().map(|f| f.0).collect::<Vec<_>>(), vec![2]);
    assert_eq!(p50[0].1["Value"], 300);
    // A value that is not a number is not counted.
    let mut bad = sized(0.0, 0);
    bad["SourceBytes"] = json!("lots");
    assert!(run(&metric("value_sum", "{field: SourceBytes, gte: 1}"), &[bad]).is_empty());
}

#[test]
fn generate_decides_whether_the_referred_rules_alert_alone() {
    let yaml = |generate: &str| {
        format!(
            "title: Lookups
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [SourceIp]
    timespan: 10m
    condition: {{gte: 2}}
{generate}"
        )
    };
    let ev = dns(0.0, "10.0.0.5", "a.tunnel.test");
    let alone = |e: &Engine| {
        let mut s = Stream::new(e);
        s.push(ev.as_object().unwrap()).alerts.len()
    };
    assert_eq!(alone(&engine(&yaml(""))), 0, "generate defaults to false");
    assert_eq!(alone(&engine(&yaml("generate: true\n"))), 1);
    assert_eq!(alone(&engine(&yaml("generate: false\n"))), 0);
}

#[test]
fn correlations_over_correlations() {
    // The specification's example shape: many lookups (not alerting alone), then a
    // connection, in order, by the same client.
    let e = engine(
        "title: Many lookups then a connection
id: 00000000-0000-4000-8000-0000000000c3
correlation:
    type: temporal_ordered
    rules: [many_lookups, tunnel_connect]
    group-by: [SourceIp]
    timespan: 10m
level: critical
---
title: Many lookups
id: 00000000-0000-4000-8000-0000000000c2
name: many_lookups
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [SourceIp]
    timespan: 10m
    condition: {gte: 3}
",
    );
    let mut evs: Vec<Value> = (0..3)
        .map(|i| dns(f64::from(i), "10.0.0.5", &format!("a{i}.tunnel.test")))
        .collect();
    evs.push(conn(20.0, "10.0.0.5", "192.0.2.7", "a0.tunnel.test"));
    let fired = run(&e, &evs);
    // The inner correlation feeds the outer only: one Correlation event, the outer's.
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].0, 3);
    assert_eq!(
        fired[0].1["CorrelationId"],
        "00000000-0000-4000-8000-0000000000c3"
    );
    assert_eq!(
        fired[0].1["ContributingRules"],
        "00000000-0000-4000-8000-0000000000c2,00000000-0000-4000-8000-000000000002"
    );
    // The connection alone, or before the lookups: nothing.
    let mut wrong = evs.clone();
    wrong.rotate_right(1);
    for (i, ev) in wrong.iter_mut().enumerate() {
        ev["UtcTime"] = json!(at(100.0 + i as f64));
        ev["SourceIp"] = json!("10.0.0.99");
    }
    assert!(run(&e, &wrong).is_empty());
}

#[test]
fn aliases_join_different_fields() {
    // A lookup by a client, then a connection *from the server it resolved*
    // (nonsense as a detection, but it shows the alias maps a different field per rule).
    let e = engine(
        "title: Alias
correlation:
    type: temporal
    rules: [tunnel_lookup, tunnel_connect]
    group-by: [host]
    timespan: 5m
    aliases:
        host:
            tunnel_lookup: SourceIp
            tunnel_connect: DestinationIp
",
    );
    let joined = [
        dns(0.0, "10.0.0.5", "x.tunnel.test"),
        conn(1.0, "10.9.9.9", "10.0.0.5", "x.tunnel.test"),
    ];
    let fired = run(&e, &joined);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].1["GroupBy"], "host=10.0.0.5");
    let apart = [
        dns(10.0, "10.0.0.8", "x.tunnel.test"),
        conn(11.0, "10.0.0.8", "10.9.9.9", "x.tunnel.test"),
    ];
    assert!(run(&e, &apart).is_empty());
}

#[test]
fn references_by_id_and_failures() {
    let by_id = engine(
        "title: By id
correlation:
    type: event_count
    rules: [00000000-0000-4000-8000-000000000001]
    group-by: [SourceIp]
    timespan: 1m
    condition: {gte: 1}
",
    );
    assert_eq!(
        run(&by_id, &[dns(0.0, "10.0.0.5", "a.tunnel.test")]).len(),
        1
    );
    let load = |yaml: &str| {
        let set = sigma::load_str(&format!("{BASE}---\n{yaml}"), "t.yml", "t");
        assert!(set.failures.is_empty(), "{:?}", set.failures);
        Engine::build(&set.rules, &set.correlations, EngineOptions::default()).1
    };
    let missing = load(
        "title: Missing
correlation:
    type: event_count
    rules: [no_such_rule]
    timespan: 1m
    condition: {gte: 1}
",
    );
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].reason.contains("no_such_rule"),
        "{:?}",
        missing[0]
    );
    let cycle = load(
        "title: A
name: a
correlation:
    type: event_count
    rules: [b]
    timespan: 1m
    condition: {gte: 1}
---
title: B
name: b
correlation:
    type: event_count
    rules: [a]
    timespan: 1m
    condition: {gte: 1}
",
    );
    assert_eq!(cycle.len(), 2, "{cycle:?}");
}

#[test]
fn placement_follows_the_group_by() {
    let e = engine(
        "title: Per client
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [SourceIp]
    timespan: 1m
    condition: {gte: 2}
---
title: Per pair
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [SourceIp, DestinationIp]
    timespan: 1m
    condition: {gte: 2}
---
title: Per pair, Zeek names
correlation:
    type: event_count
    rules: [tunnel_lookup]
    group-by: [id.orig_h, id.resp_h]
    timespan: 1m
    condition: {gte: 2}
",
    );
    let local: Vec<bool> = e.correlations().corrs.iter().map(|c| c.local).collect();
    assert_eq!(local, vec![false, true, true]);
    // Shared state is the engine's: two correlators (two workers) see one window.
    let mut a = e.correlator();
    let mut b = e.correlator();
    let ev = c2tap::detect::JsonEvent::from_map(
        dns(0.0, "10.0.0.5", "a.tunnel.test").as_object().unwrap(),
    );
    let mut fired = Vec::new();
    let t = Timestamp::from_secs(1_795_341_600);
    a.observe(&ev, t, None, &[0], &mut fired);
    b.observe(&ev, t, None, &[0], &mut fired);
    // The shared one fired across the two; the local ones did not.
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].corr, 0);
}
