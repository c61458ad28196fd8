//! Link layers down to the first IP header: Ethernet and 802.3 LLC/SNAP, VLAN tags, MPLS,
//! PPPoE, PPP, Linux cooked v1/v2, BSD null/loop, NFLOG, radiotap and 802.11.
//!
//! `walk` turns a starting [`L2`] into the bytes of an IP header (version not yet checked).
//! Tunnels re-enter here with the layer their payload starts at (Ethernet for VXLAN, an
//! EtherType for GRE and Geneve).

use super::LinkType;
use super::bytes::{Field, be16, be32, le16, le32, u8_at};
use super::error::{DecodeError, bad, trunc};

/// 802.1Q/802.1ad tags in one frame. Real networks stack two (QinQ), rarely three;
/// eight leaves room for odd carrier setups and stops a frame made of nothing but tags.
pub const MAX_VLAN_TAGS: usize = 8;
/// MPLS label stack entries. RFC 3031 sets no limit; real stacks (VPN + transport +
/// entropy label pairs, segment routing) stay under a dozen; 16 covers them.
pub const MAX_MPLS_LABELS: usize = 16;
/// NFLOG TLVs walked before `NFULA_PAYLOAD`. The kernel emits about ten attributes
/// (prefix, uid, gid, hw address, timestamps, ...); 64 is generous and bounds the walk.
pub const MAX_NFLOG_TLVS: usize = 64;
/// Link-layer steps (tags, labels, encapsulations) in one walk: VLAN and MPLS have their
/// own caps, this bounds the chains between them (Ethernet in MPLS pseudo-wire in
/// Ethernet ...), which cannot be longer than a few on a real wire.
pub const MAX_LINK_STEPS: usize = 32;

pub(crate) const ETH_IPV4: u16 = 0x0800;
pub(crate) const ETH_IPV6: u16 = 0x86DD;
pub(crate) const ETH_VLAN: u16 = 0x8100;
pub(crate) const ETH_QINQ: u16 = 0x88A8;
/// Pre-standard QinQ outer tag, still emitted by some switches.
pub(crate) const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MCAST: u16 = 0x8848;
const ETH_PPPOE_SESSION: u16 = 0x8864;
pub(crate) const ETH_PPP: u16 = 0x880B;
pub(crate) const ETH_TEB: u16 = 0x6558;

/// Header fields of the link layers. One-byte fields are indexes; `PAYLOAD` is where
/// the next layer starts.
pub(crate) mod field {
    /// Ethernet II: destination and source MAC, then the EtherType (or an 802.3 length).
    pub(crate) mod ethernet {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const ETHERTYPE: Field = 12..14;
        pub(crate) const PAYLOAD: Rest = 14..;
        pub(crate) const HEADER_LEN: usize = PAYLOAD.start;
    }

    /// An 802.1Q/802.1ad tag, after the tag's own EtherType: TCI, then the inner type.
    pub(crate) mod vlan {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const INNER_TYPE: Field = 2..4;
        pub(crate) const PAYLOAD: Rest = 4..;
        pub(crate) const HEADER_LEN: usize = PAYLOAD.start;
    }

    /// 802.2 LLC (DSAP, SSAP, control) with SNAP (OUI, EtherType).
    pub(crate) mod llc_snap {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const LLC: Field = 0..3;
        pub(crate) const ETHERTYPE: Field = 6..8;
        pub(crate) const PAYLOAD: Rest = 8..;
    }

    /// BSD null/loop: a 4-byte address family.
    pub(crate) mod null {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const FAMILY: Field = 0..4;
        pub(crate) const PAYLOAD: Rest = 4..;
    }

    /// Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
    pub(crate) mod sll {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const PROTOCOL: Field = 14..16;
        pub(crate) const PAYLOAD: Rest = 16..;
    }

    /// Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type, address
    /// length, address.
    pub(crate) mod sll2 {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const PROTOCOL: Field = 0..2;
        pub(crate) const PAYLOAD: Rest = 20..;
    }

    /// Cisco HDLC: address, control, EtherType.
    pub(crate) mod chdlc {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const ADDRESS: usize = 0;
        pub(crate) const ETHERTYPE: Field = 2..4;
        pub(crate) const PAYLOAD: Rest = 4..;
    }

    /// Radiotap: version, pad, little-endian length of the whole radiotap header.
    pub(crate) mod radiotap {
        use crate::decode::bytes::Field;

        pub(crate) const VERSION: usize = 0;
        pub(crate) const LENGTH: Field = 2..4;
        /// Version, pad, length and the first presence word.
        pub(crate) const MIN_LEN: usize = 8;
    }

    /// PPP: the optional HDLC address and control bytes (RFC 1662 §3), then a protocol
    /// of two bytes or, compressed, one (RFC 1661 §6.5).
    pub(crate) mod ppp {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const ADDRESS_CONTROL: Field = 0..2;
        pub(crate) const AFTER_ADDRESS_CONTROL: Rest = 2..;
        pub(crate) const PROTOCOL: Field = 0..2;
        pub(crate) const PAYLOAD: Rest = 2..;
        pub(crate) const PROTOCOL_COMPRESSED: usize = 0;
        pub(crate) const PAYLOAD_COMPRESSED: Rest = 1..;
    }

    /// PPPoE session stage: ver/type, code, session id, length.
    pub(crate) mod pppoe {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const HEADER: Field = 0..6;
        pub(crate) const VER_TYPE: usize = 0;
        pub(crate) const CODE: usize = 1;
        pub(crate) const LENGTH: Field = 4..6;
        pub(crate) const PAYLOAD: Rest = 6..;
    }

    /// One MPLS label stack entry: label, traffic class, bottom-of-stack bit, TTL.
    pub(crate) mod mpls {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const ENTRY: Field = 0..4;
        /// The next entry, or the payload after the bottom of the stack.
        pub(crate) const NEXT: Rest = 4..;
    }

    /// An Ethernet pseudo-wire (RFC 4385 §3): a 4-byte control word, then the frame.
    pub(crate) mod pseudowire {
        use crate::decode::bytes::Rest;

        pub(crate) const PAYLOAD: Rest = 4..;
    }

    /// NFLOG: family, version, resource id, then TLVs of length, type and value.
    pub(crate) mod nflog {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const TLVS: Rest = 4..;
        pub(crate) const TLV_LENGTH: Field = 0..2;
        pub(crate) const TLV_TYPE: Field = 2..4;
        pub(crate) const TLV_VALUE: Rest = 4..;
        pub(crate) const TLV_HEADER_LEN: usize = TLV_VALUE.start;
    }
}

const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;

/// A layer the walk can be at.
#[derive(Clone, Copy, Debug)]
pub(crate) enum L2<'a> {
    Link(LinkType, &'a [u8]),
    Ether(&'a [u8]),
    EtherType(u16, &'a [u8]),
    Ppp(&'a [u8]),
    Mpls(&'a [u8]),
    Ip(&'a [u8]),
}

/// Walks link layers from `start` to the first IP header and returns its bytes.
pub(crate) fn walk(start: L2<'_>) -> Result<&[u8], DecodeError> {
    let mut at = start;
    let mut vlan_tags = 0usize;
    for _ in 0..MAX_LINK_STEPS {
        at = match at {
            L2::Ip(b) => return Ok(b),
            L2::Link(lt, b) => link(lt, b)?,
            L2::Ether(b) => ether(b)?,
            L2::Ppp(b) => ppp(b)?,
            L2::Mpls(b) => mpls(b)?,
            L2::EtherType(et, b) => match et {
                ETH_IPV4 | ETH_IPV6 => L2::Ip(b),
                ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                    vlan_tags = vlan_tags.saturating_add(1);
                    if vlan_tags > MAX_VLAN_TAGS {
                        return Err(DecodeError::TooDeep { layer: "vlan" });
                    }
                    use field::vlan;
                    let inner = be16(b, vlan::INNER_TYPE).ok_or(trunc("vlan"))?;
                    L2::EtherType(inner, b.get(vlan::PAYLOAD).ok_or(trunc("vlan"))?)
                }
                ETH_MPLS | ETH_MPLS_MCAST => L2::Mpls(b),
                ETH_PPPOE_SESSION => pppoe(b)?,
                ETH_PPP => L2::Ppp(b),
                ETH_TEB => L2::Ether(b),
                // An 802.3 length after a VLAN tag: LLC follows.
                len if len < 0x0600 => llc_snap(b)?,
                _ => return Err(DecodeError::NotIp),
            },
        };
    }
    Err(DecodeError::TooDeep { layer: "link" })
}

fn link(lt: LinkType, b: &[u8]) -> Result<L2<'_>, DecodeError> {
    Ok(match lt {
        LinkType::Ethernet => L2::Ether(b),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => L2::Ip(b),
        LinkType::Null => {
            // Host byte order of the machine that captured: the values are small, so
            // whichever order gives a small number is the right one.
            let le = le32(b, field::null::FAMILY).ok_or(trunc("null"))?;
            let af = if le <= 0xFFFF { le } else { le.swap_bytes() };
            bsd_af(af, b.get(field::null::PAYLOAD).ok_or(trunc("null"))?)?
        }
        LinkType::Loop => {
            let af = be32(b, field::null::FAMILY).ok_or(trunc("loop"))?;
            bsd_af(af, b.get(field::null::PAYLOAD).ok_or(trunc("loop"))?)?
        }
        LinkType::LinuxSll => {
            let proto = be16(b, field::sll::PROTOCOL).ok_or(trunc("sll"))?;
            L2::EtherType(proto, b.get(field::sll::PAYLOAD).ok_or(trunc("sll"))?)
        }
        LinkType::LinuxSll2 => {
            let proto = be16(b, field::sll2::PROTOCOL).ok_or(trunc("sll2"))?;
            L2::EtherType(proto, b.get(field::sll2::PAYLOAD).ok_or(trunc("sll2"))?)
        }
        LinkType::Ppp => L2::Ppp(b),
        LinkType::PppHdlc => match u8_at(b, field::chdlc::ADDRESS) {
            // Cisco HDLC: address 0x0F (unicast) or 0x8F (broadcast), control 0, EtherType.
            Some(0x0F | 0x8F) => {
                let et = be16(b, field::chdlc::ETHERTYPE).ok_or(trunc("chdlc"))?;
                L2::EtherType(et, b.get(field::chdlc::PAYLOAD).ok_or(trunc("chdlc"))?)
            }
            _ => L2::Ppp(b),
        },
        LinkType::Nflog => L2::Ip(nflog(b)?),
        LinkType::Radiotap => {
            let len = radiotap_len(b)?;
            ieee80211(b.get(len..).ok_or(trunc("radiotap"))?)?
        }
        LinkType::Ieee80211 => ieee80211(b)?,
    })
}

/// BSD address families for IP: AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD,
/// OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly), 30 (Darwin), 10 (Linux, seen in odd files).
fn bsd_af(af: u32, rest: &[u8]) -> Result<L2<'_>, DecodeError> {
    match af {
        2 | 10 | 24 | 28 | 30 => Ok(L2::Ip(rest)),
        _ => Err(DecodeError::NotIp),
    }
}

fn ether(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    let et = be16(b, field::ethernet::ETHERTYPE).ok_or(trunc("ethernet"))?;
    let rest = b.get(field::ethernet::PAYLOAD).ok_or(trunc("ethernet"))?;
    if et >= 0x0600 {
        return Ok(L2::EtherType(et, rest));
    }
    // 802.3 length field: only LLC/SNAP carries an EtherType.
    llc_snap(rest)
}

/// 802.2 LLC with SNAP: DSAP 0xAA, SSAP 0xAA, control 0x03, 3-byte OUI, EtherType.
fn llc_snap(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    use field::llc_snap;
    match b.get(llc_snap::LLC) {
        Some([0xAA, 0xAA, 0x03]) => {
            let et = be16(b, llc_snap::ETHERTYPE).ok_or(trunc("llc"))?;
            Ok(L2::EtherType(
                et,
                b.get(llc_snap::PAYLOAD).ok_or(trunc("llc"))?,
            ))
        }
        Some(_) => Err(DecodeError::NotIp),
        None => Err(trunc("llc")),
    }
}

/// PPP (RFC 1661 §2): optional HDLC address/control 0xFF 0x03 (RFC 1662 §3), then a
/// protocol field of two bytes, or one when compressed (RFC 1661 §6.5: odd first byte).
fn ppp(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    use field::ppp;
    let b = match b.get(ppp::ADDRESS_CONTROL) {
        Some([0xFF, 0x03]) => b.get(ppp::AFTER_ADDRESS_CONTROL).ok_or(trunc("ppp"))?,
        _ => b,
    };
    let first = u8_at(b, ppp::PROTOCOL_COMPRESSED).ok_or(trunc("ppp"))?;
    let (proto, rest) = if first & 1 == 1 {
        (
            u16::from(first),
            b.get(ppp::PAYLOAD_COMPRESSED).ok_or(trunc("ppp"))?,
        )
    } else {
        (
            be16(b, ppp::PROTOCOL).ok_or(trunc("ppp"))?,
            b.get(ppp::PAYLOAD).ok_or(trunc("ppp"))?,
        )
    };
    match proto {
        PPP_IPV4 | PPP_IPV6 => Ok(L2::Ip(rest)),
        PPP_MPLS => Ok(L2::Mpls(rest)),
        _ => Err(DecodeError::NotIp),
    }
}

/// PPPoE session stage (RFC 2516 §4): ver/type 0x11, code 0, session id, length; then PPP.
fn pppoe(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    use field::pppoe;
    let hdr = b.get(pppoe::HEADER).ok_or(trunc("pppoe"))?;
    if hdr.get(pppoe::VER_TYPE) != Some(&0x11) || hdr.get(pppoe::CODE) != Some(&0) {
        return Err(bad("pppoe"));
    }
    let len = usize::from(be16(b, pppoe::LENGTH).ok_or(trunc("pppoe"))?);
    let payload = b.get(pppoe::PAYLOAD).ok_or(trunc("pppoe"))?;
    // The length field trims Ethernet padding; a larger value means the snaplen cut it.
    Ok(L2::Ppp(payload.get(..len).unwrap_or(payload)))
}

/// MPLS label stack (RFC 3032 §2.1), then a guess from the first nibble of the payload:
/// 4 or 6 is IP; 0 is the pseudo-wire control word (RFC 4385 §3) before an Ethernet frame.
fn mpls(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    let mut rest = b;
    for _ in 0..MAX_MPLS_LABELS {
        let entry = be32(rest, field::mpls::ENTRY).ok_or(trunc("mpls"))?;
        rest = rest.get(field::mpls::NEXT).ok_or(trunc("mpls"))?;
        if entry & 0x100 != 0 {
            return match u8_at(rest, 0).ok_or(trunc("mpls"))? >> 4 {
                4 | 6 => Ok(L2::Ip(rest)),
                0 => Ok(L2::Ether(
                    rest.get(field::pseudowire::PAYLOAD).ok_or(trunc("mpls"))?,
                )),
                _ => Err(DecodeError::NotIp),
            };
        }
    }
    Err(DecodeError::TooDeep { layer: "mpls" })
}

/// NFLOG (Linux nfnetlink_log): family, version, resource id, then TLVs whose length and
/// type are in the capturing host's byte order, each padded to 4 bytes; the packet is the
/// `NFULA_PAYLOAD` (type 9) value. Little-endian is tried first (the common case), then
/// big-endian.
fn nflog(b: &[u8]) -> Result<&[u8], DecodeError> {
    let tlvs = b.get(field::nflog::TLVS).ok_or(trunc("nflog"))?;
    match nflog_payload(tlvs, le16) {
        Ok(p) => Ok(p),
        Err(_) => nflog_payload(tlvs, be16),
    }
}

const NFULA_PAYLOAD: u16 = 9;

fn nflog_payload(
    mut tlvs: &[u8],
    read16: fn(&[u8], Field) -> Option<u16>,
) -> Result<&[u8], DecodeError> {
    use field::nflog;
    for _ in 0..MAX_NFLOG_TLVS {
        let len = usize::from(read16(tlvs, nflog::TLV_LENGTH).ok_or(trunc("nflog"))?);
        // The top two type bits are netlink flags (nested, network byte order).
        let ty = read16(tlvs, nflog::TLV_TYPE).ok_or(trunc("nflog"))? & 0x3FFF;
        if len < nflog::TLV_HEADER_LEN {
            return Err(bad("nflog"));
        }
        if ty == NFULA_PAYLOAD {
            // A snaplen cut leaves less than `len`: decode what was captured.
            let value = tlvs.get(nflog::TLV_VALUE).ok_or(trunc("nflog"))?;
            let value_len = len.saturating_sub(nflog::TLV_HEADER_LEN);
            return Ok(value.get(..value_len).unwrap_or(value));
        }
        let padded = len.checked_add(3).ok_or(bad("nflog"))? & !3;
        tlvs = tlvs.get(padded..).ok_or(trunc("nflog"))?;
    }
    Err(DecodeError::TooDeep { layer: "nflog" })
}

/// 802.11 MAC header (IEEE 802.11-2020 §9.2.3): data frames only, not protected, then
/// LLC/SNAP. Management, control and null-data frames carry nothing to decode, protected
/// ones are encrypted: each is its own error, so each is counted. An A-MSDU reaching here
/// is one the capture thread could not split (`amsdu.rs`): counted too.
fn ieee80211(b: &[u8]) -> Result<L2<'_>, DecodeError> {
    match wlan_body(b)? {
        WlanBody::Msdu(msdu) => llc_snap(msdu),
        WlanBody::Amsdu(_) => Err(DecodeError::WlanAmsdu),
    }
}

/// What follows the MAC header of an 802.11 data frame.
pub(crate) enum WlanBody<'a> {
    /// One MSDU: LLC/SNAP and the packet.
    Msdu(&'a [u8]),
    /// An A-MSDU (QoS control bit 7): subframes of DA, SA, length and MSDU.
    Amsdu(&'a [u8]),
}

/// Reads the MAC header of an 802.11 frame: the body of a data frame that is not
/// protected, else why not.
pub(crate) fn wlan_body(b: &[u8]) -> Result<WlanBody<'_>, DecodeError> {
    let fc0 = u8_at(b, 0).ok_or(trunc("802.11"))?;
    let fc1 = u8_at(b, 1).ok_or(trunc("802.11"))?;
    let ftype = (fc0 >> 2) & 3;
    let subtype = fc0 >> 4;
    if ftype != 2 || subtype & 0x4 != 0 {
        return Err(DecodeError::WlanNotData);
    }
    if fc1 & 0x40 != 0 {
        return Err(DecodeError::WlanProtected);
    }
    let mut hdr = 24usize;
    if fc1 & 0x03 == 0x03 {
        hdr = hdr.saturating_add(6); // address 4 (ToDS and FromDS: a wireless bridge)
    }
    let mut amsdu = false;
    if subtype & 0x8 != 0 {
        // QoS data: QoS control, whose bit 7 says the body is an A-MSDU.
        let qos = u8_at(b, hdr).ok_or(trunc("802.11"))?;
        amsdu = qos & 0x80 != 0;
        hdr = hdr.saturating_add(2);
        if fc1 & 0x80 != 0 {
            hdr = hdr.saturating_add(4); // +HTC: HT control field
        }
    }
    let body = b.get(hdr..).ok_or(trunc("802.11"))?;
    Ok(if amsdu {
        WlanBody::Amsdu(body)
    } else {
        WlanBody::Msdu(body)
    })
}

/// Radiotap's header length, checked (the 802.11 frame follows it).
pub(crate) fn radiotap_len(b: &[u8]) -> Result<usize, DecodeError> {
    use field::radiotap;
    if u8_at(b, radiotap::VERSION).ok_or(trunc("radiotap"))? != 0 {
        return Err(bad("radiotap"));
    }
    let len = usize::from(le16(b, radiotap::LENGTH).ok_or(trunc("radiotap"))?);
    if len < radiotap::MIN_LEN {
        return Err(bad("radiotap"));
    }
    Ok(len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const IP4: [u8; 2] = [0x45, 0x00];

    fn ip_of(r: Result<&[u8], DecodeError>) -> Vec<u8> {
        r.unwrap().to_vec()
    }

    #[test]
    fn ethernet_vlan_qinq() {
        let mut f = vec![0u8; 12];
        f.extend([0x88, 0xA8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
        f.extend(IP4);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ethernet, &f))), IP4);
    }

    #[test]
    fn vlan_depth_is_capped() {
        let mut f = vec![0u8; 12];
        for _ in 0..=MAX_VLAN_TAGS {
            f.extend([0x81, 0x00, 0, 1]);
        }
        f.extend([0x08, 0x00]);
        f.extend(IP4);
        assert_eq!(
            walk(L2::Link(LinkType::Ethernet, &f)),
            Err(DecodeError::TooDeep { layer: "vlan" })
        );
        // exactly the cap is fine
        let mut g = vec![0u8; 12];
        for _ in 0..MAX_VLAN_TAGS {
            g.extend([0x81, 0x00, 0, 1]);
        }
        g.extend([0x08, 0x00]);
        g.extend(IP4);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ethernet, &g))), IP4);
    }

    #[test]
    fn llc_after_vlan_tag() {
        let mut f = vec![0u8; 12];
        f.extend([
            0x81, 0x00, 0, 5, 0x00, 0x40, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00, 0x45,
        ]);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ethernet, &f))), [0x45]);
    }

    #[test]
    fn llc_snap_and_non_ip() {
        let mut f = vec![0u8; 12];
        f.extend([0x00, 0x30, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x86, 0xDD, 0x60]);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ethernet, &f))), [0x60]);
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06, 0, 1]);
        assert_eq!(
            walk(L2::Link(LinkType::Ethernet, &arp)),
            Err(DecodeError::NotIp)
        );
        assert_eq!(
            walk(L2::Link(LinkType::Ethernet, &[0; 13])),
            Err(DecodeError::Truncated { layer: "ethernet" })
        );
    }

    #[test]
    fn mpls_ip_and_pseudowire() {
        // two labels, bottom of stack on the second, IPv6 payload
        let f = [0, 0, 0x10, 0xff, 0, 0, 0x21, 0xff, 0x60, 0];
        assert_eq!(ip_of(walk(L2::Mpls(&f))), [0x60, 0]);
        // control word then Ethernet carrying IPv4
        let mut pw = vec![0, 0, 0x21, 0xff, 0, 0, 0, 0];
        pw.extend([0u8; 12]);
        pw.extend([0x08, 0x00, 0x45]);
        assert_eq!(ip_of(walk(L2::Mpls(&pw))), [0x45]);
        let deep = vec![0u8; 4 * (MAX_MPLS_LABELS + 1)];
        assert_eq!(
            walk(L2::Mpls(&deep)),
            Err(DecodeError::TooDeep { layer: "mpls" })
        );
    }

    #[test]
    fn pppoe_session_trims_padding() {
        let mut f = vec![0u8; 12];
        f.extend([
            0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x04, 0x00, 0x21, 0x45, 0x00,
        ]);
        f.extend([0xEE; 6]); // Ethernet padding past the PPPoE length
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ethernet, &f))), IP4);
        let mut lcp = vec![0u8; 12];
        lcp.extend([
            0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x04, 0xC0, 0x21, 1, 1,
        ]);
        assert_eq!(
            walk(L2::Link(LinkType::Ethernet, &lcp)),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn ppp_forms() {
        assert_eq!(
            ip_of(walk(L2::Link(
                LinkType::Ppp,
                &[0xFF, 0x03, 0x00, 0x21, 0x45]
            ))),
            [0x45]
        );
        assert_eq!(
            ip_of(walk(L2::Link(LinkType::Ppp, &[0x00, 0x57, 0x60]))),
            [0x60]
        );
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ppp, &[0x21, 0x45]))), [0x45]);
        assert_eq!(
            ip_of(walk(L2::Link(
                LinkType::PppHdlc,
                &[0xFF, 0x03, 0x00, 0x21, 0x45]
            ))),
            [0x45]
        );
        assert_eq!(
            ip_of(walk(L2::Link(
                LinkType::PppHdlc,
                &[0x0F, 0x00, 0x08, 0x00, 0x45]
            ))),
            [0x45]
        );
        assert_eq!(
            walk(L2::Link(LinkType::Ppp, &[0xC0, 0x21, 1])),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn cooked_v1_v2() {
        let mut v1 = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        v1.extend(IP4);
        assert_eq!(ip_of(walk(L2::Link(LinkType::LinuxSll, &v1))), IP4);
        let mut v2 = vec![
            0x86, 0xDD, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        v2.push(0x60);
        assert_eq!(ip_of(walk(L2::Link(LinkType::LinuxSll2, &v2))), [0x60]);
    }

    #[test]
    fn null_and_loop() {
        for af in [2u32, 24, 28, 30] {
            let mut le = af.to_le_bytes().to_vec();
            le.push(0x45);
            assert_eq!(ip_of(walk(L2::Link(LinkType::Null, &le))), [0x45]);
            let mut be = af.to_be_bytes().to_vec();
            be.push(0x45);
            assert_eq!(ip_of(walk(L2::Link(LinkType::Null, &be))), [0x45]);
            assert_eq!(ip_of(walk(L2::Link(LinkType::Loop, &be))), [0x45]);
        }
        assert_eq!(
            walk(L2::Link(LinkType::Null, &[7, 0, 0, 0, 0x45])),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn nflog_tlv_walk() {
        // family AF_INET, version 0, resource id; a prefix TLV (len 6, padded to 8), then
        // NFULA_PAYLOAD (type 9) with 2 bytes of packet.
        let f = [
            2, 0, 0, 1, //
            6, 0, 10, 0, b'a', b'b', 0, 0, //
            6, 0, 9, 0, 0x45, 0x00, 0, 0,
        ];
        assert_eq!(ip_of(walk(L2::Link(LinkType::Nflog, &f))), IP4);
        let be = [2, 0, 0, 1, 0, 6, 0, 9, 0x45, 0x00, 0, 0];
        assert_eq!(ip_of(walk(L2::Link(LinkType::Nflog, &be))), IP4);
        assert!(walk(L2::Link(LinkType::Nflog, &[2, 0, 0, 1, 0, 0, 0, 0])).is_err());
    }

    #[test]
    fn radiotap_80211_qos_data() {
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0]; // radiotap, length 8
        f.extend([0x88, 0x01]); // QoS data, ToDS
        f.extend([0u8; 22]); // duration, 3 addresses, sequence control
        f.extend([0, 0]); // QoS control
        f.extend([0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Radiotap, &f))), [0x45]);
        // the same without radiotap, and with 4 addresses
        let mut w = vec![0x08, 0x03];
        w.extend([0u8; 28]);
        w.extend([0xAA, 0xAA, 0x03, 0, 0, 0, 0x86, 0xDD, 0x60]);
        assert_eq!(ip_of(walk(L2::Link(LinkType::Ieee80211, &w))), [0x60]);
        // protected, management, null-data and A-MSDU frames: each says why
        let mut p = w.clone();
        p[1] |= 0x40;
        assert_eq!(
            walk(L2::Link(LinkType::Ieee80211, &p)),
            Err(DecodeError::WlanProtected)
        );
        let beacon = [0x80, 0, 0, 0];
        assert_eq!(
            walk(L2::Link(LinkType::Ieee80211, &beacon)),
            Err(DecodeError::WlanNotData)
        );
        let null_data = [0x48, 0x01, 0, 0];
        assert_eq!(
            walk(L2::Link(LinkType::Ieee80211, &null_data)),
            Err(DecodeError::WlanNotData)
        );
        let mut amsdu = f[8..].to_vec();
        amsdu[24] = 0x80;
        assert_eq!(
            walk(L2::Link(LinkType::Ieee80211, &amsdu)),
            Err(DecodeError::WlanAmsdu)
        );
    }
}
