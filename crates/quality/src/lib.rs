//! Mirage quality scores: how well a synthetic table reproduces a real one, with the
//! definitions of SDMetrics' single-table QualityReport so that numbers compare with
//! published ones.
//!
//! [`evaluate`] takes the real and the synthetic [`Table`](mirage_core::Table) and:
//!
//! 1. picks the real columns the synthetic table shares, setting aside identifiers and
//!    free text ([`SkippedColumn`]);
//! 2. encodes each column once (`encode`): numbers as `f64` with `NaN` for null, labels as
//!    dense codes of one dictionary shared by both sides;
//! 3. scores [`ColumnShapes`] (`shapes`: KSComplement, TVComplement) on every row;
//! 4. scores [`ColumnPairTrends`] (`trends`: CorrelationSimilarity, ContingencySimilarity)
//!    on every pair of columns, over at most [`QualityOptions::max_rows`] rows per table
//!    (`sample`), pairs spread over the cores;
//! 5. runs the [`Diagnostic`] checks (`diagnostic`: BoundaryAdherence, CategoryAdherence,
//!    KeyUniqueness);
//!
//! and returns a [`QualityReport`] whose `overall` score is the mean of the shapes and
//! trends scores. `overall_associated` weighs the trends as SDMetrics ≥ 0.17 does, over
//! the pairs with a real trend only (`association`); published SDMetrics figures compare
//! with that one.

mod assessment;
mod association;
mod diagnostic;
mod encode;
mod error;
mod evaluate;
pub mod gate;
pub mod html;
mod options;
pub mod privacy;
pub mod recommend;
mod report;
mod sample;
mod shapes;
mod trends;
pub mod utility;
pub mod visuals;

pub use assessment::{
    Assessment, AssessmentOptions, AssessmentRows, REPORT_VERSION, assess, gate_checks,
};
pub use diagnostic::{Diagnostic, DiagnosticCheck, DiagnosticCheckKind};
pub use error::{QualityError, Result};
pub use evaluate::evaluate;
pub use options::QualityOptions;
pub use privacy::{
    DcrReport, DistanceSummary, MembershipReport, NndrSummary, PrivacyError, PrivacyOptions,
    PrivacyReport, RiskEstimate, evaluate_privacy,
};
pub use report::{QualityReport, SkipReason, SkippedColumn};
pub use shapes::{ColumnShapeScore, ColumnShapes, ShapeMetric};
pub use trends::{ColumnPairTrends, PairMetric, PairTrendScore};
pub use utility::{
    DetectionOptions, DetectionReport, GbdtConfig, Task, UtilityError, UtilityOptions,
    UtilityReport, detection, evaluate_utility,
};
