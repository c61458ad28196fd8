//! Synthetic query sequences: the three kinds, the benign near misses, the window, the
//! caps. Names are made by a seeded generator, so every run sees the same ones.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::float_cmp
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

const A: u16 = 1;
const AAAA: u16 = 28;
const PTR: u16 = 12;
const SRV: u16 = 33;
const NOERROR: Option<u16> = Some(0);
const NX: Option<u16> = Some(3);

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
}

/// splitmix64: a fixed, seeded stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn text(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const HEX: &[u8] = b"0123456789abcdef";
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const BASE64ISH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

/// One query at `ms` milliseconds.
fn q(ms: i64, client: IpAddr, qname: &str, qtype: u16, rcode: Option<u16>) -> DnsObservation<'_> {
    DnsObservation {
        time: Timestamp::from_millis(ms),
        client,
        qname,
        qtype,
        rcode,
    }
}

fn run<'a>(
    tr: &mut DnsTunnelTracker,
    seq: impl IntoIterator<Item = DnsObservation<'a>>,
) -> Vec<DnsTunnelFinding> {
    seq.into_iter().filter_map(|o| tr.observe(&o)).collect()
}

fn tracker() -> DnsTunnelTracker {
    DnsTunnelTracker::new(TunnelConfig::default())
}

/// iodine-like: NULL queries of three long Base64-ish labels under `t.<domain>`, every
/// 5 ms, all answered.
fn iodine_names(rng: &mut Rng, n: usize, domain: &str) -> Vec<String> {
    (0..n)
        .map(|_| {
            let d: Vec<String> = (0..3).map(|_| rng.text(BASE64ISH, 60)).collect();
            format!("{}.t.{domain}", d.join("."))
        })
        .collect()
}

#[test]
fn iodine_like_stream_is_a_tunnel() {
    let mut rng = Rng(1);
    let names = iodine_names(&mut rng, 3000, "tunnel-example.com");
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 5, ip(1), n, QTYPE_NULL, NOERROR)),
    );
    assert!(!found.is_empty());
    let f = &found[0];
    assert_eq!(f.kind, TunnelKind::Tunnel);
    assert_eq!(f.domain, "tunnel-example.com");
    assert_eq!(f.client, ip(1));
    assert!(f.distinct_subdomains >= 50, "{f:?}");
    assert_eq!(f.qtypes.null, f.queries);
    assert_eq!(f.qtype_share_txt_null_cname_mx, 1.0);
    assert!(f.mean_label_entropy > 5.0, "{f:?}");
    assert!(f.mean_name_len > 180.0 && f.max_name_len <= 255, "{f:?}");
    assert!(f.reason.contains("answers coming back"), "{}", f.reason);
    // Once at the threshold, once an order of magnitude later: 3000 distinct in total.
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].distinct_subdomains >= 10 * f.distinct_subdomains);
    assert_eq!(tr.counters().findings, 2);
}

#[test]
fn short_null_polls_at_volume_are_a_tunnel() {
    // iodine in lazy mode polls with short names: no long subdomain, but NULL at volume.
    let mut rng = Rng(2);
    let names: Vec<String> = (0..400)
        .map(|_| format!("p{}.t.tunnel-example.com", rng.text(LETTERS, 7)))
        .collect();
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 50, ip(1), n, QTYPE_NULL, NOERROR)),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, TunnelKind::Tunnel);
    assert!(
        found[0].reason.starts_with("sustained"),
        "{}",
        found[0].reason
    );
    assert!(found[0].distinct_subdomains >= 100);
}

/// `dns-txt-exfil`'s shape: a file in lowercase base32, three 60-character labels and a
/// chunk number a question, TXT, all NXDOMAIN, in one burst.
fn base32_exfil_names(rng: &mut Rng, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d: Vec<String> = (0..3).map(|_| rng.text(BASE32, 60)).collect();
            format!("{}.{i:04x}.x.exfil-example.com", d.join("."))
        })
        .collect()
}

#[test]
fn base32_txt_exfiltration_is_exfil() {
    let mut rng = Rng(3);
    let names = base32_exfil_names(&mut rng, 313);
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 / 8, ip(2), n, QTYPE_TXT, NX)),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.kind, TunnelKind::Exfil);
    assert_eq!(f.domain, "exfil-example.com");
    assert_eq!((f.nxdomain, f.noerror), (f.queries, 0));
    assert_eq!(f.qtypes.txt, f.queries);
    assert!(f.mean_label_entropy > 4.5, "{f:?}");
    assert!(f.reason.contains("one-way"), "{}", f.reason);
    // A burst counts as one minute: bytes per minute are the bytes.
    assert!(f.name_bytes_per_min >= 180.0 * f.queries as f64, "{f:?}");
    assert_eq!(f.window_secs, 600.0);
}

#[test]
fn slow_exfiltration_is_caught_within_the_window() {
    // One answered A query every 10 s: 60 in 10 minutes.
    let mut rng = Rng(4);
    let names = base32_exfil_names(&mut rng, 60);
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 10_000, ip(2), n, A, NOERROR)),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, TunnelKind::Exfil);
    assert!(found[0].reason.contains("low rate"), "{}", found[0].reason);
    assert!(found[0].queries_per_min < 10.0);
}

#[test]
fn dnscat2_without_a_domain_groups_by_its_first_label() {
    // dnscat2 talking straight to its server: `dnscat.<hex>`, no real TLD.
    let mut rng = Rng(5);
    let names: Vec<String> = (0..150)
        .map(|_| format!("dnscat.{}.{}", rng.text(HEX, 60), rng.text(HEX, 20)))
        .collect();
    let types = [QTYPE_TXT, QTYPE_CNAME, QTYPE_MX];
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 400, ip(3), n, types[i % 3], NOERROR)),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].kind, found[0].domain.as_str()),
        (TunnelKind::Tunnel, "dnscat")
    );
}

/// Random-letter second-level labels of 10–16 characters under a few TLDs.
fn dga_names(rng: &mut Rng, n: usize) -> Vec<String> {
    let tlds = ["com", "net", "org", "ru", "info"];
    (0..n)
        .map(|i| {
            let len = 10 + (rng.next() % 7) as usize;
            format!("{}.{}", rng.text(LETTERS, len), tlds[i % tlds.len()])
        })
        .collect()
}

#[test]
fn nxdomain_burst_over_random_domains_is_dga() {
    let mut rng = Rng(6);
    let names = dga_names(&mut rng, 40);
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 500, ip(4), n, A, NX)),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.kind, TunnelKind::Dga);
    assert!(f.distinct_nx_domains >= 20, "{f:?}");
    // The most recent NXDOMAIN registered domain, lowercase.
    let i = names.iter().position(|n| *n == f.domain).unwrap();
    assert!((19..40).contains(&i), "{i}");
    assert_eq!(f.nxdomain, i as u64 + 1);
    assert!(f.reason.contains("NXDOMAIN for"), "{}", f.reason);
}

#[test]
fn nxdomain_for_word_like_domains_is_not_dga() {
    // A DNS filter answering NXDOMAIN for blocked ad domains: many, but human-made names.
    let words = [
        "newsportal",
        "weatherfront",
        "shoppingcenter",
        "analyticsone",
        "adserverhub",
        "marketingcloud",
        "tagmanager",
        "videoplayer",
        "socialwidget",
        "audiencemetrics",
        "pixeltracker",
        "recommendations",
        "contentdelivery",
        "sponsoredlinks",
        "affiliatenet",
        "partnerads",
        "displaynetwork",
        "mediaplanner",
        "bannerexchange",
        "clickmeasure",
        "impressioncount",
        "retargeting",
        "audiencesegment",
        "bidexchange",
        "programmatic",
    ];
    let names: Vec<String> = words.iter().map(|w| format!("static.{w}.com")).collect();
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 1000, ip(5), n, A, NX)),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(tr.counters().clients, 1);
}

#[test]
fn chrome_probes_and_a_few_nxdomains_are_not_dga() {
    let mut rng = Rng(7);
    let mut names: Vec<String> = (0..3).map(|_| rng.text(LETTERS, 10)).collect();
    // The same probes with a search domain appended: one registered domain.
    names.extend((0..3).map(|_| format!("{}.corp.example.com", rng.text(LETTERS, 10))));
    // Typos and a dead ad domain or two.
    names.extend(dga_names(&mut rng, 5));
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 100, ip(6), n, A, NX)),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        tr.counters().skipped,
        3,
        "single labels have no registered domain"
    );
}

#[test]
fn cdn_and_cloud_hashes_do_not_alert() {
    // One busy client: CloudFront distributions, Akamai edge names, YouTube caches, S3.
    let mut rng = Rng(8);
    let mut names = Vec::new();
    for _ in 0..300 {
        names.push(format!("d{}.cloudfront.net", rng.text(HEX, 13)));
        names.push(format!("e{}.a.akamaiedge.net", rng.next() % 100_000));
        names.push(format!(
            "r{}---sn-{}.googlevideo.com",
            rng.next() % 9,
            rng.text(LETTERS, 8)
        ));
        names.push(format!("{}.s3.amazonaws.com", rng.text(HEX, 12)));
        names.push(format!(
            "{}.safeframe.googlesyndication.com",
            rng.text(HEX, 32)
        ));
    }
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names.iter().enumerate().map(|(i, n)| {
            let t = if i % 2 == 0 { A } else { AAAA };
            q(i as i64 * 100, ip(7), n, t, NOERROR)
        }),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(
        tr.counters().allowed,
        300,
        "safeframe names are allow-listed"
    );
}

#[test]
fn mdns_service_discovery_and_srv_storms_are_skipped() {
    let mut names = vec![
        "_services._dns-sd._udp.local".to_owned(),
        "b._dns-sd._udp.example.com".to_owned(),
        "lb._dns-sd._udp.0.168.192.in-addr.arpa".to_owned(),
    ];
    for i in 0..500 {
        names.push(format!("Printer-{i:04x}-{:08x}._ipp._tcp.local", i * 7919));
        names.push(format!(
            "_ldap._tcp.site{i}._sites.dc._msdcs.corp.example.com"
        ));
        names.push(format!("_http._tcp.host{i}.example.com"));
    }
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names.iter().enumerate().map(|(i, n)| {
            let t = if i % 2 == 0 { PTR } else { SRV };
            q(i as i64 * 10, ip(8), n, t, NX)
        }),
    );
    assert!(found.is_empty(), "{found:?}");
    let c = tr.counters();
    assert_eq!(
        (c.skipped, c.domains, c.clients),
        (names.len() as u64, 0, 0)
    );
}

#[test]
fn reverse_and_resolver_names_are_skipped() {
    let mut rng = Rng(9);
    let mut names = vec![
        "_dns.resolver.arpa".to_owned(),
        "router.home.arpa".to_owned(),
    ];
    for _ in 0..500 {
        let v4: Vec<String> = (0..4).map(|_| (rng.next() % 256).to_string()).collect();
        names.push(format!("{}.in-addr.arpa", v4.join(".")));
        // 32 nibbles: 72 characters of hex, the look of a tunnel.
        let v6: Vec<String> = rng.text(HEX, 32).chars().map(String::from).collect();
        names.push(format!("{}.ip6.arpa", v6.join(".")));
        names.push(format!("{}.ip6.int", v6.join(".")));
    }
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64, ip(9), n, PTR, NX)),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(tr.counters().domains, 0);
}

#[test]
fn antivirus_reputation_lookups_are_allow_listed() {
    let mut rng = Rng(10);
    let names: Vec<String> = (0..300)
        .flat_map(|_| {
            [
                format!(
                    "{}.{}.avqs.mcafee.com",
                    rng.text(BASE32, 40),
                    rng.text(HEX, 32)
                ),
                format!("{}.malware.hash.cymru.com", rng.text(HEX, 32)),
                format!("{}.4.3.sophosxl.net", rng.text(HEX, 40)),
            ]
        })
        .collect();
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 10, ip(10), n, QTYPE_TXT, NOERROR)),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(tr.counters().allowed, 900);

    // Without the built-in list the same traffic is a tunnel: the list is what spares it.
    let cfg = TunnelConfig {
        builtin_allow_list: false,
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(cfg);
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 10, ip(10), n, QTYPE_TXT, NOERROR)),
    );
    assert!(found.iter().any(|f| f.domain == "mcafee.com"), "{found:?}");
}

#[test]
fn user_allow_list_matches_the_domain_and_names_below() {
    let mut rng = Rng(11);
    let names = iodine_names(&mut rng, 200, "tunnel-example.com");
    for allow in ["Tunnel-Example.COM.", "t.tunnel-example.com"] {
        let cfg = TunnelConfig {
            allow_domains: vec![allow.to_owned()],
            ..TunnelConfig::default()
        };
        let mut tr = DnsTunnelTracker::new(cfg);
        let found = run(
            &mut tr,
            names
                .iter()
                .enumerate()
                .map(|(i, n)| q(i as i64, ip(1), n, QTYPE_NULL, NOERROR)),
        );
        assert!(found.is_empty(), "{allow}: {found:?}");
        assert_eq!(tr.counters().allowed, 200, "{allow}");
    }
}

#[test]
fn case_randomisation_does_not_make_names_distinct() {
    // Resolvers' 0x20 randomisation: one name in many cases is one subdomain.
    let base = "abcdefghijklmnopqrstuvwxyz0123456789abcdef.example.com";
    let mut rng = Rng(12);
    let names: Vec<String> = (0..500)
        .map(|_| {
            base.chars()
                .map(|c| {
                    if rng.next().is_multiple_of(2) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect();
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 10, ip(1), n, QTYPE_TXT, NOERROR)),
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(tr.counters().domains, 1);
}

#[test]
fn alerts_once_per_window_and_again_after_it() {
    // 40 distinct long names a minute, for 30 minutes: past 50 within the first two.
    let mut rng = Rng(13);
    let names = base32_exfil_names(&mut rng, 1200);
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names
            .iter()
            .enumerate()
            .map(|(i, n)| q(i as i64 * 1500, ip(2), n, QTYPE_TXT, NX)),
    );
    assert!(found.iter().all(|f| f.kind == TunnelKind::Exfil));
    // The window holds at most ~400 distinct names, never 10× the first alert's ~50:
    // one alert per 10 minutes, so three in 30.
    assert_eq!(found.len(), 3, "{found:?}");
    for pair in found.windows(2) {
        let gap = pair[1].last_seen.as_nanos() - pair[0].last_seen.as_nanos();
        assert!(gap >= Duration::from_secs(600).as_nanos(), "{gap}");
    }
}

#[test]
fn a_kind_change_is_a_new_alert() {
    // Exfil first (one-way), then the same domain starts answering at volume: tunnel.
    let mut rng = Rng(14);
    let names = base32_exfil_names(&mut rng, 400);
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names.iter().enumerate().map(|(i, n)| {
            let rcode = if i < 60 { NX } else { NOERROR };
            q(i as i64 * 20, ip(2), n, QTYPE_TXT, rcode)
        }),
    );
    let kinds: Vec<TunnelKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [TunnelKind::Exfil, TunnelKind::Tunnel], "{found:?}");
}

#[test]
fn the_window_slides() {
    // 40 long names, a pause longer than the window, 40 more: never 50 in one window.
    let mut rng = Rng(15);
    let names = base32_exfil_names(&mut rng, 80);
    let seq = |pause_ms: i64| {
        names
            .iter()
            .enumerate()
            .map(move |(i, n)| {
                let t = i as i64 * 100 + if i >= 40 { pause_ms } else { 0 };
                q(t, ip(2), n, QTYPE_TXT, NX)
            })
            .collect::<Vec<_>>()
    };
    let mut tr = tracker();
    assert!(run(&mut tr, seq(11 * 60_000)).is_empty());
    // The same 80 with a pause of 5 minutes fall in one window.
    let mut tr = tracker();
    assert_eq!(run(&mut tr, seq(5 * 60_000)).len(), 1);
}

#[test]
fn repeated_names_across_sub_windows_count_once() {
    // 30 names asked again every minute for 10 minutes: 300 queries, 30 distinct.
    let mut rng = Rng(16);
    let names = base32_exfil_names(&mut rng, 30);
    let mut tr = tracker();
    let seq = (0..10).flat_map(|m| {
        names
            .iter()
            .enumerate()
            .map(move |(i, n)| q(m * 60_000 + i as i64, ip(2), n, QTYPE_TXT, NOERROR))
    });
    assert!(run(&mut tr, seq).is_empty());
    let entry = tr.domains.slab.iter().next().unwrap();
    let w = DomainWindow::of(&entry.e.buckets);
    // The pair's first query only opened its door.
    assert_eq!(w.queries, 299);
    assert!((28..=32).contains(&w.distinct), "{}", w.distinct);
}

#[test]
fn time_going_backwards_is_harmless() {
    let mut rng = Rng(17);
    let names = iodine_names(&mut rng, 300, "tunnel-example.com");
    let mut tr = tracker();
    // Times jump back and forth by up to an hour, and one is before 1970.
    let found = run(
        &mut tr,
        names.iter().enumerate().map(|(i, n)| {
            let t = 10_000_000 + if i % 2 == 0 { i as i64 } else { -3_600_000 };
            let t = if i == 7 { -5 } else { t };
            q(t, ip(1), n, QTYPE_NULL, NOERROR)
        }),
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, TunnelKind::Tunnel);
    assert!(found[0].first_seen <= found[0].last_seen);
    // Extreme times do not overflow anything.
    for t in [i64::MIN, i64::MAX, 0, i64::MIN] {
        let o = DnsObservation {
            time: Timestamp(t),
            ..q(0, ip(1), &names[0], QTYPE_NULL, NOERROR)
        };
        let _ = tr.observe(&o);
    }
}

#[test]
fn least_recently_seen_domain_is_evicted() {
    let cfg = TunnelConfig {
        max_domains: 3,
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(cfg);
    for (t, d) in [
        (0, "a.one.com"),
        (1, "a.two.com"),
        (2, "a.three.com"),
        (3, "b.one.com"),
    ] {
        // Twice: a pair's entry comes with its second query.
        tr.observe(&q(t, ip(1), d, A, NOERROR));
        tr.observe(&q(t, ip(1), d, A, NOERROR));
    }
    // `one.com` was seen last-but-one; `two.com` is the least recently seen.
    tr.observe(&q(4, ip(1), "a.four.com", A, NOERROR));
    assert_eq!(tr.counters().evictions, 0, "a first query takes no entry");
    tr.observe(&q(4, ip(1), "a.four.com", A, NOERROR));
    let held: Vec<&str> = tr.domains.slab.iter().map(|n| &*n.e.domain).collect();
    assert!(
        held.contains(&"one.com") && !held.contains(&"two.com"),
        "{held:?}"
    );
    let c = tr.counters();
    assert_eq!((c.domains, c.evictions, c.expired), (3, 1, 0));
    // The same domain from another client is another entry.
    tr.observe(&q(5, ip(2), "a.four.com", A, NOERROR));
    tr.observe(&q(5, ip(2), "a.four.com", A, NOERROR));
    assert_eq!(tr.counters().evictions, 2);
}

#[test]
fn idle_entries_expire_before_any_eviction() {
    let cfg = TunnelConfig {
        max_domains: 2,
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(cfg);
    // Each pair asked twice: the second query gives it its entry.
    for (t, d) in [(0, "a.one.com"), (1, "a.two.com"), (700_000, "a.three.com")] {
        tr.observe(&q(t, ip(1), d, A, NOERROR));
        tr.observe(&q(t, ip(1), d, A, NOERROR));
    }
    let c = tr.counters();
    assert_eq!((c.domains, c.evictions, c.expired), (1, 0, 2));
    assert_eq!(c.first_queries, 3);
}

#[test]
fn two_hundred_thousand_domains_stay_within_the_caps() {
    let cfg = TunnelConfig::default();
    let (max_domains, max_memory) = (cfg.max_domains as u64, cfg.max_memory_bytes as u64);
    let mut tr = DnsTunnelTracker::new(cfg);
    let mut rng = Rng(18);
    let mut found = 0;
    for i in 0..200_000u64 {
        // Random names under random domains, many NXDOMAIN, from 64 clients: the
        // "random DNS names" flood of DESIGN §6.
        let name = format!("{}.{}.com", rng.text(BASE32, 40), rng.text(LETTERS, 12));
        let rcode = if i % 3 == 0 { NX } else { NOERROR };
        let client = ip((i % 64) as u8);
        // Each asked twice (a retry): the second query gives the pair its entry, the
        // worst case for the tables.
        for _ in 0..2 {
            found += usize::from(tr.observe(&q(i as i64, client, &name, A, rcode)).is_some());
        }
        if i % 10_000 == 0 {
            assert!(tr.counters().memory_bytes <= max_memory);
        }
    }
    let c = tr.counters();
    // Full: at the entry cap, or a little under it where the memory cap (less the
    // doorkeeper's 32nd and the cut cache's 128th) comes first.
    assert!(
        c.domains <= max_domains && c.domains >= max_domains * 98 / 100,
        "{c:?}"
    );
    assert_eq!(c.domains + c.evictions + c.expired, 200_000, "{c:?}");
    assert!(c.memory_bytes <= max_memory, "{c:?}");
    assert!(c.clients <= 64);
    // Each client has ~1000 random NXDOMAIN domains in 200 s: DGA at 20 and again at
    // 200 (ten times worse), never a tunnel (each name is its own domain).
    assert_eq!(found as u64, c.findings);
    assert_eq!(found, 2 * 64);
}

/// One-off names take no entry, so a flood of them neither fills the table nor pushes a
/// tunnel's entry out of it.
#[test]
fn one_off_names_cannot_push_a_tunnel_out() {
    let cfg = TunnelConfig {
        max_domains: 8,
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(cfg);
    let mut rng = Rng(21);
    let names = iodine_names(&mut rng, 300, "tunnel-example.com");
    let mut found = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let t = i as i64 * 20;
        found.extend(tr.observe(&q(t, ip(1), n, QTYPE_NULL, NOERROR)));
        for j in 0..100 {
            let other = format!("www.{}.com", rng.text(LETTERS, 10));
            tr.observe(&q(t + j % 20, ip(1), &other, A, NOERROR));
        }
    }
    assert!(
        found.iter().any(|f| f.kind == TunnelKind::Tunnel),
        "{found:?}"
    );
    let c = tr.counters();
    assert!(c.domains <= 8 && c.evictions < 100, "{c:?}");
    assert!(c.first_queries >= 29_000, "{c:?}");
}

#[test]
fn a_small_memory_budget_lowers_the_entry_caps() {
    let cfg = TunnelConfig {
        max_memory_bytes: 64 << 10,
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(cfg);
    let mut rng = Rng(19);
    for i in 0..5000u64 {
        // Long registered domains use the heap budget faster than the slots.
        let name = format!("www.{}.com", rng.text(LETTERS, 60));
        for _ in 0..2 {
            tr.observe(&q(i as i64, ip((i % 200) as u8), &name, A, NX));
        }
    }
    let c = tr.counters();
    assert!(c.memory_bytes <= 64 << 10, "{c:?}");
    assert!(c.domains > 10 && c.domains < 100, "{c:?}");
    assert!(c.clients >= 1 && c.evictions > 4000, "{c:?}");
}

#[test]
fn sketch_estimates_distinct_counts() {
    for (n, tolerance) in [
        (1u64, 0.0),
        (10, 0.1),
        (50, 0.1),
        (100, 0.1),
        (150, 0.15),
        (10_000, 0.4),
    ] {
        let mut regs = [0u8; HLL_M];
        for i in 0..n {
            hll_add(&mut regs, fingerprint(&format!("name-{i}")));
            // Adding again changes nothing.
            hll_add(&mut regs, fingerprint(&format!("NAME-{i}")));
        }
        let est = hll_estimate(&regs) as f64;
        let err = (est - n as f64).abs() / n as f64;
        assert!(err <= tolerance, "n={n} est={est}");
    }
    assert_eq!(hll_estimate(&[0u8; HLL_M]), 0);
    assert!(hll_estimate(&[59u8; HLL_M]) > 1_000_000_000);
}

#[test]
fn escapes_count_as_one_byte() {
    let f = NameFigures::of("a\\200b\\.c.t.example.com.", "a\\200b\\.c.t");
    // `a`, 0xC8, `b`, `.`, `c`, `t`: six bytes below the domain; 3 dots between labels.
    assert_eq!(f.sub_bytes, 6);
    assert_eq!(f.wire_len, 6 + 2 + 11);
    assert_eq!(NameFigures::of("\\", "\\").sub_bytes, 1);
    assert_eq!(decimal3(b"256", 0), None);
    assert_eq!(decimal3(b"25", 0), None);
}

#[test]
fn names_without_a_real_tld_group_by_first_label() {
    assert!(plausible_tld("com") && plausible_tld("xn--p1ai") && plausible_tld("local"));
    assert!(!plausible_tld("f97c01f5006c") && !plausible_tld(&"a".repeat(25)));
    let g = group("dnscat.f97c01f5006c798b8d6e990002e3772bc8").unwrap();
    assert_eq!(
        (g.domain, g.subdomain, g.real_tld),
        ("dnscat", "f97c01f5006c798b8d6e990002e3772bc8", false)
    );
    let g = group("a.b.Example.CO.UK.").unwrap();
    assert_eq!(
        (g.domain, g.subdomain, g.real_tld),
        ("Example.CO.UK", "a.b", true)
    );
    for skipped in [
        "localhost",
        "1.2.3.4",
        "co.uk",
        "x.onion",
        "_esni.example.com",
        "a..b",
    ] {
        assert!(group(skipped).is_none(), "{skipped}");
    }
}

#[test]
fn odd_configurations_are_harmless() {
    let nan = TunnelConfig {
        window: Duration(0),
        min_distinct: 0,
        min_long_share: f64::NAN,
        min_entropy: f64::NAN,
        min_noerror_share: f64::NAN,
        tunnel_min_queries_per_min: f64::NAN,
        odd_type_share: f64::NAN,
        types_only_share: f64::NAN,
        dga_max_vowel_share: f64::NAN,
        worse_factor: f64::NAN,
        max_domains: 0,
        max_clients: 0,
        max_memory_bytes: 0,
        allow_domains: vec![String::new(), ".".to_owned()],
        ..TunnelConfig::default()
    };
    let mut tr = DnsTunnelTracker::new(nan);
    let mut rng = Rng(20);
    let names = iodine_names(&mut rng, 100, "tunnel-example.com");
    for (i, n) in names.iter().enumerate() {
        assert!(tr.observe(&q(i as i64, ip(1), n, QTYPE_NULL, NX)).is_none());
    }
    let c = tr.counters();
    assert!(c.domains <= 1 && c.clients <= 1, "{c:?}");
}

#[test]
fn ipv6_clients_are_keys_like_any_other() {
    let mut rng = Rng(21);
    let names = iodine_names(&mut rng, 100, "tunnel-example.com");
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let mut tr = tracker();
    let found = run(
        &mut tr,
        names.iter().enumerate().map(|(i, n)| {
            q(
                i as i64,
                if i % 2 == 0 { v6 } else { ip(1) },
                n,
                QTYPE_NULL,
                NOERROR,
            )
        }),
    );
    // 50 names each: both reach the threshold with their last name, if the sketch says so.
    assert!(found.iter().all(|f| f.kind == TunnelKind::Tunnel));
    assert_eq!(tr.counters().domains, 2);
}

proptest! {
    #[test]
    fn observe_is_total(
        names in proptest::collection::vec("[a-zA-Z0-9._\\\\-]{0,80}", 1..40),
        times in proptest::collection::vec(any::<i64>(), 1..40),
        qtype in any::<u16>(),
        rcode in proptest::option::of(any::<u16>()),
        max_domains in 0usize..4,
    ) {
        let cfg = TunnelConfig { max_domains, max_clients: max_domains, ..TunnelConfig::default() };
        let mut tr = DnsTunnelTracker::new(cfg);
        for (name, t) in names.iter().zip(times.iter().cycle()) {
            let o = DnsObservation { time: Timestamp(*t), client: ip(1), qname: name, qtype, rcode };
            let _ = tr.observe(&o);
        }
        let c = tr.counters();
        prop_assert!(c.domains <= max_domains.max(1) as u64);
    }

    #[test]
    fn observe_survives_any_string(name in any::<String>()) {
        let mut tr = tracker();
        let _ = tr.observe(&q(0, ip(1), &name, QTYPE_TXT, NX));
    }
}

#[test]
fn entry_sizes_are_what_the_caps_assume() {
    // The module doc and the default caps assume these (8192 domains in 7 MiB).
    assert!(size_of::<DomainBucket>() <= 136);
    let per_domain =
        size_of::<Option<Node<DomainEntry>>>() + 2 * INDEX_BYTES_PER_SLOT + DOMAIN_HEAP_PER_ENTRY;
    let cfg = TunnelConfig::default();
    assert!(per_domain * cfg.max_domains <= cfg.max_memory_bytes - cfg.max_memory_bytes / 8);
    let per_client = size_of::<Option<Node<ClientEntry>>>() + 2 * INDEX_BYTES_PER_SLOT;
    assert!(per_client * cfg.max_clients <= cfg.max_memory_bytes / 8);
}

#[test]
fn query_histogram_is_oldest_first_and_skips_cleared_sub_windows() {
    let mut buckets = [DomainBucket::EMPTY; BUCKETS];
    let mut current = 0i64;
    // Sub-windows 10, 11 and 13 get 1, 2 and 4 queries; 12 none.
    for (e, n) in [(10i64, 1u32), (11, 2), (13, 4)] {
        let slot = advance(&mut buckets, &mut current, e, DomainBucket::EMPTY);
        buckets[slot].queries = n;
    }
    assert_eq!(queries_by_age(&buckets, current), [0, 1, 2, 0, 4]);
    // Seven sub-windows later only the newest holds queries.
    let slot = advance(&mut buckets, &mut current, 20, DomainBucket::EMPTY);
    buckets[slot].queries = 9;
    assert_eq!(queries_by_age(&buckets, current), [0, 0, 0, 0, 9]);
}

#[test]
fn the_cut_cache_gives_what_cutting_gives() {
    let mut cache = CutCache::new(64 << 10);
    let names = [
        "a.b.example.com.",
        "A.B.Example.COM",
        "x.abcd.trycloudflare.com",
        "example.com",
        "1.0.0.127.in-addr.arpa",
        "_ldap._tcp.example.com",
        "printer.local",
        "host.lan",
        "com",
        "",
        "a..b.com",
    ];
    // Twice each: the first cuts and fills the slot, the second reads it back.
    for _ in 0..2 {
        for name in names {
            let (cached, cut) = (cache.group(name), group(name));
            assert_eq!(
                cached.map(|g| (g.domain, g.subdomain, g.real_tld)),
                cut.map(|g| (g.domain, g.subdomain, g.real_tld)),
                "{name}"
            );
        }
    }
    assert_eq!(CutCache::new(64 << 10).memory_bytes(), 64 << 10);
    assert_eq!(CutCache::new(0).memory_bytes(), MIN_CUT_CACHE_SLOTS * 16);
}

proptest! {
    #[test]
    fn the_cut_cache_agrees_with_cutting(names in proptest::collection::vec("[a-zA-Z0-9._-]{0,40}", 1..40)) {
        let mut cache = CutCache::new(256);
        for name in names.iter().chain(names.iter()) {
            let (cached, cut) = (cache.group(name), group(name));
            prop_assert_eq!(
                cached.map(|g| (g.domain, g.subdomain, g.real_tld)),
                cut.map(|g| (g.domain, g.subdomain, g.real_tld))
            );
        }
    }
}
