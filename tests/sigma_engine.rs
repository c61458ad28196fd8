//! Engine semantics: every modifier and condition form, on JSON events and on `Event`s.

use std::net::IpAddr;
use std::sync::Arc;

use c2tap::detect::sigma::{self, classify};
use c2tap::detect::{Engine, JsonEvent};
use c2tap::event::{Body, DnsQuery, Event, Header, HttpRequest, NetworkConnect, Transport};

fn engine(detection: &str, category: &str) -> Engine {
    let text = format!(
        "title: t\nid: 1\nlevel: high\nlogsource:\n  category: {category}\ndetection:\n{detection}"
    );
    let set = sigma::load_str(&text, "test", "test");
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    assert_eq!(set.rules.len(), 1);
    Engine::new(&set.rules)
}

fn fires_on(e: &Engine, event: &str) -> bool {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(event).unwrap();
    let mut out = Vec::new();
    e.evaluate(&JsonEvent::from_map(&map), &mut out);
    !out.is_empty()
}

/// Asserts the verdict of a proxy rule on each event.
fn check(detection: &str, cases: &[(&str, bool)]) {
    let e = engine(detection, "proxy");
    for (ev, want) in cases {
        let ev = format!(
            "{{\"EventID\":100,{}}}",
            ev.trim_start_matches('{').trim_end_matches('}')
        );
        assert_eq!(fires_on(&e, &ev), *want, "rule:\n{detection}\nevent: {ev}");
    }
}

#[test]
fn equality_is_case_insensitive_and_exact() {
    check(
        "  sel:\n    cs-method: POST\n  condition: sel",
        &[
            (r#""cs-method":"post""#, true),
            (r#""cs-method":"POSTX""#, false),
            (r#""cs-host":"x""#, false),
        ],
    );
}

#[test]
fn wildcards_and_escapes() {
    check(
        "  sel:\n    c-uri: '/a*/b?.php'\n  condition: sel",
        &[
            (r#""c-uri":"/abc/b1.php""#, true),
            (r#""c-uri":"/a/bX.PHP""#, true),
            (r#""c-uri":"/a/b.php""#, false),
            (r#""c-uri":"/x/b1.php""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|endswith: '\\?manifest=wac'\n  condition: sel",
        &[
            (r#""c-uri":"/x?manifest=wac""#, true),
            (r#""c-uri":"/xamanifest=wac""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri: 'a\\*b'\n  condition: sel",
        &[(r#""c-uri":"a*b""#, true), (r#""c-uri":"axb""#, false)],
    );
}

#[test]
fn contains_startswith_endswith_all() {
    check(
        "  sel:\n    c-uri|contains: '/api/'\n  condition: sel",
        &[
            (r#""c-uri":"/v1/API/x""#, true),
            (r#""c-uri":"/v1/ap/x""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|startswith: '/x'\n  condition: sel",
        &[(r#""c-uri":"/xyz""#, true), (r#""c-uri":"a/xyz""#, false)],
    );
    check(
        "  sel:\n    c-uri|endswith:\n      - '.exe'\n      - '.dll'\n  condition: sel",
        &[
            (r#""c-uri":"/a.DLL""#, true),
            (r#""c-uri":"/a.exe""#, true),
            (r#""c-uri":"/a.exe?x""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|contains|all:\n      - 'a=1'\n      - 'b=2'\n  condition: sel",
        &[
            (r#""c-uri":"/?b=2&a=1""#, true),
            (r#""c-uri":"/?a=1""#, false),
        ],
    );
}

#[test]
fn lists_or_maps_and_list_of_maps() {
    let d =
        "  sel:\n    - cs-method: GET\n      c-uri: /a\n    - cs-method: POST\n  condition: sel";
    check(
        d,
        &[
            (r#""cs-method":"GET","c-uri":"/a""#, true),
            (r#""cs-method":"GET","c-uri":"/b""#, false),
            (r#""cs-method":"POST","c-uri":"/b""#, true),
        ],
    );
}

#[test]
fn regex_with_flags() {
    check(
        "  sel:\n    c-uri|re: '^/[a-f]{4}$'\n  condition: sel",
        &[
            (r#""c-uri":"/abcd""#, true),
            (r#""c-uri":"/ABCD""#, false),
            (r#""c-uri":"/abcde""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|re|i: '^/[a-f]{4}$'\n  condition: sel",
        &[(r#""c-uri":"/ABCD""#, true)],
    );
    check(
        "  sel:\n    c-uri|re|m: '^b$'\n  condition: sel",
        &[(r#""c-uri":"a\nb\nc""#, true)],
    );
    check(
        "  sel:\n    c-uri|re: '^b$'\n  condition: sel",
        &[(r#""c-uri":"a\nb\nc""#, false)],
    );
    check(
        "  sel:\n    c-uri|re|s: 'a.b'\n  condition: sel",
        &[(r#""c-uri":"a\nb""#, true)],
    );
    check(
        "  sel:\n    c-uri|re: 'a.b'\n  condition: sel",
        &[(r#""c-uri":"a\nb""#, false)],
    );
}

#[test]
fn cidr_v4_and_v6() {
    check(
        "  sel:\n    dst_ip|cidr:\n      - 10.0.0.0/8\n      - 'fd00::/8'\n  condition: sel",
        &[
            (r#""dst_ip":"10.1.2.3""#, true),
            (r#""dst_ip":"11.1.2.3""#, false),
            (r#""dst_ip":"fd12::1""#, true),
            (r#""dst_ip":"fe80::1""#, false),
            (r#""dst_ip":"not an ip""#, false),
        ],
    );
}

#[test]
fn exists_and_null() {
    check(
        "  sel:\n    cs-referrer|exists: true\n  condition: sel",
        &[(r#""cs-referrer":"x""#, true), (r#""c-uri":"x""#, false)],
    );
    check(
        "  sel:\n    cs-referrer|exists: false\n    c-uri: x\n  condition: sel",
        &[
            (r#""cs-referrer":"x","c-uri":"x""#, false),
            (r#""c-uri":"x""#, true),
        ],
    );
    check(
        "  sel:\n    cs-referrer: null\n    c-uri: x\n  condition: sel",
        &[
            (r#""cs-referrer":"x","c-uri":"x""#, false),
            (r#""c-uri":"x""#, true),
            (r#""cs-referrer":null,"c-uri":"x""#, true),
        ],
    );
    // An empty string is a value, not null.
    check(
        "  sel:\n    cs-referrer: ''\n  condition: sel",
        &[(r#""cs-referrer":"""#, true), (r#""c-uri":"x""#, false)],
    );
}

#[test]
fn numbers_compare_by_string_form() {
    check(
        "  sel:\n    sc-status: 200\n  condition: sel",
        &[
            (r#""sc-status":200"#, true),
            (r#""sc-status":"200""#, true),
            (r#""sc-status":2000"#, false),
        ],
    );
    check(
        "  sel:\n    sc-status|startswith: '4'\n  condition: sel",
        &[(r#""sc-status":404"#, true)],
    );
    check(
        "  sel:\n    sc-status|gte: 400\n  condition: sel",
        &[(r#""sc-status":404"#, true), (r#""sc-status":399"#, false)],
    );
    check(
        "  sel:\n    sc-status|lt: 300\n  condition: sel",
        &[(r#""sc-status":200"#, true), (r#""sc-status":300"#, false)],
    );
}

#[test]
fn windash_base64_utf16() {
    check(
        "  sel:\n    c-uri|windash|contains: ' -enc '\n  condition: sel",
        &[
            (r#""c-uri":"x /enc y""#, true),
            (r#""c-uri":"x \u2013enc y""#, true),
            (r#""c-uri":"x +enc y""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|base64offset|contains: 'http://'\n  condition: sel",
        &[
            (r#""c-uri":"aHR0cDovL2V4YW1wbGU=""#, true),
            (r#""c-uri":"IGh0dHA6Ly9leGFtcGxl""#, true),
            (r#""c-uri":"ICBodHRwOi8vZXhhbXBsZQ==""#, true),
            (r#""c-uri":"aGVsbG8=""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|base64: 'abc'\n  condition: sel",
        &[
            (r#""c-uri":"YWJj""#, true),
            (r#""c-uri":"YWJjZA==""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|wide|base64offset|contains: 'ping'\n  condition: sel",
        &[(r#""c-uri":"cABpAG4AZwA=""#, true)],
    );
    check(
        "  sel:\n    c-uri|cased: 'Abc'\n  condition: sel",
        &[(r#""c-uri":"Abc""#, true), (r#""c-uri":"abc""#, false)],
    );
}

#[test]
fn keywords_and_keyword_all() {
    check(
        "  keywords:\n    - 'evil.exe'\n    - 'bad?tool'\n  condition: keywords",
        &[
            (r#""c-uri":"/dl/EVIL.exe""#, true),
            (r#""c-useragent":"a badXtool b""#, true),
            (r#""c-uri":"/good""#, false),
        ],
    );
    check(
        "  keywords:\n    '|all':\n      - 'alpha'\n      - 'beta'\n  condition: keywords",
        &[
            (r#""c-uri":"/alpha","c-useragent":"beta""#, true),
            (r#""c-uri":"/alpha""#, false),
        ],
    );
}

#[test]
fn conditions() {
    let d = "  sel_a:\n    cs-method: GET\n  sel_b:\n    c-uri: /b\n  filter_x:\n    cs-host: x\n  filter_y:\n    cs-host: y\n";
    let cases = |cond: &str, expect: [bool; 4]| {
        let e = engine(&format!("{d}  condition: {cond}"), "proxy");
        let evs = [
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/b"}"#,
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/c","cs-host":"x"}"#,
            r#"{"EventID":100,"cs-method":"PUT","c-uri":"/b","cs-host":"y"}"#,
            r#"{"EventID":100,"cs-method":"PUT","c-uri":"/c"}"#,
        ];
        for (ev, want) in evs.iter().zip(expect) {
            assert_eq!(fires_on(&e, ev), want, "{cond} on {ev}");
        }
    };
    cases("sel_a and sel_b", [true, false, false, false]);
    cases("sel_a or sel_b", [true, true, true, false]);
    cases("not sel_a", [false, false, true, true]);
    cases("sel_a and not 1 of filter_*", [true, false, false, false]);
    cases("1 of sel_*", [true, true, true, false]);
    cases("all of sel_*", [true, false, false, false]);
    cases("1 of them", [true, true, true, false]);
    cases("all of them", [false, false, false, false]);
    cases(
        "(sel_a or sel_b) and not (filter_x or filter_y)",
        [true, false, false, false],
    );
    cases("not (sel_a and sel_b)", [false, true, true, true]);
    cases("2 of them", [true, true, true, false]);
}

#[test]
fn multi_document_and_bad_rules_do_not_stop_others() {
    let text = "title: a\nlogsource: {category: proxy}\ndetection: {s: {cs-method: GET}, condition: s}\n---\n\
                title: b\nlogsource: {category: proxy}\ndetection: {s: {cs-method|bogus: GET}, condition: s}\n---\n\
                title: c\nlogsource: {category: proxy}\ndetection: {s: {c-uri|re: '(x'}, condition: s}\n---\n\
                title: d\nlogsource: {category: proxy}\ndetection: {s: {cs-method: GET}, condition: s and t}\n---\n\
                title: e\nlogsource: {category: proxy}\ndetection: {s: {cs-method: POST}, condition: s}\n";
    let set = sigma::load_str(text, "multi.yml", "t");
    assert_eq!(
        set.rules
            .iter()
            .map(|r| r.title.as_str())
            .collect::<Vec<_>>(),
        ["a", "e"]
    );
    assert_eq!(set.failures.len(), 3);
    assert!(
        set.failures[0].path.starts_with("multi.yml#2"),
        "{:?}",
        set.failures[0]
    );
    assert!(
        set.failures[0].reason.contains("unknown modifier 'bogus'"),
        "{}",
        set.failures[0].reason
    );
    assert!(
        set.failures[1].reason.contains("invalid regex"),
        "{}",
        set.failures[1].reason
    );
    assert!(
        set.failures[2].reason.contains("missing selection 't'"),
        "{}",
        set.failures[2].reason
    );
    let bad = sigma::load_str("title: [unclosed\n", "bad.yml", "t");
    assert!(bad.rules.is_empty() && bad.failures[0].reason.contains("invalid YAML"));
}

#[test]
fn huge_value_lists_are_refused_quickly() {
    let mut text = String::from(
        "title: big\nlogsource: {category: proxy}\ndetection:\n  s:\n    c-uri|contains:\n",
    );
    while text.len() < 10 * 1024 * 1024 {
        text.push_str("      - 'abcdefghijklmnopqrstuvwxyz0123456789'\n");
    }
    text.push_str("  condition: s\n");
    let t = std::time::Instant::now();
    let set = sigma::load_str(&text, "big.yml", "t");
    assert!(set.rules.is_empty());
    assert!(
        set.failures[0].reason.contains("values"),
        "{}",
        set.failures[0].reason
    );
    assert!(t.elapsed().as_secs() < 30);
    // Through the file loader, the size cap answers before parsing.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.yml");
    std::fs::write(&p, &text).unwrap();
    let set = sigma::load_paths(&[p]);
    assert!(
        set.failures[0].reason.contains("cap"),
        "{}",
        set.failures[0].reason
    );
}

#[test]
fn observability_classes() {
    let class = |det: &str, cat: &str| {
        let text = format!("title: t\nlogsource:\n  category: {cat}\ndetection:\n{det}");
        let set = sigma::load_str(&text, "t", "t");
        classify::classify(&set.rules[0])
    };
    use classify::Observability::*;
    assert_eq!(
        class("  s:\n    QueryName: x\n  condition: s", "dns_query"),
        Full
    );
    assert_eq!(
        class(
            "  s:\n    QueryName: x\n  f:\n    Image|endswith: a.exe\n  condition: s and not f",
            "dns_query"
        ),
        Partial
    );
    assert_eq!(
        class(
            "  s:\n    QueryName: x\n    Image|endswith: a.exe\n  condition: s",
            "dns_query"
        ),
        Never
    );
    // `Image: null` holds on every network event, so `not` of it never does.
    assert_eq!(
        class(
            "  s:\n    QueryName: x\n  f:\n    Image: null\n  condition: s and not f",
            "dns_query"
        ),
        Never
    );
    assert_eq!(
        class("  s:\n    Image: null\n  condition: s", "dns_query"),
        Partial
    );
    assert_eq!(
        class(
            "  s:\n    Image|endswith: a\n  t:\n    QueryName: x\n  condition: s or t",
            "dns_query"
        ),
        Partial
    );
}

fn header(dst_port: u16) -> Header {
    Header {
        time: Default::default(),
        computer: Arc::from("sensor"),
        source: Arc::from("test.pcap"),
        flow_id: 1,
        community_id: "1:x".into(),
        protocol: Transport::Tcp,
        src_ip: "192.0.2.10".parse::<IpAddr>().unwrap(),
        src_port: 50000,
        dst_ip: "198.51.100.7".parse::<IpAddr>().unwrap(),
        dst_port,
    }
}

#[test]
fn events_route_by_kind_and_derive_uri_fields() {
    let rules = "title: dns\nid: d\nlogsource: {category: dns_query}\ndetection: {s: {QueryName|endswith: '.example'}, condition: s}\n---\n\
                 title: http\nid: h\nlogsource: {category: proxy}\ndetection: {s: {c-uri-extension: php, c-uri-query|contains: 'cmd=', cs-host: h.example}, condition: s}\n---\n\
                 title: conn\nid: c\nlogsource: {category: network_connection}\ndetection: {s: {DestinationPort: 443, DestinationIp|cidr: 198.51.100.0/24, DestinationHostname|endswith: '.example'}, condition: s}\n---\n\
                 title: zeek\nid: z\nlogsource: {product: zeek, service: ssl}\ndetection: {s: {server_name: t.example}, condition: s}\n";
    let set = sigma::load_str(rules, "t", "t");
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    let e = Engine::new(&set.rules);
    let ids = |ev: &Event| {
        let mut out = Vec::new();
        e.evaluate(ev, &mut out);
        out.iter()
            .map(|a| a.rule_id.to_string())
            .collect::<Vec<_>>()
    };
    let dns = Event {
        header: header(53),
        body: Body::Dns(DnsQuery {
            query_name: "A.Example".into(),
            ..Default::default()
        }),
        alerts: Vec::new(),
    };
    assert_eq!(ids(&dns), ["d"]);
    let http = Event {
        header: header(80),
        body: Body::Http(HttpRequest {
            method: "GET".into(),
            host: Some("h.example".into()),
            uri: "/x/shell.php?cmd=id".into(),
            ..Default::default()
        }),
        alerts: Vec::new(),
    };
    assert_eq!(ids(&http), ["h"]);
    let conn = Event {
        header: header(443),
        body: Body::Connect(NetworkConnect {
            destination_hostname: Some("t.example".into()),
            tls_sni: Some("t.example".into()),
            ..Default::default()
        }),
        alerts: Vec::new(),
    };
    assert_eq!(ids(&conn), ["c", "z"]);
}

#[test]
fn overlapping_literals_on_one_field() {
    check(
        "  sel:\n    cs-method: GET\n    cs-uri|contains|all:\n      - '/cross.php?op='\n      - '&dt='\n      - '&uid='\n  condition: sel",
        &[
            (
                r#""cs-method":"GET","cs-uri":"/cross.php?op=1&dt=2&uid=3""#,
                true,
            ),
            (
                r#""cs-method":"GET","cs-uri":"/CROSS.PHP?OP=&DT=&UID=""#,
                true,
            ),
            (
                r#""cs-method":"GET","cs-uri":"/cross.php?op=1&uid=3""#,
                false,
            ),
        ],
    );
}

#[test]
fn nested_prefixes_and_suffixes_all_reported() {
    // Each value of an `|all` list has its own bit, so every nested prefix or suffix
    // must be found by the anchored scans, not only the longest or shortest.
    check(
        "  sel:\n    cs-host|endswith|all:\n      - '.com'\n      - 'e.com'\n      - 'example.com'\n  condition: sel",
        &[
            (r#""cs-host":"www.EXAMPLE.com""#, true),
            (r#""cs-host":"www.exampla.com""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|startswith|all:\n      - '/a'\n      - '/ab'\n      - '/abc'\n  condition: sel",
        &[
            (r#""c-uri":"/abcd""#, true),
            (r#""c-uri":"/abd""#, false),
            (r#""c-uri":"x/abc""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|contains|all:\n      - 'abc'\n      - 'bcd'\n      - 'cd'\n  condition: sel",
        &[(r#""c-uri":"xabcdx""#, true), (r#""c-uri":"xabcx""#, false)],
    );
}

#[test]
fn annotate_fills_event_alerts() {
    let engine = Engine::new(&sigma::builtin().rules);
    let mut ev = Event {
        header: header(443),
        body: Body::Connect(NetworkConnect {
            destination_hostname: Some("h2.cftunnel.com".into()),
            tls_sni: Some("h2.cftunnel.com".into()),
            ..Default::default()
        }),
        alerts: Vec::new(),
    };
    assert_eq!(engine.annotate(&mut ev), 1);
    assert_eq!(&*ev.alerts[0].rule_title, "Cloudflare Tunnel Connection");
    let mut line = Vec::new();
    c2tap::event::json::write_event(&mut line, &ev);
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["Alerts"][0]["RuleLevel"], "medium");
    assert!(
        v["Alerts"][0]["RuleTags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "attack.t1071.001")
    );
    // Port 7844 adds the edge-port rule; annotate replaces, never appends twice.
    ev.header.dst_port = 7844;
    assert_eq!(engine.annotate(&mut ev), 2);
    assert_eq!(engine.annotate(&mut ev), 2);
}

/// Regression (found by `literal_scans_find_every_overlapping_pattern`): an anchored
/// automaton state also reports patterns that are suffixes of its path; `b` must not be
/// taken for a suffix of `baa` because `baa` (reversed `aab`) ends in `b`.
#[test]
fn anchored_scans_ignore_inner_outputs() {
    check(
        "  sel:\n    c-uri|endswith|all:\n      - 'b'\n      - 'baa'\n  condition: sel",
        &[
            (r#""c-uri":"baa""#, false),
            (r#""c-uri":"xbaab""#, false),
            (r#""c-uri":"bbaa""#, false),
        ],
    );
    check(
        "  sel:\n    c-uri|startswith|all:\n      - 'a'\n      - 'bba'\n  condition: sel",
        &[(r#""c-uri":"bba""#, false), (r#""c-uri":"abba""#, false)],
    );
}

#[test]
fn global_documents_merge_into_the_following_ones() {
    let text = "action: global\ntitle: shared\nlogsource: {category: proxy}\ndetection: {condition: s}\n---\n\
                id: a\ndetection: {s: {cs-method: PUT}}\n---\n\
                id: b\ntitle: own title\ndetection: {s: {cs-method: DELETE}}\n";
    let set = sigma::load_str(text, "g.yml", "t");
    assert!(set.failures.is_empty(), "{:?}", set.failures);
    let got: Vec<(&str, &str)> = set
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.title.as_str()))
        .collect();
    assert_eq!(got, [("a", "shared"), ("b", "own title")]);
    let e = Engine::new(&set.rules);
    assert!(fires_on(&e, r#"{"EventID":100,"cs-method":"delete"}"#));
}
