#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
//! proto

pub mod handshake;
pub mod ja3;
pub mod ja4;
pub mod quic;
pub mod tls;
