//! Every `tests/fixtures/bounces/<case>.eml` is read with `senderscope::events::read_message` and
//! compared with `<case>.expected.json`: the `kind`, the `why` of a non-bounce, and for each item in
//! order every field the expected file gives (fields it leaves out are not compared). The expected
//! files are written by hand from the message, never generated from the output.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    cases.sort();
    cases
}

fn compare(case: &Path, expected: &Value, got: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let name = case.file_name().unwrap().to_string_lossy();
    for key in ["kind", "why"] {
        if expected.get(key) != got.get(key) {
            problems.push(format!(
                "{name}: {key} expected {:?}, got {:?}",
                expected.get(key),
                got.get(key)
            ));
        }
    }
    for list in ["bounces", "complaints"] {
        let (Some(want), got_items) = (expected.get(list).and_then(Value::as_array), got.get(list))
        else {
            continue;
        };
        let got_items = got_items
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if want.len() != got_items.len() {
            problems.push(format!(
                "{name}: {} {list} expected, got {}: {got_items:#?}",
                want.len(),
                got_items.len()
            ));
            continue;
        }
        for (i, (w, g)) in want.iter().zip(&got_items).enumerate() {
            for (field, value) in w.as_object().unwrap() {
                if g.get(field).unwrap_or(&Value::Null) != value {
                    problems.push(format!(
                        "{name}: {list}[{i}].{field} expected {value}, got {} (diagnostic: {})",
                        g.get(field).unwrap_or(&Value::Null),
                        g.get("diagnostic").unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_fixture_classifies_as_expected() {
    let cases = cases();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let mut problems = Vec::new();
    for case in &cases {
        let raw = std::fs::read(case).unwrap();
        let expected_path = case.with_extension("expected.json");
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let got = serde_json::to_value(senderscope::events::read_message(&raw)).unwrap();
        problems.extend(compare(case, &expected, &got));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn crlf_line_endings_read_the_same() {
    for case in cases() {
        let raw = std::fs::read(&case).unwrap();
        let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(
            senderscope::events::read_message(text.as_bytes()),
            senderscope::events::read_message(crlf.as_bytes()),
            "{}",
            case.display()
        );
    }
}

#[test]
fn truncated_and_mangled_input_never_panics() {
    for case in cases() {
        let raw = std::fs::read(&case).unwrap();
        for cut in (0..raw.len()).step_by(97) {
            let _ = senderscope::events::read_message(&raw[..cut]);
        }
        let flipped: Vec<u8> = raw.iter().map(|b| b.wrapping_mul(31) ^ 0x5a).collect();
        let _ = senderscope::events::read_message(&flipped);
    }
}
