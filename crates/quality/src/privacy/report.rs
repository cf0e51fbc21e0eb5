//! [`PrivacyReport`]: every privacy metric of one evaluation, serialisable.

use serde::{Deserialize, Serialize};

use super::dcr::DcrReport;
use super::membership::MembershipReport;
use super::risk::RiskEstimate;
use crate::report::SkippedColumn;

/// How much a synthetic table gives away about the rows it was trained on.
///
/// Field names are stable; see [`evaluate_privacy`](super::evaluate_privacy) for how each
/// number is computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// Distances to closest records.
    pub dcr: DcrReport,
    /// The density-ratio membership-inference attack.
    pub membership: MembershipReport,
    /// Anonymeter-style singling-out risk.
    pub singling_out: RiskEstimate,
    /// Anonymeter-style linkability risk between [`PrivacyReport::link_columns`].
    pub linkability: RiskEstimate,
    /// Anonymeter-style inference risk of [`PrivacyReport::secret`].
    pub attribute_inference: RiskEstimate,
    /// Rows of each table, and how many the metrics used.
    pub rows: RowsUsed,
    /// The compared columns, in the training schema's order.
    pub columns: Vec<String>,
    /// Training columns left out (identifiers, free text).
    pub skipped: Vec<SkippedColumn>,
    /// The attribute-inference target.
    pub secret: String,
    /// The two column sets of the linkability attack (empty when fewer than two columns
    /// are compared, in which case the attack did not run).
    pub link_columns: (Vec<String>, Vec<String>),
}

/// Table sizes and sample sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsUsed {
    /// Rows of the training table.
    pub train_total: usize,
    /// Rows of the holdout table.
    pub holdout_total: usize,
    /// Rows of the synthetic table.
    pub synthetic_total: usize,
    /// Training rows sampled for distances and attacks.
    pub train: usize,
    /// Holdout rows sampled (as many as training rows).
    pub holdout: usize,
    /// Synthetic rows sampled.
    pub synthetic: usize,
}
