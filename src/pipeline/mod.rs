//! Wires the threads of a run: the capture thread (this module's [`run`] loop), the
//! parser workers and the writer (DESIGN §1).
//!
//! The only module besides the binary that sees every other one.

pub mod shutdown;
pub mod writer;
