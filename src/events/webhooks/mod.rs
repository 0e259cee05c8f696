//! ESP webhooks and the generic events API: verify the request, then map the provider's JSON to
//! typed events ([`Recorded`]) with idempotency keys. Nothing here touches the store or HTTP: the
//! handlers in `src/http/webhooks.rs` commit the batch and answer 2xx only after the commit.
//!
//! - [`ses`] (through [`sns`] signatures), [`sendgrid`] (ECDSA P-256), [`mailgun`] (HMAC-SHA256,
//!   timestamp window, replayed tokens refused), [`postmark`] (basic auth), [`generic`].

pub mod der;
pub mod generic;
pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;
pub mod sns;

use super::classify::{Basis, Classifier, Evidence};
use super::model::{Bounce, BounceType, Reason, bounded_diagnostic, normalize_address};
use super::provider::Provider;
use super::store::Recorded;

/// Why a webhook request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookError {
    /// Signature, credentials or topic refused: 401 (403 for a topic), nothing stored.
    Unauthorized(&'static str),
    /// A well-signed request for a topic or account we do not accept: 403.
    Forbidden(String),
    /// The body is not what the provider sends: 400.
    BadRequest(String),
    /// We could not check it now (certificate download failed): 503, the provider retries.
    Unavailable(String),
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookError::Unauthorized(why) => write!(f, "unauthorized: {why}"),
            WebhookError::Forbidden(why) => write!(f, "forbidden: {why}"),
            WebhookError::BadRequest(why) => write!(f, "bad request: {why}"),
            WebhookError::Unavailable(why) => write!(f, "unavailable: {why}"),
        }
    }
}

/// What the mapping needs besides the body.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The classifier (built-in table plus `events.classification`).
    pub classifier: &'a Classifier,
    /// The sending domain to assume when the provider's event does not say (the `?domain=` of the
    /// webhook URL, checked against the configured domains).
    pub default_domain: Option<&'a str>,
    /// Now, Unix seconds (events without a time of their own).
    pub now: i64,
}

/// What an ESP said about a failed recipient, besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspHint {
    /// The reason the ESP's own category implies, used when the text says nothing specific.
    pub reason: Reason,
    /// The type that reason implies.
    pub kind: BounceType,
}

/// Build a bounce: the text decides (status, then phrases); the ESP's category only when the text
/// gave nothing better (a fallback classification).
pub fn bounce(
    cx: &Context<'_>,
    recipient: &str,
    sender_domain: Option<String>,
    status: Option<&str>,
    diagnostic: Option<&str>,
    remote_mta: Option<&str>,
    hint: Option<EspHint>,
) -> Option<Bounce> {
    let recipient = normalize_address(recipient)?;
    let diagnostic = diagnostic.and_then(bounded_diagnostic);
    let status = status
        .map(str::trim)
        .filter(|s| super::classify::is_status(s))
        .map(str::to_owned)
        .or_else(|| {
            diagnostic
                .as_deref()
                .and_then(super::classify::find_status)
                .map(str::to_owned)
        });
    let remote_mta = remote_mta
        .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty() && h.len() <= 255);
    let provider = Provider::of_recipient(&recipient, remote_mta.as_deref());
    let c = cx.classifier.classify(&Evidence {
        status: status.as_deref(),
        diagnostic: diagnostic.as_deref().unwrap_or(""),
        provider,
    });
    let (reason, kind) = match hint {
        Some(h) if c.basis == Basis::Fallback => (h.reason, h.kind),
        _ => (c.reason, c.kind),
    };
    Some(Bounce {
        recipient,
        sender_domain: sender_domain.or_else(|| cx.default_domain.map(str::to_owned)),
        status,
        kind,
        reason,
        provider,
        remote_mta,
        diagnostic,
    })
}

/// The domain of an address or `Name <address>` string.
pub fn domain_of_mailbox(text: &str) -> Option<String> {
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(a), Some(b)) if a < b => &text[a + 1..b],
        _ => text,
    };
    super::model::domain_of(inner)
}

/// An RFC 3339 time as Unix seconds.
pub fn unix_time(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// A batch of events built by a mapping.
pub type Batch = Vec<Recorded>;
