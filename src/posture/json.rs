//! The JSON of `senderscope check --format json` (README, "DNS posture"): one object with the overall `status`,
//! `domains[].{domain,status,checks[].{check,status,record,findings[].{code,severity,message,detail}}}`
//! and `ips[].{ip,status,ptr,fcrdns,findings}`.
//!
//! `ips[].findings` goes beyond the documented example: without it an IP whose status is `unknown` or
//! `warning` would not say why.
//!
//! With `--blocklist` ([`PostureJson::with_blocklists`]): `ips[].listings[]` and `domains[].listings[]`
//! (one entry per zone: `{"zone","listed"}`, `listed` `null` when the zone refused or failed, see
//! [`ListingJson`]), the listing findings in `ips[].findings` and in a `blocklists` check of each
//! domain, statuses raised accordingly, and a top-level `blocklists` object with each zone's health
//! and the zone-level findings. Without `--blocklist` none of these keys appear: an absent list is
//! never mistaken for a clean one.

use std::net::IpAddr;

use serde::Serialize;

use super::{DomainReport, IpReport, PostureReport};
use crate::blocklists::{self, ListingJson, RoundReport, Target, TargetReport};
use crate::config::DomainName;
use crate::findings::{CheckReport, Finding, Severity};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct PostureJson<'a> {
    /// Worst of everything below.
    pub status: Severity,
    /// One entry per domain, in the order given.
    pub domains: Vec<DomainJson<'a>>,
    /// One entry per sending IP.
    pub ips: Vec<IpJson<'a>>,
    /// The blocklist zones queried (with `--blocklist` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocklists: Option<BlocklistsJson<'a>>,
}

/// The top-level `blocklists` object.
#[derive(Debug, Serialize)]
pub struct BlocklistsJson<'a> {
    /// Each zone and its RFC 5782 health this run.
    pub zones: Vec<ZoneJson<'a>>,
    /// Zone-level findings: unhealthy zones, refusals, failed lookups (per-target ones are with
    /// their IP or domain).
    pub findings: &'a [Finding],
}

/// One zone in `blocklists.zones`.
#[derive(Debug, Serialize)]
pub struct ZoneJson<'a> {
    /// The zone.
    pub zone: &'a str,
    /// Whether its test points answered as RFC 5782 §5 requires (its answers are trusted).
    pub healthy: bool,
    /// `healthy`, `unhealthy`, `refused` or `unreachable`.
    pub state: &'static str,
}

/// One domain.
#[derive(Debug, Serialize)]
pub struct DomainJson<'a> {
    /// The domain.
    pub domain: &'a str,
    /// Worst of its checks.
    pub status: Severity,
    /// Its checks, in registry order, `bulk_sender` last (then `blocklists` with `--blocklist`).
    pub checks: Vec<CheckJson<'a>>,
    /// Its answer on each domain list (with `--blocklist` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listings: Option<Vec<ListingJson>>,
}

/// One check.
#[derive(Debug, Serialize)]
pub struct CheckJson<'a> {
    /// The check's name (`spf`, `dkim`, …, `bulk_sender`).
    pub check: &'static str,
    /// Worst of its findings.
    pub status: Severity,
    /// The record as published, or null.
    pub record: Option<&'a str>,
    /// What was found (code, severity, message, detail).
    pub findings: &'a [Finding],
}

/// One sending IP.
#[derive(Debug, Serialize)]
pub struct IpJson<'a> {
    /// The IP.
    pub ip: IpAddr,
    /// Worst of its findings.
    pub status: Severity,
    /// Its PTR name, or null.
    pub ptr: Option<&'a str>,
    /// Whether the PTR name resolves back to the IP; null when a lookup failed.
    pub fcrdns: Option<bool>,
    /// What was found (PTR, then blocklist listings with `--blocklist`).
    pub findings: Vec<&'a Finding>,
    /// Its answer on each IP list (with `--blocklist` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listings: Option<Vec<ListingJson>>,
}

impl<'a> PostureJson<'a> {
    /// The JSON view of a report.
    pub fn new(report: &'a PostureReport) -> Self {
        PostureJson {
            status: report.status,
            domains: report.domains.iter().map(DomainJson::new).collect(),
            ips: report.ips.iter().map(IpJson::new).collect(),
            blocklists: None,
        }
    }

    /// Add what the blocklists said about the same domains and IPs.
    pub fn with_blocklists(mut self, round: &'a RoundReport) -> Self {
        let by_target = round.by_target();
        let of = |target: Target| -> Option<&'a TargetReport> {
            by_target
                .get(&target)
                .copied()
                // A target no zone could check has no listings but says so in a finding.
                .filter(|t| !(t.listings.is_empty() && t.findings.is_empty()))
        };
        for d in &mut self.domains {
            // `d.domain` was a `DomainName`'s text, so it parses back to the same name.
            let target = DomainName::parse(d.domain).ok().map(Target::Domain);
            if let Some(t) = target.and_then(of) {
                d.status = d.status.max(t.status);
                d.checks.push(CheckJson {
                    check: blocklists::CHECK.as_str(),
                    status: t.status,
                    record: None,
                    findings: &t.findings,
                });
                d.listings = Some(t.listings.iter().map(ListingJson::from).collect());
            }
        }
        for i in &mut self.ips {
            if let Some(t) = of(Target::Ip(i.ip)) {
                i.status = i.status.max(t.status);
                i.findings.extend(&t.findings);
                i.listings = Some(t.listings.iter().map(ListingJson::from).collect());
            }
        }
        self.status = self.status.max(round.status);
        self.blocklists = Some(BlocklistsJson {
            zones: round
                .zones
                .iter()
                .map(|z| ZoneJson {
                    zone: &z.zone,
                    healthy: z.is_healthy(),
                    state: z.state().as_str(),
                })
                .collect(),
            findings: &round.zone_findings,
        });
        self
    }
}

impl<'a> DomainJson<'a> {
    fn new(d: &'a DomainReport) -> Self {
        DomainJson {
            domain: d.domain.as_str(),
            status: d.status,
            checks: d.checks.iter().map(CheckJson::new).collect(),
            listings: None,
        }
    }
}

impl<'a> CheckJson<'a> {
    fn new(c: &'a CheckReport) -> Self {
        CheckJson {
            check: c.check.as_str(),
            status: c.status,
            record: c.record.as_deref(),
            findings: &c.findings,
        }
    }
}

impl<'a> IpJson<'a> {
    fn new(i: &'a IpReport) -> Self {
        IpJson {
            ip: i.ip,
            status: i.status,
            ptr: i.ptr.as_deref(),
            fcrdns: i.fcrdns,
            findings: i.findings.iter().collect(),
            listings: None,
        }
    }
}
