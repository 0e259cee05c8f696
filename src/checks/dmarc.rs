//! TEMPORARY (h-records branch): a minimal stand-in for the DMARC engineer's module, with exactly the
//! `effective_policy` interface the BIMI check uses. The lead replaces this file with the real module at
//! merge; nothing here is the DMARC check.

use super::{DomainContext, Outcome};
use crate::config::DomainName;
use crate::dns::{Answer, LookupError, Lookups};

/// TEMPORARY: the applicable DMARC policy of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySummary {
    /// The domain whose `_dmarc` record applies.
    pub found_at: String,
    /// `p=`.
    pub policy: Policy,
    /// `sp=`, when present.
    pub subdomain_policy: Option<Policy>,
    /// `pct=`, when present.
    pub pct: Option<u8>,
    /// `t=y`.
    pub testing: bool,
}

/// TEMPORARY: a DMARC policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `none`.
    None,
    /// `quarantine`.
    Quarantine,
    /// `reject`.
    Reject,
}

impl Policy {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    fn parse(value: &str) -> Option<Policy> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
}

/// TEMPORARY: the DMARC record at `_dmarc.<domain>`, else at its parents (a short walk, at most 8
/// queries, stopping before the top-level label).
pub async fn effective_policy(
    dns: &Lookups,
    domain: &DomainName,
) -> Result<Option<PolicySummary>, LookupError> {
    let mut name = domain.as_str();
    for _ in 0..8 {
        let answer = dns.txt(&format!("_dmarc.{name}")).await?;
        if let Answer::Records(r) = answer {
            let records: Vec<String> = r
                .items
                .iter()
                .map(|t| t.joined())
                .filter(|t| t.trim_start().starts_with("v=DMARC1"))
                .collect();
            if records.len() == 1 {
                return Ok(Some(summarize(name, &records[0])));
            }
        }
        match name.split_once('.') {
            Some((_, parent)) if parent.contains('.') => name = parent,
            _ => break,
        }
    }
    Ok(None)
}

fn summarize(found_at: &str, record: &str) -> PolicySummary {
    let mut summary = PolicySummary {
        found_at: found_at.to_owned(),
        policy: Policy::None,
        subdomain_policy: None,
        pct: None,
        testing: false,
    };
    for tag in record.split(';') {
        let Some((k, v)) = tag.split_once('=') else {
            continue;
        };
        match k.trim() {
            "p" => summary.policy = Policy::parse(v).unwrap_or(Policy::None),
            "sp" => summary.subdomain_policy = Policy::parse(v),
            "pct" => summary.pct = v.trim().parse().ok(),
            "t" => summary.testing = v.trim() == "y",
            _ => {}
        }
    }
    summary
}

/// TEMPORARY: the DMARC check is not part of this branch.
pub async fn check(_cx: &DomainContext) -> Outcome {
    Outcome::default()
}
