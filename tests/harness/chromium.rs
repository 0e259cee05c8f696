//! Debian's `chromium`, headless (`--headless --no-sandbox --disable-gpu`), as a one-shot command:
//! the DOM a page rendered to (`--dump-dom`) and screenshots. A fresh profile in a temp dir each
//! time; killed if it has not finished within a minute.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The longest one run may take.
const LIMIT: Duration = Duration::from_secs(60);

fn run(args: &[String]) -> Output {
    let profile = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts (apt-get install chromium)");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("chromium output");
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("chromium output");
            panic!(
                "chromium {args:?} did not finish within {LIMIT:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The DOM of `url` after it rendered.
pub fn dump_dom(url: &str) -> String {
    let out = run(&["--dump-dom".into(), url.into()]);
    assert!(
        out.status.success(),
        "chromium --dump-dom {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PNG of `url` at `width`×`height` pixels, written to `file`.
pub fn screenshot(url: &str, file: &Path, width: u32, height: u32) {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).expect("screenshot directory");
    }
    let _ = std::fs::remove_file(file);
    let out = run(&[
        format!("--screenshot={}", file.display()),
        format!("--window-size={width},{height}"),
        url.into(),
    ]);
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    assert!(
        out.status.success() && size > 0,
        "chromium --screenshot {url}: {} ({size} bytes)\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
