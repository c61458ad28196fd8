//! The canonical flow key: both directions of a conversation map to one key.
//!
//! The lower `(ip, port)` endpoint comes first, compared as Community ID compares them
//! (address bytes in network order, IPv4 before IPv6, then the port), so the key's
//! order is also the order the Community ID hash needs.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

/// The transport of a flow, and of every event built from it: the one transport type of
/// the data path past `decode` (the IP header's protocol field, for the two protocols the
/// flow table tracks). The discriminants are the IANA protocol numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Transport {
    Tcp = 6,
    Udp = 17,
}

impl Transport {
    /// IANA protocol number, as the IP header and Community ID give it.
    pub const fn ip_proto(self) -> u8 {
        self as u8
    }
    /// `Protocol` of events, as Sysmon writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

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
    pub proto: Transport,
}

impl FlowKey {
    /// Canonicalizes a packet's 5-tuple and says which way the packet goes.
    /// A packet to itself (same ip and port both sides) counts as `FromA`.
    pub fn new(
        proto: Transport,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
    ) -> (FlowKey, Direction) {
        // The derived order of `Endpoint` (address family, then address bytes in
        // network order, then port), spelled out on integers: this runs per packet.
        let s_first = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (s.to_bits(), sport) <= (d.to_bits(), dport),
            (IpAddr::V6(s), IpAddr::V6(d)) => (s.to_bits(), sport) <= (d.to_bits(), dport),
            (IpAddr::V4(_), IpAddr::V6(_)) => true,
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        };
        let s = Endpoint {
            ip: src,
            port: sport,
        };
        let d = Endpoint {
            ip: dst,
            port: dport,
        };
        if s_first {
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

/// The two 64-bit halves of an address (an IPv4 address in the low half).
fn ip_words(ip: IpAddr) -> (u64, u64) {
    match ip {
        IpAddr::V4(v4) => (0, u64::from(v4.to_bits())),
        IpAddr::V6(v6) => {
            let bits = v6.to_bits();
            // Truncation is the point: the two halves of the address.
            ((bits >> 64) as u64, bits as u64)
        }
    }
}

/// Ports, protocol and address family in one word.
fn tail_word(k: &FlowKey) -> u64 {
    u64::from(k.a.port) << 48
        | u64::from(k.b.port) << 32
        | u64::from(k.proto.ip_proto()) << 8
        | u64::from(k.a.ip.is_ipv6())
}

/// Hashes the raw address bytes and ports in as few `write_*` calls as possible:
/// foldhash is fastest on wide integer writes, and the derived impl would hash the
/// `IpAddr` discriminant and a length prefix separately.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (a_hi, a_lo) = ip_words(self.a.ip);
        let (b_hi, b_lo) = ip_words(self.b.ip);
        state.write_u64(a_hi);
        state.write_u64(a_lo);
        state.write_u64(b_hi);
        state.write_u64(b_lo);
        state.write_u64(tail_word(self));
    }
}

/// The flow table's hash of a [`FlowKey`]: a multiply-fold (foldhash's and
/// wyhash's primitive) over the key's words xor-ed with a random per-table key, so
/// crafted tuples cannot aim at one bucket chain. Two IPv4 addresses fit one word:
/// an IPv4 key costs one 64×64→128-bit multiply, a `Hasher` round trip five.
#[derive(Clone, Debug)]
pub(crate) struct KeyHasher {
    k: [u64; 4],
}

impl KeyHasher {
    /// A hasher with a key from foldhash's per-process random seed.
    pub(crate) fn random() -> KeyHasher {
        let s = foldhash::fast::RandomState::default();
        KeyHasher {
            k: [
                s.hash_one(1u64),
                s.hash_one(2u64),
                s.hash_one(3u64),
                s.hash_one(4u64),
            ],
        }
    }

    /// Native byte order: the hash only has to agree with itself within a process,
    /// and skipping the byte swaps is the point.
    #[inline]
    pub(crate) fn hash(&self, key: &FlowKey) -> u64 {
        let [k0, k1, k2, k3] = self.k;
        let tail = tail_word(key);
        if let (IpAddr::V4(a), IpAddr::V4(b)) = (&key.a.ip, &key.b.ip) {
            let ips = u64::from(u32::from_ne_bytes(a.octets())) << 32
                | u64::from(u32::from_ne_bytes(b.octets()));
            return fold(ips ^ k0, tail ^ k1);
        }
        let words = |ip: &IpAddr| match ip {
            IpAddr::V4(v4) => (0, u64::from(u32::from_ne_bytes(v4.octets()))),
            IpAddr::V6(v6) => {
                let bits = u128::from_ne_bytes(v6.octets());
                // Truncation is the point: the two halves of the address.
                ((bits >> 64) as u64, bits as u64)
            }
        };
        let (a_hi, a_lo) = words(&key.a.ip);
        let (b_hi, b_lo) = words(&key.b.ip);
        let h = fold(a_hi ^ k0, a_lo ^ k1);
        let h = fold(h ^ b_hi ^ k2, b_lo ^ k3);
        fold(h ^ tail ^ k0, k2)
    }
}

/// The 128-bit product's halves folded together: every input bit reaches the
/// output.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    // Truncation is the point: the low half.
    (p as u64) ^ ((p >> 64) as u64)
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
        let (k1, d1) = FlowKey::new(Transport::Tcp, v4(10, 0, 0, 2), 1234, v4(10, 0, 0, 1), 80);
        let (k2, d2) = FlowKey::new(Transport::Tcp, v4(10, 0, 0, 1), 80, v4(10, 0, 0, 2), 1234);
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
    fn table_hash_is_keyed_and_direction_free() {
        let h = KeyHasher::random();
        let six = |n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n));
        for (s, d) in [
            (v4(10, 0, 0, 2), v4(10, 0, 0, 1)),
            (six(2), six(1)),
            (six(1), v4(1, 1, 1, 1)),
        ] {
            let (k1, _) = FlowKey::new(Transport::Tcp, s, 1234, d, 80);
            let (k2, _) = FlowKey::new(Transport::Tcp, d, 80, s, 1234);
            assert_eq!(h.hash(&k1), h.hash(&k2));
            let (other_port, _) = FlowKey::new(Transport::Tcp, s, 1235, d, 80);
            let (other_proto, _) = FlowKey::new(Transport::Udp, s, 1234, d, 80);
            assert_ne!(h.hash(&k1), h.hash(&other_port));
            assert_ne!(h.hash(&k1), h.hash(&other_proto));
        }
        // Another table, another key: the same tuple lands elsewhere.
        let (k, _) = FlowKey::new(Transport::Udp, v4(1, 2, 3, 4), 53, v4(5, 6, 7, 8), 5353);
        assert_ne!(h.hash(&k), KeyHasher::random().hash(&k));
    }

    #[test]
    fn equal_addresses_ordered_by_port() {
        let ip = v4(127, 0, 0, 1);
        let (k, d) = FlowKey::new(Transport::Udp, ip, 5353, ip, 53);
        assert_eq!(d, Direction::FromB);
        assert_eq!((k.a.port, k.b.port), (53, 5353));
    }

    #[test]
    fn protocol_and_family_distinguish() {
        let (t, _) = FlowKey::new(Transport::Tcp, v4(1, 2, 3, 4), 1, v4(5, 6, 7, 8), 2);
        let (u, _) = FlowKey::new(Transport::Udp, v4(1, 2, 3, 4), 1, v4(5, 6, 7, 8), 2);
        assert_ne!(t, u);
        let six = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let (k, d) = FlowKey::new(Transport::Tcp, six, 9, six, 9);
        assert_eq!(d, Direction::FromA);
        assert!(k.a.ip.is_ipv6());
    }
}
