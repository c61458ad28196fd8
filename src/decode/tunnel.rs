//! Tunnel headers: each function checks a header and answers the link layer its payload
//! starts at. A UDP tunnel answers `None` when the bytes are not that tunnel (the caller
//! keeps the UDP packet); GRE, whose outer packet is never a flow, answers why it could
//! not be walked. IP-in-IP needs no header and is handled by the decoder's loop.

use super::LinkType;
use super::bytes::{be16, u8_at};
use super::error::{DecodeError, bad, trunc};
use super::link::{ETH_PPP, L2};

/// GTP-U extension headers walked (3GPP TS 29.281 §5.2). A G-PDU carries one or two
/// (PDU session container, UDP port); eight bounds a hostile chain.
pub const MAX_GTP_EXT_HEADERS: usize = 8;

pub(crate) const PORT_GRE_UDP: u16 = 4754;
pub(crate) const PORT_VXLAN: u16 = 4789;
/// The port Linux used for VXLAN before IANA assigned 4789; still its default.
pub(crate) const PORT_VXLAN_LINUX: u16 = 8472;
pub(crate) const PORT_GENEVE: u16 = 6081;
pub(crate) const PORT_GTP_U: u16 = 2152;

/// Header fields of the tunnels.
pub(crate) mod field {
    /// GRE (RFC 2784 §2): flags and version, protocol type, then the optional words.
    pub(crate) mod gre {
        use crate::decode::bytes::Field;

        pub(crate) const FLAGS_VERSION: Field = 0..2;
        pub(crate) const PROTOCOL: Field = 2..4;
        /// Without any of the optional 4-byte words (checksum, key, sequence, ack).
        pub(crate) const HEADER_LEN: usize = 4;
        pub(crate) const OPTION_LEN: usize = 4;
    }

    /// ERSPAN type II (8 bytes): version in the high nibble of the first byte.
    pub(crate) mod erspan2 {
        use crate::decode::bytes::Rest;

        pub(crate) const VERSION: usize = 0;
        pub(crate) const PAYLOAD: Rest = 8..;
    }

    /// ERSPAN type III (12 bytes, 20 with the platform-specific subheader).
    pub(crate) mod erspan3 {
        pub(crate) const VERSION: usize = 0;
        /// Its last bit, O, announces the 8-byte platform-specific subheader.
        pub(crate) const FLAGS_O: usize = 11;
        pub(crate) const HEADER_LEN: usize = 12;
        pub(crate) const HEADER_LEN_WITH_SUB: usize = 20;
    }

    /// VXLAN (RFC 7348 §5): flags, reserved, VNI, reserved.
    pub(crate) mod vxlan {
        use crate::decode::bytes::Rest;

        pub(crate) const FLAGS: usize = 0;
        pub(crate) const PAYLOAD: Rest = 8..;
    }

    /// Geneve (RFC 8926 §3.4): version and options length, flags, protocol type, VNI.
    pub(crate) mod geneve {
        use crate::decode::bytes::Field;

        pub(crate) const VER_OPT_LEN: usize = 0;
        pub(crate) const PROTOCOL: Field = 2..4;
        /// Before the options.
        pub(crate) const HEADER_LEN: usize = 8;
    }

    /// GTP-U (3GPP TS 29.281 §5.1): flags, message type, length, TEID; then, when any
    /// of E, S, PN is set, sequence number, N-PDU number and next extension type.
    pub(crate) mod gtp_u {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const FLAGS: usize = 0;
        pub(crate) const MESSAGE_TYPE: usize = 1;
        pub(crate) const LENGTH: Field = 2..4;
        /// What the length counts: all after the mandatory 8 bytes.
        pub(crate) const BODY: Rest = 8..;
        /// In the body: the next extension type ends the optional word.
        pub(crate) const NEXT_EXT: usize = 3;
        pub(crate) const AFTER_OPTIONAL: Rest = 4..;
        /// An extension header's length, in 4-byte words, is its first byte.
        pub(crate) const EXT_LENGTH: usize = 0;
    }
}

const ERSPAN_II: u16 = 0x88BE;
const ERSPAN_III: u16 = 0x22EB;

/// GRE protocol types of WLAN controllers (Aruba first, 0x8200, then every 0x10 up to
/// 0x8360: the range Wireshark hands to its 802.11 dissector): an AP tunnels each
/// 802.11 frame, without radio header or FCS, to the controller.
const GRE_WLAN_FIRST: u16 = 0x8200;
const GRE_WLAN_LAST: u16 = 0x8360;
const GRE_WLAN_STEP: u16 = 0x10;

fn is_wlan_type(proto: u16) -> bool {
    (GRE_WLAN_FIRST..=GRE_WLAN_LAST).contains(&proto)
        && proto
            .wrapping_sub(GRE_WLAN_FIRST)
            .is_multiple_of(GRE_WLAN_STEP)
}

const GRE_C: u16 = 0x8000;
const GRE_R: u16 = 0x4000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;
/// Enhanced GRE (PPTP, RFC 2637 §4.1): acknowledgment number present.
const GRE_A: u16 = 0x0080;

/// GRE (RFC 2784 §2, RFC 2890 §2; version 1 is PPTP's). Source routing (RFC 1701's R bit)
/// is obsolete and not decoded. After the header: ERSPAN I/II/III, 802.11 of a WLAN
/// controller, or an EtherType for the link walk (IP, 0x6558 Ethernet, MPLS, PPP).
pub(crate) fn gre(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    let flags = be16(b, field::gre::FLAGS_VERSION).ok_or(trunc("gre"))?;
    let proto = be16(b, field::gre::PROTOCOL).ok_or(trunc("gre"))?;
    let version = flags & 0x7;
    if flags & GRE_R != 0 || version > 1 || (version == 1 && proto != ETH_PPP) {
        return Err(DecodeError::Unsupported { layer: "gre" });
    }
    let mut len = field::gre::HEADER_LEN;
    for (bit, present) in [
        (GRE_C, true),
        (GRE_K, true),
        (GRE_S, true),
        (GRE_A, version == 1),
    ] {
        if present && flags & bit != 0 {
            len = len.saturating_add(field::gre::OPTION_LEN);
        }
    }
    let rest = b.get(len..).ok_or(trunc("gre"))?;
    Ok(match proto {
        // ERSPAN type I has no header of its own, and no GRE sequence number: that
        // absence is how it is told from type II (as Wireshark tells them).
        ERSPAN_II if flags & GRE_S == 0 => L2::Ether(rest),
        ERSPAN_II => {
            // ERSPAN type II header, version 1.
            let version = u8_at(rest, field::erspan2::VERSION).ok_or(trunc("erspan"))? >> 4;
            if version != 1 {
                return Err(bad("erspan"));
            }
            L2::Ether(rest.get(field::erspan2::PAYLOAD).ok_or(trunc("erspan"))?)
        }
        ERSPAN_III => {
            // ERSPAN type III header, version 2, maybe with its subheader; with or
            // without the GRE sequence number.
            use field::erspan3;
            let version = u8_at(rest, erspan3::VERSION).ok_or(trunc("erspan"))? >> 4;
            if version != 2 {
                return Err(bad("erspan"));
            }
            let sub = if u8_at(rest, erspan3::FLAGS_O).ok_or(trunc("erspan"))? & 1 != 0 {
                erspan3::HEADER_LEN_WITH_SUB
            } else {
                erspan3::HEADER_LEN
            };
            L2::Ether(rest.get(sub..).ok_or(trunc("erspan"))?)
        }
        wlan if is_wlan_type(wlan) => L2::Link(LinkType::Ieee80211, rest),
        _ => L2::EtherType(proto, rest),
    })
}

/// The tunnel a UDP destination port announces, checked against its header.
pub(crate) fn udp(dst_port: u16, payload: &[u8]) -> Option<L2<'_>> {
    match dst_port {
        PORT_VXLAN | PORT_VXLAN_LINUX => vxlan(payload),
        PORT_GENEVE => geneve(payload),
        PORT_GTP_U => gtp_u(payload),
        PORT_GRE_UDP => gre(payload).ok(),
        _ => None,
    }
}

pub(crate) fn is_tunnel_port(port: u16) -> bool {
    matches!(
        port,
        PORT_VXLAN | PORT_VXLAN_LINUX | PORT_GENEVE | PORT_GTP_U | PORT_GRE_UDP
    )
}

/// VXLAN (RFC 7348 §5): 8 bytes, the I flag (0x08) must be set; an Ethernet frame follows.
fn vxlan(b: &[u8]) -> Option<L2<'_>> {
    if u8_at(b, field::vxlan::FLAGS)? & 0x08 == 0 {
        return None;
    }
    Some(L2::Ether(b.get(field::vxlan::PAYLOAD)?))
}

/// Geneve (RFC 8926 §3.4): version 0, options length in 4-byte words, protocol type.
fn geneve(b: &[u8]) -> Option<L2<'_>> {
    let b0 = u8_at(b, field::geneve::VER_OPT_LEN)?;
    if b0 >> 6 != 0 {
        return None;
    }
    let opts = usize::from(b0 & 0x3F).saturating_mul(4);
    let proto = be16(b, field::geneve::PROTOCOL)?;
    Some(L2::EtherType(
        proto,
        b.get(opts.saturating_add(field::geneve::HEADER_LEN)..)?,
    ))
}

/// GTP-U (3GPP TS 29.281 §5.1): version 1, protocol type GTP, message type 255 (G-PDU);
/// the optional sequence/N-PDU/next-extension word when any of E, S, PN is set; then the
/// extension header chain (§5.2), each `length * 4` bytes ending with the next type.
fn gtp_u(b: &[u8]) -> Option<L2<'_>> {
    use field::gtp_u as gtp;
    let flags = u8_at(b, gtp::FLAGS)?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || u8_at(b, gtp::MESSAGE_TYPE)? != 0xFF {
        return None;
    }
    let len = usize::from(be16(b, gtp::LENGTH)?);
    let body = b.get(gtp::BODY)?;
    // The length counts everything after the mandatory 8 bytes; a snaplen cut leaves less.
    let body = body.get(..len).unwrap_or(body);
    let mut rest = body;
    if flags & 0x07 != 0 {
        let mut next = u8_at(rest, gtp::NEXT_EXT)?;
        rest = rest.get(gtp::AFTER_OPTIONAL)?;
        if flags & 0x04 != 0 {
            let mut walked = 0usize;
            while next != 0 {
                walked = walked.saturating_add(1);
                if walked > MAX_GTP_EXT_HEADERS {
                    return None;
                }
                let words = usize::from(u8_at(rest, gtp::EXT_LENGTH)?);
                let ext_len = words.checked_mul(4).filter(|&n| n > 0)?;
                next = u8_at(rest, ext_len.checked_sub(1)?)?;
                rest = rest.get(ext_len..)?;
            }
        }
    }
    match u8_at(rest, 0)? >> 4 {
        4 | 6 => Some(L2::Ip(rest)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn inner<E: std::fmt::Debug>(l: Result<L2<'_>, E>) -> (&'static str, u16, Vec<u8>) {
        match l.unwrap() {
            L2::Ether(b) => ("ether", 0, b.to_vec()),
            L2::Link(LinkType::Ieee80211, b) => ("802.11", 0, b.to_vec()),
            L2::EtherType(t, b) => ("ethertype", t, b.to_vec()),
            L2::Ip(b) => ("ip", 0, b.to_vec()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gre_flags_and_payloads() {
        // plain GRE carrying IPv4
        assert_eq!(
            inner(gre(&[0, 0, 0x08, 0, 0x45])),
            ("ethertype", 0x0800, vec![0x45])
        );
        // checksum + key + sequence: 12 optional bytes
        let mut g = vec![0xB0, 0, 0x86, 0xDD];
        g.extend([0u8; 12]);
        g.push(0x60);
        assert_eq!(inner(gre(&g)), ("ethertype", 0x86DD, vec![0x60]));
        // transparent Ethernet bridging
        assert_eq!(
            inner(gre(&[0x20, 0, 0x65, 0x58, 0, 0, 0, 1, 7])),
            ("ethertype", 0x6558, vec![7])
        );
        // routing bit and unknown versions are refused
        let unsupported = Err(DecodeError::Unsupported { layer: "gre" });
        assert_eq!(gre(&[0x40, 0, 0x08, 0, 0x45]).map(|_| ()), unsupported);
        assert_eq!(gre(&[0x00, 2, 0x08, 0, 0x45]).map(|_| ()), unsupported);
        assert_eq!(gre(&[0x10, 0, 0x08, 0]).map(|_| ()), Err(trunc("gre")));
        // PPTP enhanced GRE: key always, sequence and ack optional
        let pptp = [
            0x30, 0x81, 0x88, 0x0B, 0, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0xFF,
        ];
        assert_eq!(inner(gre(&pptp)), ("ethertype", 0x880B, vec![0xFF]));
    }

    #[test]
    fn erspan_types() {
        // type II (sequence bit set) with its 8-byte header
        let mut e2 = vec![0x10, 0, 0x88, 0xBE, 0, 0, 0, 1];
        e2.extend([0x10, 0x01, 0, 0, 0, 0, 0, 0, 0xEE]);
        assert_eq!(inner(gre(&e2)), ("ether", 0, vec![0xEE]));
        // type I: no sequence bit, no header
        assert_eq!(
            inner(gre(&[0, 0, 0x88, 0xBE, 0xEE])),
            ("ether", 0, vec![0xEE])
        );
        // type III with the platform-specific subheader
        let mut e3 = vec![0x10, 0, 0x22, 0xEB, 0, 0, 0, 1];
        e3.extend([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        e3.extend([0u8; 8]);
        e3.push(0xEE);
        assert_eq!(inner(gre(&e3)), ("ether", 0, vec![0xEE]));
        // type III without the GRE sequence number
        let mut e3_noseq = vec![0, 0, 0x22, 0xEB];
        e3_noseq.extend(&e3[8..]);
        assert_eq!(inner(gre(&e3_noseq)), ("ether", 0, vec![0xEE]));
        e3[8] = 0x10; // wrong version
        assert_eq!(gre(&e3).map(|_| ()), Err(bad("erspan")));
    }

    #[test]
    fn wlan_controller_types() {
        for proto in [0x8200u16, 0x8210, 0x8300, 0x8360] {
            let mut g = vec![0, 0];
            g.extend(proto.to_be_bytes());
            g.push(0x08);
            assert_eq!(inner(gre(&g)), ("802.11", 0, vec![0x08]), "{proto:#x}");
        }
        // between the steps and past the range: an EtherType like any other
        for proto in [0x8201u16, 0x8370] {
            let mut g = vec![0, 0];
            g.extend(proto.to_be_bytes());
            assert_eq!(inner(gre(&g)).1, proto);
        }
    }

    #[test]
    fn udp_tunnels() {
        let inner = |l: Option<L2<'_>>| inner(l.ok_or(()));
        assert_eq!(
            inner(udp(4789, &[0x08, 0, 0, 0, 0, 0, 1, 0, 0xEE])),
            ("ether", 0, vec![0xEE])
        );
        assert_eq!(
            inner(udp(8472, &[0x08, 0, 0, 0, 0, 0, 1, 0, 0xEE])),
            ("ether", 0, vec![0xEE])
        );
        assert!(udp(4789, &[0x00, 0, 0, 0, 0, 0, 1, 0, 0xEE]).is_none());
        // Geneve with one 8-byte option, carrying Ethernet
        let mut gv = vec![0x02, 0, 0x65, 0x58, 0, 0, 1, 0];
        gv.extend([0u8; 8]);
        gv.push(0xEE);
        assert_eq!(inner(udp(6081, &gv)), ("ethertype", 0x6558, vec![0xEE]));
        assert!(udp(6081, &[0xC0, 0, 0x65, 0x58, 0, 0, 1, 0]).is_none());
        assert!(udp(53, &[0x08, 0, 0, 0, 0, 0, 1, 0, 0xEE]).is_none());
    }

    #[test]
    fn gtp_u_with_extensions() {
        let inner = |l: Option<L2<'_>>| inner(l.ok_or(()));
        // plain G-PDU
        assert_eq!(
            inner(udp(2152, &[0x30, 0xFF, 0, 1, 0, 0, 0, 1, 0x45])),
            ("ip", 0, vec![0x45])
        );
        // E flag: sequence word with next-extension 0x85, one 4-byte extension, IPv6
        let g = [
            0x34, 0xFF, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0, 0, 0x60,
        ];
        assert_eq!(inner(udp(2152, &g)), ("ip", 0, vec![0x60]));
        // zero-length extension is refused, as is an echo request
        let z = [
            0x34, 0xFF, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0, 0, 0, 0x60,
        ];
        assert!(udp(2152, &z).is_none());
        assert!(udp(2152, &[0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]).is_none());
    }
}
