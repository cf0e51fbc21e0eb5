//! Column statistics computed when a dataset is ingested.

use serde::{Deserialize, Serialize};

use crate::pii::PiiFinding;
use crate::schema::ColumnKind;

/// One bar of a histogram over `[lower, upper)` (the last bar is closed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    /// Lower edge.
    pub lower: f64,
    /// Upper edge.
    pub upper: f64,
    /// Values in the bin.
    pub count: u64,
}

/// One of a column's most frequent values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopValue {
    /// The value as text.
    pub value: String,
    /// How often it occurs.
    pub count: u64,
}

/// Statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Inferred (or overridden) kind.
    pub kind: ColumnKind,
    /// Rows examined.
    pub count: u64,
    /// Null cells among them.
    pub null_count: u64,
    /// `null_count / count`.
    pub null_rate: f64,
    /// Distinct non-null values (a lower bound when `cardinality_exact` is false).
    pub cardinality: u64,
    /// Whether `cardinality` is exact or stopped counting at a cap.
    pub cardinality_exact: bool,
    /// Smallest value (numbers and datetimes; datetimes in epoch milliseconds).
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub std: Option<f64>,
    /// `(probability, value)` pairs: 1 %, 5 %, 25 %, 50 %, 75 %, 95 %, 99 %.
    pub quantiles: Vec<(f64, f64)>,
    /// Equal-width histogram over `[min, max]`.
    pub histogram: Vec<HistogramBin>,
    /// Most frequent values, most frequent first.
    pub top_values: Vec<TopValue>,
    /// Mean length in characters (strings only).
    pub mean_length: Option<f64>,
    /// Personal-data findings, strongest first.
    pub pii: Vec<PiiFinding>,
}

/// Statistics of a whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetProfile {
    /// Rows in the dataset.
    pub rows: u64,
    /// Share of rows the statistics were computed on (1.0 = all).
    pub sample_rate: f64,
    /// One profile per column, in schema order.
    pub columns: Vec<ColumnProfile>,
}

impl DatasetProfile {
    /// A column's profile by name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}
