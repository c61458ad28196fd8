//! Owned heads: what c2tap keeps of a request or response head, and the views of the
//! request-target that events need (absolute-form, authority-form).

use super::InvalidKind;

/// Body framing a head announces (RFC 9112 §6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Framing {
    /// Content-Length, when present and valid (several equal values count as one).
    pub content_length: Option<u64>,
    /// Transfer-Encoding's last coding is `chunked` (it then wins over Content-Length).
    pub chunked: bool,
    /// A Content-Length that is not a number or conflicts with another, or a
    /// Transfer-Encoding whose last coding is not chunked: the length is unknown.
    pub invalid: Option<InvalidKind>,
}

/// An owned request head. Strings are raw wire bytes; `event::http` turns them into
/// text with `event::text::wire_text`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Vec<u8>,
    /// The request-target as sent: origin-form `/p?q`, absolute-form `http://h/p`,
    /// authority-form `h:443` (CONNECT) or `*`.
    pub uri: Vec<u8>,
    /// Minor version: `HTTP/1.<minor>`.
    pub version_minor: u8,
    /// An HTTP/0.9 simple request (RFC 1945 §4.1): `GET target`, no version, no headers.
    pub simple: bool,
    /// First Host header, raw (port included).
    pub host: Option<Vec<u8>>,
    pub user_agent: Option<Vec<u8>>,
    pub referer: Option<Vec<u8>>,
    /// Every Cookie header, joined with `; ` (RFC 6265 §5.4), for the proxy `cs-cookie`.
    pub cookie: Option<Vec<u8>>,
    pub framing: Framing,
    /// The head was longer than [`super::MAX_HEAD_BYTES`]: fields come from its first 16 KiB.
    pub truncated: bool,
    /// The fast parser refused the head and the lenient one read it (obs-fold, bytes
    /// outside the grammar, more than [`super::MAX_HEADERS`] headers).
    pub lenient: bool,
}

impl RequestHead {
    pub fn content_length(&self) -> Option<u64> {
        self.framing.content_length
    }

    pub fn transfer_encoding_chunked(&self) -> bool {
        self.framing.chunked
    }

    /// `HTTP/1.1`, `HTTP/0.9` for a simple request.
    pub fn version(&self) -> String {
        if self.simple {
            return "HTTP/0.9".to_owned();
        }
        format!("HTTP/1.{}", self.version_minor)
    }

    pub fn is_connect(&self) -> bool {
        self.method == b"CONNECT"
    }

    pub fn is_head(&self) -> bool {
        self.method == b"HEAD"
    }

    /// The authority of an absolute-form target (`http://user@h:8080/p` → `h:8080`) or of
    /// a CONNECT's authority-form target; `None` for origin-form.
    pub fn target_authority(&self) -> Option<&[u8]> {
        if self.is_connect() {
            return Some(&self.uri);
        }
        split_absolute(&self.uri).map(|(authority, _)| authority)
    }

    /// Path and query of the target: an absolute-form target loses its scheme and
    /// authority (`http://h/p?q` → `/p?q`, `http://h` → `/`); other forms are kept.
    pub fn path(&self) -> &[u8] {
        match split_absolute(&self.uri) {
            Some((_, path)) if !path.is_empty() => path,
            Some(_) => b"/",
            None => &self.uri,
        }
    }

    /// The Host header, else the target's authority (absolute-form, CONNECT): where a
    /// proxy request is going when the client sent no Host.
    pub fn effective_host(&self) -> Option<&[u8]> {
        self.host.as_deref().or_else(|| self.target_authority())
    }

    /// Heap bytes held, for the pending queue's byte cap.
    pub fn heap_bytes(&self) -> usize {
        let opt = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, Vec::len);
        self.method
            .len()
            .saturating_add(self.uri.len())
            .saturating_add(opt(&self.host))
            .saturating_add(opt(&self.user_agent))
            .saturating_add(opt(&self.referer))
            .saturating_add(opt(&self.cookie))
    }
}

/// `scheme://authority/rest` → (authority without userinfo, `/rest` or `?q` or empty).
fn split_absolute(uri: &[u8]) -> Option<(&[u8], &[u8])> {
    let sep = uri.windows(3).position(|w| w == b"://")?;
    let scheme = uri.get(..sep)?;
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
    {
        return None;
    }
    let after = uri.get(sep.checked_add(3)?..)?;
    let end = after
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(after.len());
    let (authority, rest) = after.split_at_checked(end)?;
    let host = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at.checked_add(1)?..)?,
        None => authority,
    };
    Some((host, rest))
}

/// An owned response head: what matching and body skipping need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub version_minor: u8,
    pub framing: Framing,
    pub truncated: bool,
    pub lenient: bool,
}
