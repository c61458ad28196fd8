//! 802.11 A-MSDUs (IEEE 802.11-2020 §9.3.2.2.2): one data frame whose body is a run of
//! subframes, each `DA (6) | SA (6) | Length (2, big-endian) | MSDU (LLC/SNAP + packet)`,
//! padded to a multiple of 4 bytes but the last.
//!
//! A subframe without its padding is exactly an 802.3 frame (destination, source, a
//! length below 0x0600, then LLC/SNAP), so the capture thread hands each one to the
//! workers as an Ethernet frame of its own, by its own flow hash: the subframes of one
//! A-MSDU may belong to different flows, and each flow must reach its own worker. This
//! module finds the subframes; the walk to the 802.11 header (radiotap, plain 802.11, or
//! the WLAN-controller GRE tunnels) is the decoder's (`decoder.rs`).
//!
//! What is not split (a length past the body or past [`MAX_MSDU_LEN`], more than
//! [`MAX_AMSDU_SUBFRAMES`], no subframe at all) goes on whole and is counted
//! `undecoded_wlan_amsdu` by the worker. Trailing bytes shorter than a subframe header
//! after the last subframe are padding or an FCS, and ignored.

use std::ops::Range;

use super::bytes::be16;

/// Subframes split out of one A-MSDU. An A-MSDU is at most 11,454 bytes (VHT), so a
/// hostile one could hold ~500 empty subframes; real ones (Linux mac80211, access points)
/// aggregate up to 32 small MSDUs, usually 2–8. Past 64 the frame is not split.
pub const MAX_AMSDU_SUBFRAMES: usize = 64;

/// Longest MSDU a subframe may carry (IEEE 802.11-2020 §9.2.4.7: 2304 bytes). The check
/// also keeps the length below 0x0600, where an Ethernet decoder would read an EtherType.
pub const MAX_MSDU_LEN: usize = 2304;

/// DA, SA and Length.
const SUBFRAME_HEADER_LEN: usize = 14;
/// Where the Length field lies in a subframe header.
const LENGTH: std::ops::Range<usize> = 12..14;

/// Splits an A-MSDU body into its subframes (without padding), as ranges of `body`, into
/// `out` (cleared first). `false`, with `out` empty, when the body cannot be split.
pub(crate) fn split(body: &[u8], out: &mut Vec<Range<usize>>) -> bool {
    out.clear();
    let mut at = 0usize;
    while body.len().saturating_sub(at) >= SUBFRAME_HEADER_LEN {
        if out.len() >= MAX_AMSDU_SUBFRAMES {
            out.clear();
            return false;
        }
        let Some(len) = at
            .checked_add(LENGTH.start)
            .and_then(|s| be16(body, s..s.saturating_add(2)))
            .map(usize::from)
        else {
            out.clear();
            return false;
        };
        let end = at
            .checked_add(SUBFRAME_HEADER_LEN)
            .and_then(|e| e.checked_add(len));
        match end {
            Some(end) if len <= MAX_MSDU_LEN && end <= body.len() => {
                out.push(at..end);
                at = end.next_multiple_of(4);
            }
            _ => {
                out.clear();
                return false;
            }
        }
    }
    !out.is_empty()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn subframe(msdu: &[u8], pad: bool) -> Vec<u8> {
        let mut s = vec![2u8; 6];
        s.extend([4u8; 6]);
        s.extend((msdu.len() as u16).to_be_bytes());
        s.extend_from_slice(msdu);
        while pad && !s.len().is_multiple_of(4) {
            s.push(0);
        }
        s
    }

    #[test]
    fn splits_padded_subframes() {
        let mut body = subframe(&[0xaa; 9], true);
        body.extend(subframe(&[0xbb; 20], true));
        body.extend(subframe(&[0xcc; 3], false));
        let mut out = Vec::new();
        assert!(split(&body, &mut out));
        assert_eq!(out, vec![0..23, 24..58, 60..77]);
        // An FCS after the last subframe is ignored.
        body.extend([1, 2, 3, 4]);
        assert!(split(&body, &mut out));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let mut out = Vec::from([0..1, 2..3]);
        // A length past the body.
        let mut body = subframe(&[0xaa; 30], false);
        body.truncate(30);
        assert!(!split(&body, &mut out));
        assert!(out.is_empty());
        // A length past the MSDU limit.
        let big = subframe(&vec![0u8; MAX_MSDU_LEN + 1], false);
        assert!(!split(&big, &mut out));
        // Too many subframes.
        let many: Vec<u8> = (0..=MAX_AMSDU_SUBFRAMES)
            .flat_map(|_| subframe(&[1, 2], true))
            .collect();
        assert!(!split(&many, &mut out));
        let cap: Vec<u8> = (0..MAX_AMSDU_SUBFRAMES)
            .flat_map(|_| subframe(&[1, 2], true))
            .collect();
        assert!(split(&cap, &mut out));
        assert_eq!(out.len(), MAX_AMSDU_SUBFRAMES);
        // Nothing at all.
        assert!(!split(&[0; 5], &mut out));
    }

    proptest! {
        /// Any body: no panic, and what is split lies inside the body, in order, within
        /// the caps.
        #[test]
        fn any_body(body in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut out = Vec::new();
            let ok = split(&body, &mut out);
            prop_assert_eq!(ok, !out.is_empty());
            prop_assert!(out.len() <= MAX_AMSDU_SUBFRAMES);
            let mut last = 0;
            for r in &out {
                prop_assert!(r.start >= last && r.end <= body.len());
                prop_assert!(r.end - r.start >= SUBFRAME_HEADER_LEN);
                last = r.end;
            }
        }
    }
}
