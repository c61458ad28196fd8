//! pcapng files (<https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html>):
//! a sequence of blocks, `type | length | body | length`, grouped in sections.
//!
//! Handled: several sections (each may switch byte order and restarts the interface
//! list), several interfaces with their own link type, snaplen, `if_tsresol` (power of
//! 10 or of 2) and `if_tsoffset`; enhanced, simple and obsolete packet blocks. Known
//! non-packet blocks (name resolution, statistics, secrets, custom, ...) are ignored;
//! unknown block types are skipped and counted. The framing is done here so a block's
//! body is only handed to pcap-parser once it is wholly in the buffer: an `Incomplete`
//! from it then means a lie inside the block, i.e. a corrupt file.

use std::sync::Arc;

use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{
    InterfaceDescriptionBlock, OptionCode, parse_enhancedpacketblock_be,
    parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le,
};

use super::input::{Input, MAX_RECORD, MAX_SNAPLEN};
use super::linktype::{file_linktype, linktype_name};
use super::pcap_file::{RecordAt, check_lengths};
use super::{CaptureError, CaptureStats, FrameLoc};
use crate::time::Timestamp;

pub(super) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const OPB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
/// Block types we know and do not need: name resolution, interface statistics, the
/// deprecated IRIG timestamp and ARINC 429 blocks, systemd journal, decryption secrets,
/// custom (copyable and not), process information.
const IGNORED_TYPES: [u32; 9] = [4, 5, 7, 8, 9, 10, 0x0000_0BAD, 0x4000_0BAD, 0x8000_0001];
const BOM: u32 = 0x1A2B_3C4D;
/// Offset of the packet bytes in an enhanced or obsolete packet block, and in a simple
/// packet block.
const EPB_DATA_OFF: usize = 28;
const SPB_DATA_OFF: usize = 12;

/// Interfaces per section. The interface id of a packet is 32 bits, so a hostile file
/// could declare millions; 65 536 is far beyond any real capture (dumpcap writes one per
/// capture interface) and bounds the table at a few MiB.
pub const MAX_INTERFACES: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Pow10(u32),
    Pow2(u32),
}

#[derive(Debug)]
struct Iface {
    linktype: u32,
    supported: bool,
    warned: bool,
    snaplen: usize,
    res: Resolution,
    /// `if_tsoffset`: seconds added to every timestamp of the interface.
    offset_secs: i64,
}

#[derive(Debug, Default)]
pub(super) struct NgFile {
    big_endian: bool,
    ifaces: Vec<Iface>,
    blocks: u64,
    /// Simple packet blocks carry no time; they get the last time seen.
    last_ts: Timestamp,
    pub supported_frames: u64,
    pub unsupported_packets: u64,
    /// Link type of the first interface whose packets were skipped.
    pub first_unsupported: Option<u32>,
}

impl NgFile {
    pub fn new() -> NgFile {
        NgFile::default()
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let w = b.get(at..at + 4).unwrap_or(&[0; 4]);
        let w = [w[0], w[1], w[2], w[3]];
        if self.big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    }

    /// The next packet of a supported interface: `Ok(None)` at a clean end of file.
    pub fn next(
        &mut self,
        input: &mut Input,
        path: &Arc<str>,
        stats: &mut CaptureStats,
        supported: fn(u32) -> bool,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        loop {
            let Some(at) = self.block_header(input, path, stats)? else {
                return Ok(None);
            };
            let block = input.avail().get(..at.len).unwrap_or(&[]);
            match self.block(block, &at, stats, supported)? {
                Some(loc) => return Ok(Some(loc)),
                None => input.consume(at.len),
            }
        }
    }

    /// Reads the header of the next block and waits until the whole block is in the
    /// buffer; `Ok(None)` at a clean end of file.
    fn block_header<'a>(
        &mut self,
        input: &mut Input,
        path: &'a Arc<str>,
        stats: &mut CaptureStats,
    ) -> Result<Option<BlockAt<'a>>, CaptureError> {
        let offset = input.offset();
        let no = self.blocks + 1;
        if !input
            .fill(8, &mut stats.input_bytes_read)
            .map_err(|e| io_err(path, e))?
        {
            if input.avail().is_empty() {
                return Ok(None);
            }
            let block_type = self.u32_at(input.avail(), 0);
            return Err(truncated(path, no, block_type, offset));
        }
        let le_type = {
            let b = input.avail();
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        };
        if le_type == SHB_TYPE {
            self.section_byte_order(input, path, no, offset, stats)?;
        } else if self.blocks == 0 {
            return Err(corrupt(
                path,
                offset,
                "the first block is not a section header".into(),
            ));
        }
        let at = BlockAt {
            path,
            no,
            offset,
            block_type: self.u32_at(input.avail(), 0),
            len: self.u32_at(input.avail(), 4) as usize,
        };
        at.check_len()?;
        if !input
            .fill(at.len, &mut stats.input_bytes_read)
            .map_err(|e| io_err(path, e))?
        {
            return Err(truncated(path, no, at.block_type, offset));
        }
        self.blocks = no;
        Ok(Some(at))
    }

    /// The byte order of a section is only known from its byte-order magic, which
    /// follows the length field: it must be read before the length can be.
    fn section_byte_order(
        &mut self,
        input: &mut Input,
        path: &Arc<str>,
        no: u64,
        offset: u64,
        stats: &mut CaptureStats,
    ) -> Result<(), CaptureError> {
        if !input
            .fill(12, &mut stats.input_bytes_read)
            .map_err(|e| io_err(path, e))?
        {
            return Err(truncated(path, no, SHB_TYPE, offset));
        }
        let b = input.avail();
        let bom = [b[8], b[9], b[10], b[11]];
        self.big_endian = if u32::from_le_bytes(bom) == BOM {
            false
        } else if u32::from_be_bytes(bom) == BOM {
            true
        } else {
            return Err(corrupt(
                path,
                offset,
                format!("section header block {no} has no byte-order magic"),
            ));
        };
        Ok(())
    }

    /// One whole block: the packet it holds, or `None` for a block that only changes
    /// the reader's state, is ignored or is skipped.
    fn block(
        &mut self,
        block: &[u8],
        at: &BlockAt<'_>,
        stats: &mut CaptureStats,
        supported: fn(u32) -> bool,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        match at.block_type {
            SHB_TYPE => self.section_header(block, at).map(|()| None),
            IDB_TYPE => self
                .interface_description(block, at, supported)
                .map(|()| None),
            EPB_TYPE => self.enhanced_packet(block, at, stats),
            OPB_TYPE => self.obsolete_packet(block, at, stats),
            SPB_TYPE => self.simple_packet(block, at, stats),
            t if IGNORED_TYPES.contains(&t) => Ok(None),
            _ => {
                stats.skipped_blocks += 1;
                Ok(None)
            }
        }
    }

    /// A new section: its interfaces replace those of the last one.
    fn section_header(&mut self, block: &[u8], at: &BlockAt<'_>) -> Result<(), CaptureError> {
        let (_, shb) =
            parse_sectionheaderblock(block).map_err(|_| at.malformed("section header"))?;
        // A new major version may change any block's layout (pcapng §4.1).
        if shb.major_version != 1 {
            return Err(at.corrupt(format!(
                "pcapng version {}.{} in section header block {}, only 1.x is known",
                shb.major_version, shb.minor_version, at.no
            )));
        }
        self.ifaces.clear();
        Ok(())
    }

    fn interface_description(
        &mut self,
        block: &[u8],
        at: &BlockAt<'_>,
        supported: fn(u32) -> bool,
    ) -> Result<(), CaptureError> {
        let idb = if self.big_endian {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        }
        .map_err(|_| at.malformed("interface description"))?
        .1;
        if self.ifaces.len() >= MAX_INTERFACES {
            return Err(at.corrupt(format!(
                "more than {MAX_INTERFACES} interfaces in one section"
            )));
        }
        let iface = self.iface_from(&idb, supported);
        self.ifaces.push(iface);
        Ok(())
    }

    fn enhanced_packet(
        &mut self,
        block: &[u8],
        at: &BlockAt<'_>,
        stats: &mut CaptureStats,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        let epb = if self.big_endian {
            parse_enhancedpacketblock_be(block)
        } else {
            parse_enhancedpacketblock_le(block)
        }
        .map_err(|_| at.malformed("enhanced packet"))?
        .1;
        let ts = u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low);
        let caplen = epb.packet_data().len();
        self.packet(
            epb.if_id,
            Some(ts),
            EPB_DATA_OFF,
            caplen,
            epb.origlen,
            at.len,
            &at.record(),
            stats,
        )
    }

    /// Obsolete packet block (pcapng 0.x): like an EPB with a 16-bit interface id
    /// followed by a 16-bit drop count. pcap-parser does not know it.
    fn obsolete_packet(
        &mut self,
        block: &[u8],
        at: &BlockAt<'_>,
        stats: &mut CaptureStats,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        if at.len < EPB_DATA_OFF + 4 {
            return Err(at.malformed("obsolete packet"));
        }
        let ifid_drops = self.u32_at(block, 8);
        let if_id = if self.big_endian {
            ifid_drops >> 16
        } else {
            ifid_drops & 0xffff
        };
        let ts = u64::from(self.u32_at(block, 12)) << 32 | u64::from(self.u32_at(block, 16));
        let caplen = self.u32_at(block, 20) as usize;
        let origlen = self.u32_at(block, 24);
        if caplen > at.len - EPB_DATA_OFF - 4 {
            return Err(at.malformed("obsolete packet"));
        }
        self.packet(
            if_id,
            Some(ts),
            EPB_DATA_OFF,
            caplen,
            origlen,
            at.len,
            &at.record(),
            stats,
        )
    }

    /// Simple packet block: no interface id (always interface 0) and no time.
    fn simple_packet(
        &mut self,
        block: &[u8],
        at: &BlockAt<'_>,
        stats: &mut CaptureStats,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        let spb = if self.big_endian {
            parse_simplepacketblock_be(block)
        } else {
            parse_simplepacketblock_le(block)
        }
        .map_err(|_| at.malformed("simple packet"))?
        .1;
        // caplen is min(origlen, snaplen of interface 0, what the block holds).
        let mut caplen = spb.packet_data().len();
        if let Some(i) = self.ifaces.first()
            && i.snaplen > 0
        {
            caplen = caplen.min(i.snaplen);
        }
        self.packet(
            0,
            None,
            SPB_DATA_OFF,
            caplen,
            spb.origlen,
            at.len,
            &at.record(),
            stats,
        )
    }

    fn iface_from(&self, idb: &InterfaceDescriptionBlock<'_>, supported: fn(u32) -> bool) -> Iface {
        let mut res = Resolution::Pow10(6);
        let mut offset_secs = 0i64;
        for opt in &idb.options {
            let Ok(v) = opt.as_bytes() else { continue };
            if opt.code == OptionCode::IfTsresol {
                if let Some(&r) = v.first() {
                    res = if r & 0x80 == 0 {
                        Resolution::Pow10(u32::from(r))
                    } else {
                        Resolution::Pow2(u32::from(r & 0x7f))
                    };
                }
            } else if opt.code == OptionCode::IfTsoffset
                && let Some(b) = v.get(..8)
            {
                let b = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
                offset_secs = if self.big_endian {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
            }
        }
        let linktype = file_linktype(u32::from(idb.linktype.0 as u16));
        let snaplen = idb.snaplen as usize;
        Iface {
            linktype,
            supported: supported(linktype),
            warned: false,
            snaplen: if snaplen == 0 || snaplen > MAX_SNAPLEN {
                MAX_SNAPLEN
            } else {
                snaplen
            },
            res,
            offset_secs,
        }
    }

    /// A packet of interface `if_id`; `None` when it is skipped (and counted).
    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        if_id: u32,
        ts_units: Option<u64>,
        data_off: usize,
        caplen: usize,
        origlen: u32,
        block_len: usize,
        at: &RecordAt<'_>,
        stats: &mut CaptureStats,
    ) -> Result<Option<FrameLoc>, CaptureError> {
        let Some(iface) = self.ifaces.get_mut(if_id as usize) else {
            // A packet of an interface the section never declared: nothing says how
            // to decode it or read its time.
            stats.skipped_blocks += 1;
            return Ok(None);
        };
        if !iface.supported {
            stats.unsupported_linktype_packets += 1;
            self.unsupported_packets += 1;
            self.first_unsupported.get_or_insert(iface.linktype);
            if !iface.warned {
                iface.warned = true;
                // The one line capture prints: the pipeline has no per-interface
                // warnings, and a silently empty replay would be worse.
                eprintln!(
                    "c2tap: {}: interface {if_id} has unsupported link type {} ({}); \
                     its packets are skipped",
                    at.path,
                    iface.linktype,
                    linktype_name(iface.linktype)
                );
            }
            return Ok(None);
        }
        let ts = match ts_units {
            Some(units) => units_to_timestamp(units, iface.res, iface.offset_secs),
            None => self.last_ts,
        };
        self.last_ts = ts;
        self.supported_frames += 1;
        check_lengths(
            at,
            ts,
            iface.linktype,
            data_off,
            caplen,
            origlen,
            iface.snaplen,
            block_len,
            stats,
        )
        .map(Some)
    }
}

/// Where a block lies and what its header says, for error messages.
struct BlockAt<'a> {
    path: &'a Arc<str>,
    /// Block number in the file, from 1.
    no: u64,
    /// Byte offset of the block in the file.
    offset: u64,
    block_type: u32,
    /// Total block length, from its header.
    len: usize,
}

impl BlockAt<'_> {
    /// A length below the smallest block (type, two lengths) or not a multiple of 4 is
    /// a corrupt file; one above `MAX_RECORD` is refused before it is buffered.
    fn check_len(&self) -> Result<(), CaptureError> {
        let (no, block_type, len) = (self.no, self.block_type, self.len);
        if len < 12 || !len.is_multiple_of(4) {
            return Err(self.corrupt(format!(
                "block {no} (type {block_type:#010x}) has an invalid length {len}"
            )));
        }
        if len > MAX_RECORD {
            return Err(CaptureError::RecordTooLarge {
                path: self.path.clone(),
                record: no,
                offset: self.offset,
                len: len as u64,
                cap: MAX_RECORD,
            });
        }
        Ok(())
    }

    fn record(&self) -> RecordAt<'_> {
        RecordAt {
            path: self.path,
            record: self.no,
            offset: self.offset,
        }
    }

    fn corrupt(&self, what: String) -> CaptureError {
        corrupt(self.path, self.offset, what)
    }

    /// A block whose body pcap-parser (or our own check) refused.
    fn malformed(&self, what: &str) -> CaptureError {
        self.corrupt(format!(
            "{what} (block {}, type {:#010x}) is malformed",
            self.no, self.block_type
        ))
    }
}

fn corrupt(path: &Arc<str>, offset: u64, what: String) -> CaptureError {
    CaptureError::Corrupt {
        path: path.clone(),
        offset,
        what,
    }
}

fn truncated(path: &Arc<str>, block: u64, block_type: u32, offset: u64) -> CaptureError {
    CaptureError::TruncatedBlock {
        path: path.clone(),
        block,
        block_type,
        offset,
    }
}

fn io_err(path: &Arc<str>, source: std::io::Error) -> CaptureError {
    CaptureError::Io {
        path: path.clone(),
        source,
    }
}

/// A 64-bit pcapng timestamp in `res` units, plus `offset_secs`, to packet time.
fn units_to_timestamp(units: u64, res: Resolution, offset_secs: i64) -> Timestamp {
    let per_sec: Option<u128> = match res {
        Resolution::Pow10(e) => 10u128.checked_pow(e),
        Resolution::Pow2(e) => 1u128.checked_shl(e),
    };
    let Some(per_sec) = per_sec.filter(|&p| p > 0) else {
        // A resolution finer than u128 can express: every count is below one second.
        return Timestamp::from_secs(offset_secs);
    };
    let units = u128::from(units);
    let secs = units / per_sec;
    let frac = units % per_sec;
    let nanos = match frac.checked_mul(1_000_000_000) {
        Some(x) => x / per_sec,
        None => frac / (per_sec / 1_000_000_000),
    };
    let secs = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_add(offset_secs);
    Timestamp::from_secs_nanos(secs, nanos as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions() {
        let us = units_to_timestamp(1_500_000_123_456, Resolution::Pow10(6), 0);
        assert_eq!(us, Timestamp(1_500_000_123_456_000));
        let ns = units_to_timestamp(1_500_000_123_456_789, Resolution::Pow10(9), 0);
        assert_eq!(ns, Timestamp(1_500_000_123_456_789));
        // 2^-20 s units: 3.5 s
        let p2 = units_to_timestamp(7 << 19, Resolution::Pow2(20), 0);
        assert_eq!(p2, Timestamp(3_500_000_000));
        let off = units_to_timestamp(2_000_000, Resolution::Pow10(6), 100);
        assert_eq!(off, Timestamp::from_secs(102));
        let ps = units_to_timestamp(1_000_000_000_001_000, Resolution::Pow10(12), 0);
        assert_eq!(ps, Timestamp(1_000_000_000_001));
        // Absurd resolutions do not panic.
        let _ = units_to_timestamp(u64::MAX, Resolution::Pow10(127), i64::MAX);
        let _ = units_to_timestamp(u64::MAX, Resolution::Pow2(127), i64::MIN);
        let _ = units_to_timestamp(u64::MAX, Resolution::Pow10(0), i64::MAX);
    }
}
