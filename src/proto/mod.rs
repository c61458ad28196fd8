//! Application protocol parsers (DESIGN §2): content probing and streaming parsers fed
//! by the flow module's reassembled byte streams.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

pub mod http;
