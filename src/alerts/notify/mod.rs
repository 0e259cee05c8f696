//! Notifiers: Alertmanager (API v2) and webhooks (JSON or Slack-shaped). Each takes
//! [`Notification`]s and answers what the far end said; a failure is a [`DeliveryError`] that the
//! engine counts, logs and retries — never a panic, never the end of the engine.
//!
//! An enum rather than a trait object: two kinds, matched exhaustively, one HTTP client shared.

pub mod alertmanager;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::settings::{AlertSettings, AlertmanagerSettings, WebhookSettings};

/// The most of a reply body kept for messages (`alerts test`, logs).
const MAX_REPLY_CHARS: usize = 200;

/// One alert as notifiers carry it (Alertmanager's `postableAlert` shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `firing` or `resolved`.
    #[serde(skip)]
    pub status: Status,
    /// The identity.
    pub labels: BTreeMap<String, String>,
    /// Summary, description, runbook_url.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339: in the future while firing (the alert lapses unless re-sent), the resolution time
    /// once resolved.
    pub ends_at: String,
    /// Where to look (senderscope's `/api/v1/alerts`).
    #[serde(rename = "generatorURL", skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
}

/// What a notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// The alert fires.
    #[default]
    Firing,
    /// It stopped.
    Resolved,
}

impl Status {
    /// The lower-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// Why a delivery failed (the message never includes a webhook URL: it carries a token).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No answer (connection refused, DNS, timeout).
    #[error("no answer: {0}")]
    Unreachable(String),
    /// An answer that was not a success.
    #[error("HTTP {status}: {body}")]
    Refused {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

/// A configured notifier.
#[derive(Debug, Clone)]
pub enum Notifier {
    /// An Alertmanager.
    Alertmanager(AlertmanagerSettings),
    /// A webhook.
    Webhook(WebhookSettings),
}

impl Notifier {
    /// Every configured notifier, Alertmanagers first.
    pub fn all(settings: &AlertSettings) -> Vec<Notifier> {
        let ams = settings
            .alertmanagers
            .iter()
            .cloned()
            .map(Notifier::Alertmanager);
        let hooks = settings.webhooks.iter().cloned().map(Notifier::Webhook);
        ams.chain(hooks).collect()
    }

    /// Its name (the `notifier` label).
    pub fn name(&self) -> &str {
        match self {
            Notifier::Alertmanager(a) => &a.name,
            Notifier::Webhook(w) => &w.name,
        }
    }

    /// `alertmanager` or `webhook`.
    pub fn kind(&self) -> &'static str {
        match self {
            Notifier::Alertmanager(_) => "alertmanager",
            Notifier::Webhook(_) => "webhook",
        }
    }

    /// Send `batch`; the answer is the far end's status line and the start of its body.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        batch: &[Notification],
    ) -> Result<String, DeliveryError> {
        match self {
            Notifier::Alertmanager(a) => alertmanager::send(client, a, batch).await,
            Notifier::Webhook(w) => webhook::send(client, w, batch).await,
        }
    }
}

/// The HTTP client every notifier shares (timeouts are set per request).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("senderscope/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        // A redirect could carry the webhook token elsewhere; notifiers are configured exactly.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Turn a response into the answer or the error.
async fn answer(response: reqwest::Response) -> Result<String, DeliveryError> {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.trim().chars().take(MAX_REPLY_CHARS).collect();
    if status.is_success() {
        Ok(if body.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {body}", status.as_u16())
        })
    } else {
        Err(DeliveryError::Refused {
            status: status.as_u16(),
            body,
        })
    }
}

/// A reqwest error without the URL (which may carry a token).
fn unreachable(e: reqwest::Error) -> DeliveryError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    DeliveryError::Unreachable(format!("{what} ({e})"))
}
