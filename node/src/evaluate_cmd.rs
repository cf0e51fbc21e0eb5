//! `mirage evaluate --real R --synthetic S [--holdout H] [--target COL] [--json F] [--html F]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mirage_core::Table;
use mirage_data::{ColumnOverride, ReadOptions, SchemaOverrides};
use mirage_quality::{Assessment, AssessmentOptions};

/// What `mirage evaluate` can be told.
#[derive(Debug, Clone)]
pub struct EvaluateCommand {
    /// Real training rows.
    pub real: PathBuf,
    /// Synthetic rows.
    pub synthetic: PathBuf,
    /// Real rows the generator never saw.
    pub holdout: Option<PathBuf>,
    /// The utility target column.
    pub target: Option<String>,
    /// A file of gate thresholds.
    pub gate: Option<PathBuf>,
    /// Schema overrides for the real table.
    pub schema: Option<PathBuf>,
    /// JSON output path.
    pub json: Option<PathBuf>,
    /// HTML output path.
    pub html: Option<PathBuf>,
}

/// Reads `path` with the column kinds of `like`, so that e.g. a synthetic column with few
/// distinct values is compared as the number it is in the real data. Errors name the
/// table's `role` and its path.
pub(crate) fn read_like(path: &Path, like: &Table, role: &str) -> anyhow::Result<Table> {
    let columns: BTreeMap<String, ColumnOverride> = like
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
    let options = ReadOptions {
        overrides: Some(SchemaOverrides {
            columns,
            ..SchemaOverrides::default()
        }),
        detect_pii: false,
        ..ReadOptions::default()
    };
    mirage_data::read_table(path, &options).with_context(|| {
        format!(
            "reading the {role} table {} with the real table's schema",
            path.display()
        )
    })
}

/// Reads the tables, assesses, writes the requested files.
pub fn run(command: &EvaluateCommand) -> anyhow::Result<Assessment> {
    let mut options = ReadOptions::default();
    if let Some(schema) = &command.schema {
        options.overrides = Some(SchemaOverrides::from_path(schema)?);
    }
    let real = mirage_data::read_table(&command.real, &options)?;
    let synthetic = read_like(&command.synthetic, &real, "synthetic")?;
    let holdout = command
        .holdout
        .as_deref()
        .map(|h| read_like(h, &real, "holdout"))
        .transpose()?;
    let assessment_options = AssessmentOptions {
        target: command.target.clone(),
        gate: crate::gate_file::load(command.gate.as_deref())?,
        ..AssessmentOptions::default()
    };
    let assessment =
        mirage_quality::assess(&real, holdout.as_ref(), &synthetic, &assessment_options)?;
    if let Some(path) = &command.json {
        std::fs::write(path, assessment.to_json_pretty())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &command.html {
        let title = format!("Mirage quality report: {}", command.synthetic.display());
        std::fs::write(path, assessment.to_html(&title))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(assessment)
}
