//! Any model trained with differential privacy on Adult: fit time, ε spent and quality.
//!
//! `cargo run --release -p mirage-models --example dp_adult -- <model> <epsilon> [epochs] [seed] [config]`
//!
//! Splits Adult into 26,049 training and 6,512 holdout rows with a seeded shuffle (the
//! split of `deep_adult`), fits `model` with `{"privacy": {"epsilon": <epsilon>, "delta":
//! 1e-5}}` merged into the optional JSON `config` (its own `privacy` fields win; `epochs`
//! of `0` keeps the model's DP default), samples as many rows as the training split and
//! prints the fit seconds, the ε spent (RDP) with the report's events, the quality
//! scores against the training rows and the TSTR ROC-AUC for `income` on the holdout.

use std::path::Path;
use std::time::Instant;

use mirage_core::Table;
use mirage_models::{FitContext, SampleRequest, fit, parse_model_kind, sample_all};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = parse_model_kind(args.first().map_or("tvae", String::as_str))?;
    let epsilon: f64 = args.get(1).map_or(Ok(1.0), |s| s.parse())?;
    let epochs: usize = args.get(2).map_or(Ok(0), |s| s.parse())?;
    let seed: u64 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let mut config: serde_json::Value = match args.get(4) {
        Some(text) => serde_json::from_str(text)?,
        None => json!({}),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let mut rows: Vec<u32> = (0..adult.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = adult.take_rows(&rows[..26_049])?;
    let holdout = adult.take_rows(&rows[26_049..])?;

    let Some(map) = config.as_object_mut() else {
        anyhow::bail!("the config must be a JSON object");
    };
    let mut privacy = json!({"epsilon": epsilon, "delta": 1e-5});
    if let (Some(base), Some(given)) = (
        privacy.as_object_mut(),
        map.get("privacy").and_then(|p| p.as_object()),
    ) {
        base.extend(given.clone());
    }
    map.insert("privacy".into(), privacy);
    let training = map.entry("training").or_insert_with(|| json!({}));
    if let Some(training) = training.as_object_mut() {
        training.insert("seed".into(), json!(seed));
        if epochs > 0 {
            training.insert("max_epochs".into(), json!(epochs));
        }
    }
    let started = Instant::now();
    let mut context = FitContext::new(
        |e| {
            if e.stage == "epoch" {
                eprintln!("{}", e.message);
            }
        },
        Default::default(),
    );
    let model = fit(kind, &train, &config, &mut context)?;
    let fitted = started.elapsed().as_secs_f64();
    let batches = sample_all(model.as_ref(), &SampleRequest::new(train.num_rows(), seed))?;
    let synthetic = Table::new(train.schema().clone(), batches)?;
    let quality = mirage_quality::evaluate(&train, &synthetic, &Default::default())?;
    let utility = mirage_quality::evaluate_utility(
        &train,
        &holdout,
        &synthetic,
        &mirage_quality::UtilityOptions::new("income"),
    )?;
    let auc = utility.primary().map(|m| (m.real, m.synthetic));
    let Some(report) = model.privacy_report() else {
        anyhow::bail!("{kind} returned no privacy report: it did not fit with DP");
    };
    for event in &report.events {
        eprintln!("  {}: {:?}", event.label, event.mechanism);
    }
    println!(
        "{kind} ε target {epsilon} seed {seed}: fit {fitted:.1}s, ε spent (RDP) {:.4} at δ {:e}, DP {}",
        report.epsilon_rdp, report.target.delta, report.differentially_private
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
    Ok(())
}
