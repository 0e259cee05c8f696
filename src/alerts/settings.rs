//! The validated `alerts:` section (docs/alerts.md): how often rules run, which notifiers get what,
//! and each rule's switch, `for` and threshold, with per-domain overrides. Built from the raw YAML by
//! `config::validate`; everything here is already checked.

use std::collections::BTreeMap;
use std::time::Duration;

use super::rules::RuleKind;
use crate::config::{DomainName, Secret};

/// `alerts:`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// The engine runs at all (`enabled: false` keeps every notifier quiet).
    pub enabled: bool,
    /// How often the rules are evaluated.
    pub evaluate_every: Duration,
    /// How often a firing alert is sent again to Alertmanager (Prometheus' `--rules.alert.resend-delay`).
    pub resend_every: Duration,
    /// Prefix of every `runbook_url` annotation; the rule's anchor follows `#`.
    pub runbook_url: String,
    /// Alertmanagers: every alert goes to each of them.
    pub alertmanagers: Vec<AlertmanagerSettings>,
    /// Webhooks: each transition (firing, resolved) is posted once to each of them.
    pub webhooks: Vec<WebhookSettings>,
    /// Each rule's defaults (a rule not written keeps its built-in defaults).
    pub rules: BTreeMap<RuleKind, RuleSettings>,
    /// Per-domain replacements of single rule settings.
    pub overrides: BTreeMap<DomainName, BTreeMap<RuleKind, RuleOverride>>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: true,
            evaluate_every: Duration::from_secs(30),
            resend_every: Duration::from_secs(60),
            runbook_url: DEFAULT_RUNBOOK_URL.to_owned(),
            alertmanagers: Vec::new(),
            webhooks: Vec::new(),
            rules: RuleKind::ALL.iter().map(|k| (*k, k.defaults())).collect(),
            overrides: BTreeMap::new(),
        }
    }
}

/// Where the runbooks are when nothing else is configured: the file in the source tree.
pub const DEFAULT_RUNBOOK_URL: &str = "docs/runbooks.md";

impl AlertSettings {
    /// The settings of `rule` for `domain`: the rule's, with the domain's overrides applied.
    pub fn rule(&self, rule: RuleKind, domain: Option<&str>) -> RuleSettings {
        let mut s = self
            .rules
            .get(&rule)
            .cloned()
            .unwrap_or_else(|| rule.defaults());
        let over = domain.and_then(|d| {
            self.overrides
                .iter()
                .find(|(name, _)| name.as_str() == d)
                .and_then(|(_, rules)| rules.get(&rule))
        });
        if let Some(o) = over {
            if let Some(e) = o.enabled {
                s.enabled = e;
            }
            if let Some(f) = o.for_ {
                s.for_ = f;
            }
            if let Some(t) = o.threshold {
                s.threshold = Some(t);
            }
            if let Some(c) = o.critical {
                s.critical = Some(c);
            }
            if let Some(m) = o.min_volume {
                s.min_volume = Some(m);
            }
            if let Some(w) = o.window {
                s.window = Some(w);
            }
        }
        s
    }

    /// Whether any notifier is configured.
    pub fn has_notifiers(&self) -> bool {
        !self.alertmanagers.is_empty() || !self.webhooks.is_empty()
    }
}

/// One rule's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// The rule is evaluated.
    pub enabled: bool,
    /// How long the condition must hold before the alert fires (pending until then).
    pub for_: Duration,
    /// The rule's number, for rules that have one (docs/alerts.md says what it means per rule; for
    /// the rate rules, the warning level).
    pub threshold: Option<f64>,
    /// The critical level, for rules with two (bounce and complaint rates).
    pub critical: Option<f64>,
    /// The volume gate, for rules that judge a share or a silence: the fewest messages (or reports)
    /// before the rule says anything.
    pub min_volume: Option<u64>,
    /// The span the rule looks back over, for rules over reports and events.
    pub window: Option<Duration>,
}

impl RuleSettings {
    /// Enabled, with `for_` and nothing else.
    pub fn plain(for_: Duration) -> RuleSettings {
        RuleSettings {
            enabled: true,
            for_,
            threshold: None,
            critical: None,
            min_volume: None,
            window: None,
        }
    }
}

/// A per-domain replacement of some of a rule's settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleOverride {
    /// Replaces `enabled`.
    pub enabled: Option<bool>,
    /// Replaces `for`.
    pub for_: Option<Duration>,
    /// Replaces `threshold`.
    pub threshold: Option<f64>,
    /// Replaces `critical`.
    pub critical: Option<f64>,
    /// Replaces `min_volume`.
    pub min_volume: Option<u64>,
    /// Replaces `window`.
    pub window: Option<Duration>,
}

/// One Alertmanager.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerSettings {
    /// The name in metrics and logs (default: the URL's host and port).
    pub name: String,
    /// Its base URL (`http://127.0.0.1:9093`); alerts go to `<url>/api/v2/alerts`.
    pub url: String,
    /// HTTP basic auth, if the Alertmanager sits behind it.
    pub basic_auth: Option<BasicAuth>,
    /// Time allowed for one request.
    pub timeout: Duration,
}

/// HTTP basic authentication; the password comes from a file or the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: Secret,
}

/// How a webhook body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// senderscope's JSON: `{"status", "alert": {labels, annotations, startsAt, endsAt}}`.
    Json,
    /// A Slack incoming-webhook message (`{"text": …}`), also understood by Mattermost and others.
    Slack,
}

/// One webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// The name in metrics and logs.
    pub name: String,
    /// The URL, which usually carries a token: read from `url_file` or the environment only.
    pub url: Secret,
    /// Body shape.
    pub format: WebhookFormat,
    /// Time allowed for one request.
    pub timeout: Duration,
    /// First wait after a failed delivery; doubled after each further failure.
    pub retry_initial: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
}
