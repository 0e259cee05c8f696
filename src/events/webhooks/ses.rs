//! Amazon SES notifications (the `Message` of an SNS notification): `notificationType` (or
//! `eventType` with event publishing) Bounce, Complaint or Delivery.
//!
//! SES bounce types (SES developer guide, "Amazon SES notification contents"): Permanent/General and
//! Permanent/NoEmail are addresses that do not take mail; Permanent/Suppressed and
//! Permanent/OnAccountSuppressionList were never sent and are not counted; Transient/* are soft.
//! The recipient's own diagnostic decides the reason when it says something specific.

use serde_json::Value;

use super::{Batch, Context, EspHint, WebhookError, bounce, domain_of_mailbox, unix_time};
use crate::events::model::{BounceType, Complaint, Delivery, Reason, normalize_address};
use crate::events::provider::Provider;
use crate::events::store::{Event, Recorded};

/// Map one SES notification; `message_id` is the SNS MessageId (the idempotency key's base).
pub fn map(message: &str, message_id: &str, cx: &Context<'_>) -> Result<Batch, WebhookError> {
    let v: Value = serde_json::from_str(message)
        .map_err(|e| WebhookError::BadRequest(format!("the SES message is not JSON: {e}")))?;
    let kind = v
        .get("notificationType")
        .or_else(|| v.get("eventType"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mail = v.get("mail").cloned().unwrap_or(Value::Null);
    let sender = mail
        .pointer("/commonHeaders/from/0")
        .and_then(Value::as_str)
        .and_then(domain_of_mailbox)
        .or_else(|| {
            mail.get("source")
                .and_then(Value::as_str)
                .and_then(domain_of_mailbox)
        });
    let at_of = |v: &Value| {
        v.get("timestamp")
            .and_then(Value::as_str)
            .and_then(unix_time)
            .unwrap_or(cx.now)
    };
    let mut out = Batch::new();
    match kind {
        "Bounce" => {
            let b = v.get("bounce").cloned().unwrap_or(Value::Null);
            let main = b.get("bounceType").and_then(Value::as_str).unwrap_or("");
            let sub = b.get("bounceSubType").and_then(Value::as_str).unwrap_or("");
            let Some(hint) = hint(main, sub) else {
                return Ok(out); // not sent: kept out of counts and rates
            };
            let id = b
                .get("feedbackId")
                .and_then(Value::as_str)
                .unwrap_or(message_id);
            let at = at_of(&b);
            for r in b
                .get("bouncedRecipients")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(address) = r.get("emailAddress").and_then(Value::as_str) else {
                    continue;
                };
                let remote = b
                    .get("reportingMTA")
                    .and_then(Value::as_str)
                    .map(|m| m.trim_start_matches("dns;").trim());
                if let Some(item) = bounce(
                    cx,
                    address,
                    sender.clone(),
                    r.get("status").and_then(Value::as_str),
                    r.get("diagnosticCode").and_then(Value::as_str),
                    remote,
                    Some(hint),
                ) {
                    out.push(Recorded {
                        key: Some(format!("ses:{id}:{}", item.recipient)),
                        at,
                        event: Event::Bounce(item),
                    });
                }
            }
        }
        "Complaint" => {
            let c = v.get("complaint").cloned().unwrap_or(Value::Null);
            // "not-spam" is a report that the message is NOT spam (RFC 5965 §7.3): not a complaint.
            let feedback = c
                .get("complaintFeedbackType")
                .and_then(Value::as_str)
                .unwrap_or("abuse")
                .to_ascii_lowercase();
            if feedback == "not-spam" {
                return Ok(out);
            }
            let id = c
                .get("feedbackId")
                .and_then(Value::as_str)
                .unwrap_or(message_id);
            let at = at_of(&c);
            for r in c
                .get("complainedRecipients")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(address) = r
                    .get("emailAddress")
                    .and_then(Value::as_str)
                    .and_then(normalize_address)
                else {
                    continue;
                };
                out.push(Recorded {
                    key: Some(format!("ses:{id}:{address}")),
                    at,
                    event: Event::Complaint(Complaint {
                        provider: Provider::of_recipient(&address, None),
                        recipient: Some(address),
                        sender_domain: sender
                            .clone()
                            .or_else(|| cx.default_domain.map(str::to_owned)),
                        feedback_type: feedback.clone(),
                    }),
                });
            }
        }
        "Delivery" => {
            let d = v.get("delivery").cloned().unwrap_or(Value::Null);
            let at = at_of(&d);
            for address in d
                .get("recipients")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(address) = address.as_str().and_then(normalize_address) else {
                    continue;
                };
                out.push(Recorded {
                    key: Some(format!("ses:{message_id}:{address}")),
                    at,
                    event: Event::Delivery(Delivery {
                        provider: Provider::of_recipient(&address, None),
                        recipient: address,
                        sender_domain: sender
                            .clone()
                            .or_else(|| cx.default_domain.map(str::to_owned)),
                    }),
                });
            }
        }
        _ => {} // Send, Open, Click, DeliveryDelay…: nothing we count.
    }
    Ok(out)
}

/// SES's bounce type as a fallback reason; `None` for mail SES never sent.
fn hint(main: &str, sub: &str) -> Option<EspHint> {
    let (reason, kind) = match (main, sub) {
        ("Permanent", "Suppressed" | "OnAccountSuppressionList") => return None,
        ("Permanent", _) => (Reason::UserUnknown, BounceType::Hard),
        ("Transient", "MailboxFull") => (Reason::MailboxFull, BounceType::Soft),
        ("Transient", "MessageTooLarge") => (Reason::MessageTooLarge, BounceType::Soft),
        ("Transient", "ContentRejected" | "AttachmentRejected") => {
            (Reason::SpamContent, BounceType::Soft)
        }
        _ => (Reason::Other, BounceType::Soft),
    };
    Some(EspHint { reason, kind })
}
