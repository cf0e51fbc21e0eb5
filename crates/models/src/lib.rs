//! Mirage's synthesizers.
//!
//! Every model implements [`Synthesizer`]: it is fitted once ([`fit`], with progress events
//! and a cancellation token in a [`FitContext`]), then sampled many times through
//! [`sampling::sample`], which handles seeding, bounded batches and conditions for all
//! models alike. [`store`] saves a fitted model as an immutable directory and loads it back.
//!
//! - `argn/`: TabularARGN, an auto-regressive network over discretised columns.
//! - `training/`: the training loop neural models share (AdamW, early stopping, time
//!   budget, checkpoints and resume, progress events).
//! - `copula/`: the Gaussian copula (marginals, normal scores, correlation, sampling).
//! - `stats/`: the normal distribution and small linear algebra.
//! - `columns.rs`: Arrow arrays ↔ plain vectors.

pub mod argn;
pub mod by_class;
pub mod columns;
pub mod copula;
pub mod ctgan;
pub mod dp;
pub mod error;
mod model_config;
pub mod mst;
pub mod nn;
pub mod progress;
pub mod reference;
pub mod sampling;
pub mod stats;
pub mod store;
pub mod synthesizer;
pub mod tabddpm;
pub mod training;
pub mod transformer;
pub mod tvae;

pub use argn::{ArgnConfig, TabularArgn};
pub use by_class::{Batches, ClassIter, sample_by_class, sample_with};
pub use copula::{GaussianCopula, GaussianCopulaConfig};
pub use error::{ModelError, Result};
pub use progress::{CancellationToken, FitContext, ProgressEvent};
pub use reference::{Reference, reference_rows};
pub use sampling::{SampleRequest, rows_meeting, sample, sample_all, sample_rebalanced};
pub use store::{ModelManifest, load_model, save_model};
pub use synthesizer::{
    Synthesizer, available_models, fit, parse_model_kind, restore, restore_with_weights,
};
