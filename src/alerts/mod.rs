//! Alerting (docs/alerts.md): rules in the daemon over the latest results, alerts with a lifecycle
//! kept in the store, and notifiers that tell Alertmanager and webhooks.
//!
//! - [`snapshot`]: the rules' input, built by one adapter from the latest results; [`inputs`] adds
//!   the report, event and ingest figures from the state database.
//! - [`rules`]: the rule registry ([`RuleKind`]) and what each finds.
//! - [`lifecycle`]: pending → firing → resolved, de-duplicated by label set.
//! - [`notify`]: Alertmanager API v2 and webhooks (JSON or Slack-shaped).
//! - [`engine`]: the task that runs it all; [`settings`]: the validated `alerts:` section.
//! - [`test_notifiers`]: one test alert through every notifier (`senderscope alerts test`).

pub mod engine;
pub mod inputs;
pub mod lifecycle;
pub mod notify;
pub mod rules;
pub mod settings;
pub mod snapshot;

use std::collections::BTreeMap;

pub use engine::{Deps, run};
pub use rules::RuleKind;
pub use settings::AlertSettings;

use notify::{DeliveryError, Notification, Notifier, Status};

/// What one notifier answered to the test alert.
#[derive(Debug)]
pub struct TestOutcome {
    /// `alertmanager` or `webhook`.
    pub kind: &'static str,
    /// Its configured name.
    pub name: String,
    /// The answer, or why there was none.
    pub result: Result<String, DeliveryError>,
}

/// Send one test alert (`SenderscopeTest`, severity `info`, lapsing after five minutes) through every
/// configured notifier, and say what each answered.
pub async fn test_notifiers(settings: &AlertSettings) -> Vec<TestOutcome> {
    let now = engine::now_ms();
    let note = Notification {
        status: Status::Firing,
        labels: BTreeMap::from([
            ("alertname".to_owned(), "SenderscopeTest".to_owned()),
            ("severity".to_owned(), "info".to_owned()),
        ]),
        annotations: BTreeMap::from([
            (
                "summary".to_owned(),
                "Test alert from `senderscope alerts test`".to_owned(),
            ),
            (
                "description".to_owned(),
                "If you read this, alerts from senderscope reach you. It lapses by itself in five minutes."
                    .to_owned(),
            ),
            (
                "runbook_url".to_owned(),
                format!("{}#senderscopetest", settings.runbook_url),
            ),
        ]),
        starts_at: rules::rfc3339(now),
        ends_at: rules::rfc3339(now + 5 * 60 * 1000),
        generator_url: String::new(),
    };
    let client = notify::client();
    let mut out = Vec::new();
    for n in Notifier::all(settings) {
        let result = n.send(&client, std::slice::from_ref(&note)).await;
        out.push(TestOutcome {
            kind: n.kind(),
            name: n.name().to_owned(),
            result,
        });
    }
    out
}
