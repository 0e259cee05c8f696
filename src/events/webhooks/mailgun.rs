//! Mailgun webhooks: `{"signature": {"timestamp", "token", "signature"}, "event-data": {…}}`. The
//! signature is the hex HMAC-SHA256 of timestamp followed by token under the webhook signing key
//! (Mailgun docs, "Securing webhooks"); a timestamp more than 5 minutes from now and a token seen
//! before are refused.
//!
//! Events: `delivered` → delivery; `failed` with `severity: permanent` → bounce (temporary failures
//! are retried, not bounces; `suppress-*` reasons were never sent); `complained` → complaint.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::{digest, hmac};
use serde_json::Value;

use super::{Batch, Context, EspHint, WebhookError, bounce, domain_of_mailbox};
use crate::events::model::{BounceType, Complaint, Delivery, Reason, normalize_address};
use crate::events::provider::Provider;
use crate::events::store::{Event, Recorded};

/// How far a signature's timestamp may be from now.
pub const WINDOW_SECS: i64 = 300;
/// Tokens remembered (a token older than the window is refused by its timestamp anyway).
const MAX_TOKENS: usize = 100_000;

/// Tokens seen within the window.
#[derive(Default)]
pub struct ReplayCache {
    tokens: Mutex<HashMap<String, i64>>,
}

impl ReplayCache {
    /// Remember `token` (seen at `now`); `false` when it was already seen.
    pub fn first_use(&self, token: &str, now: i64) -> bool {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, at| now - *at <= WINDOW_SECS);
        }
        if tokens.contains_key(token) {
            return false;
        }
        tokens.insert(token.to_owned(), now);
        true
    }

    /// Forget a token (its request failed before commit, so a retry must be accepted).
    pub fn forget(&self, token: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }
}

/// Check the signature block of a parsed body; returns the token (for [`ReplayCache::forget`]).
pub fn verify(
    body: &Value,
    key: &str,
    now: i64,
    replay: &ReplayCache,
) -> Result<String, WebhookError> {
    let s = body
        .get("signature")
        .ok_or(WebhookError::Unauthorized("no signature block"))?;
    let field = |k: &str| {
        s.get(k).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
    };
    let (Some(timestamp), Some(token), Some(signature)) =
        (field("timestamp"), field("token"), field("signature"))
    else {
        return Err(WebhookError::Unauthorized(
            "the signature block lacks timestamp, token or signature",
        ));
    };
    let tag =
        hex_decode(&signature).ok_or(WebhookError::Unauthorized("the signature is not hex"))?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let message = format!("{timestamp}{token}");
    // hmac::verify compares in constant time.
    hmac::verify(&key, message.as_bytes(), &tag)
        .map_err(|_| WebhookError::Unauthorized("the Mailgun signature does not verify"))?;
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::Unauthorized("the timestamp is not a number"))?;
    if (now - ts).abs() > WINDOW_SECS {
        return Err(WebhookError::Unauthorized(
            "the signature timestamp is more than 5 minutes from now",
        ));
    }
    if !replay.first_use(&token, now) {
        return Err(WebhookError::Unauthorized(
            "this signature token was used before",
        ));
    }
    Ok(token)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Map the (verified) `event-data`.
pub fn map(body: &Value, cx: &Context<'_>) -> Result<Batch, WebhookError> {
    let e = body
        .get("event-data")
        .ok_or_else(|| WebhookError::BadRequest("no event-data".into()))?;
    let text = |p: &str| e.pointer(p).and_then(Value::as_str);
    let Some(recipient) = text("/recipient") else {
        return Ok(Batch::new());
    };
    // Mailgun's event id is not documented as unique across retries: key on a digest of the event.
    let canonical = serde_json::to_vec(e).unwrap_or_default();
    let digest = digest::digest(&digest::SHA256, &canonical);
    let key = Some(format!("mailgun:{}", hex(digest.as_ref())));
    let at = e
        .get("timestamp")
        .and_then(Value::as_f64)
        .map_or(cx.now, |t| t as i64);
    let sender = text("/envelope/sender")
        .and_then(domain_of_mailbox)
        .or_else(|| text("/message/headers/from").and_then(domain_of_mailbox))
        .or_else(|| cx.default_domain.map(str::to_owned));
    let event = match text("/event").unwrap_or("") {
        "delivered" => normalize_address(recipient).map(|r| {
            Event::Delivery(Delivery {
                provider: Provider::of_recipient(&r, text("/delivery-status/mx-host")),
                recipient: r,
                sender_domain: sender,
            })
        }),
        "failed"
            if text("/severity") == Some("permanent")
                && !text("/reason").unwrap_or("").starts_with("suppress") =>
        {
            let code = e.pointer("/delivery-status/code").and_then(Value::as_i64);
            let message = text("/delivery-status/message")
                .filter(|m| !m.is_empty())
                .or(text("/delivery-status/description"));
            let diagnostic = match (code, message) {
                (Some(c), Some(m)) => Some(format!("{c} {m}")),
                (None, Some(m)) => Some(m.to_owned()),
                _ => None,
            };
            let hint = EspHint {
                reason: Reason::Other,
                kind: BounceType::Soft,
            };
            bounce(
                cx,
                recipient,
                sender,
                text("/delivery-status/enhanced-code"),
                diagnostic.as_deref(),
                text("/delivery-status/mx-host"),
                Some(hint),
            )
            .map(Event::Bounce)
        }
        "complained" => normalize_address(recipient).map(|r| {
            Event::Complaint(Complaint {
                provider: Provider::of_recipient(&r, None),
                recipient: Some(r),
                sender_domain: sender,
                feedback_type: "abuse".into(),
            })
        }),
        _ => None,
    };
    Ok(event
        .map(|event| Recorded { key, at, event })
        .into_iter()
        .collect())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &str, ts: i64, token: &str) -> Value {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let tag = hmac::sign(&k, format!("{ts}{token}").as_bytes());
        serde_json::json!({"signature": {"timestamp": ts.to_string(), "token": token, "signature": hex(tag.as_ref())}})
    }

    #[test]
    fn a_good_signature_passes_once_and_a_stale_or_wrong_one_never() {
        let replay = ReplayCache::default();
        let now = 1_764_756_000;
        let body = signed("key-1", now - 10, "tok-a");
        assert_eq!(verify(&body, "key-1", now, &replay).as_deref(), Ok("tok-a"));
        assert!(
            matches!(verify(&body, "key-1", now, &replay), Err(WebhookError::Unauthorized(m)) if m.contains("used before"))
        );
        assert!(verify(&signed("key-1", now - 301, "tok-b"), "key-1", now, &replay).is_err());
        assert!(verify(&signed("key-2", now, "tok-c"), "key-1", now, &replay).is_err());
        // A refused request does not burn its token.
        assert!(verify(&signed("key-1", now, "tok-c"), "key-1", now, &replay).is_ok());
    }
}
