//! Issue 14, QUIC: clients of drafts 27 and 28 (salt `c3eef712…`) and of Google's T051
//! (salt `7a4edef4…`, Google's frame types), whose salts rustls does not offer (derived
//! through ring's HKDF), are read like v1 ones, and `QuicVersion` names the version; a
//! flow whose first packets are 0-RTT still reports its Initial's SNI. No such client can
//! be run here: the captures are built in the test from Chromium's real Initials
//! (pcaps/chromium-quic.pcap), decrypted with their v1 keys and sealed again under each
//! version's keys by `seal_client_initial_as` (for T051 with the frames rewritten in
//! Google's types). tshark checks each (it derives the keys itself). The one real draft-28
//! client at hand (nDPI's `quic_0RTT` capture in the shared corpus) is checked against
//! tshark by `make conformance` and `tests/quic_corpus.rs`.

mod common;

use c2tap::proto::quic::{
    ClientInitialKeys, KeyVersion, parse::long_header, seal_client_initial_as,
};
use common::*;
use serde_json::Value;

/// (source port, UDP payload) of every IPv4/UDP frame of a classic Ethernet pcap.
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

/// Plaintext client Initials (packet number, frames) and the DCID and SCID they used.
type Hello = (Vec<(u32, Vec<u8>)>, Vec<u8>, Vec<u8>);

/// Chromium's first connection, decrypted.
fn chromium_hello() -> Hello {
    let dgrams = udp_payloads(&repo().join("pcaps/chromium-quic.pcap"));
    let sport = dgrams[0].0;
    let first: Vec<&Vec<u8>> = dgrams
        .iter()
        .filter(|(p, _)| *p == sport)
        .map(|(_, d)| d)
        .take(2)
        .collect();
    let h0 = long_header(first[0]).unwrap();
    let keys = ClientInitialKeys::derive(KeyVersion::V1, h0.dcid).unwrap();
    let (dcid, scid) = (h0.dcid.to_vec(), h0.scid.to_vec());
    let mut out = Vec::new();
    for d in first {
        let h = long_header(d).unwrap();
        let mut buf = d[..h.packet_len].to_vec();
        let (pn, range) = keys.open(&h, &mut buf).unwrap();
        out.push((u32::try_from(pn).unwrap(), buf[range].to_vec()));
    }
    (out, dcid, scid)
}

fn replay(frames: &[(u32, Vec<u8>)]) -> (Vec<Value>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "quic.pcap", &pcap_of(frames));
    let out = run(c2tap().args(["replay", "--events", "all"]).arg(&path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stop = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["EventID"] == 4 && v["State"] == "stop")
        .unwrap();
    (events(&out.stdout), stop["Counters"].clone())
}

fn original_connect() -> Value {
    let (ev, _) = {
        let out = run(c2tap().current_dir(repo()).args([
            "replay",
            "--events",
            "all",
            "pcaps/chromium-quic.pcap",
        ]));
        assert!(out.status.success());
        (events(&out.stdout), ())
    };
    ev.into_iter()
        .find(|e| e["EventID"] == 3 && e["TlsSni"] == "region1.v2.argotunnel.com")
        .unwrap()
}

const CLIENT: [u8; 4] = [127, 0, 0, 1];
const SERVER: [u8; 4] = [127, 0, 0, 2];

#[test]
fn drafts_27_and_28_are_read_and_named() {
    let (initials, dcid, scid) = chromium_hello();
    let orig = original_connect();
    for (wire, name) in [(0xff00_001bu32, "0xff00001b"), (0xff00_001c, "0xff00001c")] {
        let frames: Vec<(u32, Vec<u8>)> = initials
            .iter()
            .map(|(pn, f)| {
                let p = seal_client_initial_as(wire, &dcid, &scid, *pn, f, 1250).unwrap();
                (1_767_225_600, udp_frame(CLIENT, 50100, SERVER, 443, &p))
            })
            .collect();
        let (ev, c) = replay(&frames);
        if have("tshark") {
            // tshark derives drafts' Initial keys itself: its SNI and version agree.
            let dir = tempfile::tempdir().unwrap();
            let path = write(dir.path(), "draft.pcap", &pcap_of(&frames));
            let t = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-Y", "tls.handshake.type == 1", "-T", "fields"])
                .args([
                    "-e",
                    "quic.version",
                    "-e",
                    "tls.handshake.extensions_server_name",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&t.stdout);
            let line = text
                .lines()
                .next()
                .unwrap_or_else(|| panic!("{name}: tshark saw no hello"));
            let want = format!("{name}\t{}", orig["TlsSni"].as_str().unwrap());
            assert!(line.starts_with(&want), "{name}: tshark {line:?}");
        } else {
            eprintln!("tshark not installed: its values are not compared");
        }
        let connect = ev
            .iter()
            .find(|e| e["EventID"] == 3)
            .unwrap_or_else(|| panic!("{name}: {ev:#?}"));
        assert_eq!(connect["AppProtocol"], "quic", "{connect:#}");
        assert_eq!(connect["QuicVersion"], name, "{connect:#}");
        assert_eq!(connect["TlsSni"], orig["TlsSni"]);
        assert_eq!(connect["TlsAlpn"], orig["TlsAlpn"]);
        assert_eq!(connect["Ja4"], orig["Ja4"]);
        assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
    }
    // Draft-26 is QUIC too, but not read: no SNI, and no parse error either.
    let p = seal_client_initial_as(0xff00_001c, &dcid, &scid, 0, &initials[0].1, 1250).unwrap();
    let mut old = p.clone();
    old[1..5].copy_from_slice(&0xff00_001au32.to_be_bytes());
    let (ev, _) = replay(&[(1_767_225_600, udp_frame(CLIENT, 50101, SERVER, 443, &old))]);
    assert!(ev.iter().all(|e| e.get("TlsSni").is_none()), "{ev:#?}");
}

/// RFC 9000 §16 varint, in the 2- or 4-byte form.
fn varint(n: usize, out: &mut Vec<u8>) {
    if n < 0x4000 {
        out.extend_from_slice(&(0x4000 | n as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&(0x8000_0000 | n as u32).to_be_bytes());
    }
}

/// RFC 9000 Initial frames (Chromium's) written with Google QUIC's types, as a T051 client
/// sends them: CRYPTO 0x08, PING 0x07, PADDING 0x00.
fn as_google_frames(ietf: &[u8]) -> Vec<u8> {
    use c2tap::proto::quic::parse::{Frame, Frames};
    let mut out = Vec::new();
    for f in Frames::new(ietf) {
        match f.unwrap() {
            Frame::Crypto { offset, data } => {
                out.push(0x08);
                varint(offset as usize, &mut out);
                varint(data.len(), &mut out);
                out.extend_from_slice(data);
            }
            Frame::Ping => out.push(0x07),
            Frame::Padding(n) => out.extend(std::iter::repeat_n(0, n)),
            other => panic!("{other:?} in Chromium's first Initials"),
        }
    }
    out
}

#[test]
fn google_quic_t051_is_read_and_named() {
    let (initials, dcid, scid) = chromium_hello();
    let orig = original_connect();
    let frames: Vec<(u32, Vec<u8>)> = initials
        .iter()
        .map(|(pn, f)| {
            let g = as_google_frames(f);
            let p = seal_client_initial_as(0x5430_3531, &dcid, &scid, *pn, &g, 1250).unwrap();
            (1_767_225_600, udp_frame(CLIENT, 50300, SERVER, 443, &p))
        })
        .collect();
    let (ev, c) = replay(&frames);
    let connect = ev
        .iter()
        .find(|e| e["EventID"] == 3)
        .unwrap_or_else(|| panic!("{ev:#?}"));
    assert_eq!(connect["AppProtocol"], "quic", "{connect:#}");
    assert_eq!(connect["QuicVersion"], "0x54303531", "{connect:#}");
    assert_eq!(connect["TlsSni"], orig["TlsSni"]);
    assert_eq!(connect["Ja4"], orig["Ja4"]);
    assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
    if have("tshark") {
        // tshark derives T051's keys itself and reads Google's frame types: each packet
        // decrypts to the CRYPTO (0x08), PING (0x07) and PADDING frames written. (tshark
        // 4.0 does not reassemble Google CRYPTO fragments, so it shows no SNI to compare.)
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "t051.pcap", &pcap_of(&frames));
        let t = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "quic.version",
                "-e",
                "gquic.frame_type",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&t.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), initials.len(), "tshark: {text:?}");
        for (line, (_, f)) in lines.iter().zip(&initials) {
            let (version, types) = line.split_once('\t').unwrap();
            assert_eq!(version, "0x54303531");
            let first = match as_google_frames(f)[0] {
                0x08 => "0x08",
                0x07 => "0x07",
                _ => "0x00",
            };
            assert!(types.starts_with(first), "tshark: {line:?}");
        }
    } else {
        eprintln!("tshark not installed: its values are not compared");
    }
}

/// A long-header 0-RTT packet (type 1) of v1 with an opaque body, as a client resuming a
/// session sends before, or right after, its Initial.
fn zero_rtt(dcid: &[u8], scid: &[u8], body: usize) -> Vec<u8> {
    let mut p = vec![0xd3, 0, 0, 0, 1, dcid.len() as u8];
    p.extend_from_slice(dcid);
    p.push(scid.len() as u8);
    p.extend_from_slice(scid);
    p.extend_from_slice(&(0x4000u16 | body as u16).to_be_bytes());
    p.extend(std::iter::repeat_n(0xab, body));
    p
}

#[test]
fn a_flow_whose_first_packets_are_0rtt_reports_the_initials_sni() {
    let (initials, dcid, scid) = chromium_hello();
    let orig = original_connect();
    let mut frames = vec![
        (
            1_767_225_600,
            udp_frame(CLIENT, 50200, SERVER, 443, &zero_rtt(&dcid, &scid, 1200)),
        ),
        (
            1_767_225_600,
            udp_frame(CLIENT, 50200, SERVER, 443, &zero_rtt(&dcid, &scid, 600)),
        ),
    ];
    for (pn, f) in &initials {
        let p = seal_client_initial_as(1, &dcid, &scid, *pn, f, 1250).unwrap();
        frames.push((1_767_225_601, udp_frame(CLIENT, 50200, SERVER, 443, &p)));
    }
    let (ev, c) = replay(&frames);
    let connects: Vec<_> = ev.iter().filter(|e| e["EventID"] == 3).collect();
    assert_eq!(connects.len(), 1, "{ev:#?}");
    assert_eq!(connects[0]["TlsSni"], orig["TlsSni"], "{ev:#?}");
    assert_eq!(connects[0]["Ja4"], orig["Ja4"]);
    assert_eq!(connects[0]["QuicVersion"], "0x00000001");
    assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
}

/// A Q050 client's first Initial as Chromium sends it: one Google CRYPTO frame (0x08)
/// holding the whole inchoate CHLO, padded.
fn q050_initial(dcid: &[u8], pn: u32, chlo: &[u8], offset: usize) -> Vec<u8> {
    let mut frames = vec![0x08];
    varint(offset, &mut frames);
    varint(chlo.len(), &mut frames);
    frames.extend_from_slice(chlo);
    seal_client_initial_as(0x5130_3530, dcid, &[], pn, &frames, 1350).unwrap()
}

const Q050_UA: &str = "Chrome/80.0.3987.163 Windows NT 10.0; Win64; x64";

fn q050_chlo(sni: &str) -> Vec<u8> {
    c2tap::proto::quic::chlo::build_chlo(&[
        (*b"PAD\0", &[b'-'; 600]),
        (*b"SNI\0", sni.as_bytes()),
        (*b"VER\0", b"Q050"),
        (*b"CCS\0", &[0x7b, 0x26, 0xe9, 0xe7, 0xe4, 0x5c, 0x71, 0xff]),
        (*b"UAID", Q050_UA.as_bytes()),
        (*b"AEAD", b"AESGCC20"),
        (*b"KEXS", b"C255"),
        (*b"PDMD", b"X509"),
        (*b"CSCT", b""),
    ])
}

#[test]
fn google_quic_q050_chlo_is_read_and_named() {
    let dcid = [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18];
    let sni = "www.google.com";
    let frames = vec![(
        1_767_225_600,
        udp_frame(
            CLIENT,
            50400,
            SERVER,
            443,
            &q050_initial(&dcid, 1, &q050_chlo(sni), 0),
        ),
    )];
    let (ev, c) = replay(&frames);
    let connect = ev
        .iter()
        .find(|e| e["EventID"] == 3)
        .unwrap_or_else(|| panic!("{ev:#?}"));
    assert_eq!(connect["AppProtocol"], "quic", "{connect:#}");
    assert_eq!(connect["QuicVersion"], "0x51303530", "{connect:#}");
    assert_eq!(connect["TlsSni"], sni, "{connect:#}");
    assert_eq!(connect["DestinationHostname"], sni);
    assert_eq!(connect["HostnameSource"], "quic_sni");
    assert_eq!(connect["HttpUserAgent"], Q050_UA);
    // A CHLO is not a TLS ClientHello: no TLS fingerprint, version or ALPN.
    for absent in ["Ja3", "Ja3Hash", "Ja4", "TlsVersion", "TlsAlpn"] {
        assert!(connect.get(absent).is_none(), "{absent}: {connect:#}");
    }
    assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
    if have("tshark") {
        // tshark derives Q050's keys from kQ050Salt itself and dissects the CHLO's tags.
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "q050.pcap", &pcap_of(&frames));
        let t = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-T", "fields", "-E", "separator=|"])
            .args(["-e", "quic.version", "-e", "gquic.tag", "-e"])
            .args([
                "gquic.tag.sni",
                "-e",
                "gquic.tag.uaid",
                "-e",
                "gquic.tag.version",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&t.stdout);
        let line = text.lines().next().unwrap_or_default();
        let want = format!("0x51303530|CHLO|{sni}|{Q050_UA}|Q050");
        assert_eq!(line, want, "tshark: {text:?}");
    } else {
        eprintln!("tshark not installed: its values are not compared");
    }
}

#[test]
fn q050_chlo_over_two_initials_and_broken_chlos() {
    let dcid = [0x5a; 8];
    let chlo = q050_chlo("split.example.net");
    // The CHLO in two Initials, the second one first (as after a loss).
    let (a, b) = chlo.split_at(500);
    let frames = vec![
        (
            1_767_225_600,
            udp_frame(CLIENT, 50401, SERVER, 443, &q050_initial(&dcid, 2, b, 500)),
        ),
        (
            1_767_225_600,
            udp_frame(CLIENT, 50401, SERVER, 443, &q050_initial(&dcid, 1, a, 0)),
        ),
    ];
    let (ev, c) = replay(&frames);
    let connects: Vec<_> = ev.iter().filter(|e| e["EventID"] == 3).collect();
    assert_eq!(connects.len(), 1, "{ev:#?}");
    assert_eq!(connects[0]["TlsSni"], "split.example.net");
    assert_eq!(c["quic_parse_errors"], 0, "{c:#}");
    // A CHLO claiming more tags than the cap, and one whose values run past its table:
    // each is one counted parse error, and the flow is still named QUIC Q050 (no SNI).
    let mut many = chlo.clone();
    many[4..6].copy_from_slice(&500u16.to_le_bytes());
    let mut past = chlo.clone();
    past[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    for (port, bad) in [(50402u16, many), (50403, past)] {
        let frames = vec![(
            1_767_225_600,
            udp_frame(CLIENT, port, SERVER, 443, &q050_initial(&dcid, 1, &bad, 0)),
        )];
        let (ev, c) = replay(&frames);
        let connect = ev.iter().find(|e| e["EventID"] == 3).unwrap();
        assert_eq!(connect["AppProtocol"], "quic", "{connect:#}");
        assert_eq!(connect["QuicVersion"], "0x51303530");
        assert!(connect.get("TlsSni").is_none(), "{connect:#}");
        assert_eq!(c["quic_parse_errors"], 1, "{c:#}");
    }
}
