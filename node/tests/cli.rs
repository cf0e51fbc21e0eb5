//! The `mirage` binary as a user runs it.

mod common;

use common::{fail, succeed};

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
    for stage in ["ingest", "profile", "fit", "sample", "assess", "write"] {
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
    assert_eq!(report["version"], 1);
    assert!(
        report["fidelity"]["overall"]
            .as_f64()
            .is_some_and(|v| v > 0.8),
        "{report}"
    );
    assert!(report["gate"]["passed"].is_boolean(), "{report}");
    // The HTML report goes beside the output by default.
    let html = std::fs::read_to_string(dir.path().join("out.report.html")).expect("html report");
    assert!(html.contains("Quality gate"), "gate verdict in the page");
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
    // The report compares them with the real rows that meet the same conditions.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("old.report.json")).expect("report"),
    )
    .expect("json");
    let note = report["recommendations"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.contains("real rows where age > 60 and sex = Female"),
        "{note}"
    );

    // Same seed, same rows — for a run that trains a fixed number of epochs (one stopped
    // by its time budget stops wherever the machine's speed lets it).
    let same = |out: &'static str| {
        [
            "synth",
            "--rows",
            "100",
            "--model",
            "tabular-argn",
            "--epochs",
            "2",
            "--out",
            out,
            "--quiet",
        ]
    };
    succeed(&same("a.csv"), dir.path());
    succeed(&same("b.csv"), dir.path());
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
    let e = fail(&["synth", "--holdout", "1.5", "--quiet"], dir.path());
    assert!(e.contains("between 0 and 1"), "{e}");
    let e = fail(&["synth", "--target", "income", "--quiet"], dir.path());
    assert!(e.contains("--holdout"), "{e}");
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

#[test]
fn synth_with_a_holdout_reports_utility_and_privacy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stdout, _) = succeed(
        &[
            "synth",
            "--holdout",
            "0.25",
            "--target",
            "income",
            "--out",
            "s.csv",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(stdout.contains("8140 held out"), "{stdout}");
    assert!(stdout.contains("utility:  detection AUC"), "{stdout}");
    assert!(stdout.contains("RocAuc TSTR"), "{stdout}");
    assert!(stdout.contains("privacy:  closer-to-train"), "{stdout}");
    assert!(
        stdout.contains("gate:     PASSED (fidelity, utility, privacy)"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("s.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["rows"]["holdout"], 8140);
    let share = report["privacy"]["dcr"]["closer_to_train_share"]
        .as_f64()
        .expect("share");
    assert!((share - 0.5).abs() < 0.1, "{share}");

    let e = fail(&["synth", "--holdout", "1.5", "--quiet"], dir.path());
    assert!(e.contains("between 0 and 1"), "{e}");
    let e = fail(&["synth", "--target", "income", "--quiet"], dir.path());
    assert!(e.contains("--holdout"), "{e}");
}

#[test]
fn evaluate_scores_files_and_fails_the_gate_on_a_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut real = String::from("age,plan,spend\n");
    let mut holdout = real.clone();
    for i in 0..400 {
        let row = format!(
            "{},{},{}.5\n",
            20 + (i * 7) % 50,
            ["basic", "pro", "team"][i % 3],
            (i * 13) % 97
        );
        if i % 2 == 0 {
            real.push_str(&row);
        } else {
            holdout.push_str(&row);
        }
    }
    std::fs::write(dir.path().join("real.csv"), &real).expect("fixture");
    std::fs::write(dir.path().join("holdout.csv"), &holdout).expect("fixture");
    let args = [
        "evaluate",
        "--real",
        "real.csv",
        "--synthetic",
        "real.csv",
        "--holdout",
        "holdout.csv",
        "--target",
        "plan",
        "--json",
        "e.json",
        "--html",
        "e.html",
    ];
    let (stdout, _) = succeed(&args, dir.path());
    assert!(stdout.contains("gate:     FAILED"), "{stdout}");
    assert!(
        stdout.contains("identical_match_share 1.000 is above the limit"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("e.json")).expect("json"))
            .expect("json");
    assert_eq!(report["privacy"]["dcr"]["identical_match_share"], 1.0);
    assert!(
        std::fs::read_to_string(dir.path().join("e.html"))
            .expect("html")
            .contains("FAILED")
    );

    let e = fail(
        &[
            "evaluate",
            "--real",
            "real.csv",
            "--synthetic",
            "real.csv",
            "--target",
            "plan",
        ],
        dir.path(),
    );
    assert!(e.contains("--holdout"), "{e}");
    let e = fail(
        &["evaluate", "--real", "real.csv", "--synthetic", "nope.csv"],
        dir.path(),
    );
    assert!(e.contains("nope.csv"), "{e}");
    let bad_target = [
        "evaluate",
        "--real",
        "real.csv",
        "--synthetic",
        "real.csv",
        "--holdout",
        "holdout.csv",
        "--target",
        "colour",
    ];
    let e = fail(&bad_target, dir.path());
    assert!(e.contains("colour"), "{e}");
}

/// A table with the columns of the design's example: `age` and `income` (numbers) and
/// `disease` (a categorical with a rare category, concentrated among old, rich patients).
fn patients_csv() -> String {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut csv = String::from("age,income,disease\n");
    for _ in 0..4_000 {
        let age: i64 = rng.random_range(18..=95);
        let wealth: f64 = rng.random_range(0.0..1.0);
        let income = 20_000.0 + (age as f64 - 18.0) * 2_500.0 * (0.4 + 2.0 * wealth);
        let disease = if age > 65 && income > 200_000.0 && rng.random_range(0.0..1.0) < 0.4 {
            "rare_condition_x"
        } else {
            ["none", "none", "none", "flu", "diabetes"][rng.random_range(0..5)]
        };
        csv.push_str(&format!("{age},{income:.2},{disease}\n"));
    }
    csv
}

#[test]
fn the_design_example_works_and_the_same_seed_gives_identical_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("data.csv"), patients_csv()).expect("fixture");
    let run = |out: &str| {
        succeed(
            &[
                "synth",
                "data.csv",
                "--rows",
                "1000",
                "--seed",
                "42",
                "--condition",
                "age>65",
                "--condition",
                "income>200000",
                "--condition",
                "disease=rare_condition_x",
                "--out",
                out,
                "--quiet",
            ],
            dir.path(),
        )
        .0
    };
    let stdout = run("a.csv");
    assert!(
        stdout.contains("Synthesized 1000 rows × 3 columns"),
        "{stdout}"
    );
    // No --model: the choice and its reason are in the summary.
    assert!(stdout.contains("model:    "), "{stdout}");
    assert!(stdout.contains("(auto: "), "{stdout}");
    run("b.csv");
    run("a.parquet");
    run("b.parquet");
    let bytes = |name: &str| std::fs::read(dir.path().join(name)).expect("output");
    assert_eq!(bytes("a.csv"), bytes("b.csv"), "same seed, same CSV bytes");
    assert_eq!(
        bytes("a.parquet"),
        bytes("b.parquet"),
        "same seed, same Parquet bytes"
    );

    let csv = String::from_utf8(bytes("a.csv")).expect("utf-8");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("age,income,disease"));
    let mut rows = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let age: f64 = fields[0].parse().expect("age");
        let income: f64 = fields[1].parse().expect("income");
        assert!(age > 65.0 && income > 200_000.0, "{line}");
        assert_eq!(fields[2], "rare_condition_x", "{line}");
        rows += 1;
    }
    assert_eq!(rows, 1000);
    let table = mirage_data::read_table(
        &dir.path().join("a.parquet"),
        &mirage_data::ReadOptions::default(),
    )
    .expect("parquet reads back");
    assert_eq!(table.num_rows(), 1000);
}

#[test]
fn synth_streams_more_rows_than_it_assesses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = succeed(
        &[
            "synth",
            "--rows",
            "120000",
            "--batch-size",
            "7000",
            "--out",
            "many.csv",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(stderr.is_empty() || !stderr.contains("error"), "{stderr}");
    assert!(stdout.contains("Synthesized 120000 rows"), "{stdout}");
    // The Adult demo has 32,561 training rows: the first 50,000 generated rows are scored.
    assert!(
        stdout.contains("assessed: the first 50000 of 120000 rows"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.path().join("many.csv")).expect("output");
    assert_eq!(csv.lines().count(), 120_001);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("many.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["rows"]["synthetic"], 50_000, "{}", report["rows"]);
}

#[test]
fn the_model_choice_and_time_budget_show_in_the_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Adult is too big to train TabularARGN well in 5 s: the copula, and the reason why.
    let (stdout, _) = succeed(
        &["synth", "--rows", "500", "--time-budget", "5s", "--quiet"],
        dir.path(),
    );
    assert!(
        stdout.contains("model:    gaussian-copula (auto: 32,561 rows × 15 columns"),
        "{stdout}"
    );
    if mirage_models::available_models().contains(&mirage_core::records::ModelKind::TabularArgn) {
        assert!(stdout.contains("raise --time-budget"), "{stdout}");
    } else {
        assert!(stdout.contains("not available"), "{stdout}");
    }
    let (stdout, _) = succeed(
        &[
            "synth",
            "--rows",
            "500",
            "--model",
            "gaussian-copula",
            "--time-budget",
            "90",
            "--json",
        ],
        dir.path(),
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(summary["model"], "gaussian-copula");
    assert_eq!(summary["model_reason"], "named with --model");
    for bad in ["ten", "0", "-5s", "3 parsecs"] {
        let flag = format!("--time-budget={bad}");
        let e = fail(&["synth", &flag, "--quiet"], dir.path());
        assert!(e.contains("--time-budget"), "{bad}: {e}");
    }
}

#[test]
fn deep_models_are_named_by_their_usual_spellings_and_take_epochs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stdout, _) = succeed(
        &[
            "synth", "--model", "TVAE", "--epochs", "2", "--rows", "300", "--json",
        ],
        dir.path(),
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(summary["model"], "tvae");
    let (stdout, _) = succeed(
        &[
            "synth",
            "--model",
            "copulagan",
            "--epochs",
            "1",
            "--rows",
            "300",
            "--json",
        ],
        dir.path(),
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(summary["model"], "copula-gan");
    let e = fail(&["synth", "--epochs", "3", "--quiet"], dir.path());
    assert!(e.contains("--epochs needs --model"), "{e}");
    let e = fail(
        &[
            "synth",
            "--model",
            "gaussian-copula",
            "--epochs",
            "3",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(e.contains("one pass"), "{e}");
    let e = fail(
        &[
            "synth",
            "--model",
            "tvae",
            "--config",
            r#"{"latent_dim": 0}"#,
            "--quiet",
        ],
        dir.path(),
    );
    assert!(e.contains("latent_dim"), "{e}");
}

#[test]
fn gate_thresholds_come_from_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut real = String::from("age,plan\n");
    for i in 0..300 {
        real.push_str(&format!(
            "{},{}\n",
            20 + (i * 7) % 50,
            ["basic", "pro"][i % 2]
        ));
    }
    std::fs::write(dir.path().join("real.csv"), &real).expect("fixture");
    std::fs::write(dir.path().join("strict.toml"), "min_overall = 1.01\n").expect("fixture");
    let (stdout, _) = succeed(
        &[
            "evaluate",
            "--real",
            "real.csv",
            "--synthetic",
            "real.csv",
            "--gate",
            "strict.toml",
        ],
        dir.path(),
    );
    assert!(
        stdout.contains("fidelity: overall 1.000 is below the minimum 1.010"),
        "{stdout}"
    );
    std::fs::write(dir.path().join("typo.toml"), "min_overal = 0.9\n").expect("fixture");
    let e = fail(
        &[
            "evaluate",
            "--real",
            "real.csv",
            "--synthetic",
            "real.csv",
            "--gate",
            "typo.toml",
        ],
        dir.path(),
    );
    assert!(e.contains("typo.toml") && e.contains("min_overal"), "{e}");
}
