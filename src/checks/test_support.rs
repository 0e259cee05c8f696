//! What the checks' unit tests share: an in-process [`FakeDns`] loaded with records, a
//! [`DomainContext`] or a DNS round against it, a check run on a zone, and the finding codes of an
//! outcome in the shapes the tests compare.

use crate::checks::mta_sts::PolicyFetcher;
use crate::checks::ptr::PtrOutcome;
use crate::checks::{DomainContext, Outcome};
use crate::config::DomainName;
use crate::dns::testing::{FakeDns, FakeRecord};
use crate::dns::{Lookups, Resolver};
use crate::findings::{Finding, FindingCode, Severity};

/// A FakeDns serving `text` (the `name TYPE data` lines of [`FakeDns::load`]).
pub(crate) async fn zone(text: &str) -> FakeDns {
    let dns = FakeDns::start().await.unwrap();
    dns.load(text).unwrap();
    dns
}

/// A FakeDns serving one TXT record per `(name, text)`, for records whose text would need quoting
/// in a zone.
pub(crate) async fn txt_records(records: &[(&str, &str)]) -> FakeDns {
    let dns = FakeDns::start().await.unwrap();
    for (name, text) in records {
        dns.add(name, FakeRecord::txt(text));
    }
    dns
}

/// A fresh DNS round (empty cache) against `dns`.
pub(crate) fn lookups(dns: &FakeDns) -> Lookups {
    Resolver::new(&dns.settings()).unwrap().round()
}

/// A context for `domain` against `dns`: a fresh round, no DKIM selectors, no sending IPs and the
/// default policy fetcher. Tests that need more set those fields with `..context(dns, domain)`.
pub(crate) fn context(dns: &FakeDns, domain: &str) -> DomainContext {
    DomainContext {
        domain: DomainName::parse(domain).unwrap(),
        dkim_selectors: Vec::new(),
        sending_ips: Vec::new(),
        dns: lookups(dns),
        https: PolicyFetcher::default(),
    }
}

/// Run `check` for `domain` against a FakeDns serving `text`; the server lives until the check returns.
pub(crate) async fn run(
    check: impl AsyncFn(&DomainContext) -> Outcome,
    text: &str,
    domain: &str,
) -> Outcome {
    let dns = zone(text).await;
    check(&context(&dns, domain)).await
}

/// A check's result that carries findings: a domain check's [`Outcome`] or the PTR check's.
pub(crate) trait Findings {
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

/// Code and severity of each finding, in the order the check gave them.
pub(crate) fn codes(outcome: &impl Findings) -> Vec<(FindingCode, Severity)> {
    outcome
        .findings()
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

/// Code name and severity of each finding, sorted, for checks that give several findings in an order
/// the tests do not pin.
pub(crate) fn sorted_codes(outcome: &impl Findings) -> Vec<(&'static str, Severity)> {
    let mut codes: Vec<_> = outcome
        .findings()
        .iter()
        .map(|f| (f.code.as_str(), f.severity))
        .collect();
    codes.sort();
    codes
}

/// Code names of the findings, sorted.
pub(crate) fn sorted_code_names(outcome: &impl Findings) -> Vec<&'static str> {
    let mut codes: Vec<_> = outcome.findings().iter().map(|f| f.code.as_str()).collect();
    codes.sort_unstable();
    codes
}
