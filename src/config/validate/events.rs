//! `events:`: windows, thresholds, the operator's classification rules, suppression, webhooks and
//! the Postfix log (docs/bounces.md, "Configuration").

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;

use super::Validator;
use crate::config::keypath::KeyPath;
use crate::config::raw::{RawClassificationRule, RawEventThresholds, RawEvents, RawWebhooks};
use crate::events::classify::{Classifier, Rule, is_status};
use crate::events::model::{BounceType, Reason};
use crate::events::provider::Provider;
use crate::events::rates::{Thresholds, Window};
use crate::events::settings::{
    EventSettings, MailgunSettings, PostmarkSettings, SendgridSettings, SesSettings,
    WebhookSettings,
};
use crate::events::suppress::SuppressionPolicy;

impl Validator<'_> {
    pub(super) fn events(&mut self, raw: RawEvents, path: &KeyPath) -> EventSettings {
        let mut windows: Vec<Window> = Vec::new();
        let list = path.key("windows");
        if raw.windows.is_empty() {
            self.problem(list.clone(), "give at least one window, e.g. [1h, 24h, 7d]");
        }
        for (i, label) in raw.windows.iter().enumerate() {
            // Buckets are per minute; the longest window bounds how long they are kept.
            let length = self.duration(
                &list.index(i),
                label,
                Duration::from_secs(60),
                Duration::from_secs(90 * 86_400),
            );
            if !length.as_secs().is_multiple_of(60) {
                self.problem(
                    list.index(i),
                    format!("{label} is not a whole number of minutes"),
                );
            }
            if windows.iter().any(|w| w.length == length) {
                self.problem(list.index(i), format!("{label} is listed twice"));
            }
            windows.push(Window {
                label: label.trim().to_owned(),
                length,
            });
        }
        let thresholds = self.thresholds(&raw.thresholds, &path.key("thresholds"));
        let rules = raw
            .classification
            .iter()
            .enumerate()
            .filter_map(|(i, r)| self.rule(r, &path.key("classification").index(i)))
            .collect();
        let suppression = SuppressionPolicy {
            soft_bounces: self.count(
                &path.key("suppression").key("soft_bounces"),
                raw.suppression.soft_bounces,
                0,
                1000,
            ) as u32,
            soft_within: self.duration(
                &path.key("suppression").key("soft_within"),
                &raw.suppression.soft_within,
                Duration::from_secs(3600),
                Duration::from_secs(366 * 86_400),
            ),
        };
        let webhooks = self.webhooks(raw.webhooks, &path.key("webhooks"));
        let postfix_log = raw.postfix_log.map(|p| {
            if p.path.trim().is_empty() {
                self.problem(
                    path.key("postfix_log").key("path"),
                    "the log path cannot be empty",
                );
            }
            PathBuf::from(p.path)
        });
        EventSettings {
            windows,
            thresholds,
            classifier: Classifier::new(rules),
            suppression,
            webhooks,
            postfix_log,
        }
    }

    fn thresholds(&mut self, raw: &RawEventThresholds, path: &KeyPath) -> Thresholds {
        let rate = |v: &mut Self, key: &str, text: &str| -> f64 {
            let parsed = parse_rate(text);
            v.check(&path.key(key), parsed, 0.0)
        };
        let t = Thresholds {
            bounce_warning: rate(self, "bounce_warning", &raw.bounce_warning),
            bounce_critical: rate(self, "bounce_critical", &raw.bounce_critical),
            complaint_warning: rate(self, "complaint_warning", &raw.complaint_warning),
            complaint_critical: rate(self, "complaint_critical", &raw.complaint_critical),
            min_volume: raw.min_volume,
        };
        if t.bounce_warning > t.bounce_critical {
            self.problem(
                path.key("bounce_warning"),
                "is above bounce_critical; the warning must come first",
            );
        }
        if t.complaint_warning > t.complaint_critical {
            self.problem(
                path.key("complaint_warning"),
                "is above complaint_critical; the warning must come first",
            );
        }
        t
    }

    fn rule(&mut self, raw: &RawClassificationRule, path: &KeyPath) -> Option<Rule> {
        let reason = Reason::parse(raw.reason.trim());
        if reason.is_none() {
            let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
            self.problem(
                path.key("reason"),
                format!(
                    "unknown reason {:?}; use one of {}",
                    raw.reason,
                    names.join(", ")
                ),
            );
        }
        let provider = raw.provider.as_deref().map(|p| {
            let parsed = Provider::parse(p.trim());
            if parsed.is_none() {
                let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                self.problem(
                    path.key("provider"),
                    format!("unknown provider {p:?}; use one of {}", names.join(", ")),
                );
            }
            parsed
        });
        let kind = raw.kind.as_deref().map(|k| {
            let parsed = BounceType::parse(k.trim());
            if parsed.is_none() {
                self.problem(path.key("type"), format!("{k:?} is not hard or soft"));
            }
            parsed
        });
        if let Some(status) = raw.status.as_deref() {
            let pattern = status.trim().trim_end_matches('*').trim_end_matches('.');
            let valid = if status.trim().ends_with('*') {
                pattern
                    .split('.')
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
                    && matches!(pattern.as_bytes().first(), Some(b'2' | b'4' | b'5'))
            } else {
                is_status(pattern)
            };
            if !valid {
                self.problem(path.key("status"), format!("{status:?} is not an enhanced status code (RFC 3463: 5.7.1) or a prefix ending in * (5.7.*)"));
            }
        }
        if raw.contains.as_deref().is_none_or(|c| c.trim().is_empty()) && raw.status.is_none() {
            self.problem(
                path.clone(),
                "a rule needs `contains` or `status`, or it would match every bounce",
            );
        }
        Some(Rule {
            contains: raw.contains.clone().filter(|c| !c.trim().is_empty()),
            status: raw.status.as_deref().map(|s| s.trim().to_owned()),
            provider: provider.flatten(),
            reason: reason?,
            kind: kind.flatten(),
        })
    }

    fn webhooks(&mut self, raw: RawWebhooks, path: &KeyPath) -> WebhookSettings {
        let ses = raw.ses.map(|s| {
            let arns = path.key("ses").key("topic_arns");
            if s.topic_arns.is_empty() {
                self.problem(
                    arns.clone(),
                    "list the SNS topic ARNs to accept; none would refuse every message",
                );
            }
            for (i, arn) in s.topic_arns.iter().enumerate() {
                if !(arn.starts_with("arn:aws:sns:")
                    || arn.starts_with("arn:aws-cn:sns:")
                    || arn.starts_with("arn:aws-us-gov:sns:"))
                    || arn.split(':').count() != 6
                {
                    self.problem(
                        arns.index(i),
                        format!(
                            "{arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
                        ),
                    );
                }
            }
            SesSettings {
                topic_arns: s.topic_arns,
            }
        });
        let sendgrid = raw.sendgrid.and_then(|s| {
            let key = self.secret(
                &path.key("sendgrid").key("public_key_file"),
                s.public_key_file.as_deref(),
                "SENDERSCOPE_SENDGRID_PUBLIC_KEY",
                is_base64,
                "is not base64 (the verification key SendGrid shows for a signed Event Webhook)",
            );
            if key.is_none() && s.public_key_file.is_none() {
                self.problem(path.key("sendgrid"), "needs public_key_file (or SENDERSCOPE_SENDGRID_PUBLIC_KEY); an unsigned webhook is refused");
            }
            let der = base64::engine::general_purpose::STANDARD.decode(key?.expose()).ok()?;
            Some(SendgridSettings { public_key: der })
        });
        let mailgun = raw.mailgun.and_then(|m| {
            let key = self.secret(
                &path.key("mailgun").key("signing_key_file"),
                m.signing_key_file.as_deref(),
                "SENDERSCOPE_MAILGUN_SIGNING_KEY",
                |v| !v.contains(char::is_whitespace),
                "contains white space",
            );
            if key.is_none() && m.signing_key_file.is_none() {
                self.problem(
                    path.key("mailgun"),
                    "needs signing_key_file (or SENDERSCOPE_MAILGUN_SIGNING_KEY)",
                );
            }
            Some(MailgunSettings { signing_key: key? })
        });
        let postmark = raw.postmark.and_then(|p| {
            if p.username.trim().is_empty() || p.username.contains(':') {
                self.problem(path.key("postmark").key("username"), "give a user name without a colon (RFC 7617 §2)");
            }
            let password = self.secret(
                &path.key("postmark").key("password_file"),
                p.password_file.as_deref(),
                "SENDERSCOPE_POSTMARK_PASSWORD",
                |v| !v.contains(char::is_whitespace),
                "contains white space",
            );
            if password.is_none() && p.password_file.is_none() {
                self.problem(path.key("postmark"), "needs password_file (or SENDERSCOPE_POSTMARK_PASSWORD); Postmark webhooks carry no signature");
            }
            Some(PostmarkSettings { username: p.username, password: password? })
        });
        WebhookSettings {
            ses,
            sendgrid,
            mailgun,
            postmark,
        }
    }
}

fn is_base64(v: &str) -> bool {
    base64::engine::general_purpose::STANDARD.decode(v).is_ok()
}

/// `0.1%` or `0.001` → 0.001; between 0 and 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("{text:?} is not a rate; write a percentage like 0.1% or a fraction like 0.001")
    })?;
    let rate = value / scale;
    if !(0.0..=1.0).contains(&rate) || !rate.is_finite() {
        return Err(format!(
            "{text} is out of range; a rate is between 0% and 100%"
        ));
    }
    Ok(rate)
}
