//! Differential privacy for Mirage.
//!
//! - [`rdp`]: the Rényi-DP accountant of the Poisson-subsampled Gaussian mechanism
//!   (Mironov, Talwar & Zhang, 2019), its composition over training steps, and the
//!   conversion to (ε, δ) of Balle et al. (2020). Enforcement of privacy budgets is done
//!   on this accountant.
//! - [`ledger`]: a dataset's budget as a pure state machine: idempotent reserve, commit
//!   and release by request id, and a hash-chained event log with `verify`.
//! - [`tracker`]: the account of one DP run; [`mechanism`]: noisy counts, partition
//!   selection, DP quantiles; [`dpsgd`]: Poisson sampling, clipping and noise.
//! - [`mst`]: the MST synthesizer core (McKenna et al. 2021): noisy marginals, a privately
//!   selected tree, Private-PGM estimation and sampling, on integer-coded columns.

pub mod dpsgd;
pub mod error;
pub mod ledger;
pub mod mechanism;
pub mod mst;
pub mod protection;
pub mod prv;
pub mod public;
pub mod rdp;
pub mod tracker;

pub use dpsgd::{DpSgdPlan, clip_factors, noise_and_average, poisson_sample};
pub use error::{PrivacyError, Result};
pub use ledger::{Ledger, LedgerError, LedgerEvent, LedgerFile, LogEntry, Spend, verify_log};
pub use mst::{MstMeasurement, MstMeasurementKind, MstModel, MstOptions};
pub use protection::{Caps, Protection, RareCategories, Truncation, dp_range};
pub use prv::{PrvAccountant, PrvEpsilon};
pub use public::{PublicColumn, PublicSchema};
pub use rdp::{
    RdpAccountant, default_orders, epsilon_from_rdp, noise_multiplier_after, noise_multiplier_for,
    subsampled_gaussian_rdp,
};
pub use tracker::{
    ACCOUNTANT_VERSION, Mechanism, MechanismEvent, PrivacyBudget, PrivacyReport, PrivacyTracker,
};
