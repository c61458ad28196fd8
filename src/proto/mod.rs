//! Application-protocol parsers (DESIGN §2): pure parsers over reassembled bytes,
//! content-based probing, and the per-flow state that turns messages into protocol facts.
//! Every protocol keeps the same two contracts with the application stage ([`probe`]):
//! it offers a [`Probe`] (transport, ports it owns, a content test answering one
//! [`Verdict`]), and its streaming parser answers one [`Progress`] type.
//!
//! Where it sits: after `flow`, driven by `app` (which hands over datagrams and
//! in-order stream bytes), before `event`. It may import `time`, `decode` and `flow`,
//! nothing later.
//! The lints below hold for every protocol module under it: no parser may panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod dns;
pub mod handshake;
pub mod http;
pub mod ja3;
pub mod ja4;
pub mod probe;
pub mod quic;
pub mod tls;

pub use probe::{Probe, Progress, Verdict};
