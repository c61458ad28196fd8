//! Replay tests on captures built byte by byte (builders here, cases by format in the
//! submodules), and property tests that no input makes the readers panic or loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod files;
mod pcap_format;
mod pcapng_format;
mod robust;

use std::io;

use super::*;

pub(super) fn sup(lt: u32) -> bool {
    matches!(lt, 0 | 1 | 101 | 113 | 228 | 229 | 276)
}

pub(super) type Got = (i64, u32, Vec<u8>, u32);

/// Every frame of a replay, and the error that ended it, if any.
pub(super) fn drain(r: &mut Replay) -> (Vec<Got>, Option<CaptureError>) {
    let mut out = Vec::new();
    loop {
        match r.next_frame() {
            Ok(Next::Frame(f)) => out.push((f.ts.0, f.linktype, f.data.to_vec(), f.origlen)),
            Ok(Next::Idle) => panic!("replay is never idle"),
            Ok(Next::End) => return (out, None),
            Err(e) => {
                assert!(matches!(r.next_frame(), Ok(Next::End)), "errors are final");
                return (out, Some(e));
            }
        }
    }
}

pub(super) fn replay_bytes(bytes: Vec<u8>) -> Result<Replay, CaptureError> {
    Replay::from_reader("mem", Box::new(io::Cursor::new(bytes)), sup)
}

/// The error replaying `bytes` ends with (a bad header is the first `next_frame`'s).
pub(super) fn first_error(bytes: Vec<u8>) -> CaptureError {
    let mut r = replay_bytes(bytes).expect("from_reader fails only on paths");
    let (_, err) = drain(&mut r);
    err.expect("an error")
}

// ---- builders ----

pub(super) fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}
pub(super) fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

pub(super) const MICRO: u32 = 0xa1b2_c3d4;
pub(super) const NANO: u32 = 0xa1b2_3c4d;
pub(super) const MODIFIED: u32 = 0xa1b2_cd34;

/// (ts_sec, ts_frac, data, origlen)
pub(super) type Rec<'a> = (u32, u32, &'a [u8], u32);

pub(super) fn pcap(magic: u32, be: bool, snaplen: u32, linktype: u32, recs: &[Rec<'_>]) -> Vec<u8> {
    let mut o = Vec::new();
    put32(&mut o, magic, be);
    put16(&mut o, 2, be);
    put16(&mut o, 4, be);
    put32(&mut o, 0, be);
    put32(&mut o, 0, be);
    put32(&mut o, snaplen, be);
    put32(&mut o, linktype, be);
    for &(s, f, d, orig) in recs {
        put32(&mut o, s, be);
        put32(&mut o, f, be);
        put32(&mut o, d.len() as u32, be);
        put32(&mut o, orig, be);
        if magic == MODIFIED {
            o.extend_from_slice(&[0; 8]);
        }
        o.extend_from_slice(d);
    }
    o
}

pub(super) struct Ng {
    pub be: bool,
    pub out: Vec<u8>,
}

impl Ng {
    pub fn new(be: bool) -> Ng {
        let mut ng = Ng {
            be,
            out: Vec::new(),
        };
        ng.shb();
        ng
    }
    pub fn block(&mut self, btype: u32, mut body: Vec<u8>) -> &mut Ng {
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        put32(&mut self.out, btype, self.be);
        put32(&mut self.out, len, self.be);
        self.out.extend_from_slice(&body);
        put32(&mut self.out, len, self.be);
        self
    }
    pub fn shb(&mut self) -> &mut Ng {
        let mut b = Vec::new();
        put32(&mut b, 0x1A2B_3C4D, self.be);
        put16(&mut b, 1, self.be);
        put16(&mut b, 0, self.be);
        b.extend_from_slice(&[0xff; 8]);
        self.block(0x0A0D_0D0A, b)
    }
    pub fn idb(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, linktype, be);
        put16(&mut b, 0, be);
        put32(&mut b, snaplen, be);
        if let Some(r) = tsresol {
            put16(&mut b, 9, be);
            put16(&mut b, 1, be);
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(off) = tsoffset {
            put16(&mut b, 14, be);
            put16(&mut b, 8, be);
            b.extend_from_slice(&if be {
                off.to_be_bytes()
            } else {
                off.to_le_bytes()
            });
        }
        if tsresol.is_some() || tsoffset.is_some() {
            put32(&mut b, 0, be);
        }
        self.block(1, b)
    }
    pub fn epb(&mut self, if_id: u32, ts: u64, data: &[u8], origlen: u32) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put32(&mut b, if_id, be);
        put32(&mut b, (ts >> 32) as u32, be);
        put32(&mut b, ts as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, origlen, be);
        b.extend_from_slice(data);
        self.block(6, b)
    }
    pub fn spb(&mut self, data: &[u8], origlen: u32) -> &mut Ng {
        let mut b = Vec::new();
        put32(&mut b, origlen, self.be);
        b.extend_from_slice(data);
        self.block(3, b)
    }
    pub fn opb(&mut self, if_id: u16, ts: u64, data: &[u8]) -> &mut Ng {
        let be = self.be;
        let mut b = Vec::new();
        put16(&mut b, if_id, be);
        put16(&mut b, 0, be);
        put32(&mut b, (ts >> 32) as u32, be);
        put32(&mut b, ts as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, data.len() as u32, be);
        b.extend_from_slice(data);
        self.block(2, b)
    }
}

pub(super) const P1: &[u8] = b"\x45packet-one";
pub(super) const P2: &[u8] = b"\x60two";
