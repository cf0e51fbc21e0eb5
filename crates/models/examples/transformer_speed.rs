//! Times the CTGAN/TVAE data transformer: fit + transform of Adult, and of 1,000,000 rows
//! of 10 synthetic numeric columns (mixtures of normals and lognormals).
//!
//! `cargo run --release -p mirage-models --example transformer_speed -- [rows]`

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch};
use mirage_core::schema::{ColumnKind, ColumnSchema, PhysicalType};
use mirage_core::{Schema, Table};
use mirage_models::transformer::{DataTransformer, TransformerOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};

fn time(label: &str, table: &Table, options: &TransformerOptions) -> anyhow::Result<()> {
    let started = Instant::now();
    let transformer = DataTransformer::fit(table, options)?;
    let fitted = started.elapsed().as_secs_f64();
    let encoded = transformer.transform(table, &mut ChaCha8Rng::seed_from_u64(1))?;
    let total = started.elapsed().as_secs_f64();
    let decode_started = Instant::now();
    let decoded = transformer.inverse(
        &encoded.data,
        encoded.rows,
        0,
        &mut ChaCha8Rng::seed_from_u64(2),
    )?;
    let decode = decode_started.elapsed().as_secs_f64();
    let modes: Vec<String> = table
        .schema()
        .columns
        .iter()
        .filter_map(|c| {
            let spans = transformer.column_spans(&c.name)?;
            transformer
                .numeric_range(&c.name)
                .map(|_| format!("{}:{}", c.name, transformer.spans()[spans.start + 1].width))
        })
        .collect();
    println!(
        "{label}: {} rows × {} columns → width {}; fit {fitted:.3}s, fit+transform {total:.3}s \
         (inverse {decode:.3}s, {} rows); modes {}",
        table.num_rows(),
        table.schema().len(),
        transformer.width(),
        decoded.num_rows(),
        modes.join(" ")
    );
    Ok(())
}

fn synthetic(rows: usize) -> anyhow::Result<Table> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut columns = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in 0..10 {
        let values: Vec<f64> = if c % 2 == 0 {
            // 1–4 normal modes.
            let modes: Vec<Normal<f64>> = (0..=c % 4)
                .map(|m| Normal::new(10.0 * m as f64 * (c + 1) as f64, 1.0 + m as f64))
                .collect::<Result<_, _>>()?;
            (0..rows)
                .map(|_| modes[rng.random_range(0..modes.len())].sample(&mut rng))
                .collect()
        } else {
            // A lognormal, some with a spike at zero.
            let lognormal = LogNormal::new(c as f64 / 3.0, 0.5 + c as f64 / 10.0)?;
            (0..rows)
                .map(|_| {
                    if c % 3 == 0 && rng.random::<f64>() < 0.3 {
                        0.0
                    } else {
                        lognormal.sample(&mut rng)
                    }
                })
                .collect()
        };
        columns.push(ColumnSchema::new(
            format!("x{c}"),
            ColumnKind::Float,
            PhysicalType::Float64,
        ));
        arrays.push(Arc::new(Float64Array::from(values)));
    }
    let schema = Schema::new(columns)?;
    let batch = RecordBatch::try_new(schema.arrow_schema(), arrays)?;
    Ok(Table::new(schema, vec![batch])?)
}

fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |s| s.parse())?;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/adult.csv.gz");
    let adult = mirage_data::read_table(&path, &Default::default())?;
    let options = TransformerOptions::default();
    time("adult", &adult, &options)?;
    time(
        "adult (copula)",
        &adult,
        &TransformerOptions {
            gaussian_copula: true,
            ..options.clone()
        },
    )?;
    let table = synthetic(rows)?;
    time("synthetic", &table, &options)?;
    Ok(())
}
