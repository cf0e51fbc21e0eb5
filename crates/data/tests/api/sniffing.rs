//! Dialect sniffing: delimiters, headers, quoting, line ends, byte-order marks.

use std::io::Write;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::Int64Type;
use mirage_core::ColumnKind;
use mirage_data::{CsvBatchReader, ReadOptions, infer_csv_schema, sniff_dialect};

use crate::{file, kind, read, scratch};

fn strings(table: &mirage_core::Table, column: &str) -> Vec<Option<String>> {
    let array = table.column_by_name(column).expect("column");
    array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

#[test]
fn semicolon_files_with_decimal_commas_in_text() {
    let dir = scratch();
    let path = file(
        &dir,
        "semi.csv",
        "name;price;note\napple;3;\"red, sweet\"\npear;4;green\nfig;5;\"soft; sticky\"\n",
    );
    let dialect = sniff_dialect(&path, &ReadOptions::default()).expect("sniffs");
    assert_eq!(dialect.delimiter, b';');
    assert!(dialect.has_header);
    let table = read(&path);
    assert_eq!(table.schema().len(), 3);
    assert_eq!(
        strings(&table, "note"),
        vec![
            Some("red, sweet".into()),
            Some("green".into()),
            Some("soft; sticky".into())
        ]
    );
}

#[test]
fn tab_separated_files() {
    let dir = scratch();
    let path = file(
        &dir,
        "data.tsv",
        "city\tpopulation\nParis\t2100000\nRome\t2800000\nOslo\t700000\n",
    );
    let table = read(&path);
    assert_eq!(kind(&table, "population"), ColumnKind::Integer);
    assert_eq!(strings(&table, "city")[2].as_deref(), Some("Oslo"));
}

#[test]
fn pipe_separated_files() {
    let dir = scratch();
    let path = file(&dir, "data.txt", "a|b\n1|x\n2|y\n");
    let dialect = sniff_dialect(&path, &ReadOptions::default()).expect("sniffs");
    assert_eq!(dialect.delimiter, b'|');
}

#[test]
fn headerless_files_get_numbered_columns() {
    let dir = scratch();
    let path = file(
        &dir,
        "noheader.csv",
        "1,alpha,2.5\n2,beta,3.5\n3,gamma,4.5\n",
    );
    let table = read(&path);
    let names: Vec<&str> = table
        .schema()
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, vec!["column_1", "column_2", "column_3"]);
    assert_eq!(table.num_rows(), 3);
    assert_eq!(kind(&table, "column_3"), ColumnKind::Float);
}

#[test]
fn the_header_can_be_forced_either_way() {
    let dir = scratch();
    let path = file(&dir, "words.csv", "red,green\nblue,yellow\n");
    let options = ReadOptions {
        has_header: Some(false),
        ..ReadOptions::default()
    };
    let table = mirage_data::read_table(&path, &options).expect("reads");
    assert_eq!(table.num_rows(), 2);
    let options = ReadOptions {
        has_header: Some(true),
        ..ReadOptions::default()
    };
    let table = mirage_data::read_table(&path, &options).expect("reads");
    assert_eq!(table.num_rows(), 1);
    assert_eq!(table.schema().columns[0].name, "red");
}

#[test]
fn quoted_fields_keep_newlines_delimiters_and_quotes() {
    let dir = scratch();
    let path = file(
        &dir,
        "quoted.csv",
        "id,comment\n1,\"first line\nsecond line\"\n2,\"has, comma\"\n3,\"says \"\"hi\"\"\"\n",
    );
    let table = read(&path);
    assert_eq!(table.num_rows(), 3);
    assert_eq!(
        strings(&table, "comment"),
        vec![
            Some("first line\nsecond line".into()),
            Some("has, comma".into()),
            Some("says \"hi\"".into())
        ]
    );
}

#[test]
fn byte_order_marks_and_crlf_are_invisible() {
    let dir = scratch();
    let path = file(&dir, "windows.csv", "\u{feff}id,name\r\n1,ann\r\n2,bob\r\n");
    let table = read(&path);
    assert_eq!(table.schema().columns[0].name, "id");
    assert_eq!(
        strings(&table, "name"),
        vec![Some("ann".into()), Some("bob".into())]
    );
    let ids = table.column_by_name("id").expect("id");
    assert_eq!(
        ids.as_primitive::<Int64Type>(),
        &Int64Array::from(vec![1, 2])
    );
}

#[test]
fn cells_are_trimmed_and_question_marks_are_null() {
    let dir = scratch();
    let path = file(
        &dir,
        "spaced.csv",
        "age, work\n39, State-gov\n50, ?\n38, Private\n",
    );
    let table = read(&path);
    assert_eq!(table.schema().columns[1].name, "work");
    assert_eq!(
        strings(&table, "work"),
        vec![Some("State-gov".into()), None, Some("Private".into())]
    );
    let untrimmed = ReadOptions {
        trim: false,
        ..ReadOptions::default()
    };
    let table = mirage_data::read_table(&path, &untrimmed).expect("reads");
    assert_eq!(strings(&table, "work")[0].as_deref(), Some(" State-gov"));
    assert_eq!(strings(&table, "work")[1], None);
}

#[test]
fn custom_null_tokens_replace_the_defaults() {
    let dir = scratch();
    let path = file(&dir, "custom.csv", "a,b\n1,missing\n2,NA\n3,x\n");
    let options = ReadOptions {
        na_values: vec!["missing".into()],
        ..ReadOptions::default()
    };
    let table = mirage_data::read_table(&path, &options).expect("reads");
    let b = table.column_by_name("b").expect("b");
    let values: Vec<Option<&str>> = b.as_string::<i32>().iter().collect();
    assert_eq!(values, vec![None, Some("NA"), Some("x")]);
}

#[test]
fn gzip_is_detected_by_its_magic_bytes() {
    let dir = scratch();
    let path = dir.path().join("compressed.data");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"x;y\n1;2\n3;4\n").expect("compress");
    std::fs::write(&path, encoder.finish().expect("finish")).expect("write");
    let table = read(&path);
    assert_eq!(table.num_rows(), 2);
    assert_eq!(kind(&table, "y"), ColumnKind::Integer);
}

#[test]
fn the_batch_reader_streams_in_batches() {
    let dir = scratch();
    let mut content = String::from("n,label\n");
    for i in 0..1000 {
        content.push_str(&format!("{i},l{}\n", i % 7));
    }
    let path = file(&dir, "many.csv", content);
    let options = ReadOptions {
        batch_size: 128,
        ..ReadOptions::default()
    };
    let dialect = sniff_dialect(&path, &options).expect("sniffs");
    let schema = infer_csv_schema(&path, &dialect, &options).expect("infers");
    let batches: Vec<_> = CsvBatchReader::open(&path, &schema, &dialect, 128)
        .expect("opens")
        .collect::<Result<_, _>>()
        .expect("reads");
    assert_eq!(batches.len(), 8);
    assert!(batches.iter().all(|b| b.num_rows() <= 128));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1000);
    assert_eq!(batches[0].schema(), schema.arrow_schema());
}
