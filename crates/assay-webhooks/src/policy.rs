//! Which network addresses webhook deliveries may reach.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;
use url::{Host, Url};

/// Which network targets deliveries may reach.
///
/// By default only public unicast addresses. Refused are, for IPv4: `0.0.0.0/8` (with the
/// unspecified address), loopback `127.0.0.0/8`, RFC 1918 private ranges, link-local
/// `169.254.0.0/16` (with the cloud metadata address `169.254.169.254`), CGNAT
/// `100.64.0.0/10`, the IETF protocol range `192.0.0.0/24`, the documentation and
/// benchmarking ranges, the deprecated 6to4 relay range, multicast, the reserved
/// `240.0.0.0/4` and broadcast. For IPv6: the unspecified address and loopback, everything
/// outside global unicast `2000::/3` (ULA `fc00::/7`, link-local `fe80::/10`, multicast,
/// discard-only, local-use NAT64), and within it `2001::/23` (Teredo, benchmarking, ORCHID)
/// and the documentation ranges. IPv6 forms that embed an IPv4 address — IPv4-mapped
/// `::ffff:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16` — are
/// refused when the embedded address is.
///
/// `allow` lists ranges the operator re-allows, whatever the rules above say (tests allow
/// `127.0.0.0/8` and `::1/128`). An IPv4-mapped IPv6 address is re-allowed when its IPv4
/// address is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Ranges re-allowed on top of the default public-only rule.
    pub allow: Vec<IpNet>,
}

impl TargetPolicy {
    /// A policy re-allowing the given ranges: CIDRs such as `127.0.0.0/8` and `::1/128`, or
    /// bare addresses (a single host). Surrounding whitespace is ignored; an empty or
    /// unreadable entry is an error naming it.
    pub fn parse_allow(list: &[String]) -> Result<Self, String> {
        let allow = list
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                let net = if entry.contains('/') {
                    IpNet::from_str(entry).ok()
                } else {
                    IpAddr::from_str(entry).ok().map(IpNet::from)
                };
                net.map(|net| net.trunc()).ok_or_else(|| {
                    format!("`{entry}` in the webhook allow list is neither an IP address nor a CIDR range")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    /// Whether deliveries may connect to `ip`: it is public unicast, or in an allowed range.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.is_allowed(ip) || refusal(ip).is_none()
    }

    /// A check of a webhook URL usable at configuration time, without DNS: the scheme is
    /// `http` or `https`, there is a host and no userinfo, and a literal IP host (or
    /// `localhost` / `*.localhost`) is one the policy permits. Returns the parsed URL.
    ///
    /// A host name passing here may still resolve to a refused address; [`crate::Sender`]
    /// checks every resolved address when it connects.
    pub fn check_url(&self, url: &str) -> Result<Url, String> {
        let url = parse_target(url)?;
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                if is_localhost(name)
                    && !self.permits(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    && !self.permits(IpAddr::V6(Ipv6Addr::LOCALHOST))
                {
                    return Err(format!(
                        "the webhook host `{name}` is the local machine (loopback), which the \
                         target policy refuses"
                    ));
                }
            }
            None => return Err("the webhook URL has no host".to_string()),
        }
        Ok(url)
    }

    /// `Err` with a message saying why, when the policy refuses `ip`.
    pub(crate) fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.is_allowed(ip) {
            return Ok(());
        }
        match refusal(ip) {
            None => Ok(()),
            Some(why) => Err(format!(
                "the webhook target {ip} is {why}, which the target policy refuses \
                 (only public addresses may be reached unless an operator allows the range)"
            )),
        }
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }
}

/// Parses a webhook URL and checks its form: `http` or `https`, a host, no userinfo.
pub(crate) fn parse_target(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url.trim()).map_err(|e| format!("not a valid webhook URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "a webhook URL must use http or https, not `{}`",
            parsed.scheme()
        ));
    }
    if parsed.host().is_none() {
        return Err("the webhook URL has no host".to_string());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "a webhook URL may not carry a user name or password (sign messages with a secret \
             instead)"
                .to_string(),
        );
    }
    Ok(parsed)
}

/// `localhost` and the names under it (RFC 6761), which always mean this machine.
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Why the default rules refuse `ip`, or `None` for a public unicast address.
fn refusal(ip: IpAddr) -> Option<Cow<'static, str>> {
    match ip {
        IpAddr::V4(v4) => v4_refusal(v4).map(Cow::Borrowed),
        IpAddr::V6(v6) => v6_refusal(v6),
    }
}

/// IPv4 ranges that are not public unicast, first match wins (broadcast before reserved).
const V4_REFUSED: &[([u8; 4], u32, &str)] = &[
    (
        [0, 0, 0, 0],
        8,
        "in \"this network\" 0.0.0.0/8 (unspecified)",
    ),
    ([10, 0, 0, 0], 8, "private (RFC 1918)"),
    ([100, 64, 0, 0], 10, "shared CGNAT space 100.64.0.0/10"),
    ([127, 0, 0, 0], 8, "loopback"),
    (
        [169, 254, 0, 0],
        16,
        "link-local (where cloud metadata services live)",
    ),
    ([172, 16, 0, 0], 12, "private (RFC 1918)"),
    (
        [192, 0, 0, 0],
        24,
        "in the IETF protocol range 192.0.0.0/24",
    ),
    ([192, 0, 2, 0], 24, "a documentation address (TEST-NET-1)"),
    ([192, 88, 99, 0], 24, "in the deprecated 6to4 relay range"),
    ([192, 168, 0, 0], 16, "private (RFC 1918)"),
    ([198, 18, 0, 0], 15, "a benchmarking address"),
    (
        [198, 51, 100, 0],
        24,
        "a documentation address (TEST-NET-2)",
    ),
    ([203, 0, 113, 0], 24, "a documentation address (TEST-NET-3)"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([255, 255, 255, 255], 32, "the broadcast address"),
    ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
];

fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4_REFUSED
        .iter()
        .find(|(net, prefix, _)| {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            bits & mask == u32::from_be_bytes(*net) & mask
        })
        .map(|(_, _, why)| *why)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn v6_refusal(ip: Ipv6Addr) -> Option<Cow<'static, str>> {
    if ip.is_unspecified() {
        return Some("the unspecified address".into());
    }
    if ip.is_loopback() {
        return Some("loopback".into());
    }
    let low_v4 = {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    let embedded = |form: &str, v4: Ipv4Addr| {
        v4_refusal(v4).map(|why| Cow::Owned(format!("the {form} form of {v4}, which is {why}")))
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return embedded("IPv4-mapped", v4);
    }
    if in_v6(ip, [0; 8], 96) {
        return embedded("IPv4-compatible", low_v4);
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return embedded("NAT64", low_v4);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return embedded("6to4", Ipv4Addr::new(a, b, c, d));
    }
    const V6_REFUSED: &[([u16; 8], u32, &str)] = &[
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "a unique local address (fc00::/7)",
        ),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local (fe80::/10)"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (fec0::/10)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "local-use NAT64 (64:ff9b:1::/48)",
        ),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (100::/64)"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "in the IETF protocol range 2001::/23 (Teredo, benchmarking, ORCHID)",
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "a documentation address (2001:db8::/32)",
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            "a documentation address (3fff::/20)",
        ),
    ];
    if let Some((_, _, why)) = V6_REFUSED
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        return Some(Cow::Borrowed(why));
    }
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some("outside global unicast 2000::/3".into());
    }
    None
}
