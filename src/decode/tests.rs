//! Whole-decoder tests: frames built with etherparse (an independent encoder) or by hand,
//! wrapped in each tunnel, fragmented, truncated, and fuzzed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(clippy::arithmetic_side_effects)]

use std::net::IpAddr;

use etherparse::PacketBuilder;
use proptest::prelude::*;

use super::*;
use crate::time::Timestamp;

const A4: [u8; 4] = [192, 0, 2, 1];
const B4: [u8; 4] = [198, 51, 100, 7];
const A6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
];
const B6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b,
];
const T0: Timestamp = Timestamp::ZERO;

fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn udp6(src: [u8; 16], dst: [u8; 16], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sp, dp, 1000, 512)
        .syn()
        .ack(77)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp6(src: [u8; 16], dst: [u8; 16], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .tcp(sp, dp, 5, 100)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn eth(ethertype: u16, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend(ethertype.to_be_bytes());
    v.extend(inner);
    v
}

/// A bare IPv4 header around `payload` (protocol `proto`, identification/fragment fields).
fn ipv4_raw(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    id: u16,
    flags_off: u16,
    payload: &[u8],
) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut v = vec![0x45, 0];
    v.extend(total.to_be_bytes());
    v.extend(id.to_be_bytes());
    v.extend(flags_off.to_be_bytes());
    v.extend([64, proto, 0, 0]);
    v.extend(src);
    v.extend(dst);
    v.extend(payload);
    v
}

fn ipv6_raw(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend((payload.len() as u16).to_be_bytes());
    v.extend([next, 64]);
    v.extend(src);
    v.extend(dst);
    v.extend(payload);
    v
}

fn addr(a: &[u8]) -> IpAddr {
    match a.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(a).unwrap()),
        _ => IpAddr::from(<[u8; 16]>::try_from(a).unwrap()),
    }
}

/// Decodes and answers (src, dst, sport, dport, proto name, payload).
fn summary(
    d: &mut Decoder,
    lt: u32,
    frame: &[u8],
) -> (IpAddr, IpAddr, u16, u16, &'static str, Vec<u8>) {
    let p = d.decode(lt, T0, frame).unwrap();
    match p.l4 {
        L4::Udp(u) => (
            p.src,
            p.dst,
            u.src_port,
            u.dst_port,
            "udp",
            u.payload.to_vec(),
        ),
        L4::Tcp(t) => (
            p.src,
            p.dst,
            t.src_port,
            t.dst_port,
            "tcp",
            t.payload.to_vec(),
        ),
        L4::Other { .. } => (p.src, p.dst, 0, 0, "other", vec![]),
    }
}

#[test]
fn link_type_numbers() {
    for n in [
        0, 1, 9, 12, 14, 50, 101, 105, 108, 113, 127, 228, 229, 239, 276,
    ] {
        assert!(LinkType::is_supported(n), "{n}");
    }
    assert_eq!(LinkType::from_linktype(12), Some(LinkType::Raw));
    assert!(!LinkType::is_supported(147));
    let mut d = Decoder::default();
    assert_eq!(
        d.decode(147, T0, &[0; 40]).unwrap_err(),
        DecodeError::UnsupportedLinkType(147)
    );
    assert_eq!(
        DecodeError::UnsupportedLinkType(1).kind(),
        "unsupported_link_type"
    );
    assert_eq!(
        DecodeError::FragmentDropped(FragDropReason::Timeout).kind(),
        "fragment_dropped"
    );
}

/// Frames the fast path takes.
fn plain_frames() -> Vec<Vec<u8>> {
    vec![
        eth(0x0800, &udp4(A4, B4, 5353, 53, b"q")),
        eth(0x86DD, &tcp6(A6, B6, 40000, 443, b"hello")),
        eth(0x86DD, &udp6(A6, B6, 40000, 443, &[0xC0; 30])),
        eth(0x0800, &tcp4(A4, B4, 40000, 80, b"GET")),
        eth(
            0x8100,
            &[&[0, 7, 0x08, 0x00][..], &tcp4(A4, B4, 1, 443, b"x")].concat(),
        ),
        eth(
            0x88A8,
            &[&[0, 7, 0x86, 0xDD][..], &udp6(A6, B6, 1, 53, b"x")].concat(),
        ),
    ]
}

/// Plain Ethernet frames take the fast path; anything unusual is left to the walk.
#[test]
fn fast_path_takes_plain_frames_only() {
    for f in &plain_frames() {
        let fast = super::fast::ethernet(f).expect("plain frame on the fast path");
        assert_eq!(Decoder::default().decode_general(1, T0, f), Ok(fast));
    }
    let mut opts = eth(0x0800, &tcp4(A4, B4, 1, 2, b"x"));
    opts[14] = 0x46; // an IPv4 option word
    let mut frag = eth(0x0800, &udp4(A4, B4, 1, 2, b"x"));
    frag[14 + 6] = 0x20; // more fragments
    let mut cut = eth(0x0800, &tcp4(A4, B4, 1, 2, b"xyz"));
    cut.pop(); // shorter than the total length
    let vxlan = eth(0x0800, &udp4(A4, B4, 1, 4789, &[0; 16]));
    let qinq = {
        let mut v = eth(0x88A8, &[0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00]);
        v.extend(udp4(A4, B4, 1, 2, b"x"));
        v
    };
    for f in [opts, frag, cut, vxlan, qinq] {
        assert_eq!(super::fast::ethernet(&f), None);
    }
}

#[test]
fn ethernet_ipv4_udp_and_ipv6_tcp() {
    let mut d = Decoder::default();
    let f = eth(0x0800, &udp4(A4, B4, 5353, 53, b"query"));
    let s = summary(&mut d, 1, &f);
    assert_eq!(
        s,
        (addr(&A4), addr(&B4), 5353, 53, "udp", b"query".to_vec())
    );
    let ip6 = tcp6(A6, B6, 40000, 443, b"hello");
    let p = d.decode(101, T0, &ip6).unwrap();
    let L4::Tcp(t) = p.l4 else { panic!() };
    assert_eq!((t.seq, t.window, t.payload), (5, 100, &b"hello"[..]));
    assert!(t.flags.psh() && !t.flags.syn());
    assert_eq!(p.dst, addr(&B6));
    let p4 = tcp4(A4, B4, 1, 2, b"");
    let p = d.decode(228, T0, &p4).unwrap();
    let L4::Tcp(t) = p.l4 else { panic!() };
    assert!(t.flags.syn() && t.flags.ack());
    assert_eq!(t.ack, 77);
    assert!(d.decode(229, T0, &ip6).is_ok());
}

#[test]
fn snaplen_truncation_is_flagged() {
    let mut d = Decoder::default();
    let full = eth(0x0800, &tcp4(A4, B4, 1, 80, &[b'x'; 100]));
    let p = d.decode(1, T0, &full[..14 + 40 + 10]).unwrap();
    assert!(p.truncated);
    let L4::Tcp(t) = p.l4 else { panic!() };
    assert_eq!(t.payload.len(), 10);
    assert_eq!(d.counters().packets_truncated, 1);
    assert_eq!(
        d.decode(1, T0, &full[..14 + 30]).unwrap_err(),
        DecodeError::Truncated { layer: "tcp" }
    );
    // Ethernet padding after a short packet is not payload
    let mut padded = eth(0x0800, &udp4(A4, B4, 1, 2, b"ab"));
    padded.extend([0; 16]);
    let s = summary(&mut d, 1, &padded);
    assert_eq!(s.5, b"ab");
}

fn gre(flags: u16, proto: u16, extra: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut v = flags.to_be_bytes().to_vec();
    v.extend(proto.to_be_bytes());
    v.extend(extra);
    v.extend(inner);
    v
}

/// Frames carrying the same inner UDP packet A6:1234 -> B6:53 (or A4 -> B4) through each tunnel.
fn tunnel_frames() -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
    let in4 = udp4(A4, B4, 1234, 53, b"dns");
    let in6 = udp6(A6, B6, 1234, 53, b"dns");
    let outer = |proto: u8, payload: &[u8]| {
        eth(
            0x0800,
            &ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], proto, 1, 0, payload),
        )
    };
    let outer_udp = |dport: u16, payload: &[u8]| {
        eth(
            0x0800,
            &udp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, dport, payload),
        )
    };
    let mut erspan2 = vec![0x10, 0x01, 0, 0, 0, 0, 0, 0];
    erspan2.extend(eth(0x86DD, &in6));
    let mut erspan3 = vec![0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    erspan3.extend([0u8; 8]);
    erspan3.extend(eth(0x0800, &in4));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    vx.extend(eth(0x0800, &in4));
    let mut gv = vec![0x02, 0, 0x86, 0xDD, 0, 0, 42, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    gv.extend(&in6);
    let mut gtp = vec![0x34, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0, 0];
    gtp.extend(&in4);
    let gl = (gtp.len() - 8) as u16;
    gtp[2..4].copy_from_slice(&gl.to_be_bytes());
    vec![
        (
            "gre ipv4",
            outer(47, &gre(0, 0x0800, &[], &in4)),
            in4.clone(),
        ),
        (
            "gre key+seq+csum ipv6",
            outer(47, &gre(0xB000, 0x86DD, &[0; 12], &in6)),
            in6.clone(),
        ),
        (
            "gre teb",
            outer(47, &gre(0x2000, 0x6558, &[0, 0, 0, 9], &eth(0x0800, &in4))),
            in4.clone(),
        ),
        (
            "erspan ii",
            outer(47, &gre(0x1000, 0x88BE, &[0, 0, 0, 1], &erspan2)),
            in6.clone(),
        ),
        (
            "erspan iii",
            outer(47, &gre(0x1000, 0x22EB, &[0, 0, 0, 1], &erspan3)),
            in4.clone(),
        ),
        (
            "gre over udp",
            outer_udp(4754, &gre(0, 0x86DD, &[], &in6)),
            in6.clone(),
        ),
        ("vxlan", outer_udp(4789, &vx), in4.clone()),
        ("vxlan linux port", outer_udp(8472, &vx), in4.clone()),
        ("geneve", outer_udp(6081, &gv), in6.clone()),
        ("gtp-u", outer_udp(2152, &gtp), in4.clone()),
        ("4in4", outer(4, &in4), in4.clone()),
        ("6in4", outer(41, &in6), in6.clone()),
        ("4in6", eth(0x86DD, &ipv6_raw(A6, B6, 4, &in4)), in4.clone()),
        (
            "6in6",
            eth(0x86DD, &ipv6_raw(B6, A6, 41, &in6)),
            in6.clone(),
        ),
    ]
}

#[test]
fn every_tunnel_reaches_the_inner_packet() {
    for (name, frame, inner) in tunnel_frames() {
        let mut d = Decoder::default();
        let got = summary(&mut d, 1, &frame);
        let (src, dst) = if inner[0] >> 4 == 4 {
            (addr(&A4), addr(&B4))
        } else {
            (addr(&A6), addr(&B6))
        };
        assert_eq!(got, (src, dst, 1234, 53, "udp", b"dns".to_vec()), "{name}");
        assert_eq!(d.counters().tunnels_decapsulated, 1, "{name}");
        // the dispatch hash is the inner pair's
        let direct = dispatch_hash(101, &inner);
        assert_eq!(dispatch_hash(1, &frame), direct, "{name}");
        assert_ne!(direct, 0, "{name}");
    }
}

#[test]
fn tunnel_port_without_tunnel_stays_udp() {
    let mut d = Decoder::default();
    for port in [4789u16, 8472, 6081, 2152, 4754] {
        let f = eth(
            0x0800,
            &udp4(A4, B4, 40000, port, b"\x00not a tunnel at all"),
        );
        let s = summary(&mut d, 1, &f);
        assert_eq!((s.2, s.3, s.4), (40000, port, "udp"), "{port}");
    }
    assert_eq!(d.counters().tunnel_ports_not_tunnel, 5);
    assert_eq!(d.counters().tunnels_decapsulated, 0);
    // a VXLAN header whose inner frame is ARP is not an IP tunnel either
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    vx.extend(eth(0x0806, &[0; 28]));
    let f = eth(0x0800, &udp4(A4, B4, 1, 4789, &vx));
    assert_eq!(summary(&mut d, 1, &f).4, "udp");
    // GRE whose payload is not IP: the frame is not decoded, for the inner reason (the
    // outer GRE packet is never a flow, so keeping it would lose the packet silently)
    let g = eth(
        0x0800,
        &ipv4_raw(A4, B4, 47, 1, 0, &gre(0, 0x0806, &[], &[0; 28])),
    );
    assert_eq!(d.decode(1, T0, &g), Err(DecodeError::NotIp));
    assert_eq!(d.counters().tunnels_undecodable, 1);
}

#[test]
fn tunnel_depth_is_capped() {
    let mut pkt = udp4(A4, B4, 1, 2, b"x");
    for _ in 0..MAX_TUNNEL_DEPTH {
        pkt = ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], 4, 0, 0, &pkt);
    }
    let mut d = Decoder::default();
    assert_eq!(summary(&mut d, 101, &pkt).0, addr(&A4));
    let deeper = ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], 4, 0, 0, &pkt);
    assert_eq!(
        d.decode(101, T0, &deeper).unwrap_err(),
        DecodeError::TooDeep { layer: "tunnel" }
    );
    assert_ne!(dispatch_hash(101, &deeper), 0);
}

#[test]
fn vlan_mpls_pppoe_stacks() {
    let in4 = udp4(A4, B4, 7, 53, b"q");
    let mut d = Decoder::default();
    // QinQ then MPLS (two labels) then IPv4
    let mut l2 = vec![0, 10, 0x81, 0x00, 0, 20, 0x88, 0x47];
    l2.extend([0, 1, 0x00, 64, 0, 2, 0x01, 64]);
    l2.extend(&in4);
    let f = eth(0x88A8, &l2);
    assert_eq!(summary(&mut d, 1, &f).3, 53);
    // PPPoE session carrying IPv6
    let in6 = udp6(A6, B6, 7, 53, b"q");
    let mut ppp = vec![0x11, 0, 0, 1];
    ppp.extend(((in6.len() + 2) as u16).to_be_bytes());
    ppp.extend([0, 0x57]);
    ppp.extend(&in6);
    assert_eq!(summary(&mut d, 1, &eth(0x8864, &ppp)).1, addr(&B6));
}

/// Splits a UDP datagram into IPv4 fragments of `chunk` bytes (a multiple of 8).
fn frag4(src: [u8; 4], dst: [u8; 4], id: u16, udp: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let pieces: Vec<&[u8]> = udp.chunks(chunk).collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let more = if i + 1 < n { 0x2000 } else { 0 };
            eth(
                0x0800,
                &ipv4_raw(src, dst, 17, id, more | ((i * chunk / 8) as u16), p),
            )
        })
        .collect()
}

fn udp_bytes(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = sp.to_be_bytes().to_vec();
    v.extend(dp.to_be_bytes());
    v.extend(((8 + payload.len()) as u16).to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

#[test]
fn ipv4_fragments_in_order_and_reverse() {
    let payload: Vec<u8> = (0..200u8).collect();
    let udp = udp_bytes(1111, 53, &payload);
    for reverse in [false, true] {
        let mut frags = frag4(A4, B4, 77, &udp, 64);
        if reverse {
            frags.reverse();
        }
        let mut d = Decoder::default();
        let unfragmented = eth(0x0800, &udp4(A4, B4, 1, 2, b""));
        let h = dispatch_hash(1, &unfragmented);
        let n = frags.len();
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(dispatch_hash(1, f), h);
            let r = d.decode(1, T0, f);
            if i + 1 < n {
                assert_eq!(r.unwrap_err(), DecodeError::FragmentHeld);
            } else {
                let p = r.unwrap();
                let L4::Udp(u) = p.l4 else { panic!() };
                assert_eq!((u.src_port, u.dst_port), (1111, 53));
                assert_eq!(u.payload, &payload[..]);
                assert!(!p.truncated);
            }
        }
        assert_eq!(d.counters().datagrams_reassembled, 1);
        assert_eq!(d.counters().fragments_reassembled, n as u64);
    }
}

#[test]
fn ipv6_fragments_with_dest_options_after_fragment_header() {
    // fragmentable part: destination options (8 bytes) then UDP
    let mut body = vec![17, 0, 1, 4, 0, 0, 0, 0];
    body.extend(udp_bytes(999, 53, &[7u8; 100]));
    let (first, second) = body.split_at(56);
    let mk = |off: u16, more: bool, data: &[u8]| {
        let mut fh = vec![60, 0];
        fh.extend((off | more as u16).to_be_bytes());
        fh.extend(0xCAFEu32.to_be_bytes());
        fh.extend(data);
        eth(0x86DD, &ipv6_raw(A6, B6, 44, &fh))
    };
    let f1 = mk(0, true, first);
    let f2 = mk(56, false, second);
    let mut d = Decoder::default();
    assert_eq!(d.decode(1, T0, &f2).unwrap_err(), DecodeError::FragmentHeld);
    let s = summary(&mut d, 1, &f1);
    assert_eq!((s.2, s.3, s.5.len()), (999, 53, 100));
    assert_eq!(dispatch_hash(1, &f1), dispatch_hash(1, &f2));
    assert_eq!(
        dispatch_hash(1, &f1),
        dispatch_hash(101, &udp6(B6, A6, 53, 999, b""))
    );
}

#[test]
fn fragments_expire_and_caps_are_counted() {
    let udp = udp_bytes(1, 2, &[1u8; 64]);
    let frags = frag4(A4, B4, 5, &udp, 32);
    let limits = DefragLimits {
        max_datagrams: 2,
        ..DefragLimits::default()
    };
    let mut d = Decoder::new(limits);
    // first piece, then the rest 31 s later: the datagram expired in between
    assert_eq!(
        d.decode(1, T0, &frags[0]).unwrap_err(),
        DecodeError::FragmentHeld
    );
    let late = Timestamp::from_secs(31);
    for f in &frags[1..] {
        assert_eq!(d.decode(1, late, f).unwrap_err(), DecodeError::FragmentHeld);
    }
    assert_eq!(d.counters().fragments_dropped_timeout, 1);
    // three datagrams in flight with a cap of two: the oldest is dropped
    for id in 10..13u16 {
        let f = frag4(A4, B4, id, &udp, 32);
        assert_eq!(
            d.decode(1, late, &f[0]).unwrap_err(),
            DecodeError::FragmentHeld
        );
    }
    assert!(d.counters().fragments_dropped_datagrams_cap >= 1);
    assert_eq!(d.fragments_in_flight(), 2);
    // a truncated fragment is dropped with its reason
    let f = frag4(A4, B4, 99, &udp, 32);
    assert_eq!(
        d.decode(1, late, &f[0][..f[0].len() - 4]).unwrap_err(),
        DecodeError::FragmentDropped(FragDropReason::Truncated)
    );
    d.flush_fragments();
    assert_eq!(d.fragments_in_flight(), 0);
    assert_eq!(d.fragment_bytes_held(), 0);
    let c = d.counters();
    assert_eq!(c.fragments_dropped_flushed, 2);
    assert_eq!(c.fragments_dropped_datagrams_cap, 3);
    assert_eq!(
        c.fragments_received,
        c.fragments_reassembled + c.fragments_dropped()
    );
}

#[test]
fn fragmented_tunnel_reassembles_then_decapsulates() {
    let inner = udp4(A4, B4, 1234, 53, &[5u8; 120]);
    let outer_payload = gre(0, 0x0800, &[], &inner);
    let (a, b) = outer_payload.split_at(64);
    let f1 = eth(
        0x0800,
        &ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], 47, 9, 0x2000, a),
    );
    let f2 = eth(0x0800, &ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], 47, 9, 8, b));
    let mut d = Decoder::default();
    assert_eq!(d.decode(1, T0, &f1).unwrap_err(), DecodeError::FragmentHeld);
    let s = summary(&mut d, 1, &f2);
    assert_eq!((s.0, s.1, s.3, s.5.len()), (addr(&A4), addr(&B4), 53, 120));
}

#[test]
fn dispatch_hash_is_symmetric_and_zero_for_non_ip() {
    let ab = eth(0x0800, &tcp4(A4, B4, 1, 2, b"x"));
    let ba = eth(0x0800, &tcp4(B4, A4, 2, 1, b"y"));
    assert_eq!(dispatch_hash(1, &ab), dispatch_hash(1, &ba));
    assert_ne!(dispatch_hash(1, &ab), 0);
    let other = eth(0x0800, &tcp4(A4, [198, 51, 100, 8], 1, 2, b"x"));
    assert_ne!(dispatch_hash(1, &ab), dispatch_hash(1, &other));
    assert_eq!(dispatch_hash(1, &eth(0x0806, &[0; 28])), 0);
    assert_eq!(dispatch_hash(999, &ab), 0);
    let v6ab = tcp6(A6, B6, 1, 2, b"");
    let v6ba = tcp6(B6, A6, 2, 1, b"");
    assert_eq!(dispatch_hash(229, &v6ab), dispatch_hash(101, &v6ba));
}

fn all_linktypes() -> Vec<u32> {
    vec![
        0, 1, 9, 12, 14, 50, 101, 105, 108, 113, 127, 228, 229, 239, 276,
    ]
}

fn valid_frames() -> Vec<(u32, Vec<u8>)> {
    let mut v: Vec<(u32, Vec<u8>)> = tunnel_frames()
        .into_iter()
        .map(|(_, f, _)| (1, f))
        .collect();
    let in4 = tcp4(A4, B4, 1, 80, b"GET / HTTP/1.1\r\n\r\n");
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend(&in4);
    v.push((113, sll));
    let mut nflog = vec![2, 0, 0, 1];
    nflog.extend(((in4.len() + 4) as u16).to_le_bytes());
    nflog.extend([9, 0]);
    nflog.extend(&in4);
    v.push((239, nflog));
    let mut rt = vec![0, 0, 8, 0, 0, 0, 0, 0, 0x08, 0x02];
    rt.extend([0u8; 22]);
    rt.extend([0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]);
    rt.extend(&in4);
    v.push((127, rt));
    v.push((101, udp6(A6, B6, 1, 443, &[0xC0; 64])));
    v.push((229, udp6(A6, B6, 1, 443, &[0xC0; 64])));
    v.push((228, in4.clone()));
    let prefixed = |pre: &[u8]| {
        pre.iter()
            .copied()
            .chain(in4.iter().copied())
            .collect::<Vec<u8>>()
    };
    v.push((0, prefixed(&[2, 0, 0, 0])));
    v.push((108, prefixed(&[0, 0, 0, 2])));
    v.push((9, prefixed(&[0xFF, 0x03, 0x00, 0x21])));
    v.push((50, prefixed(&[0x0F, 0x00, 0x08, 0x00])));
    v.push((
        276,
        prefixed(&[8, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0]),
    ));
    let mut wifi = vec![0x88, 0x03];
    wifi.extend([0u8; 28]);
    wifi.extend([0, 0, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]);
    wifi.extend(&in4);
    v.push((105, wifi));
    for f in frag4(A4, B4, 3, &udp_bytes(5, 53, &[1u8; 100]), 32) {
        v.push((1, f));
    }
    v
}

proptest! {
    #[test]
    fn random_bytes_never_panic(lt_idx in 0usize..15, bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let lt = all_linktypes()[lt_idx];
        let mut d = Decoder::default();
        let _ = d.decode(lt, T0, &bytes);
        let _ = dispatch_hash(lt, &bytes);
    }

    #[test]
    fn truncated_and_mutated_valid_frames_never_panic(
        idx in 0usize..64,
        cut in 0usize..400,
        flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..4),
    ) {
        let frames = valid_frames();
        let (lt, frame) = &frames[idx % frames.len()];
        let mut d = Decoder::default();
        // the whole frame decodes (or is a held fragment)
        match d.decode(*lt, T0, frame) {
            Ok(_) | Err(DecodeError::FragmentHeld) => {}
            Err(e) => prop_assert!(false, "valid frame failed: {e}"),
        }
        let cut = cut.min(frame.len());
        let _ = d.decode(*lt, T0, &frame[..cut]);
        let _ = dispatch_hash(*lt, &frame[..cut]);
        let mut m = frame.clone();
        for (at, val) in flips {
            if !m.is_empty() {
                let i = at % m.len();
                m[i] = val;
            }
        }
        let _ = d.decode(*lt, T0, &m);
        let _ = dispatch_hash(*lt, &m);
    }

    /// The fast path answers what the general walk answers (and leaves the counters
    /// alone), on valid frames of every kind, cut short and with bytes changed.
    #[test]
    fn fast_path_agrees_with_the_general_walk(
        shorten in 0usize..40,
        flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..3),
    ) {
        let mut frames = valid_frames();
        frames.extend(plain_frames().into_iter().map(|f| (1, f)));
        // Only Ethernet frames are offered to the fast path.
        for (_, frame) in frames.iter().filter(|(lt, _)| *lt == 1) {
            let mut m = frame.clone();
            for &(at, val) in &flips {
                let i = at % m.len();
                m[i] = val;
            }
            m.truncate(m.len().saturating_sub(shorten));
            for f in [frame.as_slice(), &m] {
                prop_assert_eq!(dispatch_hash(1, f), super::decoder::dispatch_hash_general(1, f));
                let Some(fast) = super::fast::ethernet(f) else { continue };
                let mut d = Decoder::default();
                prop_assert_eq!(d.decode_general(1, T0, f), Ok(fast));
                prop_assert_eq!(d.counters(), &DecodeCounters::default());
            }
        }
    }

    #[test]
    fn random_fragment_streams_stay_bounded(
        frags in proptest::collection::vec((0u16..4, 0u16..0x2000, any::<bool>(), 0usize..300, 0i64..100), 1..200),
    ) {
        let limits = DefragLimits { max_datagrams: 3, max_bytes: 4096, ..DefragLimits::default() };
        let mut d = Decoder::new(limits);
        for (id, off, more, len, t) in frags {
            let flags = if more { 0x2000 } else { 0 } | off;
            let f = eth(0x0800, &ipv4_raw(A4, B4, 17, id, flags, &vec![0xAB; len]));
            let _ = d.decode(1, Timestamp::from_secs(t), &f);
            prop_assert!(d.fragments_in_flight() <= 3);
            prop_assert!(d.fragment_bytes_held() <= 4096);
        }
        // every fragment is accounted for exactly once
        d.flush_fragments();
        let c = d.counters();
        prop_assert_eq!(c.fragments_received, c.fragments_reassembled + c.fragments_dropped());
        prop_assert_eq!(d.fragment_bytes_held(), 0);
    }
}
