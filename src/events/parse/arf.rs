//! ARF complaints (RFC 5965): a `message/feedback-report` part (§3) whose fields name the feedback
//! type, and the reported message (whole or headers only, often redacted per RFC 6590).

use mail_parser::Message;

use super::super::model::{Complaint, domain_of, normalize_address};
use super::super::provider::Provider;
use super::fields;
use super::original::Original;
use super::{content_types, part_text};

/// What a feedback report is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// Complaints, one per reported recipient.
    Complaints(Vec<Complaint>),
    /// A DMARC failure report (RFC 6591 `auth-failure`): a report about authentication, for the
    /// report ingester, not a recipient's complaint.
    AuthFailure,
}

/// The feedback report in `m`, or `None` when it has no feedback-report part.
pub fn read(m: &Message<'_>) -> Option<Feedback> {
    let text = content_types(m).find_map(|(t, p)| {
        (t == "message/feedback-report")
            .then(|| part_text(&p.body))
            .flatten()
    })?;
    let report = fields::groups(&text).into_iter().next().unwrap_or_default();
    // RFC 5965 §3.1: Feedback-Type is required; a report without one is still a complaint from a
    // feedback loop, of a type it did not say.
    let feedback_type = report
        .get("Feedback-Type")
        .map(|t| {
            t.split_whitespace()
                .next()
                .unwrap_or("other")
                .to_ascii_lowercase()
        })
        .filter(|t| t.len() <= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or_else(|| "other".to_owned());
    if feedback_type == "auth-failure" {
        return Some(Feedback::AuthFailure);
    }
    let original = Original::find(m);
    let sender_domain = [
        original.from.as_deref(),
        report.get("Original-Mail-From").map(fields::typed_value),
    ]
    .into_iter()
    .flatten()
    .find_map(domain_of)
    .or_else(|| {
        report
            .get("Reported-Domain")
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
    });
    // RFC 5965 §3.2: Original-Rcpt-To may appear once per recipient the report is about.
    let mut recipients: Vec<Option<String>> = report
        .all("Original-Rcpt-To")
        .filter_map(|r| normalize_address(fields::typed_value(r)))
        .map(Some)
        .collect();
    if recipients.is_empty() {
        // The reported message's To, when it is an address and not a redaction.
        recipients.push(original.to.as_deref().and_then(normalize_address));
    }
    Some(Feedback::Complaints(
        recipients
            .into_iter()
            .map(|recipient| Complaint {
                provider: recipient
                    .as_deref()
                    .map_or(Provider::Other, |r| Provider::of_recipient(r, None)),
                recipient,
                sender_domain: sender_domain.clone(),
                feedback_type: feedback_type.clone(),
            })
            .collect(),
    ))
}
