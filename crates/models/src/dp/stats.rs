//! Column statistics measured with DP: the only view of the data a DP model's
//! preprocessing gets.
//!
//! The preprocessing budget is `settings.preprocessing_share` of the target's ρ, split
//! evenly over the measured columns. Per column:
//! - discrete: a Gaussian histogram (one count per category plus nulls; a row adds to
//!   one count, so L2 sensitivity 1). Undeclared category sets come from Gaussian
//!   partition selection (a category is kept when its noisy count reaches
//!   max(`rare_min_count`, τ) with τ from a δ of its own), which also merges rare
//!   categories into "other"; declared sets are used as given.
//! - numeric: a range (declared bounds, or [`mirage_privacy::dp_range`]), DP quantiles from P1 to P99 on the column's grid (values outside are
//!   capped), and noisy non-null and null counts.

use arrow::array::{Array, BooleanArray, Int64Array, StringArray};
use mirage_core::schema::ColumnKind;
use mirage_core::{Table, Value};
use mirage_privacy::mechanism::{
    dp_quantiles_discrete, gaussian_sigma, noisy_counts, partition_threshold,
};
use mirage_privacy::{Mechanism, PrivacyTracker, dp_range};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::DpSettings;
use crate::columns::{numeric_values, value_at};
use crate::error::{ModelError, Result};

/// Values outside a discrete column's DP category set decode as this label (string
/// columns) or as null (others).
pub const OTHER_LABEL: &str = "(other)";

/// Least share of the (noisy) rows a noisy null count must reach for an undeclared
/// column to get a null slot: the count is noisy, and a spurious null slot costs
/// generated nulls in a column that has none.
pub const NULL_SHARE: f64 = 0.005;

/// Whether a DP model gives `column` a null slot: never when the schema says it has no
/// nulls (generated rows must fit the schema), else as declared public, else when the
/// noisy null count reaches both `rare_min_count` and [`NULL_SHARE`] of the noisy rows.
pub fn has_null_slot(
    column: &mirage_core::schema::ColumnSchema,
    null_count: f64,
    settings: &DpSettings,
    rows: f64,
) -> bool {
    if !column.nullable {
        return false;
    }
    match settings
        .public
        .column(&column.name)
        .and_then(|p| p.nullable)
    {
        Some(declared) => declared,
        None => null_count >= (NULL_SHARE * rows).max(settings.rare_min_count).max(1.0),
    }
}

/// Share of δ given to partition selection, over all columns.
const SELECTION_DELTA_SHARE: f64 = 0.05;

/// What DP measured about one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stats", rename_all = "snake_case")]
pub enum ColumnStats {
    /// Categories, booleans, constants.
    Discrete {
        /// The DP (or declared) category set.
        categories: Vec<Value>,
        /// Noisy counts, clipped at 0, aligned with `categories`.
        counts: Vec<f64>,
        /// Rows outside `categories` may exist: they encode as OTHER.
        other: bool,
        /// Noisy null count, clipped at 0.
        null_count: f64,
    },
    /// Integers, floats, datetimes (epoch milliseconds).
    Numeric {
        /// Sorted DP quantiles from P1 to P99.
        quantiles: Vec<f64>,
        /// Noisy non-null count, clipped at 0.
        count: f64,
        /// Noisy null count, clipped at 0.
        null_count: f64,
        /// Values are multiples of this (1 for integers).
        quantum: Option<f64>,
    },
}

impl ColumnStats {
    /// For a discrete column, a value's code: its category's index, `categories.len()`
    /// for OTHER, `categories.len() + 1` for null. `None` for numeric columns.
    pub fn discrete_code(&self, value: &Value) -> Option<u32> {
        let ColumnStats::Discrete { categories, .. } = self else {
            return None;
        };
        if matches!(value, Value::Null) {
            return Some(categories.len() as u32 + 1);
        }
        let key = value.to_string();
        Some(
            categories
                .iter()
                .position(|c| c.to_string() == key)
                .unwrap_or(categories.len()) as u32,
        )
    }

    /// The noisy null count.
    pub fn null_count(&self) -> f64 {
        match self {
            ColumnStats::Discrete { null_count, .. } | ColumnStats::Numeric { null_count, .. } => {
                *null_count
            }
        }
    }
}

/// The DP statistics of a table's modelled columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpStatistics {
    /// Noisy row count (≥ 1): the `n` of DP-SGD's sampling rate.
    pub rows: f64,
    /// By column, in the order measured.
    pub columns: Vec<(String, ColumnStats)>,
}

fn is_discrete(kind: &ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Categorical
            | ColumnKind::HighCardinality
            | ColumnKind::Boolean
            | ColumnKind::Constant
    )
}

fn is_numeric(kind: &ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Integer | ColumnKind::Float | ColumnKind::Datetime { .. }
    )
}

/// A declared category written in the source's spelling, as a value of the column's
/// storage type.
fn declared_value(column: &str, array: &dyn Array, text: &str) -> Result<Value> {
    let any = array.as_any();
    let bad = |what: &str| ModelError::InvalidConfig {
        model: "privacy".into(),
        field: format!("public.columns.{column}.categories"),
        message: format!("{text:?} is not {what}"),
    };
    if any.downcast_ref::<Int64Array>().is_some() {
        return text
            .trim()
            .parse()
            .map(Value::Int)
            .map_err(|_| bad("an integer"));
    }
    if any.downcast_ref::<BooleanArray>().is_some() {
        return text
            .trim()
            .parse()
            .map(Value::Bool)
            .map_err(|_| bad("true or false"));
    }
    if any.downcast_ref::<StringArray>().is_some() {
        return Ok(Value::Str(text.to_string()));
    }
    Err(bad("usable for this column's type"))
}

impl DpStatistics {
    /// Measures the columns at `columns` (indices into the table's schema) with DP,
    /// charging `tracker`. Identifier columns are skipped (DP models generate fresh keys
    /// that read nothing of the source: `KeyGenerator::fresh`); text columns cannot be learned with DP: they
    /// are marked not-DP on the tracker and skipped.
    pub fn measure(
        table: &Table,
        columns: &[usize],
        settings: &DpSettings,
        tracker: &mut PrivacyTracker,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self> {
        let schema = table.schema();
        let mut measured = Vec::new();
        for &index in columns {
            let Some(column) = schema.columns.get(index) else {
                return Err(ModelError::UnsupportedColumn {
                    column: format!("#{index}"),
                    message: "no such column".into(),
                });
            };
            if is_discrete(&column.kind) || is_numeric(&column.kind) {
                measured.push(index);
            } else if column.kind == ColumnKind::Identifier {
                // Not measured: DP models generate fresh keys without reading these.
            } else {
                tracker.mark_not_dp(format!(
                    "column {:?}: {} columns are learned from the raw values, which DP \
                     cannot protect; drop the column",
                    column.name,
                    column.kind.name()
                ));
            }
        }
        let rho =
            tracker.rho_for_share(settings.preprocessing_share) / measured.len().max(1) as f64;
        let selections = measured
            .iter()
            .filter(|&&i| {
                let c = &schema.columns[i];
                is_discrete(&c.kind)
                    && settings
                        .public
                        .column(&c.name)
                        .and_then(|p| p.categories.as_ref())
                        .is_none()
            })
            .count()
            .max(1);
        let selection_delta = settings.delta * SELECTION_DELTA_SHARE / selections as f64;
        let mut out = Vec::with_capacity(measured.len());
        let mut totals = Vec::new();
        for &index in &measured {
            let column = &schema.columns[index];
            let array = table.column(index)?;
            let stats = if is_discrete(&column.kind) {
                measure_discrete(
                    &column.name,
                    array.as_ref(),
                    rho,
                    selection_delta,
                    settings,
                    tracker,
                    rng,
                )?
            } else {
                let declared = settings.public.column(&column.name).and_then(|p| p.quantum);
                let quantum = declared.or(match column.kind {
                    ColumnKind::Integer => Some(1.0),
                    ColumnKind::Datetime { .. } => Some(1000.0),
                    _ => None,
                });
                measure_numeric(
                    &column.name,
                    array.as_ref(),
                    quantum,
                    rho,
                    settings,
                    tracker,
                    rng,
                )?
            };
            totals.push(match &stats {
                ColumnStats::Discrete {
                    counts, null_count, ..
                } => counts.iter().sum::<f64>() + null_count,
                ColumnStats::Numeric {
                    count, null_count, ..
                } => count + null_count,
            });
            out.push((column.name.clone(), stats));
        }
        let rows = if totals.is_empty() {
            1.0
        } else {
            (totals.iter().sum::<f64>() / totals.len() as f64).max(1.0)
        };
        Ok(Self { rows, columns: out })
    }

    /// The statistics of `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnStats> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

fn measure_discrete(
    name: &str,
    array: &dyn Array,
    rho: f64,
    selection_delta: f64,
    settings: &DpSettings,
    tracker: &mut PrivacyTracker,
    rng: &mut ChaCha8Rng,
) -> Result<ColumnStats> {
    let sigma = gaussian_sigma(rho, 1.0)?;
    let mut by_key: std::collections::BTreeMap<String, (Value, f64)> = Default::default();
    let mut nulls = 0.0f64;
    for row in 0..array.len() {
        let value = value_at(name, array, row)?;
        if matches!(value, Value::Null) {
            nulls += 1.0;
            continue;
        }
        by_key
            .entry(value.to_string())
            .or_insert_with(|| (value, 0.0))
            .1 += 1.0;
    }
    let declared = settings
        .public
        .column(name)
        .and_then(|p| p.categories.clone());
    let boolean = array.as_any().downcast_ref::<BooleanArray>().is_some();
    let public_domain: Option<Vec<Value>> = match declared {
        Some(list) => Some(
            list.iter()
                .map(|t| declared_value(name, array, t))
                .collect::<Result<_>>()?,
        ),
        None if boolean => Some(vec![Value::Bool(false), Value::Bool(true)]),
        None => None,
    };
    let stats = if let Some(domain) = public_domain {
        // Counts over the public domain, OTHER and null.
        let mut counts: Vec<f64> = domain
            .iter()
            .map(|v| by_key.get(&v.to_string()).map_or(0.0, |(_, c)| *c))
            .collect();
        let inside: f64 = counts.iter().sum();
        let outside = array.len() as f64 - nulls - inside;
        counts.push(outside);
        counts.push(nulls);
        let noisy = noisy_counts(&counts, sigma, rng)?;
        tracker.charge(
            format!("category counts of {name}"),
            Mechanism::Gaussian {
                sigma,
                sensitivity: 1.0,
            },
        )?;
        let k = domain.len();
        ColumnStats::Discrete {
            categories: domain,
            counts: noisy[..k].iter().map(|c| c.max(0.0)).collect(),
            other: noisy[k] > 3.0 * sigma,
            null_count: noisy[k + 1].max(0.0),
        }
    } else {
        let threshold = partition_threshold(sigma, selection_delta)?.max(settings.rare_min_count);
        let keys: Vec<(Value, f64)> = by_key.into_values().collect();
        let counts: Vec<f64> = keys.iter().map(|(_, c)| *c).collect();
        let noisy = noisy_counts(&counts, sigma, rng)?;
        let null_noisy = noisy_counts(&[nulls], sigma, rng)?[0];
        tracker.charge(
            format!("category counts of {name}"),
            Mechanism::Gaussian {
                sigma,
                sensitivity: 1.0,
            },
        )?;
        tracker.charge(
            format!("category set of {name}"),
            Mechanism::Delta {
                delta: selection_delta,
            },
        )?;
        let mut categories = Vec::new();
        let mut kept = Vec::new();
        for ((value, _), n) in keys.into_iter().zip(noisy) {
            if n >= threshold {
                categories.push(value);
                kept.push(n);
            }
        }
        ColumnStats::Discrete {
            categories,
            counts: kept,
            other: true,
            null_count: null_noisy.max(0.0),
        }
    };
    Ok(stats)
}

fn measure_numeric(
    name: &str,
    array: &dyn Array,
    quantum: Option<f64>,
    rho: f64,
    settings: &DpSettings,
    tracker: &mut PrivacyTracker,
    rng: &mut ChaCha8Rng,
) -> Result<ColumnStats> {
    let all = numeric_values(name, array)?;
    let values: Vec<f64> = all.iter().flatten().copied().collect();
    let nulls = (all.len() - values.len()) as f64;
    let declared = settings.public.column(name).and_then(|p| p.bounds);
    let (range_rho, quantile_rho, count_rho) = if declared.is_some() {
        (0.0, 0.85 * rho, 0.15 * rho)
    } else {
        (0.2 * rho, 0.65 * rho, 0.15 * rho)
    };
    let (low, high) = match declared {
        Some([low, high]) => (low, high),
        None => {
            let range = dp_range(&values, range_rho, rng)?;
            // Two Gaussian histograms of ρ/2 compose exactly to one of ρ.
            tracker.charge(
                format!("range of {name}"),
                Mechanism::Gaussian {
                    sigma: gaussian_sigma(range_rho, 1.0)?,
                    sensitivity: 1.0,
                },
            )?;
            range
        }
    };
    let grid = quantum.unwrap_or((high - low) * 1e-6);
    let k = settings.quantiles;
    let ps: Vec<f64> = (0..=k).map(|i| 0.01 + 0.98 * i as f64 / k as f64).collect();
    let quantiles = dp_quantiles_discrete(&values, low, high, grid, &ps, quantile_rho, rng)?;
    // Each of the k quantiles is an ε-DP exponential mechanism with ε = √(8ρ/k).
    tracker.charge(
        format!("quantiles of {name}"),
        Mechanism::Exponential {
            epsilon: (8.0 * quantile_rho / ps.len() as f64).sqrt(),
            count: ps.len() as u64,
        },
    )?;
    let sigma = gaussian_sigma(count_rho, 1.0)?;
    let counts = noisy_counts(&[values.len() as f64, nulls], sigma, rng)?;
    tracker.charge(
        format!("null count of {name}"),
        Mechanism::Gaussian {
            sigma,
            sensitivity: 1.0,
        },
    )?;
    Ok(ColumnStats::Numeric {
        quantiles,
        count: counts[0].max(0.0),
        null_count: counts[1].max(0.0),
        quantum,
    })
}
