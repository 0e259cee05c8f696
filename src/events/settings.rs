//! The validated `events:` section (docs/bounces.md, "Configuration").

use std::path::PathBuf;

use super::classify::Classifier;
use super::rates::{Thresholds, Window};
use super::suppress::SuppressionPolicy;
use crate::config::Secret;

/// `events:`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSettings {
    /// Rolling windows for rates (default 1h, 24h, 7d).
    pub windows: Vec<Window>,
    /// When rates are warnings or critical.
    pub thresholds: Thresholds,
    /// The classifier: the built-in table with `events.classification` first.
    pub classifier: Classifier,
    /// When addresses are suppressed.
    pub suppression: SuppressionPolicy,
    /// The ESP webhooks that are on.
    pub webhooks: WebhookSettings,
    /// The Postfix log to follow, if any.
    pub postfix_log: Option<PathBuf>,
}

impl Default for EventSettings {
    fn default() -> Self {
        let window = |label: &str, secs: u64| Window {
            label: label.into(),
            length: std::time::Duration::from_secs(secs),
        };
        EventSettings {
            windows: vec![
                window("1h", 3600),
                window("24h", 86_400),
                window("7d", 7 * 86_400),
            ],
            thresholds: Thresholds::default(),
            classifier: Classifier::default(),
            suppression: SuppressionPolicy::default(),
            webhooks: WebhookSettings::default(),
            postfix_log: None,
        }
    }
}

/// `events.webhooks`: a provider's endpoint answers 404 unless configured here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookSettings {
    /// Amazon SES through SNS.
    pub ses: Option<SesSettings>,
    /// SendGrid Event Webhook.
    pub sendgrid: Option<SendgridSettings>,
    /// Mailgun webhooks.
    pub mailgun: Option<MailgunSettings>,
    /// Postmark webhooks.
    pub postmark: Option<PostmarkSettings>,
}

/// SES via SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesSettings {
    /// The SNS topics whose messages are accepted and whose subscriptions are confirmed.
    pub topic_arns: Vec<String>,
}

/// SendGrid: the verification key of the signed Event Webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendgridSettings {
    /// The ECDSA P-256 public key, DER `SubjectPublicKeyInfo` (decoded from the base64 SendGrid
    /// shows).
    pub public_key: Vec<u8>,
}

/// Mailgun: the HTTP webhook signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailgunSettings {
    /// The signing key.
    pub signing_key: Secret,
}

/// Postmark: the basic-auth credentials written into the webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmarkSettings {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}
