//! Any registered model on Adult: training time per epoch, quality and TSTR.
//!
//! `cargo run --release -p mirage-models --example deep_adult -- <model> <epochs> [seed] [config]`
//!
//! Splits Adult into 26,049 training and 6,512 holdout rows with a seeded shuffle (the
//! split of the `argn_adult` example), fits the model for `epochs` epochs (`0` keeps the
//! model's default), samples as many rows as the training split and prints the seconds
//! per epoch, the quality scores against the training rows, and the TSTR ROC-AUC for
//! `income` on the holdout. A config with a `privacy` section trains with DP (e.g.
//! `-- tvae 0 1 '{"privacy": {"epsilon": 1, "delta": 1e-5}}'`, or `mst` the same way) and
//! the spend is printed too.

use std::path::Path;
use std::time::Instant;

use mirage_core::Table;
use mirage_models::{FitContext, SampleRequest, fit, parse_model_kind, sample_all};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = parse_model_kind(args.first().map_or("tvae", String::as_str))?;
    let epochs: usize = args.get(1).map_or(Ok(0), |s| s.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let mut config: serde_json::Value = match args.get(3) {
        Some(text) => serde_json::from_str(text)?,
        None => serde_json::json!({}),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let mut rows: Vec<u32> = (0..adult.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = adult.take_rows(&rows[..26_049])?;
    let holdout = adult.take_rows(&rows[26_049..])?;

    // MST has no training loop (and refuses unknown fields).
    if let Some(map) = config
        .as_object_mut()
        .filter(|_| kind != mirage_core::records::ModelKind::Mst)
    {
        let training = map
            .entry("training")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(training) = training.as_object_mut() {
            training.insert("seed".into(), serde_json::json!(seed));
            if epochs > 0 {
                training.insert("max_epochs".into(), serde_json::json!(epochs));
            }
        }
    }
    let started = Instant::now();
    let mut context = FitContext::new(
        |e| {
            if e.stage == "epoch" {
                eprintln!(
                    "{} ({:.0} rows/s)",
                    e.message,
                    e.rows_per_second.unwrap_or(0.0)
                );
            }
        },
        Default::default(),
    );
    let model = fit(kind, &train, &config, &mut context)?;
    let fitted = started.elapsed().as_secs_f64();
    let batches = sample_all(model.as_ref(), &SampleRequest::new(train.num_rows(), seed))?;
    let sampled = started.elapsed().as_secs_f64() - fitted;
    let synthetic = Table::new(train.schema().clone(), batches)?;
    let quality = mirage_quality::evaluate(&train, &synthetic, &Default::default())?;
    let utility = mirage_quality::evaluate_utility(
        &train,
        &holdout,
        &synthetic,
        &mirage_quality::UtilityOptions::new("income"),
    )?;
    let auc = utility.primary().map(|m| (m.real, m.synthetic));
    let parameters = model.parameters_json()?;
    let training = &parameters["training"];
    let trained_epochs = training["epochs"].as_f64().unwrap_or(f64::NAN);
    let train_seconds = training["seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "{kind} seed {seed}: fit {fitted:.1}s ({trained_epochs} epochs, {:.3} s/epoch of training), sample {sampled:.1}s",
        train_seconds / trained_epochs
    );
    println!(
        "overall {:.4} overall_associated {:.4} shapes {:.4} trends {:.4} TSTR AUC {:.4} (TRTR {:.4})",
        quality.overall,
        quality.overall_associated,
        quality.column_shapes.score,
        quality.column_pair_trends.score,
        auc.map_or(f64::NAN, |a| a.1),
        auc.map_or(f64::NAN, |a| a.0),
    );
    if let Some(report) = model.privacy_report() {
        println!(
            "DP {}: ε spent {:.4} by RDP (order {}), PRV {:?}, target ({}, {:e})",
            report.differentially_private,
            report.epsilon_rdp,
            report.rdp_order,
            report.epsilon_prv,
            report.target.epsilon,
            report.target.delta
        );
    }
    Ok(())
}
