//! Numbers and addresses as ASCII text, written digit by digit.
//!
//! Every event carries two addresses, several numbers and often DNS answers; going
//! through `core::fmt` for them cost more than the rest of the event's JSON (a
//! `Formatter`, padding checks and a virtual call per piece). These writers produce
//! exactly what `Display` produces (the tests compare them), without it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Somewhere ASCII text can be appended: the JSON byte buffer or an event's `String`.
pub trait AsciiSink {
    /// Appends one byte, which must be ASCII (every caller here writes digits,
    /// hex digits, `.`, `:` or literals).
    fn push_ascii(&mut self, b: u8);
    /// Appends bytes that are all ASCII.
    fn push_ascii_bytes(&mut self, b: &[u8]);
    fn push_str_ascii(&mut self, s: &str) {
        self.push_ascii_bytes(s.as_bytes());
    }
}

impl AsciiSink for Vec<u8> {
    fn push_ascii(&mut self, b: u8) {
        self.push(b);
    }
    fn push_ascii_bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

impl AsciiSink for String {
    fn push_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.push(char::from(b));
    }
    fn push_ascii_bytes(&mut self, b: &[u8]) {
        // ASCII is UTF-8; the check is a short loop, cheaper than a push per byte.
        self.push_str(std::str::from_utf8(b).unwrap_or_default());
    }
    fn push_str_ascii(&mut self, s: &str) {
        self.push_str(s);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the decimal digits of `v` (built on the stack, appended in one go).
pub fn push_u64(out: &mut impl AsciiSink, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_ascii_bytes(&buf[i..]);
}

/// Appends `v` in lower-case hex without leading zeros (`{:x}`).
pub fn push_hex_u16(out: &mut impl AsciiSink, v: u16) {
    let mut started = false;
    for shift in [12u16, 8, 4, 0] {
        let d = (v >> shift) & 0x0f;
        if d != 0 || started || shift == 0 {
            started = true;
            out.push_ascii(HEX[usize::from(d)]);
        }
    }
}

/// Appends `v` as exactly `width` lower-case hex digits (`{:0width$x}`, `width` ≤ 8).
pub fn push_hex_fixed(out: &mut impl AsciiSink, v: u32, width: u32) {
    for i in (0..width.min(8)).rev() {
        out.push_ascii(HEX[((v >> (i * 4)) & 0x0f) as usize]);
    }
}

/// Dotted-quad form, as `Ipv4Addr`'s `Display` (built on the stack: at most 15
/// bytes, appended in one go).
pub fn push_ipv4(out: &mut impl AsciiSink, ip: Ipv4Addr) {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    out.push_ascii_bytes(&buf[..n]);
}

/// RFC 5952 text, as `Ipv6Addr`'s `Display` writes it: lower-case hex without leading
/// zeros, the first longest run of two or more zero groups as `::`, and IPv4-mapped
/// addresses as `::ffff:a.b.c.d`.
pub fn push_ipv6(out: &mut impl AsciiSink, ip: Ipv6Addr) {
    // Assembled on the stack (at most 39 bytes), appended in one go.
    let mut text = StackText::default();
    write_ipv6(&mut text, ip);
    out.push_ascii_bytes(text.as_bytes());
}

fn write_ipv6(out: &mut StackText, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.push_str_ascii("::ffff:");
        push_ipv4(out, v4);
        return;
    }
    let seg = ip.segments();
    // The first longest run of zero groups (RFC 5952 §4.2.3).
    let (mut best_start, mut best_len) = (0, 0);
    let (mut start, mut len) = (0, 0);
    for (i, &s) in seg.iter().enumerate() {
        if s == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                (best_start, best_len) = (start, len);
            }
        } else {
            len = 0;
        }
    }
    if best_len > 1 {
        push_groups(out, &seg[..best_start]);
        out.push_str_ascii("::");
        push_groups(out, &seg[best_start + best_len..]);
    } else {
        push_groups(out, &seg);
    }
}

/// A small buffer on the stack that is itself a sink. Longest IPv6 text: 39 bytes.
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackText {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl AsciiSink for StackText {
    fn push_ascii(&mut self, b: u8) {
        // Never full for an address; a full buffer would drop the byte, not panic.
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }
    fn push_ascii_bytes(&mut self, b: &[u8]) {
        for &c in b {
            self.push_ascii(c);
        }
    }
}

fn push_groups(out: &mut impl AsciiSink, groups: &[u16]) {
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            out.push_ascii(b':');
        }
        push_hex_u16(out, g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v6(ip: Ipv6Addr) -> String {
        let mut s = String::new();
        push_ipv6(&mut s, ip);
        s
    }

    #[test]
    fn numbers_match_display() {
        for v in [0u64, 7, 10, 99, 100, 65535, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        for v in [0u16, 1, 0xf, 0x10, 0xab, 0x100, 0xfff, 0x1000, 0xffff] {
            let mut s = String::new();
            push_hex_u16(&mut s, v);
            assert_eq!(s, format!("{v:x}"));
        }
        let mut s = String::new();
        push_hex_fixed(&mut s, 1, 8);
        push_hex_fixed(&mut s, 0xfe0d, 4);
        assert_eq!(s, "00000001fe0d");
    }

    #[test]
    fn ipv6_forms() {
        for text in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:1:1:1:1:1",
            "2001:0:0:1::1",
            "2001:db8::1:0:0:1",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "fe80::1:2:3:4",
            "1:2:3:4:5:6:7:8",
            "1:0:2:0:3:0:4:0",
        ] {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert_eq!(v6(ip), ip.to_string(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn ipv6_matches_display(segs in proptest::array::uniform8(
            prop_oneof![Just(0u16), Just(0xffffu16), any::<u16>()]
        )) {
            let ip = Ipv6Addr::from(segs);
            prop_assert_eq!(v6(ip), ip.to_string());
        }

        #[test]
        fn ipv4_matches_display(o in any::<[u8; 4]>()) {
            let ip = Ipv4Addr::from(o);
            let mut v = Vec::new();
            push_ipv4(&mut v, ip);
            prop_assert_eq!(String::from_utf8(v).unwrap(), ip.to_string());
        }
    }
}
