//! Live capture through libpcap (the `pcap` crate).
//!
//! The handle runs in non-blocking mode and we `poll(2)` its descriptor ourselves:
//! `pcap_next_ex` in blocking mode can wait forever on an idle link with some kernels
//! and libpcap versions (DESIGN §7), and the capture thread must wake up regularly to
//! flush partial batches and notice a shutdown.

use std::os::fd::AsRawFd;
use std::sync::Arc;

use pcap::{Active, Capture, Device};

use super::linktype::{dlt_to_linktype, linktype_name};
use super::{CaptureError, CaptureStats, Frame, Next, Source};
use crate::time::Timestamp;

/// Bytes kept of each frame. 65 535 holds any Ethernet frame, jumbo or offloaded
/// (GRO/TSO segments up to 64 KiB), which is everything the parsers could use.
pub const DEFAULT_SNAPLEN: i32 = 65_535;
/// Kernel ring size. The ring absorbs the bursts during which the capture thread is not
/// reading (a worker queue full, the scheduler running someone else on a 2-core box):
/// 64 MiB is about half a second of a saturated 1 Gbit/s link, or 130 ms of the 500k
/// packets/s target at full-size frames, while staying a modest amount of locked memory.
pub const DEFAULT_BUFFER_SIZE: i32 = 64 * 1024 * 1024;
/// How long `next_frame` waits on an idle link before returning `Next::Idle`; also the
/// kernel's block timeout, i.e. the worst latency a packet sees on a quiet link.
pub const DEFAULT_POLL_TIMEOUT_MS: i32 = 100;
/// Interface names listed in a "no such interface" message.
const MAX_LISTED_INTERFACES: usize = 16;

/// How to open an interface. [`LiveConfig::new`] gives the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    pub interface: String,
    /// A BPF filter in tcpdump syntax, compiled by libpcap.
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub buffer_size: i32,
    pub promiscuous: bool,
    pub poll_timeout_ms: i32,
    /// Deliver each packet at once instead of by ring blocks: lower latency, but the
    /// per-packet wake-ups lose packets in bursts; off by default.
    pub immediate: bool,
}

/// The defaults, with no interface named yet.
impl Default for LiveConfig {
    fn default() -> LiveConfig {
        LiveConfig::new("")
    }
}

impl LiveConfig {
    pub fn new(interface: impl Into<String>) -> LiveConfig {
        LiveConfig {
            interface: interface.into(),
            bpf: None,
            snaplen: DEFAULT_SNAPLEN,
            buffer_size: DEFAULT_BUFFER_SIZE,
            promiscuous: true,
            poll_timeout_ms: DEFAULT_POLL_TIMEOUT_MS,
            immediate: false,
        }
    }
}

/// A live capture on one interface.
pub struct Live {
    cap: Capture<Active>,
    name: Arc<str>,
    linktype: u32,
    poll_timeout_ms: i32,
    /// The last read found the ring empty: wait in poll(2) before reading again.
    drained: bool,
    done: bool,
    stats: CaptureStats,
    /// libpcap's counters are 32-bit and wrap; we add their deltas to ours.
    last_drop: u32,
    last_ifdrop: u32,
}

impl Live {
    /// Opens and activates `cfg.interface`. The interface must exist (libpcap itself may
    /// only notice at activation, with a vaguer message), the filter must compile, and
    /// `supported` must know the interface's link type.
    pub fn open(cfg: &LiveConfig, supported: fn(u32) -> bool) -> Result<Live, CaptureError> {
        let iface = cfg.interface.as_str();
        let devices = Device::list().map_err(|e| pcap_error(iface, &e))?;
        if !devices.iter().any(|d| d.name == iface) {
            let mut names: Vec<&str> = devices.iter().map(|d| d.name.as_str()).collect();
            let more = names.len() > MAX_LISTED_INTERFACES;
            names.truncate(MAX_LISTED_INTERFACES);
            let mut available = names.join(", ");
            if more {
                available.push_str(", ...");
            }
            if available.is_empty() {
                available.push_str("none visible; are you root?");
            }
            return Err(CaptureError::NoSuchInterface {
                interface: cfg.interface.clone(),
                available,
            });
        }
        let mut cap = Capture::from_device(iface)
            .map_err(|e| pcap_error(iface, &e))?
            .promisc(cfg.promiscuous)
            .snaplen(cfg.snaplen)
            .buffer_size(cfg.buffer_size)
            .timeout(cfg.poll_timeout_ms)
            .immediate_mode(cfg.immediate)
            .open()
            .map_err(|e| pcap_error(iface, &e))?;
        if let Some(bpf) = &cfg.bpf {
            cap.filter(bpf, true).map_err(|e| CaptureError::BadFilter {
                interface: cfg.interface.clone(),
                filter: bpf.clone(),
                message: pcap_message(&e),
            })?;
        }
        let cap = cap.setnonblock().map_err(|e| pcap_error(iface, &e))?;
        let linktype = dlt_to_linktype(cap.get_datalink().0);
        if !supported(linktype) {
            return Err(CaptureError::UnsupportedLinktype {
                path: Arc::from(iface),
                linktype,
                name: linktype_name(linktype),
            });
        }
        Ok(Live {
            cap,
            name: Arc::from(iface),
            linktype,
            poll_timeout_ms: cfg.poll_timeout_ms,
            drained: false,
            done: false,
            stats: CaptureStats::default(),
            last_drop: 0,
            last_ifdrop: 0,
        })
    }

    /// The LINKTYPE_* number of the interface.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Waits until the descriptor is readable or the poll timeout passes; true when
    /// readable (or when poll fails: the next read then reports the real error).
    fn wait_readable(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.cap.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, living on the stack for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, self.poll_timeout_ms) };
        if r < 0 {
            // EINTR (a signal, maybe SIGINT): report idle so the caller checks its flags.
            return std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted;
        }
        r > 0
    }
}

impl Source for Live {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.done {
            return Ok(Next::End);
        }
        if self.drained {
            if !self.wait_readable() {
                return Ok(Next::Idle);
            }
            self.drained = false;
        }
        match self.cap.next_packet() {
            Ok(p) => {
                // time_t and suseconds_t are 32-bit on some targets.
                #[allow(clippy::useless_conversion)]
                let ts = timeval_to_timestamp(
                    i64::from(p.header.ts.tv_sec),
                    i64::from(p.header.ts.tv_usec),
                );
                self.stats.packets += 1;
                self.stats.bytes += p.data.len() as u64;
                Ok(Next::Frame(Frame {
                    ts,
                    linktype: self.linktype,
                    data: p.data,
                    origlen: p
                        .header
                        .len
                        .max(u32::try_from(p.data.len()).unwrap_or(u32::MAX)),
                    source: &self.name,
                    window: None,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Non-blocking read with an empty ring.
                self.drained = true;
                Ok(Next::Idle)
            }
            Err(pcap::Error::NoMorePackets) => {
                self.done = true;
                Ok(Next::End)
            }
            Err(e) => {
                self.done = true;
                Err(pcap_error(&self.name, &e))
            }
        }
    }

    fn current_name(&self) -> &Arc<str> {
        &self.name
    }

    fn stats(&mut self) -> CaptureStats {
        if let Ok(s) = self.cap.stats() {
            self.stats.kernel_drops += u64::from(s.dropped.wrapping_sub(self.last_drop));
            self.stats.interface_drops += u64::from(s.if_dropped.wrapping_sub(self.last_ifdrop));
            self.last_drop = s.dropped;
            self.last_ifdrop = s.if_dropped;
        }
        self.stats
    }
}

fn timeval_to_timestamp(sec: i64, usec: i64) -> Timestamp {
    Timestamp(
        sec.saturating_mul(1_000_000_000)
            .saturating_add(usec.saturating_mul(1000)),
    )
}

/// libpcap's own text for an error, without the crate's "libpcap error: " prefix.
fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m.clone(),
        other => other.to_string(),
    }
}

fn pcap_error(interface: &str, e: &pcap::Error) -> CaptureError {
    let message = pcap_message(e);
    let lower = message.to_ascii_lowercase();
    let hint = if lower.contains("permission") || lower.contains("not permitted") {
        " (capturing needs root or the CAP_NET_RAW and CAP_NET_ADMIN capabilities)"
    } else {
        ""
    };
    CaptureError::Pcap {
        interface: interface.to_string(),
        message,
        hint,
    }
}
