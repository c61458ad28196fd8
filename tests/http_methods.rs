//! Issue 14, HTTP: any RFC 9110 token is a method (RPC over HTTP's `RPC_IN_DATA`, WebDAV's
//! `PROPFIND`, a C2 framework's own verb), and an HTTP/0.9 simple request (`GET /` CRLF) is
//! a request. Both are HttpRequest events and match rules. The capture is built here: four
//! connections with handshake, request, answer and close. tshark (where installed) is the
//! oracle for the two requests it dissects; it knows neither the made-up verb nor HTTP/0.9.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];

fn checksum(b: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 + TCP with valid checksums.
#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(sport.to_be_bytes());
    t.extend(dport.to_be_bytes());
    t.extend(seq.to_be_bytes());
    t.extend(ack.to_be_bytes());
    t.extend([5 << 4, flags, 0xFF, 0xFF, 0, 0, 0, 0]);
    t.extend(payload);
    let mut pseudo = Vec::new();
    pseudo.extend(src);
    pseudo.extend(dst);
    pseudo.extend([0, 6]);
    pseudo.extend((t.len() as u16).to_be_bytes());
    pseudo.extend(&t);
    let c = checksum(&pseudo);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend(((20 + t.len()) as u16).to_be_bytes());
    ip.extend([0, 1, 0x40, 0, 64, 6, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend(ip);
    f.extend(t);
    f
}

/// One connection: handshake, the request, the answer, FIN both ways.
fn connection(sport: u16, dport: u16, req: &[u8], resp: &[u8]) -> Vec<Vec<u8>> {
    let (c, s) = (1000u32, 5000u32);
    let (c1, s1) = (c + 1, s + 1);
    let (c2, s2) = (c1 + req.len() as u32, s1 + resp.len() as u32);
    vec![
        tcp(CLIENT, SERVER, sport, dport, c, 0, 0x02, b""),
        tcp(SERVER, CLIENT, dport, sport, s, c1, 0x12, b""),
        tcp(CLIENT, SERVER, sport, dport, c1, s1, 0x10, b""),
        tcp(CLIENT, SERVER, sport, dport, c1, s1, 0x18, req),
        tcp(SERVER, CLIENT, dport, sport, s1, c2, 0x18, resp),
        tcp(CLIENT, SERVER, sport, dport, c2, s2, 0x11, b""),
        tcp(SERVER, CLIENT, dport, sport, s2, c2 + 1, 0x11, b""),
    ]
}

fn capture() -> Vec<u8> {
    let conns = [
        connection(
            40001,
            80,
            b"RPC_IN_DATA /rpc/rpcproxy.dll?ex.local:6001 HTTP/1.1\r\nHost: ex.local\r\n\
              User-Agent: MSRPC\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ),
        connection(
            40002,
            80,
            b"PROPFIND /dav/ HTTP/1.1\r\nHost: dav.example\r\nDepth: 1\r\n\r\n",
            b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n",
        ),
        connection(
            40003,
            8080,
            b"BEACON /c2/checkin HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: implant\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ),
        connection(40004, 80, b"GET /index.html\r\n", b"<html>0.9</html>\n"),
    ];
    let frames: Vec<(u32, Vec<u8>)> = conns
        .into_iter()
        .enumerate()
        .flat_map(|(i, c)| c.into_iter().map(move |f| (1_767_225_600 + i as u32, f)))
        .collect();
    pcap_of(&frames)
}

/// (source port, method, uri, version, status) of each HttpRequest.
fn requests(ev: &[Value]) -> Vec<(u64, String, String, String, Value)> {
    let mut r: Vec<_> = ev
        .iter()
        .filter(|e| e["EventID"] == 100)
        .map(|e| {
            (
                e["SourcePort"].as_u64().unwrap(),
                e["HttpMethod"].as_str().unwrap().to_owned(),
                e["HttpUri"].as_str().unwrap().to_owned(),
                e["HttpVersion"].as_str().unwrap().to_owned(),
                e["HttpStatus"].clone(),
            )
        })
        .collect();
    r.sort_by_key(|x| x.0);
    r
}

const RULES: &str = "\
title: Made-up C2 verb
id: 6f0b1f52-9d3e-4a57-9b1e-0c9b7c1d2e01
status: test
logsource:
    category: proxy
detection:
    selection:
        cs-method: BEACON
    condition: selection
level: high
---
title: HTTP/0.9 simple request
id: 6f0b1f52-9d3e-4a57-9b1e-0c9b7c1d2e02
status: test
logsource:
    category: proxy
detection:
    selection:
        cs-version: 'HTTP/0.9'
        c-uri: '/index.html'
    condition: selection
level: medium
";

#[test]
fn extension_methods_and_http_0_9_are_requests_that_match_rules() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = write(dir.path(), "methods.pcap", &capture());
    let rules = write(dir.path(), "methods.yml", RULES.as_bytes());
    let out = run(c2tap()
        .args(["replay", "--events", "all", "-r"])
        .arg(&rules)
        .arg(&pcap));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ev = events(&out.stdout);
    let s = |v: &str| v.to_owned();
    assert_eq!(
        requests(&ev),
        [
            (
                40001,
                s("RPC_IN_DATA"),
                s("/rpc/rpcproxy.dll?ex.local:6001"),
                s("HTTP/1.1"),
                Value::from(200)
            ),
            (40002, s("PROPFIND"), s("/dav/"), s("HTTP/1.1"), 207.into()),
            (
                40003,
                s("BEACON"),
                s("/c2/checkin"),
                s("HTTP/1.1"),
                204.into()
            ),
            // No status line in HTTP/0.9: the answer is the document.
            (
                40004,
                s("GET"),
                s("/index.html"),
                s("HTTP/0.9"),
                Value::Null
            ),
        ]
    );
    let mut alerted: Vec<(u64, String)> = ev
        .iter()
        .filter(|e| e["EventID"] == 100)
        .flat_map(|e| {
            e["Alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    (
                        e["SourcePort"].as_u64().unwrap(),
                        a["RuleTitle"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    alerted.sort();
    assert_eq!(
        alerted,
        [
            (40003, s("Made-up C2 verb")),
            (40004, s("HTTP/0.9 simple request"))
        ],
        "{ev:#?}"
    );
    // Each connection names its request on the NetworkConnect too.
    let connect_methods: Vec<&str> = ev
        .iter()
        .filter(|e| e["EventID"] == 3)
        .filter_map(|e| e["HttpMethod"].as_str())
        .collect();
    assert_eq!(connect_methods.len(), 4, "{ev:#?}");

    // tshark, where installed, dissects RPC_IN_DATA and PROPFIND: the same values.
    if !have("tshark") {
        eprintln!("tshark not installed: its values are not compared");
        return;
    }
    let t = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args([
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "tcp.srcport",
            "-e",
            "http.request.method",
            "-e",
            "http.request.uri",
            "-e",
            "http.request.version",
        ])
        .output()
        .unwrap();
    let ours = requests(&ev);
    let theirs: Vec<String> = String::from_utf8_lossy(&t.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(theirs.len() >= 2, "{theirs:?}");
    for line in &theirs {
        let f: Vec<&str> = line.split('\t').collect();
        let port: u64 = f[0].parse().unwrap();
        let mine = ours.iter().find(|r| r.0 == port).unwrap();
        assert_eq!(
            (mine.1.as_str(), mine.2.as_str(), mine.3.as_str()),
            (f[1], f[2], f[3])
        );
    }
}
