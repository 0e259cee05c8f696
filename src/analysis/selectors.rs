//! DKIM selectors seen in aggregate reports (`dkim_selectors_seen`, written at ingest): a selector
//! that signed the domain's own mail (d= the domain) and verified, in a report that ended within
//! [`SEEN_WITHIN`], but is not configured, is *discovered*. The daemon's DKIM check then checks it
//! beside the configured ones, and says so with the info finding `dkim.selector_unmonitored`
//! (docs/findings.md). Selectors cannot be discovered through DNS (RFC 6376 §3.6.2.1 publishes keys
//! at names only a signer knows); reports are where they show.
//!
//! A discovered selector is not one the operator vouched for: a key that has since been rotated
//! out is normal, so its critical findings are reported as warnings.

use std::time::Duration;

use serde_json::json;

use super::db::{AnalysisDb, SeenSelector};
use crate::findings::{CheckReport, Finding, FindingCode, Severity, worst};
use crate::store::StoreError;

/// A selector counts as in use when a report that ended this recently named it.
pub const SEEN_WITHIN: Duration = Duration::from_secs(30 * 86_400);
/// At most this many discovered selectors per domain are checked (largest volume first): a
/// reporter's bad data must not turn into hundreds of lookups per round.
pub const MAX_DISCOVERED: usize = 20;

/// Selectors of `domain` seen passing in reports since `now - SEEN_WITHIN`, not in `configured`.
pub fn discovered(
    db: &AnalysisDb,
    domain: &str,
    configured: &[String],
    now: i64,
) -> Result<Vec<SeenSelector>, StoreError> {
    let since = now.saturating_sub(i64::try_from(SEEN_WITHIN.as_secs()).unwrap_or(i64::MAX));
    let seen = db.seen_selectors(domain, since)?;
    Ok(pick(domain, configured, seen))
}

/// The discovered ones among `seen`: d= the domain, verified at least once, not configured, valid
/// as a DNS label sequence, at most [`MAX_DISCOVERED`].
pub fn pick(domain: &str, configured: &[String], seen: Vec<SeenSelector>) -> Vec<SeenSelector> {
    let mut out: Vec<SeenSelector> = Vec::new();
    for s in seen {
        let selector_ok = !s.selector.is_empty()
            && s.selector.len() <= 63 * 4
            && s.selector.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !s.dkim_domain.eq_ignore_ascii_case(domain)
            || s.passed == 0
            || !selector_ok
            || configured
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&s.selector))
            || out.iter().any(|o| o.selector == s.selector)
        {
            continue;
        }
        out.push(s);
        if out.len() == MAX_DISCOVERED {
            break;
        }
    }
    out
}

/// The selectors to check: the configured ones, then the discovered ones.
pub fn union(configured: &[String], discovered: &[SeenSelector]) -> Vec<String> {
    configured
        .iter()
        .cloned()
        .chain(discovered.iter().map(|s| s.selector.clone()))
        .collect()
}

/// Add `dkim.selector_unmonitored` for each discovered selector to the DKIM report, and report the
/// critical findings of discovered selectors as warnings (see the module doc).
pub fn annotate(report: &mut CheckReport, domain: &str, discovered: &[SeenSelector]) {
    if discovered.is_empty() {
        return;
    }
    let is_discovered = |f: &Finding| {
        f.detail
            .get("selector")
            .and_then(|v| v.as_str())
            .is_some_and(|sel| discovered.iter().any(|d| d.selector == sel))
    };
    for f in &mut report.findings {
        if f.severity == Severity::Critical && is_discovered(f) {
            f.severity = Severity::Warning;
        }
    }
    for s in discovered {
        report.findings.push(
            Finding::new(
                FindingCode::DkimSelectorUnmonitored,
                Severity::Info,
                format!(
                    "DMARC reports show mail from {domain} signed with DKIM selector {} ({} messages, {} verified), \
                     which is not configured; it is checked from now on. Add it to dkim_selectors if it is yours.",
                    s.selector, s.messages, s.passed
                ),
            )
            .with_detail(json!({
                "selector": s.selector,
                "messages": s.messages,
                "passed": s.passed,
                "last_seen": s.last_seen,
            })),
        );
    }
    report.status = worst(&report.findings);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(d: &str, sel: &str, messages: u64, passed: u64) -> SeenSelector {
        SeenSelector {
            dkim_domain: d.into(),
            selector: sel.into(),
            messages,
            passed,
            last_seen: 1,
        }
    }

    #[test]
    fn only_verified_own_domain_unconfigured_selectors_are_discovered() {
        let got = pick(
            "example.com",
            &["s1".into()],
            vec![
                seen("example.com", "s1", 10, 10),
                seen("example.com", "s2", 5, 5),
                seen("example.com", "never", 5, 0),
                seen("esp.example", "k1", 50, 50),
                seen("example.com", "bad name", 5, 5),
            ],
        );
        let names: Vec<&str> = got.iter().map(|s| s.selector.as_str()).collect();
        assert_eq!(names, ["s2"]);
        assert_eq!(union(&["s1".into()], &got), ["s1", "s2"]);
    }

    #[test]
    fn discovered_selectors_get_an_info_finding_and_their_critical_ones_become_warnings() {
        let mut report = CheckReport {
            target: "example.com".into(),
            check: crate::results::CheckId::Dkim,
            status: Severity::Critical,
            record: None,
            findings: vec![
                Finding::new(FindingCode::DkimSelectorMissing, Severity::Critical, "gone")
                    .with_detail(json!({"selector": "s2"})),
                Finding::new(
                    FindingCode::DkimSelectorMissing,
                    Severity::Critical,
                    "configured",
                )
                .with_detail(json!({"selector": "s1"})),
            ],
            checked_at: 0,
            duration: Duration::ZERO,
        };
        annotate(
            &mut report,
            "example.com",
            &[seen("example.com", "s2", 7, 7)],
        );
        assert_eq!(report.findings[0].severity, Severity::Warning);
        assert_eq!(report.findings[1].severity, Severity::Critical);
        let info = &report.findings[2];
        assert_eq!(info.code, FindingCode::DkimSelectorUnmonitored);
        assert_eq!(info.severity, Severity::Info);
        assert!(info.message.contains("selector s2"), "{}", info.message);
        assert_eq!(report.status, Severity::Critical);
    }
}
