//! The rules' input: the latest results, as one plain value. [`latest`] is the one place that knows
//! where the check results come from (the results pipeline's latest state); the figures from the
//! report, event and ingest stores are added by `inputs` (one query per rule and round). The rules
//! read only a [`Snapshot`].

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
    /// When it was taken (Unix seconds).
    pub now: i64,
    /// Rules whose input could not be read this round: their alerts stay as they are (could not
    /// look is neither fine nor bad).
    pub unavailable: Vec<crate::alerts::RuleKind>,
    /// Inputs refused by the ingest pipeline in the `ingest_failures` window (`None`: not read, the
    /// rule is off).
    pub ingest_failures: Option<IngestFailures>,
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
    /// DMARC aggregate figures over the `dmarc_failure_rate` window (`None`: not read).
    pub dmarc: Option<DmarcFigures>,
    /// Sources whose DMARC-failing volume in the `unknown_source` window reaches its threshold,
    /// most messages first (configured sending IPs left out).
    pub failing_sources: Vec<SourceFigure>,
    /// When the domain's reports last covered (`None`: not read, the rule is off).
    pub report_history: Option<ReportHistory>,
    /// Bounce counts and rates over the `bounce_rate` window (`None`: not read).
    pub bounces: Option<RateFigures>,
    /// Complaint counts and rates over the `complaint_rate` window (`None`: not read).
    pub complaints: Option<RateFigures>,
}

/// Messages in the DMARC aggregate reports of one domain whose interval ended inside a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DmarcFigures {
    /// The window, as a duration label (`48h`).
    pub window: String,
    /// Every reported message.
    pub messages: u64,
    /// Messages that passed neither aligned DKIM nor aligned SPF: DMARC failed (RFC 7489 §6.6.2).
    pub failing: u64,
    /// Reports they came in.
    pub reports: u64,
}

/// One source of DMARC-failing mail as the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFigure {
    /// The source IP as reported (canonical text).
    pub source_ip: String,
    /// Its messages that failed DMARC in the window.
    pub failing: u64,
}

/// Whether and when the domain had DMARC aggregate reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportHistory {
    /// The latest end of a stored report's interval (Unix seconds), if any report was ever stored.
    pub last_end: Option<i64>,
    /// Reports stored for the domain, counted up to the rule's `min_volume` (enough to gate on).
    pub reports: u64,
}

/// Rates of one kind (bounces or complaints) of one domain over one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateFigures {
    /// The window, as a duration label (`24h`).
    pub window: String,
    /// The whole domain.
    pub total: RateFigure,
    /// Per mailbox provider with mail in the window (provider labels come from code).
    pub providers: Vec<(String, RateFigure)>,
}

/// One rate with what it was computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateFigure {
    /// Bounces or complaints.
    pub events: u64,
    /// The denominator: deliveries + bounces (bounce rate) or deliveries (complaint rate).
    pub volume: u64,
}

impl RateFigure {
    /// events / volume, `None` with no volume.
    pub fn rate(&self) -> Option<f64> {
        (self.volume > 0).then(|| self.events as f64 / self.volume as f64)
    }
}

/// Inputs the ingest pipeline refused (quarantined to `failed/` or answered 422) in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestFailures {
    /// The window, as a duration label (`1h`).
    pub window: String,
    /// How many.
    pub count: u64,
    /// How many per refusal code (`not_a_report`, `xml_syntax`, …), most first.
    pub by_reason: Vec<(String, u64)>,
    /// The latest refusal's message.
    pub last_error: Option<String>,
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
    Snapshot {
        domains,
        listings,
        now: crate::alerts::engine::now_ms() / 1000,
        unavailable: Vec::new(),
        ingest_failures: None,
    }
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
