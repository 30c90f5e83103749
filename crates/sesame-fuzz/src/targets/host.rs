//! The `Host` header (`sesame_axum::security`: Django's `split_domain_port` and
//! `validate_host`) and the client address taken from a trusted proxy's header
//! (`SecurityPolicy::client_ip`).
//!
//! Asserts: no panic; a host that splits is of `host_validation_re`'s shape (lower-case
//! letters, digits, `.` and `-`, or a bracketed IPv6 literal; a port of digits) and is the
//! lower-cased input again, less one trailing dot; `validate_host` accepts a domain only if it
//! is an allowed host, or under an allowed `.domain`; the client address is the connection's
//! or one written in the header.

use crate::Target;
use crate::input::{Input, join};
use sesame_axum::security::{SecurityPolicy, split_domain_port, validate_host};
use sesame_core::settings::Settings;
use std::net::{IpAddr, Ipv4Addr};

/// The target.
pub const TARGET: Target = Target {
    name: "host",
    about: "Host header: split_domain_port shape and round trip, validate_host, proxy client address",
    run,
    seeds,
};

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let host = input.text();
    let forwarded = input.text();
    let count = usize::from(input.byte() % 4);

    let (domain, port) = split_domain_port(&host);
    // ("", "") for a host of the wrong shape; ("", port) for "." with a port, as in Django
    // (the site refuses an empty domain either way).
    if !(domain.is_empty() && port.is_empty()) {
        let lower = host.to_ascii_lowercase();
        assert!(
            !domain.is_empty() || lower.starts_with(".:"),
            "{host:?} -> port {port:?} without a domain"
        );
        let bracketed = domain.starts_with('[');
        if bracketed {
            assert!(
                domain.ends_with(']')
                    && domain[1..domain.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
                "{host:?} -> {domain:?}"
            );
        } else {
            assert!(
                domain.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'-'),
                "{host:?} -> {domain:?}"
            );
        }
        assert!(
            port.bytes().all(|b| b.is_ascii_digit()),
            "{host:?} -> port {port:?}"
        );
        let rebuilt = |dot: &str| {
            if port.is_empty() {
                format!("{domain}{dot}")
            } else {
                format!("{domain}{dot}:{port}")
            }
        };
        assert!(
            lower == rebuilt("") || lower == rebuilt("."),
            "{host:?} -> ({domain:?}, {port:?})"
        );
    }
    let allowed = ["example.com".to_owned(), ".example.org".to_owned()];
    if validate_host(&domain, &allowed) {
        assert!(
            domain == "example.com" || domain == "example.org" || domain.ends_with(".example.org"),
            "{domain:?} passed"
        );
    }
    assert!(validate_host(&domain, &["*".to_owned()]));
    assert!(!validate_host(&domain, &[]));

    // The client address behind `count` trusted proxies.
    let mut settings = Settings::default();
    settings.security.trusted_proxy_header = "X-Forwarded-For".into();
    settings.security.trusted_proxy_count = count;
    let policy = SecurityPolicy::from_settings(&settings);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&forwarded) {
        headers.insert("x-forwarded-for", v);
    }
    let connection = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    if let Some(ip) = policy.client_ip(&headers, Some(connection)) {
        assert!(
            ip == connection || ip_written_in(&forwarded, ip),
            "{ip} from {forwarded:?}"
        );
    }
}

/// Whether one of the header's entries reads as `ip`.
fn ip_written_in(header: &str, ip: IpAddr) -> bool {
    header.split(',').map(str::trim).any(|e| {
        e.parse::<IpAddr>().ok() == Some(ip)
            || e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()) == Some(ip)
            || e.strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<IpAddr>().ok())
                == Some(ip)
    })
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        join(&[b"Example.COM.:8000", b"203.0.113.9, 10.0.0.1", b"\x01"]),
        join(&[b"[::1]:80", b"[2001:db8::1]:443,198.51.100.7", b"\x02"]),
        join(&[b"sub.example.org", b"::ffff:1.2.3.4", b"\x00"]),
        join(&[b"evil.com@example.com", b"", b"\x03"]),
    ]
}
