//! Posture orchestration: every domain-scoped check, the PTR check of each sending IP and the
//! bulk-sender summary, run together for one domain ([`check_domain`]) or for many with a bound on how
//! many domains are in flight ([`check_domains`]).
//!
//! - [`DomainReport`], [`IpReport`], [`PostureReport`]: the results, in the shape `senderscope check`
//!   prints and the daemon stores.
//! - [`json`]: the JSON view (README, "DNS posture"); [`text`]: the terminal view.

pub mod json;
pub mod text;

use std::net::IpAddr;

use futures::StreamExt;
use futures::future::join_all;

use crate::checks::bulk_sender;
use crate::checks::ptr::{self, PtrOutcome};
use crate::checks::{self, CheckKind, DomainContext, Facts};
use crate::config::DomainName;
use crate::findings::{CheckReport, Finding, Severity, worst};

/// Domains checked at once by [`check_domains`] when the caller has no better number. Each domain runs
/// its checks concurrently; the DNS layer bounds the queries in flight independently of this.
pub const DEFAULT_DOMAINS_IN_FLIGHT: usize = 64;

/// Everything learned about one domain in one round.
#[derive(Debug, Clone)]
pub struct DomainReport {
    /// The domain.
    pub domain: DomainName,
    /// Worst status among its checks (the bulk-sender summary included).
    pub status: Severity,
    /// One report per [`CheckKind`], in registry order, then the `bulk_sender` summary.
    pub checks: Vec<CheckReport>,
    /// The checks' facts, merged (the source of metrics such as `senderscope_spf_dns_lookups`).
    pub facts: Facts,
    /// PTR / FCrDNS of the domain's sending IPs.
    pub ips: Vec<IpReport>,
}

/// What was learned about one sending IP.
#[derive(Debug, Clone, PartialEq)]
pub struct IpReport {
    /// The IP.
    pub ip: IpAddr,
    /// Worst status among its findings.
    pub status: Severity,
    /// Its PTR name (the forward-confirmed one when there is one).
    pub ptr: Option<String>,
    /// The PTR name resolves back to the IP (`None`: could not be told).
    pub fcrdns: Option<bool>,
    /// What was found.
    pub findings: Vec<Finding>,
}

impl From<PtrOutcome> for IpReport {
    fn from(o: PtrOutcome) -> Self {
        IpReport {
            ip: o.ip,
            status: worst(&o.findings),
            ptr: o.ptr,
            fcrdns: o.fcrdns,
            findings: o.findings,
        }
    }
}

/// The result of checking several domains, as `senderscope check` reports it.
#[derive(Debug, Clone)]
pub struct PostureReport {
    /// Worst status among the domains and the IPs.
    pub status: Severity,
    /// One report per domain, in the order checked.
    pub domains: Vec<DomainReport>,
    /// Every sending IP once (IPs shared by several domains are checked once per round).
    pub ips: Vec<IpReport>,
}

impl PostureReport {
    /// Gather domain reports; IPs appearing under several domains are listed once (first seen).
    pub fn new(domains: Vec<DomainReport>) -> Self {
        let mut ips: Vec<IpReport> = Vec::new();
        for ip in domains.iter().flat_map(|d| &d.ips) {
            if !ips.iter().any(|seen| seen.ip == ip.ip) {
                ips.push(ip.clone());
            }
        }
        let status = domains
            .iter()
            .map(|d| d.status)
            .chain(ips.iter().map(|i| i.status))
            .max()
            .unwrap_or(Severity::Ok);
        PostureReport {
            status,
            domains,
            ips,
        }
    }
}

/// Check one domain: every [`CheckKind`] and the PTR of every sending IP concurrently, all through the
/// context's DNS round (one cache; each check counts its own lookups), then the bulk-sender summary.
pub async fn check_domain(cx: &DomainContext) -> DomainReport {
    let checks = join_all(CheckKind::ALL.map(|kind| checks::run(kind, cx)));
    let ptr_dns = cx.dns.counted();
    let ptrs = join_all(cx.sending_ips.iter().map(|&ip| ptr::check(&ptr_dns, ip)));
    let (results, ptrs) = futures::join!(checks, ptrs);

    let mut facts = Facts::default();
    let mut reports = Vec::with_capacity(results.len() + 1);
    for (report, f) in results {
        merge_facts(&mut facts, f);
        reports.push(report);
    }
    let checked_at = reports
        .first()
        .map(|r| r.checked_at)
        .unwrap_or_else(checks::unix_now);
    let summary = bulk_sender::check(
        &bulk_sender::Inputs {
            domain: cx.domain.as_str(),
            reports: &reports,
            facts: &facts,
            dkim_selectors: &cx.dkim_selectors,
            ptr: &ptrs,
        },
        checked_at,
    );
    reports.push(summary);
    DomainReport {
        domain: cx.domain.clone(),
        status: reports
            .iter()
            .map(|r| r.status)
            .max()
            .unwrap_or(Severity::Ok),
        checks: reports,
        facts,
        ips: ptrs.into_iter().map(IpReport::from).collect(),
    }
}

/// Check many domains, at most `in_flight` at a time (at least one), results in input order.
///
/// Runs on the caller's task: the work is waiting on DNS, which the DNS layer bounds and drives, so no
/// task is spawned here (tasks are spawned in the daemon wiring only).
pub async fn check_domains<I>(contexts: I, in_flight: usize) -> Vec<DomainReport>
where
    I: IntoIterator<Item = DomainContext>,
{
    futures::stream::iter(contexts)
        .map(|cx| async move { check_domain(&cx).await })
        .buffered(in_flight.max(1))
        .collect()
        .await
}

/// Each check fills only its own facts; merging keeps whatever any of them learned. The destructuring
/// is exhaustive on purpose: a new field in `Facts` does not compile until it is merged here too.
fn merge_facts(into: &mut Facts, from: Facts) {
    let Facts {
        spf_dns_lookups,
        spf_present,
        dkim_keys,
        dmarc_policy,
        dmarc_enforced,
    } = from;
    into.spf_dns_lookups = into.spf_dns_lookups.or(spf_dns_lookups);
    into.spf_present = into.spf_present.or(spf_present);
    into.dkim_keys.extend(dkim_keys);
    into.dmarc_policy = into.dmarc_policy.or(dmarc_policy);
    into.dmarc_enforced = into.dmarc_enforced.or(dmarc_enforced);
}

#[cfg(test)]
mod tests;
