//! Parsers for the network-shaped values of the config: listen and nameserver addresses, sending IPs and
//! ranges, blocklist answer codes, DKIM selectors and zone names. Each returns the typed value or a
//! sentence saying what is wrong and what to write instead.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;

use super::model::{CodeRange, DomainName};

/// `server.listen`: an IP address and a port.
pub(super) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Err(format!(
            "{text:?} has no port; write e.g. {}",
            SocketAddr::new(ip, 9797)
        ));
    }
    Err(format!(
        "{text:?} is not an IP address and port; write e.g. 127.0.0.1:9797 or [::1]:9797 (host names are not resolved)"
    ))
}

/// `dns.nameservers[]`: `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`; port 53 when none is given.
pub(super) fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    let addr = if let Ok(addr) = text.parse::<SocketAddr>() {
        addr
    } else if let Ok(ip) = text.parse::<IpAddr>() {
        SocketAddr::new(ip, 53)
    } else if let Some(ip) = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<IpAddr>().ok())
    {
        SocketAddr::new(ip, 53)
    } else if looks_like_host_name(text.rsplit_once(':').map_or(text, |(host, _)| host)) {
        // The resolver cannot look up the address of the server it would need to ask.
        return Err(format!(
            "{text:?} is a host name; nameservers must be IP addresses, e.g. 9.9.9.9, 127.0.0.1:5300 or [::1]:53"
        ));
    } else {
        return Err(format!(
            "{text:?} is not a nameserver address; write IP or IP:PORT, e.g. 9.9.9.9, 127.0.0.1:5300 or [::1]:53"
        ));
    };
    if addr.port() == 0 {
        return Err(format!("{text:?} has port 0; DNS servers listen on 53"));
    }
    Ok(addr)
}

/// `domains[].sending_ips[]`: an address or a CIDR range with no host bits set.
pub(super) fn parse_ip_or_net(text: &str) -> Result<IpNet, String> {
    let Some((addr, prefix)) = text.split_once('/') else {
        return match text.parse::<IpAddr>() {
            Ok(ip) => Ok(IpNet::from(ip)),
            Err(_) if looks_like_host_name(text) => Err(format!(
                "{text:?} is a host name; list IP addresses or CIDR ranges, e.g. 192.0.2.10 or 2001:db8::/64"
            )),
            Err(_) => Err(format!(
                "{text:?} is not an IP address or CIDR range; write e.g. 192.0.2.10, 192.0.2.0/28 or 2001:db8::/64"
            )),
        };
    };
    let ip = addr
        .parse::<IpAddr>()
        .map_err(|_| format!("{text:?} is not a CIDR range: {addr:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = prefix
        .parse::<u8>()
        .ok()
        .filter(|len| *len <= max)
        .ok_or_else(|| {
            format!("{text:?} is not a CIDR range: the prefix length must be 0 to {max}")
        })?;
    let net = IpNet::new(ip, len).map_err(|e| format!("{text:?} is not a CIDR range: {e}"))?;
    if net.trunc() != net {
        return Err(format!(
            "{text:?} has host bits set; write {} for the whole network, or {ip} for the one address",
            net.trunc()
        ));
    }
    Ok(net)
}

/// `blocklists.extra[].listed[]` / `refused[]`: `127.0.0.2`, `127.0.0.10-127.0.0.11` or `127.0.1.0/24`.
///
/// RFC 5782 §2.1: a DNSxL answers with A records in 127.0.0.0/8 (commonly 127.0.0.2), so a code outside
/// that network can never be a list's answer: it is a resolver rewriting NXDOMAIN.
pub(super) fn parse_code_range(text: &str) -> Result<CodeRange, String> {
    let range = if let Some((first, last)) = text.split_once('-') {
        let first = code(text, first.trim())?;
        let last = code(text, last.trim())?;
        if first > last {
            return Err(format!(
                "{text:?} runs backwards; write the lower code first ({last}-{first})"
            ));
        }
        CodeRange { first, last }
    } else if text.contains('/') {
        let net = match parse_ip_or_net(text)? {
            IpNet::V4(net) => net,
            IpNet::V6(_) => return Err(outside_loopback(text)),
        };
        CodeRange {
            first: net.network(),
            last: net.broadcast(),
        }
    } else {
        let one = code(text, text)?;
        CodeRange {
            first: one,
            last: one,
        }
    };
    if !(range.first.is_loopback() && range.last.is_loopback()) {
        return Err(outside_loopback(text));
    }
    Ok(range)
}

fn code(whole: &str, part: &str) -> Result<Ipv4Addr, String> {
    part.parse::<Ipv4Addr>().map_err(|_| {
        format!(
            "{whole:?} is not an answer code; write 127.0.0.2, a range 127.0.0.10-127.0.0.11 or a network 127.0.1.0/24"
        )
    })
}

fn outside_loopback(text: &str) -> String {
    format!(
        "{text:?} is outside 127.0.0.0/8, where blocklists answer (RFC 5782 §2.1); an answer there is a rewritten NXDOMAIN, never a listing"
    )
}

/// `domains[].dkim_selectors[]`, lower-cased.
///
/// RFC 6376 §3.1: `selector = sub-domain *( "." sub-domain )`, sub-domains being RFC 5321 labels
/// (letters, digits, inner hyphens). Underscores are accepted as DNS accepts them, so a selector a
/// provider really publishes is never refused.
pub(super) fn parse_selector(text: &str) -> Result<String, String> {
    let selector = text.to_ascii_lowercase();
    let labels_ok = !selector.is_empty()
        && selector.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if selector.split('.').any(|label| label == "_domainkey") {
        return Err(format!(
            "{text:?} includes _domainkey; write the selector alone (the part before ._domainkey)"
        ));
    }
    if !labels_ok {
        return Err(format!(
            "{text:?} is not a DKIM selector; selectors are DNS labels of letters, digits and inner hyphens, e.g. s1 or google (RFC 6376 §3.1)"
        ));
    }
    Ok(selector)
}

/// A blocklist zone name (`bl.example.net`), normalized.
pub(super) fn parse_zone(text: &str) -> Result<String, String> {
    let zone = DomainName::parse(text).map_err(|e| format!("not a DNS zone name: {e}"))?;
    if !zone.as_str().contains('.') {
        return Err(format!(
            "{text:?} is a single label; a blocklist zone looks like bl.example.net"
        ));
    }
    Ok(zone.as_str().to_owned())
}

/// Whether `text` reads as a host name (has a letter and only name characters) rather than a garbled
/// address, to pick the more useful message.
fn looks_like_host_name(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_take_a_port_or_default_to_53() {
        let cases = [
            ("127.0.0.1:5300", "127.0.0.1:5300"),
            ("9.9.9.9", "9.9.9.9:53"),
            ("[::1]:53", "[::1]:53"),
            ("::1", "[::1]:53"),
            ("[2001:db8::1]", "[2001:db8::1]:53"),
        ];
        for (text, addr) in cases {
            assert_eq!(
                parse_nameserver(text).map(|a| a.to_string()),
                Ok(addr.into())
            );
        }
    }

    #[test]
    fn nameserver_host_names_are_refused_by_name() {
        for text in ["dns.google", "resolver.local:53"] {
            let err = parse_nameserver(text).unwrap_err();
            assert!(err.contains("is a host name"), "{err}");
        }
        assert!(
            parse_nameserver("1.2.3")
                .unwrap_err()
                .contains("not a nameserver address")
        );
        assert!(
            parse_nameserver("127.0.0.1:0")
                .unwrap_err()
                .contains("port 0")
        );
    }

    #[test]
    fn listen_needs_ip_and_port() {
        assert_eq!(parse_listen("127.0.0.1:9797").map(|a| a.port()), Ok(9797));
        assert!(
            parse_listen("127.0.0.1")
                .unwrap_err()
                .contains("write e.g. 127.0.0.1:9797")
        );
        assert!(parse_listen("::1").unwrap_err().contains("[::1]:9797"));
        assert!(
            parse_listen("localhost:9797")
                .unwrap_err()
                .contains("host names")
        );
    }

    #[test]
    fn cidr_with_host_bits_names_the_network_meant() {
        assert_eq!(
            parse_ip_or_net("192.0.2.10/24").unwrap_err(),
            "\"192.0.2.10/24\" has host bits set; write 192.0.2.0/24 for the whole network, or 192.0.2.10 for the one address"
        );
        assert!(
            parse_ip_or_net("2001:db8::1/64")
                .unwrap_err()
                .contains("2001:db8::/64")
        );
    }

    #[test]
    fn ips_and_ranges_parse() {
        assert_eq!(
            parse_ip_or_net("192.0.2.10").map(|n| n.prefix_len()),
            Ok(32)
        );
        assert_eq!(
            parse_ip_or_net("2001:db8::/126").map(|n| n.prefix_len()),
            Ok(126)
        );
        assert!(
            parse_ip_or_net("192.0.2.0/33")
                .unwrap_err()
                .contains("0 to 32")
        );
        assert!(
            parse_ip_or_net("300.1.1.1")
                .unwrap_err()
                .contains("not an IP address")
        );
        assert!(
            parse_ip_or_net("mail.example.com")
                .unwrap_err()
                .contains("host name")
        );
    }

    #[test]
    fn answer_codes_stay_in_loopback() {
        let r = parse_code_range("127.0.0.10-127.0.0.11").unwrap();
        assert!(r.contains(Ipv4Addr::new(127, 0, 0, 11)));
        assert!(!r.contains(Ipv4Addr::new(127, 0, 0, 12)));
        let net = parse_code_range("127.0.1.0/24").unwrap();
        assert_eq!(
            (net.first, net.last),
            (Ipv4Addr::new(127, 0, 1, 0), Ipv4Addr::new(127, 0, 1, 255))
        );
        assert!(
            parse_code_range("10.0.0.2")
                .unwrap_err()
                .contains("outside 127.0.0.0/8")
        );
        assert!(
            parse_code_range("127.0.0.9-127.0.0.2")
                .unwrap_err()
                .contains("backwards")
        );
        assert!(
            parse_code_range("127.0.0.x")
                .unwrap_err()
                .contains("not an answer code")
        );
    }

    #[test]
    fn selectors_are_dns_labels() {
        assert_eq!(parse_selector("S1"), Ok("s1".into()));
        assert_eq!(parse_selector("s1.mail"), Ok("s1.mail".into()));
        for bad in ["", "s 1", "-s1", "s1.", "a/b"] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
