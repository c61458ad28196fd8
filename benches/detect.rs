//! Detection throughput: every full and partial rule of `../shared/sigma/` (plus the
//! built-in set, its correlations loaded) against a realistic mix of DNS, connection
//! and HTTP events; and the correlations themselves (`correlate`): DNS events of
//! 200 clients, a third of them tunnel-service lookups or NXDOMAIN answers that feed the
//! built-in correlations, matched and filed in order on advancing packet time.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use c2tap::detect::sigma;
use c2tap::detect::{Engine, EngineOptions};
use c2tap::event::{
    AppProtocol, Body, DnsQuery, Event, Header, HostnameSource, HttpRequest, NetworkConnect,
    Transport,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn shared_dir() -> Option<PathBuf> {
    let local = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    [local, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.join("sigma").is_dir())
}

fn header(i: usize, dst_port: u16, proto: Transport) -> Header {
    Header {
        time: Default::default(),
        computer: Arc::from("sensor-1"),
        source: Arc::from("eth0"),
        flow_id: i as u64,
        community_id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".into(),
        protocol: proto,
        src_ip: format!("10.1.{}.{}", i % 200, i % 250 + 1)
            .parse::<IpAddr>()
            .unwrap(),
        src_port: 40000 + (i % 20000) as u16,
        dst_ip: format!(
            "{}.{}.{}.{}",
            20 + i % 180,
            i % 250,
            (i * 7) % 250,
            (i * 13) % 250
        )
        .parse::<IpAddr>()
        .unwrap(),
        dst_port,
    }
}

const NAMES: &[&str] = &[
    "www.google.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "cdn.jsdelivr.net",
    "api.github.com",
    "update.googleapis.com",
    "ocsp.digicert.com",
    "a1887.dscq.akamai.net",
    "wpad.corp.example",
    "teams.microsoft.com",
    "s3.amazonaws.com",
    "www.wikipedia.org",
    "d2lx8c0f1n2pl.cloudfront.net",
    "region1.v2.argotunnel.com",
    "fonts.gstatic.com",
    "time.windows.com",
];
const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Microsoft-CryptoAPI/10.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "curl/8.5.0",
    "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
];
const URIS: &[&str] = &[
    "/",
    "/index.html",
    "/msdownload/update/v3/static/trustedr/en/authrootstl.cab?8f2b1c3d4e5f6a7b",
    "/api/v2/items?page=2&sort=desc",
    "/wp-content/themes/x/style.css?ver=6.4.2",
    "/favicon.ico",
    "/MFEwTzBNMEswSTAJBgUrDgMCGgUABBQ",
    "/static/js/app.3f9c2b.js",
];

fn events() -> Vec<Event> {
    let mut out = Vec::new();
    for i in 0..600 {
        let name = NAMES[i % NAMES.len()].to_string();
        let ev = match i % 3 {
            0 => Event {
                header: header(i, 53, Transport::Udp),
                body: Body::Dns(DnsQuery {
                    query_name: name,
                    query_type: if i % 2 == 0 {
                        "A".into()
                    } else {
                        "HTTPS".into()
                    },
                    query_status: "0".into(),
                    query_results: "type:  5 edge.example.net;::ffff:93.184.216.34;".into(),
                    rcode: Some(0),
                    ttl: Some(300),
                    flags: 0x8180,
                    qclass: 1,
                    truncated: false,
                }),
                alerts: Vec::new(),
            },
            1 => Event {
                header: header(i, if i % 5 == 0 { 80 } else { 443 }, Transport::Tcp),
                body: Body::Connect(NetworkConnect {
                    destination_hostname: Some(name.clone()),
                    hostname_source: Some(HostnameSource::TlsSni),
                    app_protocol: AppProtocol::Tls,
                    tls_sni: Some(name),
                    tls_alpn: Some("h2,http/1.1".into()),
                    tls_version: Some("TLS 1.3".into()),
                    tls_ech: Some(false),
                    ja3_hash: Some("cd08e31494f9531f560d64c695473da9".into()),
                    ja4: Some("t13d1516h2_8daaf6152771_02713d6af862".into()),
                    ..Default::default()
                }),
                alerts: Vec::new(),
            },
            _ => Event {
                header: header(i, 80, Transport::Tcp),
                body: Body::Http(HttpRequest {
                    method: if i % 7 == 0 {
                        "POST".into()
                    } else {
                        "GET".into()
                    },
                    host: Some(name.clone()),
                    uri: URIS[i % URIS.len()].into(),
                    version: "HTTP/1.1".into(),
                    user_agent: UAS[i % UAS.len()].into(),
                    referer: if i % 4 == 0 {
                        Some(format!("http://{name}/"))
                    } else {
                        None
                    },
                    cookie: None,
                    content_length: None,
                    status: Some(200),
                    destination_hostname: Some(name),
                    truncated: false,
                }),
                alerts: Vec::new(),
            },
        };
        out.push(ev);
    }
    out
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn bench(c: &mut Criterion) {
    let Some(dir) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let mut set = sigma::load_paths(&[dir.join("sigma")]);
    let builtin = sigma::builtin();
    set.rules.extend(builtin.rules);
    set.correlations.extend(builtin.correlations);
    let (engine, failures) = Engine::build(&set.rules, &set.correlations, EngineOptions::default());
    assert!(failures.is_empty(), "{failures:?}");
    eprintln!("engine: {:?}", engine.stats());
    let evs = events();
    let mut alerts = Vec::new();
    // The machine is shared: wall-clock figures swing with other load, so also report
    // events per second of this thread's own CPU time, which load barely moves.
    for round in 0..3 {
        let start = thread_cpu();
        let mut n = 0u64;
        while thread_cpu() - start < 1.0 {
            for ev in &evs {
                alerts.clear();
                engine.evaluate(ev, &mut alerts);
            }
            n += evs.len() as u64;
        }
        let secs = thread_cpu() - start;
        eprintln!(
            "cpu-time round {round}: {:.0} events/s on one core",
            n as f64 / secs
        );
    }
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("mixed_events", |b| {
        b.iter(|| {
            alerts.clear();
            for ev in &evs {
                engine.evaluate(ev, &mut alerts);
            }
            alerts.len()
        })
    });
    for (name, kind) in [("dns", 0), ("connect", 1), ("http", 2)] {
        let subset: Vec<&Event> = evs.iter().skip(kind).step_by(3).collect();
        g.throughput(Throughput::Elements(subset.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                alerts.clear();
                for ev in &subset {
                    engine.evaluate(*ev, &mut alerts);
                }
                alerts.len()
            })
        });
    }
    g.finish();
    correlate(&engine);
}

/// DNS events for the correlation benchmark: every third a tunnel-service lookup, every
/// sixth an NXDOMAIN answer, times 10 ms apart, 200 clients.
fn correlation_events() -> Vec<Event> {
    const TUNNELS: &[&str] = &[
        "region1.v2.argotunnel.com",
        "words-random-four-tunnel.trycloudflare.com",
        "connect.ngrok-agent.com",
        "x-1.devtunnels.ms",
        "abc.localto.net",
    ];
    (0..6000)
        .map(|i| {
            let mut h = header(i, 53, Transport::Udp);
            h.time = c2tap::time::Timestamp::from_millis(1_795_341_600_000 + 10 * i as i64);
            let (name, status) = match i % 6 {
                0 | 3 => (TUNNELS[i % TUNNELS.len()].to_string(), "0"),
                5 => (format!("q{i}.nonexistent.example"), "9003"),
                _ => (NAMES[i % NAMES.len()].to_string(), "0"),
            };
            Event {
                header: h,
                body: Body::Dns(DnsQuery {
                    query_name: name,
                    query_type: "A".into(),
                    query_status: status.into(),
                    query_results: "-".into(),
                    rcode: Some(if status == "0" { 0 } else { 3 }),
                    flags: 0x8180,
                    qclass: 1,
                    ..Default::default()
                }),
                alerts: Vec::new(),
            }
        })
        .collect()
}

fn correlate(engine: &Engine) {
    let evs = correlation_events();
    let mut alerts = Vec::new();
    let mut hits = Vec::new();
    let mut fired = Vec::new();
    let mut g = Criterion::default()
        .sample_size(20)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    let mut g = g.benchmark_group("correlate");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("dns_rules_only", |b| {
        b.iter(|| {
            for ev in &evs {
                alerts.clear();
                engine.evaluate(ev, &mut alerts);
            }
            alerts.len()
        })
    });
    g.bench_function("dns_rules_and_correlations", |b| {
        // A fresh correlator per run is a fresh worker; the shared tables carry over,
        // as they do in a long capture.
        let mut corr = engine.correlator();
        b.iter(|| {
            fired.clear();
            for ev in &evs {
                alerts.clear();
                hits.clear();
                engine.evaluate_hits(ev, &mut alerts, Some(&mut hits));
                if !hits.is_empty() {
                    corr.observe(ev, ev.header.time, Some(&ev.header), &hits, &mut fired);
                }
            }
            fired.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
