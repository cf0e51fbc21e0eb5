//! DP-TVAE: the whole model trained with DP-SGD (Abadi et al., 2016).
//!
//! The fit reads the data only through mechanisms charged to one
//! [`PrivacyTracker`](mirage_privacy::PrivacyTracker):
//! column statistics ([`crate::dp::DpStatistics::measure`]) build the transformer
//! ([`DataTransformer::fit_dp`]), then a fixed number of DP-SGD steps train the encoder,
//! decoder and learned scales together. Each step draws a Poisson sample (rate
//! `q = batch / noisy rows`), clips every row's whole-model gradient to `clip_norm`
//! ([`super::clipped`]), adds `N(0, σ²C²)` to the clipped sum, divides by the expected
//! batch and takes an Adam step. σ is set so the plan's steps land on the target ε; the
//! plan is charged once at the end for the steps actually run. No validation, no early
//! stopping, no loss recorded (each would read the data unaccounted); the category
//! calibration uses the noisy counts only.

use mirage_core::Table;
use mirage_privacy::PrivacyReport;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::clipped::ClipBuffers;
use super::config::MODEL;
use super::network::{TvaeNetwork, Workspace};
use super::{SPLIT_ROWS, TvaeConfig, calibrate, gather, new_network};
use crate::dp::{self, DpEncoding, DpSettings, noise_gradients, noisy_targets, refuse_resume};
use crate::error::{ModelError, Result};
use crate::nn::{self, Adam, Matrix, WeightDecay};
use crate::progress::FitContext;
use crate::training::TrainingOutcome;
use crate::transformer::{DataTransformer, Encoded, Span};

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
    let mut dp = DpEncoding::new(table, settings, &config.transformer, context, |_| {
        String::new()
    })?;
    let width = dp.transformer.width();
    let mut network = new_network(width, config, &mut dp.rng);
    let training = if width == 0 {
        None
    } else {
        let outcome = train(&mut network, &mut dp, config, settings, context)?;
        if config.calibrate {
            let (spans, targets) = noisy_targets(&dp.transformer);
            calibrate(&mut network, &spans, &targets, &mut dp.rng);
        }
        Some(outcome)
    };
    let report = dp::finish(&dp.tracker, settings)?;
    Ok(DpFit {
        transformer: dp.transformer,
        network,
        training,
        report,
    })
}

/// Runs the DP-SGD plan and charges what ran.
fn train(
    network: &mut TvaeNetwork,
    dp: &mut DpEncoding,
    config: &TvaeConfig,
    settings: &DpSettings,
    context: &mut FitContext,
) -> Result<TrainingOutcome> {
    let training = &config.training;
    let schedule = dp.schedule(settings, training, 1)?;
    let mut optimizer = Adam::new(
        &network.params,
        training.learning_rate as f32,
        (0.9, 0.999),
        WeightDecay::L2(training.weight_decay as f32),
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
        data: &dp.encoded,
        spans: dp.transformer.spans(),
        factor: config.loss_factor as f32,
        clip_norm: settings.clip_norm,
        batch: Matrix::default(),
        work: Workspace::default(),
        buffers: ClipBuffers::default(),
        replica,
    };
    let (noise_std, expected_batch) = (schedule.plan.noise_std(), schedule.plan.expected_batch);
    schedule.run(
        dp.encoded.rows,
        "step",
        "dp-sgd of tvae".into(),
        &mut dp.tracker,
        context,
        &mut dp.rng,
        |rows, _, rng| {
            step.run(rows, rng)?;
            noise_gradients(&mut step.network.params, noise_std, expected_batch, rng)?;
            optimizer.step(&mut step.network.params);
            step.network.clamp_sigma();
            Ok(())
        },
    )
}

/// `MODEL`, for the refusal above.
pub(super) fn refuse_tvae_resume() -> ModelError {
    refuse_resume(MODEL)
}
