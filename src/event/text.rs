//! Turning wire bytes into event text.
//!
//! Strings from the wire may hold any bytes. Valid UTF-8 is kept as it is (the JSON
//! writer escapes control characters as `\u00XX`); every byte that is not part of valid
//! UTF-8 becomes the four characters `\xNN`, so the JSON is always valid and the bytes
//! can be recovered. A literal backslash is kept as it is: rules written for Sysmon
//! match URIs and names with backslashes unchanged.

/// Longest text c2tap keeps from one wire value, in bytes of output. Names are capped
/// far lower by their parsers; this bounds the values that have no protocol cap (URIs,
/// User-Agents) at the size of an HTTP request head.
pub const MAX_WIRE_TEXT: usize = 16 * 1024;

/// Text for `bytes`, and whether it had to be cut at [`MAX_WIRE_TEXT`].
pub fn wire_text(bytes: &[u8]) -> (String, bool) {
    let mut out = String::with_capacity(bytes.len().min(MAX_WIRE_TEXT));
    let truncated = push_wire_text(&mut out, bytes);
    (out, truncated)
}

/// Appends the text for `bytes` to `out`; returns true when it was cut.
pub fn push_wire_text(out: &mut String, mut bytes: &[u8]) -> bool {
    let limit = out.len().saturating_add(MAX_WIRE_TEXT);
    while !bytes.is_empty() {
        match std::str::from_utf8(bytes) {
            Ok(valid) => return push_capped(out, valid, limit),
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // SAFETY-free: `valid_up_to` marks a UTF-8 boundary by definition.
                if push_capped(out, std::str::from_utf8(valid).unwrap_or(""), limit) {
                    return true;
                }
                let bad = e.error_len().unwrap_or(rest.len()).min(rest.len());
                for b in rest.iter().take(bad) {
                    if out.len() + 4 > limit {
                        return true;
                    }
                    push_hex_escape(out, *b);
                }
                bytes = rest.get(bad..).unwrap_or(&[]);
            }
        }
    }
    false
}

fn push_capped(out: &mut String, s: &str, limit: usize) -> bool {
    let room = limit.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
        return false;
    }
    let mut cut = room;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&s[..cut]);
    true
}

fn push_hex_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    out.push('x');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_kept() {
        assert_eq!(
            wire_text("héllo\u{1}".as_bytes()),
            ("héllo\u{1}".into(), false)
        );
    }

    #[test]
    fn invalid_bytes_are_escaped() {
        assert_eq!(wire_text(b"a\xffb\xc3"), ("a\\xffb\\xc3".into(), false));
    }

    #[test]
    fn long_values_are_capped_and_flagged() {
        let big = vec![b'a'; MAX_WIRE_TEXT + 10];
        let (s, cut) = wire_text(&big);
        assert!(cut);
        assert_eq!(s.len(), MAX_WIRE_TEXT);
    }
}

/// A short ASCII text held inline (numbers written for an event), so that building it
/// allocates nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Short {
    bytes: [u8; 24],
    len: u8,
}

impl Short {
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        std::str::from_utf8(b).unwrap_or("")
    }
}

impl super::ascii::AsciiSink for Short {
    fn push_ascii(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }
    fn push_ascii_bytes(&mut self, b: &[u8]) {
        for &c in b {
            self.push_ascii(c);
        }
    }
}

impl Short {
    /// `x` with `decimals` digits after the point (at most 6); a value that is not a
    /// finite number, or is negative, is 0.
    pub fn fixed(x: f64, decimals: u32) -> Short {
        use super::ascii::AsciiSink;
        let decimals = decimals.min(6);
        let x = if x.is_finite() && x > 0.0 { x } else { 0.0 };
        let scale = 10u64.pow(decimals);
        // Rounded to the last digit; values past u64 are not scores.
        let n = (x * scale as f64).round().min(u64::MAX as f64) as u64;
        let mut s = Short::default();
        super::ascii::push_u64(&mut s, n / scale);
        if decimals > 0 {
            s.push_ascii(b'.');
            let frac = n % scale;
            let mut place = scale / 10;
            while place > 0 {
                s.push_ascii(b'0' + (frac / place % 10) as u8);
                place /= 10;
            }
        }
        s
    }
}

#[cfg(test)]
mod short_tests {
    use super::Short;

    #[test]
    fn fixed_point_text() {
        assert_eq!(Short::fixed(0.93449, 3).as_str(), "0.934");
        assert_eq!(Short::fixed(0.9995, 3).as_str(), "1.000");
        assert_eq!(Short::fixed(61.25, 1).as_str(), "61.3");
        assert_eq!(Short::fixed(7.0, 0).as_str(), "7");
        assert_eq!(Short::fixed(f64::NAN, 3).as_str(), "0.000");
        assert_eq!(Short::fixed(-1.0, 2).as_str(), "0.00");
    }
}
