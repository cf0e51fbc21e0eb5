//! Pieces every DP-SGD fit shares: which columns to measure, the early refusal, the
//! noise on the clipped gradient sums, the calibration targets from noisy counts, and the
//! refusal to resume.

use mirage_core::Table;
use mirage_core::schema::ColumnKind;
use mirage_privacy::PrivacyTracker;
use mirage_privacy::dpsgd::noise_and_average;
use rand_chacha::ChaCha8Rng;

use super::DpSettings;
use crate::error::{ModelError, Result};
use crate::nn::ParamSet;
use crate::transformer::{Activation, DataTransformer, Span};

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
