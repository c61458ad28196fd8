//! The canonical flow key: both directions of a conversation map to one key.
//!
//! The lower `(ip, port)` endpoint comes first, compared as Community ID compares them
//! (address bytes in network order, IPv4 before IPv6, then the port), so the key's
//! order is also the order the Community ID hash needs.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// IANA protocol numbers of the transports the flow table tracks.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// One side of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// Which way a packet travels relative to the canonical key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the canonical first endpoint `a` to `b`.
    FromA,
    /// From `b` to `a`.
    FromB,
}

impl Direction {
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::FromA => Direction::FromB,
            Direction::FromB => Direction::FromA,
        }
    }
    /// 0 for `FromA`, 1 for `FromB`: an index into per-direction arrays.
    pub const fn index(self) -> usize {
        match self {
            Direction::FromA => 0,
            Direction::FromB => 1,
        }
    }
}

/// A canonical 5-tuple: `a <= b` always.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
    /// IANA protocol number (6 TCP, 17 UDP).
    pub proto: u8,
}

impl FlowKey {
    /// Canonicalizes a packet's 5-tuple and says which way the packet goes.
    /// A packet to itself (same ip and port both sides) counts as `FromA`.
    pub fn new(
        proto: u8,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
    ) -> (FlowKey, Direction) {
        let s = Endpoint {
            ip: src,
            port: sport,
        };
        let d = Endpoint {
            ip: dst,
            port: dport,
        };
        if s <= d {
            (FlowKey { a: s, b: d, proto }, Direction::FromA)
        } else {
            (FlowKey { a: d, b: s, proto }, Direction::FromB)
        }
    }

    /// The sender of a packet travelling in `dir`.
    pub const fn sender(&self, dir: Direction) -> Endpoint {
        match dir {
            Direction::FromA => self.a,
            Direction::FromB => self.b,
        }
    }

    /// The receiver of a packet travelling in `dir`.
    pub const fn receiver(&self, dir: Direction) -> Endpoint {
        self.sender(dir.reverse())
    }
}

/// Hashes the raw address bytes and ports in as few `write_*` calls as possible:
/// foldhash is fastest on wide integer writes, and the derived impl would hash the
/// `IpAddr` discriminant and a length prefix separately.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        fn ip_words(ip: IpAddr) -> (u64, u64) {
            match ip {
                IpAddr::V4(v4) => (u64::from(u32::from(v4)), 0),
                IpAddr::V6(v6) => {
                    let bits = u128::from(v6);
                    // Truncation is the point: the two halves of the address.
                    ((bits >> 64) as u64, bits as u64)
                }
            }
        }
        let (a_hi, a_lo) = ip_words(self.a.ip);
        let (b_hi, b_lo) = ip_words(self.b.ip);
        let v6 = u64::from(self.a.ip.is_ipv6());
        state.write_u64(a_hi);
        state.write_u64(a_lo);
        state.write_u64(b_hi);
        state.write_u64(b_lo);
        state.write_u64(
            u64::from(self.a.port) << 48
                | u64::from(self.b.port) << 32
                | u64::from(self.proto) << 8
                | v6,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn both_directions_give_one_key() {
        let (k1, d1) = FlowKey::new(PROTO_TCP, v4(10, 0, 0, 2), 1234, v4(10, 0, 0, 1), 80);
        let (k2, d2) = FlowKey::new(PROTO_TCP, v4(10, 0, 0, 1), 80, v4(10, 0, 0, 2), 1234);
        assert_eq!(k1, k2);
        assert_eq!(d1, Direction::FromB);
        assert_eq!(d2, Direction::FromA);
        assert_eq!(
            k1.a,
            Endpoint {
                ip: v4(10, 0, 0, 1),
                port: 80
            }
        );
        assert_eq!(k1.sender(d1).port, 1234);
        assert_eq!(k1.receiver(d1).port, 80);
        let s = foldhash::fast::FixedState::with_seed(7);
        assert_eq!(s.hash_one(k1), s.hash_one(k2));
    }

    #[test]
    fn equal_addresses_ordered_by_port() {
        let ip = v4(127, 0, 0, 1);
        let (k, d) = FlowKey::new(PROTO_UDP, ip, 5353, ip, 53);
        assert_eq!(d, Direction::FromB);
        assert_eq!((k.a.port, k.b.port), (53, 5353));
    }

    #[test]
    fn protocol_and_family_distinguish() {
        let (t, _) = FlowKey::new(PROTO_TCP, v4(1, 2, 3, 4), 1, v4(5, 6, 7, 8), 2);
        let (u, _) = FlowKey::new(PROTO_UDP, v4(1, 2, 3, 4), 1, v4(5, 6, 7, 8), 2);
        assert_ne!(t, u);
        let six = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let (k, d) = FlowKey::new(PROTO_TCP, six, 9, six, 9);
        assert_eq!(d, Direction::FromA);
        assert!(k.a.ip.is_ipv6());
    }
}
