//! A flow's history and connection state, with Zeek's `conn.log` meaning: which of a few
//! things each side did, in the order each first happened, and what that says about how
//! the connection went (`S0`, `SF`, `REJ`, ...).
//!
//! History letters (uppercase: the client, Zeek's originator; lowercase: the server):
//! `S` a SYN without ACK, `H` a SYN+ACK, `A` a pure ACK, `D` a packet with payload, `F` a
//! FIN, `R` a RST. Each letter is recorded once per side, as Zeek does for these six.
//! Not recorded: Zeek's `C` (bad checksum: captures rarely have valid ones), `G`/`T`/`W`
//! (gaps, retransmissions, zero windows are counted by the reassembler instead), `I`/`Q`
//! and `^` (the direction flip: c2tap re-orients a flow on its SYN and says so in no
//! letter). Events are kept per canonical direction, so a late re-orientation only
//! changes the case of the letters when they are written.

use super::key::{Direction, Transport};
use crate::decode::TcpFlags;

/// Letters a side can record (S, H, A, D, F, R).
const LETTERS: [u8; 6] = *b"SHADFR";
const SYN: u8 = 0x01;
const SYN_ACK: u8 = 0x02;
const PURE_ACK: u16 = 0x04;
const DATA: u16 = 0x08;
const FIN: u8 = 0x10;
const RST: u8 = 0x20;

/// The letters of a packet without payload, by its FIN (bit 0), SYN (1), RST (2) and
/// ACK (3) flags: `S` a SYN without ACK, `H` a SYN with ACK, `A` an ACK alone, `F` and
/// `R` whenever their flag is set. (Evaluated at compile time: an index out of range
/// would fail the build, so the lints for run-time indexing do not apply.)
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const FLAG_LETTERS: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        let (fin, syn, rst, ack) = (i & 1 != 0, i & 2 != 0, i & 4 != 0, i & 8 != 0);
        let mut l = 0;
        if syn && !ack {
            l |= SYN;
        }
        if syn && ack {
            l |= SYN_ACK;
        }
        if ack && !syn && !fin && !rst {
            l |= PURE_ACK as u8;
        }
        if fin {
            l |= FIN;
        }
        if rst {
            l |= RST;
        }
        t[i] = l;
        i += 1;
    }
    t
};

/// Most events a history holds: each letter once per side.
const MAX_EVENTS: usize = LETTERS.len() * 2;

/// The first occurrences of the history letters of one flow, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Bit `letter + 6 × direction` set once that event was recorded.
    seen: u16,
    /// Events in order: letter index in the low 3 bits, direction in bit 3.
    events: [u8; MAX_EVENTS],
    len: u8,
}

impl History {
    /// Records what one packet travelling in `dir` did. `flags` is `None` for UDP.
    /// This runs for every packet: one table lookup and one test in the common case
    /// (a letter this side already has).
    #[inline]
    pub fn observe(&mut self, dir: Direction, flags: Option<TcpFlags>, payload: u32) {
        let mut letters = match flags {
            Some(f) => {
                // FIN, SYN, RST in bits 0–2 and ACK in bit 3: the table's index.
                let index = (f.0 & 0x07) | ((f.0 >> 1) & 0x08);
                u16::from(FLAG_LETTERS.get(usize::from(index)).copied().unwrap_or(0))
            }
            None => 0,
        };
        if payload > 0 {
            // Data, and so not a pure ACK.
            letters = (letters & !PURE_ACK) | DATA;
        }
        let new = letters.checked_shl(side_shift(dir)).unwrap_or(0) & !self.seen;
        if new == 0 {
            return;
        }
        self.record(new, dir);
    }

    #[cold]
    fn record(&mut self, new: u16, dir: Direction) {
        self.seen |= new;
        let side = if dir == Direction::FromA { 0 } else { 8 };
        for letter in 0..LETTERS.len() as u8 {
            if new & bit(letter, dir) != 0
                && let Some(slot) = self.events.get_mut(usize::from(self.len))
            {
                *slot = letter | side;
                self.len = self.len.saturating_add(1);
            }
        }
    }

    fn has(&self, letter: u8, dir: Direction) -> bool {
        self.seen & bit(letter, dir) != 0
    }

    /// The history as Zeek writes it, seen from the flow's client (`client` is the
    /// direction of its packets): `ShADadFf`.
    pub fn text(&self, client: Direction) -> HistoryText {
        let mut text = HistoryText {
            letters: [0; MAX_EVENTS],
            len: self.len,
        };
        for (out, &e) in text
            .letters
            .iter_mut()
            .zip(&self.events)
            .take(usize::from(self.len))
        {
            let letter = LETTERS.get(usize::from(e & 7)).copied().unwrap_or(b'?');
            let from_client = (e & 8 == 0) == (client == Direction::FromA);
            *out = if from_client {
                letter
            } else {
                letter.to_ascii_lowercase()
            };
        }
        text
    }

    /// Zeek's `conn_state` of the flow, seen from its client.
    pub fn conn_state(&self, transport: Transport, client: Direction) -> &'static str {
        let server = client.reverse();
        let (syn, syn_ack) = (self.has(0, client), self.has(1, server));
        let (c_fin, s_fin) = (self.has(4, client), self.has(4, server));
        let (c_rst, s_rst) = (self.has(5, client), self.has(5, server));
        if transport == Transport::Udp {
            return match (self.has(3, client), self.has(3, server)) {
                (_, false) => "S0",
                (false, true) => "SHR",
                (true, true) => "SF",
            };
        }
        match (syn, syn_ack) {
            (true, false) if c_rst => "RSTOS0",
            (true, false) if s_rst => "REJ",
            (true, false) if c_fin => "SH",
            (true, false) => "S0",
            (false, true) if s_rst => "RSTRH",
            (false, true) if s_fin => "SHR",
            (false, _) => "OTH",
            (true, true) if c_rst => "RSTO",
            (true, true) if s_rst => "RSTR",
            (true, true) => match (c_fin, s_fin) {
                (true, true) => "SF",
                (true, false) => "S2",
                (false, true) => "S3",
                (false, false) => "S1",
            },
        }
    }
}

/// A history's letters, held inline (no allocation per flow).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryText {
    letters: [u8; MAX_EVENTS],
    len: u8,
}

impl HistoryText {
    pub fn as_str(&self) -> &str {
        let letters = self.letters.get(..usize::from(self.len)).unwrap_or(&[]);
        // ASCII letters only: this never fails.
        std::str::from_utf8(letters).unwrap_or("")
    }
}

/// Where a direction's six bits start in `History::seen`.
fn side_shift(dir: Direction) -> u32 {
    if dir == Direction::FromA { 0 } else { 6 }
}

fn bit(letter: u8, dir: Direction) -> u16 {
    1u16.checked_shl(u32::from(letter))
        .and_then(|b| b.checked_shl(side_shift(dir)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{FromA as C, FromB as S};

    fn flags(bits: u8) -> Option<TcpFlags> {
        Some(TcpFlags(bits))
    }
    const SYN: u8 = TcpFlags::SYN;
    const SYN_ACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u8 = TcpFlags::ACK;
    const PSH_ACK: u8 = TcpFlags::PSH | TcpFlags::ACK;
    const FIN_ACK: u8 = TcpFlags::FIN | TcpFlags::ACK;
    const RST: u8 = TcpFlags::RST;

    fn run(packets: &[(Direction, u8, u32)]) -> History {
        let mut h = History::default();
        for &(d, f, n) in packets {
            h.observe(d, flags(f), n);
        }
        h
    }

    #[test]
    fn a_whole_connection_reads_like_zeek() {
        let h = run(&[
            (C, SYN, 0),
            (S, SYN_ACK, 0),
            (C, ACK, 0),
            (C, PSH_ACK, 80),
            (S, ACK, 0),
            (S, PSH_ACK, 900),
            (C, PSH_ACK, 40),
            (C, FIN_ACK, 0),
            (S, FIN_ACK, 0),
            (C, ACK, 0),
        ]);
        assert_eq!(h.text(C).as_str(), "ShADadFf");
        assert_eq!(h.conn_state(Transport::Tcp, C), "SF");
        // Seen from the other side (a flow re-oriented late): the case flips.
        assert_eq!(h.text(S).as_str(), "sHadADfF");
    }

    #[test]
    fn states_of_connections_that_did_not_complete() {
        let tcp = |p: &[(Direction, u8, u32)]| run(p).conn_state(Transport::Tcp, C);
        assert_eq!(tcp(&[(C, SYN, 0)]), "S0");
        assert_eq!(tcp(&[(C, SYN, 0), (S, RST | ACK, 0)]), "REJ");
        assert_eq!(tcp(&[(C, SYN, 0), (C, RST, 0)]), "RSTOS0");
        assert_eq!(tcp(&[(C, SYN, 0), (C, FIN_ACK, 0)]), "SH");
        assert_eq!(tcp(&[(S, SYN_ACK, 0), (S, RST, 0)]), "RSTRH");
        assert_eq!(tcp(&[(S, SYN_ACK, 0), (S, FIN_ACK, 0)]), "SHR");
        assert_eq!(tcp(&[(C, PSH_ACK, 10), (S, ACK, 0)]), "OTH");
        let open = [(C, SYN, 0), (S, SYN_ACK, 0), (C, ACK, 0)];
        assert_eq!(tcp(&open), "S1");
        assert_eq!(tcp(&[open.as_slice(), &[(C, FIN_ACK, 0)]].concat()), "S2");
        assert_eq!(tcp(&[open.as_slice(), &[(S, FIN_ACK, 0)]].concat()), "S3");
        assert_eq!(tcp(&[open.as_slice(), &[(C, RST, 0)]].concat()), "RSTO");
        assert_eq!(tcp(&[open.as_slice(), &[(S, RST, 0)]].concat()), "RSTR");
    }

    #[test]
    fn udp_flows() {
        let mut h = History::default();
        h.observe(C, None, 40);
        assert_eq!(
            (h.text(C).as_str(), h.conn_state(Transport::Udp, C)),
            ("D", "S0")
        );
        h.observe(S, None, 120);
        h.observe(C, None, 40);
        assert_eq!(
            (h.text(C).as_str(), h.conn_state(Transport::Udp, C)),
            ("Dd", "SF")
        );
        let mut only_server = History::default();
        only_server.observe(S, None, 1);
        assert_eq!(only_server.conn_state(Transport::Udp, C), "SHR");
    }

    #[test]
    fn each_letter_once_per_side_and_never_more_than_twelve() {
        let mut h = History::default();
        for _ in 0..1000 {
            for d in [C, S] {
                for f in [SYN, SYN_ACK, ACK, PSH_ACK, FIN_ACK, RST, 0xff] {
                    h.observe(d, flags(f), 5);
                    h.observe(d, flags(f), 0);
                }
            }
        }
        let mut letters: Vec<char> = h.text(C).as_str().chars().collect();
        letters.sort_unstable();
        assert_eq!(letters.into_iter().collect::<String>(), "ADFHRSadfhrs");
    }
}
