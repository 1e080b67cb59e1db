//! Where a target's browsers may go (ARCHITECTURE.md invariant 8): its allowed host
//! patterns, and no loopback, link-local (the cloud metadata address), private or otherwise
//! internal address unless the target explicitly allows private networks. The same rules
//! are checked when a target is saved and, in the worker's filtering proxy, on every
//! request a page makes, after DNS resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `example.com` (that host only) or `*.example.com` (any subdomain, not the apex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    wildcard: bool,
    host: String,
}

impl HostPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim().to_ascii_lowercase();
        let (wildcard, host) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, raw.clone()),
        };
        if host.parse::<IpAddr>().is_ok() && !wildcard {
            return Ok(HostPattern { wildcard, host });
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(valid_label) {
            return Err(format!(
                "{raw:?} is not a host name or `*.domain` pattern (no scheme, port or path)"
            ));
        }
        Ok(HostPattern { wildcard, host })
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if self.wildcard {
            host.len() > self.host.len()
                && host.ends_with(&self.host)
                && host.as_bytes()[host.len() - self.host.len() - 1] == b'.'
        } else {
            host == self.host
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            write!(f, "*.{}", self.host)
        } else {
            f.write_str(&self.host)
        }
    }
}

/// Why an address is not public, or `None` when it is.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 embeds an IPv4 address in the last 32 bits.
                internal_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ))
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation")
            } else {
                None
            }
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if o == [169, 254, 169, 254] {
        Some("cloud metadata")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast()
        || ip.is_multicast()
        || o[0] >= 240
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        Some("reserved")
    } else {
        None
    }
}

/// A target's egress rules.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    pub allowed_hosts: Vec<HostPattern>,
    pub allow_private_network: bool,
}

/// A refused destination, worded for the step's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("egress refused: {host} is not among the target's allowed hosts")]
    HostNotAllowed { host: String },
    #[error(
        "egress refused: {host} resolves to {ip}, a {kind} address, and the target does not allow private networks"
    )]
    InternalAddress {
        host: String,
        ip: IpAddr,
        kind: &'static str,
    },
}

impl Refusal {
    pub fn host(&self) -> &str {
        match self {
            Refusal::HostNotAllowed { host } | Refusal::InternalAddress { host, .. } => host,
        }
    }
}

impl EgressPolicy {
    /// The host-name rule alone (before DNS).
    pub fn check_host(&self, host: &str) -> Result<(), Refusal> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if self.allowed_hosts.iter().any(|p| p.matches(bare)) {
            Ok(())
        } else {
            Err(Refusal::HostNotAllowed {
                host: bare.to_owned(),
            })
        }
    }

    /// The address rule, for every address the host resolved to.
    pub fn check_addresses(&self, host: &str, addrs: &[IpAddr]) -> Result<(), Refusal> {
        if self.allow_private_network {
            return Ok(());
        }
        for ip in addrs {
            if let Some(kind) = internal_kind(*ip) {
                return Err(Refusal::InternalAddress {
                    host: host.to_owned(),
                    ip: *ip,
                    kind,
                });
            }
        }
        Ok(())
    }
}

/// A literal IP host's address, if it is one.
pub fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
        .or_else(|| host.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("Example.com").unwrap();
        assert!(exact.matches("example.com") && exact.matches("EXAMPLE.com."));
        assert!(!exact.matches("www.example.com") && !exact.matches("badexample.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches("a.example.com") && wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com") && !wild.matches("aexample.com"));
        assert!(
            HostPattern::parse("127.0.0.1")
                .unwrap()
                .matches("127.0.0.1")
        );
        for bad in [
            "https://example.com",
            "example.com:80",
            "a/b",
            "",
            "*.",
            "-a.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_addresses() {
        for (ip, internal) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("8.8.8.8", false),
            ("::1", true),
            ("::", true),
            ("fe80::1", true),
            ("fd00::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:8.8.8.8", false),
            ("64:ff9b::a9fe:a9fe", true),
            ("2606:4700::1111", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(internal_kind(ip).is_some(), internal, "{ip}");
        }
        assert_eq!(
            internal_kind("169.254.169.254".parse().unwrap()),
            Some("cloud metadata")
        );
    }
}
