//! Packet sources: offline replay of pcap/pcapng files and live capture through libpcap.
//!
//! Where it sits: the first stage of the data flow. A source fills [`PacketBatch`]es with
//! raw frames and their link type; the pipeline hashes and dispatches them to workers.
//! A leaf module: it imports nothing from the rest of the crate but [`crate::time`], and
//! knows nothing of protocols: link types travel as the raw DLT/LINKTYPE number.

use std::sync::Arc;

use crate::time::Timestamp;

/// Default and bounds of a batch. Batching amortises the channel hand-off (a crossbeam
/// send costs about as much as decoding a packet); more than a few hundred packets only
/// adds latency and memory per queue slot.
pub const BATCH_PACKETS: usize = 128;
/// Bytes of frame data a batch holds before it is sent even when not full; with the
/// largest snaplen a batch is one frame, so memory per batch stays bounded.
pub const BATCH_BYTES: usize = 256 * 1024;

/// One captured frame inside a batch: its bytes are `batch.data[offset..offset+caplen]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame came from (pcapng may mix them).
    pub linktype: u32,
    pub offset: u32,
    pub caplen: u32,
    /// Length of the frame on the wire (>= caplen when the snaplen cut it).
    pub origlen: u32,
}

/// Frames from one source, packed into one reusable buffer. Workers hand emptied
/// batches back so that the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct PacketBatch {
    /// Interface name or pcap path: the `Source` field of every event from these frames.
    pub source: Arc<str>,
    pub data: Vec<u8>,
    pub packets: Vec<PacketMeta>,
}

impl PacketBatch {
    pub fn with_capacity(source: Arc<str>) -> PacketBatch {
        PacketBatch {
            source,
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// True when one more frame of `caplen` bytes would exceed the batch bounds.
    pub fn is_full_for(&self, caplen: usize) -> bool {
        self.packets.len() >= BATCH_PACKETS
            || (!self.packets.is_empty() && self.data.len() + caplen > BATCH_BYTES)
    }

    /// Appends a frame (the caller checked [`PacketBatch::is_full_for`]).
    pub fn push(&mut self, ts: Timestamp, linktype: u32, frame: &[u8], origlen: u32) {
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.packets.push(PacketMeta {
            ts,
            linktype,
            offset,
            caplen: frame.len() as u32,
            origlen,
        });
    }

    /// The frames of the batch with their metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&PacketMeta, &[u8])> {
        self.packets.iter().map(|m| {
            let start = m.offset as usize;
            let end = start + m.caplen as usize;
            (m, self.data.get(start..end).unwrap_or(&[]))
        })
    }
}
