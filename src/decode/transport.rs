//! UDP (RFC 768) and TCP (RFC 9293 §3.1) header views over an IP payload.

use super::bytes::{be16, be32, u8_at};
use super::error::{DecodeError, bad, trunc};

/// Header fields of UDP (RFC 768) and TCP (RFC 9293 §3.1).
pub(crate) mod field {
    pub(crate) mod udp {
        use crate::decode::bytes::{Field, Rest};

        pub(crate) const SRC_PORT: Field = 0..2;
        pub(crate) const DST_PORT: Field = 2..4;
        /// Header and payload, in bytes.
        pub(crate) const LENGTH: Field = 4..6;
        pub(crate) const PAYLOAD: Rest = 8..;
        pub(crate) const HEADER_LEN: usize = PAYLOAD.start;
    }

    pub(crate) mod tcp {
        use crate::decode::bytes::Field;

        pub(crate) const SRC_PORT: Field = 0..2;
        pub(crate) const DST_PORT: Field = 2..4;
        pub(crate) const SEQ_NUM: Field = 4..8;
        pub(crate) const ACK_NUM: Field = 8..12;
        /// Data offset in the high nibble, in 4-byte words.
        pub(crate) const DATA_OFF: usize = 12;
        pub(crate) const FLAGS: usize = 13;
        pub(crate) const WINDOW: Field = 14..16;
        /// The header without options: the smallest data offset.
        pub(crate) const HEADER_LEN: usize = 20;
    }
}

pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

/// The transport layer of the innermost IP packet, as a view over its bytes (the flow's
/// transport type is `flow::Transport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    Udp(UdpDatagram<'a>),
    Tcp(TcpSegment<'a>),
    /// Any other protocol (ICMP, ESP, SCTP, ...), or a tunnel whose inner packet did not
    /// decode.
    Other {
        protocol: u8,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    /// The payload as captured, trimmed to the UDP length when that is consistent.
    pub payload: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// The payload as captured (after the options).
    pub payload: &'a [u8],
}

/// The TCP flag byte (CWR ECE URG ACK PSH RST SYN FIN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    pub const fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub const fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub const fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub const fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    pub const fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    pub const fn urg(self) -> bool {
        self.0 & Self::URG != 0
    }
    /// A connection request: SYN without ACK.
    pub const fn is_syn_only(self) -> bool {
        self.syn() && !self.ack()
    }
    /// A connection acceptance: SYN with ACK.
    pub const fn is_syn_ack(self) -> bool {
        self.syn() && self.ack()
    }
}

pub(crate) fn udp(b: &[u8]) -> Result<UdpDatagram<'_>, DecodeError> {
    let src_port = be16(b, field::udp::SRC_PORT).ok_or(trunc("udp"))?;
    let dst_port = be16(b, field::udp::DST_PORT).ok_or(trunc("udp"))?;
    let len = usize::from(be16(b, field::udp::LENGTH).ok_or(trunc("udp"))?);
    let rest = b.get(field::udp::PAYLOAD).ok_or(trunc("udp"))?;
    // Length 0 (jumbograms, RFC 2675 §4) or past the capture: take what is there.
    let payload = match len.checked_sub(field::udp::HEADER_LEN) {
        Some(n) if len != 0 => rest.get(..n).unwrap_or(rest),
        _ => rest,
    };
    Ok(UdpDatagram {
        src_port,
        dst_port,
        payload,
    })
}

pub(crate) fn tcp(b: &[u8]) -> Result<TcpSegment<'_>, DecodeError> {
    let src_port = be16(b, field::tcp::SRC_PORT).ok_or(trunc("tcp"))?;
    let dst_port = be16(b, field::tcp::DST_PORT).ok_or(trunc("tcp"))?;
    let seq = be32(b, field::tcp::SEQ_NUM).ok_or(trunc("tcp"))?;
    let ack = be32(b, field::tcp::ACK_NUM).ok_or(trunc("tcp"))?;
    let data_off =
        usize::from(u8_at(b, field::tcp::DATA_OFF).ok_or(trunc("tcp"))? >> 4).saturating_mul(4);
    let flags = TcpFlags(u8_at(b, field::tcp::FLAGS).ok_or(trunc("tcp"))?);
    let window = be16(b, field::tcp::WINDOW).ok_or(trunc("tcp"))?;
    if data_off < field::tcp::HEADER_LEN {
        return Err(bad("tcp"));
    }
    let payload = b.get(data_off..).ok_or(trunc("tcp"))?;
    Ok(TcpSegment {
        src_port,
        dst_port,
        seq,
        ack,
        flags,
        window,
        payload,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn udp_lengths() {
        let d = udp(&[0, 53, 0x30, 0x39, 0, 10, 0, 0, 1, 2, 3]).unwrap();
        assert_eq!(
            (d.src_port, d.dst_port, d.payload),
            (53, 12345, &[1u8, 2][..])
        );
        // length past the capture, and length below the header: what was captured
        assert_eq!(udp(&[0, 1, 0, 2, 0, 99, 0, 0, 7]).unwrap().payload, [7]);
        assert_eq!(udp(&[0, 1, 0, 2, 0, 0, 0, 0, 7]).unwrap().payload, [7]);
        assert_eq!(udp(&[0, 1, 0, 2, 0, 8, 0]).unwrap_err(), trunc("udp"));
    }

    #[test]
    fn tcp_header_and_options() {
        let mut s = vec![
            0x01, 0xBB, 0xC0, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x12, 0xFF, 0xFF,
        ];
        s.extend([0, 0, 0, 0, 2, 4, 5, 0xb4, b'x']);
        let t = tcp(&s).unwrap();
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack, t.window),
            (443, 49152, 1, 2, 0xFFFF)
        );
        assert!(t.flags.syn() && t.flags.ack() && !t.flags.fin() && !t.flags.rst());
        assert_eq!(t.payload, b"x");
        assert_eq!(tcp(&s[..22]).unwrap_err(), trunc("tcp"));
        s[12] = 0x40;
        assert_eq!(tcp(&s).unwrap_err(), bad("tcp"));
    }
}
