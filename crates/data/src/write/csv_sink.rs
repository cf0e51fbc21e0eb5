//! The CSV sink: datetimes in their schema format, booleans in the source's spelling,
//! floats in shortest round-trip form, nulls as empty cells, quoting only where needed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMillisecondType};
use mirage_core::Schema;
use mirage_core::schema::PhysicalType;

use crate::datetime::{DatetimeFormat, TIMESTAMP_FORMAT};
use crate::error::{DataError, Result};

/// Bytes of formatted rows held before they go to the file.
const BUFFER_BYTES: usize = 256 * 1024;

/// How to print one column.
#[derive(Debug)]
struct ColumnWriter {
    physical: PhysicalType,
    datetime: Option<DatetimeFormat>,
    booleans: (String, String),
}

/// Formats batches as CSV rows into a bounded buffer in front of the file.
#[derive(Debug)]
pub(super) struct CsvSink {
    path: PathBuf,
    out: BufWriter<File>,
    columns: Vec<ColumnWriter>,
    line: String,
    cell: String,
}

impl CsvSink {
    /// Creates the file and writes the header row.
    pub(super) fn create(path: &Path, schema: &Schema) -> Result<Self> {
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let columns = schema
            .columns
            .iter()
            .map(|c| ColumnWriter {
                physical: c.physical,
                datetime: match (c.datetime_format(), c.physical) {
                    (Some(format), _) => DatetimeFormat::new(format),
                    (None, PhysicalType::TimestampMillis) => DatetimeFormat::new(TIMESTAMP_FORMAT),
                    (None, _) => None,
                },
                booleans: {
                    let (t, f) = c.boolean_labels().unwrap_or(("true", "false"));
                    (t.to_string(), f.to_string())
                },
            })
            .collect();
        let mut sink = Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(BUFFER_BYTES, file),
            columns,
            line: String::new(),
            cell: String::new(),
        };
        for (i, column) in schema.columns.iter().enumerate() {
            if i > 0 {
                sink.line.push(',');
            }
            push_field(&mut sink.line, &column.name);
        }
        sink.line.push('\n');
        sink.flush_line()?;
        Ok(sink)
    }

    /// Bytes in the output buffer.
    pub(super) fn buffered_bytes(&self) -> usize {
        self.out.buffer().len() + self.line.capacity() + self.cell.capacity()
    }

    fn flush_line(&mut self) -> Result<()> {
        let result = self.out.write_all(self.line.as_bytes());
        self.line.clear();
        result.map_err(|e| DataError::io(&self.path, e))
    }

    /// Appends the batch's rows.
    pub(super) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        for row in 0..batch.num_rows() {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    self.line.push(',');
                }
                let array = batch.column(i);
                if array.is_null(row) {
                    continue;
                }
                let cell = &mut self.cell;
                cell.clear();
                match column.physical {
                    PhysicalType::Int64 => {
                        let _ = std::fmt::Write::write_fmt(
                            cell,
                            format_args!("{}", array.as_primitive::<Int64Type>().value(row)),
                        );
                    }
                    PhysicalType::Float64 => {
                        format_float(array.as_primitive::<Float64Type>().value(row), cell)
                    }
                    PhysicalType::Boolean => cell.push_str(if array.as_boolean().value(row) {
                        &column.booleans.0
                    } else {
                        &column.booleans.1
                    }),
                    PhysicalType::Utf8 => cell.push_str(array.as_string::<i32>().value(row)),
                    PhysicalType::TimestampMillis => {
                        let millis = array.as_primitive::<TimestampMillisecondType>().value(row);
                        match &column.datetime {
                            Some(format) => format.write(millis, cell),
                            None => {
                                let _ = std::fmt::Write::write_fmt(cell, format_args!("{millis}"));
                            }
                        }
                    }
                }
                push_field(&mut self.line, &self.cell);
            }
            self.line.push('\n');
            self.flush_line()?;
        }
        Ok(())
    }

    /// Writes the buffer out and closes the file.
    pub(super) fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| DataError::io(&self.path, e))
    }
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
