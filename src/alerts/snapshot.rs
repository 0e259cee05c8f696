//! The rules' input: the latest results, as one plain value. [`latest`] is the one place that knows
//! where they come from (the results pipeline's latest state); the rules read only a [`Snapshot`],
//! so feeding them new data (report, bounce and ingest figures) starts in this file.

use serde_json::Value;

use crate::config::Config;
use crate::findings::Severity;
use crate::results::{CheckFacts, LatestState, Target};

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

/// Build the snapshot from the latest state (what the store committed last, seeded at start), for
/// what the running configuration names.
pub fn latest(state: &LatestState, config: &Config) -> Snapshot {
    let s = state.read();
    let scope = s.scope();
    let domains = scope
        .domains
        .iter()
        .map(|d| {
            let mut out = DomainState {
                domain: d.name.to_string(),
                selectors: d.selectors.clone(),
                ..DomainState::default()
            };
            for c in s.results(&Target::Domain(d.name.clone())) {
                match &c.facts {
                    CheckFacts::Spf(f) => out.spf_lookups = f.spf_dns_lookups,
                    CheckFacts::Dkim(f) => {
                        out.dkim_key_bits = f
                            .dkim_keys
                            .iter()
                            .map(|k| (k.selector.clone(), k.bits))
                            .collect()
                    }
                    _ => {}
                }
                out.checks.push(CheckState {
                    check: c.check.to_string(),
                    status: c.status,
                    findings: c
                        .findings
                        .iter()
                        .map(|f| FindingState {
                            code: f.code.clone(),
                            severity: f.severity,
                            message: f.message.clone(),
                            detail: f.detail.clone(),
                        })
                        .collect(),
                });
            }
            out
        })
        .collect();
    let listings = scope
        .listing_targets
        .iter()
        .flat_map(|t| s.open_listings(&t.to_string()).cloned().collect::<Vec<_>>())
        .map(|p| Listing {
            domains: owners(config, &p.target),
            target: p.target,
            zone: p.zone,
            codes: p.codes,
            reason: p.reason,
            since: p.listed_since,
        })
        .collect();
    Snapshot { domains, listings }
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
