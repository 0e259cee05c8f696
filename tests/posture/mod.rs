//! DNS posture checks against a real nsd serving tests/fixtures/zones: one domain per finding code and a
//! clean domain per check, asserting the exact codes; plus the `check` command end to end.
//!
//! What the suites share is here: the zone fixtures by name or by a rule on the name, a
//! `DomainContext` against a server, a resolver nothing answers, and the codes of a result.

mod bimi;
mod cli;
mod dkim;
mod dmarc;
mod findings_doc;
mod mta_sts;
mod mx;
mod ptr;
mod spf;
mod tls_rpt;

use std::path::{Path, PathBuf};
use std::time::Duration;

use senderscope::checks::mta_sts::PolicyFetcher;
use senderscope::checks::ptr::PtrOutcome;
use senderscope::checks::{DomainContext, Outcome};
use senderscope::config::DomainName;
use senderscope::dns::{DnsSettings, Lookups, Resolver};
use senderscope::findings::{CheckReport, Finding, FindingCode, Severity};

use crate::harness::{free_port, loopback};

/// tests/fixtures/zones: one `<zone>.zone` file per zone.
fn zone_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zones")
}

/// Every zone in tests/fixtures/zones whose name `keep` accepts, as (zone, file) pairs sorted by name.
fn zones_where(keep: impl Fn(&str) -> bool) -> Vec<(String, PathBuf)> {
    let mut zones: Vec<(String, PathBuf)> = std::fs::read_dir(zone_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(".zone")?.to_owned();
            keep(&name).then_some((name, p))
        })
        .collect();
    zones.sort();
    zones
}

/// A fresh DNS round (empty cache) against `settings`.
fn round(settings: &DnsSettings) -> Lookups {
    Resolver::new(settings).unwrap().round()
}

/// A context for `domain` on `dns`, with no DKIM selectors, no sending IPs and the default policy
/// fetcher. Suites that need more set those fields with `..context(dns, domain)`.
fn context(dns: Lookups, domain: &str) -> DomainContext {
    DomainContext {
        domain: DomainName::parse(domain).unwrap(),
        dkim_selectors: Vec::new(),
        sending_ips: Vec::new(),
        dns,
        https: PolicyFetcher::default(),
    }
}

/// Resolver settings for a loopback port nothing listens on: every lookup fails within 300 ms.
fn unreachable_resolver() -> DnsSettings {
    DnsSettings {
        nameservers: vec![loopback(free_port())],
        timeout: Duration::from_millis(300),
        attempts: 1,
        ..DnsSettings::default()
    }
}

/// A check's result that carries findings.
trait Findings {
    /// The findings, in the order the check gave them.
    fn findings(&self) -> &[Finding];
}

impl Findings for Outcome {
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

impl Findings for PtrOutcome {
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

impl Findings for CheckReport {
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// Code and severity of each finding, in the order the check gave them.
fn codes(result: &impl Findings) -> Vec<(FindingCode, Severity)> {
    result
        .findings()
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

/// Code name and severity of each finding, sorted.
fn sorted_codes(result: &impl Findings) -> Vec<(&'static str, Severity)> {
    let mut codes: Vec<_> = result
        .findings()
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect();
    codes.sort();
    codes
}

/// Code names of the findings, sorted.
fn sorted_code_names(result: &impl Findings) -> Vec<&'static str> {
    let mut codes: Vec<_> = result.findings().iter().map(|f| f.code.as_str()).collect();
    codes.sort_unstable();
    codes
}
