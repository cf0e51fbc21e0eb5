//! Reading Parquet: batches come from the parquet crate's Arrow reader, each column is cast
//! to Mirage's storage (integers to `Int64`, reals to `Float64`, strings to `Utf8`, dates and
//! timestamps to `Timestamp(ms)`), and kinds are inferred from the values the way CSV strings
//! are. A file written by [`crate::write_table`] carries its Mirage schema in the file's
//! metadata, so kinds and text formats (datetime formats, boolean spellings) survive the
//! round trip. Native Parquet booleans have no spelling and are written back as
//! `true`/`false`; dates and timestamps get [`DATE_FORMAT`] and [`TIMESTAMP_FORMAT`].

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{CastOptions, cast, cast_with_options};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnSchema, Schema, Table};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::cell::NullTokens;
use crate::csv::reader::CellParser;
use crate::datetime::{DATE_FORMAT, TIMESTAMP_FORMAT};
use crate::error::{DataError, Result};
use crate::infer::ColumnInference;
use crate::options::ReadOptions;
use crate::overrides::resolve_kind;

/// The file-metadata key holding the Mirage schema as JSON.
pub const SCHEMA_METADATA_KEY: &str = "mirage.schema";

/// How a Parquet column is stored once read.
#[derive(Debug, Clone)]
struct ColumnPlan {
    name: String,
    /// Storage after the cast from the file's type.
    base: PhysicalType,
    /// Storage after any override.
    target: PhysicalType,
    /// The kind, when an override or the embedded schema fixes it.
    kind: Option<ColumnKind>,
    /// The format for datetimes read from the file's own type.
    format: &'static str,
}

/// The Mirage storage for an Arrow type, `None` when Mirage cannot hold it.
fn base_physical(data_type: &DataType) -> Option<(PhysicalType, &'static str)> {
    let format = match data_type {
        DataType::Date32 | DataType::Date64 => DATE_FORMAT,
        _ => TIMESTAMP_FORMAT,
    };
    let physical = match data_type {
        DataType::UInt64 => PhysicalType::Int64,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => PhysicalType::Float64,
        DataType::Dictionary(_, values) => return base_physical(values),
        other => PhysicalType::from_arrow(other)?,
    };
    Some((physical, format))
}

/// Casts an array of a Parquet column to its base storage.
fn to_base(
    array: &ArrayRef,
    base: PhysicalType,
) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    Ok(match (array.data_type(), base) {
        (DataType::Timestamp(unit, _), PhysicalType::TimestampMillis) => {
            let millis = match unit {
                TimeUnit::Second => {
                    array
                        .as_primitive::<TimestampSecondType>()
                        .unary::<_, TimestampMillisecondType>(|v| v.saturating_mul(1000))
                }
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .unary::<_, TimestampMillisecondType>(|v| v),
                TimeUnit::Microsecond => {
                    array
                        .as_primitive::<TimestampMicrosecondType>()
                        .unary::<_, TimestampMillisecondType>(|v| v.div_euclid(1000))
                }
                TimeUnit::Nanosecond => {
                    array
                        .as_primitive::<TimestampNanosecondType>()
                        .unary::<_, TimestampMillisecondType>(|v| v.div_euclid(1_000_000))
                }
            };
            Arc::new(millis)
        }
        (DataType::Date32, _) => Arc::new(
            array
                .as_primitive::<Date32Type>()
                .unary::<_, TimestampMillisecondType>(|days| i64::from(days) * 86_400_000),
        ),
        (DataType::Date64, _) => Arc::new(
            array
                .as_primitive::<Date64Type>()
                .unary::<_, TimestampMillisecondType>(|v| v),
        ),
        (data_type, physical) if *data_type == physical.arrow_type() => array.clone(),
        (_, physical) => cast_with_options(array, &physical.arrow_type(), &strict)?,
    })
}

/// Reads a Parquet file into a table.
pub fn read_parquet(path: &Path, options: &ReadOptions) -> Result<Table> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DataError::parquet(path, e))?;
    let embedded = embedded_schema(&builder);
    let arrow_schema = builder.schema().clone();
    let names: Vec<String> = arrow_schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    if let Some(overrides) = &options.overrides {
        overrides.check_columns(&names, path)?;
    }
    let mut plans = Vec::with_capacity(names.len());
    for field in arrow_schema.fields() {
        let (base, format) =
            base_physical(field.data_type()).ok_or_else(|| DataError::UnsupportedType {
                path: path.to_path_buf(),
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            })?;
        let embedded_kind = embedded
            .as_ref()
            .and_then(|s| s.column(field.name()))
            .filter(|c| c.physical == base)
            .map(|c| c.kind.clone());
        let override_kind = options
            .overrides
            .as_ref()
            .and_then(|o| o.column(field.name()))
            .and_then(|c| c.kind.clone());
        let (kind, target) =
            match override_kind {
                Some(kind) => {
                    let inferred = embedded_kind.clone().or_else(|| {
                        (base == PhysicalType::TimestampMillis).then(|| ColumnKind::Datetime {
                            format: format.into(),
                        })
                    });
                    let (kind, target) = resolve_kind(&kind, Some(base), inferred.as_ref())
                        .map_err(|message| DataError::UnsupportedOverride {
                            path: path.to_path_buf(),
                            column: field.name().clone(),
                            message,
                        })?;
                    (Some(kind), target)
                }
                None => (embedded_kind, base),
            };
        plans.push(ColumnPlan {
            name: field.name().clone(),
            base,
            target,
            kind,
            format,
        });
    }
    let reader = builder
        .with_batch_size(options.batch_size)
        .build()
        .map_err(|e| DataError::parquet(path, e))?;
    let threshold = options.high_cardinality_threshold;
    let mut columns: Vec<ColumnInference> = plans
        .iter()
        .map(|_| ColumnInference::typed(threshold))
        .collect();
    let nulls = NullTokens::new(&options.na_values);
    let mut converted: Vec<Vec<ArrayRef>> = Vec::new();
    let mut first_row = 0u64;
    for batch in reader {
        let batch = batch.map_err(DataError::Arrow)?;
        let mut arrays = Vec::with_capacity(plans.len());
        for ((plan, column), array) in plans.iter().zip(&mut columns).zip(batch.columns()) {
            let base = to_base(array, plan.base)?;
            if plan.base == PhysicalType::Utf8 && plan.target == PhysicalType::Boolean {
                for text in base.as_string::<i32>().iter().flatten() {
                    if !nulls.is_null(text) {
                        column.observe_boolean_spelling(text);
                    }
                }
            }
            let target = convert(path, plan, &base, &nulls, first_row)?;
            observe(column, &target);
            arrays.push(target);
        }
        first_row += batch.num_rows() as u64;
        converted.push(arrays);
    }
    let mut schema_columns = Vec::with_capacity(plans.len());
    for (plan, column) in plans.iter().zip(&columns) {
        if column.values() == 0 && plan.kind.is_none() {
            return Err(DataError::AllNullColumn {
                path: path.to_path_buf(),
                column: plan.name.clone(),
            });
        }
        let kind = plan.kind.clone().unwrap_or_else(|| {
            column.kind_for(&plan.name, plan.target, Some(plan.format), threshold)
        });
        let embedded_column = embedded.as_ref().and_then(|s| s.column(&plan.name));
        // A format written with the file wins: the spellings came from the original source.
        let format = embedded_column
            .filter(|c| c.physical == plan.target)
            .and_then(|c| c.format.clone())
            .or_else(|| column.format_for(&kind, plan.target, Some(plan.format)));
        let mut schema_column = ColumnSchema::new(plan.name.clone(), kind, plan.target);
        schema_column.nullable = column.nulls() > 0;
        schema_column.format = format;
        if let Some(embedded) = embedded_column {
            schema_column.pii_policy = embedded.pii_policy;
        }
        schema_columns.push(schema_column);
    }
    let mut schema = Schema::new(schema_columns)?;
    schema.primary_key = options
        .overrides
        .as_ref()
        .and_then(|o| o.primary_key.clone())
        .or_else(|| embedded.as_ref().and_then(|s| s.primary_key.clone()));
    schema.validate()?;
    let target_schema = schema.arrow_schema();
    let batches = converted
        .into_iter()
        .map(|arrays| RecordBatch::try_new(target_schema.clone(), arrays))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Table::new(schema, batches)?)
}

/// The Mirage schema a file written by Mirage carries, if any.
fn embedded_schema(builder: &ParquetRecordBatchReaderBuilder<File>) -> Option<Schema> {
    let pairs = builder.metadata().file_metadata().key_value_metadata()?;
    let json = pairs
        .iter()
        .find(|kv| kv.key == SCHEMA_METADATA_KEY)?
        .value
        .as_deref()?;
    serde_json::from_str(json).ok()
}

/// Feeds a converted array to its column's inference.
fn observe(column: &mut ColumnInference, array: &ArrayRef) {
    for row in 0..array.len() {
        if array.is_null(row) {
            column.observe_null();
            continue;
        }
        match array.data_type() {
            DataType::Utf8 => column.observe(array.as_string::<i32>().value(row), &[]),
            DataType::Int64 => {
                column.observe_bytes(&array.as_primitive::<Int64Type>().value(row).to_le_bytes())
            }
            DataType::Float64 => column.observe_bytes(
                &array
                    .as_primitive::<Float64Type>()
                    .value(row)
                    .to_bits()
                    .to_le_bytes(),
            ),
            DataType::Boolean => column.observe_bytes(&[u8::from(array.as_boolean().value(row))]),
            _ => column.observe_bytes(
                &array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .to_le_bytes(),
            ),
        }
    }
}

/// Converts a base-typed array to the overridden storage: strings are parsed like CSV cells
/// (with errors naming the 1-based row), numbers and booleans become text or widen.
fn convert(
    path: &Path,
    plan: &ColumnPlan,
    array: &ArrayRef,
    nulls: &NullTokens,
    first_row: u64,
) -> Result<ArrayRef> {
    if plan.base == plan.target {
        return Ok(array.clone());
    }
    let refuse = || DataError::UnsupportedOverride {
        path: path.to_path_buf(),
        column: plan.name.clone(),
        message: format!(
            "the file stores it as {:?}, which Mirage cannot turn into {:?}; choose a kind that fits the stored values",
            plan.base, plan.target
        ),
    };
    match (plan.base, plan.target) {
        (PhysicalType::Utf8, _) => {
            let datetime_format = match &plan.kind {
                Some(ColumnKind::Datetime { format }) => Some(format.as_str()),
                _ => None,
            };
            let parser = CellParser::for_column(plan.target, datetime_format).ok_or_else(refuse)?;
            let strings = array.as_string::<i32>();
            let mut builder = parser.builder_for(strings.len());
            for (row, value) in strings.iter().enumerate() {
                match value {
                    Some(text) if !nulls.is_null(text) => {
                        if !builder.append(&parser, text) {
                            return Err(DataError::InvalidStoredValue {
                                path: path.to_path_buf(),
                                row: first_row + row as u64 + 1,
                                column: plan.name.clone(),
                                value: text.to_string(),
                                expected: parser.expected(),
                            });
                        }
                    }
                    _ => builder.append_null(),
                }
            }
            Ok(builder.finish())
        }
        (
            PhysicalType::Int64 | PhysicalType::Float64 | PhysicalType::Boolean,
            PhysicalType::Utf8,
        )
        | (PhysicalType::Int64, PhysicalType::Float64) => {
            Ok(cast(array, &plan.target.arrow_type())?)
        }
        _ => Err(refuse()),
    }
}
