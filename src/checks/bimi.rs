//! BIMI check: the assertion record at `default._bimi.<domain>` (falling back to the organizational
//! domain, as receivers do) and the DMARC enforcement BIMI depends on.
//!
//! BIMI is optional branding, so its findings never outrank Warning:
//! - `bimi.missing`: no record, or a record declining BIMI (`l=` empty, no `a=`). Info.
//! - `bimi.syntax_error`: several records, a record not starting with `v=BIMI1`, a bad tag. Warning:
//!   receivers ignore the record and show no logo.
//! - `bimi.requires_enforced_dmarc`: the DMARC policy that applies is not quarantine/reject for all mail
//!   (`p`/`sp` none, `pct` < 100, `t=y`, or no DMARC at all). Warning: no logo is shown.
//! - `bimi.lookup_failed`: a BIMI or DMARC lookup failed. Unknown.
//!
//! Record format (draft-brand-indicators-for-message-identification, §4.2): `v=BIMI1` first, `l=` the
//! logo's HTTPS URL (empty declines), optional `a=` the HTTPS URL of the mark certificate; receivers ignore
//! unknown tags. The organizational domain comes from the public suffix list (the `psl` crate).

use serde_json::json;

use super::dmarc::{self, Policy};
use super::tag_list;
use super::{DomainContext, Outcome};
use crate::dns::{LookupError, Lookups};
use crate::findings::{Finding, FindingCode, Severity};

/// The only selector a receiver looks up without a `BIMI-Selector` header.
const SELECTOR: &str = "default";

/// Tags this check knows; others are ignored by receivers (and named in an Info note).
const KNOWN_TAGS: [&str; 4] = ["v", "l", "a", "avp"];

/// A valid assertion record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assertion {
    /// `l=`: logo URL(s); empty when declining.
    location: Vec<String>,
    /// `a=`: the evidence document (mark certificate) URL.
    evidence: Option<String>,
    /// Tags receivers will ignore.
    unknown_tags: Vec<String>,
}

impl Assertion {
    /// §4.2.1 "declination to publish": `l=` empty and no evidence.
    fn declines(&self) -> bool {
        self.location.is_empty() && self.evidence.is_none()
    }
}

/// What the TXT lookup at one name gave.
struct Found {
    /// The name queried.
    name: String,
    /// Records starting with `v=BIMI1`.
    bimi: Vec<String>,
    /// Other TXT records there.
    other: Vec<String>,
}

async fn lookup(dns: &Lookups, domain: &str) -> Result<Found, LookupError> {
    let name = format!("{SELECTOR}._bimi.{domain}");
    let answer = dns.txt(&name).await?;
    let (bimi, other) = answer
        .records()
        .iter()
        .map(|t| t.joined())
        .partition(|t| t.starts_with("v=BIMI1"));
    Ok(Found { name, bimi, other })
}

/// Run the bimi check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let domain = cx.domain.as_str();
    let mut found = match lookup(&cx.dns, domain).await {
        Ok(f) => f,
        Err(e) => return failed(&format!("the BIMI record of {domain}"), &e),
    };
    let mut stray = found.other.clone();
    if found.bimi.is_empty() {
        // Receivers fall back to the organizational domain's record when the domain has none.
        if let Some(org) = psl::domain_str(domain).filter(|org| *org != domain) {
            match lookup(&cx.dns, org).await {
                Ok(f) => {
                    stray.extend(f.other.iter().cloned());
                    if !f.bimi.is_empty() {
                        found = f;
                    }
                }
                Err(e) => return failed(&format!("the BIMI record of {org}"), &e),
            }
        }
    }
    let mut outcome = Outcome::default();
    if found.bimi.is_empty() {
        outcome.findings.push(if stray.is_empty() {
            Finding::new(
                FindingCode::BimiMissing,
                Severity::Info,
                format!(
                    "No BIMI record at {}: mailbox providers show no brand logo. Optional: publish one \
                     once DMARC is at quarantine or reject.",
                    found.name
                ),
            )
        } else {
            Finding::new(
                FindingCode::BimiSyntaxError,
                Severity::Warning,
                format!(
                    "TXT records at {} exist but none starts with v=BIMI1, so receivers ignore them: {}.",
                    found.name,
                    stray.join(" | ")
                ),
            )
            .with_detail(json!({"records": stray}))
        });
        return outcome;
    }
    outcome.record = Some(found.bimi.join("\n"));
    if found.bimi.len() > 1 {
        outcome.findings.push(
            Finding::new(
                FindingCode::BimiSyntaxError,
                Severity::Warning,
                format!(
                    "{} BIMI records at {}: receivers use none of them. Keep exactly one.",
                    found.bimi.len(),
                    found.name
                ),
            )
            .with_detail(json!({"records": found.bimi})),
        );
        return outcome;
    }
    match parse(&found.bimi[0]) {
        Err(problems) => outcome.findings.push(
            Finding::new(
                FindingCode::BimiSyntaxError,
                Severity::Warning,
                format!(
                    "The BIMI record at {} is malformed ({}); receivers ignore it.",
                    found.name,
                    problems.join("; ")
                ),
            )
            .with_detail(json!({"problems": problems})),
        ),
        Ok(assertion) => {
            if !assertion.unknown_tags.is_empty() {
                outcome.findings.push(Finding::new(
                    FindingCode::BimiSyntaxError,
                    Severity::Info,
                    format!(
                        "The BIMI record at {} has tags receivers ignore: {}.",
                        found.name,
                        assertion.unknown_tags.join(", ")
                    ),
                ));
            }
            if assertion.declines() {
                outcome.findings.push(Finding::new(
                    FindingCode::BimiMissing,
                    Severity::Info,
                    format!(
                        "The BIMI record at {} declines BIMI (empty l=): no logo is shown.",
                        found.name
                    ),
                ));
                return outcome;
            }
        }
    }
    outcome.findings.extend(dmarc_enforcement(cx).await);
    outcome
}

/// BIMI is only honoured when DMARC quarantines or rejects all failing mail of the domain.
async fn dmarc_enforcement(cx: &DomainContext) -> Option<Finding> {
    let domain = cx.domain.as_str();
    let summary = match dmarc::effective_policy(&cx.dns, &cx.domain).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Some(Finding::new(
                FindingCode::BimiRequiresEnforcedDmarc,
                Severity::Warning,
                format!(
                    "No DMARC record applies to {domain}, and BIMI needs DMARC at p=quarantine or p=reject: \
                     no logo will be shown. Publish a DMARC policy and move it to enforcement."
                ),
            ));
        }
        Err(e) => {
            return Some(lookup_failed(&format!("the DMARC policy of {domain}"), &e));
        }
    };
    let inherited = summary.found_at != domain;
    // At a subdomain that has no record of its own, DMARC applies the parent's sp= (else p=).
    let applicable = if inherited {
        summary.subdomain_policy.unwrap_or(summary.policy)
    } else {
        summary.policy
    };
    let mut reasons = Vec::new();
    if applicable == Policy::None {
        let tag = if inherited && summary.subdomain_policy.is_some() {
            "sp"
        } else {
            "p"
        };
        reasons.push(format!("the policy is {tag}=none"));
    }
    if !inherited && summary.subdomain_policy == Some(Policy::None) {
        reasons.push("sp=none leaves subdomains unenforced".to_owned());
    }
    if let Some(pct) = summary.pct.filter(|p| *p < 100) {
        reasons.push(format!(
            "pct={pct} applies it to only {pct}% of failing mail"
        ));
    }
    if summary.testing {
        reasons.push("t=y puts it in testing mode".to_owned());
    }
    if reasons.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            FindingCode::BimiRequiresEnforcedDmarc,
            Severity::Warning,
            format!(
                "BIMI needs DMARC at quarantine or reject for all mail, but in the DMARC record of {}, {}: \
                 no logo will be shown until it is enforced.",
                summary.found_at,
                reasons.join(", ")
            ),
        )
        .with_detail(json!({
            "found_at": summary.found_at,
            "policy": summary.policy.as_str(),
            "subdomain_policy": summary.subdomain_policy.map(Policy::as_str),
            "pct": summary.pct,
            "testing": summary.testing,
        })),
    )
}

/// Parse an assertion record; every problem is reported, not just the first.
fn parse(record: &str) -> Result<Assertion, Vec<String>> {
    let tags = tag_list::split(record).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    // §4.2: the version tag must come first and be exactly BIMI1.
    match tags.first() {
        Some(t) if t.name == "v" && t.value == "BIMI1" => {}
        _ => problems.push("it must start with v=BIMI1".to_owned()),
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut assertion = Assertion {
        location: Vec::new(),
        evidence: None,
        unknown_tags: Vec::new(),
    };
    let mut has_location = false;
    for tag in &tags {
        if seen.contains(&tag.name) {
            problems.push(format!("tag {}= appears twice", tag.name));
            continue;
        }
        seen.push(tag.name);
        match tag.name {
            "v" => {}
            "l" => {
                has_location = true;
                for url in tag
                    .value
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                {
                    match https_url(url) {
                        Ok(()) => assertion.location.push(url.to_owned()),
                        Err(why) => problems.push(format!("l={url} {why}")),
                    }
                }
            }
            "a" => match tag.value {
                // "self" (older drafts) means no evidence document, like an empty a=.
                "" | "self" => {}
                url => match https_url(url) {
                    Ok(()) => assertion.evidence = Some(url.to_owned()),
                    Err(why) => problems.push(format!("a={url} {why}")),
                },
            },
            "avp" if !matches!(tag.value, "brand" | "personal") => {
                problems.push(format!("avp={} is not brand or personal", tag.value));
            }
            name if !KNOWN_TAGS.contains(&name) => assertion.unknown_tags.push(name.to_owned()),
            _ => {}
        }
    }
    if !has_location {
        problems.push("the l= tag is missing (write l= with an empty value to decline)".to_owned());
    }
    if problems.is_empty() {
        Ok(assertion)
    } else {
        Err(problems)
    }
}

/// An absolute `https://host/...` URL without whitespace.
fn https_url(url: &str) -> Result<(), &'static str> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err("is not an https:// URL");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err("is not a valid URL");
    }
    Ok(())
}

fn lookup_failed(what: &str, e: &LookupError) -> Finding {
    super::lookup_failed(
        FindingCode::BimiLookupFailed,
        what,
        e,
        "BIMI could not be checked",
    )
}

fn failed(what: &str, e: &LookupError) -> Outcome {
    Outcome {
        findings: vec![lookup_failed(what, e)],
        ..Outcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::test_support::{self, codes};

    async fn run(zone: &str, domain: &str) -> Outcome {
        test_support::run(check, zone, domain).await
    }

    const LOGO: &str = "default._bimi.example.com TXT \"v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem\"";

    #[tokio::test]
    async fn a_valid_record_with_enforced_dmarc_is_clean() {
        let o = run(
            &format!("{LOGO}\n_dmarc.example.com TXT \"v=DMARC1; p=reject\""),
            "example.com",
        )
        .await;
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert!(o.record.unwrap().starts_with("v=BIMI1"));
    }

    #[tokio::test]
    async fn no_record_is_info_only() {
        let o = run("example.com TXT x", "example.com").await;
        assert_eq!(codes(&o), vec![(FindingCode::BimiMissing, Severity::Info)]);
    }

    #[tokio::test]
    async fn a_subdomain_falls_back_to_the_organizational_domain_record() {
        let o = run(
            &format!("{LOGO}\n_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\""),
            "news.example.com",
        )
        .await;
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert!(o.record.is_some());
    }

    #[tokio::test]
    async fn unenforced_dmarc_is_named_precisely() {
        for (dmarc, expect) in [
            ("v=DMARC1; p=none", "p=none"),
            ("v=DMARC1; p=reject; pct=50", "pct=50"),
            ("v=DMARC1; p=reject; t=y", "t=y"),
            ("v=DMARC1; p=reject; sp=none", "sp=none"),
        ] {
            let o = run(
                &format!("{LOGO}\n_dmarc.example.com TXT \"{dmarc}\""),
                "example.com",
            )
            .await;
            assert_eq!(
                codes(&o),
                vec![(FindingCode::BimiRequiresEnforcedDmarc, Severity::Warning)],
                "{dmarc}"
            );
            assert!(
                o.findings[0].message.contains(expect),
                "{dmarc}: {}",
                o.findings[0].message
            );
        }
        let o = run(
            &format!("{LOGO}\n_dmarc.example.com TXT \"v=DMARC1; p=none\""),
            "example.com",
        )
        .await;
        assert_eq!(
            o.findings[0].message,
            "BIMI needs DMARC at quarantine or reject for all mail, but in the DMARC record of \
             example.com, the policy is p=none: no logo will be shown until it is enforced."
        );
        let o = run(LOGO, "example.com").await;
        assert!(o.findings[0].message.contains("No DMARC record"));
    }

    #[tokio::test]
    async fn an_inherited_subdomain_policy_of_none_blocks_bimi() {
        let o = run(
            "default._bimi.news.example.com TXT \"v=BIMI1; l=https://example.com/l.svg\"\n\
             _dmarc.example.com TXT \"v=DMARC1; p=reject; sp=none\"",
            "news.example.com",
        )
        .await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::BimiRequiresEnforcedDmarc, Severity::Warning)]
        );
        assert!(o.findings[0].message.contains("sp=none"));
    }

    #[test]
    fn record_syntax() {
        assert!(parse("v=BIMI1; l=https://a.test/l.svg").is_ok());
        assert!(parse("v=BIMI1; l=; a=;").unwrap().declines());
        assert!(
            !parse("v=BIMI1; l=; a=https://a.test/vmc.pem")
                .unwrap()
                .declines()
        );
        let e = parse("v=BIMI1; l=http://a.test/l.svg").unwrap_err();
        assert!(e[0].contains("not an https:// URL"), "{e:?}");
        let e = parse("l=https://a.test/l.svg; v=BIMI1").unwrap_err();
        assert!(e[0].contains("start with v=BIMI1"));
        let e = parse("v=BIMI1; a=https://a.test/vmc.pem").unwrap_err();
        assert!(e[0].contains("l= tag is missing"));
        let e = parse("v=BIMI1; l=; l=").unwrap_err();
        assert!(e[0].contains("twice"));
        assert_eq!(
            parse("v=BIMI1; l=; x=1").unwrap().unknown_tags,
            vec!["x".to_owned()]
        );
    }

    #[tokio::test]
    async fn malformed_duplicate_and_stray_records_are_syntax_errors() {
        for zone in [
            "default._bimi.example.com TXT \"v=BIMI1; l=http://example.com/l.svg\"\n\
             _dmarc.example.com TXT \"v=DMARC1; p=reject\""
                .to_owned(),
            format!("{LOGO}\ndefault._bimi.example.com TXT \"v=BIMI1; l=\""),
            "default._bimi.example.com TXT \"v=BIMI2; l=\"".to_owned(),
        ] {
            let o = run(&zone, "example.com").await;
            assert_eq!(
                codes(&o),
                vec![(FindingCode::BimiSyntaxError, Severity::Warning)],
                "{zone}"
            );
        }
    }

    #[tokio::test]
    async fn failures_are_unknown() {
        let o = run("default._bimi.example.com SERVFAIL", "example.com").await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::BimiLookupFailed, Severity::Unknown)]
        );
        assert_eq!(
            o.findings[0].message,
            "Could not look up the BIMI record of example.com: SERVFAIL from the resolver. \
             BIMI could not be checked; check the resolver."
        );
        assert_eq!(o.findings[0].detail, json!({"error": "servfail"}));
        let o = run(
            &format!("{LOGO}\n_dmarc.example.com TIMEOUT"),
            "example.com",
        )
        .await;
        assert_eq!(
            codes(&o),
            vec![(FindingCode::BimiLookupFailed, Severity::Unknown)]
        );
    }

    #[test]
    fn psl_gives_the_organizational_domain() {
        assert_eq!(psl::domain_str("news.example.co.uk"), Some("example.co.uk"));
        // Unlisted TLDs (the test zones) fall under the PSL's default rule "*".
        assert_eq!(psl::domain_str("clean.bimi.test"), Some("bimi.test"));
    }
}
