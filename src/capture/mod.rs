//! Packet sources: offline replay of pcap/pcapng files and live capture through libpcap.
//!
//! Where it sits: the first stage of the data flow. A source fills [`PacketBatch`]es with
//! raw frames and their link type; the pipeline hashes and dispatches them to workers.
//! A leaf module: it imports nothing from the rest of the crate but [`crate::time`], and
//! knows nothing of protocols: link types travel as the raw DLT/LINKTYPE number.
//!
//! Two [`Source`]s: [`Replay`] reads pcap/pcapng files (through pcap-parser, streaming,
//! never a whole file in memory) and [`Live`] captures from an interface (libpcap through
//! the `pcap` crate). Both yield [`Frame`]s that borrow the source's buffer until the next
//! call. What a broken file or device does is a [`CaptureError`], final for that input;
//! what a capture merely contains (skipped blocks, unsupported interfaces, understated
//! wire lengths) is counted in [`CaptureStats`].

use std::sync::Arc;

use crate::time::Timestamp;

mod compressed;
mod error;
mod input;
mod linktype;
mod live;
mod mapped;
mod pcap_file;
mod pcapng_file;
mod replay;
#[cfg(test)]
mod tests;

pub use compressed::{Compression, MAX_XZ_MEMORY};
pub use error::CaptureError;
pub use input::{MAX_RECORD, MAX_SNAPLEN, READ_CHUNK};
pub use linktype::{LINKTYPE_RAW, dlt_to_linktype, linktype_name};
pub use live::{DEFAULT_BUFFER_SIZE, DEFAULT_POLL_TIMEOUT_MS, DEFAULT_SNAPLEN, Live, LiveConfig};
pub use mapped::{MAX_MAPPED_BYTES, WINDOW_BYTES, Window};
pub use pcapng_file::MAX_INTERFACES;
pub use replay::{MAX_DIR_DEPTH, Replay, STDIN_NAME};

/// One captured frame, borrowed from the source until its next `next_frame` call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    /// LINKTYPE_* number (pcapng interfaces may differ from frame to frame).
    pub linktype: u32,
    /// The captured bytes (`caplen` of them).
    pub data: &'a [u8],
    /// Length on the wire, never below `data.len()`.
    pub origlen: u32,
    /// The interface or file this frame came from (the same `Arc` for every frame of
    /// one file, so a change of source is a pointer comparison).
    pub source: &'a Arc<str>,
    /// The mapped window `data` lies in, when the file is mapped: the frame can then
    /// travel by reference (see [`PacketBatch::push_shared`]).
    pub window: Option<&'a Arc<Window>>,
}

/// What a source has next.
#[derive(Clone, Copy, Debug)]
pub enum Next<'a> {
    Frame(Frame<'a>),
    /// Live only: no frame is ready. Returned when the kernel ring has just been drained
    /// and then after every `poll_timeout_ms` without traffic, so the caller can flush
    /// batches and look at its shutdown flag.
    Idle,
    /// No more frames (end of the last file; a live source after an error).
    End,
}

/// A packet source: replay files or a live interface.
pub trait Source {
    /// The next frame. An error ends the input it came from: a replay goes on with its
    /// next input at the next call, and returns End when none is left; a live source
    /// returns End after an error.
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError>;
    /// Interface name or the path of the file being read now (changes between files of
    /// a replay; `stdin` for standard input).
    fn current_name(&self) -> &Arc<str>;
    /// The name of the whole run, for its start and stop SensorState events: the
    /// interface, or the inputs of a replay as given.
    fn run_name(&self) -> Arc<str> {
        self.current_name().clone()
    }
    /// Counters so far.
    fn stats(&mut self) -> CaptureStats;
}

/// Counters of a source since it was opened (`snake_case` names, as in SensorState).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames returned.
    pub packets: u64,
    /// Captured bytes of the frames returned.
    pub bytes: u64,
    /// Live: packets the kernel dropped for lack of buffer space (`ps_drop`).
    pub kernel_drops: u64,
    /// Live: packets the interface or driver dropped (`ps_ifdrop`).
    pub interface_drops: u64,
    /// Replay: bytes read from the inputs so far.
    pub input_bytes_read: u64,
    /// Replay: the size of all input files (for a progress bar); `None` with stdin.
    pub input_bytes_total: Option<u64>,
    /// pcapng packets of interfaces whose link type the decoder does not know.
    pub unsupported_linktype_packets: u64,
    /// pcapng blocks skipped: unknown block types, packets of undeclared interfaces.
    pub skipped_blocks: u64,
    /// Records whose origlen was below their caplen; it was raised to the caplen.
    pub origlen_raised: u64,
    /// Replay: files opened (including the one being read).
    pub files: u64,
}

/// Where the next frame lies in a replay buffer (offsets relative to the unconsumed
/// bytes), so the format readers return no borrow.
#[derive(Clone, Copy, Debug)]
struct FrameLoc {
    ts: Timestamp,
    linktype: u32,
    data_off: usize,
    len: usize,
    origlen: u32,
    /// Length of the whole record, consumed once the frame is released.
    consume: usize,
}

/// Asks the CPU to start loading the first two cache lines of `bytes` (a frame about to
/// be decoded) while the current one is processed. A frame in a batch was last touched
/// by the capture thread, on another core: its first read is otherwise a cache miss the
/// worker waits for. (Tried on the capture thread's record walk too, one record ahead:
/// no measurable gain, so it is not done there.)
#[inline]
pub fn prefetch_headers(bytes: &[u8]) {
    prefetch_line(bytes);
    prefetch_line(bytes.get(64..).unwrap_or(&[]));
}

/// Asks the CPU to start loading the cache line `bytes` starts in.
#[inline]
fn prefetch_line(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint with no architectural effect; it never faults,
        // even for an address outside the slice, and reads nothing into the program.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Default and bounds of a batch. Batching amortises the channel hand-off (a crossbeam
/// send costs about as much as decoding a packet); more than a few hundred packets only
/// adds latency and memory per queue slot.
pub const BATCH_PACKETS: usize = 128;
/// Bytes of frame data a batch holds before it is sent even when not full; with the
/// largest snaplen a batch is one frame, so memory per batch stays bounded. Frames held
/// by reference to a mapped window count too: they keep the window mapped.
pub const BATCH_BYTES: usize = 256 * 1024;
/// Where a frame's bytes are: `data[offset..]` of the batch itself, or of one of its
/// windows.
const OWN_DATA: u16 = u16::MAX;

/// One captured frame inside a batch: its bytes are `caplen` bytes at `offset` in the
/// batch's own buffer or in one of its mapped windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame came from (pcapng may mix them).
    pub linktype: u32,
    pub offset: u32,
    pub caplen: u32,
    /// Length of the frame on the wire (>= caplen when the snaplen cut it).
    pub origlen: u32,
    /// Index into the batch's windows, or [`OWN_DATA`].
    region: u16,
}

/// Frames from one source, copied into one reusable buffer (live capture, pipes) or held
/// by reference into mapped windows of a file. Workers hand emptied batches back so that
/// the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct PacketBatch {
    /// Interface name or pcap path: the `Source` field of every event from these frames.
    pub source: Arc<str>,
    pub data: Vec<u8>,
    pub packets: Vec<PacketMeta>,
    /// Windows the shared frames lie in; dropping the last holder unmaps a window.
    windows: Vec<Arc<Window>>,
    /// Bytes of the shared frames (counted against [`BATCH_BYTES`]).
    shared_bytes: usize,
}

impl PacketBatch {
    pub fn with_capacity(source: Arc<str>) -> PacketBatch {
        PacketBatch {
            source,
            // Reserved on the first copied frame: batches of a mapped file never copy.
            data: Vec::new(),
            packets: Vec::with_capacity(BATCH_PACKETS),
            windows: Vec::with_capacity(1),
            shared_bytes: 0,
        }
    }

    /// Empties the batch and lets go of its windows.
    pub fn clear(&mut self) {
        self.data.clear();
        self.packets.clear();
        self.windows.clear();
        self.shared_bytes = 0;
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
            || (!self.packets.is_empty()
                && self.data.len() + self.shared_bytes + caplen > BATCH_BYTES)
    }

    /// Appends a frame by copying it (the caller checked [`PacketBatch::is_full_for`]).
    pub fn push(&mut self, ts: Timestamp, linktype: u32, frame: &[u8], origlen: u32) {
        if self.data.capacity() == 0 {
            self.data.reserve(BATCH_BYTES);
        }
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(frame);
        self.push_meta(ts, linktype, offset, frame.len(), origlen, OWN_DATA);
    }

    /// Appends a frame lying in `window` by reference, or copies it when it does not lie
    /// there (the caller checked [`PacketBatch::is_full_for`]). The dispatcher sends a
    /// batch when frames of a new window begin, so a batch normally holds one window.
    pub fn push_shared(
        &mut self,
        ts: Timestamp,
        linktype: u32,
        window: &Arc<Window>,
        frame: &[u8],
        origlen: u32,
    ) {
        let Some(offset) = window.offset_of(frame).and_then(|o| u32::try_from(o).ok()) else {
            return self.push(ts, linktype, frame, origlen);
        };
        let region = match self.windows.iter().rposition(|w| Arc::ptr_eq(w, window)) {
            Some(i) => i,
            // A region index must stay below OWN_DATA: past that many windows, copy.
            None if self.windows.len() >= usize::from(OWN_DATA) => {
                return self.push(ts, linktype, frame, origlen);
            }
            None => {
                self.windows.push(window.clone());
                self.windows.len() - 1
            }
        };
        self.shared_bytes += frame.len();
        self.push_meta(ts, linktype, offset, frame.len(), origlen, region as u16);
    }

    fn push_meta(
        &mut self,
        ts: Timestamp,
        linktype: u32,
        offset: u32,
        caplen: usize,
        origlen: u32,
        region: u16,
    ) {
        self.packets.push(PacketMeta {
            ts,
            linktype,
            offset,
            caplen: caplen as u32,
            origlen,
            region,
        });
    }

    /// The frames of the batch with their metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&PacketMeta, &[u8])> {
        self.packets.iter().map(|m| (m, self.bytes_of(m)))
    }

    fn bytes_of(&self, m: &PacketMeta) -> &[u8] {
        let region = match m.region {
            OWN_DATA => self.data.as_slice(),
            i => self
                .windows
                .get(usize::from(i))
                .map_or(&[][..], |w| w.bytes()),
        };
        let start = m.offset as usize;
        region.get(start..start + m.caplen as usize).unwrap_or(&[])
    }
}
