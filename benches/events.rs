//! Bounce classification throughput: every message of `tests/fixtures/bounces/` read with
//! `senderscope::events::read_message` (MIME parse, report or plain-text parse, classification)
//! round-robin on one thread, for about 5 s.
//!
//! `cargo bench --bench events`. Target: ≥ 50,000 messages/s on one core. A figure, not pass/fail:
//! the machine is shared, so run it on a quiet one to compare.

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| std::fs::read(p).expect("a fixture"))
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty(), "no fixtures in {}", dir.display());
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    // Warm up, then measure.
    for raw in &corpus {
        std::hint::black_box(senderscope::events::read_message(raw));
    }
    let started = Instant::now();
    let mut messages = 0u64;
    while started.elapsed() < Duration::from_secs(5) {
        for raw in &corpus {
            std::hint::black_box(senderscope::events::read_message(std::hint::black_box(raw)));
        }
        messages += corpus.len() as u64;
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "classify: {} messages ({} fixtures, mean {} bytes) in {:.2} s = {:.0} messages/s on one thread",
        messages,
        corpus.len(),
        bytes / corpus.len(),
        took,
        messages as f64 / took
    );
}
