//! Privacy risk: how much a synthetic table gives away about the rows it was trained on,
//! measured against real rows it never saw (the holdout).
//!
//! The flow of [`evaluate_privacy`]:
//!
//! 1. `columns` encodes the compared columns of the three tables once into [`RowMatrix`]es
//!    (`rows`): numbers scaled by the *training* range, labels as codes of one shared
//!    dictionary, nulls as values at distance 1 from everything but null. The distance of
//!    two rows, [`row_distance`], is then the mean of `min(|a − b|, 1)` over the columns.
//! 2. The tables are sampled (`sample`): training and holdout to the same size, the
//!    synthetic table to at most [`PrivacyOptions::max_rows`].
//! 3. [`neighbours`] finds exact nearest neighbours fast (pivot-sorted blocks, lower-bound
//!    pruning, early abandoning, one thread per core); every metric below uses it.
//! 4. `dcr`: distances to closest records, closer-to-train share, identical matches, NNDR.
//! 5. `membership`: a density-ratio membership-inference attack, reported as ROC-AUC.
//! 6. `anonymeter`: singling-out, linkability and attribute-inference attacks, each against
//!    a random baseline and a control set, turned into a [`RiskEstimate`] with a Wilson
//!    interval (`wilson`, `risk`).
//!
//! Everything is seeded by [`PrivacyOptions::seed`]: the same tables and options give the
//! same [`PrivacyReport`].

mod anonymeter;
mod columns;
mod dcr;
mod error;
mod evaluate;
mod membership;
pub mod neighbours;
mod options;
mod report;
mod risk;
pub mod rows;
mod sample;
mod wilson;

pub use anonymeter::inference::INFERENCE_TOLERANCE;
pub use anonymeter::linkability::LINK_NEIGHBOURS;
pub use anonymeter::singling_out::{ATTEMPTS_PER_PREDICATE, PREDICATE_COLUMNS};
pub use dcr::{DcrReport, DistanceSummary, HISTOGRAM_BINS, NndrSummary};
pub use error::{PrivacyError, TableRole};
pub use evaluate::evaluate_privacy;
pub use membership::{MEMBERSHIP_NEIGHBOURS, MembershipReport, roc_auc};
pub use neighbours::{Neighbours, nearest_neighbours};
pub use options::PrivacyOptions;
pub use report::{PrivacyReport, RowsUsed};
pub use risk::RiskEstimate;
pub use rows::{RowMatrix, row_distance};
pub use wilson::{Z_95, wilson_interval};
