//! CTGAN (Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019) and
//! CopulaGAN (the same GAN over columns mapped to normal scores through fitted marginals
//! first).
//!
//! - The [`DataTransformer`] encodes the table once: mode-specific normalization for
//!   numbers, one-hots for categories.
//! - A conditional vector selects one category of one discrete column per row; training
//!   by sampling ([`sampler`]) picks the column uniformly and the category with
//!   probability ∝ log(1 + frequency), and shows the critic real rows with that category.
//! - The generator and the packed WGAN-GP critic ([`network`]) have hand-written backward
//!   passes, the gradient penalty's included, over buffers reused at every step. Each step
//!   is `discriminator_steps` critic updates then one generator update, each on fresh noise
//!   and conditional vectors; the critic's real packs are drawn for the same conditional
//!   vectors as its fake packs (the paper's Algorithm 1), so the interpolated packs of the
//!   penalty keep one-hot conditions. An epoch is ⌊rows / batch⌋ steps.
//! - Sampling runs the generator with its batch-norm running statistics and decodes with
//!   the transformer. A single equality condition on a one-hot column is met natively
//!   through the conditional vector.
//!
//! CopulaGAN is selected by [`ModelKind::CopulaGan`], which sets
//! `transformer.gaussian_copula`.
//!
//! With a `privacy` section in the config the fit is DP-CTGAN (`private.rs`): DP column
//! statistics build the transformer and the critic trains with DP-SGD; the model keeps
//! the privacy report.

mod config;
pub mod network;
mod private;
pub mod sampler;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use arrow::array::RecordBatch;
use candle_core::{Device, Tensor};
use mirage_core::records::ModelKind;
use mirage_core::{Condition, ConditionOp, Schema, Table, Value};
use mirage_privacy::PrivacyReport;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{CtganConfig, DP_BATCH, DP_EPOCHS};

use self::network::{
    Discriminator, DiscriminatorPass, Generator, GeneratorPass, OutputSpan, fill_normal,
};
use self::sampler::{CondSampler, RowIndex};
use crate::columns::build_values;
use crate::error::{ModelError, Result};
use crate::nn::{Adam, Matrix, ParamSet, WeightDecay};
use crate::progress::{FitContext, ProgressEvent};
use crate::synthesizer::Synthesizer;
use crate::training::{self, ModelState, StepModel, TrainingOutcome, candle_error};
use crate::transformer::calibration::{CategoryShares, category_targets};
use crate::transformer::{Activation, DataTransformer, Encoded};

/// Rows the generator produces at once when sampling.
const SAMPLE_CHUNK: usize = 1_000;

/// What the model learned besides its weights; saved as the model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameters {
    transformer: DataTransformer,
    training: Option<TrainingOutcome>,
    /// What a DP fit spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    privacy: Option<PrivacyReport>,
}

/// A fitted CTGAN or CopulaGAN.
#[derive(Debug)]
pub struct Ctgan {
    kind: ModelKind,
    config: CtganConfig,
    schema: Schema,
    transformer: DataTransformer,
    generator: Generator,
    discriminator: Discriminator,
    sampler: CondSampler,
    training: Option<TrainingOutcome>,
    privacy: Option<PrivacyReport>,
}

/// The generator's output spans from the transformer's.
fn output_spans(transformer: &DataTransformer) -> Vec<OutputSpan> {
    transformer
        .spans()
        .iter()
        .map(|s| OutputSpan {
            start: s.start,
            width: s.width,
            softmax: s.activation == Activation::Softmax,
        })
        .collect()
}

fn cond_sampler(transformer: &DataTransformer) -> CondSampler {
    let frequencies: Vec<Vec<u64>> = transformer
        .discrete_columns()
        .iter()
        .map(|d| {
            let mut f = d.frequencies.clone();
            f.resize(d.categories, 0);
            f
        })
        .collect();
    CondSampler::new(&frequencies)
}

/// Fresh networks for a transformer.
fn networks(
    transformer: &DataTransformer,
    sampler: &CondSampler,
    config: &CtganConfig,
    seed: u64,
) -> (Generator, Discriminator) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let generator = Generator::new(
        config.embedding_dim,
        sampler.width(),
        &config.generator_dims,
        output_spans(transformer),
        transformer.width(),
        config.gumbel_tau as f32,
        &mut rng,
    );
    let discriminator = Discriminator::new(
        config.pac,
        transformer.width(),
        sampler.width(),
        &config.discriminator_dims,
        &mut rng,
    );
    (generator, discriminator)
}

fn merge(into: &mut HashMap<String, Tensor>, params: &ParamSet, prefix: &str) -> Result<()> {
    into.extend(params.to_tensors(prefix)?);
    Ok(())
}

impl Ctgan {
    /// Fits `kind` (`Ctgan` or `CopulaGan`) on `table` with a JSON config (`null` for
    /// the defaults).
    pub fn fit(
        kind: ModelKind,
        table: &Table,
        config: &serde_json::Value,
        context: &mut FitContext,
    ) -> Result<Self> {
        let config = CtganConfig::from_json(kind, config)?;
        Self::fit_with(kind, table, config, context)
    }

    /// Fits `kind` on `table` with a parsed config.
    pub fn fit_with(
        kind: ModelKind,
        table: &Table,
        config: CtganConfig,
        context: &mut FitContext,
    ) -> Result<Self> {
        config.validate(kind)?;
        crate::synthesizer::ensure_not_empty(table)?;
        if let Some(settings) = config.dp_settings(kind)? {
            return private::fit(kind, table, config, &settings, context);
        }
        let schema = table.schema().clone();
        let rows = table.num_rows();
        let name = kind.name();
        let transformer: DataTransformer =
            match training::checkpoint::resumed_encoder(&config.training)? {
                Some(transformer) => transformer,
                None => DataTransformer::fit(table, &config.transformer)?,
            };
        if transformer.schema() != &schema {
            return Err(ModelError::InvalidConfig {
                model: name.into(),
                field: "training.resume_from".into(),
                message: "the checkpoint was written for a table with other columns".into(),
            });
        }
        context.check_cancelled()?;
        let mut encode_rng = ChaCha8Rng::seed_from_u64(config.training.seed);
        encode_rng.set_stream(u64::MAX);
        let encoded = transformer.transform(table, &mut encode_rng)?;
        context.report(ProgressEvent {
            stage: "encoding",
            step: 1,
            total: 1,
            message: format!(
                "{} rows encoded into {} features, {} conditional columns",
                encoded.rows,
                encoded.width,
                transformer.discrete_columns().len()
            ),
            ..Default::default()
        });
        let (sampler, mut trainer) = Trainer::for_table(&config, &transformer, &encoded);
        let training = if transformer.width() == 0 {
            None
        } else {
            let encoder = serde_json::to_value(&transformer).map_err(|e| ModelError::Tensor {
                message: format!("cannot encode the transformer state: {e}"),
            })?;
            Some(training::run_epochs(
                &mut trainer,
                rows,
                &config.training,
                &encoder,
                context,
            )?)
        };
        let mut generator = trainer.generator;
        if config.calibrate && training.is_some() {
            let targets = category_targets(&encoded);
            let mut rng = ChaCha8Rng::seed_from_u64(config.training.seed);
            rng.set_stream(u64::MAX - 1);
            calibrate(
                &mut generator,
                &sampler,
                transformer.spans(),
                &targets,
                &mut rng,
            );
        }
        Ok(Self {
            kind,
            config,
            schema,
            transformer,
            generator,
            discriminator: trainer.discriminator,
            sampler,
            training,
            privacy: None,
        })
    }

    /// Rebuilds a saved model from its config, its parameters and the
    /// `weights.safetensors` bytes.
    pub fn restore(
        kind: ModelKind,
        schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
        weights: Option<&[u8]>,
    ) -> Result<Self> {
        let config = CtganConfig::from_json(kind, config)?;
        let corrupt = |message: String| ModelError::InvalidConfig {
            model: kind.name().into(),
            field: "parameters".into(),
            message,
        };
        let parameters: Parameters =
            serde_json::from_value(parameters).map_err(|e| corrupt(e.to_string()))?;
        if parameters.transformer.schema() != &schema {
            return Err(corrupt(
                "the transformer was fitted on other columns than the schema's".into(),
            ));
        }
        let transformer = parameters.transformer;
        let sampler = cond_sampler(&transformer);
        let (mut generator, mut discriminator) = networks(&transformer, &sampler, &config, 0);
        let weights = weights.ok_or_else(|| corrupt("weights.safetensors is missing".into()))?;
        let tensors =
            candle_core::safetensors::load_buffer(weights, &Device::Cpu).map_err(candle_error)?;
        generator.params.load_tensors("generator.", &tensors)?;
        discriminator
            .params
            .load_tensors("discriminator.", &tensors)?;
        Ok(Self {
            kind,
            config,
            schema,
            transformer,
            generator,
            discriminator,
            sampler,
            training: parameters.training,
            privacy: parameters.privacy,
        })
    }

    /// How training went (`None` when nothing was modelled by the networks).
    pub fn training_outcome(&self) -> Option<&TrainingOutcome> {
        self.training.as_ref()
    }

    /// The hyperparameters.
    pub fn config(&self) -> &CtganConfig {
        &self.config
    }

    /// The fitted transformer.
    pub fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// Floating-point operations (2 per multiply-add) of one training step: the matrix
    /// products of `discriminator_steps` critic updates and one generator update.
    pub fn flops_per_step(&self) -> f64 {
        step_flops(&self.generator, &self.discriminator, &self.config)
    }

    /// `rows` generated rows, decoded: the generator with its batch-norm running
    /// statistics, standard normal noise, and every row's conditional vector hot at
    /// `fixed` (or, when `None`, a column drawn uniformly and its category with the
    /// empirical frequencies). One-hot spans get Gumbel noise, so the transformer's argmax
    /// draws a category from the generated distribution.
    fn generate(
        &self,
        rows: usize,
        first_row: u64,
        fixed: Option<u32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let width = self.generator.width();
        let mut data = vec![0.0f32; rows * width];
        // A copy: the forward pass takes the parameters mutably (batch-norm updates its
        // running statistics in training mode), and sampling runs on a shared model.
        let mut generator = self.generator.clone();
        let mut pass = GeneratorPass::default();
        let mut done = 0;
        while done < rows {
            let n = SAMPLE_CHUNK.min(rows - done);
            pass.z.resize(n, generator.embedding());
            fill_normal(&mut pass.z.data, rng);
            match fixed {
                Some(g) if self.sampler.width() > 0 => {
                    pass.hot.clear();
                    pass.hot.resize(n, g);
                }
                _ => self.sampler.sample_original(n, &mut pass.hot, rng),
            }
            generator.forward(&mut pass, false, rng);
            let out = &mut data[done * width..(done + n) * width];
            out.copy_from_slice(&pass.output.data[..n * width]);
            done += n;
        }
        self.transformer.inverse(&data, rows, first_row, rng)
    }
}

/// Latent draws per calibration round.
const CALIBRATION_SAMPLES: usize = 20_000;
/// Calibration rounds.
const CALIBRATION_ROUNDS: usize = 4;

/// Moves the generator's one-hot shares under unconditional sampling (conditional
/// vectors by empirical frequency, as [`Ctgan::generate`] draws them) onto the training
/// shares `targets`: Gumbel noise plus an argmax draws a category from the softmax of the
/// logits, so the shares are the softmax means (see
/// [`crate::transformer::calibration`]).
fn calibrate(
    generator: &mut Generator,
    sampler: &CondSampler,
    spans: &[crate::transformer::Span],
    targets: &[f32],
    rng: &mut ChaCha8Rng,
) {
    let mut shares = CategoryShares::new(generator.width());
    let mut pass = GeneratorPass::default();
    for _ in 0..CALIBRATION_ROUNDS {
        let mut done = 0;
        while done < CALIBRATION_SAMPLES {
            let n = SAMPLE_CHUNK.min(CALIBRATION_SAMPLES - done);
            pass.z.resize(n, generator.embedding());
            fill_normal(&mut pass.z.data, rng);
            sampler.sample_original(n, &mut pass.hot, rng);
            generator.forward(&mut pass, false, rng);
            shares.add(&pass.logits, spans);
            done += n;
        }
        shares.apply(generator.output_bias_mut(), spans, targets);
    }
}

/// FLOPs of one training step (see [`Ctgan::flops_per_step`]).
fn step_flops(generator: &Generator, discriminator: &Discriminator, config: &CtganConfig) -> f64 {
    let batch = config.training.batch_size;
    let packs = batch / config.pac;
    let g_forward = generator.forward_macs(batch);
    let g_backward = generator.backward_macs(batch);
    let d_forward = discriminator.forward_macs(packs);
    let first = discriminator.input_width() * config.discriminator_dims[0];
    let rest: usize = config
        .discriminator_dims
        .windows(2)
        .map(|w| w[0] * w[1])
        .sum();
    // Critic update: generator forward; critic forward on real, fake and interpolated
    // packs; weight gradients on real and fake; the penalty's chain forward (one product
    // per layer: v, then g over the whole input) and backward (two per layer: dW, dv).
    let critic = g_forward + 3 * d_forward + 2 * d_forward + packs * 3 * (first + rest);
    // Generator update: forward, critic forward and input gradient, generator backward.
    let generator_step = g_forward + 2 * d_forward + g_backward;
    2.0 * (config.discriminator_steps * critic + generator_step) as f64
}

impl Synthesizer for Ctgan {
    fn kind(&self) -> ModelKind {
        self.kind
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
        self.generate(rows, first_row, None, rng)
    }

    fn sample_conditioned(
        &self,
        rows: usize,
        first_row: u64,
        conditions: &[Condition],
        rng: &mut ChaCha8Rng,
    ) -> Option<Result<RecordBatch>> {
        // The conditional vector holds one column at a time, as in training.
        let [condition] = conditions else {
            return None;
        };
        let ConditionOp::Eq(value) = &condition.op else {
            return None;
        };
        let (d, category) = self.transformer.condition_index(&condition.column, value)?;
        let hot = (self.sampler.offset(d) + category) as u32;
        let column = self.schema.index_of(&condition.column)?;
        let physical = self.schema.columns[column].physical;
        Some(
            self.generate(rows, first_row, Some(hot), rng)
                .and_then(|batch| {
                    // The generator follows the conditional vector almost always; make it
                    // exact. (A value that does not fit the column's type leaves the rows
                    // as generated: the shared sampler still drops rows that miss it.)
                    let values = vec![Some(value); rows];
                    let Ok(forced) = build_values(&condition.column, physical, &values) else {
                        return Ok(batch);
                    };
                    let mut arrays = batch.columns().to_vec();
                    arrays[column] = forced;
                    Ok(RecordBatch::try_new(batch.schema(), arrays)?)
                }),
        )
    }

    fn category_set(&self, column: &str) -> Option<Vec<Value>> {
        self.transformer.category_set(column)
    }

    fn privacy_report(&self) -> Option<PrivacyReport> {
        self.privacy.clone()
    }

    fn numeric_range(&self, column: &str) -> Option<(f64, f64)> {
        self.transformer.numeric_range(column)
    }

    fn config_json(&self) -> serde_json::Value {
        let mut config = self.config.clone();
        config.training.forget_run_paths();
        serde_json::to_value(&config).unwrap_or(serde_json::Value::Null)
    }

    fn parameters_json(&self) -> Result<serde_json::Value> {
        let parameters = Parameters {
            transformer: self.transformer.clone(),
            training: self.training.clone(),
            privacy: self.privacy.clone(),
        };
        serde_json::to_value(&parameters).map_err(|e| ModelError::InvalidConfig {
            model: self.kind.name().into(),
            field: "parameters".into(),
            message: e.to_string(),
        })
    }

    fn save_weights(&self, path: &Path) -> Result<bool> {
        let mut tensors = HashMap::new();
        merge(&mut tensors, &self.generator.params, "generator.")?;
        merge(&mut tensors, &self.discriminator.params, "discriminator.")?;
        candle_core::safetensors::save(&tensors, path).map_err(candle_error)?;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------

/// One discrete column's place in the generator output, for the conditional loss.
#[derive(Debug, Clone, Copy)]
struct CondSpan {
    /// First output column of its one-hot.
    start: usize,
    /// Categories.
    width: usize,
    /// First hot index in the conditional vector.
    offset: usize,
}

/// The training state: networks, optimizers, the encoded table and every buffer.
struct Trainer<'a> {
    generator: Generator,
    discriminator: Discriminator,
    g_adam: Adam,
    d_adam: Adam,
    data: &'a [f32],
    width: usize,
    rows: usize,
    sampler: CondSampler,
    index: RowIndex,
    cond_spans: Vec<CondSpan>,
    batch: usize,
    pac: usize,
    discriminator_steps: usize,
    lambda: f32,
    last_loss: f64,
    /// Conditions drawn with the category frequencies rather than training-by-sampling's
    /// log-frequencies (DP: the real rows' conditions come from their own values, and
    /// the fake rows' must have the same distribution).
    frequency_conditions: bool,
    // Buffers.
    gen_pass: GeneratorPass,
    critic_pass: DiscriminatorPass,
    columns: Vec<u32>,
    real_rows: Vec<usize>,
    dy: Matrix,
}

impl<'a> Trainer<'a> {
    /// The conditional sampler (the trainer keeps a copy), fresh networks and the
    /// training state over `encoded`, the table as `transformer` encodes it.
    fn for_table(
        config: &CtganConfig,
        transformer: &DataTransformer,
        encoded: &'a Encoded,
    ) -> (CondSampler, Self) {
        let sampler = cond_sampler(transformer);
        let (generator, discriminator) =
            networks(transformer, &sampler, config, config.training.seed);
        let (data, codes, rows) = (&encoded.data[..], &encoded.codes, encoded.rows);
        let lr = config.training.learning_rate as f32;
        let decay = WeightDecay::L2(config.training.weight_decay as f32);
        let g_adam = Adam::new(&generator.params, lr, (0.5, 0.9), decay);
        let d_adam = Adam::new(&discriminator.params, lr, (0.5, 0.9), decay);
        let offsets: Vec<usize> = (0..sampler.columns()).map(|d| sampler.offset(d)).collect();
        let index = RowIndex::new(codes, &offsets, sampler.width(), rows);
        let spans = transformer.spans();
        let cond_spans = transformer
            .discrete_columns()
            .iter()
            .enumerate()
            .map(|(d, c)| CondSpan {
                start: spans[c.span].start,
                width: spans[c.span].width,
                offset: offsets[d],
            })
            .collect();
        let trainer = Self {
            generator,
            discriminator,
            g_adam,
            d_adam,
            data,
            width: transformer.width(),
            rows,
            sampler: sampler.clone(),
            index,
            cond_spans,
            batch: config.training.batch_size,
            pac: config.pac,
            discriminator_steps: config.discriminator_steps,
            lambda: config.gradient_penalty as f32,
            last_loss: 0.0,
            frequency_conditions: false,
            gen_pass: GeneratorPass::default(),
            critic_pass: DiscriminatorPass::default(),
            columns: Vec::new(),
            real_rows: Vec::new(),
            dy: Matrix::default(),
        };
        (sampler, trainer)
    }

    /// Draws noise and conditional vectors for a batch into the generator pass (and the
    /// chosen discrete column of each row into `columns`).
    fn draw_inputs(&mut self, rng: &mut ChaCha8Rng) {
        let b = self.batch;
        self.gen_pass.z.resize(b, self.generator.embedding());
        fill_normal(&mut self.gen_pass.z.data, rng);
        if self.frequency_conditions {
            self.sampler
                .sample_by_frequency(b, &mut self.columns, &mut self.gen_pass.hot, rng);
        } else {
            self.sampler
                .sample_train(b, &mut self.columns, &mut self.gen_pass.hot, rng);
        }
    }

    /// The critic's conditional inputs for the batch's packs, repeated `copies` times.
    fn critic_hot(&mut self, copies: usize) {
        let hot = &mut self.critic_pass.hot;
        hot.clear();
        if self.sampler.width() == 0 {
            return;
        }
        let cond = self.sampler.width();
        for _ in 0..copies {
            for (i, &g) in self.gen_pass.hot.iter().enumerate() {
                hot.push(((i % self.pac) * cond) as u32 + g);
            }
        }
    }

    /// One critic update; returns the critic loss (penalty included).
    fn critic_step(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        let (b, w, pac) = (self.batch, self.width, self.pac);
        let packs = b / pac;
        self.draw_inputs(rng);
        // Real rows with the drawn categories.
        self.real_rows.clear();
        for i in 0..b {
            let g = self.gen_pass.hot.get(i).copied();
            self.real_rows.push(self.index.draw(g, rng));
        }
        self.generator.forward(&mut self.gen_pass, true, rng);
        // Critic input: real packs, fake packs, interpolated packs.
        let input = &mut self.critic_pass.input;
        input.resize(3 * packs, pac * w);
        let (real, rest) = input.data.split_at_mut(b * w);
        let (fake, mixed) = rest.split_at_mut(b * w);
        for (dst, &r) in real.chunks_mut(w.max(1)).zip(&self.real_rows) {
            dst.copy_from_slice(&self.data[r * w..(r + 1) * w]);
        }
        fake.copy_from_slice(&self.gen_pass.output.data[..b * w]);
        for ((m, r), f) in mixed
            .chunks_mut(pac * w)
            .zip(real.chunks(pac * w))
            .zip(fake.chunks(pac * w))
        {
            let alpha: f32 = rng.random();
            for ((x, a), c) in m.iter_mut().zip(r).zip(f) {
                *x = alpha * a + (1.0 - alpha) * c;
            }
        }
        self.critic_hot(3);
        self.discriminator
            .forward(&mut self.critic_pass, Some(&mut *rng));
        let scores = &self.critic_pass.out.data;
        let mean_real = scores[..packs].iter().map(|&s| f64::from(s)).sum::<f64>() / packs as f64;
        let mean_fake = scores[packs..2 * packs]
            .iter()
            .map(|&s| f64::from(s))
            .sum::<f64>()
            / packs as f64;
        let inv = 1.0 / packs as f32;
        self.dy.resize(2 * packs, 1);
        self.dy.data[..packs].fill(-inv);
        self.dy.data[packs..].fill(inv);
        self.discriminator.params.zero_grads();
        self.discriminator
            .backward(&mut self.critic_pass, &self.dy, 2 * packs, true, false);
        let penalty = self.discriminator.gradient_penalty(
            &mut self.critic_pass,
            2 * packs,
            packs,
            self.lambda,
        );
        self.d_adam.step(&mut self.discriminator.params);
        mean_fake - mean_real + penalty
    }

    /// One generator update; returns the generator loss.
    fn generator_step(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        let (b, w, pac) = (self.batch, self.width, self.pac);
        let packs = b / pac;
        self.draw_inputs(rng);
        self.generator.forward(&mut self.gen_pass, true, rng);
        let input = &mut self.critic_pass.input;
        input.resize(packs, pac * w);
        input
            .data
            .copy_from_slice(&self.gen_pass.output.data[..b * w]);
        self.critic_hot(1);
        self.discriminator
            .forward(&mut self.critic_pass, Some(&mut *rng));
        let mean_fake = self
            .critic_pass
            .out
            .data
            .iter()
            .map(|&s| f64::from(s))
            .sum::<f64>()
            / packs as f64;
        self.dy.resize(packs, 1);
        self.dy.data.fill(-1.0 / packs as f32);
        self.discriminator
            .backward(&mut self.critic_pass, &self.dy, packs, false, true);
        self.generator
            .activation_backward(&mut self.gen_pass, &self.critic_pass.d_input.data);
        // Cross-entropy of the conditioned column's logits against its category.
        let mut cross_entropy = 0.0f64;
        if !self.cond_spans.is_empty() {
            let inv_b = 1.0 / b as f32;
            let logits = &self.gen_pass.logits;
            let d_logits = &mut self.gen_pass.d_logits;
            let mut probs = Vec::new();
            for (i, (&d, &g)) in self.columns.iter().zip(&self.gen_pass.hot).enumerate() {
                let span = self.cond_spans[d as usize];
                let target = g as usize - span.offset;
                let row = &logits.row(i)[span.start..span.start + span.width];
                let lse = crate::nn::layers::log_sum_exp(row);
                cross_entropy += f64::from(lse - row[target]);
                probs.clear();
                probs.extend(row.iter().map(|x| (x - lse).exp()));
                probs[target] -= 1.0;
                let drow = &mut d_logits.row_mut(i)[span.start..span.start + span.width];
                for (dl, p) in drow.iter_mut().zip(&probs) {
                    *dl += p * inv_b;
                }
            }
            cross_entropy /= b as f64;
        }
        self.generator.params.zero_grads();
        self.generator.backward(&mut self.gen_pass);
        self.g_adam.step(&mut self.generator.params);
        -mean_fake + cross_entropy
    }
}

impl StepModel for Trainer<'_> {
    fn train_step(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64> {
        // An epoch is ⌊rows / batch⌋ steps of full batches (one when the table is smaller
        // than a batch): a trailing partial chunk is skipped.
        if rows.len() < self.batch && self.rows > self.batch {
            return Ok(self.last_loss);
        }
        for _ in 0..self.discriminator_steps {
            self.critic_step(rng);
        }
        let loss = self.generator_step(rng);
        self.last_loss = loss;
        Ok(loss)
    }

    fn state(&self) -> Result<ModelState> {
        let mut weights = HashMap::new();
        merge(&mut weights, &self.generator.params, "generator.")?;
        merge(&mut weights, &self.discriminator.params, "discriminator.")?;
        let mut optimizer = self
            .g_adam
            .state_tensors(&self.generator.params, "generator.")?;
        optimizer.extend(
            self.d_adam
                .state_tensors(&self.discriminator.params, "discriminator.")?,
        );
        Ok(ModelState {
            weights,
            optimizer,
            steps: self.g_adam.step_count(),
        })
    }

    fn load_state(&mut self, state: ModelState) -> Result<()> {
        self.generator
            .params
            .load_tensors("generator.", &state.weights)?;
        self.discriminator
            .params
            .load_tensors("discriminator.", &state.weights)?;
        self.g_adam.load_state(
            &self.generator.params,
            "generator.",
            &state.optimizer,
            state.steps,
        )?;
        let d_steps = state.steps * self.discriminator_steps as u64;
        self.d_adam.load_state(
            &self.discriminator.params,
            "discriminator.",
            &state.optimizer,
            d_steps,
        )?;
        Ok(())
    }
}
