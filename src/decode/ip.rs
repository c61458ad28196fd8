//! IPv4 (RFC 791 §3.1) and IPv6 (RFC 8200 §3–4) header views.
//!
//! `parse` validates the fixed header once and answers the addresses, the upper-layer
//! protocol, the payload trimmed to the declared length (Ethernet padding removed), whether
//! the snaplen cut it, and the fragment fields when the packet is a fragment.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::bytes::{arr4, arr16, be16, be32, u8_at};
use super::error::{DecodeError, bad, trunc};

/// IPv6 extension headers walked before the upper layer. RFC 8200 §4.1 lets each
/// header appear once (destination options twice): seven in all; one more for AH.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// Header fields of IPv4 (RFC 791 §3.1), IPv6 (RFC 8200 §3) and the IPv6 extension
/// headers (§4).
pub(crate) mod field {
    pub(crate) mod ipv4 {
        use crate::decode::bytes::Field;

        /// Version in the high nibble, header length in 4-byte words in the low one.
        pub(crate) const VER_IHL: usize = 0;
        pub(crate) const LENGTH: Field = 2..4;
        pub(crate) const IDENT: Field = 4..6;
        /// Flags (3 bits) and fragment offset in 8-byte units (13 bits).
        pub(crate) const FLAGS_OFFSET: Field = 6..8;
        pub(crate) const PROTOCOL: usize = 9;
        pub(crate) const SRC_ADDR: Field = 12..16;
        pub(crate) const DST_ADDR: Field = 16..20;
        /// The header without options: the smallest header length.
        pub(crate) const HEADER_LEN: usize = 20;
    }

    pub(crate) mod ipv6 {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const PAYLOAD_LEN: Field = 4..6;
        pub(crate) const NEXT_HEADER: usize = 6;
        pub(crate) const SRC_ADDR: Field = 8..24;
        pub(crate) const DST_ADDR: Field = 24..40;
        pub(crate) const PAYLOAD: Rest = 40..;
        pub(crate) const HEADER_LEN: usize = PAYLOAD.start;
    }

    /// Hop-by-hop, routing, destination options and AH: next header, then a length.
    pub(crate) mod ext {
        pub(crate) const NEXT_HEADER: usize = 0;
        /// 8-byte units beyond the first (AH: 4-byte units beyond the first two).
        pub(crate) const LENGTH: usize = 1;
    }

    pub(crate) mod frag {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const NEXT_HEADER: usize = 0;
        /// Offset in 8-byte units (13 bits), two reserved bits, M flag.
        pub(crate) const OFFSET_M: Field = 2..4;
        pub(crate) const IDENT: Field = 4..8;
        pub(crate) const PAYLOAD: Rest = 8..;
    }
}

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH: u8 = 51;
const DEST_OPTS: u8 = 60;

/// Fragment fields, when the packet is a fragment (offset non-zero or more-fragments set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frag {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    pub more: bool,
    pub v6: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct IpView<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol of `payload` (for an IPv6 fragment: the fragment header's
    /// next header, meaningful in the first fragment).
    pub proto: u8,
    pub payload: &'a [u8],
    /// The declared length is longer than what was captured.
    pub truncated: bool,
    pub frag: Option<Frag>,
}

/// Parses the IP header at the start of `b` (version from the first nibble).
pub(crate) fn parse(b: &[u8]) -> Result<IpView<'_>, DecodeError> {
    // The version nibble is at the same place in both headers.
    match u8_at(b, field::ipv4::VER_IHL).ok_or(trunc("ip"))? >> 4 {
        4 => parse_v4(b),
        6 => parse_v6(b),
        _ => Err(bad("ip")),
    }
}

/// Only the address pair, for the dispatch hash of a frame whose IP header is cut short
/// or malformed past the addresses.
pub(crate) fn addrs(b: &[u8]) -> Option<(IpAddr, IpAddr)> {
    use field::{ipv4, ipv6};
    match u8_at(b, ipv4::VER_IHL)? >> 4 {
        4 => Some((v4(arr4(b, ipv4::SRC_ADDR)?), v4(arr4(b, ipv4::DST_ADDR)?))),
        6 => Some((v6(arr16(b, ipv6::SRC_ADDR)?), v6(arr16(b, ipv6::DST_ADDR)?))),
        _ => None,
    }
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

fn parse_v4(b: &[u8]) -> Result<IpView<'_>, DecodeError> {
    use field::ipv4;
    let ihl = usize::from(u8_at(b, ipv4::VER_IHL).ok_or(trunc("ipv4"))? & 0x0F).saturating_mul(4);
    if ihl < ipv4::HEADER_LEN {
        return Err(bad("ipv4"));
    }
    if b.len() < ihl {
        return Err(trunc("ipv4"));
    }
    let total = usize::from(be16(b, ipv4::LENGTH).ok_or(trunc("ipv4"))?);
    let id = be16(b, ipv4::IDENT).ok_or(trunc("ipv4"))?;
    let flags_off = be16(b, ipv4::FLAGS_OFFSET).ok_or(trunc("ipv4"))?;
    let proto = u8_at(b, ipv4::PROTOCOL).ok_or(trunc("ipv4"))?;
    let src = v4(arr4(b, ipv4::SRC_ADDR).ok_or(trunc("ipv4"))?);
    let dst = v4(arr4(b, ipv4::DST_ADDR).ok_or(trunc("ipv4"))?);
    // Total length 0 is what TCP segmentation offload leaves in captures taken on the
    // sending host: take what was captured.
    let (end, truncated) = if total == 0 {
        (b.len(), false)
    } else if total < ihl {
        return Err(bad("ipv4"));
    } else if total > b.len() {
        (b.len(), true)
    } else {
        (total, false)
    };
    let payload = b.get(ihl..end).ok_or(trunc("ipv4"))?;
    let offset = u32::from(flags_off & 0x1FFF).saturating_mul(8);
    let more = flags_off & 0x2000 != 0;
    let frag = (offset != 0 || more).then_some(Frag {
        id: u32::from(id),
        offset,
        more,
        v6: false,
    });
    Ok(IpView {
        src,
        dst,
        proto,
        payload,
        truncated,
        frag,
    })
}

fn parse_v6(b: &[u8]) -> Result<IpView<'_>, DecodeError> {
    use field::ipv6;
    let plen = usize::from(be16(b, ipv6::PAYLOAD_LEN).ok_or(trunc("ipv6"))?);
    let next = u8_at(b, ipv6::NEXT_HEADER).ok_or(trunc("ipv6"))?;
    let src = v6(arr16(b, ipv6::SRC_ADDR).ok_or(trunc("ipv6"))?);
    let dst = v6(arr16(b, ipv6::DST_ADDR).ok_or(trunc("ipv6"))?);
    let rest = b.get(ipv6::PAYLOAD).ok_or(trunc("ipv6"))?;
    // Payload length 0: a jumbogram or offload; take what was captured.
    let (payload, truncated) = if plen == 0 {
        (rest, false)
    } else {
        match rest.get(..plen) {
            Some(p) => (p, false),
            None => (rest, true),
        }
    };
    let (proto, payload, frag) = ext_headers(next, payload)?;
    Ok(IpView {
        src,
        dst,
        proto,
        payload,
        truncated,
        frag,
    })
}

/// Walks IPv6 extension headers (and AH) starting with protocol `next` over `b`. Stops at
/// the upper layer, or after a fragment header that really fragments (what follows it is
/// fragment data: the walk resumes on the reassembled datagram).
pub(crate) fn ext_headers(
    mut next: u8,
    mut b: &[u8],
) -> Result<(u8, &[u8], Option<Frag>), DecodeError> {
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        let len = match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                usize::from(u8_at(b, field::ext::LENGTH).ok_or(trunc("ipv6_ext"))?)
                    .saturating_add(1)
                    .saturating_mul(8)
            }
            AUTH => usize::from(u8_at(b, field::ext::LENGTH).ok_or(trunc("ipv6_ext"))?)
                .saturating_add(2)
                .saturating_mul(4),
            FRAGMENT => {
                use field::frag;
                let inner = u8_at(b, frag::NEXT_HEADER).ok_or(trunc("ipv6_frag"))?;
                let off_m = be16(b, frag::OFFSET_M).ok_or(trunc("ipv6_frag"))?;
                let id = be32(b, frag::IDENT).ok_or(trunc("ipv6_frag"))?;
                let rest = b.get(frag::PAYLOAD).ok_or(trunc("ipv6_frag"))?;
                let offset = u32::from(off_m & 0xFFF8);
                let more = off_m & 1 != 0;
                if offset != 0 || more {
                    return Ok((
                        inner,
                        rest,
                        Some(Frag {
                            id,
                            offset,
                            more,
                            v6: true,
                        }),
                    ));
                }
                // An atomic fragment (RFC 6946): the datagram is whole, keep walking.
                next = inner;
                b = rest;
                continue;
            }
            _ => return Ok((next, b, None)),
        };
        next = u8_at(b, field::ext::NEXT_HEADER).ok_or(trunc("ipv6_ext"))?;
        b = b.get(len..).ok_or(trunc("ipv6_ext"))?;
    }
    match next {
        HOP_BY_HOP | ROUTING | FRAGMENT | AUTH | DEST_OPTS => {
            Err(DecodeError::TooDeep { layer: "ipv6_ext" })
        }
        _ => Ok((next, b, None)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn v4_hdr(total: u16, flags_off: u16, proto: u8) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[6..8].copy_from_slice(&flags_off.to_be_bytes());
        h
    }

    #[test]
    fn ipv4_trims_padding_and_flags_truncation() {
        let mut p = v4_hdr(24, 0, 17);
        p.extend([1, 2, 3, 4, 0, 0]); // two bytes of Ethernet padding
        let v = parse(&p).unwrap();
        assert_eq!(v.payload, [1, 2, 3, 4]);
        assert!(!v.truncated && v.frag.is_none());
        assert_eq!(v.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        let mut t = v4_hdr(100, 0, 6);
        t.extend([9; 10]);
        let v = parse(&t).unwrap();
        assert!(v.truncated);
        assert_eq!(v.payload.len(), 10);
        assert_eq!(parse(&v4_hdr(10, 0, 6)).unwrap_err(), bad("ipv4"));
        assert_eq!(parse(&t[..19]).unwrap_err(), trunc("ipv4"));
    }

    #[test]
    fn ipv4_options_and_fragments() {
        let mut p = v4_hdr(28, 0x2000 | 3, 17);
        p[0] = 0x46; // one word of options
        p.extend([1, 1, 1, 0, 7, 7, 7, 7]);
        let v = parse(&p).unwrap();
        assert_eq!(v.payload, [7, 7, 7, 7]);
        assert_eq!(
            v.frag,
            Some(Frag {
                id: 0x1234,
                offset: 24,
                more: true,
                v6: false
            })
        );
        // DF alone is not a fragment
        assert!(parse(&v4_hdr(20, 0x4000, 17)).unwrap().frag.is_none());
    }

    fn v6_hdr(plen: u16, next: u8) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        h[4..6].copy_from_slice(&plen.to_be_bytes());
        h.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0u8; 11].iter())
                .chain([1u8].iter()),
        );
        h.extend(
            [0x20, 0x01, 0x0d, 0xb8]
                .iter()
                .chain([0u8; 11].iter())
                .chain([2u8].iter()),
        );
        h
    }

    #[test]
    fn ipv6_extension_chain() {
        // hop-by-hop (8) -> destination options (16) -> AH (12+... len 1 => 12 bytes) -> UDP
        let mut p = v6_hdr(8 + 16 + 12 + 2, HOP_BY_HOP);
        p.extend([DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        p.extend([AUTH, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        p.extend([17, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        p.extend([0xAB, 0xCD]);
        let v = parse(&p).unwrap();
        assert_eq!(v.proto, 17);
        assert_eq!(v.payload, [0xAB, 0xCD]);
        assert_eq!(v.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv6_fragment_header() {
        let mut p = v6_hdr(8 + 4, FRAGMENT);
        p.extend([17, 0, 0x00, 0x11, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        let v = parse(&p).unwrap();
        assert_eq!(
            v.frag,
            Some(Frag {
                id: 0xdeadbeef,
                offset: 16,
                more: true,
                v6: true
            })
        );
        assert_eq!(v.payload, [1, 2, 3, 4]);
        // atomic fragment: walked through
        let mut a = v6_hdr(8 + 2, FRAGMENT);
        a.extend([17, 0, 0, 0, 0, 0, 0, 1, 5, 6]);
        let v = parse(&a).unwrap();
        assert!(v.frag.is_none());
        assert_eq!((v.proto, v.payload), (17, &[5u8, 6][..]));
    }

    #[test]
    fn ipv6_chain_is_bounded_and_truncation_reported() {
        let mut p = v6_hdr(0, DEST_OPTS);
        for _ in 0..=MAX_IPV6_EXT_HEADERS {
            p.extend([DEST_OPTS, 0, 0, 0, 0, 0, 0, 0]);
        }
        assert_eq!(
            parse(&p).unwrap_err(),
            DecodeError::TooDeep { layer: "ipv6_ext" }
        );
        let mut t = v6_hdr(0, ROUTING);
        t.extend([17, 4]);
        assert_eq!(parse(&t).unwrap_err(), trunc("ipv6_ext"));
        assert_eq!(parse(&t[..30]).unwrap_err(), trunc("ipv6"));
    }
}
