//! Classic pcap files (<https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html>):
//! a 24-byte file header, then records of a 16-byte header and `caplen` bytes.
//!
//! Both byte orders, microsecond (`a1b2c3d4`) and nanosecond (`a1b23c4d`) magic, and
//! Alexey Kuznetzov's modified format (`a1b2cd34`, 8 more header bytes per record) in
//! both byte orders. pcap-parser parses the headers; this file frames the records over
//! the streaming [`Input`] and checks each record's length against the snaplen.

use std::sync::Arc;

use pcap_parser::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified};

use super::input::{Input, MAX_RECORD, MAX_SNAPLEN};
use super::linktype::file_linktype;
use super::{CaptureError, CaptureStats, FrameLoc};
use crate::time::Timestamp;

pub(super) const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
const MODIFIED_RECORD_HEADER_LEN: usize = 24;

/// Magic numbers as the first four bytes read little-endian.
const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const MAGIC_NANO: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// True when the first four bytes are a pcap magic number in either byte order.
pub(super) fn is_pcap_magic(head: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(head);
    let be = u32::from_be_bytes(head);
    [MAGIC_MICRO, MAGIC_NANO, MAGIC_MODIFIED]
        .iter()
        .any(|&m| m == le || m == be)
}

#[derive(Debug)]
pub(super) struct PcapFile {
    big_endian: bool,
    nanos: bool,
    modified: bool,
    pub linktype: u32,
    /// The longest record allowed: the header's snaplen, or [`MAX_SNAPLEN`] when the
    /// header says 0 or more (libpcap's rule).
    snaplen: usize,
    records: u64,
}

impl PcapFile {
    /// Reads the file header from the first 24 bytes (the caller checked the magic).
    pub fn from_header(h: &[u8; FILE_HEADER_LEN]) -> PcapFile {
        let magic_bytes = [h[0], h[1], h[2], h[3]];
        let big_endian = u32::from_le_bytes(magic_bytes) != MAGIC_MICRO
            && u32::from_le_bytes(magic_bytes) != MAGIC_NANO
            && u32::from_le_bytes(magic_bytes) != MAGIC_MODIFIED;
        let magic = if big_endian {
            u32::from_be_bytes(magic_bytes)
        } else {
            u32::from_le_bytes(magic_bytes)
        };
        let word = |at: usize| {
            let b = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        // pcap-parser's header parser knows every variant but the big-endian modified
        // one, and the fields sit at the same offsets in all of them, so read them here.
        let snaplen = word(16) as usize;
        let linktype = word(20);
        PcapFile {
            big_endian,
            nanos: magic == MAGIC_NANO,
            modified: magic == MAGIC_MODIFIED,
            // The upper 16 bits carry the FCS length and flags (pcap draft §4); the link
            // type is the low 16 bits.
            linktype: file_linktype(linktype & 0xffff),
            snaplen: if snaplen == 0 || snaplen > MAX_SNAPLEN {
                MAX_SNAPLEN
            } else {
                snaplen
            },
            records: 0,
        }
    }

    /// The next packet record: `Ok(None)` at a clean end of file.
    pub fn next(
        &mut self,
        input: &mut Input,
        path: &Arc<str>,
        stats: &mut CaptureStats,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        let hdr_len = if self.modified {
            MODIFIED_RECORD_HEADER_LEN
        } else {
            RECORD_HEADER_LEN
        };
        let record = self.records + 1;
        let offset = input.offset();
        let truncated = || CaptureError::TruncatedRecord {
            path: path.clone(),
            record,
            offset,
        };
        if !input
            .fill(hdr_len, &mut stats.input_bytes_read)
            .map_err(io_err)?
        {
            return if input.avail().is_empty() {
                Ok(None)
            } else {
                Err(truncated())
            };
        }
        let caplen = {
            let b = input.avail().get(8..12).unwrap_or(&[0; 4]);
            let b = [b[0], b[1], b[2], b[3]];
            if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let total = hdr_len as u64 + u64::from(caplen);
        if total > MAX_RECORD as u64 {
            return Err(CaptureError::RecordTooLarge {
                path: path.clone(),
                record,
                offset,
                len: total,
                cap: MAX_RECORD,
            });
        }
        let total = total as usize;
        if !input
            .fill(total, &mut stats.input_bytes_read)
            .map_err(io_err)?
        {
            return Err(truncated());
        }
        let raw = input.avail().get(..total).unwrap_or(&[]);
        let (ts_sec, ts_frac, origlen) = match (self.modified, self.big_endian) {
            (false, false) => parse_pcap_frame(raw).map(|(_, f)| (f.ts_sec, f.ts_usec, f.origlen)),
            (false, true) => {
                parse_pcap_frame_be(raw).map(|(_, f)| (f.ts_sec, f.ts_usec, f.origlen))
            }
            (true, false) => {
                parse_pcap_frame_modified(raw).map(|(_, f)| (f.ts_sec, f.ts_usec, f.origlen))
            }
            (true, true) => Ok(modified_be_fields(raw)),
        }
        .map_err(|_| truncated())?;
        self.records = record;
        let ts = pcap_timestamp(ts_sec, ts_frac, self.nanos);
        let at = RecordAt {
            path,
            record,
            offset,
        };
        check_lengths(
            &at,
            ts,
            self.linktype,
            hdr_len,
            caplen as usize,
            origlen,
            self.snaplen,
            total,
            stats,
        )
        .map(Some)
    }
}

/// Where a record lies, for error messages.
pub(super) struct RecordAt<'a> {
    pub path: &'a Arc<str>,
    /// Packet record number (pcap) or block number (pcapng), from 1.
    pub record: u64,
    /// Byte offset of the record in the file.
    pub offset: u64,
}

/// Builds the frame location after the length rules shared with pcapng. A record with
/// no data, or with more than the snaplen its file declares, is a corrupt file: no
/// capture tool writes either, so the file was damaged or forged, and an analyst must
/// hear of it rather than get a silently edited replay. An origlen below the caplen
/// only misstates the wire length: it is raised to the caplen and counted.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_lengths(
    at: &RecordAt<'_>,
    ts: Timestamp,
    linktype: u32,
    data_off: usize,
    caplen: usize,
    origlen: u32,
    snaplen: usize,
    record_len: usize,
    stats: &mut CaptureStats,
) -> Result<FrameLoc, CaptureError> {
    if caplen == 0 {
        return Err(CaptureError::ZeroLength {
            path: at.path.clone(),
            record: at.record,
            offset: at.offset,
        });
    }
    if caplen > snaplen {
        return Err(CaptureError::CaplenOverSnaplen {
            path: at.path.clone(),
            record: at.record,
            offset: at.offset,
            caplen,
            snaplen,
        });
    }
    let mut origlen = origlen;
    if (origlen as usize) < caplen {
        origlen = u32::try_from(caplen).unwrap_or(u32::MAX);
        stats.origlen_raised += 1;
    }
    Ok(FrameLoc {
        ts,
        linktype,
        data_off,
        len: caplen,
        origlen,
        consume: record_len,
    })
}

/// Seconds and a fraction (micro- or nanoseconds) to packet time. The fraction is not
/// checked against one second: libpcap and Wireshark accept such files and so do we.
pub(super) fn pcap_timestamp(sec: u32, frac: u32, nanos: bool) -> Timestamp {
    let frac_ns = if nanos {
        i64::from(frac)
    } else {
        i64::from(frac) * 1000
    };
    Timestamp(i64::from(sec) * 1_000_000_000 + frac_ns)
}

/// Record fields of the big-endian modified format, which pcap-parser does not know.
fn modified_be_fields(raw: &[u8]) -> (u32, u32, u32) {
    let word = |at: usize| {
        raw.get(at..at + 4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    (word(0), word(4), word(12))
}
