//! TabularARGN (Tiwald et al., arXiv 2501.12012): an auto-regressive network over
//! discretised columns.
//!
//! Fitting turns every column into tokens ([`encoding`]), trains one small head per column
//! that predicts its token from the embeddings of the columns before it in a per-row column
//! order ([`network`]; random orders by default so that any subset of columns can be
//! conditioned on), with the shared training loop ([`crate::training`]). Sampling draws
//! columns one at a time in a per-row order ([`sampler`]) with temperature and top-p;
//! conditions restrict a column's tokens and put it first, so they hold without
//! rejection; imputation fixes the known cells and draws the rest (both in `generate.rs`,
//! with the decoding of tokens into values). Keys and free text are generated as the
//! Gaussian copula does, outside the network.
//!
//! With a `privacy` section in the config the fit is DP-TabularARGN ([`dp`]): encoders
//! from DP statistics, DP-SGD for a fixed number of steps, and a privacy report kept with
//! the model.

mod config;
pub mod dp;
pub mod encoding;
mod generate;
pub mod network;
pub mod sampler;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, RecordBatch};
use candle_core::{Device, Tensor};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Condition, Schema, Table, Value};
use mirage_privacy::PrivacyReport;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{ArgnConfig, ColumnOrder};
pub use encoding::{Token, TokenEncoder};

use self::network::{Layout, Network, SamplingHeads};
use crate::columns::{encode_categories, numeric_values};
use crate::copula::{KeyGenerator, TextGenerator};
use crate::error::{ModelError, Result};
use crate::progress::{FitContext, ProgressEvent};
use crate::synthesizer::Synthesizer;
use crate::training::{self, Trainable, TrainingOutcome, candle_error};

/// How one column is generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ColumnCodec {
    /// Tokens, modelled by the network.
    Tokens(TokenEncoder),
    /// Unique keys, outside the network.
    Key(KeyGenerator),
    /// Free text, outside the network.
    Text(TextGenerator),
}

/// What the model learned besides its weights; saved as the model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parameters {
    columns: Vec<ColumnCodec>,
    training: Option<TrainingOutcome>,
    /// What a DP fit spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    privacy: Option<PrivacyReport>,
}

/// A fitted TabularARGN.
#[derive(Debug)]
pub struct TabularArgn {
    config: ArgnConfig,
    schema: Schema,
    columns: Vec<ColumnCodec>,
    /// Schema index of each network column.
    network_columns: Vec<usize>,
    network: Network,
    heads: SamplingHeads,
    training: Option<TrainingOutcome>,
    privacy: Option<PrivacyReport>,
}

/// Trains the network on token rows.
struct TokenTrainer<'a> {
    network: &'a Network,
    tokens: &'a [Vec<u32>],
    random_order: bool,
    /// Most floats of masked inputs built at once ([`MASKED_INPUT_FLOATS`]).
    slice_floats: usize,
}

impl Trainable for TokenTrainer<'_> {
    fn parameters(&self) -> Vec<(String, candle_core::Var)> {
        self.network.parameters()
    }

    fn loss_and_gradients(&self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<(f64, Vec<Tensor>)> {
        let (batch, positions) = self.batch(rows, rng);
        let chunk = self.chunk_rows();
        if rows.len() <= chunk {
            return self.network.loss_and_gradients(&batch, &positions);
        }
        // Wide tables: the same batch in slices, gradients weighted by slice size, so
        // the masked inputs stay within memory bounds.
        let (mut loss, mut sum): (f64, Option<Vec<Tensor>>) = (0.0, None);
        for start in (0..rows.len()).step_by(chunk) {
            let end = (start + chunk).min(rows.len());
            let part: Vec<Vec<u32>> = batch.iter().map(|c| c[start..end].to_vec()).collect();
            let (part_loss, grads) = self
                .network
                .loss_and_gradients(&part, &positions[start..end])?;
            let weight = (end - start) as f64 / rows.len() as f64;
            loss += part_loss * weight;
            let weighted = grads
                .iter()
                .map(|g| g.affine(weight, 0.0))
                .collect::<candle_core::Result<Vec<_>>>()
                .map_err(candle_error)?;
            sum = Some(match sum {
                None => weighted,
                Some(total) => total
                    .iter()
                    .zip(&weighted)
                    .map(|(a, b)| a + b)
                    .collect::<candle_core::Result<Vec<_>>>()
                    .map_err(candle_error)?,
            });
        }
        Ok((loss, sum.unwrap_or_default()))
    }

    fn loss(&self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64> {
        let (batch, positions) = self.batch(rows, rng);
        let chunk = self.chunk_rows();
        let mut loss = 0.0;
        for start in (0..rows.len()).step_by(chunk) {
            let end = (start + chunk).min(rows.len());
            let part: Vec<Vec<u32>> = batch.iter().map(|c| c[start..end].to_vec()).collect();
            let weight = (end - start) as f64 / rows.len() as f64;
            loss += self.network.loss(&part, &positions[start..end])? * weight;
        }
        Ok(loss)
    }
}

/// Most floats of masked inputs `(J, B, D)` built at once (32 MB).
pub(crate) const MASKED_INPUT_FLOATS: usize = 8 << 20;

impl TokenTrainer<'_> {
    /// Rows per slice so that one slice's masked inputs stay under `slice_floats`.
    fn chunk_rows(&self) -> usize {
        let layout = &self.network.layout;
        (self.slice_floats / (layout.columns() * layout.total).max(1)).max(1)
    }

    /// The rows' tokens by column, and a column order per row.
    fn batch(&self, rows: &[u32], rng: &mut ChaCha8Rng) -> (Vec<Vec<u32>>, Vec<Vec<usize>>) {
        let batch: Vec<Vec<u32>> = self
            .tokens
            .iter()
            .map(|column| rows.iter().map(|&r| column[r as usize]).collect())
            .collect();
        let positions = row_positions(rows.len(), self.tokens.len(), self.random_order, rng);
        (batch, positions)
    }
}

/// Each row's column positions: a fresh permutation per row, or the identity.
pub(crate) fn row_positions(
    rows: usize,
    columns: usize,
    random: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    (0..rows)
        .map(|_| {
            let mut order: Vec<usize> = (0..columns).collect();
            if random {
                order.shuffle(rng);
            }
            let mut position = vec![0; columns];
            for (step, column) in order.into_iter().enumerate() {
                position[column] = step;
            }
            position
        })
        .collect()
}

fn fit_codec(
    kind: &ColumnKind,
    physical: PhysicalType,
    name: &str,
    array: &dyn Array,
    config: &ArgnConfig,
) -> Result<ColumnCodec> {
    let options = config.encoding();
    Ok(match kind {
        ColumnKind::Identifier => ColumnCodec::Key(KeyGenerator::fit_column(name, array)?),
        ColumnKind::Text if physical == PhysicalType::Utf8 => {
            ColumnCodec::Text(TextGenerator::fit_column(name, array)?)
        }
        ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. }
            if physical != PhysicalType::Utf8 =>
        {
            let values = numeric_values(name, array)?;
            let integer = matches!(kind, ColumnKind::Integer) || physical == PhysicalType::Int64;
            let datetime = matches!(kind, ColumnKind::Datetime { .. })
                || physical == PhysicalType::TimestampMillis;
            ColumnCodec::Tokens(TokenEncoder::fit_numeric(
                &values, integer, datetime, &options,
            ))
        }
        _ => {
            let values = column_values(name, array)?;
            ColumnCodec::Tokens(TokenEncoder::fit_discrete(&values, &options))
        }
    })
}

fn column_values(name: &str, array: &dyn Array) -> Result<Vec<Value>> {
    let (categories, codes) = encode_categories(name, array)?;
    Ok(codes
        .into_iter()
        .map(|c| c.map_or(Value::Null, |c| categories[c as usize].clone()))
        .collect())
}

/// The tokens of one column of a table (`None` where the value has no token).
fn encode_column(
    encoder: &TokenEncoder,
    name: &str,
    array: &dyn Array,
) -> Result<Vec<Option<u32>>> {
    if encoder.numeric.is_some() {
        let values = numeric_values(name, array)?;
        return Ok(values
            .into_iter()
            .map(|v| encoder.encode(&v.map_or(Value::Null, Value::Float)))
            .collect());
    }
    Ok(column_values(name, array)?
        .iter()
        .map(|v| encoder.encode(v))
        .collect())
}

/// The schema indexes of the token columns: the network's columns.
fn network_columns(columns: &[ColumnCodec]) -> Vec<usize> {
    (0..columns.len())
        .filter(|&i| matches!(columns[i], ColumnCodec::Tokens(_)))
        .collect()
}

/// The tokens of each network column of `table` (`tokens[column][row]`), with
/// `missing(encoder)` for a value that has no token.
fn encode_tokens(
    table: &Table,
    columns: &[ColumnCodec],
    network_columns: &[usize],
    missing: impl Fn(&TokenEncoder) -> u32,
) -> Result<Vec<Vec<u32>>> {
    let mut tokens = Vec::with_capacity(network_columns.len());
    for &index in network_columns {
        let ColumnCodec::Tokens(encoder) = &columns[index] else {
            continue;
        };
        let array = table.column(index)?;
        let name = &table.schema().columns[index].name;
        let encoded = encode_column(encoder, name, array.as_ref())?;
        let fallback = missing(encoder);
        tokens.push(encoded.into_iter().map(|t| t.unwrap_or(fallback)).collect());
    }
    Ok(tokens)
}

impl TabularArgn {
    /// Fits the model on every column of `table`.
    pub fn fit(table: &Table, config: ArgnConfig, context: &mut FitContext) -> Result<Self> {
        config.validate()?;
        if let Some(settings) = config.dp_settings()? {
            crate::synthesizer::ensure_not_empty(table)?;
            return dp::fit(table, config, settings, context);
        }
        let schema = table.schema().clone();
        let rows = table.num_rows();
        crate::synthesizer::ensure_not_empty(table)?;
        let columns: Vec<ColumnCodec> =
            match training::checkpoint::resumed_encoder::<Vec<ColumnCodec>>(&config.training)? {
                Some(mut columns) => {
                    rebuild_indexes(&mut columns);
                    columns
                }
                None => {
                    let mut columns = Vec::with_capacity(schema.len());
                    for (index, column) in schema.columns.iter().enumerate() {
                        context.check_cancelled()?;
                        let array = table.column(index)?;
                        columns.push(fit_codec(
                            &column.kind,
                            column.physical,
                            &column.name,
                            array.as_ref(),
                            &config,
                        )?);
                    }
                    columns
                }
            };
        if columns.len() != schema.len() {
            return Err(ModelError::InvalidConfig {
                model: "tabular-argn".into(),
                field: "training.resume_from".into(),
                message: "the checkpoint was written for a table with other columns".into(),
            });
        }
        let network_columns = network_columns(&columns);
        let tokens = encode_tokens(table, &columns, &network_columns, |_| 0)?;
        context.report(ProgressEvent {
            stage: "encoding",
            step: 1,
            total: 1,
            message: format!("{} columns as tokens", network_columns.len()),
            ..Default::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(config.training.seed);
        let network = Network::new(layout_of(&columns, &config), &mut rng)?;
        let training = if network_columns.is_empty() {
            None
        } else {
            let encoder = serde_json::to_value(&columns).map_err(|e| ModelError::Tensor {
                message: format!("cannot encode the encoder state: {e}"),
            })?;
            let trainer = TokenTrainer {
                network: &network,
                tokens: &tokens,
                random_order: config.order == ColumnOrder::Random,
                slice_floats: MASKED_INPUT_FLOATS,
            };
            Some(training::train(
                &trainer,
                rows,
                &config.training,
                &encoder,
                context,
            )?)
        };
        Self::assemble(config, schema, columns, network, training, None)
    }

    /// The model around its network, trained or loaded.
    fn assemble(
        config: ArgnConfig,
        schema: Schema,
        columns: Vec<ColumnCodec>,
        network: Network,
        training: Option<TrainingOutcome>,
        privacy: Option<PrivacyReport>,
    ) -> Result<Self> {
        let heads = network.heads()?;
        Ok(Self {
            config,
            schema,
            network_columns: network_columns(&columns),
            columns,
            network,
            heads,
            training,
            privacy,
        })
    }

    /// Rebuilds a saved model from its parameters and the `weights.safetensors` bytes.
    pub fn restore(
        schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
        weights: Option<&[u8]>,
    ) -> Result<Self> {
        let config = ArgnConfig::from_json(config)?;
        let corrupt = |message: String| ModelError::InvalidConfig {
            model: "tabular-argn".into(),
            field: "parameters".into(),
            message,
        };
        let mut parameters: Parameters =
            serde_json::from_value(parameters).map_err(|e| corrupt(e.to_string()))?;
        if parameters.columns.len() != schema.len() {
            return Err(corrupt(format!(
                "{} column models for {} schema columns",
                parameters.columns.len(),
                schema.len()
            )));
        }
        rebuild_indexes(&mut parameters.columns);
        let weights = weights.ok_or_else(|| corrupt("weights.safetensors is missing".into()))?;
        let tensors =
            candle_core::safetensors::load_buffer(weights, &Device::Cpu).map_err(candle_error)?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let network = Network::new(layout_of(&parameters.columns, &config), &mut rng)?;
        for (name, var) in network.parameters() {
            let tensor = tensors
                .get(&name)
                .ok_or_else(|| corrupt(format!("weights have no tensor {name}")))?;
            var.set(tensor).map_err(|e| corrupt(e.to_string()))?;
        }
        Self::assemble(
            config,
            schema,
            parameters.columns,
            network,
            parameters.training,
            parameters.privacy,
        )
    }

    /// How training went (`None` for a table with no modelled column, and for a DP fit:
    /// its losses are read from the data without accounting, so none are kept; the
    /// privacy report lists its DP-SGD steps).
    pub fn training_outcome(&self) -> Option<&TrainingOutcome> {
        self.training.as_ref()
    }

    /// How each column is generated, in schema order.
    pub fn column_codecs(&self) -> &[ColumnCodec] {
        &self.columns
    }

    /// The hyperparameters.
    pub fn config(&self) -> &ArgnConfig {
        &self.config
    }

    /// Changes the sampling temperature and top-p of a fitted (or loaded) model without
    /// retraining; they are saved with the model's config.
    pub fn set_sampling(&mut self, temperature: f64, top_p: f64) -> Result<()> {
        let mut config = self.config.clone();
        config.temperature = temperature;
        config.top_p = top_p;
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// The trained network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    fn encoder(&self, network_column: usize) -> &TokenEncoder {
        match &self.columns[self.network_columns[network_column]] {
            ColumnCodec::Tokens(encoder) => encoder,
            _ => unreachable!("network columns are token columns"),
        }
    }
}

fn rebuild_indexes(columns: &mut [ColumnCodec]) {
    for codec in columns {
        if let ColumnCodec::Tokens(encoder) = codec {
            encoder.rebuild_index();
        }
    }
}

fn layout_of(columns: &[ColumnCodec], config: &ArgnConfig) -> Layout {
    let cardinalities = columns
        .iter()
        .filter_map(|c| match c {
            ColumnCodec::Tokens(e) => Some(e.cardinality()),
            _ => None,
        })
        .collect();
    Layout::new(cardinalities, config.embedding_max, config.hidden)
}

impl Synthesizer for TabularArgn {
    fn kind(&self) -> ModelKind {
        ModelKind::TabularArgn
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
        self.sample_with_conditions(rows, first_row, &[], rng)
    }

    fn sample_conditioned(
        &self,
        rows: usize,
        first_row: u64,
        conditions: &[Condition],
        rng: &mut ChaCha8Rng,
    ) -> Option<Result<RecordBatch>> {
        if self.config.order == ColumnOrder::Fixed {
            return None;
        }
        let modelled = conditions.iter().all(|c| {
            self.schema
                .index_of(&c.column)
                .is_some_and(|i| self.network_columns.contains(&i))
        });
        if !modelled {
            return None;
        }
        Some(self.sample_with_conditions(rows, first_row, conditions, rng))
    }

    fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        match &self.columns[self.schema.index_of(column)?] {
            ColumnCodec::Tokens(encoder) if encoder.numeric.is_none() => Some(
                encoder
                    .tokens
                    .iter()
                    .filter_map(|t| match t {
                        Token::Category { value } => Some(value.clone()),
                        _ => None,
                    })
                    .chain(encoder.rare.iter().map(|(v, _)| v.clone()))
                    .chain(encoder.tokens.iter().filter_map(|t| match t {
                        Token::Other { value } if !matches!(value, Value::Null) => {
                            Some(value.clone())
                        }
                        _ => None,
                    }))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        match &self.columns[self.schema.index_of(column)?] {
            ColumnCodec::Tokens(encoder) => encoder.numeric.map(|s| (s.min, s.max)),
            _ => None,
        }
    }

    fn privacy_report(&self) -> Option<PrivacyReport> {
        self.privacy.clone()
    }

    fn config_json(&self) -> serde_json::Value {
        let mut config = self.config.clone();
        config.training.forget_run_paths();
        serde_json::to_value(&config).unwrap_or(serde_json::Value::Null)
    }

    fn parameters_json(&self) -> Result<serde_json::Value> {
        let parameters = Parameters {
            columns: self.columns.clone(),
            training: self.training.clone(),
            privacy: self.privacy.clone(),
        };
        serde_json::to_value(&parameters).map_err(|e| ModelError::InvalidConfig {
            model: "tabular-argn".into(),
            field: "parameters".into(),
            message: e.to_string(),
        })
    }

    fn save_weights(&self, path: &Path) -> Result<bool> {
        let tensors: HashMap<String, Tensor> = self.network.tensors();
        candle_core::safetensors::save(&tensors, path).map_err(candle_error)?;
        Ok(true)
    }
}
