//! DP-TVAE: the whole model trained with DP-SGD (Abadi et al., 2016).
//!
//! The fit reads the data only through mechanisms charged to one [`PrivacyTracker`]:
//! column statistics ([`DpStatistics::measure`]) build the transformer
//! ([`DataTransformer::fit_dp`]), then a fixed number of DP-SGD steps train the encoder,
//! decoder and learned scales together. Each step draws a Poisson sample (rate
//! `q = batch / noisy rows`), clips every row's whole-model gradient to `clip_norm`
//! ([`super::clipped`]), adds `N(0, σ²C²)` to the clipped sum, divides by the expected
//! batch and takes an Adam step. σ is set so the plan's steps land on the target ε; the
//! plan is charged once at the end for the steps actually run. No validation, no early
//! stopping, no loss recorded (each would read the data unaccounted); the category
//! calibration uses the noisy counts only.

use std::time::Instant;

use mirage_core::Table;
use mirage_privacy::dpsgd::{DpSgdPlan, poisson_sample};
use mirage_privacy::{PrivacyReport, PrivacyTracker};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::TvaeConfig;
use super::clipped::ClipBuffers;
use super::config::MODEL;
use super::network::{TvaeNetwork, Workspace};
use crate::dp::{
    self, DpSettings, DpStatistics, ensure_private, measured_columns, noise_gradients,
    noisy_targets, refuse_resume,
};
use crate::error::{ModelError, Result};
use crate::nn::{self, Adam, Matrix, WeightDecay};
use crate::progress::{FitContext, ProgressEvent};
use crate::training::{StopReason, TrainingOutcome};
use crate::transformer::{DataTransformer, Encoded, Span};

/// Latent codes per calibration round.
const CALIBRATION_SAMPLES: usize = 20_000;
/// Calibration rounds.
const CALIBRATION_ROUNDS: usize = 4;
/// Samples smaller than this run in one share.
const SPLIT_ROWS: usize = 128;

/// What a DP fit produces.
pub(super) struct DpFit {
    pub transformer: DataTransformer,
    pub network: TvaeNetwork,
    pub training: Option<TrainingOutcome>,
    pub report: PrivacyReport,
}

/// One DP-SGD step's clipped gradient sum over `rows`, split over two cores when there
/// is a replica: clipping is per row, so the two shares' sums add up exactly.
struct ClippedStep<'a> {
    network: &'a mut TvaeNetwork,
    data: &'a Encoded,
    spans: &'a [Span],
    factor: f32,
    clip_norm: f64,
    batch: Matrix,
    work: Workspace,
    buffers: ClipBuffers,
    replica: Option<(TvaeNetwork, Workspace, ClipBuffers, Matrix)>,
}

fn gather(batch: &mut Matrix, data: &Encoded, rows: &[u32]) {
    let width = data.width;
    batch.resize(rows.len(), width);
    for (dst, &row) in batch.data.chunks_mut(width).zip(rows) {
        let start = row as usize * width;
        dst.copy_from_slice(&data.data[start..start + width]);
    }
}

impl ClippedStep<'_> {
    fn run(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<()> {
        self.network.params.zero_grads();
        let (spans, factor, clip) = (self.spans, self.factor, self.clip_norm);
        match &mut self.replica {
            Some((replica, work, buffers, batch)) if rows.len() >= SPLIT_ROWS => {
                let (first, second) = rows.split_at(rows.len() / 2);
                gather(&mut self.batch, self.data, first);
                gather(batch, self.data, second);
                replica.params.copy_values_from(&self.network.params);
                replica.params.zero_grads();
                let mut second_rng = ChaCha8Rng::seed_from_u64(rng.random());
                let (network, own_batch, own_work, own_buffers) = (
                    &mut *self.network,
                    &self.batch,
                    &mut self.work,
                    &mut self.buffers,
                );
                let other = std::thread::scope(|scope| {
                    let other = scope.spawn(|| {
                        nn::serial(|| {
                            replica.clipped_gradients(
                                batch,
                                spans,
                                factor,
                                clip,
                                work,
                                buffers,
                                &mut second_rng,
                            )
                        })
                    });
                    nn::serial(|| {
                        network.clipped_gradients(
                            own_batch,
                            spans,
                            factor,
                            clip,
                            own_work,
                            own_buffers,
                            rng,
                        )
                    });
                    other.join()
                });
                other.map_err(|_| ModelError::Tensor {
                    message: "a DP-TVAE training thread panicked".into(),
                })?;
                self.network.params.add_grads_from(&replica.params);
            }
            _ => {
                gather(&mut self.batch, self.data, rows);
                self.network.clipped_gradients(
                    &self.batch,
                    spans,
                    factor,
                    clip,
                    &mut self.work,
                    &mut self.buffers,
                    rng,
                );
            }
        }
        Ok(())
    }
}

/// Fits DP-TVAE on `table` under `settings`.
pub(super) fn fit(
    table: &Table,
    config: &TvaeConfig,
    settings: &DpSettings,
    context: &mut FitContext,
) -> Result<DpFit> {
    let mut tracker = settings.tracker()?;
    // Every draw of the fit may feed the noise: from the OS, never from the saved seed.
    let mut rng = crate::dp::secret_rng()?;
    let stats = DpStatistics::measure(
        table,
        &measured_columns(table),
        settings,
        &mut tracker,
        &mut rng,
    )?;
    ensure_private(&tracker, settings)?;
    let transformer = DataTransformer::fit_dp(
        table.schema(),
        &stats,
        settings,
        &config.transformer,
        (!settings.strict).then_some(table),
    )?;
    let encoded = transformer.transform(table, &mut rng)?;
    context.report(ProgressEvent {
        stage: "encoding",
        step: 1,
        total: 1,
        message: format!(
            "{} encoded values per row from DP statistics",
            encoded.width
        ),
        ..Default::default()
    });
    let mut network = TvaeNetwork::new(
        transformer.width(),
        &config.encoder_dims,
        &config.decoder_dims,
        config.latent_dim,
        &mut rng,
    );
    let training = if transformer.width() == 0 {
        None
    } else {
        let outcome = train(
            &mut network,
            &transformer,
            &encoded,
            &stats,
            config,
            settings,
            &mut tracker,
            context,
            &mut rng,
        )?;
        if config.calibrate {
            let (spans, targets) = noisy_targets(&transformer);
            network.calibrate_categories(
                &spans,
                &targets,
                CALIBRATION_SAMPLES,
                CALIBRATION_ROUNDS,
                &mut rng,
            );
        }
        Some(outcome)
    };
    let report = dp::finish(&tracker, settings)?;
    Ok(DpFit {
        transformer,
        network,
        training,
        report,
    })
}

/// Runs the DP-SGD plan and charges what ran.
#[allow(clippy::too_many_arguments)]
fn train(
    network: &mut TvaeNetwork,
    transformer: &DataTransformer,
    encoded: &Encoded,
    stats: &DpStatistics,
    config: &TvaeConfig,
    settings: &DpSettings,
    tracker: &mut PrivacyTracker,
    context: &mut FitContext,
    rng: &mut ChaCha8Rng,
) -> Result<TrainingOutcome> {
    let start = Instant::now();
    let noisy_rows = stats.rows.round().max(1.0) as usize;
    let batch = config.training.batch_size.min(noisy_rows);
    let steps_per_epoch = noisy_rows.div_ceil(batch).max(1) as u64;
    let steps = config.training.max_epochs as u64 * steps_per_epoch;
    let plan = DpSgdPlan::for_target(tracker, noisy_rows, batch, steps, settings.clip_norm)?;
    let mut optimizer = Adam::new(
        &network.params,
        config.training.learning_rate as f32,
        (0.9, 0.999),
        WeightDecay::L2(config.training.weight_decay as f32),
    );
    let replica = (nn::threads() > 1).then(|| {
        (
            network.clone(),
            Workspace::default(),
            ClipBuffers::default(),
            Matrix::default(),
        )
    });
    let mut step = ClippedStep {
        network,
        data: encoded,
        spans: transformer.spans(),
        factor: config.loss_factor as f32,
        clip_norm: settings.clip_norm,
        batch: Matrix::default(),
        work: Workspace::default(),
        buffers: ClipBuffers::default(),
        replica,
    };
    let mut done = 0u64;
    let mut stop = StopReason::MaxEpochs;
    while done < plan.steps {
        context.check_cancelled()?;
        if config
            .training
            .time_budget
            .is_some_and(|budget| start.elapsed().as_secs_f64() > budget)
        {
            stop = StopReason::TimeBudget;
            break;
        }
        let rows = poisson_sample(encoded.rows, plan.sample_rate, rng);
        step.run(&rows, rng)?;
        noise_gradients(
            &mut step.network.params,
            plan.noise_std(),
            plan.expected_batch,
            rng,
        )?;
        optimizer.step(&mut step.network.params);
        step.network.clamp_sigma();
        done += 1;
        if done.is_multiple_of(steps_per_epoch) || done == plan.steps {
            let elapsed = start.elapsed().as_secs_f64();
            context.report(ProgressEvent {
                stage: "epoch",
                step: done,
                total: plan.steps,
                message: format!(
                    "DP-SGD step {done} of {} (σ = {:.3}, q = {:.4})",
                    plan.steps, plan.noise_multiplier, plan.sample_rate
                ),
                epoch: Some(done.div_ceil(steps_per_epoch)),
                eta_seconds: Some(elapsed / done as f64 * (plan.steps - done) as f64),
                ..Default::default()
            });
        }
    }
    if done > 0 {
        tracker.charge("dp-sgd of tvae", plan.mechanism(done))?;
    }
    let epochs = done.div_ceil(steps_per_epoch) as usize;
    Ok(TrainingOutcome {
        epochs,
        best_epoch: epochs,
        // A DP fit records no loss: it would be a statistic of the data left unaccounted.
        best_loss: 0.0,
        stop,
        seconds: start.elapsed().as_secs_f64(),
        history: Vec::new(),
    })
}

/// `MODEL`, for the refusal above.
pub(super) fn refuse_tvae_resume() -> ModelError {
    refuse_resume(MODEL)
}
