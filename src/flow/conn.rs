//! One TCP connection: both directions' stream reassemblers, and the SYN/FIN/RST
//! lifecycle the flow table turns into an idle timeout.
//!
//! Directions are indexed by the canonical key's [`Direction`] rather than by
//! client/server, so a late re-orientation of the flow (a SYN seen after the first
//! packet) never has to move buffers: the parser asks for
//! `stream(entry.client_dir())` when it wants the client's bytes.

use super::key::Direction;
use super::reassembly::{PushOutcome, StreamReassembler};
use super::timeout::TimeoutClass;

/// TCP header flags (RFC 9293 §3.1): the decoder's type, used as it is.
pub use crate::decode::TcpFlags;

/// What the flags seen so far say about a connection's life (one byte per flow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpLifecycle(u8);

impl TcpLifecycle {
    const SYN: u8 = 0x01;
    const SYN_ACK: u8 = 0x02;
    /// A packet without SYN (an ACK, data, a FIN): the handshake went on.
    const OTHER: u8 = 0x04;
    const FIN_A: u8 = 0x08;
    const FIN_B: u8 = 0x10;
    const RST: u8 = 0x20;

    pub fn observe(&mut self, dir: Direction, flags: TcpFlags) {
        let mut bits = 0;
        if flags.is_syn_only() {
            bits |= Self::SYN;
        }
        if flags.is_syn_ack() {
            bits |= Self::SYN_ACK;
        }
        if !flags.syn() {
            bits |= Self::OTHER;
        }
        if flags.fin() {
            bits |= match dir {
                Direction::FromA => Self::FIN_A,
                Direction::FromB => Self::FIN_B,
            };
        }
        if flags.rst() {
            bits |= Self::RST;
        }
        self.0 |= bits;
    }

    /// A packet without SYN was seen: [`observe`](Self::observe) of another one without
    /// SYN, FIN or RST changes nothing.
    pub const fn handshake_done(self) -> bool {
        self.0 & Self::OTHER != 0
    }
    pub const fn syn_seen(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub const fn syn_ack_seen(self) -> bool {
        self.0 & Self::SYN_ACK != 0
    }
    pub const fn rst_seen(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub const fn fin_seen(self, dir: Direction) -> bool {
        let bit = match dir {
            Direction::FromA => Self::FIN_A,
            Direction::FromB => Self::FIN_B,
        };
        self.0 & bit != 0
    }
    /// RST, or FIN in both directions.
    pub const fn is_closed(self) -> bool {
        self.rst_seen() || self.0 & (Self::FIN_A | Self::FIN_B) == Self::FIN_A | Self::FIN_B
    }

    /// The idle timeout that applies now.
    pub const fn timeout_class(self) -> TimeoutClass {
        if self.is_closed() {
            TimeoutClass::TcpClosed
        } else if self.0 & (Self::FIN_A | Self::FIN_B) != 0 {
            TimeoutClass::TcpHalfClosed
        } else if self.0 & Self::OTHER == 0 {
            TimeoutClass::TcpSynOnly
        } else {
            TimeoutClass::TcpEstablished
        }
    }
}

/// Both directions of a TCP connection, reassembled (the stream prefix only).
#[derive(Clone, Debug, Default)]
pub struct TcpConn {
    dirs: [StreamReassembler; 2],
}

impl TcpConn {
    pub const fn new() -> Self {
        TcpConn {
            dirs: [StreamReassembler::new(), StreamReassembler::new()],
        }
    }

    /// Feeds one segment travelling in `dir`. The ACK (when its flag is set) is a
    /// hint for the opposite direction: held data it covers proves a capture hole.
    /// A RST's payload (diagnostic text on some stacks) is not stream data.
    pub fn on_segment(
        &mut self,
        dir: Direction,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) -> PushOutcome {
        let [a, b] = &mut self.dirs;
        let (tx, rx) = match dir {
            Direction::FromA => (a, b),
            Direction::FromB => (b, a),
        };
        let mut out = if flags.rst() {
            PushOutcome::default()
        } else {
            tx.push(seq, payload, flags.syn(), flags.fin())
        };
        if flags.ack() {
            out.merge(rx.ack_hint(ack));
        }
        out
    }

    /// The stream of bytes sent in `dir`.
    pub fn stream(&self, dir: Direction) -> &StreamReassembler {
        let [a, b] = &self.dirs;
        match dir {
            Direction::FromA => a,
            Direction::FromB => b,
        }
    }

    pub fn stream_mut(&mut self, dir: Direction) -> &mut StreamReassembler {
        let [a, b] = &mut self.dirs;
        match dir {
            Direction::FromA => a,
            Direction::FromB => b,
        }
    }

    /// The flow is ending: deliver everything held in both directions.
    pub fn flush(&mut self) -> PushOutcome {
        let [a, b] = &mut self.dirs;
        let mut out = a.flush();
        out.merge(b.flush());
        out
    }

    /// Both parsers are done: free both directions.
    pub fn stop(&mut self) {
        let [a, b] = &mut self.dirs;
        a.stop();
        b.stop();
    }

    pub fn memory_bytes(&self) -> usize {
        let [a, b] = &self.dirs;
        a.memory_bytes().saturating_add(b.memory_bytes())
    }
}
