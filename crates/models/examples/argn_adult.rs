//! TabularARGN on Adult within a time budget: quality and train-synthetic-test-real AUC.
//!
//! `cargo run --release -p mirage-models --example argn_adult -- <seconds> <seed> [config]`
//!
//! `config` is an optional TabularARGN JSON config, e.g. `'{"order": "fixed"}'`; the
//! seconds and the seed override its training budget and seed.
//!
//! Splits Adult into 26,049 training and 6,512 holdout rows with a seeded shuffle, fits
//! TabularARGN with a wall-clock training budget, samples as many rows as the training
//! split, and prints the time, the quality scores against the training rows and the TSTR
//! ROC-AUC for `income` on the holdout, and the share of synthetic rows closer to a
//! training row than to a holdout row.

use std::path::Path;
use std::time::Instant;

use mirage_core::Table;
use mirage_models::{ArgnConfig, FitContext, SampleRequest, TabularArgn, sample_all};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: f64 = args.first().map_or(Ok(30.0), |s| s.parse())?;
    let seed: u64 = args.get(1).map_or(Ok(1), |s| s.parse())?;
    let config_json: serde_json::Value = match args.get(2) {
        Some(text) => serde_json::from_str(text)?,
        None => serde_json::Value::Null,
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let mut rows: Vec<u32> = (0..adult.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = adult.take_rows(&rows[..26_049])?;
    let holdout = adult.take_rows(&rows[26_049..])?;

    let started = Instant::now();
    let mut config = ArgnConfig::from_json(&config_json)?;
    let order = config.order;
    config.training.seed = seed;
    config.training.time_budget = Some(seconds);
    let mut context = FitContext::new(
        |e| {
            if e.stage == "epoch" {
                eprintln!(
                    "{} ({:.0} rows/s, eta {:.1}s)",
                    e.message,
                    e.rows_per_second.unwrap_or(0.0),
                    e.eta_seconds.unwrap_or(0.0)
                );
            }
        },
        Default::default(),
    );
    let model = TabularArgn::fit(&train, config, &mut context)?;
    let fitted = started.elapsed().as_secs_f64();
    let batches = sample_all(&model, &SampleRequest::new(train.num_rows(), seed))?;
    let total = started.elapsed().as_secs_f64();
    let synthetic = Table::new(train.schema().clone(), batches)?;
    let quality = mirage_quality::evaluate(&train, &synthetic, &Default::default())?;
    let utility = mirage_quality::evaluate_utility(
        &train,
        &holdout,
        &synthetic,
        &mirage_quality::UtilityOptions::new("income"),
    )?;
    let auc = utility.primary().map(|m| (m.real, m.synthetic));
    let privacy =
        mirage_quality::evaluate_privacy(&train, &holdout, &synthetic, &Default::default())?;
    let outcome = model.training_outcome();
    println!(
        "budget {seconds}s seed {seed} order {order:?}: fit {fitted:.1}s, fit+sample {total:.1}s, \
         epochs {:?} (best {:?}, stop {:?})",
        outcome.map(|o| o.epochs),
        outcome.map(|o| o.best_epoch),
        outcome.map(|o| o.stop)
    );
    println!(
        "overall {:.4} overall_associated {:.4} TSTR AUC {:.4} (TRTR {:.4}) \
         closer-to-train share {:.4}",
        quality.overall,
        quality.overall_associated,
        auc.map_or(f64::NAN, |a| a.1),
        auc.map_or(f64::NAN, |a| a.0),
        privacy.dcr.closer_to_train_share
    );
    Ok(())
}
