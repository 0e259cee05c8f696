//! Header-style field groups: the body of a `message/delivery-status` (RFC 3464 §2.1) or
//! `message/feedback-report` (RFC 5965 §3.1) part. Groups are separated by blank lines; a line that
//! starts with white space continues the field above it (RFC 5322 §2.2.3 folding).

/// One group of fields, names kept as written, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Group {
    fields: Vec<(String, String)>,
}

impl Group {
    /// The first value of field `name` (case-insensitive), trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every value of field `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Whether the group has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The most groups read from one part (a DSN lists one per recipient; more is hostile).
const MAX_GROUPS: usize = 1000;

/// Split `text` into groups of fields. Lines that are not fields (no colon) are skipped.
pub fn groups(text: &str) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut current = Group::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                if out.len() == MAX_GROUPS {
                    return out;
                }
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && !name.contains(' ') {
                current
                    .fields
                    .push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
    if !current.is_empty() && out.len() < MAX_GROUPS {
        out.push(current);
    }
    out
}

/// The value after an RFC 3464 type prefix: `rfc822; a@b` → `a@b`, `smtp; 550 …` → `550 …`,
/// `dns; mx.example` → `mx.example`. A value without a prefix is returned whole.
pub fn typed_value(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.is_empty()
                && kind.len() <= 16
                && kind
                    .trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_on_blank_lines_and_unfold() {
        let text = "Reporting-MTA: dns; mx.shop.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 5.1.1\r\n    user unknown\r\n\r\n\r\nFinal-Recipient: rfc822; c@d.example\r\nAction: delayed\r\n";
        let g = groups(text);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].get("reporting-mta"), Some("dns; mx.shop.example"));
        assert_eq!(
            g[1].get("Diagnostic-Code"),
            Some("smtp; 550 5.1.1 user unknown")
        );
        assert_eq!(g[2].get("action"), Some("delayed"));
        assert_eq!(typed_value("smtp; 550 x; y"), "550 x; y");
        assert_eq!(typed_value("a@b.example"), "a@b.example");
    }
}
