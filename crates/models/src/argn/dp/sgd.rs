//! DP-SGD for the ARGN network (Abadi et al., 2016).
//!
//! Each step draws a Poisson sample of the rows at rate q = batch / noisy rows, clips
//! every row's gradient over all parameters to norm C ([`Network::clipped_gradients`]),
//! adds N(0, σ²C²) to every entry of the summed clipped gradients, divides by the
//! expected batch q·n and takes an AdamW step (post-processing of the noisy gradient).
//! The steps are fixed in advance — epochs · rows / batch — and σ is chosen so that they
//! bring the account to its target; nothing is chosen on the data (no validation split,
//! no early stopping, no best weights), and no loss is reported or kept.

use std::time::Instant;

use candle_core::{Device, Tensor};
use mirage_privacy::PrivacyTracker;
use mirage_privacy::dpsgd::{DpSgdPlan, noise_and_average, poisson_sample};
use rand_chacha::ChaCha8Rng;
use tracing::debug;

use crate::argn::network::Network;
use crate::argn::{ArgnConfig, ColumnOrder, MASKED_INPUT_FLOATS, row_positions};
use crate::dp::DpSettings;
use crate::error::Result;
use crate::progress::{FitContext, ProgressEvent};
use crate::training::{AdamW, candle_error};

/// What a DP-SGD run did.
#[derive(Debug, Clone)]
pub struct DpSgdRun {
    /// The plan it followed.
    pub plan: DpSgdPlan,
    /// Steps taken (the plan's, unless cut short by the time budget).
    pub steps: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Trains `network` on token rows with DP-SGD, charging `tracker` for the steps taken.
/// `rows` is the noisy row count (the `n` of q = batch / n); `secret` draws the batches
/// and the noise, `seeded` the (data-independent) column orders.
#[allow(clippy::too_many_arguments)]
pub fn train(
    network: &Network,
    tokens: &[Vec<u32>],
    rows: f64,
    settings: &DpSettings,
    config: &ArgnConfig,
    tracker: &mut PrivacyTracker,
    context: &mut FitContext,
    seeded: &mut ChaCha8Rng,
    secret: &mut ChaCha8Rng,
) -> Result<DpSgdRun> {
    let started = Instant::now();
    let training = &config.training;
    let noisy_rows = rows.round().max(1.0) as usize;
    let batch = training.batch_size.min(noisy_rows).max(1);
    let steps_per_epoch = (noisy_rows as f64 / batch as f64).ceil().max(1.0) as u64;
    let planned = steps_per_epoch * training.max_epochs as u64;
    let plan = DpSgdPlan::for_target(tracker, noisy_rows, batch, planned, settings.clip_norm)?;
    debug!(
        sample_rate = plan.sample_rate,
        noise_multiplier = plan.noise_multiplier,
        steps = plan.steps,
        "dp-sgd plan"
    );
    let actual_rows = tokens.first().map_or(0, Vec::len);
    let parameters = network.parameters();
    let shapes: Vec<_> = parameters
        .iter()
        .map(|(_, v)| v.as_tensor().shape().clone())
        .collect();
    let mut optimizer = AdamW::new(parameters, training.learning_rate, training.weight_decay)?;
    let random_order = config.order == ColumnOrder::Random;
    let layout = &network.layout;
    let chunk = (MASKED_INPUT_FLOATS / (layout.columns() * layout.total).max(1)).max(1);
    let mut steps = 0u64;
    while steps < plan.steps {
        context.check_cancelled()?;
        if training
            .time_budget
            .is_some_and(|budget| started.elapsed().as_secs_f64() > budget)
        {
            break;
        }
        let sample = poisson_sample(actual_rows, plan.sample_rate, secret);
        let positions = row_positions(sample.len(), tokens.len(), random_order, seeded);
        let mut sums: Vec<Vec<f32>> = shapes.iter().map(|s| vec![0.0; s.elem_count()]).collect();
        for start in (0..sample.len()).step_by(chunk) {
            let part = &sample[start..(start + chunk).min(sample.len())];
            let batch_tokens: Vec<Vec<u32>> = tokens
                .iter()
                .map(|column| part.iter().map(|&r| column[r as usize]).collect())
                .collect();
            let clipped = network.clipped_gradients(
                &batch_tokens,
                &positions[start..start + part.len()],
                settings.clip_norm,
            )?;
            for (sum, gradient) in sums.iter_mut().zip(&clipped.gradients) {
                let values = gradient
                    .flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(candle_error)?;
                for (s, v) in sum.iter_mut().zip(values) {
                    *s += v;
                }
            }
        }
        let mut gradients = Vec::with_capacity(sums.len());
        for (mut sum, shape) in sums.into_iter().zip(&shapes) {
            noise_and_average(&mut sum, plan.noise_std(), plan.expected_batch, secret)?;
            gradients
                .push(Tensor::from_vec(sum, shape.clone(), &Device::Cpu).map_err(candle_error)?);
        }
        optimizer.step(&gradients)?;
        steps += 1;
        if steps.is_multiple_of(steps_per_epoch) || steps == plan.steps {
            let epoch = steps.div_ceil(steps_per_epoch);
            let elapsed = started.elapsed().as_secs_f64();
            context.report(ProgressEvent {
                stage: "epoch",
                step: epoch,
                total: training.max_epochs as u64,
                message: format!("dp-sgd epoch {epoch}: step {steps} of {}", plan.steps),
                epoch: Some(epoch),
                eta_seconds: Some(elapsed / steps as f64 * plan.steps.saturating_sub(steps) as f64),
                ..Default::default()
            });
        }
    }
    tracker.charge("dp-sgd", plan.mechanism(steps))?;
    Ok(DpSgdRun {
        plan,
        steps,
        seconds: started.elapsed().as_secs_f64(),
    })
}
