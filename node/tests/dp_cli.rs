//! `mirage synth --epsilon` and `mirage budget` as a user runs them: the spend is
//! reserved before training, committed after, refused past the budget, and released
//! when the run cannot be DP.

mod common;

use std::path::Path;

use common::fail;

fn succeed(args: &[&str], dir: &Path) -> String {
    common::succeed(args, dir).0
}

/// 800 rows: a plan, its price (correlated), a region and, optionally, free-text notes.
fn write_csv(dir: &Path, name: &str, with_notes: bool) {
    let mut csv = String::from(if with_notes {
        "plan,price,region,notes\n"
    } else {
        "plan,price,region\n"
    });
    for i in 0..800u32 {
        let plan = ["basic", "plus", "pro"][(i % 7 % 3) as usize];
        let price = [10, 25, 60][(i % 7 % 3) as usize] + (i * 13 % 9) as i32;
        let region = ["north", "south", "east", "west"][(i * 7 % 4) as usize];
        if with_notes {
            csv.push_str(&format!(
                "{plan},{price},{region},customer {i} called about the invoice of month {}\n",
                i % 12
            ));
        } else {
            csv.push_str(&format!("{plan},{price},{region}\n"));
        }
    }
    std::fs::write(dir.join(name), csv).expect("write csv");
}

fn budget_json(dir: &Path, dataset: &str) -> serde_json::Value {
    let out = succeed(&["budget", "show", dataset, "--json"], dir);
    serde_json::from_str(&out).expect("json")
}

#[test]
fn a_dp_run_reserves_commits_and_refuses_overspending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    write_csv(dir, "plans.csv", false);
    let stdout = succeed(
        &[
            "synth",
            "plans.csv",
            "--epsilon",
            "4",
            "--delta",
            "1e-6",
            "--model",
            "mst",
            "--out",
            "dp.csv",
        ],
        dir,
    );
    assert!(stdout.contains("privacy:  ε = "), "{stdout}");
    assert!(stdout.contains("dataset plans has spent"), "{stdout}");
    assert!(dir.join("dp.csv").exists());
    let view = budget_json(dir, "plans");
    let spent = view["committed"]["epsilon"].as_f64().expect("spent");
    assert!(spent > 3.0 && spent <= 4.0, "{view}");
    assert_eq!(view["verified"], true);
    assert_eq!(view["reserved"]["epsilon"].as_f64(), Some(0.0));
    let text = succeed(&["budget", "show", "plans"], dir);
    assert!(
        text.contains("committed") && text.contains("mechanisms"),
        "{text}"
    );

    // 4 of the default 10 are spent: 7 more would overspend, and nothing changes.
    let err = fail(
        &[
            "synth",
            "plans.csv",
            "--epsilon",
            "7",
            "--delta",
            "1e-6",
            "--out",
            "refused.csv",
        ],
        dir,
    );
    assert!(err.contains("would be exceeded"), "{err}");
    assert!(!dir.join("refused.csv").exists());
    assert_eq!(budget_json(dir, "plans")["log"], view["log"]);

    // The budget cannot go below what is spent; raising it lets the run through.
    let err = fail(
        &[
            "budget",
            "set",
            "plans",
            "--epsilon",
            "2",
            "--delta",
            "1e-4",
        ],
        dir,
    );
    assert!(err.contains("below"), "{err}");
    succeed(
        &[
            "budget",
            "set",
            "plans",
            "--epsilon",
            "20",
            "--delta",
            "1e-4",
        ],
        dir,
    );
    succeed(
        &[
            "synth",
            "plans.csv",
            "--epsilon",
            "7",
            "--delta",
            "1e-6",
            "--model",
            "mst",
            "--out",
            "more.csv",
            "--quiet",
        ],
        dir,
    );
    let spent = budget_json(dir, "plans")["committed"]["epsilon"]
        .as_f64()
        .expect("spent");
    assert!(spent > 9.0 && spent <= 11.0, "{spent}");
}

#[test]
fn runs_that_cannot_be_dp_are_refused_and_spend_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    write_csv(dir, "notes.csv", true);
    // Free text would be learned from raw values: refused, reservation released.
    let err = fail(
        &["synth", "notes.csv", "--epsilon", "1", "--model", "mst"],
        dir,
    );
    assert!(err.contains("not differentially private"), "{err}");
    assert!(err.contains("\"notes\""), "{err}");
    let view = budget_json(dir, "notes");
    assert_eq!(view["committed"]["epsilon"].as_f64(), Some(0.0), "{view}");
    assert_eq!(view["reserved"]["epsilon"].as_f64(), Some(0.0), "{view}");

    // Models without a DP version are refused before anything is reserved.
    let err = fail(
        &[
            "synth",
            "notes.csv",
            "--epsilon",
            "1",
            "--model",
            "gaussian-copula",
            "--dataset",
            "other",
        ],
        dir,
    );
    assert!(
        err.contains("cannot train with differential privacy"),
        "{err}"
    );
    let err = fail(&["budget", "show", "other"], dir);
    assert!(err.contains("no privacy budget"), "{err}");

    // Bad budgets and names are named.
    let err = fail(&["synth", "notes.csv", "--epsilon", "0"], dir);
    assert!(err.contains("epsilon"), "{err}");
    let err = fail(
        &["synth", "notes.csv", "--epsilon", "1", "--delta", "2"],
        dir,
    );
    assert!(err.contains("delta"), "{err}");
    let err = fail(
        &[
            "synth",
            "notes.csv",
            "--epsilon",
            "1",
            "--dataset",
            "../escape",
        ],
        dir,
    );
    assert!(err.contains("dataset name"), "{err}");
    let err = fail(
        &[
            "synth",
            "notes.csv",
            "--epsilon",
            "1",
            "--public",
            "missing.toml",
        ],
        dir,
    );
    assert!(err.contains("missing.toml"), "{err}");
    let err = fail(
        &["budget", "set", "x", "--epsilon", "-1", "--delta", "1e-5"],
        dir,
    );
    assert!(err.contains("epsilon"), "{err}");
    // A tampered ledger is refused, never silently reset.
    std::fs::write(dir.join("state/budgets/notes.json"), "{\"log\": []}").expect("write");
    let err = fail(&["budget", "show", "notes"], dir);
    assert!(err.contains("fails verification"), "{err}");
}

#[test]
fn declared_public_facts_are_used_and_the_demo_defaults_to_mst_at_small_epsilon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    write_csv(dir, "plans.csv", false);
    std::fs::write(
        dir.join("public.toml"),
        "[columns.plan]\ncategories = [\"basic\", \"plus\", \"pro\"]\n[columns.price]\nbounds = [0, 100]\n",
    )
    .expect("write");
    let stdout = succeed(
        &[
            "synth",
            "plans.csv",
            "--epsilon",
            "1",
            "--public",
            "public.toml",
            "--json",
        ],
        dir,
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(summary["model"], "mst");
    let events = summary["privacy"]["report"]["events"]
        .as_array()
        .expect("events");
    assert!(
        !events
            .iter()
            .any(|e| e["label"] == "category set of plan" || e["label"] == "range of price"),
        "declared facts cost nothing: {events:?}"
    );
}

#[test]
fn dp_sgd_models_train_through_the_cli_and_non_dp_models_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    write_csv(dir, "plans.csv", false);
    for model in ["tabular-argn", "tvae", "ctgan"] {
        let out = format!("{model}.csv");
        let stdout = succeed(
            &[
                "synth",
                "plans.csv",
                "--epsilon",
                "2",
                "--model",
                model,
                "--epochs",
                "2",
                "--dataset",
                model,
                "--out",
                &out,
            ],
            dir,
        );
        assert!(stdout.contains("by RDP"), "{model}: {stdout}");
        assert!(stdout.contains("by PRV"), "{model}: {stdout}");
        let view = budget_json(dir, model);
        let spent = view["committed"]["epsilon"].as_f64().expect("spent");
        assert!(spent > 0.0 && spent <= 2.0, "{model}: {view}");
        let log = view["log"].as_array().expect("log");
        let commit = log
            .iter()
            .find(|e| e["event"]["kind"] == "committed")
            .expect("a commit");
        assert!(
            commit["event"]["mechanisms"].as_array().is_some_and(|m| m
                .iter()
                .any(|e| e["label"].as_str().is_some_and(|l| l.starts_with("dp-sgd")))),
            "{model}: {commit}"
        );
        assert_eq!(commit["event"]["rdp"].as_array().map(Vec::len), Some(155));
    }
    for model in ["gaussian-copula", "tab-ddpm", "copula-gan"] {
        let err = fail(
            &["synth", "plans.csv", "--epsilon", "2", "--model", model],
            dir,
        );
        assert!(
            err.contains("cannot train with differential privacy"),
            "{err}"
        );
    }
}
