//! Flows: the canonical flow key and transport, the bounded per-worker flow table
//! that runs on packet time, and TCP stream-prefix reassembly.
//!
//! Where it sits (DESIGN §1): in each parser worker, after `decode` has produced a
//! UDP or TCP view and before the application stage (`app`). The worker builds a
//! [`FlowKey`] from plain values (addresses, ports, [`Transport`] — this module does
//! not know decode's views) and looks the flow up in its [`FlowTable`]; the application
//! stage feeds TCP payload to the flow's [`TcpConn`] and hands
//! [`StreamReassembler::readable`] bytes to a parser. [`Transport`] is the one
//! transport type of everything after `decode`. It may import `time` and `decode` (for
//! `TcpFlags`); `proto`, `app`, `event` and `pipeline` import it.
//!
//! What it does not do: no IP defragmentation (decode), no protocol probing (proto),
//! no full TCP state machine: reassembly covers the *prefix* of each direction that
//! the parsers need (handshakes, request heads), up to [`STREAM_PREFIX_CAP`] bytes,
//! and then stops at the cost of one comparison per segment. A stream followed past
//! the prefix (HTTP) does not buffer the bytes its parser has said it will only skip
//! (message bodies, [`StreamReassembler::drop_ahead`]): they are counted, not copied.
//!
//! # Memory (worst cases, 64-bit)
//!
//! - Per direction, a [`StreamReassembler`] keeps only bytes inside the stream-prefix
//!   window `[0, STREAM_PREFIX_CAP)`: its in-order buffer's capacity never exceeds
//!   [`STREAM_PREFIX_CAP`] (64 KiB), held out-of-order bytes never exceed
//!   [`OOO_MAX_BYTES`] (16 KiB) after a segment is filed, plus at most
//!   `OOO_MAX_SEGMENTS + 1` piece headers (33 × 32 B): ≤ 82 KiB, whatever the traffic
//!   (property-tested through `memory_bytes`).
//! - Per TCP flow: two directions → ≤ 164 KiB of reassembly buffers, on top of the
//!   fixed `TcpConn` (176 B). A stopped stream (the parser is done) holds nothing.
//! - Per table: the fixed part is `cap × (size_of::<Node<S>>() + ~10 B of index)`,
//!   with `Node<()>` = 160 B (see [`table::FLOW_TABLE_CAP`] for the budget). The
//!   theoretical worst case of reassembly buffers is `cap × 164 KiB` (≈ 10 GiB at the
//!   default cap): it needs every flow to hold a full unparsed 64 KiB prefix in both
//!   directions at once. The parsers consume as they go and `stop()` once they have
//!   their facts (a TLS ClientHello, an HTTP head ≤ 16 KiB), which frees the buffers;
//!   a realistic flow holds its in-flight message, a few KiB. The sum across one
//!   worker's flows is bounded by a [`ReassemblyBudget`] ([`REASSEMBLY_BUDGET`]): the
//!   application stage tallies [`TcpConn::memory_bytes`] in it and stops the
//!   connection that crosses it.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod budget;
pub mod conn;
pub mod history;
pub mod key;
pub mod reassembly;
pub mod table;
pub mod timeout;

pub use budget::{REASSEMBLY_BUDGET, ReassemblyBudget};
pub use conn::{TcpConn, TcpFlags, TcpLifecycle};
pub use key::{Direction, Endpoint, FlowKey, Transport};
pub use reassembly::{
    Hole, OOO_MAX_BYTES, OOO_MAX_SEGMENTS, PushOutcome, ReassemblyCounters, STREAM_PREFIX_CAP,
    StreamReassembler,
};
pub use table::{
    Entry, FLOW_TABLE_CAP, FlowCounters, FlowTable, Orientation, PacketSeen, TimeoutClass, Timeouts,
};

#[cfg(test)]
mod corpus_tests;
