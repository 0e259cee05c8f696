//! The public face of check_host(): its inputs ([`SpfRequest`], built per RFC 7208 §2.4 and §4.3), its
//! result ([`SpfResult`]) and what it concluded ([`Verdict`]).

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::eval::TIME_LIMIT;

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

/// RFC 7208 §4.3's "malformed" domain: why `domain` cannot be checked, if it cannot.
pub fn check_domain(domain: &str) -> Result<(), &'static str> {
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
