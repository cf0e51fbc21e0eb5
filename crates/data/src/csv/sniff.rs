//! Guessing a CSV file's dialect from its first bytes: the delimiter (the candidate that
//! splits every sampled line into the same number of fields, more than one) and whether the
//! first row is a header (all text, over data that is not).

use std::collections::HashMap;

use crate::cell::{NullTokens, boolean_pairs, parse_float};
use crate::csv::tokenizer::{RawRecord, Tokenizer};
use crate::datetime::{DatetimeFormat, could_be_datetime};

/// Bytes read from the start of a file to sniff its dialect.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Records looked at when sniffing.
const SNIFF_RECORDS: usize = 500;

/// The delimiters tried, in order of preference when several fit equally well.
pub const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Splits `sample` into records with `delimiter`. When the sample is a cut-off head of a
/// longer file its last record may be partial, so it is dropped; a quote left open at the
/// end of the sample ends the sample.
pub fn sample_records(
    sample: &[u8],
    truncated: bool,
    delimiter: u8,
    trim: bool,
) -> Vec<Vec<String>> {
    let mut tokenizer = Tokenizer::new(sample, delimiter, trim);
    let mut record = RawRecord::default();
    let mut records = Vec::new();
    while records.len() <= SNIFF_RECORDS {
        match tokenizer.next_record(&mut record) {
            Ok(true) => records.push(
                (0..record.len())
                    .map(|i| String::from_utf8_lossy(record.field_bytes(i)).into_owned())
                    .collect(),
            ),
            Ok(false) | Err(_) => break,
        }
    }
    if truncated && records.len() > 1 && records.len() <= SNIFF_RECORDS {
        records.pop();
    }
    records.truncate(SNIFF_RECORDS);
    records
}

/// The delimiter that fits the sample best: every record the same width, as wide as
/// possible; failing that, the one whose most common width (above one) is most common.
/// A sample no candidate splits is single-column, read with `,`.
pub fn sniff_delimiter(sample: &[u8], truncated: bool) -> u8 {
    let mut best: Option<(bool, usize, usize, u8)> = None;
    for delimiter in CANDIDATE_DELIMITERS {
        let records = sample_records(sample, truncated, delimiter, false);
        let mut widths: HashMap<usize, usize> = HashMap::new();
        for record in &records {
            *widths.entry(record.len()).or_default() += 1;
        }
        let Some((&width, &count)) = widths.iter().max_by_key(|(w, c)| (**c, **w)) else {
            continue;
        };
        if width <= 1 {
            continue;
        }
        let consistent = count == records.len();
        // Rank: consistent first, then the share of records at the common width, then width.
        let score = (
            consistent,
            if consistent { width } else { count },
            width,
            delimiter,
        );
        let better = match best {
            None => true,
            Some((c, primary, w, _)) => (score.0, score.1, score.2) > (c, primary, w),
        };
        if better {
            best = Some(score);
        }
    }
    best.map_or(b',', |(_, _, _, delimiter)| delimiter)
}

/// What a sampled cell looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellClass {
    Null,
    Number,
    Boolean,
    Datetime,
    Text,
}

fn classify(cell: &str, nulls: &NullTokens, formats: &[DatetimeFormat]) -> CellClass {
    if nulls.is_null(cell) {
        return CellClass::Null;
    }
    if parse_float(cell).is_some() {
        return CellClass::Number;
    }
    if boolean_pairs(cell) != 0 {
        return CellClass::Boolean;
    }
    if could_be_datetime(cell) && formats.iter().any(|f| f.parse(cell).is_some()) {
        return CellClass::Datetime;
    }
    CellClass::Text
}

/// Whether the first of `records` is a header. Its cells must all be non-empty and none a
/// number or datetime (a boolean word such as `y` may name a column, unless the column
/// below is boolean too). It is a header when some column holds a number, boolean or
/// datetime below it, or, in an all-text sample, when its names are distinct and none of
/// them recurs in its own column below.
pub fn sniff_header(
    records: &[Vec<String>],
    nulls: &NullTokens,
    formats: &[DatetimeFormat],
) -> bool {
    let Some((first, rest)) = records.split_first() else {
        return false;
    };
    let column_classes: Vec<Vec<CellClass>> = (0..first.len())
        .map(|i| {
            rest.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| classify(cell, nulls, formats))
                .filter(|class| *class != CellClass::Null)
                .collect()
        })
        .collect();
    let header_cells_fit = first.iter().zip(&column_classes).all(|(cell, below)| {
        match classify(cell, nulls, formats) {
            CellClass::Text => true,
            CellClass::Boolean => {
                below.is_empty() || below.iter().any(|c| *c != CellClass::Boolean)
            }
            CellClass::Null | CellClass::Number | CellClass::Datetime => false,
        }
    });
    if !header_cells_fit {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let typed_below = column_classes
        .iter()
        .flatten()
        .any(|class| *class != CellClass::Text);
    if typed_below {
        return true;
    }
    let mut names: Vec<&str> = first.iter().map(String::as_str).collect();
    names.sort_unstable();
    let distinct = names.windows(2).all(|w| w[0] != w[1]);
    let recurs = first
        .iter()
        .enumerate()
        .any(|(i, name)| rest.iter().any(|row| row.get(i) == Some(name)));
    distinct && !recurs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::DEFAULT_NA_VALUES;
    use crate::datetime::inferred_formats;

    fn nulls() -> NullTokens {
        let tokens: Vec<String> = DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect();
        NullTokens::new(&tokens)
    }

    fn header(text: &str) -> bool {
        let records = sample_records(text.as_bytes(), false, b',', true);
        sniff_header(&records, &nulls(), &inferred_formats())
    }

    #[test]
    fn finds_each_delimiter() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n", false), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n", false), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n", false), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n", false), b'|');
        assert_eq!(sniff_delimiter(b"just one column\nx\n", false), b',');
    }

    #[test]
    fn a_cut_off_last_line_does_not_count() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n4;5", true), b';');
    }

    #[test]
    fn quoted_delimiters_do_not_confuse_the_count() {
        assert_eq!(
            sniff_delimiter(b"name;note\nx;\"a, b, c\"\ny;\"d\"\n", false),
            b';'
        );
    }

    #[test]
    fn headers_are_text_over_typed_data() {
        assert!(header("name,age\nann,31\nbob,42\n"));
        assert!(!header("ann,31\nbob,42\n"));
        assert!(!header("1,2\n3,4\n"));
        assert!(header("city,country\nParis,France\nRome,Italy\n"));
        assert!(!header("Paris,France\nRome,Italy\nParis,Spain\n"));
        assert!(header("only,a,header\n"));
        assert!(header("x,y\n1,2\n"));
        assert!(header("n,label\n1,a\n"));
        assert!(!header("yes,no\nno,yes\n"));
    }
}
