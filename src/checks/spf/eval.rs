//! check_host() (RFC 7208 §4–§7) through our DNS layer: record selection, every mechanism with CIDR
//! lengths, macros (including a validated `%{p}`), `include` and `redirect` semantics, `exp=`
//! explanations, and the processing limits (10 DNS-querying terms, 2 void lookups, 10 MX hosts per `mx`,
//! 10 PTR names per `ptr`, and an overall time limit).
//!
//! Public so that other code can explain a result, e.g. a DMARC report row's SPF verdict.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde::Serialize;

use crate::dns::{Answer, Lookup, LookupError, Lookups};

use super::macros::{MacroContext, MacroString, MacroVars};
use super::parse::parse;
use super::record::{DomainSpec, Mechanism, Qualifier, Record};
use super::select::{Selection, select};

/// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of those terms to 10".
pub const LOOKUP_LIMIT: u32 = 10;
/// RFC 7208 §4.6.4: "SPF implementations SHOULD limit "void lookups" to two."
pub const VOID_LIMIT: u32 = 2;
/// RFC 7208 §4.6.4: an `mx` "MUST NOT result in querying more than 10 address records"; we ask one
/// address type per host, so this is the most MX hosts an `mx` may have.
pub const MX_LIMIT: usize = 10;
/// RFC 7208 §4.6.4: for `ptr` and `%{p}`, "all records other than the first 10 MUST be ignored".
pub const PTR_LIMIT: usize = 10;
/// RFC 7208 §4.6.4: "MTAs or other processors SHOULD impose a limit on the maximum amount of elapsed
/// time to evaluate check_host(). Such a limit SHOULD allow at least 20 seconds."
pub const TIME_LIMIT: Duration = Duration::from_secs(20);

/// The result of check_host() (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpfResult {
    /// No SPF record, or no valid domain to check.
    None,
    /// The domain makes no assertion about the IP.
    Neutral,
    /// The IP is authorized.
    Pass,
    /// The IP is not authorized.
    Fail,
    /// The IP is probably not authorized.
    SoftFail,
    /// A transient (DNS) error.
    TempError,
    /// The domain's published records could not be interpreted.
    PermError,
}

impl SpfResult {
    /// The lower-case name (as in Received-SPF and the test suite).
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The inputs of check_host(): `<ip>`, `<domain>`, `<sender>`, plus the HELO name and receiver for
/// `%{h}` and `%{r}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRequest {
    /// The client IP.
    pub ip: IpAddr,
    /// The domain whose policy is checked.
    pub domain: String,
    /// `local@domain` (the local part is never empty: RFC 7208 §4.3 substitutes "postmaster").
    pub sender: String,
    /// The HELO/EHLO name, for `%{h}`.
    pub helo: String,
    /// This host's name, for `%{r}` in explanations.
    pub receiver: String,
    /// Give up with `temperror` after this long.
    pub time_limit: Duration,
}

impl SpfRequest {
    /// check_host(ip, domain, sender) with the HELO name set to the domain.
    pub fn new(ip: IpAddr, domain: &str, sender: &str) -> Self {
        SpfRequest {
            ip,
            domain: domain.trim_end_matches('.').to_owned(),
            sender: with_local_part(sender, domain),
            helo: domain.to_owned(),
            receiver: "unknown".into(),
            time_limit: TIME_LIMIT,
        }
    }

    /// The MAIL FROM check of RFC 7208 §2.4: the domain of `mail_from`, or for the null reverse-path
    /// (`mail_from` empty) "postmaster@" the HELO name.
    pub fn mail_from(ip: IpAddr, helo: &str, mail_from: &str) -> Self {
        let (domain, sender) = if mail_from.is_empty() {
            (helo.to_owned(), format!("postmaster@{helo}"))
        } else {
            let domain = mail_from
                .rsplit_once('@')
                .map_or(mail_from, |(_, d)| d)
                .to_owned();
            let sender = with_local_part(mail_from, &domain);
            (domain, sender)
        };
        SpfRequest {
            helo: helo.to_owned(),
            ..SpfRequest::new(ip, &domain, &sender)
        }
    }
}

/// RFC 7208 §4.3: "If the <sender> has no local-part, substitute the string "postmaster" for the
/// local-part."
fn with_local_part(sender: &str, domain: &str) -> String {
    match sender.rsplit_once('@') {
        Some(("", d)) => format!("postmaster@{d}"),
        Some(_) => sender.to_owned(),
        None if sender.is_empty() => format!("postmaster@{domain}"),
        None => format!("postmaster@{sender}"),
    }
}

/// What check_host() concluded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The result.
    pub result: SpfResult,
    /// The `exp=` explanation, for a `fail` whose record has one that could be read.
    pub explanation: Option<String>,
    /// Why, for a human: the term that matched, or the error.
    pub reason: String,
    /// DNS-querying terms evaluated (RFC 7208 §4.6.4).
    pub dns_lookups: u32,
    /// Void lookups met.
    pub void_lookups: u32,
}

/// Evaluate check_host() for `request` through `dns`.
pub async fn check_host(dns: &Lookups, request: &SpfRequest) -> Verdict {
    let ip = match request.ip {
        // RFC 7208 §5: "an IPv4-mapped IPv6 address ... MUST still be considered an IPv4 address".
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let (local, sender_domain) = request
        .sender
        .rsplit_once('@')
        .map_or(("postmaster", request.domain.as_str()), |(l, d)| (l, d));
    let mut ev = Evaluator {
        dns,
        ip,
        sender: request.sender.clone(),
        local: local.to_owned(),
        sender_domain: sender_domain.to_owned(),
        helo: request.helo.clone(),
        receiver: request.receiver.clone(),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        lookups: 0,
        voids: 0,
    };
    let domain = request.domain.to_ascii_lowercase();
    let evaluated =
        tokio::time::timeout(request.time_limit, ev.check_host_inner(domain, false)).await;
    let (result, reason, exp) = match evaluated {
        Ok(inner) => (inner.result, inner.reason, inner.exp),
        Err(_) => (
            SpfResult::TempError,
            format!(
                "evaluation took longer than {} s",
                request.time_limit.as_secs_f64()
            ),
            None,
        ),
    };
    // RFC 7208 §6.2: the explanation is looked up after the result is known, only for "fail", and
    // "Non-existent exp= domains MUST NOT count against the void lookup limit".
    let explanation = match (result, exp) {
        (SpfResult::Fail, Some(source)) => {
            tokio::time::timeout(request.time_limit, ev.explanation(&source))
                .await
                .ok()
                .flatten()
        }
        _ => None,
    };
    Verdict {
        result,
        explanation,
        reason,
        dns_lookups: ev.lookups,
        void_lookups: ev.voids,
    }
}

/// Where a `fail` result's explanation comes from: the `exp=` of the record whose directive failed.
struct ExpSource {
    domain: String,
    spec: DomainSpec,
}

struct Inner {
    result: SpfResult,
    reason: String,
    exp: Option<ExpSource>,
}

impl Inner {
    fn stop(result: SpfResult, reason: String) -> Self {
        Inner {
            result,
            reason,
            exp: None,
        }
    }
}

/// A mechanism either matches, does not, or ends evaluation (temperror / permerror).
type Step = Result<bool, Inner>;

struct Evaluator<'a> {
    dns: &'a Lookups,
    ip: IpAddr,
    sender: String,
    local: String,
    sender_domain: String,
    helo: String,
    receiver: String,
    timestamp: u64,
    lookups: u32,
    voids: u32,
}

impl Evaluator<'_> {
    fn vars<'v>(&'v self, domain: &'v str, validated: Option<&'v str>) -> MacroVars<'v> {
        MacroVars {
            sender: &self.sender,
            local: &self.local,
            sender_domain: &self.sender_domain,
            domain,
            ip: self.ip,
            helo: &self.helo,
            validated,
            receiver: &self.receiver,
            timestamp: self.timestamp,
        }
    }

    /// check_host() for one domain: the top-level call and every include/redirect target.
    fn check_host_inner(&mut self, domain: String, nested: bool) -> BoxFuture<'_, Inner> {
        Box::pin(async move {
            // RFC 7208 §4.3: "If the <domain> is malformed (e.g., label longer than 63 characters,
            // zero-length label not at the end, etc.) or is not a multi-label domain name, ...
            // check_host() immediately returns the result "none"."
            if let Err(why) = check_domain(&domain) {
                return Inner::stop(SpfResult::None, format!("`{domain}` {why}"));
            }
            let answer = match self.dns.txt(&domain).await {
                Ok(answer) => answer,
                // RFC 7208 §4.4: "If the DNS lookup returns a server failure (RCODE 2) or some other
                // error (RCODE other than 0 or 3), or if the lookup times out, then check_host()
                // terminates immediately with the result "temperror"."
                Err(e) => {
                    return Inner::stop(
                        SpfResult::TempError,
                        format!("looking up TXT {domain}: {e}"),
                    );
                }
            };
            let txts = match answer {
                Answer::Records(r) => r.items,
                void => {
                    let what = if void == Answer::NxDomain {
                        "does not exist (NXDOMAIN)"
                    } else {
                        "has no TXT records"
                    };
                    if nested && let Err(stop) = self.count_void(&format!("TXT {domain}")) {
                        return stop;
                    }
                    return Inner::stop(SpfResult::None, format!("{domain} {what}"));
                }
            };
            let txt = match select(&txts) {
                Selection::One(txt) => txt,
                Selection::Multiple(all) => {
                    return Inner::stop(
                        SpfResult::PermError,
                        format!("{domain} publishes {} SPF records", all.len()),
                    );
                }
                Selection::None(_) => {
                    return Inner::stop(
                        SpfResult::None,
                        format!("{domain} publishes no SPF record"),
                    );
                }
            };
            let record = match parse(&txt.joined_bytes()).into_result() {
                Ok(record) => record,
                Err(errors) => {
                    let first = errors.first().map(ToString::to_string).unwrap_or_default();
                    return Inner::stop(
                        SpfResult::PermError,
                        format!("the SPF record of {domain} is invalid: {first}"),
                    );
                }
            };
            self.evaluate(&domain, &record).await
        })
    }

    /// RFC 7208 §4.6.2: directives left to right, the first match decides; then `redirect`; else
    /// neutral (§4.7).
    async fn evaluate(&mut self, domain: &str, record: &Record) -> Inner {
        for (term, qualifier, mechanism) in record.directives() {
            match self.mechanism(domain, term.text.as_str(), mechanism).await {
                Ok(false) => {}
                Ok(true) => {
                    let exp = match (qualifier, record.exp()) {
                        (Qualifier::Fail, Some(spec)) => Some(ExpSource {
                            domain: domain.to_owned(),
                            spec: spec.clone(),
                        }),
                        _ => None,
                    };
                    return Inner {
                        result: qualifier.result(),
                        reason: format!("matched `{term}` in {domain}"),
                        exp,
                    };
                }
                Err(stop) => return stop,
            }
        }
        let Some((term, spec)) = record.effective_redirect() else {
            return Inner::stop(
                SpfResult::Neutral,
                format!(
                    "nothing matched in {domain}, whose record has neither `all` nor `redirect=` (default neutral)"
                ),
            );
        };
        if let Err(stop) = self.count_lookup(domain, &term.text) {
            return stop;
        }
        let target = self.target(Some(spec), domain).await;
        // RFC 7208 §6.1: "If no SPF record is found, or if the <target-name> is malformed, the result is
        // a "permerror" rather than "none"." The redirected record's result and explanation replace ours.
        let inner = self.check_host_inner(target.clone(), true).await;
        match inner.result {
            SpfResult::None => Inner::stop(
                SpfResult::PermError,
                format!(
                    "`{term}` in {domain} points to a domain without SPF: {}",
                    inner.reason
                ),
            ),
            _ => Inner {
                reason: format!("{} (via `{term}` in {domain})", inner.reason),
                ..inner
            },
        }
    }

    async fn mechanism(&mut self, domain: &str, term: &str, mechanism: &Mechanism) -> Step {
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
                    SpfResult::TempError | SpfResult::PermError => Err(Inner::stop(
                        inner.result,
                        format!("`{term}` in {domain}: {}", inner.reason),
                    )),
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
    async fn mx(&mut self, target: &str, term: &str, prefix: u8) -> Step {
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
    async fn ptr(&mut self, target: &str) -> Step {
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
    async fn validates(&self, name: &str) -> bool {
        match self.addresses(name).await {
            Ok(a) => a.records().contains(&self.ip),
            Err(_) => false,
        }
    }

    /// `%{p}` (RFC 7208 §7.3): the validated name equal to the domain, else one under it, else any;
    /// `None` ("unknown") when none validates or the lookup fails.
    async fn validated_name(&self, domain: &str) -> Option<String> {
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
    async fn target(&self, spec: Option<&DomainSpec>, domain: &str) -> String {
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
    async fn addresses(&self, name: &str) -> Lookup<IpAddr> {
        match self.ip {
            IpAddr::V4(_) => Ok(self.dns.a(name).await?.map(IpAddr::V4)),
            IpAddr::V6(_) => Ok(self.dns.aaaa(name).await?.map(IpAddr::V6)),
        }
    }

    fn match_addresses(
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

    fn prefix(&self, v4: u8, v6: u8) -> u8 {
        match self.ip {
            IpAddr::V4(_) => v4,
            IpAddr::V6(_) => v6,
        }
    }

    /// RFC 7208 §4.6.4: count a DNS-querying term; the 11th is a permerror.
    fn count_lookup(&mut self, domain: &str, term: &str) -> Result<(), Inner> {
        if self.lookups >= LOOKUP_LIMIT {
            return Err(Inner::stop(
                SpfResult::PermError,
                format!(
                    "more than {LOOKUP_LIMIT} DNS-querying terms: `{term}` in {domain} would be number {}",
                    self.lookups + 1
                ),
            ));
        }
        self.lookups += 1;
        Ok(())
    }

    /// RFC 7208 §4.6.4: count a lookup that returned NXDOMAIN or no answer; the third is a permerror.
    fn count_void(&mut self, what: &str) -> Result<(), Inner> {
        self.voids += 1;
        if self.voids > VOID_LIMIT {
            return Err(Inner::stop(
                SpfResult::PermError,
                format!("more than {VOID_LIMIT} lookups returned nothing (the last: {what})"),
            ));
        }
        Ok(())
    }

    /// RFC 7208 §6.2: the explanation string, or `None` when anything about it is wrong ("If there are
    /// any DNS processing errors (any RCODE other than 0), or if no records are returned, or if more
    /// than one record is returned, or if there are syntax errors in the explanation string, then
    /// proceed as if no "exp" modifier was given.")
    async fn explanation(&self, source: &ExpSource) -> Option<String> {
        let target = self.target(Some(&source.spec), &source.domain).await;
        let answer = self.dns.txt(&target).await.ok()?;
        let [txt] = answer.records() else {
            return None;
        };
        let text = MacroString::parse(&txt.joined_bytes(), MacroContext::Explanation).ok()?;
        let validated = if text.uses(super::macros::MacroLetter::ValidatedName) {
            self.validated_name(&source.domain).await
        } else {
            None
        };
        Some(text.expand(&self.vars(&source.domain, validated.as_deref())))
    }
}

fn temperror(term: &str, name: &str, error: &LookupError) -> Inner {
    Inner::stop(
        SpfResult::TempError,
        format!("`{term}`: looking up {name}: {error}"),
    )
}

/// Whether `name` is `domain` or a name under it (DNS names compare case-insensitively).
fn is_within(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.to_ascii_lowercase(), domain.to_ascii_lowercase());
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// Whether `ip` is in `network/prefix` (different families never match).
fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
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

/// RFC 7208 §4.3's "malformed" domain: why `domain` cannot be checked, if it cannot.
pub(crate) fn check_domain(domain: &str) -> Result<(), &'static str> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    if name.starts_with('[') {
        return Err("is an address literal, not a domain name");
    }
    if name.len() > 253 {
        return Err("is longer than 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err("has an empty label");
    }
    if labels.iter().any(|l| l.len() > 63) {
        return Err("has a label longer than 63 characters");
    }
    if labels.len() < 2 {
        return Err("is not a multi-label domain name");
    }
    Ok(())
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

    #[test]
    fn mail_from_follows_section_2_4_and_4_3() {
        let ip = "192.0.2.1".parse().unwrap();
        let r = SpfRequest::mail_from(ip, "mx.example.org", "");
        assert_eq!(
            (r.domain.as_str(), r.sender.as_str()),
            ("mx.example.org", "postmaster@mx.example.org")
        );
        let r = SpfRequest::mail_from(ip, "mx.example.org", "@example.net");
        assert_eq!(r.sender, "postmaster@example.net");
        let r = SpfRequest::mail_from(ip, "mx.example.org", "Macro Error@e8.example.com");
        assert_eq!(
            (r.domain.as_str(), r.sender.as_str()),
            ("e8.example.com", "Macro Error@e8.example.com")
        );
    }

    #[test]
    fn malformed_domains_are_named() {
        assert!(check_domain("example.com").is_ok());
        assert!(check_domain("example.com.").is_ok());
        assert!(check_domain("A2345678").is_err());
        assert!(check_domain("[1.2.3.5]").is_err());
        assert!(check_domain("a...example.com").is_err());
        assert!(check_domain(&format!("{}.example.com", "a".repeat(64))).is_err());
    }
}
