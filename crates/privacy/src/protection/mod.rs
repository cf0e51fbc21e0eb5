//! Protection of outliers before a model sees the data: rare categories merged into an
//! "other" value ([`rare`]), extreme values capped at P1/P99 ([`capping`]), and sequences
//! truncated to a maximum length ([`truncation`]).
//!
//! Each protection is fitted from one of three sources ([`Protection`]):
//! - [`Protection::Declared`]: the user's public declaration ([`PublicColumn`]); it reads
//!   no data and costs nothing.
//! - [`Protection::Dp`]: noisy counts and DP quantiles, charged to the
//!   [`PrivacyTracker`]; a declaration, when given, narrows what must be measured.
//! - [`Protection::Plain`]: exact statistics of the data, for pipelines that are not DP.
//!   It marks the tracker not DP, so a run that uses it is never labelled DP.
//!
//! Explicit bounds that do not come from a schema file are declared by building a
//! [`PublicColumn`] by hand (`PublicColumn { bounds: Some([0.0, 1.0]), ..Default::default() }`).

pub mod capping;
pub mod rare;
pub mod truncation;

pub use capping::{Caps, dp_range};
pub use rare::RareCategories;
pub use truncation::Truncation;

use crate::error::{PrivacyError, Result};
use crate::public::PublicColumn;
use crate::tracker::PrivacyTracker;

/// Where a protection's parameters come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protection<'a> {
    /// The public declaration of the column: free, reads no data. Fitting fails when
    /// the declaration lacks the field the protection needs.
    Declared(&'a PublicColumn),
    /// Measured with DP at a cost of `rho` (zCDP), charged to the tracker. `declared`
    /// (optional) supplies public facts that save part of the measurement: the category
    /// list, the value bounds or the maximum sequence length.
    Dp {
        /// zCDP budget of this protection (all its mechanisms together).
        rho: f64,
        /// Public facts about the column, if any.
        declared: Option<&'a PublicColumn>,
    },
    /// Exact statistics of the data, without DP: marks the tracker not DP.
    Plain,
}

impl<'a> Protection<'a> {
    /// DP with no declaration.
    pub fn dp(rho: f64) -> Self {
        Self::Dp {
            rho,
            declared: None,
        }
    }

    /// DP helped by a declaration.
    pub fn dp_with(rho: f64, declared: &'a PublicColumn) -> Self {
        Self::Dp {
            rho,
            declared: Some(declared),
        }
    }
}

/// An [`PrivacyError::InvalidParameter`] whose message names the column.
pub(crate) fn invalid(
    column: &str,
    field: &'static str,
    message: impl std::fmt::Display,
) -> PrivacyError {
    PrivacyError::InvalidParameter {
        field,
        message: format!("column {column:?}: {message}"),
    }
}

/// Adds the column to an error from a mechanism or the tracker.
pub(crate) fn in_column(column: &str, error: PrivacyError) -> PrivacyError {
    match error {
        PrivacyError::InvalidParameter { field, message } => invalid(column, field, message),
    }
}

/// Refuses a ρ that is not a positive finite number.
pub(crate) fn check_rho(column: &str, rho: f64) -> Result<()> {
    if rho > 0.0 && rho.is_finite() {
        Ok(())
    } else {
        Err(invalid(
            column,
            "rho",
            format!("{rho} is not a positive number"),
        ))
    }
}

/// Records that `what` read `column` exactly: the run is then not DP.
pub(crate) fn mark_plain(tracker: &mut PrivacyTracker, what: &str, column: &str) {
    tracker.mark_not_dp(format!(
        "{what}: {column} computed from the data without DP"
    ));
}

/// The p-quantile of sorted values by linear interpolation between order statistics.
/// `sorted` must be non-empty.
pub(crate) fn exact_quantile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let position = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let (a, b) = (sorted[below], sorted[above.min(sorted.len() - 1)]);
    a + (b - a) * (position - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::PrivacyBudget;

    #[test]
    fn exact_quantiles_interpolate() {
        let sorted = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(exact_quantile(&sorted, 0.0), 0.0);
        assert_eq!(exact_quantile(&sorted, 0.5), 2.0);
        assert_eq!(exact_quantile(&sorted, 0.625), 2.5);
        assert_eq!(exact_quantile(&sorted, 1.0), 4.0);
        assert_eq!(exact_quantile(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn plain_reads_are_reported_with_the_column() {
        let mut tracker = PrivacyTracker::new(PrivacyBudget::new(1.0, 1e-5).expect("budget"));
        mark_plain(&mut tracker, "extreme-value caps", "income");
        let report = tracker.report().expect("report");
        assert!(!report.differentially_private);
        assert_eq!(
            report.not_dp_reasons,
            vec!["extreme-value caps: income computed from the data without DP".to_string()]
        );
    }

    #[test]
    fn errors_name_the_column() {
        let err = check_rho("age", 0.0).expect_err("zero rho");
        assert!(err.to_string().contains("\"age\""), "{err}");
        let err = in_column(
            "age",
            PrivacyError::InvalidParameter {
                field: "sigma",
                message: "bad".into(),
            },
        );
        assert_eq!(err.to_string(), "invalid sigma: column \"age\": bad");
    }
}
