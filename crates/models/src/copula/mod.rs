//! The Gaussian copula synthesizer.
//!
//! Fitting learns one marginal per column (numeric: a parametric family or the empirical
//! quantile function, with bounds, rounding and a null rate; discrete: frequency intervals
//! on [0, 1] with null as a category), maps every row to normal scores through those
//! marginals (probability integral transform, then Φ⁻¹), and estimates the correlation of
//! the scores. Sampling draws correlated normals through the Cholesky factor of that
//! correlation, maps them back to [0, 1] with Φ, and reads each column's value from its
//! marginal. Keys and free text are generated outside the copula.

mod categorical;
mod config;
mod family;
mod generated;
pub(crate) mod numeric;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Schema, Table, Value};
use rand::seq::index::sample as sample_indices;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use tracing::debug;

pub use categorical::CategoricalMarginal;
pub use config::{CategoryOrder, GaussianCopulaConfig, MarginalChoice};
pub use family::Family;
pub use generated::{KeyChar, KeyGenerator, TextGenerator};
pub use numeric::{NumberKind, NumericMarginal};

use crate::columns::{build_numeric, build_values, encode_categories, numeric_values};
use crate::error::{ModelError, Result};
use crate::progress::{FitContext, ProgressEvent};
use crate::stats::linalg::SquareMatrix;
use crate::stats::normal;
use crate::synthesizer::Synthesizer;

/// How one column is generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ColumnModel {
    /// Numbers and datetimes, inside the copula.
    Numeric(NumericMarginal),
    /// Labels, booleans and constants, inside the copula.
    Categorical(CategoricalMarginal),
    /// Unique keys, outside the copula.
    Key(KeyGenerator),
    /// Free text, outside the copula.
    Text(TextGenerator),
}

impl ColumnModel {
    /// Dimensions the column takes in the copula: a numeric column one for its values and
    /// one for its nulls (if any), a discrete column one, keys and text none.
    fn dimensions(&self) -> usize {
        match self {
            ColumnModel::Numeric(m) => 1 + usize::from(m.has_nulls()),
            ColumnModel::Categorical(_) => 1,
            ColumnModel::Key(_) | ColumnModel::Text(_) => 0,
        }
    }
}

fn dimension_count(columns: &[ColumnModel]) -> usize {
    columns.iter().map(ColumnModel::dimensions).sum()
}

/// What the copula learned; saved as the model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parameters {
    columns: Vec<ColumnModel>,
    /// Row-major correlation of the normal scores of the copula dimensions, in column
    /// order, after shrinkage (so it has a Cholesky factor).
    correlation: Vec<f64>,
    /// How far the correlation was shrunk towards the identity to make it positive definite.
    shrinkage: f64,
}

/// A fitted Gaussian copula.
#[derive(Debug, Clone)]
pub struct GaussianCopula {
    config: GaussianCopulaConfig,
    schema: Schema,
    columns: Vec<ColumnModel>,
    correlation: SquareMatrix,
    cholesky: SquareMatrix,
    shrinkage: f64,
}

/// Uniform scores are kept this far from 0 and 1 so Φ⁻¹ stays finite.
const EDGE: f64 = 1e-12;

impl GaussianCopula {
    /// Fits the copula on every column of `table`.
    pub fn fit(
        table: &Table,
        config: GaussianCopulaConfig,
        context: &mut FitContext,
    ) -> Result<Self> {
        config.validate()?;
        let schema = table.schema().clone();
        let total_rows = table.num_rows();
        crate::synthesizer::ensure_not_empty(table)?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let rows: Option<Vec<usize>> = config.max_fit_rows.filter(|&m| m < total_rows).map(|m| {
            let mut picked = sample_indices(&mut rng, total_rows, m).into_vec();
            picked.sort_unstable();
            picked
        });
        let pick = |values: Vec<Option<f64>>| match &rows {
            Some(rows) => rows.iter().map(|&r| values[r]).collect(),
            None => values,
        };

        let steps = schema.len() as u64 + 1;
        let to_scores = |u: Vec<f64>| -> Vec<f64> {
            u.into_iter()
                .map(|u| {
                    if u.is_nan() {
                        u
                    } else {
                        normal::quantile(u.clamp(EDGE, 1.0 - EDGE))
                    }
                })
                .collect()
        };
        // Numbers, keys and text first: the normal scores of the numbers then decide the
        // order of each discrete column's categories (see `CategoricalMarginal::fit`).
        let discrete = |kind: &ColumnKind| {
            !matches!(
                kind,
                ColumnKind::Integer
                    | ColumnKind::Float
                    | ColumnKind::Datetime { .. }
                    | ColumnKind::Identifier
            ) && !matches!(kind, ColumnKind::Text)
        };
        let order: Vec<usize> = (0..schema.len())
            .filter(|&i| !discrete(&schema.columns[i].kind))
            .chain((0..schema.len()).filter(|&i| discrete(&schema.columns[i].kind)))
            .collect();
        let mut fitted: Vec<Option<(ColumnModel, Vec<Vec<f64>>)>> = vec![None; schema.len()];
        let mut references: Vec<Vec<f64>> = Vec::new();
        for (step, &index) in order.iter().enumerate() {
            context.check_cancelled()?;
            let column = &schema.columns[index];
            let array = table.column(index)?;
            let name = column.name.as_str();
            let (model, dims): (ColumnModel, Vec<Vec<f64>>) = match &column.kind {
                ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. } => {
                    let kind = match column.kind {
                        ColumnKind::Integer => NumberKind::Integer,
                        ColumnKind::Float => NumberKind::Float,
                        _ => NumberKind::Datetime,
                    };
                    let values = pick(numeric_values(name, array.as_ref())?);
                    match NumericMarginal::fit(&values, kind, &config, &mut rng) {
                        Some((marginal, u, nulls)) => {
                            let value_scores = to_scores(u);
                            references.push(value_scores.clone());
                            let mut dims = vec![value_scores];
                            dims.extend(nulls.map(to_scores));
                            (ColumnModel::Numeric(marginal), dims)
                        }
                        None => all_null(values.len(), &mut rng),
                    }
                }
                ColumnKind::Identifier => (fit_key(name, array.as_ref())?, Vec::new()),
                ColumnKind::Text if column.physical == PhysicalType::Utf8 => (
                    ColumnModel::Text(TextGenerator::fit_column(name, array.as_ref())?),
                    Vec::new(),
                ),
                _ => {
                    let (categories, codes) = encode_categories(name, array.as_ref())?;
                    let codes: Vec<Option<u32>> = match &rows {
                        Some(rows) => rows.iter().map(|&r| codes[r]).collect(),
                        None => codes,
                    };
                    let reference = match config.category_order {
                        CategoryOrder::Association => {
                            categorical::strongest_reference(&categories, &codes, &references)
                        }
                        CategoryOrder::Frequency => None,
                    };
                    match CategoricalMarginal::fit(&categories, &codes, reference, &mut rng) {
                        Some((marginal, u)) => {
                            (ColumnModel::Categorical(marginal), vec![to_scores(u)])
                        }
                        None => all_null(codes.len(), &mut rng),
                    }
                }
            };
            debug!(column = name, model = ?model_name(&model), "marginal fitted");
            fitted[index] = Some((model, dims));
            context.report(ProgressEvent {
                stage: "marginals",
                step: step as u64 + 1,
                total: steps,
                losses: Vec::new(),
                message: format!("fitted {name}"),
                ..Default::default()
            });
        }
        let mut columns = Vec::with_capacity(schema.len());
        let mut scores: Vec<Vec<f64>> = Vec::new();
        for (model, dims) in fitted.into_iter().flatten() {
            columns.push(model);
            scores.extend(dims);
        }
        debug_assert_eq!(columns.len(), schema.len());
        context.check_cancelled()?;
        let (correlation, cholesky, shrinkage) =
            SquareMatrix::correlation(&scores).shrink_to_positive_definite();
        context.report(ProgressEvent {
            stage: "correlation",
            step: steps,
            total: steps,
            losses: Vec::new(),
            message: format!("{0}×{0} correlation, shrinkage {shrinkage}", scores.len()),
            ..Default::default()
        });
        Ok(Self {
            config,
            schema,
            columns,
            correlation,
            cholesky,
            shrinkage,
        })
    }

    /// Rebuilds a saved copula.
    pub fn restore(
        schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
    ) -> Result<Self> {
        let config = GaussianCopulaConfig::from_json(config)?;
        let corrupt = |message: String| ModelError::InvalidConfig {
            model: "gaussian-copula".into(),
            field: "parameters".into(),
            message,
        };
        let parameters: Parameters =
            serde_json::from_value(parameters).map_err(|e| corrupt(e.to_string()))?;
        if parameters.columns.len() != schema.len() {
            return Err(corrupt(format!(
                "{} column models for {} schema columns",
                parameters.columns.len(),
                schema.len()
            )));
        }
        let dimensions = dimension_count(&parameters.columns);
        let correlation = SquareMatrix::from_rows(dimensions, parameters.correlation)
            .ok_or_else(|| corrupt("correlation matrix has the wrong size".into()))?;
        let cholesky = correlation
            .cholesky()
            .ok_or_else(|| corrupt("correlation matrix is not positive definite".into()))?;
        Ok(Self {
            config,
            schema,
            columns: parameters.columns,
            correlation,
            cholesky,
            shrinkage: parameters.shrinkage,
        })
    }

    /// How each column is generated, in schema order.
    pub fn column_models(&self) -> &[ColumnModel] {
        &self.columns
    }

    /// The correlation of the copula columns' normal scores.
    pub fn correlation(&self) -> &SquareMatrix {
        &self.correlation
    }

    fn column_model(&self, name: &str) -> Option<&ColumnModel> {
        self.schema.index_of(name).map(|i| &self.columns[i])
    }
}

fn model_name(model: &ColumnModel) -> &'static str {
    match model {
        ColumnModel::Numeric(m) => m.family.name(),
        ColumnModel::Categorical(_) => "categorical",
        ColumnModel::Key(_) => "key",
        ColumnModel::Text(_) => "text",
    }
}

/// A column with no values at all: always null.
fn all_null(rows: usize, rng: &mut impl Rng) -> (ColumnModel, Vec<Vec<f64>>) {
    let marginal = CategoricalMarginal {
        categories: vec![Value::Null],
        cumulative: vec![1.0],
    };
    let u: Vec<f64> = (0..rows).map(|_| rng.random::<f64>()).collect();
    let scores = u
        .into_iter()
        .map(|u| normal::quantile(u.clamp(EDGE, 1.0 - EDGE)))
        .collect();
    (ColumnModel::Categorical(marginal), vec![scores])
}

fn fit_key(column: &str, array: &dyn Array) -> Result<ColumnModel> {
    Ok(ColumnModel::Key(KeyGenerator::fit_column(column, array)?))
}

impl Synthesizer for GaussianCopula {
    fn kind(&self) -> ModelKind {
        ModelKind::GaussianCopula
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn sample_batch(
        &self,
        rows: usize,
        first_row: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let k = self.correlation.size();
        // uniforms[j][r]: copula dimension j, row r.
        let mut uniforms = vec![Vec::with_capacity(rows); k];
        let mut eps = vec![0.0; k];
        let mut z = vec![0.0; k];
        for _ in 0..rows {
            eps.iter_mut().for_each(|e| *e = rng.sample(StandardNormal));
            self.cholesky.lower_mul(&eps, &mut z);
            for (j, zj) in z.iter().enumerate() {
                uniforms[j].push(normal::cdf(*zj));
            }
        }
        let mut next = 0;
        let mut take = || {
            next += 1;
            &uniforms[next - 1]
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (column, model) in self.schema.columns.iter().zip(&self.columns) {
            let array: ArrayRef = match model {
                ColumnModel::Numeric(marginal) => {
                    let u = take();
                    let nulls = marginal.has_nulls().then(&mut take);
                    let values: Vec<Option<f64>> = (0..rows)
                        .map(|r| {
                            let null_u = nulls.map(|n| n[r]);
                            marginal.value_at(u[r], null_u, self.config.enforce_bounds)
                        })
                        .collect();
                    build_numeric(column.physical, &values)
                }
                ColumnModel::Categorical(marginal) => {
                    let u = take();
                    let values: Vec<Option<&Value>> =
                        u.iter().map(|&u| Some(marginal.value_at(u))).collect();
                    build_values(&column.name, column.physical, &values)?
                }
                ColumnModel::Key(generator) => generator.array(column.physical, rows, first_row),
                ColumnModel::Text(generator) => {
                    let mut b = StringBuilder::with_capacity(rows, rows * 16);
                    (0..rows).for_each(|_| b.append_option(generator.sample(rng)));
                    Arc::new(b.finish())
                }
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }

    fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        match self.column_model(column)? {
            ColumnModel::Categorical(m) => Some(m.non_null()),
            _ => None,
        }
    }

    fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        match self.column_model(column)? {
            ColumnModel::Numeric(m) if self.config.enforce_bounds => Some((m.min, m.max)),
            _ => None,
        }
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null)
    }

    fn parameters_json(&self) -> Result<serde_json::Value> {
        let parameters = Parameters {
            columns: self.columns.clone(),
            correlation: self.correlation.values().to_vec(),
            shrinkage: self.shrinkage,
        };
        serde_json::to_value(&parameters).map_err(|e| ModelError::InvalidConfig {
            model: "gaussian-copula".into(),
            field: "parameters".into(),
            message: e.to_string(),
        })
    }
}
