//! `senderscope alerts test`: one test alert through every configured notifier, and what each
//! answered, so on-call can prove the path before they need it.

use std::path::PathBuf;

use crate::config;

/// Arguments of `alerts test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Configuration file (default: the same search as `serve`).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Exit 0 when every notifier accepted the alert, 1 when one did not or none is configured.
pub async fn test(args: TestArgs) -> anyhow::Result<u8> {
    let config = config::load(&super::source(args.config))?;
    let outcomes = crate::alerts::test_notifiers(&config.alerts).await;
    if outcomes.is_empty() {
        eprintln!(
            "no notifier is configured: add alerts.alertmanagers or alerts.webhooks (docs/alerts.md)"
        );
        return Ok(1);
    }
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(answer) => println!("{} {}: accepted ({answer})", o.kind, o.name),
            Err(e) => {
                failed += 1;
                println!("{} {}: FAILED ({e})", o.kind, o.name);
            }
        }
    }
    Ok(u8::from(failed > 0))
}
