//! The data transformer of a differentially private fit: every encoder is built from the
//! DP column statistics ([`DpStatistics`]) and declared public facts, never from the
//! table's values.
//!
//! - Numeric and datetime columns: one mode over normal scores, `z = Φ⁻¹(F(x))` with `F`
//!   the CDF of the DP quantile grid ([`QuantileCdf`]: unlike `NumericBins::cdf` it keeps
//!   repeated quantiles, so a point mass keeps its probability), clipped to ±4; decoding
//!   maps back through its inverse and rounds to the column's quantum.
//! - Discrete columns: a one-hot (or digits) over the DP category set, most frequent
//!   (by noisy count) first, plus an OTHER slot when values outside the set may occur
//!   (the string [`OTHER_LABEL`] for string columns, null otherwise) and a null slot.
//! - A null indicator exists when the schema allows nulls and the column is declared
//!   nullable, or (when nothing is declared) its noisy null count passes
//!   [`crate::dp::has_null_slot`].
//! - Identifiers get fresh keys (`KeyGenerator::fresh`); free text needs the data (the tracker has marked it
//!   not DP): it is fitted from the table when one is given, else generated as nulls.
//!
//! The conditional vector's frequencies are the noisy counts. Encoding a table with these
//! fixed encoders is a per-record computation, which DP-SGD's clipping protects.

use mirage_core::schema::{ColumnKind, PhysicalType};
use mirage_core::{Schema, Table, Value};

use super::continuous::ContinuousColumn;
use super::discrete::{CategoryLayout, DiscreteEncoding, digits_for};
use super::grid::QuantileCdf;
use super::{ColumnTransform, DataTransformer, TransformerOptions};
use crate::copula::{KeyGenerator, TextGenerator};
use crate::dp::{ColumnStats, DpSettings, DpStatistics, OTHER_LABEL, has_null_slot};
use crate::error::{ModelError, Result};

impl DataTransformer {
    /// Builds the transformer of `schema` from DP statistics and the declared public
    /// facts in `settings`; never reads a value. `table` is read only for free-text
    /// columns, which have no DP encoding (the run is then not DP, and a strict run is
    /// refused before this); without it they are generated as nulls.
    pub fn fit_dp(
        schema: &Schema,
        stats: &DpStatistics,
        settings: &DpSettings,
        options: &TransformerOptions,
        table: Option<&Table>,
    ) -> Result<Self> {
        options.validate()?;
        let rows = stats.rows.max(1.0);
        let mut transforms = Vec::with_capacity(schema.len());
        for (index, column) in schema.columns.iter().enumerate() {
            transforms.push(dp_column(
                schema,
                index,
                stats.column(&column.name),
                settings,
                rows,
                options,
                table,
            )?);
        }
        Ok(Self::assemble(schema.clone(), transforms, options, |c| {
            let present = (rows - c.null_count as f64).round().max(1.0) as u64;
            vec![present, c.null_count.max(1)]
        }))
    }
}

/// A noisy count as a conditional-vector frequency (at least one, so every slot can be
/// drawn).
fn frequency(count: f64) -> u64 {
    count.round().max(1.0) as u64
}

/// The encoding of column `index` from its statistics; for one-hot candidates also the
/// frequencies (noisy counts) of its slots.
fn dp_column(
    schema: &Schema,
    index: usize,
    stats: Option<&ColumnStats>,
    settings: &DpSettings,
    rows: f64,
    options: &TransformerOptions,
    table: Option<&Table>,
) -> Result<(ColumnTransform, Option<Vec<u64>>)> {
    let column = &schema.columns[index];
    let name = column.name.as_str();
    if matches!(column.kind, ColumnKind::Identifier) {
        // Keys are numbered, not learned: nothing is read.
        return Ok((
            ColumnTransform::Key(KeyGenerator::fresh(column.physical)),
            None,
        ));
    }
    let Some(stats) = stats else {
        if matches!(column.kind, ColumnKind::Text)
            && column.physical == PhysicalType::Utf8
            && let Some(table) = table
        {
            let array = table.column(index)?;
            return Ok((
                ColumnTransform::Text(TextGenerator::fit_column(name, array.as_ref())?),
                None,
            ));
        }
        return Ok((ColumnTransform::Null, None));
    };
    match stats {
        ColumnStats::Numeric {
            quantiles,
            count,
            null_count,
            quantum,
        } => {
            if *count <= 0.0 && *null_count > 0.0 {
                return Ok((ColumnTransform::Null, None));
            }
            let quantum = quantum.or_else(|| {
                (matches!(column.kind, ColumnKind::Integer)
                    || column.physical == PhysicalType::Int64)
                    .then_some(1.0)
            });
            let Some(grid) = QuantileCdf::from_quantiles(quantiles, quantum) else {
                return Err(ModelError::UnsupportedColumn {
                    column: name.to_string(),
                    message: "the DP statistics of a numeric column have no quantile grid".into(),
                });
            };
            let (min, max) = grid.range();
            let has_nulls = has_null_slot(column, *null_count, settings, rows);
            let null_count = if has_nulls {
                null_count.round().max(1.0) as u64
            } else {
                0
            };
            let datetime = matches!(column.kind, ColumnKind::Datetime { .. })
                || column.physical == PhysicalType::TimestampMillis;
            Ok((
                ColumnTransform::Continuous(ContinuousColumn::from_grid(
                    grid, min, max, quantum, has_nulls, null_count, datetime,
                )),
                None,
            ))
        }
        ColumnStats::Discrete {
            categories,
            counts,
            other,
            null_count,
        } => {
            let mut order: Vec<usize> = (0..categories.len()).collect();
            let count = |i: usize| counts.get(i).copied().unwrap_or(0.0);
            order.sort_by(|&a, &b| count(b).total_cmp(&count(a)));
            if matches!(column.kind, ColumnKind::Constant) {
                let Some(&top) = order.first() else {
                    return Ok((ColumnTransform::Null, None));
                };
                let null_rate = if has_null_slot(column, *null_count, settings, rows) {
                    (null_count / rows).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                return Ok((
                    ColumnTransform::Constant {
                        value: categories[top].clone(),
                        null_rate,
                    },
                    None,
                ));
            }
            let mut values: Vec<Value> = order.iter().map(|&i| categories[i].clone()).collect();
            let mut frequencies: Vec<u64> = order.iter().map(|&i| frequency(count(i))).collect();
            if has_null_slot(column, *null_count, settings, rows) {
                values.push(Value::Null);
                frequencies.push(frequency(*null_count));
            }
            // Outside string columns OTHER decodes as null, which a column without nulls
            // cannot hold: its out-of-set values then take the most frequent category.
            let other_slot = if *other && (column.physical == PhysicalType::Utf8 || column.nullable)
            {
                values.push(if column.physical == PhysicalType::Utf8 {
                    Value::Str(OTHER_LABEL.to_string())
                } else {
                    Value::Null
                });
                let known: f64 = counts.iter().sum::<f64>() + null_count;
                frequencies.push(frequency(rows - known));
                Some((values.len() - 1) as u32)
            } else {
                None
            };
            if values.iter().all(|v| *v == Value::Null) {
                return Ok((ColumnTransform::Null, None));
            }
            let distinct = values.iter().filter(|v| **v != Value::Null).count();
            let layout = if matches!(column.kind, ColumnKind::HighCardinality)
                || distinct > options.high_cardinality_threshold
            {
                CategoryLayout::Digits {
                    base: options.digit_base,
                    digits: digits_for(values.len(), options.digit_base),
                }
            } else {
                CategoryLayout::OneHot
            };
            Ok((
                ColumnTransform::Discrete(DiscreteEncoding {
                    categories: values,
                    layout,
                    other: other_slot,
                }),
                Some(frequencies),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
    use mirage_core::schema::ColumnSchema;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    use super::*;
    use crate::columns::value_at;

    fn settings(extra: serde_json::Value) -> DpSettings {
        let mut privacy = json!({"epsilon": 1.0, "delta": 1e-5});
        if let (Some(base), Some(extra)) = (privacy.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        DpSettings::from_config("tvae", &json!({ "privacy": privacy }))
            .expect("settings")
            .expect("privacy")
    }

    fn schema() -> Schema {
        Schema::new(vec![
            ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
            ColumnSchema::new("gain", ColumnKind::Integer, PhysicalType::Int64),
            ColumnSchema::new("color", ColumnKind::Categorical, PhysicalType::Utf8),
            ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ])
        .expect("schema")
    }

    /// Statistics written by hand: nothing here came from a table.
    fn stats() -> DpStatistics {
        let mut gain = vec![0.0; 30];
        gain.extend([500.0, 2000.0, 9000.0]);
        DpStatistics {
            rows: 1000.0,
            columns: vec![
                (
                    "age".into(),
                    ColumnStats::Numeric {
                        quantiles: (0..=32).map(|i| 18.0 + 2.0 * f64::from(i)).collect(),
                        count: 950.0,
                        null_count: 48.0,
                        quantum: Some(1.0),
                    },
                ),
                (
                    "gain".into(),
                    ColumnStats::Numeric {
                        quantiles: gain,
                        count: 1001.0,
                        null_count: 2.0,
                        quantum: Some(1.0),
                    },
                ),
                (
                    "color".into(),
                    ColumnStats::Discrete {
                        categories: vec![Value::from("green"), Value::from("red")],
                        counts: vec![300.0, 600.0],
                        other: true,
                        null_count: 1.5,
                    },
                ),
            ],
        }
    }

    fn table(age: Vec<Option<i64>>, gain: Vec<i64>, color: Vec<Option<&str>>) -> Table {
        let rows = age.len();
        let schema = schema();
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(age)),
            Arc::new(Int64Array::from(gain)),
            Arc::new(StringArray::from(color)),
            Arc::new(Int64Array::from((0..rows as i64).collect::<Vec<_>>())),
        ];
        let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
        Table::new(schema, vec![batch]).expect("table")
    }

    #[test]
    fn fit_dp_builds_every_encoder_from_the_statistics_alone() {
        let transformer = DataTransformer::fit_dp(
            &schema(),
            &stats(),
            &settings(json!({})),
            &TransformerOptions::default(),
            None,
        )
        .expect("fit_dp");
        // age: alpha, one mode, null indicator (48 nulls > 5); gain: alpha, one mode (2
        // nulls are noise); color: red, green, OTHER (null count below the threshold).
        let widths: Vec<usize> = transformer.spans().iter().map(|s| s.width).collect();
        assert_eq!(widths, vec![1, 1, 2, 1, 1, 3]);
        let discrete = transformer.discrete_columns();
        assert_eq!(discrete.len(), 2);
        assert!(discrete[0].null_indicator && discrete[0].frequencies == vec![952, 48]);
        assert_eq!(discrete[1].column, "color");
        assert_eq!(discrete[1].frequencies, vec![600, 300, 99]);
        assert_eq!(
            transformer.category_set("color").expect("set"),
            vec![
                Value::from("red"),
                Value::from("green"),
                Value::from(OTHER_LABEL)
            ]
        );
        assert_eq!(transformer.numeric_range("age"), Some((18.0, 82.0)));
        // Declaring the column nullable adds the null slot.
        let declared = settings(json!({"public": {"columns": {"color": {"nullable": true}}}}));
        let transformer = DataTransformer::fit_dp(
            &schema(),
            &stats(),
            &declared,
            &TransformerOptions::default(),
            None,
        )
        .expect("fit_dp");
        let color = &transformer.discrete_columns()[1];
        assert_eq!(color.categories, 4);
    }

    #[test]
    fn values_inside_the_grid_round_trip_and_unknown_categories_become_other() {
        let transformer = DataTransformer::fit_dp(
            &schema(),
            &stats(),
            &settings(json!({})),
            &TransformerOptions::default(),
            None,
        )
        .expect("fit_dp");
        let ages: Vec<Option<i64>> = (0..60)
            .map(|i| (i % 7 != 3).then_some(18 + i))
            .chain([Some(5), Some(99)])
            .collect();
        let rows = ages.len();
        let gains: Vec<i64> = (0..rows as i64)
            .map(|i| [0, 0, 0, 700, 1999, 8000][i as usize % 6])
            .collect();
        let colors: Vec<Option<&str>> = (0..rows)
            .map(|i| [Some("red"), Some("green"), Some("blue"), None][i % 4])
            .collect();
        let data = table(ages.clone(), gains.clone(), colors.clone());
        let encoded = transformer
            .transform(&data, &mut ChaCha8Rng::seed_from_u64(1))
            .expect("transform");
        let decoded = transformer
            .inverse(&encoded.data, rows, 0, &mut ChaCha8Rng::seed_from_u64(2))
            .expect("inverse");
        for row in 0..rows {
            let age = value_at("age", decoded.column(0).as_ref(), row).expect("age");
            let expected = ages[row].map(|a| a.clamp(18, 82));
            assert_eq!(age.as_f64().map(|a| a as i64), expected, "age row {row}");
            let gain = value_at("gain", decoded.column(1).as_ref(), row).expect("gain");
            assert_eq!(gain, Value::Int(gains[row]), "gain row {row}");
            let color = value_at("color", decoded.column(2).as_ref(), row).expect("color");
            let expected = match colors[row] {
                Some(c @ ("red" | "green")) => Value::from(c),
                _ => Value::from(OTHER_LABEL),
            };
            assert_eq!(color, expected, "color row {row}");
        }
        // The conditional vector's codes put out-of-domain values and nulls on OTHER.
        let codes = &encoded.codes[1];
        assert_eq!(&codes[..4], &[0, 1, 2, 2]);
        // Keys are numbered from 1, never learned.
        let keys = decoded
            .column(3)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("keys");
        assert_eq!(keys.value(0), 1);
        assert_eq!(keys.null_count(), 0);
    }

    #[test]
    fn fit_dp_works_from_measured_statistics() {
        let ages: Vec<Option<i64>> = (0..400).map(|i| Some(20 + i % 50)).collect();
        let gains: Vec<i64> = (0..400)
            .map(|i| if i % 10 == 0 { 5000 } else { 0 })
            .collect();
        let colors: Vec<Option<&str>> = (0..400)
            .map(|i| Some(if i % 3 == 0 { "red" } else { "green" }))
            .collect();
        let data = table(ages, gains, colors);
        let settings = settings(json!({"epsilon": 10.0}));
        let mut tracker = settings.tracker().expect("tracker");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let stats = DpStatistics::measure(&data, &[0, 1, 2], &settings, &mut tracker, &mut rng)
            .expect("measure");
        let transformer = DataTransformer::fit_dp(
            data.schema(),
            &stats,
            &settings,
            &TransformerOptions::default(),
            None,
        )
        .expect("fit_dp");
        let encoded = transformer.transform(&data, &mut rng).expect("transform");
        assert_eq!(encoded.rows, 400);
        assert!(encoded.data.iter().all(|v| v.is_finite()));
        assert!(tracker.not_dp_reasons().is_empty());
    }
}
