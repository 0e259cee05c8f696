//! Postmark webhooks. Postmark signs nothing: the request must carry the basic-auth credentials
//! configured in the webhook URL (RFC 7617), compared in constant time.
//!
//! `RecordType`: `Delivery` → delivery; `Bounce` → bounce, except the types that are not bounces
//! (AutoResponder, Unsubscribe, AddressChange, SubscribeRequest, OpenRelayTest, ChallengeVerification,
//! ManuallyDeactivated, SpamNotification); `SpamComplaint` → complaint. Key: RecordType and `ID`.

use base64::Engine;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::{Batch, Context, EspHint, WebhookError, bounce, domain_of_mailbox, unix_time};
use crate::events::model::{BounceType, Complaint, Delivery, Reason, normalize_address};
use crate::events::provider::Provider;
use crate::events::store::{Event, Recorded};

/// Check `Authorization: Basic …` against the configured credentials.
pub fn verify(
    authorization: Option<&str>,
    username: &str,
    password: &str,
) -> Result<(), WebhookError> {
    let refused =
        WebhookError::Unauthorized("the Postmark webhook credentials are missing or wrong");
    let value = authorization.ok_or(refused.clone())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or(refused.clone())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| refused.clone())?;
    let expected = format!("{username}:{password}");
    if bool::from(decoded.as_slice().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(refused)
    }
}

/// Map one webhook body (one record).
pub fn map(body: &[u8], cx: &Context<'_>) -> Result<Batch, WebhookError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::BadRequest(format!("the body is not JSON: {e}")))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str);
    let record = text("RecordType").unwrap_or("");
    let id = v
        .get("ID")
        .map(|i| i.to_string().trim_matches('"').to_owned());
    let key = id.map(|id| format!("postmark:{record}:{id}"));
    let sender = text("From")
        .and_then(domain_of_mailbox)
        .or_else(|| cx.default_domain.map(str::to_owned));
    let at_field = |k: &str| text(k).and_then(unix_time).unwrap_or(cx.now);
    let event = match record {
        "Delivery" => text("Recipient").and_then(normalize_address).map(|r| {
            (
                at_field("DeliveredAt"),
                Event::Delivery(Delivery {
                    provider: Provider::of_recipient(&r, None),
                    recipient: r,
                    sender_domain: sender,
                }),
            )
        }),
        "Bounce" => {
            let Some(hint) = hint(text("Type").unwrap_or("")) else {
                return Ok(Batch::new());
            };
            let email = text("Email").unwrap_or("");
            let diagnostic = text("Details")
                .filter(|d| !d.is_empty())
                .or(text("Description"));
            bounce(cx, email, sender, None, diagnostic, None, Some(hint))
                .map(|b| (at_field("BouncedAt"), Event::Bounce(b)))
        }
        "SpamComplaint" => text("Email").and_then(normalize_address).map(|r| {
            (
                at_field("BouncedAt"),
                Event::Complaint(Complaint {
                    provider: Provider::of_recipient(&r, None),
                    recipient: Some(r),
                    sender_domain: sender,
                    feedback_type: "abuse".into(),
                }),
            )
        }),
        _ => None,
    };
    Ok(event
        .map(|(at, event)| Recorded { key, at, event })
        .into_iter()
        .collect())
}

/// Postmark's bounce `Type` as a fallback reason; `None` for records that are not bounces.
fn hint(kind: &str) -> Option<EspHint> {
    let (reason, t) = match kind {
        "HardBounce" | "BadEmailAddress" => (Reason::UserUnknown, BounceType::Hard),
        "DnsError" => (Reason::DomainNotFound, BounceType::Soft),
        "SoftBounce" | "Transient" | "Undeliverable" | "Unknown" => {
            (Reason::Other, BounceType::Soft)
        }
        "SpamNotification" | "ContentRelated" => (Reason::SpamContent, BounceType::Soft),
        "Blocked" => (Reason::BlockedReputation, BounceType::Soft),
        "VirusNotification" => (Reason::Security, BounceType::Soft),
        "DMARCPolicy" => (Reason::PolicyAuth, BounceType::Soft),
        "InboundError" | "TemplateRenderingFailed" => (Reason::SystemError, BounceType::Soft),
        // AutoResponder, Unsubscribe, AddressChange, SubscribeRequest, OpenRelayTest,
        // ChallengeVerification, ManuallyDeactivated: not bounces.
        _ => return None,
    };
    Some(EspHint { reason, kind: t })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_must_match_exactly() {
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("hook:s3cret")
        );
        assert!(verify(Some(&good), "hook", "s3cret").is_ok());
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("hook:s3cre")
        );
        assert!(verify(Some(&bad), "hook", "s3cret").is_err());
        assert!(verify(Some("Bearer x"), "hook", "s3cret").is_err());
        assert!(verify(None, "hook", "s3cret").is_err());
    }
}
