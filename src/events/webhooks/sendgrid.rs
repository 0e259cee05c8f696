//! SendGrid Event Webhook (signed). The signature (`X-Twilio-Email-Event-Webhook-Signature`, base64
//! DER ECDSA P-256 with SHA-256) covers the timestamp header's value followed by the raw body, with
//! nothing between (SendGrid docs, "Getting Started with the Event Webhook Security Features").
//! It is checked before the body is parsed.
//!
//! Events: `delivered` → delivery; `bounce` (type `bounce` or `blocked`) → bounce; `spamreport` →
//! complaint; `dropped` was never sent and `deferred` is not final: neither is counted.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use serde_json::Value;

use super::{Batch, Context, EspHint, WebhookError, bounce};
use crate::events::model::{BounceType, Complaint, Delivery, Reason, normalize_address};
use crate::events::provider::Provider;
use crate::events::store::{Event, Recorded};

/// Check the signature of a request.
pub fn verify(
    public_key_der: &[u8],
    signature_b64: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let (Some(signature), Some(timestamp)) = (signature_b64, timestamp) else {
        return Err(WebhookError::Unauthorized(
            "the SendGrid signature headers are missing",
        ));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|_| WebhookError::Unauthorized("the signature is not base64"))?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key_der)
        .verify(&signed, &signature)
        .map_err(|_| WebhookError::Unauthorized("the SendGrid signature does not verify"))
}

/// Map a (verified) body: a JSON array of events.
pub fn map(body: &[u8], cx: &Context<'_>) -> Result<Batch, WebhookError> {
    let events: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        WebhookError::BadRequest(format!("the body is not a JSON array of events: {e}"))
    })?;
    let mut out = Batch::new();
    for e in &events {
        let text = |k: &str| e.get(k).and_then(Value::as_str);
        let Some(id) = text("sg_event_id") else {
            continue;
        };
        let Some(email) = text("email") else { continue };
        let at = e.get("timestamp").and_then(Value::as_i64).unwrap_or(cx.now);
        let key = Some(format!("sendgrid:{id}"));
        let sender = cx.default_domain.map(str::to_owned);
        let event = match text("event").unwrap_or("") {
            "delivered" => normalize_address(email).map(|r| {
                Event::Delivery(Delivery {
                    provider: Provider::of_recipient(&r, None),
                    recipient: r,
                    sender_domain: sender,
                })
            }),
            "bounce" => {
                let hint = match text("type") {
                    Some("blocked") => EspHint {
                        reason: Reason::BlockedReputation,
                        kind: BounceType::Soft,
                    },
                    _ => classification_hint(text("bounce_classification")),
                };
                let diagnostic = text("reason").or(text("response"));
                bounce(
                    cx,
                    email,
                    sender,
                    text("status"),
                    diagnostic,
                    None,
                    Some(hint),
                )
                .map(Event::Bounce)
            }
            "spamreport" => normalize_address(email).map(|r| {
                Event::Complaint(Complaint {
                    provider: Provider::of_recipient(&r, None),
                    recipient: Some(r),
                    sender_domain: sender,
                    feedback_type: "abuse".into(),
                })
            }),
            _ => None,
        };
        if let Some(event) = event {
            out.push(Recorded { key, at, event });
        }
    }
    Ok(out)
}

/// SendGrid's `bounce_classification` as a fallback reason.
fn classification_hint(c: Option<&str>) -> EspHint {
    let (reason, kind) = match c.unwrap_or("") {
        "Invalid Address" => (Reason::UserUnknown, BounceType::Hard),
        "Mailbox Unavailable" => (Reason::UserUnknown, BounceType::Hard),
        "Reputation" => (Reason::BlockedReputation, BounceType::Soft),
        "Content" => (Reason::SpamContent, BounceType::Soft),
        "Frequency or Volume Too High" => (Reason::RateLimited, BounceType::Soft),
        "Technical Failure" => (Reason::SystemError, BounceType::Soft),
        _ => (Reason::Other, BounceType::Soft),
    };
    EspHint { reason, kind }
}
