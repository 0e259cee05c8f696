//! `senderscope report enforcement DOMAIN [-c FILE] [--window 30d] [--format text|json]
//! [--no-resolve]`: the enforcement readiness of a domain from the stored DMARC aggregate reports
//! (docs/ingest.md). Sources not yet enriched are looked up first (reverse DNS through the
//! configured resolver, within [`RESOLVE_BUDGET`]) unless `--no-resolve`. Exit 0 when the verdict
//! was computed, 1 when the store cannot be read.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::analysis::db::AnalysisDb;
use crate::analysis::readiness::{Enforcement, SourceClass, Verdict};
use crate::analysis::{self, enrich};
use crate::config::{self, parse_duration};
use crate::dns::Resolver;

/// How long the reverse-DNS lookups of un-enriched sources may take before the report is printed
/// with what is known (sources left show as `other`).
pub const RESOLVE_BUDGET: Duration = Duration::from_secs(30);

/// Arguments of `senderscope report enforcement`.
#[derive(Debug, clap::Args)]
pub struct EnforcementArgs {
    /// The policy domain (as in the reports' policy_published).
    pub domain: String,
    /// Configuration file (for the state database, DNS and the sender mapping).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Reports that ended this long ago or less count.
    #[arg(long, default_value = "30d")]
    pub window: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = super::ingest::Format::Text)]
    pub format: super::ingest::Format,
    /// Do not look up the reverse DNS of sources not enriched yet.
    #[arg(long)]
    pub no_resolve: bool,
}

/// Run the report; returns the exit code.
pub async fn enforcement(args: EnforcementArgs) -> anyhow::Result<u8> {
    let window = parse_duration(&args.window).map_err(|e| anyhow::anyhow!("--window: {e}"))?;
    if window < Duration::from_secs(86_400) {
        bail!(
            "--window: {} is shorter than a day; reports cover a day each",
            args.window
        );
    }
    let config = config::load(&super::source(args.config.clone()))?;
    let path = config.state.path.clone();
    if !path.exists() {
        bail!(
            "no state database at {}: ingest reports first (senderscope ingest, or the daemon's sources)",
            path.display()
        );
    }
    let domain = args.domain.trim_end_matches('.').to_ascii_lowercase();
    let db = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || AnalysisDb::shared(&p))
            .await
            .context("the store task stopped")?
            .with_context(|| format!("opening the state database {}", path.display()))?
    };
    if !args.no_resolve {
        let dns = Resolver::new(&config.dns).context("setting up DNS")?;
        let lookups = dns.round();
        match tokio::time::timeout(
            RESOLVE_BUDGET,
            enrich::enrich_all(&db, &lookups, 0, Some(&domain)),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => eprintln!("senderscope: reverse DNS of the sources not stored: {e}"),
            Err(_) => eprintln!(
                "senderscope: reverse DNS of the sources took longer than {}s; the rest show as other",
                RESOLVE_BUDGET.as_secs()
            ),
        }
    }
    let senders = config.ingest.senders.clone();
    let e = tokio::task::spawn_blocking(move || {
        analysis::enforcement(&db, &senders, &domain, window, crate::checks::unix_now())
    })
    .await
    .context("the store task stopped")?
    .context("reading the reports")?;
    let mut out = std::io::stdout().lock();
    match args.format {
        super::ingest::Format::Json => {
            serde_json::to_writer(&mut out, &e)?;
            writeln!(out)?;
        }
        super::ingest::Format::Text => out.write_all(text(&e).as_bytes())?,
    }
    Ok(0)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{:.1} %", x * 100.0))
}

/// The human form.
pub fn text(e: &Enforcement) -> String {
    let verdict = match e.verdict {
        Verdict::ReadyForReject => "ready for p=reject",
        Verdict::ReadyForQuarantine => "ready for p=quarantine (not yet p=reject)",
        Verdict::NotReady => "not ready for enforcement",
        Verdict::InsufficientData => "not enough data to judge",
    };
    let mut s = format!("{}: {verdict} (last {} days)\n", e.domain, e.window_days);
    s += &format!(
        "  {} messages, {} pass DMARC; legitimate sources: {} messages, {} pass\n",
        e.total.messages,
        pct(e.pass_rate),
        e.legitimate.messages,
        pct(e.legitimate_pass_rate)
    );
    for r in &e.reasons {
        s += &format!("  - {r}\n");
    }
    if !e.to_fix.is_empty() {
        s += "To fix:\n";
        for f in &e.to_fix {
            s += &format!("  - {f}\n");
        }
    }
    if !e.failing_sources.is_empty() {
        s += "Failing sources:\n";
        for g in &e.failing_sources {
            let class = match g.class {
                SourceClass::Legitimate => "legitimate",
                SourceClass::Forwarding => "forwarding",
                SourceClass::Unauthorized => "unauthorized",
            };
            let name = match &g.network {
                Some(n) if g.sender != crate::analysis::senders::OTHER => {
                    format!("{} ({n})", g.sender)
                }
                Some(n) => n.clone(),
                None => "no reverse DNS".into(),
            };
            s += &format!(
                "  {class:<12} {name}: {} of {} messages fail ({:.1} % of all mail)\n",
                g.failed,
                g.messages,
                g.share * 100.0
            );
            for ip in &g.ips {
                s += &format!(
                    "      {} {}: {} of {} fail\n",
                    ip.ip,
                    ip.ptr.as_deref().unwrap_or("(no PTR)"),
                    ip.failed,
                    ip.messages
                );
            }
            if g.ips_left_out > 0 {
                s += &format!("      … and {} more IPs\n", g.ips_left_out);
            }
            for p in &g.problems {
                s += &format!("      {:?}: {}\n", p.mechanism, p.fix)
                    .replace("Spf:", "SPF:")
                    .replace("Dkim:", "DKIM:");
            }
        }
        if e.failing_sources_left_out > 0 {
            s += &format!(
                "  … and {} more failing sources\n",
                e.failing_sources_left_out
            );
        }
    }
    s
}
