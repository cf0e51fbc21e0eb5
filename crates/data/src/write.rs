//! Writing tables: CSV (datetimes in their schema format, booleans in the source's spelling,
//! floats in shortest round-trip form, nulls as empty cells, quoting only where needed) or
//! Parquet (native Boolean and Timestamp types, with the Mirage schema in the file metadata,
//! so that reading it back restores kinds and formats).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use mirage_core::Table;
use mirage_core::schema::PhysicalType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::datetime::{DatetimeFormat, TIMESTAMP_FORMAT};
use crate::error::{DataError, Result};
use crate::parquet::SCHEMA_METADATA_KEY;

/// Writes `table` to `path`, as CSV or Parquet by the extension (`.csv`, `.parquet`).
pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".parquet") || name.ends_with(".pq") {
        write_parquet(table, path)
    } else if name.ends_with(".csv") {
        write_csv(table, path)
    } else {
        Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }
}

fn write_parquet(table: &Table, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| DataError::io(path, e))?;
    let schema_json =
        serde_json::to_string(table.schema()).map_err(|e| DataError::InvalidOption {
            option: "schema",
            message: e.to_string(),
        })?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SCHEMA_METADATA_KEY.to_string(),
            schema_json,
        )]))
        .build();
    let mut writer = ArrowWriter::try_new(file, table.schema().arrow_schema(), Some(properties))
        .map_err(|e| DataError::parquet(path, e))?;
    for batch in table.batches() {
        writer
            .write(batch)
            .map_err(|e| DataError::parquet(path, e))?;
    }
    writer.close().map_err(|e| DataError::parquet(path, e))?;
    Ok(())
}

fn write_csv(table: &Table, path: &Path) -> Result<()> {
    let file = File::create(path).map_err(|e| DataError::io(path, e))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let io = |e| DataError::io(path, e);
    let columns = &table.schema().columns;
    let formats: Vec<Option<DatetimeFormat>> = columns
        .iter()
        .map(|c| match (c.datetime_format(), c.physical) {
            (Some(format), _) => DatetimeFormat::new(format),
            (None, PhysicalType::TimestampMillis) => DatetimeFormat::new(TIMESTAMP_FORMAT),
            (None, _) => None,
        })
        .collect();
    let booleans: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| c.boolean_labels().unwrap_or(("true", "false")))
        .collect();
    let mut line = String::new();
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(&mut line, &column.name);
    }
    line.push('\n');
    out.write_all(line.as_bytes()).map_err(io)?;
    let mut cell = String::new();
    for batch in table.batches() {
        for row in 0..batch.num_rows() {
            line.clear();
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let array = batch.column(i);
                if array.is_null(row) {
                    continue;
                }
                cell.clear();
                match column.physical {
                    PhysicalType::Int64 => {
                        let _ = std::fmt::Write::write_fmt(
                            &mut cell,
                            format_args!("{}", array.as_primitive::<Int64Type>().value(row)),
                        );
                    }
                    PhysicalType::Float64 => {
                        format_float(array.as_primitive::<Float64Type>().value(row), &mut cell)
                    }
                    PhysicalType::Boolean => {
                        let (true_label, false_label) = booleans[i];
                        cell.push_str(if array.as_boolean().value(row) {
                            true_label
                        } else {
                            false_label
                        })
                    }
                    PhysicalType::Utf8 => cell.push_str(array.as_string::<i32>().value(row)),
                    PhysicalType::TimestampMillis => {
                        let millis = array.as_primitive::<TimestampMillisecondType>().value(row);
                        match &formats[i] {
                            Some(format) => format.write(millis, &mut cell),
                            None => {
                                let _ =
                                    std::fmt::Write::write_fmt(&mut cell, format_args!("{millis}"));
                            }
                        }
                    }
                }
                push_field(&mut line, &cell);
            }
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(())
}

/// Writes a float in its shortest round-trip form, always with a `.` or an exponent so it
/// reads back as a float, switching to exponent form for very large and very small values.
fn format_float(value: f64, out: &mut String) {
    use std::fmt::Write as _;
    let magnitude = value.abs();
    let start = out.len();
    if value.is_finite() && magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
        let _ = write!(out, "{value:e}");
    } else {
        let _ = write!(out, "{value}");
    }
    let written = &out[start..];
    if value.is_finite() && !written.contains(['.', 'e']) {
        out.push_str(".0");
    }
}

/// Appends a field, quoted when it holds a delimiter, quote, line break or edge whitespace
/// (which a trimming reader would drop), or is empty text that must not read as null.
fn push_field(line: &mut String, text: &str) {
    let needs_quotes = text.is_empty()
        || text.contains([',', '"', '\n', '\r'])
        || text.starts_with(|c: char| c.is_ascii_whitespace())
        || text.ends_with(|c: char| c.is_ascii_whitespace());
    if !needs_quotes {
        line.push_str(text);
        return;
    }
    line.push('"');
    for c in text.chars() {
        if c == '"' {
            line.push('"');
        }
        line.push(c);
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64) -> String {
        let mut out = String::new();
        format_float(value, &mut out);
        out
    }

    #[test]
    fn floats_are_shortest_and_stay_floats() {
        assert_eq!(float(2.0), "2.0");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(-1.5), "-1.5");
        assert_eq!(float(1e20), "1e20");
        assert_eq!(float(1.5e-7), "1.5e-7");
        for value in [0.1 + 0.2, 1.0 / 3.0, 12345.678, 6.02e23] {
            assert_eq!(float(value).parse::<f64>().ok(), Some(value));
        }
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut line = String::new();
        push_field(&mut line, "plain");
        line.push('|');
        push_field(&mut line, "a,b");
        line.push('|');
        push_field(&mut line, "say \"hi\"");
        line.push('|');
        push_field(&mut line, " padded");
        assert_eq!(line, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\" padded\"");
    }
}
