//! Running the `mirage` binary from the integration tests.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `mirage args` in `dir`, with its state (privacy budgets) under `dir/state`.
pub fn mirage(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirage"))
        .args(args)
        .current_dir(dir)
        .env("MIRAGE_DATA_DIR", dir.join("state"))
        .output()
        .expect("the binary runs")
}

/// Lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and asserts success; `(stdout, stderr)`.
pub fn succeed(args: &[&str], dir: &Path) -> (String, String) {
    let out = mirage(args, dir);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "mirage {args:?} failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

/// Runs and asserts a clean failure: an `error:` line and no panic; the stderr.
pub fn fail(args: &[&str], dir: &Path) -> String {
    let out = mirage(args, dir);
    assert!(!out.status.success(), "mirage {args:?} should fail");
    let stderr = text(&out.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("error: ")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}
