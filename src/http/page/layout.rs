//! The document around every page: `lang`, title, one small inline stylesheet, the site header, and
//! the helpers every page uses (status words, times, rate cells).
//!
//! Colour only repeats what the words say (WCAG 2.2 SC 1.4.1, "Use of Color"): each status is
//! written out, and its colour is a border and background beside the word.

use maud::{DOCTYPE, Markup, html};

use crate::analysis::readiness::Verdict;
use crate::events::rates::Judgement;
use crate::findings::Severity;
use crate::views::Status;

/// Small, so the page needs nothing but itself; colours pass WCAG AA contrast on white.
const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:80rem;padding:0 1rem;color:#1a1a1a}\
header{border-bottom:1px solid #ccc;margin-bottom:1rem}\
table{border-collapse:collapse;margin:0 0 1.5rem;width:100%}\
caption{text-align:left;font-weight:600;padding:.25rem 0}\
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}\
thead th{background:#f2f2f2}\
td p:first-child{margin-top:0}td p:last-child{margin-bottom:0}\
.status{display:inline-block;border-left:.4rem solid;padding:0 .4rem;font-weight:600}\
.status-ok{border-color:#1e7b34;background:#e6f4ea}\
.status-info{border-color:#1a5fb4;background:#e8f0fb}\
.status-warning{border-color:#9a6700;background:#fff4d6}\
.status-unknown{border-color:#6e6e6e;background:#eee}\
.status-critical{border-color:#b3261e;background:#fdecea}\
.status-pending{border-color:#6e6e6e;background:#fff}\
.note{color:#444}";

/// A whole page: `title` in the tab and as the one `h1`.
pub(crate) fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · senderscope" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    nav aria-label="Site" {
                        p { a href="/" { "senderscope status" } }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                footer {
                    p class="note" {
                        "The same data as JSON: " a href="/api/v1/status" { "/api/v1/status" }
                        ". Metrics: " a href="/metrics" { "/metrics" } "."
                    }
                }
            }
        }
    }
}

/// A status as a word (its colour only repeats it).
pub(crate) fn status(s: Status) -> Markup {
    let (class, word) = match s {
        Status::Pending => ("pending", "Pending"),
        Status::Checked(sev) => (sev.as_str(), severity_word(sev)),
    };
    html! { span class={ "status status-" (class) } { (word) } }
}

/// A finding's or check's severity as a word.
pub(crate) fn severity(s: Severity) -> Markup {
    status(Status::Checked(s))
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Ok => "OK",
        Severity::Info => "Info",
        Severity::Warning => "Warning",
        Severity::Unknown => "Unknown (could not check)",
        Severity::Critical => "Critical",
    }
}

/// A rate's judgement as a word, coloured like the status it matches.
pub(crate) fn judgement(j: Judgement) -> Markup {
    let (class, word) = match j {
        Judgement::Ok => ("ok", "OK"),
        Judgement::Warning => ("warning", "Warning"),
        Judgement::Critical => ("critical", "Critical"),
        Judgement::TooFewMessages => ("pending", "Too few messages to judge"),
    };
    html! { span class={ "status status-" (class) } { (word) } }
}

/// An enforcement verdict as words, coloured like the status it matches.
pub(crate) fn verdict(v: Verdict) -> Markup {
    let (class, word) = match v {
        Verdict::ReadyForReject => ("ok", "Ready for p=reject"),
        Verdict::ReadyForQuarantine => ("info", "Ready for p=quarantine, not yet for p=reject"),
        Verdict::NotReady => ("warning", "Not ready: legitimate mail would fail"),
        Verdict::InsufficientData => ("pending", "Too few reported messages to judge"),
    };
    html! { span class={ "status status-" (class) } { (word) } }
}

/// The head of a table: one `th scope="col"` per name.
pub(crate) fn column_heads(names: &[&str]) -> Markup {
    html! {
        thead { tr {
            @for n in names {
                th scope="col" { (n) }
            }
        } }
    }
}

/// A rate as a percentage with two decimals, or a dash with no messages.
pub(crate) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.2} %", r * 100.0))
}

/// Unix seconds as UTC date and time (RFC 3339), or the raw number if out of range.
pub(crate) fn time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
