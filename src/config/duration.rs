//! Humane durations: `90s`, `15m`, `1h30m`, `400d`, `2w`, `250ms`.
//!
//! Grammar: one or more `<digits><unit>` parts, units from largest to smallest, each at most once, no
//! spaces: `w` (7 days), `d`, `h`, `m`, `s`, `ms`. A bare number is refused: "5" could mean seconds or
//! minutes depending on who wrote it. No months or years: their length varies.

use std::time::Duration;

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 6] = [
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const EXAMPLES: &str = "e.g. 90s, 15m, 1h30m, 400d or 2w";

/// Parse a humane duration. The error is a sentence that names the input.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err(format!("expected a duration ({EXAMPLES}), found nothing"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit; write e.g. {text}s or {text}m"
        ));
    }
    let mut total: u64 = 0;
    // Index into UNITS of the last unit seen: the next must be strictly smaller.
    let mut last_unit: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration ({EXAMPLES})"));
        }
        let (number, after) = rest.split_at(digits);
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(letters);
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("{text:?} is not a duration ({EXAMPLES})")
            } else {
                format!(
                    "{text:?} has an unknown unit {unit:?}; use w, d, h, m, s or ms ({EXAMPLES})"
                )
            });
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!(
                "{text:?} repeats a unit or lists them out of order; write the largest first, each once ({EXAMPLES})"
            ));
        }
        last_unit = Some(index);
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[index].1))
            .and_then(|ms| total.checked_add(ms));
        total = part.ok_or_else(|| format!("{text:?} is too long a duration"))?;
        rest = after;
    }
    Ok(Duration::from_millis(total))
}

/// Write a duration the way [`parse_duration`] reads it (`1h30m`, `250ms`, `0s`), for messages.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (name, size) in UNITS {
        // Weeks only when the whole value is made of weeks: "400d" reads better than "57w1d".
        if name == "w" && !ms.is_multiple_of(size) {
            continue;
        }
        if ms >= size {
            out.push_str(&format!("{}{name}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humane_forms_parse() {
        let cases = [
            ("90s", 90_000),
            ("15m", 900_000),
            ("1h30m", 5_400_000),
            ("400d", 400 * 86_400_000),
            ("2w", 14 * 86_400_000),
            ("250ms", 250),
            ("1m500ms", 60_500),
            ("0s", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_durations_say_what_is_wrong() {
        let cases = [
            ("15", "\"15\" has no unit; write e.g. 15s or 15m"),
            ("", "found nothing"),
            ("15 m", "is not a duration"),
            ("15min", "unknown unit \"min\""),
            ("m", "is not a duration"),
            ("-5s", "is not a duration"),
            ("1.5h", "is not a duration"),
            ("30m1h", "out of order"),
            ("1m1m", "repeats a unit"),
            ("99999999999999999999s", "too long"),
            ("3000000000000w", "too long"),
        ];
        for (text, expected) in cases {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn format_round_trips() {
        for text in [
            "1h30m",
            "400d",
            "2w",
            "250ms",
            "1m500ms",
            "0s",
            "1d1h1m1s1ms",
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
