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
        let io_err = |source| CaptureError::Io {
            path: path.clone(),
            source,
        };
        loop {
            let offset = input.offset();
            let block_no = self.blocks + 1;
            let corrupt = |what: String| CaptureError::Corrupt {
                path: path.clone(),
                offset,
                what,
            };
            if !input.fill(8, &mut stats.input_bytes_read).map_err(io_err)? {
                if input.avail().is_empty() {
                    return Ok(None);
                }
                return Err(CaptureError::TruncatedBlock {
                    path: path.clone(),
                    block: block_no,
                    block_type: self.u32_at(input.avail(), 0),
                    offset,
                });
            }
            let le_type = {
                let b = input.avail();
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            };
            if le_type == SHB_TYPE {
                // The byte order of a section is only known from its byte-order magic,
                // which follows the length field.
                if !input
                    .fill(12, &mut stats.input_bytes_read)
                    .map_err(io_err)?
                {
                    return Err(CaptureError::TruncatedBlock {
                        path: path.clone(),
                        block: block_no,
                        block_type: SHB_TYPE,
                        offset,
                    });
                }
                let b = input.avail();
                let bom = [b[8], b[9], b[10], b[11]];
                self.big_endian = if u32::from_le_bytes(bom) == BOM {
                    false
                } else if u32::from_be_bytes(bom) == BOM {
                    true
                } else {
                    return Err(corrupt(format!(
                        "section header block {block_no} has no byte-order magic"
                    )));
                };
            } else if self.blocks == 0 {
                return Err(corrupt("the first block is not a section header".into()));
            }
            let block_type = self.u32_at(input.avail(), 0);
            let len = self.u32_at(input.avail(), 4) as usize;
            if len < 12 || !len.is_multiple_of(4) {
                return Err(corrupt(format!(
                    "block {block_no} (type {block_type:#010x}) has an invalid length {len}"
                )));
            }
            if len > MAX_RECORD {
                return Err(CaptureError::RecordTooLarge {
                    path: path.clone(),
                    record: block_no,
                    offset,
                    len: len as u64,
                    cap: MAX_RECORD,
                });
            }
            if !input
                .fill(len, &mut stats.input_bytes_read)
                .map_err(io_err)?
            {
                return Err(CaptureError::TruncatedBlock {
                    path: path.clone(),
                    block: block_no,
                    block_type,
                    offset,
                });
            }
            self.blocks = block_no;
            let at = RecordAt {
                path,
                record: block_no,
                offset,
            };
            let block = input.avail().get(..len).unwrap_or(&[]);
            let bad = |what: &str| {
                corrupt(format!(
                    "{what} (block {block_no}, type {block_type:#010x}) is malformed"
                ))
            };
            let found = match block_type {
                SHB_TYPE => {
                    let (_, shb) =
                        parse_sectionheaderblock(block).map_err(|_| bad("section header"))?;
                    // A new major version may change any block's layout (pcapng §4.1).
                    if shb.major_version != 1 {
                        return Err(corrupt(format!(
                            "pcapng version {}.{} in section header block {block_no}, only 1.x \
                             is known",
                            shb.major_version, shb.minor_version
                        )));
                    }
                    self.ifaces.clear();
                    None
                }
                IDB_TYPE => {
                    let idb = if self.big_endian {
                        parse_interfacedescriptionblock_be(block)
                    } else {
                        parse_interfacedescriptionblock_le(block)
                    }
                    .map_err(|_| bad("interface description"))?
                    .1;
                    if self.ifaces.len() >= MAX_INTERFACES {
                        return Err(corrupt(format!(
                            "more than {MAX_INTERFACES} interfaces in one section"
                        )));
                    }
                    let iface = self.iface_from(&idb, supported);
                    self.ifaces.push(iface);
                    None
                }
                EPB_TYPE => {
                    let epb = if self.big_endian {
                        parse_enhancedpacketblock_be(block)
                    } else {
                        parse_enhancedpacketblock_le(block)
                    }
                    .map_err(|_| bad("enhanced packet"))?
                    .1;
                    let ts = u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low);
                    let caplen = epb.packet_data().len();
                    self.packet(
                        epb.if_id,
                        Some(ts),
                        EPB_DATA_OFF,
                        caplen,
                        epb.origlen,
                        len,
                        &at,
                        stats,
                    )?
                }
                OPB_TYPE => {
                    // Obsolete packet block (pcapng 0.x): like an EPB with a 16-bit
                    // interface id followed by a 16-bit drop count.
                    if len < EPB_DATA_OFF + 4 {
                        return Err(bad("obsolete packet"));
                    }
                    let ifid_drops = self.u32_at(block, 8);
                    let if_id = if self.big_endian {
                        ifid_drops >> 16
                    } else {
                        ifid_drops & 0xffff
                    };
                    let ts =
                        u64::from(self.u32_at(block, 12)) << 32 | u64::from(self.u32_at(block, 16));
                    let caplen = self.u32_at(block, 20) as usize;
                    let origlen = self.u32_at(block, 24);
                    if caplen > len - EPB_DATA_OFF - 4 {
                        return Err(bad("obsolete packet"));
                    }
                    self.packet(
                        if_id,
                        Some(ts),
                        EPB_DATA_OFF,
                        caplen,
                        origlen,
                        len,
                        &at,
                        stats,
                    )?
                }
                SPB_TYPE => {
                    let spb = if self.big_endian {
                        parse_simplepacketblock_be(block)
                    } else {
                        parse_simplepacketblock_le(block)
                    }
                    .map_err(|_| bad("simple packet"))?
                    .1;
                    // caplen is min(origlen, snaplen of interface 0, what the block holds).
                    let mut caplen = spb.packet_data().len();
                    if let Some(i) = self.ifaces.first()
                        && i.snaplen > 0
                    {
                        caplen = caplen.min(i.snaplen);
                    }
                    self.packet(0, None, SPB_DATA_OFF, caplen, spb.origlen, len, &at, stats)?
                }
                t if IGNORED_TYPES.contains(&t) => None,
                _ => {
                    stats.skipped_blocks += 1;
                    None
                }
            };
            match found {
                Some(loc) => return Ok(Some(loc)),
                None => input.consume(len),
            }
        }
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
