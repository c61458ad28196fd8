//! The decoder's error enum and counters. Errors are caused by traffic: the worker counts
//! them by [`DecodeError::kind`]; what the decoder sees that never surfaces as the
//! current frame's error (a held datagram evicted later, a tunnel decapsulated) is
//! counted in [`DecodeCounters`].

/// Why a fragment (and the datagram it belonged to) was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragDropReason {
    /// The datagram did not complete within the age limit (packet time).
    Timeout,
    /// Too many datagrams in flight: the oldest was dropped.
    DatagramsCap,
    /// Too many bytes held in the pool: the oldest datagrams were dropped.
    MemoryCap,
    /// The fragment would put the datagram past the maximum datagram size.
    TooBig,
    /// The datagram has more fragments than the per-datagram cap.
    TooManyFragments,
    /// Lengths disagree (two different ends, data past the end).
    Inconsistent,
    /// The snaplen cut the fragment: the datagram can never complete.
    Truncated,
    /// A fragment inside a datagram that was itself just reassembled (a fragmented tunnel
    /// carrying fragments): one reassembly per frame.
    Nested,
    /// Still held when the input ended ([`crate::decode::Decoder::flush_fragments`]).
    Flushed,
}

impl FragDropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FragDropReason::Timeout => "timeout",
            FragDropReason::DatagramsCap => "datagrams_cap",
            FragDropReason::MemoryCap => "memory_cap",
            FragDropReason::TooBig => "too_big",
            FragDropReason::TooManyFragments => "too_many_fragments",
            FragDropReason::Inconsistent => "inconsistent",
            FragDropReason::Truncated => "truncated",
            FragDropReason::Nested => "nested",
            FragDropReason::Flushed => "flushed",
        }
    }
}

impl std::fmt::Display for FragDropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a frame did not decode to a transport view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported link type {0}")]
    UnsupportedLinkType(u32),
    /// ARP, LLDP, STP, non-IP PPP, an EtherType or GRE protocol type that is not IP, ...
    #[error("not an IP packet")]
    NotIp,
    /// A variant of this layer c2tap does not decode (GRE source routing, GRE versions
    /// past 1): the bytes may be fine, c2tap cannot walk past them.
    #[error("unsupported {layer} header")]
    Unsupported { layer: &'static str },
    /// An 802.11 management, control or null-data frame: no payload to decode.
    #[error("802.11 frame without data")]
    WlanNotData,
    /// An 802.11 data frame with the Protected bit: encrypted (WEP, TKIP, CCMP, GCMP).
    #[error("protected 802.11 frame")]
    WlanProtected,
    /// An 802.11 A-MSDU: several subframes in one frame, not split.
    #[error("802.11 A-MSDU")]
    WlanAmsdu,
    /// The captured bytes end inside a header of this layer.
    #[error("truncated {layer} header")]
    Truncated { layer: &'static str },
    /// A header of this layer contradicts itself (bad version, length below minimum).
    #[error("malformed {layer} header")]
    Malformed { layer: &'static str },
    /// More nested layers than the named cap of this layer allows.
    #[error("too many nested {layer} layers")]
    TooDeep { layer: &'static str },
    /// A fragment was stored; its datagram is not complete yet.
    #[error("fragment held for reassembly")]
    FragmentHeld,
    #[error("fragment dropped: {0}")]
    FragmentDropped(FragDropReason),
}

impl DecodeError {
    /// The `snake_case` counter name of this error.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinkType(_) => "unsupported_link_type",
            DecodeError::NotIp => "not_ip",
            DecodeError::Unsupported { .. } => "unsupported",
            DecodeError::WlanNotData => "wlan_not_data",
            DecodeError::WlanProtected => "wlan_protected",
            DecodeError::WlanAmsdu => "wlan_amsdu",
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::TooDeep { .. } => "too_deep",
            DecodeError::FragmentHeld => "fragment_held",
            DecodeError::FragmentDropped(_) => "fragment_dropped",
        }
    }
}

/// Counters the decoder owns (fields are `snake_case` telemetry names). Fragment counts
/// are in fragments; `datagrams_reassembled` counts whole datagrams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// Fragments offered to the pool (IPv4 and IPv6).
    pub fragments_received: u64,
    /// Fragments that ended up in a completed datagram.
    pub fragments_reassembled: u64,
    pub datagrams_reassembled: u64,
    /// Fragments that overlapped data already held (the first copy was kept).
    pub fragments_overlapping: u64,
    pub fragments_dropped_timeout: u64,
    pub fragments_dropped_datagrams_cap: u64,
    pub fragments_dropped_memory_cap: u64,
    pub fragments_dropped_too_big: u64,
    pub fragments_dropped_too_many_fragments: u64,
    pub fragments_dropped_inconsistent: u64,
    pub fragments_dropped_truncated: u64,
    pub fragments_dropped_nested: u64,
    pub fragments_dropped_flushed: u64,
    /// Tunnel layers removed (one per GRE/VXLAN/Geneve/GTP-U/IP-in-IP header).
    pub tunnels_decapsulated: u64,
    /// UDP packets on a tunnel port whose payload was not that tunnel: kept as UDP.
    pub tunnel_ports_not_tunnel: u64,
    /// GRE/IP-in-IP packets whose inner packet did not decode: kept as the outer packet.
    pub tunnels_undecodable: u64,
    /// Frames whose IP packet was cut by the snaplen (decoded from what was captured).
    pub packets_truncated: u64,
}

impl DecodeCounters {
    /// Adds `n` dropped fragments under `reason`.
    pub(crate) fn add_dropped(&mut self, reason: FragDropReason, n: u64) {
        let c = match reason {
            FragDropReason::Timeout => &mut self.fragments_dropped_timeout,
            FragDropReason::DatagramsCap => &mut self.fragments_dropped_datagrams_cap,
            FragDropReason::MemoryCap => &mut self.fragments_dropped_memory_cap,
            FragDropReason::TooBig => &mut self.fragments_dropped_too_big,
            FragDropReason::TooManyFragments => &mut self.fragments_dropped_too_many_fragments,
            FragDropReason::Inconsistent => &mut self.fragments_dropped_inconsistent,
            FragDropReason::Truncated => &mut self.fragments_dropped_truncated,
            FragDropReason::Nested => &mut self.fragments_dropped_nested,
            FragDropReason::Flushed => &mut self.fragments_dropped_flushed,
        };
        *c = c.saturating_add(n);
    }

    /// Adds `other` into `self` (to total the counters of several workers).
    pub fn merge(&mut self, other: &DecodeCounters) {
        let DecodeCounters {
            fragments_received,
            fragments_reassembled,
            datagrams_reassembled,
            fragments_overlapping,
            fragments_dropped_timeout,
            fragments_dropped_datagrams_cap,
            fragments_dropped_memory_cap,
            fragments_dropped_too_big,
            fragments_dropped_too_many_fragments,
            fragments_dropped_inconsistent,
            fragments_dropped_truncated,
            fragments_dropped_nested,
            fragments_dropped_flushed,
            tunnels_decapsulated,
            tunnel_ports_not_tunnel,
            tunnels_undecodable,
            packets_truncated,
        } = self;
        for (mine, theirs) in [
            (fragments_received, other.fragments_received),
            (fragments_reassembled, other.fragments_reassembled),
            (datagrams_reassembled, other.datagrams_reassembled),
            (fragments_overlapping, other.fragments_overlapping),
            (fragments_dropped_timeout, other.fragments_dropped_timeout),
            (
                fragments_dropped_datagrams_cap,
                other.fragments_dropped_datagrams_cap,
            ),
            (
                fragments_dropped_memory_cap,
                other.fragments_dropped_memory_cap,
            ),
            (fragments_dropped_too_big, other.fragments_dropped_too_big),
            (
                fragments_dropped_too_many_fragments,
                other.fragments_dropped_too_many_fragments,
            ),
            (
                fragments_dropped_inconsistent,
                other.fragments_dropped_inconsistent,
            ),
            (
                fragments_dropped_truncated,
                other.fragments_dropped_truncated,
            ),
            (fragments_dropped_nested, other.fragments_dropped_nested),
            (fragments_dropped_flushed, other.fragments_dropped_flushed),
            (tunnels_decapsulated, other.tunnels_decapsulated),
            (tunnel_ports_not_tunnel, other.tunnel_ports_not_tunnel),
            (tunnels_undecodable, other.tunnels_undecodable),
            (packets_truncated, other.packets_truncated),
        ] {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// Fragments dropped, all reasons together.
    pub fn fragments_dropped(&self) -> u64 {
        [
            self.fragments_dropped_timeout,
            self.fragments_dropped_datagrams_cap,
            self.fragments_dropped_memory_cap,
            self.fragments_dropped_too_big,
            self.fragments_dropped_too_many_fragments,
            self.fragments_dropped_inconsistent,
            self.fragments_dropped_truncated,
            self.fragments_dropped_nested,
            self.fragments_dropped_flushed,
        ]
        .into_iter()
        .fold(0u64, u64::saturating_add)
    }

    /// All counters as (name, value), for the telemetry module.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("fragments_received", self.fragments_received),
            ("fragments_reassembled", self.fragments_reassembled),
            ("datagrams_reassembled", self.datagrams_reassembled),
            ("fragments_overlapping", self.fragments_overlapping),
            ("fragments_dropped_timeout", self.fragments_dropped_timeout),
            (
                "fragments_dropped_datagrams_cap",
                self.fragments_dropped_datagrams_cap,
            ),
            (
                "fragments_dropped_memory_cap",
                self.fragments_dropped_memory_cap,
            ),
            ("fragments_dropped_too_big", self.fragments_dropped_too_big),
            (
                "fragments_dropped_too_many_fragments",
                self.fragments_dropped_too_many_fragments,
            ),
            (
                "fragments_dropped_inconsistent",
                self.fragments_dropped_inconsistent,
            ),
            (
                "fragments_dropped_truncated",
                self.fragments_dropped_truncated,
            ),
            ("fragments_dropped_nested", self.fragments_dropped_nested),
            ("fragments_dropped_flushed", self.fragments_dropped_flushed),
            ("tunnels_decapsulated", self.tunnels_decapsulated),
            ("tunnel_ports_not_tunnel", self.tunnel_ports_not_tunnel),
            ("tunnels_undecodable", self.tunnels_undecodable),
            ("packets_truncated", self.packets_truncated),
        ]
        .into_iter()
    }
}

/// Shorthands for the two commonest errors.
pub(crate) const fn trunc(layer: &'static str) -> DecodeError {
    DecodeError::Truncated { layer }
}

pub(crate) const fn bad(layer: &'static str) -> DecodeError {
    DecodeError::Malformed { layer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_iter_cover_every_counter() {
        let mut a = DecodeCounters::default();
        let mut b = DecodeCounters::default();
        for (i, reason) in [
            FragDropReason::Timeout,
            FragDropReason::DatagramsCap,
            FragDropReason::MemoryCap,
            FragDropReason::TooBig,
            FragDropReason::TooManyFragments,
            FragDropReason::Inconsistent,
            FragDropReason::Truncated,
            FragDropReason::Nested,
            FragDropReason::Flushed,
        ]
        .into_iter()
        .enumerate()
        {
            b.add_dropped(reason, 1 << i);
            assert!(b.iter().any(|(name, _)| name.ends_with(reason.as_str())));
        }
        b.tunnels_decapsulated = 3;
        a.merge(&b);
        a.merge(&b);
        assert_eq!(a.fragments_dropped(), 2 * 511);
        assert_eq!(a.tunnels_decapsulated, 6);
        assert_eq!(a.iter().count(), 17);
    }
}
