//! `mirage profile FILE`: schema, statistics and PII findings.

use std::path::PathBuf;

use mirage_data::{ProfileOptions, ReadOptions, SchemaOverrides};
use serde::Serialize;

/// What `mirage profile` can be told.
#[derive(Debug, Clone)]
pub struct ProfileCommand {
    /// The file; `None` = the bundled demo.
    pub file: Option<PathBuf>,
    /// Print JSON instead of a table.
    pub json: bool,
    /// A schema-override file.
    pub schema: Option<PathBuf>,
    /// Profile a sample of this share of rows.
    pub sample_rate: Option<f64>,
}

#[derive(Serialize)]
struct ProfileJson<'a> {
    source: &'a str,
    schema: &'a mirage_core::Schema,
    profile: &'a mirage_core::DatasetProfile,
}

/// Runs the command and returns what to print.
pub fn run(command: &ProfileCommand) -> anyhow::Result<String> {
    let (path, source) = match &command.file {
        Some(path) => (path.clone(), path.display().to_string()),
        None => (
            crate::demo::adult_path()?,
            crate::demo::DEMO_NAME.to_string(),
        ),
    };
    let mut options = ReadOptions::default();
    if let Some(schema) = &command.schema {
        options.overrides = Some(SchemaOverrides::from_path(schema)?);
    }
    let table = mirage_data::read_table(&path, &options)?;
    let profile_options = ProfileOptions {
        sample_rate: command.sample_rate,
        ..ProfileOptions::default()
    };
    let profile = mirage_data::profile_table(&table, &profile_options)?;
    if command.json {
        let json = ProfileJson {
            source: &source,
            schema: table.schema(),
            profile: &profile,
        };
        Ok(serde_json::to_string_pretty(&json)?)
    } else {
        Ok(crate::render::profile(&source, table.schema(), &profile))
    }
}
