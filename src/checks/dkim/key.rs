//! A DKIM key record (RFC 6376 §3.6.1, Ed25519 keys per RFC 8463) read into what a checker needs: key
//! type, modulus size, flags, and every problem named by its tag.
//!
//! mail-auth's `DomainKey::parse` is run too, as a second opinion on whether a verifier would accept the
//! key: it knows revocation and key types, but its flags are crate-private and it takes any bytes as an
//! RSA key, so tags and key sizes are read here.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;

use super::der;
use super::tags::{TagList, TagProblem};

/// Base64 as found in DNS: padding optional (some panels strip it), whitespace removed beforehand.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The key algorithms DKIM defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// RSA (RFC 6376).
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl KeyType {
    /// `rsa` or `ed25519`, as in `k=`.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// Something wrong with one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyProblem {
    /// The tag concerned (`p`, `k`, …; `-` for the record as a whole).
    pub tag: String,
    /// What is wrong, as a sentence fragment.
    pub message: String,
    /// Whether verifiers will refuse the key because of it.
    pub fatal: bool,
}

/// A DKIM key record as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    /// `k=` (default rsa); `None` when `k=` names a type no verifier knows.
    pub key_type: Option<KeyType>,
    /// Key size: the RSA modulus in bits, 256 for Ed25519; `None` when revoked or unreadable.
    pub bits: Option<u32>,
    /// `p=` is empty: the key was revoked.
    pub revoked: bool,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `h=` allows SHA-1 and not SHA-256.
    pub sha1_only: bool,
    /// Problems, each naming its tag.
    pub problems: Vec<KeyProblem>,
}

impl KeyRecord {
    /// Whether a TXT record is meant as a DKIM key: it starts with `v=DKIM…` or carries a `p=` tag.
    /// Anything else at a selector name (an SPF record from a wildcard, a verification token) is not.
    pub(super) fn looks_like_key(text: &str) -> bool {
        let list = TagList::parse(text);
        list.get("p").is_some()
            || list
                .tags
                .first()
                .is_some_and(|t| t.name == "v" && t.value.to_ascii_uppercase().starts_with("DKIM"))
    }

    /// Read a key record (the TXT strings already joined, RFC 6376 §3.6.2.2).
    pub(super) fn parse(text: &str) -> KeyRecord {
        let list = TagList::parse(text);
        let mut record = KeyRecord {
            key_type: Some(KeyType::Rsa),
            bits: None,
            revoked: false,
            testing: false,
            sha1_only: false,
            problems: Vec::new(),
        };
        record.structure(&list);
        record.version(&list);
        record.key_type_tag(&list);
        record.hashes(&list);
        record.services(&list);
        record.flags(&list);
        record.public_key(&list);
        record.second_opinion(text);
        record
    }

    /// Whether a verifier would use this key at all.
    pub(super) fn usable(&self) -> bool {
        !self.revoked && self.bits.is_some() && !self.problems.iter().any(|p| p.fatal)
    }

    fn problem(&mut self, tag: &str, fatal: bool, message: impl Into<String>) {
        self.problems.push(KeyProblem {
            tag: tag.to_owned(),
            message: message.into(),
            fatal,
        });
    }

    fn structure(&mut self, list: &TagList<'_>) {
        for problem in &list.problems {
            match problem {
                // RFC 6376 §3.2: a duplicate tag makes the whole tag-list invalid.
                TagProblem::Duplicate(name) => self.problem(
                    name,
                    true,
                    format!("{name}= appears more than once, which makes the whole record invalid (RFC 6376 §3.2)"),
                ),
                TagProblem::NoEquals(text) => self.problem(
                    "-",
                    false,
                    format!("\"{text}\" is not a tag=value pair"),
                ),
                TagProblem::BadName(name) => self.problem(
                    "-",
                    false,
                    format!("\"{name}\" is not a valid tag name"),
                ),
            }
        }
    }

    /// RFC 6376 §3.6.1 v=: optional, but "MUST be the first tag in the record", and records with any
    /// value other than DKIM1 "MUST be discarded".
    fn version(&mut self, list: &TagList<'_>) {
        let Some(v) = list.get("v") else { return };
        if v.value != "DKIM1" {
            self.problem(
                "v",
                true,
                format!(
                    "v={} is not DKIM1, so verifiers discard the record",
                    v.value
                ),
            );
        }
        if v.index != 0 {
            self.problem(
                "v",
                false,
                "v=DKIM1 must be the first tag (RFC 6376 §3.6.1); strict verifiers discard the record",
            );
        }
    }

    /// RFC 6376 §3.6.1 k= (default rsa); RFC 8463 §4.2 adds ed25519. Unknown types make the key unusable.
    fn key_type_tag(&mut self, list: &TagList<'_>) {
        let Some(k) = list.get("k") else { return };
        self.key_type = match k.value.to_ascii_lowercase().as_str() {
            "rsa" => Some(KeyType::Rsa),
            "ed25519" => Some(KeyType::Ed25519),
            _ => {
                self.problem(
                    "k",
                    true,
                    format!(
                        "k={} is not a key type verifiers know (rsa, ed25519)",
                        k.value
                    ),
                );
                None
            }
        };
    }

    /// RFC 6376 §3.6.1 h=: acceptable hash algorithms, colon-separated, unknown ones ignored.
    /// RFC 8301 §3.1: "rsa-sha1 MUST NOT be used for signing or verifying."
    fn hashes(&mut self, list: &TagList<'_>) {
        let Some(h) = list.get("h") else { return };
        let algorithms: Vec<String> = h
            .value
            .split(':')
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        let sha256 = algorithms.iter().any(|a| a == "sha256");
        let sha1 = algorithms.iter().any(|a| a == "sha1");
        if sha1 && !sha256 {
            self.sha1_only = true;
        } else if !sha256 {
            self.problem(
                "h",
                true,
                format!(
                    "h={} names no hash algorithm verifiers support (sha256)",
                    h.value
                ),
            );
        }
    }

    /// RFC 6376 §3.6.1 s=: service types; the key serves mail only if the list has `*` or `email`.
    fn services(&mut self, list: &TagList<'_>) {
        let Some(s) = list.get("s") else { return };
        if !s
            .value
            .split(':')
            .map(str::trim)
            .any(|t| t == "*" || t.eq_ignore_ascii_case("email"))
        {
            self.problem(
                "s",
                true,
                format!(
                    "s={} does not include email or *, so verifiers will not use the key for mail",
                    s.value
                ),
            );
        }
    }

    /// RFC 6376 §3.6.1 t=: flags, colon-separated; `y` means the domain is testing DKIM.
    fn flags(&mut self, list: &TagList<'_>) {
        if let Some(t) = list.get("t") {
            self.testing = t
                .value
                .split(':')
                .any(|f| f.trim().eq_ignore_ascii_case("y"));
        }
    }

    /// RFC 6376 §3.6.1 p=: required; "An empty value means that this public key has been revoked."
    fn public_key(&mut self, list: &TagList<'_>) {
        let Some(p) = list.get("p") else {
            self.problem(
                "p",
                true,
                "the record has no p= tag (the public key), which is required",
            );
            return;
        };
        let compact: String = p.value.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            self.revoked = true;
            return;
        }
        let bytes = match LENIENT_BASE64.decode(compact.as_bytes()) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.problem("p", true, format!("p= is not valid base64 ({e})"));
                return;
            }
        };
        match self.key_type {
            Some(KeyType::Rsa) => match der::rsa_modulus_bits(&bytes) {
                Ok(bits) => self.bits = Some(bits),
                Err(why) => self.problem("p", true, format!("p= is not an RSA public key: {why}")),
            },
            // RFC 8463 §4.2: the Ed25519 public key is the raw 32 octets, not a SubjectPublicKeyInfo.
            Some(KeyType::Ed25519) if bytes.len() == 32 => self.bits = Some(256),
            Some(KeyType::Ed25519) if bytes.len() == 44 => self.problem(
                "p",
                true,
                "p= holds a SubjectPublicKeyInfo; RFC 8463 wants the bare 32-byte Ed25519 key \
                 (drop the first 12 bytes)",
            ),
            Some(KeyType::Ed25519) => self.problem(
                "p",
                true,
                format!(
                    "p= is {} bytes; an Ed25519 public key is 32 bytes",
                    bytes.len()
                ),
            ),
            None => {}
        }
    }

    /// Ask mail-auth whether it would take the key. Where it refuses a key we found nothing wrong with,
    /// say so: a verifier built on it would fail every signature.
    fn second_opinion(&mut self, text: &str) {
        let verdict = DomainKey::parse(text.as_bytes());
        if let Err(e) = verdict
            && !self.revoked
            && !self.problems.iter().any(|p| p.fatal)
        {
            self.problem(
                "-",
                true,
                format!("a DKIM verifier library rejects the record: {e}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real keys made with openssl for the fixtures (public parts only).
    const RSA_1024: &str = include_str!("../../../tests/fixtures/dkim/rsa1024.b64");
    const RSA_2048: &str = include_str!("../../../tests/fixtures/dkim/rsa2048.b64");
    const RSA_512: &str = include_str!("../../../tests/fixtures/dkim/rsa512.b64");
    const ED25519: &str = include_str!("../../../tests/fixtures/dkim/ed25519.b64");

    fn parse(text: &str) -> KeyRecord {
        KeyRecord::parse(text)
    }

    #[test]
    fn rsa_sizes_come_from_the_key_and_agree_with_mail_auth() {
        for (key, bits) in [(RSA_512, 512), (RSA_1024, 1024), (RSA_2048, 2048)] {
            let text = format!("v=DKIM1; k=rsa; p={}", key.trim());
            let record = parse(&text);
            assert_eq!(record.bits, Some(bits), "{record:?}");
            assert!(record.usable(), "{record:?}");
            let theirs = DomainKey::parse(text.as_bytes()).unwrap();
            assert_eq!(theirs.p.public_key_bits(), bits as usize);
        }
    }

    #[test]
    fn ed25519_is_recognized_rfc_8463() {
        let record = parse(&format!("v=DKIM1; k=ed25519; p={}", ED25519.trim()));
        assert_eq!(record.key_type, Some(KeyType::Ed25519));
        assert_eq!(record.bits, Some(256));
        assert!(record.problems.is_empty(), "{record:?}");
    }

    #[test]
    fn empty_p_is_revoked_not_a_syntax_error() {
        let record = parse("v=DKIM1; k=rsa; p=");
        assert!(record.revoked);
        assert!(record.problems.is_empty(), "{record:?}");
        assert!(!record.usable());
    }

    #[test]
    fn flags_hashes_and_services_are_read_from_tags() {
        let key = RSA_2048.trim();
        assert!(parse(&format!("v=DKIM1; t=y; p={key}")).testing);
        assert!(parse(&format!("v=DKIM1; t=s:y; p={key}")).testing);
        assert!(!parse(&format!("v=DKIM1; t=s; p={key}")).testing);
        assert!(parse(&format!("v=DKIM1; h=sha1; p={key}")).sha1_only);
        assert!(!parse(&format!("v=DKIM1; h=sha1:sha256; p={key}")).sha1_only);
        let bad_h = parse(&format!("v=DKIM1; h=md5; p={key}"));
        assert_eq!(bad_h.problems[0].tag, "h");
        let not_mail = parse(&format!("v=DKIM1; s=tlsrpt; p={key}"));
        assert_eq!(not_mail.problems[0].tag, "s");
        assert!(!not_mail.usable());
    }

    #[test]
    fn syntax_errors_name_their_tag() {
        let key = RSA_2048.trim();
        let cases = [
            (format!("v=DKIM2; p={key}"), "v", true),
            (format!("k=rsa; v=DKIM1; p={key}"), "v", false),
            (format!("v=DKIM1; k=dsa; p={key}"), "k", true),
            (format!("v=DKIM1; p={key}; p={key}"), "p", true),
            ("v=DKIM1; k=rsa".to_string(), "p", true),
            ("v=DKIM1; p=!!!notbase64".to_string(), "p", true),
            ("v=DKIM1; p=aGVsbG8gd29ybGQ=".to_string(), "p", true),
            (format!("v=DKIM1; k=ed25519; p={key}"), "p", true),
        ];
        for (text, tag, fatal) in cases {
            let record = parse(&text);
            let problem = record
                .problems
                .first()
                .unwrap_or_else(|| panic!("no problem found in {text}"));
            assert_eq!(problem.tag, tag, "{text}: {record:?}");
            assert_eq!(problem.fatal, fatal, "{text}: {record:?}");
        }
    }

    #[test]
    fn whitespace_inside_p_is_ignored() {
        let key = RSA_2048.trim();
        let (a, b) = key.split_at(100);
        let record = parse(&format!("v=DKIM1; k=rsa; p={a} {b}"));
        assert_eq!(record.bits, Some(2048));
    }

    #[test]
    fn tells_dkim_keys_from_other_txt() {
        assert!(KeyRecord::looks_like_key("v=DKIM1; p="));
        assert!(KeyRecord::looks_like_key("k=rsa; p=abc"));
        assert!(!KeyRecord::looks_like_key("v=spf1 -all"));
        assert!(!KeyRecord::looks_like_key("google-site-verification=abc"));
    }

    #[test]
    fn hostile_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(6376);
        let key = RSA_2048.trim();
        for _ in 0..5_000 {
            // Random bytes (as a verifier would see them after lossy decoding) …
            let len = rng.random_range(0..120);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            KeyRecord::parse(&String::from_utf8_lossy(&bytes));
            // … and a real key with a random cut, so the DER reader meets truncation everywhere.
            let cut = rng.random_range(0..key.len());
            let record = KeyRecord::parse(&format!("v=DKIM1; p={}", &key[..cut]));
            assert!(record.bits.is_none() || record.problems.is_empty());
        }
        for text in crate::checks::dmarc::hostile_strings(8463, 5_000) {
            KeyRecord::parse(&text);
        }
    }
}
