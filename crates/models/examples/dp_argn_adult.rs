//! DP-TabularARGN on Adult: fit time, privacy spent, quality and train-synthetic-test-real
//! AUC at a target ε.
//!
//! `cargo run --release -p mirage-models --example dp_argn_adult -- <epsilon> [epochs] [seed] [config]`
//!
//! `config` is an optional TabularARGN JSON config (its `privacy` section is merged with
//! the ε given, δ = 1e-5); `epochs` overrides its epochs. Splits Adult into 26,049
//! training and 6,512 holdout rows with a seeded shuffle (as `argn_adult` does), fits with
//! DP, samples as many rows as the training split, and prints the privacy report's spend
//! with the quality scores against the training rows and the TSTR ROC-AUC for `income`.

use std::path::Path;
use std::time::Instant;

use mirage_core::Table;
use mirage_models::{ArgnConfig, FitContext, SampleRequest, Synthesizer, TabularArgn, sample_all};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let epsilon: f64 = args.first().map_or(Ok(1.0), |s| s.parse())?;
    let epochs: Option<usize> = args.get(1).map(|s| s.parse()).transpose()?;
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let mut config_json: serde_json::Value = match args.get(3) {
        Some(text) => serde_json::from_str(text)?,
        None => json!({}),
    };
    let privacy = config_json
        .get("privacy")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut privacy = privacy;
    privacy["epsilon"] = json!(epsilon);
    if privacy.get("delta").is_none() {
        privacy["delta"] = json!(1e-5);
    }
    config_json["privacy"] = privacy;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let mut rows: Vec<u32> = (0..adult.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = adult.take_rows(&rows[..26_049])?;
    let holdout = adult.take_rows(&rows[26_049..])?;

    let started = Instant::now();
    let mut config = ArgnConfig::from_json(&config_json)?;
    config.training.seed = seed;
    if let Some(epochs) = epochs {
        config.training.max_epochs = epochs;
    }
    let (batch, rate, epochs) = (
        config.training.batch_size,
        config.training.learning_rate,
        config.training.max_epochs,
    );
    let mut context = FitContext::new(
        |e| {
            if e.stage == "epoch" {
                eprintln!("{}", e.message);
            }
        },
        Default::default(),
    );
    let model = TabularArgn::fit(&train, config, &mut context)?;
    let fitted = started.elapsed().as_secs_f64();
    let batches = sample_all(&model, &SampleRequest::new(train.num_rows(), seed))?;
    let synthetic = Table::new(train.schema().clone(), batches)?;
    let quality = mirage_quality::evaluate(&train, &synthetic, &Default::default())?;
    let utility = mirage_quality::evaluate_utility(
        &train,
        &holdout,
        &synthetic,
        &mirage_quality::UtilityOptions::new("income"),
    )?;
    let auc = utility.primary().map(|m| (m.real, m.synthetic));
    let report = model
        .privacy_report()
        .ok_or_else(|| anyhow::anyhow!("a DP fit has a privacy report"))?;
    let sgd = report
        .events
        .iter()
        .rev()
        .find(|e| e.label == "dp-sgd")
        .map(|e| serde_json::to_value(&e.mechanism))
        .transpose()?
        .unwrap_or_default();
    println!(
        "ε {epsilon} seed {seed} epochs {epochs} batch {batch} lr {rate}: fit {fitted:.1}s, \
         DP {} ε_rdp {:.4} (order {}), σ {:.3} q {:.4} steps {}",
        report.differentially_private,
        report.epsilon_rdp,
        report.rdp_order,
        sgd["noise_multiplier"].as_f64().unwrap_or(f64::NAN),
        sgd["sample_rate"].as_f64().unwrap_or(f64::NAN),
        sgd["steps"].as_u64().unwrap_or(0),
    );
    println!(
        "overall {:.4} overall_associated {:.4} TSTR AUC {:.4} (TRTR {:.4})",
        quality.overall,
        quality.overall_associated,
        auc.map_or(f64::NAN, |a| a.1),
        auc.map_or(f64::NAN, |a| a.0),
    );
    Ok(())
}
