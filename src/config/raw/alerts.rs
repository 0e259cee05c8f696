//! `alerts:` as written (docs/alerts.md). Validated into `alerts::AlertSettings` by
//! `validate/alerts.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{default_true, or_default};

/// `alerts:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(in crate::config) struct RawAlerts {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_evaluate_every")]
    pub evaluate_every: String,
    #[serde(default = "default_resend_every")]
    pub resend_every: String,
    #[serde(default = "default_runbook_url")]
    pub runbook_url: String,
    #[serde(default, deserialize_with = "or_default")]
    pub alertmanagers: Vec<RawAlertmanager>,
    #[serde(default, deserialize_with = "or_default")]
    pub webhooks: Vec<RawWebhook>,
    /// Rule name → its settings.
    #[serde(default, deserialize_with = "or_default")]
    pub rules: BTreeMap<String, RawRule>,
    /// Domain → rule name → the settings that differ for that domain.
    #[serde(default, deserialize_with = "or_default")]
    pub domains: BTreeMap<String, BTreeMap<String, RawRule>>,
}

/// One entry of `alerts.alertmanagers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a url")]
pub(in crate::config) struct RawAlertmanager {
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_notify_timeout")]
    pub timeout: String,
    #[serde(default)]
    pub basic_auth: Option<RawBasicAuth>,
}

/// `basic_auth:` of an Alertmanager.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a username")]
pub(in crate::config) struct RawBasicAuth {
    pub username: String,
    #[serde(default)]
    pub password_file: Option<String>,
}

/// One entry of `alerts.webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a name")]
pub(in crate::config) struct RawWebhook {
    pub name: String,
    #[serde(default)]
    pub url_file: Option<String>,
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default = "default_notify_timeout")]
    pub timeout: String,
    #[serde(default = "default_retry_initial")]
    pub retry_initial: String,
    #[serde(default = "default_retry_max")]
    pub retry_max: String,
}

/// One rule's settings (or a domain's override of them).
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping (enabled, for, threshold, critical, min_volume, window)"
)]
pub(in crate::config) struct RawRule {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub critical: Option<f64>,
    #[serde(default)]
    pub min_volume: Option<u64>,
    #[serde(default)]
    pub window: Option<String>,
}

fn default_evaluate_every() -> String {
    "30s".into()
}
fn default_resend_every() -> String {
    "1m".into()
}
fn default_runbook_url() -> String {
    crate::alerts::settings::DEFAULT_RUNBOOK_URL.into()
}
fn default_notify_timeout() -> String {
    "10s".into()
}
fn default_format() -> String {
    "json".into()
}
fn default_retry_initial() -> String {
    "1s".into()
}
fn default_retry_max() -> String {
    "5m".into()
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            enabled: default_true(),
            evaluate_every: default_evaluate_every(),
            resend_every: default_resend_every(),
            runbook_url: default_runbook_url(),
            alertmanagers: Vec::new(),
            webhooks: Vec::new(),
            rules: BTreeMap::new(),
            domains: BTreeMap::new(),
        }
    }
}
