//! Mirage's synthesizers.
//!
//! Every model implements [`Synthesizer`]: it is fitted once ([`fit`], with progress events
//! and a cancellation token in a [`FitContext`]), then sampled many times through
//! [`sampling::sample`], which handles seeding, bounded batches and conditions for all
//! models alike. [`store`] saves a fitted model as an immutable directory and loads it back.
//!
//! - `copula/`: the Gaussian copula (marginals, normal scores, correlation, sampling).
//! - `stats/`: the normal distribution and small linear algebra.
//! - `columns.rs`: Arrow arrays ↔ plain vectors.

pub mod columns;
pub mod copula;
pub mod error;
pub mod progress;
pub mod sampling;
pub mod stats;
pub mod store;
pub mod synthesizer;

pub use copula::{GaussianCopula, GaussianCopulaConfig};
pub use error::{ModelError, Result};
pub use progress::{CancellationToken, FitContext, ProgressEvent};
pub use sampling::{SampleRequest, sample, sample_all};
pub use store::{ModelManifest, load_model, save_model};
pub use synthesizer::{Synthesizer, available_models, fit, parse_model_kind, restore};
