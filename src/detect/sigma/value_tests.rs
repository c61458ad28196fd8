//! Tests of `value.rs`.

use super::*;

fn one(v: &str, mods: &[&str]) -> StrPat {
    match compile(Some(v), &Mods::parse(mods).unwrap())
        .unwrap()
        .remove(0)
    {
        ValueSpec::Str { pat, .. } => pat,
        other => panic!("{other:?}"),
    }
}

#[test]
fn wildcards_and_escapes() {
    assert_eq!(one("Abc", &[]), StrPat::Eq("abc".into()));
    assert_eq!(one("*abc", &[]), StrPat::Ends("abc".into()));
    assert_eq!(one("abc*", &[]), StrPat::Starts("abc".into()));
    assert_eq!(one("*abc*", &[]), StrPat::Contains("abc".into()));
    assert_eq!(one("abc", &["contains"]), StrPat::Contains("abc".into()));
    assert_eq!(one("a\\*c", &[]), StrPat::Eq("a*c".into()));
    assert_eq!(one("a\\?c", &["endswith"]), StrPat::Ends("a?c".into()));
    assert_eq!(one("a\\\\", &[]), StrPat::Eq("a\\".into()));
    assert_eq!(one("c:\\windows", &[]), StrPat::Eq("c:\\windows".into()));
    let g = one("a?c*d", &[]);
    assert!(g.matches("abcxxd") && g.matches("azcd") && !g.matches("acd") && !g.matches("abcdx"));
    assert!(glob(&[GlobTok::Any], ""));
    assert!(!glob(&[GlobTok::One], ""));
}

#[test]
fn windash_expands_flags_only() {
    let v = compile(
        Some(" -enc "),
        &Mods::parse(&["contains", "windash"]).unwrap(),
    )
    .unwrap();
    assert_eq!(v.len(), 5);
    let v = compile(Some("a-b"), &Mods::parse(&["windash"]).unwrap()).unwrap();
    assert_eq!(v.len(), 1);
}

#[test]
fn base64_forms() {
    let pats = |mods: &[&str]| -> Vec<String> {
        compile(Some("http://"), &Mods::parse(mods).unwrap())
            .unwrap()
            .into_iter()
            .map(|v| match v {
                ValueSpec::Str { pat, .. } => pat.display(),
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(pats(&["base64"]), vec!["ahr0cdovlw=="]);
    // pySigma's base64offset forms of "http://".
    assert_eq!(
        pats(&["base64offset", "contains"]),
        vec!["ahr0cdovl", "h0dha6ly", "odhrwoi8v"]
    );
    assert_eq!(pats(&["utf16le", "base64"]), vec!["aab0ahqacaa6ac8alwa="]);
}

#[test]
fn bad_values_are_errors() {
    assert!(Mods::parse(&["bogus"]).is_err());
    assert!(Mods::parse(&["i"]).is_err());
    assert!(Mods::parse(&["utf16le"]).is_err());
    assert!(compile(Some("(unclosed"), &Mods::parse(&["re"]).unwrap()).is_err());
    assert!(compile(Some("10.0.0.0/33"), &Mods::parse(&["cidr"]).unwrap()).is_err());
    assert!(compile(Some("x"), &Mods::parse(&["gt"]).unwrap()).is_err());
    assert!(compile(Some("maybe"), &Mods::parse(&["exists"]).unwrap()).is_err());
}

#[test]
fn cidr_set_agrees_with_nets() {
    let nets: Vec<Net> = [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "192.168.0.0/24",
        "192.168.1.0/24",
        "0.0.0.0/32",
        "fd00::/8",
        "::1/128",
    ]
    .iter()
    .map(|s| Net::parse(s).unwrap())
    .collect();
    let set = CidrSet::new(&nets);
    for ip in [
        "10.9.9.9",
        "10.1.2.3",
        "11.0.0.0",
        "192.168.0.255",
        "192.168.1.0",
        "192.168.2.0",
        "0.0.0.0",
        "0.0.0.1",
        "fd01::5",
        "fe00::1",
        "::1",
        "::2",
        "::ffff:10.0.0.1",
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(
            set.contains(ip),
            nets.iter().any(|n| n.contains(ip)),
            "{ip}"
        );
    }
    assert!(
        CidrSet::new(&[Net::parse("0.0.0.0/0").unwrap()])
            .contains("255.255.255.255".parse().unwrap())
    );
    assert!(CidrSet::new(&[Net::parse("::/0").unwrap()]).contains("ffff::1".parse().unwrap()));
}

#[test]
fn cidr_v4_v6() {
    let n = Net::parse("10.0.0.0/8").unwrap();
    assert!(n.contains("10.200.1.1".parse().unwrap()));
    assert!(!n.contains("11.0.0.1".parse().unwrap()));
    assert!(n.contains("::ffff:10.1.1.1".parse().unwrap()));
    let n6 = Net::parse("fe80::/10").unwrap();
    assert!(n6.contains("fe80::1".parse().unwrap()));
    assert!(!n6.contains("2001:db8::1".parse().unwrap()));
    assert!(
        Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap())
    );
}
