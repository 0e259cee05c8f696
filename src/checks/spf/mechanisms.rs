//! The mechanisms of RFC 7208 §5 as check_host() evaluates them: `all`, `ip4`/`ip6`, `a`, `mx`, `ptr`,
//! `exists` and `include`, with targets expanded (a validated `%{p}` looked up first) and addresses of the
//! client's family compared under CIDR lengths.

use std::net::IpAddr;

use crate::dns::{Lookup, LookupError};

use super::eval::{Evaluator, Inner, MX_LIMIT, PTR_LIMIT, Step};
use super::record::{DomainSpec, Mechanism};
use super::request::SpfResult;

impl Evaluator<'_> {
    pub(super) async fn mechanism(
        &mut self,
        domain: &str,
        term: &str,
        mechanism: &Mechanism,
    ) -> Step {
        if mechanism.costs_lookup() {
            self.count_lookup(domain, term)?;
        }
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4 { addr, prefix } => Ok(in_network(self.ip, IpAddr::V4(*addr), *prefix)),
            Mechanism::Ip6 { addr, prefix } => Ok(in_network(self.ip, IpAddr::V6(*addr), *prefix)),
            Mechanism::A { domain: spec, cidr } => {
                let target = self.target(spec.as_ref(), domain).await;
                let prefix = self.prefix(cidr.v4, cidr.v6);
                let addresses = self.addresses(&target).await;
                self.match_addresses(addresses, &target, term, prefix)
            }
            Mechanism::Mx { domain: spec, cidr } => {
                let target = self.target(spec.as_ref(), domain).await;
                let prefix = self.prefix(cidr.v4, cidr.v6);
                self.mx(&target, term, prefix).await
            }
            Mechanism::Ptr(spec) => {
                let target = self.target(spec.as_ref(), domain).await;
                self.ptr(&target).await
            }
            Mechanism::Exists(spec) => {
                let target = self.target(Some(spec), domain).await;
                // RFC 7208 §5.7: "The lookup type is A even when the connection type is IPv6."
                let answer = self.dns.a(&target).await;
                match answer {
                    Err(LookupError::InvalidName(_)) => Ok(false),
                    Err(e) => Err(temperror(term, &target, &e)),
                    Ok(a) if a.is_void() => {
                        self.count_void(&format!("`{term}` ({target})"))?;
                        Ok(false)
                    }
                    Ok(_) => Ok(true),
                }
            }
            Mechanism::Include(spec) => {
                let target = self.target(Some(spec), domain).await;
                let inner = self.check_host_inner(target.clone(), true).await;
                // RFC 7208 §5.2: pass matches; fail, softfail and neutral do not; temperror and
                // permerror propagate; none becomes permerror.
                match inner.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError | SpfResult::PermError => {
                        // A loop unwinds through the same includes until the lookup limit stops it:
                        // name each hop once, not once per time round the loop.
                        let hop = format!("`{term}` in {domain}: ");
                        let reason = if inner.reason.contains(&hop) {
                            inner.reason
                        } else {
                            format!("{hop}{}", inner.reason)
                        };
                        Err(Inner::stop(inner.result, reason))
                    }
                    SpfResult::None => Err(Inner::stop(
                        SpfResult::PermError,
                        format!(
                            "`{term}` in {domain} points to a domain without SPF: {}",
                            inner.reason
                        ),
                    )),
                }
            }
        }
    }

    /// The `mx` mechanism (RFC 7208 §5.4): every MX host's addresses of the client's family.
    pub(super) async fn mx(&mut self, target: &str, term: &str, prefix: u8) -> Step {
        let hosts = match self.dns.mx(target).await {
            Err(LookupError::InvalidName(_)) => return Ok(false),
            Err(e) => return Err(temperror(term, target, &e)),
            Ok(a) if a.is_void() => {
                self.count_void(&format!("`{term}` ({target})"))?;
                return Ok(false);
            }
            Ok(a) => a.records().to_vec(),
        };
        if hosts.len() > MX_LIMIT {
            return Err(Inner::stop(
                SpfResult::PermError,
                format!(
                    "`{term}`: {target} has {} MX records; RFC 7208 §4.6.4 allows {MX_LIMIT}",
                    hosts.len()
                ),
            ));
        }
        // RFC 7505 null MX: "." names no host to look up.
        for host in hosts.iter().filter(|h| !h.exchange.is_empty()) {
            let addresses = self.addresses(&host.exchange).await;
            if self.match_addresses(addresses, &host.exchange, term, prefix)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The `ptr` mechanism (RFC 7208 §5.5).
    pub(super) async fn ptr(&mut self, target: &str) -> Step {
        let names = match self.dns.ptr(self.ip).await {
            // RFC 7208 §5.5: "If a DNS error occurs while doing the PTR RR lookup, then this mechanism
            // fails to match."
            Err(_) => return Ok(false),
            Ok(a) if a.is_void() => {
                self.count_void(&format!("PTR {}", self.ip))?;
                return Ok(false);
            }
            Ok(a) => a.records().to_vec(),
        };
        let candidates: Vec<&String> = names
            .iter()
            .take(PTR_LIMIT)
            .filter(|n| is_within(n, target))
            .collect();
        for name in candidates {
            if self.validates(name).await {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// RFC 7208 §5.5: a PTR name is validated when its address lookup returns the client IP; "If a DNS
    /// error occurs while doing an A RR lookup, then that domain name is skipped".
    pub(super) async fn validates(&self, name: &str) -> bool {
        match self.addresses(name).await {
            Ok(a) => a.records().contains(&self.ip),
            Err(_) => false,
        }
    }

    /// `%{p}` (RFC 7208 §7.3): the validated name equal to the domain, else one under it, else any;
    /// `None` ("unknown") when none validates or the lookup fails.
    pub(super) async fn validated_name(&self, domain: &str) -> Option<String> {
        let names = self.dns.ptr(self.ip).await.ok()?.records().to_vec();
        let mut validated = Vec::new();
        for name in names.into_iter().take(PTR_LIMIT) {
            if self.validates(&name).await {
                validated.push(name);
            }
        }
        validated
            .iter()
            .find(|n| n.as_str() == domain)
            .or_else(|| validated.iter().find(|n| is_within(n, domain)))
            .or_else(|| validated.first())
            .cloned()
    }

    /// The target name of a mechanism or modifier: its domain-spec expanded, or the current domain.
    pub(super) async fn target(&self, spec: Option<&DomainSpec>, domain: &str) -> String {
        let Some(spec) = spec else {
            return domain.to_owned();
        };
        let validated = if spec.uses_validated_name() {
            self.validated_name(domain).await
        } else {
            None
        };
        spec.expand(&self.vars(domain, validated.as_deref()))
    }

    /// Addresses of the client's family at `name` (RFC 7208 §5.3: "using the type of lookup (A or
    /// AAAA) appropriate for the connection type").
    pub(super) async fn addresses(&self, name: &str) -> Lookup<IpAddr> {
        match self.ip {
            IpAddr::V4(_) => Ok(self.dns.a(name).await?.map(IpAddr::V4)),
            IpAddr::V6(_) => Ok(self.dns.aaaa(name).await?.map(IpAddr::V6)),
        }
    }

    pub(super) fn match_addresses(
        &mut self,
        answer: Lookup<IpAddr>,
        name: &str,
        term: &str,
        prefix: u8,
    ) -> Step {
        match answer {
            // A name that cannot be queried (empty or over-long label after macro expansion): RFC 7208
            // leaves this undefined; we treat it like a name that does not exist.
            Err(LookupError::InvalidName(_)) => Ok(false),
            Err(e) => Err(temperror(term, name, &e)),
            Ok(a) if a.is_void() => {
                self.count_void(&format!("`{term}` ({name})"))?;
                Ok(false)
            }
            Ok(a) => Ok(a
                .records()
                .iter()
                .any(|addr| in_network(self.ip, *addr, prefix))),
        }
    }

    pub(super) fn prefix(&self, v4: u8, v6: u8) -> u8 {
        match self.ip {
            IpAddr::V4(_) => v4,
            IpAddr::V6(_) => v6,
        }
    }
}

pub(super) fn temperror(term: &str, name: &str, error: &LookupError) -> Inner {
    Inner::stop(
        SpfResult::TempError,
        format!("`{term}`: looking up {name}: {error}"),
    )
}

/// Whether `name` is `domain` or a name under it (DNS names compare case-insensitively).
pub(super) fn is_within(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.to_ascii_lowercase(), domain.to_ascii_lowercase());
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// Whether `ip` is in `network/prefix` (different families never match).
pub(super) fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching_handles_zero_and_full_prefixes() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("192.0.2.55"), ip("192.0.2.0"), 24));
        assert!(!in_network(ip("192.0.3.55"), ip("192.0.2.0"), 24));
        assert!(in_network(ip("203.0.113.9"), ip("1.1.1.1"), 0));
        assert!(in_network(ip("192.0.2.1"), ip("192.0.2.1"), 32));
        assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(in_network(
            ip("cafe:babe:8000::"),
            ip("cafe:babe:8000::"),
            33
        ));
        assert!(!in_network(ip("cafe:babe::1"), ip("cafe:babe:8000::"), 33));
        assert!(!in_network(ip("1.2.3.4"), ip("::"), 0));
    }
}
