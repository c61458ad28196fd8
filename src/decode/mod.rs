//! Frame decoding: one captured frame in, the innermost IP packet's transport view out.
//!
//! Where it sits: first stage of every parser worker (DESIGN §1), and — through
//! [`dispatch_hash`] — on the capture thread, to pick a worker. It imports only
//! [`crate::time`]; everything downstream (`flow`, `proto`) imports it.
//!
//! What it decodes (each layer is hand-written over borrowed bytes, every read checked):
//! - link layers ([`LinkType`]): Ethernet (with 802.3 LLC/SNAP), BSD null/loop, raw IP,
//!   Linux cooked v1/v2, PPP (with or without HDLC address/control, Cisco HDLC), NFLOG
//!   (TLV walk for `NFULA_PAYLOAD`), radiotap + 802.11 data frames (LLC/SNAP; an A-MSDU's
//!   subframes are found by [`amsdu_subframes`] for the capture thread, which hands each
//!   on as an 802.3 frame of its own);
//! - below them: 802.1Q/802.1ad tags of any depth up to [`MAX_VLAN_TAGS`], MPLS label
//!   stacks up to [`MAX_MPLS_LABELS`] (IPv4/IPv6 guessed from the first nibble after
//!   the bottom of stack, Ethernet pseudo-wire after a zero control word, RFC 4385 §3),
//!   PPPoE session (RFC 2516 §4), PPP (RFC 1661 §2, RFC 1662 §3);
//! - IPv4 (RFC 791; options skipped, checksum ignored) and IPv6 (RFC 8200 §4: hop-by-hop,
//!   routing, fragment, destination options, and AH of RFC 4302), with fragments of both
//!   reassembled in a bounded pool ([`DefragLimits`]);
//! - tunnels, decapsulated down to the innermost IP, at most [`MAX_TUNNEL_DEPTH`] deep:
//!   GRE (RFC 2784/2890, PPTP's enhanced GRE of RFC 2637 §4.1) carrying IP, Ethernet (0x6558),
//!   ERSPAN I/II/III, MPLS, or the 802.11 data frames WLAN controllers tunnel (Aruba's 0x8200
//!   and its siblings up to 0x8360); a GRE or IP-in-IP packet whose inner packet does not
//!   decode is an error of the inner layer (its outer packet is never a flow); GRE over UDP 4754 (RFC 8086); VXLAN on UDP 4789/8472 (RFC 7348);
//!   Geneve on UDP 6081 (RFC 8926 §3); GTP-U on UDP 2152 (3GPP TS 29.281 §5) with extension
//!   headers; IP-in-IP (protocols 4 and 41: 4in4, 6in4, 4in6, 6in6);
//! - UDP (RFC 768) and TCP (RFC 9293 §3.1) headers as views.
//!
//! Plain Ethernet II (at most one VLAN tag) → IPv4 (no options) / IPv6 (no extension
//! headers) → TCP or UDP
//! (off the tunnel ports), whole and unfragmented — nearly every frame — is decoded on
//! a straight-line fast path (`fast.rs`) that answers exactly what the general walk
//! answers; every other frame takes the walk.
//!
//! What it does not do: checksums, TCP reassembly (that is `flow`), ICMP, IPsec ESP
//! (encrypted: reported as `L4::Other`), 802.11 protected frames, an A-MSDU handed to
//! [`Decoder::decode`] whole (counted `WlanAmsdu`: the capture thread splits those it can).
//!
//! The no-panic contract: every read goes through `get`/`first_chunk`, every offset
//! through `checked_add`; the clippy lints below hold it.
//!
//! The etherparse crate is used in the tests, as an independent builder of frames: the
//! decoder itself is hand-written because it needs things etherparse's lax slices do not
//! give (MPLS, PPPoE, SLL2, NFLOG, 802.11, the fragment fields of a bounded IPv6 walk, and
//! one allocation-free walk shared with [`dispatch_hash`]).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod amsdu;
mod bytes;
mod decoder;
mod defrag;
mod error;
mod fast;
mod ip;
mod link;
mod packet;
mod transport;
mod tunnel;

#[cfg(test)]
mod tests;

pub use amsdu::{MAX_AMSDU_SUBFRAMES, MAX_MSDU_LEN};
pub use decoder::{Decoder, MAX_TUNNEL_DEPTH, amsdu_subframes, dispatch_hash};
pub use defrag::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES, DEFAULT_MAX_DATAGRAM_SIZE, DEFAULT_MAX_DATAGRAMS,
    DEFAULT_MAX_FRAGMENTS, DefragLimits,
};
pub use error::{DecodeCounters, DecodeError, FragDropReason};
pub use ip::MAX_IPV6_EXT_HEADERS;
pub use link::{MAX_LINK_STEPS, MAX_MPLS_LABELS, MAX_NFLOG_TLVS, MAX_VLAN_TAGS};
pub use packet::Packet;
pub use transport::{L4, TcpFlags, TcpSegment, UdpDatagram};
pub use tunnel::MAX_GTP_EXT_HEADERS;

/// LINKTYPE_* numbers c2tap decodes (<https://www.tcpdump.org/linktypes.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// 1: Ethernet II / 802.3.
    Ethernet,
    /// 0: BSD loopback; a 4-byte address family in the capturing host's byte order.
    Null,
    /// 108: OpenBSD loopback; the address family in network byte order.
    Loop,
    /// 101: raw IP; libpcap also maps DLT_RAW 12 and 14 (per-OS values) here.
    Raw,
    /// 228: raw IPv4.
    Ipv4,
    /// 229: raw IPv6.
    Ipv6,
    /// 113: Linux cooked capture v1.
    LinuxSll,
    /// 276: Linux cooked capture v2.
    LinuxSll2,
    /// 9: PPP, with or without the HDLC address/control bytes.
    Ppp,
    /// 50: PPP in HDLC-like framing (also Cisco HDLC framing).
    PppHdlc,
    /// 239: Linux netfilter NFLOG.
    Nflog,
    /// 127: radiotap header, then 802.11.
    Radiotap,
    /// 105: 802.11 without a radio header.
    Ieee80211,
}

impl LinkType {
    pub fn from_linktype(n: u32) -> Option<LinkType> {
        Some(match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            9 => LinkType::Ppp,
            12 | 14 | 101 => LinkType::Raw,
            50 => LinkType::PppHdlc,
            105 => LinkType::Ieee80211,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            127 => LinkType::Radiotap,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            239 => LinkType::Nflog,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    pub fn is_supported(n: u32) -> bool {
        LinkType::from_linktype(n).is_some()
    }
}
