//! Server-side request forgery guard for webhook URLs. A URL is checked when it is saved
//! and again for every connection: the delivery client resolves names through
//! [`GuardedResolver`], which drops forbidden addresses, so the address connected to is
//! the address checked and a DNS answer that changes in between cannot reach inside.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What URLs may point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// Allows `http` to loopback addresses (local development and tests). Otherwise only
    /// `https` to public addresses.
    pub allow_loopback_http: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    #[error("is not a valid absolute URL")]
    Unparseable,
    #[error("must use https")]
    Scheme,
    #[error("must not carry credentials")]
    Credentials,
    #[error("must name a host")]
    NoHost,
    #[error("points at a forbidden address ({addr}: {reason})")]
    Forbidden { addr: IpAddr, reason: &'static str },
    #[error("host {0} does not resolve")]
    Unresolvable(String),
}

/// Why an address may not be connected to, if it may not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([10, 0, 0, 0], 8, "private"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 168, 0, 0], 16, "private"),
        ([169, 254, 0, 0], 16, "link-local or cloud metadata"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved or broadcast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96)
    // forms reach the embedded IPv4 address: judge that instead.
    let embedded =
        |s: &[u16; 8]| Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if seg[..5] == [0, 0, 0, 0, 0] && (seg[5] == 0xffff || seg[5] == 0) {
        return Some(forbidden_v4(embedded(&seg)).unwrap_or("IPv4-mapped"));
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(&seg));
    }
    if seg[0] == 0x2002 {
        // 6to4 embeds an IPv4 address in bits 16..48.
        let v4 = Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        );
        if let Some(r) = forbidden_v4(v4) {
            return Some(r);
        }
    }
    match seg[0] {
        s if s & 0xfe00 == 0xfc00 => Some("unique-local"),
        s if s & 0xffc0 == 0xfe80 => Some("link-local"),
        s if s & 0xffc0 == 0xfec0 => Some("site-local"),
        s if s & 0xff00 == 0xff00 => Some("multicast"),
        0x2001 if seg[1] == 0x0db8 => Some("documentation"),
        _ => None,
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

impl UrlPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), SsrfError> {
        if self.allow_loopback_http && is_loopback(ip) {
            return Ok(());
        }
        match forbidden_reason(ip) {
            Some(reason) => Err(SsrfError::Forbidden { addr: ip, reason }),
            None => Ok(()),
        }
    }

    /// Checks what can be checked without DNS: scheme, credentials, IP literals.
    pub fn check_syntax(&self, raw: &str) -> Result<Url, SsrfError> {
        let url = Url::parse(raw.trim()).map_err(|_| SsrfError::Unparseable)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_loopback_http => {}
            _ => return Err(SsrfError::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SsrfError::Credentials);
        }
        let host = url.host_str().ok_or(SsrfError::NoHost)?;
        // The URL parser normalises IPv4 literals (127.1, 0x7f000001) to dotted form.
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            self.check_ip(ip)?;
        }
        Ok(url)
    }

    /// Resolves the URL's host and checks every address; `http` must stay on loopback.
    pub async fn check_resolved(&self, url: &Url) -> Result<(), SsrfError> {
        let host = url.host_str().ok_or(SsrfError::NoHost)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| SsrfError::Unresolvable(host.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(SsrfError::Unresolvable(host.to_string()));
        }
        for a in &addrs {
            self.check_ip(a.ip())?;
            if url.scheme() == "http" && !is_loopback(a.ip()) {
                return Err(SsrfError::Scheme);
            }
        }
        Ok(())
    }

    /// Both checks, for a URL about to be saved.
    pub async fn check(&self, raw: &str) -> Result<Url, SsrfError> {
        let url = self.check_syntax(raw)?;
        self.check_resolved(&url).await?;
        Ok(url)
    }
}

/// A DNS resolver for the delivery client that only yields allowed addresses, so every
/// connection is checked at the moment it is made.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: UrlPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| policy.check_ip(a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match all.first() {
                    Some(a) => Box::new(
                        policy
                            .check_ip(a.ip())
                            .err()
                            .unwrap_or(SsrfError::Unresolvable(host.clone())),
                    ),
                    None => Box::new(SsrfError::Unresolvable(host)),
                };
                return Err(err);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl GuardedResolver {
    pub fn shared(policy: UrlPolicy) -> Arc<Self> {
        Arc::new(Self { policy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
        ] {
            assert!(
                forbidden_reason(ip(bad)).is_some(),
                "{bad} should be forbidden"
            );
        }
        for good in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "8.8.8.8",
        ] {
            assert_eq!(forbidden_reason(ip(good)), None, "{good} should be allowed");
        }
    }

    #[test]
    fn production_policy_wants_https_to_public_addresses() {
        let p = UrlPolicy::default();
        assert_eq!(
            p.check_syntax("http://example.com/").unwrap_err(),
            SsrfError::Scheme
        );
        assert_eq!(
            p.check_syntax("ftp://example.com/").unwrap_err(),
            SsrfError::Scheme
        );
        assert_eq!(
            p.check_syntax("not a url").unwrap_err(),
            SsrfError::Unparseable
        );
        assert_eq!(
            p.check_syntax("https://u:p@example.com/").unwrap_err(),
            SsrfError::Credentials
        );
        for literal in [
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:7f00:1]/",
            "https://127.1/",
            "https://0x7f000001/",
        ] {
            assert!(
                matches!(p.check_syntax(literal), Err(SsrfError::Forbidden { .. })),
                "{literal}"
            );
        }
        assert!(p.check_syntax("https://hooks.example.com/x?y=1").is_ok());
    }

    #[test]
    fn development_policy_allows_loopback_http_only() {
        let p = UrlPolicy {
            allow_loopback_http: true,
        };
        assert!(p.check_syntax("http://127.0.0.1:9000/hook").is_ok());
        assert!(matches!(
            p.check_syntax("http://169.254.169.254/"),
            Err(SsrfError::Forbidden { .. })
        ));
        assert!(matches!(
            p.check_syntax("http://10.0.0.1/"),
            Err(SsrfError::Forbidden { .. })
        ));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_allowed() {
        let strict = UrlPolicy::default();
        let url = Url::parse("https://localhost:9/").unwrap();
        assert!(matches!(
            strict.check_resolved(&url).await,
            Err(SsrfError::Forbidden { .. })
        ));
        let dev = UrlPolicy {
            allow_loopback_http: true,
        };
        assert!(dev.check("http://localhost:9/").await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_yields_no_forbidden_address() {
        let r = GuardedResolver {
            policy: UrlPolicy::default(),
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
        let r = GuardedResolver {
            policy: UrlPolicy {
                allow_loopback_http: true,
            },
        };
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = r.resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
