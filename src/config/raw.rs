//! The configuration as written: serde structs that mirror the YAML, with every default in a named
//! function. Nothing here judges a value beyond its YAML type; `validate.rs` turns these into the
//! runtime types of `model.rs` and reports every problem at once.
//!
//! Durations, sizes, addresses and names are kept as the text the user wrote (serde_norway hands over a
//! scalar's text as written, so `1.10` stays `1.10`), so that one bad value does not stop the others
//! from being checked, and each message can quote what was written.
//!
//! YAML crate: `serde_yaml` in Cargo.toml is the `serde_norway` package. serde_yaml itself is archived
//! (RUSTSEC-2024-0320); serde_norway keeps its API and its error locations and key paths (what our
//! messages are built from), and replaces the unmaintained `unsafe-libyaml` with its own maintained
//! translation of libyaml. serde_yaml_ng still sits on `unsafe-libyaml`; serde_yml has RUSTSEC-2025-0068.

use serde::{Deserialize, Deserializer};

mod alerts;
mod imap;
pub(super) use alerts::*;
pub(super) use imap::*;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of sections (server, state, dns, schedule, domains, blocklists, alerts, ingest)"
)]
pub(super) struct RawConfig {
    #[serde(default, deserialize_with = "or_default")]
    pub server: RawServer,
    #[serde(default, deserialize_with = "or_default")]
    pub state: RawState,
    #[serde(default, deserialize_with = "or_default")]
    pub dns: RawDns,
    #[serde(default, deserialize_with = "or_default")]
    pub schedule: RawSchedule,
    /// Required (the one section without a default); `domains:` or `domains: []` is an empty list.
    #[serde(default, deserialize_with = "present_list")]
    pub domains: Option<Vec<RawDomain>>,
    #[serde(default, deserialize_with = "or_default")]
    pub blocklists: RawBlocklists,
    #[serde(default, deserialize_with = "or_default")]
    pub events: RawEvents,
    #[serde(default, deserialize_with = "or_default")]
    pub alerts: RawAlerts,
    #[serde(default, deserialize_with = "or_default")]
    pub ingest: RawIngest,
}

/// `server:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawServer {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub api_token_file: Option<String>,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: String,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: String,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: String,
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: String,
}

/// `state:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawState {
    #[serde(default = "default_state_path")]
    pub path: String,
    #[serde(default = "default_retention")]
    pub retention: String,
}

/// `dns:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawDns {
    #[serde(default, deserialize_with = "or_default")]
    pub nameservers: Vec<String>,
    #[serde(default = "default_dns_timeout")]
    pub timeout: String,
    #[serde(default = "default_dns_attempts")]
    pub attempts: u64,
    #[serde(default = "default_dns_concurrency")]
    pub concurrency: u64,
}

/// `schedule:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawSchedule {
    #[serde(default = "default_checks_interval")]
    pub checks: String,
    #[serde(default = "default_blocklists_interval")]
    pub blocklists: String,
    #[serde(default = "default_jitter")]
    pub jitter: f64,
    #[serde(default = "default_schedule_concurrency")]
    pub concurrency: u64,
    #[serde(default = "default_job_timeout")]
    pub job_timeout: String,
}

/// One entry of `domains:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a name")]
pub(super) struct RawDomain {
    pub name: String,
    #[serde(default, deserialize_with = "or_default")]
    pub dkim_selectors: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub sending_ips: Vec<String>,
}

/// `blocklists:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawBlocklists {
    #[serde(default = "default_true")]
    pub defaults: bool,
    #[serde(default, deserialize_with = "or_default")]
    pub enable: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub disable: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub extra: Vec<RawExtraZone>,
    #[serde(default)]
    pub spamhaus_dqs_key_file: Option<String>,
    #[serde(default = "default_max_range_addresses")]
    pub max_range_addresses: u64,
}

/// One entry of `blocklists.extra`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a zone")]
pub(super) struct RawExtraZone {
    pub zone: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_zone_kind")]
    pub kind: String,
    #[serde(default, deserialize_with = "or_default")]
    pub listed: Vec<String>,
    /// `None` (absent or null) means the generic refusal codes; `[]` means none.
    #[serde(default)]
    pub refused: Option<Vec<String>>,
    #[serde(default)]
    pub delist_url: Option<String>,
}

/// `events:` (bounces, complaints, deliveries; docs/bounces.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawEvents {
    #[serde(default = "default_event_windows")]
    pub windows: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub thresholds: RawEventThresholds,
    #[serde(default, deserialize_with = "or_default")]
    pub classification: Vec<RawClassificationRule>,
    #[serde(default, deserialize_with = "or_default")]
    pub suppression: RawSuppression,
    #[serde(default, deserialize_with = "or_default")]
    pub webhooks: RawWebhooks,
    #[serde(default)]
    pub postfix_log: Option<RawPostfixLog>,
}

/// `events.thresholds`: rates as percentages (`"0.1%"`) or fractions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawEventThresholds {
    #[serde(default = "default_bounce_warning")]
    pub bounce_warning: String,
    #[serde(default = "default_bounce_critical")]
    pub bounce_critical: String,
    #[serde(default = "default_complaint_warning")]
    pub complaint_warning: String,
    #[serde(default = "default_complaint_critical")]
    pub complaint_critical: String,
    #[serde(default = "default_min_volume")]
    pub min_volume: u64,
}

/// One entry of `events.classification`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a reason")]
pub(super) struct RawClassificationRule {
    pub reason: String,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `events.suppression`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawSuppression {
    #[serde(default = "default_soft_bounces")]
    pub soft_bounces: u64,
    #[serde(default = "default_soft_within")]
    pub soft_within: String,
}

/// `events.webhooks`: each provider is off unless configured.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawWebhooks {
    #[serde(default)]
    pub ses: Option<RawSesWebhook>,
    #[serde(default)]
    pub sendgrid: Option<RawSendgridWebhook>,
    #[serde(default)]
    pub mailgun: Option<RawMailgunWebhook>,
    #[serde(default)]
    pub postmark: Option<RawPostmarkWebhook>,
}

/// `events.webhooks.ses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with topic_arns")]
pub(super) struct RawSesWebhook {
    #[serde(default, deserialize_with = "or_default")]
    pub topic_arns: Vec<String>,
}

/// `events.webhooks.sendgrid`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with public_key_file")]
pub(super) struct RawSendgridWebhook {
    #[serde(default)]
    pub public_key_file: Option<String>,
}

/// `events.webhooks.mailgun`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with signing_key_file")]
pub(super) struct RawMailgunWebhook {
    #[serde(default)]
    pub signing_key_file: Option<String>,
}

/// `events.webhooks.postmark`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with username and password_file"
)]
pub(super) struct RawPostmarkWebhook {
    pub username: String,
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `events.postfix_log`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a path")]
pub(super) struct RawPostfixLog {
    pub path: String,
}

/// `ingest:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping")]
pub(super) struct RawIngest {
    #[serde(default)]
    pub directory: Option<RawIngestDirectory>,
    #[serde(default)]
    pub imap: Option<RawImap>,
    #[serde(default = "default_max_report_bytes")]
    pub max_report_bytes: String,
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: String,
    #[serde(default = "default_max_records")]
    pub max_records: u64,
    #[serde(default)]
    pub senders_file: Option<String>,
}

/// `ingest.directory`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with a path")]
pub(super) struct RawIngestDirectory {
    pub path: String,
    #[serde(default = "default_settle")]
    pub settle: String,
}

// Defaults. config/senderscope.yaml states each of them; a test checks that it agrees.

fn default_listen() -> String {
    "127.0.0.1:9797".into()
}
fn default_max_body_bytes() -> String {
    "10MiB".into()
}
fn default_request_timeout() -> String {
    "30s".into()
}
fn default_max_connections() -> u32 {
    512
}
fn default_header_read_timeout() -> String {
    "10s".into()
}
fn default_idle_timeout() -> String {
    "60s".into()
}
/// Relative to the working directory, so `cargo run -- serve` works from a fresh clone without root;
/// the systemd unit runs in its StateDirectory.
fn default_state_path() -> String {
    "state/senderscope.db".into()
}
fn default_retention() -> String {
    "400d".into()
}
fn default_dns_timeout() -> String {
    "5s".into()
}
fn default_dns_attempts() -> u64 {
    2
}
fn default_dns_concurrency() -> u64 {
    64
}
fn default_checks_interval() -> String {
    "15m".into()
}
fn default_blocklists_interval() -> String {
    "30m".into()
}
fn default_jitter() -> f64 {
    0.1
}
fn default_schedule_concurrency() -> u64 {
    16
}
fn default_job_timeout() -> String {
    "5m".into()
}
fn default_true() -> bool {
    true
}
fn default_max_range_addresses() -> u64 {
    256
}
fn default_zone_kind() -> String {
    "ipv4".into()
}
fn default_event_windows() -> Vec<String> {
    vec!["1h".into(), "24h".into(), "7d".into()]
}
fn default_bounce_warning() -> String {
    "2%".into()
}
fn default_bounce_critical() -> String {
    "5%".into()
}
fn default_complaint_warning() -> String {
    "0.1%".into()
}
fn default_complaint_critical() -> String {
    "0.3%".into()
}
fn default_min_volume() -> u64 {
    100
}
fn default_soft_bounces() -> u64 {
    3
}
fn default_soft_within() -> String {
    "7d".into()
}
fn default_max_report_bytes() -> String {
    "1GiB".into()
}
fn default_max_message_bytes() -> String {
    "64MiB".into()
}
fn default_max_records() -> u64 {
    5_000_000
}
fn default_settle() -> String {
    "2s".into()
}

impl Default for RawIngest {
    fn default() -> Self {
        RawIngest {
            directory: None,
            imap: None,
            max_report_bytes: default_max_report_bytes(),
            max_message_bytes: default_max_message_bytes(),
            max_records: default_max_records(),
            senders_file: None,
        }
    }
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            api_token_file: None,
            max_body_bytes: default_max_body_bytes(),
            request_timeout: default_request_timeout(),
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

impl Default for RawState {
    fn default() -> Self {
        RawState {
            path: default_state_path(),
            retention: default_retention(),
        }
    }
}

impl Default for RawDns {
    fn default() -> Self {
        RawDns {
            nameservers: Vec::new(),
            timeout: default_dns_timeout(),
            attempts: default_dns_attempts(),
            concurrency: default_dns_concurrency(),
        }
    }
}

impl Default for RawSchedule {
    fn default() -> Self {
        RawSchedule {
            checks: default_checks_interval(),
            blocklists: default_blocklists_interval(),
            jitter: default_jitter(),
            concurrency: default_schedule_concurrency(),
            job_timeout: default_job_timeout(),
        }
    }
}

impl Default for RawBlocklists {
    fn default() -> Self {
        RawBlocklists {
            defaults: default_true(),
            enable: Vec::new(),
            disable: Vec::new(),
            extra: Vec::new(),
            spamhaus_dqs_key_file: None,
            max_range_addresses: default_max_range_addresses(),
        }
    }
}

impl Default for RawEvents {
    fn default() -> Self {
        RawEvents {
            windows: default_event_windows(),
            thresholds: RawEventThresholds::default(),
            classification: Vec::new(),
            suppression: RawSuppression::default(),
            webhooks: RawWebhooks::default(),
            postfix_log: None,
        }
    }
}

impl Default for RawEventThresholds {
    fn default() -> Self {
        RawEventThresholds {
            bounce_warning: default_bounce_warning(),
            bounce_critical: default_bounce_critical(),
            complaint_warning: default_complaint_warning(),
            complaint_critical: default_complaint_critical(),
            min_volume: default_min_volume(),
        }
    }
}

impl Default for RawSuppression {
    fn default() -> Self {
        RawSuppression {
            soft_bounces: default_soft_bounces(),
            soft_within: default_soft_within(),
        }
    }
}

/// A key written with no value (`dns:` followed by nothing, or `~`) means "the defaults", as if absent:
/// commenting out every key of a section should not turn it into a type error.
fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// Tells an absent list (`None`, via `#[serde(default)]`) from an empty one (`domains:` with no entries).
fn present_list<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(deserializer).map(|list| Some(list.unwrap_or_default()))
}
