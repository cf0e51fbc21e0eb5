//! The interface every model implements, and the registry that fits and restores them.

use arrow::array::RecordBatch;
use mirage_core::records::ModelKind;
use mirage_core::{Condition, Schema, Table, Value};
use rand_chacha::ChaCha8Rng;

use crate::argn::{ArgnConfig, TabularArgn};
use crate::copula::GaussianCopula;
use crate::ctgan::Ctgan;
use crate::error::{ModelError, Result};
use crate::mst::{Mst, MstConfig};
use crate::progress::FitContext;
use crate::tabddpm::TabDdpm;
use crate::tvae::{Tvae, TvaeConfig};

/// A trained model that can generate rows.
///
/// Implementations are immutable once fitted: sampling takes `&self`, so one model serves
/// many concurrent generations. Batching, seeding and conditions are handled once for all
/// models by [`crate::sampling`].
pub trait Synthesizer: Send + Sync + std::fmt::Debug {
    /// The model family.
    fn kind(&self) -> ModelKind;

    /// The schema of the rows it generates (the training table's modelled columns).
    fn schema(&self) -> &Schema;

    /// Draws `rows` unconditional rows. `first_row` is the index of the first of them in
    /// the whole generation, so generated keys stay unique across batches.
    fn sample_batch(
        &self,
        rows: usize,
        first_row: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch>;

    /// Draws `rows` rows that satisfy every condition without rejection, when the model
    /// can condition natively; `None` when it cannot (then [`crate::sampling`] rejects).
    /// Operands are in the columns' units (datetimes as epoch milliseconds).
    fn sample_conditioned(
        &self,
        _rows: usize,
        _first_row: u64,
        _conditions: &[Condition],
        _rng: &mut ChaCha8Rng,
    ) -> Option<Result<RecordBatch>> {
        None
    }

    /// The values a discrete column can take, if the model knows them.
    fn category_set(&self, _column: &str) -> Option<Vec<Value>> {
        None
    }

    /// The `[min, max]` a numeric column stays in, if the model bounds it.
    fn numeric_range(&self, _column: &str) -> Option<(f64, f64)> {
        None
    }

    /// What a differentially private fit spent, with its accountant's parameters;
    /// `None` for models trained without DP.
    fn privacy_report(&self) -> Option<mirage_privacy::PrivacyReport> {
        None
    }

    /// The hyperparameters, as saved in the model directory.
    fn config_json(&self) -> serde_json::Value;

    /// The learned parameters, as saved in the model directory.
    fn parameters_json(&self) -> Result<serde_json::Value>;

    /// Writes the model's tensors to `path` as safetensors; `false` (nothing written) for
    /// models without tensors.
    fn save_weights(&self, _path: &std::path::Path) -> Result<bool> {
        Ok(false)
    }
}

/// Refuses a table with no rows or no columns: nothing to learn from.
pub(crate) fn ensure_not_empty(table: &Table) -> Result<()> {
    let (rows, columns) = (table.num_rows(), table.schema().len());
    if rows == 0 || columns == 0 {
        return Err(ModelError::EmptyTable {
            message: format!("{rows} rows and {columns} columns"),
        });
    }
    Ok(())
}

/// The models this build can fit.
pub fn available_models() -> &'static [ModelKind] {
    &[
        ModelKind::GaussianCopula,
        ModelKind::TabularArgn,
        ModelKind::Tvae,
        ModelKind::Ctgan,
        ModelKind::CopulaGan,
        ModelKind::TabDdpm,
        ModelKind::Mst,
    ]
}

fn unknown(kind: ModelKind) -> ModelError {
    ModelError::UnknownModel {
        name: kind.name().to_string(),
        available: available_models()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Parses a model name from the command line or the API.
pub fn parse_model_kind(name: &str) -> Result<ModelKind> {
    let kind = ModelKind::from_name(name).ok_or_else(|| ModelError::UnknownModel {
        name: name.to_string(),
        available: available_models()
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    if available_models().contains(&kind) {
        Ok(kind)
    } else {
        Err(unknown(kind))
    }
}

/// Fits a model of `kind` on `table` with a JSON config (`null` or `{}` for defaults).
pub fn fit(
    kind: ModelKind,
    table: &Table,
    config: &serde_json::Value,
    context: &mut FitContext,
) -> Result<Box<dyn Synthesizer>> {
    match kind {
        ModelKind::GaussianCopula => {
            let config = crate::copula::GaussianCopulaConfig::from_json(config)?;
            Ok(Box::new(GaussianCopula::fit(table, config, context)?))
        }
        ModelKind::TabularArgn => {
            let config = ArgnConfig::from_json(config)?;
            Ok(Box::new(TabularArgn::fit(table, config, context)?))
        }
        ModelKind::Tvae => {
            let config = TvaeConfig::from_json(config)?;
            Ok(Box::new(Tvae::fit(table, config, context)?))
        }
        ModelKind::Ctgan | ModelKind::CopulaGan => {
            Ok(Box::new(Ctgan::fit(kind, table, config, context)?))
        }
        ModelKind::TabDdpm => Ok(Box::new(TabDdpm::fit(table, config, context)?)),
        ModelKind::Mst => Ok(Box::new(Mst::fit(
            table,
            MstConfig::from_json(config)?,
            context,
        )?)),
        other => Err(unknown(other)),
    }
}

/// Rebuilds a saved model from its parts (models without weights).
pub fn restore(
    kind: ModelKind,
    schema: Schema,
    config: &serde_json::Value,
    parameters: serde_json::Value,
) -> Result<Box<dyn Synthesizer>> {
    restore_with_weights(kind, schema, config, parameters, None)
}

/// Rebuilds a saved model from its parts and its `weights.safetensors` bytes.
pub fn restore_with_weights(
    kind: ModelKind,
    schema: Schema,
    config: &serde_json::Value,
    parameters: serde_json::Value,
    weights: Option<&[u8]>,
) -> Result<Box<dyn Synthesizer>> {
    match kind {
        ModelKind::TabularArgn => Ok(Box::new(TabularArgn::restore(
            schema, config, parameters, weights,
        )?)),
        ModelKind::GaussianCopula => Ok(Box::new(GaussianCopula::restore(
            schema, config, parameters,
        )?)),
        ModelKind::Tvae => Ok(Box::new(Tvae::restore(
            schema, config, parameters, weights,
        )?)),
        ModelKind::Ctgan | ModelKind::CopulaGan => Ok(Box::new(Ctgan::restore(
            kind, schema, config, parameters, weights,
        )?)),
        ModelKind::TabDdpm => Ok(Box::new(TabDdpm::restore(
            schema, config, parameters, weights,
        )?)),
        ModelKind::Mst => Ok(Box::new(Mst::restore(schema, config, parameters)?)),
        other => Err(unknown(other)),
    }
}
