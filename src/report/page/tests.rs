//! Page tests: escaping of hostile values, nothing fetched, caps said, mappings shown.

use super::super::aggregate::Caps;
use super::*;
use crate::detect::tools::coverage;

fn page_of(lines: &[String], caps: Caps) -> String {
    let mut a = Aggregator::new(caps);
    for l in lines {
        assert_eq!(a.feed(l.as_bytes()), None, "{l}");
    }
    let set = crate::detect::sigma::builtin();
    let cov = coverage::compute(&set.rules, None, 0);
    let origin = Origin {
        command: "c2tap report <script>".into(),
        generated: "now".into(),
        captures: &[],
    };
    render(&a, &cov, &origin)
}

/// No script, and nothing the page would fetch: no element that loads, no `src`,
/// no address in an attribute, no `url(…)` or `@import` in the style. Checked on
/// the markup (the tags and the style), since a hostile name shown as text may
/// well read `src=http://…`, which is fine.
fn assert_self_contained(html: &str) {
    let mut tags = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                tags.push('<');
            }
            '>' if in_tag => {
                in_tag = false;
                tags.push_str(">\n");
            }
            c if in_tag => tags.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    for bad in [
        "<script",
        "<img",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        " src=",
        "http:",
        "https:",
        "url(",
        "javascript:",
    ] {
        assert!(!tags.contains(bad), "markup contains {bad:?}: {tags}");
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "{style}"
    );
}

#[test]
fn hostile_values_are_text_and_the_page_fetches_nothing() {
    let evil = r#"\"><img src=http://evil.example/x.png onerror=alert(1)><script src=https://evil.example/a.js></script>'"#;
    let lines = vec![
        format!(
            r#"{{"EventID":3,"UtcTime":"2026-11-22 11:21:40.608","Computer":"{evil}","Source":"{evil}","DestinationHostname":"{evil}","TlsSni":"{evil}","Ja4":"{evil}","Ja3Hash":"{evil}","AppProtocol":"{evil}","Alerts":[{{"RuleId":"{evil}","RuleTitle":"{evil}","RuleLevel":"{evil}","RuleTags":["attack.t1071.001"],"Mappings":{{"T1071.001":{{"veris":["{evil}"],"aws":[{{"capability":"{evil}","category":"detect","value":"partial"}}]}}}}}}]}}"#
        ),
        format!(r#"{{"EventID":22,"QueryName":"{evil}","UtcTime":"{evil}"}}"#),
        format!(
            r#"{{"EventID":110,"SourceIp":"{evil}","DestinationHostname":"{evil}","BeaconKind":"{evil}","Score":0.95,"Reason":"{evil}","CheckInHistogram":[1,2,3]}}"#
        ),
        format!(
            r#"{{"EventID":111,"Domain":"{evil}","TunnelKind":"{evil}","DistinctSubdomains":60}}"#
        ),
        format!(
            r#"{{"EventID":4,"Computer":"{evil}","State":"{evil}","Counters":{{"{evil}":1}}}}"#
        ),
        format!(r#"{{"EventID":"{evil}","EventType":"{evil}"}}"#),
    ];
    let html = page_of(&lines, Caps::default());
    assert_self_contained(&html);
    assert!(
        html.contains("&lt;img src=http://evil.example/x.png"),
        "shown as text"
    );
    assert!(html.contains("c2tap report &lt;script&gt;"));
    // The beacon's CheckInHistogram is drawn (three bins, three bars).
    let hist = &html[html.find("<svg class=\"hist\"").unwrap()..];
    let hist = &hist[..hist.find("</svg>").unwrap()];
    assert_eq!(hist.matches("class=\"fill\"").count(), 3, "{hist}");
}

#[test]
fn an_overflowing_table_says_so() {
    let caps = Caps {
        names: 4,
        ..Caps::default()
    };
    let lines: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"EventID":22,"QueryName":"n{i}.test"}}"#))
        .collect();
    let html = page_of(&lines, caps);
    // 20 names through a table of 4: the rows shown plus (other) sum to 20.
    assert!(html.contains("<td>(other)</td>"), "{html}");
    let limits = &html[html.find("id=\"caps\"").unwrap()..];
    let row = &limits[limits.find("<td>QueryName</td>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.starts_with("<td>QueryName</td><td class=\"n\">4</td>"),
        "{row}"
    );
    assert!(
        !row.contains("<td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0</td>"),
        "{row}"
    );
}

#[test]
fn technique_rows_show_the_alerts_mappings() {
    let line = r#"{"EventID":3,"UtcTime":"2026-11-22 11:21:40.608","Alerts":[{"RuleId":"r1","RuleTitle":"Tunnel","RuleLevel":"medium","RuleTags":["attack.t1071.001"],"Mappings":{"T1071.001":{"veris":["action.malware.variety.C2"],"nist_800_53":["SI-4","SC-7"],"aws":[{"capability":"Amazon GuardDuty","category":"detect","value":"partial"}],"azure":[],"gcp":[]}}}]}"#;
    let html = page_of(&[line.to_string()], Caps::default());
    let t = &html[html.find("id=\"alerts-by-technique\"").unwrap()..];
    let row = &t[t.find("<td>T1071.001</td>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert_eq!(
        row,
        "<td>T1071.001</td><td class=\"n\">1</td><td>Tunnel</td>\
         <td>action.malware.variety.C2</td><td>SI-4; SC-7</td>\
         <td>Amazon GuardDuty (detect, partial)</td><td>-</td><td>-</td>"
    );
    assert!(!html.contains("No alert carried technique mappings"));
}
