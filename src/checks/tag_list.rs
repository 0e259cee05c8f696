//! The `name=value; name=value` lists that MTA-STS (RFC 8461 §3.1), TLS-RPT (RFC 8460 §3) and BIMI
//! records share: fields separated by `;` with optional whitespace around it, an optional `;` at the end.

/// One `name=value` field, both sides trimmed of whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag<'a> {
    /// The field name, as written (names are case-sensitive in all three grammars).
    pub name: &'a str,
    /// The value (may be empty).
    pub value: &'a str,
}

/// Split a record into its fields.
///
/// RFC 8461 §3.1 / RFC 8460 §3: `field-delim = *WSP ";" *WSP`, and the record may end in one delimiter:
/// so an empty field is allowed only at the very end, and every other field must contain `=`.
pub(crate) fn split(record: &str) -> Result<Vec<Tag<'_>>, String> {
    let pieces: Vec<&str> = record.split(';').collect();
    let last = pieces.len() - 1;
    let mut tags = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim_matches(is_wsp);
        if piece.is_empty() {
            if i == last {
                break;
            }
            return Err("an empty field (two \";\" in a row)".to_owned());
        }
        let Some((name, value)) = piece.split_once('=') else {
            return Err(format!("field {piece:?} has no \"=\""));
        };
        tags.push(Tag {
            name: name.trim_matches(is_wsp),
            value: value.trim_matches(is_wsp),
        });
    }
    Ok(tags)
}

/// RFC 5234 WSP: space or horizontal tab.
pub(crate) fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 8461 §3.1 / RFC 8460 §3 extension names: `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
pub(crate) fn is_extension_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// RFC 8461 §3.1 / RFC 8460 §3 extension values: `1*(%x21-3A / %x3C / %x3E-7E)` (visible ASCII but `;`, `=`).
pub(crate) fn is_extension_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
}

/// A host name as RFC 5321 §4.1.2 `Domain` allows: dot-separated labels of letters, digits and inner
/// hyphens (`Let-dig [Ldh-str]`), at most 63 bytes each, 253 in all. Underscores are not allowed.
pub(crate) fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_on_semicolons_with_whitespace_and_a_trailing_delimiter() {
        let tags = split("v=STSv1 ;\tid=123;").unwrap();
        assert_eq!(
            tags,
            vec![
                Tag {
                    name: "v",
                    value: "STSv1"
                },
                Tag {
                    name: "id",
                    value: "123"
                }
            ]
        );
    }

    #[test]
    fn empty_fields_inside_and_fields_without_equals_are_errors() {
        assert!(split("v=STSv1;;id=1").unwrap_err().contains("empty field"));
        assert!(split("v=STSv1; id").unwrap_err().contains("no \"=\""));
    }

    #[test]
    fn extension_grammar() {
        assert!(is_extension_name("x-foo.bar_1"));
        assert!(!is_extension_name("-x"));
        assert!(!is_extension_name(&"a".repeat(33)));
        assert!(is_extension_value("abc:/?"));
        assert!(!is_extension_value("a b"));
        assert!(!is_extension_value(""));
    }

    #[test]
    fn host_names_follow_rfc_5321() {
        assert!(is_host_name("mx1.example.com"));
        assert!(!is_host_name("mx_1.example.com"));
        assert!(!is_host_name("-mx.example.com"));
        assert!(!is_host_name("example..com"));
        assert!(!is_host_name(""));
    }
}
