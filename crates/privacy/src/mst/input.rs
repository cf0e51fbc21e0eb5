//! Checks of the input of [`super::MstModel::fit`], so that bad data gives an error, never
//! a panic.

use super::MstOptions;
use crate::error::{PrivacyError, Result};

/// Refuses a non-positive or non-finite ρ, bad options, no columns or rows, columns of
/// different lengths, empty domains and codes outside their domain.
pub(crate) fn validate_input(
    columns: &[Vec<u32>],
    domains: &[usize],
    rho: f64,
    options: &MstOptions,
) -> Result<()> {
    let invalid = |field: &'static str, message: String| {
        Err(PrivacyError::InvalidParameter { field, message })
    };
    if !(rho.is_finite() && rho > 0.0) {
        return invalid("rho", format!("must be positive and finite, got {rho}"));
    }
    if !(options.compress_sigmas.is_finite() && options.compress_sigmas >= 0.0) {
        return invalid(
            "compress_sigmas",
            format!(
                "must be zero or more and finite, got {}",
                options.compress_sigmas
            ),
        );
    }
    if options.max_cells == 0 {
        return invalid("max_cells", "must be at least 1".into());
    }
    if domains.is_empty() {
        return invalid(
            "columns",
            "no columns given; pass at least one column".into(),
        );
    }
    if columns.len() != domains.len() {
        return invalid(
            "domains",
            format!(
                "{} columns but {} domains; give one domain per column",
                columns.len(),
                domains.len()
            ),
        );
    }
    let rows = columns[0].len();
    if rows == 0 {
        return invalid("columns", "the data has no rows".into());
    }
    for (i, (column, &domain)) in columns.iter().zip(domains).enumerate() {
        if column.len() != rows {
            return invalid(
                "columns",
                format!(
                    "column {i} has {} rows but column 0 has {rows}; all columns need the same length",
                    column.len()
                ),
            );
        }
        if domain == 0 {
            return invalid(
                "domains",
                format!("column {i} has an empty domain; a domain needs at least one value"),
            );
        }
        if domain > options.max_cells {
            return invalid(
                "domains",
                format!(
                    "column {i} has {domain} values, more than max_cells = {}; coarsen the column or raise max_cells",
                    options.max_cells
                ),
            );
        }
        if let Some((row, &code)) = column
            .iter()
            .enumerate()
            .find(|&(_, &code)| code as usize >= domain)
        {
            return invalid(
                "columns",
                format!(
                    "column {i} has code {code} at row {row}, outside its domain of {domain} values"
                ),
            );
        }
    }
    Ok(())
}
