//! The allow-list of the behavioural stage: servers that are periodic by design (update
//! checks, telemetry, NTP-like polling), by name suffix, address or CIDR block. A pair or
//! a domain on it is never tracked, so it costs no state and never alerts. (Single
//! alerts are better suppressed with a Sigma filter on the Beacon or DnsTunnel event.)

use std::net::IpAddr;

/// Entries accepted: the list is read once from the configuration and tested per
/// check-in by a linear scan, so it is kept to what a person writes by hand.
pub const MAX_ALLOW_ENTRIES: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Lowercase, without a leading `*.` or `.`: `windowsupdate.com`.
    suffixes: Vec<String>,
    /// Network address and prefix length.
    nets: Vec<(IpAddr, u8)>,
}

impl AllowList {
    /// Parses entries: `*.example.com`, `.example.com` or `example.com` (that name and
    /// every name under it), `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for (i, raw) in entries.into_iter().enumerate() {
            if i >= MAX_ALLOW_ENTRIES {
                return Err(format!("more than {MAX_ALLOW_ENTRIES} allow-list entries"));
            }
            let e = raw.trim();
            if let Some((addr, len)) = e.split_once('/') {
                let ip: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("allow-list entry {e:?}: not an address before '/'"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let len: u8 =
                    len.parse().ok().filter(|l| *l <= max).ok_or_else(|| {
                        format!("allow-list entry {e:?}: prefix length over {max}")
                    })?;
                list.nets.push((ip, len));
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                list.nets.push((ip, if ip.is_ipv4() { 32 } else { 128 }));
            } else {
                let name = e.trim_start_matches("*.").trim_start_matches('.');
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(format!(
                        "allow-list entry {raw:?}: not a name, address or CIDR"
                    ));
                }
                list.suffixes.push(name);
            }
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.suffixes.is_empty() && self.nets.is_empty()
    }

    /// Whether a server (its address, and its name when known) is allowed.
    pub fn allows(&self, ip: IpAddr, name: Option<&str>) -> bool {
        if self.is_empty() {
            return false;
        }
        if self.nets.iter().any(|&(net, len)| in_net(ip, net, len)) {
            return true;
        }
        let Some(name) = name else {
            return false;
        };
        let name = name.trim_end_matches('.');
        self.suffixes.iter().any(|s| {
            name.len() >= s.len()
                && name
                    .get(name.len().saturating_sub(s.len())..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
                && (name.len() == s.len()
                    || name
                        .as_bytes()
                        .get(name.len().saturating_sub(s.len()).saturating_sub(1))
                        == Some(&b'.'))
        })
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX
                .checked_shl(32u32.saturating_sub(u32::from(len)))
                .unwrap_or(0);
            a.to_bits() & mask == n.to_bits() & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(len)))
                .unwrap_or(0);
            a.to_bits() & mask == n.to_bits() & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn names_addresses_and_blocks() {
        let list = AllowList::parse([
            "*.windowsupdate.com",
            ".Ntp.Example.",
            "time.example.org",
            "10.0.0.0/8",
            "192.0.2.7",
            "2001:db8::/32",
        ])
        .unwrap_or_default();
        let none = ip("198.51.100.1");
        assert!(list.allows(none, Some("fe2.update.windowsupdate.com")));
        assert!(list.allows(none, Some("WINDOWSUPDATE.COM.")));
        assert!(
            !list.allows(none, Some("evilwindowsupdate.com")),
            "a label boundary"
        );
        assert!(list.allows(none, Some("pool.ntp.example")));
        assert!(list.allows(none, Some("time.example.org")));
        assert!(!list.allows(none, Some("example.org")));
        assert!(list.allows(ip("10.200.3.4"), None));
        assert!(!list.allows(ip("11.0.0.1"), None));
        assert!(list.allows(ip("192.0.2.7"), Some("x.test")));
        assert!(!list.allows(ip("192.0.2.8"), None));
        assert!(list.allows(ip("2001:db8:1::5"), None));
        assert!(!list.allows(ip("2001:db9::5"), None));
        assert!(!AllowList::default().allows(none, Some("windowsupdate.com")));
    }

    #[test]
    fn bad_entries_are_refused_with_their_text() {
        for bad in ["10.0.0.0/33", "nonsense/8", "", "a b", "::/129"] {
            let err = AllowList::parse([bad]).err().unwrap_or_default();
            assert!(err.contains("allow-list entry"), "{bad:?}: {err}");
        }
        let many: Vec<String> = (0..=MAX_ALLOW_ENTRIES)
            .map(|i| format!("h{i}.test"))
            .collect();
        assert!(AllowList::parse(many.iter().map(String::as_str)).is_err());
    }
}
