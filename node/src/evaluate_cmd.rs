//! `mirage evaluate REAL SYNTHETIC`: the quality report of a synthetic file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use mirage_data::{ColumnOverride, ReadOptions, SchemaOverrides};
use mirage_quality::{QualityOptions, QualityReport};

/// Reads both tables and scores them. The synthetic table is read with the real table's
/// column kinds, so that e.g. a synthetic column with few distinct values is still compared
/// as the number it is in the real data.
pub fn run(real: &Path, synthetic: &Path, schema: Option<&Path>) -> anyhow::Result<QualityReport> {
    let mut options = ReadOptions::default();
    if let Some(schema) = schema {
        options.overrides = Some(SchemaOverrides::from_path(schema)?);
    }
    let real_table = mirage_data::read_table(real, &options)?;
    let columns: BTreeMap<String, ColumnOverride> = real_table
        .schema()
        .columns
        .iter()
        .map(|c| {
            let column = ColumnOverride {
                kind: Some(c.kind.clone()),
                ..ColumnOverride::default()
            };
            (c.name.clone(), column)
        })
        .collect();
    let synthetic_options = ReadOptions {
        overrides: Some(SchemaOverrides {
            columns,
            ..SchemaOverrides::default()
        }),
        detect_pii: false,
        ..ReadOptions::default()
    };
    let synthetic_table =
        mirage_data::read_table(synthetic, &synthetic_options).with_context(|| {
            format!(
                "reading {} with the schema of {}",
                synthetic.display(),
                real.display()
            )
        })?;
    Ok(mirage_quality::evaluate(
        &real_table,
        &synthetic_table,
        &QualityOptions::default(),
    )?)
}
