//! `mirage privacy epsilon|noise`, the DP-SGD calculator, as a user runs it.

mod common;

fn succeed(args: &[&str]) -> String {
    common::succeed(args, &std::env::temp_dir()).0
}

/// Fails with an `error:` line that names `flag`, and no panic.
fn fail(args: &[&str], flag: &str) {
    let stderr = common::fail(args, &std::env::temp_dir());
    assert!(stderr.contains(flag), "{args:?}: {stderr}");
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&succeed(args)).expect("valid JSON")
}

const OPACUS: [&str; 10] = [
    "privacy",
    "epsilon",
    "--sample-rate",
    "0.04",
    "--noise-multiplier",
    "1.5",
    "--steps",
    "2250",
    "--delta",
    "1e-5",
];

#[test]
fn epsilon_reports_rdp_and_prv() {
    let text = succeed(&OPACUS);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "sample rate 0.04, noise multiplier 1.5, 2250 steps, δ = 1e-05"
    );
    assert!(lines[1].starts_with("ε (RDP, order "), "{text}");
    assert!(lines[2].starts_with("ε (PRV):"), "{text}");
    assert!(lines[2].contains("6.77 (≤ 6.7"), "{text}");

    let mut args = OPACUS.to_vec();
    args.push("--json");
    let value = json(&args);
    let rdp = value["epsilon_rdp"].as_f64().expect("epsilon_rdp");
    let prv = value["epsilon_prv"].as_f64().expect("epsilon_prv");
    let upper = value["epsilon_prv_upper"]
        .as_f64()
        .expect("epsilon_prv_upper");
    let lower = value["epsilon_prv_lower"]
        .as_f64()
        .expect("epsilon_prv_lower");
    assert!(value["order"].as_f64().expect("order") > 1.0);
    assert!((prv - 6.77).abs() < 0.05, "{value}");
    assert!(lower <= prv && prv <= upper && upper < rdp, "{value}");
    assert!(rdp > 7.0 && rdp < 7.6, "{value}");
    assert_eq!(value["steps"], 2250);
    assert_eq!(value["sample_rate"], 0.04);
    // The human lines show the same figures.
    assert!(text.contains(&format!("{rdp:.4}")), "{text}");
}

#[test]
fn noise_solves_for_sigma_and_reports_its_spend() {
    let args = [
        "privacy",
        "noise",
        "--sample-rate",
        "0.04",
        "--steps",
        "2250",
        "--epsilon",
        "8",
        "--delta",
        "1e-5",
    ];
    let text = succeed(&args);
    assert!(
        text.starts_with("sample rate 0.04, 2250 steps, target ε = 8, δ = 1e-05\n"),
        "{text}"
    );
    assert!(text.contains("noise multiplier (RDP): 1."), "{text}");
    assert!(text.contains("ε (RDP, order "), "{text}");
    assert!(text.contains("ε (PRV):"), "{text}");

    let mut with_json = args.to_vec();
    with_json.push("--json");
    let value = json(&with_json);
    let sigma = value["noise_multiplier"]
        .as_f64()
        .expect("noise_multiplier");
    let rdp = value["epsilon_rdp"].as_f64().expect("epsilon_rdp");
    let upper = value["epsilon_prv_upper"]
        .as_f64()
        .expect("epsilon_prv_upper");
    // σ = 1.5 spends about 7.3 by RDP, so ε = 8 needs a little less noise.
    assert!(sigma > 1.3 && sigma < 1.5, "{value}");
    assert!(rdp <= 8.0 && rdp > 7.99, "{value}");
    assert!(upper < rdp, "{value}");
    assert!(value["order"].as_f64().is_some(), "{value}");
    assert_eq!(value["target_epsilon"], 8.0);
}

#[test]
fn bad_values_name_their_flag() {
    let epsilon = |flag: &str, value: &str| -> Vec<String> {
        let mut args: Vec<String> = OPACUS.iter().map(|s| s.to_string()).collect();
        let at = args.iter().position(|a| a == flag).expect("flag") + 1;
        args[at] = value.to_string();
        args
    };
    for (flag, value) in [
        ("--sample-rate", "0"),
        ("--sample-rate", "1.5"),
        ("--sample-rate", "-0.1"),
        ("--sample-rate", "abc"),
        ("--noise-multiplier", "0"),
        ("--noise-multiplier", "-1"),
        ("--noise-multiplier", "nan"),
        ("--steps", "0"),
        ("--steps", "-3"),
        ("--steps", "ten"),
        ("--delta", "0"),
        ("--delta", "1"),
        ("--delta", "1e-5x"),
    ] {
        let args = epsilon(flag, value);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fail(&args, flag);
    }
    let noise = |flag: &str, value: &str| {
        let mut args = vec![
            "privacy",
            "noise",
            "--sample-rate",
            "0.04",
            "--steps",
            "100",
            "--epsilon",
            "1",
            "--delta",
            "1e-5",
        ];
        let at = args.iter().position(|a| *a == flag).expect("flag") + 1;
        args[at] = value;
        fail(&args, flag);
    };
    noise("--epsilon", "0");
    noise("--epsilon", "-2");
    noise("--epsilon", "x");
    noise("--sample-rate", "2");
    noise("--steps", "0");
    noise("--delta", "-1");
    // A missing flag is named too.
    fail(
        &["privacy", "epsilon", "--sample-rate", "0.1"],
        "--noise-multiplier",
    );
}

#[test]
fn an_unreachable_target_is_an_error_not_a_panic() {
    // A billion full-batch steps at ε = 1e-5 would need σ ≈ 2e10, beyond the solver's
    // range (σ ≤ 1e6).
    let out = common::mirage(
        &[
            "privacy",
            "noise",
            "--sample-rate",
            "1",
            "--steps",
            "1000000000",
            "--epsilon",
            "0.00001",
            "--delta",
            "1e-10",
        ],
        &std::env::temp_dir(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("--epsilon"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
