//! The lenient line parser: the slow path for heads httparse refuses.
//!
//! It reads a head the way tolerant servers and Wireshark do: lines end at `\n` (a `\r`
//! before it is dropped), a line starting with SP/HTAB continues the previous header
//! (obs-fold, RFC 9112 §5.2), a header line without a colon or with an empty name is
//! skipped, and bytes outside the grammar are kept raw. Only a request (status) line
//! that cannot be read makes the head invalid: without it there is no request.

use super::InvalidKind;
use super::fields::{HeadBuilder, trim};
use super::head::{RequestHead, ResponseHead};

/// Lines of `head` without their terminators, stopping at the first empty line after
/// the start line. Empty lines before the start line are skipped (RFC 9112 §2.2).
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
}

fn is_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t')
}

/// `HTTP/1.<d>` → d. `case_insensitive` for status lines (see `probe_response`).
fn version_minor(v: &[u8], case_insensitive: bool) -> Option<u8> {
    let (name, minor) = v.split_at_checked(7)?;
    let ok = if case_insensitive {
        name.eq_ignore_ascii_case(b"HTTP/1.")
    } else {
        name == b"HTTP/1."
    };
    match minor {
        [d @ b'0'..=b'9'] if ok => Some(d.wrapping_sub(b'0')),
        _ => None,
    }
}

/// RFC 9110 §5.6.2 tchar.
pub(super) fn is_tchar(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b)
}

fn headers<'a>(b: &mut HeadBuilder, rest: impl Iterator<Item = &'a [u8]>) {
    for line in rest {
        if line.first().is_some_and(is_space) {
            b.continuation(trim(line));
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            // Not a header: forget the previous one so nothing is folded into it.
            b.header(b"", b"");
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = trim(name);
        let value = trim(value.get(1..).unwrap_or_default());
        b.header(name, value);
    }
}

/// Reads a request head. `truncated` marks a head cut at the byte cap.
pub(super) fn request(head: &[u8], truncated: bool) -> Result<RequestHead, InvalidKind> {
    let mut it = lines(head);
    let start = it.next().ok_or(InvalidKind::RequestLine)?;
    // method SP target SP version, where the target is everything between the first and
    // the last run of spaces: clients that send unescaped spaces in the path keep it.
    let start = trim(start);
    let m_end = start
        .iter()
        .position(is_space)
        .ok_or(InvalidKind::RequestLine)?;
    let v_start = start
        .iter()
        .rposition(is_space)
        .and_then(|i| i.checked_add(1))
        .ok_or(InvalidKind::RequestLine)?;
    let method = start.get(..m_end).ok_or(InvalidKind::RequestLine)?;
    let version = start.get(v_start..).ok_or(InvalidKind::RequestLine)?;
    let target = trim(start.get(m_end..v_start).unwrap_or_default());
    if method.is_empty() || !method.iter().all(is_tchar) || target.is_empty() {
        return Err(InvalidKind::RequestLine);
    }
    let minor = version_minor(version, false).ok_or(InvalidKind::RequestLine)?;
    let mut b = HeadBuilder::default();
    b.head.method = method.to_vec();
    b.head.uri = target.to_vec();
    b.head.version_minor = minor;
    headers(&mut b, it);
    let mut head = b.finish();
    head.truncated = truncated;
    head.lenient = true;
    Ok(head)
}

/// Reads a response head: `HTTP/1.x SP 3DIGIT [SP reason]`, version in any case.
pub(super) fn response(head: &[u8], truncated: bool) -> Result<ResponseHead, InvalidKind> {
    let mut it = lines(head);
    let start = it.next().ok_or(InvalidKind::StatusLine)?;
    let mut parts = start.split(is_space).filter(|p| !p.is_empty());
    let version = parts.next().ok_or(InvalidKind::StatusLine)?;
    let minor = version_minor(version, true).ok_or(InvalidKind::StatusLine)?;
    let status = match parts.next() {
        Some(&[a, b, c]) if [a, b, c].iter().all(u8::is_ascii_digit) => {
            [a, b, c].iter().fold(0u16, |n, d| {
                n.wrapping_mul(10)
                    .wrapping_add(u16::from(d.wrapping_sub(b'0')))
            })
        }
        _ => return Err(InvalidKind::StatusLine),
    };
    let mut b = HeadBuilder::default();
    headers(&mut b, it);
    Ok(ResponseHead {
        status,
        version_minor: minor,
        framing: b.finish_framing(),
        truncated,
        lenient: true,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spaces_in_target_and_bare_lf() {
        let h = request(b"\r\nGET /a b  HTTP/1.1\nHost:  h \n\n", false).unwrap();
        assert_eq!(h.uri, b"/a b");
        assert_eq!(h.host.as_deref(), Some(&b"h"[..]));
    }

    #[test]
    fn fold_after_skipped_header_is_dropped() {
        let h = request(
            b"GET / HTTP/1.1\r\nX: 1\r\n more\r\nHost: h\r\n\tcont\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(h.host.as_deref(), Some(&b"h cont"[..]));
    }

    #[test]
    fn status_line_forms() {
        assert_eq!(
            response(b"HTTP/1.1 200\r\n\r\n", false).unwrap().status,
            200
        );
        assert_eq!(
            response(b"hTTp/1.0   404   Not Found\r\n\r\n", false)
                .unwrap()
                .status,
            404
        );
        assert!(response(b"HTTP/2 200\r\n\r\n", false).is_err());
        assert!(response(b"HTTP/1.1 20\r\n\r\n", false).is_err());
    }
}
