//! Pieces every DP-SGD fit shares: which columns to measure, the early refusal, the
//! transformer and encoded table from DP statistics, the schedule and loop of the DP-SGD
//! steps, the noise on the clipped gradient sums, the calibration targets from noisy
//! counts, and the refusal to resume.

use std::time::Instant;

use mirage_core::Table;
use mirage_core::schema::ColumnKind;
use mirage_privacy::PrivacyTracker;
use mirage_privacy::dpsgd::{DpSgdPlan, noise_and_average, poisson_sample};
use rand_chacha::ChaCha8Rng;

use super::{DpSettings, DpStatistics};
use crate::error::{ModelError, Result};
use crate::nn::ParamSet;
use crate::progress::{FitContext, ProgressEvent};
use crate::training::{StopReason, TrainingConfig, TrainingOutcome};
use crate::transformer::{Activation, DataTransformer, Encoded, Span, TransformerOptions};

/// The columns whose statistics a DP fit needs: all but identifiers, which get fresh
/// keys that read nothing. (Free text is passed on so that the tracker marks the run not
/// DP.)
pub fn measured_columns(table: &Table) -> Vec<usize> {
    table
        .schema()
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !matches!(c.kind, ColumnKind::Identifier))
        .map(|(i, _)| i)
        .collect()
}

/// Refuses early, before any training, what [`super::finish`] would refuse at the end.
pub fn ensure_private(tracker: &PrivacyTracker, settings: &DpSettings) -> Result<()> {
    if settings.strict && !tracker.not_dp_reasons().is_empty() {
        return Err(ModelError::NotPrivate {
            reasons: tracker.not_dp_reasons().to_vec(),
        });
    }
    Ok(())
}

/// What a DP-SGD fit of a transformer-encoded table starts from.
#[derive(Debug)]
pub struct DpEncoding {
    /// The tracker, charged for the column statistics.
    pub tracker: PrivacyTracker,
    /// The secret generator every later draw of the fit takes from.
    pub rng: ChaCha8Rng,
    pub stats: DpStatistics,
    /// Built from `stats` only.
    pub transformer: DataTransformer,
    pub encoded: Encoded,
}

/// The DP-SGD steps' schedule over the noisy row count.
#[derive(Debug)]
pub struct DpSchedule {
    /// The expected batch: the configured batch, at most the noisy row count.
    pub batch: usize,
    /// Steps per epoch: batches per epoch times steps per batch.
    pub steps_per_epoch: u64,
    pub plan: DpSgdPlan,
    /// Training stops early past this many seconds.
    pub time_budget: Option<f64>,
}

impl DpEncoding {
    /// Measures the DP column statistics of `table` (charged to a fresh tracker), refuses
    /// early what the end would refuse, builds the transformer from the statistics only
    /// and encodes the table; reports the encoding, its message ended by `note`.
    pub fn new(
        table: &Table,
        settings: &DpSettings,
        options: &TransformerOptions,
        context: &mut FitContext,
        note: fn(&DataTransformer) -> String,
    ) -> Result<Self> {
        let mut tracker = settings.tracker()?;
        // Every draw of the fit may feed the noise: from the OS, never from the saved seed.
        let mut rng = super::secret_rng()?;
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
            options,
            (!settings.strict).then_some(table),
        )?;
        let encoded = transformer.transform(table, &mut rng)?;
        context.report(ProgressEvent {
            stage: "encoding",
            step: 1,
            total: 1,
            message: format!(
                "{} encoded values per row from DP statistics{}",
                encoded.width,
                note(&transformer)
            ),
            ..Default::default()
        });
        Ok(Self {
            tracker,
            rng,
            stats,
            transformer,
            encoded,
        })
    }

    /// The plan for `training`'s epochs of `steps_per_batch` DP-SGD steps per expected
    /// batch (its batch size capped by the noisy row count), the noise set so that the
    /// plan lands on the target.
    pub fn schedule(
        &self,
        settings: &DpSettings,
        training: &TrainingConfig,
        steps_per_batch: u64,
    ) -> Result<DpSchedule> {
        let noisy_rows = self.stats.rows.round().max(1.0) as usize;
        let batch = training.batch_size.min(noisy_rows);
        let steps_per_epoch = noisy_rows.div_ceil(batch).max(1) as u64 * steps_per_batch;
        let steps = training.max_epochs as u64 * steps_per_epoch;
        let plan =
            DpSgdPlan::for_target(&self.tracker, noisy_rows, batch, steps, settings.clip_norm)?;
        Ok(DpSchedule {
            batch,
            steps_per_epoch,
            plan,
            time_budget: training.time_budget,
        })
    }
}

impl DpSchedule {
    /// Runs the plan's steps, `step(sample, n, rng)` for the n-th (from 1) on a Poisson
    /// sample of the `rows` rows, until they are done, the time budget is spent or the
    /// fit is cancelled (an error); charges the steps run to `tracker` as `label`.
    /// Progress events call each step a `step_name`. No loss is recorded: it would be a
    /// statistic of the data left unaccounted.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        rows: usize,
        step_name: &str,
        label: String,
        tracker: &mut PrivacyTracker,
        context: &mut FitContext,
        rng: &mut ChaCha8Rng,
        mut step: impl FnMut(&[u32], u64, &mut ChaCha8Rng) -> Result<()>,
    ) -> Result<TrainingOutcome> {
        let start = Instant::now();
        let plan = &self.plan;
        let mut done = 0u64;
        let mut stop = StopReason::MaxEpochs;
        while done < plan.steps {
            context.check_cancelled()?;
            if self
                .time_budget
                .is_some_and(|budget| start.elapsed().as_secs_f64() > budget)
            {
                stop = StopReason::TimeBudget;
                break;
            }
            let sample = poisson_sample(rows, plan.sample_rate, rng);
            done += 1;
            step(&sample, done, rng)?;
            if done.is_multiple_of(self.steps_per_epoch) || done == plan.steps {
                let elapsed = start.elapsed().as_secs_f64();
                context.report(ProgressEvent {
                    stage: "epoch",
                    step: done,
                    total: plan.steps,
                    message: format!(
                        "DP-SGD {step_name} {done} of {} (σ = {:.3}, q = {:.4})",
                        plan.steps, plan.noise_multiplier, plan.sample_rate
                    ),
                    epoch: Some(done.div_ceil(self.steps_per_epoch)),
                    eta_seconds: Some(elapsed / done as f64 * (plan.steps - done) as f64),
                    ..Default::default()
                });
            }
        }
        if done > 0 {
            tracker.charge(label, plan.mechanism(done))?;
        }
        let epochs = done.div_ceil(self.steps_per_epoch) as usize;
        Ok(TrainingOutcome {
            epochs,
            best_epoch: epochs,
            best_loss: 0.0,
            stop,
            seconds: start.elapsed().as_secs_f64(),
            history: Vec::new(),
        })
    }
}

/// The noisy shares of the one-hot categories and null indicators (the calibration's
/// targets), with the spans they apply to. Mode and digit spans are left out.
pub fn noisy_targets(transformer: &DataTransformer) -> (Vec<Span>, Vec<f32>) {
    let mut targets = vec![0.0f32; transformer.width()];
    let mut spans = Vec::new();
    for column in transformer.discrete_columns() {
        let span = transformer.spans()[column.span];
        debug_assert_eq!(span.activation, Activation::Softmax);
        let total: u64 = column.frequencies.iter().sum();
        for (j, &f) in column.frequencies.iter().enumerate() {
            targets[span.start + j] = (f as f64 / total.max(1) as f64) as f32;
        }
        spans.push(span);
    }
    (spans, targets)
}

/// Adds N(0, std²) to every trainable gradient and divides by the expected batch.
pub fn noise_gradients(
    params: &mut ParamSet,
    std: f64,
    expected_batch: f64,
    rng: &mut ChaCha8Rng,
) -> Result<()> {
    for i in 0..params.len() {
        let param = params.get_mut(params.id_at(i));
        if param.trainable {
            noise_and_average(&mut param.grad, std, expected_batch, rng)?;
        }
    }
    Ok(())
}

/// The error for a DP config that asks to resume from a checkpoint.
pub fn refuse_resume(model: &str) -> ModelError {
    ModelError::InvalidConfig {
        model: model.into(),
        field: "training.resume_from".into(),
        message: "a differentially private fit cannot resume from a checkpoint (the \
                  accountant would not see the earlier steps); start a new fit"
            .into(),
    }
}
