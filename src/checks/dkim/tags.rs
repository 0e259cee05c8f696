//! The `tag=value` list of RFC 6376 §3.2, used by DKIM key records and (RFC 9989 §4.7: "DMARC Policy
//! Records follow the extensible tag-value syntax for DNS-based key records defined in DKIM") by DMARC.
//!
//! This splits and reports what is structurally wrong; what each tag may hold is the caller's business.

/// One `name=value` pair, whitespace around name and value removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag<'a> {
    /// The tag name as written (tag names are case-sensitive, RFC 6376 §3.2).
    pub name: &'a str,
    /// The value, without surrounding whitespace (may be empty).
    pub value: &'a str,
    /// Position among the tags (0 = first), for "must be the first tag" rules.
    pub index: usize,
}

/// Something structurally wrong with a tag list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TagProblem {
    /// A segment between semicolons with no `=` (e.g. a stray word).
    NoEquals(String),
    /// A segment whose name is empty or has characters other than letters, digits and `_`.
    BadName(String),
    /// RFC 6376 §3.2: "Tags with duplicate names MUST NOT occur within a single tag-list; if a tag name
    /// does occur more than once, the entire tag-list is invalid."
    Duplicate(String),
}

/// A parsed tag list: the well-formed tags in order, and what was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TagList<'a> {
    /// Every well-formed tag, in order (a duplicate appears each time it is written).
    pub tags: Vec<Tag<'a>>,
    /// Structural problems found.
    pub problems: Vec<TagProblem>,
}

impl<'a> TagList<'a> {
    /// Split `text` at semicolons. Empty segments (a trailing `;`, or `;;`) are skipped: RFC 6376 allows
    /// the trailing one, and receivers ignore the others.
    pub(crate) fn parse(text: &'a str) -> TagList<'a> {
        let mut list = TagList::default();
        for segment in text.split(';') {
            let trimmed = segment.trim_matches(is_fws);
            if trimmed.is_empty() {
                continue;
            }
            let Some((name, value)) = trimmed.split_once('=') else {
                list.problems.push(TagProblem::NoEquals(trimmed.to_owned()));
                continue;
            };
            let name = name.trim_matches(is_fws);
            if name.is_empty()
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || !name.as_bytes()[0].is_ascii_alphabetic()
            {
                list.problems.push(TagProblem::BadName(name.to_owned()));
                continue;
            }
            if list.tags.iter().any(|t| t.name == name)
                && !list
                    .problems
                    .contains(&TagProblem::Duplicate(name.to_owned()))
            {
                list.problems.push(TagProblem::Duplicate(name.to_owned()));
            }
            let index = list.tags.len();
            list.tags.push(Tag {
                name,
                value: value.trim_matches(is_fws),
                index,
            });
        }
        list
    }

    /// The first tag called `name` (exact, case-sensitive match).
    pub(crate) fn get(&self, name: &str) -> Option<&Tag<'a>> {
        self.tags.iter().find(|t| t.name == name)
    }
}

/// Folding white space as it can appear in a TXT record: space, tab, CR, LF.
fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags_and_trims_whitespace() {
        let list = TagList::parse(" v=DKIM1 ;k = rsa;\tp=AB CD ; ");
        let pairs: Vec<_> = list.tags.iter().map(|t| (t.name, t.value)).collect();
        assert_eq!(pairs, [("v", "DKIM1"), ("k", "rsa"), ("p", "AB CD")]);
        assert!(list.problems.is_empty());
    }

    #[test]
    fn reports_duplicates_once_and_keeps_every_occurrence() {
        let list = TagList::parse("p=a; p=b; p=c");
        assert_eq!(list.tags.len(), 3);
        assert_eq!(list.problems, [TagProblem::Duplicate("p".into())]);
        assert_eq!(list.get("p").map(|t| t.value), Some("a"));
    }

    #[test]
    fn reports_segments_without_equals_and_bad_names() {
        let list = TagList::parse("v=DMARC1; reject; 1p=x; r-a=y; =z");
        assert_eq!(
            list.problems,
            [
                TagProblem::NoEquals("reject".into()),
                TagProblem::BadName("1p".into()),
                TagProblem::BadName("r-a".into()),
                TagProblem::BadName(String::new()),
            ]
        );
        assert_eq!(list.tags.len(), 1);
    }

    #[test]
    fn tag_names_are_case_sensitive() {
        let list = TagList::parse("P=reject");
        assert!(list.get("p").is_none());
        assert!(list.get("P").is_some());
    }
}
