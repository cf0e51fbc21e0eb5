//! Tests of mirage-data's public API, in one binary so it links once.

mod adult;
mod errors;
mod formats;
mod inference;
mod overrides;
mod parquet_input;
mod pii;
mod profile;
mod roundtrip;
mod sniffing;

use std::path::{Path, PathBuf};

use mirage_core::{ColumnKind, Table};
use mirage_data::{ReadOptions, read_table};

/// A scratch directory that lives as long as the test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Writes `content` to `name` inside `dir`.
pub fn file(dir: &tempfile::TempDir, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write test file");
    path
}

/// Reads a file with default options.
pub fn read(path: &Path) -> Table {
    read_table(path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a file that must fail, giving the message.
pub fn read_error(path: &Path) -> String {
    read_error_with(path, &ReadOptions::default())
}

/// Reads a file with options that must fail, giving the message.
pub fn read_error_with(path: &Path, options: &ReadOptions) -> String {
    match read_table(path, options) {
        Ok(table) => panic!(
            "{} read without error: {:?}",
            path.display(),
            table.schema()
        ),
        Err(e) => e.to_string(),
    }
}

/// The kind of a column.
pub fn kind(table: &Table, column: &str) -> ColumnKind {
    table
        .schema()
        .column(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .kind
        .clone()
}

/// Asserts that `message` contains every one of `parts`.
pub fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}
