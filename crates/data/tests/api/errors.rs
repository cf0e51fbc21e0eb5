//! Bad input gives a message naming the file, line and column.

use mirage_data::{ReadOptions, SchemaOverrides};

use crate::{assert_mentions, file, read_error, read_error_with, scratch};

#[test]
fn unterminated_quote_names_the_line_where_the_field_began() {
    let dir = scratch();
    let path = file(
        &dir,
        "open_quote.csv",
        "id,note\n1,fine\n2,\"never closed\n3,more\n4,rows\n",
    );
    let message = read_error(&path);
    assert_mentions(&message, &["open_quote.csv", "line 3", "closing quote"]);
}

#[test]
fn ragged_rows_say_expected_and_found() {
    let dir = scratch();
    let path = file(&dir, "ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    let message = read_error(&path);
    assert_mentions(
        &message,
        &["ragged.csv", "line 3", "expected 3 fields, found 2"],
    );
}

#[test]
fn ragged_rows_count_physical_lines_across_quoted_newlines() {
    let dir = scratch();
    let path = file(&dir, "ragged_late.csv", "a,b\n\"x\ny\",1\n2,3,4\n");
    let message = read_error(&path);
    assert_mentions(&message, &["line 4", "expected 2 fields, found 3"]);
}

#[test]
fn non_utf8_names_line_and_column() {
    let dir = scratch();
    let mut bytes = b"name,city\nann,Paris\nbob,".to_vec();
    bytes.extend_from_slice(&[0x4d, 0xfc, 0x6e, 0x63, 0x68, 0x65, 0x6e]); // "München" in Latin-1
    bytes.extend_from_slice(b"\n");
    let path = file(&dir, "latin1.csv", bytes);
    let message = read_error(&path);
    assert_mentions(
        &message,
        &["latin1.csv", "line 3", "column \"city\"", "UTF-8"],
    );
}

#[test]
fn non_utf8_in_the_header_names_the_position() {
    let dir = scratch();
    let mut bytes = b"a,".to_vec();
    bytes.push(0xff);
    bytes.extend_from_slice(b"\n1,2\n");
    let path = file(&dir, "bad_header.csv", bytes);
    let message = read_error_with(
        &path,
        &ReadOptions {
            has_header: Some(true),
            ..ReadOptions::default()
        },
    );
    assert_mentions(&message, &["bad_header.csv", "line 1", "column 2"]);
}

#[test]
fn empty_files_are_refused() {
    let dir = scratch();
    for (name, content) in [("empty.csv", ""), ("blank.csv", "\n\n  \n")] {
        let message = read_error(&file(&dir, name, content));
        assert_mentions(&message, &[name, "empty"]);
    }
}

#[test]
fn a_header_without_rows_is_refused() {
    let dir = scratch();
    let path = file(&dir, "header_only.csv", "name,age,city\n");
    let message = read_error(&path);
    assert_mentions(&message, &["header_only.csv", "no data rows"]);
}

#[test]
fn duplicate_column_names_are_named() {
    let dir = scratch();
    let path = file(&dir, "dupes.csv", "id,score,score\n1,2,3\n2,3,4\n");
    let message = read_error(&path);
    assert_mentions(&message, &["dupes.csv", "\"score\"", "rename"]);
}

#[test]
fn an_all_null_column_says_how_to_fix_it() {
    let dir = scratch();
    let path = file(&dir, "nulls.csv", "id,empty,x\n1,,a\n2,NA,b\n3,?,c\n");
    let message = read_error(&path);
    assert_mentions(
        &message,
        &["nulls.csv", "\"empty\"", "drop the column", "schema file"],
    );
}

#[test]
fn an_all_null_column_reads_once_it_has_a_kind() {
    let dir = scratch();
    let data = file(&dir, "nulls.csv", "id,empty\n1,\n2,NA\n");
    let schema = file(&dir, "schema.toml", "[columns.empty]\nkind = \"float\"\n");
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    let table = mirage_data::read_table(&data, &options).expect("reads");
    assert_eq!(
        table.schema().require("empty").expect("column").kind,
        mirage_core::ColumnKind::Float
    );
}

#[test]
fn a_value_that_does_not_fit_the_overridden_kind_is_named() {
    let dir = scratch();
    let data = file(&dir, "people.csv", "id,age\n1,31\n2,forty\n3,52\n");
    let schema = file(&dir, "schema.toml", "[columns.age]\nkind = \"integer\"\n");
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    let message = read_error_with(&data, &options);
    assert_mentions(
        &message,
        &[
            "people.csv",
            "line 3",
            "column \"age\"",
            "\"forty\"",
            "integer",
        ],
    );
}

#[test]
fn a_date_that_does_not_fit_the_overridden_format_is_named() {
    let dir = scratch();
    let data = file(&dir, "dates.csv", "id,signup\n1,01/02/2020\n2,2020-02-03\n");
    let schema = file(
        &dir,
        "schema.json",
        r#"{"columns": {"signup": {"kind": "datetime", "format": "%d/%m/%Y"}}}"#,
    );
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    let message = read_error_with(&data, &options);
    assert_mentions(
        &message,
        &[
            "dates.csv",
            "line 3",
            "\"signup\"",
            "\"2020-02-03\"",
            "%d/%m/%Y",
        ],
    );
}

#[test]
fn overrides_naming_a_missing_column_list_the_real_ones() {
    let dir = scratch();
    let data = file(&dir, "t.csv", "id,zip\n1,02134\n2,10001\n");
    let schema = file(
        &dir,
        "schema.toml",
        "[columns.zipcode]\nkind = \"categorical\"\n",
    );
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    let message = read_error_with(&data, &options);
    assert_mentions(
        &message,
        &[
            "schema.toml",
            "columns.zipcode",
            "\"zipcode\"",
            "t.csv",
            "id, zip",
        ],
    );
    let schema = file(&dir, "pk.toml", "primary_key = \"key\"\n");
    let options = ReadOptions {
        overrides: Some(SchemaOverrides::from_path(&schema).expect("schema")),
        ..ReadOptions::default()
    };
    assert_mentions(
        &read_error_with(&data, &options),
        &["pk.toml", "primary_key", "\"key\""],
    );
}

#[test]
fn schema_files_with_unknown_kinds_name_the_field() {
    let dir = scratch();
    let toml = file(&dir, "kinds.toml", "[columns.age]\nkind = \"number-ish\"\n");
    let message = SchemaOverrides::from_path(&toml)
        .expect_err("unknown kind")
        .to_string();
    assert_mentions(
        &message,
        &[
            "kinds.toml",
            "columns.age.kind",
            "number-ish",
            "categorical",
        ],
    );
    let json = file(
        &dir,
        "kinds.json",
        r#"{"columns": {"age": {"kind": "nope"}}}"#,
    );
    let message = SchemaOverrides::from_path(&json)
        .expect_err("unknown kind")
        .to_string();
    assert_mentions(&message, &["kinds.json", "columns.age.kind", "nope"]);
}

#[test]
fn unparsable_schema_files_name_the_file_and_position() {
    let dir = scratch();
    let toml = file(&dir, "broken.toml", "[columns.age\nkind = \"integer\"\n");
    let message = SchemaOverrides::from_path(&toml)
        .expect_err("bad toml")
        .to_string();
    assert_mentions(&message, &["broken.toml", "line 1"]);
    let json = file(
        &dir,
        "broken.json",
        "{\"columns\": {\"age\": {\"kind\": }}}",
    );
    let message = SchemaOverrides::from_path(&json)
        .expect_err("bad json")
        .to_string();
    assert_mentions(&message, &["broken.json", "line 1"]);
    let unknown_field = file(&dir, "typo.toml", "[columns.age]\nkinds = \"integer\"\n");
    let message = SchemaOverrides::from_path(&unknown_field)
        .expect_err("unknown field")
        .to_string();
    assert_mentions(&message, &["typo.toml", "kinds"]);
    let wrong_extension = file(&dir, "schema.yaml", "columns: {}\n");
    let message = SchemaOverrides::from_path(&wrong_extension)
        .expect_err("yaml")
        .to_string();
    assert_mentions(&message, &["schema.yaml", ".toml or .json"]);
}

#[test]
fn missing_files_are_named() {
    let message = read_error(std::path::Path::new("/nonexistent/where.csv"));
    assert_mentions(
        &message,
        &["/nonexistent/where.csv", "check that the path exists"],
    );
}

#[test]
fn errors_carry_a_stable_code() {
    let dir = scratch();
    let err = mirage_data::read_table(&file(&dir, "e.csv", ""), &ReadOptions::default())
        .expect_err("empty");
    assert_eq!(err.code(), mirage_core::ErrorCode::InvalidArgument);
    let err = mirage_data::read_table(
        std::path::Path::new("/nonexistent.csv"),
        &ReadOptions::default(),
    )
    .expect_err("missing");
    assert_eq!(err.code(), mirage_core::ErrorCode::NotFound);
}

#[test]
fn garbage_never_panics() {
    use rand::{Rng, SeedableRng};
    let alphabet: &[u8] = b"ab1.-,;\t|\"\r\n ?\xff\xc3\xa9";
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let dir = scratch();
    for i in 0..300 {
        let length = rng.random_range(0..120);
        let bytes: Vec<u8> = (0..length)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let path = file(&dir, &format!("garbage{i}.csv"), &bytes);
        // Either outcome is fine; a panic is not.
        let _ = mirage_data::read_table(&path, &ReadOptions::default());
    }
}
