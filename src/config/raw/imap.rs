//! `ingest.imap` as written (docs/ingest.md, "IMAP"). Validated into
//! `ingest::sources::imap::ImapSettings` by `validate/imap.rs`.

use serde::Deserialize;

use super::default_true;

/// `ingest.imap`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with host, username and password_file"
)]
pub(in crate::config) struct RawImap {
    pub host: String,
    /// Default: 993 with `tls: implicit`, else 143.
    #[serde(default)]
    pub port: Option<u64>,
    #[serde(default = "default_imap_tls")]
    pub tls: String,
    #[serde(default)]
    pub ca_file: Option<String>,
    pub username: String,
    #[serde(default)]
    pub password_file: Option<String>,
    #[serde(default = "default_imap_folder")]
    pub folder: String,
    #[serde(default = "default_imap_processed_folder")]
    pub processed_folder: String,
    #[serde(default = "default_imap_failed_folder")]
    pub failed_folder: String,
    #[serde(default = "default_imap_poll_interval")]
    pub poll_interval: String,
    #[serde(default = "default_true")]
    pub idle: bool,
    #[serde(default = "default_imap_timeout")]
    pub timeout: String,
    #[serde(default = "default_imap_backoff_max")]
    pub backoff_max: String,
}

// Defaults. config/senderscope.yaml states each of them.

fn default_imap_tls() -> String {
    "implicit".into()
}
fn default_imap_folder() -> String {
    "INBOX".into()
}
fn default_imap_processed_folder() -> String {
    "Processed".into()
}
fn default_imap_failed_folder() -> String {
    "Failed".into()
}
fn default_imap_poll_interval() -> String {
    "5m".into()
}
fn default_imap_timeout() -> String {
    "60s".into()
}
fn default_imap_backoff_max() -> String {
    "5m".into()
}
