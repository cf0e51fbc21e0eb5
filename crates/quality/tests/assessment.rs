//! The full assessment on Adult: the two extremes the issue names, the versioned JSON, the
//! HTML page drawn by a real browser, and the error for utility without a holdout.

use std::path::Path;
use std::process::Command;

use mirage_core::Table;
use mirage_quality::gate::Pillar;
use mirage_quality::{Assessment, AssessmentOptions, REPORT_VERSION, assess};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Adult shuffled into three disjoint parts of 6,000 rows: train, holdout, other.
fn parts() -> (Table, Table, Table) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let table =
        mirage_data::read_table(&path, &mirage_data::ReadOptions::default()).expect("adult");
    let mut rows: Vec<u32> = (0..table.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(11));
    let part = |i: usize| {
        table
            .take_rows(&rows[i * 6_000..(i + 1) * 6_000])
            .expect("rows")
    };
    (part(0), part(1), part(2))
}

fn options() -> AssessmentOptions {
    AssessmentOptions {
        target: Some("income".into()),
        ..AssessmentOptions::default()
    }
}

#[test]
fn real_rows_as_synthetic_look_real_and_private_and_a_copy_fails_privacy() {
    let (train, holdout, other) = parts();

    // Disjoint real rows: indistinguishable, no leakage.
    let fresh = assess(&train, Some(&holdout), &other, &options()).expect("assesses");
    let detection = fresh.detection.as_ref().expect("detection");
    assert!(
        (detection.auc - 0.5).abs() < 0.05,
        "detection AUC {}",
        detection.auc
    );
    let privacy = fresh.privacy.as_ref().expect("privacy");
    assert!(
        (privacy.dcr.closer_to_train_share - 0.5).abs() < 0.05,
        "{:?}",
        privacy.dcr
    );
    assert_eq!(
        fresh.gate.pillar_passed(Pillar::Privacy),
        Some(true),
        "{:?}",
        fresh.gate
    );
    assert!(fresh.fidelity.overall > 0.95, "{}", fresh.fidelity.overall);
    let utility = fresh
        .utility
        .as_ref()
        .and_then(|u| u.primary())
        .expect("utility");
    assert!(utility.ratio.is_some_and(|r| r > 0.95), "{utility:?}");

    // A copy of the training rows: every row an exact match, the privacy gate fails.
    let copy = assess(&train, Some(&holdout), &train, &options()).expect("assesses");
    let privacy = copy.privacy.as_ref().expect("privacy");
    assert_eq!(privacy.dcr.identical_match_share, 1.0);
    assert!(!copy.gate.passed);
    assert_eq!(copy.gate.pillar_passed(Pillar::Privacy), Some(false));
    assert!(
        copy.gate
            .reasons
            .iter()
            .any(|r| r.contains("identical_match_share")),
        "{:?}",
        copy.gate.reasons
    );
    assert!(
        copy.recommendations[0].message.contains("exact copies"),
        "{:?}",
        copy.recommendations[0]
    );
}

#[test]
fn the_json_is_versioned_and_round_trips() {
    let (train, _, other) = parts();
    let assessment = assess(&train, None, &other, &AssessmentOptions::default()).expect("assesses");
    assert_eq!(assessment.version, REPORT_VERSION);
    assert!(assessment.privacy.is_none() && assessment.utility.is_none());
    assert_eq!(
        assessment.gate.pillars_checked,
        vec![Pillar::Fidelity, Pillar::Utility]
    );
    let json = assessment.to_json_pretty();
    assert_eq!(
        Assessment::from_json(&json).expect("reads back"),
        assessment
    );
    let older = json.replacen(
        &format!("\"version\": {REPORT_VERSION}"),
        "\"version\": 0",
        1,
    );
    let err = Assessment::from_json(&older).expect_err("old version");
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn utility_without_a_holdout_is_refused_with_a_hint() {
    let (train, _, other) = parts();
    let err = assess(&train, None, &other, &options()).expect_err("no holdout");
    assert!(err.to_string().contains("--holdout"), "{err}");
}

/// Renders the page in headless Chromium (installed by `.ci/run` from Debian's `chromium`)
/// and reads back how many plots drew, as recorded by the page's own check script.
#[test]
fn the_html_report_draws_in_a_browser() {
    let (train, holdout, other) = parts();
    let assessment = assess(&train, Some(&holdout), &other, &options()).expect("assesses");
    let html = assessment.to_html("Adult <test> report");
    assert!(
        html.contains("Quality gate PASSED"),
        "gate verdict at the top"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).expect("write");

    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect(
            "headless Chromium is needed for this test: apt-get install chromium (.ci/run does)",
        );
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    let rendered = dom
        .split("data-rendered=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page recorded its rendering");
    let (drawn, total) = rendered.split_once('/').expect("drawn/total");
    let (drawn, total): (usize, usize) = (drawn.parse().expect("n"), total.parse().expect("n"));
    // 15 distributions + 3 heat maps + feature importance + the distance histogram.
    assert!(total >= 20, "{rendered}");
    assert_eq!(drawn, total, "every plot must draw: {rendered}");
    assert!(
        dom.contains("Adult &lt;test&gt; report"),
        "the title is escaped"
    );
}
