//! Bounces that are not RFC 3464 reports: the plain-text layouts of the MTA families.
//!
//! Each family is recognised by a phrase of its own (or by `X-Failed-Recipients:`, which Exim,
//! Gmail, Google Groups and Mail.ru add); the recipients are the lines of the explanation that start
//! with an address (`<a@b>:` in qmail, Yahoo and Postfix text, `  a@b` in Exim, `a@b on <date>` and
//! `a@b (a@b)` in Exchange, `a@b: 550 …` in OpenSMTPD); each recipient's diagnostic is the paragraph
//! that names it. Reading stops at the line after which the original is quoted.

use mail_parser::Message;

use super::super::model::normalize_address;
use super::{Failed, content_types, part_text};

/// The phrases that name each family (lower case), and where its explanation starts.
const FAMILIES: &[(&str, &[&str])] = &[
    (
        "exim",
        &[
            "the following address(es) failed",
            "could not be delivered to one or more of its recipients",
        ],
    ),
    (
        "gmail",
        &[
            "delivery to the following recipient failed",
            "delivery to the following recipients failed",
            "your message wasn't delivered to",
            "address not found",
        ],
    ),
    (
        "qmail",
        &[
            "this is the qmail-send program",
            "i'm afraid i wasn't able to deliver your message",
        ],
    ),
    (
        "yahoo",
        &["sorry, we were unable to deliver your message to the following address"],
    ),
    (
        "sendmail",
        &[
            "the following addresses had permanent fatal errors",
            "----- transcript of session follows -----",
        ],
    ),
    (
        "exchange",
        &[
            "delivery has failed to these recipients or groups",
            "the following recipient(s) cannot be reached",
            "your message did not reach some or all of the intended recipients",
            "your message couldn't be delivered",
        ],
    ),
    (
        "opensmtpd",
        &["an error has occurred while attempting to deliver a message for"],
    ),
    (
        "postfix",
        &[
            "this is the mail system at host",
            "i'm sorry to have to inform you that your message could not",
        ],
    ),
    (
        "generic",
        &[
            "could not be delivered to the following recipient",
            "delivery to the following recipient has been failed",
            "permanent error",
            "undeliverable to the following",
            "message could not be delivered",
        ],
    ),
];

/// Lines at which the explanation ends and the quoted original begins (lower case, trimmed).
const STOP_AT: &[&str] = &[
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "below is a copy of the original message",
    "----- original message",
    "------ original message",
    "original message headers:",
    "----- message header follows",
    "----- the header of the original message",
    "--- the header of the original message",
];

/// The failed recipients of a plain-text bounce, or `None` when `m` is not one.
pub fn read(m: &Message<'_>) -> Option<Vec<Failed>> {
    let failed_header = m
        .header_raw("X-Failed-Recipients")
        .map(|v| {
            v.split(',')
                .filter_map(normalize_address)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let body = content_types(m).find_map(|(t, p)| {
        (t == "text/plain" || t.is_empty())
            .then(|| part_text(&p.body))
            .flatten()
    })?;
    let text = explanation(&body);
    let lower = text.to_ascii_lowercase();
    let start = FAMILIES
        .iter()
        .flat_map(|(_, phrases)| phrases.iter())
        .filter_map(|p| lower.find(p))
        .min();
    if start.is_none() && failed_header.is_empty() {
        return None;
    }
    let from = start.unwrap_or(0);
    let section = &text[from..];
    let mut recipients = failed_header;
    if recipients.is_empty() {
        recipients = addresses_at_line_start(section);
    }
    if recipients.is_empty() {
        return None;
    }
    let paragraphs = paragraphs(section);
    let single = recipients.len() == 1;
    Some(
        recipients
            .into_iter()
            .map(|r| describe(&r, &paragraphs, section, single))
            .collect(),
    )
}

/// The bounce's own words: everything before the quoted original.
fn explanation(body: &str) -> &str {
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let l = line.trim().to_ascii_lowercase();
        if STOP_AT.iter().any(|s| l.starts_with(s)) {
            return &body[..offset];
        }
        offset += line.len();
    }
    body
}

/// Addresses that open a line (`<a@b>:`, `a@b`, `a@b on …`, `a@b: 550 …`), in order, once each.
fn addresses_at_line_start(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(a) = opening_address(line)
            && !out.contains(&a)
            && !a.starts_with("mailer-daemon@")
            && !a.starts_with("postmaster@")
        {
            out.push(a);
        }
        if out.len() >= 1000 {
            break;
        }
    }
    out
}

/// Paragraphs (runs of non-blank lines) with their text joined by newlines.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(line.trim());
            current.push('\n');
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The recipient a line opens with, if any (see [`addresses_at_line_start`]).
fn opening_address(line: &str) -> Option<String> {
    let first = line.split_whitespace().next()?;
    normalize_address(
        first
            .trim_end_matches([':', ',', ';'])
            .trim_end_matches("..."),
    )
}

/// Each place a recipient's own block starts (a line opening with its address) runs until the
/// next line opening with any address, or a blank line: Exim and Exchange list recipients
/// back to back without blank lines between them.
fn blocks_of(recipient: &str, section: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        let opener = opening_address(line);
        if (line.trim().is_empty() || opener.is_some())
            && let Some(block) = current.take()
        {
            out.push(block);
        }
        if opener.as_deref() == Some(recipient) {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line.trim());
            block.push('\n');
        }
    }
    out.extend(current);
    out
}

/// One recipient's diagnostic: its blocks, preferring those with a server's reply; for a lone
/// recipient whose block is the bare address (Gmail puts the reason in later paragraphs), the
/// paragraphs that quote a reply, else the whole explanation.
fn describe(recipient: &str, paragraphs: &[String], section: &str, single: bool) -> Failed {
    let blocks = blocks_of(recipient, section);
    let with_reply: Vec<&String> = blocks.iter().filter(|p| has_reply(p)).collect();
    let mut diagnostic = if with_reply.is_empty() {
        blocks.join(" ")
    } else {
        with_reply
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let says_more = blocks
        .iter()
        .any(|b| !strip_address(b, recipient).is_empty());
    if single && !says_more {
        let replies: Vec<&str> = paragraphs
            .iter()
            .filter(|p| has_reply(p))
            .map(String::as_str)
            .collect();
        diagnostic = if replies.is_empty() {
            section.to_owned()
        } else {
            replies.join(" ")
        };
    }
    let diagnostic = strip_address(&diagnostic, recipient);
    let remote_mta =
        remote_host(&diagnostic).or_else(|| single.then(|| remote_host(section)).flatten());
    Failed {
        recipient: recipient.to_owned(),
        status: None,
        remote_mta,
        diagnostic: Some(diagnostic),
    }
}

/// Whether a paragraph quotes a server's reply (a 4xx/5xx code or "said").
fn has_reply(p: &str) -> bool {
    let lower = p.to_ascii_lowercase();
    lower.contains(" said")
        || lower.contains("returned")
        || lower.contains("smtp error")
        || lower
            .split(|c: char| !c.is_ascii_digit())
            .any(|n| n.len() == 3 && (n.starts_with('4') || n.starts_with('5')))
}

/// The paragraph without a leading copy of the address (`<a@b>:`), which says nothing.
fn strip_address(text: &str, recipient: &str) -> String {
    let t = text.trim_start();
    let first = t.split_whitespace().next().unwrap_or("");
    if normalize_address(first.trim_end_matches([':', ',', ';'])).as_deref() == Some(recipient) {
        t[first.len()..].trim().to_owned()
    } else {
        t.trim().to_owned()
    }
}

/// The remote host named in the text: `host mx.b.example[192.0.2.1]` (Postfix, Exim), `by
/// mx.b.example. [192.0.2.1]` (Gmail), `Generating server: …` / `Remote-MTA` (Exchange).
fn remote_host(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for marker in ["host ", " by ", "generating server: ", "remote server: "] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(marker) {
            let at = from + i + marker.len();
            from = at;
            let token: String = lower[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            let token = token.trim_end_matches('.');
            let labels = token.split('.').count();
            if labels >= 2
                && token.chars().any(|c| c.is_ascii_alphabetic())
                && !token.contains("..")
            {
                return Some(token.to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_open_lines_in_every_family_layout() {
        let text = "<a@b.example>:\nRemote host said: 550\n  c@d.example\n e@f.example on 1/1/2026\n g@h.example (g@h.example)\n i@j.example: 550 no\nRCPT TO:<k@l.example> said\nMAILER-DAEMON@x.example\n";
        assert_eq!(
            addresses_at_line_start(text),
            [
                "a@b.example",
                "c@d.example",
                "e@f.example",
                "g@h.example",
                "i@j.example"
            ]
        );
    }

    #[test]
    fn remote_hosts_are_read_from_the_common_phrasings() {
        assert_eq!(
            remote_host("host mx.b.example[192.0.2.1] said: 550").as_deref(),
            Some("mx.b.example")
        );
        assert_eq!(
            remote_host("rejected by the server for the recipient domain b.example by mx.b.example. [192.0.2.1].").as_deref(),
            Some("mx.b.example")
        );
        assert_eq!(remote_host("192.0.2.1 does not like recipient."), None);
    }
}
