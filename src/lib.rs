//! c2tap: a passive network sensor for command-and-control traffic hidden in web
//! protocols (MITRE ATT&CK T1071.001).
//!
//! The module tree follows the data flow (DESIGN §1–2): `capture` reads frames,
//! `pipeline` hands them to workers, which `decode` them, file them in their `flow`,
//! hand them to the application stage (`app`: reassembly and the `proto` parsers,
//! giving typed facts), build `event`s from the facts, run `detect`ion and serialize;
//! `output` writes the bytes. Imports flow one way: decode ← flow ← proto ← app ←
//! event ← detect; `output` knows only bytes; `capture` and `telemetry` are leaves;
//! only `pipeline` and the binary see everything.

pub mod analyze;
pub mod app;
pub mod capture;
pub mod config;
pub mod decode;
pub mod detect;
pub mod event;
pub mod flow;
pub mod output;
pub mod pipeline;
pub mod privdrop;
pub mod proto;
pub mod report;
pub mod telemetry;
pub mod time;
