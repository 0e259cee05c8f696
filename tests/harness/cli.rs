//! The `senderscope` binary run once, as a user runs it: exit code and both outputs.

use std::process::Command;

use serde_json::Value;

/// One finished run of the binary.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output as JSON (a failure names both outputs).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Run `senderscope ARGS…` (without the Spamhaus DQS key of the environment, so no test depends on
/// the machine's) and wait for it.
pub fn senderscope<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_senderscope"))
        .args(args)
        .env_remove("SENDERSCOPE_SPAMHAUS_DQS_KEY")
        .output()
        .expect("run senderscope");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
