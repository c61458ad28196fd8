//! Idle timeouts: which class of timeout applies to a flow (set by its TCP lifecycle,
//! `flow::conn`) and how long each class lasts on packet time (read by the table).

use crate::time::Duration;

/// UDP: DNS transactions finish in milliseconds, QUIC keeps a connection alive with
/// pings within its idle timeout (30 s default in most stacks); 60 s covers both
/// without keeping one-packet flows long. (Suricata: 30 s new / 300 s established.)
pub const UDP_TIMEOUT: Duration = Duration::from_secs(60);
/// A SYN that got no further: SYN retries back off 1+2+4+8+16 s on Linux, so 30 s
/// sees the retries of one attempt as one flow and frees SYN-flood entries quickly.
pub const TCP_SYN_ONLY_TIMEOUT: Duration = Duration::from_secs(30);
/// Established TCP idle: 600 s, Suricata's default (Zeek's inactivity timeout is
/// 300 s). C2 channels hold long-poll connections open for minutes between beacons;
/// cutting them at 300 s would split one channel into flows picked up mid-stream.
pub const TCP_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(600);
/// One side sent FIN; the other may still be sending the response.
pub const TCP_HALF_CLOSED_TIMEOUT: Duration = Duration::from_secs(120);
/// FIN both ways or RST: only stray retransmissions can follow (Zeek's close delay).
pub const TCP_CLOSED_TIMEOUT: Duration = Duration::from_secs(5);

/// Which idle timeout applies to a flow; each class has its own time-ordered list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutClass {
    Udp,
    TcpSynOnly,
    TcpEstablished,
    TcpHalfClosed,
    TcpClosed,
}

pub(super) const CLASSES: usize = 5;
pub(super) const ALL_CLASSES: [TimeoutClass; CLASSES] = [
    TimeoutClass::Udp,
    TimeoutClass::TcpSynOnly,
    TimeoutClass::TcpEstablished,
    TimeoutClass::TcpHalfClosed,
    TimeoutClass::TcpClosed,
];

impl TimeoutClass {
    pub(super) const fn index(self) -> usize {
        match self {
            TimeoutClass::Udp => 0,
            TimeoutClass::TcpSynOnly => 1,
            TimeoutClass::TcpEstablished => 2,
            TimeoutClass::TcpHalfClosed => 3,
            TimeoutClass::TcpClosed => 4,
        }
    }
}

/// Idle timeouts per class (packet time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub udp: Duration,
    pub tcp_syn_only: Duration,
    pub tcp_established: Duration,
    pub tcp_half_closed: Duration,
    pub tcp_closed: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            udp: UDP_TIMEOUT,
            tcp_syn_only: TCP_SYN_ONLY_TIMEOUT,
            tcp_established: TCP_ESTABLISHED_TIMEOUT,
            tcp_half_closed: TCP_HALF_CLOSED_TIMEOUT,
            tcp_closed: TCP_CLOSED_TIMEOUT,
        }
    }
}

impl Timeouts {
    pub const fn get(&self, class: TimeoutClass) -> Duration {
        match class {
            TimeoutClass::Udp => self.udp,
            TimeoutClass::TcpSynOnly => self.tcp_syn_only,
            TimeoutClass::TcpEstablished => self.tcp_established,
            TimeoutClass::TcpHalfClosed => self.tcp_half_closed,
            TimeoutClass::TcpClosed => self.tcp_closed,
        }
    }
}
