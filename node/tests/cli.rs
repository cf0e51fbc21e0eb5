//! The `mirage` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn mirage(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirage"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeed(args: &[&str], dir: &Path) -> (String, String) {
    let out = mirage(args, dir);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "mirage {args:?} failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn fail(args: &[&str], dir: &Path) -> String {
    let out = mirage(args, dir);
    assert!(!out.status.success(), "mirage {args:?} should fail");
    let stderr = text(&out.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("error: ")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn synth_on_the_demo_writes_rows_a_report_and_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = succeed(
        &[
            "synth",
            "--rows",
            "2000",
            "--out",
            "out.csv",
            "--report",
            "report.json",
            "--save-model",
            "model",
        ],
        dir.path(),
    );
    // Not a terminal: one plain line per stage.
    for stage in ["ingest", "profile", "fit", "sample", "score", "write"] {
        assert!(stderr.contains(&format!("{stage}: done in")), "{stderr}");
    }
    assert!(
        stdout.contains("Synthesized 2000 rows × 15 columns"),
        "{stdout}"
    );
    assert!(stdout.contains("quality:  overall 0."), "{stdout}");
    assert!(stdout.contains("worst:"), "{stdout}");
    assert!(stdout.contains("PII:      none found"), "{stdout}");

    let csv = std::fs::read_to_string(dir.path().join("out.csv")).expect("output");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income"
        )
    );
    assert_eq!(lines.count(), 2000);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert!(
        report["overall"].as_f64().is_some_and(|v| v > 0.8),
        "{report}"
    );
    assert!(dir.path().join("model/model.json").exists());
}

#[test]
fn synth_writes_parquet_and_honours_conditions_and_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "synth",
        "--rows",
        "300",
        "--out",
        "old.parquet",
        "-c",
        "age>60",
        "-c",
        "sex=Female",
        "--quiet",
        "--seed",
        "5",
    ];
    succeed(&args, dir.path());
    let table = mirage_data::read_table(
        &dir.path().join("old.parquet"),
        &mirage_data::ReadOptions::default(),
    )
    .expect("parquet reads back");
    assert_eq!(table.num_rows(), 300);
    let age = table.column_by_name("age").expect("age");
    let age = age
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .expect("ints");
    assert!(age.iter().flatten().all(|a| a > 60));

    // Same seed, same rows.
    succeed(
        &["synth", "--rows", "100", "--out", "a.csv", "--quiet"],
        dir.path(),
    );
    succeed(
        &["synth", "--rows", "100", "--out", "b.csv", "--quiet"],
        dir.path(),
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("output");
    assert_eq!(read("a.csv"), read("b.csv"));
}

#[test]
fn profile_prints_a_table_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (table, _) = succeed(&["profile"], dir.path());
    assert!(table.contains("32561 rows × 15 columns"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("age") && l.contains("integer")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("workclass") && l.contains("categorical")),
        "{table}"
    );
    assert!(table.contains("PII: none found"), "{table}");
    let (json, _) = succeed(&["profile", "--json"], dir.path());
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["profile"]["rows"], 32561);
    assert_eq!(json["schema"]["columns"].as_array().map(Vec::len), Some(15));
}

#[test]
fn personal_data_is_excluded_or_faked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("email,age,plan\n");
    for i in 0..200 {
        csv.push_str(&format!(
            "user{i}@example.com,{},{}\n",
            20 + i % 50,
            ["basic", "pro"][i % 2]
        ));
    }
    std::fs::write(dir.path().join("people.csv"), csv).expect("fixture");

    let (stdout, _) = succeed(&["synth", "people.csv", "--quiet"], dir.path());
    assert!(stdout.contains("email (e-mail, exclude)"), "{stdout}");
    let out = std::fs::read_to_string(dir.path().join("people.synthetic.csv")).expect("output");
    assert_eq!(out.lines().next(), Some("age,plan"));

    let (stdout, _) = succeed(
        &[
            "synth",
            "people.csv",
            "--quiet",
            "--pii",
            "fake",
            "--out",
            "fake.csv",
        ],
        dir.path(),
    );
    assert!(stdout.contains("email (e-mail, fake)"), "{stdout}");
    let out = std::fs::read_to_string(dir.path().join("fake.csv")).expect("output");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("email,age,plan"));
    let first = lines.next().expect("a row");
    assert!(
        first.split(',').next().is_some_and(|e| e.contains('@')),
        "{first}"
    );
    assert!(
        !out.contains("user0@example.com,"),
        "fakes must not copy the source"
    );
}

#[test]
fn user_errors_are_clear_and_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = fail(&["synth", "missing.csv"], dir.path());
    assert!(e.contains("missing.csv"), "{e}");
    let e = fail(&["synth", "--out", "x.txt"], dir.path());
    assert!(e.contains(".csv or .parquet"), "{e}");
    let e = fail(&["synth", "-c", "age"], dir.path());
    assert!(e.contains("col=v"), "{e}");
    let e = fail(&["synth", "-c", "age>200", "--quiet"], dir.path());
    assert!(e.contains("ranges over"), "{e}");
    let e = fail(&["synth", "--model", "nope"], dir.path());
    assert!(e.contains("gaussian-copula"), "{e}");
    let e = fail(&["synth", "--config", "{bad"], dir.path());
    assert!(e.contains("not valid JSON"), "{e}");
    let e = fail(
        &["synth", "--config", r#"{"quantile_points": 1}"#, "--quiet"],
        dir.path(),
    );
    assert!(e.contains("quantile_points"), "{e}");
    std::fs::write(dir.path().join("empty.csv"), "").expect("fixture");
    let e = fail(&["profile", "empty.csv"], dir.path());
    assert!(e.contains("empty.csv"), "{e}");
    std::fs::create_dir(dir.path().join("taken")).expect("dir");
    let e = fail(
        &["synth", "--rows", "10", "--quiet", "--save-model", "taken"],
        dir.path(),
    );
    assert!(e.contains("already exists"), "{e}");
}
