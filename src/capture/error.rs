//! The one error type of the capture layer. Every message starts with the file path or
//! interface name and says what a user can do about it; traffic never produces these
//! (a malformed *packet* is the decoder's business), only broken files and devices do.

use std::io;
use std::sync::Arc;

/// Why a source stopped. Errors are final: after one, the source returns `Next::End`.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no input given (expected pcap/pcapng files, directories or \"-\" for stdin)")]
    NoInputs,
    #[error("{path}: {source}")]
    Io {
        path: Arc<str>,
        #[source]
        source: io::Error,
    },
    #[error("{path}: no capture files found (looked for *.pcap, *.pcapng, *.cap, *.pcap.*)")]
    NoFiles { path: Arc<str> },
    #[error("{path}: directory nesting deeper than {depth} levels (a symlink loop?)")]
    TooDeep { path: Arc<str>, depth: usize },
    #[error("{path}: empty file")]
    Empty { path: Arc<str> },
    #[error("{path}: not a pcap or pcapng file (starts with {head}{hint})")]
    NotPcap {
        path: Arc<str>,
        /// The first bytes in hex, e.g. `1f 8b 08 00`.
        head: String,
        /// `: gzip-compressed? decompress it first` when the magic is known, else empty.
        hint: &'static str,
    },
    #[error("{path}: truncated in the file header ({got} of {need} bytes)")]
    TruncatedHeader {
        path: Arc<str>,
        got: usize,
        need: usize,
    },
    #[error("{path}: truncated in packet record {record} at byte offset {offset}")]
    TruncatedRecord {
        path: Arc<str>,
        record: u64,
        offset: u64,
    },
    #[error("{path}: truncated in block {block} (type {block_type:#010x}) at byte offset {offset}")]
    TruncatedBlock {
        path: Arc<str>,
        block: u64,
        block_type: u32,
        offset: u64,
    },
    #[error(
        "{path}: packet record {record} at byte offset {offset} holds no data (caplen 0; \
         corrupt file?)"
    )]
    ZeroLength {
        path: Arc<str>,
        record: u64,
        offset: u64,
    },
    #[error(
        "{path}: packet record {record} at byte offset {offset} holds {caplen} bytes, more \
         than the snaplen of {snaplen} (corrupt file?)"
    )]
    CaplenOverSnaplen {
        path: Arc<str>,
        record: u64,
        offset: u64,
        caplen: usize,
        snaplen: usize,
    },
    #[error(
        "{path}: record {record} at byte offset {offset} claims {len} bytes, more than the \
         {cap}-byte limit (corrupt file?)"
    )]
    RecordTooLarge {
        path: Arc<str>,
        record: u64,
        offset: u64,
        len: u64,
        cap: usize,
    },
    #[error("{path}: corrupt file: {what} at byte offset {offset}")]
    Corrupt {
        path: Arc<str>,
        offset: u64,
        what: String,
    },
    #[error("{path}: unsupported link type {linktype} ({name})")]
    UnsupportedLinktype {
        path: Arc<str>,
        linktype: u32,
        name: &'static str,
    },
    #[error("{interface}: no such interface (available: {available})")]
    NoSuchInterface {
        interface: String,
        available: String,
    },
    #[error("{interface}: invalid BPF filter {filter:?}: {message}")]
    BadFilter {
        interface: String,
        filter: String,
        message: String,
    },
    #[error("{interface}: {message}{hint}")]
    Pcap {
        interface: String,
        message: String,
        /// Advice for the common permission failure, else empty.
        hint: &'static str,
    },
}

impl CaptureError {
    /// True when the error is about what was asked, not about what was read: an input
    /// path or interface that does not exist, a directory without captures, a filter
    /// that does not compile. The binary exits 2 for these (DESIGN §5), 1 for the rest.
    pub fn is_usage(&self) -> bool {
        match self {
            CaptureError::NoInputs
            | CaptureError::NoFiles { .. }
            | CaptureError::TooDeep { .. }
            | CaptureError::NoSuchInterface { .. }
            | CaptureError::BadFilter { .. } => true,
            CaptureError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
