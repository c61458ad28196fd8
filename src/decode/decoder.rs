//! The walk from a frame to the innermost IP packet, shared by [`Decoder::decode`] and
//! [`dispatch_hash`] so that both always agree on which IP header is the innermost.

use std::net::IpAddr;
use std::ops::Range;

use super::LinkType;
use super::amsdu;
use super::defrag::{DefragLimits, DefragPool, FragKey, Offer, Piece};
use super::error::{DecodeCounters, DecodeError, FragDropReason};
use super::fast;
use super::ip::{self, IpView};
use super::link::{self, L2};
use super::packet::Packet;
use super::transport::{self, L4, PROTO_TCP, PROTO_UDP};
use super::tunnel;
use crate::time::Timestamp;

/// Tunnel layers removed from one frame. Real deployments nest two or three (GTP-U in
/// VXLAN in an underlay GRE); eight leaves room and stops a packet built as a tunnel of
/// tunnels from costing more than a few header reads.
pub const MAX_TUNNEL_DEPTH: usize = 8;

/// LINKTYPE_ETHERNET: the link type of nearly every capture, tried on the fast path.
const LINKTYPE_ETHERNET: u32 = 1;

const PROTO_IPIP: u8 = 4;
const PROTO_IPV6_IN_IP: u8 = 41;
const PROTO_GRE: u8 = 47;

/// Decodes frames for one worker. Owns a bounded defragmentation pool and the counters.
#[derive(Debug)]
pub struct Decoder {
    pool: DefragPool,
    counters: DecodeCounters,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DefragLimits::default())
    }
}

impl Decoder {
    pub fn new(limits: DefragLimits) -> Decoder {
        Decoder {
            pool: DefragPool::new(limits),
            counters: DecodeCounters::default(),
        }
    }

    pub fn counters(&self) -> &DecodeCounters {
        &self.counters
    }

    /// Datagrams currently held for reassembly (a gauge for telemetry).
    pub fn fragments_in_flight(&self) -> usize {
        self.pool.datagrams_in_flight()
    }

    /// Bytes currently held for reassembly (a gauge for telemetry).
    pub fn fragment_bytes_held(&self) -> usize {
        self.pool.bytes_held()
    }

    /// Drops held datagrams older than the age limit at packet time `now`. Fragments
    /// already expire as later fragments arrive; a worker may call this on idle ticks so
    /// that the counters say so sooner.
    pub fn expire_fragments(&mut self, now: Timestamp) {
        self.pool.expire(now, &mut self.counters);
    }

    /// Drops every held datagram, counted as `fragments_dropped_flushed`: at end of input
    /// an incomplete datagram will never complete.
    pub fn flush_fragments(&mut self) {
        self.pool.flush(&mut self.counters);
    }

    /// Decodes one frame down to the innermost IP packet's transport layer. `ts` is packet
    /// time (for fragment expiry). A fragment that completes a datagram yields the
    /// reassembled packet (its payload borrowed from the pool); a fragment that does not
    /// yet complete one yields `Err(DecodeError::FragmentHeld)`.
    pub fn decode<'a>(
        &'a mut self,
        linktype: u32,
        ts: Timestamp,
        frame: &'a [u8],
    ) -> Result<Packet<'a>, DecodeError> {
        if linktype == LINKTYPE_ETHERNET
            && let Some(p) = fast::ethernet(frame)
        {
            return Ok(p);
        }
        self.decode_general(linktype, ts, frame)
    }

    /// The general walk, through every layer, tunnel and fragment: what [`decode`]
    /// does for frames the fast path does not take (and, in the tests, for all of
    /// them, to hold the two paths together).
    ///
    /// [`decode`]: Decoder::decode
    pub(crate) fn decode_general<'a>(
        &'a mut self,
        linktype: u32,
        ts: Timestamp,
        frame: &'a [u8],
    ) -> Result<Packet<'a>, DecodeError> {
        let Decoder { pool, counters } = self;
        // One reassembly per frame: the pool lends its buffer for the rest of the walk.
        let mut pool = Some(pool);
        let lt =
            LinkType::from_linktype(linktype).ok_or(DecodeError::UnsupportedLinkType(linktype))?;
        let mut ip = ip::parse(link::walk(L2::Link(lt, frame))?)?;
        let mut truncated = false;
        let mut depth = 0usize;
        loop {
            truncated |= ip.truncated;
            if let Some(frag) = ip.frag {
                let Some(pool) = pool.take() else {
                    counters.fragments_received = counters.fragments_received.saturating_add(1);
                    counters.add_dropped(FragDropReason::Nested, 1);
                    return Err(DecodeError::FragmentDropped(FragDropReason::Nested));
                };
                let key = FragKey {
                    src: ip.src,
                    dst: ip.dst,
                    id: frag.id,
                    proto: if frag.v6 { 0 } else { ip.proto },
                };
                let piece = Piece {
                    key,
                    frag,
                    proto: ip.proto,
                    data: ip.payload,
                    truncated: ip.truncated,
                };
                match pool.offer(ts, piece, counters) {
                    Offer::Held => return Err(DecodeError::FragmentHeld),
                    Offer::Dropped(reason) => return Err(DecodeError::FragmentDropped(reason)),
                    Offer::Complete(proto, payload) => {
                        // IPv6: extension headers may follow the fragment header.
                        let (proto, payload, frag) = if frag.v6 {
                            ip::ext_headers(proto, payload)?
                        } else {
                            (proto, payload, None)
                        };
                        ip = IpView {
                            proto,
                            payload,
                            truncated: false,
                            frag,
                            ..ip
                        };
                        continue;
                    }
                }
            }
            match inner_of(&ip) {
                Next::Inner(v) => {
                    depth = depth.saturating_add(1);
                    if depth > MAX_TUNNEL_DEPTH {
                        return Err(DecodeError::TooDeep { layer: "tunnel" });
                    }
                    counters.tunnels_decapsulated = counters.tunnels_decapsulated.saturating_add(1);
                    ip = v;
                }
                Next::Final => break,
                Next::NotTunnel => {
                    counters.tunnel_ports_not_tunnel =
                        counters.tunnel_ports_not_tunnel.saturating_add(1);
                    break;
                }
                Next::Undecodable(e) => {
                    // The outer packet of GRE or IP-in-IP is never a flow: what did not
                    // decode is the frame, for the inner layer's reason.
                    counters.tunnels_undecodable = counters.tunnels_undecodable.saturating_add(1);
                    return Err(e);
                }
            }
        }
        let l4 = match ip.proto {
            PROTO_TCP => L4::Tcp(transport::tcp(ip.payload)?),
            PROTO_UDP => L4::Udp(transport::udp(ip.payload)?),
            protocol => L4::Other { protocol },
        };
        if truncated {
            counters.packets_truncated = counters.packets_truncated.saturating_add(1);
        }
        Ok(Packet {
            src: ip.src,
            dst: ip.dst,
            l4,
            truncated,
        })
    }
}

/// What lies under an (unfragmented) IP packet.
enum Next<'a> {
    /// A tunnel, decapsulated: the inner IP packet.
    Inner(IpView<'a>),
    /// The transport layer: this is the innermost IP packet.
    Final,
    /// UDP to a tunnel port whose payload is not that tunnel: the UDP packet stays.
    NotTunnel,
    /// GRE or IP-in-IP whose inner packet does not decode, and why.
    Undecodable(DecodeError),
}

fn inner_of<'a>(ip: &IpView<'a>) -> Next<'a> {
    let inner = match ip.proto {
        PROTO_IPIP | PROTO_IPV6_IN_IP => {
            ip::parse(ip.payload).and_then(|v| match (ip.proto, v.src) {
                (PROTO_IPIP, IpAddr::V4(_)) | (PROTO_IPV6_IN_IP, IpAddr::V6(_)) => Ok(v),
                _ => Err(DecodeError::Malformed { layer: "ip-in-ip" }),
            })
        }
        PROTO_GRE => tunnel::gre(ip.payload).and_then(|l2| ip::parse(link::walk(l2)?)),
        PROTO_UDP => {
            let Ok(udp) = transport::udp(ip.payload) else {
                return Next::Final;
            };
            if !tunnel::is_tunnel_port(udp.dst_port) {
                return Next::Final;
            }
            return match tunnel::udp(udp.dst_port, udp.payload).and_then(to_ip) {
                Some(v) => Next::Inner(v),
                None => Next::NotTunnel,
            };
        }
        _ => return Next::Final,
    };
    match inner {
        Ok(v) => Next::Inner(v),
        Err(e) => Next::Undecodable(e),
    }
}

fn to_ip(l2: L2<'_>) -> Option<IpView<'_>> {
    ip::parse(link::walk(l2).ok()?).ok()
}

/// The subframes of an 802.11 A-MSDU `frame` (directly under radiotap or plain 802.11, or
/// in a WLAN-controller GRE tunnel), as ranges of `frame` into `out`, each an 802.3 frame
/// of its own (see `amsdu.rs`). `false` (and `out` empty) for every other frame and for
/// an A-MSDU that cannot be split: those are decoded whole, as they are. For the capture
/// thread, before [`dispatch_hash`]; frames of the fast path cost one more fast-path read.
pub fn amsdu_subframes(linktype: u32, frame: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    out.clear();
    let Some(body) = amsdu_body(linktype, frame) else {
        return false;
    };
    // `body` lies inside `frame`: its offset is the distance between their starts.
    let Some(at) = (body.as_ptr() as usize).checked_sub(frame.as_ptr() as usize) else {
        return false;
    };
    if !amsdu::split(body, out) {
        return false;
    }
    for r in out.iter_mut() {
        match (r.start.checked_add(at), r.end.checked_add(at)) {
            (Some(s), Some(e)) if e <= frame.len() => *r = s..e,
            _ => {
                out.clear();
                return false;
            }
        }
    }
    true
}

/// The body of an A-MSDU data frame, wherever the walk finds its 802.11 header.
fn amsdu_body(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    if linktype == LINKTYPE_ETHERNET && fast::ethernet(frame).is_some() {
        return None;
    }
    let wlan = match LinkType::from_linktype(linktype)? {
        LinkType::Radiotap => frame.get(link::radiotap_len(frame).ok()?..)?,
        LinkType::Ieee80211 => frame,
        lt => {
            let mut ip = ip::parse(link::walk(L2::Link(lt, frame)).ok()?).ok()?;
            let mut found = None;
            for _ in 0..MAX_TUNNEL_DEPTH {
                if ip.frag.is_some() {
                    return None;
                }
                if ip.proto == PROTO_GRE
                    && let Ok(L2::Link(LinkType::Ieee80211, w)) = tunnel::gre(ip.payload)
                {
                    found = Some(w);
                    break;
                }
                match inner_of(&ip) {
                    Next::Inner(v) => ip = v,
                    Next::Final | Next::NotTunnel | Next::Undecodable(_) => return None,
                }
            }
            found?
        }
    };
    match link::wlan_body(wlan).ok()? {
        link::WlanBody::Amsdu(body) => Some(body),
        link::WlanBody::Msdu(_) => None,
    }
}

/// Symmetric hash of the innermost IP address pair (through VLAN/MPLS/PPPoE and every
/// tunnel below): `hash(a,b) == hash(b,a)`. A fragment hashes by the pair of the header
/// that is fragmented, which is the pair of every other fragment of its datagram.
/// No allocation, no defragmentation. 0 when the frame is not IP.
///
/// Known limit: when the outer packet of a tunnel is fragmented, its fragments hash by the
/// outer pair, while unfragmented packets of the same inner flow hash by the inner pair.
pub fn dispatch_hash(linktype: u32, frame: &[u8]) -> u64 {
    // The fast path takes no tunnel and no fragment, so its pair is the innermost one.
    if linktype == LINKTYPE_ETHERNET
        && let Some(p) = fast::ethernet(frame)
    {
        return pair_hash(p.src, p.dst);
    }
    dispatch_hash_general(linktype, frame)
}

/// [`dispatch_hash`] through the general walk, for every frame (the tests hold the two
/// paths together).
pub(crate) fn dispatch_hash_general(linktype: u32, frame: &[u8]) -> u64 {
    let Some(lt) = LinkType::from_linktype(linktype) else {
        return 0;
    };
    let Ok(bytes) = link::walk(L2::Link(lt, frame)) else {
        return 0;
    };
    let mut ip = match ip::parse(bytes) {
        Ok(v) => v,
        // A header cut or bent past its addresses still has an address pair.
        Err(_) => return ip::addrs(bytes).map_or(0, |(s, d)| pair_hash(s, d)),
    };
    for _ in 0..MAX_TUNNEL_DEPTH {
        if ip.frag.is_some() {
            break;
        }
        match inner_of(&ip) {
            Next::Inner(v) => ip = v,
            Next::Final | Next::NotTunnel | Next::Undecodable(_) => break,
        }
    }
    pair_hash(ip.src, ip.dst)
}

fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// Multiply-fold mixing (as in foldhash and wyhash): cheap, and every input bit reaches
/// the output. Fixed constants: the hash must be the same in every run and thread.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

fn pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    const K: [u64; 4] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let (x, y) = (addr_bits(a), addr_bits(b));
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    let h = fold(lo as u64 ^ K[0], (lo >> 64) as u64 ^ K[1]);
    let h = fold(h ^ hi as u64 ^ K[2], (hi >> 64) as u64 ^ K[3]);
    let h = fold(h ^ K[1], K[2]);
    if h == 0 { 1 } else { h }
}
