//! The capture thread's loop: read frames from a [`Source`], pick a worker by the
//! symmetric flow hash, pack frames into per-worker batches and send them. An 802.11
//! A-MSDU is split here into its subframes, each handed on as a frame of its own (its
//! flow's worker may not be another subframe's).
//!
//! Replay is lossless: a full queue makes this thread wait. Live capture never blocks
//! the kernel ring: a batch that finds its queue full is dropped and counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::Mode;
use super::shutdown::Signals;
use crate::capture::{CaptureError, Next, PacketBatch, Source, Window};
use crate::decode;
use crate::telemetry::{Counter, CounterSlot, Counts};

/// Frames between two looks at the clock (stats, progress) in a busy loop: the clock
/// costs ~20 ns, a frame ~100 ns, so this keeps the clock under 1% of the loop.
const CLOCK_EVERY: u64 = 1024;

/// What the capture loop reports when it ends.
pub struct CaptureEnd {
    /// Inputs that failed (a corrupt file of a replay, a live interface gone); each was
    /// handed to [`Ticker::input_failed`] when it happened.
    pub failed_inputs: u64,
}

/// Hooks the capture loop calls on wall-clock ticks (SensorState, progress bar).
pub trait Ticker {
    /// Called about every `CLOCK_EVERY` frames and on every idle poll.
    fn tick(&mut self, now: Instant, source: &mut dyn Source);
    /// An input failed; a replay goes on with the next one.
    fn input_failed(&mut self, error: &CaptureError);
}

pub struct Dispatcher {
    mode: Mode,
    queues: Vec<Sender<PacketBatch>>,
    /// Emptied batches coming back from the workers, reused so that the steady state
    /// allocates nothing.
    recycled: Receiver<PacketBatch>,
    batches: Vec<PacketBatch>,
    /// The mapped window the latest frames came from.
    window: Option<Arc<Window>>,
    counts: Counts,
    slot: Arc<CounterSlot>,
    /// The subframes of the latest A-MSDU (reused: no allocation per frame).
    subframes: Vec<std::ops::Range<usize>>,
}

/// LINKTYPE_ETHERNET: an A-MSDU subframe is handed on as an 802.3 frame.
const LINKTYPE_ETHERNET: u32 = 1;

/// One frame for a worker's batch.
struct Unit<'a> {
    ts: crate::time::Timestamp,
    linktype: u32,
    data: &'a [u8],
    origlen: u32,
}

impl Dispatcher {
    pub fn new(
        mode: Mode,
        queues: Vec<Sender<PacketBatch>>,
        recycled: Receiver<PacketBatch>,
        slot: Arc<CounterSlot>,
    ) -> Dispatcher {
        let batches = queues
            .iter()
            .map(|_| PacketBatch::with_capacity(Arc::from("")))
            .collect();
        Dispatcher {
            mode,
            queues,
            recycled,
            batches,
            window: None,
            counts: Counts::default(),
            slot,
            subframes: Vec::new(),
        }
    }

    /// Runs until the source ends, fails, or a stop is requested. Every frame read is
    /// sent on (replay) or counted as dropped (live, full queue) before this returns.
    pub fn run(
        &mut self,
        source: &mut dyn Source,
        signals: &Signals,
        ticker: &mut dyn Ticker,
    ) -> CaptureEnd {
        let workers = self.queues.len() as u64;
        let mut since_clock = 0u64;
        let mut failed_inputs = 0u64;
        loop {
            if signals.stop_requested() {
                break;
            }
            match source.next_frame() {
                Ok(Next::Frame(frame)) => {
                    if !Arc::ptr_eq(frame.source, &self.batches[0].source) {
                        self.switch_source(frame.source);
                    }
                    let mut subframes = std::mem::take(&mut self.subframes);
                    if decode::amsdu_subframes(frame.linktype, frame.data, &mut subframes) {
                        // Each subframe is an 802.3 frame of its own flow, to its own worker.
                        self.counts.incr(Counter::WlanAmsdusSplit);
                        for r in &subframes {
                            let Some(sub) = frame.data.get(r.clone()) else {
                                continue;
                            };
                            self.counts.incr(Counter::WlanAmsduSubframes);
                            let origlen = u32::try_from(sub.len()).unwrap_or(u32::MAX);
                            let unit = Unit {
                                ts: frame.ts,
                                linktype: LINKTYPE_ETHERNET,
                                data: sub,
                                origlen,
                            };
                            self.push_unit(&unit, frame.window, workers);
                        }
                    } else {
                        let unit = Unit {
                            ts: frame.ts,
                            linktype: frame.linktype,
                            data: frame.data,
                            origlen: frame.origlen,
                        };
                        self.push_unit(&unit, frame.window, workers);
                    }
                    self.subframes = subframes;
                    self.counts.incr(Counter::Packets);
                    self.counts.add(Counter::Bytes, frame.data.len() as u64);
                    since_clock += 1;
                    if since_clock >= CLOCK_EVERY {
                        since_clock = 0;
                        self.publish(source);
                        ticker.tick(Instant::now(), source);
                    }
                }
                Ok(Next::Idle) => {
                    // A quiet link: send what we hold so events are not kept waiting.
                    self.flush_all();
                    self.publish(source);
                    ticker.tick(Instant::now(), source);
                }
                Ok(Next::End) => break,
                // The source ends that input and goes on with the next, or ends (Source).
                Err(e) => {
                    failed_inputs += 1;
                    ticker.input_failed(&e);
                }
            }
        }
        self.flush_all();
        self.window = None;
        self.publish(source);
        CaptureEnd { failed_inputs }
    }

    /// Puts one frame (or A-MSDU subframe) in the batch of the worker its flow hash picks.
    fn push_unit(&mut self, unit: &Unit<'_>, window: Option<&Arc<Window>>, workers: u64) {
        let w = (decode::dispatch_hash(unit.linktype, unit.data) % workers) as usize;
        if self.batches[w].is_full_for(unit.data.len()) {
            self.send(w);
        }
        match window {
            Some(window) => {
                self.enter_window(window);
                self.batches[w].push_shared(
                    unit.ts,
                    unit.linktype,
                    window,
                    unit.data,
                    unit.origlen,
                );
            }
            None => self.batches[w].push(unit.ts, unit.linktype, unit.data, unit.origlen),
        }
    }

    /// Frames of a mapped window begin: every batch still holding an older window is
    /// sent now. So this thread never holds more than the current window, and when the
    /// reader waits for mapped memory to be released (`capture::MAX_MAPPED_BYTES`), all
    /// it waits for is in the workers' hands.
    fn enter_window(&mut self, window: &Arc<Window>) {
        if self
            .window
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, window))
        {
            return;
        }
        self.flush_all();
        self.window = Some(window.clone());
    }

    /// A new file begins: its frames must carry its name, so send what the old one left.
    fn switch_source(&mut self, name: &Arc<str>) {
        self.flush_all();
        for b in &mut self.batches {
            b.source = name.clone();
        }
    }

    fn flush_all(&mut self) {
        for w in 0..self.batches.len() {
            if !self.batches[w].is_empty() {
                self.send(w);
            }
        }
    }

    fn send(&mut self, w: usize) {
        let fresh = self.fresh_batch(w);
        let full = std::mem::replace(&mut self.batches[w], fresh);
        match self.mode {
            Mode::Replay => {
                // A worker only disconnects when it died; its frames are lost either way.
                let _ = self.queues[w].send(full);
            }
            Mode::Live => match self.queues[w].try_send(full) {
                Ok(()) => {}
                Err(TrySendError::Full(mut b) | TrySendError::Disconnected(mut b)) => {
                    self.counts.add(Counter::QueueDrops, b.len() as u64);
                    b.clear();
                    self.batches[w] = b;
                }
            },
        }
    }

    fn fresh_batch(&mut self, w: usize) -> PacketBatch {
        let source = self.batches[w].source.clone();
        match self.recycled.try_recv() {
            Ok(mut b) => {
                b.clear();
                b.source = source;
                b
            }
            Err(_) => PacketBatch::with_capacity(source),
        }
    }

    fn publish(&mut self, source: &mut dyn Source) {
        let st = source.stats();
        self.counts.set(Counter::KernelDrops, st.kernel_drops);
        self.counts.set(Counter::InterfaceDrops, st.interface_drops);
        self.counts.set(
            Counter::UnsupportedLinktype,
            st.unsupported_linktype_packets,
        );
        self.slot.publish(&self.counts);
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }
}

/// How long a live capture may sit between SensorState ticks when idle.
pub const IDLE_TICK: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{BATCH_PACKETS, CaptureStats, Frame};
    use crate::telemetry::Registry;
    use crate::time::Timestamp;
    use crossbeam_channel::bounded;

    /// `count` copies of one frame, then the end.
    struct Frames {
        frame: Vec<u8>,
        linktype: u32,
        left: usize,
        name: Arc<str>,
    }

    impl Source for Frames {
        fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
            if self.left == 0 {
                return Ok(Next::End);
            }
            self.left -= 1;
            Ok(Next::Frame(Frame {
                ts: Timestamp::from_secs(1),
                linktype: self.linktype,
                data: &self.frame,
                origlen: self.frame.len() as u32,
                source: &self.name,
                window: None,
            }))
        }
        fn current_name(&self) -> &Arc<str> {
            &self.name
        }
        fn stats(&mut self) -> CaptureStats {
            CaptureStats::default()
        }
    }

    struct NoTicks;
    impl Ticker for NoTicks {
        fn tick(&mut self, _: Instant, _: &mut dyn Source) {}
        fn input_failed(&mut self, e: &CaptureError) {
            panic!("no input fails in these tests: {e}");
        }
    }

    fn frames(count: usize) -> Frames {
        Frames {
            frame: vec![0xff; 60],
            linktype: 1,
            left: count,
            name: Arc::from("test"),
        }
    }

    /// Three full batches and five frames for one worker whose queue holds one batch
    /// and is never read.
    const FRAMES: usize = 3 * BATCH_PACKETS + 5;

    #[test]
    fn live_drops_and_counts_batches_that_find_their_queue_full() {
        let (tx, _rx) = bounded(1);
        let (_recycle, recycled) = bounded(4);
        let registry = Registry::default();
        let mut d = Dispatcher::new(Mode::Live, vec![tx], recycled, registry.slot());
        let end = d.run(&mut frames(FRAMES), &Signals::new(), &mut NoTicks);
        assert_eq!(end.failed_inputs, 0);
        // The first batch fits the queue; the other two and the last five frames
        // find it full: dropped, counted, never waited for.
        assert_eq!(d.counts().get(Counter::Packets), FRAMES as u64);
        assert_eq!(
            d.counts().get(Counter::QueueDrops),
            (FRAMES - BATCH_PACKETS) as u64
        );
        assert_eq!(
            registry.totals().get(Counter::QueueDrops),
            d.counts().get(Counter::QueueDrops)
        );
    }

    /// A radiotap 802.11 A-MSDU of `n` subframes, each an IPv4/UDP packet from its own
    /// host; and the subframes (DA, SA, length, LLC/SNAP, packet) as they are in it.
    fn amsdu(n: u8) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
        f.extend([0x88, 0x01, 0, 0]);
        f.extend([2u8; 18]); // three addresses
        f.extend([0, 0, 0x80, 0]); // sequence control, QoS control with the A-MSDU bit
        let body_at = f.len();
        let mut subs = Vec::new();
        for host in 1..=n {
            while (f.len() - body_at) % 4 != 0 {
                f.push(0);
            }
            let mut ip = vec![0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, host];
            ip.extend([10, 0, 0, 99, 0x30, 0x39, 0, 53, 0, 10, 0, 0, 0xab, 0xcd]);
            let mut sub = vec![4u8; 12];
            sub.extend(((ip.len() + 8) as u16).to_be_bytes());
            sub.extend([0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
            sub.extend(ip);
            f.extend(&sub);
            subs.push(sub);
        }
        (f, subs)
    }

    #[test]
    fn an_amsdu_goes_on_as_its_subframes() {
        let (frame, subs) = amsdu(5);
        let (tx0, rx0) = bounded(16);
        let (tx1, rx1) = bounded(16);
        let (_recycle, recycled) = bounded(4);
        let mut d = Dispatcher::new(
            Mode::Replay,
            vec![tx0, tx1],
            recycled,
            Registry::default().slot(),
        );
        let mut src = Frames {
            frame,
            linktype: 127,
            left: 1,
            name: Arc::from("test"),
        };
        d.run(&mut src, &Signals::new(), &mut NoTicks);
        assert_eq!(d.counts().get(Counter::Packets), 1);
        assert_eq!(d.counts().get(Counter::WlanAmsdusSplit), 1);
        assert_eq!(d.counts().get(Counter::WlanAmsduSubframes), 5);
        drop(d);
        let mut got: Vec<(u32, Vec<u8>)> = rx0
            .try_iter()
            .chain(rx1.try_iter())
            .flat_map(|b| {
                b.iter()
                    .map(|(m, f)| (m.linktype, f.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        got.sort();
        let mut want: Vec<(u32, Vec<u8>)> = subs.into_iter().map(|s| (1, s)).collect();
        want.sort();
        assert_eq!(got, want);
        // Not splittable (a length past the frame): the frame goes on whole.
        let (mut bad, _) = amsdu(2);
        let len_at = 8 + 26 + 12;
        bad[len_at..len_at + 2].copy_from_slice(&3000u16.to_be_bytes());
        let (tx, rx) = bounded(16);
        let (_recycle, recycled) = bounded(4);
        let mut d = Dispatcher::new(Mode::Replay, vec![tx], recycled, Registry::default().slot());
        let mut src = Frames {
            frame: bad.clone(),
            linktype: 127,
            left: 1,
            name: Arc::from("test"),
        };
        d.run(&mut src, &Signals::new(), &mut NoTicks);
        assert_eq!(d.counts().get(Counter::WlanAmsdusSplit), 0);
        drop(d);
        let whole: Vec<(u32, Vec<u8>)> = rx
            .try_iter()
            .flat_map(|b| {
                b.iter()
                    .map(|(m, f)| (m.linktype, f.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(whole, vec![(127, bad)]);
    }

    #[test]
    fn replay_waits_for_room_and_loses_nothing() {
        let (tx, rx) = bounded(1);
        let (_recycle, recycled) = bounded(4);
        let reader =
            std::thread::spawn(move || rx.iter().map(|b: PacketBatch| b.len()).sum::<usize>());
        let mut d = Dispatcher::new(Mode::Replay, vec![tx], recycled, Registry::default().slot());
        d.run(&mut frames(FRAMES), &Signals::new(), &mut NoTicks);
        assert_eq!(d.counts().get(Counter::QueueDrops), 0);
        drop(d);
        assert_eq!(reader.join().unwrap_or(0), FRAMES);
    }
}
