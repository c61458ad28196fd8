//! JSON serialization on the worker (`event::json::write_event`), one event of each
//! kind shaped like the mix's: a DNS query with a CNAME and addresses (EventID 22), a
//! TLS connection with SNI, ALPN, JA3 and JA4 (EventID 3), an HTTP request (EventID
//! 100). Throughput is in bytes of JSON written.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use c2tap::event::json::write_event;
use c2tap::event::{
    AppProtocol, Body, DnsQuery, Event, Header, HostnameSource, HttpRequest, NetworkConnect,
    Transport,
};
use c2tap::time::Timestamp;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn header(protocol: Transport, src: IpAddr, dst: IpAddr, dport: u16) -> Header {
    Header {
        time: Timestamp::from_secs_nanos(1_795_000_000, 123_456_789),
        computer: Arc::from("sensor-01"),
        source: Arc::from("bench-data/mix.pcap"),
        flow_id: 0x0100_0000_0000_1234,
        community_id: "1:DSpa2nehAtQKli3eZVzfw1H7gAI=".to_string(),
        protocol,
        src_ip: src,
        src_port: 51324,
        dst_ip: dst,
        dst_port: dport,
    }
}

fn events() -> Vec<(&'static str, Event)> {
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
    let dns = Event {
        header: header(
            Transport::Udp,
            v4,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
            53,
        ),
        body: Body::Dns(DnsQuery {
            query_name: "assets.edge.contoso.com".into(),
            query_type: "A".into(),
            query_status: "0".into(),
            query_results: "type: 5 cdn.debian.org;::ffff:93.184.215.14;::ffff:93.184.215.15;"
                .into(),
            rcode: Some(0),
            ttl: Some(300),
            flags: 0x8180,
            qclass: 1,
            truncated: false,
        }),
        alerts: Vec::new(),
    };
    let tls = Event {
        header: header(
            Transport::Tcp,
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0x91b6, 0x1921, 0x3fe0, 0x2259)),
            IpAddr::V6(Ipv6Addr::new(0x2600, 0x1900, 0, 0, 0xb6ab, 0xce44, 0x4079, 0xd4a1)),
            443,
        ),
        body: Body::Connect(NetworkConnect {
            destination_hostname: Some("assets.media.example.com".into()),
            hostname_source: Some(HostnameSource::TlsSni),
            app_protocol: AppProtocol::Tls,
            tls_sni: Some("assets.media.example.com".into()),
            tls_alpn: Some("h2,http/1.1".into()),
            tls_version: Some("TLS 1.3".into()),
            tls_ech: Some(false),
            ja3: Some("771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,43-35-11-45-51-23-17513-0-65281-13-5-10-16-18-27-21,29-23-24,0".into()),
            ja3_hash: Some("36ca1d9415a35673db9c072b037f4366".into()),
            ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
            ..NetworkConnect::default()
        }),
        alerts: Vec::new(),
    };
    let http = Event {
        header: header(
            Transport::Tcp,
            v4,
            IpAddr::V4(Ipv4Addr::new(171, 119, 248, 107)),
            80,
        ),
        body: Body::Http(HttpRequest {
            method: "GET".into(),
            host: Some("cdn.example.com".into()),
            uri: "/static/img?id=48213".into(),
            version: "HTTP/1.1".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
                .into(),
            referer: None,
            cookie: None,
            content_length: None,
            status: Some(200),
            destination_hostname: Some("cdn.example.com".into()),
            truncated: false,
        }),
        alerts: Vec::new(),
    };
    vec![
        ("dns_query", dns),
        ("tls_connect", tls),
        ("http_request", http),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    for (name, ev) in events() {
        let mut out = Vec::with_capacity(4096);
        write_event(&mut out, &ev);
        g.throughput(Throughput::Bytes(out.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                write_event(&mut out, black_box(&ev));
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
