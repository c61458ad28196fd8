//! SigmaHQ's network rules (`../shared/sigma/`): every rule loads, the classification
//! agrees with the analysis in `../shared/sigma/README.md`, and for every *full* rule a
//! matching event and near misses derived from the rule itself get the right verdicts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use c2tap::detect::sigma::classify::{self, Observability};
use c2tap::detect::sigma::condition::Expr;
use c2tap::detect::sigma::rule::Item;
use c2tap::detect::sigma::value::{CmpOp, GlobTok, StrPat, ValueSpec};
use c2tap::detect::sigma::{self, Rule};
use c2tap::detect::{Engine, JsonEvent};

fn shared_dir() -> Option<PathBuf> {
    let local = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    [local, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.join("sigma").is_dir())
}

fn load() -> Option<sigma::RuleSet> {
    let Some(dir) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return None;
    };
    Some(sigma::load_paths(&[dir.join("sigma")]))
}

/// The README's "network logsources": the five categories and every Zeek service.
fn network_logsource(r: &Rule) -> bool {
    let cat = r.logsource.category.as_deref().unwrap_or("");
    [
        "dns_query",
        "network_connection",
        "proxy",
        "dns",
        "firewall",
    ]
    .contains(&cat)
        || r.logsource.product.as_deref() == Some("zeek")
}

#[test]
fn every_rule_loads() {
    let Some(set) = load() else { return };
    assert!(set.failures.is_empty(), "{:#?}", set.failures);
    assert_eq!(set.rules.len(), 222);
}

#[test]
fn classification_agrees_with_the_readme() {
    let Some(set) = load() else { return };
    let net: Vec<&Rule> = set
        .rules
        .iter()
        .filter(|r| network_logsource(r) && !r.is_deprecated())
        .collect();
    // 187 = 191 network-logsource rules minus the 4 deprecated ones (deprecated/web/).
    assert_eq!(net.len(), 187);
    let mut counts: BTreeMap<Observability, usize> = BTreeMap::new();
    for r in &net {
        *counts.entry(classify::classify(r)).or_default() += 1;
    }
    // The README counts 121 full and 51 never; 5 of its full rules read network fields
    // no c2tap event carries (`answer` and `record_type`, `resp_mime_types` twice,
    // `client_header_names`, `rejected`: fields::UNPRODUCED): 4 become partial (the
    // fields sit in filters), 1 never.
    assert_eq!(counts.get(&Observability::Full), Some(&116));
    assert_eq!(counts.get(&Observability::Partial), Some(&19));
    assert_eq!(counts.get(&Observability::Never), Some(&52));
    // Difference in how the two count the same rules: 14 of the 121 full rules are Zeek
    // services c2tap does not produce (smb_files 7, dce_rpc 4, kerberos, rdp, x509).
    // Their fields are network fields, so they are *full* by observability, but the
    // engine skips them as "other logsource" (DESIGN §4): 102 full rules are active.
    let other: Vec<&&Rule> = net.iter().filter(|r| r.kind().is_none()).collect();
    assert_eq!(other.len(), 14);
    assert!(
        other
            .iter()
            .all(|r| classify::classify(r) == Observability::Full)
    );
    let engine = Engine::new(&set.rules);
    let st = engine.stats();
    assert_eq!((st.full, st.partial, st.never), (102, 19, 52));
    assert_eq!(st.deprecated, 4);
}

/// A constraint on one field of the event being built.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Absent,
    Exact(String),
    Prefix(String),
    Suffix(String),
    Infix(String),
    /// The field must not satisfy this item (built as absent or a harmless value).
    Not(usize),
}

type Path = Vec<(String, Piece)>;

/// Most alternatives kept per sub-expression (bounds the search on wide rules).
const MAX_ALTS: usize = 24;

struct Gen<'a> {
    rule: &'a Rule,
    items: Vec<&'a Item>,
    /// A rule the generator cannot derive a witness for (positive regex, fieldref).
    unsupported: Option<String>,
}

fn glob_witness(toks: &[GlobTok]) -> String {
    toks.iter()
        .map(|t| match t {
            GlobTok::Lit(c) => c.to_string(),
            GlobTok::One => "q".into(),
            GlobTok::Any => String::new(),
        })
        .collect()
}

impl<'a> Gen<'a> {
    fn field_name(item: &Item) -> String {
        item.raw_field.clone().unwrap_or_else(|| "message".into())
    }

    fn pos_item(&mut self, item: &Item) -> Path {
        let name = Self::field_name(item);
        let vals: Vec<&Vec<ValueSpec>> = if item.all {
            item.values.iter().collect()
        } else {
            item.values.iter().take(1).collect()
        };
        let mut out = Vec::new();
        for v in vals {
            let Some(v) = v.first() else { continue };
            let piece = match v {
                ValueSpec::Null | ValueSpec::Exists(false) => Piece::Absent,
                ValueSpec::Exists(true) => Piece::Exact("present".into()),
                ValueSpec::Str { pat, .. } => match pat {
                    StrPat::Eq(s) => Piece::Exact(s.clone()),
                    StrPat::Starts(s) => Piece::Prefix(s.clone()),
                    StrPat::Ends(s) => Piece::Suffix(s.clone()),
                    StrPat::Contains(s) => Piece::Infix(s.clone()),
                    StrPat::Glob(t) => {
                        let w = glob_witness(t);
                        match (
                            t.first() == Some(&GlobTok::Any),
                            t.last() == Some(&GlobTok::Any),
                        ) {
                            (true, true) => Piece::Infix(w),
                            (true, false) => Piece::Suffix(w),
                            (false, true) => Piece::Prefix(w),
                            (false, false) => Piece::Exact(w),
                        }
                    }
                },
                ValueSpec::Cidr(n) => Piece::Exact(n.addr.to_string()),
                ValueSpec::Cmp(op, n) => {
                    let n = match op {
                        CmpOp::Gt => n + 1.0,
                        CmpOp::Lt => n - 1.0,
                        _ => *n,
                    };
                    Piece::Exact(format!("{}", n as i64))
                }
                ValueSpec::Re(r) => {
                    self.unsupported = Some(format!("positive regex {r}"));
                    Piece::Absent
                }
                ValueSpec::FieldRef(_) => {
                    self.unsupported = Some("fieldref".into());
                    Piece::Absent
                }
            };
            out.push((name.clone(), piece));
        }
        out
    }

    fn item_index(&mut self, item: &'a Item) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }

    fn paths(&mut self, e: &'a Expr, want: bool) -> Vec<Path> {
        match (e, want) {
            (Expr::Not(x), w) => self.paths(x, !w),
            (Expr::And(v), true) | (Expr::Or(v), false) => {
                let mut acc: Vec<Path> = vec![Vec::new()];
                for x in v {
                    let alts = self.paths(x, want);
                    acc = product(&acc, &alts);
                }
                acc
            }
            (Expr::And(v), false) | (Expr::Or(v), true) => {
                let mut acc = Vec::new();
                for x in v {
                    acc.extend(self.paths(x, want));
                }
                acc.truncate(MAX_ALTS);
                acc
            }
            (Expr::AtLeast(n, v), true) => {
                let mut acc: Vec<Path> = vec![Vec::new()];
                for x in v.iter().take(*n) {
                    let alts = self.paths(x, true);
                    acc = product(&acc, &alts);
                }
                acc
            }
            (Expr::AtLeast(_, v), false) => {
                let mut acc: Vec<Path> = vec![Vec::new()];
                for x in v {
                    let alts = self.paths(x, false);
                    acc = product(&acc, &alts);
                }
                acc
            }
            (Expr::Sel(i), true) => {
                let sel = &self.rule.selections[*i];
                let mut out = Vec::new();
                for g in &sel.groups {
                    let mut p = Vec::new();
                    for it in g {
                        p.extend(self.pos_item(it));
                    }
                    out.push(p);
                }
                out.truncate(MAX_ALTS);
                out
            }
            (Expr::Sel(i), false) => {
                // Every group false: one item per group false.
                let sel = &self.rule.selections[*i];
                let mut acc: Vec<Path> = vec![Vec::new()];
                for g in &sel.groups {
                    let alts: Vec<Path> = g
                        .iter()
                        .map(|it| {
                            let idx = self.item_index(it);
                            vec![(Self::field_name(it), Piece::Not(idx))]
                        })
                        .collect();
                    acc = product(&acc, &alts);
                }
                acc
            }
        }
    }
}

fn product(a: &[Path], b: &[Path]) -> Vec<Path> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let mut p = x.clone();
            p.extend(y.iter().cloned());
            out.push(p);
            if out.len() >= MAX_ALTS {
                return out;
            }
        }
    }
    out
}

/// Builds an event from a path; `break_field` perturbs one field so it no longer holds
/// its positive pieces; `garbage` replaces every positive field.
fn build(
    kind_id: u32,
    path: &Path,
    items: &[&Item],
    break_field: Option<&str>,
    garbage: bool,
) -> serde_json::Map<String, serde_json::Value> {
    let mut by_field: BTreeMap<&str, Vec<&Piece>> = BTreeMap::new();
    for (f, p) in path {
        by_field.entry(f.as_str()).or_default().push(p);
    }
    let mut m = serde_json::Map::new();
    m.insert("EventID".into(), kind_id.into());
    for (f, pieces) in by_field {
        let pos: Vec<&&Piece> = pieces
            .iter()
            .filter(|p| !matches!(p, Piece::Not(_) | Piece::Absent))
            .collect();
        if pos.is_empty() {
            if pieces.iter().any(|p| matches!(p, Piece::Absent)) {
                continue;
            }
            // Only negative constraints: absent, unless the item accepts absent.
            let accepts_absent = pieces.iter().any(|p| match p {
                Piece::Not(i) => items[*i]
                    .values
                    .iter()
                    .flatten()
                    .any(|v| matches!(v, ValueSpec::Null | ValueSpec::Exists(false))),
                _ => false,
            });
            if accepts_absent {
                m.insert(f.into(), "zq-unrelated-value".into());
            }
            continue;
        }
        if garbage {
            m.insert(f.into(), "zq-garbage-value".into());
            continue;
        }
        let brk = break_field == Some(f);
        // A near miss breaks every piece inside (`zq` after its first character), so
        // neither equality nor prefix, suffix or substring still holds.
        let piece = |s: &String| -> String {
            if !brk {
                return s.clone();
            }
            let mut cs = s.chars();
            match (cs.next(), cs.as_str()) {
                (Some(c), rest) if !rest.is_empty() => format!("{c}zq{rest}"),
                _ => "zq".into(),
            }
        };
        let mut exact = None;
        let (mut pre, mut inf, mut suf) = (String::new(), Vec::new(), String::new());
        for p in pos {
            match p {
                Piece::Exact(s) => exact = Some(piece(s)),
                Piece::Prefix(s) if s.len() > pre.len() => pre = piece(s),
                Piece::Suffix(s) if s.len() > suf.len() => suf = piece(s),
                Piece::Infix(s) => inf.push(piece(s)),
                _ => {}
            }
        }
        let v = match exact {
            Some(e) => e,
            None => {
                let mut v = pre.clone();
                for i in &inf {
                    v.push_str(i);
                }
                v.push_str(&suf);
                v
            }
        };
        // Upper-case ASCII letters where the value keeps its meaning (not IPs or numbers),
        // so matching is checked to ignore case.
        let upper = if v.parse::<std::net::IpAddr>().is_ok() {
            v.clone()
        } else {
            v.to_ascii_uppercase()
        };
        match upper.parse::<i64>() {
            Ok(n) if !upper.starts_with('0') || upper == "0" => m.insert(f.into(), n.into()),
            _ => m.insert(f.into(), upper.into()),
        };
    }
    m
}

fn fires(engine: &Engine, ev: &serde_json::Map<String, serde_json::Value>) -> bool {
    let mut out = Vec::new();
    engine.evaluate(&JsonEvent::from_map(ev), &mut out);
    !out.is_empty()
}

/// Full rules whose witnesses the generator cannot derive (positive regexes); they are
/// checked by hand in `regex_rules_by_hand`.
/// Rules whose per-field near miss still matches for a reason of the rule itself.
const NEAR_MISS_OVERLAP: &[(&str, &str)] = &[(
    "proxy_raw_paste_service_access.yml",
    "the perturbed '.paste.ee/r/' still contains 'paste.ee/', another value of the same list",
)];

const HAND_CHECKED: &[&str] = &[
    "proxy_exploit_cve_2023_36884_office_windows_html_rce.yml",
    "proxy_exploit_cve_2023_36884_office_windows_html_rce_extenstion_ip_pattern_traffic.yml",
    "proxy_exploit_cve_2023_4966_citrix_sensitive_information_disclosure_exploit.yml",
    "proxy_eviltokens_cloudflare_worker_request.yml",
    "proxy_susp_ipfs_cred_harvest.yml",
];

#[test]
fn full_rules_match_derived_events_and_reject_near_misses() {
    let Some(set) = load() else { return };
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in &set.rules {
        if r.is_deprecated() || r.kind().is_none() || classify::classify(r) != Observability::Full {
            continue;
        }
        if HAND_CHECKED.iter().any(|h| r.origin.ends_with(h)) {
            continue;
        }
        let engine = Engine::new(std::slice::from_ref(r));
        let kind_id = r.kind().map_or(0, |k| k.event_id());
        let mut g = Gen {
            rule: r,
            items: Vec::new(),
            unsupported: None,
        };
        let paths = g.paths(&r.condition, true);
        if let Some(why) = &g.unsupported {
            failures.push(format!("{}: generator cannot handle {why}", r.origin));
            continue;
        }
        let Some(path) = paths
            .iter()
            .find(|p| fires(&engine, &build(kind_id, p, &g.items, None, false)))
        else {
            failures.push(format!(
                "{}: no derived event matched (tried {}: {:?})",
                r.origin,
                paths.len(),
                paths
                    .first()
                    .map(|p| build(kind_id, p, &g.items, None, false))
            ));
            continue;
        };
        checked += 1;
        let positive: Vec<&str> = path
            .iter()
            .filter(|(_, p)| !matches!(p, Piece::Not(_) | Piece::Absent))
            .map(|(f, _)| f.as_str())
            .collect();
        if !positive.is_empty() && fires(&engine, &build(kind_id, path, &g.items, None, true)) {
            failures.push(format!(
                "{}: matched with every positive field garbled",
                r.origin
            ));
        }
        // Near miss per field: each positive field perturbed alone must break the match
        // when the rule's condition has a single way to match (no OR alternatives left).
        for f in &positive {
            let ev = build(kind_id, path, &g.items, Some(f), false);
            let overlap = NEAR_MISS_OVERLAP
                .iter()
                .any(|(f, _why)| r.origin.ends_with(f));
            if !overlap
                && fires(&engine, &ev)
                && paths.len() == 1
                && r.selections.iter().all(|s| s.groups.len() == 1)
            {
                failures.push(format!("{}: matched near miss {ev:?}", r.origin));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 107 in the README, less the 5 that read fields c2tap does not produce.
    assert_eq!(checked + HAND_CHECKED.len(), 102);
}

#[test]
fn regex_rules_by_hand() {
    let Some(set) = load() else { return };
    // (rule file, matching event, near miss): regexes are case-sensitive unless (?i).
    let long_host = "a".repeat(150);
    let cases: Vec<(&str, String, String)> = vec![
        (
            "proxy_exploit_cve_2023_36884_office_windows_html_rce.yml",
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/MSHTML_C7/zip_k.asp?d=99.99.99.99"}"#.into(),
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/MSHTML_C7/zip_k.asp?d=99.99.99"}"#.into(),
        ),
        (
            "proxy_exploit_cve_2023_36884_office_windows_html_rce_extenstion_ip_pattern_traffic.yml",
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/share1/MSHTML_C7/1/file001.htm?d=99.99.99.99_a15fa_"}"#.into(),
            r#"{"EventID":100,"cs-method":"GET","c-uri":"/share1/file001.HTM?d=99.99.99.99"}"#.into(),
        ),
        (
            "proxy_exploit_cve_2023_4966_citrix_sensitive_information_disclosure_exploit.yml",
            format!(r#"{{"EventID":100,"cs-method":"GET","cs-uri":"/oauth/idp/.well-known/openid-configuration","cs-host":"{long_host}"}}"#),
            r#"{"EventID":100,"cs-method":"GET","cs-uri":"/oauth/idp/.well-known/openid-configuration","cs-host":"citrix.example"}"#.into(),
        ),
        (
            "proxy_eviltokens_cloudflare_worker_request.yml",
            r#"{"EventID":100,"c-uri":"https://login-abc.contoso-s-account.workers.dev/x"}"#.into(),
            r#"{"EventID":100,"c-uri":"https://login.contoso.workers.dev/x"}"#.into(),
        ),
        (
            "proxy_susp_ipfs_cred_harvest.yml",
            r#"{"EventID":100,"cs-uri":"https://IPFS.io/ipfs/bafy/index.html#user@victim.example"}"#.into(),
            r#"{"EventID":100,"cs-uri":"https://ipfs.io/ipfs/bafy/index.html"}"#.into(),
        ),
    ];
    for (file, hit, miss) in &cases {
        let r = set.rules.iter().find(|r| r.origin.ends_with(file)).unwrap();
        assert_eq!(classify::classify(r), Observability::Full, "{file}");
        let engine = Engine::new(std::slice::from_ref(r));
        let ev = |s: &str| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(s).unwrap()
        };
        assert!(fires(&engine, &ev(hit)), "{file} must match {hit}");
        assert!(!fires(&engine, &ev(miss)), "{file} must not match {miss}");
    }
    assert_eq!(cases.len(), HAND_CHECKED.len());
}

fn coverage_text(format: c2tap::detect::tools::Format) -> Option<String> {
    let dir = shared_dir()?;
    let mut out = Vec::new();
    let paths = [
        dir.join("sigma"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules")),
    ];
    c2tap::detect::tools::coverage(&paths, Some("T1071.001"), format, &mut out).unwrap();
    Some(String::from_utf8(out).unwrap())
}

#[test]
fn coverage_of_t1071_001_is_pinned() {
    let Some(json) = coverage_text(c2tap::detect::tools::Format::Json) else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // 42 active SigmaHQ rules carry attack.t1071.001 (README), plus 24 of the 28
    // built-in rules (the DNS tunnel ones and the NXDOMAIN one carry t1071.004); 246 =
    // 218 active SigmaHQ rules (222 minus 4 deprecated) + 28 built-in (correlations are
    // not counted).
    assert_eq!(v["rules_matched"], 66);
    assert_eq!(v["rules_loaded"], 246);
    assert_eq!(
        v["observability"],
        serde_json::json!({"full": 54, "never": 12})
    );
    let events: Vec<(String, String, u64, bool)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["provider"].as_str().unwrap().to_string(),
                e["event_id"].as_str().unwrap().to_string(),
                e["rules"].as_u64().unwrap(),
                e["c2tap"].as_bool().unwrap(),
            )
        })
        .collect();
    let want = [
        ("proxy", "-", 30, true),                     // 23 SigmaHQ + 7 built-in
        ("Microsoft-Windows-Sysmon", "22", 11, true), // 5 + 6
        ("Microsoft-Windows-Sysmon", "1", 9, false),
        ("Microsoft-Windows-Sysmon", "3", 9, true), // 1 + 8
        ("Microsoft-Windows-Security-Auditing", "4688", 7, false),
        ("c2tap", "110", 3, true), // the built-in beacon, strobe and long-connection rules
        ("dns", "-", 2, true),
        ("Microsoft-Windows-PowerShell", "4104", 1, false),
        ("Zeek", "http.log", 1, true),
    ];
    let want: Vec<(String, String, u64, bool)> = want
        .iter()
        .map(|(p, e, n, c)| (p.to_string(), e.to_string(), *n, *c))
        .collect();
    assert_eq!(events, want);
    let fields: Vec<(&str, u64)> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .take(4)
        .map(|f| (f["field"].as_str().unwrap(), f["rules"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("HttpUserAgent", 19),
            ("QueryName", 13),
            ("HttpHost", 12),
            ("Image", 10)
        ]
    );
    let q = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "QueryName")
        .unwrap();
    assert_eq!(
        q["operators"],
        serde_json::json!({"ends_with": 31, "eq": 35})
    );
    let top = &v["indicators"][0];
    assert_eq!(
        (
            top["field"].as_str(),
            top["operator"].as_str(),
            top["value"].as_str(),
            top["rules"].as_u64(),
            top["corpus_reach"].as_u64()
        ),
        (
            Some("HttpUserAgent"),
            Some("match"),
            Some(" WindowsPowerShell/"),
            Some(3),
            Some(3)
        )
    );
    let method_get = v["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["field"] == "HttpMethod" && i["value"] == "GET")
        .unwrap();
    assert_eq!(
        (
            method_get["rules"].as_u64(),
            method_get["corpus_reach"].as_u64()
        ),
        (Some(2), Some(16))
    );
    let sources: Vec<(&str, usize)> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap(),
                s["rules"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(sources.iter().map(|s| s.1).sum::<usize>(), 66);
    assert!(sources.contains(&("rules", 24)), "{sources:?}");
    let text = coverage_text(c2tap::detect::tools::Format::Text).unwrap();
    assert!(
        text.starts_with("Coverage of T1071.001: 66 of 246 loaded rules (54 full, 12 never)"),
        "{text}"
    );
}
