//! The built-in rule set (`rules/`): it loads, is well-formed, and each rule's own
//! matching events and near misses give the expected verdicts.

use c2tap::detect::sigma::{self, classify};
use c2tap::detect::{Engine, JsonEvent};

#[test]
fn builtin_rules_load_and_are_complete() {
    let set = sigma::builtin();
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    assert!(set.rules.len() >= 15, "{}", set.rules.len());
    let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), set.rules.len(), "rule ids must be unique");
    for r in &set.rules {
        let who = &r.origin;
        assert_eq!(r.id.len(), 36, "{who}: id must be a UUID");
        assert!(
            !r.description.is_empty() && !r.references.is_empty() && !r.falsepositives.is_empty(),
            "{who}"
        );
        assert!(
            ["low", "medium", "high", "critical"].contains(&r.level.as_str()),
            "{who}"
        );
        assert!(
            r.tags.iter().any(|t| t == "attack.command-and-control"),
            "{who}"
        );
        // Web protocols, or (DNS tunnels, DGA) their DNS sibling.
        assert!(
            r.tags
                .iter()
                .any(|t| t == "attack.t1071.001" || t == "attack.t1071.004"),
            "{who}"
        );
        assert_eq!(
            classify::classify(r),
            classify::Observability::Full,
            "{who}"
        );
        assert!(r.kind().is_some(), "{who}");
        assert!(
            !r.tests.matching.is_empty() && !r.tests.near_misses.is_empty(),
            "{who}: needs tests"
        );
    }
}

#[test]
fn builtin_rules_match_their_events_and_not_their_near_misses() {
    let set = sigma::builtin();
    let engine = Engine::new(&set.rules);
    assert_eq!(engine.stats().active, set.rules.len());
    for r in &set.rules {
        let fired = |ev: &serde_json::Map<String, serde_json::Value>| {
            let mut out = Vec::new();
            engine.evaluate(&JsonEvent::from_map(ev), &mut out);
            out.iter().any(|a| *a.rule_id == r.id)
        };
        for ev in &r.tests.matching {
            assert!(fired(ev), "{} ({}) must match {ev:?}", r.title, r.origin);
        }
        for ev in &r.tests.near_misses {
            assert!(
                !fired(ev),
                "{} ({}) must not match {ev:?}",
                r.title,
                r.origin
            );
        }
    }
}

#[test]
fn tunnel_names_are_covered_on_every_event_kind() {
    let engine = Engine::new(&sigma::builtin().rules);
    let titles = |ev: &str| {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(ev).unwrap();
        let mut out = Vec::new();
        engine.evaluate(&JsonEvent::from_map(&map), &mut out);
        out.iter()
            .map(|a| a.rule_title.to_string())
            .collect::<Vec<_>>()
    };
    for name in [
        "region2.v2.argotunnel.com",
        "x.trycloudflare.com",
        "a-1.usw2.devtunnels.ms",
        "remoteassistance.support.services.microsoft.com",
    ] {
        assert!(
            !titles(&format!(r#"{{"EventID":22,"QueryName":"{name}"}}"#)).is_empty(),
            "dns {name}"
        );
        assert!(
            !titles(&format!(r#"{{"EventID":3,"TlsSni":"{name}"}}"#)).is_empty(),
            "sni {name}"
        );
        assert!(
            !titles(&format!(r#"{{"EventID":100,"cs-host":"{name}"}}"#)).is_empty(),
            "host {name}"
        );
        // Zeek and ECS namings reach the same rules.
        assert!(
            !titles(&format!(r#"{{"query":"{name}"}}"#)).is_empty(),
            "zeek {name}"
        );
        assert!(
            !titles(&format!(r#"{{"dns":{{"question":{{"name":"{name}"}}}}}}"#)).is_empty(),
            "ecs {name}"
        );
    }
    for miss in [
        "argotunnel.com.example.net",
        "trycloudflare.com.example.net",
        "example.com",
    ] {
        assert!(
            titles(&format!(r#"{{"EventID":22,"QueryName":"{miss}"}}"#)).is_empty(),
            "{miss}"
        );
    }
    assert_eq!(
        titles(r#"{"EventID":3,"DestinationPort":7844}"#),
        ["Connection To Cloudflare Tunnel Edge Port 7844"]
    );
}

/// The built-in correlations: complete metadata, and each fires on its own `match`
/// streams and never on its `no_match` streams (each stream on a fresh engine, so no
/// state carries over between them).
#[test]
fn builtin_correlations_fire_on_their_streams_and_not_on_near_misses() {
    use c2tap::detect::tools::{Stream, TEST_OPTIONS};
    let set = sigma::builtin();
    assert!(set.correlations.len() >= 4, "{}", set.correlations.len());
    let fires = |id: &str, stream: &[serde_json::Map<String, serde_json::Value>]| {
        let (engine, failures) = Engine::build(&set.rules, &set.correlations, TEST_OPTIONS);
        assert!(failures.is_empty(), "{failures:?}");
        let mut s = Stream::new(&engine);
        let mut fired = false;
        for ev in stream {
            for c in s.push(ev).correlations {
                fired |= c["CorrelationId"] == id;
            }
        }
        fired
    };
    for c in &set.correlations {
        let who = &c.origin;
        assert_eq!(c.id.len(), 36, "{who}: id must be a UUID");
        assert!(
            !c.description.is_empty() && !c.references.is_empty(),
            "{who}"
        );
        assert!(!c.falsepositives.is_empty(), "{who}");
        assert!(
            c.tags.iter().any(|t| t == "attack.command-and-control"),
            "{who}"
        );
        let (engine, _) = Engine::build(&set.rules, &set.correlations, Default::default());
        let compiled = engine
            .correlations()
            .corrs
            .iter()
            .find(|k| *k.alert.rule_id == c.id)
            .unwrap_or_else(|| panic!("{who} did not compile"));
        if !compiled.standalone {
            // An input of another correlation: tested through that one.
            continue;
        }
        assert!(
            !c.tests.matching.is_empty() && !c.tests.near_misses.is_empty(),
            "{who}: needs streams that match and near misses"
        );
        for stream in &c.tests.matching {
            assert!(fires(&c.id, stream), "{} must fire on {stream:?}", c.title);
        }
        for stream in &c.tests.near_misses {
            assert!(
                !fires(&c.id, stream),
                "{} must not fire on {stream:?}",
                c.title
            );
        }
    }
}

/// `generate: false` silences the NXDOMAIN rule on its own, and only it: every other
/// built-in rule still alerts on its own test events with the correlations loaded.
#[test]
fn feed_only_rules_are_silent_and_the_others_alert() {
    let set = sigma::builtin();
    let (engine, failures) = Engine::build(&set.rules, &set.correlations, Default::default());
    assert!(failures.is_empty(), "{failures:?}");
    for r in &set.rules {
        let fired = r.tests.matching.iter().any(|ev| {
            let mut out = Vec::new();
            engine.evaluate(&JsonEvent::from_map(ev), &mut out);
            out.iter().any(|a| *a.rule_id == r.id)
        });
        let feed_only = r.name == "c2tap_nxdomain_answer";
        assert_eq!(fired, !feed_only, "{} ({})", r.title, r.origin);
    }
}
