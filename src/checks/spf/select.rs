//! Record selection (RFC 7208 §4.5): which TXT record at a name is the SPF record, and why a TXT that
//! looks like one is not (the "near misses" a human needs named: `v=spf10`, a leading space, …).

use crate::dns::Txt;

use super::parse::is_spf_record;

/// What the TXT records at a name hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Exactly one SPF record.
    One(Txt),
    /// RFC 7208 §4.5: "If the resultant record set includes more than one record, check_host() produces
    /// the "permerror" result."
    Multiple(Vec<Txt>),
    /// No SPF record; TXT records that look like a mistaken one, with the reason each is not.
    None(Vec<NearMiss>),
}

/// A TXT record that is not an SPF record but was probably meant to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    /// The record as published (lossy).
    pub text: String,
    /// Why receivers ignore it.
    pub why: String,
}

/// Select the SPF record among the TXT records at a name.
pub fn select(records: &[Txt]) -> Selection {
    let mut found: Vec<Txt> = records
        .iter()
        .filter(|t| is_spf_record(&t.joined_bytes()))
        .cloned()
        .collect();
    match found.len() {
        0 => Selection::None(records.iter().filter_map(near_miss).collect()),
        1 => Selection::One(found.remove(0)),
        _ => Selection::Multiple(found),
    }
}

fn near_miss(txt: &Txt) -> Option<NearMiss> {
    let text = txt.joined();
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_start_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
    let first_word = text.split_whitespace().next().unwrap_or("");
    let why = if trimmed.len() != lower.len() && is_spf_record(trimmed.as_bytes()) {
        "it starts with whitespace or a quote before `v=spf1`; the version must be the very first thing"
            .to_owned()
    } else if lower.starts_with("v=spf1") {
        format!(
            "`{first_word}` is not the version `v=spf1`: the version must be followed by a space or end the record"
        )
    } else if lower.starts_with("v=spf") || lower.starts_with("v = spf") {
        format!("`{first_word}` is not the SPF version; it must be exactly `v=spf1`")
    } else if lower.starts_with("spf2.0/") {
        "it is a Sender ID record (spf2.0), which receivers no longer read; it does not replace `v=spf1`"
            .to_owned()
    } else if lower.contains("v=spf1") {
        "`v=spf1` must be at the very start of the record".to_owned()
    } else {
        return None;
    };
    Some(NearMiss { text, why })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(parts: &[&str]) -> Txt {
        Txt {
            strings: parts.iter().map(|p| p.as_bytes().to_vec()).collect(),
        }
    }

    #[test]
    fn strings_are_joined_without_spaces_before_selection() {
        // RFC 7208 §3.3: "v=spf1" + "mx" is "v=spf1mx", not an SPF record.
        assert!(matches!(
            select(&[txt(&["v=spf1", "mx"])]),
            Selection::None(_)
        ));
        assert!(matches!(
            select(&[txt(&["v=spf1 ", "mx"])]),
            Selection::One(_)
        ));
    }

    #[test]
    fn near_misses_say_why() {
        let Selection::None(misses) = select(&[
            txt(&["v=spf10 -all"]),
            txt(&[" v=spf1 -all"]),
            txt(&["spf2.0/pra -all"]),
            txt(&["google-site-verification=abc"]),
        ]) else {
            panic!("expected no SPF record");
        };
        assert_eq!(misses.len(), 3);
        assert!(misses[0].why.contains("`v=spf10`"), "{}", misses[0].why);
        assert!(misses[1].why.contains("whitespace"));
        assert!(misses[2].why.contains("Sender ID"));
    }

    #[test]
    fn selection_is_case_insensitive_and_counts_duplicates() {
        // RFC 7208 §4.5 and the test suite's multitxt2: "V=sPf1" is an SPF record too.
        assert!(matches!(
            select(&[txt(&["v=spf1 -all"]), txt(&["V=sPf1 +all"]), txt(&["other"])]),
            Selection::Multiple(r) if r.len() == 2
        ));
    }
}
