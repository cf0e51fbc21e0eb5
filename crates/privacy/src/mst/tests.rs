//! Tests of the public MST API.

use super::*;
use rand::{Rng, SeedableRng};

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Column A over 4 values (shares 0.4, 0.3, 0.2, 0.1), B = A with probability 0.9 else
/// uniform, C uniform over 3 values and independent.
fn correlated(rows: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut r = rng(seed);
    let mut columns = vec![Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rows {
        let u: f64 = r.random();
        let a = if u < 0.4 {
            0
        } else if u < 0.7 {
            1
        } else if u < 0.9 {
            2
        } else {
            3
        };
        let b = if r.random::<f64>() < 0.9 {
            a
        } else {
            r.random_range(0..4)
        };
        columns[0].push(a);
        columns[1].push(b);
        columns[2].push(r.random_range(0..3));
    }
    columns
}

fn joint_shares(a: &[u32], b: &[u32], ka: usize, kb: usize) -> Vec<f64> {
    let mut counts = vec![0.0; ka * kb];
    for (&x, &y) in a.iter().zip(b) {
        counts[x as usize * kb + y as usize] += 1.0;
    }
    counts.iter().map(|c| c / a.len() as f64).collect()
}

#[test]
fn rho_accounting_adds_up_to_the_request() {
    let columns = correlated(500, 1);
    let model = MstModel::fit(
        &columns,
        &[4, 4, 3],
        0.7,
        &MstOptions::default(),
        &mut rng(2),
    )
    .expect("fit");
    let parts: f64 = model.measurements().iter().map(|m| m.rho).sum();
    assert!((model.rho_spent() - parts).abs() < 1e-15);
    assert!(
        (model.rho_spent() - 0.7).abs() < 1e-12,
        "{}",
        model.rho_spent()
    );
    let count = |kind: &str| {
        model
            .measurements()
            .iter()
            .filter(|m| m.kind == kind)
            .count()
    };
    assert_eq!(
        (count("one-way"), count("selection"), count("two-way")),
        (3, 2, 2)
    );
    // Each third is ρ/3, and the mechanisms' parameters match their costs.
    for kind in ["one-way", "selection", "two-way"] {
        let third: f64 = model
            .measurements()
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.rho)
            .sum();
        assert!((third - 0.7 / 3.0).abs() < 1e-12, "{kind}: {third}");
    }
    for m in model.measurements() {
        match (m.sigma, m.epsilon) {
            (Some(sigma), None) => assert!((1.0 / (2.0 * sigma * sigma) - m.rho).abs() < 1e-12),
            (None, Some(epsilon)) => assert!((epsilon * epsilon / 8.0 - m.rho).abs() < 1e-12),
            other => panic!("unexpected parameters {other:?}"),
        }
    }

    // One column: no tree, all of ρ on the one-way marginal.
    let single = MstModel::fit(
        &columns[..1],
        &[4],
        0.5,
        &MstOptions::default(),
        &mut rng(2),
    )
    .expect("fit");
    assert!(single.edges().is_empty());
    assert_eq!(single.measurements().len(), 1);
    assert!((single.rho_spent() - 0.5).abs() < 1e-15);

    // No pair fits max_cells: the one-ways are measured twice and ρ is still spent exactly.
    let options = MstOptions {
        max_cells: 4,
        ..MstOptions::default()
    };
    let no_pairs = MstModel::fit(&columns, &[4, 4, 3], 0.5, &options, &mut rng(2)).expect("fit");
    assert!(no_pairs.edges().is_empty());
    assert_eq!(no_pairs.measurements().len(), 6);
    assert!((no_pairs.rho_spent() - 0.5).abs() < 1e-12);
    let sample = no_pairs.sample(100, &mut rng(3));
    assert!(
        sample
            .iter()
            .zip([4, 4, 3])
            .all(|(c, k)| c.len() == 100 && c.iter().all(|&v| v < k))
    );
}

#[test]
fn large_rho_finds_and_reproduces_the_dependence() {
    let columns = correlated(5_000, 7);
    let model = MstModel::fit(
        &columns,
        &[4, 4, 3],
        100.0,
        &MstOptions::default(),
        &mut rng(8),
    )
    .expect("fit");
    assert!(model.edges().contains(&(0, 1)), "edges {:?}", model.edges());
    assert!((model.estimated_rows() - 5_000.0).abs() < 5.0);
    let sample = model.sample(40_000, &mut rng(9));
    let truth = joint_shares(&columns[0], &columns[1], 4, 4);
    let synthetic = joint_shares(&sample[0], &sample[1], 4, 4);
    for (t, s) in truth.iter().zip(&synthetic) {
        assert!((t - s).abs() < 0.01, "joint {t} vs {s}");
    }
    let agree = |a: &[u32], b: &[u32]| {
        a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
    };
    let (true_agree, synthetic_agree) = (
        agree(&columns[0], &columns[1]),
        agree(&sample[0], &sample[1]),
    );
    assert!(
        (true_agree - synthetic_agree).abs() < 0.02,
        "{true_agree} vs {synthetic_agree}"
    );
    for (column, k) in [(0, 4), (1, 4), (2, 3)] {
        let share =
            |c: &[u32], v: u32| c.iter().filter(|&&x| x == v).count() as f64 / c.len() as f64;
        for v in 0..k {
            let (t, s) = (share(&columns[column], v), share(&sample[column], v));
            assert!(
                (t - s).abs() < 0.02,
                "column {column} value {v}: {t} vs {s}"
            );
        }
    }
}

#[test]
fn small_rho_still_samples_valid_codes() {
    let columns = correlated(300, 3);
    for rho in [1e-4, 1e-2] {
        let model = MstModel::fit(
            &columns,
            &[4, 4, 3],
            rho,
            &MstOptions::default(),
            &mut rng(4),
        )
        .expect("fit");
        assert!((model.rho_spent() - rho).abs() < 1e-12 * rho.max(1.0));
        model.validate().expect("valid");
        let sample = model.sample(1_000, &mut rng(5));
        for (column, k) in sample.iter().zip([4, 4, 3]) {
            assert_eq!(column.len(), 1_000);
            assert!(column.iter().all(|&v| v < k));
        }
    }
}

#[test]
fn rare_values_are_merged_and_decoded_validly() {
    // Column 0: 2,000 rows on values 0..3, one row each on 3..40 of a 60-value domain.
    let mut r = rng(6);
    let mut a: Vec<u32> = (0..2_000).map(|_| r.random_range(0..3)).collect();
    a.extend(3..40);
    let b: Vec<u32> = a.iter().map(|&x| x.min(5)).collect();
    let columns = vec![a, b];
    let model =
        MstModel::fit(&columns, &[60, 6], 1.0, &MstOptions::default(), &mut rng(7)).expect("fit");
    let compression = &model.compression()[0];
    assert_eq!(compression.original_domain(), 60);
    assert!(
        compression.compressed_domain() <= 5,
        "{}",
        compression.compressed_domain()
    );
    assert!(compression.merged().len() >= 55);
    let sample = model.sample(5_000, &mut rng(8));
    assert!(sample[0].iter().all(|&v| v < 60));
    assert!(sample[1].iter().all(|&v| v < 6));
    // Frequent values survive compression and keep most of the mass.
    let frequent = sample[0].iter().filter(|&&v| v < 3).count() as f64 / 5_000.0;
    assert!(frequent > 0.9, "{frequent}");
}

#[test]
fn fitted_marginals_are_consistent() {
    let columns = correlated(2_000, 10);
    let model = MstModel::fit(
        &columns,
        &[4, 4, 3],
        1.0,
        &MstOptions::default(),
        &mut rng(11),
    )
    .expect("fit");
    model.validate().expect("valid");
    for (e, &(a, b)) in model.edges().iter().enumerate() {
        let (ka, kb) = (model.one_way[a].len(), model.one_way[b].len());
        for x in 0..ka {
            let row: f64 = (0..kb).map(|y| model.two_way[e][x * kb + y]).sum();
            assert!((row - model.one_way[a][x]).abs() < 1e-10);
        }
        for y in 0..kb {
            let col: f64 = (0..ka).map(|x| model.two_way[e][x * kb + y]).sum();
            assert!((col - model.one_way[b][y]).abs() < 1e-10);
        }
    }
}

#[test]
fn deterministic_for_a_seed_and_json_round_trips() {
    let columns = correlated(1_000, 12);
    let fit = || {
        MstModel::fit(
            &columns,
            &[4, 4, 3],
            2.0,
            &MstOptions::default(),
            &mut rng(13),
        )
        .expect("fit")
    };
    let (first, second) = (fit(), fit());
    assert_eq!(first, second);
    let json = serde_json::to_string(&first).expect("serialize");
    let loaded: MstModel = serde_json::from_str(&json).expect("deserialize");
    loaded.validate().expect("valid");
    assert_eq!(
        first.sample(200, &mut rng(14)),
        loaded.sample(200, &mut rng(14))
    );
    assert!(json.contains("\"one-way\""));
}

#[test]
fn bad_inputs_are_refused() {
    let ok = vec![vec![0, 1, 2], vec![1, 1, 0]];
    let options = MstOptions::default();
    let fit = |columns: &[Vec<u32>], domains: &[usize], rho: f64, options: &MstOptions| {
        MstModel::fit(columns, domains, rho, options, &mut rng(0))
    };
    let field = |result: Result<MstModel>| match result {
        Err(PrivacyError::InvalidParameter { field, message }) => (field, message),
        Ok(_) => panic!("accepted"),
    };
    for rho in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(field(fit(&ok, &[3, 2], rho, &options)).0, "rho");
    }
    assert_eq!(field(fit(&[], &[], 1.0, &options)).0, "columns");
    assert_eq!(
        field(fit(&[vec![], vec![]], &[3, 2], 1.0, &options)).0,
        "columns"
    );
    assert_eq!(field(fit(&ok, &[3], 1.0, &options)).0, "domains");
    assert_eq!(
        field(fit(&[vec![0, 1], vec![0]], &[3, 2], 1.0, &options)).0,
        "columns"
    );
    assert_eq!(field(fit(&ok, &[3, 0], 1.0, &options)).0, "domains");
    let (name, message) = field(fit(&ok, &[2, 2], 1.0, &options));
    assert_eq!(name, "columns");
    assert!(
        message.contains("column 0") && message.contains("row 2"),
        "{message}"
    );
    let bad_sigmas = MstOptions {
        compress_sigmas: f64::NAN,
        ..MstOptions::default()
    };
    assert_eq!(
        field(fit(&ok, &[3, 2], 1.0, &bad_sigmas)).0,
        "compress_sigmas"
    );
    let tiny = MstOptions {
        max_cells: 2,
        ..MstOptions::default()
    };
    assert_eq!(field(fit(&ok, &[3, 2], 1.0, &tiny)).0, "domains");

    // A hand-edited model is caught by validate and still samples without panicking.
    let mut model = fit(&ok, &[3, 2], 1.0, &options).expect("fit");
    model.two_way = vec![vec![0.5]; model.edges.len()];
    model.edges.push((0, 7));
    model.two_way.push(vec![]);
    assert!(model.validate().is_err());
    let sample = model.sample(10, &mut rng(1));
    assert_eq!(sample.len(), 2);
}

/// Fits a 15-column, 32,000-row table like Adult and prints the time. Run with
/// `cargo test --release -p mirage-privacy adult_sized -- --ignored --nocapture`.
#[test]
#[ignore = "timing only"]
fn adult_sized_fit_time() {
    let domains = [74, 9, 100, 16, 16, 7, 15, 6, 5, 2, 120, 90, 99, 42, 2];
    let rows = 32_561;
    let mut r = rng(21);
    let mut columns: Vec<Vec<u32>> = vec![Vec::with_capacity(rows); domains.len()];
    for _ in 0..rows {
        let mut previous = 0_u32;
        for (i, &k) in domains.iter().enumerate() {
            // A chain of dependencies with skewed values, so compression has work to do.
            let k = k as u32;
            // Columns 10 and 11 are mostly zero, like capital gain and loss.
            let value = if (i == 10 || i == 11) && r.random::<f64>() < 0.92 {
                0
            } else if i > 0 && r.random::<f64>() < 0.6 {
                (previous * 7 + 3) % k
            } else {
                let u: f64 = r.random();
                ((u * u * u) * f64::from(k)) as u32
            };
            columns[i].push(value.min(k - 1));
            previous = value;
        }
    }
    // Baseline: the real columns shuffled independently (exact one-ways, no dependence).
    let mut shuffled = columns.clone();
    for column in &mut shuffled {
        for i in (1..column.len()).rev() {
            column.swap(i, r.random_range(0..=i));
        }
    }
    let (_, independent) = average_tv(&columns, &shuffled, &domains);
    println!("independent baseline: mean TV two-way {independent:.4}");
    for (rho, iterations) in [(1.0, 1_000), (10.0, 1_000), (100.0, 1_000)] {
        let options = MstOptions {
            iterations,
            ..MstOptions::default()
        };
        let start = std::time::Instant::now();
        let model = MstModel::fit(&columns, &domains, rho, &options, &mut rng(22)).expect("fit");
        let fit = start.elapsed();
        let start = std::time::Instant::now();
        let sample = model.sample(rows, &mut rng(23));
        let sampled = start.elapsed();
        let compressed: Vec<usize> = model
            .compression()
            .iter()
            .map(ColumnCompression::compressed_domain)
            .collect();
        let cells: usize = model
            .edges()
            .iter()
            .map(|&(a, b)| compressed[a] * compressed[b])
            .sum();
        let (one_way, two_way) = average_tv(&columns, &sample, &domains);
        println!(
            "rho {rho} iterations {iterations}: fit {fit:?}, sample {sampled:?}, compressed domains {compressed:?}, tree cells {cells}, mean TV one-way {one_way:.4} two-way {two_way:.4}"
        );
    }
}

/// The mean total-variation distance between the one-way and between the two-way
/// marginals (all pairs) of two tables.
fn average_tv(real: &[Vec<u32>], synthetic: &[Vec<u32>], domains: &[usize]) -> (f64, f64) {
    let shares = |columns: &[&Vec<u32>], sizes: &[usize]| -> Vec<f64> {
        let cells: usize = sizes.iter().product();
        let mut counts = vec![0.0; cells];
        let rows = columns[0].len();
        for row in 0..rows {
            let mut index = 0;
            for (column, &size) in columns.iter().zip(sizes) {
                index = index * size + column[row] as usize;
            }
            counts[index] += 1.0;
        }
        counts.iter().map(|c| c / rows as f64).collect()
    };
    let tv =
        |a: Vec<f64>, b: Vec<f64>| 0.5 * a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>();
    let d = domains.len();
    let one_way = (0..d)
        .map(|i| {
            tv(
                shares(&[&real[i]], &domains[i..=i]),
                shares(&[&synthetic[i]], &domains[i..=i]),
            )
        })
        .sum::<f64>()
        / d as f64;
    let mut two_way = 0.0;
    for a in 0..d {
        for b in a + 1..d {
            let sizes = [domains[a], domains[b]];
            two_way += tv(
                shares(&[&real[a], &real[b]], &sizes),
                shares(&[&synthetic[a], &synthetic[b]], &sizes),
            );
        }
    }
    (one_way, two_way / (d * (d - 1) / 2) as f64)
}
