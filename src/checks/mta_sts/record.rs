//! The `_mta-sts.<domain>` TXT record (RFC 8461 §3.1).
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-field       = sts-id / sts-extension
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! ```

use crate::checks::tag_list::{self, is_extension_name, is_extension_value};

/// RFC 8461 §3.1: records not starting with this are discarded by senders.
pub const VERSION: &str = "v=STSv1";

/// A valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `id`: senders refetch the policy when it changes.
    pub id: String,
    /// Well-formed extension fields senders ignore.
    pub unknown_fields: Vec<String>,
}

/// Parse the record; every problem is reported.
pub fn parse(record: &str) -> Result<Record, Vec<String>> {
    let tags = tag_list::split(record).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    match tags.first() {
        Some(t) if t.name == "v" && t.value == "STSv1" => {}
        _ => problems.push(format!("it must start with {VERSION}")),
    }
    let mut id = None;
    let mut unknown_fields = Vec::new();
    for tag in tags.iter().skip(1) {
        match tag.name {
            "id" if id.is_some() => problems.push("id= appears twice".to_owned()),
            "id" => {
                let valid = (1..=32).contains(&tag.value.len())
                    && tag.value.bytes().all(|b| b.is_ascii_alphanumeric());
                if !valid {
                    problems.push(format!(
                        "id={} must be 1 to 32 letters and digits",
                        tag.value
                    ));
                }
                id = Some(tag.value.to_owned());
            }
            "v" => problems.push("v= appears twice".to_owned()),
            name if is_extension_name(name) && is_extension_value(tag.value) => {
                unknown_fields.push(name.to_owned());
            }
            name => problems.push(format!("field {name}={} is not valid", tag.value)),
        }
    }
    match id {
        Some(id) if problems.is_empty() => Ok(Record { id, unknown_fields }),
        None => {
            problems.push("the required id= field is missing".to_owned());
            Err(problems)
        }
        Some(_) => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8461_section_3_1_records() {
        assert_eq!(
            parse("v=STSv1; id=20160831085700Z;").unwrap().id,
            "20160831085700Z"
        );
        assert_eq!(
            parse("v=STSv1; id=1; ext=x").unwrap().unknown_fields,
            vec!["ext".to_owned()]
        );
        let e = parse("v=STSv1;").unwrap_err();
        assert!(e[0].contains("id= field is missing"), "{e:?}");
        let e = parse("v=STSv1; id=2024-01-01").unwrap_err();
        assert!(e[0].contains("letters and digits"), "{e:?}");
        let e = parse("id=1; v=STSv1").unwrap_err();
        assert!(e[0].contains("must start with v=STSv1"), "{e:?}");
        assert!(parse("v=STSv1; id=1; id=2").is_err());
        assert!(parse(&format!("v=STSv1; id={}", "a".repeat(33))).is_err());
    }
}
