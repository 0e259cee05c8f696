//! `alerts:`: intervals, notifiers (URLs checked, secrets from `*_file` keys or the environment
//! only), rule names checked against the registry, thresholds only where a rule has one, and
//! per-domain overrides only for configured domains.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::Validator;
use crate::alerts::RuleKind;
use crate::alerts::settings::{
    AlertSettings, AlertmanagerSettings, BasicAuth, RuleOverride, RuleSettings, WebhookFormat,
    WebhookSettings,
};
use crate::config::keypath::KeyPath;
use crate::config::model::{DomainName, DomainSettings};
use crate::config::raw::{RawAlertmanager, RawAlerts, RawRule, RawWebhook};
use crate::events::rates::Thresholds;

impl Validator<'_> {
    pub(super) fn alerts(
        &mut self,
        raw: RawAlerts,
        path: &KeyPath,
        domains: &[DomainSettings],
        rates: &Thresholds,
    ) -> AlertSettings {
        // Rules read results that change every few minutes; faster than a second is busy work.
        let evaluate_every = self.duration(
            &path.key("evaluate_every"),
            &raw.evaluate_every,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        );
        let resend_every = self.duration(
            &path.key("resend_every"),
            &raw.resend_every,
            Duration::from_millis(100),
            Duration::from_secs(3600),
        );
        if raw.runbook_url.trim().is_empty() {
            self.problem(path.key("runbook_url"), "cannot be empty");
        }
        let mut names = HashSet::new();
        let list = path.key("alertmanagers");
        let alertmanagers: Vec<AlertmanagerSettings> = raw
            .alertmanagers
            .into_iter()
            .enumerate()
            .filter_map(|(i, am)| self.alertmanager(am, &list.index(i), &mut names))
            .collect();
        let list = path.key("webhooks");
        let webhooks: Vec<WebhookSettings> = raw
            .webhooks
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| self.webhook(w, &list.index(i), &mut names))
            .collect();

        let mut rules: BTreeMap<RuleKind, RuleSettings> =
            RuleKind::ALL.iter().map(|k| (*k, k.defaults())).collect();
        // The rate rules judge by `events.thresholds` unless `alerts.rules` says otherwise, so the
        // status page and the alerts agree.
        for (kind, warning, critical) in [
            (
                RuleKind::BounceRate,
                rates.bounce_warning,
                rates.bounce_critical,
            ),
            (
                RuleKind::ComplaintRate,
                rates.complaint_warning,
                rates.complaint_critical,
            ),
        ] {
            if let Some(s) = rules.get_mut(&kind) {
                s.threshold = Some(warning);
                s.critical = Some(critical);
                s.min_volume = Some(rates.min_volume);
            }
        }
        // Rules whose levels are written here (`events.thresholds` checks its own order).
        let mut levels_written = Vec::new();
        for (name, raw_rule) in raw.rules {
            let at = path.key("rules").key(&name);
            let Some(kind) = self.rule_kind(&name, &at) else {
                continue;
            };
            let o = self.rule_override(kind, raw_rule, &at);
            if o.threshold.is_some() || o.critical.is_some() {
                levels_written.push(kind);
            }
            let s = rules.entry(kind).or_insert_with(|| kind.defaults());
            s.enabled = o.enabled.unwrap_or(s.enabled);
            s.for_ = o.for_.unwrap_or(s.for_);
            s.threshold = o.threshold.or(s.threshold);
            s.critical = o.critical.or(s.critical);
            s.min_volume = o.min_volume.or(s.min_volume);
            s.window = o.window.or(s.window);
        }
        for (kind, s) in rules.iter().filter(|(k, _)| levels_written.contains(k)) {
            if let (Some(w), Some(c)) = (s.threshold, s.critical)
                && c < w
            {
                self.problem(
                    path.key("rules").key(kind.as_str()).key("critical"),
                    format!("{c} is below the warning threshold {w}; critical is the higher level"),
                );
            }
        }
        let mut overrides = BTreeMap::new();
        for (domain, per_rule) in raw.domains {
            let at = path.key("domains").key(&domain);
            let name = match DomainName::parse(&domain) {
                Ok(n) if domains.iter().any(|d| d.name == n) => n,
                Ok(n) => {
                    self.problem(
                        at,
                        format!("{n} is not one of the configured domains; add it under `domains:` or remove this override"),
                    );
                    continue;
                }
                Err(e) => {
                    self.problem(at, e);
                    continue;
                }
            };
            let mut by_rule = BTreeMap::new();
            for (rule, raw_rule) in per_rule {
                let rat = at.key(&rule);
                let Some(kind) = self.rule_kind(&rule, &rat) else {
                    continue;
                };
                if kind.is_global() {
                    self.problem(
                        rat,
                        format!("the rule {kind} is about the whole daemon, not a domain; set it under alerts.rules"),
                    );
                    continue;
                }
                by_rule.insert(kind, self.rule_override(kind, raw_rule, &rat));
            }
            overrides.insert(name, by_rule);
        }
        AlertSettings {
            enabled: raw.enabled,
            evaluate_every,
            resend_every,
            runbook_url: raw.runbook_url.trim().trim_end_matches('#').to_owned(),
            alertmanagers,
            webhooks,
            rules,
            overrides,
        }
    }

    fn rule_kind(&mut self, name: &str, at: &KeyPath) -> Option<RuleKind> {
        let kind = RuleKind::parse(name);
        if kind.is_none() {
            let known: Vec<&str> = RuleKind::ALL.iter().map(|k| k.as_str()).collect();
            self.problem(
                at.clone(),
                format!("unknown rule; the rules are {}", known.join(", ")),
            );
        }
        kind
    }

    fn rule_override(&mut self, kind: RuleKind, raw: RawRule, at: &KeyPath) -> RuleOverride {
        let for_ = raw.for_.as_deref().map(|text| {
            self.duration(
                &at.key("for"),
                text,
                Duration::ZERO,
                Duration::from_secs(7 * 86_400),
            )
        });
        let threshold = self.level(kind, raw.threshold, kind.has_threshold(), at, "threshold");
        let critical = self.level(kind, raw.critical, kind.has_critical(), at, "critical");
        let min_volume = match raw.min_volume {
            Some(_) if !kind.has_min_volume() => {
                self.problem(
                    at.key("min_volume"),
                    format!("the rule {kind} has no volume gate"),
                );
                None
            }
            m => m,
        };
        let window = match raw.window.as_deref() {
            Some(_) if !kind.has_window() => {
                self.problem(at.key("window"), format!("the rule {kind} has no window"));
                None
            }
            // A minute is the events' bucket; reports cover days, and 90 days is past any use.
            Some(text) => Some(self.duration(
                &at.key("window"),
                text,
                Duration::from_secs(60),
                Duration::from_secs(90 * 86_400),
            )),
            None => None,
        };
        RuleOverride {
            enabled: raw.enabled,
            for_,
            threshold,
            critical,
            min_volume,
            window,
        }
    }

    /// A `threshold` or `critical` value: only on rules that have it, a number of 0 or more, and
    /// at most 1 for a share of messages.
    fn level(
        &mut self,
        kind: RuleKind,
        value: Option<f64>,
        allowed: bool,
        at: &KeyPath,
        key: &str,
    ) -> Option<f64> {
        let at = at.key(key);
        let name = if key == "critical" {
            "critical level"
        } else {
            "threshold"
        };
        match value {
            Some(_) if !allowed => {
                self.problem(at.clone(), format!("the rule {kind} has no {name}"));
                None
            }
            Some(t) if !t.is_finite() || t < 0.0 => {
                self.problem(
                    at.clone(),
                    format!("{t} is not a {name}; use a number of 0 or more"),
                );
                None
            }
            Some(t) if kind.is_ratio() && t > 1.0 => {
                self.problem(
                    at.clone(),
                    format!("{t} is not a share of messages; write 0.05 for 5%"),
                );
                None
            }
            t => t,
        }
    }

    fn alertmanager(
        &mut self,
        raw: RawAlertmanager,
        at: &KeyPath,
        names: &mut HashSet<String>,
    ) -> Option<AlertmanagerSettings> {
        let url = match reqwest::Url::parse(raw.url.trim()) {
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                self.problem(at.key("url"), "use an http:// or https:// URL");
                None
            }
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                self.problem(
                    at.key("url"),
                    "the URL carries credentials; put the user in basic_auth.username and the password in basic_auth.password_file",
                );
                None
            }
            Ok(u) if u.host_str().is_none() => {
                self.problem(at.key("url"), "the URL has no host");
                None
            }
            Ok(u) => Some(u),
            Err(e) => {
                self.problem(at.key("url"), format!("not a URL: {e}"));
                None
            }
        };
        let name = raw.name.clone().unwrap_or_else(|| {
            url.as_ref()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
                .unwrap_or_default()
        });
        self.notifier_name(&name, at, names);
        let timeout = self.timeout(&raw.timeout, at);
        let basic_auth = raw.basic_auth.and_then(|b| {
            let var = format!("SENDERSCOPE_ALERTMANAGER_{}_PASSWORD", env_suffix(&name));
            let password = self.secret(
                &at.key("basic_auth").key("password_file"),
                b.password_file.as_deref(),
                &var,
                |_| true,
                "",
            );
            if password.is_none() {
                self.problem(
                    at.key("basic_auth"),
                    format!("no password: set basic_auth.password_file or {var}"),
                );
            }
            Some(BasicAuth {
                username: b.username,
                password: password?,
            })
        });
        Some(AlertmanagerSettings {
            name,
            url: url?.as_str().trim_end_matches('/').to_owned(),
            basic_auth,
            timeout,
        })
    }

    fn webhook(
        &mut self,
        raw: RawWebhook,
        at: &KeyPath,
        names: &mut HashSet<String>,
    ) -> Option<WebhookSettings> {
        self.notifier_name(&raw.name, at, names);
        let var = format!("SENDERSCOPE_WEBHOOK_{}_URL", env_suffix(&raw.name));
        // The URL usually carries a token (Slack's does), so it is a secret: file or environment.
        let url = self.secret(
            &at.key("url_file"),
            raw.url_file.as_deref(),
            &var,
            |u| {
                reqwest::Url::parse(u)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            },
            "is not an http:// or https:// URL",
        );
        if url.is_none() && raw.url_file.is_none() && self.secrets.var(&var).is_none() {
            self.problem(
                at.clone(),
                format!("no URL: set url_file (a file holding the URL) or {var}"),
            );
        }
        let format = match raw.format.as_str() {
            "json" => WebhookFormat::Json,
            "slack" => WebhookFormat::Slack,
            other => {
                self.problem(
                    at.key("format"),
                    format!("{other:?} is not a format; use json or slack"),
                );
                WebhookFormat::Json
            }
        };
        let timeout = self.timeout(&raw.timeout, at);
        let retry_initial = self.duration(
            &at.key("retry_initial"),
            &raw.retry_initial,
            Duration::from_millis(10),
            Duration::from_secs(3600),
        );
        let retry_max = self.duration(
            &at.key("retry_max"),
            &raw.retry_max,
            Duration::from_millis(10),
            Duration::from_secs(86_400),
        );
        if retry_max < retry_initial {
            self.problem(
                at.key("retry_max"),
                "is shorter than retry_initial; the wait only grows",
            );
        }
        Some(WebhookSettings {
            name: raw.name,
            url: url?,
            format,
            timeout,
            retry_initial,
            retry_max,
        })
    }

    fn timeout(&mut self, text: &str, at: &KeyPath) -> Duration {
        self.duration(
            &at.key("timeout"),
            text,
            Duration::from_millis(100),
            Duration::from_secs(300),
        )
    }

    /// Names are the `notifier` label: short, plain, unique.
    fn notifier_name(&mut self, name: &str, at: &KeyPath, names: &mut HashSet<String>) {
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !plain {
            self.problem(
                at.key("name"),
                format!("{name:?} is not a notifier name; use up to 64 letters, digits, '-', '_', '.' or ':'"),
            );
        } else if !names.insert(name.to_owned()) {
            self.problem(
                at.key("name"),
                format!("{name} is already the name of another notifier"),
            );
        }
    }
}

/// A notifier name as part of an environment variable name: upper case, `_` for the rest.
fn env_suffix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::Path;
    use std::time::Duration;

    use crate::alerts::RuleKind;
    use crate::alerts::settings::WebhookFormat;
    use crate::config::secret::{SecretSource, SystemSecrets};
    use crate::config::{Config, load_str_with};

    /// One pinned variable over the real filesystem.
    struct Env(&'static str, &'static str);

    impl SecretSource for Env {
        fn var(&self, name: &str) -> Option<String> {
            (name == self.0).then(|| self.1.to_owned())
        }
        fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
            SystemSecrets.read(path)
        }
    }

    fn load(text: &str, env: Env) -> Config {
        load_str_with(text, "c.yaml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_full_alerts_section_becomes_typed_settings() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("pw");
        std::fs::write(&password, "hunter2\n").unwrap();
        let text = format!(
            "domains: [{{name: shop.example}}]\n\
             alerts:\n  evaluate_every: 5s\n  resend_every: 2m\n  runbook_url: https://wiki.example/runbooks#\n\
             \x20 alertmanagers:\n    - url: http://127.0.0.1:9093/\n    - url: https://am.example\n      name: am2\n      basic_auth: {{username: ss, password_file: {}}}\n\
             \x20 webhooks:\n    - name: chat-ops\n      format: slack\n      retry_initial: 250ms\n\
             \x20 rules:\n    dns_unreachable: {{for: 1h}}\n    dkim_key_problem: {{threshold: 3072, enabled: false}}\n\
             \x20 domains:\n    Shop.Example.: {{dmarc_policy_none: {{enabled: false}}}}\n",
            password.display()
        );
        let c = load(
            &text,
            Env(
                "SENDERSCOPE_WEBHOOK_CHAT_OPS_URL",
                "https://hooks.example/T0/B0/secret",
            ),
        );
        let a = &c.alerts;
        assert_eq!(a.evaluate_every, Duration::from_secs(5));
        assert_eq!(a.resend_every, Duration::from_secs(120));
        assert_eq!(a.runbook_url, "https://wiki.example/runbooks");
        assert_eq!(a.alertmanagers[0].name, "127.0.0.1:9093");
        assert_eq!(a.alertmanagers[0].url, "http://127.0.0.1:9093");
        assert_eq!(a.alertmanagers[1].name, "am2");
        let auth = a.alertmanagers[1].basic_auth.as_ref().unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.expose()),
            ("ss", "hunter2")
        );
        let hook = &a.webhooks[0];
        assert_eq!(hook.url.expose(), "https://hooks.example/T0/B0/secret");
        assert_eq!(hook.format, WebhookFormat::Slack);
        assert_eq!(hook.retry_initial, Duration::from_millis(250));
        assert_eq!(hook.retry_max, Duration::from_secs(300));
        let dns = a.rule(RuleKind::DnsUnreachable, Some("shop.example"));
        assert_eq!(dns.for_, Duration::from_secs(3600));
        let dkim = a.rule(RuleKind::DkimKeyProblem, None);
        assert_eq!((dkim.enabled, dkim.threshold), (false, Some(3072.0)));
        assert!(
            !a.rule(RuleKind::DmarcPolicyNone, Some("shop.example"))
                .enabled
        );
        assert!(
            a.rule(RuleKind::DmarcPolicyNone, Some("other.example"))
                .enabled
        );
        // Secrets never print.
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("B0/secret"),
            "{shown}"
        );
    }

    #[test]
    fn a_webhook_url_that_is_not_http_is_refused_without_showing_it() {
        let e = load_str_with(
            "domains: []\nalerts:\n  webhooks:\n    - name: ops\n",
            "c.yaml",
            &Env("SENDERSCOPE_WEBHOOK_OPS_URL", "ftp://secret-token@x"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "environment: SENDERSCOPE_WEBHOOK_OPS_URL: the value is not an http:// or https:// URL"
        );
    }
}
