//! DKIM check: the key published for each configured selector at `<selector>._domainkey.<domain>`
//! (RFC 6376 §3.6.2.1), CNAMEs to an ESP followed by the DNS layer and reported.
//!
//! Selectors cannot be discovered through DNS, so only configured (or report-learned) ones are checked.
//!
//! Severities: a configured selector is one the domain signs with, so anything that makes verifiers
//! refuse its key (missing, revoked, malformed, < 1024 bits, SHA-1 only) is critical; what still verifies
//! but should change (1024–2047 bits, t=y, a misplaced v=) is a warning; a failed lookup is unknown; no
//! configured selector at all is info.

mod der;
mod key;
pub(crate) mod tags;

use serde_json::json;

use super::{DkimKeyFact, DomainContext, Outcome};
use crate::dns::{Answer, LookupError, Records, Txt};
use crate::findings::{Finding, FindingCode, Severity};
use key::KeyRecord;

/// RFC 8301 §3.2: "Signers MUST use RSA keys of at least 1024 bits for all keys."
const RSA_MINIMUM_BITS: u32 = 1024;
/// RFC 8301 §3.2: "Signers SHOULD use RSA keys of at least 2048 bits."
const RSA_RECOMMENDED_BITS: u32 = 2048;

/// Run the dkim check.
pub async fn check(cx: &DomainContext) -> Outcome {
    let mut outcome = Outcome::default();
    if cx.dkim_selectors.is_empty() {
        outcome.findings.push(Finding::new(
            FindingCode::DkimNoSelectors,
            Severity::Info,
            format!(
                "No DKIM selectors are configured for {}, so no key was checked; add the selectors you sign \
                 with under dkim_selectors (the s= tag of your DKIM-Signature headers).",
                cx.domain
            ),
        ));
        return outcome;
    }
    let mut records = Vec::new();
    for selector in &cx.dkim_selectors {
        let checked = check_selector(cx, selector).await;
        records.extend(checked.records.iter().map(|r| format!("{selector}: {r}")));
        outcome.findings.extend(checked.findings);
        outcome.facts.dkim_keys.extend(checked.key);
    }
    if !records.is_empty() {
        outcome.record = Some(records.join("\n"));
    }
    outcome
}

/// What one selector gave.
struct Selector {
    records: Vec<String>,
    findings: Vec<Finding>,
    key: Option<DkimKeyFact>,
}

async fn check_selector(cx: &DomainContext, selector: &str) -> Selector {
    let name = format!("{selector}._domainkey.{}", cx.domain);
    let mut out = Selector {
        records: Vec::new(),
        findings: Vec::new(),
        key: None,
    };
    let answer = match cx.dns.txt(&name).await {
        Ok(answer) => answer,
        Err(error) => {
            out.findings.push(lookup_failed(selector, &name, &error));
            return out;
        }
    };
    let records = match answer {
        Answer::Records(records) => records,
        void => {
            out.findings.push(missing(cx, selector, &name, &void).await);
            return out;
        }
    };
    let keys: Vec<&Txt> = records
        .items
        .iter()
        .filter(|t| KeyRecord::looks_like_key(&t.joined()))
        .collect();
    let base = json!({"selector": selector, "name": name, "aliases": records.aliases});
    if keys.is_empty() {
        let texts: Vec<String> = records.items.iter().map(Txt::joined).collect();
        out.findings.push(
            Finding::new(
                FindingCode::DkimSelectorMissing,
                Severity::Critical,
                format!(
                    "{name} has TXT records{} but none is a DKIM key, so mail signed with selector \
                     {selector} fails DKIM; publish the key (v=DKIM1; k=…; p=…) your signer uses.",
                    via(&records)
                ),
            )
            .with_detail(with(&base, json!({"txt": texts}))),
        );
        return out;
    }
    if keys.len() > 1 {
        // RFC 6376 §3.6.2.2: "TXT RRs MUST be unique for a particular selector name; that is, if there
        // are multiple records in an RRset, the results are undefined."
        out.findings.push(
            Finding::new(
                FindingCode::DkimSyntaxError,
                Severity::Warning,
                format!(
                    "{name} publishes {} DKIM key records; RFC 6376 leaves the result undefined, so verifiers \
                     may pick either. Keep one key per selector.",
                    keys.len()
                ),
            )
            .with_detail(with(&base, json!({"tag": "-", "records": keys.len()}))),
        );
    }
    for txt in keys {
        let text = txt.joined();
        out.records.push(text.clone());
        let key = KeyRecord::parse(&text);
        let detail = with(&base, json!({"record": text}));
        out.findings
            .extend(key_findings(selector, &name, &records, &key, &detail));
        if key.usable()
            && out.key.is_none()
            && let (Some(key_type), Some(bits)) = (key.key_type, key.bits)
        {
            out.key = Some(DkimKeyFact {
                selector: selector.to_owned(),
                key_type: key_type.as_str(),
                bits,
            });
        }
    }
    out
}

/// The findings one key record gives.
fn key_findings(
    selector: &str,
    name: &str,
    records: &Records<Txt>,
    key: &KeyRecord,
    detail: &serde_json::Value,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for problem in &key.problems {
        let (severity, consequence) = if problem.fatal {
            (
                Severity::Critical,
                "verifiers will not use the key, so mail signed with it fails DKIM",
            )
        } else {
            (Severity::Warning, "some verifiers may refuse the key")
        };
        findings.push(
            Finding::new(
                FindingCode::DkimSyntaxError,
                severity,
                format!(
                    "The DKIM key for selector {selector} ({name}{}) is malformed: {}; {consequence}.",
                    via(records),
                    problem.message
                ),
            )
            .with_detail(with(detail, json!({"tag": problem.tag}))),
        );
    }
    if key.problems.iter().any(|p| p.fatal) {
        // The key is unusable as published; its size and flags are moot until that is fixed.
        return findings;
    }
    if key.revoked {
        findings.push(
            Finding::new(
                FindingCode::DkimKeyRevoked,
                Severity::Critical,
                format!(
                    "The DKIM key for selector {selector} ({name}) is revoked (empty p=): mail signed with it \
                     fails DKIM. Publish the current key, or remove {selector} from the configured selectors \
                     if you no longer sign with it."
                ),
            )
            .with_detail(detail.clone()),
        );
        return findings;
    }
    if key.testing {
        // RFC 6376 §3.6.1 t=y: "Verifiers MUST NOT treat messages from Signers in testing mode
        // differently from unsigned email".
        findings.push(
            Finding::new(
                FindingCode::DkimTestingMode,
                Severity::Warning,
                format!(
                    "The DKIM key for selector {selector} is in testing mode (t=y): verifiers treat signed mail \
                     like unsigned mail. Remove t=y once signing works."
                ),
            )
            .with_detail(detail.clone()),
        );
    }
    if key.sha1_only {
        findings.push(
            Finding::new(
                FindingCode::DkimSha1Only,
                Severity::Critical,
                format!(
                    "The DKIM key for selector {selector} only allows SHA-1 (h=sha1), which RFC 8301 §3.1 \
                     forbids for signing and verifying: signatures with it fail. Use h=sha256 or drop h=."
                ),
            )
            .with_detail(detail.clone()),
        );
    }
    if let (Some(key::KeyType::Rsa), Some(bits)) = (key.key_type, key.bits) {
        // RFC 8301 §3.2: signers MUST use at least 1024 bits (and verifiers MUST NOT accept less),
        // SHOULD use at least 2048.
        let weak = if bits < RSA_MINIMUM_BITS {
            Some((
                Severity::Critical,
                "below the 1024 bits RFC 8301 requires, so verifiers reject its signatures",
            ))
        } else if bits < RSA_RECOMMENDED_BITS {
            Some((Severity::Warning, "below the 2048 bits RFC 8301 recommends"))
        } else {
            None
        };
        if let Some((severity, why)) = weak {
            findings.push(
                Finding::new(
                    FindingCode::DkimWeakKey,
                    severity,
                    format!(
                        "The DKIM key for selector {selector} is a {bits}-bit RSA key, {why}. Rotate to a \
                         2048-bit RSA key (or add an Ed25519 selector beside it)."
                    ),
                )
                .with_detail(with(detail, json!({"bits": bits}))),
            );
        }
    }
    findings
}

/// No DKIM record: say whether the name does not exist or exists without TXT, and whether it is a CNAME
/// to a provider's name that does not resolve (the DNS layer reports no alias chain for void answers).
async fn missing(cx: &DomainContext, selector: &str, name: &str, void: &Answer<Txt>) -> Finding {
    let what = if matches!(void, Answer::NxDomain) {
        "does not exist (NXDOMAIN)"
    } else {
        "exists but has no TXT record"
    };
    let target = match cx.dns.cname(name).await {
        Ok(Answer::Records(r)) => r.items.into_iter().next(),
        _ => None,
    };
    let message = match &target {
        Some(target) => format!(
            "{name} is a CNAME to {target}, which {what}: mail signed with selector {selector} fails DKIM. \
             Check the record your email provider asked for, or finish the setup on its side."
        ),
        None => format!(
            "{name} {what}: mail signed with selector {selector} fails DKIM. Publish the public key your \
             signer uses, or remove {selector} from the configured selectors."
        ),
    };
    Finding::new(
        FindingCode::DkimSelectorMissing,
        Severity::Critical,
        message,
    )
    .with_detail(json!({
        "selector": selector,
        "name": name,
        "answer": if matches!(void, Answer::NxDomain) { "nxdomain" } else { "nodata" },
        "cname": target,
    }))
}

fn lookup_failed(selector: &str, name: &str, error: &LookupError) -> Finding {
    Finding::new(
        FindingCode::DkimLookupFailed,
        Severity::Unknown,
        format!(
            "Could not look up the DKIM key for selector {selector} at {name}: {error}. The key was not checked; \
             this says nothing about whether it exists."
        ),
    )
    .with_detail(json!({"selector": selector, "name": name, "error": error.kind()}))
}

/// ", via CNAME a → b" when the answer came through aliases.
fn via(records: &Records<Txt>) -> String {
    if records.aliases.is_empty() {
        String::new()
    } else {
        format!(", via CNAME {}", records.aliases.join(" → "))
    }
}

/// `base` with the fields of `extra` added.
fn with(base: &serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut merged = base.clone();
    if let (Some(m), serde_json::Value::Object(e)) = (merged.as_object_mut(), extra) {
        m.extend(e);
    }
    merged
}

#[cfg(test)]
mod tests;
