//! `POST /api/v1/events`: events from any other sender, as JSON (docs/bounces.md, "Generic
//! events"). One object or an array of them:
//!
//! `{"type": "delivery"|"bounce"|"complaint", "recipient": "a@b", "sender_domain": "shop.example",
//! "id": "…", "at": "2026-12-03T10:00:00Z", "status": "5.1.1", "diagnostic": "550 …",
//! "remote_mta": "mx.b", "reason": "user_unknown", "bounce_type": "hard", "feedback_type": "abuse"}`
//!
//! Only `type` and `recipient` are required. A bounce without `reason` is classified from its status
//! and diagnostic; with `id`, a repeated event counts once.

use serde::Deserialize;

use super::{Batch, Context, WebhookError, bounce};
use crate::events::model::{BounceType, Complaint, Delivery, Reason, domain_of, normalize_address};
use crate::events::provider::Provider;
use crate::events::store::{Event, Recorded};

/// The most events in one request.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    recipient: String,
    #[serde(default)]
    sender_domain: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    diagnostic: Option<String>,
    #[serde(default)]
    remote_mta: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    bounce_type: Option<String>,
    #[serde(default)]
    feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Box<RawEvent>),
    Many(Vec<RawEvent>),
}

/// Map a request body; every event is checked and the first bad one is named (index and field).
pub fn map(body: &[u8], cx: &Context<'_>) -> Result<Batch, WebhookError> {
    let parsed: OneOrMany = serde_json::from_slice(body).map_err(|e| {
        WebhookError::BadRequest(format!("the body is not an event or a list of events: {e}"))
    })?;
    let events = match parsed {
        OneOrMany::One(e) => vec![*e],
        OneOrMany::Many(list) => list,
    };
    if events.len() > MAX_EVENTS {
        return Err(WebhookError::BadRequest(format!(
            "{} events in one request; send at most {MAX_EVENTS}",
            events.len()
        )));
    }
    let mut out = Batch::with_capacity(events.len());
    for (i, e) in events.into_iter().enumerate() {
        let bad = |field: &str, why: &str| {
            WebhookError::BadRequest(format!("events[{i}].{field}: {why}"))
        };
        let recipient = normalize_address(&e.recipient)
            .ok_or_else(|| bad("recipient", "not an email address"))?;
        let sender_domain = match e.sender_domain.as_deref() {
            Some(d) => Some(
                domain_of(&format!("x@{d}"))
                    .ok_or_else(|| bad("sender_domain", "not a domain name"))?,
            ),
            None => cx.default_domain.map(str::to_owned),
        };
        let at = match e.at.as_deref() {
            Some(t) => super::unix_time(t).ok_or_else(|| bad("at", "not an RFC 3339 time"))?,
            None => cx.now,
        };
        let key = match e.id.as_deref() {
            Some(id) if id.len() <= 200 => Some(format!("api:{id}")),
            Some(_) => return Err(bad("id", "longer than 200 characters")),
            None => None,
        };
        let provider = Provider::of_recipient(&recipient, e.remote_mta.as_deref());
        let event = match e.kind.as_str() {
            "delivery" => Event::Delivery(Delivery {
                recipient,
                sender_domain,
                provider,
            }),
            "complaint" => Event::Complaint(Complaint {
                recipient: Some(recipient),
                sender_domain,
                feedback_type: e.feedback_type.unwrap_or_else(|| "abuse".into()),
                provider,
            }),
            "bounce" => {
                let mut b = bounce(
                    cx,
                    &recipient,
                    sender_domain,
                    e.status.as_deref(),
                    e.diagnostic.as_deref(),
                    e.remote_mta.as_deref(),
                    None,
                )
                .ok_or_else(|| bad("recipient", "not an email address"))?;
                if let Some(r) = e.reason.as_deref() {
                    b.reason = Reason::parse(r)
                        .ok_or_else(|| bad("reason", "not a reason category (docs/bounces.md)"))?;
                    b.kind = b.reason.default_type();
                }
                if let Some(t) = e.bounce_type.as_deref() {
                    b.kind = BounceType::parse(t)
                        .ok_or_else(|| bad("bounce_type", "not hard or soft"))?;
                }
                Event::Bounce(b)
            }
            _ => return Err(bad("type", "not delivery, bounce or complaint")),
        };
        out.push(Recorded { key, at, event });
    }
    Ok(out)
}
