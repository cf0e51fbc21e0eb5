//! The CTGAN/TVAE data transformer through its public API: exact round trips on Adult, the
//! row layout, high-cardinality columns in bounded width and memory, determinism and
//! config errors.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table, Value};
use mirage_models::ModelError;
use mirage_models::columns::value_at;
use mirage_models::transformer::{Activation, DataTransformer, TransformerOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn adult() -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    mirage_data::read_table(&path, &Default::default()).expect("adult.csv.gz reads")
}

/// Position of each numeric column's alpha (its first span), `None` for other columns.
fn alpha_positions(transformer: &DataTransformer) -> Vec<Option<usize>> {
    transformer
        .schema()
        .columns
        .iter()
        .map(|column| {
            transformer.numeric_range(&column.name)?;
            let spans = transformer.column_spans(&column.name).expect("a column");
            let alpha = transformer.spans()[spans.start];
            assert_eq!((alpha.width, alpha.activation), (1, Activation::Tanh));
            Some(alpha.start)
        })
        .collect()
}

#[test]
fn adult_round_trips_exactly() {
    let table = adult();
    let rows = table.num_rows();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(3))
        .expect("transform");
    assert_eq!((encoded.rows, encoded.width), (rows, transformer.width()));
    let decoded = transformer
        .inverse(&encoded.data, rows, 0, &mut ChaCha8Rng::seed_from_u64(4))
        .expect("inverse");
    assert_eq!(decoded.num_rows(), rows);
    let alphas = alpha_positions(&transformer);
    for (c, column) in transformer.schema().columns.iter().enumerate() {
        let original = table.column(c).expect("column");
        let back = decoded.column(c);
        let mut clipped = 0;
        for row in 0..rows {
            if let Some(alpha) = alphas[c]
                && encoded.data[row * encoded.width + alpha].abs() >= 0.99
            {
                // Values more than 3.96σ from their mode are clipped (CTGAN does too).
                clipped += 1;
                continue;
            }
            let a = value_at(&column.name, original.as_ref(), row).expect("value");
            let b = value_at(&column.name, back.as_ref(), row).expect("value");
            let same = match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                _ => a == b,
            };
            assert!(same, "{} row {row}: {a:?} became {b:?}", column.name);
        }
        // Capital gains' 159 rows of 99,999 (0.5 %, under the weight threshold) have no
        // mode of their own, so they and their neighbours clip.
        assert!(
            clipped * 1_000 <= rows * 15,
            "{}: {clipped} of {rows} clipped",
            column.name
        );
    }
}

#[test]
fn adult_layout_covers_the_row_and_counts_every_row() {
    let table = adult();
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    let mut next = 0;
    for span in transformer.spans() {
        assert_eq!(span.start, next);
        next += span.width;
    }
    assert_eq!(next, transformer.width());
    let discrete = transformer.discrete_columns();
    let categorical = table
        .schema()
        .columns
        .iter()
        .filter(|c| c.kind.is_discrete())
        .count();
    assert_eq!(discrete.len(), categorical);
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    for (d, codes) in discrete.iter().zip(&encoded.codes) {
        assert_eq!(
            d.frequencies.iter().sum::<u64>(),
            table.num_rows() as u64,
            "{}",
            d.column
        );
        let mut counted = vec![0u64; d.categories];
        codes.iter().for_each(|&c| counted[c as usize] += 1);
        assert_eq!(counted, d.frequencies, "{}", d.column);
        let span = transformer.spans()[d.span];
        assert_eq!(
            (span.width, span.activation),
            (d.categories, Activation::Softmax)
        );
    }
    let (column, category) = transformer
        .condition_index("sex", &Value::from("Female"))
        .expect("sex is discrete");
    assert_eq!(discrete[column].column, "sex");
    assert!(category < 2);
    assert!(
        transformer
            .condition_index("age", &Value::Int(30))
            .is_none()
    );
    let (lo, hi) = transformer.numeric_range("age").expect("age is numeric");
    assert_eq!((lo, hi), (17.0, 90.0));
}

#[test]
fn transform_is_deterministic_given_the_seeds() {
    let table = adult();
    let options = TransformerOptions {
        seed: 5,
        ..Default::default()
    };
    let a = DataTransformer::fit(&table, &options).expect("fit");
    let b = DataTransformer::fit(&table, &options).expect("fit");
    assert_eq!(a, b);
    let encode = |t: &DataTransformer, seed| {
        t.transform(&table, &mut ChaCha8Rng::seed_from_u64(seed))
            .expect("transform")
    };
    assert_eq!(encode(&a, 9), encode(&b, 9));
    assert_ne!(encode(&a, 9).data, encode(&a, 10).data);
}

/// `n` rows with `n` distinct strings in a categorical column, and a small one-hot column.
fn distinct_strings(n: usize, kind: ColumnKind) -> Table {
    let values: Vec<String> = (0..n).map(|i| format!("value-{:07}", i * 7 + 3)).collect();
    let small: Vec<&str> = (0..n).map(|i| ["a", "b", "c"][i % 3]).collect();
    let schema = Schema::new(vec![
        ColumnSchema::new("many", kind, PhysicalType::Utf8),
        ColumnSchema::new("few", ColumnKind::Categorical, PhysicalType::Utf8),
    ])
    .expect("schema");
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(
            values.iter().map(String::as_str).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(small)),
    ];
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays).expect("batch");
    Table::new(schema, vec![batch]).expect("table")
}

fn assert_high_cardinality_round_trip(n: usize, kind: ColumnKind) {
    let table = distinct_strings(n, kind);
    let transformer = DataTransformer::fit(&table, &TransformerOptions::default()).expect("fit");
    // Five base-16 digits (16⁵ > 300,000) plus the 3-way one-hot.
    assert!(
        transformer.width() <= 5 * 16 + 3,
        "width {}",
        transformer.width()
    );
    assert_eq!(
        transformer.discrete_columns().len(),
        1,
        "digits are not conditionable"
    );
    let encoded = transformer
        .transform(&table, &mut ChaCha8Rng::seed_from_u64(1))
        .expect("transform");
    let decoded = transformer
        .inverse(&encoded.data, n, 0, &mut ChaCha8Rng::seed_from_u64(2))
        .expect("inverse");
    assert_eq!(
        decoded.column(0).as_ref(),
        table.column(0).expect("column").as_ref()
    );
    assert_eq!(
        decoded.column(1).as_ref(),
        table.column(1).expect("column").as_ref()
    );
    // The fitted state is linear in the number of categories.
    let state = serde_json::to_vec(&transformer).expect("serialise");
    assert!(
        state.len() < 50 * n,
        "{} bytes of state for {n} categories",
        state.len()
    );
    let restored: DataTransformer = serde_json::from_slice(&state).expect("deserialise");
    assert_eq!(restored.category_set("many").map(|c| c.len()), Some(n));
    // Any digit pattern decodes to a real category, even past the last rank.
    let mut row = vec![0f32; transformer.width()];
    for span in transformer.spans() {
        row[span.start + span.width - 1] = 1.0;
    }
    let wild = transformer
        .inverse(&row, 1, 0, &mut ChaCha8Rng::seed_from_u64(3))
        .expect("inverse");
    let value = wild
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("strings")
        .value(0)
        .to_string();
    assert!(value.starts_with("value-"));
}

#[test]
fn a_hundred_thousand_distinct_values_fit_in_five_digits() {
    assert_high_cardinality_round_trip(100_000, ColumnKind::Categorical);
}

#[test]
fn three_hundred_thousand_distinct_values_in_bounded_memory() {
    assert_high_cardinality_round_trip(300_000, ColumnKind::HighCardinality);
}

#[test]
fn bad_options_are_refused_with_the_field_named() {
    let table = distinct_strings(100, ColumnKind::Categorical);
    for (json, field) in [
        (r#"{"max_components": 0}"#, "max_components"),
        (r#"{"weight_concentration": -1.0}"#, "weight_concentration"),
        (r#"{"weight_threshold": 1.5}"#, "weight_threshold"),
        (
            r#"{"high_cardinality_threshold": 0}"#,
            "high_cardinality_threshold",
        ),
        (r#"{"digit_base": 1}"#, "digit_base"),
        (r#"{"fit_sample": 0}"#, "fit_sample"),
    ] {
        let options: TransformerOptions = serde_json::from_str(json).expect("parses");
        match DataTransformer::fit(&table, &options) {
            Err(ModelError::InvalidConfig { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{json}: {other:?}"),
        }
    }
    assert!(serde_json::from_str::<TransformerOptions>(r#"{"digits": 4}"#).is_err());
}
