//! `senderscope ingest FILE|DIR... [-c FILE] [--dry-run] [--format text|json]`: read reports,
//! bounces and complaints from files (directories recursively, in name order) and store them, once
//! each. `--format json` prints
//! one JSON line per file and a summary line (docs/ingest.md); exit 0 when nothing failed, else 1.
//! `--dry-run` parses without storing and reads no configuration.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use crate::config;
use crate::ingest::store::IngestStore;
use crate::ingest::{DryRun, InputOutcome, Limits, MessageRules, ReportSink, Status, ingest_with};

/// Arguments of `senderscope ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Report files (XML, gzip, zip, JSON, messages) or directories of them.
    #[arg(value_name = "FILE|DIR", required = true)]
    pub paths: Vec<PathBuf>,
    /// Configuration file (for the state database and ingest limits; default: the same search as
    /// `serve`).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Parse and report, store nothing (no configuration needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line per file, a progress counter on a terminal.
    Text,
    /// JSON Lines: one object per file, then `{"summary": …}`.
    Json,
}

/// Run the ingest; returns the exit code (0 when no file failed, 1 otherwise).
pub async fn run(args: IngestArgs) -> anyhow::Result<u8> {
    tokio::task::spawn_blocking(move || run_blocking(&args))
        .await
        .context("the ingest task stopped")?
}

fn run_blocking(args: &IngestArgs) -> anyhow::Result<u8> {
    let files = expand(&args.paths)?;
    let (mut sink, limits, rules): (Box<dyn ReportSink>, Limits, MessageRules) = if args.dry_run {
        (Box::new(DryRun), Limits::default(), MessageRules::default())
    } else {
        let config = config::load(&super::source(args.config.clone()))?;
        let mut store = IngestStore::open(&config.state.path).with_context(|| {
            format!("opening the state database {}", config.state.path.display())
        })?;
        store.prune(config.state.retention)?;
        (
            Box::new(store),
            config.ingest.limits.clone(),
            MessageRules::from(&config.events),
        )
    };
    let mut totals = Totals::default();
    let progress = args.format == Format::Text && std::io::stderr().is_terminal();
    let mut out = std::io::stdout().lock();
    for (i, file) in files.iter().enumerate() {
        if progress {
            eprint!("\r[{}/{}] {}\x1b[K", i + 1, files.len(), file.display());
        }
        let outcome = ingest_file(file, &limits, &rules, sink.as_mut());
        totals.add(&outcome);
        let name = file.display().to_string();
        match args.format {
            Format::Json => writeln!(out, "{}", outcome.json_line(&name))?,
            Format::Text => {
                if progress {
                    eprint!("\r\x1b[K");
                }
                writeln!(out, "{}", text_line(&name, &outcome))?;
            }
        }
    }
    match args.format {
        Format::Json => writeln!(out, "{}", json!({ "summary": totals }))?,
        Format::Text => writeln!(
            out,
            "{} file(s): {} ok, {} duplicate, {} failed; {} report(s), {} record(s), {} message(s), {} bounce(s), {} complaint(s)",
            totals.files,
            totals.ok,
            totals.duplicate,
            totals.failed,
            totals.reports,
            totals.records,
            totals.messages,
            totals.bounces,
            totals.complaints
        )?,
    }
    Ok(u8::from(totals.failed > 0))
}

/// Read one file through the pipeline.
pub fn ingest_file(
    path: &Path,
    limits: &Limits,
    rules: &MessageRules,
    sink: &mut dyn ReportSink,
) -> InputOutcome {
    match File::open(path) {
        Ok(f) => ingest_with(
            &mut BufReader::with_capacity(64 << 10, f),
            limits,
            rules,
            sink,
        ),
        Err(e) => InputOutcome {
            errors: vec![crate::ingest::IngestError::Io(e)],
            ..InputOutcome::default()
        },
    }
}

fn text_line(name: &str, o: &InputOutcome) -> String {
    let status = o.status();
    let mut line = format!("{name}: {} {}", status.as_str(), o.kind().as_str());
    if !o.reports.is_empty() {
        line.push_str(&format!(
            ", {} report(s), {} record(s), {} message(s)",
            o.reports.len(),
            o.records(),
            o.messages()
        ));
    }
    let (bounces, complaints) = (o.bounces(), o.complaints());
    for b in &bounces {
        line.push_str(&format!(
            "; bounce {} {} {} ({})",
            b.recipient,
            b.kind.as_str(),
            b.reason.as_str(),
            b.status.as_deref().unwrap_or("no status")
        ));
    }
    for c in &complaints {
        line.push_str(&format!(
            "; complaint {} {}",
            c.recipient.as_deref().unwrap_or("(recipient not given)"),
            c.feedback_type
        ));
    }
    if let Some(e) = o.error() {
        line.push_str(&format!(": {e}"));
    }
    if o.warnings.count > 0 {
        line.push_str(&format!(" ({} warning(s))", o.warnings.count));
    }
    line
}

/// Files named, and files under directories named (recursively, sorted).
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

#[derive(Debug, Default, serde::Serialize)]
struct Totals {
    files: u64,
    ok: u64,
    duplicate: u64,
    failed: u64,
    reports: u64,
    records: u64,
    messages: u64,
    bounces: u64,
    complaints: u64,
}

impl Totals {
    fn add(&mut self, o: &InputOutcome) {
        self.files += 1;
        match o.status() {
            Status::Ok => self.ok += 1,
            Status::Duplicate => self.duplicate += 1,
            Status::Failed => self.failed += 1,
        }
        self.reports += o.reports.len() as u64;
        self.records += o.records();
        self.messages += o.messages();
        self.bounces += o.bounces().len() as u64;
        self.complaints += o.complaints().len() as u64;
    }
}
