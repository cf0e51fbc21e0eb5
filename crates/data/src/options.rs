//! Options for reading a table.

use crate::cell::DEFAULT_NA_VALUES;
use crate::overrides::SchemaOverrides;

/// How [`crate::read_table`] reads a file. The defaults read common CSV files, and Parquet,
/// with no configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    /// The CSV field delimiter; `None` sniffs it among `,` `;` tab and `|`.
    pub delimiter: Option<u8>,
    /// Whether the first CSV row names the columns; `None` sniffs it.
    pub has_header: Option<bool>,
    /// Cell texts read as null, compared after trimming. The empty cell is always null.
    pub na_values: Vec<String>,
    /// Whether to drop ASCII whitespace around unquoted CSV fields.
    pub trim: bool,
    /// Rows per Arrow record batch.
    pub batch_size: usize,
    /// Above this many distinct values a label column is `HighCardinality`, not `Categorical`.
    pub high_cardinality_threshold: usize,
    /// Corrections to the inferred schema.
    pub overrides: Option<SchemaOverrides>,
    /// Whether to look for personal data and flag the columns that hold it.
    pub detect_pii: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            has_header: None,
            na_values: DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect(),
            trim: true,
            batch_size: 8192,
            high_cardinality_threshold: 500,
            overrides: None,
            detect_pii: true,
        }
    }
}

impl ReadOptions {
    /// Checks the options that have a range.
    pub fn validate(&self) -> crate::Result<()> {
        if self.batch_size == 0 {
            return Err(crate::DataError::InvalidOption {
                option: "batch_size",
                message: "must be at least 1".into(),
            });
        }
        if let Some(delimiter) = self.delimiter
            && matches!(delimiter, b'"' | b'\n' | b'\r')
        {
            return Err(crate::DataError::InvalidOption {
                option: "delimiter",
                message: format!(
                    "{:?} cannot separate fields; use , ; tab or |",
                    delimiter as char
                ),
            });
        }
        Ok(())
    }
}
