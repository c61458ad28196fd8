//! Google QUIC's own handshake message, the client hello `CHLO` of QUIC Crypto, carried
//! in the CRYPTO frames of a `Q050` Initial instead of a TLS ClientHello.
//!
//! Wire form (Chromium's `CryptoFramer`, Wireshark's `dissect_gquic_tags`), all integers
//! little-endian:
//!
//! ```text
//! tag "CHLO" (4) | entries n (u16) | padding (u16)
//! n × { tag (4 ASCII bytes, NUL-padded: "SNI\0") | end offset of its value (u32) }
//! values, back to back: value i is bytes [end(i-1), end(i)) of this part
//! ```
//!
//! Tags are in strictly increasing order as little-endian u32 and end offsets never go
//! down (Chromium refuses a message that breaks either: `CRYPTO_TAGS_OUT_OF_ORDER`); so do
//! we. Every malformed input is an [`ChloError`], never a panic; the tag count and the
//! message length are capped before anything is read.
//!
//! Pure: bytes in, [`ChloFacts`] out. No fingerprint (JA3 and JA4 are TLS's) is made here.

/// The message tag of a client hello.
pub const CHLO: [u8; 4] = *b"CHLO";

/// Bytes before the tag table: message tag, entry count, padding.
pub const CHLO_HEADER_LEN: usize = 8;

/// Bytes of one tag-table entry: tag and end offset.
const ENTRY_LEN: usize = 8;

/// Most entries a CHLO may have: Chromium's `kMaxEntries` (a real CHLO has 15–25).
pub const MAX_CHLO_TAGS: usize = 128;

/// Longest CHLO c2tap reads (header, table and values). Chromium pads its inchoate CHLO to
/// `kClientHelloMinimumSize` (1024) and a full one stays within a few packets; 16 KiB is
/// also what the CRYPTO reassembly keeps of a stream (`MAX_CLIENT_HELLO` + 4).
pub const MAX_CHLO_LEN: usize = 16 * 1024;

// The CRYPTO reassembly must keep every byte of the longest CHLO read.
const _: () = assert!(
    MAX_CHLO_LEN
        <= crate::proto::handshake::HANDSHAKE_HEADER_LEN
            + crate::proto::handshake::MAX_CLIENT_HELLO
);

/// Longest value kept for a name-like tag (SNI, UAID): a DNS name is at most 253 bytes;
/// a user agent of 512 bytes is already odd. Longer values are cut and flagged `partial`.
pub const MAX_CHLO_TEXT: usize = 512;

/// Most entries kept of a tag list value (`VER`, `AEAD`, `KEXS`): a handful in practice.
pub const MAX_CHLO_LIST: usize = 16;

/// Why a CHLO could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChloError {
    #[error("CRYPTO stream does not start with a CHLO message")]
    NotChlo,
    #[error("CHLO cut short")]
    Truncated,
    #[error("CHLO has more than {MAX_CHLO_TAGS} tags")]
    TooManyTags,
    #[error("CHLO is longer than {MAX_CHLO_LEN} bytes")]
    TooLong,
    #[error("CHLO tags or value offsets out of order")]
    OutOfOrder,
}

/// What a CHLO says that c2tap reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChloFacts {
    /// Every tag of the message, in wire order (`SNI\0`, `UAID`, `VER\0`, `PAD\0`, …).
    pub tags: Vec<[u8; 4]>,
    /// `SNI`: the server's name, raw bytes (at most [`MAX_CHLO_TEXT`]).
    pub sni: Option<Vec<u8>>,
    /// `UAID`: the client's user agent, raw bytes (at most [`MAX_CHLO_TEXT`]).
    pub uaid: Option<Vec<u8>>,
    /// `VER`: the version the client offers (`Q050`), as tags.
    pub versions: Vec<[u8; 4]>,
    /// `AEAD`: the AEADs it supports (`AESG`, `CC20`), as tags.
    pub aead: Vec<[u8; 4]>,
    /// A text value or a list was cut at its cap.
    pub partial: bool,
}

/// Reads a little-endian u16 / u32 at `at`.
fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

fn tag_at(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at.checked_add(4)?)?.try_into().ok()
}

/// The whole message's length once its header and tag table are held: `Ok(None)` while
/// more bytes are needed to know, an error as soon as `head` shows the message is not a
/// CHLO or breaks a cap. `head` is the start of the CRYPTO stream (any length).
pub fn chlo_len(head: &[u8]) -> Result<Option<usize>, ChloError> {
    let tag_len = head.len().min(CHLO.len());
    if head.get(..tag_len) != CHLO.get(..tag_len) {
        return Err(ChloError::NotChlo);
    }
    let Some(n) = le16(head, 4) else {
        return Ok(None);
    };
    let n = usize::from(n);
    if n > MAX_CHLO_TAGS {
        return Err(ChloError::TooManyTags);
    }
    // n ≤ 128: the table ends by byte 8 + 1024.
    let table_end = CHLO_HEADER_LEN.saturating_add(n.saturating_mul(ENTRY_LEN));
    if n == 0 {
        return Ok(Some(table_end));
    }
    let last_end_at = table_end.saturating_sub(4);
    let Some(values_len) = le32(head, last_end_at) else {
        return Ok(None);
    };
    let total = usize::try_from(values_len)
        .ok()
        .and_then(|v| table_end.checked_add(v))
        .ok_or(ChloError::TooLong)?;
    if total > MAX_CHLO_LEN {
        return Err(ChloError::TooLong);
    }
    Ok(Some(total))
}

/// A text value, cut at [`MAX_CHLO_TEXT`].
fn text(value: &[u8], partial: &mut bool) -> Vec<u8> {
    if value.len() > MAX_CHLO_TEXT {
        *partial = true;
    }
    value
        .get(..value.len().min(MAX_CHLO_TEXT))
        .unwrap_or(&[])
        .to_vec()
}

/// A list of 4-byte tags, cut at [`MAX_CHLO_LIST`]; a length not a multiple of 4 is cut
/// too (the whole tags are kept).
fn tag_list(value: &[u8], partial: &mut bool) -> Vec<[u8; 4]> {
    if !value.len().is_multiple_of(4) || value.len() / 4 > MAX_CHLO_LIST {
        *partial = true;
    }
    value
        .chunks_exact(4)
        .take(MAX_CHLO_LIST)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok())
        .collect()
}

/// Reads a whole CHLO message (`msg` may hold bytes after it: they are not looked at).
pub fn parse_chlo(msg: &[u8]) -> Result<ChloFacts, ChloError> {
    if msg.get(..4) != Some(&CHLO[..]) {
        return Err(if msg.len() < 4 && CHLO.starts_with(msg) {
            ChloError::Truncated
        } else {
            ChloError::NotChlo
        });
    }
    let total = chlo_len(msg)?.ok_or(ChloError::Truncated)?;
    let msg = msg.get(..total).ok_or(ChloError::Truncated)?;
    let n = usize::from(le16(msg, 4).ok_or(ChloError::Truncated)?);
    let values_at = CHLO_HEADER_LEN.saturating_add(n.saturating_mul(ENTRY_LEN));
    let values = msg.get(values_at..).ok_or(ChloError::Truncated)?;
    let mut facts = ChloFacts::default();
    let mut prev_tag: Option<u32> = None;
    let mut start = 0usize;
    for i in 0..n {
        let at = CHLO_HEADER_LEN.saturating_add(i.saturating_mul(ENTRY_LEN));
        let tag = tag_at(msg, at).ok_or(ChloError::Truncated)?;
        let end = le32(msg, at.saturating_add(4)).ok_or(ChloError::Truncated)?;
        let end = usize::try_from(end).map_err(|_| ChloError::TooLong)?;
        let order = u32::from_le_bytes(tag);
        if prev_tag.is_some_and(|p| order <= p) || end < start {
            return Err(ChloError::OutOfOrder);
        }
        prev_tag = Some(order);
        // `values` is exactly as long as the last end offset says: a value running past
        // it has an end offset above the last one.
        let value = values.get(start..end).ok_or(ChloError::OutOfOrder)?;
        start = end;
        facts.tags.push(tag);
        match &tag {
            b"SNI\0" => facts.sni = Some(text(value, &mut facts.partial)),
            b"UAID" => facts.uaid = Some(text(value, &mut facts.partial)),
            b"VER\0" => facts.versions = tag_list(value, &mut facts.partial),
            b"AEAD" => facts.aead = tag_list(value, &mut facts.partial),
            _ => {}
        }
    }
    Ok(facts)
}

/// Builds a CHLO from `(tag, value)` pairs, sorted by tag as the wire wants: for tests,
/// benches and fuzz seeds (a sensor never writes one).
pub fn build_chlo(entries: &[([u8; 4], &[u8])]) -> Vec<u8> {
    let mut sorted: Vec<&([u8; 4], &[u8])> = entries.iter().collect();
    sorted.sort_by_key(|(t, _)| u32::from_le_bytes(*t));
    let mut out = CHLO.to_vec();
    let n = u16::try_from(sorted.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    let mut end = 0u32;
    for (tag, value) in &sorted {
        end = end.saturating_add(u32::try_from(value.len()).unwrap_or(u32::MAX));
        out.extend_from_slice(tag);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for (_, value) in &sorted {
        out.extend_from_slice(value);
    }
    out
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

    fn chrome_like() -> Vec<u8> {
        build_chlo(&[
            (*b"PAD\0", &[b'-'; 700]),
            (*b"SNI\0", b"www.example.com"),
            (*b"VER\0", b"Q050"),
            (*b"CCS\0", &[1, 2, 3, 4, 5, 6, 7, 8]),
            (*b"UAID", b"Chrome/80.0.3987.163 Linux x86_64"),
            (*b"AEAD", b"AESGCC20"),
            (*b"PDMD", b"X509"),
        ])
    }

    #[test]
    fn reads_a_chrome_like_chlo() {
        let m = chrome_like();
        assert_eq!(chlo_len(&m), Ok(Some(m.len())));
        let f = parse_chlo(&m).unwrap();
        assert_eq!(f.sni.as_deref(), Some(&b"www.example.com"[..]));
        assert_eq!(
            f.uaid.as_deref(),
            Some(&b"Chrome/80.0.3987.163 Linux x86_64"[..])
        );
        assert_eq!(f.versions, vec![*b"Q050"]);
        assert_eq!(f.aead, vec![*b"AESG", *b"CC20"]);
        assert_eq!(f.tags.len(), 7);
        assert!(!f.partial);
        // Bytes after the message are not read.
        let mut longer = m.clone();
        longer.extend_from_slice(b"trailing");
        assert_eq!(parse_chlo(&longer).unwrap(), f);
    }

    #[test]
    fn length_is_known_from_the_table() {
        let m = chrome_like();
        assert_eq!(chlo_len(&m[..2]), Ok(None));
        assert_eq!(chlo_len(&m[..8]), Ok(None));
        assert_eq!(chlo_len(&m[..8 + 7 * 8]), Ok(Some(m.len())));
        assert_eq!(chlo_len(b"CHX"), Err(ChloError::NotChlo));
        assert_eq!(chlo_len(&[1, 0, 1, 0]), Err(ChloError::NotChlo));
        assert_eq!(chlo_len(b"CHLO\0\0\0\0"), Ok(Some(8)));
    }

    #[test]
    fn refusals() {
        let m = chrome_like();
        assert_eq!(parse_chlo(&m[..m.len() - 1]), Err(ChloError::Truncated));
        assert_eq!(parse_chlo(b"CH"), Err(ChloError::Truncated));
        assert_eq!(parse_chlo(b"SHLO\0\0\0\0"), Err(ChloError::NotChlo));
        let mut many = b"CHLO".to_vec();
        many.extend_from_slice(&129u16.to_le_bytes());
        many.extend_from_slice(&[0; 2]);
        assert_eq!(parse_chlo(&many), Err(ChloError::TooManyTags));
        let mut long = b"CHLO\x01\0\0\0SNI\0".to_vec();
        long.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_chlo(&long), Err(ChloError::TooLong));
        // Tags out of order: UAID (0x44494155) before SNI (0x00494e53) as u32.
        let mut swapped = b"CHLO\x02\0\0\0UAID\x01\0\0\0SNI\0\x02\0\0\0ab".to_vec();
        assert_eq!(parse_chlo(&swapped), Err(ChloError::OutOfOrder));
        swapped[8..12].copy_from_slice(b"SNI\0");
        swapped[16..20].copy_from_slice(b"UAID");
        assert!(parse_chlo(&swapped).is_ok());
        // End offsets going down.
        let down = b"CHLO\x02\0\0\0SNI\0\x02\0\0\0UAID\x01\0\0\0ab";
        assert_eq!(parse_chlo(down), Err(ChloError::OutOfOrder));
    }

    #[test]
    fn long_values_are_cut_and_flagged() {
        let big = vec![b'a'; MAX_CHLO_TEXT + 10];
        let vers = vec![b'Q'; 4 * (MAX_CHLO_LIST + 1)];
        let m = build_chlo(&[(*b"SNI\0", &big), (*b"VER\0", &vers)]);
        let f = parse_chlo(&m).unwrap();
        assert_eq!(f.sni.unwrap().len(), MAX_CHLO_TEXT);
        assert_eq!(f.versions.len(), MAX_CHLO_LIST);
        assert!(f.partial);
    }

    proptest! {
        /// Total: any bytes give facts or an error, never a panic; what parses obeys the
        /// caps; `chlo_len` agrees with `parse_chlo` on where the message ends.
        #[test]
        fn any_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = chlo_len(&data);
            if let Ok(f) = parse_chlo(&data) {
                prop_assert!(f.tags.len() <= MAX_CHLO_TAGS);
                prop_assert!(f.sni.as_ref().is_none_or(|s| s.len() <= MAX_CHLO_TEXT));
                prop_assert!(f.versions.len() <= MAX_CHLO_LIST);
                let n = chlo_len(&data).unwrap().unwrap();
                prop_assert!(n <= data.len());
            }
        }

        /// Any bytes after a valid header: the CHLO prefix forces the parser past the tag
        /// check, into the table and values.
        #[test]
        fn any_table(n in 0u16..200, rest in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let mut m = b"CHLO".to_vec();
            m.extend_from_slice(&n.to_le_bytes());
            m.extend_from_slice(&[0, 0]);
            m.extend_from_slice(&rest);
            let _ = chlo_len(&m);
            let _ = parse_chlo(&m);
        }

        /// Every CHLO built from valid entries reads back, and every cut of it is
        /// `Truncated`, never a wrong answer.
        #[test]
        fn round_trip_and_cuts(
            sni in "[a-z0-9.-]{0,60}",
            ua in "[ -~]{0,80}",
            pad in 0usize..600,
            cut in any::<prop::sample::Index>(),
        ) {
            let padding = vec![b'-'; pad];
            let m = build_chlo(&[
                (*b"SNI\0", sni.as_bytes()),
                (*b"UAID", ua.as_bytes()),
                (*b"PAD\0", &padding),
            ]);
            let f = parse_chlo(&m).unwrap();
            prop_assert_eq!(f.sni.as_deref(), Some(sni.as_bytes()));
            prop_assert_eq!(f.uaid.as_deref(), Some(ua.as_bytes()));
            let at = cut.index(m.len());
            prop_assert_eq!(parse_chlo(&m[..at]), Err(ChloError::Truncated));
        }
    }
}
