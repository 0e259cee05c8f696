//! The rules' input: the latest results, as one plain value. [`latest`] is the one place that knows
//! where they come from (today the store's latest check results and open listings); the rules read
//! only a [`Snapshot`], so pointing the engine at another source of the latest state is this file.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::blocklists::Targets;
use crate::config::Config;
use crate::findings::Severity;
use crate::metrics::FactValues;
use crate::store::{Store, StoreError};

/// The latest state of every configured domain and blocklist target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// One entry per configured domain, in configuration order.
    pub domains: Vec<DomainState>,
    /// Open blocklist listings of configured targets.
    pub listings: Vec<Listing>,
}

/// The latest check results of one domain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainState {
    /// The configured domain.
    pub domain: String,
    /// Its configured DKIM selectors (the only selector values a label may carry).
    pub selectors: Vec<String>,
    /// The latest result of each check that has run.
    pub checks: Vec<CheckState>,
    /// DNS-querying SPF terms, when the latest SPF check could count them.
    pub spf_lookups: Option<u32>,
    /// The size in bits of each configured selector's usable key.
    pub dkim_key_bits: Vec<(String, u32)>,
}

/// The latest result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckState {
    /// The check (`spf`, `dkim`, …).
    pub check: String,
    /// Its worst finding.
    pub status: Severity,
    /// What it found.
    pub findings: Vec<FindingState>,
}

/// One finding of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingState {
    /// Dotted code (docs/findings.md).
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// The sentence shown to humans.
    pub message: String,
    /// Machine-readable facts.
    pub detail: Value,
}

/// An open listing of a configured target on a blocklist zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The configured IP (or range address) or domain.
    pub target: String,
    /// The zone.
    pub zone: String,
    /// The configured domains the target belongs to (itself for a domain target).
    pub domains: Vec<String>,
    /// Answer codes.
    pub codes: Vec<String>,
    /// The list's TXT reason.
    pub reason: Option<String>,
    /// Since when (Unix seconds).
    pub since: i64,
}

impl Snapshot {
    /// The state of `domain`, if configured.
    pub fn domain(&self, domain: &str) -> Option<&DomainState> {
        self.domains.iter().find(|d| d.domain == domain)
    }
}

impl DomainState {
    /// The latest result of `check`, if it has run.
    pub fn check(&self, check: &str) -> Option<&CheckState> {
        self.checks.iter().find(|c| c.check == check)
    }
}

/// Build the snapshot from the latest stored results, keeping only what the running configuration
/// names (the store keeps the results of removed domains until retention prunes them).
pub async fn latest(store: &dyn Store, config: &Config) -> Result<Snapshot, StoreError> {
    let checks = store.latest_checks(None).await?;
    let open = store.listings(None).await?;
    let mut domains: Vec<DomainState> = config
        .domains
        .iter()
        .map(|d| DomainState {
            domain: d.name.to_string(),
            selectors: d.dkim_selectors.clone(),
            ..DomainState::default()
        })
        .collect();
    for c in checks {
        let Some(d) = domains.iter_mut().find(|d| d.domain == c.target) else {
            continue;
        };
        // The facts as the checks store them (the same reading the metrics make of them).
        if let Ok(facts) = serde_json::from_value::<FactValues>(c.facts.clone()) {
            match c.check.as_str() {
                "spf" => d.spf_lookups = facts.spf_dns_lookups,
                "dkim" => {
                    d.dkim_key_bits = facts
                        .dkim_keys
                        .into_iter()
                        .map(|k| (k.selector, k.bits))
                        .collect()
                }
                _ => {}
            }
        }
        d.checks.push(CheckState {
            check: c.check,
            status: c.status,
            findings: c
                .findings
                .into_iter()
                .map(|f| FindingState {
                    code: f.code,
                    severity: f.severity,
                    message: f.message,
                    detail: f.detail,
                })
                .collect(),
        });
    }
    let targets: BTreeSet<String> =
        Targets::from_config(&config.domains, config.blocklists.max_range_addresses)
            .targets()
            .iter()
            .map(ToString::to_string)
            .collect();
    let listings = open
        .into_iter()
        .filter(|p| targets.contains(&p.target))
        .map(|p| Listing {
            domains: owners(config, &p.target),
            target: p.target,
            zone: p.zone,
            codes: p.codes,
            reason: p.reason,
            since: p.listed_since,
        })
        .collect();
    Ok(Snapshot { domains, listings })
}

/// The configured domains a blocklist target belongs to: the domain itself, or every domain whose
/// `sending_ips` contain the address.
fn owners(config: &Config, target: &str) -> Vec<String> {
    let ip: Option<std::net::IpAddr> = target.parse().ok();
    config
        .domains
        .iter()
        .filter(|d| match ip {
            Some(ip) => d.sending_ips.iter().any(|net| net.contains(&ip)),
            None => d.name.as_str() == target,
        })
        .map(|d| d.name.to_string())
        .collect()
}
