//! What a round checks: every configured sending IP and every sending domain, each once. Ranges are
//! expanded address by address up to `blocklists.max_range_addresses` per range; a range the cap cuts
//! is reported (`blocklist.range_truncated`), never silently shortened.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::json;

use super::Target;
use crate::config::{DomainName, DomainSettings};
use crate::findings::{Finding, FindingCode, Severity};

/// A range larger than the cap: how big it is and how much of it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The configured range.
    pub range: IpNet,
    /// Its usable addresses (IPv4 without network and broadcast; `None` for an IPv6 /0, 2^128).
    pub size: Option<u128>,
    /// How many of them are checked (the first ones).
    pub checked: usize,
}

/// The targets of a round, deduplicated, in configuration order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    targets: Vec<Target>,
    seen: HashSet<Target>,
    truncations: Vec<Truncation>,
}

impl Targets {
    /// No targets yet.
    pub fn new() -> Self {
        Targets::default()
    }

    /// Every sending IP (ranges expanded up to `max_range_addresses` each) and every domain of the
    /// configured `domains`.
    pub fn from_config(domains: &[DomainSettings], max_range_addresses: usize) -> Self {
        let mut targets = Targets::new();
        for d in domains {
            for net in &d.sending_ips {
                targets.add_net(*net, max_range_addresses);
            }
        }
        for d in domains {
            targets.add_domain(d.name.clone());
        }
        targets
    }

    /// Add one IP.
    pub fn add_ip(&mut self, ip: IpAddr) -> &mut Self {
        self.push(Target::Ip(ip));
        self
    }

    /// Add one domain.
    pub fn add_domain(&mut self, domain: DomainName) -> &mut Self {
        self.push(Target::Domain(domain));
        self
    }

    /// Add a configured address or range: a single address (/32, /128) as itself, a range as its usable
    /// addresses (IPv4 without network and broadcast below /31), at most `cap` of them.
    pub fn add_net(&mut self, net: IpNet, cap: usize) -> &mut Self {
        if net.prefix_len() == net.max_prefix_len() {
            return self.add_ip(net.addr());
        }
        let net = net.trunc();
        for ip in net.hosts().take(cap) {
            self.push(Target::Ip(ip));
        }
        let size = usable_addresses(&net);
        if size.is_none_or(|size| size > cap as u128) {
            self.truncations.push(Truncation {
                range: net,
                size,
                checked: cap,
            });
        }
        self
    }

    fn push(&mut self, target: Target) {
        if self.seen.insert(target.clone()) {
            self.targets.push(target);
        }
    }

    /// The targets, each once.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// How many targets there are.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Ranges the cap cut.
    pub fn truncations(&self) -> &[Truncation] {
        &self.truncations
    }

    /// One `blocklist.range_truncated` finding (warning) per range the cap cut.
    pub fn findings(&self) -> Vec<Finding> {
        self.truncations
            .iter()
            .map(|t| {
                let size = t
                    .size
                    .map_or_else(|| "2^128".to_owned(), |s| s.to_string());
                Finding::new(
                    FindingCode::BlocklistRangeTruncated,
                    Severity::Warning,
                    format!(
                        "{} has {size} addresses but only the first {} are checked against blocklists; \
                         raise blocklists.max_range_addresses or list the addresses you really send from.",
                        t.range, t.checked
                    ),
                )
                .with_detail(json!({
                    "target": t.range.to_string(),
                    "addresses": size,
                    "checked": t.checked,
                }))
            })
            .collect()
    }
}

/// The number of addresses `hosts()` yields (`None` when it does not fit in a u128: an IPv6 /0).
fn usable_addresses(net: &IpNet) -> Option<u128> {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let all = 1u128.checked_shl(bits)?;
    Some(match net {
        IpNet::V4(_) if net.prefix_len() < 31 => all - 2,
        _ => all,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, ips: &[&str]) -> DomainSettings {
        DomainSettings {
            name: DomainName::parse(name).unwrap(),
            dkim_selectors: vec![],
            sending_ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn ranges_expand_up_to_the_cap_and_say_so() {
        let t = Targets::from_config(
            &[
                domain(
                    "a.example",
                    &["192.0.2.10/32", "198.51.100.0/29", "2001:db8::/126"],
                ),
                domain("b.example", &["192.0.2.10/32", "2001:db8:1::/64"]),
            ],
            4,
        );
        let shown: Vec<String> = t.targets().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "192.0.2.10",
                "198.51.100.1",
                "198.51.100.2",
                "198.51.100.3",
                "198.51.100.4",
                "2001:db8::",
                "2001:db8::1",
                "2001:db8::2",
                "2001:db8::3",
                "2001:db8:1::",
                "2001:db8:1::1",
                "2001:db8:1::2",
                "2001:db8:1::3",
                "a.example",
                "b.example",
            ]
        );
        // /29 has 6 usable addresses > 4; /126 has exactly 4; the /64 is cut.
        let cut: Vec<String> = t
            .truncations()
            .iter()
            .map(|x| x.range.to_string())
            .collect();
        assert_eq!(cut, ["198.51.100.0/29", "2001:db8:1::/64"]);
        let findings = t.findings();
        assert_eq!(findings[1].code, FindingCode::BlocklistRangeTruncated);
        assert!(findings[1].message.starts_with(
            "2001:db8:1::/64 has 18446744073709551616 addresses but only the first 4"
        ));
    }

    #[test]
    fn sizes_do_not_overflow() {
        assert_eq!(usable_addresses(&"::/0".parse().unwrap()), None);
        assert_eq!(usable_addresses(&"10.0.0.0/31".parse().unwrap()), Some(2));
        assert_eq!(
            usable_addresses(&"0.0.0.0/0".parse().unwrap()),
            Some((1u128 << 32) - 2)
        );
        let mut t = Targets::new();
        t.add_net("::/0".parse().unwrap(), 2);
        assert_eq!(t.len(), 2);
        assert!(t.findings()[0].message.contains("2^128"));
    }
}
