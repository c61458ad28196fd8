//! What the decoder answers for a frame. Its own file so that both the general walk
//! (`decoder.rs`) and the fast path (`fast.rs`) build it without importing each other.

use std::net::IpAddr;

use super::transport::L4;

/// The innermost IP packet of a frame and its transport view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4<'a>,
    /// True when the snaplen cut this packet short (payload is what was captured).
    pub truncated: bool,
}
