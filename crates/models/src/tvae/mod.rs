//! TVAE (Xu et al., 2019, "Modeling Tabular Data using Conditional GAN", §4.2): a
//! variational autoencoder over the mode-specific normalised table.
//!
//! Fitting encodes the table once with the [`DataTransformer`], then trains the
//! encoder/decoder ([`network`]) with Adam through the shared epoch loop
//! ([`crate::training::run_epochs`]: progress, cancellation, time budget, checkpoints,
//! resume). Sampling decodes standard-normal latent codes, adds the learned per-column
//! noise to the scalars and inverts the transformer. Conditions fall back to the shared
//! rejection sampler (a VAE has no conditional input).
//!
//! With a `privacy` section in the config the fit is DP-TVAE (`private.rs`): DP column
//! statistics build the transformer, then DP-SGD trains the whole model with per-sample
//! clipping ([`clipped`]); the model keeps the privacy report.

pub mod clipped;
mod config;
pub mod network;
mod private;
#[cfg(test)]
mod tests;

use std::path::Path;

use arrow::array::RecordBatch;
use candle_core::Device;
use mirage_core::records::ModelKind;
use mirage_core::{Schema, Table, Value};
use mirage_privacy::PrivacyReport;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{DP_BATCH, DP_EPOCHS, TvaeConfig};

use self::network::{TvaeNetwork, Workspace};
use crate::error::{ModelError, Result};
use crate::nn::{self, Adam, Matrix, WeightDecay};
use crate::progress::{FitContext, ProgressEvent};
use crate::synthesizer::Synthesizer;
use crate::training::{self, ModelState, StepModel, TrainingOutcome, candle_error};
use crate::transformer::calibration::category_targets;
use crate::transformer::{DataTransformer, Encoded, Span};

/// What the model learned besides its weights; saved as the model's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Parameters {
    transformer: DataTransformer,
    training: Option<TrainingOutcome>,
    /// What a DP fit spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    privacy: Option<PrivacyReport>,
}

/// A fitted TVAE.
#[derive(Debug)]
pub struct Tvae {
    config: TvaeConfig,
    transformer: DataTransformer,
    network: TvaeNetwork,
    training: Option<TrainingOutcome>,
    privacy: Option<PrivacyReport>,
}

/// Latent codes per calibration round ([`TvaeNetwork::calibrate_categories`]).
const CALIBRATION_SAMPLES: usize = 20_000;
/// Calibration rounds.
const CALIBRATION_ROUNDS: usize = 4;

/// Rows of samples decoded at once.
const SAMPLE_CHUNK: usize = 4096;

/// The training state: the network, its optimizer and the step's buffers.
///
/// A step splits its batch in two shares, one per core: the network and a replica
/// (the same weights, its own gradients) each run forward and backward on their share with
/// single-threaded matrix products, and the replica's gradients are added to the
/// network's. Splitting the batch rather than each product halves the elementwise work
/// (activations, the loss, the reparameterisation) as well, and avoids waking the
/// products' worker threads a dozen times per step.
struct Trainer<'a> {
    network: &'a mut TvaeNetwork,
    optimizer: Adam,
    data: &'a Encoded,
    transformer: &'a DataTransformer,
    factor: f32,
    batch: Matrix,
    work: Workspace,
    /// The second share's network, buffers and rows.
    replica: Option<(TvaeNetwork, Workspace, Matrix)>,
}

/// Batches smaller than this run in one share.
const SPLIT_ROWS: usize = 128;

fn gather(batch: &mut Matrix, data: &Encoded, rows: &[u32]) {
    let width = data.width;
    batch.resize(rows.len(), width);
    for (dst, &row) in batch.data.chunks_mut(width).zip(rows) {
        let start = row as usize * width;
        dst.copy_from_slice(&data.data[start..start + width]);
    }
}

impl StepModel for Trainer<'_> {
    fn train_step(&mut self, rows: &[u32], rng: &mut ChaCha8Rng) -> Result<f64> {
        let total = rows.len();
        let spans = self.transformer.spans();
        self.network.params.zero_grads();
        let loss = match &mut self.replica {
            Some((replica, work, batch)) if total >= SPLIT_ROWS => {
                let (first, second) = rows.split_at(total / 2);
                gather(&mut self.batch, self.data, first);
                gather(batch, self.data, second);
                replica.params.copy_values_from(&self.network.params);
                replica.params.zero_grads();
                let mut second_rng = ChaCha8Rng::seed_from_u64(rng.random());
                let factor = self.factor;
                let (network, own_batch, own_work) =
                    (&mut *self.network, &self.batch, &mut self.work);
                let (own, other) = std::thread::scope(|scope| {
                    let other = scope.spawn(|| {
                        nn::serial(|| {
                            replica.loss_and_gradients(
                                batch,
                                spans,
                                factor,
                                work,
                                &mut second_rng,
                                total,
                            )
                        })
                    });
                    let own = nn::serial(|| {
                        network.loss_and_gradients(own_batch, spans, factor, own_work, rng, total)
                    });
                    (own, other.join())
                });
                let other = other.map_err(|_| ModelError::Tensor {
                    message: "a TVAE training thread panicked".into(),
                })?;
                self.network.params.add_grads_from(&replica.params);
                own + other
            }
            _ => {
                gather(&mut self.batch, self.data, rows);
                self.network.loss_and_gradients(
                    &self.batch,
                    spans,
                    self.factor,
                    &mut self.work,
                    rng,
                    total,
                )
            }
        };
        if !loss.is_finite() {
            return Err(ModelError::Tensor {
                message: "the TVAE loss diverged (not finite); try a smaller learning_rate".into(),
            });
        }
        self.optimizer.step(&mut self.network.params);
        self.network.clamp_sigma();
        Ok(loss)
    }

    fn state(&self) -> Result<ModelState> {
        Ok(ModelState {
            weights: self.network.params.to_tensors("")?,
            optimizer: self.optimizer.state_tensors(&self.network.params, "")?,
            steps: self.optimizer.step_count(),
        })
    }

    fn load_state(&mut self, state: ModelState) -> Result<()> {
        self.network.params.load_tensors("", &state.weights)?;
        self.optimizer
            .load_state(&self.network.params, "", &state.optimizer, state.steps)
    }
}

/// A fresh network of `config`'s shape for rows of `width` encoded values.
fn new_network(width: usize, config: &TvaeConfig, rng: &mut ChaCha8Rng) -> TvaeNetwork {
    TvaeNetwork::new(
        width,
        &config.encoder_dims,
        &config.decoder_dims,
        config.latent_dim,
        rng,
    )
}

/// Calibrates the decoder's categories onto `targets` ([`TvaeNetwork::calibrate_categories`]).
fn calibrate(network: &mut TvaeNetwork, spans: &[Span], targets: &[f32], rng: &mut ChaCha8Rng) {
    network.calibrate_categories(spans, targets, CALIBRATION_SAMPLES, CALIBRATION_ROUNDS, rng);
}

fn corrupt(message: String) -> ModelError {
    ModelError::InvalidConfig {
        model: config::MODEL.into(),
        field: "parameters".into(),
        message,
    }
}

impl Tvae {
    /// Fits TVAE on every column of `table`.
    pub fn fit(table: &Table, config: TvaeConfig, context: &mut FitContext) -> Result<Self> {
        config.validate()?;
        crate::synthesizer::ensure_not_empty(table)?;
        if let Some(settings) = config.dp_settings()? {
            let fit = private::fit(table, &config, &settings, context)?;
            return Ok(Self {
                config,
                transformer: fit.transformer,
                network: fit.network,
                training: fit.training,
                privacy: Some(fit.report),
            });
        }
        let rows = table.num_rows();
        let transformer: DataTransformer =
            match training::checkpoint::resumed_encoder(&config.training)? {
                Some(transformer) => transformer,
                None => DataTransformer::fit(table, &config.transformer)?,
            };
        if transformer.schema() != table.schema() {
            return Err(ModelError::InvalidConfig {
                model: config::MODEL.into(),
                field: "training.resume_from".into(),
                message: "the checkpoint was written for a table with other columns".into(),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.training.seed);
        let encoded = transformer.transform(table, &mut rng)?;
        context.report(ProgressEvent {
            stage: "encoding",
            step: 1,
            total: 1,
            message: format!("{} rows × {} encoded values", encoded.rows, encoded.width),
            ..Default::default()
        });
        let mut network = new_network(transformer.width(), &config, &mut rng);
        let training = if transformer.width() == 0 {
            None
        } else {
            let encoder = serde_json::to_value(&transformer).map_err(|e| ModelError::Tensor {
                message: format!("cannot encode the transformer state: {e}"),
            })?;
            let optimizer = Adam::new(
                &network.params,
                config.training.learning_rate as f32,
                (0.9, 0.999),
                WeightDecay::L2(config.training.weight_decay as f32),
            );
            let replica = (nn::threads() > 1)
                .then(|| (network.clone(), Workspace::default(), Matrix::default()));
            let mut trainer = Trainer {
                network: &mut network,
                optimizer,
                data: &encoded,
                transformer: &transformer,
                factor: config.loss_factor as f32,
                batch: Matrix::default(),
                work: Workspace::default(),
                replica,
            };
            let outcome =
                training::run_epochs(&mut trainer, rows, &config.training, &encoder, context)?;
            if config.calibrate {
                calibrate(
                    &mut network,
                    transformer.spans(),
                    &category_targets(&encoded),
                    &mut rng,
                );
            }
            Some(outcome)
        };
        Ok(Self {
            config,
            transformer,
            network,
            training,
            privacy: None,
        })
    }

    /// Rebuilds a saved model from its parameters and the `weights.safetensors` bytes.
    pub fn restore(
        _schema: Schema,
        config: &serde_json::Value,
        parameters: serde_json::Value,
        weights: Option<&[u8]>,
    ) -> Result<Self> {
        let config = TvaeConfig::from_json(config)?;
        let parameters: Parameters =
            serde_json::from_value(parameters).map_err(|e| corrupt(e.to_string()))?;
        let weights = weights.ok_or_else(|| corrupt("weights.safetensors is missing".into()))?;
        let tensors =
            candle_core::safetensors::load_buffer(weights, &Device::Cpu).map_err(candle_error)?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut network = new_network(parameters.transformer.width(), &config, &mut rng);
        network.params.load_tensors("", &tensors)?;
        Ok(Self {
            config,
            transformer: parameters.transformer,
            network,
            training: parameters.training,
            privacy: parameters.privacy,
        })
    }

    /// How training went (`None` when no column needed the network).
    pub fn training_outcome(&self) -> Option<&TrainingOutcome> {
        self.training.as_ref()
    }

    /// The hyperparameters.
    pub fn config(&self) -> &TvaeConfig {
        &self.config
    }

    /// The trained network.
    pub fn network(&self) -> &TvaeNetwork {
        &self.network
    }
}

impl Synthesizer for Tvae {
    fn kind(&self) -> ModelKind {
        ModelKind::Tvae
    }

    fn schema(&self) -> &Schema {
        self.transformer.schema()
    }

    fn sample_batch(
        &self,
        rows: usize,
        first_row: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<RecordBatch> {
        let width = self.transformer.width();
        let mut data = Vec::with_capacity(rows * width);
        let mut work = Workspace::default();
        let mut done = 0;
        while done < rows {
            let chunk = SAMPLE_CHUNK.min(rows - done);
            if width > 0 {
                let decoded = self
                    .network
                    .sample(chunk, self.transformer.spans(), &mut work, rng);
                data.extend_from_slice(&decoded.data[..chunk * width]);
            }
            done += chunk;
        }
        self.transformer.inverse(&data, rows, first_row, rng)
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
        serde_json::to_value(&parameters).map_err(|e| corrupt(e.to_string()))
    }

    fn save_weights(&self, path: &Path) -> Result<bool> {
        let tensors = self.network.params.to_tensors("")?;
        candle_core::safetensors::save(&tensors, path).map_err(candle_error)?;
        Ok(true)
    }
}
