//! CTGAN and CopulaGAN on Adult: seconds per epoch, GFLOP/s and quality.
//!
//! `cargo run --release -p mirage-models --example ctgan_adult -- <epochs> [seed] [models] [config]`
//!
//! `models` is a comma-separated list of `ctgan` and `copula-gan` (both by default);
//! `config` an optional JSON config applied to both (epochs and seed override its
//! training settings).
//!
//! Splits Adult into 26,049 training and 6,512 holdout rows with a seeded shuffle (as the
//! TabularARGN example does), fits each model for the given epochs with the paper's
//! defaults otherwise, samples as many rows as the training split and prints the median
//! seconds per epoch, the matrix-product GFLOP/s of training and the overall quality
//! against the training rows and against the holdout rows.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mirage_core::Table;
use mirage_core::records::ModelKind;
use mirage_models::ctgan::{Ctgan, CtganConfig};
use mirage_models::{FitContext, SampleRequest, sample_all};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let epochs: usize = args.first().map_or(Ok(5), |s| s.parse())?;
    let seed: u64 = args.get(1).map_or(Ok(1), |s| s.parse())?;
    let models = args.get(2).map_or("ctgan,copula-gan", String::as_str);
    let config_json: serde_json::Value = match args.get(3) {
        Some(text) => serde_json::from_str(text)?,
        None => serde_json::Value::Null,
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let mut rows: Vec<u32> = (0..adult.num_rows() as u32).collect();
    rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = adult.take_rows(&rows[..26_049])?;
    let holdout = adult.take_rows(&rows[26_049..])?;

    for name in models.split(',') {
        let kind = ModelKind::from_name(name.trim())
            .ok_or_else(|| anyhow::anyhow!("unknown model {name}"))?;
        let mut config = CtganConfig::from_json(kind, &config_json)?;
        config.training.max_epochs = epochs;
        config.training.seed = seed;
        let batch = config.training.batch_size;
        let stamps: Arc<Mutex<Vec<f64>>> = Arc::default();
        let started = Instant::now();
        let sink = Arc::clone(&stamps);
        let mut context = FitContext::new(
            move |e| {
                if e.stage == "epoch" {
                    let now = started.elapsed().as_secs_f64();
                    if let Ok(mut s) = sink.lock() {
                        s.push(now);
                    }
                    eprintln!("{:>7.1}s {}", now, e.message);
                }
            },
            Default::default(),
        );
        let model = Ctgan::fit_with(kind, &train, config, &mut context)?;
        let fitted = started.elapsed().as_secs_f64();
        let stamps = stamps.lock().map(|s| s.clone()).unwrap_or_default();
        let per_epoch: Vec<f64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
        let seconds = if per_epoch.is_empty() {
            stamps.first().copied().unwrap_or(fitted)
        } else {
            median(per_epoch)
        };
        let steps = (train.num_rows() / batch).max(1);
        let gflops = model.flops_per_step() * steps as f64 / seconds / 1e9;
        let sampling = Instant::now();
        let batches = sample_all(&model, &SampleRequest::new(train.num_rows(), seed))?;
        let sample_seconds = sampling.elapsed().as_secs_f64();
        let synthetic = Table::new(train.schema().clone(), batches)?;
        let quality = mirage_quality::evaluate(&train, &synthetic, &Default::default())?;
        let versus_holdout = mirage_quality::evaluate(&holdout, &synthetic, &Default::default())?;
        println!(
            "{name}: {epochs} epochs seed {seed}: {seconds:.3} s/epoch (median), \
             {gflops:.1} GFLOP/s ({:.2} GFLOP/step, {steps} steps/epoch), fit {fitted:.1}s, \
             sample {sample_seconds:.2}s; overall quality {:.4} vs train, {:.4} vs holdout \
             (associated {:.4})",
            model.flops_per_step() / 1e9,
            quality.overall,
            versus_holdout.overall,
            quality.overall_associated,
        );
        let worst: Vec<String> = quality
            .worst_columns(4)
            .iter()
            .map(|c| format!("{} {:.3}", c.column, c.score))
            .collect();
        println!(
            "  shapes {:.4} pair trends {:.4}; worst columns: {}",
            quality.column_shapes.score,
            quality.column_pair_trends.score,
            worst.join(", ")
        );
    }
    Ok(())
}
