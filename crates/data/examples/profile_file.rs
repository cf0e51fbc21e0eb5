//! Reads and profiles a file, printing the schema and how long each step took.
//!
//! `cargo run --release -p mirage-data --example profile_file -- /work/shared/datasets/adult.csv`

use std::path::PathBuf;
use std::time::Instant;

use mirage_data::{ProfileOptions, ReadOptions, profile_table, read_table};

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: profile_file FILE"))?;
    let started = Instant::now();
    let table = read_table(&path, &ReadOptions::default())?;
    let read = started.elapsed();
    let profile = profile_table(&table, &ProfileOptions::default())?;
    let total = started.elapsed();
    for (column, stats) in table.schema().columns.iter().zip(&profile.columns) {
        let pii = column
            .pii
            .map(|f| format!(" pii={} ({:.2})", f.kind, f.confidence))
            .unwrap_or_default();
        println!(
            "{:<20} {:<28} nulls={:<6} distinct={:<6}{pii}",
            column.name,
            column.kind.to_string(),
            stats.null_count,
            stats.cardinality
        );
    }
    println!(
        "{} rows; read {:.1} ms, read + profile {:.1} ms",
        table.num_rows(),
        read.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
    Ok(())
}
