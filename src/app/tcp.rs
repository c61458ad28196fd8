//! A TCP connection's application side: its two reassembled streams (`flow`'s
//! [`TcpConn`]) and their parsers ([`StreamParsers`]), boxed together so that a
//! connection costs one allocation. This file moves bytes between the two: segments
//! in, readable bytes to the parsers, consumed counts and hints (follow the stream,
//! drop body bytes ahead, stop) back to the reassembler.
//!
//! Once every parser of a flow is done, its buffers are freed and each later segment
//! costs a table lookup and one comparison (`AppFlow::tcp_done`).

use super::context::Cx;
use super::stream::{Step, StreamParsers};
use crate::decode::TcpSegment;
use crate::flow::{Direction, PushOutcome, TcpConn};

/// State changes one direction may go through for one segment (probe → HTTP →
/// tunnel → probe → TLS → done): a bound on the parser loop, with room to spare.
const MAX_PARSER_STEPS: usize = 8;

pub(super) struct TcpFlow {
    conn: TcpConn,
    parsers: StreamParsers,
    /// The last hole each direction's parser was told about (stream offset after it).
    gap_seen: [Option<u64>; 2],
}

impl TcpFlow {
    pub(super) fn new() -> TcpFlow {
        TcpFlow {
            conn: TcpConn::new(),
            parsers: StreamParsers::new(),
            gap_seen: [None, None],
        }
    }

    pub(super) fn all_done(&self) -> bool {
        self.parsers.all_done()
    }

    /// The client's bytes are read as HTTP or DNS.
    pub(super) fn times_itself(&self, client: Direction) -> bool {
        self.parsers.follows(client)
    }

    /// Files one segment travelling in `dir` and runs the parsers over what became
    /// readable (an ACK can release held data of the other direction too).
    pub(super) fn on_segment(&mut self, dir: Direction, seg: &TcpSegment<'_>, cx: &mut Cx<'_>) {
        if self.all_done() {
            return;
        }
        let before = self.conn.memory_bytes();
        let out = self
            .conn
            .on_segment(dir, seg.seq, seg.ack, seg.flags, seg.payload);
        cx.shared.counters.reassembly.record(&out);
        if out.dropped > 0 {
            self.parsers.body_dropped(dir, out.dropped, cx);
        }
        if out.readable_added > 0 || out.gaps > 0 {
            self.drive(dir, cx);
            self.drive(dir.reverse(), cx);
            self.parsers.settle_server(&cx.flow);
            if self.all_done() {
                self.conn.stop();
            }
        }
        if out.readable_added > 0 || out.gaps > 0 || out.dropped > 0 {
            self.plan_drops(cx);
        }
        let after = self.conn.memory_bytes();
        if cx.shared.budget.charge(before, after) {
            // Over the worker's budget: this flow's parsers report what they have and
            // its buffers go, as Suricata does when its stream memcap is reached.
            self.finish(cx);
        }
    }

    /// The flow ends (expired, evicted, end of input): held data is delivered (holes
    /// skipped), the parsers report what they have, and the buffers are freed.
    pub(super) fn end(&mut self, cx: &mut Cx<'_>) {
        cx.shared.budget.release(self.conn.memory_bytes());
        self.finish(cx);
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        let out: PushOutcome = self.conn.flush();
        cx.shared.counters.reassembly.record(&out);
        for d in [Direction::FromA, Direction::FromB] {
            self.drive(d, cx);
        }
        self.parsers.finish(cx);
        self.conn.stop();
    }

    /// Runs the parser of direction `d` over its readable bytes.
    fn drive(&mut self, d: Direction, cx: &mut Cx<'_>) {
        for _ in 0..MAX_PARSER_STEPS {
            self.check_gap(d, cx);
            let data = self.conn.stream(d).readable();
            if data.is_empty() {
                return;
            }
            if self.parsers.is_done(d) {
                let n = data.len();
                self.conn.stream_mut(d).consume(n);
                return;
            }
            match self.parsers.read(d, data, cx) {
                Step::Consumed(n) => self.conn.stream_mut(d).consume(n),
                Step::Switched => self.follow_whole_streams(),
                Step::Wait => return,
            }
        }
    }

    /// HTTP and DNS directions follow the stream past the 64 KiB prefix, buffering at
    /// most that much unread.
    fn follow_whole_streams(&mut self) {
        for d in [Direction::FromA, Direction::FromB] {
            if self.parsers.follows(d) {
                self.conn.stream_mut(d).follow();
            }
        }
    }

    /// Lets each direction's reassembler drop the body bytes its HTTP parser would
    /// only skip (Content-Length and chunk data, bodies to the connection's end).
    /// Called after every parser step: a skipped hole resets it.
    fn plan_drops(&mut self, cx: &Cx<'_>) {
        for d in [Direction::FromA, Direction::FromB] {
            let ahead = self.parsers.body_ahead(d, cx.flow.is_from_client(d));
            self.conn.stream_mut(d).drop_ahead(ahead);
        }
    }

    /// Tells the parser of `d` about a hole skipped since it last looked: the bytes
    /// before it are dropped and the parser resynchronises after it.
    fn check_gap(&mut self, d: Direction, cx: &mut Cx<'_>) {
        let i = d.index();
        let stream = self.conn.stream(d);
        let Some(hole) = stream.last_hole() else {
            return;
        };
        if self.gap_seen[i] == Some(hole.end) {
            return;
        }
        self.gap_seen[i] = Some(hole.end);
        let before =
            usize::try_from(hole.end.saturating_sub(stream.stream_offset())).unwrap_or(usize::MAX);
        let before = before.min(stream.readable().len());
        self.conn.stream_mut(d).consume(before);
        self.parsers.on_gap(d, hole.len, cx);
    }
}
