//! Personal-data detection and fake values.
//!
//! [`detect_column`] examines up to [`MAX_EXAMINED`] non-null values of a string, integer
//! or datetime column with every detector in [`detect`]; a column whose strongest finding
//! reaches [`FLAG_THRESHOLD`] is flagged. [`fake_values`] makes realistic stand-ins that
//! pass the same checks.

pub mod checks;
pub mod detect;
pub mod fake;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use mirage_core::schema::PhysicalType;
use mirage_core::{PiiFinding, Table};

pub use detect::{FLAG_THRESHOLD, detect_values};
pub use fake::fake_values;

use crate::datetime::{DATE_FORMAT, DatetimeFormat};
use crate::error::Result;
use crate::overrides::SchemaOverrides;

/// Non-null values examined per column.
pub const MAX_EXAMINED: usize = 2000;

/// Up to [`MAX_EXAMINED`] non-null values of column `index` as text, for the detectors;
/// empty for floats and booleans, which hold no personal data Mirage detects.
fn examined_values(table: &Table, index: usize) -> Vec<String> {
    let Some(column) = table.schema().columns.get(index) else {
        return Vec::new();
    };
    let date = DatetimeFormat::new(DATE_FORMAT);
    let mut values = Vec::new();
    for batch in table.batches() {
        let array = batch.column(index);
        for row in 0..array.len() {
            if values.len() >= MAX_EXAMINED {
                return values;
            }
            if array.is_null(row) {
                continue;
            }
            match column.physical {
                PhysicalType::Utf8 => values.push(array.as_string::<i32>().value(row).to_string()),
                PhysicalType::Int64 => {
                    values.push(array.as_primitive::<Int64Type>().value(row).to_string())
                }
                PhysicalType::TimestampMillis => {
                    let millis = array.as_primitive::<TimestampMillisecondType>().value(row);
                    if let Some(format) = &date {
                        values.push(format.format(millis));
                    }
                }
                PhysicalType::Float64 | PhysicalType::Boolean => return values,
            }
        }
    }
    values
}

/// Every finding for column `index` of `table`, strongest first.
pub fn detect_column(table: &Table, index: usize) -> Vec<PiiFinding> {
    let Some(column) = table.schema().columns.get(index) else {
        return Vec::new();
    };
    let values = examined_values(table, index);
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    detect_values(&column.name, &refs)
}

/// The findings of column `index` that reach [`FLAG_THRESHOLD`], strongest first.
pub fn flagged_findings(table: &Table, index: usize) -> Vec<PiiFinding> {
    let mut findings = detect_column(table, index);
    findings.retain(|f| f.confidence >= FLAG_THRESHOLD);
    findings
}

/// Sets each column's `pii` (strongest flagged finding, or the kind the overrides name) and
/// `pii_policy` (from the overrides, `Exclude` by default).
pub fn annotate(table: Table, overrides: Option<&SchemaOverrides>, detect: bool) -> Result<Table> {
    let mut strongest = Vec::with_capacity(table.schema().len());
    for index in 0..table.schema().len() {
        let findings = if detect {
            detect_column(&table, index)
        } else {
            Vec::new()
        };
        let name = &table.schema().columns[index].name;
        let named_kind = overrides
            .and_then(|o| o.column(name))
            .and_then(|c| c.pii_kind);
        let finding = match named_kind {
            Some(kind) => Some(PiiFinding {
                kind,
                confidence: 1.0,
                match_share: findings
                    .iter()
                    .find(|f| f.kind == kind)
                    .map_or(0.0, |f| f.match_share),
            }),
            None => findings
                .into_iter()
                .find(|f| f.confidence >= FLAG_THRESHOLD),
        };
        strongest.push(finding);
    }
    let (mut schema, batches) = table.into_parts();
    for (column, finding) in schema.columns.iter_mut().zip(strongest) {
        if let Some(finding) = finding {
            tracing::info!(column = %column.name, kind = %finding.kind, confidence = finding.confidence, "personal data found");
        }
        column.pii = finding;
        column.pii_policy = overrides
            .and_then(|o| o.column(&column.name))
            .and_then(|c| c.pii)
            .unwrap_or_default();
    }
    Ok(Table::new(schema, batches)?)
}
