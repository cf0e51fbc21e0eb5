use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
};
use mirage_core::schema::ColumnSchema;
use rand_distr::{Distribution, Normal};

use super::*;
use crate::columns::{numeric_values, value_at};

/// 3,000 rows of every column kind: a bimodal float with 2 decimals and 10 % nulls, an
/// integer, a datetime at second precision, a categorical with nulls, a boolean, a key,
/// text, a constant and an all-null integer column.
fn mixed_table() -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 3_000;
    let low = Normal::new(-20.0, 2.0).expect("normal");
    let high = Normal::new(50.0, 5.0).expect("normal");
    let (mut x, mut age, mut t, mut c, mut b, mut id, mut text, mut k, mut empty) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for i in 0..n {
        let v: f64 = if rng.random::<f64>() < 0.4 {
            low.sample(&mut rng)
        } else {
            high.sample(&mut rng)
        };
        x.push((rng.random::<f64>() >= 0.1).then_some((v * 100.0).round() / 100.0));
        age.push(18 + rng.random_range(0..60i64));
        t.push(1_600_000_000_000 + rng.random_range(0..10_000_000i64) * 1_000);
        c.push(match rng.random_range(0..10) {
            0 => None,
            1..=3 => Some("red"),
            4..=8 => Some("green"),
            _ => Some("blue"),
        });
        b.push(rng.random::<f64>() < 0.3);
        id.push(100 + i as i64);
        text.push(if i % 2 == 0 {
            "the quick fox"
        } else {
            "a lazy dog"
        });
        k.push("same");
        empty.push(None::<i64>);
    }
    let schema = Schema::new(vec![
        ColumnSchema::new("x", ColumnKind::Float, PhysicalType::Float64),
        ColumnSchema::new("age", ColumnKind::Integer, PhysicalType::Int64),
        ColumnSchema::new(
            "t",
            ColumnKind::Datetime {
                format: "%Y-%m-%d %H:%M:%S".into(),
            },
            PhysicalType::TimestampMillis,
        ),
        ColumnSchema::new("c", ColumnKind::Categorical, PhysicalType::Utf8),
        ColumnSchema::new("b", ColumnKind::Boolean, PhysicalType::Boolean),
        ColumnSchema::new("id", ColumnKind::Identifier, PhysicalType::Int64),
        ColumnSchema::new("text", ColumnKind::Text, PhysicalType::Utf8),
        ColumnSchema::new("k", ColumnKind::Constant, PhysicalType::Utf8),
        ColumnSchema::new("empty", ColumnKind::Integer, PhysicalType::Int64),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(Int64Array::from(age)),
        Arc::new(TimestampMillisecondArray::from(t)),
        Arc::new(StringArray::from(c)),
        Arc::new(BooleanArray::from(b)),
        Arc::new(Int64Array::from(id)),
        Arc::new(StringArray::from(text)),
        Arc::new(StringArray::from(k)),
        Arc::new(Int64Array::from(empty)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

/// Asserts that `decoded` reproduces `table`'s column `name` exactly (numbers within a
/// relative 1e-9), except rows whose alpha was clipped.
fn assert_column_round_trips(
    transformer: &DataTransformer,
    encoded: &Encoded,
    table: &Table,
    decoded: &RecordBatch,
    name: &str,
) {
    let c = transformer.schema().index_of(name).expect("column");
    let original = table.column(c).expect("column");
    let back = decoded.column(c);
    let offset = transformer.offsets[c];
    let mut clipped = 0;
    for row in 0..table.num_rows() {
        let continuous = matches!(transformer.columns[c], ColumnTransform::Continuous(_));
        if continuous && encoded.data[row * encoded.width + offset].abs() >= 0.99 {
            clipped += 1;
            continue;
        }
        let a = value_at(name, original.as_ref(), row).expect("value");
        let b = value_at(name, back.as_ref(), row).expect("value");
        let same = match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            _ => a == b,
        };
        assert!(same, "{name} row {row}: {a:?} became {b:?}");
    }
    assert!(
        clipped * 100 <= table.num_rows(),
        "{name}: {clipped} values had their alpha clipped"
    );
}

#[test]
fn every_kind_of_column_round_trips_exactly() {
    let table = mixed_table();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    assert_eq!(encoded.data.len(), table.num_rows() * transformer.width());
    let decoded = transformer
        .inverse(
            &encoded.data,
            encoded.rows,
            0,
            &mut ChaCha8Rng::seed_from_u64(2),
        )
        .expect("inverse");
    assert_eq!(decoded.schema(), table.schema().arrow_schema());
    for name in ["x", "age", "t", "c", "b", "id"] {
        assert_column_round_trips(&transformer, &encoded, &table, &decoded, name);
    }
    let constant = decoded
        .column(7)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings");
    assert!(constant.iter().all(|v| v == Some("same")));
    assert_eq!(decoded.column(8).null_count(), table.num_rows());
    // The bimodal column has (at least) its two modes.
    let ColumnTransform::Continuous(x) = &transformer.columns[0] else {
        panic!("x is continuous");
    };
    assert!(x.mixture.components() >= 2, "{:?}", x.mixture);
    assert!(x.has_nulls && x.quantum == Some(0.01));
    let ColumnTransform::Continuous(t) = &transformer.columns[2] else {
        panic!("t is continuous");
    };
    assert_eq!(
        t.cyclic,
        Some(continuous::CyclicFeatures { time_of_day: true })
    );
}

#[test]
fn spans_cover_the_row_and_frequencies_sum_to_rows() {
    let table = mixed_table();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let mut next = 0;
    for span in transformer.spans() {
        assert_eq!(span.start, next);
        assert!(span.width > 0);
        next += span.width;
    }
    assert_eq!(next, transformer.width());
    let names: Vec<(&str, bool)> = transformer
        .discrete_columns()
        .iter()
        .map(|d| (d.column.as_str(), d.null_indicator))
        .collect();
    // The numeric column x has nulls: its (present, null) indicator is a discrete column.
    assert_eq!(names, [("x", true), ("c", false), ("b", false)]);
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    for (d, codes) in transformer.discrete_columns().iter().zip(&encoded.codes) {
        assert_eq!(d.frequencies.iter().sum::<u64>(), table.num_rows() as u64);
        assert_eq!(d.frequencies.len(), d.categories);
        let span = transformer.spans()[d.span];
        assert_eq!(
            (span.width, span.activation),
            (d.categories, Activation::Softmax)
        );
        // The codes agree with the one-hot in the matrix.
        for (row, &code) in codes.iter().enumerate() {
            let hot = &encoded.data[row * encoded.width + span.start..][..span.width];
            assert_eq!(hot[code as usize], 1.0);
            assert_eq!(hot.iter().sum::<f32>(), 1.0);
        }
    }
    // Every softmax group of every row is a one-hot; every tanh value is in [-1, 1].
    for row in encoded.data.chunks_exact(encoded.width) {
        for span in transformer.spans() {
            let part = &row[span.start..span.start + span.width];
            match span.activation {
                Activation::Softmax => assert_eq!(part.iter().sum::<f32>(), 1.0),
                Activation::Tanh => assert!(part.iter().all(|v| v.abs() <= 1.0)),
            }
        }
    }
}

#[test]
fn conditions_categories_and_ranges() {
    let table = mixed_table();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let (d, green) = transformer
        .condition_index("c", &Value::from("green"))
        .expect("green is a category");
    // Discrete column 0 is x's null indicator, which conditions on x never map to.
    assert_eq!((d, green), (1, 0), "the most frequent category comes first");
    assert!(transformer.condition_index("c", &Value::Null).is_some());
    assert_eq!(transformer.condition_index("c", &Value::from("pink")), None);
    assert!(
        transformer
            .condition_index("x", &Value::Float(1.0))
            .is_none()
    );
    assert_eq!(
        transformer
            .condition_index("b", &Value::Bool(true))
            .map(|x| x.0),
        Some(2)
    );
    let mut colours = transformer.category_set("c").expect("categorical");
    colours.sort_by_key(|v| v.to_string());
    assert_eq!(
        colours,
        vec![
            Value::from("blue"),
            Value::from("green"),
            Value::from("red")
        ]
    );
    assert_eq!(
        transformer.category_set("k"),
        Some(vec![Value::from("same")])
    );
    let (lo, hi) = transformer.numeric_range("age").expect("numeric");
    assert!(lo >= 18.0 && hi <= 77.0);
    assert_eq!(transformer.numeric_range("c"), None);
}

#[test]
fn encoding_is_deterministic_and_survives_serialisation() {
    let table = mixed_table();
    let options = TransformerOptions {
        seed: 11,
        ..TransformerOptions::default()
    };
    let first = DataTransformer::fit(&table, &options).expect("fit");
    assert_eq!(first, DataTransformer::fit(&table, &options).expect("fit"));
    let json = serde_json::to_string(&first).expect("serialise");
    let restored: DataTransformer = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(restored, first);
    let a = first
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(5))
        .expect("transform");
    let b = restored
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(5))
        .expect("transform");
    assert_eq!(a, b);
}

#[test]
fn decoding_soft_outputs_takes_the_argmax() {
    let table = mixed_table();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    // Turn every one-hot into soft probabilities that keep the argmax.
    let mut soft = encoded.data.clone();
    for row in soft.chunks_exact_mut(encoded.width) {
        for span in transformer.spans() {
            if span.activation == Activation::Softmax && span.width > 1 {
                for v in &mut row[span.start..span.start + span.width] {
                    *v = 0.1 + 0.5 * *v;
                }
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let hard = transformer
        .inverse(&encoded.data, encoded.rows, 0, &mut rng.clone())
        .expect("inverse");
    let from_soft = transformer
        .inverse(&soft, encoded.rows, 0, &mut rng)
        .expect("inverse");
    assert_eq!(hard, from_soft);
    let short = transformer.inverse(&encoded.data[1..], encoded.rows, 0, &mut rng);
    assert!(matches!(short, Err(ModelError::Tensor { .. })));
}

#[test]
fn the_copula_preprocessing_round_trips_closely() {
    let table = mixed_table();
    let options = TransformerOptions {
        gaussian_copula: true,
        ..TransformerOptions::default()
    };
    let transformer = DataTransformer::fit(&table, &options).expect("fit");
    let ColumnTransform::Continuous(x) = &transformer.columns[0] else {
        panic!("x is continuous");
    };
    assert!(x.marginal.is_some());
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    let decoded = transformer
        .inverse(
            &encoded.data,
            encoded.rows,
            0,
            &mut ChaCha8Rng::seed_from_u64(2),
        )
        .expect("inverse");
    for (c, tolerance) in [(0, 0.05), (1, 1.0)] {
        let original = numeric_values("n", table.column(c).expect("column").as_ref()).expect("n");
        let back = numeric_values("n", decoded.column(c).as_ref()).expect("numbers");
        let mut close = 0;
        for (a, b) in original.iter().zip(&back) {
            assert_eq!(a.is_none(), b.is_none());
            if let (Some(a), Some(b)) = (a, b) {
                close += usize::from((a - b).abs() <= tolerance);
            }
        }
        let present = original.iter().flatten().count();
        assert!(
            close as f64 >= 0.99 * present as f64,
            "column {c}: {close} of {present}"
        );
    }
}

#[test]
fn bad_options_name_the_field() {
    let cases = [
        (
            "max_components",
            TransformerOptions {
                max_components: 0,
                ..Default::default()
            },
        ),
        (
            "weight_concentration",
            TransformerOptions {
                weight_concentration: 0.0,
                ..Default::default()
            },
        ),
        (
            "weight_threshold",
            TransformerOptions {
                weight_threshold: 1.0,
                ..Default::default()
            },
        ),
        (
            "high_cardinality_threshold",
            TransformerOptions {
                high_cardinality_threshold: 1,
                ..Default::default()
            },
        ),
        (
            "digit_base",
            TransformerOptions {
                digit_base: 1,
                ..Default::default()
            },
        ),
        (
            "fit_sample",
            TransformerOptions {
                fit_sample: 10,
                ..Default::default()
            },
        ),
    ];
    for (field, options) in cases {
        match options.validate() {
            Err(ModelError::InvalidConfig { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{field}: {other:?}"),
        }
        let fitted = DataTransformer::fit(&mixed_table(), &options);
        assert!(matches!(fitted, Err(ModelError::InvalidConfig { .. })));
    }
    assert!(TransformerOptions::default().validate().is_ok());
    let typo = serde_json::from_str::<TransformerOptions>(r#"{"max_component": 3}"#);
    assert!(typo.is_err());
    let partial: TransformerOptions =
        serde_json::from_str(r#"{"digit_base": 8}"#).expect("defaults fill the rest");
    assert_eq!(partial.digit_base, 8);
    assert_eq!(partial.max_components, 10);
}

#[test]
fn an_empty_table_is_refused() {
    let table = mixed_table();
    let empty = table.take_rows(&[]).expect("no rows");
    assert!(matches!(
        DataTransformer::fit(&empty, &TransformerOptions::default()),
        Err(ModelError::EmptyTable { .. })
    ));
}
