//! TabDDPM (Kotelnikov et al., ICML 2023, "TabDDPM: Modelling Tabular Data with Diffusion
//! Models"): Gaussian diffusion for numeric columns and multinomial diffusion for
//! categorical ones, denoised by one MLP.
//!
//! - Numeric columns go through an empirical quantile transform to N(0, 1) scores
//!   ([`encoding::QuantileTransform`], at most `quantiles` quantiles; training values are
//!   drawn uniformly inside their rank's share of the CDF, so ties such as Adult's 92 %
//!   zero capital gains become a smooth band instead of a spike); a column with nulls adds
//!   a 2-class null indicator block. Decoding interpolates the quantiles, rounds to the
//!   column's decimal (or datetime) quantum, snaps to the nearest training value when the
//!   column has few distinct values, and clips to the observed [min, max].
//! - Categorical columns (and booleans) are classes, with a null class when they have
//!   nulls. Columns with more than `max_categories` classes keep the most frequent ones
//!   and pool the rest into one `<other>` class, from which a value is drawn with its
//!   empirical frequency when generated.
//! - Keys and free text are generated outside the network, as the Gaussian copula does.
//! - The denoiser ([`denoiser`]) sees `[x_t numeric | one-hot x_t classes]` and the
//!   timestep, and predicts ε for the numeric dims and x₀ logits per block. The loss is
//!   MSE(ε̂, ε) plus the mean over blocks of the multinomial KL term L_t ([`diffusion`]);
//!   t is uniform. Sampling runs the ancestral reverse process for both parts.
//! - Training goes through [`crate::training::run_epochs`] (progress, cancellation, time
//!   budget, checkpoints, exact resume) with AdamW and a linearly annealed learning rate;
//!   sampling uses an exponential moving average of the weights (`ema_decay`), which
//!   checkpoints carry as `ema.*` tensors.
//!
//! Conditions are left to the shared rejection sampler.

mod config;
pub mod denoiser;
pub mod diffusion;
pub mod encoding;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, ArrayRef, RecordBatch};
use candle_core::{Device, Tensor};
use mirage_core::records::ModelKind;
use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Schema, Table, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

pub use config::{GaussianVariance, LearningRateSchedule, Preset, Schedule, TabDdpmConfig};
pub use encoding::{CategoricalCodec, ColumnCodec, Layout, NumericCodec, QuantileTransform};

use self::denoiser::{Denoiser, Workspace};
use self::diffusion::{NoiseSchedule, multinomial_kl, posterior};
use crate::columns::{build_numeric, build_values, encode_categories, numeric_values};
use crate::copula::numeric::{datetime_quantum, decimal_quantum};
use crate::copula::{KeyGenerator, TextGenerator};
use crate::error::{ModelError, Result};
use crate::nn::{Adam, Matrix, ParamId, ParamSet, WeightDecay};
use crate::progress::{FitContext, ProgressEvent};
use crate::synthesizer::Synthesizer;
use crate::training::{self, ModelState, StepModel, TrainingOutcome, candle_error};

const MODEL: &str = "tab-ddpm";

/// What the model learned besides its weights; saved as the model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Parameters {
    columns: Vec<ColumnCodec>,
    training: Option<TrainingOutcome>,
}

/// A fitted TabDDPM.
#[derive(Debug)]
pub struct TabDdpm {
    config: TabDdpmConfig,
    schema: Schema,
    columns: Vec<ColumnCodec>,
    layout: Layout,
    schedule: NoiseSchedule,
    net: Denoiser,
    training: Option<TrainingOutcome>,
}

/// The training table as the network sees it.
#[derive(Debug, Default)]
struct TrainData {
    /// Per row and numeric dim, the CDF interval [lo, hi] its normal score is drawn from
    /// (the whole of [0, 1] for nulls, whose score the null indicator makes irrelevant).
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Per row and block, the class.
    classes: Vec<u32>,
}

fn fit_codec(
    kind: &ColumnKind,
    physical: PhysicalType,
    name: &str,
    array: &dyn Array,
    config: &TabDdpmConfig,
) -> Result<ColumnCodec> {
    Ok(match kind {
        ColumnKind::Identifier => ColumnCodec::Key(KeyGenerator::fit_column(name, array)?),
        ColumnKind::Text if physical == PhysicalType::Utf8 => {
            ColumnCodec::Text(TextGenerator::fit_column(name, array)?)
        }
        ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. }
            if physical != PhysicalType::Utf8 && physical != PhysicalType::Boolean =>
        {
            let values = numeric_values(name, array)?;
            let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
            if sorted.is_empty() {
                // Nothing but nulls: one null class.
                let (categories, codes) = encode_categories(name, array)?;
                return Ok(ColumnCodec::Categorical(
                    CategoricalCodec::fit(categories, &codes, config.max_categories).0,
                ));
            }
            sorted.sort_by(f64::total_cmp);
            let quantum = if matches!(kind, ColumnKind::Integer) || physical == PhysicalType::Int64
            {
                Some(1.0)
            } else if matches!(kind, ColumnKind::Datetime { .. })
                || physical == PhysicalType::TimestampMillis
            {
                Some(datetime_quantum(&sorted))
            } else {
                decimal_quantum(&sorted)
            };
            let mut distinct = sorted.clone();
            distinct.dedup();
            let distinct = (distinct.len() <= config.snap_distinct).then_some(distinct);
            ColumnCodec::Numeric(NumericCodec {
                transform: QuantileTransform::fit(&sorted, config.quantiles),
                min: sorted[0],
                max: sorted[sorted.len() - 1],
                quantum,
                distinct,
                nullable: sorted.len() < values.len(),
            })
        }
        _ => {
            let (categories, codes) = encode_categories(name, array)?;
            ColumnCodec::Categorical(
                CategoricalCodec::fit(categories, &codes, config.max_categories).0,
            )
        }
    })
}

/// Encodes the table's modelled columns for training.
fn encode_table(table: &Table, columns: &[ColumnCodec], layout: &Layout) -> Result<TrainData> {
    let rows = table.num_rows();
    let schema = table.schema();
    let (n_num, n_blocks) = (layout.numeric, layout.blocks.len());
    let mut data = TrainData {
        lo: vec![0.0; rows * n_num],
        hi: vec![1.0; rows * n_num],
        classes: vec![0; rows * n_blocks],
    };
    let (mut dim, mut block) = (0, 0);
    for (index, codec) in columns.iter().enumerate() {
        let ColumnCodec::Numeric(codec) = codec else {
            continue;
        };
        let name = &schema.columns[index].name;
        let values = numeric_values(name, table.column(index)?.as_ref())?;
        let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len().max(1) as f64;
        for (row, value) in values.iter().enumerate() {
            if let Some(x) = value {
                let below = sorted.partition_point(|s| s < x) as f64;
                let through = sorted.partition_point(|s| s <= x) as f64;
                data.lo[row * n_num + dim] = (below / n) as f32;
                data.hi[row * n_num + dim] = (through / n) as f32;
            }
            if codec.nullable {
                data.classes[row * n_blocks + block] = u32::from(value.is_none());
            }
        }
        dim += 1;
        if codec.nullable {
            block += 1;
        }
    }
    for (index, codec) in columns.iter().enumerate() {
        let ColumnCodec::Categorical(codec) = codec else {
            continue;
        };
        let name = &schema.columns[index].name;
        let (categories, codes) = encode_categories(name, table.column(index)?.as_ref())?;
        // Map this table's codes onto the codec's classes.
        let mut class_of: HashMap<String, u32> = HashMap::new();
        for (i, v) in codec.categories.iter().enumerate() {
            class_of.insert(v.to_string(), i as u32);
        }
        let other = codec.categories.len() as u32;
        for (v, _) in &codec.other {
            class_of.insert(v.to_string(), other);
        }
        let null_class = (codec.classes() - 1) as u32;
        let mapped: Vec<u32> = categories
            .iter()
            .map(|v| class_of.get(&v.to_string()).copied().unwrap_or(0))
            .collect();
        for (row, code) in codes.iter().enumerate() {
            data.classes[row * n_blocks + block] = code.map_or(null_class, |c| mapped[c as usize]);
        }
        block += 1;
    }
    Ok(data)
}

/// One optimisation step's state.
struct Trainer<'a> {
    net: &'a mut Denoiser,
    adam: Adam,
    schedule: &'a NoiseSchedule,
    layout: &'a Layout,
    data: &'a TrainData,
    base_rate: f32,
    total_steps: u64,
    linear: bool,
    /// Exponential moving average of the weights (what sampling uses), and its decay.
    ema: Option<(ParamSet, f64)>,
    ids: Vec<ParamId>,
    ws: Workspace,
    x: Matrix,
    d_out: Matrix,
    t: Vec<u32>,
    eps: Vec<f32>,
    x0: Vec<u32>,
    scratch: Vec<f32>,
}

impl Trainer<'_> {
    fn build_batch(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) {
        let (n_num, n_blocks) = (self.layout.numeric, self.layout.blocks.len());
        let steps = self.schedule.steps();
        let width = self.layout.width();
        let b = rows.len();
        self.t.clear();
        self.t
            .extend((0..b).map(|_| rng.random_range(0..steps as u32)));
        self.x.resize_zeroed(b, width);
        self.eps.resize(b * n_num, 0.0);
        self.x0.resize(b * n_blocks, 0);
        for (i, &row) in rows.iter().enumerate() {
            let row = row as usize;
            let t = self.t[i] as usize;
            let ab = self.schedule.alpha_bar[t];
            let (sa, sn) = (ab.sqrt() as f32, (1.0 - ab).sqrt() as f32);
            let x = self.x.row_mut(i);
            let cells = row * n_num..(row + 1) * n_num;
            let bounds = self.data.lo[cells.clone()].iter().zip(&self.data.hi[cells]);
            let noise = &mut self.eps[i * n_num..(i + 1) * n_num];
            for ((x, (lo, hi)), e) in x[..n_num].iter_mut().zip(bounds).zip(noise) {
                // x₀'s score, drawn inside the value's share of the CDF.
                let p = f64::from(lo + rng.random::<f32>() * (hi - lo)).clamp(1e-7, 1.0 - 1e-7);
                let z0 = crate::stats::normal::quantile(p) as f32;
                *e = StandardNormal.sample(rng);
                *x = sa * z0 + sn * *e;
            }
            for (k, (&classes, &offset)) in self
                .layout
                .blocks
                .iter()
                .zip(&self.layout.offsets)
                .enumerate()
            {
                let c0 = self.data.classes[row * n_blocks + k];
                self.x0[i * n_blocks + k] = c0;
                // q(x_t | x₀) = ᾱ_t·x₀ + (1 − ᾱ_t)/K: keep x₀ with probability ᾱ_t, else
                // a uniform class.
                let ct = if rng.random::<f64>() < ab {
                    c0 as usize
                } else {
                    rng.random_range(0..classes)
                };
                x[offset + ct] = 1.0;
            }
        }
    }

    /// Loss of the last forward pass; writes ∂loss/∂out.
    fn loss(&mut self) -> f64 {
        let (n_num, n_blocks) = (self.layout.numeric, self.layout.blocks.len());
        let b = self.x.rows;
        let width = self.layout.width();
        let out = &self.ws.out;
        self.d_out.resize(b, width);
        let mut gauss = 0.0f64;
        let g_scale = if n_num > 0 {
            2.0 / (b * n_num) as f32
        } else {
            0.0
        };
        let m_scale = if n_blocks > 0 {
            1.0 / (b * n_blocks) as f32
        } else {
            0.0
        };
        let mut multi = 0.0f64;
        let max_k = self.layout.blocks.iter().copied().max().unwrap_or(0);
        self.scratch.resize(2 * max_k, 0.0);
        for i in 0..b {
            let t = self.t[i] as usize;
            let o = out.row(i);
            let d = self.d_out.row_mut(i);
            let x_row = self.x.row(i);
            for j in 0..n_num {
                let diff = o[j] - self.eps[i * n_num + j];
                gauss += f64::from(diff * diff);
                d[j] = g_scale * diff;
            }
            for (k, (&classes, &offset)) in self
                .layout
                .blocks
                .iter()
                .zip(&self.layout.offsets)
                .enumerate()
            {
                let span = offset..offset + classes;
                let x_t = x_row[span.clone()]
                    .iter()
                    .position(|v| *v > 0.5)
                    .unwrap_or(0);
                let kl = multinomial_kl(
                    self.schedule,
                    t,
                    self.x0[i * n_blocks + k] as usize,
                    x_t,
                    &o[span.clone()],
                    &mut d[span.clone()],
                    &mut self.scratch[..2 * classes],
                );
                multi += f64::from(kl);
                d[span].iter_mut().for_each(|g| *g *= m_scale);
            }
        }
        let gauss = if n_num > 0 {
            gauss / (b * n_num) as f64
        } else {
            0.0
        };
        let multi = if n_blocks > 0 {
            multi / (b * n_blocks) as f64
        } else {
            0.0
        };
        gauss + multi
    }
}

impl StepModel for Trainer<'_> {
    fn train_step(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64> {
        self.build_batch(rows, rng);
        self.net.params.zero_grads();
        let steps = self.schedule.steps();
        let mut ws = std::mem::take(&mut self.ws);
        self.net
            .forward(&self.x, &self.t, steps, &mut ws, Some(rng));
        self.ws = ws;
        let loss = self.loss();
        let mut ws = std::mem::take(&mut self.ws);
        self.net.backward(&self.x, &self.d_out, &mut ws, None);
        self.ws = ws;
        if self.linear {
            let done = self.adam.step_count() as f32 / self.total_steps.max(1) as f32;
            self.adam.learning_rate = self.base_rate * (1.0 - done).max(0.0);
        }
        self.adam.step(&mut self.net.params);
        if let Some((ema, decay)) = &mut self.ema {
            // Warm-up: the average spans about min(1/(1 − decay), n/10) recent steps.
            let n = self.adam.step_count() as f64;
            let d = decay.min((1.0 + n) / (10.0 + n)) as f32;
            for &id in &self.ids {
                for (e, v) in ema.value_mut(id).iter_mut().zip(self.net.params.value(id)) {
                    *e = d * *e + (1.0 - d) * v;
                }
            }
        }
        if !loss.is_finite() {
            return Err(ModelError::Tensor {
                message: "the TabDDPM loss is not finite".into(),
            });
        }
        Ok(loss)
    }

    fn state(&self) -> Result<ModelState> {
        let mut weights = self.net.params.to_tensors("")?;
        if let Some((ema, _)) = &self.ema {
            weights.extend(ema.to_tensors("ema.")?);
        }
        Ok(ModelState {
            weights,
            optimizer: self.adam.state_tensors(&self.net.params, "")?,
            steps: self.adam.step_count(),
        })
    }

    fn load_state(&mut self, state: ModelState) -> Result<()> {
        self.net.params.load_tensors("", &state.weights)?;
        if let Some((ema, _)) = &mut self.ema {
            ema.load_tensors("ema.", &state.weights)?;
        }
        self.adam
            .load_state(&self.net.params, "", &state.optimizer, state.steps)
    }
}

fn new_net(layout: &Layout, config: &TabDdpmConfig, seed: u64) -> Denoiser {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Denoiser::new(
        layout.width(),
        config.embedding,
        &config.hidden,
        config.dropout as f32,
        &mut rng,
    )
}

impl TabDdpm {
    /// Fits the model on every column of `table` with a JSON config (`null` or `{}` for
    /// the defaults, `{"preset": "paper"}` for the paper's Adult settings).
    pub fn fit(
        table: &Table,
        config: &serde_json::Value,
        context: &mut FitContext,
    ) -> Result<Self> {
        Self::fit_with(table, TabDdpmConfig::from_json(config)?, context)
    }

    /// Fits the model with a parsed config.
    pub fn fit_with(
        table: &Table,
        config: TabDdpmConfig,
        context: &mut FitContext,
    ) -> Result<Self> {
        config.validate()?;
        let schema = table.schema().clone();
        let rows = table.num_rows();
        crate::synthesizer::ensure_not_empty(table)?;
        let columns: Vec<ColumnCodec> =
            match training::checkpoint::resumed_encoder::<Vec<ColumnCodec>>(&config.training)? {
                Some(columns) => columns,
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
                model: MODEL.into(),
                field: "training.resume_from".into(),
                message: "the checkpoint was written for a table with other columns".into(),
            });
        }
        let layout = Layout::of(&columns);
        let data = encode_table(table, &columns, &layout)?;
        context.report(ProgressEvent {
            stage: "encoding",
            step: 1,
            total: 1,
            message: format!(
                "{} numeric dims and {} categorical blocks ({} inputs)",
                layout.numeric,
                layout.blocks.len(),
                layout.width()
            ),
            ..Default::default()
        });
        let schedule = NoiseSchedule::new(config.schedule, config.timesteps);
        let mut net = new_net(&layout, &config, config.training.seed);
        let training_config = config.training_for(rows);
        let training = if layout.width() == 0 {
            None
        } else {
            let encoder = serde_json::to_value(&columns).map_err(|e| ModelError::Tensor {
                message: format!("cannot encode the encoder state: {e}"),
            })?;
            let batches = rows.div_ceil(training_config.batch_size).max(1) as u64;
            let adam = Adam::new(
                &net.params,
                training_config.learning_rate as f32,
                (0.9, 0.999),
                WeightDecay::Decoupled(training_config.weight_decay as f32),
            );
            let ema = (config.ema_decay > 0.0).then(|| (net.params.clone(), config.ema_decay));
            let ids = net.parameter_ids();
            let mut trainer = Trainer {
                net: &mut net,
                adam,
                schedule: &schedule,
                layout: &layout,
                data: &data,
                base_rate: training_config.learning_rate as f32,
                total_steps: batches * training_config.max_epochs as u64,
                linear: config.learning_rate_schedule == LearningRateSchedule::Linear,
                ema,
                ids,
                ws: Workspace::default(),
                x: Matrix::default(),
                d_out: Matrix::default(),
                t: Vec::new(),
                eps: Vec::new(),
                x0: Vec::new(),
                scratch: Vec::new(),
            };
            let outcome =
                training::run_epochs(&mut trainer, rows, &training_config, &encoder, context)?;
            if let Some((ema, _)) = trainer.ema.take() {
                for id in trainer.ids.clone() {
                    trainer
                        .net
                        .params
                        .value_mut(id)
                        .copy_from_slice(ema.value(id));
                }
            }
            Some(outcome)
        };
        Ok(Self {
            config,
            schema,
            columns,
            layout,
            schedule,
            net,
            training,
        })
    }

    /// Rebuilds a saved model from its parameters and the `weights.safetensors` bytes.
    pub fn restore(
        schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
        weights: Option<&[u8]>,
    ) -> Result<Self> {
        let config = TabDdpmConfig::from_json(config)?;
        let corrupt = |message: String| ModelError::InvalidConfig {
            model: MODEL.into(),
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
        let layout = Layout::of(&parameters.columns);
        let mut net = new_net(&layout, &config, 0);
        if layout.width() > 0 {
            let weights =
                weights.ok_or_else(|| corrupt("weights.safetensors is missing".into()))?;
            let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)
                .map_err(candle_error)?;
            net.params.load_tensors("", &tensors)?;
        }
        Ok(Self {
            schedule: NoiseSchedule::new(config.schedule, config.timesteps),
            config,
            schema,
            columns: parameters.columns,
            layout,
            net,
            training: parameters.training,
        })
    }

    /// How training went (`None` for a table with no modelled column).
    pub fn training_outcome(&self) -> Option<&TrainingOutcome> {
        self.training.as_ref()
    }

    /// The hyperparameters.
    pub fn config(&self) -> &TabDdpmConfig {
        &self.config
    }

    /// How each column is generated, in schema order.
    pub fn column_codecs(&self) -> &[ColumnCodec] {
        &self.columns
    }

    /// Runs the reverse process for `rows` rows: normal scores (`rows × numeric`) and
    /// classes (`rows × blocks`).
    pub fn generate(&self, rows: usize, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<u32>) {
        let layout = &self.layout;
        let (n_num, n_blocks) = (layout.numeric, layout.blocks.len());
        let mut scores = vec![0.0f32; rows * n_num];
        let mut classes = vec![0u32; rows * n_blocks];
        if layout.width() == 0 {
            return (scores, classes);
        }
        let steps = self.schedule.steps();
        let width = layout.width();
        let max_k = layout.blocks.iter().copied().max().unwrap_or(0);
        let (mut probs, mut posterior_weights) = (vec![0.0f32; max_k], vec![0.0f32; max_k]);
        let mut ws = Workspace::default();
        let mut x = Matrix::default();
        let mut t_rows = Vec::new();
        let chunk = self.config.sample_batch.max(1);
        for start in (0..rows).step_by(chunk) {
            let b = chunk.min(rows - start);
            let num = &mut scores[start * n_num..(start + b) * n_num];
            let cls = &mut classes[start * n_blocks..(start + b) * n_blocks];
            for v in num.iter_mut() {
                *v = StandardNormal.sample(rng);
            }
            for i in 0..b {
                for (k, &classes) in layout.blocks.iter().enumerate() {
                    cls[i * n_blocks + k] = rng.random_range(0..classes as u32);
                }
            }
            for t in (0..steps).rev() {
                x.resize_zeroed(b, width);
                for i in 0..b {
                    let row = x.row_mut(i);
                    row[..n_num].copy_from_slice(&num[i * n_num..(i + 1) * n_num]);
                    for (k, &offset) in layout.offsets.iter().enumerate() {
                        row[offset + cls[i * n_blocks + k] as usize] = 1.0;
                    }
                }
                t_rows.clear();
                t_rows.resize(b, t as u32);
                self.net.forward(&x, &t_rows, steps, &mut ws, None);
                let s = &self.schedule;
                let (alpha, beta, ab) = (s.alpha[t], s.beta[t], s.alpha_bar[t]);
                let coef = (beta / (1.0 - ab).sqrt()) as f32;
                let inv_sqrt_alpha = (1.0 / alpha.sqrt()) as f32;
                // The reverse step's standard deviation (`gaussian_variance`).
                let sigma = match self.config.gaussian_variance {
                    GaussianVariance::Posterior => {
                        (beta * (1.0 - s.alpha_bar_prev(t)) / (1.0 - ab)).sqrt() as f32
                    }
                    GaussianVariance::Beta => beta.sqrt() as f32,
                };
                for i in 0..b {
                    let out = ws.out.row(i);
                    for j in 0..n_num {
                        let v = &mut num[i * n_num + j];
                        let mean = (*v - coef * out[j]) * inv_sqrt_alpha;
                        *v = if t > 0 {
                            let z: f32 = StandardNormal.sample(rng);
                            mean + sigma * z
                        } else {
                            mean
                        };
                    }
                    for (k, (&classes, &offset)) in
                        layout.blocks.iter().zip(&layout.offsets).enumerate()
                    {
                        let logits = &out[offset..offset + classes];
                        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let pi = &mut probs[..classes];
                        for (p, v) in pi.iter_mut().zip(logits) {
                            *p = (v - max).exp();
                        }
                        // π = softmax(logits), the predicted x₀.
                        let inv = 1.0 / pi.iter().sum::<f32>();
                        pi.iter_mut().for_each(|p| *p *= inv);
                        let current = cls[i * n_blocks + k] as usize;
                        let weights = &mut posterior_weights[..classes];
                        let total = posterior(s, t, current, pi, weights);
                        let mut draw: f32 = rng.random::<f32>() * total;
                        let mut chosen = classes - 1;
                        for (j, w) in weights.iter().enumerate() {
                            if draw < *w {
                                chosen = j;
                                break;
                            }
                            draw -= w;
                        }
                        cls[i * n_blocks + k] = chosen as u32;
                    }
                }
            }
        }
        (scores, classes)
    }

    fn decode(&self, rows: usize, first_row: u64, rng: &mut ChaCha8Rng) -> Result<RecordBatch> {
        let (scores, classes) = self.generate(rows, rng);
        let (n_num, n_blocks) = (self.layout.numeric, self.layout.blocks.len());
        // Block of each numeric column's null indicator, then of each categorical column.
        let (mut dim, mut block) = (0usize, 0usize);
        let mut numeric_at = vec![(0usize, None::<usize>); self.columns.len()];
        for (index, codec) in self.columns.iter().enumerate() {
            if let ColumnCodec::Numeric(codec) = codec {
                numeric_at[index] = (dim, codec.nullable.then_some(block));
                dim += 1;
                if codec.nullable {
                    block += 1;
                }
            }
        }
        let mut categorical_at = vec![0usize; self.columns.len()];
        for (index, codec) in self.columns.iter().enumerate() {
            if matches!(codec, ColumnCodec::Categorical(_)) {
                categorical_at[index] = block;
                block += 1;
            }
        }
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (index, (column, codec)) in self.schema.columns.iter().zip(&self.columns).enumerate() {
            let array: ArrayRef = match codec {
                ColumnCodec::Numeric(codec) => {
                    let (d, null_block) = numeric_at[index];
                    let values: Vec<Option<f64>> = (0..rows)
                        .map(|r| {
                            let null = null_block.is_some_and(|k| classes[r * n_blocks + k] == 1);
                            (!null).then(|| codec.decode(f64::from(scores[r * n_num + d])))
                        })
                        .collect();
                    build_numeric(column.physical, &values)
                }
                ColumnCodec::Categorical(codec) => {
                    let k = categorical_at[index];
                    let values: Vec<Value> = (0..rows)
                        .map(|r| codec.decode(classes[r * n_blocks + k] as usize, rng))
                        .collect();
                    let refs: Vec<Option<&Value>> = values.iter().map(Some).collect();
                    build_values(&column.name, column.physical, &refs)?
                }
                ColumnCodec::Key(generator) => generator.array(column.physical, rows, first_row),
                ColumnCodec::Text(generator) => generator.array(rows, rng),
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(self.schema.arrow_schema(), arrays)?)
    }
}

impl Synthesizer for TabDdpm {
    fn kind(&self) -> ModelKind {
        ModelKind::TabDdpm
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
        self.decode(rows, first_row, rng)
    }

    fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        match &self.columns[self.schema.index_of(column)?] {
            ColumnCodec::Categorical(codec) => Some(codec.values()),
            _ => None,
        }
    }

    fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        match &self.columns[self.schema.index_of(column)?] {
            ColumnCodec::Numeric(codec) => Some((codec.min, codec.max)),
            _ => None,
        }
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
        };
        serde_json::to_value(&parameters).map_err(|e| ModelError::InvalidConfig {
            model: MODEL.into(),
            field: "parameters".into(),
            message: e.to_string(),
        })
    }

    fn save_weights(&self, path: &Path) -> Result<bool> {
        if self.layout.width() == 0 {
            return Ok(false);
        }
        let tensors: HashMap<String, Tensor> = self.net.params.to_tensors("")?;
        candle_core::safetensors::save(&tensors, path).map_err(candle_error)?;
        Ok(true)
    }
}
