//! Counters and the SensorState event (EventID 4).
//!
//! Every drop and every error caused by traffic is a counter, never a log line. Each
//! thread owns one [`CounterSlot`]: it counts into a plain local [`Counts`] on the hot
//! path and publishes the totals into its slot once per batch (relaxed stores, no
//! contention). A [`Registry`] sums the slots when a SensorState event is due.
//!
//! A leaf module: it imports nothing from the data path.

pub mod summary;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

macro_rules! counters {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// The counters of DESIGN §6, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Counter { $(#[doc = $doc] $variant,)* }

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];
            /// snake_case name as it appears in SensorState events.
            pub fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }
        }
    };
}

counters! {
    Packets => "packets": "Frames read from the source.",
    Bytes => "bytes": "Bytes of frames read (captured length).",
    KernelDrops => "kernel_drops": "Packets the kernel dropped (pcap stats ps_drop).",
    InterfaceDrops => "interface_drops": "Packets the interface dropped (pcap stats ps_ifdrop).",
    QueueDrops => "queue_drops": "Packets dropped because a worker queue was full (live only).",
    UnsupportedLinktype => "unsupported_linktype_packets": "Frames of a link type c2tap does not decode.",
    DecodeErrors => "decode_errors": "Frames that did not decode to an IP packet (malformed, truncated, not IP): the sum of the undecoded_* counters but undecoded_other_transport.",
    PacketsDecoded => "packets_decoded": "Frames decoded to a TCP or UDP packet and filed in a flow.",
    FragmentsHeld => "fragments_held": "Frames that were IP fragments held for reassembly (the frame that completes a datagram counts as decoded).",
    UndecodedNotIp => "undecoded_not_ip": "Frames of a protocol that is not IP: ARP, LLDP, STP, non-IP PPP, an EtherType or GRE protocol type c2tap does not walk.",
    UndecodedTruncated => "undecoded_truncated": "Frames whose bytes end inside a header (snaplen, or a cut frame).",
    UndecodedMalformed => "undecoded_malformed": "Frames with a header that contradicts itself (bad version, length below minimum, wrong ERSPAN version).",
    UndecodedUnsupported => "undecoded_unsupported": "Frames with a header variant c2tap does not decode (GRE source routing, GRE versions past 1).",
    UndecodedTooDeep => "undecoded_too_deep": "Frames with more nested VLAN tags, MPLS labels, link layers or tunnels than their caps.",
    UndecodedWlanNotData => "undecoded_wlan_not_data": "802.11 management, control and null-data frames (nothing to decode).",
    UndecodedWlanProtected => "undecoded_wlan_protected": "802.11 data frames with the Protected bit (encrypted).",
    UndecodedWlanAmsdu => "undecoded_wlan_amsdu": "802.11 A-MSDU frames that could not be split (a subframe length past the frame or the 2304-byte MSDU limit, more than 64 subframes).",
    UndecodedFragmentDropped => "undecoded_fragment_dropped": "Frames that were IP fragments dropped on arrival (caps, inconsistent lengths, nested); fragments_dropped also counts held ones dropped later.",
    UndecodedOtherTransport => "undecoded_other_transport": "IP packets that are neither TCP nor UDP (ICMP, ESP, OSPF, SCTP, ...).",
    WlanAmsdusSplit => "wlan_amsdus_split": "802.11 A-MSDU frames split into their subframes: the frame is not decoded itself, each subframe is (so packets - wlan_amsdus_split + wlan_amsdu_subframes frames are decoded, held, dropped or undecoded).",
    WlanAmsduSubframes => "wlan_amsdu_subframes": "Subframes split out of 802.11 A-MSDUs, each decoded as a frame of its own.",
    TunnelsDecapsulated => "tunnels_decapsulated": "Tunnel layers removed (GRE, ERSPAN, 802.11 in GRE, VXLAN, Geneve, GTP-U, IP-in-IP).",
    TunnelsUndecodable => "tunnels_undecodable": "GRE and IP-in-IP packets whose inner packet did not decode (counted again under its undecoded_* reason).",
    FragmentsReassembled => "fragments_reassembled": "IP datagrams rebuilt from fragments.",
    FragmentsDropped => "fragments_dropped": "IP fragments dropped (pool caps, age, overlaps).",
    FlowsCreated => "flows_created": "Flows created.",
    FlowsEvicted => "flows_evicted": "Flows evicted because the flow table was full.",
    FlowsExpired => "flows_expired": "Flows ended by idle timeout.",
    ReassemblyGaps => "reassembly_gaps": "TCP gaps skipped by stream reassembly.",
    ReassemblyOverlapConflicts => "reassembly_overlap_conflicts": "Overlapping TCP segments whose bytes differed.",
    ReassemblyCapped => "reassembly_capped": "TCP segments cut or dropped at the 64 KiB reassembly window (the stream prefix, or the unread bytes of a followed stream).",
    ReassemblyBudgetStops => "reassembly_budget_stops": "TCP flows whose reassembly stopped because the worker's buffer budget was spent.",
    DnsMessages => "dns_messages": "DNS messages parsed.",
    DnsParseErrors => "dns_parse_errors": "DNS messages that failed to parse.",
    DnsTimeouts => "dns_timeouts": "DNS queries that got no response within the timeout.",
    DnsEvictions => "dns_evictions": "DNS transactions evicted from a full table.",
    HttpParseErrors => "http_parse_errors": "HTTP data that failed to parse.",
    TlsParseErrors => "tls_parse_errors": "TLS data that failed to parse.",
    QuicParseErrors => "quic_parse_errors": "QUIC packets that failed to decrypt or parse.",
    Events => "events": "Events produced.",
    Alerts => "alerts": "Events that matched at least one rule.",
    WorkerCpuUs => "worker_cpu_us": "CPU time the parser workers have spent, in microseconds, all workers together (divided by packets: the parse cost per packet).",
    BeaconPairs => "beacon_pairs": "Client/server pairs the beacon tracker holds now (all workers).",
    BeaconEvictions => "beacon_evictions": "Beacon pairs evicted, least recently seen first, because the tracker was at its pair or memory cap.",
    DnsTunnelDomains => "dns_tunnel_domains": "(client, registered domain) entries the DNS tunnel tracker holds now (all workers).",
    DnsTunnelEvictions => "dns_tunnel_evictions": "DNS tunnel entries evicted, least recently seen first, at the tracker's caps.",
    AnalyticsAllowed => "analytics_allowed": "Check-ins and queries the behavioural allow-list kept out of the trackers.",
    CorrelationEvictions => "correlation_evictions": "Correlation groups evicted, least recently seen first, because a correlation's table was at its cap.",
    CorrelationDrops => "correlation_drops": "Events a correlation did not count: older than their group's window, or metric values past a group's cap.",
    CorrelationUngrouped => "correlation_ungrouped": "Events a correlation did not count because they lack a group-by field (or the numeric field of a value correlation).",
    OutputDrops => "output_drops": "Events dropped because the output could not keep up (live workers; the TLS output's buffer while the collector is away; Kafka: queue full live, or finally not delivered).",
    OutputDelivered => "output_delivered": "Lines the output's server acknowledged (Kafka delivery reports); 0 for outputs without acknowledgements.",
    OutputDeliveryFailures => "output_delivery_failures": "Lines the Kafka brokers finally did not take (message.timeout.ms passed, refused, purged at shutdown); also counted in output_drops.",
}

const N: usize = Counter::ALL.len();

impl Counter {
    /// Every reason a frame read from the source did not reach a flow. With
    /// `packets_decoded`, `fragments_held` and `queue_drops` they account for `packets`.
    pub const UNDECODED: &'static [Counter] = &[
        Counter::UndecodedNotIp,
        Counter::UndecodedTruncated,
        Counter::UndecodedMalformed,
        Counter::UndecodedUnsupported,
        Counter::UndecodedTooDeep,
        Counter::UndecodedWlanNotData,
        Counter::UndecodedWlanProtected,
        Counter::UndecodedWlanAmsdu,
        Counter::UndecodedFragmentDropped,
        Counter::UndecodedOtherTransport,
    ];
}

/// Past this share of the packets read (in per mille), a replay says on stderr how much
/// was not decoded and why. A normal capture has some ARP, ICMP, STP and IPv6 neighbour
/// discovery, well under 1%; more than that usually means an encapsulation c2tap does not
/// walk, and nothing else in the output would say so.
pub const UNDECODED_NOTICE_PER_MILLE: u64 = 10;

/// The line for people when at least [`UNDECODED_NOTICE_PER_MILLE`] of the packets were
/// not decoded: how many, the share, and each reason with its count, largest first.
pub fn undecoded_notice(totals: &Counts) -> Option<String> {
    // A split A-MSDU is decoded as its subframes: those are the packets here.
    let packets = totals
        .get(Counter::Packets)
        .saturating_sub(totals.get(Counter::WlanAmsdusSplit))
        .saturating_add(totals.get(Counter::WlanAmsduSubframes));
    let mut reasons: Vec<(u64, &str)> = Counter::UNDECODED
        .iter()
        .map(|&c| (totals.get(c), c.name()))
        .filter(|&(n, _)| n > 0)
        .collect();
    let undecoded = reasons.iter().fold(0u64, |a, &(n, _)| a.saturating_add(n));
    if packets == 0
        || undecoded.saturating_mul(1000) < packets.saturating_mul(UNDECODED_NOTICE_PER_MILLE)
    {
        return None;
    }
    reasons.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let why: Vec<String> = reasons
        .iter()
        .map(|(n, name)| format!("{name} {n}"))
        .collect();
    Some(format!(
        "{undecoded} of {packets} packets ({:.1}%) were not decoded: {}",
        undecoded as f64 * 100.0 / packets as f64,
        why.join(", ")
    ))
}

/// CPU time the calling thread has used so far, in nanoseconds (0 if the clock is
/// unavailable, which Linux never is). A worker reads it once per batch for
/// `worker_cpu_us`; the call is a vDSO read, about as cheap as a clock read.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a pointer to a live local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// A thread's own counts, updated without atomics on the hot path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counts([u64; N]);

// Arrays derive `Default` only up to 32 elements.
impl Default for Counts {
    fn default() -> Counts {
        Counts([0; N])
    }
}

impl Counts {
    #[inline]
    pub fn add(&mut self, c: Counter, n: u64) {
        self.0[c as usize] = self.0[c as usize].wrapping_add(n);
    }
    #[inline]
    pub fn incr(&mut self, c: Counter) {
        self.add(c, 1);
    }
    /// Sets a counter that mirrors a total kept elsewhere (pcap stats, parser counters).
    pub fn set(&mut self, c: Counter, n: u64) {
        self.0[c as usize] = n;
    }
    pub fn get(&self, c: Counter) -> u64 {
        self.0[c as usize]
    }
}

/// One thread's published totals.
#[derive(Debug)]
pub struct CounterSlot([AtomicU64; N]);

impl CounterSlot {
    /// Publishes `counts` (the thread's running totals) for readers.
    pub fn publish(&self, counts: &Counts) {
        for (slot, v) in self.0.iter().zip(counts.0.iter()) {
            slot.store(*v, Ordering::Relaxed);
        }
    }
}

/// All slots of a run, for summing.
#[derive(Debug, Default)]
pub struct Registry {
    slots: Mutex<Vec<Arc<CounterSlot>>>,
}

impl Registry {
    pub fn slot(&self) -> Arc<CounterSlot> {
        let slot = Arc::new(CounterSlot(std::array::from_fn(|_| AtomicU64::new(0))));
        if let Ok(mut slots) = self.slots.lock() {
            slots.push(slot.clone());
        }
        slot
    }

    /// Sum of every thread's published totals.
    pub fn totals(&self) -> Counts {
        let mut sum = Counts::default();
        if let Ok(slots) = self.slots.lock() {
            for slot in slots.iter() {
                for (i, v) in slot.0.iter().enumerate() {
                    sum.0[i] = sum.0[i].wrapping_add(v.load(Ordering::Relaxed));
                }
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sums_published_slots() {
        let reg = Registry::default();
        let (a, b) = (reg.slot(), reg.slot());
        let mut ca = Counts::default();
        ca.add(Counter::Packets, 3);
        a.publish(&ca);
        let mut cb = Counts::default();
        cb.incr(Counter::Packets);
        cb.incr(Counter::QueueDrops);
        b.publish(&cb);
        let t = reg.totals();
        assert_eq!(t.get(Counter::Packets), 4);
        assert_eq!(t.get(Counter::QueueDrops), 1);
        assert_eq!(t.get(Counter::Events), 0);
    }

    #[test]
    fn undecoded_notice_past_one_percent_only() {
        let mut c = Counts::default();
        c.add(Counter::Packets, 1000);
        c.add(Counter::UndecodedOtherTransport, 9);
        assert_eq!(undecoded_notice(&c), None);
        c.add(Counter::UndecodedNotIp, 2400);
        c.set(Counter::Packets, 3409);
        assert_eq!(
            undecoded_notice(&c).as_deref(),
            Some(
                "2409 of 3409 packets (70.7%) were not decoded: \
                 undecoded_not_ip 2400, undecoded_other_transport 9"
            )
        );
        assert_eq!(undecoded_notice(&Counts::default()), None);
        // 1 A-MSDU frame read, split into 4 subframes, 2 of them not IP: 2 of 4.
        let mut a = Counts::default();
        a.add(Counter::Packets, 1);
        a.add(Counter::WlanAmsdusSplit, 1);
        a.add(Counter::WlanAmsduSubframes, 4);
        a.add(Counter::UndecodedNotIp, 2);
        assert_eq!(
            undecoded_notice(&a).as_deref(),
            Some("2 of 4 packets (50.0%) were not decoded: undecoded_not_ip 2")
        );
    }
}
