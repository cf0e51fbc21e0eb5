//! Profiling: per-column statistics of a table, optionally on a seeded Bernoulli sample of
//! its rows.
//!
//! Numbers and datetimes (as epoch milliseconds) get moments, quantiles and a histogram;
//! every column gets its null rate, cardinality and most frequent values; strings their mean
//! length; and string, integer and datetime columns their personal-data findings.

pub mod numeric;

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use mirage_core::schema::PhysicalType;
use mirage_core::{ColumnKind, ColumnProfile, ColumnSchema, DatasetProfile, Table, TopValue};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::datetime::{DatetimeFormat, TIMESTAMP_FORMAT};
use crate::error::{DataError, Result};
use crate::pii::flagged_findings;
use numeric::{runs, summarize};

/// Distinct strings counted exactly; past this, `cardinality_exact` is false.
pub const CARDINALITY_CAP: usize = 100_000;

/// How [`profile_table`] works.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileOptions {
    /// Profile a Bernoulli sample with this inclusion probability, in (0, 1]; `None` = all rows.
    pub sample_rate: Option<f64>,
    /// Seed of the sample.
    pub seed: u64,
    /// Most frequent values kept per column.
    pub top_k: usize,
    /// Bins of numeric histograms.
    pub histogram_bins: usize,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            sample_rate: None,
            seed: 0,
            top_k: 10,
            histogram_bins: 20,
        }
    }
}

/// Statistics of every column of `table`.
pub fn profile_table(table: &Table, options: &ProfileOptions) -> Result<DatasetProfile> {
    let rate = options.sample_rate.unwrap_or(1.0);
    if !(rate > 0.0 && rate <= 1.0) {
        return Err(DataError::InvalidOption {
            option: "sample_rate",
            message: format!("{rate} is not in (0, 1]; give a share of rows such as 0.1"),
        });
    }
    let rows = table.num_rows();
    let mask: Option<Vec<bool>> = (rate < 1.0).then(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        (0..rows).map(|_| rng.random_bool(rate)).collect()
    });
    let columns = table
        .schema()
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let mut profile = profile_column(table, index, column, mask.as_deref(), options);
            profile.pii = flagged_findings(table, index);
            profile
        })
        .collect();
    Ok(DatasetProfile {
        rows: rows as u64,
        sample_rate: rate,
        columns,
    })
}

/// Calls `visit(array, row)` for each sampled row of column `index`.
fn for_each_row(
    table: &Table,
    index: usize,
    mask: Option<&[bool]>,
    mut visit: impl FnMut(&dyn Array, usize),
) {
    let mut global = 0;
    for batch in table.batches() {
        let array = batch.column(index).as_ref();
        for row in 0..array.len() {
            if mask.is_none_or(|m| m.get(global).copied().unwrap_or(false)) {
                visit(array, row);
            }
            global += 1;
        }
    }
}

fn empty_profile(column: &ColumnSchema) -> ColumnProfile {
    ColumnProfile {
        name: column.name.clone(),
        kind: column.kind.clone(),
        count: 0,
        null_count: 0,
        null_rate: 0.0,
        cardinality: 0,
        cardinality_exact: true,
        min: None,
        max: None,
        mean: None,
        std: None,
        quantiles: Vec::new(),
        histogram: Vec::new(),
        top_values: Vec::new(),
        mean_length: None,
        pii: Vec::new(),
    }
}

/// The `k` most frequent of `counts`, most frequent first, ties in value order, written
/// as text by `text` (only the kept ones are).
fn top_values<T: PartialOrd>(
    mut counts: Vec<(T, u64)>,
    k: usize,
    text: impl Fn(&T) -> String,
) -> Vec<TopValue> {
    counts.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal))
    });
    counts.truncate(k);
    counts
        .iter()
        .map(|(value, count)| TopValue {
            value: text(value),
            count: *count,
        })
        .collect()
}

fn profile_column(
    table: &Table,
    index: usize,
    column: &ColumnSchema,
    mask: Option<&[bool]>,
    options: &ProfileOptions,
) -> ColumnProfile {
    let mut profile = empty_profile(column);
    let mut nulls = 0u64;
    let mut count = 0u64;
    match column.physical {
        PhysicalType::Int64 | PhysicalType::TimestampMillis => {
            let mut values: Vec<i64> = Vec::new();
            let timestamps = column.physical == PhysicalType::TimestampMillis;
            for_each_row(table, index, mask, |array, row| {
                count += 1;
                if array.is_null(row) {
                    nulls += 1;
                } else if timestamps {
                    values.push(array.as_primitive::<TimestampMillisecondType>().value(row));
                } else {
                    values.push(array.as_primitive::<Int64Type>().value(row));
                }
            });
            values.sort_unstable();
            let as_text: Box<dyn Fn(i64) -> String> = if timestamps {
                let pattern = match &column.kind {
                    ColumnKind::Datetime { format } => format.as_str(),
                    _ => TIMESTAMP_FORMAT,
                };
                match DatetimeFormat::new(pattern) {
                    Some(format) => Box::new(move |v| format.format(v)),
                    None => Box::new(|v: i64| v.to_string()),
                }
            } else {
                Box::new(|v: i64| v.to_string())
            };
            let counted = runs(&values);
            profile.cardinality = counted.len() as u64;
            profile.top_values = top_values(counted, options.top_k, |v| as_text(*v));
            let floats: Vec<f64> = values.iter().map(|&v| v as f64).collect();
            fill_numeric(&mut profile, &floats, options);
        }
        PhysicalType::Float64 => {
            let mut values: Vec<f64> = Vec::new();
            for_each_row(table, index, mask, |array, row| {
                count += 1;
                let value = array.as_primitive::<Float64Type>().value(row);
                // NaN has no place in an order or a mean: it counts as missing.
                if array.is_null(row) || value.is_nan() {
                    nulls += 1;
                } else {
                    values.push(value);
                }
            });
            values.sort_unstable_by(f64::total_cmp);
            let counted = runs(&values);
            profile.cardinality = counted.len() as u64;
            profile.top_values = top_values(counted, options.top_k, f64::to_string);
            fill_numeric(&mut profile, &values, options);
        }
        PhysicalType::Boolean => {
            let mut counts = [0u64; 2];
            for_each_row(table, index, mask, |array, row| {
                count += 1;
                if array.is_null(row) {
                    nulls += 1;
                } else {
                    counts[usize::from(array.as_boolean().value(row))] += 1;
                }
            });
            profile.cardinality = counts.iter().filter(|&&c| c > 0).count() as u64;
            let present = [(false, counts[0]), (true, counts[1])]
                .into_iter()
                .filter(|(_, c)| *c > 0)
                .collect();
            profile.top_values = top_values(present, options.top_k, bool::to_string);
        }
        PhysicalType::Utf8 => {
            let mut counts: HashMap<&str, u64> = HashMap::new();
            let mut exact = true;
            let mut total_length = 0u64;
            let mut global = 0usize;
            for batch in table.batches() {
                let strings = batch.column(index).as_string::<i32>();
                for row in 0..strings.len() {
                    let sampled = mask.is_none_or(|m| m.get(global).copied().unwrap_or(false));
                    global += 1;
                    if !sampled {
                        continue;
                    }
                    count += 1;
                    if strings.is_null(row) {
                        nulls += 1;
                        continue;
                    }
                    let value = strings.value(row);
                    total_length += value.chars().count() as u64;
                    if let Some(seen) = counts.get_mut(value) {
                        *seen += 1;
                    } else if counts.len() < CARDINALITY_CAP {
                        counts.insert(value, 1);
                    } else {
                        exact = false;
                    }
                }
            }
            let values = count - nulls;
            profile.cardinality = counts.len() as u64;
            profile.cardinality_exact = exact;
            profile.mean_length = (values > 0).then(|| total_length as f64 / values as f64);
            profile.top_values = top_values(counts.into_iter().collect(), options.top_k, |v| {
                v.to_string()
            });
        }
    }
    profile.count = count;
    profile.null_count = nulls;
    profile.null_rate = if count == 0 {
        0.0
    } else {
        nulls as f64 / count as f64
    };
    profile
}

fn fill_numeric(profile: &mut ColumnProfile, sorted: &[f64], options: &ProfileOptions) {
    if let Some(summary) = summarize(sorted, options.histogram_bins) {
        profile.min = Some(summary.min);
        profile.max = Some(summary.max);
        profile.mean = Some(summary.mean);
        profile.std = summary.std;
        profile.quantiles = summary.quantiles;
        profile.histogram = summary.histogram;
    }
}
