//! Bounces, complaints and deliveries (docs/bounces.md).
//!
//! - [`read_message`]: one raw message → [`MessageEvents`] (what the ingest router calls for mail that
//!   is not a DMARC or TLS report); [`read_message_with`] adds the operator's classification rules.
//! - [`model`]: [`Bounce`], [`Complaint`], [`Delivery`], [`Reason`], [`BounceType`];
//!   [`provider`]: the recipient's mailbox provider.
//! - [`classify`]: status and diagnostic text → reason and hard/soft, the table as data.
//! - [`parse`]: RFC 3464 reports, the plain-text layouts of the MTA families, ARF (RFC 5965).
//! - [`store`]: the events' own write path (per-minute buckets, idempotency keys);
//!   [`rates`]: rolling-window rates and thresholds; [`suppress`]: the suppression list;
//!   [`metrics`]: the counters and rates on `/metrics`; [`settings`]: the `events:` section.
//! - [`ingest`]: a read message's events with their idempotency keys, for the events store.
//! - [`postfix`]: Postfix log lines joined on the queue id; [`follow`]: the log follower.
//! - [`webhooks`]: SES (SNS), SendGrid, Mailgun, Postmark and the generic events API → events.

pub mod classify;
pub mod follow;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod mx_provider;
pub mod parse;
pub mod postfix;
pub mod provider;
pub mod rates;
pub mod settings;
pub mod store;
pub mod suppress;
pub mod webhooks;

use serde::Serialize;

pub use classify::Classifier;
pub use model::{Bounce, BounceType, Complaint, Delivery, Reason};
pub use provider::Provider;

/// What one message reports. Serializes as the `senderscope ingest` JSON fields:
/// `{"kind":"bounce","bounces":[…]}`, `{"kind":"complaint","complaints":[…]}`,
/// `{"kind":"unknown","why":"…"}` or `{"kind":"unknown"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageEvents {
    /// A bounce: one item per failed recipient, in the order the message gives them.
    Bounces(Vec<Bounce>),
    /// A feedback report: one item per reported recipient.
    Complaints(Vec<Complaint>),
    /// Mail that looks like a bounce but is not one: an auto-reply, a delay or delivery notice,
    /// challenge-response mail.
    NotABounce {
        /// Why, in a sentence.
        why: &'static str,
    },
    /// Neither a bounce, a complaint nor a known look-alike.
    Unrecognized,
}

impl MessageEvents {
    /// The `kind` of `senderscope ingest` output: `bounce`, `complaint` or `unknown`.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageEvents::Bounces(_) => "bounce",
            MessageEvents::Complaints(_) => "complaint",
            MessageEvents::NotABounce { .. } | MessageEvents::Unrecognized => "unknown",
        }
    }
}

impl Serialize for MessageEvents {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.kind())?;
        match self {
            MessageEvents::Bounces(b) => map.serialize_entry("bounces", b)?,
            MessageEvents::Complaints(c) => map.serialize_entry("complaints", c)?,
            MessageEvents::NotABounce { why } => map.serialize_entry("why", why)?,
            MessageEvents::Unrecognized => {}
        }
        map.end()
    }
}

/// Classify what a raw message reports, with the built-in table only (no configuration: what
/// `senderscope ingest --dry-run` uses). Never panics on any byte string.
pub fn read_message(raw: &[u8]) -> MessageEvents {
    parse::read(raw, &Classifier::default())
}

/// [`read_message`] with the operator's classification rules checked first.
pub fn read_message_with(raw: &[u8], classifier: &Classifier) -> MessageEvents {
    parse::read(raw, classifier)
}
