//! [`evaluate`]: picks the columns, encodes them once, and computes the three properties.

use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Table};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::diagnostic::{DiagnosticCheck, DiagnosticCheckKind, diagnostic, key_uniqueness};
use crate::encode::{
    EncodedColumn, EncodedValues, NumericColumn, encode_discrete, key_counts, numeric_values,
};
use crate::error::{QualityError, Result};
use crate::options::QualityOptions;
use crate::report::{QualityReport, SkipReason, SkippedColumn};
use crate::sample::subsample_rows;
use crate::shapes::column_shapes;
use crate::trends::{TrendColumn, column_pair_trends};

/// Scores `synthetic` against `real`.
///
/// The columns scored are the real schema's columns that the synthetic table also has (by
/// name), except identifiers and free text, which are listed in
/// [`QualityReport::skipped`]. Integers, floats and datetimes (as epoch milliseconds) are
/// numeric; booleans, categoricals, high-cardinality labels and constants are discrete.
/// Identifier columns and the primary key get a KeyUniqueness check.
///
/// Column shapes and diagnostics use every row; pair trends use at most
/// `options.max_rows` rows of each table, drawn with `options.seed`.
///
/// # Errors
///
/// [`QualityError::IncompatibleColumn`] when the synthetic table stores a scored column in
/// another physical type (allowed only between numeric types),
/// [`QualityError::UnsupportedStorage`] when a numeric column is not stored as numbers,
/// [`QualityError::NoComparableColumns`] when nothing can be scored, and
/// [`QualityError::InvalidOptions`] for zero rows or bins.
pub fn evaluate(
    real: &Table,
    synthetic: &Table,
    options: &QualityOptions,
) -> Result<QualityReport> {
    options.validate()?;
    let mut skipped = Vec::new();
    let mut columns = Vec::new();
    for column in &real.schema().columns {
        let Some(synthetic_column) = synthetic.schema().column(&column.name) else {
            skipped.push(skip(column, SkipReason::MissingFromSynthetic));
            continue;
        };
        match column.kind {
            ColumnKind::Identifier => skipped.push(skip(column, SkipReason::Identifier)),
            ColumnKind::Text => skipped.push(skip(column, SkipReason::Text)),
            _ => columns.push(encode_column(column, synthetic_column, real, synthetic)?),
        }
    }
    if columns.is_empty() {
        return Err(QualityError::NoComparableColumns {
            skipped: skipped.len(),
        });
    }

    let column_shapes = column_shapes(&columns);

    let mut generator = ChaCha8Rng::seed_from_u64(options.seed);
    let real_rows = subsample_rows(real.num_rows(), options.max_rows, &mut generator);
    let synthetic_rows = subsample_rows(synthetic.num_rows(), options.max_rows, &mut generator);
    let trend_columns: Vec<TrendColumn<'_>> = columns
        .iter()
        .map(|column| {
            TrendColumn::new(
                column,
                real_rows.as_deref(),
                synthetic_rows.as_deref(),
                options.bins,
            )
        })
        .collect();
    let column_pair_trends = column_pair_trends(&trend_columns);
    drop(trend_columns);

    let diagnostic = diagnostic(&columns, key_checks(real, synthetic)?);

    let overall = if column_pair_trends.pairs.is_empty() {
        column_shapes.score
    } else {
        (column_shapes.score + column_pair_trends.score) / 2.0
    };
    let overall_associated = (column_shapes.score
        + column_pair_trends
            .associated_score
            .unwrap_or(column_pair_trends.score))
        / 2.0;
    Ok(QualityReport {
        overall,
        overall_associated,
        column_shapes,
        column_pair_trends,
        diagnostic,
        skipped,
        real_rows: real.num_rows(),
        synthetic_rows: synthetic.num_rows(),
    })
}

fn skip(column: &ColumnSchema, reason: SkipReason) -> SkippedColumn {
    SkippedColumn {
        column: column.name.clone(),
        reason,
    }
}

/// Whether values of this physical type are numbers (and convert to `f64`).
fn stores_numbers(physical: PhysicalType) -> bool {
    matches!(
        physical,
        PhysicalType::Int64 | PhysicalType::Float64 | PhysicalType::TimestampMillis
    )
}

/// Encodes one scored column of both tables.
pub(crate) fn encode_column(
    column: &ColumnSchema,
    synthetic_column: &ColumnSchema,
    real: &Table,
    synthetic: &Table,
) -> Result<EncodedColumn> {
    let incompatible = || QualityError::IncompatibleColumn {
        column: column.name.clone(),
        real: column.physical,
        synthetic: synthetic_column.physical,
    };
    let values = if column.kind.is_numeric() {
        if !stores_numbers(column.physical) {
            return Err(QualityError::UnsupportedStorage {
                column: column.name.clone(),
                kind: column.kind.clone(),
                physical: column.physical,
            });
        }
        if !stores_numbers(synthetic_column.physical) {
            return Err(incompatible());
        }
        let real_values =
            numeric_values(&column.name, real.column_by_name(&column.name)?.as_ref())?;
        let synthetic_values = numeric_values(
            &column.name,
            synthetic.column_by_name(&column.name)?.as_ref(),
        )?;
        EncodedValues::Numeric(NumericColumn::new(real_values, synthetic_values))
    } else {
        if column.physical != synthetic_column.physical {
            return Err(incompatible());
        }
        let real_array = real.column_by_name(&column.name)?;
        let synthetic_array = synthetic.column_by_name(&column.name)?;
        EncodedValues::Discrete(encode_discrete(
            &column.name,
            real_array.as_ref(),
            synthetic_array.as_ref(),
        )?)
    };
    Ok(EncodedColumn {
        name: column.name.clone(),
        kind: column.kind.clone(),
        values,
    })
}

/// KeyUniqueness of every identifier column and of the primary key, where the synthetic
/// table has them, in the real schema's order.
fn key_checks(real: &Table, synthetic: &Table) -> Result<Vec<DiagnosticCheck>> {
    let schema = real.schema();
    let mut checks = Vec::new();
    for column in &schema.columns {
        let is_key = column.kind == ColumnKind::Identifier
            || schema.primary_key.as_deref() == Some(column.name.as_str());
        if !is_key || synthetic.schema().column(&column.name).is_none() {
            continue;
        }
        let array = synthetic.column_by_name(&column.name)?;
        let (distinct, non_null) = key_counts(&column.name, array.as_ref())?;
        checks.push(DiagnosticCheck {
            column: column.name.clone(),
            check: DiagnosticCheckKind::KeyUniqueness,
            score: key_uniqueness(distinct, non_null),
        });
    }
    Ok(checks)
}
