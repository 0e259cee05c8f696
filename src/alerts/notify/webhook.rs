//! Webhooks: one POST per notification. `json` sends senderscope's own shape
//! (`{"version": "1", "status", "alert": {labels, annotations, startsAt, endsAt}}`); `slack` sends
//! an incoming-webhook message (`{"text": …}`) that Slack, Mattermost and Rocket.Chat accept.

use serde_json::{Value, json};

use super::{DeliveryError, Notification, Status, answer, unreachable};
use crate::alerts::settings::{WebhookFormat, WebhookSettings};

/// Post each of `batch` to one webhook; stops at the first failure (the rest are retried with it).
pub async fn send(
    client: &reqwest::Client,
    hook: &WebhookSettings,
    batch: &[Notification],
) -> Result<String, DeliveryError> {
    let mut last = String::new();
    for n in batch {
        let response = client
            .post(hook.url.expose())
            .timeout(hook.timeout)
            .json(&body(hook.format, n))
            .send()
            .await
            .map_err(unreachable)?;
        last = answer(response).await?;
    }
    Ok(last)
}

/// The body for one notification.
pub fn body(format: WebhookFormat, n: &Notification) -> Value {
    match format {
        WebhookFormat::Json => json!({
            "version": "1",
            "status": n.status.as_str(),
            "alert": n,
        }),
        WebhookFormat::Slack => json!({ "text": slack_text(n) }),
    }
}

fn slack_text(n: &Notification) -> String {
    let get = |m: &std::collections::BTreeMap<String, String>, k: &str| {
        m.get(k).cloned().unwrap_or_default()
    };
    let state = match n.status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
    };
    format!(
        "[{state}] {} ({}): {}\n{}\nRunbook: {}",
        get(&n.labels, "alertname"),
        get(&n.labels, "severity"),
        get(&n.annotations, "summary"),
        get(&n.annotations, "description"),
        get(&n.annotations, "runbook_url"),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn note(status: Status) -> Notification {
        Notification {
            status,
            labels: BTreeMap::from([
                ("alertname".into(), "SenderscopeBlocklistListed".into()),
                ("severity".into(), "critical".into()),
            ]),
            annotations: BTreeMap::from([
                ("summary".into(), "192.0.2.10 is listed on bl.test".into()),
                ("description".into(), "Since today.".into()),
                (
                    "runbook_url".into(),
                    "docs/runbooks.md#senderscopeblocklistlisted".into(),
                ),
            ]),
            starts_at: "2026-12-04T16:00:00Z".into(),
            ends_at: "2026-12-04T16:04:00Z".into(),
            generator_url: String::new(),
        }
    }

    #[test]
    fn json_body_carries_status_and_the_alert() {
        let b = body(WebhookFormat::Json, &note(Status::Resolved));
        assert_eq!(b["status"], "resolved");
        assert_eq!(
            b["alert"]["labels"]["alertname"],
            "SenderscopeBlocklistListed"
        );
        assert_eq!(b["alert"]["startsAt"], "2026-12-04T16:00:00Z");
        assert_eq!(b["alert"]["endsAt"], "2026-12-04T16:04:00Z");
        assert!(b["alert"].get("generatorURL").is_none());
    }

    #[test]
    fn slack_body_is_one_text_with_state_summary_and_runbook() {
        let b = body(WebhookFormat::Slack, &note(Status::Firing));
        assert_eq!(
            b,
            json!({"text": "[FIRING] SenderscopeBlocklistListed (critical): 192.0.2.10 is listed on bl.test\nSince today.\nRunbook: docs/runbooks.md#senderscopeblocklistlisted"})
        );
    }
}
