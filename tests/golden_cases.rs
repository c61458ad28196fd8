//! Targeted assertions on the hard cases in `pcaps/` (see pcaps/README.md for how each
//! file was made). `tests/golden.rs` pins every field of every event; these tests say
//! what matters in each case, so that a golden update cannot quietly accept a wrong
//! answer: the out-of-order hello gives the in-order hello's JA4, the conflicting
//! retransmission keeps the first copy, the corrupted QUIC packet gives no event but a
//! counter, and so on. One case is built here rather than in `pcaps/`: a QUIC Retry
//! (it needs the Initial keys of a new connection ID to re-encrypt Chromium's hello).

mod common;

use c2tap::proto::quic::{ClientInitialKeys, KeyVersion, parse::long_header, seal_client_initial};
use common::*;
use serde_json::Value;

/// Events (SensorState left out) and the counters of the final SensorState of one
/// replay of `path` (relative to the repository, or absolute).
fn replay(path: &std::path::Path) -> (Vec<Value>, Value) {
    let out = run(c2tap()
        .current_dir(repo())
        .args(["replay", "--events", "all", "-w", "2"])
        .arg(path));
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let stop = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["EventID"] == 4 && v["State"] == "stop")
        .expect("a final SensorState");
    (events(&out.stdout), stop["Counters"].clone())
}

fn pcap(name: &str) -> (Vec<Value>, Value) {
    replay(std::path::Path::new(&format!("pcaps/{name}.pcap")))
}

fn connects(ev: &[Value]) -> Vec<&Value> {
    ev.iter().filter(|e| e["EventID"] == 3).collect()
}

fn requests(ev: &[Value]) -> Vec<&Value> {
    let mut r: Vec<&Value> = ev.iter().filter(|e| e["EventID"] == 100).collect();
    r.sort_by_key(|e| e["UtcTime"].as_str().unwrap_or("").to_owned());
    r
}

/// The one NetworkConnect whose TlsSni is `sni`.
fn by_sni<'a>(ev: &'a [Value], sni: &str) -> &'a Value {
    let found: Vec<_> = ev
        .iter()
        .filter(|e| e["EventID"] == 3 && e["TlsSni"] == sni)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one NetworkConnect with TlsSni {sni}: {ev:#?}"
    );
    found[0]
}

fn by_port(ev: &[Value], sport: u64) -> &Value {
    connects(ev)
        .into_iter()
        .find(|e| e["SourcePort"] == sport)
        .unwrap_or_else(|| panic!("no NetworkConnect from port {sport}: {ev:#?}"))
}

fn alerted(e: &Value, title_part: &str) -> bool {
    e["Alerts"].as_array().is_some_and(|a| {
        a.iter().any(|r| {
            r["RuleTitle"]
                .as_str()
                .is_some_and(|t| t.contains(title_part))
        })
    })
}

/// The handshake fields that must not change when only the packets around the same
/// ClientHello bytes change.
fn same_hello(a: &Value, b: &Value) {
    for f in ["TlsSni", "TlsAlpn", "TlsVersion", "Ja3", "Ja3Hash", "Ja4"] {
        assert_eq!(a[f], b[f], "{f} differs:\n{a:#}\n{b:#}");
    }
    assert!(a.get("Truncated").is_none(), "{a:#}");
}

/// (method, URI, status, Content-Length) of each HTTP request, in time order.
fn http_summary(ev: &[Value]) -> Vec<(String, String, Value, Value)> {
    requests(ev)
        .iter()
        .map(|r| {
            (
                r["HttpMethod"].as_str().unwrap().to_owned(),
                r["HttpUri"].as_str().unwrap().to_owned(),
                r["HttpStatus"].clone(),
                r["HttpContentLength"].clone(),
            )
        })
        .collect()
}

const DEVTUNNEL: &str = "abc123-8080.usw2.devtunnels.ms";
const ARGO: &str = "region1.v2.argotunnel.com";

// ---------------------------------------------------------------- TLS over TCP

#[test]
fn chromium_post_quantum_hello_over_two_segments() {
    let (ev, c) = pcap("chromium-tls");
    let conns = connects(&ev);
    assert_eq!(conns.len(), 2, "Chromium opened two connections: {ev:#?}");
    for e in conns {
        assert_eq!(e["TlsSni"], ARGO);
        assert_eq!(e["TlsAlpn"], "h2,http/1.1");
        assert_eq!(e["TlsVersion"], "TLS 1.3");
        // X25519MLKEM768 (4588) first among the groups: the 1.2 KB key share that makes
        // the hello longer than one segment.
        assert!(
            e["Ja3"].as_str().unwrap().contains(",4588-29-23-24,"),
            "{e:#}"
        );
        assert!(e["Ja4"].as_str().unwrap().starts_with("t13d"), "{e:#}");
        assert!(e.get("Truncated").is_none());
        assert!(alerted(e, "Cloudflare Tunnel"), "{e:#}");
    }
    assert_eq!(c["reassembly_gaps"], 0);
}

#[test]
fn out_of_order_split_hello_equals_the_in_order_one() {
    let (ev, c) = pcap("tls-split-ooo");
    let (orig, _) = pcap("chromium-tls");
    assert_eq!(connects(&ev).len(), 1, "{ev:#?}");
    let got = by_sni(&ev, ARGO);
    same_hello(got, by_port(&orig, got["SourcePort"].as_u64().unwrap()));
    assert!(alerted(got, "Cloudflare Tunnel"));
    assert_eq!(c["reassembly_gaps"], 0);
}

#[test]
fn conflicting_retransmission_keeps_the_first_copy() {
    let (ev, _) = pcap("tls-retrans-conflict");
    let (orig, _) = pcap("tls-curl");
    assert_eq!(connects(&ev).len(), 1, "{ev:#?}");
    let got = by_sni(&ev, DEVTUNNEL);
    same_hello(got, by_sni(&orig, DEVTUNNEL));
    assert!(alerted(got, "Dev Tunnels"));
    // The forged copy's name appears nowhere.
    let all = serde_json::to_string(&ev).unwrap();
    assert!(!all.contains("xxxxxxxxxxxxxxxxxx.example.com"), "{all}");
}

/// The forged copy (frame 5) overlaps bytes that differ from the first copy (frame 4):
/// the reassembly contract (src/flow/reassembly.rs) says such bytes are counted. They are
/// not when the TLS parser has already consumed the first copy (only still-buffered bytes
/// are compared). Un-ignore once that is fixed.
#[test]
fn conflicting_retransmission_is_counted() {
    let (_, c) = pcap("tls-retrans-conflict");
    assert_eq!(c["reassembly_overlap_conflicts"], 1, "{c:#}");
}

#[test]
fn hello_split_over_two_tls_records() {
    let (ev, c) = pcap("tls-two-records");
    let (orig, _) = pcap("tls-h2-7844");
    assert_eq!(connects(&ev).len(), 1, "{ev:#?}");
    let got = by_sni(&ev, "h2.cftunnel.com");
    assert_eq!(got["TlsAlpn"], "h2");
    assert_eq!(got["DestinationPort"], 7844);
    // Two records carry the same handshake message: the same fingerprints.
    same_hello(got, by_sni(&orig, "h2.cftunnel.com"));
    assert_eq!(c["tls_parse_errors"], 0);
}

#[test]
fn cloudflared_edge_port_7844_with_alpn_h2() {
    let (ev, _) = pcap("tls-h2-7844");
    let e = by_sni(&ev, "h2.cftunnel.com");
    assert_eq!(e["TlsAlpn"], "h2");
    assert_eq!(e["DestinationPort"], 7844);
    assert_eq!(e["AppProtocol"], "tls");
    assert!(alerted(e, "Cloudflare"), "{e:#}");
}

#[test]
fn curl_https_tunnel_name_alerts_and_benign_name_does_not() {
    let (ev, _) = pcap("tls-curl");
    assert_eq!(connects(&ev).len(), 2);
    let dev = by_sni(&ev, DEVTUNNEL);
    assert!(alerted(dev, "Dev Tunnels"), "{dev:#}");
    let benign = by_sni(&ev, "example.com");
    assert!(benign.get("Alerts").is_none(), "{benign:#}");
    // Four requests went over the first connection: all encrypted, no HttpRequest.
    assert!(requests(&ev).is_empty());
}

// ---------------------------------------------------------------- HTTP

fn keepalive_sequence() -> Vec<(String, String, Value, Value)> {
    let s = |m: &str, u: &str, cl: Value| (m.to_owned(), u.to_owned(), Value::from(200), cl);
    vec![
        s("GET", "/", Value::Null),
        s("POST", "/form", Value::from(299)),
        // Chunked: no Content-Length header, the body is read by its chunk sizes.
        s("POST", "/upload", Value::Null),
        s("GET", "/last", Value::Null),
    ]
}

#[test]
fn keep_alive_with_content_length_and_chunked_bodies() {
    let (ev, c) = pcap("http-keepalive");
    assert_eq!(http_summary(&ev), keepalive_sequence());
    let conns = connects(&ev);
    assert_eq!(conns.len(), 1, "one connection: {ev:#?}");
    assert_eq!(conns[0]["AppProtocol"], "http");
    for r in requests(&ev) {
        assert_eq!(r["HttpHost"], format!("{DEVTUNNEL}:8080"));
        assert_eq!(r["HttpUserAgent"], "curl/7.88.1");
        assert_eq!(r["SourcePort"], conns[0]["SourcePort"]);
        assert!(alerted(r, "Dev Tunnel"), "{r:#}");
    }
    assert_eq!(c["http_parse_errors"], 0);
}

#[test]
fn pipelined_requests_are_all_reported_with_their_answers() {
    let (ev, c) = pcap("http-pipelined");
    assert_eq!(http_summary(&ev), keepalive_sequence());
    assert_eq!(c["http_parse_errors"], 0);
}

#[test]
fn connect_proxy_request_and_the_tls_inside() {
    let (ev, _) = pcap("connect-proxy");
    let reqs = requests(&ev);
    assert_eq!(reqs.len(), 1, "{ev:#?}");
    let r = reqs[0];
    assert_eq!(r["HttpMethod"], "CONNECT");
    assert_eq!(r["HttpUri"], format!("{ARGO}:443"));
    assert_eq!(r["HttpStatus"], 200);
    assert_eq!(r["DestinationPort"], 3128);
    // The ClientHello inside the tunnel, on the client↔proxy connection.
    let inside = by_port(&ev, r["SourcePort"].as_u64().unwrap());
    assert_eq!(inside["TlsSni"], ARGO);
    assert_eq!(inside["AppProtocol"], "tls");
    assert_eq!(inside["DestinationPort"], 3128);
    assert!(alerted(inside, "Cloudflare Tunnel"));
    // The proxy's own connection to the server and its DNS questions.
    let outside: Vec<_> = connects(&ev)
        .into_iter()
        .filter(|e| e["TlsSni"] == ARGO && e["DestinationPort"] == 443)
        .collect();
    assert_eq!(outside.len(), 1);
    let qs: Vec<_> = ev.iter().filter(|e| e["EventID"] == 22).collect();
    assert_eq!(qs.len(), 2);
    assert!(qs.iter().all(|q| q["QueryName"] == ARGO));
}

#[test]
fn tls_and_http_on_unexpected_ports() {
    let (ev, _) = pcap("odd-ports");
    let (orig, _) = pcap("tls-curl");
    let tls = by_sni(&ev, "example.com");
    assert_eq!(tls["DestinationPort"], 80);
    assert_eq!(tls["AppProtocol"], "tls");
    same_hello(tls, by_sni(&orig, "example.com"));
    assert_eq!(http_summary(&ev), keepalive_sequence());
    assert!(requests(&ev).iter().all(|r| r["DestinationPort"] == 443));
    let http = connects(&ev)
        .into_iter()
        .find(|e| e["DestinationPort"] == 443)
        .unwrap();
    assert_eq!(http["AppProtocol"], "http");
}

#[test]
fn midstream_pickup_without_syn() {
    let (ev, _) = pcap("midstream");
    // The first GET and the handshake are not in the file: the three later requests are.
    let mut want = keepalive_sequence();
    want.remove(0);
    assert_eq!(http_summary(&ev), want);
    let tls = by_sni(&ev, "h2.cftunnel.com");
    assert_eq!(tls["TlsAlpn"], "h2");
    assert_eq!(tls["SourceIp"], "127.0.0.1", "client side guessed right");
    assert_eq!(tls["DestinationPort"], 7844);
}

// ---------------------------------------------------------------- QUIC

#[test]
fn chromium_quic_initials() {
    let (ev, c) = pcap("chromium-quic");
    assert_eq!(connects(&ev).len(), 2, "{ev:#?}");
    for (sni, rule) in [(ARGO, "Cloudflare Tunnel"), (DEVTUNNEL, "Dev Tunnels")] {
        let e = by_sni(&ev, sni);
        assert_eq!(e["AppProtocol"], "quic");
        assert_eq!(e["QuicVersion"], "0x00000001");
        assert_eq!(e["TlsAlpn"], "h3");
        assert!(e["Ja4"].as_str().unwrap().starts_with("q13d"), "{e:#}");
        assert!(alerted(e, rule), "{e:#}");
    }
    assert_eq!(c["quic_parse_errors"], 0);
}

#[test]
fn quic_hello_over_two_packets_out_of_order() {
    let (ev, _) = pcap("quic-ooo");
    let (orig, _) = pcap("chromium-quic");
    assert_eq!(connects(&ev).len(), 1);
    let got = by_sni(&ev, ARGO);
    same_hello(got, by_sni(&orig, ARGO));
}

#[test]
fn corrupted_quic_packet_is_counted_and_gives_no_event() {
    let (ev, c) = pcap("quic-corrupt");
    // Flow 1: its first Initial is corrupted, the hello never completes: no SNI.
    assert!(
        !ev.iter()
            .any(|e| e["TlsSni"] == ARGO || e["DestinationHostname"] == ARGO),
        "{ev:#?}"
    );
    assert!(
        !ev.iter()
            .any(|e| e["DestinationIp"] == "127.0.0.2" && e.get("Ja4").is_some()),
        "{ev:#?}"
    );
    // Flow 2: a corrupted copy of its second Initial, then the true one: the event.
    let (orig, _) = pcap("chromium-quic");
    same_hello(by_sni(&ev, DEVTUNNEL), by_sni(&orig, DEVTUNNEL));
    // Two packets failed authentication: counted in the final SensorState.
    assert_eq!(c["quic_parse_errors"], 2, "{c:#}");
}

#[test]
fn coalesced_packets_rfc9001_vector_and_chromium() {
    let (ev, c) = pcap("quic-coalesced");
    let (orig, _) = pcap("chromium-quic");
    // RFC 9001 A.2: Initial + 0-RTT in one datagram.
    let rfc = by_sni(&ev, "example.com");
    assert_eq!(rfc["QuicVersion"], "0x00000001");
    assert_eq!(rfc["TlsAlpn"], "alpn");
    // Chromium's two Initials in one datagram, carried as two IPv4 fragments.
    same_hello(by_sni(&ev, DEVTUNNEL), by_sni(&orig, DEVTUNNEL));
    assert_eq!(c["fragments_reassembled"], 2);
    assert_eq!(c["quic_parse_errors"], 0);
}

#[test]
fn quic_v2_rfc9369_vector() {
    let (ev, _) = pcap("quic-v2");
    let (v1, _) = pcap("quic-coalesced");
    let e = by_sni(&ev, "example.com");
    assert_eq!(e["QuicVersion"], "0x6b3343cf");
    // RFC 9369 A.2 protects the same ClientHello as RFC 9001 A.2.
    same_hello(e, by_sni(&v1, "example.com"));
}

// ---------------------------------------------------------------- QUIC Retry (built here)

/// UDP payloads of the classic pcap at `path` (Ethernet, IPv4), in file order, with
/// their source port.
fn udp_payloads(path: &std::path::Path) -> Vec<(u16, Vec<u8>)> {
    let b = std::fs::read(path).unwrap();
    let mut off = 24;
    let mut out = Vec::new();
    while off + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        let f = &b[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ihl = usize::from(f[14] & 0x0f) * 4;
        if f[14 + 9] != 17 {
            continue;
        }
        let udp = &f[14 + ihl..];
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        out.push((sport, udp[8..len].to_vec()));
    }
    out
}

/// Chromium's first two Initials to region1.v2.argotunnel.com; the server answers the
/// first with a Retry (new connection ID B); the client sends its ClientHello again
/// under B (RFC 9000 §17.2.5.2: same hello, packet numbers go on). The re-sent Initials
/// are Chromium's own plaintext frames, sealed under B's keys by
/// `seal_client_initial` (which writes no token: c2tap does not read tokens).
#[test]
fn retry_then_the_hello_again_under_the_new_connection_id() {
    let real = repo().join("pcaps/chromium-quic.pcap");
    let dgrams = udp_payloads(&real);
    let sport = dgrams[0].0;
    let first: Vec<&Vec<u8>> = dgrams
        .iter()
        .filter(|(p, _)| *p == sport)
        .map(|(_, d)| d)
        .take(2)
        .collect();
    let h0 = long_header(first[0]).unwrap();
    let keys = ClientInitialKeys::derive(KeyVersion::V1, h0.dcid).unwrap();
    let scid = h0.scid.to_vec();
    let new_dcid = [0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7];
    let mut resealed = Vec::new();
    for (i, d) in first.iter().enumerate() {
        let h = long_header(d).unwrap();
        let mut buf = d[..h.packet_len].to_vec();
        let (pn, range) = keys.open(&h, &mut buf).unwrap();
        let frames = &buf[range];
        resealed.push(
            seal_client_initial(
                KeyVersion::V1,
                &new_dcid,
                &scid,
                u32::try_from(pn).unwrap() + 10 + i as u32,
                frames,
                1200,
            )
            .unwrap(),
        );
    }
    // Retry (RFC 9000 §17.2.5): type 3, DCID = the client's SCID, SCID = B, a token and
    // a 16-byte integrity tag (not checked by a sensor).
    let mut retry = vec![0xf0, 0, 0, 0, 1, scid.len() as u8];
    retry.extend_from_slice(&scid);
    retry.push(new_dcid.len() as u8);
    retry.extend_from_slice(&new_dcid);
    retry.extend_from_slice(b"c2tap-retry-token");
    retry.extend_from_slice(&[0x5a; 16]);

    let (cli, srv) = ([127, 0, 0, 1], [127, 0, 0, 2]);
    let frames = [
        (1, udp_frame(cli, sport, srv, 443, first[0])),
        (1, udp_frame(srv, 443, cli, sport, &retry)),
        (2, udp_frame(cli, sport, srv, 443, &resealed[0])),
        (2, udp_frame(cli, sport, srv, 443, &resealed[1])),
    ];
    let frames: Vec<(u32, &[u8])> = frames.iter().map(|(t, f)| (*t, f.as_slice())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "quic-retry.pcap", &pcap_bytes(&frames));
    let (ev, c) = replay(&path);
    let (orig, _) = pcap("chromium-quic");
    assert_eq!(connects(&ev).len(), 1, "{ev:#?}");
    same_hello(by_sni(&ev, ARGO), by_sni(&orig, ARGO));
    assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
}

fn pcap_bytes(frames: &[(u32, &[u8])]) -> Vec<u8> {
    common::pcap(1, frames)
}
