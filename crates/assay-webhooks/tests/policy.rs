//! The target policy: every refused range, public addresses, the operator's allow list, and
//! the configuration-time URL check.

use std::net::IpAddr;

use assay_webhooks::TargetPolicy;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn loopback_allowed() -> TargetPolicy {
    TargetPolicy::parse_allow(&["127.0.0.0/8".to_string(), "::1/128".to_string()])
        .expect("allow list")
}

const REFUSED_V4: &[&str] = &[
    // "this network" and unspecified
    "0.0.0.0",
    "0.1.2.3",
    // loopback
    "127.0.0.1",
    "127.255.255.254",
    // RFC 1918
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    // link-local, cloud metadata
    "169.254.0.1",
    "169.254.169.254",
    // CGNAT
    "100.64.0.1",
    "100.127.255.255",
    // IETF protocol assignments
    "192.0.0.8",
    // documentation
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.255",
    // benchmarking
    "198.18.0.1",
    "198.19.255.255",
    // deprecated 6to4 relay anycast
    "192.88.99.1",
    // multicast
    "224.0.0.1",
    "239.255.255.250",
    // reserved, broadcast
    "240.0.0.1",
    "255.255.255.255",
];

const REFUSED_V6: &[&str] = &[
    "::",
    "::1",
    // IPv4-mapped forms of refused IPv4 addresses
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0.0.0.0",
    "::ffff:100.64.0.1",
    // IPv4-compatible forms
    "::127.0.0.1",
    "::192.168.1.1",
    "::a9fe:a9fe",
    // NAT64 of refused IPv4 addresses
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.1.2.3",
    // 6to4 of refused IPv4 addresses
    "2002:7f00:1::1",
    "2002:c0a8:101::",
    // local-use NAT64
    "64:ff9b:1::8.8.8.8",
    // ULA
    "fc00::1",
    "fd12:3456:789a::1",
    // link-local, site-local
    "fe80::1",
    "febf:ffff::1",
    "fec0::1",
    // multicast
    "ff02::1",
    "ff0e::1",
    // discard-only
    "100::1",
    // IETF protocol assignments: Teredo, benchmarking, ORCHID
    "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:2::1",
    "2001:10::1",
    // documentation
    "2001:db8::1",
    "2001:db8:ffff::1",
    "3fff::1",
    // not global unicast
    "4000::1",
    "::2:0:0:1",
];

const PUBLIC: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "169.253.255.255",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
    "2001:4860:4860::8888",
    "2001:200::1",
    // Embedded public IPv4 addresses
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
];

#[test]
fn the_default_policy_refuses_every_non_public_range() {
    let policy = TargetPolicy::default();
    for addr in REFUSED_V4.iter().chain(REFUSED_V6) {
        assert!(!policy.permits(ip(addr)), "{addr} should be refused");
    }
}

#[test]
fn the_default_policy_permits_public_unicast() {
    let policy = TargetPolicy::default();
    for addr in PUBLIC {
        assert!(policy.permits(ip(addr)), "{addr} should be permitted");
    }
}

#[test]
fn the_allow_list_re_allows_loopback_only() {
    let policy = loopback_allowed();
    for addr in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        assert!(policy.permits(ip(addr)), "{addr} should be re-allowed");
    }
    for addr in [
        "10.0.0.1",
        "169.254.169.254",
        "::2",
        "fe80::1",
        "64:ff9b::127.0.0.1",
    ] {
        assert!(!policy.permits(ip(addr)), "{addr} should stay refused");
    }
    for addr in PUBLIC {
        assert!(policy.permits(ip(addr)), "{addr} should stay permitted");
    }
}

#[test]
fn the_allow_list_takes_cidrs_and_bare_addresses() {
    let policy = TargetPolicy::parse_allow(&[
        " 10.1.0.0/16 ".to_string(),
        "192.168.7.7".to_string(),
        "fd00::/8".to_string(),
        "fe80::1".to_string(),
    ])
    .expect("allow list");
    assert_eq!(policy.allow.len(), 4);
    for addr in ["10.1.200.3", "192.168.7.7", "fd00::5", "fe80::1"] {
        assert!(policy.permits(ip(addr)), "{addr}");
    }
    for addr in ["10.2.0.1", "192.168.7.8", "fc00::1", "fe80::2"] {
        assert!(!policy.permits(ip(addr)), "{addr}");
    }
    // Host bits in a CIDR are dropped.
    let truncated = TargetPolicy::parse_allow(&["10.9.8.7/8".to_string()]).expect("cidr");
    assert_eq!(truncated.allow[0].to_string(), "10.0.0.0/8");
    assert_eq!(
        TargetPolicy::parse_allow(&[]).expect("empty"),
        TargetPolicy::default()
    );
}

#[test]
fn unreadable_allow_entries_are_errors_naming_them() {
    for bad in [
        "",
        "localhost",
        "10.0.0.0/33",
        "10.0.0/8",
        "::1/129",
        "1.2.3.4/",
    ] {
        let err = TargetPolicy::parse_allow(&["127.0.0.0/8".to_string(), bad.to_string()])
            .expect_err(bad);
        assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
    }
}

fn refused(policy: &TargetPolicy, url: &str) -> String {
    match policy.check_url(url) {
        Ok(parsed) => panic!("{url} passed as {parsed}"),
        Err(message) => message,
    }
}

#[test]
fn check_url_refuses_bad_forms() {
    let policy = TargetPolicy::default();
    assert!(refused(&policy, "ftp://example.com/hook").contains("http or https"));
    assert!(refused(&policy, "file:///etc/passwd").contains("http or https"));
    assert!(refused(&policy, "mailto:ops@example.com").contains("http or https"));
    assert!(refused(&policy, "http://").contains("host"));
    assert!(refused(&policy, "http:///").contains("host"));
    assert!(refused(&policy, "not a url").contains("not a valid webhook URL"));
    assert!(refused(&policy, "").contains("not a valid webhook URL"));
    assert!(refused(&policy, "https://user@example.com/").contains("user name or password"));
    assert!(refused(&policy, "https://user:pw@example.com/").contains("user name or password"));
    assert!(refused(&policy, "https://:pw@example.com/").contains("user name or password"));
}

#[test]
fn check_url_refuses_local_and_private_literals() {
    let policy = TargetPolicy::default();
    for (url, why) in [
        ("http://localhost/hook", "loopback"),
        ("http://LOCALHOST.:8080/hook", "loopback"),
        ("https://api.localhost/hook", "loopback"),
        ("http://[::1]:3000/", "loopback"),
        ("http://127.0.0.1/", "loopback"),
        // Other spellings of 127.0.0.1 that URL parsing normalises.
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0:8000/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://[64:ff9b::10.0.0.1]/", "NAT64"),
        ("http://[fd00::1]/", "unique local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.1.1/", "CGNAT"),
    ] {
        let message = refused(&policy, url);
        assert!(message.contains(why), "{url}: {message}");
        assert!(message.contains("refuses"), "{url}: {message}");
    }
}

#[test]
fn check_url_accepts_public_targets() {
    let policy = TargetPolicy::default();
    for url in [
        "http://example.com",
        "https://example.com/hooks/assay?token=abc",
        "https://hooks.example.co.uk:8443/a/b",
        "http://93.184.215.14:8080/",
        "https://[2606:4700:4700::1111]/",
        // A name: resolved only when sending (localhost-like names are not special).
        "http://localhost.example.com/",
        "http://mylocalhost/",
    ] {
        let parsed = policy
            .check_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(matches!(parsed.scheme(), "http" | "https"));
    }
    assert_eq!(
        policy.check_url("HTTP://Example.COM").expect("ok").as_str(),
        "http://example.com/"
    );
}

#[test]
fn check_url_accepts_loopback_the_operator_allows() {
    let policy = loopback_allowed();
    for url in [
        "http://localhost:8080/",
        "http://127.0.0.1:9/",
        "http://[::1]/",
    ] {
        policy
            .check_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    assert!(refused(&policy, "http://10.0.0.1/").contains("private"));
    // Allowing IPv6 loopback alone is enough for localhost (the resolver keeps ::1 only).
    let v6_only = TargetPolicy::parse_allow(&["::1".to_string()]).expect("allow");
    v6_only.check_url("http://localhost/").expect("localhost");
    assert!(refused(&v6_only, "http://127.0.0.1/").contains("loopback"));
}
